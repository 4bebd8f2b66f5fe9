//! The streaming writer: [`WriterBuilder`] configures, [`WriterBuilder::wrap_output`]
//! writes the header and key section and gives a [`Writer`], and [`Writer::finish`]
//! writes the last index chunk and the end chunk. The writer never seeks. Every count
//! (indexes, offsets, index entries, the manifest, the totals) is the stream core's
//! sealer; this module buffers audio, orders metadata and moves bytes.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::audio::AudioFormat;
use crate::crypto::age_slot::wrap_age;
use crate::crypto::keyring::PublicRecipient;
use crate::crypto::{
    keyless_header_tag, wrap_slot, Context, DataKey, FileKeys, Integrity, Key, Suite, Tag,
};
use crate::error::{Error, Result};
use crate::format::*;
use crate::io::pool::{batch_is_full, Ordered, Workers};
use crate::io::sink::{OutThread, Sink};
use crate::io::Limits;
use crate::meta::rules::{self, Origin};
use crate::meta::{check_json_limits, Annotation, Event, Participant, RecordingInfo};
use crate::stream::sealer::{body_of, metadata_body, seal_body, Sealer, Ticket};

/// Default audio per chunk: one second, which also bounds what a crash can lose.
pub const DEFAULT_CHUNK_SECONDS: u32 = 1;
/// Default number of chunks described by one index chunk.
pub const DEFAULT_INDEX_INTERVAL: u32 = 1024;
/// Default chunk-length cap declared in the header: 1 MiB.
pub const DEFAULT_MAX_CHUNK_LEN: u32 = 1024 * 1024;

/// An output for [`WriterBuilder::wrap_output`] that is written by a thread of its
/// own (when the writer has more than one thread), while the caller's thread reads
/// and seals. [`Writer::finish`] gives back the inner writer, after the thread has
/// written everything and flushed it.
#[derive(Debug)]
pub struct OutputThread<W>(pub W);

/// What [`WriterBuilder::wrap_output`] writes to: any [`Write`] (on the caller's
/// thread), or an [`OutputThread`] around one. Implemented by this crate only.
pub trait Output: sealed::IntoSink {}

impl<W: Write> Output for W {}
impl<W: Write + Send + 'static> Output for OutputThread<W> {}

pub(crate) mod sealed {
    use super::{OutThread, OutputThread, Sink};
    use std::io::Write;

    /// How an [`super::Output`] becomes the writer's sink.
    pub trait IntoSink {
        /// The writer that [`super::Writer::finish`] gives back.
        type Inner: Write;
        #[doc(hidden)]
        #[allow(private_interfaces)]
        fn into_sink(self, threads: usize, flush_each_chunk: bool) -> Sink<Self::Inner>;
    }

    impl<W: Write> IntoSink for W {
        type Inner = W;
        #[allow(private_interfaces)]
        fn into_sink(self, _threads: usize, _flush: bool) -> Sink<W> {
            Sink::Direct(self)
        }
    }

    impl<W: Write + Send + 'static> IntoSink for OutputThread<W> {
        type Inner = W;
        #[allow(private_interfaces)]
        fn into_sink(self, threads: usize, flush_each_chunk: bool) -> Sink<W> {
            if threads > 1 {
                Sink::Thread(OutThread::spawn(self.0, flush_each_chunk))
            } else {
                Sink::Direct(self.0)
            }
        }
    }
}

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
    recipients: Vec<Key>,
    public: Vec<PublicRecipient>,
    info: RecordingInfo,
    context: Option<Context>,
    max_chunk_len: u32,
    chunk_frames: Option<u64>,
    index_interval: u32,
    retention_days: u32,
    duration_class: DurationClass,
    salt: Option<[u8; 32]>,
    data_key: Option<DataKey>,
    flush_each_chunk: bool,
    reader_limits: Limits,
    threads: usize,
    key_area_capacity: u32,
}

impl WriterBuilder {
    /// A keyless (level 1) stream of `format` with default settings.
    pub fn new(format: AudioFormat) -> WriterBuilder {
        WriterBuilder {
            format,
            integrity: Integrity::Keyless,
            recipients: Vec::new(),
            public: Vec::new(),
            info: RecordingInfo::default(),
            context: None,
            max_chunk_len: DEFAULT_MAX_CHUNK_LEN,
            chunk_frames: None,
            index_interval: DEFAULT_INDEX_INTERVAL,
            retention_days: 0,
            duration_class: DurationClass::Undeclared,
            salt: None,
            data_key: None,
            flush_each_chunk: true,
            reader_limits: Limits::default(),
            threads: 1,
            key_area_capacity: DEFAULT_COPY_CAPACITY,
        }
    }
    /// Level 2: HMAC-SHA256, with `key` as a recipient of the data key.
    pub fn authenticated(mut self, key: Key) -> Self {
        self.integrity = Integrity::Hmac;
        self.recipients.insert(0, key);
        self
    }
    /// Level 3: AES-256-GCM, with `key` as a recipient of the data key.
    pub fn encrypted(mut self, key: Key) -> Self {
        self.integrity = Integrity::Encrypted;
        self.recipients.insert(0, key);
        self
    }
    /// The integrity level, without naming a key: for a file whose recipients are all
    /// public keys ([`WriterBuilder::public_recipient`]), which its writer cannot open.
    pub fn integrity(mut self, level: Integrity) -> Self {
        self.integrity = level;
        self
    }
    /// A public-key recipient (an age recipient, `docs/FORMAT.md` §5.4) who may open
    /// the file.
    pub fn public_recipient(mut self, r: PublicRecipient) -> Self {
        self.public.push(r);
        self
    }
    /// One more symmetric recipient (a key slot) who may open the file.
    pub fn recipient(mut self, key: Key) -> Self {
        self.recipients.push(key);
        self
    }
    /// Bytes per copy of the key area (`docs/FORMAT.md` §5.1; default 4096, from 256
    /// to 32768): room for recipients and signatures added later in place.
    pub fn key_area_capacity(mut self, bytes: u32) -> Self {
        self.key_area_capacity = bytes;
        self
    }
    /// The recording information (id, start time, channel map) for the INFO chunk.
    pub fn info(mut self, info: RecordingInfo) -> Self {
        self.info = info;
        self
    }
    /// Binds the file to its recording id and tenant (`docs/FORMAT.md` §4.4): the
    /// INFO chunk must carry `id` (the writer sets it) and the tenant as `tenant`.
    pub fn bind_context(mut self, c: Context) -> Self {
        self.context = Some(c);
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
    /// Fixes the salt instead of drawing a random one, and, unless
    /// [`WriterBuilder::data_key_for_test_vectors`] is given, a data key derived from
    /// it. **Only for reproducible test vectors**: the salt is public, so such a file's
    /// data key is known to anyone; a salt must never be used twice.
    #[doc(hidden)]
    pub fn salt_for_test_vectors(mut self, salt: [u8; 32]) -> Self {
        self.salt = Some(salt);
        if self.data_key.is_none() {
            let mut h = Sha256::new();
            h.update(b"sasf test vectors: data key from salt");
            h.update(salt);
            self.data_key = Some(DataKey::from_bytes(h.finalize().into()));
        }
        self
    }
    /// Fixes the data key instead of drawing a random one. Only for reproducible test
    /// vectors.
    #[doc(hidden)]
    pub fn data_key_for_test_vectors(mut self, dk: DataKey) -> Self {
        self.data_key = Some(dk);
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

    /// The reader limits the metadata must fit (default [`Limits::default`]): a record
    /// that a reader with these limits would refuse (JSON size or depth, participant
    /// count) is refused at the call. Raise them only for readers configured to match.
    pub fn reader_limits(mut self, limits: Limits) -> Self {
        self.reader_limits = limits;
        self
    }

    /// Writes the header, the key section and the INFO chunk to `out` and returns
    /// the writer. `out` is any [`Write`], written on the caller's thread; or an
    /// [`OutputThread`] around one, written by a thread of its own when the writer
    /// has more than one thread ([`WriterBuilder::threads`]), so that writing overlaps
    /// with reading the input and sealing. The bytes are the same either way.
    pub fn wrap_output<O: Output>(self, out: O) -> Result<Writer<O::Inner>> {
        let sink = out.into_sink(self.threads, self.flush_each_chunk);
        self.wrap(sink)
    }

    /// The same as `wrap_output(OutputThread(out))`.
    #[deprecated(note = "use `wrap_output(OutputThread(out))`: one way to give the output")]
    pub fn wrap_output_threaded<W: Write + Send + 'static>(self, out: W) -> Result<Writer<W>> {
        self.wrap_output(OutputThread(out))
    }

    fn wrap<W: Write>(mut self, mut out: Sink<W>) -> Result<Writer<W>> {
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
        let index_interval =
            (self.index_interval as usize).clamp(1, Sealer::max_interval(self.max_chunk_len));
        if self.integrity != Integrity::Keyless
            && self.recipients.is_empty()
            && self.public.is_empty()
        {
            return Err(Error::misuse(
                "this integrity level needs at least one recipient (a key or a public key)",
            ));
        }
        if self.recipients.len() + self.public.len() > MAX_RECIPIENTS {
            return Err(Error::misuse(format!(
                "at most {MAX_RECIPIENTS} recipients"
            )));
        }
        if self.integrity == Integrity::Keyless {
            self.recipients.clear();
            self.public.clear();
        }
        if let Some(c) = &self.context {
            // The INFO chunk names the context the file is bound to.
            self.info.id = Some(c.id.clone());
            if c.tenant.is_empty() {
                self.info.extra.remove("tenant");
            } else {
                self.info
                    .extra
                    .insert("tenant".into(), c.tenant.clone().into());
            }
        }
        let c = self
            .context
            .as_ref()
            .map(Context::digest)
            .unwrap_or([0; 32]);
        // Refused before a byte is written: a reader would refuse the INFO chunk.
        rules::check_info(&self.info, None, f.channels, "recording")?;
        let info = record_bytes(
            &self.info.to_json(),
            self.max_chunk_len,
            &self.reader_limits,
            "recording",
        )?;
        let salt = match self.salt {
            Some(s) => s,
            None => random32()?,
        };
        let dk = match (self.integrity, self.data_key.take()) {
            (Integrity::Keyless, _) => None,
            (_, Some(dk)) => Some(dk),
            (_, None) => Some(DataKey::generate()?),
        };
        let keys = dk
            .as_ref()
            .map(|dk| FileKeys::derive(self.integrity, dk, &salt, &c));
        let mut extensions = Vec::new();
        if self.context.is_some() && self.integrity == Integrity::Keyless {
            extensions.push(Extension {
                ext_type: EXT_CONTEXT,
                data: c.to_vec(),
            });
        }
        let mut header = Header {
            integrity: self.integrity,
            format: f,
            max_chunk_len: self.max_chunk_len,
            retention_days: self.retention_days,
            duration_class: self.duration_class,
            context_bound: self.context.is_some(),
            salt,
            commitment: keys.as_ref().map(|k| k.commitment).unwrap_or([0u8; 32]),
            extensions,
            tag: [0u8; 32],
        };
        let unsigned = header.unsigned_bytes();
        header.tag = match &keys {
            Some(k) => k.header_tag(&unsigned),
            None => keyless_header_tag(&unsigned),
        };
        let header_bytes = header.to_bytes();
        let h: [u8; 32] = Sha256::digest(&header_bytes).into();
        let mut section = KeySection {
            generation: 1,
            ..KeySection::default()
        };
        if let (Some(keys), Some(dk)) = (&keys, &dk) {
            for k in &self.recipients {
                section.recipients.push(Stanza {
                    kind: STANZA_SLOT,
                    body: wrap_slot(k, &salt, &h, dk, &c),
                });
            }
            for r in &self.public {
                section.recipients.push(Stanza {
                    kind: STANZA_AGE,
                    body: wrap_age(r.as_age(), dk, &c, &h)?,
                });
            }
            section.tag = Some(keys.keys_tag(&h, &section.tagged_bytes()));
        }
        let section_bytes = KeyArea::new_bytes(&section, self.key_area_capacity)?;
        out.raw(&header_bytes)?;
        out.raw(&section_bytes)?;
        let mut w = Writer {
            out,
            suite: Arc::new(keys.map(|k| k.suite).unwrap_or(Suite::Keyless)),
            sealer: Sealer::new(self.integrity, h, ba as usize, index_interval),
            header,
            block_align: ba as usize,
            chunk_frames,
            flush_each_chunk: self.flush_each_chunk,
            recovered_event: false,
            reader_limits: self.reader_limits,
            base: (header_bytes.len() + section_bytes.len()) as u64,
            audio: Vec::with_capacity(BODY_HEADER_LEN + (chunk_frames * ba) as usize),
            pending: Vec::new(),
            participants: HashMap::new(),
            dead: false,
            par: (self.threads > 1).then(|| Par {
                workers: Workers::new(self.threads),
                done: Ordered::new(),
                inflight: VecDeque::new(),
                gathering: Vec::new(),
                gathered_bytes: 0,
                next_seq: 0,
                free: Vec::new(),
                // Enough chunks in flight to keep every worker busy, bounded in bytes.
                max_inflight: crate::io::pool::max_inflight(self.max_chunk_len, self.threads),
            }),
        };
        w.audio_reset();
        let body =
            metadata_body(ChunkType::INFO, 0, &info, self.max_chunk_len).ok_or_else(|| {
                Error::metadata(
                    "recording",
                    "the recording information exceeds the chunk cap",
                )
            })?;
        w.write_chunk(body)?;
        Ok(w)
    }
}

/// Serializes a metadata record, refusing it at the call when a reader with `limits`
/// would refuse it for its size or depth, or it does not fit under the chunk cap.
fn record_bytes(v: &serde_json::Value, cap: u32, limits: &Limits, path: &str) -> Result<Vec<u8>> {
    let bytes = serde_json::to_vec(v).map_err(|e| Error::misuse(e.to_string()))?;
    let max = limits
        .max_json_len
        .min(cap as usize - BODY_HEADER_LEN - META_LEN_FIELD);
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

fn random32() -> Result<[u8; 32]> {
    let mut s = [0u8; 32];
    getrandom::getrandom(&mut s).map_err(|e| {
        Error::from(std::io::Error::other(format!(
            "random generator failed: {e}"
        )))
    })?;
    Ok(s)
}

/// A batch's chunks: their places, and their bodies until sealed.
type Batch = Vec<(Ticket, Vec<u8>)>;
/// A sealed chunk: its (encrypted) body, tag and digest.
type Sealed = (Vec<u8>, Tag, [u8; 32]);

/// The parallel sealing state of a [`Writer`].
struct Par {
    workers: Workers,
    done: Ordered<Vec<Sealed>>,
    /// Batches handed to the workers, oldest first: sequence number and tickets.
    inflight: VecDeque<(u64, Vec<Ticket>)>,
    /// The batch being gathered, and its bytes.
    gathering: Batch,
    gathered_bytes: usize,
    next_seq: u64,
    /// Body buffers to reuse.
    free: Vec<Vec<u8>>,
    max_inflight: usize,
}

impl Par {
    /// Hands the gathered batch to a worker.
    fn dispatch(&mut self, suite: &Arc<Suite>, level: Integrity, h: [u8; 32]) {
        if self.gathering.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.gathering);
        let (bytes, chunks) = (self.gathered_bytes, batch.len());
        self.gathered_bytes = 0;
        let seq = self.next_seq;
        self.next_seq += 1;
        let reply = self.done.reply(seq);
        let tickets = batch.iter().map(|(t, _)| *t).collect();
        let suite = Arc::clone(suite);
        let job = move || {
            let sealed = batch
                .into_iter()
                .map(|(t, mut body)| {
                    let (tag, digest) = seal_body(&suite, level, &h, &t.prefix, &mut body);
                    (body, tag, digest)
                })
                .collect();
            reply.send(sealed);
        };
        self.workers.run_batch(bytes, chunks, job);
        self.inflight.push_back((seq, tickets));
    }
}

/// A metadata record waiting for the audio chunk it falls in, already checked and
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
    sealer: Sealer,
    header: Header,
    block_align: usize,
    chunk_frames: u64,
    flush_each_chunk: bool,
    /// Whether the one `sasf.recovered` event has been added: it sets the END chunk's
    /// recovered flag (§11 ties the two together).
    recovered_event: bool,
    reader_limits: Limits,
    /// File offset of chunk 0.
    base: u64,
    /// Body of the audio chunk being filled: 12-byte body header, then samples.
    audio: Vec<u8>,
    /// Metadata waiting for the audio chunk it falls in, in time order.
    pending: Vec<Pending>,
    /// Participant id -> position of its PART chunk.
    participants: HashMap<String, u64>,
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
        self.sealer.samples() + self.buffered_frames()
    }

    /// Number of chunks written so far.
    pub fn chunks_written(&self) -> u64 {
        self.sealer.chunks()
    }

    /// Bytes written so far (header and key section included).
    pub fn bytes_written(&self) -> u64 {
        self.base + self.sealer.offset()
    }

    fn buffered_frames(&self) -> u64 {
        ((self.audio.len() - BODY_HEADER_LEN) / self.block_align) as u64
    }

    fn audio_reset(&mut self) {
        self.audio.clear();
        self.audio.resize(BODY_HEADER_LEN, 0);
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
    /// as soon as it is full; audio is never split where metadata falls.
    pub fn write_audio(&mut self, mut data: &[u8]) -> Result<()> {
        self.alive()?;
        let r = (|| {
            let want = BODY_HEADER_LEN + self.chunk_frames as usize * self.block_align;
            while !data.is_empty() {
                let take = (want - self.audio.len()).min(data.len());
                self.audio.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.audio.len() == want {
                    self.seal_audio()?;
                }
            }
            Ok(())
        })();
        self.poison_on_err(r)
    }

    /// Seals the buffered whole frames as one audio chunk, after the metadata that
    /// falls inside it.
    fn seal_audio(&mut self) -> Result<()> {
        let frames = self.buffered_frames();
        if frames == 0 {
            return Ok(());
        }
        let start = self.sealer.samples();
        self.emit_before(start + frames)?;
        let n = frames as usize * self.block_align;
        let extra: Vec<u8> = self.audio[BODY_HEADER_LEN + n..].to_vec();
        self.audio.truncate(BODY_HEADER_LEN + n);
        self.audio[0..4].copy_from_slice(&ChunkType::AUDIO.0);
        self.audio[4..12].copy_from_slice(&start.to_be_bytes());
        let body = std::mem::take(&mut self.audio);
        // One thread: the same buffer comes back. Several: a free one, or a new one.
        let full = BODY_HEADER_LEN + self.chunk_frames as usize * self.block_align;
        self.audio = match self.write_chunk(body)? {
            Some(b) => b,
            // A new buffer gets its whole size at once: grown by doubling, it would be
            // copied and faulted in again and again.
            None => self
                .par
                .as_mut()
                .and_then(|p| p.free.pop())
                .filter(|b| b.capacity() >= full)
                .unwrap_or_else(|| Vec::with_capacity(full)),
        };
        self.audio_reset();
        self.audio.extend_from_slice(&extra);
        Ok(())
    }

    /// Writes every pending metadata item whose time is before `end`.
    fn emit_before(&mut self, end: u64) -> Result<()> {
        while self.pending.first().is_some_and(|p| p.at < end) {
            let p = self.pending.remove(0);
            self.emit(p)?;
        }
        Ok(())
    }

    fn emit(&mut self, p: Pending) -> Result<()> {
        let body = metadata_body(p.ty, p.at, &p.bytes, self.header.max_chunk_len)
            .ok_or_else(|| Error::misuse("a checked metadata record no longer fits"))?;
        self.write_chunk(body).map(drop)
    }

    /// Queues a metadata record at `at`; it is written just before the audio chunk it
    /// falls in.
    fn enqueue(&mut self, at: u64, ty: ChunkType, bytes: Vec<u8>) -> Result<()> {
        let pos = self.pending.partition_point(|p| p.at <= at);
        self.pending.insert(pos, Pending { at, ty, bytes });
        Ok(())
    }

    /// Refuses a record at `at` once the writer is dead or the audio is past `at`.
    fn check_time(&self, at: u64) -> Result<()> {
        self.alive()?;
        if at < self.sealer.samples() {
            return Err(Error::misuse(format!(
                "metadata at frame {at} is before audio already sealed (frame {})",
                self.sealer.samples()
            )));
        }
        Ok(())
    }

    /// Declares a participant at the current position. Events may name it from then on.
    ///
    /// Refused (`invalid-metadata`, naming the member, e.g. `participant.id`) when a
    /// reader would refuse its PART chunk (`docs/FORMAT.md` §9.4): an empty or too long
    /// id, an id already declared, a channel out of range, an `extra` member SASF
    /// defines, a record past the reader limits or the participant count.
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
    /// reader would refuse its EVNT chunk (`docs/FORMAT.md` §9.5), and for a custom key
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
        if let crate::meta::EventKind::Custom { key, .. } = &event.kind {
            if key == crate::recover::RECOVERED_KEY {
                // Exactly one per file (§11); a copy of a recovered file is still a
                // recovered file.
                if self.recovered_event {
                    return Err(Error::metadata(
                        "event.key",
                        "a stream holds at most one sasf.recovered event",
                    ));
                }
                self.recovered_event = true;
            }
        }
        self.enqueue(at, ChunkType::EVENT, bytes)
    }

    /// Adds an annotation at `a.at_sample` (same timing as events). Refused when a
    /// reader would refuse its ANNO chunk (`docs/FORMAT.md` §9.6).
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

    /// Discards queued metadata whose time lies after the audio written so far and
    /// returns how many items were dropped. For recovery: metadata sits before the
    /// audio chunk it happened in, so a file cut inside that chunk keeps the metadata
    /// but not its audio.
    pub fn drop_metadata_after(&mut self, end: u64) -> usize {
        let before = self.pending.len();
        self.pending.retain(|p| p.at <= end);
        before - self.pending.len()
    }

    /// Seals any buffered whole frames now (a short chunk, which shows an observer
    /// when the flush happened) and flushes the output, so a crash after this point
    /// loses nothing written before it.
    pub fn flush(&mut self) -> Result<()> {
        self.alive()?;
        let r = (|| {
            self.seal_audio()?;
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

    /// Seals and writes one chunk (type, timestamp and payload already in `body`), and
    /// an index chunk after it when one is due. Returns the body's buffer when it was
    /// written at once (one thread), for reuse.
    fn write_chunk(&mut self, body: Vec<u8>) -> Result<Option<Vec<u8>>> {
        let mut back = None;
        debug_assert!(body.len() <= self.header.max_chunk_len as usize);
        let ticket = self.sealer.begin(&body);
        match &mut self.par {
            Some(par) => {
                par.gathered_bytes += body.len();
                par.gathering.push((ticket, body));
                if batch_is_full(par.gathered_bytes, par.gathering.len()) || self.flush_each_chunk {
                    par.dispatch(&self.suite, self.sealer.level(), *self.sealer.h());
                }
            }
            None => {
                let mut body = body;
                let (tag, digest) = seal_body(
                    &self.suite,
                    self.sealer.level(),
                    self.sealer.h(),
                    &ticket.prefix,
                    &mut body,
                );
                self.out
                    .put(&ticket.prefix, &body, &tag, self.flush_each_chunk)?;
                self.sealer.commit(&ticket, &digest);
                back = Some(body);
            }
        }
        if self.sealer.index_due() {
            self.write_index()?;
        }
        // A stream flushed chunk by chunk (a live recording) writes each chunk as soon
        // as it is sealed, so a crash loses at most the chunk in progress.
        let keep = match &self.par {
            Some(p) if !self.flush_each_chunk => p.max_inflight,
            _ => 0,
        };
        self.drain(keep)?;
        Ok(back)
    }

    /// Writes sealed chunks, in order, until at most `keep` batches are still in
    /// flight (with `keep == 0`, the batch being gathered is sealed and written too).
    fn drain(&mut self, keep: usize) -> Result<()> {
        let Some(par) = &mut self.par else {
            return Ok(());
        };
        if keep == 0 {
            par.dispatch(&self.suite, self.sealer.level(), *self.sealer.h());
        }
        while par.inflight.len() > keep {
            let (seq, tickets) = par.inflight.pop_front().expect("non-empty");
            let sealed = par.done.wait(seq);
            for (ticket, (body, tag, digest)) in tickets.iter().zip(sealed) {
                self.sealer.commit(ticket, &digest);
                if let Some(mut b) =
                    self.out
                        .put_owned(&ticket.prefix, body, &tag, self.flush_each_chunk)?
                {
                    b.clear();
                    par.free.push(b);
                }
            }
        }
        Ok(())
    }

    /// Writes an index chunk over the chunks since the last one (their digests must
    /// be known, so everything in flight is written first).
    fn write_index(&mut self) -> Result<()> {
        self.drain(0)?;
        if let Some(body) = self.sealer.index_body() {
            let ticket = self.sealer.begin(&body);
            let mut body = body;
            let (tag, digest) = seal_body(
                &self.suite,
                self.sealer.level(),
                self.sealer.h(),
                &ticket.prefix,
                &mut body,
            );
            self.out
                .put(&ticket.prefix, &body, &tag, self.flush_each_chunk)?;
            self.sealer.commit(&ticket, &digest);
        }
        Ok(())
    }

    /// Seals the remaining audio, writes the remaining metadata, the last index chunk
    /// and the end chunk, flushes, and returns the output.
    ///
    /// Fails if the audio ends in a partial frame or metadata lies after the end.
    pub fn finish(mut self) -> Result<W> {
        self.alive()?;
        if !(self.audio.len() - BODY_HEADER_LEN).is_multiple_of(self.block_align) {
            return Err(Error::misuse("the audio ends with a partial frame"));
        }
        self.seal_audio()?;
        let end = self.sealer.samples();
        if let Some(p) = self.pending.iter().find(|p| p.at > end) {
            return Err(Error::metadata(
                "events",
                format!(
                    "metadata at frame {} is after the end of the audio (frame {end})",
                    p.at
                ),
            ));
        }
        self.emit_before(end + 1)?;
        self.write_index()?;
        self.drain(0)?;
        let totals = self.sealer.totals(self.recovered_event);
        if self.header.duration_class != DurationClass::Undeclared
            && self.header.duration_class
                != DurationClass::of(totals.samples, self.header.format.sample_rate)
        {
            return Err(Error::misuse(
                "the declared duration class does not match the audio",
            ));
        }
        let mut body = body_of(ChunkType::END, totals.samples, &totals.to_payload());
        let ticket = self.sealer.begin(&body);
        let (tag, _) = seal_body(
            &self.suite,
            self.sealer.level(),
            self.sealer.h(),
            &ticket.prefix,
            &mut body,
        );
        self.out.put(&ticket.prefix, &body, &tag, false)?;
        self.out.flush()?;
        Ok(self.out.into_inner()?)
    }
}
