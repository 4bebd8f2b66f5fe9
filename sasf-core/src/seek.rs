//! Random access through the authenticated index (`docs/FORMAT.md` §9).
//!
//! [`RandomAccess`] is made from an opened [`Reader`] over a seekable input. It first
//! reads and authenticates the END chunk at the end of the file, so nothing measured
//! from the end is trusted before the END chunk is; then it follows the chain of INDX
//! chunks, each authenticated and checked, and reads the chunks it needs, each
//! authenticated under the index the INDX chain assigns it.

use std::io::{Read, Seek, SeekFrom};

use crate::crypto::Suite;
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::*;
use crate::meta::{self, Annotation, Event, Participant, RecordingInfo};
use crate::read::{Limits, Reader};

/// An authenticated chunk read at a known place.
#[derive(Debug, Clone)]
pub struct OwnedChunk {
    /// Chunk index.
    pub index: u64,
    /// Offset of its prefix.
    pub offset: u64,
    /// Total size on disk (prefix, body and tag).
    pub size: u64,
    /// Type.
    pub chunk_type: ChunkType,
    /// Timestamp.
    pub timestamp: u64,
    /// Payload (decrypted).
    pub payload: Vec<u8>,
}

/// Summary of one INDX chunk, kept in memory (one per 1024 chunks by default).
#[derive(Debug, Clone)]
struct IndexSummary {
    offset: u64,
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
    suite: std::sync::Arc<Suite>,
    tag_len: usize,
    limits: Limits,
    info: RecordingInfo,
    totals: Totals,
    summaries: Vec<IndexSummary>,
    buf: Vec<u8>,
}

impl<R: Read + Seek> Reader<R> {
    /// Switches to random access: authenticates the END chunk at the end of the
    /// input, then loads the authenticated index chain.
    pub fn into_random_access(self) -> Result<RandomAccess<R>> {
        let p = self.into_parts();
        let tag_len = p.header.integrity.tag_len();
        let mut ra = RandomAccess {
            inner: p.inner,
            header: p.header,
            h: p.h,
            suite: p.suite,
            tag_len,
            limits: p.limits,
            info: p.info,
            totals: Totals {
                chunks: 0,
                samples: 0,
                audio_bytes: 0,
                stream_bytes: 0,
                last_index_offset: NO_OFFSET,
                flags: 0,
                manifest: [0; 32],
            },
            summaries: Vec::new(),
            buf: Vec::new(),
        };
        ra.read_end()?;
        ra.load_index()?;
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

    fn end_chunk_size(&self) -> u64 {
        (PREFIX_LEN + BODY_HEADER_LEN + END_PAYLOAD_LEN + self.tag_len) as u64
    }

    fn read_end(&mut self) -> Result<()> {
        let file_len = self.inner.seek(SeekFrom::End(0))?;
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
        if file_len < size {
            return Err(no_end(file_len));
        }
        let at = file_len - size;
        let mut prefix = [0u8; PREFIX_LEN];
        self.inner.seek(SeekFrom::Start(at))?;
        self.inner.read_exact(&mut prefix)?;
        let len = u32::from_be_bytes(prefix[0..4].try_into().expect("4 bytes")) as usize;
        let index = u64::from_be_bytes(prefix[4..12].try_into().expect("8 bytes"));
        if len != BODY_HEADER_LEN + END_PAYLOAD_LEN {
            // The file does not end with an END chunk: truncated or with trailing bytes.
            return Err(no_end(file_len));
        }
        let c = self.read_chunk_at(at, index)?;
        let place = Place::chunk(index, at);
        if c.chunk_type != ChunkType::END {
            return Err(no_end(file_len));
        }
        let t = Totals::from_payload(&c.payload).ok_or_else(|| {
            Error::malformed(
                "end payload is not 80 bytes with zero reserved bytes",
                place,
            )
        })?;
        if t.chunks != index
            || t.stream_bytes != at
            || t.samples != c.timestamp
            || t.flags & !END_FLAG_RECOVERED != 0
        {
            return Err(Error::malformed(
                "end chunk totals do not match its place in the file",
                place,
            ));
        }
        self.totals = t;
        Ok(())
    }

    /// Reads and authenticates the chunk at `offset`, which must carry `index`.
    pub fn read_chunk_at(&mut self, offset: u64, index: u64) -> Result<OwnedChunk> {
        let place = Place::chunk(index, offset);
        self.inner.seek(SeekFrom::Start(offset))?;
        let mut prefix = [0u8; PREFIX_LEN];
        self.inner
            .read_exact(&mut prefix)
            .map_err(|e| self.eof_as_malformed(e, place))?;
        let len = u32::from_be_bytes(prefix[0..4].try_into().expect("4 bytes"));
        let stored = u64::from_be_bytes(prefix[4..12].try_into().expect("8 bytes"));
        if len < BODY_HEADER_LEN as u32 {
            return Err(Error::malformed(
                format!("chunk body length {len} is below the minimum of 12"),
                place,
            ));
        }
        if len > self.header.max_chunk_len || len > self.limits.max_chunk_len {
            return Err(Error::new(ErrorKind::LimitExceeded {
                what: "chunk body length",
                found: len as u64,
                limit: self.header.max_chunk_len.min(self.limits.max_chunk_len) as u64,
                place,
            }));
        }
        if stored != index {
            return Err(Error::new(ErrorKind::AuthFailed { place }));
        }
        let len = len as usize;
        self.buf.resize(len + self.tag_len, 0);
        self.inner
            .read_exact(&mut self.buf)
            .map_err(|e| self.eof_as_malformed(e, place))?;
        let (body, tag) = self.buf.split_at_mut(len);
        if !self.suite.open(&self.h, &prefix, body, tag) {
            return Err(Error::new(ErrorKind::AuthFailed { place }));
        }
        Ok(OwnedChunk {
            index,
            offset,
            size: (PREFIX_LEN + len + self.tag_len) as u64,
            chunk_type: ChunkType([body[0], body[1], body[2], body[3]]),
            timestamp: u64::from_be_bytes(body[4..12].try_into().expect("8 bytes")),
            payload: body[BODY_HEADER_LEN..].to_vec(),
        })
    }

    fn eof_as_malformed(&self, e: std::io::Error, place: Place) -> Error {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::malformed("an index points past the end of the file", place)
        } else {
            e.into()
        }
    }

    /// Reads the INDX chunk at `offset` (its index is in its prefix, and is checked
    /// against its own payload: first chunk + count).
    fn read_index(&mut self, offset: u64) -> Result<(OwnedChunk, IndexHeader)> {
        let place = Place::chunk(0, offset);
        if offset >= self.totals.stream_bytes {
            return Err(Error::malformed(
                "an index offset points past the end chunk",
                place,
            ));
        }
        self.inner.seek(SeekFrom::Start(offset + 4))?;
        let mut idx = [0u8; 8];
        self.inner
            .read_exact(&mut idx)
            .map_err(|e| self.eof_as_malformed(e, place))?;
        let index = u64::from_be_bytes(idx);
        let c = self.read_chunk_at(offset, index)?;
        let place = Place::chunk(index, offset);
        let h = IndexHeader::parse(&c.payload).filter(|_| c.chunk_type == ChunkType::INDEX);
        match h {
            Some(h) if h.first_chunk.checked_add(h.count as u64) == Some(index) => Ok((c, h)),
            _ => Err(Error::malformed(
                "the index chain points at something that is not a valid index chunk",
                place,
            )),
        }
    }

    fn load_index(&mut self) -> Result<()> {
        let mut at = self.totals.last_index_offset;
        let mut next_first = self.totals.chunks; // the chunk after the newest INDX described
        let mut out = Vec::new();
        while at != NO_OFFSET {
            let (c, h) = self.read_index(at)?;
            // Each INDX chunk must sit right before the chunks the newer one describes
            // (the newest right before END), and describe at least one chunk.
            if c.index + 1 != next_first || h.count == 0 {
                return Err(Error::malformed(
                    "the index chain has a gap, an empty index, or is out of order",
                    Place::chunk(c.index, at),
                ));
            }
            let first_audio = c.payload[INDEX_HEADER_LEN..]
                .chunks_exact(INDEX_ENTRY_LEN)
                .map(IndexEntry::from_bytes)
                .find(|e| e.chunk_type == ChunkType::AUDIO)
                .map(|e| e.timestamp);
            out.push(IndexSummary {
                offset: at,
                first_chunk: h.first_chunk,
                first_audio,
            });
            next_first = h.first_chunk;
            at = h.prev_index_offset;
        }
        out.reverse();
        // The chain must describe every chunk before END from chunk 0 on (the streaming
        // reader checks the same, chunk by chunk).
        if next_first != 0 {
            let place = Place::chunk(self.totals.chunks, self.totals.stream_bytes);
            return Err(Error::malformed(
                "the index chain does not start at chunk 0",
                place,
            ));
        }
        self.summaries = out;
        Ok(())
    }

    /// Entries (chunk index, entry) of the INDX chunk `s`.
    fn entries(&mut self, s: usize) -> Result<Vec<(u64, IndexEntry)>> {
        let sum = self.summaries[s].clone();
        let (c, _) = self.read_index(sum.offset)?;
        Ok(c.payload[INDEX_HEADER_LEN..]
            .chunks_exact(INDEX_ENTRY_LEN)
            .enumerate()
            .map(|(i, e)| (sum.first_chunk + i as u64, IndexEntry::from_bytes(e)))
            .collect())
    }

    /// Participants declared at or before sample `until`, found through the index.
    pub fn participants(&mut self, until: u64) -> Result<Vec<Participant>> {
        let mut out = Vec::new();
        for s in 0..self.summaries.len() {
            if self.summaries[s].first_audio.is_some_and(|t| t > until) {
                break;
            }
            for (index, e) in self.entries(s)? {
                if e.chunk_type == ChunkType::PARTICIPANT && e.timestamp <= until {
                    let c = self.read_chunk_at(e.offset, index)?;
                    self.check_entry(&c, &e)?;
                    let v = self.json(&c)?;
                    // The streaming reader's rule: an id is declared once.
                    let declared = |id: &str| out.iter().any(|p: &Participant| p.id == id);
                    let p = Participant::parse(&v, "PART", self.header.format.channels, &declared)
                        .map_err(|e| {
                            Error::malformed(e.to_string(), Place::chunk(c.index, c.offset))
                        })?;
                    out.push(p);
                }
            }
        }
        Ok(out)
    }

    fn check_entry(&self, c: &OwnedChunk, e: &IndexEntry) -> Result<()> {
        if c.chunk_type != e.chunk_type || c.timestamp != e.timestamp {
            return Err(Error::malformed(
                "the chunk does not match its index entry",
                Place::chunk(c.index, c.offset),
            ));
        }
        Ok(())
    }

    fn json(&self, c: &OwnedChunk) -> Result<serde_json::Value> {
        let place = Place::chunk(c.index, c.offset);
        meta::parse_payload(
            &c.payload,
            self.limits.max_json_len,
            self.limits.max_json_depth,
            place,
            &c.chunk_type.display(),
        )
    }

    /// Reads the frames `[from, to)` (clamped to the recording), passing them to
    /// `on_audio` in order, and returns every participant and the events and
    /// annotations at times in `[from, to]`, re-based onto `from`. Reads only the
    /// chunks it needs; every one is authenticated.
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
            participants: self.participants(self.totals.samples)?,
            ..Default::default()
        };
        // Start at the last audio chunk that begins strictly before `from`: it may hold
        // `from`, and metadata at `from` itself comes after it in the stream.
        let s = self
            .summaries
            .iter()
            .rposition(|s| s.first_audio.is_some_and(|t| t < from))
            .unwrap_or(0);
        let (index, offset) = if self.summaries.is_empty() {
            return Err(Error::malformed(
                "the file has no index",
                Place::chunk(self.totals.chunks, self.totals.stream_bytes),
            ));
        } else {
            let entries = self.entries(s)?;
            let place = Place::chunk(self.totals.chunks, self.totals.stream_bytes);
            entries
                .iter()
                .rev()
                .find(|(_, e)| e.chunk_type == ChunkType::AUDIO && e.timestamp < from)
                .or_else(|| entries.first())
                .map(|(i, e)| (*i, *e))
                .ok_or_else(|| Error::malformed("an index chunk has no entries", place))?
        };
        let (mut index, start_entry) = (index, offset);
        let mut offset = start_entry.offset;
        // What the chunks say is checked as the streaming reader would: the first one
        // against its index entry, each timestamp against the audio before it, and the
        // audio delivered against the range the END chunk's total allows.
        let mut pos: Option<u64> = None;
        let mut delivered = 0u64;
        let known: std::collections::HashSet<String> =
            meta.participants.iter().map(|p| p.id.clone()).collect();
        while index < self.totals.chunks {
            let c = self.read_chunk_at(offset, index)?;
            let place = Place::chunk(c.index, c.offset);
            match pos {
                None => self.check_entry(&c, &start_entry)?,
                Some(p) if c.timestamp != p => {
                    return Err(Error::malformed(
                        format!(
                            "timestamp {} but the audio before this chunk ends at sample {p}",
                            c.timestamp
                        ),
                        place,
                    ))
                }
                _ => {}
            }
            pos = Some(c.timestamp);
            match c.chunk_type {
                ChunkType::AUDIO => {
                    if c.payload.is_empty() || c.payload.len() as u64 % ba != 0 {
                        return Err(Error::malformed("audio payload is not whole frames", place));
                    }
                    let start = c.timestamp;
                    let end = start + c.payload.len() as u64 / ba;
                    pos = Some(end);
                    if start >= to {
                        break;
                    }
                    let a = from.max(start);
                    let b = to.min(end);
                    if a < b {
                        delivered += b - a;
                        on_audio(
                            &c.payload[((a - start) * ba) as usize..((b - start) * ba) as usize],
                        )?;
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
                t if t.is_critical()
                    && ![
                        ChunkType::INFO,
                        ChunkType::PARTICIPANT,
                        ChunkType::EVENT,
                        ChunkType::ANNOTATION,
                        ChunkType::INDEX,
                    ]
                    .contains(&t) =>
                {
                    return Err(Error::unsupported(
                        format!("critical chunk type {:?}", t.display()),
                        place,
                    ));
                }
                _ => {}
            }
            if c.timestamp > to {
                break;
            }
            index += 1;
            offset += c.size;
        }
        if delivered != to - from {
            return Err(Error::malformed(
                format!(
                    "the audio ends at sample {} but the END chunk says {}",
                    from + delivered,
                    self.totals.samples
                ),
                Place::chunk(self.totals.chunks, self.totals.stream_bytes),
            ));
        }
        Ok(meta)
    }
}
