//! Changing who may open a file, and adding signatures, in place
//! (`docs/FORMAT.md` §5.6): only the key area is rewritten, never the header or a
//! chunk, so the cost does not depend on the recording's length.
//!
//! ```no_run
//! use sasf_core::{access::KeyEdit, Key, Keyring};
//! # fn main() -> sasf_core::Result<()> {
//! let mut edit = KeyEdit::open("call.sasf".as_ref())?;
//! edit.unlock(&Keyring::from_key(Key::from_key_text(b"00..")?))?;
//! edit.add_key(&Key::generate()?)?;
//! let report = edit.commit()?;
//! println!("wrote {} bytes", report.bytes_written);
//! # Ok(()) }
//! ```

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::crypto::age_slot::wrap_age;
use crate::crypto::keyring::{check_keyless, unlock, PublicRecipient, Unlocked};
use crate::crypto::sign::{check_signatures, require_trusted, signature_stanza, SignatureCheck};
use crate::crypto::{
    chunk_digest, file_digest, hex, key_id, wrap_slot, Integrity, Key, Keyring, SigningKey,
    VerifyingKey, MANIFEST_LABEL,
};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::{
    Header, KeyArea, KeySection, Stanza, AREA_FIXED_LEN, BODY_HEADER_LEN, PREFIX_LEN, STANZA_AGE,
    STANZA_SLOT,
};
use crate::io::reader::Decoder;
use crate::io::{Limits, Require};

/// The label of a level-1 chunk tag (`docs/FORMAT.md` §6.2).
const KEYLESS_CHUNK_LABEL: &[u8] = b"SASF-v2/SHA-256/chunk";

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
    /// The caller vouches that the key area is its own (it has just written the
    /// file), so a signature may be added without unlocking it.
    own: bool,
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
            own: false,
        })
    }

    /// A reader of the locked file from its first byte.
    fn reader(&self) -> Result<std::io::BufReader<File>> {
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(0))?;
        Ok(std::io::BufReader::with_capacity(1 << 16, f))
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

    /// Adds a public-key (age) recipient.
    pub fn add_recipient(&mut self, r: &PublicRecipient) -> Result<()> {
        let u = self.keyed()?;
        let body = wrap_age(r.as_age(), &u.dk, &u.context, &self.h)?;
        self.push_recipient(Stanza {
            kind: STANZA_AGE,
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
    ///
    /// At levels 2 and 3 the file must have been unlocked first, even to add only a
    /// signature: writing the copy in force over both copies would otherwise make
    /// permanent a key section that someone without the data key planted.
    pub fn commit(mut self) -> Result<RewriteReport> {
        let q = self.area.capacity;
        if self.header.integrity != Integrity::Keyless && self.unlocked.is_none() && !self.own {
            return Err(Error::misuse(
                "rewriting the key area needs the file unlocked with a key or identity first",
            ));
        }
        self.new.generation = self
            .area
            .section
            .generation
            .checked_add(1)
            .filter(|&g| g <= crate::format::MAX_GENERATION)
            .ok_or_else(|| Error::misuse("the key area has been rewritten too often"))?;
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

/// What signing a file did.
#[derive(Debug, Clone)]
pub struct SignReport {
    /// The signer's id, hex.
    pub signer_id: String,
    /// The file digest signed.
    pub file_digest: [u8; 32],
    /// The rewrite of the key area.
    pub rewrite: RewriteReport,
}

/// Verifies the whole file at `path` (opened with `keyring` under `require`), then
/// adds a signature by `key` over its header hash and file digest, in place
/// (`docs/FORMAT.md` §5.5, §5.6). A file that does not verify is not signed.
pub fn sign(
    path: &Path,
    keyring: &Keyring,
    require: Option<Require>,
    key: &SigningKey,
    signed_at_ms: u64,
) -> Result<SignReport> {
    let mut edit = KeyEdit::open(path)?;
    edit.unlock(keyring)?;
    // Verified through the locked file itself, never by its path again: the bytes
    // signed are the bytes checked.
    let mut d = Decoder::new(edit.reader()?)?;
    if let Some(r) = require {
        d = d.require(r);
    }
    let mut r = d.open_with(keyring)?;
    r.verify_to_end()?;
    let fd = *r.file_digest().expect("verified to the end");
    if r.header_hash() != edit.header_hash() {
        return Err(Error::misuse("the file changed while it was being signed"));
    }
    let stanza = signature_stanza(key, &edit.h, &fd, signed_at_ms);
    edit.add_signature(stanza)?;
    let rewrite = edit.commit()?;
    Ok(SignReport {
        signer_id: hex(&key.verifying_key().id()),
        file_digest: fd,
        rewrite,
    })
}

/// What an auditor without the data key established (`docs/FORMAT.md` §5.5).
#[derive(Debug, Clone)]
pub struct Audit {
    /// The integrity level the header states.
    pub level: Integrity,
    /// Chunks read, END included.
    pub chunks: u64,
    /// The file digest, recomputed from the stored bytes.
    pub file_digest: [u8; 32],
    /// The verdict on every signature stanza.
    pub signatures: Vec<SignatureCheck>,
    /// The annotation segments after END: chained and, where signed, their
    /// signatures checked from the stored bytes; their tags and records only at level
    /// 1 (`record` is empty at levels 2 and 3, which an auditor cannot open).
    pub segments: crate::io::segments::Segments,
}

/// Checks, without any key, that the file is exactly what one of `signers` signed:
/// recomputes every chunk digest from the stored bytes (on `threads` threads), the
/// manifest and the file digest, and verifies the signatures against it. Reads the
/// input once; memory is bounded by a batch of chunks (8 MiB, or two chunks of a
/// larger cap). Fails with `not-signed` unless a signer in `signers` signed exactly
/// these bytes.
pub fn audit<R: Read>(
    input: R,
    signers: &[VerifyingKey],
    limits: Limits,
    threads: usize,
) -> Result<Audit> {
    if signers.is_empty() {
        return Err(Error::misuse("an audit needs the signers to trust"));
    }
    let (d, area) = digest_unopened(input, limits, threads)?;
    let signatures = check_signatures(&area.section, &d.h, &d.file_digest, signers);
    require_trusted(&signatures, signers)?;
    Ok(Audit {
        level: d.level,
        chunks: d.chunks,
        file_digest: d.file_digest,
        signatures,
        segments: d.segments,
    })
}

/// What [`digest_unopened`] computed.
struct Unopened {
    level: Integrity,
    h: [u8; 32],
    chunks: u64,
    file_digest: [u8; 32],
    segments: crate::io::segments::Segments,
}

/// Signs the file at `path` as its bytes stand, without opening it: for a writer
/// signing its own output that it cannot open itself (its recipients are all public
/// keys). The signature attests these bytes, which the signer did not check; a
/// signer that can open the file should use [`sign`], which verifies first.
pub fn sign_unopened(path: &Path, key: &SigningKey, signed_at_ms: u64) -> Result<SignReport> {
    let mut edit = KeyEdit::open(path)?;
    edit.own = true;
    let (d, _) = digest_unopened(edit.reader()?, Limits::default(), 1)?;
    if &d.h != edit.header_hash() {
        return Err(Error::misuse("the file changed while it was being signed"));
    }
    let stanza = signature_stanza(key, &edit.h, &d.file_digest, signed_at_ms);
    edit.add_signature(stanza)?;
    let rewrite = edit.commit()?;
    Ok(SignReport {
        signer_id: hex(&key.verifying_key().id()),
        file_digest: d.file_digest,
        rewrite,
    })
}

/// Recomputes the file digest from the stored bytes, without any key (the auditor's
/// reading, `docs/FORMAT.md` §13).
fn digest_unopened<R: Read>(
    input: R,
    limits: Limits,
    threads: usize,
) -> Result<(Unopened, KeyArea)> {
    let (mut input, header, h, area, base) = Decoder::with_limits(input, limits)?.into_unopened();
    let area = area?;
    let level = header.integrity;
    let tag_len = level.tag_len();
    let cap = header.max_chunk_len as usize;
    let budget = (4usize << 20).max(2 * (cap + PREFIX_LEN + tag_len));
    let threads = threads.clamp(1, 16);
    let mut manifest = Sha256::new();
    manifest.update(MANIFEST_LABEL);
    manifest.update(h);
    let mut last: Option<[u8; 32]> = None;
    let mut next = Framing {
        index: 0,
        offset: base,
        rate: header.format.sample_rate,
        cap,
        tag_len,
        segments_tail: Vec::new(),
    };
    // Reading batch k+1 overlaps hashing batch k (on `threads` threads); two batch
    // buffers, allocated once, take turns.
    let size = budget + PREFIX_LEN + cap + tag_len;
    let mut feed = |ds: Vec<[u8; 32]>| {
        for d in ds {
            if let Some(prev) = last.replace(d) {
                manifest.update(prev);
            }
        }
    };
    std::thread::scope(|s| -> Result<()> {
        type Done = (Batch, Result<Vec<[u8; 32]>>);
        let mut pending: Option<std::thread::ScopedJoinHandle<'_, Done>> = None;
        let mut spare = Batch::new(size);
        let mut free: Option<Batch> = None;
        loop {
            let read = next.read_batch(&mut input, &mut spare, budget);
            // The earlier batch's verdict first: errors come in stream order.
            if let Some(p) = pending.take() {
                let (b, r) = p.join().expect("a digest thread does not panic");
                feed(r?);
                free = Some(b);
            }
            let eof = read?;
            if spare.chunks.is_empty() {
                break;
            }
            let b = std::mem::replace(&mut spare, free.take().unwrap_or_else(|| Batch::new(size)));
            pending = Some(s.spawn(move || {
                let r = digests(level, &h, tag_len, &b, threads);
                (b, r)
            }));
            if eof {
                if let Some(p) = pending.take() {
                    feed(p.join().expect("a digest thread does not panic").1?);
                }
                break;
            }
        }
        Ok(())
    })?;
    let Some(end) = last else {
        return Err(Error::new(ErrorKind::Truncated {
            after_chunk: None,
            at_sample: 0,
            sample_rate: header.format.sample_rate,
            offset: base,
        }));
    };
    let m: [u8; 32] = manifest.finalize().into();
    let fd = file_digest(&m, &end);
    // The segments after END: their chain, trailers and signatures need no key; at
    // level 1 their tags and records are checked too (`docs/FORMAT.md` §21.4).
    let keyless = crate::crypto::segment::SegmentCrypto::keyless();
    let segments = crate::io::segments::read_segments(
        &mut std::io::Cursor::new(std::mem::take(&mut next.segments_tail)).chain(&mut input),
        next.offset,
        level,
        (level == Integrity::Keyless).then_some(&keyless),
        &h,
        0,
        &fd,
        &limits,
        &crate::meta::check_segment_record,
    )?;
    Ok((
        Unopened {
            level,
            h,
            chunks: next.index,
            file_digest: fd,
            segments,
        },
        area,
    ))
}

/// Where an auditor is in the chunk stream, and the framing rules it checks.
struct Framing {
    index: u64,
    offset: u64,
    rate: u32,
    cap: usize,
    tag_len: usize,
    /// The bytes of the first annotation segment read while looking for a chunk.
    segments_tail: Vec<u8>,
}

/// Chunks an auditor read, in one buffer: each as (index, file offset, start in
/// `data`, length of prefix + body + tag).
struct Batch {
    data: Vec<u8>,
    chunks: Vec<(u64, u64, usize, usize)>,
}

impl Batch {
    fn new(size: usize) -> Batch {
        Batch {
            data: vec![0; size],
            chunks: Vec::new(),
        }
    }
}

impl Framing {
    /// Reads whole chunks into `b` until `budget` bytes or the end of the input
    /// (returns whether the input ended); checks each prefix (length within the cap,
    /// index in sequence) before reading the rest. `b.data` holds `budget` plus one
    /// chunk of the cap.
    fn read_batch<R: Read>(&mut self, input: &mut R, b: &mut Batch, budget: usize) -> Result<bool> {
        b.chunks.clear();
        let mut pos = 0usize;
        while pos < budget {
            let n = crate::io::reader::read_full(input, &mut b.data[pos..pos + PREFIX_LEN])?;
            if n == 0 {
                return Ok(true);
            }
            let trunc = |at: u64, index: u64| {
                Error::new(ErrorKind::Truncated {
                    after_chunk: index.checked_sub(1),
                    at_sample: 0,
                    sample_rate: self.rate,
                    offset: at,
                })
            };
            // Annotation segments start with 0x89, never the first byte of a chunk
            // length (at most 16 MiB): the chunks end here.
            let seg = &crate::format::segment::SEGMENT_MAGIC;
            let m = n.min(4);
            if b.data[pos..pos + m] == seg[..m] {
                self.segments_tail = b.data[pos..pos + n].to_vec();
                return Ok(true);
            }
            if n < PREFIX_LEN {
                return Err(trunc(self.offset + n as u64, self.index));
            }
            let prefix = &b.data[pos..pos + PREFIX_LEN];
            let len = u32::from_be_bytes(prefix[..4].try_into().expect("4 bytes")) as usize;
            let place = Place::chunk(self.index, self.offset);
            if len < BODY_HEADER_LEN {
                return Err(Error::malformed("chunk body shorter than 12 bytes", place));
            }
            if len > self.cap {
                return Err(Error::new(ErrorKind::LimitExceeded {
                    what: "chunk body length",
                    found: len as u64,
                    limit: self.cap as u64,
                    place,
                }));
            }
            if u64::from_be_bytes(prefix[4..].try_into().expect("8 bytes")) != self.index {
                return Err(Error::new(ErrorKind::AuthFailed { place }));
            }
            let total = PREFIX_LEN + len + self.tag_len;
            let got =
                crate::io::reader::read_full(input, &mut b.data[pos + PREFIX_LEN..pos + total])?;
            if got < len + self.tag_len {
                return Err(trunc(self.offset + (PREFIX_LEN + got) as u64, self.index));
            }
            b.chunks.push((self.index, self.offset, pos, total));
            pos += total;
            self.offset += total as u64;
            self.index += 1;
        }
        Ok(false)
    }
}

/// The digests of a batch, in order, on `threads` threads. At level 1 a chunk's
/// digest is its tag, which an auditor recomputes first: the keyless tag is a hash
/// of the chunk's bytes, so this needs no key.
fn digests(
    level: Integrity,
    h: &[u8; 32],
    tag_len: usize,
    b: &Batch,
    threads: usize,
) -> Result<Vec<[u8; 32]>> {
    let one = |&(index, offset, start, total): &(u64, u64, usize, usize)| -> Result<[u8; 32]> {
        let c = &b.data[start..start + total];
        let prefix: [u8; PREFIX_LEN] = c[..PREFIX_LEN].try_into().expect("12 bytes");
        let len = total - PREFIX_LEN - tag_len;
        let body = &c[PREFIX_LEN..PREFIX_LEN + len];
        let tag = &c[PREFIX_LEN + len..];
        if level == Integrity::Keyless {
            let mut t = Sha256::new();
            t.update(KEYLESS_CHUNK_LABEL);
            t.update(h);
            t.update(prefix);
            t.update(body);
            if t.finalize()[..] != tag[..] {
                return Err(Error::new(ErrorKind::AuthFailed {
                    place: Place::chunk(index, offset),
                }));
            }
        }
        Ok(chunk_digest(level, &prefix, body, tag))
    };
    if threads == 1 || b.chunks.len() < 2 {
        return b.chunks.iter().map(one).collect();
    }
    let per = b.chunks.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = b
            .chunks
            .chunks(per)
            .map(|part| {
                let one = &one;
                s.spawn(move || part.iter().map(one).collect::<Result<Vec<_>>>())
            })
            .collect();
        let mut out = Vec::with_capacity(b.chunks.len());
        for p in parts {
            out.extend(p.join().expect("a digest thread does not panic")?);
        }
        Ok(out)
    })
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

    #[test]
    fn a_signature_is_checked_by_an_auditor_without_the_key() {
        let dir = std::env::temp_dir().join(format!("sasf-access-sign-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let k = Key::generate().unwrap();
        let p = file(&dir, &k);
        let sk = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let ring = Keyring::from_key(k.clone());
        let rep = sign(&p, &ring, None, &sk, 1_700_000_000_000).unwrap();
        assert_eq!(rep.rewrite.signatures, 1);
        assert!(rep.rewrite.bytes_written <= 65536);
        let bytes = std::fs::read(&p).unwrap();
        let pk = sk.verifying_key();
        let a = audit(&bytes[..], std::slice::from_ref(&pk), Limits::default(), 2).unwrap();
        assert_eq!(a.file_digest, rep.file_digest);
        assert!(a.signatures[0].valid && a.signatures[0].trusted);
        assert_eq!(a.signatures[0].signed_at_ms, 1_700_000_000_000);
        // Another signer is not trusted.
        let e = audit(&bytes[..], &[other.verifying_key()], Limits::default(), 1).unwrap_err();
        assert_eq!(e.class(), "not-signed");
        // One changed byte in the last audio chunk: the digest differs.
        let mut x = bytes.clone();
        let n = x.len();
        x[n - 200] ^= 1;
        let e = audit(&x[..], std::slice::from_ref(&pk), Limits::default(), 2).unwrap_err();
        assert_eq!(e.class(), "not-signed", "{e}");
        // The reader checks signers too, with the key.
        let d = Decoder::new(&bytes[..]).unwrap().signers(vec![pk.clone()]);
        let mut r = d.require(Require::Signed).open(Some(&k)).unwrap();
        r.verify_to_end().unwrap();
        let d = Decoder::new(&bytes[..]).unwrap();
        let mut r = d
            .signers(vec![other.verifying_key()])
            .open(Some(&k))
            .unwrap();
        assert_eq!(r.verify_to_end().unwrap_err().class(), "not-signed");
        // A signature moved to another file does not verify there.
        let p2 = dir.join("b.sasf");
        std::fs::copy(&p, &p2).unwrap();
        std::fs::write(&p2, {
            let f = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
            let mut w = WriterBuilder::new(f)
                .encrypted(k.clone())
                .wrap_output(Vec::new())
                .unwrap();
            w.write_audio(&[1u8; 32000]).unwrap();
            w.finish().unwrap()
        })
        .unwrap();
        let mut e = KeyEdit::open(&p2).unwrap();
        e.unlock(&ring).unwrap();
        let moved = Decoder::new(&bytes[..])
            .unwrap()
            .key_section()
            .unwrap()
            .signatures[0]
            .clone();
        e.add_signature(moved).unwrap();
        e.commit().unwrap();
        let b2 = std::fs::read(&p2).unwrap();
        let e = audit(&b2[..], std::slice::from_ref(&pk), Limits::default(), 2).unwrap_err();
        assert_eq!(e.class(), "not-signed");
        // A keyless file never meets `signed`.
        let f = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        let w = WriterBuilder::new(f).wrap_output(Vec::new()).unwrap();
        let kl = w.finish().unwrap();
        let e = Decoder::new(&kl[..])
            .unwrap()
            .signers(vec![pk])
            .require(Require::Signed)
            .open(None)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.class(), "not-protected");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_public_key_recipient_opens_a_file_its_writer_cannot() {
        let (id_text, recipient) = crate::crypto::age_slot::generate_x25519();
        let r = PublicRecipient::parse(&recipient).unwrap();
        let f = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        let mut w = WriterBuilder::new(f)
            .integrity(Integrity::Encrypted)
            .public_recipient(r)
            .wrap_output(Vec::new())
            .unwrap();
        w.write_audio(&[3u8; 16000]).unwrap();
        let b = w.finish().unwrap();
        let mut ring = Keyring::new();
        ring.add_identity_file(id_text.as_bytes()).unwrap();
        let mut rd = Decoder::new(&b[..]).unwrap().open_with(&ring).unwrap();
        rd.verify_to_end().unwrap();
        // Recovery of a cut copy is wrapped for the identity's recipient again.
        let (out, rec) = crate::recover::recover_with(
            &b[..b.len() - 40],
            &ring,
            Require::Authenticated,
            None,
            Vec::new(),
        )
        .unwrap();
        assert!(rec.stop.is_some());
        let mut rd = Decoder::new(&out[..]).unwrap().open_with(&ring).unwrap();
        rd.verify_to_end().unwrap();
        assert_eq!(rd.key_section().recipients[0].kind, STANZA_AGE);
        // Another identity: no recipient matches.
        let (other, _) = crate::crypto::age_slot::generate_x25519();
        let mut ring2 = Keyring::new();
        ring2.add_identity_file(other.as_bytes()).unwrap();
        let e = Decoder::new(&b[..])
            .unwrap()
            .open_with(&ring2)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.class(), "wrong-key");
        assert!(e.to_string().contains("age "), "{e}");
    }

    #[test]
    fn a_key_area_is_not_rewritten_unopened_and_a_planted_generation_does_not_panic() {
        let dir = std::env::temp_dir().join(format!("sasf-access-gen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let k = Key::generate().unwrap();
        let p = file(&dir, &k);
        // Without unlocking, even a signature-only edit is refused at level 3.
        let mut e = KeyEdit::open(&p).unwrap();
        let sk = SigningKey::generate().unwrap();
        e.add_signature(signature_stanza(&sk, &[0; 32], &[0; 32], 0))
            .unwrap();
        assert_eq!(e.commit().unwrap_err().class(), "misuse");
        // A copy B planted with the largest generation: refused as damaged, copy A
        // stays in force, and the next edit works.
        let mut b = std::fs::read(&p).unwrap();
        let q = 4096usize;
        let mut s = Decoder::new(&b[..]).unwrap().key_section().unwrap().clone();
        s.generation = crate::format::MAX_GENERATION;
        let mut planted = s.copy_bytes(q as u32).unwrap();
        planted[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        let u = u32::from_be_bytes(planted[4..8].try_into().unwrap()) as usize;
        let sum = crate::format::copy_checksum(&planted[..u - 32]);
        planted[u - 32..u].copy_from_slice(&sum);
        b[132 + q..132 + 2 * q].copy_from_slice(&planted);
        std::fs::write(&p, &b).unwrap();
        let d = Decoder::new(&b[..]).unwrap();
        assert_eq!(d.key_area().unwrap().active, 0);
        let mut e = KeyEdit::open(&p).unwrap();
        e.unlock(&Keyring::from_key(k.clone())).unwrap();
        e.add_key(&Key::generate().unwrap()).unwrap();
        assert_eq!(e.commit().unwrap().generation, 2);
        // At the bound, the edit is refused, not wrapped around.
        let mut b = std::fs::read(&p).unwrap();
        let mut s = Decoder::new(&b[..]).unwrap().key_section().unwrap().clone();
        s.generation = crate::format::MAX_GENERATION;
        let c = s.copy_bytes(q as u32).unwrap();
        b[132..132 + q].copy_from_slice(&c);
        b[132 + q..132 + 2 * q].copy_from_slice(&c);
        std::fs::write(&p, &b).unwrap();
        let mut e = KeyEdit::open(&p).unwrap();
        e.unlock(&Keyring::from_key(k.clone())).unwrap();
        assert_eq!(e.commit().unwrap_err().class(), "misuse");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_derived_file_is_not_wrapped_for_an_identity_that_did_not_open_the_original() {
        let (x, rx) = crate::crypto::age_slot::generate_x25519();
        let (y, _) = crate::crypto::age_slot::generate_x25519();
        let f = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        let mut w = WriterBuilder::new(f)
            .integrity(Integrity::Encrypted)
            .public_recipient(PublicRecipient::parse(&rx).unwrap())
            .wrap_output(Vec::new())
            .unwrap();
        w.write_audio(&[3u8; 16000]).unwrap();
        let b = w.finish().unwrap();
        let mut both = Keyring::new();
        both.add_identity_file(x.as_bytes()).unwrap();
        both.add_identity_file(y.as_bytes()).unwrap();
        let (out, _) = crate::recover::recover_with(
            &b[..b.len() - 40],
            &both,
            Require::Authenticated,
            None,
            Vec::new(),
        )
        .unwrap();
        let mut only_y = Keyring::new();
        only_y.add_identity_file(y.as_bytes()).unwrap();
        let e = Decoder::new(&out[..])
            .unwrap()
            .open_with(&only_y)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.class(), "wrong-key");
        let mut only_x = Keyring::new();
        only_x.add_identity_file(x.as_bytes()).unwrap();
        assert!(Decoder::new(&out[..]).unwrap().open_with(&only_x).is_ok());
    }
}
