//! Random access through the authenticated index (`docs/FORMAT.md` §10).
//!
//! [`RandomAccess`] is made from an opened [`Reader`] over a seekable input. It first
//! reads and authenticates the END chunk at the end of the file, so nothing measured
//! from the end is trusted before the END chunk is; then it follows the chain of INDX
//! chunks back to chunk 0 and runs **the same verifier as a streaming reader** over the
//! whole stream in order, reading every chunk but the audio, which it takes from its
//! authenticated index entry (length and digest). So random access accepts exactly
//! what streaming accepts, up to audio it has not read; an audio chunk is read,
//! checked against its entry's digest and authenticated when its frames are wanted.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use crate::crypto::segment::SegmentCrypto;
use crate::crypto::sign::{check_signatures, require_trusted, SignatureCheck};
use crate::crypto::{chunk_digest, file_digest, Integrity, Suite};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::segment::{
    parse_trailer, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SEGMENT_TRAILER_LEN,
};
use crate::format::*;
use crate::io::reader::Reader;
use crate::io::segments::{read_segments, Segments};
use crate::io::Limits;
use crate::meta::{self, Annotation, Event, Participant, RecordingInfo};
use crate::stream::verifier::{check_prefix, Checked, Verifier};

/// An authenticated chunk read at a known place.
#[derive(Debug, Clone)]
pub struct OwnedChunk {
    /// Chunk index.
    pub index: u64,
    /// File offset of its prefix.
    pub offset: u64,
    /// Total size on disk (prefix, body and tag).
    pub size: u64,
    /// Type.
    pub chunk_type: ChunkType,
    /// Timestamp.
    pub timestamp: u64,
    /// The whole plaintext body (type, timestamp, payload).
    pub body: Vec<u8>,
    /// Its digest.
    pub digest: [u8; 32],
}

impl OwnedChunk {
    /// The payload (after type and timestamp).
    pub fn payload(&self) -> &[u8] {
        &self.body[BODY_HEADER_LEN..]
    }
}

/// Most bytes of INDX chunks kept between following the chain and checking the
/// structure; past it they are read again.
const INDEX_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// One INDX chunk, kept in memory (one per 1024 chunks by default).
#[derive(Debug, Clone)]
struct IndexSummary {
    /// Stream offset.
    offset: u64,
    /// Its own chunk index.
    index: u64,
    first_chunk: u64,
    /// Timestamp of its first AUDI entry, if any.
    first_audio: Option<u64>,
}

/// What a range read found besides audio.
#[derive(Debug, Clone, Default)]
pub struct RangeMetadata {
    /// Every participant of the recording.
    pub participants: Vec<Participant>,
    /// Events inside the range, with times re-based onto the range start.
    pub events: Vec<Event>,
    /// Annotations inside the range, re-based.
    pub annotations: Vec<Annotation>,
}

/// Random access to a complete SASF file. See the module docs.
pub struct RandomAccess<R> {
    inner: R,
    header: Header,
    h: [u8; 32],
    suite: Arc<Suite>,
    level: Integrity,
    tag_len: usize,
    limits: Limits,
    info: RecordingInfo,
    base: u64,
    totals: Totals,
    file_digest: [u8; 32],
    signatures: Vec<SignatureCheck>,
    summaries: Vec<IndexSummary>,
    participants: Vec<Participant>,
    events: Vec<Event>,
    segment_crypto: SegmentCrypto,
    segments: Segments,
    /// Steps left to all of `find_end`'s walks over segment trailers.
    walk_budget: u32,
}

/// Most places tried as the end of the END chunk when the file does not end with a
/// whole annotation segment (a torn append, or damage).
const MAX_END_CANDIDATES: usize = 16;

impl<R: Read + Seek> Reader<R> {
    /// Switches to random access: authenticates the END chunk at the end of the
    /// input, loads the index chain and verifies the stream's structure with the
    /// streaming reader's rules.
    pub fn into_random_access(self) -> Result<RandomAccess<R>> {
        let p = self.into_parts();
        let level = p.header.integrity;
        let mut ra = RandomAccess {
            inner: p.inner,
            tag_len: level.tag_len(),
            level,
            header: p.header,
            h: p.h,
            suite: p.suite,
            limits: p.limits,
            info: p.info,
            base: p.base,
            totals: Totals {
                chunks: 0,
                samples: 0,
                audio_bytes: 0,
                stream_bytes: 0,
                last_index_offset: NO_OFFSET,
                flags: 0,
                manifest: [0; 32],
            },
            file_digest: [0; 32],
            signatures: Vec::new(),
            summaries: Vec::new(),
            participants: Vec::new(),
            events: Vec::new(),
            segment_crypto: p.segment_crypto,
            segments: Segments::default(),
            walk_budget: 2 * crate::format::segment::MAX_SEGMENTS,
        };
        let end = ra.find_end()?;
        let cached = ra.load_index()?;
        ra.verify_structure(p.context, end, cached)?;
        let end_at = ra.base + ra.totals.stream_bytes + ra.end_chunk_size();
        ra.inner.seek(SeekFrom::Start(end_at))?;
        ra.segments = read_segments(
            &mut std::io::BufReader::new(&mut ra.inner),
            end_at,
            ra.level,
            Some(&ra.segment_crypto),
            &ra.h,
            0,
            &ra.file_digest,
            &ra.limits,
            &meta::check_segment_record,
        )?;
        ra.signatures = check_signatures(&p.keys, &ra.h, &ra.file_digest, &p.signers);
        if !p.signers.is_empty() {
            require_trusted(&ra.signatures, &p.signers)?;
        }
        Ok(ra)
    }
}

impl<R: Read + Seek> RandomAccess<R> {
    /// The authenticated header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The recording information.
    pub fn info(&self) -> &RecordingInfo {
        &self.info
    }
    /// The authenticated totals of the END chunk.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }
    /// The file digest (`docs/FORMAT.md` §11).
    pub fn file_digest(&self) -> &[u8; 32] {
        &self.file_digest
    }

    /// The verdict on each signature stanza (`docs/FORMAT.md` §5.5).
    pub fn signatures(&self) -> &[SignatureCheck] {
        &self.signatures
    }
    /// The annotation segments after the END chunk (`docs/FORMAT.md` §21).
    pub fn segments(&self) -> &Segments {
        &self.segments
    }
    /// The header hash `H`.
    pub fn header_hash(&self) -> &[u8; 32] {
        &self.h
    }
    pub(crate) fn segment_crypto(&self) -> &SegmentCrypto {
        &self.segment_crypto
    }
    /// Every participant of the recording.
    pub fn all_participants(&self) -> &[Participant] {
        &self.participants
    }
    /// Every event of the recording, in timeline order (kept while the structure was
    /// verified, within the same metadata budget as the participants).
    pub fn all_events(&self) -> &[Event] {
        &self.events
    }

    fn end_chunk_size(&self) -> u64 {
        (PREFIX_LEN + BODY_HEADER_LEN + END_PAYLOAD_LEN + self.tag_len) as u64
    }

    fn place(&self, index: u64, stream_offset: u64) -> Place {
        Place::chunk(index, self.base + stream_offset)
    }

    /// Finds and authenticates the END chunk. A file without annotation segments ends
    /// with it; one with segments ends with the last segment's trailer, and the
    /// trailers lead back, segment by segment, to segment 0, which starts right after
    /// END (`docs/FORMAT.md` §21.6). When the file ends otherwise (a torn append, or
    /// damage), the last places in the final segment's reach where a segment starts
    /// (its magic) or an END chunk could end are tried, newest first, at most
    /// [`MAX_END_CANDIDATES`] of them; what follows the END found is then judged by the
    /// segment reader, as when streaming.
    fn find_end(&mut self) -> Result<OwnedChunk> {
        let file_len = self.inner.seek(SeekFrom::End(0))?;
        let size = self.end_chunk_size();
        let floor = self.base + size;
        if let Some(at) = self.walk_back(file_len)? {
            if let Ok(c) = self.read_end_ending_at(at) {
                return Ok(c);
            }
        }
        // The plain case, and the candidates of a file that does not end well.
        let mut first_err = None;
        match self.read_end_ending_at(file_len) {
            Ok(c) => return Ok(c),
            Err(e) => first_err = first_err.or(Some(e)),
        }
        let window = (crate::format::segment::MAX_SEGMENT_LEN as u64 + size + 16)
            .min(file_len.saturating_sub(floor));
        let lo = file_len - window;
        self.inner.seek(SeekFrom::Start(lo))?;
        let mut tail = vec![0u8; window as usize];
        self.inner.read_exact(&mut tail)?;
        let mut tried = 0;
        let end_prefix = ((BODY_HEADER_LEN + END_PAYLOAD_LEN) as u32).to_be_bytes();
        let mut p = tail.len();
        while p > 0 && tried < MAX_END_CANDIDATES {
            p -= 1;
            let at = lo + p as u64;
            // A segment starting at `at` (its magic, or what of it the input holds:
            // the magic never occurs inside a record's JSON, which may not hold a raw
            // 0x1A) …
            let rest = &tail[p..];
            let segment_here = rest[..rest.len().min(8)] == SEGMENT_MAGIC[..rest.len().min(8)];
            // … or an END chunk ending at `at`.
            let end_here = at >= floor
                && (at - size) >= lo
                && tail[(at - size - lo) as usize..][..4] == end_prefix;
            if segment_here {
                tried += 1;
                let number = (rest.len() >= 12)
                    .then(|| u32::from_be_bytes(rest[8..12].try_into().expect("4 bytes")));
                let end = match number {
                    Some(0) | None => Some(at),
                    Some(_) => self.walk_back(at)?,
                };
                if let Some(e) = end {
                    if let Ok(c) = self.read_end_ending_at(e) {
                        return Ok(c);
                    }
                }
            }
            if end_here {
                tried += 1;
                if let Ok(c) = self.read_end_ending_at(at) {
                    return Ok(c);
                }
            }
        }
        Err(first_err.expect("the plain case was tried"))
    }

    /// From a file offset where a segment's trailer ends, walks back over whole
    /// segments to segment 0; returns where it starts (where END ends), or `None`.
    fn walk_back(&mut self, mut at: u64) -> Result<Option<u64>> {
        let floor = self.base + self.end_chunk_size();
        let mut expect: Option<u32> = None;
        loop {
            // Every walk of one open shares one budget of steps: a hostile tail of
            // fake segments that never reach END costs at most that many reads.
            if self.walk_budget == 0 {
                return Ok(None);
            }
            self.walk_budget -= 1;
            if at < floor + (SEGMENT_HEADER_LEN + SEGMENT_TRAILER_LEN) as u64 {
                return Ok(None);
            }
            let mut t = [0u8; SEGMENT_TRAILER_LEN];
            self.inner
                .seek(SeekFrom::Start(at - SEGMENT_TRAILER_LEN as u64))?;
            self.inner.read_exact(&mut t)?;
            let Some(len) = parse_trailer(&t) else {
                return Ok(None);
            };
            // The smallest segment: header, a 256-byte body, a 16-byte tag, trailer.
            let min = (SEGMENT_HEADER_LEN + 256 + 16 + SEGMENT_TRAILER_LEN) as u64;
            if len < min || len > crate::format::segment::MAX_SEGMENT_LEN as u64 || len > at - floor
            {
                return Ok(None);
            }
            let start = at - len;
            let mut hb = [0u8; 12];
            self.inner.seek(SeekFrom::Start(start))?;
            self.inner.read_exact(&mut hb)?;
            let number = u32::from_be_bytes(hb[8..12].try_into().expect("4 bytes"));
            if hb[..8] != SEGMENT_MAGIC
                || expect.is_some_and(|e| e != number)
                || number >= crate::format::segment::MAX_SEGMENTS
            {
                return Ok(None);
            }
            if number == 0 {
                return Ok(Some(start));
            }
            expect = Some(number - 1);
            at = start;
        }
    }

    /// Reads and authenticates the END chunk that ends at file offset `file_end`.
    fn read_end_ending_at(&mut self, file_end: u64) -> Result<OwnedChunk> {
        let size = self.end_chunk_size();
        let rate = self.header.format.sample_rate;
        let no_end = move |offset| {
            Error::new(ErrorKind::Truncated {
                after_chunk: None,
                at_sample: 0,
                sample_rate: rate,
                offset,
            })
        };
        if file_end < self.base + size {
            return Err(no_end(file_end));
        }
        let at = file_end - size - self.base;
        let mut prefix = [0u8; PREFIX_LEN];
        self.inner.seek(SeekFrom::Start(self.base + at))?;
        self.inner.read_exact(&mut prefix)?;
        let len = u32::from_be_bytes(prefix[0..4].try_into().expect("4 bytes")) as usize;
        let index = u64::from_be_bytes(prefix[4..12].try_into().expect("8 bytes"));
        if len != BODY_HEADER_LEN + END_PAYLOAD_LEN {
            // The file does not end with an END chunk: truncated or with trailing bytes.
            return Err(no_end(file_end));
        }
        let c = self.read_chunk_at(at, index)?;
        let place = self.place(index, at);
        if c.chunk_type != ChunkType::END {
            return Err(no_end(file_end));
        }
        let t = Totals::from_payload(c.payload()).ok_or_else(|| {
            Error::malformed(
                "end payload is not 80 bytes with zero reserved bytes",
                place,
            )
        })?;
        if t.chunks != index || t.stream_bytes != at || t.samples != c.timestamp {
            return Err(Error::malformed(
                "end chunk totals do not match its place in the file",
                place,
            ));
        }
        self.totals = t;
        Ok(c)
    }

    /// Reads and authenticates the chunk at stream offset `offset`, which must carry
    /// `index`; checks its digest against `expect` when given.
    fn read_chunk_checked(
        &mut self,
        offset: u64,
        index: u64,
        expect: Option<&[u8; 32]>,
    ) -> Result<OwnedChunk> {
        let place = self.place(index, offset);
        self.inner.seek(SeekFrom::Start(self.base + offset))?;
        let mut prefix = [0u8; PREFIX_LEN];
        self.inner
            .read_exact(&mut prefix)
            .map_err(|e| eof_as_malformed(e, place))?;
        let len = check_prefix(&self.header, &self.limits, &prefix, place, index)?;
        let mut buf = vec![0u8; len + self.tag_len];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| eof_as_malformed(e, place))?;
        let (body, tag) = buf.split_at_mut(len);
        let digest = chunk_digest(self.level, &prefix, body, tag);
        if expect.is_some_and(|d| *d != digest) {
            // Not the bytes the authenticated index pins: not authentic here.
            return Err(Error::new(ErrorKind::AuthFailed { place }));
        }
        if !self.suite.open(&self.h, &prefix, body, tag) {
            return Err(Error::new(ErrorKind::AuthFailed { place }));
        }
        buf.truncate(len);
        Ok(OwnedChunk {
            index,
            offset: self.base + offset,
            size: (PREFIX_LEN + len + self.tag_len) as u64,
            chunk_type: ChunkType([buf[0], buf[1], buf[2], buf[3]]),
            timestamp: u64::from_be_bytes(buf[4..12].try_into().expect("8 bytes")),
            body: buf,
            digest,
        })
    }

    /// Reads and authenticates the chunk at stream offset `offset`, which must carry
    /// `index`.
    pub fn read_chunk_at(&mut self, offset: u64, index: u64) -> Result<OwnedChunk> {
        self.read_chunk_checked(offset, index, None)
    }

    /// Reads the INDX chunk at stream offset `offset` (its index is in its prefix, and
    /// is checked against its own payload: first chunk + count).
    fn read_index(&mut self, offset: u64) -> Result<(OwnedChunk, IndexHeader)> {
        let place = self.place(0, offset);
        if offset >= self.totals.stream_bytes {
            return Err(Error::malformed(
                "an index offset points past the end chunk",
                place,
            ));
        }
        self.inner.seek(SeekFrom::Start(self.base + offset + 4))?;
        let mut idx = [0u8; 8];
        self.inner
            .read_exact(&mut idx)
            .map_err(|e| eof_as_malformed(e, place))?;
        let index = u64::from_be_bytes(idx);
        let c = self.read_chunk_at(offset, index)?;
        let place = self.place(index, offset);
        let h = IndexHeader::parse(c.payload()).filter(|_| c.chunk_type == ChunkType::INDEX);
        match h {
            Some(h) if h.first_chunk.checked_add(h.count as u64) == Some(index) => Ok((c, h)),
            _ => Err(Error::malformed(
                "the index chain points at something that is not a valid index chunk",
                place,
            )),
        }
    }

    fn entries_of(&self, c: &OwnedChunk, place: Place) -> Result<Vec<IndexEntry>> {
        c.payload()[INDEX_HEADER_LEN..]
            .chunks_exact(INDEX_ENTRY_LEN)
            .map(|b| {
                IndexEntry::from_bytes(b).ok_or_else(|| {
                    Error::malformed("an index entry's reserved bytes are not zero", place)
                })
            })
            .collect()
    }

    /// Follows the INDX chain back to chunk 0. Returns the INDX chunks read, in order,
    /// while they fit in [`INDEX_CACHE_BYTES`] (the structure pass then need not read
    /// them again).
    fn load_index(&mut self) -> Result<Vec<Option<OwnedChunk>>> {
        let mut cache = Vec::new();
        let mut cached_bytes = 0usize;
        let mut at = self.totals.last_index_offset;
        let mut next_first = self.totals.chunks; // the chunk after the newest INDX described
        let mut out = Vec::new();
        while at != NO_OFFSET {
            let (c, h) = self.read_index(at)?;
            // Each INDX chunk must sit right before the chunks the newer one describes
            // (the newest right before END), and describe at least one chunk.
            if c.index.checked_add(1) != Some(next_first)
                || h.count == 0
                || h.prev_index_offset >= at && h.prev_index_offset != NO_OFFSET
            {
                return Err(Error::malformed(
                    "the index chain has a gap, an empty index, or is out of order",
                    self.place(c.index, at),
                ));
            }
            // Only the first audio entry's timestamp is needed here (every entry is
            // parsed and checked by the structure pass).
            let first_audio = c.payload()[INDEX_HEADER_LEN..]
                .chunks_exact(INDEX_ENTRY_LEN)
                .find(|e| e[0..4] == ChunkType::AUDIO.0)
                .map(|e| u64::from_be_bytes(e[16..24].try_into().expect("8 bytes")));
            out.push(IndexSummary {
                offset: at,
                index: c.index,
                first_chunk: h.first_chunk,
                first_audio,
            });
            next_first = h.first_chunk;
            at = h.prev_index_offset;
            let c_index = c.index;
            cached_bytes += c.body.len();
            cache.push((cached_bytes <= INDEX_CACHE_BYTES).then_some(c));
            // What is kept per index chunk counts against the metadata budget, so a
            // file of many tiny index groups cannot make this grow with its length.
            let kept = out.len()
                * (std::mem::size_of::<IndexSummary>() + std::mem::size_of::<Option<OwnedChunk>>());
            if kept > self.limits.max_metadata_bytes {
                return Err(Error::new(ErrorKind::LimitExceeded {
                    what: "metadata budget in bytes (index chunks kept)",
                    found: kept as u64,
                    limit: self.limits.max_metadata_bytes as u64,
                    place: self.place(c_index, at),
                }));
            }
        }
        out.reverse();
        cache.reverse();
        // The chain must describe every chunk before END from chunk 0 on.
        if next_first != 0 {
            let place = self.place(self.totals.chunks, self.totals.stream_bytes);
            return Err(Error::malformed(
                "the index chain does not start at chunk 0",
                place,
            ));
        }
        self.summaries = out;
        Ok(cache)
    }

    /// Runs the streaming reader's verifier over the whole stream, taking audio from
    /// the index. Collects the participants.
    fn verify_structure(
        &mut self,
        context: Option<[u8; 32]>,
        end: OwnedChunk,
        mut cached: Vec<Option<OwnedChunk>>,
    ) -> Result<()> {
        let mut v = Verifier::new(
            self.header.clone(),
            &self.h,
            self.limits,
            self.base,
            context,
        );
        let mut budget = 0usize;
        for s in 0..self.summaries.len() {
            let sum = self.summaries[s].clone();
            let ic = match cached.get_mut(s).and_then(Option::take) {
                Some(c) => c,
                None => self.read_index(sum.offset)?.0,
            };
            let place = self.place(ic.index, sum.offset);
            let entries = self.entries_of(&ic, place)?;
            for (j, e) in entries.iter().enumerate() {
                let index = sum.first_chunk + j as u64;
                let next = entries.get(j + 1).map(|n| n.offset).unwrap_or(sum.offset);
                if e.chunk_type == ChunkType::AUDIO {
                    let len = e
                        .offset
                        .checked_add((PREFIX_LEN + self.tag_len) as u64)
                        .and_then(|o| next.checked_sub(o))
                        .ok_or_else(|| {
                            Error::malformed(
                                "the index implies an impossible chunk length",
                                self.place(index, e.offset),
                            )
                        })?;
                    v.accept_indexed_audio(e, len as usize)?;
                    continue;
                }
                if e.offset != v.offset() {
                    return Err(Error::malformed(
                        "an index entry does not match the chunk at its place",
                        self.place(index, e.offset),
                    ));
                }
                let c = self.read_chunk_checked(e.offset, index, Some(&e.digest))?;
                // Participants and events are kept whole (every range read and
                // `all_events` use them): charged at their real size.
                let charge = match v.accept(&c.body, &c.digest)? {
                    Checked::Participant(p) => {
                        let n = crate::ops::bridge::heap_bytes(&p.to_json());
                        self.participants.push(p);
                        n
                    }
                    Checked::Event(e) => {
                        let n = crate::ops::bridge::heap_bytes(
                            &e.to_json(self.header.format.sample_rate),
                        );
                        self.events.push(e);
                        n
                    }
                    _ => 0,
                };
                budget += charge;
                if budget > self.limits.max_metadata_bytes {
                    return Err(Error::new(ErrorKind::LimitExceeded {
                        what: "metadata budget in bytes",
                        found: budget as u64,
                        limit: self.limits.max_metadata_bytes as u64,
                        place: Place::chunk(c.index, c.offset),
                    }));
                }
            }
            if v.offset() != sum.offset {
                return Err(Error::malformed(
                    "an index chunk is not where its entries end",
                    place,
                ));
            }
            v.accept(&ic.body, &ic.digest)?;
        }
        if v.offset() != self.totals.stream_bytes {
            return Err(Error::malformed(
                "the end chunk is not where the index ends",
                self.place(end.index, self.totals.stream_bytes),
            ));
        }
        match v.accept(&end.body, &end.digest)? {
            Checked::End(t) => self.file_digest = file_digest(&t.manifest, &end.digest),
            _ => unreachable!("read_end checked the type"),
        }
        self.info = v.info().clone();
        Ok(())
    }

    /// Entries (chunk index, entry) of the INDX chunk `s`.
    fn entries(&mut self, s: usize) -> Result<Vec<(u64, IndexEntry)>> {
        let sum = self.summaries[s].clone();
        let (c, _) = self.read_index(sum.offset)?;
        let place = self.place(sum.index, sum.offset);
        Ok(self
            .entries_of(&c, place)?
            .into_iter()
            .enumerate()
            .map(|(i, e)| (sum.first_chunk + i as u64, e))
            .collect())
    }

    fn json(&self, c: &OwnedChunk) -> Result<serde_json::Value> {
        let place = Place::chunk(c.index, c.offset);
        let p = c.payload();
        let n = u32::from_be_bytes(p[0..4].try_into().expect("4 bytes")) as usize;
        meta::parse_payload(
            &p[META_LEN_FIELD..META_LEN_FIELD + n],
            self.limits.max_json_len,
            self.limits.max_json_depth,
            place,
            &c.chunk_type.display(),
        )
    }

    /// Reads the frames `[from, to)` (clamped to the recording), passing them to
    /// `on_audio` in order, and returns every participant and the events and
    /// annotations at times in `[from, to]`, re-based onto `from`. Reads only the
    /// chunks it needs; every one is checked against its index entry's digest and
    /// authenticated.
    pub fn read_range(
        &mut self,
        from: u64,
        to: u64,
        mut on_audio: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<RangeMetadata> {
        let to = to.min(self.totals.samples);
        let from = from.min(to);
        let ba = self.header.format.block_align() as u64;
        let mut meta = RangeMetadata {
            participants: self.participants.clone(),
            ..Default::default()
        };
        if self.summaries.is_empty() {
            return Err(Error::malformed(
                "the file has no index",
                self.place(self.totals.chunks, self.totals.stream_bytes),
            ));
        }
        // Metadata about frames in an audio chunk sits just before it, so the scan
        // starts right after the last audio chunk that ends at or before `from`. Find
        // the group holding the audio chunk that contains `from`, then step back.
        let mut s = self
            .summaries
            .iter()
            .rposition(|s| s.first_audio.is_some_and(|t| t <= from))
            .unwrap_or(0);
        let mut entries = self.entries(s)?;
        // Position in `entries` of the first chunk to read.
        let mut start = entries
            .iter()
            .rposition(|(_, e)| e.chunk_type == ChunkType::AUDIO && e.timestamp <= from)
            .unwrap_or(0);
        loop {
            match entries[..start]
                .iter()
                .rposition(|(_, e)| e.chunk_type == ChunkType::AUDIO)
            {
                Some(p) => {
                    start = p + 1;
                    break;
                }
                None if s == 0 => {
                    start = 0;
                    break;
                }
                None => {
                    // Step into the previous group, keeping what comes after; bounded
                    // by the metadata budget (groups of nothing but metadata).
                    s -= 1;
                    let mut prev = self.entries(s)?;
                    start += prev.len();
                    prev.append(&mut entries);
                    entries = prev;
                    let kept = entries.len() * std::mem::size_of::<(u64, IndexEntry)>();
                    if kept > self.limits.max_metadata_bytes {
                        return Err(Error::new(ErrorKind::LimitExceeded {
                            what: "metadata budget in bytes (index entries before a range)",
                            found: kept as u64,
                            limit: self.limits.max_metadata_bytes as u64,
                            place: self.place(self.summaries[s].index, self.summaries[s].offset),
                        }));
                    }
                }
            }
        }
        let known: std::collections::HashSet<String> =
            meta.participants.iter().map(|p| p.id.clone()).collect();
        let mut delivered = 0u64;
        // After stepping back, `entries` spans groups s..: go on after the last of them.
        let mut group = (self.summaries.iter())
            .rposition(|g| entries.last().is_some_and(|(i, _)| g.first_chunk <= *i))
            .unwrap_or(s);
        let mut k = start;
        'scan: loop {
            while k >= entries.len() {
                group += 1;
                if group >= self.summaries.len() {
                    break 'scan;
                }
                entries = self.entries(group)?;
                k = 0;
            }
            let (index, e) = entries[k];
            k += 1;
            let c = self.read_chunk_checked(e.offset, index, Some(&e.digest))?;
            let place = Place::chunk(c.index, c.offset);
            // The digest pins the bytes; the entry's type and timestamp are the index's
            // own claims, which the structure pass trusted for audio it did not read.
            if c.chunk_type != e.chunk_type || c.timestamp != e.timestamp {
                return Err(Error::malformed(
                    "the chunk does not match its index entry",
                    place,
                ));
            }
            match c.chunk_type {
                ChunkType::AUDIO => {
                    let start = c.timestamp;
                    let end = start + c.payload().len() as u64 / ba;
                    if start >= to {
                        break;
                    }
                    let a = from.max(start);
                    let b = to.min(end);
                    if a < b {
                        delivered += b - a;
                        on_audio(
                            &c.payload()[((a - start) * ba) as usize..((b - start) * ba) as usize],
                        )?;
                    }
                    if end > to {
                        break;
                    }
                }
                ChunkType::EVENT if c.timestamp >= from && c.timestamp <= to => {
                    let v = self.json(&c)?;
                    let known_ids = |id: &str| known.contains(id);
                    let e = Event::from_payload(&v, "EVNT", c.timestamp - from, Some(&known_ids))
                        .map_err(|e| Error::malformed(e.to_string(), place))?;
                    meta.events.push(e);
                }
                ChunkType::ANNOTATION if c.timestamp >= from && c.timestamp <= to => {
                    let v = self.json(&c)?;
                    let a = Annotation::from_payload(&v, "ANNO", c.timestamp - from)
                        .map_err(|e| Error::malformed(e.to_string(), place))?;
                    meta.annotations.push(a);
                }
                // Metadata about frames of an audio chunk comes before the chunk, so
                // one past `to` ends the scan only once the range's audio is in.
                _ if c.timestamp > to && delivered == to - from => break,
                _ => {}
            }
        }
        if delivered != to - from {
            return Err(Error::malformed(
                format!(
                    "the audio ends at frame {} but the END chunk says {}",
                    from + delivered,
                    self.totals.samples
                ),
                self.place(self.totals.chunks, self.totals.stream_bytes),
            ));
        }
        Ok(meta)
    }
}

fn eof_as_malformed(e: std::io::Error, place: Place) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::malformed("an index points past the end of the file", place)
    } else {
        e.into()
    }
}
