//! The key section (`docs/FORMAT.md` §5): bytes only. Wrapping and the section tag
//! are in `crypto`.

use byteorder::{BigEndian, ByteOrder};

use crate::crypto::Integrity;
use crate::error::{Error, ErrorKind, Place, Result};

/// Length of the key section's fixed part: length (u32), count (u16), reserved (u16).
pub const KEYS_FIXED_LEN: usize = 8;
/// Most stanzas a key section may hold.
pub const MAX_STANZAS: usize = 256;
/// Largest stanza body.
pub const MAX_STANZA_LEN: usize = 4096;
/// Stanza kind of a symmetric key slot.
pub const STANZA_SLOT: u16 = 1;
/// Body length of a symmetric key slot: key id (16) and wrapped key (80).
pub const SLOT_BODY_LEN: usize = 96;
const SECTION_TAG_LEN: usize = 32;

/// One recipient stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// Its kind ([`STANZA_SLOT`] for a symmetric key slot).
    pub kind: u16,
    /// Its body.
    pub body: Vec<u8>,
}

/// The key section: recipient stanzas and, at levels 2 and 3, the section tag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySection {
    /// The stanzas, in order.
    pub stanzas: Vec<Stanza>,
    /// The section tag (levels 2 and 3).
    pub tag: Option<[u8; 32]>,
}

impl KeySection {
    /// The bytes the section tag covers: length field to the last stanza.
    pub fn unsigned_bytes(&self) -> Vec<u8> {
        let body: usize = self.stanzas.iter().map(|s| 4 + s.body.len()).sum();
        let tag_len = if self.tag.is_some() {
            SECTION_TAG_LEN
        } else {
            0
        };
        let mut b = Vec::with_capacity(KEYS_FIXED_LEN + body + tag_len);
        b.extend_from_slice(&((4 + body + tag_len) as u32).to_be_bytes());
        b.extend_from_slice(&(self.stanzas.len() as u16).to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        for s in &self.stanzas {
            b.extend_from_slice(&s.kind.to_be_bytes());
            b.extend_from_slice(&(s.body.len() as u16).to_be_bytes());
            b.extend_from_slice(&s.body);
        }
        b
    }

    /// The whole section as written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.unsigned_bytes();
        if let Some(t) = &self.tag {
            b.extend_from_slice(t);
        }
        b
    }

    /// Checks the length field `s` (bytes after it) before anything is read or
    /// allocated: the largest section the limits allow.
    pub fn check_declared_len(s: u32, level: Integrity, at: u64) -> Result<()> {
        let max = 4 + MAX_STANZAS * (4 + MAX_STANZA_LEN) + SECTION_TAG_LEN;
        if s as usize > max {
            return Err(Error::new(ErrorKind::LimitExceeded {
                what: "key section length",
                found: s as u64,
                limit: max as u64,
                place: Place::header(at),
            }));
        }
        let min = if level == Integrity::Keyless {
            4
        } else {
            4 + SECTION_TAG_LEN
        };
        if level == Integrity::Keyless && s != 4 {
            return Err(Error::malformed_header(
                "a keyless file's key section must be empty (length 4)",
                at,
            ));
        }
        if (s as usize) < min {
            return Err(Error::malformed_header(
                format!("key section length {s} is below the minimum of {min}"),
                at,
            ));
        }
        Ok(())
    }

    /// Parses the section's bytes after its length field (`rest`, `s` bytes). `at` is
    /// the file offset of the length field.
    pub fn parse(rest: &[u8], level: Integrity, at: u64) -> Result<KeySection> {
        let bad = |why: &str, off: usize| Error::malformed_header(why, at + 4 + off as u64);
        if rest.len() < 4 {
            return Err(bad("key section shorter than its fixed part", 0));
        }
        let n = BigEndian::read_u16(&rest[0..2]) as usize;
        if rest[2..4] != [0, 0] {
            return Err(bad("key section reserved bytes are not zero", 2));
        }
        let keyed = level != Integrity::Keyless;
        if keyed && !(1..=MAX_STANZAS).contains(&n) {
            return Err(bad("a keyed file needs 1 to 256 recipient stanzas", 0));
        }
        if !keyed && n != 0 {
            return Err(bad("a keyless file has no recipients", 0));
        }
        let end = rest.len() - if keyed { SECTION_TAG_LEN } else { 0 };
        let mut at_ = 4;
        let mut stanzas = Vec::with_capacity(n);
        for _ in 0..n {
            if end < at_ + 4 {
                return Err(bad("stanza runs past the key section", at_));
            }
            let kind = BigEndian::read_u16(&rest[at_..at_ + 2]);
            let len = BigEndian::read_u16(&rest[at_ + 2..at_ + 4]) as usize;
            if len > MAX_STANZA_LEN {
                return Err(bad("stanza longer than 4096 bytes", at_));
            }
            if end < at_ + 4 + len {
                return Err(bad("stanza runs past the key section", at_));
            }
            if kind == STANZA_SLOT && len != SLOT_BODY_LEN {
                return Err(bad("a symmetric key slot is 96 bytes", at_));
            }
            stanzas.push(Stanza {
                kind,
                body: rest[at_ + 4..at_ + 4 + len].to_vec(),
            });
            at_ += 4 + len;
        }
        if at_ != end {
            return Err(bad(
                "the key section length does not match its stanzas",
                at_,
            ));
        }
        let tag = keyed.then(|| {
            let mut t = [0u8; 32];
            t.copy_from_slice(&rest[end..]);
            t
        });
        Ok(KeySection { stanzas, tag })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyless_section_is_eight_fixed_bytes() {
        let k = KeySection::default();
        assert_eq!(k.to_bytes(), [0, 0, 0, 4, 0, 0, 0, 0]);
        assert_eq!(
            KeySection::parse(&k.to_bytes()[4..], Integrity::Keyless, 0).unwrap(),
            k
        );
    }

    #[test]
    fn keyed_section_round_trips_and_refuses_bad_lengths() {
        let k = KeySection {
            stanzas: vec![
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
        };
        let b = k.to_bytes();
        assert_eq!(b.len(), 8 + 100 + 7 + 32);
        assert_eq!(
            u32::from_be_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len() - 4
        );
        assert_eq!(
            KeySection::parse(&b[4..], Integrity::Encrypted, 0).unwrap(),
            k
        );
        // One byte short or long: the stanzas no longer fill the section.
        assert!(KeySection::parse(&b[4..b.len() - 1], Integrity::Encrypted, 0).is_err());
        let mut long = b[4..].to_vec();
        long.push(0);
        assert!(KeySection::parse(&long, Integrity::Encrypted, 0).is_err());
        // No stanza at a keyed level.
        let empty = KeySection {
            stanzas: vec![],
            tag: Some([0; 32]),
        };
        assert!(KeySection::parse(&empty.to_bytes()[4..], Integrity::Hmac, 0).is_err());
        assert!(KeySection::check_declared_len(u32::MAX, Integrity::Hmac, 0).is_err());
        assert!(KeySection::check_declared_len(5, Integrity::Keyless, 0).is_err());
    }
}
