//! What a reader opens files with, and how it finds and unwraps its recipient stanza
//! (`docs/FORMAT.md` §4.3, §5): the one place that turns a key section and a
//! keyring into the file's keys, for the reader, random access and in-place key-area
//! edits alike.

use crate::crypto::{
    hex, key_id, keyless_header_tag, tags_equal, unwrap_slot, DataKey, FileKeys, Integrity, Key,
};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::{Header, KeySection, Stanza, HEADER_TAG_LEN, STANZA_SLOT};

/// The symmetric keys (and, later, other identities) a reader may open a file with.
/// Keys are wiped when the keyring is dropped.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({} keys)", self.keys.len())
    }
}

impl Keyring {
    /// An empty keyring: opens keyless files only.
    pub fn new() -> Keyring {
        Keyring::default()
    }
    /// A keyring of one symmetric key.
    pub fn from_key(key: Key) -> Keyring {
        Keyring { keys: vec![key] }
    }
    /// Adds a symmetric key.
    pub fn add_key(&mut self, key: Key) -> &mut Keyring {
        self.keys.push(key);
        self
    }
    /// The symmetric keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
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
