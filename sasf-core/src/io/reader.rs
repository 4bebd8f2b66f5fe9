//! The streaming reader: [`Decoder::new`] reads the public header and the key section,
//! [`Decoder::open`] applies the caller's requirement, unwraps the data key and
//! authenticates the header and key section, and [`Reader`] yields authenticated
//! chunks in order. Every structural rule is the stream core's verifier; this module
//! only reads bytes, opens chunks (on several threads if asked) and hands them over.
//! Memory is bounded by the chunk-length cap and the metadata budget, whatever the
//! length of the stream; nothing is returned before it is authenticated.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::crypto::keyring::{check_keyless, unlock};
use crate::crypto::segment::SegmentCrypto;
use crate::crypto::sign::{check_signatures, require_trusted, SignatureCheck};
use crate::crypto::{chunk_digest, Context, Integrity, Key, Keyring, Suite, VerifyingKey};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::*;
use crate::io::pool::{batch_is_full, Ordered, Workers};
use crate::io::segments::{read_segments, Segments};
use crate::io::{Limits, Require};
use crate::meta::{Annotation, Event, Participant, RecordingInfo};
use crate::stream::verifier::{Checked, Verifier};

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
pub(crate) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A SASF stream whose public header and key section have been read but not yet
/// authenticated.
pub struct Decoder<R> {
    inner: R,
    header: Header,
    header_bytes: Vec<u8>,
    /// The key area, or why it is not well formed: judged only after the caller's
    /// requirement, which comes first (`docs/FORMAT.md` §12, step 3).
    keys: Result<KeyArea>,
    area_len: usize,
    h: [u8; 32],
    limits: Limits,
    threads: usize,
    require: Option<Require>,
    expect: Option<Context>,
    signers: Vec<VerifyingKey>,
}

impl<R: Read> Decoder<R> {
    /// Reads the public header with default [`Limits`].
    pub fn new(inner: R) -> Result<Decoder<R>> {
        Decoder::with_limits(inner, Limits::default())
    }

    /// Reads the public header and the key section with the given limits.
    pub fn with_limits(mut inner: R, limits: Limits) -> Result<Decoder<R>> {
        let trunc = |offset: u64| {
            Error::new(ErrorKind::Truncated {
                after_chunk: None,
                at_sample: 0,
                sample_rate: 0,
                offset,
            })
        };
        let mut fixed = [0u8; HEADER_FIXED_LEN];
        let n = read_full(&mut inner, &mut fixed[..10])?;
        if fixed[..n.min(8)] != MAGIC[..n.min(8)] || n == 0 {
            return Err(Error::new(ErrorKind::NotSasf));
        }
        if n < 10 {
            return Err(trunc(n as u64));
        }
        let version = u16::from_be_bytes([fixed[8], fixed[9]]);
        if version != VERSION {
            return Err(Error::new(ErrorKind::UnsupportedVersion { found: version }));
        }
        let n = read_full(&mut inner, &mut fixed[10..])?;
        if n < HEADER_FIXED_LEN - 10 {
            return Err(trunc((10 + n) as u64));
        }
        let (mut header, ext_len) = Header::parse_fixed(&fixed)?;
        if header.max_chunk_len > limits.max_chunk_len {
            return Err(Error::new(ErrorKind::LimitExceeded {
                what: "declared chunk-length cap",
                found: header.max_chunk_len as u64,
                limit: limits.max_chunk_len as u64,
                place: Place::header(18),
            }));
        }
        let mut rest = vec![0u8; ext_len + HEADER_TAG_LEN];
        let n = read_full(&mut inner, &mut rest)?;
        if n < rest.len() {
            return Err(trunc((HEADER_FIXED_LEN + n) as u64));
        }
        header.extensions = Header::parse_extensions(&rest[..ext_len])?;
        header.check_extensions()?;
        header.tag.copy_from_slice(&rest[ext_len..]);
        let mut header_bytes = fixed.to_vec();
        header_bytes.extend_from_slice(&rest);
        // The key area: its capacity is checked before anything is allocated.
        let at = header_bytes.len() as u64;
        let mut len = [0u8; AREA_FIXED_LEN];
        let n = read_full(&mut inner, &mut len)?;
        if n < AREA_FIXED_LEN {
            return Err(trunc(at + n as u64));
        }
        let q = u32::from_be_bytes(len);
        // Only the allocation limit is enforced here; a malformed area is judged
        // after the requirement.
        let declared = KeyArea::check_capacity(q, at);
        if let Err(e) = &declared {
            if e.class() == "limit-exceeded" {
                return Err(declared.unwrap_err());
            }
        }
        let q = if declared.is_ok() { q } else { 0 };
        let mut copies = vec![0u8; 2 * q as usize];
        let n = read_full(&mut inner, &mut copies)?;
        if n < copies.len() {
            return Err(trunc(at + AREA_FIXED_LEN as u64 + n as u64));
        }
        let h: [u8; 32] = Sha256::digest(&header_bytes).into();
        let keys = declared.and_then(|_| KeyArea::parse(&copies, header.integrity, at));
        let area_len = AREA_FIXED_LEN + copies.len();
        Ok(Decoder {
            inner,
            header,
            header_bytes,
            keys,
            area_len,
            h,
            limits,
            threads: 1,
            require: None,
            expect: None,
            signers: Vec::new(),
        })
    }

    /// Threads that open chunks (default 1: everything on the caller's thread). With
    /// more, the reader reads ahead (chunks up to 8 MiB of the cap's size, or two chunks
    /// when the file's cap is above 4 MiB, plus the one being read, and at most 4096
    /// chunks), handing them to the threads in batches, and chunks are verified in
    /// parallel; they are still released in order, each only once it is authentic,
    /// and errors are the same as with one thread.
    pub fn threads(mut self, n: usize) -> Decoder<R> {
        self.threads = n.max(1);
        self
    }

    /// What the file must be for [`Decoder::open`] to accept it. Default:
    /// [`Require::Authenticated`] when a key is given, [`Require::Any`] without one.
    pub fn require(mut self, r: Require) -> Decoder<R> {
        self.require = Some(r);
        self
    }

    /// The context the file must be bound to (`docs/FORMAT.md` §4.4): a file bound to
    /// another one, or to none, fails to open with `context-mismatch`.
    pub fn expect_context(mut self, c: Context) -> Decoder<R> {
        self.expect = Some(c);
        self
    }

    /// The signers the caller trusts: at the end chunk, the reader fails with
    /// `not-signed` unless one of them signed the file (`docs/FORMAT.md` §5.5).
    /// [`Require::Signed`] needs at least one.
    ///
    /// The verdict comes at the end: chunks are released as they authenticate, before
    /// it, so a consumer that must act only on signed content keeps what it received
    /// until the reader reaches the end without error.
    pub fn signers(mut self, signers: Vec<VerifyingKey>) -> Decoder<R> {
        self.signers = signers;
        self
    }

    /// The public header. Its fields are not authenticated until [`Decoder::open`].
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The key section in force (recipients and signatures), if the key area is well
    /// formed. Not authenticated until [`Decoder::open`].
    pub fn key_section(&self) -> Option<&KeySection> {
        self.keys.as_ref().ok().map(|a| &a.section)
    }

    /// The key area (its capacity and the state of both copies), or why it is not
    /// well formed.
    pub fn key_area(&self) -> std::result::Result<&KeyArea, &Error> {
        self.keys.as_ref()
    }

    /// The input positioned at chunk 0, with the header and key area, for a reader
    /// that does not open the file (an auditor's, `crate::access::audit`).
    pub(crate) fn into_unopened(self) -> (R, Header, [u8; 32], Result<KeyArea>, u64) {
        let base = self.stream_start();
        (self.inner, self.header, self.h, self.keys, base)
    }

    /// The key area, or why it is not well formed, consuming the decoder.
    pub fn into_key_area(self) -> Result<KeyArea> {
        self.keys
    }

    /// The header bytes as read.
    pub fn header_bytes(&self) -> &[u8] {
        &self.header_bytes
    }

    /// The header hash `H`.
    pub fn header_hash(&self) -> &[u8; 32] {
        &self.h
    }

    /// File offset of chunk 0.
    pub fn stream_start(&self) -> u64 {
        (self.header_bytes.len() + self.area_len) as u64
    }

    /// Applies the requirement, finds the key's recipient slot, checks the
    /// commitment, the header tag, the key-section tag and the expected context, then
    /// reads and authenticates the INFO chunk.
    ///
    /// `key` may be `None` for keyless files; with [`Require::Any`] it is ignored for
    /// them.
    pub fn open(self, key: Option<&Key>) -> Result<Reader<R>> {
        let ring = key
            .map(|k| Keyring::from_key(k.clone()))
            .unwrap_or_default();
        self.open_with(&ring)
    }

    /// As [`Decoder::open`], with every key and identity of `keyring`: the first
    /// recipient stanza one of them opens is used.
    pub fn open_with(mut self, keyring: &Keyring) -> Result<Reader<R>> {
        let level = self.header.integrity;
        let key = (!keyring.is_empty()).then_some(());
        let require = self.require.unwrap_or(Require::default_for(key.is_some()));
        let refuse = |required: Require| {
            Error::new(ErrorKind::NotProtected {
                level: level.name(),
                required: match required {
                    Require::Encrypted => "encrypted by the given key",
                    Require::Signed => "authenticated and signed by a trusted signer",
                    _ => "authenticated by the given key",
                },
            })
        };
        if require == Require::Signed && self.signers.is_empty() {
            return Err(Error::misuse(
                "requiring a signature needs the signers to trust",
            ));
        }
        match require {
            Require::Any => {}
            Require::Authenticated | Require::Signed if level == Integrity::Keyless => {
                return Err(refuse(require));
            }
            Require::Encrypted if level != Integrity::Encrypted => {
                return Err(refuse(require));
            }
            _ if key.is_none() => return Err(Error::new(ErrorKind::KeyRequired)),
            _ => {}
        }
        if level != Integrity::Keyless && key.is_none() {
            return Err(Error::new(ErrorKind::KeyRequired));
        }
        let area = std::mem::replace(
            &mut self.keys,
            Err(Error::new(ErrorKind::Misuse {
                reason: "the key area was taken".into(),
            })),
        )?;
        let h = self.h;
        let keys_at = self.header_bytes.len() as u64
            + (AREA_FIXED_LEN + area.active * area.capacity as usize) as u64;
        let section = area.section;
        let (suite, segment_crypto, context) = if level == Integrity::Keyless {
            check_keyless(&self.header, &self.header_bytes)?;
            (
                Suite::Keyless,
                SegmentCrypto::keyless(),
                self.header.keyless_context(),
            )
        } else {
            let u = unlock(
                &self.header,
                &self.header_bytes,
                &h,
                &section,
                keys_at,
                keyring,
            )?;
            (
                u.keys.suite,
                u.keys.segments,
                self.header.context_bound.then_some(u.context),
            )
        };
        if let Some(want) = &self.expect {
            match context {
                None => {
                    return Err(Error::new(ErrorKind::ContextMismatch {
                        reason: format!(
                            "the file is not bound to a context; {:?} was expected",
                            want.id
                        ),
                    }))
                }
                Some(c) if !bool::from(c.ct_eq(&want.digest())) => {
                    return Err(Error::new(ErrorKind::ContextMismatch {
                        reason: format!(
                            "the file is bound to another recording than {:?}",
                            want.id
                        ),
                    }))
                }
                _ => {}
            }
        }
        let base = self.stream_start();
        let verifier = Verifier::new(self.header.clone(), &h, self.limits, base, context);
        // Read-ahead is bounded in bytes: as many chunks of the cap as the pool would
        // keep in flight (at most 8 MiB, or two chunks above a 4 MiB cap).
        let max_bytes = crate::io::pool::max_inflight(self.header.max_chunk_len, self.threads)
            * (self.header.max_chunk_len as usize + level.tag_len());
        let mut r = Reader {
            inner: self.inner,
            read_offset: base,
            read_index: 0,
            par: (self.threads > 1).then(|| ReadPar {
                workers: Workers::new(self.threads),
                done: Ordered::new(),
                queue: VecDeque::new(),
                gathering: Vec::new(),
                gathered_bytes: 0,
                queued_bytes: 0,
                ready: None,
                next_seq: 0,
                free: Vec::new(),
                stopped: false,
                max_bytes,
            }),
            level,
            tag_len: level.tag_len(),
            h,
            suite: Arc::new(suite),
            verifier,
            context,
            keys: section,
            signers: std::mem::take(&mut self.signers),
            signatures: Vec::new(),
            buf: Vec::new(),
            current: None,
            checked: None,
            file_digest: None,
            segment_crypto,
            segments: None,
            failed: false,
        };
        r.advance()?;
        Ok(r)
    }
}

/// An authenticated chunk, as returned by [`Reader::next_chunk`].
#[derive(Debug, Clone, Copy)]
pub struct RawChunk<'a> {
    /// The chunk's index.
    pub index: u64,
    /// File offset of the chunk's prefix.
    pub offset: u64,
    /// Its type.
    pub chunk_type: ChunkType,
    /// Its timestamp (a position).
    pub timestamp: u64,
    /// Its payload (decrypted at level 3; for metadata, the padded form of §9.1).
    pub payload: &'a [u8],
    /// Its digest (`docs/FORMAT.md` §6.3).
    pub digest: [u8; 32],
}

/// An authenticated, validated item of the stream, as returned by [`Reader::next_item`].
#[derive(Debug)]
pub enum Item<'a> {
    /// Audio frames starting at `at_sample`, in the file's encoding.
    Audio {
        /// Position of the first frame.
        at_sample: u64,
        /// The samples.
        data: &'a [u8],
    },
    /// A participant declared at `at_sample`.
    Participant {
        /// Position.
        at_sample: u64,
        /// The participant.
        participant: Participant,
    },
    /// An event.
    Event(Event),
    /// An annotation.
    Annotation(Annotation),
    /// An index chunk (already checked against the chunks it describes).
    Index {
        /// Its fixed part.
        header: IndexHeader,
    },
    /// An ancillary chunk of a type this reader does not know, skipped.
    Skipped {
        /// Its type.
        chunk_type: ChunkType,
    },
    /// The end chunk: the stream is complete and every total checked.
    End(Totals),
}

/// Why reading stopped before a whole chunk could be read; turned into an error when
/// the reader reaches that point in order.
enum Stop {
    /// The input ended at file offset `at`.
    Eof {
        at: u64,
        /// The bytes of the partial prefix read before the end.
        got: Vec<u8>,
    },
    /// A prefix that is the start of an annotation segment (refused as a chunk): what
    /// it was read as, and its 12 bytes, which belong to the segments after END.
    Segment(Error, [u8; PREFIX_LEN]),
    Refused(Error),
    Io(io::Error),
}

/// What one worker (or the caller's thread) made of a fetched chunk.
struct Opened {
    buf: Vec<u8>,
    ok: bool,
    digest: [u8; 32],
}

/// Reads the chunk at `*offset`, checking only what can be checked before
/// authentication (the verifier's prefix rule). Never allocates more than the cap
/// plus a tag.
fn fetch<R: Read>(
    inner: &mut R,
    offset: &mut u64,
    index: &mut u64,
    check: impl Fn(&[u8; PREFIX_LEN], u64, u64) -> Result<usize>,
    tag_len: usize,
    mut buf: Vec<u8>,
) -> std::result::Result<([u8; PREFIX_LEN], Vec<u8>, usize), Stop> {
    let start = *offset;
    let mut prefix = [0u8; PREFIX_LEN];
    let n = read_full(inner, &mut prefix).map_err(Stop::Io)?;
    if n < PREFIX_LEN {
        return Err(Stop::Eof {
            at: start + n as u64,
            got: prefix[..n].to_vec(),
        });
    }
    let len = check(&prefix, *index, start).map_err(|e| {
        // A segment's magic read as a length is above every cap: never a chunk.
        if prefix[..4] == crate::format::segment::SEGMENT_MAGIC[..4] {
            Stop::Segment(e, prefix)
        } else {
            Stop::Refused(e)
        }
    })?;
    // Buffers are reused: resizing to the same length fills nothing.
    buf.resize(len + tag_len, 0);
    let n = read_full(inner, &mut buf).map_err(Stop::Io)?;
    if n < buf.len() {
        return Err(Stop::Eof {
            at: start + (PREFIX_LEN + n) as u64,
            got: Vec::new(),
        });
    }
    *offset = start + (PREFIX_LEN + len + tag_len) as u64;
    *index += 1;
    Ok((prefix, buf, len))
}

/// Opens a fetched chunk in place: digest over the stored bytes, then the tag.
fn open_chunk(
    suite: &Suite,
    level: Integrity,
    h: &[u8; 32],
    prefix: &[u8; PREFIX_LEN],
    mut buf: Vec<u8>,
    len: usize,
) -> Opened {
    let (body, tag) = buf.split_at_mut(len);
    let digest = chunk_digest(level, prefix, body, tag);
    let ok = suite.open(h, prefix, body, tag);
    Opened { buf, ok, digest }
}

enum Queued {
    /// A chunk of body length `len`, opened as part of batch `seq`.
    Job {
        seq: u64,
        len: usize,
    },
    Stopped(Stop),
}

/// Most chunks read ahead, whatever their size.
const MAX_QUEUED: usize = 4096;

/// The read-ahead state of a [`Reader`] with more than one thread.
struct ReadPar {
    workers: Workers,
    done: Ordered<Vec<Opened>>,
    queue: VecDeque<Queued>,
    /// Fetched chunks not yet handed to a worker: prefix, buffer, body length.
    gathering: Vec<([u8; PREFIX_LEN], Vec<u8>, usize)>,
    gathered_bytes: usize,
    /// Bytes of the chunks read ahead and not yet released.
    queued_bytes: usize,
    /// The opened chunks of the batch being released.
    ready: Option<(u64, VecDeque<Opened>)>,
    next_seq: u64,
    free: Vec<Vec<u8>>,
    stopped: bool,
    max_bytes: usize,
}

impl ReadPar {
    /// Hands the gathered chunks to a worker as one batch.
    fn dispatch(&mut self, suite: &Arc<Suite>, level: Integrity, h: [u8; 32]) {
        if self.gathering.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.gathering);
        let (bytes, chunks) = (self.gathered_bytes, batch.len());
        self.gathered_bytes = 0;
        let reply = self.done.reply(self.next_seq);
        self.next_seq += 1;
        let suite = Arc::clone(suite);
        let job = move || {
            let opened = batch
                .into_iter()
                .map(|(prefix, buf, len)| open_chunk(&suite, level, &h, &prefix, buf, len))
                .collect();
            reply.send(opened);
        };
        self.workers.run_batch(bytes, chunks, job);
    }
}

#[derive(Clone, Copy)]
struct Current {
    index: u64,
    offset: u64,
    chunk_type: ChunkType,
    timestamp: u64,
    len: usize,
    digest: [u8; 32],
}

/// An opened SASF stream yielding authenticated chunks in order.
pub struct Reader<R> {
    inner: R,
    /// Where the next chunk will be read from (ahead when reading ahead).
    read_offset: u64,
    read_index: u64,
    par: Option<ReadPar>,
    level: Integrity,
    tag_len: usize,
    h: [u8; 32],
    suite: Arc<Suite>,
    verifier: Verifier,
    context: Option<[u8; 32]>,
    keys: KeySection,
    signers: Vec<VerifyingKey>,
    signatures: Vec<SignatureCheck>,
    buf: Vec<u8>,
    current: Option<Current>,
    checked: Option<Checked>,
    file_digest: Option<[u8; 32]>,
    segment_crypto: SegmentCrypto,
    segments: Option<Segments>,
    failed: bool,
}

impl<R: Read> Reader<R> {
    /// The authenticated header.
    pub fn header(&self) -> &Header {
        self.verifier.header()
    }
    /// The authenticated key section.
    pub fn key_section(&self) -> &KeySection {
        &self.keys
    }
    /// The recording information from the INFO chunk.
    pub fn info(&self) -> &RecordingInfo {
        self.verifier.info()
    }
    /// The header hash `H`.
    pub fn header_hash(&self) -> &[u8; 32] {
        &self.h
    }
    /// The context digest, when the file is context bound.
    pub fn context_digest(&self) -> Option<&[u8; 32]> {
        self.context.as_ref()
    }
    /// Audio frames authenticated so far.
    pub fn samples(&self) -> u64 {
        self.verifier.samples()
    }
    /// File offset after the last chunk authenticated.
    pub fn offset(&self) -> u64 {
        self.verifier.file_offset()
    }
    /// Chunks authenticated so far.
    pub fn chunks(&self) -> u64 {
        self.verifier.next_index()
    }
    /// The totals, once the end chunk has been read and checked.
    pub fn totals(&self) -> Option<&Totals> {
        self.verifier.totals()
    }
    /// Why a recovered file was recovered: the value of its `sasf.recovered` event
    /// (where the original stopped, and the error that stopped it), once read.
    pub fn recovered_reason(&self) -> Option<&serde_json::Value> {
        self.verifier.recovered_value()
    }
    /// The verdict on each signature stanza, once the end chunk has been checked.
    pub fn signatures(&self) -> &[SignatureCheck] {
        &self.signatures
    }
    /// The annotation segments after the END chunk (`docs/FORMAT.md` §21), once the end
    /// chunk has been checked: every complete one authenticated and chained, and where
    /// a cut-off last one starts, if any.
    pub fn segments(&self) -> Option<&Segments> {
        self.segments.as_ref()
    }
    /// The file digest (`docs/FORMAT.md` §11), once the end chunk has been checked.
    pub fn file_digest(&self) -> Option<&[u8; 32]> {
        self.file_digest.as_ref()
    }

    /// The next authenticated chunk, `Ok(None)` after the end chunk. After an error
    /// the reader stays failed.
    pub fn next_chunk(&mut self) -> Result<Option<RawChunk<'_>>> {
        if self.verifier.totals().is_some() && !self.failed {
            return Ok(None);
        }
        let c = self.advance()?;
        Ok(Some(RawChunk {
            index: c.index,
            offset: c.offset,
            chunk_type: c.chunk_type,
            timestamp: c.timestamp,
            payload: &self.buf[BODY_HEADER_LEN..c.len],
            digest: c.digest,
        }))
    }

    /// The next authenticated item, `Ok(None)` after the end chunk.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>> {
        if self.verifier.totals().is_some() && !self.failed {
            return Ok(None);
        }
        let c = self.advance()?;
        let item = match self.checked.take() {
            Some(Checked::Audio) => Item::Audio {
                at_sample: c.timestamp,
                data: &self.buf[BODY_HEADER_LEN..c.len],
            },
            Some(Checked::End(t)) => Item::End(t),
            Some(Checked::Participant(p)) => Item::Participant {
                at_sample: c.timestamp,
                participant: p,
            },
            Some(Checked::Event(e)) => Item::Event(e),
            Some(Checked::Annotation(a)) => Item::Annotation(a),
            Some(Checked::Index(h)) => Item::Index { header: h },
            Some(Checked::Info) | Some(Checked::Skipped) | None => Item::Skipped {
                chunk_type: c.chunk_type,
            },
        };
        Ok(Some(item))
    }

    /// Reads and checks the rest of the stream, discarding it; returns the totals.
    pub fn verify_to_end(&mut self) -> Result<Totals> {
        while self.next_chunk()?.is_some() {}
        Ok(*self.verifier.totals().expect("the end chunk was read"))
    }

    fn advance(&mut self) -> Result<Current> {
        if self.failed {
            return Err(Error::misuse(
                "the reader failed earlier and cannot be used",
            ));
        }
        let r = self.advance_inner();
        if r.is_err() {
            self.failed = true;
            self.buf.clear();
        }
        r
    }

    /// Reads ahead until enough bytes are in flight or reading stopped, handing the
    /// chunks to the workers in batches.
    fn fill_ahead(&mut self) {
        let Some(par) = &mut self.par else { return };
        while !par.stopped && par.queued_bytes < par.max_bytes && par.queue.len() < MAX_QUEUED {
            let buf = par.free.pop().unwrap_or_default();
            let (off, idx) = (&mut self.read_offset, &mut self.read_index);
            let v = &self.verifier;
            let check = |p: &[u8; PREFIX_LEN], i: u64, at: u64| v.check_prefix_at(p, i, at);
            match fetch(&mut self.inner, off, idx, check, self.tag_len, buf) {
                Ok((prefix, buf, len)) => {
                    par.queue.push_back(Queued::Job {
                        seq: par.next_seq,
                        len,
                    });
                    par.queued_bytes += len + self.tag_len;
                    par.gathered_bytes += len;
                    par.gathering.push((prefix, buf, len));
                    if batch_is_full(par.gathered_bytes, par.gathering.len()) {
                        par.dispatch(&self.suite, self.level, self.h);
                    }
                }
                Err(stop) => {
                    par.queue.push_back(Queued::Stopped(stop));
                    par.stopped = true;
                }
            }
        }
        // Whatever is gathered goes now: the caller is about to wait for it.
        par.dispatch(&self.suite, self.level, self.h);
    }

    fn stop_error(&self, stop: Stop) -> Error {
        match stop {
            Stop::Eof { at, .. } => self.verifier.truncated(at),
            Stop::Refused(e) | Stop::Segment(e, _) => e,
            Stop::Io(e) => e.into(),
        }
    }

    /// The bytes after the END chunk that reading ahead already took from the input,
    /// or why what follows END cannot be annotation segments.
    fn tail_after_end(&mut self) -> Result<Vec<u8>> {
        let trailing = |v: &Verifier| {
            Error::new(ErrorKind::TrailingData {
                offset: v.file_offset(),
            })
        };
        let Some(par) = &mut self.par else {
            return Ok(Vec::new());
        };
        match par.queue.pop_front() {
            // Read ahead: an I/O error there is reported as such, as one thread would.
            Some(Queued::Stopped(Stop::Io(e))) => Err(e.into()),
            // The input ended: what read-ahead took of it is the tail, unless it took
            // more than it kept (a chunk prefix that passed the checks, then a cut
            // body): a chunk after END is trailing data, never a segment.
            Some(Queued::Stopped(Stop::Eof { at, got })) => {
                if at == self.verifier.file_offset() + got.len() as u64 {
                    Ok(got)
                } else {
                    Err(trailing(&self.verifier))
                }
            }
            Some(Queued::Stopped(Stop::Segment(_, prefix))) => Ok(prefix.to_vec()),
            Some(_) => Err(trailing(&self.verifier)),
            None => Ok(Vec::new()),
        }
    }

    fn advance_inner(&mut self) -> Result<Current> {
        self.checked = None;
        let start = self.verifier.file_offset();
        let index = self.verifier.next_index();
        let place = Place::chunk(index, start);
        let (len, opened) = if self.par.is_some() {
            self.fill_ahead();
            let par = self.par.as_mut().expect("checked");
            match par.queue.pop_front().expect("fill_ahead leaves an entry") {
                Queued::Job { seq, len } => {
                    if par.ready.as_ref().is_none_or(|(s, _)| *s != seq) {
                        par.ready = Some((seq, par.done.wait(seq).into()));
                    }
                    let (_, batch) = par.ready.as_mut().expect("just set");
                    let opened = batch.pop_front().expect("one opened chunk per job");
                    par.queued_bytes -= len + self.tag_len;
                    (len, opened)
                }
                Queued::Stopped(stop) => return Err(self.stop_error(stop)),
            }
        } else {
            let buf = std::mem::take(&mut self.buf);
            let (off, idx) = (&mut self.read_offset, &mut self.read_index);
            let v = &self.verifier;
            let check = |p: &[u8; PREFIX_LEN], i: u64, at: u64| v.check_prefix_at(p, i, at);
            match fetch(&mut self.inner, off, idx, check, self.tag_len, buf) {
                Ok((prefix, buf, len)) => (
                    len,
                    open_chunk(&self.suite, self.level, &self.h, &prefix, buf, len),
                ),
                Err(stop) => return Err(self.stop_error(stop)),
            }
        };
        let Opened { buf, ok, digest } = opened;
        let old = std::mem::replace(&mut self.buf, buf);
        if let Some(par) = &mut self.par {
            // A buffer grown for an unusually large chunk (an index chunk among tiny
            // audio chunks) is not kept around for small ones.
            if old.capacity() <= 4 * old.len().max(4096) && par.free.len() < MAX_QUEUED {
                par.free.push(old);
            }
        }
        if !ok {
            return Err(Error::new(ErrorKind::AuthFailed { place }));
        }
        let body = &self.buf[..len];
        let c = Current {
            index,
            offset: start,
            chunk_type: ChunkType([body[0], body[1], body[2], body[3]]),
            timestamp: u64::from_be_bytes(body[4..12].try_into().expect("8 bytes")),
            len,
            digest,
        };
        let checked = self.verifier.accept(body, &digest)?;
        if let Checked::End(t) = &checked {
            let fd = crate::crypto::file_digest(&t.manifest, &digest);
            let tail = self.tail_after_end()?;
            let segments = read_segments(
                &mut io::Cursor::new(tail).chain(&mut self.inner),
                self.verifier.file_offset(),
                self.level,
                Some(&self.segment_crypto),
                &self.h,
                0,
                &fd,
                self.verifier.limits(),
                &crate::meta::check_segment_record,
            )?;
            self.segments = Some(segments);
            self.file_digest = Some(fd);
            self.signatures = check_signatures(&self.keys, &self.h, &fd, &self.signers);
            if !self.signers.is_empty() {
                require_trusted(&self.signatures, &self.signers)?;
            }
        }
        self.current = Some(c);
        self.checked = Some(checked);
        Ok(c)
    }
}

/// What an opened reader knows, handed to the random-access reader.
pub(crate) struct OpenParts<R> {
    pub inner: R,
    pub header: Header,
    pub h: [u8; 32],
    pub suite: Arc<Suite>,
    pub limits: Limits,
    pub info: RecordingInfo,
    pub base: u64,
    pub context: Option<[u8; 32]>,
    pub keys: KeySection,
    pub signers: Vec<VerifyingKey>,
    pub segment_crypto: SegmentCrypto,
}

impl<R: Read> Reader<R> {
    /// Gives up streaming and returns what random access needs.
    pub(crate) fn into_parts(self) -> OpenParts<R> {
        OpenParts {
            header: self.verifier.header().clone(),
            limits: *self.verifier.limits(),
            info: self.verifier.info().clone(),
            base: self.verifier.base(),
            inner: self.inner,
            h: self.h,
            suite: self.suite,
            context: self.context,
            keys: self.keys,
            signers: self.signers,
            segment_crypto: self.segment_crypto,
        }
    }
}
