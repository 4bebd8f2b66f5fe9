//! Appending annotation segments to a file in place (`docs/FORMAT.md` §21), and
//! trimming a torn one.
//!
//! An append holds an exclusive advisory lock (`flock`) on the file for its whole
//! length — the same lock a key-area rewrite takes — so two appenders (or an appender
//! and a re-keying) never interleave: the second waits, then reads the chain the first
//! extended. Under the lock it opens the file by random access (the recording's
//! structure, every existing segment and the chain head are verified; nothing of the
//! audio is read), seals the new segment, writes it at the end of the last complete
//! segment in one write, `fdatasync`s, and reads it back through the segment reader.
//! If anything fails after the write began, the file is cut back to its old length.
//!
//! ```no_run
//! use sasf_core::{annotate, Keyring, Key};
//! let keys = Keyring::from_key(Key::from_key_text(b"00..")?);
//! let record = sasf_core::meta::annotation::Record::from_json(
//!     br#"{"by":"qa@example.com","at":"2026-12-01T10:00:00Z","ops":[{"op":"tag","tag":"escalated"}]}"#,
//! )?;
//! let done = annotate::append(std::path::Path::new("call.sasf"), &keys, &record, None)?;
//! println!("segment {} at byte {}", done.number, done.offset);
//! # Ok::<(), sasf_core::Error>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::crypto::{Keyring, SigningKey};
use crate::error::{Error, ErrorKind, Result};
use crate::io::random::RandomAccess;
use crate::io::reader::Decoder;
use crate::io::segments::{read_segments, seal_segment, Segments};
use crate::io::Require;
use crate::meta::annotation::{Record, State};

/// What an append wrote.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The new segment's number.
    pub number: u32,
    /// File offset of its first byte.
    pub offset: u64,
    /// Its length in bytes (all that was written).
    pub len: u64,
    /// The new chain head (the segment's digest).
    pub head: [u8; 32],
}

/// What a file must be for an append, checked under the lock as a reading command
/// checks it: the requirement (default: authenticated by the keys given, any level
/// without keys) and the expected context.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The reader's requirement (`docs/FORMAT.md` §13).
    pub require: Option<Require>,
    /// The context the file must be bound to (§4.4).
    pub expect: Option<crate::Context>,
}

/// Opens `file` for random access with `keys` (none for a keyless file) under
/// `policy`.
fn open_ra<'a>(file: &'a File, keys: &Keyring, policy: &Policy) -> Result<RandomAccess<&'a File>> {
    let mut d = Decoder::new(file)?;
    match policy.require {
        Some(r) => d = d.require(r),
        None if keys.is_empty() => d = d.require(Require::Any),
        None => {}
    }
    if let Some(c) = &policy.expect {
        d = d.expect_context(c.clone());
    }
    d.open_with(keys)?.into_random_access()
}

fn torn(at: u64) -> Error {
    Error::new(ErrorKind::Misuse {
        reason: format!(
            "the file ends with an incomplete annotation segment at byte {at} (a torn append); `sasf recover` trims it"
        ),
    })
}

/// Appends one segment holding `record` to the file at `path`, signed by `signer`
/// when given. `keys` must open the file (empty for a keyless file). The record is
/// checked as a reader checks it, and against the current state
/// ([`State::check_new`]: nothing absent is removed, no inactive hold released)
/// before anything is written. See the module docs for locking and durability.
pub fn append(
    path: &Path,
    keys: &Keyring,
    record: &Record,
    signer: Option<&SigningKey>,
) -> Result<Appended> {
    append_with_policy(path, keys, record, signer, &Policy::default())
}

/// Like [`append`], the file checked under the lock against `policy` (the `sasf`
/// command passes `--require` and `--expect-id` here).
pub fn append_with_policy(
    path: &Path,
    keys: &Keyring,
    record: &Record,
    signer: Option<&SigningKey>,
    policy: &Policy,
) -> Result<Appended> {
    append_open_with_policy(open_rw(path)?, keys, record, signer, policy)
}

/// Like [`append_with_policy`], to a file the caller opened for reading and writing
/// (a server that opened it beneath its archive, following no link).
pub fn append_open_with_policy(
    file: File,
    keys: &Keyring,
    record: &Record,
    signer: Option<&SigningKey>,
    policy: &Policy,
) -> Result<Appended> {
    let json = record.to_json();
    append_inner(
        file,
        keys,
        &json,
        signer,
        &|segs, _| state(segs)?.check_new(record),
        None,
        policy,
    )
}

/// The record of each segment, in order.
pub fn records(segs: &Segments) -> Result<Vec<Record>> {
    segs.list
        .iter()
        .map(|s| Record::from_json(&s.record))
        .collect()
}

/// The current state derived from every segment's record (`docs/FORMAT.md` §21.5).
pub fn state(segs: &Segments) -> Result<State> {
    let mut st = State::new();
    for s in &segs.list {
        st.apply(s.number, &Record::from_json(&s.record)?)?;
    }
    Ok(st)
}

/// Like [`append`], for a record given as JSON text, with `check(existing segments,
/// record)` run under the lock before anything is written.
pub fn append_checked(
    path: &Path,
    keys: &Keyring,
    record: &[u8],
    signer: Option<&SigningKey>,
    check: &dyn Fn(&Segments, &[u8]) -> Result<()>,
) -> Result<Appended> {
    append_inner(
        open_rw(path)?,
        keys,
        record,
        signer,
        check,
        None,
        &Policy::default(),
    )
}

/// Like [`append`] with a fixed segment nonce instead of a random one, so that the
/// worked example and conformance vectors are reproducible. **Never** for real files:
/// a nonce must be fresh for every segment (`docs/FORMAT.md` §21.3).
#[doc(hidden)]
pub fn append_for_test_vectors(
    path: &Path,
    keys: &Keyring,
    record: &Record,
    signer: Option<&SigningKey>,
    nonce: [u8; 16],
) -> Result<Appended> {
    append_inner(
        open_rw(path)?,
        keys,
        &record.to_json(),
        signer,
        &|_, _| Ok(()),
        Some(nonce),
        &Policy::default(),
    )
}

fn open_rw(path: &Path) -> Result<File> {
    Ok(OpenOptions::new().read(true).write(true).open(path)?)
}

fn append_inner(
    file: File,
    keys: &Keyring,
    record: &[u8],
    signer: Option<&SigningKey>,
    check: &dyn Fn(&Segments, &[u8]) -> Result<()>,
    fixed_nonce: Option<[u8; 16]>,
    policy: &Policy,
) -> Result<Appended> {
    file.lock()?;
    let ra = open_ra(&file, keys, policy)?;
    let segs = ra.segments().clone();
    if let Some(at) = segs.incomplete_at {
        return Err(torn(at));
    }
    crate::meta::check_segment_record(
        record,
        crate::Place::segment(segs.list.len() as u32, segs.end),
    )?;
    check(&segs, record)?;
    let number = segs.list.len() as u32;
    if number >= crate::format::segment::MAX_SEGMENTS {
        return Err(Error::new(ErrorKind::LimitExceeded {
            what: "annotation segments",
            found: number as u64 + 1,
            limit: crate::format::segment::MAX_SEGMENTS as u64,
            place: crate::Place::segment(number, segs.end),
        }));
    }
    let mut nonce = [0u8; 16];
    if let Some(n) = fixed_nonce {
        nonce = n;
    } else {
        getrandom::getrandom(&mut nonce).map_err(|e| {
            Error::new(ErrorKind::Io(std::io::Error::other(format!(
                "random generator failed: {e}"
            ))))
        })?;
    }
    let h = *ra.header_hash();
    let bytes = seal_segment(
        ra.segment_crypto(),
        &h,
        number,
        &segs.head,
        record,
        nonce,
        signer,
    )?;
    let mut f = &file;
    let file_len = f.seek(SeekFrom::End(0))?;
    if file_len != segs.end {
        return Err(Error::misuse(format!(
            "the file is {file_len} bytes but its last segment ends at {}",
            segs.end
        )));
    }
    let result = (|| -> Result<Appended> {
        f.write_all(&bytes)?;
        file.sync_data()?;
        // Read back what is now on disk and check it as a reader would.
        f.seek(SeekFrom::Start(segs.end))?;
        let mut back = Vec::with_capacity(bytes.len());
        (&file)
            .take(bytes.len() as u64 + 1)
            .read_to_end(&mut back)?;
        let again = read_segments(
            &mut &back[..],
            segs.end,
            ra.header().integrity,
            Some(ra.segment_crypto()),
            &h,
            number,
            &segs.head,
            &crate::Limits::default(),
            &crate::meta::check_segment_record,
        );
        match again {
            Ok(s) if s.list.len() == 1 && s.incomplete_at.is_none() && back == bytes => {
                Ok(Appended {
                    number,
                    offset: segs.end,
                    len: bytes.len() as u64,
                    head: s.head,
                })
            }
            Ok(_) => Err(Error::misuse(
                "the appended segment did not read back as written",
            )),
            Err(e) => Err(e),
        }
    })();
    if result.is_err() {
        // Never leave a partly written segment behind: cut back to the old length.
        let _ = file.set_len(segs.end);
        let _ = file.sync_data();
    }
    result
}

/// Cuts a torn last segment off the file at `path`, in place, under the lock, after
/// verifying everything before it with `keys`. Returns how many bytes were cut (0 when
/// the file ends with a complete segment or with END).
pub fn trim_incomplete(path: &Path, keys: &Keyring) -> Result<u64> {
    let file = open_rw(path)?;
    file.lock()?;
    let ra = open_ra(&file, keys, &Policy::default())?;
    let segs = ra.segments();
    let Some(at) = segs.incomplete_at else {
        return Ok(0);
    };
    let len = file.metadata()?.len();
    file.set_len(at)?;
    file.sync_data()?;
    Ok(len - at)
}

/// The segments of the file at `path`, verified with `keys`, by random access.
pub fn read(path: &Path, keys: &Keyring) -> Result<Segments> {
    let file = File::open(path)?;
    let ra = open_ra(&file, keys, &Policy::default())?;
    Ok(ra.segments().clone())
}
