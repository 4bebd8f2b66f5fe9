//! The conformance-vector generator, shared by `examples/make_vectors.rs` (which writes
//! `testdata/vectors/`) and `tests/vectors.rs` (which checks the committed files are
//! exactly what this generates, then replays them). The file format and what each
//! header line means are in `testdata/vectors/README.md`.
//!
//! Files are built by a small model of the format written here from the primitives
//! (`sha2`, `hmac`, `hkdf`, `aes-gcm`) as `docs/FORMAT.md` describes them, not with the
//! crate's reader. Valid base files are written with the crate's `Writer` and then
//! rebuilt by the model, which must give the same bytes, so the writer is checked too.
//! Broken variants are made by editing bytes, or by re-sealing edited chunks with the
//! model so that they are authentic and only a structural rule is broken. Every
//! expected outcome is stated here by construction, never read off the library.
#![allow(dead_code)]

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use sasf_core::meta::{Annotation, Event, EventKind, Participant, RecordingInfo, Role};
use sasf_core::{AudioFormat, DurationClass, Encoding, Key, Writer, WriterBuilder};

/// The master key of every keyed vector: bytes 00 01 02 .. 1f.
pub const KEY: [u8; 32] = seq(0x00);
/// A different key, for the wrong-key vectors: bytes 20 21 .. 3f.
pub const WRONG_KEY: [u8; 32] = seq(0x20);

const fn seq(start: u8) -> [u8; 32] {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = start + i as u8;
        i += 1;
    }
    k
}

const MAGIC: [u8; 8] = [0x89, b'S', b'A', b'S', b'F', 0x0D, 0x0A, 0x1A];
const NO_OFFSET: u64 = u64::MAX;
const INFO: [u8; 4] = *b"INFO";
const AUDI: [u8; 4] = *b"AUDI";
const PART: [u8; 4] = *b"PART";
const EVNT: [u8; 4] = *b"EVNT";
const ANNO: [u8; 4] = *b"ANNO";
const INDX: [u8; 4] = *b"INDX";
const END: [u8; 4] = *b"END ";

/// One generated vector: its file name and its whole contents (text header, blank
/// line, SASF bytes).
pub struct Vector {
    pub name: String,
    pub contents: Vec<u8>,
}

// ---------------------------------------------------------------- the model

/// The header fields of a file.
#[derive(Clone, Debug)]
pub struct Hdr {
    pub level: u8,
    pub encoding: u8,
    pub channels: u16,
    pub rate: u32,
    pub cap: u32,
    pub retention: u32,
    pub duration: u8,
    /// The raw extension area (E = its length).
    pub ext: Vec<u8>,
    pub salt: [u8; 32],
}

struct Keys {
    commitment: [u8; 32],
    header: [u8; 32],
    /// Level 2: the HMAC chunk key; level 3: the AES-256 payload key.
    chunk: [u8; 32],
}

fn suite(level: u8) -> &'static str {
    match level {
        1 => "SHA-256",
        2 => "HMAC-SHA256",
        _ => "AES-256-GCM",
    }
}

fn derive(level: u8, key: &[u8; 32], salt: &[u8; 32]) -> Keys {
    let hk = Hkdf::<Sha256>::new(Some(salt), key);
    let exp = |purpose: &str| {
        let mut o = [0u8; 32];
        hk.expand(
            format!("SASF-v1/{}/{purpose}", suite(level)).as_bytes(),
            &mut o,
        )
        .expect("32 bytes");
        o
    };
    Keys {
        commitment: exp("commit"),
        header: exp("header"),
        chunk: exp(if level == 2 { "chunk" } else { "payload" }),
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut d = Sha256::new();
    for p in parts {
        d.update(p);
    }
    d.finalize().into()
}

impl Hdr {
    /// Cap 1024, no retention, undeclared duration, no extensions, and a salt derived
    /// from `seed` (so each base file has its own salt).
    pub fn new(level: u8, encoding: Encoding, channels: u16, rate: u32, seed: &str) -> Hdr {
        Hdr {
            level,
            encoding: encoding.code(),
            channels,
            rate,
            cap: 1024,
            retention: 0,
            duration: 0,
            ext: Vec::new(),
            salt: sha(&[b"sasf conformance vector salt: ", seed.as_bytes()]),
        }
    }
    pub fn block_align(&self) -> usize {
        let bps = match self.encoding {
            1 | 7 | 8 => 1,
            2 => 2,
            3 => 3,
            4 | 5 => 4,
            _ => 8,
        };
        bps * self.channels as usize
    }
    pub fn tag_len(&self) -> usize {
        if self.level == 3 {
            16
        } else {
            32
        }
    }
    pub fn header_len(&self) -> usize {
        128 + self.ext.len()
    }
    fn keys(&self, key: &[u8; 32]) -> Option<Keys> {
        (self.level != 1).then(|| derive(self.level, key, &self.salt))
    }
    /// Header bytes 0 .. 96+E.
    fn unsigned(&self, key: &[u8; 32]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&1u16.to_be_bytes());
        b.push(self.level);
        b.push(self.encoding);
        b.extend_from_slice(&self.channels.to_be_bytes());
        b.extend_from_slice(&self.rate.to_be_bytes());
        b.extend_from_slice(&self.cap.to_be_bytes());
        b.extend_from_slice(&self.retention.to_be_bytes());
        b.push(self.duration);
        b.push(0); // flags
        b.extend_from_slice(&(self.ext.len() as u16).to_be_bytes());
        b.extend_from_slice(&[0, 0]); // reserved
        b.extend_from_slice(&self.salt);
        let commitment = self.keys(key).map_or([0u8; 32], |k| k.commitment);
        b.extend_from_slice(&commitment);
        b.extend_from_slice(&self.ext);
        b
    }
    /// The whole header, tag included.
    pub fn bytes(&self, key: &[u8; 32]) -> Vec<u8> {
        let mut u = self.unsigned(key);
        let tag = match self.keys(key) {
            None => sha(&[b"SASF-v1/SHA-256/header", &u]),
            Some(k) => hmac(&k.header, &[&u]),
        };
        u.extend_from_slice(&tag);
        u
    }
}

/// A chunk in plaintext: type, timestamp, payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub ty: [u8; 4],
    pub ts: u64,
    pub payload: Vec<u8>,
}

impl Chunk {
    pub fn new(ty: [u8; 4], payload: &[u8]) -> Chunk {
        Chunk {
            ty,
            ts: 0,
            payload: payload.to_vec(),
        }
    }
    fn body(&self) -> Vec<u8> {
        let mut b = self.ty.to_vec();
        b.extend_from_slice(&self.ts.to_be_bytes());
        b.extend_from_slice(&self.payload);
        b
    }
}

/// A whole file: header fields, the key, and every chunk in plaintext (INDX and END
/// included). The bytes are sealed from this on demand.
#[derive(Clone, Debug)]
pub struct Model {
    pub hdr: Hdr,
    pub key: [u8; 32],
    pub chunks: Vec<Chunk>,
}

impl Model {
    pub fn header(&self) -> Vec<u8> {
        self.hdr.bytes(&self.key)
    }
    /// The header hash H.
    fn h(&self) -> [u8; 32] {
        sha(&[&self.header()])
    }
    /// Seals one chunk body under `index`: prefix || body (encrypted at level 3) || tag.
    pub fn seal(&self, index: u64, c: &Chunk) -> Vec<u8> {
        seal_with(&self.hdr, &self.key, &self.h(), index, &c.body())
    }
    /// Every chunk, sealed.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        let h = self.h();
        self.chunks
            .iter()
            .enumerate()
            .map(|(i, c)| seal_with(&self.hdr, &self.key, &h, i as u64, &c.body()))
            .collect()
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = self.header();
        for r in self.raw() {
            b.extend_from_slice(&r);
        }
        b
    }
    /// The offset of each chunk's prefix, then the length of the file.
    pub fn offsets(&self) -> Vec<u64> {
        let mut at = self.hdr.header_len() as u64;
        let mut v = vec![at];
        for c in &self.chunks {
            at += (12 + 12 + c.payload.len() + self.hdr.tag_len()) as u64;
            v.push(at);
        }
        v
    }
    pub fn end_index(&self) -> usize {
        self.chunks.len() - 1
    }
    /// The chunks other than INDX and END.
    pub fn content(&self) -> Vec<Chunk> {
        self.chunks
            .iter()
            .filter(|c| c.ty != INDX && c.ty != END)
            .cloned()
            .collect()
    }
    /// This model's file with `f` applied to its bytes.
    pub fn edited(&self, f: impl FnOnce(&mut Vec<u8>, &[u64])) -> Vec<u8> {
        let mut b = self.bytes();
        f(&mut b, &self.offsets());
        b
    }
}

fn seal_with(hdr: &Hdr, key: &[u8; 32], h: &[u8; 32], index: u64, body: &[u8]) -> Vec<u8> {
    let mut prefix = (body.len() as u32).to_be_bytes().to_vec();
    prefix.extend_from_slice(&index.to_be_bytes());
    let mut out = prefix.clone();
    match hdr.level {
        1 => {
            out.extend_from_slice(body);
            out.extend_from_slice(&sha(&[b"SASF-v1/SHA-256/chunk", h, &prefix, body]));
        }
        2 => {
            let k = derive(2, key, &hdr.salt);
            out.extend_from_slice(body);
            out.extend_from_slice(&hmac(&k.chunk, &[h, &prefix, body]));
        }
        _ => {
            let k = derive(3, key, &hdr.salt);
            let cipher = Aes256Gcm::new_from_slice(&k.chunk).expect("32-byte key");
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&index.to_be_bytes());
            let aad = [&h[..], &prefix].concat();
            let mut b = body.to_vec();
            let tag = cipher
                .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut b)
                .expect("small body");
            out.extend_from_slice(&b);
            out.extend_from_slice(&tag);
        }
    }
    out
}

/// Opens the chunk `raw` (prefix, body, tag) at `index`; panics if it is not authentic.
fn open_with(hdr: &Hdr, key: &[u8; 32], h: &[u8; 32], index: u64, raw: &[u8]) -> Chunk {
    let tl = hdr.tag_len();
    let len = u32::from_be_bytes(raw[0..4].try_into().unwrap()) as usize;
    assert_eq!(raw.len(), 12 + len + tl);
    assert_eq!(u64::from_be_bytes(raw[4..12].try_into().unwrap()), index);
    let mut body = raw[12..12 + len].to_vec();
    if hdr.level == 3 {
        let k = derive(3, key, &hdr.salt);
        let cipher = Aes256Gcm::new_from_slice(&k.chunk).expect("32-byte key");
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&index.to_be_bytes());
        let aad = [&h[..], &raw[..12]].concat();
        cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &aad,
                &mut body,
                Tag::from_slice(&raw[12 + len..]),
            )
            .expect("the writer's chunk opens with the model's keys");
    }
    let c = Chunk {
        ty: body[0..4].try_into().unwrap(),
        ts: u64::from_be_bytes(body[4..12].try_into().unwrap()),
        payload: body[12..].to_vec(),
    };
    assert_eq!(
        seal_with(hdr, key, h, index, &c.body()),
        raw,
        "the writer's chunk {index} is sealed as the specification says"
    );
    c
}

/// Sets every timestamp to the rule of the format: the audio frames before the chunk.
pub fn retime(content: &mut [Chunk], block_align: usize) {
    let mut s = 0u64;
    for c in content {
        c.ts = s;
        if c.ty == AUDI {
            s += (c.payload.len() / block_align) as u64;
        }
    }
}

/// Adds INDX chunks (after every `interval` described chunks, and one before END when
/// any are undescribed) and the END chunk, as FORMAT.md §9 and §10 say. Content
/// timestamps are kept as given.
pub fn finish(hdr: Hdr, key: [u8; 32], content: Vec<Chunk>, interval: usize, flags: u32) -> Model {
    struct State {
        m: Model,
        h: [u8; 32],
        offset: u64,
        manifest: Sha256,
    }
    impl State {
        fn push(&mut self, c: Chunk) {
            let raw = seal_with(
                &self.m.hdr,
                &self.m.key,
                &self.h,
                self.m.chunks.len() as u64,
                &c.body(),
            );
            if c.ty != END {
                self.manifest
                    .update(&raw[raw.len() - self.m.hdr.tag_len()..]);
            }
            self.offset += raw.len() as u64;
            self.m.chunks.push(c);
        }
    }
    let m = Model {
        hdr,
        key,
        chunks: Vec::new(),
    };
    let mut st = State {
        h: m.h(),
        offset: m.hdr.header_len() as u64,
        manifest: Sha256::new(),
        m,
    };
    st.manifest.update(b"SASF-v1/manifest");
    let ba = st.m.hdr.block_align();
    let (mut samples, mut audio_bytes) = (0u64, 0u64);
    let mut entries: Vec<u8> = Vec::new();
    let mut n = 0u32;
    let mut first = 0u64;
    let mut last_index = NO_OFFSET;
    let index_chunk = |entries: &mut Vec<u8>, n: &mut u32, first: u64, prev: u64, samples: u64| {
        let mut p = prev.to_be_bytes().to_vec();
        p.extend_from_slice(&first.to_be_bytes());
        p.extend_from_slice(&n.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p.append(entries);
        *n = 0;
        Chunk {
            ty: INDX,
            ts: samples,
            payload: p,
        }
    };
    for c in content {
        entries.extend_from_slice(&c.ty);
        entries.extend_from_slice(&[0; 4]);
        entries.extend_from_slice(&st.offset.to_be_bytes());
        entries.extend_from_slice(&c.ts.to_be_bytes());
        n += 1;
        if c.ty == AUDI {
            samples += (c.payload.len() / ba) as u64;
            audio_bytes += c.payload.len() as u64;
        }
        st.push(c);
        if n as usize == interval {
            let at = st.offset;
            st.push(index_chunk(
                &mut entries,
                &mut n,
                first,
                last_index,
                samples,
            ));
            last_index = at;
            first = st.m.chunks.len() as u64;
        }
    }
    if n > 0 {
        let at = st.offset;
        st.push(index_chunk(
            &mut entries,
            &mut n,
            first,
            last_index,
            samples,
        ));
        last_index = at;
    }
    let digest: [u8; 32] = st.manifest.clone().finalize().into();
    let mut p = Vec::new();
    p.extend_from_slice(&(st.m.chunks.len() as u64).to_be_bytes());
    p.extend_from_slice(&samples.to_be_bytes());
    p.extend_from_slice(&audio_bytes.to_be_bytes());
    p.extend_from_slice(&st.offset.to_be_bytes());
    p.extend_from_slice(&last_index.to_be_bytes());
    p.extend_from_slice(&flags.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(&digest);
    st.push(Chunk {
        ty: END,
        ts: samples,
        payload: p,
    });
    st.m
}

/// The index interval a writer uses under `cap`: the default 1024, or what fits.
fn interval_for(cap: u32, wanted: usize) -> usize {
    wanted.clamp(1, (cap as usize - 12 - 24) / 24)
}

/// Reads a whole file with the model (every chunk must be authentic and sealed as
/// the specification says) and rebuilds it from its content chunks; the result must
/// equal `bytes`. Returns the model.
pub fn check_with_model(hdr: &Hdr, key: [u8; 32], bytes: &[u8], interval: usize) -> Model {
    let header = hdr.bytes(&key);
    assert_eq!(
        bytes[..header.len()],
        header[..],
        "the writer's header matches the model's"
    );
    let h = sha(&[&header]);
    let mut at = header.len();
    let mut chunks = Vec::new();
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 12 + len + hdr.tag_len();
        chunks.push(open_with(
            hdr,
            &key,
            &h,
            chunks.len() as u64,
            &bytes[at..end],
        ));
        at = end;
    }
    let flags = u32::from_be_bytes(chunks.last().unwrap().payload[40..44].try_into().unwrap());
    let content = chunks
        .into_iter()
        .filter(|c| c.ty != INDX && c.ty != END)
        .collect();
    let m = finish(
        hdr.clone(),
        key,
        content,
        interval_for(hdr.cap, interval),
        flags,
    );
    assert!(
        m.bytes() == bytes,
        "the model rebuilds the writer's file byte for byte"
    );
    m
}

/// Writes a file with the crate's writer under `hdr`'s settings, checks it against the
/// model, and returns the model.
pub fn with_writer(
    hdr: &Hdr,
    info: RecordingInfo,
    chunk_frames: u64,
    interval: u32,
    recovered: bool,
    body: impl FnOnce(&mut Writer<Vec<u8>>),
) -> Model {
    let format = AudioFormat::new(
        Encoding::from_code(hdr.encoding).expect("a known encoding"),
        hdr.channels,
        hdr.rate,
    )
    .expect("a valid format");
    let key = Key::from_bytes(KEY);
    let mut b = WriterBuilder::new(format)
        .info(info)
        .max_chunk_len(hdr.cap)
        .chunk_frames(chunk_frames)
        .index_interval(interval)
        .retention_days(hdr.retention)
        .duration_class(DurationClass::from_code(hdr.duration).expect("a known class"))
        .salt_for_test_vectors(hdr.salt)
        .recovered(recovered);
    b = match hdr.level {
        1 => b,
        2 => b.authenticated(key),
        _ => b.encrypted(key),
    };
    let mut w = b.wrap_output(Vec::new()).expect("writer");
    body(&mut w);
    let bytes = w.finish().expect("finish");
    check_with_model(hdr, KEY, &bytes, interval as usize)
}

/// Deterministic pseudo-random bytes.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn info(id: &str) -> RecordingInfo {
    RecordingInfo {
        id: Some(id.into()),
        ..Default::default()
    }
}

fn person(id: &str, role: Role, ch: u16) -> Participant {
    Participant {
        id: id.into(),
        name: Some(format!("Name of {id}")),
        role,
        address: Some("+15550100".into()),
        channels: vec![ch],
        extra: Default::default(),
    }
}

fn event(at: u64, who: &str, kind: EventKind) -> Event {
    Event {
        at_sample: at,
        participant: Some(who.into()),
        kind,
        extra: Default::default(),
    }
}

/// The base file most broken vectors start from: µ-law stereo at 8000 Hz, cap 1024,
/// 100 frames per chunk, 250 frames of audio, two participants, two events and an
/// annotation. Its chunks are:
///
/// ```text
///  0 INFO   1 PART a1   2 PART c1   3 EVNT join@0   4 AUDI 100@0   5 AUDI 30@100
///  6 EVNT dtmf@130   7 AUDI 100@130   8 AUDI 20@230   9 ANNO@250   10 INDX   11 END
/// ```
pub fn base(level: u8, seed: &str) -> Model {
    let hdr = Hdr::new(level, Encoding::MuLaw, 2, 8000, seed);
    let audio = noise(500, seed.len() as u64 * 7 + level as u64);
    with_writer(&hdr, info(&format!("call-{seed}")), 100, 1024, false, |w| {
        w.add_participant(person("a1", Role::Agent, 0)).unwrap();
        w.add_participant(person("c1", Role::Customer, 1)).unwrap();
        w.add_event(event(0, "a1", EventKind::Join)).unwrap();
        w.add_event(event(
            130,
            "c1",
            EventKind::Dtmf {
                digits: Some("42".into()),
            },
        ))
        .unwrap();
        w.add_annotation(Annotation {
            at_sample: 250,
            fields: serde_json::json!({"kind": "tag", "value": "escalated"})
                .as_object()
                .unwrap()
                .clone(),
        })
        .unwrap();
        w.write_audio(&audio).unwrap();
    })
}

/// `base` with its content edited by `f`, timestamps recomputed when `retime_after`,
/// and INDX and END rebuilt: an authentic file that breaks only what `f` broke.
fn rebuilt(m: &Model, retime_after: bool, f: impl FnOnce(&mut Vec<Chunk>)) -> Model {
    let mut content = m.content();
    f(&mut content);
    if retime_after {
        retime(&mut content, m.hdr.block_align());
    }
    finish(
        m.hdr.clone(),
        m.key,
        content,
        interval_for(m.hdr.cap, 1024),
        0,
    )
}

/// `m` with chunk `i`'s plaintext edited by `f` and everything re-sealed (later chunks
/// are left as they were, so only chunk `i` breaks a rule).
fn resealed(m: &Model, i: usize, f: impl FnOnce(&mut Chunk)) -> Model {
    let mut m = m.clone();
    f(&mut m.chunks[i]);
    m
}

// ---------------------------------------------------------------- expectations

/// Where an error must be reported.
#[derive(Clone, Copy)]
enum At {
    /// No place: not-sasf, unsupported-version, key-required, wrong-key.
    Nowhere,
    /// In the header, at this byte offset.
    Header(u64),
    /// At chunk i (offset: its prefix).
    Chunk(usize),
    /// Truncated after this many whole chunks (offset: the input's length).
    Truncated(usize),
    /// Trailing data after the END chunk of the model.
    Trailing,
}

#[derive(Clone, Copy)]
enum KeyUse {
    None,
    Right,
    Wrong,
}

impl KeyUse {
    fn line(self) -> String {
        match self {
            KeyUse::None => "none".into(),
            KeyUse::Right => hex::encode(KEY),
            KeyUse::Wrong => hex::encode(WRONG_KEY),
        }
    }
    fn natural(level: u8) -> KeyUse {
        if level == 1 {
            KeyUse::None
        } else {
            KeyUse::Right
        }
    }
}

/// What a reader releases from `chunks`: samples, audio bytes and the metadata lines.
struct Released {
    samples: u64,
    audio: Vec<u8>,
    meta: Vec<u8>,
}

fn released(hdr: &Hdr, chunks: &[Chunk]) -> Released {
    let mut r = Released {
        samples: 0,
        audio: Vec::new(),
        meta: Vec::new(),
    };
    for c in chunks {
        if c.ty == AUDI {
            r.samples += (c.payload.len() / hdr.block_align()) as u64;
            r.audio.extend_from_slice(&c.payload);
        } else if c.ty == PART || c.ty == EVNT || c.ty == ANNO {
            assert!(!c.payload.contains(&b'\n'));
            r.meta.extend_from_slice(&c.ty);
            r.meta.extend_from_slice(format!(" {} ", c.ts).as_bytes());
            r.meta.extend_from_slice(&c.payload);
            r.meta.push(b'\n');
        }
    }
    r
}

fn hex_sha(b: &[u8]) -> String {
    hex::encode(sha(&[b]))
}

struct Gen {
    out: Vec<Vector>,
}

impl Gen {
    fn push(&mut self, name: &str, lines: Vec<String>, bytes: &[u8]) {
        assert!(
            !self.out.iter().any(|v| v.name == format!("{name}.vec")),
            "duplicate vector name {name}"
        );
        let mut c = Vec::new();
        for l in lines {
            assert!(!l.contains('\n') && !l.is_empty());
            c.extend_from_slice(l.as_bytes());
            c.push(b'\n');
        }
        c.push(b'\n');
        c.extend_from_slice(bytes);
        self.out.push(Vector {
            name: format!("{name}.vec"),
            contents: c,
        });
    }

    /// A valid file: `m` as it stands.
    fn ok(&mut self, name: &str, comment: &str, m: &Model) {
        let r = released(&m.hdr, &m.chunks);
        let end = &m.chunks[m.end_index()].payload;
        let flags = u32::from_be_bytes(end[40..44].try_into().unwrap());
        let mut lines = vec![
            "expect: success".to_string(),
            format!("comment: {comment}"),
            format!("level: {}", m.hdr.level),
            format!("key: {}", KeyUse::natural(m.hdr.level).line()),
            format!("chunks: {}", m.end_index()),
            format!("samples: {}", r.samples),
            format!("audio-bytes: {}", r.audio.len()),
            format!("audio-sha256: {}", hex_sha(&r.audio)),
            format!("metadata-sha256: {}", hex_sha(&r.meta)),
            format!("recovered: {}", if flags & 1 != 0 { "yes" } else { "no" }),
            format!(
                "info: {}",
                std::str::from_utf8(&m.chunks[0].payload).expect("ASCII JSON")
            ),
        ];
        for l in r.meta.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines.push(format!("meta: {}", std::str::from_utf8(l).expect("ASCII")));
        }
        self.push(name, lines, &m.bytes());
    }

    /// A file that must fail with `class` at `at`. `prefix` is a model whose first
    /// chunks are exactly the ones the file holds before the failure.
    #[allow(clippy::too_many_arguments)]
    fn err(
        &mut self,
        name: &str,
        comment: &str,
        prefix: &Model,
        key: KeyUse,
        bytes: &[u8],
        class: &str,
        at: At,
    ) {
        let n = match at {
            At::Nowhere | At::Header(_) => 0,
            At::Chunk(i) => i,
            At::Truncated(n) => n,
            At::Trailing => prefix.end_index(),
        };
        let r = released(&prefix.hdr, &prefix.chunks[..n]);
        let mut lines = vec![
            format!("expect: error {class}"),
            format!("comment: {comment}"),
            format!("level: {}", prefix.hdr.level),
            format!("key: {}", key.line()),
        ];
        match at {
            At::Nowhere => {}
            At::Header(o) => lines.push(format!("offset: {o}")),
            At::Chunk(i) => {
                lines.push(format!("chunk: {i}"));
                lines.push(format!("offset: {}", prefix.offsets()[i]));
            }
            At::Truncated(n) => {
                lines.push(match n {
                    0 => "after-chunk: none".to_string(),
                    n => format!("after-chunk: {}", n - 1),
                });
                lines.push(format!("offset: {}", bytes.len()));
            }
            At::Trailing => {
                let end = prefix.offsets()[prefix.chunks.len()];
                assert!(bytes.len() as u64 > end);
                lines.push(format!("offset: {end}"));
            }
        }
        lines.extend([
            format!("released-chunks: {n}"),
            format!("released-samples: {}", r.samples),
            format!("released-audio-bytes: {}", r.audio.len()),
            format!("released-audio-sha256: {}", hex_sha(&r.audio)),
            format!("released-metadata-sha256: {}", hex_sha(&r.meta)),
        ]);
        self.push(name, lines, bytes);
    }
}

/// Sets a big-endian field of `width` bytes at `at`.
fn put(b: &mut [u8], at: usize, width: usize, v: u64) {
    b[at..at + width].copy_from_slice(&v.to_be_bytes()[8 - width..]);
}

// ---------------------------------------------------------------- the vectors

const LEVELS: [u8; 3] = [1, 2, 3];

/// Every vector, in a fixed order.
pub fn generate() -> Vec<Vector> {
    let mut g = Gen { out: Vec::new() };
    success(&mut g);
    header(&mut g);
    keys(&mut g);
    tampering(&mut g);
    truncation(&mut g);
    end_and_trailing(&mut g);
    structure(&mut g);
    lengths(&mut g);
    g.out
}

fn success(g: &mut Gen) {
    for l in LEVELS {
        let hdr = Hdr::new(l, Encoding::U8, 1, 8000, &format!("empty-{l}"));
        let m = with_writer(&hdr, RecordingInfo::default(), 100, 1024, false, |_| {});
        g.ok(
            &format!("ok-empty-l{l}"),
            "empty recording: INFO {}, INDX, END; no audio, no metadata",
            &m,
        );

        let hdr = Hdr::new(l, Encoding::S16, 1, 16000, &format!("one-{l}"));
        let m = with_writer(&hdr, info("one"), 16000, 1024, false, |w| {
            w.write_audio(&noise(2 * 160, 11)).unwrap()
        });
        g.ok(
            &format!("ok-one-chunk-l{l}"),
            "one AUDI chunk of 160 s16 mono frames",
            &m,
        );

        let hdr = Hdr::new(l, Encoding::U8, 1, 8000, &format!("full-{l}"));
        let m = with_writer(&hdr, info("full"), 1012, 1024, false, |w| {
            w.write_audio(&noise(2 * 1012, 12)).unwrap()
        });
        assert_eq!(m.chunks[1].payload.len() + 12, 1024);
        g.ok(
            &format!("ok-full-chunk-l{l}"),
            "two AUDI chunks whose body length equals the header cap (1024): exactly full",
            &m,
        );

        let b = base(l, &format!("base-{l}"));
        g.ok(
            &format!("ok-call-l{l}"),
            "the base call most error vectors of this level are made from: INFO, 2 PART, 2 EVNT, 4 AUDI, ANNO, INDX, END",
            &b,
        );
        let m = rebuilt(&b, true, |c| {
            c.insert(5, Chunk::new(*b"xtra", b"an unknown ancillary chunk"));
            c.insert(9, Chunk::new(*b"zero", b""));
        });
        g.ok(
            &format!("ok-all-types-l{l}"),
            "every chunk type: INFO, PART, EVNT, AUDI, ANNO, INDX, END and two unknown ancillary chunks (xtra; zero, body length 12) that must be authenticated and skipped",
            &m,
        );

        let hdr = Hdr::new(l, Encoding::U8, 1, 8000, &format!("carry-{l}"));
        let m = with_writer(&hdr, info("carry"), 1, 1024, false, |w| {
            w.write_audio(&noise(262, 13)).unwrap()
        });
        assert!(m.chunks.len() > 257);
        g.ok(
            &format!("ok-counter-carry-l{l}"),
            "counter carry: 262 one-frame AUDI chunks, so chunk indexes (and level-3 nonces) pass 255 and 256; an INDX every 41 chunks",
            &m,
        );
    }

    for (i, enc) in Encoding::ALL.into_iter().enumerate() {
        let l = LEVELS[i % 3];
        let hdr = Hdr::new(l, enc, 2, 8000, &format!("enc-{}", enc.name()));
        let frames = 48;
        let m = with_writer(&hdr, info(enc.name()), 20, 1024, false, |w| {
            w.write_audio(&noise(frames * hdr.block_align(), 20 + i as u64))
                .unwrap()
        });
        g.ok(
            &format!("ok-encoding-{}-l{l}", enc.name()),
            &format!(
                "encoding code {} ({}), 2 channels, 48 frames in chunks of 20",
                enc.code(),
                enc.describe()
            ),
            &m,
        );
    }

    let hdr = Hdr::new(2, Encoding::U8, 1, 8000, "multi-index");
    let m = with_writer(&hdr, info("multi-index"), 10, 4, false, |w| {
        w.write_audio(&noise(200, 30)).unwrap()
    });
    g.ok(
        "ok-index-chain-l2",
        "an INDX chunk after every 4 described chunks: a chain of 6 index chunks linked by previous-index offsets",
        &m,
    );

    let hdr = Hdr::new(2, Encoding::S16, 1, 8000, "recovered");
    // Only the library's recover code may write `sasf.recovered` (the public writer
    // refuses the reserved namespace), so the event is sealed here by the model.
    let plain = with_writer(&hdr, info("recovered"), 100, 1024, false, |w| {
        w.write_audio(&noise(2 * 150, 31)).unwrap()
    });
    let mut content = plain.content();
    content.push(Chunk {
        ty: EVNT,
        ts: 150,
        payload: br#"{"type":"custom","key":"sasf.recovered","value":{"after_chunk":3,"at_sample":150,"original_bytes":999,"reason":"truncated"}}"#.to_vec(),
    });
    let m = finish(hdr.clone(), KEY, content, interval_for(hdr.cap, 1024), 1);
    g.ok(
        "ok-recovered-l2",
        "a file rebuilt by a recovery tool: END flag bit 0 set and a sasf.recovered event; valid, reported as recovered",
        &m,
    );

    for l in [1, 3] {
        let mut hdr = Hdr::new(l, Encoding::U8, 1, 8000, &format!("ext-{l}"));
        hdr.ext = vec![0x00, 0x01, 0x00, 0x04, b'a', b'b', b'c', b'd'];
        let m = one_chunk_file(&hdr, 40);
        g.ok(
            &format!("ok-extension-l{l}"),
            "a non-critical header extension (type 0x0001, 4 bytes): authenticated by the header tag and ignored",
            &m,
        );
    }
    let mut hdr = Hdr::new(1, Encoding::U8, 1, 8000, "ext-max");
    hdr.ext = vec![0x00, 0x02, 0x0F, 0xFC];
    hdr.ext.extend(noise(4092, 32));
    let m = one_chunk_file(&hdr, 40);
    g.ok(
        "ok-extension-max-l1",
        "extension area of exactly 4096 bytes (the maximum): one non-critical extension of 4092 bytes",
        &m,
    );

    let mut hdr = Hdr::new(1, Encoding::U8, 1, 8000, "cap-max");
    hdr.cap = 16_777_216;
    let m = with_writer(&hdr, info("cap-max"), 100, 1024, false, |w| {
        w.write_audio(&noise(250, 33)).unwrap()
    });
    g.ok(
        "ok-cap-max-l1",
        "header chunk cap 16777216, the largest allowed (the chunks themselves are small)",
        &m,
    );

    let mut hdr = Hdr::new(1, Encoding::U8, 1, 8000, "legal-hold");
    hdr.retention = u32::MAX;
    let m = with_writer(&hdr, info("legal-hold"), 100, 1024, false, |w| {
        w.write_audio(&noise(100, 34)).unwrap()
    });
    g.ok(
        "ok-legal-hold-l1",
        "retention days FFFFFFFF (keep indefinitely)",
        &m,
    );

    let mut hdr = Hdr::new(3, Encoding::U8, 1, 50, "duration");
    hdr.duration = 2;
    let m = with_writer(&hdr, info("duration"), 1000, 1024, false, |w| {
        w.write_audio(&[0x80; 3000]).unwrap()
    });
    g.ok(
        "ok-duration-class-l3",
        "declared duration class 2 (1 to 10 minutes) with exactly 60 s of audio at 50 Hz, checked against the END total",
        &m,
    );

    let b = base(3, "base-3");
    let deep = format!(
        "{{\"kind\":\"deep\",\"v\":{}{}}}",
        "[".repeat(31),
        "]".repeat(31)
    );
    let m = resealed(&b, 9, |c| c.payload = deep.into_bytes());
    g.ok(
        "ok-json-depth-32-l3",
        "an ANNO payload nested exactly 32 deep (the default limit)",
        &rebuilt(&m, false, |_| {}),
    );
}

/// A level-agnostic small file: INFO and one AUDI chunk of `frames` u8 mono frames,
/// built by the model alone (for headers the writer cannot make).
fn one_chunk_file(hdr: &Hdr, frames: usize) -> Model {
    let mut content = vec![
        Chunk::new(INFO, br#"{"id":"model"}"#),
        Chunk::new(AUDI, &noise(frames * hdr.block_align(), 40)),
    ];
    retime(&mut content, hdr.block_align());
    finish(hdr.clone(), KEY, content, interval_for(hdr.cap, 1024), 0)
}

fn header(g: &mut Gen) {
    let b1 = base(1, "base-1");
    let hb = |m: &Model, at: usize, width: usize, v: u64| m.edited(|b, _| put(b, at, width, v));

    for (v, what) in [(0u64, "0"), (2, "2")] {
        g.err(
            &format!("hdr-version-{what}-l1"),
            &format!("version field {what}: nothing after byte 10 may be interpreted"),
            &b1,
            KeyUse::None,
            &hb(&b1, 8, 2, v),
            "unsupported-version",
            At::Nowhere,
        );
    }
    let mut x = b1.bytes();
    x[0] = b'P';
    g.err(
        "hdr-bad-magic-l1",
        "first magic byte changed",
        &b1,
        KeyUse::None,
        &x,
        "not-sasf",
        At::Nowhere,
    );
    let mut x = b1.bytes();
    x[7] ^= 0x01;
    g.err(
        "hdr-bad-magic-last-byte-l1",
        "last magic byte changed",
        &b1,
        KeyUse::None,
        &x,
        "not-sasf",
        At::Nowhere,
    );
    let mut wav = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
    wav.extend_from_slice(&[0u8; 40]);
    g.err(
        "hdr-not-sasf-wav",
        "a WAV header, not SASF",
        &b1,
        KeyUse::None,
        &wav,
        "not-sasf",
        At::Nowhere,
    );

    // Invalid values: refused before any authentication, whatever the level.
    let invalid: [(&str, &str, usize, usize, u64, &str, u64); 15] = [
        ("level-0", "integrity level 0", 10, 1, 0, "unsupported", 10),
        ("level-4", "integrity level 4", 10, 1, 4, "unsupported", 10),
        (
            "encoding-0",
            "audio encoding 0",
            11,
            1,
            0,
            "unsupported",
            11,
        ),
        (
            "encoding-9",
            "audio encoding 9",
            11,
            1,
            9,
            "unsupported",
            11,
        ),
        (
            "channels-0",
            "channel count 0",
            12,
            2,
            0,
            "malformed-header",
            12,
        ),
        (
            "channels-65535",
            "65535 channels: one frame no longer fits the 1024-byte cap",
            12,
            2,
            65535,
            "malformed-header",
            18,
        ),
        ("rate-0", "sample rate 0", 14, 4, 0, "malformed-header", 14),
        (
            "cap-1023",
            "chunk cap 1023, below the minimum 1024",
            18,
            4,
            1023,
            "malformed-header",
            18,
        ),
        (
            "cap-16777217",
            "chunk cap 16777217, above the maximum 16777216",
            18,
            4,
            16_777_217,
            "malformed-header",
            18,
        ),
        (
            "cap-ffffffff",
            "chunk cap FFFFFFFF",
            18,
            4,
            0xFFFF_FFFF,
            "malformed-header",
            18,
        ),
        (
            "duration-5",
            "duration class 5 (unknown)",
            26,
            1,
            5,
            "malformed-header",
            26,
        ),
        (
            "flags-01",
            "header flags 01 (must be 0)",
            27,
            1,
            1,
            "malformed-header",
            27,
        ),
        (
            "flags-80",
            "header flags 80 (must be 0)",
            27,
            1,
            0x80,
            "malformed-header",
            27,
        ),
        (
            "extlen-4097",
            "extension length 4097, above the maximum 4096",
            28,
            2,
            4097,
            "malformed-header",
            28,
        ),
        (
            "reserved",
            "reserved header bytes 30..32 not zero",
            30,
            2,
            1,
            "malformed-header",
            30,
        ),
    ];
    for (name, comment, at, width, v, class, off) in invalid {
        g.err(
            &format!("hdr-{name}-l1"),
            comment,
            &b1,
            KeyUse::None,
            &hb(&b1, at, width, v),
            class,
            At::Header(off),
        );
    }
    let b3 = base(3, "base-3");
    for (name, comment, at, width, v, class, off) in [
        (
            "level-4",
            "integrity level 4",
            10,
            1,
            4u64,
            "unsupported",
            10u64,
        ),
        (
            "cap-1023",
            "chunk cap 1023",
            18,
            4,
            1023,
            "malformed-header",
            18,
        ),
        (
            "flags-01",
            "header flags 01",
            27,
            1,
            1,
            "malformed-header",
            27,
        ),
    ] {
        g.err(
            &format!("hdr-{name}-l3"),
            &format!("{comment}: refused before the key is checked"),
            &b3,
            KeyUse::Right,
            &hb(&b3, at, width, v),
            class,
            At::Header(off),
        );
    }
    let mut x = b1.bytes();
    x[64] = 1;
    g.err(
        "hdr-commitment-l1",
        "a keyless file's commitment must be all zero",
        &b1,
        KeyUse::None,
        &x,
        "malformed-header",
        At::Header(64),
    );

    // Level switches.
    g.err(
        "hdr-level-1-to-2-nokey-l1",
        "a keyless file relabelled level 2, read without a key",
        &b1,
        KeyUse::None,
        &hb(&b1, 10, 1, 2),
        "key-required",
        At::Nowhere,
    );
    g.err(
        "hdr-level-1-to-2-l1",
        "a keyless file relabelled level 2, read with a key: its zero commitment does not match",
        &b1,
        KeyUse::Right,
        &hb(&b1, 10, 1, 2),
        "wrong-key",
        At::Nowhere,
    );
    let b2 = base(2, "base-2");
    g.err(
        "hdr-level-2-to-3-l2",
        "an HMAC file relabelled level 3: the level-3 commitment label gives another value",
        &b2,
        KeyUse::Right,
        &hb(&b2, 10, 1, 3),
        "wrong-key",
        At::Nowhere,
    );
    g.err(
        "hdr-level-3-to-2-l3",
        "an encrypted file relabelled level 2 (a downgrade)",
        &b3,
        KeyUse::Right,
        &hb(&b3, 10, 1, 2),
        "wrong-key",
        At::Nowhere,
    );
    for (m, l) in [(&b2, 2), (&b3, 3)] {
        g.err(
            &format!("hdr-level-{l}-to-1-l{l}"),
            "a keyed file relabelled keyless (a downgrade): its commitment is not zero",
            m,
            KeyUse::None,
            &hb(m, 10, 1, 1),
            "malformed-header",
            At::Header(64),
        );
    }

    // Valid values changed: the header tag (or, for the salt and commitment at levels
    // 2 and 3, the key commitment) must catch them.
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let tag_at = At::Header(96);
        let fields: [(&str, &str, usize, usize, u64); 7] = [
            ("encoding", "audio encoding 7 (mu-law) changed to 8 (A-law)", 11, 1, 8),
            ("channels", "channel count 2 changed to 1", 12, 2, 1),
            ("rate", "sample rate 8000 changed to 8001", 14, 4, 8001),
            ("cap", "chunk cap 1024 changed to 2048", 18, 4, 2048),
            ("retention", "retention days 0 changed to 365", 22, 4, 365),
            ("duration", "duration class 0 changed to 1 (a valid class)", 26, 1, 1),
            ("extlen", "extension length 0 changed to 4 (the tag's first bytes are read as an extension entry)", 28, 2, 4),
        ];
        for (name, comment, at, width, v) in fields {
            let x = hb(&b, at, width, v);
            let (class, where_) = if name == "extlen" {
                // The 4 bytes at 96 (the tag's start) are now an extension entry:
                // type, length. Whether the entry fits decides the error.
                let len = u16::from_be_bytes([x[98], x[99]]);
                let ty = u16::from_be_bytes([x[96], x[97]]);
                if len > 0 {
                    ("malformed-header", At::Header(96))
                } else if ty & 0x8000 != 0 {
                    ("unsupported", At::Header(96))
                } else {
                    ("auth-failed", At::Header(100))
                }
            } else {
                ("auth-failed", tag_at)
            };
            g.err(
                &format!("hdr-{name}-changed-l{l}"),
                comment,
                &b,
                k,
                &x,
                class,
                where_,
            );
        }
        let mut x = b.bytes();
        x[40] ^= 0x01;
        let (class, at) = if l == 1 {
            ("auth-failed", tag_at)
        } else {
            ("wrong-key", At::Nowhere)
        };
        g.err(
            &format!("hdr-salt-changed-l{l}"),
            "one salt bit flipped",
            &b,
            k,
            &x,
            class,
            at,
        );
        if l != 1 {
            let mut x = b.bytes();
            x[95] ^= 0x80;
            g.err(
                &format!("hdr-commitment-changed-l{l}"),
                "one commitment bit flipped",
                &b,
                k,
                &x,
                "wrong-key",
                At::Nowhere,
            );
        }
        let mut x = b.bytes();
        x[127] ^= 0x01;
        g.err(
            &format!("hdr-tag-changed-l{l}"),
            "one header tag bit flipped",
            &b,
            k,
            &x,
            "auth-failed",
            tag_at,
        );
        // Header hash mismatch: a changed header that is itself authentic (re-tagged,
        // as anyone can at level 1 and the key holder can at 2 and 3), followed by the
        // original chunks, which are bound to the original header's hash.
        let mut h2 = b.hdr.clone();
        h2.retention = 30;
        let mut x = h2.bytes(&KEY);
        x.extend_from_slice(&b.bytes()[b.hdr.header_len()..]);
        g.err(
            &format!("hdr-hash-mismatch-l{l}"),
            "authentic header with retention changed to 30 before the original chunks: header hash H differs, chunk 0 fails",
            &b,
            k,
            &x,
            "auth-failed",
            At::Chunk(0),
        );
    }

    // Extensions, in authentic headers.
    for (name, comment, ext, class) in [
        (
            "critical",
            "an unknown critical extension (type 0x8001): must stop",
            vec![0x80, 0x01, 0x00, 0x00],
            "unsupported",
        ),
        (
            "overrun",
            "an extension entry claiming 8 bytes in a 4-byte remainder",
            vec![0x00, 0x01, 0x00, 0x08, 1, 2, 3, 4],
            "malformed-header",
        ),
        (
            "short",
            "an extension area of 2 bytes: shorter than one entry header",
            vec![0x00, 0x01],
            "malformed-header",
        ),
    ] {
        let mut hdr = Hdr::new(1, Encoding::U8, 1, 8000, &format!("ext-{name}"));
        hdr.ext = ext;
        let m = one_chunk_file(&hdr, 10);
        g.err(
            &format!("hdr-ext-{name}-l1"),
            comment,
            &m,
            KeyUse::None,
            &m.bytes(),
            class,
            At::Header(96),
        );
    }
    let mut hdr = Hdr::new(1, Encoding::U8, 1, 8000, "ext-1");
    hdr.ext = vec![0x00, 0x01, 0x00, 0x04, b'a', b'b', b'c', b'd'];
    let m = one_chunk_file(&hdr, 40);
    g.err(
        "hdr-ext-dropped-l1",
        "extension length 8 changed to 0: the extension bytes are read as the header tag",
        &m,
        KeyUse::None,
        &hb(&m, 28, 2, 0),
        "auth-failed",
        At::Header(96),
    );
}

fn keys(g: &mut Gen) {
    for l in [2u8, 3] {
        let b = base(l, &format!("base-{l}"));
        g.err(
            &format!("key-required-l{l}"),
            "a keyed file read without a key",
            &b,
            KeyUse::None,
            &b.bytes(),
            "key-required",
            At::Nowhere,
        );
        g.err(
            &format!("key-wrong-l{l}"),
            "read with another key: the commitment must report a wrong key, not an authentication failure",
            &b,
            KeyUse::Wrong,
            &b.bytes(),
            "wrong-key",
            At::Nowhere,
        );
    }
}

fn tampering(g: &mut Gen) {
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let tl = b.hdr.tag_len();
        let raw = b.raw();
        let end = b.end_index();
        for (name, i) in [("first", 0usize), ("middle", 5), ("last", end)] {
            let x = b.edited(|x, off| x[off[i + 1] as usize - tl] ^= 0x01);
            g.err(
                &format!("tamper-tag-{name}-l{l}"),
                &format!("one bit of chunk {i}'s tag flipped ({name} chunk)"),
                &b,
                k,
                &x,
                "auth-failed",
                At::Chunk(i),
            );
        }
        let x = b.edited(|x, off| x[off[7] as usize + 12 + 12 + 50] ^= 0x01);
        g.err(
            &format!("tamper-audio-bit-l{l}"),
            "one bit of an audio sample in chunk 7 flipped",
            &b,
            k,
            &x,
            "auth-failed",
            At::Chunk(7),
        );
        let join = |parts: &[&Vec<u8>]| {
            let mut x = b.header();
            for p in parts {
                x.extend_from_slice(p);
            }
            x
        };
        let mut order: Vec<&Vec<u8>> = raw.iter().collect();
        order.remove(5);
        g.err(
            &format!("tamper-drop-l{l}"),
            "chunk 5 dropped",
            &b,
            k,
            &join(&order),
            "auth-failed",
            At::Chunk(5),
        );
        let mut order: Vec<&Vec<u8>> = raw.iter().collect();
        order.insert(6, &raw[5]);
        g.err(
            &format!("tamper-duplicate-l{l}"),
            "chunk 5 repeated after itself",
            &b,
            k,
            &join(&order),
            "auth-failed",
            At::Chunk(6),
        );
        let mut order: Vec<&Vec<u8>> = raw.iter().collect();
        order.swap(5, 7);
        g.err(
            &format!("tamper-swap-l{l}"),
            "chunks 5 and 7 (both audio) swapped",
            &b,
            k,
            &join(&order),
            "auth-failed",
            At::Chunk(5),
        );
        let x = b.edited(|x, off| {
            let at = off[6] as usize + 12;
            for (j, (a, c)) in EVNT.iter().zip(ANNO.iter()).enumerate() {
                x[at + j] ^= a ^ c;
            }
        });
        g.err(
            &format!("tamper-retype-l{l}"),
            "chunk 6's type EVNT changed to ANNO (at level 3 by flipping the same bits of the ciphertext)",
            &b,
            k,
            &x,
            "auth-failed",
            At::Chunk(6),
        );
        let x = b.edited(|x, off| {
            let at = off[7] as usize;
            let len = u32::from_be_bytes(x[at..at + 4].try_into().unwrap());
            put(x, at, 4, len as u64 - 2);
        });
        g.err(
            &format!("tamper-length-l{l}"),
            "chunk 7's body length made 2 smaller (still a whole number of frames, within the cap)",
            &b,
            k,
            &x,
            "auth-failed",
            At::Chunk(7),
        );
        let x = b.edited(|x, off| put(x, off[7] as usize + 4, 8, 8));
        g.err(
            &format!("tamper-index-l{l}"),
            "chunk 7's stored index changed to 8",
            &b,
            k,
            &x,
            "auth-failed",
            At::Chunk(7),
        );
        let other = base(l, &format!("other-{l}"));
        let oraw = other.raw();
        assert_eq!(oraw[7].len(), raw[7].len());
        let mut order: Vec<&Vec<u8>> = raw.iter().collect();
        order[7] = &oraw[7];
        g.err(
            &format!("tamper-foreign-chunk-l{l}"),
            "chunk 7 replaced by chunk 7 of another file made with the same key and layout (another salt)",
            &b,
            k,
            &join(&order),
            "auth-failed",
            At::Chunk(7),
        );
    }
}

fn truncation(g: &mut Gen) {
    let b1 = base(1, "base-1");
    for (n, comment) in [
        (0usize, "an empty input"),
        (5, "input ends inside the magic"),
        (9, "input ends inside the version field"),
        (60, "input ends inside the fixed header"),
        (100, "input ends inside the header tag"),
    ] {
        let x = &b1.bytes()[..n];
        let (class, at) = if n == 0 {
            ("not-sasf", At::Nowhere)
        } else {
            ("truncated", At::Truncated(0))
        };
        g.err(
            &format!("trunc-at-{n}-l1"),
            comment,
            &b1,
            KeyUse::None,
            x,
            class,
            at,
        );
    }
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let off = b.offsets();
        let bytes = b.bytes();
        let end = b.end_index();
        let boundaries: Vec<usize> = if l == 3 {
            (0..=end).collect()
        } else {
            vec![0, 6, end]
        };
        for n in boundaries {
            let comment = match n {
                0 => "cut right after the header".to_string(),
                n if n == end => {
                    "cut right before the END chunk: the END chunk is missing".to_string()
                }
                n => format!("cut on the chunk boundary after chunk {}", n - 1),
            };
            let name = match n {
                0 => format!("trunc-after-header-l{l}"),
                n if n == end => format!("trunc-missing-end-l{l}"),
                n => format!("trunc-after-chunk-{}-l{l}", n - 1),
            };
            g.err(
                &name,
                &comment,
                &b,
                k,
                &bytes[..off[n] as usize],
                "truncated",
                At::Truncated(n),
            );
        }
        let mut inside = vec![("body", off[7] as usize + 12 + 20, 7usize)];
        if l == 3 {
            inside.extend([
                ("prefix", off[7] as usize + 5, 7),
                ("tag", off[8] as usize - 3, 7),
                ("end-chunk", off[end] as usize + 40, end),
            ]);
        }
        for (name, cut, whole) in inside {
            g.err(
                &format!("trunc-inside-{name}-l{l}"),
                &format!("cut inside the {name} of chunk {whole}"),
                &b,
                k,
                &bytes[..cut],
                "truncated",
                At::Truncated(whole),
            );
        }
    }
}

fn end_and_trailing(g: &mut Gen) {
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let n = b.chunks.len() as u64;
        let mut x = b.bytes();
        let end = b.chunks[b.end_index()].clone();
        x.extend_from_slice(&b.seal(n, &end));
        g.err(
            &format!("end-two-ends-l{l}"),
            "a second, authentic END chunk (index 12) after the END chunk",
            &b,
            k,
            &x,
            "trailing-data",
            At::Trailing,
        );
        let mut x = b.bytes();
        let mut audio = Chunk::new(AUDI, &noise(20, 50));
        audio.ts = 250;
        x.extend_from_slice(&b.seal(n, &audio));
        g.err(
            &format!("end-chunk-after-end-l{l}"),
            "an authentic AUDI chunk (index 12) after the END chunk",
            &b,
            k,
            &x,
            "trailing-data",
            At::Trailing,
        );
        let mut x = b.bytes();
        x.push(0);
        g.err(
            &format!("end-trailing-byte-l{l}"),
            "one zero byte after the END chunk",
            &b,
            k,
            &x,
            "trailing-data",
            At::Trailing,
        );
        let mut x = b.bytes();
        x.extend_from_slice(&[b'G'; 100]);
        g.err(
            &format!("end-trailing-garbage-l{l}"),
            "100 bytes of garbage after the END chunk",
            &b,
            k,
            &x,
            "trailing-data",
            At::Trailing,
        );
    }

    // Authentic END chunks whose fields disagree with the stream.
    let b = base(3, "base-3");
    let e = b.end_index();
    let fields: [(&str, &str, usize, usize, u64); 8] = [
        ("chunks", "chunk count one too high", 0, 8, 13),
        ("samples", "sample total one too low", 8, 8, 249),
        ("audio-bytes", "audio byte total one too high", 16, 8, 501),
        (
            "stream-bytes",
            "stream byte total one too low",
            24,
            8,
            u64::MAX,
        ),
        (
            "last-index",
            "last index offset pointing at chunk 9",
            32,
            8,
            u64::MAX,
        ),
        ("flags", "unknown END flag bit 1", 40, 4, 2),
        ("reserved", "reserved END bytes not zero", 44, 4, 1),
        (
            "manifest",
            "manifest digest with one bit flipped",
            48,
            1,
            u64::MAX,
        ),
    ];
    for (name, comment, at, width, v) in fields {
        let m = resealed(&b, e, |c| {
            let p = &mut c.payload;
            let old = {
                let mut a = [0u8; 8];
                a[8 - width..].copy_from_slice(&p[at..at + width]);
                u64::from_be_bytes(a)
            };
            let new = match name {
                "stream-bytes" => old - 1,
                "last-index" => b.offsets()[9],
                "manifest" => old ^ 1,
                _ => v,
            };
            put(p, at, width, new);
        });
        g.err(
            &format!("end-wrong-{name}-l3"),
            &format!("authentic END chunk with its {comment}"),
            &m,
            KeyUse::Right,
            &m.bytes(),
            "malformed",
            At::Chunk(e),
        );
    }
    let m = resealed(&b, e, |c| {
        c.payload.pop();
    });
    g.err(
        "end-short-payload-l3",
        "authentic END chunk with a 79-byte payload (body length 91, not 92)",
        &m,
        KeyUse::Right,
        &m.bytes(),
        "malformed",
        At::Chunk(e),
    );
    let m = resealed(&b, e, |c| c.ts += 1);
    g.err(
        "end-wrong-timestamp-l3",
        "authentic END chunk whose timestamp is one past the audio",
        &m,
        KeyUse::Right,
        &m.bytes(),
        "malformed",
        At::Chunk(e),
    );
    let b1 = base(1, "base-1");
    let e = b1.end_index();
    let m = resealed(&b1, e, |c| put(&mut c.payload, 8, 8, 251));
    g.err(
        "end-wrong-samples-l1",
        "END chunk (with a valid keyless tag) whose sample total is one too high",
        &m,
        KeyUse::None,
        &m.bytes(),
        "malformed",
        At::Chunk(e),
    );
    let mut hdr = b.hdr.clone();
    hdr.duration = 2;
    let m = finish(hdr, KEY, b.content(), interval_for(1024, 1024), 0);
    g.err(
        "end-duration-mismatch-l3",
        "authentic header declaring duration class 2 (1 to 10 minutes) for 250 frames at 8000 Hz: refused at the END chunk",
        &m,
        KeyUse::Right,
        &m.bytes(),
        "malformed",
        At::Chunk(m.end_index()),
    );
}

fn structure(g: &mut Gen) {
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let mut v: Vec<(String, String, Model, &str, usize)> = vec![
            (
                "info-at-1".into(),
                "a second INFO chunk at index 1".into(),
                rebuilt(&b, true, |c| c.insert(1, c[0].clone())),
                "malformed",
                1,
            ),
            (
                "ts-audio".into(),
                "AUDI chunk 7 with timestamp 131 instead of 130".into(),
                rebuilt(&b, false, |c| c[7].ts += 1),
                "malformed",
                7,
            ),
            (
                "unknown-critical".into(),
                "an unknown critical chunk type Xtra at index 5: must stop".into(),
                rebuilt(&b, true, |c| c.insert(5, Chunk::new(*b"Xtra", b"critical"))),
                "unsupported",
                5,
            ),
        ];
        if l == 3 {
            let deep = format!(
                "{{\"kind\":\"deep\",\"v\":{}{}}}",
                "[".repeat(32),
                "]".repeat(32)
            );
            let pay = |i: usize, p: &str| {
                let p = p.as_bytes().to_vec();
                rebuilt(&b, false, move |c| c[i].payload = p)
            };
            v.extend([
                (
                    "no-info".into(),
                    "chunk 0 is a PART chunk: the INFO chunk is missing".into(),
                    rebuilt(&b, true, |c| {
                        c.remove(0);
                    }),
                    "malformed",
                    0,
                ),
                (
                    "ts-info".into(),
                    "INFO chunk with timestamp 1".into(),
                    rebuilt(&b, false, |c| c[0].ts = 1),
                    "malformed",
                    0,
                ),
                (
                    "ts-event".into(),
                    "EVNT chunk 6 with timestamp 129 instead of 130".into(),
                    rebuilt(&b, false, |c| c[6].ts = 129),
                    "malformed",
                    6,
                ),
                (
                    "partial-frame".into(),
                    "AUDI chunk 8 with 39 bytes: not a whole number of 2-byte frames".into(),
                    rebuilt(&b, false, |c| {
                        c[8].payload.pop();
                    }),
                    "malformed",
                    8,
                ),
                (
                    "empty-audio".into(),
                    "an AUDI chunk with no samples (body length 12) at index 5".into(),
                    rebuilt(&b, true, |c| c.insert(5, Chunk::new(AUDI, b""))),
                    "malformed",
                    5,
                ),
                (
                    "event-unknown-participant".into(),
                    "EVNT naming participant zz, never declared".into(),
                    pay(6, r#"{"type":"hold","participant":"zz"}"#),
                    "malformed",
                    6,
                ),
                (
                    "event-before-participant".into(),
                    "EVNT join a1 placed before a1's PART chunk".into(),
                    rebuilt(&b, true, |c| {
                        let e = c.remove(3);
                        c.insert(1, e);
                    }),
                    "malformed",
                    1,
                ),
                (
                    "duplicate-participant".into(),
                    "two PART chunks with id a1".into(),
                    rebuilt(&b, false, |c| c[2] = c[1].clone()),
                    "malformed",
                    2,
                ),
                (
                    "json-invalid".into(),
                    "EVNT payload that is not JSON (unterminated object)".into(),
                    pay(6, r#"{"type":"dtmf","digits":"42""#),
                    "malformed",
                    6,
                ),
                (
                    "json-not-object".into(),
                    "EVNT payload that is a JSON array, not an object".into(),
                    pay(6, r#"["dtmf","42"]"#),
                    "malformed",
                    6,
                ),
                (
                    "json-too-deep".into(),
                    "ANNO payload nested 33 deep, past the default limit of 32".into(),
                    pay(9, &deep),
                    "limit-exceeded",
                    9,
                ),
                (
                    "event-unknown-type".into(),
                    "EVNT of an unknown type".into(),
                    pay(6, r#"{"type":"explode","participant":"c1"}"#),
                    "malformed",
                    6,
                ),
                (
                    "dtmf-bad-digits".into(),
                    "DTMF event with digits outside 0-9*#A-D".into(),
                    pay(6, r#"{"type":"dtmf","participant":"c1","digits":"4x"}"#),
                    "malformed",
                    6,
                ),
                (
                    "participant-bad-role".into(),
                    "PART with an unknown role".into(),
                    pay(2, r#"{"id":"c1","role":"boss"}"#),
                    "malformed",
                    2,
                ),
                (
                    "participant-bad-channel".into(),
                    "PART naming channel 2 of a 2-channel file".into(),
                    pay(2, r#"{"id":"c1","role":"customer","channels":[2]}"#),
                    "malformed",
                    2,
                ),
                (
                    "info-channel-map".into(),
                    "INFO channel map with 1 entry for 2 channels".into(),
                    pay(0, r#"{"channels":["agent"]}"#),
                    "malformed",
                    0,
                ),
                (
                    "info-started-at".into(),
                    "INFO start anchor that is not an RFC 3339 time".into(),
                    pay(0, r#"{"started_at":"yesterday"}"#),
                    "malformed",
                    0,
                ),
                (
                    "annotation-no-kind".into(),
                    "ANNO without a kind".into(),
                    pay(9, r#"{"value":"x"}"#),
                    "malformed",
                    9,
                ),
                // The strict JSON profile (FORMAT.md §8.0).
                (
                    "json-duplicate-member".into(),
                    "EVNT naming participant zz, then c1, under one repeated member name".into(),
                    pay(
                        6,
                        r#"{"type":"hold","participant":"zz","participant":"c1"}"#,
                    ),
                    "malformed",
                    6,
                ),
                (
                    "json-null-member".into(),
                    "EVNT with \"participant\": null (null never means absent)".into(),
                    pay(6, r#"{"type":"dtmf","participant":null,"digits":"42"}"#),
                    "malformed",
                    6,
                ),
                (
                    "json-number-range".into(),
                    "ANNO holding the number 1e400, outside binary64".into(),
                    pay(9, r#"{"kind":"tag","v":1e400}"#),
                    "malformed",
                    9,
                ),
                (
                    "info-started-at-lower-t".into(),
                    "INFO start anchor with a lower-case t (RFC 3339 exactly: upper-case T and Z)"
                        .into(),
                    pay(0, r#"{"started_at":"2026-11-23t10:15:00Z"}"#),
                    "malformed",
                    0,
                ),
                (
                    "dtmf-redacted-with-digits".into(),
                    "DTMF event marked redacted that still carries digits".into(),
                    pay(
                        6,
                        r#"{"type":"dtmf","participant":"c1","redacted":true,"digits":"42"}"#,
                    ),
                    "malformed",
                    6,
                ),
            ]);
            // Authentic INDX chunks that do not match the chunks they describe.
            let ix = 10usize;
            assert_eq!(b.chunks[ix].ty, INDX);
            let idx = |f: &dyn Fn(&mut Vec<u8>)| resealed(&b, ix, |c| f(&mut c.payload));
            for (name, comment, m) in [
                (
                    "index-entry-offset",
                    "INDX entry 4 with its offset one too high",
                    idx(&|p| {
                        let at = 24 + 4 * 24 + 8;
                        let o = u64::from_be_bytes(p[at..at + 8].try_into().unwrap());
                        put(p, at, 8, o + 1);
                    }),
                ),
                (
                    "index-entry-type",
                    "INDX entry 4 with type PART instead of AUDI",
                    idx(&|p| p[24 + 4 * 24..24 + 4 * 24 + 4].copy_from_slice(b"PART")),
                ),
                (
                    "index-entry-timestamp",
                    "INDX entry 7 with timestamp 131",
                    idx(&|p| put(p, 24 + 7 * 24 + 16, 8, 131)),
                ),
                (
                    "index-entry-reserved",
                    "INDX entry 0 with non-zero reserved bytes",
                    idx(&|p| p[24 + 4] = 1),
                ),
                (
                    "index-count",
                    "INDX describing 9 chunks instead of 10 (count and length agree)",
                    idx(&|p| {
                        put(p, 16, 4, 9);
                        p.truncate(p.len() - 24);
                    }),
                ),
                (
                    "index-length",
                    "INDX whose count (10) disagrees with its length (9 entries)",
                    idx(&|p| p.truncate(p.len() - 24)),
                ),
                (
                    "index-first",
                    "INDX whose first-chunk field is 1",
                    idx(&|p| put(p, 8, 8, 1)),
                ),
                (
                    "index-prev",
                    "first INDX whose previous-index offset is 0, not FFFFFFFFFFFFFFFF",
                    idx(&|p| put(p, 0, 8, 0)),
                ),
                (
                    "index-reserved",
                    "INDX with non-zero reserved header bytes",
                    idx(&|p| p[23] = 1),
                ),
            ] {
                v.push((name.into(), comment.into(), m, "malformed", ix));
            }
        }
        for (name, comment, m, class, i) in v {
            g.err(
                &format!("struct-{name}-l{l}"),
                &format!("{comment} (an authentic chunk breaking a rule)"),
                &m,
                k,
                &m.bytes(),
                class,
                At::Chunk(i),
            );
        }
    }
    // The previous-index link of a second INDX in a chain.
    let hdr = Hdr::new(2, Encoding::U8, 1, 8000, "multi-index");
    let m = with_writer(&hdr, info("multi-index"), 10, 4, false, |w| {
        w.write_audio(&noise(200, 30)).unwrap()
    });
    let second = m
        .chunks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.ty == INDX)
        .nth(1)
        .unwrap()
        .0;
    let x = resealed(&m, second, |c| put(&mut c.payload, 0, 8, NO_OFFSET));
    g.err(
        "struct-index-chain-l2",
        "second INDX of a chain whose previous-index offset is FFFFFFFFFFFFFFFF instead of the first INDX's offset (authentic)",
        &x,
        KeyUse::Right,
        &x.bytes(),
        "malformed",
        At::Chunk(second),
    );
}

fn lengths(g: &mut Gen) {
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let set_len = |v: u64| b.edited(|x, off| put(x, off[7] as usize, 4, v));
        g.err(
            &format!("len-zero-l{l}"),
            "chunk 7's body length field 0 (below the minimum 12)",
            &b,
            k,
            &set_len(0),
            "malformed",
            At::Chunk(7),
        );
        g.err(
            &format!("len-max-l{l}"),
            "chunk 7's body length field FFFFFFFF: refused before anything is allocated or read",
            &b,
            k,
            &set_len(0xFFFF_FFFF),
            "limit-exceeded",
            At::Chunk(7),
        );
        let m = rebuilt(&b, true, |c| {
            c.insert(7, Chunk::new(*b"xtra", &noise(1013, 60)))
        });
        g.err(
            &format!("len-above-cap-l{l}"),
            "an authentic ancillary chunk with body length 1025, one above the header cap 1024: refused by the cap, not by its tag",
            &m,
            k,
            &m.bytes(),
            "limit-exceeded",
            At::Chunk(7),
        );
        let m = rebuilt(&b, true, |c| {
            c.insert(7, Chunk::new(*b"xtra", &noise(1012, 61)))
        });
        g.ok(
            &format!("ok-ancillary-at-cap-l{l}"),
            "an ancillary chunk whose body length is exactly the cap 1024, skipped",
            &m,
        );
    }
    let b = base(1, "base-1");
    for (name, comment, v, class) in [
        (
            "len-11",
            "chunk 7's body length field 11 (one below the minimum 12)",
            11u64,
            "malformed",
        ),
        (
            "len-near-max",
            "chunk 7's body length field FFFFFFF3 (u32::MAX - 12)",
            0xFFFF_FFF3,
            "limit-exceeded",
        ),
        (
            "len-above-cap-by-1",
            "chunk 7's body length field 1025 (cap + 1) on a chunk that is not that long",
            1025,
            "limit-exceeded",
        ),
        (
            "len-huge-index-mismatch",
            "body length 80000000 and a wrong index: the length is checked first",
            0x8000_0000,
            "limit-exceeded",
        ),
    ] {
        let x = b.edited(|x, off| {
            put(x, off[7] as usize, 4, v);
            if name == "len-huge-index-mismatch" {
                put(x, off[7] as usize + 4, 8, 99);
            }
        });
        g.err(
            &format!("{name}-l1"),
            comment,
            &b,
            KeyUse::None,
            &x,
            class,
            At::Chunk(7),
        );
    }
    let b3 = base(3, "base-3");
    let off = b3.offsets();
    let rest = off[b3.chunks.len()] - off[7] - 12;
    assert!(rest < 1024 + 16);
    let x = b3.edited(|x, off| put(x, off[7] as usize, 4, 1024));
    g.err(
        "len-at-cap-truncated-l3",
        "chunk 7's body length field 1024 (exactly the cap) but fewer bytes follow: the input ends inside that chunk",
        &b3,
        KeyUse::Right,
        &x,
        "truncated",
        At::Truncated(7),
    );
}
