//! The verifier: every structural rule of a SASF stream, in one place and with no
//! I/O. A driver hands it each chunk after authenticating it (or, for random access,
//! an audio chunk known only from its authenticated index entry); the verifier checks
//! the chunk's place, the timeline, the metadata, the index chain, the manifest, the
//! totals, the recovered flag and the context, and says what the chunk was.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::crypto::{Context, Integrity, MANIFEST_LABEL};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::*;
use crate::io::Limits;
use crate::meta::{self, Annotation, Event, EventKind, Participant, RecordingInfo};

/// What an accepted chunk was.
#[derive(Debug)]
pub(crate) enum Checked {
    Audio,
    Info,
    Participant(Participant),
    Event(Event),
    Annotation(Annotation),
    Index(IndexHeader),
    Skipped,
    End(Totals),
}

/// The rule for a chunk's prefix, checked before anything else of the chunk is read
/// or allocated: its body length against the minimum, the header's cap and the
/// reader's limit; its stored index against `index`, the one expected at `place`.
/// Returns the body length. Every reader (streaming, read-ahead, random access) uses it.
pub(crate) fn check_prefix(
    header: &Header,
    limits: &Limits,
    prefix: &[u8; PREFIX_LEN],
    place: Place,
    index: u64,
) -> Result<usize> {
    let len = u32::from_be_bytes(prefix[0..4].try_into().expect("4 bytes"));
    let stored = u64::from_be_bytes(prefix[4..12].try_into().expect("8 bytes"));
    if len < BODY_HEADER_LEN as u32 {
        return Err(Error::malformed(
            format!("chunk body length {len} is below the minimum of 12"),
            place,
        ));
    }
    let cap = header.max_chunk_len.min(limits.max_chunk_len);
    if len > cap {
        return Err(Error::new(ErrorKind::LimitExceeded {
            what: "chunk body length",
            found: len as u64,
            limit: cap as u64,
            place,
        }));
    }
    if stored != index {
        // A dropped, duplicated or reordered chunk: it is not authentic here.
        return Err(Error::new(ErrorKind::AuthFailed { place }));
    }
    Ok(len as usize)
}

/// Per-participant bytes charged against the metadata budget besides the id itself.
const PARTICIPANT_OVERHEAD: usize = 64;

/// See the module docs.
pub(crate) struct Verifier {
    header: Header,
    level: Integrity,
    limits: Limits,
    block_align: usize,
    /// File offset of chunk 0, for error places.
    base: u64,
    /// The file's context digest, when it is bound.
    context: Option<[u8; 32]>,
    next_index: u64,
    offset: u64,
    samples: u64,
    audio_bytes: u64,
    manifest: Sha256,
    /// The index entries expected for the chunks since the last INDX, as bytes (at
    /// most one INDX payload, so within the chunk cap).
    expected_entries: Vec<u8>,
    idx_count: u64,
    idx_first: u64,
    last_index_offset: u64,
    /// Timestamp of the latest metadata chunk, and the largest since the last AUDI.
    last_meta_ts: u64,
    pending_max: Option<u64>,
    participants: HashSet<String>,
    budget_used: usize,
    recovered_events: u32,
    /// The value of the `sasf.recovered` event: where the original stopped.
    recovered_value: Option<serde_json::Value>,
    info: RecordingInfo,
    totals: Option<Totals>,
}

impl Verifier {
    pub fn new(
        header: Header,
        h: &[u8; 32],
        limits: Limits,
        base: u64,
        context: Option<[u8; 32]>,
    ) -> Verifier {
        let mut manifest = Sha256::new();
        manifest.update(MANIFEST_LABEL);
        manifest.update(h);
        Verifier {
            level: header.integrity,
            block_align: header.format.block_align(),
            header,
            limits,
            base,
            context,
            next_index: 0,
            offset: 0,
            samples: 0,
            audio_bytes: 0,
            manifest,
            expected_entries: Vec::new(),
            idx_count: 0,
            idx_first: 0,
            last_index_offset: NO_OFFSET,
            last_meta_ts: 0,
            pending_max: None,
            participants: HashSet::new(),
            budget_used: 0,
            recovered_events: 0,
            recovered_value: None,
            info: RecordingInfo::default(),
            totals: None,
        }
    }

    /// Index of the chunk expected next.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }
    /// Stream offset of the chunk expected next.
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// File offset of chunk 0.
    pub fn base(&self) -> u64 {
        self.base
    }
    /// File offset of the chunk expected next.
    pub fn file_offset(&self) -> u64 {
        self.base + self.offset
    }
    /// Audio frames accepted so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }
    pub fn info(&self) -> &RecordingInfo {
        &self.info
    }
    pub fn totals(&self) -> Option<&Totals> {
        self.totals.as_ref()
    }
    pub fn recovered_value(&self) -> Option<&serde_json::Value> {
        self.recovered_value.as_ref()
    }
    pub fn tag_len(&self) -> usize {
        self.level.tag_len()
    }
    pub fn header(&self) -> &Header {
        &self.header
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The place of the chunk expected next.
    pub fn place(&self) -> Place {
        Place::chunk(self.next_index, self.file_offset())
    }

    /// Checks a prefix before anything else of its chunk is read (possibly ahead of
    /// the chunks accepted so far): see [`check_prefix`].
    pub fn check_prefix_at(&self, prefix: &[u8; PREFIX_LEN], index: u64, at: u64) -> Result<usize> {
        check_prefix(
            &self.header,
            &self.limits,
            prefix,
            Place::chunk(index, at),
            index,
        )
    }

    /// A truncation error at file offset `at`.
    pub fn truncated(&self, at: u64) -> Error {
        Error::new(ErrorKind::Truncated {
            after_chunk: self.next_index.checked_sub(1),
            at_sample: self.samples,
            sample_rate: self.header.format.sample_rate,
            offset: at,
        })
    }

    /// Accepts the next chunk, already authenticated: `body` is its plaintext body
    /// (type, timestamp, payload) and `digest` its digest (§6.3).
    pub fn accept(&mut self, body: &[u8], digest: &[u8; 32]) -> Result<Checked> {
        let r = self.accept_inner(body, digest);
        if r.is_ok() {
            self.offset += (PREFIX_LEN + body.len() + self.tag_len()) as u64;
            self.next_index += 1;
        }
        r
    }

    /// Accepts an AUDI chunk known only from its authenticated index entry (random
    /// access): `len` is its body length, implied by the offsets of the index.
    pub fn accept_indexed_audio(&mut self, entry: &IndexEntry, len: usize) -> Result<()> {
        let place = self.place();
        if entry.offset != self.offset || entry.chunk_type != ChunkType::AUDIO {
            return Err(Error::malformed(
                "an index entry does not match the chunk at its place",
                place,
            ));
        }
        if len < BODY_HEADER_LEN || len > self.header.max_chunk_len as usize {
            return Err(Error::malformed(
                "the index implies an impossible chunk length",
                place,
            ));
        }
        self.check_timestamp(ChunkType::AUDIO, entry.timestamp, place)?;
        self.audio(len - BODY_HEADER_LEN, place)?;
        self.describe(entry);
        self.manifest.update(entry.digest);
        self.offset += (PREFIX_LEN + len + self.tag_len()) as u64;
        self.next_index += 1;
        Ok(())
    }

    fn describe(&mut self, e: &IndexEntry) {
        if self.expected_entries.len() < self.header.max_chunk_len as usize {
            self.expected_entries.extend_from_slice(&e.to_bytes());
        }
        self.idx_count += 1;
    }

    fn check_timestamp(&mut self, ty: ChunkType, ts: u64, place: Place) -> Result<()> {
        let positional = ty == ChunkType::AUDIO || ty == ChunkType::INDEX || ty == ChunkType::END;
        if positional {
            if ts != self.samples {
                return Err(Error::malformed(
                    format!(
                        "timestamp {ts} but the audio before this chunk ends at frame {}",
                        self.samples
                    ),
                    place,
                ));
            }
            return Ok(());
        }
        if ts < self.samples {
            return Err(Error::malformed(
                format!(
                    "metadata at frame {ts} comes after audio up to frame {}",
                    self.samples
                ),
                place,
            ));
        }
        if ts < self.last_meta_ts {
            return Err(Error::malformed(
                format!(
                    "metadata at frame {ts} comes after metadata at frame {}",
                    self.last_meta_ts
                ),
                place,
            ));
        }
        self.last_meta_ts = ts;
        self.pending_max = Some(self.pending_max.map_or(ts, |m| m.max(ts)));
        Ok(())
    }

    fn audio(&mut self, payload_len: usize, place: Place) -> Result<()> {
        if payload_len == 0 || !payload_len.is_multiple_of(self.block_align) {
            return Err(Error::malformed(
                format!(
                    "audio payload of {payload_len} bytes is not a positive whole number of {}-byte frames",
                    self.block_align
                ),
                place,
            ));
        }
        let frames = (payload_len / self.block_align) as u64;
        if let Some(m) = self.pending_max.take() {
            if m >= self.samples + frames {
                return Err(Error::malformed(
                    format!(
                        "metadata at frame {m} is not inside the audio chunk after it (frames {}..{})",
                        self.samples,
                        self.samples + frames
                    ),
                    place,
                ));
            }
        }
        self.samples += frames;
        self.audio_bytes += payload_len as u64;
        Ok(())
    }

    fn accept_inner(&mut self, body: &[u8], digest: &[u8; 32]) -> Result<Checked> {
        let place = self.place();
        let ty = ChunkType([body[0], body[1], body[2], body[3]]);
        let ts = u64::from_be_bytes(body[4..12].try_into().expect("8 bytes"));
        let payload = &body[BODY_HEADER_LEN..];
        if (self.next_index == 0) != (ty == ChunkType::INFO) {
            return Err(Error::malformed(
                if self.next_index == 0 {
                    "the first chunk is not an INFO chunk"
                } else {
                    "an INFO chunk after chunk 0"
                },
                place,
            ));
        }
        if ty == ChunkType::INFO && ts != 0 {
            return Err(Error::malformed(
                "the INFO chunk's timestamp is not 0",
                place,
            ));
        }
        let known = is_metadata_type(ty)
            || ty == ChunkType::AUDIO
            || ty == ChunkType::INDEX
            || ty == ChunkType::END;
        if !known && ty.is_critical() {
            return Err(Error::unsupported(
                format!("critical chunk type {:?}", ty.display()),
                place,
            ));
        }
        self.check_timestamp(ty, ts, place)?;
        let described = ty != ChunkType::INDEX && ty != ChunkType::END;
        let entry = IndexEntry {
            chunk_type: ty,
            offset: self.offset,
            timestamp: ts,
            digest: *digest,
        };
        let out = match ty {
            ChunkType::AUDIO => {
                self.audio(payload.len(), place)?;
                Checked::Audio
            }
            t if is_metadata_type(t) => self.metadata(t, ts, payload, place)?,
            ChunkType::INDEX => Checked::Index(self.index(payload, place)?),
            ChunkType::END => Checked::End(self.end(payload, place)?),
            _ => Checked::Skipped,
        };
        if described {
            self.describe(&entry);
        }
        if ty != ChunkType::END {
            self.manifest.update(digest);
        }
        Ok(out)
    }

    fn metadata(
        &mut self,
        ty: ChunkType,
        ts: u64,
        payload: &[u8],
        place: Place,
    ) -> Result<Checked> {
        if payload.len() < META_LEN_FIELD {
            return Err(Error::malformed(
                "metadata payload has no length field",
                place,
            ));
        }
        let n = u32::from_be_bytes(payload[0..4].try_into().expect("4 bytes")) as usize;
        let body_len = BODY_HEADER_LEN + payload.len();
        let json_end = META_LEN_FIELD
            .checked_add(n)
            .filter(|&e| e <= payload.len());
        let Some(json_end) = json_end else {
            return Err(Error::malformed(
                format!("metadata length {n} runs past the chunk"),
                place,
            ));
        };
        if meta_body_len(n, self.header.max_chunk_len) != Some(body_len) {
            return Err(Error::malformed(
                "metadata chunk is not padded to its size bucket",
                place,
            ));
        }
        if payload[json_end..].iter().any(|&b| b != 0) {
            return Err(Error::malformed("metadata padding is not zero", place));
        }
        let json = &payload[META_LEN_FIELD..json_end];
        let name = match ty {
            ChunkType::INFO => "recording".to_string(),
            t => t.display(),
        };
        let v = meta::parse_payload(
            json,
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
        let channels = self.header.format.channels;
        Ok(match ty {
            ChunkType::INFO => {
                self.info =
                    RecordingInfo::from_json(&v, "recording", channels).map_err(as_malformed)?;
                self.check_context(place)?;
                Checked::Info
            }
            ChunkType::PARTICIPANT => {
                let ids = &self.participants;
                let p = Participant::parse(&v, &name, channels, &|id| ids.contains(id))
                    .map_err(as_malformed)?;
                if self.participants.len() >= self.limits.max_participants {
                    return Err(Error::new(ErrorKind::LimitExceeded {
                        what: "participant count",
                        found: self.participants.len() as u64 + 1,
                        limit: self.limits.max_participants as u64,
                        place,
                    }));
                }
                let cost = p.id.len() + PARTICIPANT_OVERHEAD;
                if self.budget_used + cost > self.limits.max_metadata_bytes {
                    return Err(Error::new(ErrorKind::LimitExceeded {
                        what: "metadata budget in bytes",
                        found: (self.budget_used + cost) as u64,
                        limit: self.limits.max_metadata_bytes as u64,
                        place,
                    }));
                }
                if !self.participants.insert(p.id.clone()) {
                    return Err(Error::malformed(
                        format!("duplicate participant id {:?}", p.id),
                        place,
                    ));
                }
                self.budget_used += cost;
                Checked::Participant(p)
            }
            ChunkType::EVENT => {
                let ids = &self.participants;
                let known = |id: &str| ids.contains(id);
                let e = Event::from_payload(&v, &name, ts, Some(&known)).map_err(as_malformed)?;
                if let EventKind::Custom { key, value } = &e.kind {
                    if key == crate::recover::RECOVERED_KEY {
                        self.recovered_events += 1;
                        self.recovered_value = Some(value.clone());
                    }
                }
                Checked::Event(e)
            }
            _ => {
                let a = Annotation::from_payload(&v, &name, ts).map_err(as_malformed)?;
                Checked::Annotation(a)
            }
        })
    }

    /// A bound file's INFO must name the context it is bound to.
    fn check_context(&self, place: Place) -> Result<()> {
        let Some(c) = self.context else {
            return Ok(());
        };
        let tenant = self.info.extra.get("tenant").and_then(|t| t.as_str());
        let ok = match &self.info.id {
            Some(id) => Context::new(id.clone(), tenant)
                .map(|ctx| bool::from(ctx.digest().ct_eq(&c)))
                .unwrap_or(false),
            None => false,
        };
        if !ok {
            return Err(Error::malformed(
                "the INFO chunk's id and tenant are not the context the file is bound to",
                place,
            ));
        }
        Ok(())
    }

    fn index(&mut self, payload: &[u8], place: Place) -> Result<IndexHeader> {
        let h = IndexHeader::parse(payload).ok_or_else(|| {
            Error::malformed("index payload length does not match its entry count", place)
        })?;
        let matches = payload[INDEX_HEADER_LEN..] == self.expected_entries[..];
        self.expected_entries.clear();
        if h.prev_index_offset != self.last_index_offset
            || h.first_chunk != self.idx_first
            || h.count as u64 != self.idx_count
            || h.count == 0
            || !matches
        {
            return Err(Error::malformed(
                "the index does not match the chunks it describes",
                place,
            ));
        }
        self.last_index_offset = self.offset;
        self.idx_first = self.next_index + 1;
        self.idx_count = 0;
        Ok(h)
    }

    fn end(&mut self, payload: &[u8], place: Place) -> Result<Totals> {
        let t = Totals::from_payload(payload).ok_or_else(|| {
            Error::malformed(
                "end payload is not 80 bytes with zero reserved bytes",
                place,
            )
        })?;
        let manifest: [u8; 32] = self.manifest.clone().finalize().into();
        let bad = |what: &str| {
            Error::malformed(format!("end chunk {what} does not match the stream"), place)
        };
        if self.idx_count != 0 {
            return Err(Error::malformed(
                "the chunks before the end chunk are not all described by an index chunk",
                place,
            ));
        }
        if self.pending_max.is_some_and(|m| m > self.samples) {
            return Err(Error::malformed(
                "metadata lies after the end of the audio",
                place,
            ));
        }
        if t.chunks != self.next_index {
            return Err(bad("chunk count"));
        }
        if t.samples != self.samples {
            return Err(bad("frame total"));
        }
        if t.audio_bytes != self.audio_bytes {
            return Err(bad("audio byte total"));
        }
        if t.stream_bytes != self.offset {
            return Err(bad("stream byte total"));
        }
        if t.last_index_offset != self.last_index_offset {
            return Err(bad("last index offset"));
        }
        if !bool::from(t.manifest.ct_eq(&manifest)) {
            return Err(bad("manifest"));
        }
        if t.flags & !END_FLAG_RECOVERED != 0 {
            return Err(Error::malformed(
                format!("unknown end flags {:#x}", t.flags),
                place,
            ));
        }
        let want = if t.recovered() { 1 } else { 0 };
        if self.recovered_events != want {
            return Err(Error::malformed(
                format!(
                    "the recovered flag is {} but the stream holds {} sasf.recovered event(s)",
                    if t.recovered() { "set" } else { "clear" },
                    self.recovered_events
                ),
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
        self.totals = Some(t);
        Ok(t)
    }
}
