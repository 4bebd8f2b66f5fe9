//! What a reader opens files with, and how it finds and unwraps its recipient stanza
//! (`docs/FORMAT.md` §4.3, §5): the one place that turns a key section and a
//! keyring into the file's keys, for the reader, random access and in-place key-area
//! edits alike.

use std::sync::Arc;

use crate::crypto::age_slot::{parse_identity_file, parse_recipient, unwrap_age, AgeUnwrap};
use crate::crypto::{
    hex, key_id, keyless_header_tag, tags_equal, unwrap_slot, DataKey, FileKeys, Integrity, Key,
};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::{Header, KeySection, Stanza, HEADER_TAG_LEN, STANZA_AGE, STANZA_SLOT};

/// An age identity (for example X25519, `AGE-SECRET-KEY-1…`), shared.
pub type Identity = Arc<dyn age::Identity + Send + Sync>;

/// The symmetric keys and age identities a reader may open a file with. Keys are
/// wiped when the keyring is dropped; identities as the age crate wipes them.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: Vec<Key>,
    identities: Vec<Identity>,
    /// The X25519 identities with their recipients, for files derived from one
    /// opened with them (recovered, merged).
    x25519: Vec<(Identity, PublicRecipient)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keyring({} keys, {} identities)",
            self.keys.len(),
            self.identities.len()
        )
    }
}

/// A public-key recipient (`docs/FORMAT.md` §5.4): an age recipient string such as
/// `age1…` (X25519).
#[derive(Clone)]
pub struct PublicRecipient {
    inner: Arc<dyn age::Recipient + Send + Sync>,
    text: String,
}

impl std::fmt::Debug for PublicRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicRecipient({})", self.text)
    }
}

impl std::fmt::Display for PublicRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl PublicRecipient {
    /// Parses a recipient string (`age1…`).
    pub fn parse(s: &str) -> Result<PublicRecipient> {
        Ok(PublicRecipient {
            inner: Arc::from(parse_recipient(s)?),
            text: s.trim().to_string(),
        })
    }
    /// Parses a recipients file: one recipient a line, `#` comments and blank lines
    /// ignored.
    pub fn parse_file(text: &str) -> Result<Vec<PublicRecipient>> {
        let mut v = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            v.push(PublicRecipient::parse(l).map_err(|e| {
                Error::new(ErrorKind::InvalidKey {
                    reason: format!("line {}: {e}", i + 1),
                })
            })?);
        }
        if v.is_empty() {
            return Err(Error::new(ErrorKind::InvalidKey {
                reason: "the recipients file holds no recipient".into(),
            }));
        }
        Ok(v)
    }
    /// The age recipient.
    pub fn as_age(&self) -> &(dyn age::Recipient + Send + Sync) {
        &*self.inner
    }
}

impl Keyring {
    /// An empty keyring: opens keyless files only.
    pub fn new() -> Keyring {
        Keyring::default()
    }
    /// A keyring of one symmetric key.
    pub fn from_key(key: Key) -> Keyring {
        Keyring {
            keys: vec![key],
            ..Keyring::default()
        }
    }
    /// Adds a symmetric key.
    pub fn add_key(&mut self, key: Key) -> &mut Keyring {
        self.keys.push(key);
        self
    }
    /// Adds an age identity.
    pub fn add_identity(&mut self, id: Identity) -> &mut Keyring {
        self.identities.push(id);
        self
    }
    /// Adds every identity of an age identity file.
    pub fn add_identity_file(&mut self, contents: &[u8]) -> Result<&mut Keyring> {
        for id in parse_identity_file(contents)? {
            self.identities.push(Arc::from(id));
        }
        // The file parsed, so its X25519 lines do too.
        let text = String::from_utf8_lossy(contents);
        for line in text.lines().map(str::trim) {
            if let Ok(id) = line.parse::<age::x25519::Identity>() {
                let r = PublicRecipient::parse(&id.to_public().to_string())?;
                self.x25519.push((Arc::new(id), r));
            }
        }
        Ok(self)
    }

    /// The recipients a file derived from one opened with this keyring (recovered,
    /// merged) is wrapped for: the symmetric keys that have a slot in `section`, and
    /// the recipients of the X25519 identities that open one of its age stanzas (`h`:
    /// the original's header hash). A key or identity that does not open the
    /// original gains no access to what is derived from it.
    pub(crate) fn rewrap_for(
        &self,
        section: &KeySection,
        h: &[u8; 32],
    ) -> (Vec<Key>, Vec<PublicRecipient>) {
        let keys = self
            .keys
            .iter()
            .filter(|k| slot_for(section, k).is_some())
            .cloned()
            .collect();
        let public = self
            .x25519
            .iter()
            .filter(|(id, _)| {
                let ids: [&dyn age::Identity; 1] = [&**id];
                section.recipients.iter().any(|s| {
                    s.kind == STANZA_AGE
                        && matches!(unwrap_age(&s.body, &ids, h), AgeUnwrap::Opened(..))
                })
            })
            .map(|(_, r)| r.clone())
            .collect();
        (keys, public)
    }
    /// The symmetric keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
    /// How many age identities it holds.
    pub fn identity_count(&self) -> usize {
        self.identities.len()
    }
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.identities.is_empty()
    }
}

/// The keys of an opened file: its data key, context digest and derived keys.
pub(crate) struct Unlocked {
    pub dk: DataKey,
    pub context: [u8; 32],
    pub keys: FileKeys,
    /// Which recipient stanza opened it.
    pub recipient: usize,
}

/// Public descriptions of a section's recipients, for "no recipient matches".
pub(crate) fn recipient_ids(section: &KeySection) -> Vec<String> {
    section
        .recipients
        .iter()
        .map(|s| match s.kind {
            STANZA_SLOT => s.id(),
            _ => format!("{} {}", s.kind_name(false), s.id()),
        })
        .collect()
}

fn slot_for<'a>(section: &'a KeySection, key: &Key) -> Option<(usize, &'a Stanza)> {
    let id = key_id(key);
    section
        .recipients
        .iter()
        .enumerate()
        .find(|(_, s)| s.kind == STANZA_SLOT && s.body[..16] == id)
}

/// Checks a keyless header's tag.
pub(crate) fn check_keyless(header: &Header, header_bytes: &[u8]) -> Result<()> {
    let unsigned_len = header_bytes.len() - HEADER_TAG_LEN;
    if !tags_equal(
        &keyless_header_tag(&header_bytes[..unsigned_len]),
        &header.tag,
    ) {
        return Err(Error::new(ErrorKind::AuthFailed {
            place: Place::header(unsigned_len as u64),
        }));
    }
    Ok(())
}

/// Finds the keyring's recipient stanza, unwraps the data key, and checks the
/// commitment, the header tag and the section tag, in that order (`docs/FORMAT.md`
/// §4.3). `keys_at` is the file offset of the copy in force (for error places).
pub(crate) fn unlock(
    header: &Header,
    header_bytes: &[u8],
    h: &[u8; 32],
    section: &KeySection,
    keys_at: u64,
    keyring: &Keyring,
) -> Result<Unlocked> {
    let level = header.integrity;
    debug_assert!(level != Integrity::Keyless);
    if keyring.is_empty() {
        return Err(Error::new(ErrorKind::KeyRequired));
    }
    let unsigned_len = header_bytes.len() - HEADER_TAG_LEN;
    let key_area = || {
        Error::new(ErrorKind::AuthFailed {
            place: Place::header(keys_at),
        })
    };
    let mut opened = None;
    for key in &keyring.keys {
        if let Some((i, slot)) = slot_for(section, key) {
            let (dk, c) = unwrap_slot(key, &header.salt, h, &slot.body).ok_or_else(key_area)?;
            opened = Some((i, dk, c));
            break;
        }
    }
    if opened.is_none() && !keyring.identities.is_empty() {
        let ids: Vec<&dyn age::Identity> = keyring
            .identities
            .iter()
            .map(|i| &**i as &dyn age::Identity)
            .collect();
        for (i, s) in section.recipients.iter().enumerate() {
            if s.kind != STANZA_AGE {
                continue;
            }
            match unwrap_age(&s.body, &ids, h) {
                AgeUnwrap::NoMatch => {}
                AgeUnwrap::Opened(dk, c) => {
                    opened = Some((i, dk, c));
                    break;
                }
                // An identity matched, but the stanza is not this file's, or broken.
                AgeUnwrap::Bad(_) => return Err(key_area()),
            }
        }
    }
    let Some((recipient, dk, c)) = opened else {
        return Err(Error::new(ErrorKind::NoRecipient {
            key_ids: recipient_ids(section),
            recipients: section.recipients.len(),
        }));
    };
    if !header.context_bound && c != [0u8; 32] {
        return Err(Error::malformed_header(
            "a recipient carries a context but the file is not context bound",
            keys_at,
        ));
    }
    let keys = FileKeys::derive(level, &dk, &header.salt, &c);
    if !keys.commitment_matches(&header.commitment) {
        return Err(Error::new(ErrorKind::WrongKey));
    }
    if !tags_equal(&keys.header_tag(&header_bytes[..unsigned_len]), &header.tag) {
        return Err(Error::new(ErrorKind::AuthFailed {
            place: Place::header(unsigned_len as u64),
        }));
    }
    let tag = section.tag.unwrap_or([0; 32]);
    if !tags_equal(&keys.keys_tag(h, &section.tagged_bytes()), &tag) {
        return Err(Error::new(ErrorKind::AuthFailed {
            place: Place::header(keys_at + section.tag_offset() as u64),
        }));
    }
    Ok(Unlocked {
        dk,
        context: c,
        keys,
        recipient,
    })
}

/// Public key ids in hex, for messages.
pub fn key_id_hex(key: &Key) -> String {
    hex(&key_id(key))
}
