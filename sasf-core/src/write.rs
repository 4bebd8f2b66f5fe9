//! The streaming writer: [`WriterBuilder`] configures, [`WriterBuilder::wrap_output`]
//! writes the header and gives a [`Writer`], and [`Writer::finish`] writes the index
//! and end chunks. The writer never seeks.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::audio::AudioFormat;
use crate::crypto::{keyless_header_tag, FileKeys, Integrity, Key, Suite, Tag, MANIFEST_LABEL};
use crate::error::{Error, Result};
use crate::format::*;
use crate::meta::rules::{self, Origin};
use crate::meta::{check_json_limits, Annotation, Event, Participant, RecordingInfo};
use crate::pool::{Ordered, Workers};
use crate::read::Limits;

/// Default audio per chunk: one second, which also bounds what a crash can lose.
pub const DEFAULT_CHUNK_SECONDS: u32 = 1;
/// Default number of chunks described by one index chunk.
pub const DEFAULT_INDEX_INTERVAL: u32 = 1024;
/// Default chunk-length cap declared in the header: 1 MiB.
pub const DEFAULT_MAX_CHUNK_LEN: u32 = 1024 * 1024;

/// Configures a SASF stream. Consumed by [`WriterBuilder::wrap_output`].
///
/// ```
/// use sasf_core::{AudioFormat, Encoding, Key, WriterBuilder, Decoder, Item};
/// let format = AudioFormat::new(Encoding::MuLaw, 2, 8000).unwrap();
/// let key = Key::from_bytes([7; 32]);
/// let mut w = WriterBuilder::new(format).encrypted(key.clone()).wrap_output(Vec::new()).unwrap();
/// w.write_audio(&[0xFF; 16000]).unwrap();
/// let file = w.finish().unwrap();
///
/// let mut r = Decoder::new(&file[..]).unwrap().open(Some(&key)).unwrap();
/// let mut audio = Vec::new();
/// while let Some(item) = r.next_item().unwrap() {
///     if let Item::Audio { data, .. } = item { audio.extend_from_slice(data); }
/// }
/// assert_eq!(audio.len(), 16000);
/// ```
#[derive(Debug, Clone)]
pub struct WriterBuilder {
    format: AudioFormat,
    integrity: Integrity,
    key: Option<Key>,
    info: RecordingInfo,
    max_chunk_len: u32,
    chunk_frames: Option<u64>,
    index_interval: u32,
    retention_days: u32,
    duration_class: DurationClass,
    salt: Option<[u8; 32]>,
    flush_each_chunk: bool,
    recovered: bool,
    reader_limits: Limits,
    threads: usize,
}

impl WriterBuilder {
    /// A keyless (level 1) stream of `format` with default settings.
    pub fn new(format: AudioFormat) -> WriterBuilder {
        WriterBuilder {
            format,
            integrity: Integrity::Keyless,
            key: None,
            info: RecordingInfo::default(),
            max_chunk_len: DEFAULT_MAX_CHUNK_LEN,
            chunk_frames: None,
            index_interval: DEFAULT_INDEX_INTERVAL,
            retention_days: 0,
            duration_class: DurationClass::Undeclared,
            salt: None,
            flush_each_chunk: true,
            recovered: false,
            reader_limits: Limits::default(),
            threads: 1,
        }
    }
    /// Level 2: HMAC-SHA256 under `key`.
    pub fn authenticated(mut self, key: Key) -> Self {
        self.integrity = Integrity::Hmac;
        self.key = Some(key);
        self
    }
    /// Level 3: AES-256-GCM under `key`.
    pub fn encrypted(mut self, key: Key) -> Self {
        self.integrity = Integrity::Encrypted;
        self.key = Some(key);
        self
    }
    /// The recording information (id, start time, channel map) for the INFO chunk.
    pub fn info(mut self, info: RecordingInfo) -> Self {
        self.info = info;
        self
    }
    /// The chunk-length cap declared in the header (1 KiB ..= 16 MiB).
    pub fn max_chunk_len(mut self, n: u32) -> Self {
        self.max_chunk_len = n;
        self
    }
    /// Audio frames per chunk (the flush interval); default one second, and never more
    /// than fits under the chunk-length cap.
    pub fn chunk_frames(mut self, frames: u64) -> Self {
        self.chunk_frames = Some(frames);
        self
    }
    /// Chunks per index chunk (default 1024).
    pub fn index_interval(mut self, n: u32) -> Self {
        self.index_interval = n;
        self
    }
    /// Retention in days (public header field).
    pub fn retention_days(mut self, days: u32) -> Self {
        self.retention_days = days;
        self
    }
    /// Declared duration class (public header field); checked by readers at the end.
    pub fn duration_class(mut self, c: DurationClass) -> Self {
        self.duration_class = c;
        self
    }
    /// Fixes the salt instead of drawing a random one. Only for reproducible test
    /// vectors: a salt must never be used twice with one key.
    pub fn salt_for_test_vectors(mut self, salt: [u8; 32]) -> Self {
        self.salt = Some(salt);
        self
    }
    /// Whether to flush the output after every chunk (default true, for crash safety).
    pub fn flush_each_chunk(mut self, yes: bool) -> Self {
        self.flush_each_chunk = yes;
        self
    }
    /// Threads that seal chunks (default 1: everything on the caller's thread). With
    /// more, chunks are sealed in parallel and written in order; the bytes written are
    /// the same as with one thread.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }
    /// Marks the stream as rebuilt by a recovery tool (a flag in the end chunk).
    pub fn recovered(mut self, yes: bool) -> Self {
        self.recovered = yes;
        self
    }

    /// The reader limits the metadata must fit (default [`Limits::default`]): a record
    /// that a reader with these limits would refuse (JSON size or depth, participant
    /// count) is refused at the call. Raise them only for readers configured to match.
    pub fn reader_limits(mut self, limits: Limits) -> Self {
        self.reader_limits = limits;
        self
    }

    /// Writes the header and the INFO chunk to `out` and returns the writer.
    pub fn wrap_output<W: Write>(self, out: W) -> Result<Writer<W>> {
        self.wrap(Sink::Direct(out))
    }

    /// Like [`WriterBuilder::wrap_output`], but with more than one thread (see
    /// [`WriterBuilder::threads`]) the output is written by a thread of its own, so
    /// writing overlaps with reading the input and sealing. The bytes are the same.
    pub fn wrap_output_threaded<W: Write + Send + 'static>(self, out: W) -> Result<Writer<W>> {
        if self.threads > 1 {
            let flush = self.flush_each_chunk;
            self.wrap(Sink::Thread(OutThread::spawn(out, flush)))
        } else {
            self.wrap(Sink::Direct(out))
        }
    }

    fn wrap<W: Write>(self, mut out: Sink<W>) -> Result<Writer<W>> {
        let f = self.format;
        AudioFormat::new(f.encoding, f.channels, f.sample_rate)?;
        if !(MIN_CHUNK_LEN..=MAX_CHUNK_LEN).contains(&self.max_chunk_len) {
            return Err(Error::misuse(format!(
                "chunk-length cap must be {MIN_CHUNK_LEN}..={MAX_CHUNK_LEN}"
            )));
        }
        let ba = f.block_align() as u64;
        let max_frames = (self.max_chunk_len as u64 - BODY_HEADER_LEN as u64) / ba;
        if max_frames == 0 {
            return Err(Error::misuse("one audio frame does not fit in a chunk"));
        }
        let chunk_frames = self
            .chunk_frames
            .unwrap_or(f.sample_rate as u64 * DEFAULT_CHUNK_SECONDS as u64)
            .clamp(1, max_frames);
        let max_entries =
            (self.max_chunk_len as usize - BODY_HEADER_LEN - INDEX_HEADER_LEN) / INDEX_ENTRY_LEN;
        let index_interval = (self.index_interval as usize).clamp(1, max_entries);
        // Refused before a byte is written: a reader would refuse the INFO chunk.
        rules::check_info(&self.info, f.channels, "recording")?;
        let info = record_bytes(
            &self.info.to_json(),
            self.max_chunk_len,
            &self.reader_limits,
            "recording",
        )?;
        let salt = match self.salt {
            Some(s) => s,
            None => {
                let mut s = [0u8; 32];
                getrandom::getrandom(&mut s).map_err(|e| {
                    Error::from(std::io::Error::other(format!(
                        "random generator failed: {e}"
                    )))
                })?;
                s
            }
        };
        let keys = match (self.integrity, &self.key) {
            (Integrity::Keyless, _) => None,
            (level, Some(k)) => Some(FileKeys::derive(level, k, &salt)),
            (_, None) => return Err(Error::misuse("this integrity level needs a key")),
        };
        let mut header = Header {
            integrity: self.integrity,
            format: f,
            max_chunk_len: self.max_chunk_len,
            retention_days: self.retention_days,
            duration_class: self.duration_class,
            salt,
            commitment: keys.as_ref().map(|k| k.commitment).unwrap_or([0u8; 32]),
            extensions: Vec::new(),
            tag: [0u8; 32],
        };
        let unsigned = header.unsigned_bytes();
        header.tag = match &keys {
            Some(k) => k.header_tag(&unsigned),
            None => keyless_header_tag(&unsigned),
        };
        let header_bytes = header.to_bytes();
        let h: [u8; 32] = Sha256::digest(&header_bytes).into();
        out.raw(&header_bytes)?;
        let mut manifest = Sha256::new();
        manifest.update(MANIFEST_LABEL);
        let mut w = Writer {
            out,
            suite: Arc::new(keys.map(|k| k.suite).unwrap_or(Suite::Keyless)),
            tag_len: self.integrity.tag_len(),
            h,
            header,
            block_align: ba as usize,
            chunk_frames,
            index_interval,
            flush_each_chunk: self.flush_each_chunk,
            recovered: self.recovered,
            reader_limits: self.reader_limits,
            next_index: 0,
            offset: header_bytes.len() as u64,
            samples_sealed: 0,
            audio_bytes: 0,
            body: Vec::with_capacity(BODY_HEADER_LEN + (chunk_frames * ba) as usize),
            pending: Vec::new(),
            participants: HashMap::new(),
            manifest,
            index_entries: Vec::new(),
            index_first: 0,
            last_index_offset: NO_OFFSET,
            dead: false,
            par: (self.threads > 1).then(|| Par {
                workers: Workers::new(self.threads),
                done: Ordered::new(),
                pending: VecDeque::new(),
                next_seq: 0,
                free: Vec::new(),
                // Enough chunks in flight to keep every worker busy, bounded in bytes.
                max_inflight: crate::pool::max_inflight(self.max_chunk_len, self.threads),
            }),
        };
        w.body.clear();
        w.write_chunk(ChunkType::INFO, 0, Some(&info))?;
        w.body_reset();
        Ok(w)
    }
}

/// Serializes a metadata record, refusing it at the call when a reader with `limits`
/// would refuse it for its size or depth, or it does not fit under the chunk cap.
fn record_bytes(v: &Value, max_chunk_len: u32, limits: &Limits, path: &str) -> Result<Vec<u8>> {
    let bytes = serde_json::to_vec(v).map_err(|e| Error::misuse(e.to_string()))?;
    let max = limits
        .max_json_len
        .min(max_chunk_len as usize - BODY_HEADER_LEN);
    check_json_limits(&bytes, max, limits.max_json_depth).map_err(|(what, found, limit)| {
        Error::metadata(
            path,
            format!(
                "{what} is {found}, over the limit of {limit} (the chunk cap or the reader limits)"
            ),
        )
    })?;
    Ok(bytes)
}

/// The parallel sealing state of a [`Writer`].
struct Par {
    workers: Workers,
    done: Ordered<(Vec<u8>, Tag)>,
    /// Chunks handed to the workers, oldest first: sequence number, prefix and type.
    pending: VecDeque<(u64, [u8; PREFIX_LEN], ChunkType)>,
    next_seq: u64,
    /// Body buffers to reuse.
    free: Vec<Vec<u8>>,
    max_inflight: usize,
}

/// Where a [`Writer`]'s bytes go: straight to the output, or through a thread that
/// writes them while the caller's thread reads and seals the next chunks.
enum Sink<W> {
    Direct(W),
    Thread(OutThread<W>),
}

enum OutMsg {
    Raw(Vec<u8>),
    Chunk([u8; PREFIX_LEN], Vec<u8>, Tag),
    Flush(std::sync::mpsc::SyncSender<std::io::Result<()>>),
}

struct OutThread<W> {
    tx: Option<std::sync::mpsc::SyncSender<OutMsg>>,
    handle: Option<std::thread::JoinHandle<(W, std::io::Result<()>)>>,
    /// Body buffers the thread has written, for reuse.
    free: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl<W: Write + Send + 'static> OutThread<W> {
    fn spawn(mut out: W, flush_each_chunk: bool) -> OutThread<W> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<OutMsg>(4);
        let (free_tx, free) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("sasf-output".into())
            .spawn(move || {
                let mut res = Ok(());
                for msg in rx {
                    match msg {
                        OutMsg::Raw(b) => res = out.write_all(&b),
                        OutMsg::Chunk(prefix, body, tag) => {
                            res = (|| {
                                out.write_all(&prefix)?;
                                out.write_all(&body)?;
                                out.write_all(tag.as_slice())?;
                                if flush_each_chunk {
                                    out.flush()?;
                                }
                                Ok(())
                            })();
                            let _ = free_tx.send(body);
                        }
                        OutMsg::Flush(reply) => {
                            res = out.flush();
                            let r = match &res {
                                Ok(()) => Ok(()),
                                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                            };
                            let _ = reply.send(r);
                        }
                    }
                    if res.is_err() {
                        // Stop taking chunks: the writer's next send fails at once and
                        // reports this error, instead of sealing the rest of the input.
                        break;
                    }
                }
                (out, res)
            })
            .expect("spawning the output thread");
        OutThread {
            tx: Some(tx),
            handle: Some(handle),
            free,
        }
    }
}

impl<W> OutThread<W> {
    fn send(&mut self, msg: OutMsg) -> std::io::Result<()> {
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(msg).is_ok())
            .unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // The thread stopped: it failed to write; its error is the one to report.
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| std::io::Error::other("the output thread stopped")))
        }
    }

    fn join(&mut self) -> std::io::Result<W> {
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok((w, Ok(())))) => Ok(w),
            Some(Ok((_, Err(e)))) => Err(e),
            Some(Err(_)) => Err(std::io::Error::other("the output thread panicked")),
            None => Err(std::io::Error::other("the output thread already stopped")),
        }
    }
}

impl<W> Drop for OutThread<W> {
    fn drop(&mut self) {
        // A writer dropped without `finish`: let the thread write what it has and
        // drop the output (for a temporary file, that removes it) before returning.
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl<W: Write> Sink<W> {
    fn raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Direct(w) => w.write_all(b),
            Sink::Thread(t) => t.send(OutMsg::Raw(b.to_vec())),
        }
    }

    /// Writes a sealed chunk whose body the caller keeps.
    fn put(
        &mut self,
        prefix: &[u8; PREFIX_LEN],
        body: &[u8],
        tag: &Tag,
        flush: bool,
    ) -> std::io::Result<()> {
        match self {
            Sink::Direct(w) => {
                w.write_all(prefix)?;
                w.write_all(body)?;
                w.write_all(tag.as_slice())?;
                if flush {
                    w.flush()?;
                }
                Ok(())
            }
            Sink::Thread(t) => t.send(OutMsg::Chunk(*prefix, body.to_vec(), *tag)),
        }
    }

    /// Writes a sealed chunk, handing over its body; returns a buffer to reuse.
    fn put_owned(
        &mut self,
        prefix: &[u8; PREFIX_LEN],
        body: Vec<u8>,
        tag: &Tag,
        flush: bool,
    ) -> std::io::Result<Option<Vec<u8>>> {
        match self {
            Sink::Direct(_) => {
                self.put(prefix, &body, tag, flush)?;
                Ok(Some(body))
            }
            Sink::Thread(t) => {
                t.send(OutMsg::Chunk(*prefix, body, *tag))?;
                Ok(t.free.try_recv().ok())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Direct(w) => w.flush(),
            Sink::Thread(t) => {
                let (reply, answer) = std::sync::mpsc::sync_channel(1);
                t.send(OutMsg::Flush(reply))?;
                answer
                    .recv()
                    .unwrap_or_else(|_| Err(std::io::Error::other("the output thread stopped")))
            }
        }
    }

    fn into_inner(self) -> std::io::Result<W> {
        match self {
            Sink::Direct(w) => Ok(w),
            Sink::Thread(mut t) => t.join(),
        }
    }
}

/// A metadata record waiting for the audio to reach its time, already checked and
/// serialized (so nothing about it can fail later).
struct Pending {
    at: u64,
    ty: ChunkType,
    bytes: Vec<u8>,
}

/// A SASF stream being written. Created by [`WriterBuilder::wrap_output`]; must be
/// completed with [`Writer::finish`] (dropping it leaves a stream that readers report
/// as truncated, and that a recovery tool can salvage).
pub struct Writer<W: Write> {
    out: Sink<W>,
    suite: Arc<Suite>,
    tag_len: usize,
    h: [u8; 32],
    header: Header,
    block_align: usize,
    chunk_frames: u64,
    index_interval: usize,
    flush_each_chunk: bool,
    recovered: bool,
    reader_limits: Limits,
    next_index: u64,
    offset: u64,
    samples_sealed: u64,
    audio_bytes: u64,
    /// Body of the audio chunk being filled: 12-byte body header, then samples.
    body: Vec<u8>,
    pending: Vec<Pending>,
    /// Participant id -> sample position of its PART chunk.
    participants: HashMap<String, u64>,
    manifest: Sha256,
    index_entries: Vec<IndexEntry>,
    index_first: u64,
    last_index_offset: u64,
    dead: bool,
    par: Option<Par>,
}

impl<W: Write> Writer<W> {
    /// The header written.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Audio frames accepted so far (sealed or buffered).
    pub fn position(&self) -> u64 {
        self.samples_sealed + self.buffered_frames()
    }

    /// Number of chunks written so far.
    pub fn chunks_written(&self) -> u64 {
        self.next_index
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    fn buffered_frames(&self) -> u64 {
        ((self.body.len() - BODY_HEADER_LEN) / self.block_align) as u64
    }

    fn body_reset(&mut self) {
        self.body.clear();
        self.body.resize(BODY_HEADER_LEN, 0);
    }

    fn alive(&self) -> Result<()> {
        if self.dead {
            Err(Error::misuse(
                "the writer failed earlier and cannot be used",
            ))
        } else {
            Ok(())
        }
    }

    /// Appends audio in the file's encoding (interleaved frames, little-endian). A
    /// partial frame is kept until the rest arrives. Each chunk is sealed and written
    /// as soon as it is full.
    pub fn write_audio(&mut self, mut data: &[u8]) -> Result<()> {
        self.alive()?;
        let r = (|| {
            while !data.is_empty() {
                self.emit_due()?;
                let limit = self.current_limit_frames();
                let want = BODY_HEADER_LEN + limit as usize * self.block_align;
                let take = (want - self.body.len()).min(data.len());
                self.body.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.body.len() == want {
                    self.seal_audio(limit)?;
                }
            }
            Ok(())
        })();
        self.poison_on_err(r)
    }

    /// Frames allowed in the current audio chunk: up to the chunk size or the next
    /// pending metadata item, whichever comes first.
    fn current_limit_frames(&self) -> u64 {
        match self.pending.first() {
            Some(p) => self.chunk_frames.min(p.at - self.samples_sealed),
            None => self.chunk_frames,
        }
    }

    /// Seals the first `frames` buffered frames as an audio chunk, keeping the rest.
    fn seal_audio(&mut self, frames: u64) -> Result<()> {
        if frames == 0 {
            return Ok(());
        }
        let n = frames as usize * self.block_align;
        let extra: Vec<u8> = self.body[BODY_HEADER_LEN + n..].to_vec();
        self.body.truncate(BODY_HEADER_LEN + n);
        let ts = self.samples_sealed;
        // Counted before writing: an index chunk written right after this one must
        // carry the position after it.
        self.samples_sealed += frames;
        self.audio_bytes += n as u64;
        self.write_chunk(ChunkType::AUDIO, ts, None)?;
        self.body_reset();
        self.body.extend_from_slice(&extra);
        Ok(())
    }

    /// Emits every pending item whose time is the current sealed position.
    fn emit_due(&mut self) -> Result<()> {
        while self
            .pending
            .first()
            .is_some_and(|p| p.at == self.samples_sealed)
        {
            let p = self.pending.remove(0);
            let saved = std::mem::take(&mut self.body);
            let r = self.write_chunk(p.ty, p.at, Some(&p.bytes));
            self.body = saved;
            r?;
        }
        Ok(())
    }

    /// Queues a metadata item at `at`, splitting buffered audio if `at` falls inside it.
    fn enqueue(&mut self, at: u64, ty: ChunkType, bytes: Vec<u8>) -> Result<()> {
        let pos = self.pending.partition_point(|p| p.at <= at);
        self.pending.insert(pos, Pending { at, ty, bytes });
        let r = (|| {
            if at <= self.position() {
                // Seal the buffered audio before `at`, then emit what is due.
                let k = at - self.samples_sealed;
                self.seal_audio(k)?;
                self.emit_due()?;
            }
            Ok(())
        })();
        self.poison_on_err(r)
    }

    /// Refuses a record at `at` once the writer is dead or the audio is past `at`.
    fn check_time(&self, at: u64) -> Result<()> {
        self.alive()?;
        if at < self.samples_sealed {
            return Err(Error::misuse(format!(
                "metadata at sample {at} is before audio already sealed (sample {})",
                self.samples_sealed
            )));
        }
        Ok(())
    }

    /// Declares a participant at the current position. Events may name it from then on.
    ///
    /// Refused (`invalid-metadata`, naming the member, e.g. `participant.id`) when a
    /// reader would refuse its PART chunk (`docs/FORMAT.md` §8.2): an empty or too long
    /// id, an id already declared, a channel out of range, an `extra` member SASF
    /// defines, a record past the default reader limits; or past the default
    /// participant count of [`crate::Limits`].
    pub fn add_participant(&mut self, p: Participant) -> Result<()> {
        let at = self.position();
        self.check_time(at)?;
        let known = &self.participants;
        rules::check_participant(
            &p,
            self.header.format.channels,
            &|id| known.contains_key(id),
            "participant",
        )?;
        let limit = self.reader_limits.max_participants;
        if self.participants.len() >= limit {
            return Err(Error::metadata(
                "participant",
                format!("more than {limit} participants, the reader limit"),
            ));
        }
        let bytes = record_bytes(
            &p.to_json(),
            self.header.max_chunk_len,
            &self.reader_limits,
            "participant",
        )?;
        self.participants.insert(p.id.clone(), at);
        self.enqueue(at, ChunkType::PARTICIPANT, bytes)
    }

    /// Adds an event at `event.at_sample`, which may be ahead of the audio written so
    /// far (it is held until the audio reaches it) but not behind audio already sealed.
    /// Participants it names must have been declared at or before its time.
    ///
    /// Refused (`invalid-metadata`, naming the member, e.g. `event.digits`) when a
    /// reader would refuse its EVNT chunk (`docs/FORMAT.md` §8.3), and for a custom key
    /// in the reserved `sasf` namespace.
    pub fn add_event(&mut self, event: Event) -> Result<()> {
        self.add_event_as(event, Origin::User)
    }

    /// [`Writer::add_event`] for the library's own recover and merge code, which may
    /// write (and copy) the reserved `sasf.recovered` and `sasf.merge` events.
    pub(crate) fn add_library_event(&mut self, event: Event) -> Result<()> {
        self.add_event_as(event, Origin::Library)
    }

    fn add_event_as(&mut self, event: Event, origin: Origin) -> Result<()> {
        let at = event.at_sample;
        self.check_time(at)?;
        let known = &self.participants;
        let declared = |id: &str| known.get(id).is_some_and(|&t| t <= at);
        rules::check_event(&event, Some(&declared), origin, "event")?;
        let bytes = record_bytes(
            &event.to_payload(),
            self.header.max_chunk_len,
            &self.reader_limits,
            "event",
        )?;
        self.enqueue(at, ChunkType::EVENT, bytes)
    }

    /// Adds an annotation at `a.at_sample` (same timing as events). Refused when a
    /// reader would refuse its ANNO chunk (`docs/FORMAT.md` §8.4).
    pub fn add_annotation(&mut self, a: Annotation) -> Result<()> {
        let at = a.at_sample;
        self.check_time(at)?;
        rules::check_annotation(&a, "annotation")?;
        let bytes = record_bytes(
            &a.to_payload(),
            self.header.max_chunk_len,
            &self.reader_limits,
            "annotation",
        )?;
        self.enqueue(at, ChunkType::ANNOTATION, bytes)
    }

    /// Seals any buffered whole frames now (a short chunk) and flushes the output, so
    /// a crash after this point loses nothing written before it.
    pub fn flush(&mut self) -> Result<()> {
        self.alive()?;
        let r = (|| {
            let k = self.buffered_frames();
            self.seal_audio(k)?;
            self.emit_due()?;
            self.drain(0)?;
            self.out.flush()?;
            Ok(())
        })();
        self.poison_on_err(r)
    }

    fn poison_on_err<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.dead = true;
        }
        r
    }

    /// Writes one chunk. The body is `self.body` (already holding its 12-byte header
    /// space) when `payload` is `None`, else a fresh body built from `payload`.
    fn write_chunk(&mut self, ty: ChunkType, ts: u64, payload: Option<&[u8]>) -> Result<()> {
        if let Some(p) = payload {
            self.body.clear();
            self.body.resize(BODY_HEADER_LEN, 0);
            self.body.extend_from_slice(p);
        }
        self.body[0..4].copy_from_slice(&ty.0);
        self.body[4..12].copy_from_slice(&ts.to_be_bytes());
        let len = self.body.len();
        debug_assert!(len <= self.header.max_chunk_len as usize);
        let prefix = chunk_prefix(len as u32, self.next_index);
        if ty == ChunkType::END {
            // The END chunk carries the manifest over every tag before it.
            self.drain(0)?;
        }
        match &mut self.par {
            Some(par) if ty != ChunkType::END => {
                let mut body =
                    std::mem::replace(&mut self.body, par.free.pop().unwrap_or_default());
                let (suite, h, seq) = (Arc::clone(&self.suite), self.h, par.next_seq);
                let reply = par.done.reply(seq);
                par.next_seq += 1;
                par.workers.run(move || {
                    let tag = suite.seal(&h, &prefix, &mut body);
                    reply.send((body, tag));
                });
                par.pending.push_back((seq, prefix, ty));
            }
            _ => {
                let tag = self.suite.seal(&self.h, &prefix, &mut self.body);
                self.out
                    .put(&prefix, &self.body, &tag, self.flush_each_chunk)?;
                if ty != ChunkType::END {
                    self.manifest.update(tag.as_slice());
                }
            }
        }
        if ty != ChunkType::INDEX && ty != ChunkType::END {
            self.index_entries.push(IndexEntry {
                chunk_type: ty,
                offset: self.offset,
                timestamp: ts,
            });
        }
        self.offset += (PREFIX_LEN + len + self.tag_len) as u64;
        self.next_index += 1;
        if self.index_entries.len() >= self.index_interval && ty != ChunkType::INDEX {
            let saved = std::mem::take(&mut self.body);
            let r = self.write_index();
            self.body = saved;
            r?;
        }
        // A stream flushed chunk by chunk (a live recording) writes each chunk as soon
        // as it is sealed, so a crash loses at most the chunk in progress.
        let keep = match &self.par {
            Some(p) if !self.flush_each_chunk => p.max_inflight,
            _ => 0,
        };
        self.drain(keep)
    }

    /// Writes sealed chunks, in order, until at most `keep` are still in flight.
    fn drain(&mut self, keep: usize) -> Result<()> {
        let Some(par) = &mut self.par else {
            return Ok(());
        };
        while par.pending.len() > keep {
            let (seq, prefix, ty) = par.pending.pop_front().expect("non-empty");
            let (body, tag) = par.done.wait(seq);
            debug_assert!(
                ty != ChunkType::END,
                "the END chunk is never sealed in parallel"
            );
            self.manifest.update(tag.as_slice());
            if let Some(mut b) = self
                .out
                .put_owned(&prefix, body, &tag, self.flush_each_chunk)?
            {
                b.clear();
                par.free.push(b);
            }
        }
        Ok(())
    }

    fn write_index(&mut self) -> Result<()> {
        if self.index_entries.is_empty() {
            return Ok(());
        }
        let hdr = IndexHeader {
            prev_index_offset: self.last_index_offset,
            first_chunk: self.index_first,
            count: self.index_entries.len() as u32,
        };
        let mut p =
            Vec::with_capacity(INDEX_HEADER_LEN + self.index_entries.len() * INDEX_ENTRY_LEN);
        p.extend_from_slice(&hdr.to_bytes());
        for e in &self.index_entries {
            p.extend_from_slice(&e.to_bytes());
        }
        self.index_entries.clear();
        let at = self.offset;
        self.write_chunk(ChunkType::INDEX, self.samples_sealed, Some(&p))?;
        self.last_index_offset = at;
        self.index_first = self.next_index;
        Ok(())
    }

    /// Seals the remaining audio, emits the remaining metadata, writes the last index
    /// chunk and the end chunk, flushes, and returns the output.
    ///
    /// Fails if the audio ends in a partial frame or metadata lies after the end.
    pub fn finish(mut self) -> Result<W> {
        self.alive()?;
        if (self.body.len() - BODY_HEADER_LEN) % self.block_align != 0 {
            return Err(Error::misuse("the audio ends with a partial frame"));
        }
        let k = self.buffered_frames();
        self.seal_audio(k)?;
        self.emit_due()?;
        if let Some(p) = self.pending.first() {
            return Err(Error::metadata(
                "events",
                format!(
                    "metadata at sample {} is after the end of the audio (sample {})",
                    p.at, self.samples_sealed
                ),
            ));
        }
        {
            let saved = std::mem::take(&mut self.body);
            self.write_index()?;
            self.body = saved;
        }
        self.drain(0)?;
        let manifest: [u8; 32] = std::mem::take(&mut self.manifest).finalize().into();
        let totals = Totals {
            chunks: self.next_index,
            samples: self.samples_sealed,
            audio_bytes: self.audio_bytes,
            stream_bytes: self.offset,
            last_index_offset: self.last_index_offset,
            flags: if self.recovered {
                END_FLAG_RECOVERED
            } else {
                0
            },
            manifest,
        };
        if self.header.duration_class != DurationClass::Undeclared
            && self.header.duration_class
                != DurationClass::of(totals.samples, self.header.format.sample_rate)
        {
            return Err(Error::misuse(
                "the declared duration class does not match the audio",
            ));
        }
        self.write_chunk(ChunkType::END, totals.samples, Some(&totals.to_payload()))?;
        self.out.flush()?;
        Ok(self.out.into_inner()?)
    }
}
