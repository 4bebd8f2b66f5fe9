//! The key area (`docs/FORMAT.md` §5): bytes only. Wrapping, the section tag and
//! signatures are in `crypto`.
//!
//! The key area sits between the header and chunk 0 and has a fixed size, chosen when
//! the file is written: a capacity field and two **copies** of the key section, so
//! that a tool can rewrite it in place without ever leaving a file with no intact copy.
//! A copy holds the recipient stanzas (authenticated under the data key by the section
//! tag) and the signature stanzas (each authenticated by itself), and ends in a
//! checksum that tells an intact copy from a torn one.

use byteorder::{BigEndian, ByteOrder};
use sha2::{Digest, Sha256};

use crate::crypto::Integrity;
use crate::error::{Error, ErrorKind, Place, Result};

/// Length of the area's capacity field.
pub const AREA_FIXED_LEN: usize = 4;
/// Length of a copy's fixed part: generation, length, counts, reserved.
pub const COPY_FIXED_LEN: usize = 16;
/// Length of a copy's checksum.
pub const CHECKSUM_LEN: usize = 32;
/// Length of the section tag (levels 2 and 3).
pub const SECTION_TAG_LEN: usize = 32;
/// Smallest copy capacity.
pub const MIN_COPY_CAPACITY: u32 = 256;
/// Largest copy capacity: a rewrite of both copies writes at most 64 KiB.
pub const MAX_COPY_CAPACITY: u32 = 32768;
/// Copy capacity a writer uses unless told otherwise.
pub const DEFAULT_COPY_CAPACITY: u32 = 4096;
/// Most recipient stanzas a copy may hold.
pub const MAX_RECIPIENTS: usize = 64;
/// Most signature stanzas a copy may hold.
pub const MAX_SIGNATURES: usize = 64;
/// Largest stanza body.
pub const MAX_STANZA_LEN: usize = 4096;
/// Stanza kind of a symmetric key slot.
pub const STANZA_SLOT: u16 = 1;
/// Stanza kind of an age recipient (a public key, `docs/FORMAT.md` §5.4).
pub const STANZA_AGE: u16 = 2;
/// Body length of a symmetric key slot: key id (16) and wrapped key (80).
pub const SLOT_BODY_LEN: usize = 96;
/// Signature kind: Ed25519 over the header hash and the file digest.
pub const SIGNATURE_ED25519: u16 = 1;
/// Body length of an Ed25519 signature stanza: public key, time, signature.
pub const ED25519_BODY_LEN: usize = 104;
/// Bit of a stanza kind that marks it critical: a reader that does not know the kind
/// must stop.
pub const CRITICAL_KIND: u16 = 0x8000;
/// Generations are below this bound (`docs/FORMAT.md` §5.1), so that a planted one
/// never leaves a file that cannot be rewritten.
pub const MAX_GENERATION: u32 = 0x7FFF_FFFF;
/// Label of a copy's checksum.
pub const CHECKSUM_LABEL: &[u8] = b"SASF-v2/key-copy";

/// One stanza: a recipient, or a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// Its kind ([`STANZA_SLOT`], [`STANZA_AGE`]; [`SIGNATURE_ED25519`] for a signature).
    pub kind: u16,
    /// Its body.
    pub body: Vec<u8>,
}

impl Stanza {
    /// A short public handle for a recipient stanza: a symmetric slot's key id, or
    /// for other kinds the first 16 bytes of SHA-256 of the body, in hex.
    pub fn id(&self) -> String {
        if self.kind == STANZA_SLOT && self.body.len() == SLOT_BODY_LEN {
            crate::crypto::hex(&self.body[..16])
        } else {
            let d = Sha256::digest(&self.body);
            crate::crypto::hex(&d[..16])
        }
    }

    /// The kind's name: `symmetric`, `age`, `ed25519` or `unknown-0x….`.
    pub fn kind_name(&self, signature: bool) -> String {
        match (signature, self.kind) {
            (false, STANZA_SLOT) => "symmetric".into(),
            (false, STANZA_AGE) => "age".into(),
            (true, SIGNATURE_ED25519) => "ed25519".into(),
            (_, k) => format!("unknown-{k:#06x}"),
        }
    }
}

/// A key section: what one copy of the key area holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySection {
    /// The copy's generation: 1 when written, one more at each rewrite.
    pub generation: u32,
    /// The recipient stanzas, in order (none at level 1).
    pub recipients: Vec<Stanza>,
    /// The section tag over the recipients (levels 2 and 3).
    pub tag: Option<[u8; 32]>,
    /// The signature stanzas, in order.
    pub signatures: Vec<Stanza>,
}

fn put_stanzas(b: &mut Vec<u8>, stanzas: &[Stanza]) {
    for s in stanzas {
        b.extend_from_slice(&s.kind.to_be_bytes());
        b.extend_from_slice(&(s.body.len() as u16).to_be_bytes());
        b.extend_from_slice(&s.body);
    }
}

/// The checksum of a copy's content before it (`docs/FORMAT.md` §5.1). It tells an
/// intact copy from a torn one; it authenticates nothing (anyone can compute it).
pub fn copy_checksum(content: &[u8]) -> [u8; 32] {
    let mut d = Sha256::new();
    d.update(CHECKSUM_LABEL);
    d.update(content);
    d.finalize().into()
}

impl KeySection {
    /// The bytes the section tag covers after `H`: the recipient count (u16) and the
    /// recipient stanzas.
    pub fn tagged_bytes(&self) -> Vec<u8> {
        let mut b = (self.recipients.len() as u16).to_be_bytes().to_vec();
        put_stanzas(&mut b, &self.recipients);
        b
    }

    /// Offset of the section tag within its copy.
    pub fn tag_offset(&self) -> usize {
        COPY_FIXED_LEN
            + self
                .recipients
                .iter()
                .map(|s| 4 + s.body.len())
                .sum::<usize>()
    }

    /// The copy's content length: fixed part, stanzas, tag and checksum.
    pub fn content_len(&self) -> usize {
        let st = |v: &[Stanza]| v.iter().map(|s| 4 + s.body.len()).sum::<usize>();
        COPY_FIXED_LEN
            + st(&self.recipients)
            + self.tag.map_or(0, |_| SECTION_TAG_LEN)
            + st(&self.signatures)
            + CHECKSUM_LEN
    }

    /// Checks the counts and lengths a writer may store.
    pub fn check_writable(&self, capacity: u32) -> Result<()> {
        let misuse = |reason: String| Error::new(ErrorKind::Misuse { reason });
        if self.recipients.len() > MAX_RECIPIENTS {
            return Err(misuse(format!(
                "{} recipients: a file holds at most {MAX_RECIPIENTS}",
                self.recipients.len()
            )));
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(misuse(format!(
                "{} signatures: a file holds at most {MAX_SIGNATURES}",
                self.signatures.len()
            )));
        }
        if let Some(s) = self
            .recipients
            .iter()
            .chain(&self.signatures)
            .find(|s| s.body.len() > MAX_STANZA_LEN)
        {
            return Err(misuse(format!(
                "a stanza of {} bytes: at most {MAX_STANZA_LEN}",
                s.body.len()
            )));
        }
        if self.generation == 0 || self.generation == u32::MAX {
            return Err(misuse(format!(
                "generation {} is out of range",
                self.generation
            )));
        }
        let need = self.content_len();
        if need > capacity as usize {
            return Err(Error::new(ErrorKind::LimitExceeded {
                what: "key section (the key area's copy capacity)",
                found: need as u64,
                limit: capacity as u64,
                place: Place::header(0),
            }));
        }
        Ok(())
    }

    /// One copy as written: `capacity` bytes, content, checksum over the content,
    /// then zeros.
    pub fn copy_bytes(&self, capacity: u32) -> Result<Vec<u8>> {
        self.check_writable(capacity)?;
        let u = self.content_len();
        let mut b = Vec::with_capacity(capacity as usize);
        b.extend_from_slice(&self.generation.to_be_bytes());
        b.extend_from_slice(&(u as u32).to_be_bytes());
        b.extend_from_slice(&(self.recipients.len() as u16).to_be_bytes());
        b.extend_from_slice(&(self.signatures.len() as u16).to_be_bytes());
        b.extend_from_slice(&[0; 4]);
        put_stanzas(&mut b, &self.recipients);
        if let Some(t) = &self.tag {
            b.extend_from_slice(t);
        }
        put_stanzas(&mut b, &self.signatures);
        let sum = copy_checksum(&b);
        b.extend_from_slice(&sum);
        debug_assert_eq!(b.len(), u);
        b.resize(capacity as usize, 0);
        Ok(b)
    }

    /// Parses one copy (`capacity` bytes). `Ok(None)` for an empty copy (generation
    /// 0). `at` is the copy's file offset.
    pub fn parse_copy(copy: &[u8], level: Integrity, at: u64) -> Result<Option<KeySection>> {
        let bad = |why: String, off: usize| Error::malformed_header(why, at + off as u64);
        let q = copy.len();
        let generation = BigEndian::read_u32(&copy[0..4]);
        if generation == 0 {
            if copy.iter().any(|&b| b != 0) {
                return Err(bad(
                    "an empty key copy (generation 0) is not all zero".into(),
                    0,
                ));
            }
            return Ok(None);
        }
        if generation > MAX_GENERATION {
            return Err(bad(
                format!("key copy generation {generation} is above {MAX_GENERATION}"),
                0,
            ));
        }
        let u = BigEndian::read_u32(&copy[4..8]) as usize;
        if u < COPY_FIXED_LEN + CHECKSUM_LEN || u > q {
            return Err(bad(format!("key copy length {u} is out of range"), 4));
        }
        let sum_at = u - CHECKSUM_LEN;
        if copy_checksum(&copy[..sum_at])[..] != copy[sum_at..u] {
            return Err(bad(
                "key copy checksum does not match (an interrupted rewrite, or damage)".into(),
                sum_at,
            ));
        }
        if copy[u..].iter().any(|&b| b != 0) {
            return Err(bad("key copy padding is not zero".into(), u));
        }
        let n = BigEndian::read_u16(&copy[8..10]) as usize;
        let m = BigEndian::read_u16(&copy[10..12]) as usize;
        if copy[12..16] != [0; 4] {
            return Err(bad("key copy reserved bytes are not zero".into(), 12));
        }
        let keyed = level != Integrity::Keyless;
        let over = |what: &'static str, found: usize, limit: usize, off: u64| {
            Error::new(ErrorKind::LimitExceeded {
                what,
                found: found as u64,
                limit: limit as u64,
                place: Place::header(at + off),
            })
        };
        if n > MAX_RECIPIENTS {
            return Err(over("recipients in a key copy", n, MAX_RECIPIENTS, 8));
        }
        if m > MAX_SIGNATURES {
            return Err(over("signatures in a key copy", m, MAX_SIGNATURES, 10));
        }
        if keyed && n == 0 {
            return Err(bad("a keyed file needs at least one recipient".into(), 8));
        }
        if !keyed && n != 0 {
            return Err(bad("a keyless file has no recipients".into(), 8));
        }
        let mut pos = COPY_FIXED_LEN;
        let read = |count: usize, pos: &mut usize, what: &str| -> Result<Vec<Stanza>> {
            let mut v = Vec::with_capacity(count);
            for _ in 0..count {
                if sum_at < *pos + 4 {
                    return Err(bad(format!("{what} stanza runs past the key copy"), *pos));
                }
                let kind = BigEndian::read_u16(&copy[*pos..*pos + 2]);
                let len = BigEndian::read_u16(&copy[*pos + 2..*pos + 4]) as usize;
                if len > MAX_STANZA_LEN {
                    return Err(bad(
                        format!("{what} stanza longer than {MAX_STANZA_LEN} bytes"),
                        *pos,
                    ));
                }
                if sum_at < *pos + 4 + len {
                    return Err(bad(format!("{what} stanza runs past the key copy"), *pos));
                }
                v.push(Stanza {
                    kind,
                    body: copy[*pos + 4..*pos + 4 + len].to_vec(),
                });
                *pos += 4 + len;
            }
            Ok(v)
        };
        let recipients = read(n, &mut pos, "recipient")?;
        for (s, i) in recipients.iter().zip(0..) {
            if s.kind == STANZA_SLOT && s.body.len() != SLOT_BODY_LEN {
                return Err(bad(
                    format!("recipient {i}: a symmetric key slot is {SLOT_BODY_LEN} bytes"),
                    COPY_FIXED_LEN,
                ));
            }
            if s.kind & CRITICAL_KIND != 0 {
                return Err(Error::unsupported(
                    format!("critical recipient kind {:#06x}", s.kind),
                    Place::header(at + COPY_FIXED_LEN as u64),
                ));
            }
        }
        let tag = if keyed {
            if sum_at < pos + SECTION_TAG_LEN {
                return Err(bad("the section tag runs past the key copy".into(), pos));
            }
            let mut t = [0u8; 32];
            t.copy_from_slice(&copy[pos..pos + SECTION_TAG_LEN]);
            pos += SECTION_TAG_LEN;
            Some(t)
        } else {
            None
        };
        let signatures = read(m, &mut pos, "signature")?;
        for s in &signatures {
            if s.kind == SIGNATURE_ED25519 && s.body.len() != ED25519_BODY_LEN {
                return Err(bad(
                    format!("an Ed25519 signature stanza is {ED25519_BODY_LEN} bytes"),
                    pos,
                ));
            }
        }
        if pos != sum_at {
            return Err(bad(
                "the key copy length does not match its stanzas".into(),
                pos,
            ));
        }
        Ok(Some(KeySection {
            generation,
            recipients,
            tag,
            signatures,
        }))
    }
}

/// The state of one copy of the key area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyState {
    /// Generation 0: never written.
    Empty,
    /// Intact, with this generation.
    Intact(u32),
    /// Not intact: why (a torn rewrite, or damage).
    Damaged(String),
}

/// The key area: its capacity, the state of both copies, and the section of the copy
/// in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyArea {
    /// Bytes per copy.
    pub capacity: u32,
    /// Copy A and copy B.
    pub copies: [CopyState; 2],
    /// Which copy is in force (0 = A, 1 = B).
    pub active: usize,
    /// The section of the copy in force.
    pub section: KeySection,
}

impl KeyArea {
    /// Checks the capacity field before anything is read or allocated.
    pub fn check_capacity(q: u32, at: u64) -> Result<()> {
        if q > MAX_COPY_CAPACITY {
            return Err(Error::new(ErrorKind::LimitExceeded {
                what: "key copy capacity",
                found: q as u64,
                limit: MAX_COPY_CAPACITY as u64,
                place: Place::header(at),
            }));
        }
        if q < MIN_COPY_CAPACITY {
            return Err(Error::malformed_header(
                format!("key copy capacity {q} is below the minimum of {MIN_COPY_CAPACITY}"),
                at,
            ));
        }
        Ok(())
    }

    /// Length of the whole area for a copy capacity.
    pub fn area_len(capacity: u32) -> usize {
        AREA_FIXED_LEN + 2 * capacity as usize
    }

    /// The area as a writer writes it: copy A holds `section`, copy B is empty.
    pub fn new_bytes(section: &KeySection, capacity: u32) -> Result<Vec<u8>> {
        if !(MIN_COPY_CAPACITY..=MAX_COPY_CAPACITY).contains(&capacity) {
            return Err(Error::new(ErrorKind::Misuse {
                reason: format!(
                    "key copy capacity {capacity}: it must be {MIN_COPY_CAPACITY} to {MAX_COPY_CAPACITY} bytes"
                ),
            }));
        }
        let mut b = capacity.to_be_bytes().to_vec();
        b.extend_from_slice(&section.copy_bytes(capacity)?);
        b.resize(Self::area_len(capacity), 0);
        Ok(b)
    }

    /// Parses both copies (`copies`: the `2 × capacity` bytes after the capacity
    /// field) and picks the one in force: the intact copy of the higher generation.
    /// `at` is the file offset of the capacity field.
    pub fn parse(copies: &[u8], level: Integrity, at: u64) -> Result<KeyArea> {
        let q = copies.len() / 2;
        let mut states = [CopyState::Empty, CopyState::Empty];
        let mut found: [Option<KeySection>; 2] = [None, None];
        let mut first_error = None;
        for i in 0..2 {
            let copy_at = at + AREA_FIXED_LEN as u64 + (i * q) as u64;
            match KeySection::parse_copy(&copies[i * q..(i + 1) * q], level, copy_at) {
                Ok(None) => {}
                Ok(Some(s)) => {
                    states[i] = CopyState::Intact(s.generation);
                    found[i] = Some(s);
                }
                // Only the copy in force is ever used: a copy that cannot be used
                // (damaged, a critical kind this reader does not know, counts over
                // the limits) stops the reader only when no copy is intact.
                Err(e) => {
                    states[i] = CopyState::Damaged(e.to_string());
                    first_error.get_or_insert(e);
                }
            }
        }
        let active = match (&found[0], &found[1]) {
            (Some(a), Some(b)) if a.generation == b.generation => {
                if a != b {
                    return Err(Error::malformed_header(
                        "the two key copies differ but have the same generation",
                        at,
                    ));
                }
                0
            }
            (Some(a), Some(b)) => usize::from(b.generation > a.generation),
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (None, None) => {
                return Err(first_error.unwrap_or_else(|| {
                    Error::malformed_header("both key copies are empty", at + 4)
                }))
            }
        };
        let section = found[active].take().expect("the active copy is intact");
        Ok(KeyArea {
            capacity: q as u32,
            copies: states,
            active,
            section,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed() -> KeySection {
        KeySection {
            generation: 1,
            recipients: vec![
                Stanza {
                    kind: STANZA_SLOT,
                    body: vec![7; SLOT_BODY_LEN],
                },
                Stanza {
                    kind: 0x7777,
                    body: vec![1, 2, 3],
                },
            ],
            tag: Some([9; 32]),
            signatures: vec![Stanza {
                kind: SIGNATURE_ED25519,
                body: vec![4; ED25519_BODY_LEN],
            }],
        }
    }

    #[test]
    fn a_new_area_has_one_copy_and_round_trips() {
        let s = keyed();
        let b = KeyArea::new_bytes(&s, 1024).unwrap();
        assert_eq!(b.len(), 4 + 2048);
        assert_eq!(&b[..4], &1024u32.to_be_bytes());
        assert!(b[4 + 1024..].iter().all(|&x| x == 0));
        let a = KeyArea::parse(&b[4..], Integrity::Encrypted, 0).unwrap();
        assert_eq!(a.section, s);
        assert_eq!(a.active, 0);
        assert_eq!(a.copies, [CopyState::Intact(1), CopyState::Empty]);
    }

    #[test]
    fn the_higher_intact_generation_is_in_force_and_a_torn_copy_is_skipped() {
        let old = keyed();
        let mut new = keyed();
        new.generation = 2;
        new.recipients.pop();
        let mut b = old.copy_bytes(512).unwrap();
        b.extend_from_slice(&new.copy_bytes(512).unwrap());
        let a = KeyArea::parse(&b, Integrity::Hmac, 0).unwrap();
        assert_eq!((a.active, &a.section), (1, &new));
        // Copy B torn half way: copy A is in force.
        for x in &mut b[512 + 40..] {
            *x = 0xAB;
        }
        let a = KeyArea::parse(&b, Integrity::Hmac, 0).unwrap();
        assert_eq!((a.active, &a.section), (0, &old));
        assert!(matches!(a.copies[1], CopyState::Damaged(_)));
        // Both torn: an error that says so.
        b[100] ^= 1;
        let e = KeyArea::parse(&b, Integrity::Hmac, 0).unwrap_err();
        assert_eq!(e.class(), "malformed-header");
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn limits_and_structure_are_checked() {
        assert!(KeyArea::check_capacity(MAX_COPY_CAPACITY + 1, 0).is_err());
        assert!(KeyArea::check_capacity(MIN_COPY_CAPACITY - 1, 0).is_err());
        let mut s = keyed();
        s.recipients = vec![
            Stanza {
                kind: STANZA_SLOT,
                body: vec![0; SLOT_BODY_LEN]
            };
            MAX_RECIPIENTS + 1
        ];
        assert!(s.copy_bytes(MAX_COPY_CAPACITY).is_err());
        // Does not fit its capacity.
        assert_eq!(
            keyed().copy_bytes(256).unwrap_err().class(),
            "limit-exceeded"
        );
        // A critical unknown recipient kind stops the reader.
        let mut s = keyed();
        s.recipients[1].kind = 0x8123;
        let b = [s.copy_bytes(512).unwrap(), vec![0; 512]].concat();
        assert_eq!(
            KeyArea::parse(&b, Integrity::Hmac, 0).unwrap_err().class(),
            "unsupported"
        );
        // A keyless copy has no recipients and no tag.
        let k = KeySection {
            generation: 1,
            ..Default::default()
        };
        let b = KeyArea::new_bytes(&k, 256).unwrap();
        assert_eq!(
            KeyArea::parse(&b[4..], Integrity::Keyless, 0)
                .unwrap()
                .section,
            k
        );
        assert!(KeyArea::parse(&b[4..], Integrity::Hmac, 0).is_err());
        let e = KeyArea::parse(&[0; 512], Integrity::Hmac, 0).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }
}
