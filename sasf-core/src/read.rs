//! The streaming reader: [`Decoder::new`] reads the public header, [`Decoder::open`]
//! checks the key and authenticates the header, and [`Reader`] yields authenticated
//! chunks in order. Memory is bounded by the chunk-length cap, whatever the length of
//! the stream; nothing is returned before it is authenticated.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Read};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::crypto::{
    keyless_header_tag, tags_equal, FileKeys, Integrity, Key, Suite, MANIFEST_LABEL,
};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::*;
use crate::meta::{self, Annotation, Event, Participant, RecordingInfo};
use crate::pool::{Ordered, Workers};

/// Limits a reader enforces against hostile input. Every length read from a file is
/// checked against these before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest chunk body accepted (and so the largest single buffer allocated; see
    /// [`Decoder::threads`] for read-ahead); at most [`MAX_CHUNK_LEN`]. A header declaring
    /// a larger cap is refused.
    pub max_chunk_len: u32,
    /// Largest JSON payload accepted in a metadata chunk.
    pub max_json_len: usize,
    /// Deepest JSON nesting accepted in a metadata chunk.
    pub max_json_depth: usize,
    /// Most participants a stream may declare.
    pub max_participants: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_chunk_len: MAX_CHUNK_LEN,
            max_json_len: meta::DEFAULT_MAX_JSON_LEN,
            max_json_depth: meta::DEFAULT_MAX_JSON_DEPTH,
            max_participants: 10_000,
        }
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
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

/// A SASF stream whose public header has been read but not yet authenticated.
pub struct Decoder<R> {
    inner: R,
    header: Header,
    header_bytes: Vec<u8>,
    limits: Limits,
    threads: usize,
}

impl<R: Read> Decoder<R> {
    /// Reads the public header with default [`Limits`].
    pub fn new(inner: R) -> Result<Decoder<R>> {
        Decoder::with_limits(inner, Limits::default())
    }

    /// Reads the public header with the given limits.
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
        header.tag.copy_from_slice(&rest[ext_len..]);
        let mut header_bytes = fixed.to_vec();
        header_bytes.extend_from_slice(&rest);
        Ok(Decoder {
            inner,
            header,
            header_bytes,
            limits,
            threads: 1,
        })
    }

    /// Threads that open chunks (default 1: everything on the caller's thread). With
    /// more, the reader reads ahead (at most 32 chunks, and within 8 MiB of buffers, or
    /// two chunks when the file's cap is above 4 MiB) and chunks are verified in
    /// parallel; they are still released in order, each only once it is authentic,
    /// and errors are the same as with one thread.
    pub fn threads(mut self, n: usize) -> Decoder<R> {
        self.threads = n.max(1);
        self
    }

    /// The public header. Its fields are not authenticated until [`Decoder::open`].
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Checks the key against the commitment (reporting a wrong key as such), verifies
    /// the header tag, then reads and authenticates the INFO chunk.
    ///
    /// `key` may be `None` for keyless files; it is ignored for them.
    pub fn open(self, key: Option<&Key>) -> Result<Reader<R>> {
        let level = self.header.integrity;
        let unsigned_len = self.header_bytes.len() - HEADER_TAG_LEN;
        let unsigned = &self.header_bytes[..unsigned_len];
        let header_auth = || {
            Error::new(ErrorKind::AuthFailed {
                place: Place::header(unsigned_len as u64),
            })
        };
        let suite = if level == Integrity::Keyless {
            if !tags_equal(&keyless_header_tag(unsigned), &self.header.tag) {
                return Err(header_auth());
            }
            Suite::Keyless
        } else {
            let key = key.ok_or_else(|| Error::new(ErrorKind::KeyRequired))?;
            let keys = FileKeys::derive(level, key, &self.header.salt);
            if !keys.commitment_matches(&self.header.commitment) {
                return Err(Error::new(ErrorKind::WrongKey));
            }
            if !tags_equal(&keys.header_tag(unsigned), &self.header.tag) {
                return Err(header_auth());
            }
            keys.suite
        };
        let h: [u8; 32] = Sha256::digest(&self.header_bytes).into();
        let mut manifest = Sha256::new();
        manifest.update(MANIFEST_LABEL);
        let max_inflight = crate::pool::max_inflight(self.header.max_chunk_len, self.threads);
        let mut r = Reader {
            inner: self.inner,
            read_offset: self.header_bytes.len() as u64,
            read_index: 0,
            par: (self.threads > 1).then(|| ReadPar {
                workers: Workers::new(self.threads),
                done: Ordered::new(),
                queue: VecDeque::new(),
                next_seq: 0,
                free: Vec::new(),
                stopped: false,
                max_inflight,
            }),
            offset: self.header_bytes.len() as u64,
            tag_len: level.tag_len(),
            block_align: self.header.format.block_align(),
            header: self.header,
            h,
            suite: Arc::new(suite),
            limits: self.limits,
            next_index: 0,
            samples: 0,
            audio_bytes: 0,
            manifest,
            idx_hasher: Sha256::new(),
            idx_count: 0,
            idx_first: 0,
            last_index_offset: NO_OFFSET,
            participants: HashSet::new(),
            info: RecordingInfo::default(),
            buf: Vec::new(),
            current: None,
            parsed: None,
            totals: None,
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
    /// Byte offset of the chunk's prefix.
    pub offset: u64,
    /// Its type.
    pub chunk_type: ChunkType,
    /// Its timestamp (sample position).
    pub timestamp: u64,
    /// Its payload (decrypted at level 3).
    pub payload: &'a [u8],
}

/// An authenticated, validated item of the stream, as returned by [`Reader::next_item`].
#[derive(Debug)]
pub enum Item<'a> {
    /// Audio frames starting at `at_sample`, in the file's encoding.
    Audio {
        /// Sample position of the first frame.
        at_sample: u64,
        /// The samples.
        data: &'a [u8],
    },
    /// A participant declared at `at_sample`.
    Participant {
        /// Sample position.
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

enum Parsed {
    Participant(Participant),
    Event(Event),
    Annotation(Annotation),
    Index(IndexHeader),
}

/// Why reading stopped before a whole chunk could be read; turned into an error when
/// the reader reaches that point in order.
enum Stop {
    /// The input ended at byte `at`; `clean` if exactly on a chunk boundary.
    Eof {
        at: u64,
        clean: bool,
    },
    TooShort(u32),
    TooLong(u32),
    WrongIndex,
    Io(io::Error),
}

/// A chunk read from the input and not yet authenticated, or why there is none.
enum Fetched {
    Chunk {
        prefix: [u8; PREFIX_LEN],
        buf: Vec<u8>,
        len: usize,
    },
    Stop(Stop),
}

/// Reads the chunk at `*offset`, checking only what can be checked before
/// authentication (length against the cap, index against `*index`). Never allocates
/// more than the cap plus a tag.
fn fetch<R: Read>(
    inner: &mut R,
    offset: &mut u64,
    index: &mut u64,
    cap: u32,
    tag_len: usize,
    mut buf: Vec<u8>,
) -> Fetched {
    let start = *offset;
    let mut prefix = [0u8; PREFIX_LEN];
    let n = match read_full(inner, &mut prefix) {
        Ok(n) => n,
        Err(e) => return Fetched::Stop(Stop::Io(e)),
    };
    if n < PREFIX_LEN {
        return Fetched::Stop(Stop::Eof {
            at: start + n as u64,
            clean: n == 0,
        });
    }
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let stored_index = u64::from_be_bytes(prefix[4..12].try_into().expect("8 bytes"));
    if len < BODY_HEADER_LEN as u32 {
        return Fetched::Stop(Stop::TooShort(len));
    }
    if len > cap {
        return Fetched::Stop(Stop::TooLong(len));
    }
    if stored_index != *index {
        return Fetched::Stop(Stop::WrongIndex);
    }
    let len = len as usize;
    // Buffers are reused: resizing to the same length fills nothing.
    buf.resize(len + tag_len, 0);
    let n = match read_full(inner, &mut buf) {
        Ok(n) => n,
        Err(e) => return Fetched::Stop(Stop::Io(e)),
    };
    if n < buf.len() {
        return Fetched::Stop(Stop::Eof {
            at: start + (PREFIX_LEN + n) as u64,
            clean: false,
        });
    }
    *offset = start + (PREFIX_LEN + len + tag_len) as u64;
    *index += 1;
    Fetched::Chunk { prefix, buf, len }
}

enum Queued {
    Job {
        seq: u64,
        prefix: [u8; PREFIX_LEN],
        len: usize,
    },
    Stopped(Stop),
}

/// The read-ahead state of a [`Reader`] with more than one thread.
struct ReadPar {
    workers: Workers,
    done: Ordered<(Vec<u8>, bool)>,
    queue: VecDeque<Queued>,
    next_seq: u64,
    free: Vec<Vec<u8>>,
    stopped: bool,
    max_inflight: usize,
}

#[derive(Clone, Copy)]
struct Current {
    index: u64,
    offset: u64,
    chunk_type: ChunkType,
    timestamp: u64,
    len: usize,
}

/// An opened SASF stream yielding authenticated chunks in order.
pub struct Reader<R> {
    inner: R,
    /// Where the next chunk will be read from (ahead of `offset` when reading ahead).
    read_offset: u64,
    read_index: u64,
    par: Option<ReadPar>,
    offset: u64,
    tag_len: usize,
    block_align: usize,
    header: Header,
    h: [u8; 32],
    suite: Arc<Suite>,
    limits: Limits,
    next_index: u64,
    samples: u64,
    audio_bytes: u64,
    manifest: Sha256,
    idx_hasher: Sha256,
    idx_count: u64,
    idx_first: u64,
    last_index_offset: u64,
    participants: HashSet<String>,
    info: RecordingInfo,
    buf: Vec<u8>,
    current: Option<Current>,
    parsed: Option<Parsed>,
    totals: Option<Totals>,
    failed: bool,
}

impl<R: Read> Reader<R> {
    /// The authenticated header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The recording information from the INFO chunk.
    pub fn info(&self) -> &RecordingInfo {
        &self.info
    }
    /// Audio frames authenticated so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }
    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// Chunks authenticated so far.
    pub fn chunks(&self) -> u64 {
        self.next_index
    }
    /// The totals, once the end chunk has been read and checked.
    pub fn totals(&self) -> Option<&Totals> {
        self.totals.as_ref()
    }

    /// The next authenticated chunk, `Ok(None)` after the end chunk. After an error
    /// the reader stays failed.
    pub fn next_chunk(&mut self) -> Result<Option<RawChunk<'_>>> {
        if self.totals.is_some() {
            return Ok(None);
        }
        let c = self.advance()?;
        Ok(Some(RawChunk {
            index: c.index,
            offset: c.offset,
            chunk_type: c.chunk_type,
            timestamp: c.timestamp,
            payload: &self.buf[BODY_HEADER_LEN..c.len],
        }))
    }

    /// The next authenticated item, `Ok(None)` after the end chunk.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>> {
        if self.totals.is_some() {
            return Ok(None);
        }
        let c = self.advance()?;
        let item = match (c.chunk_type, self.parsed.take()) {
            (ChunkType::AUDIO, _) => Item::Audio {
                at_sample: c.timestamp,
                data: &self.buf[BODY_HEADER_LEN..c.len],
            },
            (ChunkType::END, _) => Item::End(self.totals.expect("set by the end chunk")),
            (_, Some(Parsed::Participant(p))) => Item::Participant {
                at_sample: c.timestamp,
                participant: p,
            },
            (_, Some(Parsed::Event(e))) => Item::Event(e),
            (_, Some(Parsed::Annotation(a))) => Item::Annotation(a),
            (_, Some(Parsed::Index(h))) => Item::Index { header: h },
            (t, None) => Item::Skipped { chunk_type: t },
        };
        Ok(Some(item))
    }

    /// Reads and checks the rest of the stream, discarding it; returns the totals.
    pub fn verify_to_end(&mut self) -> Result<Totals> {
        while self.next_chunk()?.is_some() {}
        Ok(*self.totals.as_ref().expect("the end chunk was read"))
    }

    fn place(&self, c: Option<&Current>) -> Place {
        match c {
            Some(c) => Place::chunk(c.index, c.offset),
            None => Place::chunk(self.next_index, self.offset),
        }
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

    fn truncated(&self, at: u64) -> Error {
        Error::new(ErrorKind::Truncated {
            after_chunk: self.next_index.checked_sub(1),
            at_sample: self.samples,
            sample_rate: self.header.format.sample_rate,
            offset: at,
        })
    }

    /// Reads ahead until enough chunks are in flight or reading stopped.
    fn fill_ahead(&mut self) {
        let Some(par) = &mut self.par else { return };
        while !par.stopped && par.queue.len() < par.max_inflight {
            let buf = par.free.pop().unwrap_or_default();
            let cap = self.header.max_chunk_len;
            let (off, idx) = (&mut self.read_offset, &mut self.read_index);
            match fetch(&mut self.inner, off, idx, cap, self.tag_len, buf) {
                Fetched::Chunk {
                    prefix,
                    mut buf,
                    len,
                } => {
                    let (suite, h) = (Arc::clone(&self.suite), self.h);
                    let seq = par.next_seq;
                    let reply = par.done.reply(seq);
                    par.next_seq += 1;
                    par.workers.run(move || {
                        let (body, tag) = buf.split_at_mut(len);
                        let ok = suite.open(&h, &prefix, body, tag);
                        reply.send((buf, ok));
                    });
                    par.queue.push_back(Queued::Job { seq, prefix, len });
                }
                Fetched::Stop(stop) => {
                    par.queue.push_back(Queued::Stopped(stop));
                    par.stopped = true;
                }
            }
        }
    }

    fn stop_error(&self, start: u64, stop: Stop) -> Error {
        let place = Place::chunk(self.next_index, start);
        match stop {
            Stop::Eof { at, .. } => self.truncated(at),
            Stop::TooShort(len) => Error::malformed(
                format!("chunk body length {len} is below the minimum of 12"),
                place,
            ),
            Stop::TooLong(len) => Error::new(ErrorKind::LimitExceeded {
                what: "chunk body length",
                found: len as u64,
                limit: self.header.max_chunk_len as u64,
                place,
            }),
            // A dropped, duplicated or reordered chunk: it is not authentic here.
            Stop::WrongIndex => Error::new(ErrorKind::AuthFailed { place }),
            Stop::Io(e) => e.into(),
        }
    }

    /// Whether the input ends right here (after the END chunk).
    fn input_ends_here(&mut self) -> Result<bool> {
        if let Some(par) = &mut self.par {
            match par.queue.pop_front() {
                // Read ahead: an I/O error there is reported as such, as one thread would.
                Some(Queued::Stopped(Stop::Io(e))) => return Err(e.into()),
                Some(front) => {
                    return Ok(matches!(
                        front,
                        Queued::Stopped(Stop::Eof { clean: true, .. })
                    ))
                }
                None => {}
            }
        }
        let mut probe = [0u8; 1];
        Ok(read_full(&mut self.inner, &mut probe)? == 0)
    }

    fn advance_inner(&mut self) -> Result<Current> {
        self.parsed = None;
        let start = self.offset;
        let index = self.next_index;
        let place = Place::chunk(index, start);
        let (_prefix, len, ok) = if self.par.is_some() {
            self.fill_ahead();
            let par = self.par.as_mut().expect("checked");
            match par.queue.pop_front().expect("fill_ahead leaves an entry") {
                Queued::Job { seq, prefix, len } => {
                    let (buf, ok) = par.done.wait(seq);
                    let old = std::mem::replace(&mut self.buf, buf);
                    par.free.push(old);
                    (prefix, len, ok)
                }
                Queued::Stopped(stop) => return Err(self.stop_error(start, stop)),
            }
        } else {
            let cap = self.header.max_chunk_len;
            let buf = std::mem::take(&mut self.buf);
            let (off, idx) = (&mut self.read_offset, &mut self.read_index);
            match fetch(&mut self.inner, off, idx, cap, self.tag_len, buf) {
                Fetched::Chunk {
                    prefix,
                    mut buf,
                    len,
                } => {
                    let (body, tag) = buf.split_at_mut(len);
                    let ok = self.suite.open(&self.h, &prefix, body, tag);
                    self.buf = buf;
                    (prefix, len, ok)
                }
                Fetched::Stop(stop) => return Err(self.stop_error(start, stop)),
            }
        };
        if !ok {
            return Err(Error::new(ErrorKind::AuthFailed { place }));
        }
        let (body, tag) = self.buf.split_at(len);
        let mut tag_copy = [0u8; 32];
        tag_copy[..self.tag_len].copy_from_slice(tag);
        let c = Current {
            index,
            offset: start,
            chunk_type: ChunkType([body[0], body[1], body[2], body[3]]),
            timestamp: u64::from_be_bytes(body[4..12].try_into().expect("8 bytes")),
            len,
        };
        self.offset = start + (PREFIX_LEN + len + self.tag_len) as u64;
        self.next_index += 1;
        self.current = Some(c);
        self.check_structure(&c)?;
        if c.chunk_type != ChunkType::END {
            self.manifest.update(&tag_copy[..self.tag_len]);
        }
        Ok(c)
    }

    /// The format's structural rules for an authenticated chunk.
    fn check_structure(&mut self, c: &Current) -> Result<()> {
        let place = self.place(Some(c));
        let payload_len = c.len - BODY_HEADER_LEN;
        if (c.index == 0) != (c.chunk_type == ChunkType::INFO) {
            return Err(Error::malformed(
                if c.index == 0 {
                    "the first chunk is not an INFO chunk"
                } else {
                    "an INFO chunk after chunk 0"
                },
                place,
            ));
        }
        if c.timestamp != self.samples {
            return Err(Error::malformed(
                format!(
                    "timestamp {} but the audio before this chunk ends at sample {}",
                    c.timestamp, self.samples
                ),
                place,
            ));
        }
        let is_index_or_end = c.chunk_type == ChunkType::INDEX || c.chunk_type == ChunkType::END;
        if !is_index_or_end {
            let e = IndexEntry {
                chunk_type: c.chunk_type,
                offset: c.offset,
                timestamp: c.timestamp,
            };
            self.idx_hasher.update(e.to_bytes());
            self.idx_count += 1;
        }
        match c.chunk_type {
            ChunkType::AUDIO => {
                if payload_len == 0 || payload_len % self.block_align != 0 {
                    return Err(Error::malformed(
                        format!("audio payload of {payload_len} bytes is not a positive whole number of {}-byte frames", self.block_align),
                        place,
                    ));
                }
                self.samples += (payload_len / self.block_align) as u64;
                self.audio_bytes += payload_len as u64;
            }
            ChunkType::INFO | ChunkType::PARTICIPANT | ChunkType::EVENT | ChunkType::ANNOTATION => {
                self.parse_metadata(c, place)?;
            }
            ChunkType::INDEX => {
                let payload = &self.buf[BODY_HEADER_LEN..c.len];
                let h = IndexHeader::parse(payload).ok_or_else(|| {
                    Error::malformed("index payload length does not match its entry count", place)
                })?;
                let expect: [u8; 32] = std::mem::take(&mut self.idx_hasher).finalize().into();
                let got: [u8; 32] = Sha256::digest(&payload[INDEX_HEADER_LEN..]).into();
                if h.prev_index_offset != self.last_index_offset
                    || h.first_chunk != self.idx_first
                    || h.count as u64 != self.idx_count
                    || got != expect
                {
                    return Err(Error::malformed(
                        "the index does not match the chunks it describes",
                        place,
                    ));
                }
                self.last_index_offset = c.offset;
                self.idx_first = c.index + 1;
                self.idx_count = 0;
                self.parsed = Some(Parsed::Index(h));
            }
            ChunkType::END => {
                let t =
                    Totals::from_payload(&self.buf[BODY_HEADER_LEN..c.len]).ok_or_else(|| {
                        Error::malformed(
                            "end payload is not 80 bytes with zero reserved bytes",
                            place,
                        )
                    })?;
                let manifest: [u8; 32] = std::mem::take(&mut self.manifest).finalize().into();
                let bad = |what: &str| {
                    Error::malformed(format!("end chunk {what} does not match the stream"), place)
                };
                if self.idx_count != 0 {
                    return Err(Error::malformed(
                        "the chunks before the end chunk are not all described by an index chunk",
                        place,
                    ));
                }
                if t.chunks != c.index {
                    return Err(bad("chunk count"));
                }
                if t.samples != self.samples {
                    return Err(bad("sample total"));
                }
                if t.audio_bytes != self.audio_bytes {
                    return Err(bad("audio byte total"));
                }
                if t.stream_bytes != c.offset {
                    return Err(bad("stream byte total"));
                }
                if t.last_index_offset != self.last_index_offset {
                    return Err(bad("last index offset"));
                }
                if t.manifest != manifest {
                    return Err(bad("manifest digest"));
                }
                if t.flags & !END_FLAG_RECOVERED != 0 {
                    return Err(Error::malformed(
                        format!("unknown end flags {:#x}", t.flags),
                        place,
                    ));
                }
                let dc = self.header.duration_class;
                if dc != DurationClass::Undeclared
                    && dc != DurationClass::of(t.samples, self.header.format.sample_rate)
                {
                    return Err(Error::malformed(
                        "the header's duration class does not match the audio",
                        place,
                    ));
                }
                if !self.input_ends_here()? {
                    return Err(Error::new(ErrorKind::TrailingData {
                        offset: self.offset,
                    }));
                }
                self.totals = Some(t);
            }
            t if t.is_critical() => {
                return Err(Error::unsupported(
                    format!("critical chunk type {:?}", t.display()),
                    place,
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn parse_metadata(&mut self, c: &Current, place: Place) -> Result<()> {
        let payload = &self.buf[BODY_HEADER_LEN..c.len];
        let ty = c.chunk_type;
        let name = match ty {
            ChunkType::INFO => "recording".to_string(),
            t => t.display(),
        };
        let v = meta::parse_payload(
            payload,
            self.limits.max_json_len,
            self.limits.max_json_depth,
            place,
            &name,
        )?;
        let as_malformed = |e: Error| match e.into_kind() {
            ErrorKind::InvalidMetadata { path, reason } => {
                Error::malformed(format!("metadata {path}: {reason}"), place)
            }
            k => Error::new(k),
        };
        match ty {
            ChunkType::INFO => {
                self.info = RecordingInfo::from_json(&v, &name, self.header.format.channels)
                    .map_err(as_malformed)?;
            }
            ChunkType::PARTICIPANT => {
                let ids = &self.participants;
                let p = Participant::parse(&v, &name, self.header.format.channels, &|id| {
                    ids.contains(id)
                })
                .map_err(as_malformed)?;
                if self.participants.len() >= self.limits.max_participants {
                    return Err(Error::new(ErrorKind::LimitExceeded {
                        what: "participant count",
                        found: self.participants.len() as u64 + 1,
                        limit: self.limits.max_participants as u64,
                        place,
                    }));
                }
                self.participants.insert(p.id.clone());
                self.parsed = Some(Parsed::Participant(p));
            }
            ChunkType::EVENT => {
                let ids = &self.participants;
                let known = |id: &str| ids.contains(id);
                let e = Event::from_payload(&v, &name, c.timestamp, Some(&known))
                    .map_err(as_malformed)?;
                self.parsed = Some(Parsed::Event(e));
            }
            _ => {
                let a = Annotation::from_payload(&v, &name, c.timestamp).map_err(as_malformed)?;
                self.parsed = Some(Parsed::Annotation(a));
            }
        }
        Ok(())
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
}

impl<R: Read> Reader<R> {
    /// Gives up streaming and returns what random access needs.
    pub(crate) fn into_parts(self) -> OpenParts<R> {
        OpenParts {
            inner: self.inner,
            header: self.header,
            h: self.h,
            suite: self.suite,
            limits: self.limits,
            info: self.info,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{AudioFormat, Encoding};
    use crate::crypto::{keyless_header_tag, Integrity};

    /// A keyless stream built by hand: INFO, one AUDI chunk, optionally an INDX chunk
    /// describing both, and END.
    fn stream(with_index: bool) -> Vec<u8> {
        let mut header = Header {
            integrity: Integrity::Keyless,
            format: AudioFormat::new(Encoding::U8, 1, 8000).unwrap(),
            max_chunk_len: 1024,
            retention_days: 0,
            duration_class: DurationClass::Undeclared,
            salt: [1; 32],
            commitment: [0; 32],
            extensions: Vec::new(),
            tag: [0; 32],
        };
        header.tag = keyless_header_tag(&header.unsigned_bytes());
        let mut file = header.to_bytes();
        let h: [u8; 32] = Sha256::digest(&file).into();
        let mut manifest = Sha256::new();
        manifest.update(crate::crypto::MANIFEST_LABEL);
        let mut entries = Vec::new();
        let mut last_index = NO_OFFSET;
        let put = |file: &mut Vec<u8>,
                   manifest: &mut Sha256,
                   i: u64,
                   ty: ChunkType,
                   ts: u64,
                   payload: &[u8]| {
            let offset = file.len() as u64;
            let mut body = ty.0.to_vec();
            body.extend_from_slice(&ts.to_be_bytes());
            body.extend_from_slice(payload);
            let prefix = chunk_prefix(body.len() as u32, i);
            let tag = Suite::Keyless.seal(&h, &prefix, &mut body);
            file.extend_from_slice(&prefix);
            file.extend_from_slice(&body);
            file.extend_from_slice(tag.as_slice());
            if ty != ChunkType::END {
                manifest.update(tag.as_slice());
            }
            offset
        };
        let o0 = put(&mut file, &mut manifest, 0, ChunkType::INFO, 0, b"{}");
        let o1 = put(&mut file, &mut manifest, 1, ChunkType::AUDIO, 0, &[128; 4]);
        for (ty, off) in [(ChunkType::INFO, o0), (ChunkType::AUDIO, o1)] {
            entries.extend_from_slice(
                &IndexEntry {
                    chunk_type: ty,
                    offset: off,
                    timestamp: 0,
                }
                .to_bytes(),
            );
        }
        let mut n = 2;
        if with_index {
            let mut p = IndexHeader {
                prev_index_offset: NO_OFFSET,
                first_chunk: 0,
                count: 2,
            }
            .to_bytes()
            .to_vec();
            p.extend_from_slice(&entries);
            last_index = put(&mut file, &mut manifest, 2, ChunkType::INDEX, 4, &p);
            n = 3;
        }
        let t = Totals {
            chunks: n,
            samples: 4,
            audio_bytes: 4,
            stream_bytes: file.len() as u64,
            last_index_offset: last_index,
            flags: 0,
            manifest: manifest.clone().finalize().into(),
        };
        put(
            &mut file,
            &mut manifest,
            n,
            ChunkType::END,
            4,
            &t.to_payload(),
        );
        file
    }

    #[test]
    fn an_end_chunk_after_undescribed_chunks_is_malformed() {
        let good = stream(true);
        let mut r = Decoder::new(&good[..]).unwrap().open(None).unwrap();
        assert_eq!(r.verify_to_end().unwrap().samples, 4);
        let bad = stream(false);
        let mut r = Decoder::new(&bad[..]).unwrap().open(None).unwrap();
        let e = r.verify_to_end().unwrap_err();
        assert_eq!(e.class(), "malformed");
        assert!(e.to_string().contains("chunk 2,"), "{e}");
    }
}
