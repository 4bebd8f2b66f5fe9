//! Changing who may open a file, and adding signatures, in place
//! (`docs/FORMAT.md` §5.6): only the key area is rewritten, never the header or a
//! chunk, so the cost does not depend on the recording's length.
//!
//! ```no_run
//! use sasf_core::{access::KeyEdit, Key, Keyring};
//! # fn main() -> sasf_core::Result<()> {
//! let mut edit = KeyEdit::open("call.sasf".as_ref())?;
//! edit.unlock(&Keyring::from_key(Key::from_key_file(b"00..")?))?;
//! edit.add_key(&Key::generate()?)?;
//! let report = edit.commit()?;
//! println!("wrote {} bytes", report.bytes_written);
//! # Ok(()) }
//! ```

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::crypto::keyring::{check_keyless, unlock, Unlocked};
use crate::crypto::{key_id, wrap_slot, Integrity, Key, Keyring};
use crate::error::{Error, ErrorKind, Result};
use crate::format::{Header, KeyArea, KeySection, Stanza, AREA_FIXED_LEN, STANZA_SLOT};
use crate::io::reader::Decoder;

/// What a rewrite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteReport {
    /// Bytes written to the file (both copies).
    pub bytes_written: u64,
    /// The new section's generation.
    pub generation: u32,
    /// Recipients after the rewrite.
    pub recipients: usize,
    /// Signatures after the rewrite.
    pub signatures: usize,
}

/// A key-area rewrite of one file in progress: the file is open for writing and
/// locked (an exclusive `flock`) until the edit is committed or dropped.
pub struct KeyEdit {
    file: File,
    header: Header,
    header_bytes: Vec<u8>,
    h: [u8; 32],
    area: KeyArea,
    new: KeySection,
    unlocked: Option<Unlocked>,
    recipients_changed: bool,
    stop_after_first_copy: bool,
}

impl std::fmt::Debug for KeyEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEdit")
            .field("area", &self.area)
            .field("unlocked", &self.unlocked.is_some())
            .finish()
    }
}

impl KeyEdit {
    /// Opens `path` for reading and writing, waits for an exclusive lock on it, and
    /// reads its header and key area.
    pub fn open(path: &Path) -> Result<KeyEdit> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        file.lock()?;
        let mut r = std::io::BufReader::new(&file);
        let d = Decoder::new(&mut r)?;
        let header = d.header().clone();
        let header_bytes = d.header_bytes().to_vec();
        let h = *d.header_hash();
        let area = d.into_key_area()?;
        let new = area.section.clone();
        Ok(KeyEdit {
            file,
            header,
            header_bytes,
            h,
            area,
            new,
            unlocked: None,
            recipients_changed: false,
            stop_after_first_copy: false,
        })
    }

    /// The file's public header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The key area as read (the copy in force, and the state of both copies).
    pub fn area(&self) -> &KeyArea {
        &self.area
    }

    /// The header hash `H`.
    pub fn header_hash(&self) -> &[u8; 32] {
        &self.h
    }

    /// The key section as it will be written.
    pub fn section(&self) -> &KeySection {
        &self.new
    }

    /// Authenticates the header and the key section with a key or identity of
    /// `keyring` and keeps the data key, which changing recipients needs. At level 1
    /// it checks the header tag only.
    pub fn unlock(&mut self, keyring: &Keyring) -> Result<()> {
        if self.header.integrity == Integrity::Keyless {
            return check_keyless(&self.header, &self.header_bytes);
        }
        let at = self.copy_offset(self.area.active);
        let u = unlock(
            &self.header,
            &self.header_bytes,
            &self.h,
            &self.area.section,
            at,
            keyring,
        )?;
        self.unlocked = Some(u);
        Ok(())
    }

    /// Which recipient stanza opened the file in [`KeyEdit::unlock`].
    pub fn opened_by(&self) -> Option<&Stanza> {
        let u = self.unlocked.as_ref()?;
        self.area.section.recipients.get(u.recipient)
    }

    fn keyed(&self) -> Result<&Unlocked> {
        if self.header.integrity == Integrity::Keyless {
            return Err(Error::misuse(
                "a keyless file has no recipients: re-pack it with a key to protect it",
            ));
        }
        self.unlocked.as_ref().ok_or_else(|| {
            Error::misuse("changing recipients needs the data key: unlock the file first")
        })
    }

    /// Adds a recipient stanza made by the caller from the data key.
    fn push_recipient(&mut self, s: Stanza) -> Result<()> {
        if self.new.recipients.iter().any(|r| r.id() == s.id()) {
            return Err(Error::misuse(format!(
                "recipient {} is already in the file",
                s.id()
            )));
        }
        self.new.recipients.push(s);
        self.recipients_changed = true;
        Ok(())
    }

    /// Adds a symmetric recipient: a slot wrapping the data key for `key`.
    pub fn add_key(&mut self, key: &Key) -> Result<()> {
        let u = self.keyed()?;
        let body = wrap_slot(key, &self.header.salt, &self.h, &u.dk, &u.context);
        self.push_recipient(Stanza {
            kind: STANZA_SLOT,
            body,
        })
    }

    /// Removes the recipient whose stanza id (`docs/FORMAT.md` §5.8; a slot's key
    /// id) is `id`, or starts with it when at least 8 hex digits are given. Refuses to
    /// remove the last recipient.
    pub fn remove(&mut self, id: &str) -> Result<Stanza> {
        self.keyed()?;
        let id = id.to_ascii_lowercase();
        if id.len() < 8 {
            return Err(Error::misuse(
                "give at least 8 hex digits of the recipient's id",
            ));
        }
        let hits: Vec<usize> = (0..self.new.recipients.len())
            .filter(|&i| self.new.recipients[i].id().starts_with(&id))
            .collect();
        let i = match hits[..] {
            [i] => i,
            [] => {
                return Err(Error::misuse(format!(
                    "no recipient has id {id} (sasf keys list shows them)"
                )))
            }
            _ => return Err(Error::misuse(format!("id {id} names several recipients"))),
        };
        if self.new.recipients.len() == 1 {
            return Err(Error::misuse(
                "that is the file's last recipient: nobody could open it any more",
            ));
        }
        self.recipients_changed = true;
        Ok(self.new.recipients.remove(i))
    }

    /// Removes the symmetric slot of `key`.
    pub fn remove_key(&mut self, key: &Key) -> Result<Stanza> {
        self.remove(&crate::crypto::hex(&key_id(key)))
    }

    /// Adds a signature stanza (it authenticates itself; no data key needed).
    pub fn add_signature(&mut self, s: Stanza) -> Result<()> {
        if self.new.signatures.iter().any(|x| x == &s) {
            return Err(Error::misuse("the file already has this signature"));
        }
        self.new.signatures.push(s);
        Ok(())
    }

    /// For tests of crash safety: commit writes only the first copy (step 3 of
    /// `docs/FORMAT.md` §5.6), as a crash before step 4 would leave it.
    #[doc(hidden)]
    pub fn stop_after_first_copy_for_tests(&mut self) {
        self.stop_after_first_copy = true;
    }

    fn copy_offset(&self, i: usize) -> u64 {
        self.header_bytes.len() as u64
            + AREA_FIXED_LEN as u64
            + i as u64 * self.area.capacity as u64
    }

    /// Writes the new key section in place: over the copy not in force, durably,
    /// then over the other one, durably. The lock is released when this returns.
    pub fn commit(mut self) -> Result<RewriteReport> {
        let q = self.area.capacity;
        if self.area.section.generation == u32::MAX - 1 {
            return Err(Error::misuse("the key area has been rewritten too often"));
        }
        self.new.generation = self.area.section.generation + 1;
        if self.recipients_changed {
            let u = self.keyed()?;
            self.new.tag = Some(u.keys.keys_tag(&self.h, &self.new.tagged_bytes()));
        }
        let bytes = self.new.copy_bytes(q)?;
        let first = 1 - self.area.active;
        let mut written = 0u64;
        for (step, i) in [first, self.area.active].into_iter().enumerate() {
            if step == 1 && self.stop_after_first_copy {
                break;
            }
            self.file.seek(SeekFrom::Start(self.copy_offset(i)))?;
            self.file.write_all(&bytes)?;
            self.file.sync_data()?;
            written += bytes.len() as u64;
        }
        // Read back what is now in force.
        self.file.seek(SeekFrom::Start(0))?;
        let mut front = vec![0u8; self.copy_offset(2) as usize];
        self.file.read_exact(&mut front)?;
        let area = Decoder::new(&front[..])?.into_key_area()?;
        if area.section != self.new {
            return Err(Error::new(ErrorKind::Io(std::io::Error::other(
                "the key area read back is not what was written",
            ))));
        }
        Ok(RewriteReport {
            bytes_written: written,
            generation: self.new.generation,
            recipients: self.new.recipients.len(),
            signatures: self.new.signatures.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AudioFormat, Encoding, WriterBuilder};

    fn file(dir: &Path, key: &Key) -> std::path::PathBuf {
        let f = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        let mut w = WriterBuilder::new(f)
            .encrypted(key.clone())
            .wrap_output(Vec::new())
            .unwrap();
        w.write_audio(&[1u8; 32000]).unwrap();
        let p = dir.join("a.sasf");
        std::fs::write(&p, w.finish().unwrap()).unwrap();
        p
    }

    fn opens(p: &Path, k: &Key) -> std::result::Result<(), String> {
        let b = std::fs::read(p).unwrap();
        let mut r = Decoder::new(&b[..])
            .and_then(|d| d.open(Some(k)))
            .map_err(|e| e.class().to_string())?;
        while r.next_item().map_err(|e| e.class().to_string())?.is_some() {}
        Ok(())
    }

    #[test]
    fn add_and_remove_rewrite_only_the_key_area() {
        let dir = std::env::temp_dir().join(format!("sasf-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (k1, k2) = (Key::generate().unwrap(), Key::generate().unwrap());
        let p = file(&dir, &k1);
        let before = std::fs::read(&p).unwrap();
        let mut e = KeyEdit::open(&p).unwrap();
        assert_eq!(e.add_key(&k2).unwrap_err().class(), "misuse"); // not unlocked
        e.unlock(&Keyring::from_key(k1.clone())).unwrap();
        e.add_key(&k2).unwrap();
        assert!(e.add_key(&k2).is_err(), "twice");
        let r = e.commit().unwrap();
        assert_eq!((r.generation, r.recipients, r.bytes_written), (2, 2, 8192));
        let after = std::fs::read(&p).unwrap();
        let stream = 128 + 4 + 8192;
        assert_eq!(after.len(), before.len());
        assert_eq!(before[..128], after[..128]);
        assert_eq!(before[stream..], after[stream..]);
        assert_eq!(opens(&p, &k1), Ok(()));
        assert_eq!(opens(&p, &k2), Ok(()));
        // Remove the first; the last one cannot be removed.
        let mut e = KeyEdit::open(&p).unwrap();
        e.unlock(&Keyring::from_key(k2.clone())).unwrap();
        e.remove_key(&k1).unwrap();
        assert_eq!(e.remove_key(&k2).unwrap_err().class(), "misuse");
        e.commit().unwrap();
        assert_eq!(opens(&p, &k1), Err("wrong-key".into()));
        assert_eq!(opens(&p, &k2), Ok(()));
        // Both copies hold the new section: the removed slot is gone from the file.
        let d = std::fs::read(&p).unwrap();
        let id = key_id(&k1);
        assert!(!d.windows(16).any(|w| w == id));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_crash_between_the_copies_leaves_the_new_section_in_force() {
        let dir = std::env::temp_dir().join(format!("sasf-access-crash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (k1, k2) = (Key::generate().unwrap(), Key::generate().unwrap());
        let p = file(&dir, &k1);
        let mut e = KeyEdit::open(&p).unwrap();
        e.unlock(&Keyring::from_key(k1.clone())).unwrap();
        e.add_key(&k2).unwrap();
        e.stop_after_first_copy_for_tests();
        e.commit().unwrap();
        assert_eq!(opens(&p, &k2), Ok(()));
        let b = std::fs::read(&p).unwrap();
        let d = Decoder::new(&b[..]).unwrap();
        let a = d.key_area().unwrap();
        assert_eq!(a.active, 1);
        assert_eq!(a.copies[0], crate::format::CopyState::Intact(1));
        // The next rewrite starts from copy B and repairs copy A.
        let mut e = KeyEdit::open(&p).unwrap();
        e.unlock(&Keyring::from_key(k2.clone())).unwrap();
        e.remove_key(&k1).unwrap();
        e.commit().unwrap();
        let b = std::fs::read(&p).unwrap();
        let d = Decoder::new(&b[..]).unwrap();
        let a = d.key_area().unwrap();
        assert_eq!(a.copies[0], crate::format::CopyState::Intact(3));
        assert_eq!(a.copies[1], crate::format::CopyState::Intact(3));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
