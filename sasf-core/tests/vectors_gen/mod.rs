//! The conformance-vector generator, shared by `examples/make_vectors.rs` (which writes
//! `testdata/vectors/`) and `tests/vectors.rs` (which checks the committed files are
//! exactly what this generates, then replays them). The file format and what each
//! header line means are in `testdata/vectors/README.md`.
//!
//! Files are built by a small model of format version 2 written here from the
//! primitives (`sha2`, `hmac`, `hkdf`, `aes-gcm`) as `docs/FORMAT.md` describes them,
//! not with the crate's reader: header and key schedule (§3, §4), key section (§5),
//! chunk framing, tags and digests (§6), padded metadata (§9.1), index (§10), end
//! chunk with the manifest (§11) and annotation segments (§21, in `segments.rs`). Valid base files are written with the crate's
//! `Writer` and then rebuilt by the model, which must give the same bytes, so the
//! writer is checked too. Broken variants are made by editing bytes, or by re-sealing
//! edited chunks with the model so that they are authentic and only a structural rule
//! is broken. Every expected outcome is stated here by construction, never read off
//! the library.
#![allow(dead_code)]

pub mod age_model;
pub mod segments;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use sasf_core::meta::{Annotation, Event, EventKind, Participant, RecordingInfo, Role};
use sasf_core::{AudioFormat, Context, DurationClass, Encoding, Key, Writer, WriterBuilder};

/// The recipient key of every keyed vector: bytes 00 01 02 .. 1f.
pub const KEY: [u8; 32] = seq(0x00);
/// A different key, for the wrong-key vectors: bytes 20 21 .. 3f.
pub const WRONG_KEY: [u8; 32] = seq(0x20);
/// A second recipient's key, for files with two key slots: bytes 40 41 .. 5f.
pub const SECOND_KEY: [u8; 32] = seq(0x40);

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
/// Metadata body sizes of §9.1.
const BUCKETS: [usize; 9] = [
    256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
];
/// Length of one index entry (§10).
const ENTRY_LEN: usize = 56;

/// One generated vector: its file name and its whole contents (text header, blank
/// line, SASF bytes).
pub struct Vector {
    pub name: String,
    pub contents: Vec<u8>,
}

// ---------------------------------------------------------------- the model

/// The header fields of a file, and the secrets its bytes depend on.
#[derive(Clone, Debug)]
pub struct Hdr {
    pub version: u16,
    pub level: u8,
    pub encoding: u8,
    pub channels: u16,
    pub rate: u32,
    pub cap: u32,
    pub retention: u32,
    pub duration: u8,
    /// The flags byte (bit 0: context bound).
    pub flags: u8,
    /// The raw extension area (E = its length).
    pub ext: Vec<u8>,
    pub salt: [u8; 32],
    /// The data key DK (levels 2 and 3).
    pub dk: [u8; 32],
    /// The context digest C mixed into the key schedule and the slots (zero when the
    /// file is not bound).
    pub ctx: [u8; 32],
    /// The key area's copy capacity (not a header field).
    pub key_cap: u32,
}

/// The key-area copy capacity of the vectors (the writer's default is 4096; vectors
/// use a smaller one to stay small).
pub const KEY_CAP: u32 = 512;

struct Keys {
    commitment: [u8; 32],
    header: [u8; 32],
    keys: [u8; 32],
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

/// The key schedule of §4.3: `HKDF-Expand(PRK, "SASF-v2/<suite>/<purpose>" || C)`.
fn derive(level: u8, dk: &[u8; 32], salt: &[u8; 32], c: &[u8; 32]) -> Keys {
    let hk = Hkdf::<Sha256>::new(Some(salt), dk);
    let exp = |purpose: &str| {
        let mut o = [0u8; 32];
        let mut info = format!("SASF-v2/{}/{purpose}", suite(level)).into_bytes();
        info.extend_from_slice(c);
        hk.expand(&info, &mut o).expect("32 bytes");
        o
    };
    Keys {
        commitment: exp("commit"),
        header: exp("header"),
        keys: exp("keys"),
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

/// The data key `WriterBuilder::salt_for_test_vectors` derives from a salt.
pub fn dk_from_salt(salt: &[u8; 32]) -> [u8; 32] {
    sha(&[b"sasf test vectors: data key from salt", salt])
}

/// The context digest of §4.4.
pub fn context_digest(id: &str, tenant: &str) -> [u8; 32] {
    sha(&[
        b"SASF-v2/context",
        &(id.len() as u16).to_be_bytes(),
        id.as_bytes(),
        &(tenant.len() as u16).to_be_bytes(),
        tenant.as_bytes(),
    ])
}

/// A symmetric recipient's key id (§5.3).
pub fn key_id(k: &[u8; 32]) -> [u8; 16] {
    hmac(k, &[b"SASF-v2/key-id"])[..16].try_into().unwrap()
}

/// A symmetric slot's 96-byte body (§5.3): key id, then DK || C sealed under the KEK.
pub fn slot(k: &[u8; 32], hdr: &Hdr, h: &[u8; 32]) -> Vec<u8> {
    let id = key_id(k);
    let mut kek = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&hdr.salt), k)
        .expand(b"SASF-v2/slot/AES-256-GCM", &mut kek)
        .expect("32 bytes");
    let cipher = Aes256Gcm::new_from_slice(&kek).expect("32-byte key");
    let mut plain = [&hdr.dk[..], &hdr.ctx[..]].concat();
    let aad = [&h[..], &id[..]].concat();
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&[0u8; 12]), &aad, &mut plain)
        .expect("64 bytes");
    [&id[..], &plain, &tag].concat()
}

impl Hdr {
    /// Version 2, cap 1024, no retention, undeclared duration, no extensions, not
    /// context bound, and a salt derived from `seed` (so each base file has its own
    /// salt) with the data key the writer derives from it.
    pub fn new(level: u8, encoding: Encoding, channels: u16, rate: u32, seed: &str) -> Hdr {
        let salt = sha(&[b"sasf conformance vector salt: ", seed.as_bytes()]);
        Hdr {
            version: 2,
            level,
            encoding: encoding.code(),
            channels,
            rate,
            cap: 1024,
            retention: 0,
            duration: 0,
            flags: 0,
            ext: Vec::new(),
            salt,
            dk: dk_from_salt(&salt),
            ctx: [0; 32],
            key_cap: KEY_CAP,
        }
    }
    /// Binds the file to a context (§4.4): flag bit 0, C in the key schedule, and at
    /// level 1 the critical extension 0x8001 holding C.
    pub fn bind(&mut self, id: &str, tenant: &str) {
        self.flags |= 1;
        self.ctx = context_digest(id, tenant);
        if self.level == 1 {
            self.ext = [&[0x80, 0x01, 0x00, 0x20][..], &self.ctx].concat();
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
    fn keys(&self) -> Option<Keys> {
        (self.level != 1).then(|| derive(self.level, &self.dk, &self.salt, &self.ctx))
    }
    /// Header bytes 0 .. 96+E.
    fn unsigned(&self) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&self.version.to_be_bytes());
        b.push(self.level);
        b.push(self.encoding);
        b.extend_from_slice(&self.channels.to_be_bytes());
        b.extend_from_slice(&self.rate.to_be_bytes());
        b.extend_from_slice(&self.cap.to_be_bytes());
        b.extend_from_slice(&self.retention.to_be_bytes());
        b.push(self.duration);
        b.push(self.flags);
        b.extend_from_slice(&(self.ext.len() as u16).to_be_bytes());
        b.extend_from_slice(&[0, 0]); // reserved
        b.extend_from_slice(&self.salt);
        let commitment = self.keys().map_or([0u8; 32], |k| k.commitment);
        b.extend_from_slice(&commitment);
        b.extend_from_slice(&self.ext);
        b
    }
    /// The whole header, tag included.
    pub fn bytes(&self) -> Vec<u8> {
        let mut u = self.unsigned();
        let tag = match self.keys() {
            None => sha(&[b"SASF-v2/SHA-256/header", &u]),
            Some(k) => hmac(&k.header, &[&u]),
        };
        u.extend_from_slice(&tag);
        u
    }
    /// The header hash H.
    pub fn h(&self) -> [u8; 32] {
        sha(&[&self.bytes()])
    }
    /// The key area (§5) for these recipients: copy A holds generation 1 with one
    /// symmetric slot per recipient and, at levels 2 and 3, the section tag; copy B is
    /// empty. At level 1 copy A holds no recipient and no tag.
    pub fn key_section(&self, recipients: &[[u8; 32]]) -> Vec<u8> {
        let h = self.h();
        let stanzas: Vec<(u16, Vec<u8>)> = recipients
            .iter()
            .map(|k| (1u16, slot(k, self, &h)))
            .collect();
        self.key_section_of(&stanzas)
    }
    /// A key area whose copy A holds the given stanzas (kind, body), tagged with this
    /// file's keys key at levels 2 and 3 (so a holder of DK could have written it).
    pub fn key_section_of(&self, stanzas: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let h = self.h();
        let tag = self.keys().map(|k| section_tag(&k, &h, stanzas));
        area(
            self.key_cap,
            &copy_of(&h, 1, stanzas, tag, &[], self.key_cap),
            &[],
        )
    }
}

/// The section tag (§5.2): HMAC(keys key, H || u16 n || recipient stanzas).
fn section_tag(k: &Keys, h: &[u8; 32], stanzas: &[(u16, Vec<u8>)]) -> [u8; 32] {
    hmac(&k.keys, &[h, &tagged(stanzas)])
}

fn tagged(stanzas: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = (stanzas.len() as u16).to_be_bytes().to_vec();
    put_stanzas(&mut b, stanzas);
    b
}

fn put_stanzas(b: &mut Vec<u8>, stanzas: &[(u16, Vec<u8>)]) {
    for (kind, body) in stanzas {
        b.extend_from_slice(&kind.to_be_bytes());
        b.extend_from_slice(&(body.len() as u16).to_be_bytes());
        b.extend_from_slice(body);
    }
}

/// One copy of the key area (§5.1), `q` bytes: generation, length, counts, reserved,
/// recipient stanzas, the section tag (if any), signature stanzas, the checksum over
/// everything before it, then zeros. (`h` is only for the caller's tag.)
pub fn copy_of(
    _h: &[u8; 32],
    generation: u32,
    recipients: &[(u16, Vec<u8>)],
    tag: Option<[u8; 32]>,
    signatures: &[(u16, Vec<u8>)],
    q: u32,
) -> Vec<u8> {
    let mut b = generation.to_be_bytes().to_vec();
    b.extend_from_slice(&[0; 4]); // length, set below
    b.extend_from_slice(&(recipients.len() as u16).to_be_bytes());
    b.extend_from_slice(&(signatures.len() as u16).to_be_bytes());
    b.extend_from_slice(&[0; 4]);
    put_stanzas(&mut b, recipients);
    if let Some(t) = tag {
        b.extend_from_slice(&t);
    }
    put_stanzas(&mut b, signatures);
    let u = (b.len() + 32) as u32;
    b[4..8].copy_from_slice(&u.to_be_bytes());
    let sum = sha(&[b"SASF-v2/key-copy", &b]);
    b.extend_from_slice(&sum);
    assert!(b.len() <= q as usize, "the copy fits its capacity");
    b.resize(q as usize, 0);
    b
}

/// Recomputes the checksum of a copy in place (anyone can: it is unkeyed), after an
/// edit that kept its length field.
pub fn rechecksum(copy: &mut [u8]) {
    let u = u32::from_be_bytes(copy[4..8].try_into().unwrap()) as usize;
    let sum = sha(&[b"SASF-v2/key-copy", &copy[..u - 32]]);
    copy[u - 32..u].copy_from_slice(&sum);
}

/// A key area: capacity `q`, copy A, copy B (empty: zeros).
pub fn area(q: u32, a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut x = q.to_be_bytes().to_vec();
    let mut pad = |c: &[u8]| {
        assert!(c.len() <= q as usize);
        x.extend_from_slice(c);
        x.resize(x.len() + q as usize - c.len(), 0);
    };
    pad(a);
    pad(b);
    x
}

/// Whether chunks of this type carry a padded JSON payload (§9.1).
fn is_meta(ty: [u8; 4]) -> bool {
    ty == INFO || ty == PART || ty == EVNT || ty == ANNO
}

/// The body length of a metadata record of `n` JSON bytes under `cap` (§9.1).
pub fn meta_body_len(n: usize, cap: u32) -> usize {
    let need = 16 + n;
    assert!(need <= cap as usize, "a metadata record fits under the cap");
    BUCKETS
        .iter()
        .copied()
        .find(|&b| b >= need)
        .unwrap()
        .min(cap as usize)
}

/// A chunk in plaintext: type, timestamp, payload. For INFO, PART, EVNT and ANNO the
/// payload is the JSON text, padded when the body is built (§9.1), unless `raw` says
/// the payload is the stored payload as it stands (for broken padding).
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub ty: [u8; 4],
    pub ts: u64,
    pub payload: Vec<u8>,
    pub raw: bool,
}

impl Chunk {
    pub fn new(ty: [u8; 4], payload: &[u8]) -> Chunk {
        Chunk {
            ty,
            ts: 0,
            payload: payload.to_vec(),
            raw: false,
        }
    }
    /// A chunk whose stored payload is exactly `payload` (no padding added).
    pub fn raw(ty: [u8; 4], ts: u64, payload: Vec<u8>) -> Chunk {
        Chunk {
            ty,
            ts,
            payload,
            raw: true,
        }
    }
    /// The stored payload: a metadata record's length, JSON and zero padding up to its
    /// bucket under `cap`; any other payload as it is.
    pub fn stored_payload(&self, cap: u32) -> Vec<u8> {
        if self.raw || !is_meta(self.ty) {
            return self.payload.clone();
        }
        let mut p = (self.payload.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(&self.payload);
        p.resize(meta_body_len(self.payload.len(), cap) - 12, 0);
        p
    }
    pub fn body(&self, cap: u32) -> Vec<u8> {
        let mut b = self.ty.to_vec();
        b.extend_from_slice(&self.ts.to_be_bytes());
        b.extend_from_slice(&self.stored_payload(cap));
        b
    }
}

/// A whole file: header fields and secrets, the recipients of the key section, and
/// every chunk in plaintext (INDX and END included). The bytes are sealed from this on
/// demand.
#[derive(Clone, Debug)]
pub struct Model {
    pub hdr: Hdr,
    pub recipients: Vec<[u8; 32]>,
    pub chunks: Vec<Chunk>,
}

impl Model {
    pub fn header(&self) -> Vec<u8> {
        self.hdr.bytes()
    }
    pub fn key_section(&self) -> Vec<u8> {
        self.hdr.key_section(&self.recipients)
    }
    /// Header and key section: everything before chunk 0.
    pub fn front(&self) -> Vec<u8> {
        [self.header(), self.key_section()].concat()
    }
    /// File offset of chunk 0.
    pub fn base(&self) -> u64 {
        (self.hdr.header_len() + self.key_section().len()) as u64
    }
    /// Seals one chunk under `index`: prefix || body (encrypted at level 3) || tag.
    pub fn seal(&self, index: u64, c: &Chunk) -> Vec<u8> {
        seal_with(&self.hdr, &self.hdr.h(), index, &c.body(self.hdr.cap))
    }
    /// Every chunk, sealed.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        let h = self.hdr.h();
        self.chunks
            .iter()
            .enumerate()
            .map(|(i, c)| seal_with(&self.hdr, &h, i as u64, &c.body(self.hdr.cap)))
            .collect()
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = self.front();
        for r in self.raw() {
            b.extend_from_slice(&r);
        }
        b
    }
    /// The file offset of each chunk's prefix, then the length of the file.
    pub fn offsets(&self) -> Vec<u64> {
        let mut at = self.base();
        let mut v = vec![at];
        for c in &self.chunks {
            at += (12 + c.body(self.hdr.cap).len() + self.hdr.tag_len()) as u64;
            v.push(at);
        }
        v
    }
    /// The stored body length of every chunk.
    pub fn lengths(&self) -> Vec<usize> {
        self.chunks
            .iter()
            .map(|c| c.body(self.hdr.cap).len())
            .collect()
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

/// Seals a chunk body under `index` (§6.2): prefix || stored body || tag.
fn seal_with(hdr: &Hdr, h: &[u8; 32], index: u64, body: &[u8]) -> Vec<u8> {
    let mut prefix = (body.len() as u32).to_be_bytes().to_vec();
    prefix.extend_from_slice(&index.to_be_bytes());
    let mut out = prefix.clone();
    match hdr.level {
        1 => {
            out.extend_from_slice(body);
            out.extend_from_slice(&sha(&[b"SASF-v2/SHA-256/chunk", h, &prefix, body]));
        }
        2 => {
            let k = hdr.keys().unwrap();
            out.extend_from_slice(body);
            out.extend_from_slice(&hmac(&k.chunk, &[h, &prefix, body]));
        }
        _ => {
            let k = hdr.keys().unwrap();
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

/// The digest of a sealed chunk (§6.3): its tag at level 1, else SHA-256 over the
/// label, the prefix, the stored body and the tag.
pub fn digest_of(hdr: &Hdr, raw: &[u8]) -> [u8; 32] {
    let tl = hdr.tag_len();
    if hdr.level == 1 {
        return raw[raw.len() - 32..].try_into().unwrap();
    }
    sha(&[
        b"SASF-v2/chunk-digest",
        &raw[..12],
        &raw[12..raw.len() - tl],
        &raw[raw.len() - tl..],
    ])
}

/// Opens the chunk `raw` (prefix, body, tag) at `index`; panics if it is not authentic
/// or not sealed and padded as the specification says.
fn open_with(hdr: &Hdr, h: &[u8; 32], index: u64, raw: &[u8]) -> Chunk {
    let tl = hdr.tag_len();
    let len = u32::from_be_bytes(raw[0..4].try_into().unwrap()) as usize;
    assert_eq!(raw.len(), 12 + len + tl);
    assert_eq!(u64::from_be_bytes(raw[4..12].try_into().unwrap()), index);
    let mut body = raw[12..12 + len].to_vec();
    if hdr.level == 3 {
        let k = hdr.keys().unwrap();
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
    let ty: [u8; 4] = body[0..4].try_into().unwrap();
    let mut payload = body[12..].to_vec();
    if is_meta(ty) {
        let n = u32::from_be_bytes(payload[0..4].try_into().unwrap()) as usize;
        payload = payload[4..4 + n].to_vec();
    }
    let c = Chunk {
        ty,
        ts: u64::from_be_bytes(body[4..12].try_into().unwrap()),
        payload,
        raw: false,
    };
    assert_eq!(
        seal_with(hdr, h, index, &c.body(hdr.cap)),
        raw,
        "the writer's chunk {index} is sealed and padded as the specification says"
    );
    c
}

/// Sets the timestamp of every AUDI chunk to the rule of the format: the audio frames
/// before it. Metadata chunks keep their positions.
pub fn retime(content: &mut [Chunk], block_align: usize) {
    let mut s = 0u64;
    for c in content {
        if c.ty == AUDI {
            c.ts = s;
            s += (c.payload.len() / block_align) as u64;
        }
    }
}

/// Adds INDX chunks (after every `interval` described chunks, and one before END when
/// any are undescribed) and the END chunk, as FORMAT.md §10 and §11 say, with stream
/// offsets counted from chunk 0. Content timestamps are kept as given.
pub fn finish(hdr: Hdr, key: [u8; 32], content: Vec<Chunk>, interval: usize, flags: u32) -> Model {
    struct State {
        m: Model,
        h: [u8; 32],
        offset: u64,
        manifest: Sha256,
    }
    impl State {
        /// Seals and appends `c`; returns its digest.
        fn push(&mut self, c: Chunk) -> [u8; 32] {
            let raw = seal_with(
                &self.m.hdr,
                &self.h,
                self.m.chunks.len() as u64,
                &c.body(self.m.hdr.cap),
            );
            let d = digest_of(&self.m.hdr, &raw);
            if c.ty != END {
                self.manifest.update(d);
            }
            self.offset += raw.len() as u64;
            self.m.chunks.push(c);
            d
        }
    }
    let h = hdr.h();
    let recipients = if hdr.level == 1 { vec![] } else { vec![key] };
    let mut st = State {
        h,
        offset: 0,
        manifest: Sha256::new(),
        m: Model {
            hdr,
            recipients,
            chunks: Vec::new(),
        },
    };
    st.manifest.update(b"SASF-v2/manifest");
    st.manifest.update(h);
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
        Chunk::new(INDX, &p).at(samples)
    };
    for c in content {
        let (ty, ts, offset) = (c.ty, c.ts, st.offset);
        if c.ty == AUDI {
            samples += (c.payload.len() / ba) as u64;
            audio_bytes += c.payload.len() as u64;
        }
        let d = st.push(c);
        entries.extend_from_slice(&ty);
        entries.extend_from_slice(&[0; 4]);
        entries.extend_from_slice(&offset.to_be_bytes());
        entries.extend_from_slice(&ts.to_be_bytes());
        entries.extend_from_slice(&d);
        n += 1;
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
    st.push(Chunk::new(END, &p).at(samples));
    st.m
}

impl Chunk {
    /// This chunk with timestamp `ts`.
    pub fn at(mut self, ts: u64) -> Chunk {
        self.ts = ts;
        self
    }
}

/// The index interval a writer uses under `cap`: the default 1024, or what fits.
fn interval_for(cap: u32, wanted: usize) -> usize {
    wanted.clamp(1, (cap as usize - 12 - 24) / ENTRY_LEN)
}

/// Reads a whole file with the model (header, key section, and every chunk must be
/// authentic and sealed as the specification says) and rebuilds it from its content
/// chunks; the result must equal `bytes`. Returns the model.
pub fn check_with_model(
    hdr: &Hdr,
    recipients: &[[u8; 32]],
    bytes: &[u8],
    interval: usize,
) -> Model {
    let header = hdr.bytes();
    assert_eq!(
        bytes[..header.len()],
        header[..],
        "the writer's header matches the model's"
    );
    let keys = hdr.key_section(recipients);
    assert_eq!(
        bytes[header.len()..header.len() + keys.len()],
        keys[..],
        "the writer's key section matches the model's"
    );
    let h = sha(&[&header]);
    let mut at = header.len() + keys.len();
    let mut chunks = Vec::new();
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 12 + len + hdr.tag_len();
        chunks.push(open_with(hdr, &h, chunks.len() as u64, &bytes[at..end]));
        at = end;
    }
    let flags = u32::from_be_bytes(chunks.last().unwrap().payload[40..44].try_into().unwrap());
    let content = chunks
        .into_iter()
        .filter(|c| c.ty != INDX && c.ty != END)
        .collect();
    let mut m = finish(
        hdr.clone(),
        KEY,
        content,
        interval_for(hdr.cap, interval),
        flags,
    );
    m.recipients = recipients.to_vec();
    assert!(
        m.bytes() == bytes,
        "the model rebuilds the writer's file byte for byte"
    );
    m
}

/// Settings of a writer run besides the header's.
#[derive(Clone, Default)]
pub struct Opts {
    pub chunk_frames: u64,
    pub interval: u32,
    /// The context to bind (id, tenant).
    pub context: Option<(String, String)>,
    /// Recipients after the first (KEY).
    pub more: Vec<[u8; 32]>,
}

/// Writes a file with the crate's writer under `hdr`'s settings, checks it against the
/// model, and returns the model.
pub fn with_writer(
    hdr: &Hdr,
    info: RecordingInfo,
    chunk_frames: u64,
    interval: u32,
    body: impl FnOnce(&mut Writer<Vec<u8>>),
) -> Model {
    with_writer_opts(
        hdr,
        info,
        Opts {
            chunk_frames,
            interval,
            ..Default::default()
        },
        body,
    )
}

/// [`with_writer`] with every option.
pub fn with_writer_opts(
    hdr: &Hdr,
    info: RecordingInfo,
    o: Opts,
    body: impl FnOnce(&mut Writer<Vec<u8>>),
) -> Model {
    let format = AudioFormat::new(
        Encoding::from_code(hdr.encoding).expect("a known encoding"),
        hdr.channels,
        hdr.rate,
    )
    .expect("a valid format");
    let mut hdr = hdr.clone();
    let mut b = WriterBuilder::new(format)
        .info(info)
        .max_chunk_len(hdr.cap)
        .chunk_frames(o.chunk_frames)
        .index_interval(o.interval)
        .retention_days(hdr.retention)
        .duration_class(DurationClass::from_code(hdr.duration).expect("a known class"))
        .key_area_capacity(hdr.key_cap)
        .salt_for_test_vectors(hdr.salt);
    if let Some((id, tenant)) = &o.context {
        let t = (!tenant.is_empty()).then_some(tenant.as_str());
        b = b.bind_context(Context::new(id.clone(), t).expect("a valid context"));
        hdr.bind(id, tenant);
    }
    b = match hdr.level {
        1 => b,
        2 => b.authenticated(Key::from_bytes(KEY)),
        _ => b.encrypted(Key::from_bytes(KEY)),
    };
    let mut recipients = vec![KEY];
    for k in &o.more {
        b = b.recipient(Key::from_bytes(*k));
        recipients.push(*k);
    }
    if hdr.level == 1 {
        recipients.clear();
    }
    let mut w = b.wrap_output(Vec::new()).expect("writer");
    body(&mut w);
    let bytes = w.finish().expect("finish");
    check_with_model(&hdr, &recipients, &bytes, o.interval as usize)
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
    RecordingInfo::new().with_id(id)
}

fn person(id: &str, role: Role, ch: u16) -> Participant {
    Participant::new(id, role)
        .with_name(format!("Name of {id}"))
        .with_address("+15550100")
        .with_channels([ch])
}

fn event(at: u64, who: &str, kind: EventKind) -> Event {
    Event::new(at, kind).with_participant(who)
}

/// The base file most broken vectors start from: µ-law stereo at 8000 Hz, cap 1024,
/// 100 frames per chunk, 250 frames of audio, two participants, two events and an
/// annotation. Audio is never split at metadata: each metadata chunk carries its exact
/// position and sits just before the audio chunk containing it (§8). Its chunks are:
///
/// ```text
///  0 INFO   1 PART a1   2 PART c1   3 EVNT join@0   4 AUDI 100@0   5 EVNT dtmf@130
///  6 AUDI 100@100   7 AUDI 50@200   8 ANNO@250   9 INDX   10 END
/// ```
pub fn base(level: u8, seed: &str) -> Model {
    base_with(level, seed, 130, "42", Opts::default())
}

/// [`base`] with the DTMF event at `dtmf_at` with `digits`, and the given options.
pub fn base_with(level: u8, seed: &str, dtmf_at: u64, digits: &str, mut o: Opts) -> Model {
    let hdr = Hdr::new(level, Encoding::MuLaw, 2, 8000, seed);
    let audio = noise(500, seed.len() as u64 * 7 + level as u64);
    o.chunk_frames = 100;
    o.interval = 1024;
    with_writer_opts(&hdr, info(&format!("call-{seed}")), o, |w| {
        w.add_participant(person("a1", Role::Agent, 0)).unwrap();
        w.add_participant(person("c1", Role::Customer, 1)).unwrap();
        w.add_event(event(0, "a1", EventKind::Join)).unwrap();
        w.add_event(event(
            dtmf_at,
            "c1",
            EventKind::Dtmf {
                digits: Some(digits.into()),
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
    rebuilt_flags(m, retime_after, 0, f)
}

/// [`rebuilt`] with END flags `flags`.
fn rebuilt_flags(
    m: &Model,
    retime_after: bool,
    flags: u32,
    f: impl FnOnce(&mut Vec<Chunk>),
) -> Model {
    let mut content = m.content();
    f(&mut content);
    if retime_after {
        retime(&mut content, m.hdr.block_align());
    }
    let mut out = finish(
        m.hdr.clone(),
        KEY,
        content,
        interval_for(m.hdr.cap, 1024),
        flags,
    );
    out.recipients = m.recipients.clone();
    out
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
    /// No place: not-sasf, unsupported-version, key-required, wrong-key,
    /// not-protected, context-mismatch.
    Nowhere,
    /// In the header or key section, at this byte offset.
    Header(u64),
    /// At chunk i (offset: its prefix).
    Chunk(usize),
    /// Truncated after this many whole chunks (offset: the input's length).
    Truncated(usize),
    /// Trailing data after the END chunk of the model.
    Trailing,
    /// At the END chunk, after every chunk before it was released, with no place: no
    /// trusted signature (not-signed).
    Unsigned,
    /// After the END chunk of the model, at this file offset: in annotation segment
    /// `k` when given (§21), else trailing data where a segment would start.
    Segment(u64, Option<u32>),
}

#[derive(Clone, Copy)]
enum KeyUse {
    None,
    Right,
    Wrong,
    Second,
}

impl KeyUse {
    fn line(self) -> String {
        match self {
            KeyUse::None => "none".into(),
            KeyUse::Right => hex::encode(KEY),
            KeyUse::Wrong => hex::encode(WRONG_KEY),
            KeyUse::Second => hex::encode(SECOND_KEY),
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
    /// `require:` and `expect-context:` lines for the next vector pushed.
    require: Option<&'static str>,
    expect: Option<String>,
    /// `identity:`, `signer:` and `audit:` lines for the next vector pushed.
    access: Vec<String>,
}

impl Gen {
    /// Sets the reader's requirement and expected context for the next vector.
    fn reading(&mut self, require: Option<&'static str>, expect: Option<&str>) -> &mut Gen {
        self.require = require;
        self.expect = expect.map(String::from);
        self
    }

    fn push(&mut self, name: &str, mut lines: Vec<String>, bytes: &[u8]) {
        assert!(
            !self.out.iter().any(|v| v.name == format!("{name}.vec")),
            "duplicate vector name {name}"
        );
        let mut extra = Vec::new();
        if let Some(r) = self.require.take() {
            extra.push(format!("require: {r}"));
        }
        if let Some(c) = self.expect.take() {
            extra.push(format!("expect-context: {c}"));
        }
        extra.append(&mut self.access);
        // After the `key:` line (the fourth).
        lines.splice(4..4, extra);
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

    /// A valid file: `m` as it stands, read with its natural key.
    fn ok(&mut self, name: &str, comment: &str, m: &Model) {
        self.ok_with(name, comment, m, KeyUse::natural(m.hdr.level), &m.bytes());
    }

    /// A valid file, `bytes` (whose chunks are `m`'s), read with `key`.
    fn ok_with(&mut self, name: &str, comment: &str, m: &Model, key: KeyUse, bytes: &[u8]) {
        self.ok_lines(name, comment, m, key, bytes, Vec::new());
    }

    /// [`Gen::ok_with`] with `extra` lines (the annotation segments' lines) at the end.
    fn ok_lines(
        &mut self,
        name: &str,
        comment: &str,
        m: &Model,
        key: KeyUse,
        bytes: &[u8],
        extra: Vec<String>,
    ) {
        let r = released(&m.hdr, &m.chunks);
        let end = &m.chunks[m.end_index()].payload;
        let flags = u32::from_be_bytes(end[40..44].try_into().unwrap());
        let mut lines = vec![
            "expect: success".to_string(),
            format!("comment: {comment}"),
            format!("level: {}", m.hdr.level),
            format!("key: {}", key.line()),
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
        lines.extend(extra);
        self.push(name, lines, bytes);
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
            At::Trailing | At::Unsigned | At::Segment(..) => prefix.end_index(),
        };
        let r = released(&prefix.hdr, &prefix.chunks[..n]);
        let mut lines = vec![
            format!("expect: error {class}"),
            format!("comment: {comment}"),
            format!("level: {}", prefix.hdr.level),
            format!("key: {}", key.line()),
        ];
        match at {
            At::Nowhere | At::Unsigned => {}
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
            At::Segment(o, k) => {
                assert!(o >= prefix.offsets()[prefix.chunks.len()]);
                if let Some(k) = k {
                    lines.push(format!("segment: {k}"));
                }
                lines.push(format!("offset: {o}"));
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
    let mut g = Gen {
        access: Vec::new(),
        out: Vec::new(),
        require: None,
        expect: None,
    };
    success(&mut g);
    header(&mut g);
    keys(&mut g);
    downgrade(&mut g);
    context(&mut g);
    tampering(&mut g);
    truncation(&mut g);
    end_and_trailing(&mut g);
    structure(&mut g);
    content(&mut g);
    timeline_leak(&mut g);
    lengths(&mut g);
    access(&mut g);
    segments::segments(&mut g);
    g.out
}

fn success(g: &mut Gen) {
    for l in LEVELS {
        let hdr = Hdr::new(l, Encoding::U8, 1, 8000, &format!("empty-{l}"));
        let m = with_writer(&hdr, RecordingInfo::default(), 100, 1024, |_| {});
        g.ok(
            &format!("ok-empty-l{l}"),
            "empty recording: INFO {}, INDX, END; no audio, no metadata",
            &m,
        );

        let hdr = Hdr::new(l, Encoding::S16, 1, 16000, &format!("one-{l}"));
        let m = with_writer(&hdr, info("one"), 16000, 1024, |w| {
            w.write_audio(&noise(2 * 160, 11)).unwrap()
        });
        g.ok(
            &format!("ok-one-chunk-l{l}"),
            "one AUDI chunk of 160 s16 mono frames",
            &m,
        );

        let hdr = Hdr::new(l, Encoding::U8, 1, 8000, &format!("full-{l}"));
        let m = with_writer(&hdr, info("full"), 1012, 1024, |w| {
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
            "the base call most error vectors of this level are made from: INFO, 2 PART, 2 EVNT, 3 AUDI (audio never split at metadata), ANNO, INDX, END",
            &b,
        );
        let m = rebuilt(&b, true, |c| {
            c.insert(
                5,
                Chunk::new(*b"xtra", b"an unknown ancillary chunk").at(100),
            );
            c.insert(9, Chunk::new(*b"zero", b"").at(250));
        });
        g.ok(
            &format!("unknown-ancillary-all-types-l{l}"),
            "every chunk type: INFO, PART, EVNT, AUDI, ANNO, INDX, END and two unknown ancillary chunks (xtra; zero, body length 12) that must be authenticated and skipped",
            &m,
        );

        let hdr = Hdr::new(l, Encoding::U8, 1, 8000, &format!("carry-{l}"));
        let m = with_writer(&hdr, info("carry"), 1, 1024, |w| {
            w.write_audio(&noise(262, 13)).unwrap()
        });
        assert!(m.chunks.len() > 257);
        g.ok(
            &format!("ok-counter-carry-l{l}"),
            "counter carry: 262 one-frame AUDI chunks, so chunk indexes (and level-3 nonces) pass 255 and 256; an INDX every 17 chunks (what fits under the cap)",
            &m,
        );
    }

    for (i, enc) in Encoding::ALL.into_iter().enumerate() {
        let l = LEVELS[i % 3];
        let hdr = Hdr::new(l, enc, 2, 8000, &format!("enc-{}", enc.name()));
        let frames = 48;
        let m = with_writer(&hdr, info(enc.name()), 20, 1024, |w| {
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
    let m = with_writer(&hdr, info("multi-index"), 10, 4, |w| {
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
    let plain = with_writer(&hdr, info("recovered"), 100, 1024, |w| {
        w.write_audio(&noise(2 * 150, 31)).unwrap()
    });
    let mut content = plain.content();
    content.push(Chunk {
        ty: EVNT,
        ts: 150,
        payload: br#"{"type":"custom","key":"sasf.recovered","value":{"after_chunk":3,"at_sample":150,"original_bytes":999,"reason":"truncated"}}"#.to_vec(),
        raw: false,
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
    let m = with_writer(&hdr, info("cap-max"), 100, 1024, |w| {
        w.write_audio(&noise(250, 33)).unwrap()
    });
    g.ok(
        "ok-cap-max-l1",
        "header chunk cap 16777216, the largest allowed (the chunks themselves are small)",
        &m,
    );

    let mut hdr = Hdr::new(1, Encoding::U8, 1, 8000, "legal-hold");
    hdr.retention = u32::MAX;
    let m = with_writer(&hdr, info("legal-hold"), 100, 1024, |w| {
        w.write_audio(&noise(100, 34)).unwrap()
    });
    g.ok(
        "ok-legal-hold-l1",
        "retention days FFFFFFFF (keep indefinitely)",
        &m,
    );

    let mut hdr = Hdr::new(3, Encoding::U8, 1, 50, "duration");
    hdr.duration = 2;
    let m = with_writer(&hdr, info("duration"), 1000, 1024, |w| {
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
    let m = resealed(&b, 8, |c| c.payload = deep.into_bytes());
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

    for (v, comment) in [
        (0u64, "version field 0"),
        (
            1,
            "a version-1 file (SASF v1 was never released): refused, never read as v2",
        ),
        (3, "version field 3"),
    ] {
        g.err(
            &format!("version-{v}-l1"),
            &format!("{comment}: nothing after byte 10 may be interpreted"),
            &b1,
            KeyUse::None,
            &hb(&b1, 8, 2, v),
            "unsupported-version",
            At::Nowhere,
        );
    }
    let b3 = base(3, "base-3");
    g.err(
        "version-1-l3",
        "an encrypted file whose version field says 1: unsupported version before any key is used",
        &b3,
        KeyUse::Right,
        &hb(&b3, 8, 2, 1),
        "unsupported-version",
        At::Nowhere,
    );
    let mut x = b1.bytes();
    x[0] = b'P';
    g.err(
        "bad-magic-l1",
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
        "bad-magic-last-byte-l1",
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
        "bad-magic-wav",
        "a WAV header, not SASF",
        &b1,
        KeyUse::None,
        &wav,
        "not-sasf",
        At::Nowhere,
    );

    // Invalid values: refused before any authentication, whatever the level.
    let invalid: [(&str, &str, usize, usize, u64, &str, u64); 16] = [
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
            "flags-02",
            "header flags 02 (only bit 0 is defined)",
            27,
            1,
            2,
            "malformed-header",
            27,
        ),
        (
            "flags-80",
            "header flags 80 (only bit 0 is defined)",
            27,
            1,
            0x80,
            "malformed-header",
            27,
        ),
        (
            "flags-01-no-extension",
            "header flag 01 (context bound) on a keyless file without the context extension 0x8001",
            27,
            1,
            1,
            "malformed-header",
            96,
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
            &format!("header-{name}-l1"),
            comment,
            &b1,
            KeyUse::None,
            &hb(&b1, at, width, v),
            class,
            At::Header(off),
        );
    }
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
            "flags-02",
            "header flags 02",
            27,
            1,
            2,
            "malformed-header",
            27,
        ),
    ] {
        g.err(
            &format!("header-{name}-l3"),
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
        "keyless-commitment-nonzero",
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
        "a keyless file relabelled level 2, read without a key: the requirement is applied before the key section is read (FORMAT.md §12 step 3), so a key is required (before its too-short key section is noticed)",
        &b1,
        KeyUse::None,
        &hb(&b1, 10, 1, 2),
        "key-required",
        At::Nowhere,
    );
    g.err(
        "hdr-level-1-to-2-l1",
        "a keyless file relabelled level 2, read with a key: its key copy holds no recipient, which a keyed file must have",
        &b1,
        KeyUse::Right,
        &hb(&b1, 10, 1, 2),
        "malformed-header",
        At::Header(128 + 4 + 8),
    );
    let b2 = base(2, "base-2");
    g.err(
        "hdr-level-2-to-3-l2",
        "an HMAC file relabelled level 3: the header hash H changes, so the recipient slot (whose AAD holds H) does not open",
        &b2,
        KeyUse::Right,
        &hb(&b2, 10, 1, 3),
        "auth-failed",
        At::Header(132),
    );
    g.err(
        "hdr-level-3-to-2-l3",
        "an encrypted file relabelled level 2 (a downgrade): the recipient slot does not open under the changed H",
        &b3,
        KeyUse::Right,
        &hb(&b3, 10, 1, 2),
        "auth-failed",
        At::Header(132),
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

    // Valid values changed. At level 1 the header tag catches them; at levels 2 and 3
    // the header hash H is in every slot's AAD, so the slot no longer opens and the
    // key area reports it (offset 132, copy A).
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let changed_at = if l == 1 {
            At::Header(96)
        } else {
            At::Header(132)
        };
        let fields: [(&str, &str, usize, usize, u64); 8] = [
            ("encoding", "audio encoding 7 (mu-law) changed to 8 (A-law)", 11, 1, 8),
            ("channels", "channel count 2 changed to 1", 12, 2, 1),
            ("rate", "sample rate 8000 changed to 8001", 14, 4, 8001),
            ("cap", "chunk cap 1024 changed to 2048", 18, 4, 2048),
            ("retention", "retention days 0 changed to 365", 22, 4, 365),
            ("duration", "duration class 0 changed to 1 (a valid class)", 26, 1, 1),
            ("flags", "context-bound flag set on an unbound file", 27, 1, 1),
            ("extlen", "extension length 0 changed to 4 (the tag's first bytes are read as an extension entry)", 28, 2, 4),
        ];
        for (name, comment, at, width, v) in fields {
            if name == "flags" && l == 1 {
                continue; // header-flags-01-no-extension-l1
            }
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
                    // The header is 4 bytes longer, so the key section's length is read
                    // from its count and reserved bytes.
                    assert_eq!(l, 1, "the generator handles this case at level 1 only");
                    ("malformed-header", At::Header(132))
                }
            } else {
                ("auth-failed", changed_at)
            };
            g.err(
                &format!("header-field-{name}-l{l}"),
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
        g.err(
            &format!("header-field-salt-l{l}"),
            "one salt bit flipped (at levels 2 and 3 the slot's key-encryption key changes too)",
            &b,
            k,
            &x,
            "auth-failed",
            changed_at,
        );
        if l != 1 {
            let mut x = b.bytes();
            x[95] ^= 0x80;
            g.err(
                &format!("header-field-commitment-l{l}"),
                "one commitment bit flipped: H changes, so the slot does not open",
                &b,
                k,
                &x,
                "auth-failed",
                At::Header(132),
            );
        }
        let mut x = b.bytes();
        x[127] ^= 0x01;
        g.err(
            &format!("header-field-tag-l{l}"),
            "one header tag bit flipped",
            &b,
            k,
            &x,
            "auth-failed",
            changed_at,
        );
        // Header hash mismatch: a changed header that is itself authentic (re-tagged,
        // as anyone can at level 1 and a holder of the data key can at 2 and 3, with
        // the key section re-made for it), followed by the original chunks, which are
        // bound to the original header's hash.
        let mut h2 = b.hdr.clone();
        h2.retention = 30;
        let mut x = h2.bytes();
        x.extend_from_slice(&h2.key_section(&b.recipients));
        x.extend_from_slice(&b.bytes()[b.base() as usize..]);
        g.err(
            &format!("header-hash-mismatch-l{l}"),
            "authentic header (and key section) with retention changed to 30 before the original chunks: header hash H differs, chunk 0 fails",
            &b,
            k,
            &x,
            "auth-failed",
            At::Chunk(0),
        );
        if l != 1 {
            // A holder of the data key changes the retention and re-makes the key
            // section for the new H, but keeps the old header tag: the slot opens, the
            // commitment matches, the header tag fails.
            let mut x = h2.bytes();
            x[96..128].copy_from_slice(&b.header()[96..128]);
            let hx = sha(&[&x]);
            let stanzas = vec![(1u16, slot(&KEY, &h2, &hx))];
            x.extend_from_slice(&key_section_tagged(&h2, &hx, &stanzas));
            x.extend_from_slice(&b.bytes()[b.base() as usize..]);
            g.err(
                &format!("header-field-rewrapped-l{l}"),
                "retention changed to 30 and the slot re-wrapped for the changed header by a holder of the data key, the old header tag kept: the header tag fails",
                &b,
                k,
                &x,
                "auth-failed",
                At::Header(96),
            );
            // A slot that opens but holds another data key than the one the header
            // commits to: the commitment check reports a wrong key.
            let mut other = b.hdr.clone();
            other.dk = seq(0x77);
            let stanzas = vec![(1u16, slot(&KEY, &other, &b.hdr.h()))];
            let mut x = b.header();
            x.extend_from_slice(&key_section_tagged(&b.hdr, &b.hdr.h(), &stanzas));
            x.extend_from_slice(&b.bytes()[b.base() as usize..]);
            g.err(
                &format!("wrong-commitment-l{l}"),
                "the recipient slot opens but wraps another data key than the one the header's commitment was derived from",
                &b,
                k,
                &x,
                "wrong-key",
                At::Nowhere,
            );
        }
    }

    // Extensions, in authentic headers.
    for (name, comment, ext, class) in [
        (
            "critical",
            "an unknown critical extension (type 0x8002): must stop",
            vec![0x80, 0x02, 0x00, 0x00],
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
        (
            "context-unbound",
            "the context extension 0x8001 on a keyless file whose context-bound flag is clear",
            [&[0x80, 0x01, 0x00, 0x20][..], &[7; 32]].concat(),
            "malformed-header",
        ),
        (
            "context-short",
            "a context extension 0x8001 of 31 bytes",
            [&[0x80, 0x01, 0x00, 0x1f][..], &[7; 31]].concat(),
            "malformed-header",
        ),
    ] {
        let mut hdr = Hdr::new(1, Encoding::U8, 1, 8000, &format!("ext-{name}"));
        hdr.ext = ext;
        let vname = match name.strip_prefix("context-") {
            Some(rest) => format!("context-extension-{rest}-l1"),
            None => format!("hdr-ext-{name}-l1"),
        };
        if name == "context-short" {
            hdr.flags = 1;
        }
        let m = one_chunk_file(&hdr, 10);
        g.err(
            &vname,
            comment,
            &m,
            KeyUse::None,
            &m.bytes(),
            class,
            At::Header(96),
        );
    }
    let mut hdr = Hdr::new(3, Encoding::U8, 1, 8000, "ext-context-l3");
    hdr.ext = [&[0x80, 0x01, 0x00, 0x20][..], &[7; 32]].concat();
    hdr.flags = 1;
    let m = one_chunk_file(&hdr, 10);
    g.err(
        "context-extension-keyed-l3",
        "an encrypted, context-bound file carrying the keyless context extension 0x8001 (the context belongs in the key derivation)",
        &m,
        KeyUse::Right,
        &m.bytes(),
        "malformed-header",
        At::Header(96),
    );
    let mut hdr = Hdr::new(1, Encoding::U8, 1, 8000, "ext-1");
    hdr.ext = vec![0x00, 0x01, 0x00, 0x04, b'a', b'b', b'c', b'd'];
    let m = one_chunk_file(&hdr, 40);
    // The header now ends at 128, so the key area's capacity is read from the old
    // tag's bytes 24..28 (§12: the key area is read, its capacity checked against the
    // limits, before the header tag is verified).
    let x = hb(&m, 28, 2, 0);
    let s = u32::from_be_bytes(x[128..132].try_into().unwrap());
    let (class, at) = if s > 32768 {
        ("limit-exceeded", At::Header(128))
    } else if s < 256 {
        ("malformed-header", At::Header(128))
    } else {
        ("auth-failed", At::Header(96))
    };
    g.err(
        "hdr-ext-dropped-l1",
        "extension length 8 changed to 0: the extension bytes are read as the header tag, and the key section from the old tag's last bytes",
        &m,
        KeyUse::None,
        &x,
        class,
        at,
    );
}

/// A key-section stanza: kind and body.
type Stanza = (u16, Vec<u8>);

/// A key area whose copy A holds `stanzas`, tagged with `hdr`'s keys key over the
/// header hash `h`, with its checksum over `h`.
fn key_section_tagged(hdr: &Hdr, h: &[u8; 32], stanzas: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let k = hdr.keys().expect("a keyed level");
    let tag = section_tag(&k, h, stanzas);
    area(
        hdr.key_cap,
        &copy_of(h, 1, stanzas, Some(tag), &[], hdr.key_cap),
        &[],
    )
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
            &format!("wrong-key-l{l}"),
            "read with another key: no recipient matches (its key id is not in the key section), reported as a wrong key, not an authentication failure",
            &b,
            KeyUse::Wrong,
            &b.bytes(),
            "wrong-key",
            At::Nowhere,
        );
        // Two recipients: the file opens with either key.
        let two = base_with(
            l,
            &format!("two-{l}"),
            130,
            "42",
            Opts {
                more: vec![SECOND_KEY],
                ..Default::default()
            },
        );
        assert_eq!(two.recipients.len(), 2);
        g.ok(
            &format!("keys-first-recipient-l{l}"),
            "a file with two symmetric slots (keys 00..1f and 40..5f), opened with the first key",
            &two,
        );
        g.ok_with(
            &format!("keys-second-recipient-l{l}"),
            "a file with two symmetric slots, opened with the second recipient's key (40..5f)",
            &two,
            KeyUse::Second,
            &two.bytes(),
        );
        g.err(
            &format!("wrong-key-two-slots-l{l}"),
            "a file with two slots read with a third key: no recipient matches",
            &two,
            KeyUse::Wrong,
            &two.bytes(),
            "wrong-key",
            At::Nowhere,
        );
        let h = two.hdr.h();
        let s1 = slot(&KEY, &two.hdr, &h);
        let s2 = slot(&SECOND_KEY, &two.hdr, &h);
        let q = two.hdr.key_cap;
        let area_at = two.hdr.header_len();
        let copy_a = area_at as u64 + 4;
        let rest = |m: &Model| m.bytes()[m.base() as usize..].to_vec();
        let orig_tag = section_tag(
            &two.hdr.keys().unwrap(),
            &h,
            &[(1, s1.clone()), (1, s2.clone())],
        );
        // Key-area changes by someone without the data key, who can recompute the
        // unkeyed checksum but not the section tag: the copy is intact, its tag (the
        // original one) fails.
        let forged = |stanzas: &[(u16, Vec<u8>)]| {
            let c = copy_of(&h, 1, stanzas, Some(orig_tag), &[], q);
            let tag_at = copy_a + 16 + stanzas.iter().map(|(_, b)| 4 + b.len() as u64).sum::<u64>();
            (
                [two.header(), area(q, &c, &[]), rest(&two)].concat(),
                tag_at,
            )
        };
        let mut foreign = two.hdr.clone();
        foreign.dk = seq(0x99);
        let cases: Vec<(String, &str, Vec<Stanza>)> = vec![
            (
                if l == 3 {
                    "keys-slot-added".into()
                } else {
                    format!("keys-slot-added-l{l}")
                },
                "a third slot (for key 20..3f, wrapping another data key) added by someone without the data key, checksum recomputed: the section tag fails",
                vec![
                    (1, s1.clone()),
                    (1, s2.clone()),
                    (1, slot(&WRONG_KEY, &foreign, &h)),
                ],
            ),
            (
                if l == 3 {
                    "keys-slot-removed".into()
                } else {
                    format!("keys-slot-removed-l{l}")
                },
                "the second recipient's slot removed (lengths and checksum adjusted) without the data key: the section tag fails",
                vec![(1, s1.clone())],
            ),
            (
                format!("keys-slot-reordered-l{l}"),
                "the two slots swapped, checksum recomputed: the section tag fails",
                vec![(1, s2.clone()), (1, s1.clone())],
            ),
            (
                format!("keys-unknown-stanza-added-l{l}"),
                "an unknown stanza kind (0x7777, 3 bytes) added without the data key: skipped as a recipient, but the section tag fails",
                vec![(1, s1.clone()), (1, s2.clone()), (0x7777, vec![1, 2, 3])],
            ),
        ];
        for (name, comment, stanzas) in cases {
            let (x, tag_at) = forged(&stanzas);
            g.err(
                &name,
                comment,
                &two,
                KeyUse::Right,
                &x,
                "auth-failed",
                At::Header(tag_at),
            );
        }
        // The same forgeries in copy B with a higher generation: copy B is in force
        // (the intact copy of the higher generation), and its tag fails.
        {
            let added = vec![
                (1, s1.clone()),
                (1, s2.clone()),
                (1, slot(&WRONG_KEY, &foreign, &h)),
            ];
            let a_copy = copy_of(
                &h,
                1,
                &[(1, s1.clone()), (1, s2.clone())],
                Some(orig_tag),
                &[],
                q,
            );
            let b_copy = copy_of(&h, 2, &added, Some(orig_tag), &[], q);
            let tag_at =
                copy_a + q as u64 + 16 + added.iter().map(|(_, b)| 4 + b.len() as u64).sum::<u64>();
            let x = [two.header(), area(q, &a_copy, &b_copy), rest(&two)].concat();
            g.err(
                &format!("keys-copy-b-forged-l{l}"),
                "copy B, generation 2, adds a slot without the data key (checksum recomputed, old tag): copy B is in force and its section tag fails",
                &two,
                KeyUse::Right,
                &x,
                "auth-failed",
                At::Header(tag_at),
            );
        }
        // A holder of the data key may rewrite the key area: an unknown stanza kind is
        // skipped, a removed recipient no longer opens the file.
        let mut x = two.header();
        x.extend_from_slice(&key_section_tagged(
            &two.hdr,
            &h,
            &[(0x7777, vec![1, 2, 3]), (1, s2.clone()), (1, s1.clone())],
        ));
        x.extend_from_slice(&rest(&two));
        g.ok_with(
            &format!("keys-rewritten-unknown-stanza-l{l}"),
            "the key section rewritten by a holder of the data key: an unknown stanza kind first (skipped), then the two slots in the other order, with a valid section tag; the chunks are unchanged",
            &two,
            KeyUse::Right,
            &x,
        );
        let mut x = two.header();
        x.extend_from_slice(&key_section_tagged(&two.hdr, &h, &[(1, s1.clone())]));
        x.extend_from_slice(&rest(&two));
        g.err(
            &format!("keys-recipient-removed-l{l}"),
            "the second recipient removed by a holder of the data key (valid section tag): the second key no longer opens the file",
            &two,
            KeyUse::Second,
            &x,
            "wrong-key",
            At::Nowhere,
        );
        // An in-place rewrite as a tool does it (§5.5): the new section in copy B with
        // generation 2. Interrupted before copy A is rewritten, the file has both.
        let k2 = two.hdr.keys().unwrap();
        let only1 = [(1u16, s1.clone())];
        let new_b = copy_of(&h, 2, &only1, Some(section_tag(&k2, &h, &only1)), &[], q);
        let old_a = copy_of(
            &h,
            1,
            &[(1, s1.clone()), (1, s2.clone())],
            Some(orig_tag),
            &[],
            q,
        );
        let x = [two.header(), area(q, &old_a, &new_b), rest(&two)].concat();
        g.err(
            &format!("keys-rewrite-interrupted-l{l}"),
            "a rewrite removing the second recipient, interrupted after copy B (generation 2) was written: copy B is in force, so the second key no longer opens the file",
            &two,
            KeyUse::Second,
            &x,
            "wrong-key",
            At::Nowhere,
        );
        g.ok_with(
            &format!("keys-rewrite-interrupted-first-l{l}"),
            "the same interrupted rewrite read with the first key: copy B (generation 2) opens",
            &two,
            KeyUse::Right,
            &x,
        );
        let mut torn_b = new_b.clone();
        for v in &mut torn_b[60..] {
            *v = 0;
        }
        let x = [two.header(), area(q, &old_a, &torn_b), rest(&two)].concat();
        g.ok_with(
            &format!("keys-rewrite-torn-l{l}"),
            "a rewrite torn while copy B (generation 2) was being written: copy B fails its checksum, copy A (generation 1) is in force and both keys open the file",
            &two,
            KeyUse::Second,
            &x,
        );
        let other_a = copy_of(&h, 1, &only1, Some(section_tag(&k2, &h, &only1)), &[], q);
        let x = [two.header(), area(q, &old_a, &other_a), rest(&two)].concat();
        g.err(
            &format!("keys-copies-same-generation-l{l}"),
            "both copies intact with generation 1 but different recipients: refused",
            &two,
            KeyUse::Right,
            &x,
            "malformed-header",
            At::Header(area_at as u64),
        );
        // A critical recipient kind a reader does not know, written by a holder of the
        // data key: the reader must stop.
        let crit = [(1u16, s1.clone()), (0x8042u16, vec![0; 8])];
        let x = [
            two.header(),
            key_section_tagged(&two.hdr, &h, &crit),
            rest(&two),
        ]
        .concat();
        g.err(
            &format!("keys-critical-kind-l{l}"),
            "a recipient stanza of unknown critical kind 0x8042 with a valid section tag: unsupported",
            &two,
            KeyUse::Right,
            &x,
            "unsupported",
            At::Header(copy_a + 16),
        );
        // Key areas swapped between two files (same settings, other salt): the copy
        // is intact, and the slot for the key is found, but its wrap (whose
        // associated data is the other header's hash) does not open.
        let other = base(l, &format!("base-other-{l}"));
        let b = base(l, &format!("base-{l}"));
        let swapped = [b.header(), other.key_section(), rest(&b)].concat();
        g.err(
            &format!("keys-swapped-l{l}"),
            "the key area of another file (other salt, same key) copied in: the slot's wrap binds the other header's hash and does not open",
            &b,
            KeyUse::Right,
            &swapped,
            "auth-failed",
            At::Header(b.hdr.header_len() as u64 + 4),
        );

        let keys_at = b.hdr.header_len() + 4; // copy A
        let flip = |at: usize, resum: bool| {
            let mut x = b.bytes();
            x[at] ^= 0x01;
            if resum {
                rechecksum(&mut x[keys_at..keys_at + q as usize]);
            }
            x
        };
        let tag_at = keys_at + 16 + 100;
        g.err(
            &format!("keys-tag-l{l}"),
            "one bit of the section tag flipped and the checksum recomputed: the section tag fails",
            &b,
            KeyUse::Right,
            &flip(tag_at, true),
            "auth-failed",
            At::Header(tag_at as u64),
        );
        g.err(
            &format!("keys-copy-damaged-l{l}"),
            "one bit of the section tag flipped, checksum kept: copy A is not intact and copy B is empty",
            &b,
            KeyUse::Right,
            &flip(tag_at, false),
            "malformed-header",
            At::Header(tag_at as u64 + 32),
        );
        g.err(
            &format!("keys-wrap-l{l}"),
            "one bit of the wrapped data key flipped in the reader's slot (checksum recomputed): its key id matches but the wrap does not open",
            &b,
            KeyUse::Right,
            &flip(keys_at + 16 + 4 + 16 + 5, true),
            "auth-failed",
            At::Header(keys_at as u64),
        );
        g.err(
            &format!("wrong-key-id-changed-l{l}"),
            "one bit of the slot's key id flipped (checksum recomputed): no recipient matches the key",
            &b,
            KeyUse::Right,
            &flip(keys_at + 16 + 4, true),
            "wrong-key",
            At::Nowhere,
        );
        // Fields out of range, each with the checksum recomputed so that only the
        // rule named is broken (the capacity is outside the copies).
        let ka = b.hdr.header_len() as u64;
        let kc = keys_at as u64;
        let fields: [(&str, &str, usize, usize, u64, &str, u64); 10] = [
            (
                "capacity-ffffffff",
                "copy capacity FFFFFFFF: refused before anything is allocated",
                0,
                4,
                0xFFFF_FFFF,
                "limit-exceeded",
                ka,
            ),
            (
                "capacity-32769",
                "copy capacity 32769, one above the limit",
                0,
                4,
                32769,
                "limit-exceeded",
                ka,
            ),
            (
                "capacity-255",
                "copy capacity 255, below the minimum",
                0,
                4,
                255,
                "malformed-header",
                ka,
            ),
            (
                "length-over-capacity",
                "copy length one more than the capacity",
                8,
                4,
                q as u64 + 1,
                "malformed-header",
                kc + 4,
            ),
            (
                "length-minus-1",
                "copy length one less than its content (the checksum then covers other bytes)",
                8,
                4,
                16 + 100 + 32 + 32 - 1,
                "malformed-header",
                kc + 16 + 100 + 32 - 1,
            ),
            (
                "count-0",
                "recipient count 0 at a keyed level",
                12,
                2,
                0,
                "malformed-header",
                kc + 8,
            ),
            (
                "count-65",
                "recipient count 65, above the limit of 64",
                12,
                2,
                65,
                "limit-exceeded",
                kc + 8,
            ),
            (
                "count-2",
                "recipient count 2 with one stanza",
                12,
                2,
                2,
                "malformed-header",
                kc + 16 + 100,
            ),
            (
                "signatures-65",
                "signature count 65, above the limit of 64",
                14,
                2,
                65,
                "limit-exceeded",
                kc + 10,
            ),
            (
                "reserved",
                "copy reserved bytes not zero",
                16,
                4,
                1,
                "malformed-header",
                kc + 12,
            ),
        ];
        for (name, comment, at, width, v, class, off) in fields {
            let x = b.edited(|x, _| {
                put(x, ka as usize + at, width, v);
                if at >= 4 && name != "length-over-capacity" && name != "length-minus-1" {
                    rechecksum(&mut x[keys_at..keys_at + q as usize]);
                }
            });
            g.err(
                &format!("keys-{name}-l{l}"),
                comment,
                &b,
                KeyUse::Right,
                &x,
                class,
                At::Header(off),
            );
        }
        let x = b.edited(|x, _| {
            put(x, keys_at + 16 + 2, 2, 95);
            rechecksum(&mut x[keys_at..keys_at + q as usize]);
        });
        g.err(
            &format!("keys-slot-95-l{l}"),
            "a symmetric slot stanza of 95 bytes (must be 96), checksum recomputed",
            &b,
            KeyUse::Right,
            &x,
            "malformed-header",
            At::Header(kc + 16),
        );
        let x = b.edited(|x, _| x[keys_at + q as usize - 1] = 1);
        g.err(
            &format!("keys-padding-l{l}"),
            "a nonzero byte in copy A's padding after its checksum",
            &b,
            KeyUse::Right,
            &x,
            "malformed-header",
            At::Header(kc + 16 + 100 + 32 + 32),
        );
        let x = b.edited(|x, _| x[keys_at + 2 * q as usize - 1] = 1);
        g.ok_with(
            &format!("keys-empty-copy-damaged-l{l}"),
            "a nonzero byte at the end of the empty copy B: copy B is damaged, copy A is in force",
            &b,
            KeyUse::Right,
            &x,
        );
        let x = b.edited(|x, _| x[keys_at..keys_at + q as usize].fill(0));
        g.err(
            &format!("keys-both-empty-l{l}"),
            "copy A zeroed: both copies are empty",
            &b,
            KeyUse::Right,
            &x,
            "malformed-header",
            At::Header(kc),
        );
        // Generations are below 2^31: a planted copy above the bound is damaged, and
        // copy A stays in force; alone, it leaves no intact copy.
        let big = {
            let recips = [(1u16, slot(&KEY, &b.hdr, &b.hdr.h()))];
            let tag = section_tag(&b.hdr.keys().unwrap(), &b.hdr.h(), &recips);
            copy_of(&b.hdr.h(), 0x8000_0000, &recips, Some(tag), &[], q)
        };
        let x = b
            .edited(|x, _| x[keys_at + q as usize..keys_at + 2 * q as usize].copy_from_slice(&big));
        g.ok_with(
            &format!("keys-generation-over-bound-b-l{l}"),
            "copy B intact but with generation 2^31, above the bound: it is damaged, and copy A (generation 1) is in force",
            &b,
            KeyUse::Right,
            &x,
        );
        let x = b.edited(|x, _| x[keys_at..keys_at + q as usize].copy_from_slice(&big));
        g.err(
            &format!("keys-generation-over-bound-l{l}"),
            "copy A with generation 2^31 (above the bound, checksum valid) and copy B empty: no intact copy",
            &b,
            KeyUse::Right,
            &x,
            "malformed-header",
            At::Header(kc),
        );
        let cut = b.base() as usize - 10;
        g.err(
            &format!("keys-truncated-l{l}"),
            "the file ends inside the key area",
            &b,
            KeyUse::Right,
            &b.bytes()[..cut],
            "truncated",
            At::Truncated(0),
        );
    }
    // Level 1: copy A holds no recipient and no tag.
    let b1 = base(1, "base-1");
    let q = b1.hdr.key_cap as usize;
    let h1 = b1.hdr.h();
    assert_eq!(
        b1.key_section(),
        area(q as u32, &copy_of(&h1, 1, &[], None, &[], q as u32), &[])
    );
    for (name, comment, at, width, v, off, resum, class) in [
        (
            "capacity-0",
            "keyless copy capacity 0",
            0usize,
            4usize,
            0u64,
            128u64,
            false,
            "malformed-header",
        ),
        (
            "count-1",
            "keyless copy claiming one recipient (checksum recomputed)",
            12,
            2,
            1,
            132 + 8,
            true,
            "malformed-header",
        ),
        (
            "reserved",
            "keyless copy reserved bytes not zero (checksum recomputed)",
            16,
            4,
            1,
            132 + 12,
            true,
            "malformed-header",
        ),
        (
            "checksum",
            "one bit of the keyless copy's checksum flipped",
            4 + 16 + 31,
            1,
            0,
            132 + 16,
            false,
            "malformed-header",
        ),
    ] {
        let x = b1.edited(|x, _| {
            if name == "checksum" {
                x[128 + at] ^= 1;
            } else {
                put(x, 128 + at, width, v);
            }
            if resum {
                rechecksum(&mut x[132..132 + q]);
            }
        });
        g.err(
            &format!("keyless-keys-{name}-l1"),
            comment,
            &b1,
            KeyUse::None,
            &x,
            class,
            At::Header(off),
        );
    }
}

/// The X25519 identity of the age vectors: secret scalar bytes 60 61 .. 7f.
pub const AGE_SECRET: [u8; 32] = seq(0x60);
/// Another X25519 identity, which opens nothing: a0 a1 .. bf.
pub const AGE_OTHER: [u8; 32] = seq(0xa0);
/// The Ed25519 seed of the signature vectors: 80 81 .. 9f.
pub const SIGNER_SEED: [u8; 32] = seq(0x80);
/// Another signer's seed: c0 c1 .. df.
pub const OTHER_SIGNER_SEED: [u8; 32] = seq(0xc0);
/// The time every vector signature states: 2026-01-01T00:00:00Z.
pub const SIGNED_AT: u64 = 1_767_225_600_000;

/// An age stanza body (§5.4) for the X25519 identity `secret`, wrapping `DK || C ||
/// plain_h` (the file's own H, or another's), from fixed ephemeral inputs.
fn age_stanza(hdr: &Hdr, secret: &[u8; 32], plain_h: &[u8; 32], seed: u8) -> Vec<u8> {
    let plain = [&hdr.dk[..], &hdr.ctx[..], &plain_h[..]].concat();
    age_model::age_x25519_file(
        &seq(seed),
        &age_model::x25519_recipient(secret),
        &seq(seed.wrapping_add(0x20))[..16].try_into().unwrap(),
        &seq(seed.wrapping_add(0x40))[..16].try_into().unwrap(),
        &plain,
    )
}

/// The public key of an Ed25519 seed.
fn signer_public(seed: &[u8; 32]) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes()
}

/// The file digest (§11) of a model's file: from END's manifest and END's digest.
fn model_file_digest(m: &Model) -> [u8; 32] {
    let raw = m.raw();
    let end = raw.last().unwrap();
    let manifest = &m.chunks[m.end_index()].payload[48..80];
    sha(&[b"SASF-v2/file", manifest, &digest_of(&m.hdr, end)])
}

/// An Ed25519 signature stanza (§5.5) by `seed` over `h` and the file digest `fd`.
fn signature_of(seed: &[u8; 32], h: &[u8; 32], fd: &[u8; 32]) -> (u16, Vec<u8>) {
    use ed25519_dalek::Signer;
    let k = ed25519_dalek::SigningKey::from_bytes(seed);
    let msg = [&b"SASF-v2/signature"[..], h, fd, &SIGNED_AT.to_be_bytes()].concat();
    let sig = k.sign(&msg).to_bytes();
    let body = [
        &k.verifying_key().to_bytes()[..],
        &SIGNED_AT.to_be_bytes(),
        &sig,
    ]
    .concat();
    (1, body)
}

/// `m`'s file with copy A holding `recipients` (tagged with `m`'s keys), `signatures`,
/// and copy B empty.
fn with_area(m: &Model, recipients: &[(u16, Vec<u8>)], signatures: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let h = m.hdr.h();
    let tag = m.hdr.keys().map(|k| section_tag(&k, &h, recipients));
    let q = m.hdr.key_cap;
    let a = copy_of(&h, 1, recipients, tag, signatures, q);
    [
        m.header(),
        area(q, &a, &[]),
        m.bytes()[m.base() as usize..].to_vec(),
    ]
    .concat()
}

/// Public-key recipients and signatures (§5.4, §5.5).
fn access(g: &mut Gen) {
    let identity = || {
        format!(
            "identity: {}",
            age_model::x25519_identity_string(&AGE_SECRET)
        )
    };
    let other_identity = || {
        format!(
            "identity: {}",
            age_model::x25519_identity_string(&AGE_OTHER)
        )
    };
    for l in [2u8, 3] {
        let b = base(l, &format!("base-{l}"));
        let h = b.hdr.h();
        let s1 = (1u16, slot(&KEY, &b.hdr, &h));
        let age = (2u16, age_stanza(&b.hdr, &AGE_SECRET, &h, 0x10));
        assert_eq!(age.1.len(), 296);
        let x = with_area(&b, &[s1.clone(), age.clone()], &[]);
        g.access.push(identity());
        g.ok_with(
            &format!("keys-age-l{l}"),
            "a symmetric slot and an age X25519 stanza (identity from secret 60..7f); opened with the age identity and no key",
            &b,
            KeyUse::None,
            &x,
        );
        let x = with_area(&b, std::slice::from_ref(&age), &[]);
        g.access.push(identity());
        g.ok_with(
            &format!("keys-age-only-l{l}"),
            "an age X25519 stanza as the only recipient (a writer that cannot open its own file), opened with the identity",
            &b,
            KeyUse::None,
            &x,
        );
        g.err(
            &format!("keys-age-only-key-l{l}"),
            "the same file read with the symmetric key 00..1f: no recipient matches",
            &b,
            KeyUse::Right,
            &x,
            "wrong-key",
            At::Nowhere,
        );
        g.access.push(other_identity());
        g.err(
            &format!("keys-age-wrong-identity-l{l}"),
            "the same file read with another age identity (secret a0..bf): no recipient matches",
            &b,
            KeyUse::None,
            &x,
            "wrong-key",
            At::Nowhere,
        );
        // An age stanza of another file (its plaintext ends in the other file's H),
        // put in this one with a valid section tag: the identity opens it, and the H
        // check refuses it.
        let other = base(l, &format!("base-other-{l}"));
        let moved = (2u16, age_stanza(&b.hdr, &AGE_SECRET, &other.hdr.h(), 0x10));
        let x = with_area(&b, &[moved], &[]);
        g.access.push(identity());
        g.err(
            &format!("keys-age-swapped-l{l}"),
            "an age stanza wrapping this data key but bound to another file's header hash: the identity opens it, its H does not match, authentication fails in the key area",
            &b,
            KeyUse::None,
            &x,
            "auth-failed",
            At::Header(b.hdr.header_len() as u64 + 4),
        );
        // The stanza added by someone without the data key: the tag fails.
        let mut forged = b.clone();
        forged.hdr.dk = seq(0x99);
        let foreign = (2u16, age_stanza(&forged.hdr, &AGE_SECRET, &h, 0x10));
        let orig_tag = section_tag(&b.hdr.keys().unwrap(), &h, std::slice::from_ref(&s1));
        let recips = [s1.clone(), foreign];
        let a = copy_of(&h, 1, &recips, Some(orig_tag), &[], b.hdr.key_cap);
        let x = [
            b.header(),
            area(b.hdr.key_cap, &a, &[]),
            b.bytes()[b.base() as usize..].to_vec(),
        ]
        .concat();
        let tag_at = b.hdr.header_len() as u64
            + 4
            + 16
            + recips.iter().map(|(_, x)| 4 + x.len() as u64).sum::<u64>();
        g.err(
            &format!("keys-age-added-l{l}"),
            "an age stanza for the identity, wrapping another data key, added by someone without the data key (old tag kept, checksum recomputed): read with the key, the section tag fails",
            &b,
            KeyUse::Right,
            &x,
            "auth-failed",
            At::Header(tag_at),
        );
    }

    // Signatures, at every level.
    let signer = || format!("signer: {}", hex::encode(signer_public(&SIGNER_SEED)));
    let other_signer = || format!("signer: {}", hex::encode(signer_public(&OTHER_SIGNER_SEED)));
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let h = b.hdr.h();
        let recips: Vec<(u16, Vec<u8>)> = if l == 1 {
            vec![]
        } else {
            vec![(1, slot(&KEY, &b.hdr, &h))]
        };
        let fd = model_file_digest(&b);
        let sig = signature_of(&SIGNER_SEED, &h, &fd);
        let signed = with_area(&b, &recips, std::slice::from_ref(&sig));
        let k = KeyUse::natural(l);
        g.access.extend([signer(), "audit: success".into()]);
        g.ok_with(
            &format!("sig-ok-l{l}"),
            "an Ed25519 signature (seed 80..9f) over H and the file digest, stated time 2026-01-01T00:00:00Z; the signer is trusted; an auditor without the key agrees",
            &b,
            k,
            &signed,
        );
        g.access
            .extend([other_signer(), "audit: error not-signed".into()]);
        g.err(
            &format!("sig-untrusted-l{l}"),
            "the same file, trusting only another signer (seed c0..df): no trusted signature",
            &b,
            k,
            &signed,
            "not-signed",
            At::Unsigned,
        );
        g.access
            .extend([signer(), "audit: error not-signed".into()]);
        g.err(
            &format!("sig-none-l{l}"),
            "an unsigned file, with a trusted signer named: no trusted signature",
            &b,
            k,
            &b.bytes(),
            "not-signed",
            At::Unsigned,
        );
        // A signature of another file (same settings, other salt), moved in.
        let other = base(l, &format!("base-other-{l}"));
        let moved = signature_of(&SIGNER_SEED, &other.hdr.h(), &model_file_digest(&other));
        g.access
            .extend([signer(), "audit: error not-signed".into()]);
        g.err(
            &format!("sig-moved-l{l}"),
            "a valid signature of another file moved into this one: it does not verify here",
            &b,
            k,
            &with_area(&b, &recips, &[moved]),
            "not-signed",
            At::Unsigned,
        );
        let mut flipped = sig.clone();
        flipped.1[40 + 7] ^= 0x01;
        g.access
            .extend([signer(), "audit: error not-signed".into()]);
        g.err(
            &format!("sig-flipped-l{l}"),
            "one bit of the signature flipped (checksum recomputed)",
            &b,
            k,
            &with_area(&b, &recips, &[flipped]),
            "not-signed",
            At::Unsigned,
        );
        let mut at_changed = sig.clone();
        at_changed.1[39] ^= 0x01;
        g.access
            .extend([signer(), "audit: error not-signed".into()]);
        g.err(
            &format!("sig-time-changed-l{l}"),
            "the stated signing time changed by one millisecond: the signature covers it",
            &b,
            k,
            &with_area(&b, &recips, &[at_changed]),
            "not-signed",
            At::Unsigned,
        );
        // Two signatures, the trusted one second, and one of an unknown kind.
        let two = [
            signature_of(&OTHER_SIGNER_SEED, &h, &fd),
            (0x7777, vec![1, 2, 3]),
            sig.clone(),
        ];
        g.access.extend([signer(), "audit: success".into()]);
        g.ok_with(
            &format!("sig-several-l{l}"),
            "three signature stanzas: another signer's, one of unknown kind 0x7777 (ignored), then the trusted one",
            &b,
            k,
            &with_area(&b, &recips, &two),
        );
        // A changed chunk under a valid signature: the reader stops at the chunk;
        // an auditor without the key finds the digest changed.
        let mut x = signed.clone();
        let off = b.offsets()[1] as usize + 12 + 13;
        x[off] ^= 0x01;
        // At level 1 the auditor recomputes each chunk's tag (its digest), at 2 and 3
        // the digests of the stored bytes.
        let audit = if l == 1 {
            "audit: error auth-failed"
        } else {
            "audit: error not-signed"
        };
        g.access.extend([signer(), audit.into()]);
        g.err(
            &format!("sig-chunk-changed-l{l}"),
            "one stored byte of chunk 1 changed in a signed file: authentication fails at chunk 1 (level 1: its tag), and an auditor finds the file digest changed",
            &b,
            k,
            &x,
            "auth-failed",
            At::Chunk(1),
        );
        if l == 1 {
            g.reading(Some("signed"), None);
            g.access.push(signer());
            g.err(
                "sig-required-keyless-l1",
                "a keyless file with a valid trusted signature read with require signed: keyless files never meet it",
                &b,
                KeyUse::None,
                &signed,
                "not-protected",
                At::Nowhere,
            );
        } else {
            g.reading(Some("signed"), None);
            g.access.extend([signer(), "audit: success".into()]);
            g.ok_with(
                &format!("sig-required-l{l}"),
                "require signed, with the key and the trusted signer: met",
                &b,
                k,
                &signed,
            );
        }
    }
}

/// The reader's requirement (§13).
fn downgrade(g: &mut Gen) {
    let b1 = base(1, "base-1");
    // A forger replaces an encrypted recording with a keyless file of the same call.
    let forged = base(1, "base-3");
    g.err(
        "downgrade-keyless-l1",
        "a forged keyless file read with a key and the default requirement (authenticated by this key): refused before any chunk",
        &forged,
        KeyUse::Right,
        &forged.bytes(),
        "not-protected",
        At::Nowhere,
    );
    g.reading(Some("authenticated"), None).err(
        "downgrade-keyless-require-authenticated-l1",
        "a keyless file read with a key and require authenticated",
        &b1,
        KeyUse::Right,
        &b1.bytes(),
        "not-protected",
        At::Nowhere,
    );
    g.reading(Some("any"), None).ok_with(
        "downgrade-keyless-require-any-l1",
        "a keyless file read with a key and an explicit require any: accepted (checked for corruption only)",
        &b1,
        KeyUse::Right,
        &b1.bytes(),
    );
    g.reading(Some("encrypted"), None).err(
        "downgrade-keyless-require-encrypted-l1",
        "a keyless file read with a key and require encrypted",
        &b1,
        KeyUse::Right,
        &b1.bytes(),
        "not-protected",
        At::Nowhere,
    );
    g.reading(Some("authenticated"), None).err(
        "downgrade-keyless-nokey-require-authenticated-l1",
        "a keyless file read without a key but with require authenticated: it does not meet the requirement",
        &b1,
        KeyUse::None,
        &b1.bytes(),
        "not-protected",
        At::Nowhere,
    );
    let b2 = base(2, "base-2");
    g.reading(Some("encrypted"), None).err(
        "downgrade-hmac-require-encrypted-l2",
        "an HMAC (level 2) file read with its key and require encrypted",
        &b2,
        KeyUse::Right,
        &b2.bytes(),
        "not-protected",
        At::Nowhere,
    );
    g.reading(Some("any"), None).ok_with(
        "downgrade-hmac-require-any-l2",
        "an HMAC file read with its key and require any: accepted, authenticated by the key",
        &b2,
        KeyUse::Right,
        &b2.bytes(),
    );
    g.reading(Some("encrypted"), None).err(
        "downgrade-nokey-require-encrypted-l2",
        "an HMAC file read without a key and require encrypted",
        &b2,
        KeyUse::None,
        &b2.bytes(),
        "not-protected",
        At::Nowhere,
    );
    let b3 = base(3, "base-3");
    g.reading(Some("encrypted"), None).ok_with(
        "downgrade-encrypted-require-encrypted-l3",
        "an encrypted file read with its key and require encrypted: accepted",
        &b3,
        KeyUse::Right,
        &b3.bytes(),
    );
    g.reading(Some("authenticated"), None).err(
        "downgrade-nokey-require-authenticated-l3",
        "an encrypted file read without a key and require authenticated: a key is required",
        &b3,
        KeyUse::None,
        &b3.bytes(),
        "key-required",
        At::Nowhere,
    );
}

/// Context binding (§4.4).
fn context(g: &mut Gen) {
    let ctx = |id: &str| Opts {
        context: Some((id.into(), "acme".into())),
        ..Default::default()
    };
    for l in LEVELS {
        let m = base_with(l, &format!("ctx-{l}"), 130, "42", ctx("call-0001"));
        assert_eq!(m.hdr.flags, 1);
        g.reading(None, Some("call-0001/acme")).ok_with(
            &format!("context-expected-l{l}"),
            "a file bound to recording call-0001 of tenant acme, read expecting exactly that context",
            &m,
            KeyUse::natural(l),
            &m.bytes(),
        );
        g.ok(
            &format!("context-bound-l{l}"),
            "a context-bound file read with no expected context: accepted",
            &m,
        );
        g.reading(None, Some("call-0002/acme")).err(
            &format!("context-swapped-l{l}"),
            "a file bound to call-0001 copied where call-0002 was expected",
            &m,
            KeyUse::natural(l),
            &m.bytes(),
            "context-mismatch",
            At::Nowhere,
        );
        g.reading(None, Some("call-0001")).err(
            &format!("context-swapped-tenant-l{l}"),
            "a file bound to call-0001 of tenant acme, read expecting call-0001 with no tenant",
            &m,
            KeyUse::natural(l),
            &m.bytes(),
            "context-mismatch",
            At::Nowhere,
        );
        let b = base(l, &format!("base-{l}"));
        g.reading(None, Some("call-0001/acme")).err(
            &format!("context-unbound-l{l}"),
            "a file bound to no context, read expecting one",
            &b,
            KeyUse::natural(l),
            &b.bytes(),
            "context-mismatch",
            At::Nowhere,
        );
        let x = rebuilt(&m, false, |c| {
            c[0].payload = br#"{"id":"call-0002","tenant":"acme"}"#.to_vec()
        });
        g.err(
            &format!("context-info-mismatch-l{l}"),
            "an authentic bound file (context call-0001/acme) whose INFO chunk names recording call-0002",
            &x,
            KeyUse::natural(l),
            &x.bytes(),
            "malformed",
            At::Chunk(0),
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
            let mut x = b.front();
            for p in parts {
                x.extend_from_slice(p);
            }
            x
        };
        let mut order: Vec<&Vec<u8>> = raw.iter().collect();
        order.remove(5);
        g.err(
            &format!("chunk-dropped-l{l}"),
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
            &format!("chunk-duplicated-l{l}"),
            "chunk 5 repeated after itself",
            &b,
            k,
            &join(&order),
            "auth-failed",
            At::Chunk(6),
        );
        let mut order: Vec<&Vec<u8>> = raw.iter().collect();
        order.swap(4, 6);
        g.err(
            &format!("chunk-swapped-l{l}"),
            "chunks 4 and 6 (both audio, of the same length) swapped",
            &b,
            k,
            &join(&order),
            "auth-failed",
            At::Chunk(4),
        );
        let x = b.edited(|x, off| {
            let at = off[5] as usize + 12;
            for (j, (a, c)) in EVNT.iter().zip(ANNO.iter()).enumerate() {
                x[at + j] ^= a ^ c;
            }
        });
        g.err(
            &format!("tamper-retype-l{l}"),
            "chunk 5's type EVNT changed to ANNO (at level 3 by flipping the same bits of the ciphertext)",
            &b,
            k,
            &x,
            "auth-failed",
            At::Chunk(5),
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
            "chunk 7 replaced by chunk 7 of another file for the same recipient key and with the same layout (another salt and data key)",
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
        (130, "input ends inside the key section's length field"),
        (134, "input ends inside the (empty) key section"),
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
                0 => "cut right after the header and the key section".to_string(),
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
        if l != 1 {
            inside.push(("key-section", b.hdr.header_len() + 60, 0));
        }
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
                &if name == "key-section" {
                    "cut inside the key section (in the recipient slot)".to_string()
                } else {
                    format!("cut inside the {name} of chunk {whole}")
                },
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
            "a second, authentic END chunk (index 11) after the END chunk",
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
            "an authentic AUDI chunk (index 11) after the END chunk",
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
            &format!("trailing-garbage-l{l}"),
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
        ("chunks", "chunk count one too high", 0, 8, 11),
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
            "last index offset pointing at chunk 8",
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
                "last-index" => b.offsets()[8] - b.base(),
                "manifest" => old ^ 1,
                _ => v,
            };
            put(p, at, width, new);
        });
        g.err(
            &if name == "manifest" {
                "manifest-wrong-l3".to_string()
            } else {
                format!("end-wrong-{name}-l3")
            },
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
        "duration-class-mismatch-l3",
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
        // The base content: 0 INFO, 1 PART a1, 2 PART c1, 3 EVNT join@0, 4 AUDI 100@0,
        // 5 EVNT dtmf@130, 6 AUDI 100@100, 7 AUDI 50@200, 8 ANNO@250 (then 9 INDX, 10 END).
        let raw_meta = |i: usize, f: &dyn Fn(&mut Vec<u8>)| {
            rebuilt(&b, false, |c| {
                let mut p = c[i].stored_payload(b.hdr.cap);
                f(&mut p);
                c[i] = Chunk::raw(c[i].ty, c[i].ts, p);
            })
        };
        let marker = |at: u64| Chunk::new(EVNT, br#"{"type":"marker","label":"m"}"#).at(at);
        let mut v: Vec<(String, String, Model, &str, usize)> = vec![
            (
                "second-info".into(),
                "a second INFO chunk at index 1".into(),
                rebuilt(&b, true, |c| c.insert(1, c[0].clone())),
                "malformed",
                1,
            ),
            (
                "timestamp-audio".into(),
                "AUDI chunk 6 with timestamp 101 instead of 100".into(),
                rebuilt(&b, false, |c| c[6].ts += 1),
                "malformed",
                6,
            ),
            (
                "unknown-critical".into(),
                "an unknown critical chunk type Xtra at index 5: must stop".into(),
                rebuilt(&b, true, |c| {
                    c.insert(5, Chunk::new(*b"Xtra", b"critical").at(100))
                }),
                "unsupported",
                5,
            ),
            // Timeline (§8).
            (
                "meta-late".into(),
                "EVNT chunk 5 at frame 200, but the audio chunk after it holds frames 100..200: the event must sit before the chunk it happened in (reported at that audio chunk)".into(),
                rebuilt(&b, false, |c| c[5].ts = 200),
                "malformed",
                6,
            ),
            (
                "meta-late-far".into(),
                "EVNT chunk 5 at frame 240, beyond the next audio chunk and inside the one after it".into(),
                rebuilt(&b, false, |c| c[5].ts = 240),
                "malformed",
                6,
            ),
            (
                "meta-late-end".into(),
                "ANNO chunk 8 at frame 251 after the last audio, which ends at 250: metadata after the audio must be at exactly the total".into(),
                rebuilt(&b, false, |c| c[8].ts = 251),
                "malformed",
                10,
            ),
            (
                "meta-early".into(),
                "EVNT chunk 5 at frame 99, before the audio already read (frames up to 100)".into(),
                rebuilt(&b, false, |c| c[5].ts = 99),
                "malformed",
                5,
            ),
            (
                "meta-early-info-gap".into(),
                "an EVNT marker at frame 0 inserted after AUDI chunk 4 (frames 0..100)".into(),
                rebuilt(&b, false, |c| c.insert(5, marker(0))),
                "malformed",
                5,
            ),
            (
                "meta-order".into(),
                "an EVNT marker at frame 120 right after the DTMF event at 130 (both inside the next audio chunk): metadata out of order".into(),
                rebuilt(&b, false, |c| c.insert(6, marker(120))),
                "malformed",
                6,
            ),
            // Padding (§9.1).
            (
                "meta-padding-nonzero".into(),
                "EVNT chunk 5's last padding byte is 01".into(),
                raw_meta(5, &|p| *p.last_mut().unwrap() = 1),
                "malformed",
                5,
            ),
            (
                "meta-padding-wrong-bucket".into(),
                "EVNT chunk 5 padded to body length 1024 (the next bucket, also the cap) instead of 256".into(),
                raw_meta(5, &|p| p.resize(1024 - 12, 0)),
                "malformed",
                5,
            ),
            (
                "meta-padding-short".into(),
                "EVNT chunk 5 padded to body length 255, one short of its bucket".into(),
                raw_meta(5, &|p| {
                    p.pop();
                }),
                "malformed",
                5,
            ),
            (
                "meta-padding-unpadded".into(),
                "EVNT chunk 5 with its length and JSON but no padding".into(),
                raw_meta(5, &|p| {
                    let n = u32::from_be_bytes(p[0..4].try_into().unwrap()) as usize;
                    p.truncate(4 + n);
                }),
                "malformed",
                5,
            ),
            (
                "meta-padding-json-length".into(),
                "EVNT chunk 5's JSON length field (u32) says 300, past the end of the chunk".into(),
                raw_meta(5, &|p| put(p, 0, 4, 300)),
                "malformed",
                5,
            ),
            (
                "meta-padding-json-length-max".into(),
                "PART chunk 1's JSON length field is FFFFFFFF".into(),
                raw_meta(1, &|p| put(p, 0, 4, 0xFFFF_FFFF)),
                "malformed",
                1,
            ),
            (
                "meta-padding-no-length".into(),
                "ANNO chunk 8 with a payload of 3 bytes: no room for the JSON length".into(),
                raw_meta(8, &|p| p.truncate(3)),
                "malformed",
                8,
            ),
            (
                "meta-padding-info".into(),
                "the INFO chunk's JSON length one short: the last byte of the JSON counts as padding and is not zero".into(),
                raw_meta(0, &|p| {
                    let n = u32::from_be_bytes(p[0..4].try_into().unwrap());
                    put(p, 0, 4, n as u64 - 1);
                }),
                "malformed",
                0,
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
                    "first-not-info".into(),
                    "chunk 0 is a PART chunk: the INFO chunk is missing".into(),
                    rebuilt(&b, true, |c| {
                        c.remove(0);
                    }),
                    "malformed",
                    0,
                ),
                (
                    "timestamp-info".into(),
                    "INFO chunk with timestamp 1".into(),
                    rebuilt(&b, false, |c| c[0].ts = 1),
                    "malformed",
                    0,
                ),
                (
                    "audio-partial-frame".into(),
                    "AUDI chunk 7 with 99 bytes: not a whole number of 2-byte frames".into(),
                    rebuilt(&b, false, |c| {
                        c[7].payload.pop();
                    }),
                    "malformed",
                    7,
                ),
                (
                    "audio-empty".into(),
                    "an AUDI chunk with no samples (body length 12) at index 5".into(),
                    rebuilt(&b, true, |c| c.insert(5, Chunk::new(AUDI, b""))),
                    "malformed",
                    5,
                ),
                (
                    "event-unknown-participant".into(),
                    "EVNT naming participant zz, never declared".into(),
                    pay(5, r#"{"type":"hold","participant":"zz"}"#),
                    "malformed",
                    5,
                ),
                (
                    "event-unknown-participant-declared-later".into(),
                    "EVNT join a1 placed before a1's PART chunk".into(),
                    rebuilt(&b, false, |c| {
                        let e = c.remove(3);
                        c.insert(1, e);
                    }),
                    "malformed",
                    1,
                ),
                (
                    "participant-duplicate".into(),
                    "two PART chunks with id a1".into(),
                    rebuilt(&b, false, |c| c[2] = c[1].clone()),
                    "malformed",
                    2,
                ),
                (
                    "struct-json-invalid".into(),
                    "EVNT payload that is not JSON (unterminated object)".into(),
                    pay(5, r#"{"type":"dtmf","digits":"42""#),
                    "malformed",
                    5,
                ),
                (
                    "struct-json-not-object".into(),
                    "EVNT payload that is a JSON array, not an object".into(),
                    pay(5, r#"["dtmf","42"]"#),
                    "malformed",
                    5,
                ),
                (
                    "struct-json-too-deep".into(),
                    "ANNO payload nested 33 deep, past the default limit of 32".into(),
                    pay(8, &deep),
                    "limit-exceeded",
                    8,
                ),
                (
                    "struct-event-unknown-type".into(),
                    "EVNT of an unknown type".into(),
                    pay(5, r#"{"type":"explode","participant":"c1"}"#),
                    "malformed",
                    5,
                ),
                (
                    "struct-dtmf-bad-digits".into(),
                    "DTMF event with digits outside 0-9*#A-D".into(),
                    pay(5, r#"{"type":"dtmf","participant":"c1","digits":"4x"}"#),
                    "malformed",
                    5,
                ),
                (
                    "struct-participant-bad-role".into(),
                    "PART with an unknown role".into(),
                    pay(2, r#"{"id":"c1","role":"boss"}"#),
                    "malformed",
                    2,
                ),
                (
                    "struct-participant-bad-channel".into(),
                    "PART naming channel 2 of a 2-channel file".into(),
                    pay(2, r#"{"id":"c1","role":"customer","channels":[2]}"#),
                    "malformed",
                    2,
                ),
                (
                    "struct-info-channel-map".into(),
                    "INFO channel map with 1 entry for 2 channels".into(),
                    pay(0, r#"{"channels":["agent"]}"#),
                    "malformed",
                    0,
                ),
                (
                    "struct-info-started-at".into(),
                    "INFO start anchor that is not an RFC 3339 time".into(),
                    pay(0, r#"{"started_at":"yesterday"}"#),
                    "malformed",
                    0,
                ),
                (
                    "struct-annotation-no-kind".into(),
                    "ANNO without a kind".into(),
                    pay(8, r#"{"value":"x"}"#),
                    "malformed",
                    8,
                ),
            ]);
            // The strict JSON profile (§9.2).
            for (name, comment, i, json) in STRICT_JSON {
                v.push((
                    name.to_string(),
                    comment.to_string(),
                    pay(*i, json),
                    "malformed",
                    *i,
                ));
            }
        }
        // Authentic INDX chunks that do not match the chunks they describe.
        let ix = 9usize;
        assert_eq!(b.chunks[ix].ty, INDX);
        let idx = |f: &dyn Fn(&mut Vec<u8>)| resealed(&b, ix, |c| f(&mut c.payload));
        let e = |k: usize| 24 + k * ENTRY_LEN;
        let mut indexes = vec![
            (
                "index-entry-digest",
                "INDX entry 6 (an AUDI chunk) with one bit of its chunk digest flipped",
                idx(&|p| p[e(6) + 24 + 7] ^= 0x10),
            ),
            (
                "index-entry-digest-meta",
                "INDX entry 5 (the DTMF event) with one bit of its chunk digest flipped",
                idx(&|p| p[e(5) + 55] ^= 0x01),
            ),
        ];
        if l == 3 {
            indexes.extend([
                (
                    "index-entry-offset",
                    "INDX entry 4 with its stream offset one too high",
                    idx(&|p| {
                        let at = e(4) + 8;
                        let o = u64::from_be_bytes(p[at..at + 8].try_into().unwrap());
                        put(p, at, 8, o + 1);
                    }),
                ),
                (
                    "index-entry-offset-file",
                    "INDX entry 4 with the chunk's file offset instead of its stream offset (counted from chunk 0)",
                    idx(&|p| {
                        let at = e(4) + 8;
                        let o = u64::from_be_bytes(p[at..at + 8].try_into().unwrap());
                        put(p, at, 8, o + b.base());
                    }),
                ),
                (
                    "index-entry-type",
                    "INDX entry 4 with type PART instead of AUDI",
                    idx(&|p| p[e(4)..e(4) + 4].copy_from_slice(b"PART")),
                ),
                (
                    "index-entry-timestamp",
                    "INDX entry 7 with timestamp 201",
                    idx(&|p| put(p, e(7) + 16, 8, 201)),
                ),
                (
                    "index-entry-reserved",
                    "INDX entry 0 with non-zero reserved bytes",
                    idx(&|p| p[e(0) + 4] = 1),
                ),
                (
                    "index-count",
                    "INDX describing 8 chunks instead of 9 (count and length agree)",
                    idx(&|p| {
                        put(p, 16, 4, 8);
                        p.truncate(p.len() - ENTRY_LEN);
                    }),
                ),
                (
                    "index-length",
                    "INDX whose count (9) disagrees with its length (8 entries)",
                    idx(&|p| p.truncate(p.len() - ENTRY_LEN)),
                ),
                (
                    "index-entry-v1-length",
                    "INDX whose entries are 24 bytes long (version 1, no digest): the length disagrees with the count",
                    idx(&|p| {
                        let n = (p.len() - 24) / ENTRY_LEN;
                        let mut q = p[..24].to_vec();
                        for k in 0..n {
                            q.extend_from_slice(&p[e(k)..e(k) + 24]);
                        }
                        *p = q;
                    }),
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
            ]);
        }
        for (name, comment, m) in indexes {
            v.push((name.into(), comment.into(), m, "malformed", ix));
        }
        for (name, comment, m, class, i) in v {
            g.err(
                &format!("{name}-l{l}"),
                &format!("{comment} (an authentic chunk breaking a rule)"),
                &m,
                k,
                &m.bytes(),
                class,
                At::Chunk(i),
            );
        }
        // The provenance records of redact and cut (FORMAT.md §9.5.2, §9.5.3): one
        // valid of each, then each rule broken once, in an authentic chunk.
        let prov = |i: usize, p: String| rebuilt(&b, false, move |c| c[i].payload = p.into_bytes());
        g.ok(
            &format!("ok-redaction-l{l}"),
            "the DTMF event (chunk 5, frame 130) replaced by a sasf.redaction event of an omitted range [130, 180) that dropped a redacted DTMF event: valid",
            &prov(5, redaction(r#","mode":"omit","dropped_events":[{"type":"dtmf","participant":"c1","redacted":true,"at_sample":140}]"#)),
        );
        g.ok(
            &format!("ok-excerpt-l{l}"),
            "the join event at frame 0 (chunk 3) replaced by a sasf.excerpt record of frames [1000, 1250) of a 9000-frame source, a1 on hold at its start: valid",
            &prov(3, excerpt(r#"{"joined":["a1"],"on_hold":["a1"],"muted":[],"paused":false}"#, "")),
        );
        for (name, comment, i, json) in provenance_bad() {
            let m = prov(i, json);
            g.err(
                &format!("{name}-l{l}"),
                &format!("{comment} (an authentic chunk breaking a rule)"),
                &m,
                k,
                &m.bytes(),
                "malformed",
                At::Chunk(i),
            );
        }
        g.ok(
            &format!("ok-meta-at-total-l{l}"),
            "an EVNT marker and the ANNO after the last audio chunk at frame 250, exactly the total: valid",
            &rebuilt(&b, false, |c| c.insert(8, marker(250))),
        );
        g.ok(
            &format!("ok-meta-inside-chunk-l{l}"),
            "metadata at the first and last frame of the audio chunk after it (100 and 199), each just before that chunk",
            &rebuilt(&b, false, |c| {
                c[5].ts = 100;
                c.insert(6, marker(199));
            }),
        );
    }
    // The previous-index link of a second INDX in a chain.
    let hdr = Hdr::new(2, Encoding::U8, 1, 8000, "multi-index");
    let m = with_writer(&hdr, info("multi-index"), 10, 4, |w| {
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
        "index-chain-l2",
        "second INDX of a chain whose previous-index offset is FFFFFFFFFFFFFFFF instead of the first INDX's offset (authentic)",
        &x,
        KeyUse::Right,
        &x.bytes(),
        "malformed",
        At::Chunk(second),
    );
    let x = resealed(&m, second, |c| {
        let o = u64::from_be_bytes(c.payload[0..8].try_into().unwrap());
        put(&mut c.payload, 0, 8, o + m.base());
    });
    g.err(
        "index-chain-file-offset-l2",
        "second INDX of a chain whose previous-index offset is the first INDX's file offset instead of its stream offset",
        &x,
        KeyUse::Right,
        &x.bytes(),
        "malformed",
        At::Chunk(second),
    );
}

/// Vectors of the strict JSON profile (§9.2): name, comment, chunk, JSON. Until the
/// strict parser lands, `tests/vectors.rs` lists them in `PENDING_STRICT_JSON`.
pub const STRICT_JSON: &[(&str, &str, usize, &str)] = &[
    (
        "json-number-range",
        "ANNO holding the number 1e400, outside the binary64 range",
        8,
        r#"{"kind":"tag","v":1e400}"#,
    ),
    (
        "json-duplicate-top",
        "EVNT with the member participant twice (zz, then the declared c1)",
        5,
        r#"{"type":"hold","participant":"zz","participant":"c1"}"#,
    ),
    (
        "json-duplicate-nested",
        "ANNO with a duplicate member name inside a nested object",
        8,
        r#"{"kind":"tag","value":{"a":1,"a":2}}"#,
    ),
    (
        "json-duplicate-type",
        "EVNT with the member type twice (dtmf, then hold)",
        5,
        r#"{"type":"dtmf","participant":"c1","digits":"42","type":"hold"}"#,
    ),
    (
        "json-null-name",
        "PART whose optional member name is null",
        2,
        r#"{"id":"c1","name":null,"role":"customer","channels":[1]}"#,
    ),
    (
        "json-null-participant",
        "EVNT marker whose optional member participant is null",
        5,
        r#"{"type":"marker","label":"x","participant":null}"#,
    ),
    (
        "json-null-started-at",
        "INFO whose optional member started_at is null",
        0,
        r#"{"id":"call","started_at":null}"#,
    ),
    (
        "json-date-lowercase-t",
        "INFO started_at 2026-11-23t10:15:00Z (lower-case t)",
        0,
        r#"{"started_at":"2026-11-23t10:15:00Z"}"#,
    ),
    (
        "json-date-space",
        "INFO started_at 2026-11-23 10:15:00Z (a space for T)",
        0,
        r#"{"started_at":"2026-11-23 10:15:00Z"}"#,
    ),
    (
        "json-date-lowercase-z",
        "INFO started_at 2026-11-23T10:15:00z (lower-case z)",
        0,
        r#"{"started_at":"2026-11-23T10:15:00z"}"#,
    ),
    (
        "json-date-offset",
        "INFO started_at 2026-11-23T10:15:00+01:00 (not UTC Z)",
        0,
        r#"{"started_at":"2026-11-23T10:15:00+01:00"}"#,
    ),
    (
        "dtmf-redacted-with-digits",
        "DTMF event with both redacted: true and digits",
        5,
        r#"{"type":"dtmf","participant":"c1","redacted":true,"digits":"42"}"#,
    ),
];

const DIGEST: &str = "5d0f6c2ab3e1d4c9a8b7f6e5d4c3b2a19080706050403020100f0e0d0c0b0a09";

/// A `sasf.redaction` EVNT payload of the range [130, 180) of a 9000-frame source,
/// with `extra` members.
fn redaction(extra: &str) -> String {
    format!(
        r#"{{"type":"custom","key":"sasf.redaction","value":{{"source_id":"call-0","source_file_digest":"{DIGEST}","source_manifest":"{DIGEST}","source_samples":9000,"from_sample":130,"to_sample":180,"reason":"card number","by":"qa@example.com"{extra}}}}}"#
    )
}

/// A `sasf.excerpt` EVNT payload of [1000, 1250) of a 9000-frame source.
fn excerpt(state: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"custom","key":"sasf.excerpt","value":{{"source_id":"call-0","source_file_digest":"{DIGEST}","source_manifest":"{DIGEST}","source_samples":9000,"from_sample":1000,"to_sample":1250,"state":{state}{extra}}}}}"#
    )
}

/// Provenance records that break one rule each: name, comment, chunk, payload.
fn provenance_bad() -> Vec<(&'static str, &'static str, usize, String)> {
    let st = r#"{"joined":["a1"],"on_hold":[],"muted":[],"paused":false}"#;
    vec![
        (
            "redaction-mode",
            "sasf.redaction with mode \"mute\" (silence, beep or omit)",
            5,
            redaction(r#","mode":"mute""#),
        ),
        (
            "redaction-no-reason",
            "sasf.redaction without its reason",
            5,
            redaction(r#","mode":"beep""#).replace(r#""reason":"card number","#, ""),
        ),
        (
            "redaction-empty-range",
            "sasf.redaction of the empty range [130, 130)",
            5,
            redaction(r#","mode":"silence""#).replace(r#""to_sample":180"#, r#""to_sample":130"#),
        ),
        (
            "redaction-past-source",
            "sasf.redaction of a range ending at frame 9001 of a 9000-frame source",
            5,
            redaction(r#","mode":"silence""#).replace(r#""to_sample":180"#, r#""to_sample":9001"#),
        ),
        (
            "redaction-digest",
            "sasf.redaction whose source_file_digest is upper-case hex",
            5,
            redaction(r#","mode":"silence""#).replacen(DIGEST, &DIGEST.to_uppercase(), 1),
        ),
        (
            "redaction-dropped-not-omit",
            "sasf.redaction of mode silence listing dropped events",
            5,
            redaction(r#","mode":"silence","dropped_events":[]"#),
        ),
        (
            "redaction-dropped-digits",
            "sasf.redaction listing a dropped DTMF event with its digits",
            5,
            redaction(
                r#","mode":"omit","dropped_events":[{"type":"dtmf","digits":"42","at_sample":140}]"#,
            ),
        ),
        (
            "redaction-dropped-outside",
            "sasf.redaction listing a dropped event at frame 180, outside the range [130, 180)",
            5,
            redaction(
                r#","mode":"omit","dropped_events":[{"type":"hold","participant":"a1","at_sample":180}]"#,
            ),
        ),
        (
            "excerpt-not-at-0",
            "sasf.excerpt record at frame 130 (it is at frame 0)",
            5,
            excerpt(st, ""),
        ),
        (
            "excerpt-no-state",
            "sasf.excerpt record without its state",
            3,
            excerpt(st, "").replace(&format!(r#","state":{st}"#), ""),
        ),
        (
            "excerpt-state-muted",
            "sasf.excerpt record whose state has no muted list",
            3,
            excerpt(r#"{"joined":["a1"],"on_hold":[],"paused":false}"#, ""),
        ),
        (
            "excerpt-state-paused-null",
            "sasf.excerpt record whose state's paused is null",
            3,
            excerpt(r#"{"joined":[],"on_hold":[],"muted":[],"paused":null}"#, ""),
        ),
        (
            "excerpt-previous",
            "sasf.excerpt record whose previous is a number, not a record",
            3,
            excerpt(st, r#","previous":1"#),
        ),
    ]
}

/// The v2 integrity rules: digests and manifest pin the content even against a key
/// holder; the recovered flag and event agree; the index describes everything.
fn content(g: &mut Gen) {
    for l in LEVELS {
        let b = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let name = |fam: &str| {
            if l == 3 && fam == "content-forgery" {
                "content-forgery-gcm".to_string()
            } else {
                format!("{fam}-l{l}")
            }
        };
        // A key holder (anyone at level 1) re-seals AUDI chunk 6 validly with other
        // samples, keeping the INDX and END chunks: the index entry's digest fails.
        let forged = resealed(&b, 6, |c| c.payload = noise(200, 99));
        g.err(
            &name("content-forgery"),
            "AUDI chunk 6 re-sealed validly under the file's keys with other samples (as a key holder can), the old INDX and END kept: the index entry's chunk digest does not match",
            &forged,
            k,
            &forged.bytes(),
            "malformed",
            At::Chunk(9),
        );
        // The same, with the INDX chunk rebuilt too: the manifest in END fails.
        let mut m = rebuilt(&b, false, |c| c[6].payload = noise(200, 99));
        let e = m.end_index();
        let old = b.chunks[e].payload[48..80].to_vec();
        m.chunks[e].payload[48..80].copy_from_slice(&old);
        g.err(
            &format!("manifest-content-forgery-l{l}"),
            "AUDI chunk 6 re-sealed with other samples and the INDX rebuilt for it, the old END (and its manifest) kept: the manifest does not match",
            &m,
            k,
            &m.bytes(),
            "malformed",
            At::Chunk(e),
        );
        // Recovered flag and event (§11, §17).
        let m = rebuilt_flags(&b, false, 1, |_| {});
        g.err(
            &format!("recovered-flag-without-event-l{l}"),
            "END's recovered flag set, but the stream holds no sasf.recovered event",
            &m,
            k,
            &m.bytes(),
            "malformed",
            At::Chunk(m.end_index()),
        );
        let rec = Chunk::new(
            EVNT,
            br#"{"type":"custom","key":"sasf.recovered","value":{"after_chunk":7,"at_sample":250,"original_bytes":999,"reason":"truncated"}}"#,
        )
        .at(250);
        let m = rebuilt(&b, false, |c| c.insert(8, rec.clone()));
        g.err(
            &format!("recovered-event-without-flag-l{l}"),
            "a sasf.recovered event, but END's recovered flag is clear",
            &m,
            k,
            &m.bytes(),
            "malformed",
            At::Chunk(m.end_index()),
        );
        let m = rebuilt_flags(&b, false, 1, |c| {
            c.insert(8, rec.clone());
            c.insert(8, rec.clone());
        });
        g.err(
            &format!("recovered-event-twice-l{l}"),
            "END's recovered flag set with two sasf.recovered events (exactly one is allowed)",
            &m,
            k,
            &m.bytes(),
            "malformed",
            At::Chunk(m.end_index()),
        );
        let m = rebuilt_flags(&b, false, 1, |c| c.insert(8, rec.clone()));
        g.ok(
            &format!("ok-recovered-flag-and-event-l{l}"),
            "END's recovered flag set with exactly one sasf.recovered event: valid, reported as recovered",
            &m,
        );
        // No INDX before END although chunks are undescribed.
        let m = finish_no_last_index(&b);
        g.err(
            &format!("end-undescribed-l{l}"),
            "an authentic END (with a matching manifest) right after the content: no INDX chunk describes chunks 0..8",
            &m,
            k,
            &m.bytes(),
            "malformed",
            At::Chunk(m.end_index()),
        );
    }
}

/// `b`'s content and an END chunk with every total right but no INDX before it.
fn finish_no_last_index(b: &Model) -> Model {
    // Build with an index, then drop the INDX and rebuild END from the rest.
    let mut m = rebuilt(b, false, |_| {});
    let ix = m.end_index() - 1;
    assert_eq!(m.chunks[ix].ty, INDX);
    m.chunks.remove(ix);
    let raw = m.raw();
    let e = m.end_index();
    let mut manifest = Sha256::new();
    manifest.update(b"SASF-v2/manifest");
    manifest.update(m.hdr.h());
    for r in &raw[..e] {
        manifest.update(digest_of(&m.hdr, r));
    }
    let stream: u64 = raw[..e].iter().map(|r| r.len() as u64).sum();
    let p = &mut m.chunks[e].payload;
    put(p, 0, 8, e as u64);
    put(p, 24, 8, stream);
    put(p, 32, 8, NO_OFFSET);
    let d: [u8; 32] = manifest.finalize().into();
    p[48..80].copy_from_slice(&d);
    m
}

/// Length hiding (§8 rule 4): two files whose events differ in time within one audio
/// chunk (and in DTMF digit count) have the same chunk lengths.
fn timeline_leak(g: &mut Gen) {
    for l in LEVELS {
        let a = base_with(l, &format!("leak-{l}"), 101, "42", Opts::default());
        let b = base_with(l, &format!("leak-{l}"), 199, "1234567890", Opts::default());
        assert_eq!(a.lengths(), b.lengths());
        g.ok(
            &format!("timeline-leak-a-l{l}"),
            "the DTMF event (digits 42) at frame 101; its chunk lengths equal those of timeline-leak-b",
            &a,
        );
        g.ok(
            &format!("timeline-leak-b-l{l}"),
            "the DTMF event (digits 1234567890) at frame 199, inside the same audio chunk as in timeline-leak-a: same chunk lengths",
            &b,
        );
    }
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
            c.insert(7, Chunk::new(*b"xtra", &noise(1013, 60)).at(200))
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
            c.insert(7, Chunk::new(*b"xtra", &noise(1012, 61)).at(200))
        });
        g.ok(
            &format!("unknown-ancillary-at-cap-l{l}"),
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
    let rest = off[b3.chunks.len()] - off[8] - 12;
    assert!(rest < 1024 + 16);
    let x = b3.edited(|x, off| put(x, off[8] as usize, 4, 1024));
    g.err(
        "len-at-cap-truncated-l3",
        "chunk 8's body length field 1024 (exactly the cap) but fewer bytes follow: the input ends inside that chunk",
        &b3,
        KeyUse::Right,
        &x,
        "truncated",
        At::Truncated(8),
    );
}
