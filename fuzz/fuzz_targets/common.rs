//! The checks of the fuzz targets, one function per target (`decode_case`,
//! `chunked_case`, `seek_case`, `parity_case`, `wav_case`, `metadata_case`,
//! `payload_case`), the
//! re-sealer that lets mutations get past authentication ([`reseal`]), and the seed
//! files ([`seed_files`], written by `fuzz/seed.sh`). `sasf-core/tests/fuzz_fixtures.rs`
//! includes this file too, so kept crash inputs are replayed with exactly the checks
//! that found them.
#![allow(dead_code)]

use std::io::{Cursor, Read};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sasf_core::crypto::{chunk_digest, key_id, wrap_slot, DataKey};
use sasf_core::meta::{Annotation, Event, EventKind, Metadata, Participant, RecordingInfo, Role};
use sasf_core::wav::WavReader;
use sasf_core::{
    AudioFormat, Context, Decoder, Encoding, Integrity, Item, Key, Limits, Require, Totals,
    WriterBuilder,
};
use sha2::{Digest, Sha256};

/// The key the conformance vectors and the seeds use, so that keyed seeds get past
/// the recipient slot and the commitment.
pub const VECTOR_KEY: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];

/// The data key of every keyed seed ([`seed_files`]). [`reseal`] falls back to it when
/// the file's own slot no longer opens (a mutated header changes `H`, which the slot
/// authenticates), so that a mutated level-3 seed still decrypts to what it held.
pub const SEED_DATA_KEY: [u8; 32] = [0x5d; 32];

/// Small limits, so that the fuzzer cannot make a run allocate much.
pub fn small_limits() -> Limits {
    Limits {
        max_chunk_len: 64 * 1024,
        max_json_len: 4096,
        max_json_depth: 16,
        max_participants: 64,
        max_metadata_bytes: 1024 * 1024,
    }
}

/// Everything a reader released, in order, and how it ended.
#[derive(Debug, PartialEq)]
pub struct Summary {
    pub items: Vec<String>,
    pub audio: Vec<u8>,
    /// `None` on success, else the error's class and message (which carries its place).
    pub error: Option<String>,
}

/// Decodes all of `input` on the caller's thread with [`Require::Any`] (so that a key
/// does not stop keyless files before their chunks), checking the invariants every
/// outcome must satisfy.
pub fn decode<R: Read + Send>(input: R, key: Option<&Key>, limits: Limits) -> Summary {
    decode_with(input, key, limits, 1)
}

/// Like [`decode`], with `threads` threads opening chunks.
pub fn decode_with<R: Read + Send>(
    input: R,
    key: Option<&Key>,
    limits: Limits,
    threads: usize,
) -> Summary {
    let mut s = Summary {
        items: Vec::new(),
        audio: Vec::new(),
        error: None,
    };
    let opened = Decoder::with_limits(input, limits)
        .and_then(|d| d.threads(threads).require(Require::Any).open(key));
    let mut r = match opened {
        Ok(r) => r,
        Err(e) => {
            s.error = Some(format!("{}: {e}", e.class()));
            return s;
        }
    };
    let block_align = r.header().format.block_align();
    assert!(r.header().max_chunk_len <= limits.max_chunk_len);
    let mut samples = 0u64;
    loop {
        match r.next_item() {
            Ok(None) => break,
            Ok(Some(item)) => match item {
                Item::Audio { at_sample, data } => {
                    assert_eq!(at_sample, samples, "audio is contiguous");
                    assert!(!data.is_empty() && data.len() % block_align == 0);
                    samples += (data.len() / block_align) as u64;
                    s.audio.extend_from_slice(data);
                    s.items.push(format!("AUDI@{at_sample}"));
                }
                Item::End(t) => {
                    assert_eq!(t.samples, samples);
                    assert_eq!(t.audio_bytes, s.audio.len() as u64);
                    s.items.push(format!("END {t:?}"));
                }
                other => s.items.push(format!("{other:?}")),
            },
            Err(e) => {
                s.error = Some(format!("{}: {e}", e.class()));
                // A reader stays failed after an error.
                assert!(r.next_item().is_err());
                break;
            }
        }
    }
    if s.error.is_none() {
        // After the end chunk the reader yields nothing more.
        assert!(matches!(r.next_item(), Ok(None)));
    }
    s
}

/// A reader that hands out one byte per `read` call.
pub struct OneByte<'a>(pub &'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut d = Sha256::new();
    for p in parts {
        d.update(p);
    }
    d.finalize().into()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

/// The working keys of a level-2 or level-3 file (FORMAT.md §4.3), derived here from
/// the primitives rather than through the crate, which keeps them private.
struct WorkingKeys {
    commitment: [u8; 32],
    header: [u8; 32],
    keys: [u8; 32],
    /// The HMAC chunk key (level 2) or the AES-256-GCM payload key (level 3).
    chunk: [u8; 32],
}

impl WorkingKeys {
    fn derive(level: Integrity, dk: &[u8; 32], salt: &[u8; 32], c: &[u8; 32]) -> WorkingKeys {
        let suite = if level == Integrity::Encrypted {
            "AES-256-GCM"
        } else {
            "HMAC-SHA256"
        };
        let hk = Hkdf::<Sha256>::new(Some(salt), dk);
        let expand = |purpose: &str| {
            let mut okm = [0u8; 32];
            let info = [format!("SASF-v2/{suite}/{purpose}").as_bytes(), c].concat();
            hk.expand(&info, &mut okm).expect("32 bytes");
            okm
        };
        WorkingKeys {
            commitment: expand("commit"),
            header: expand("header"),
            keys: expand("keys"),
            chunk: expand(if level == Integrity::Encrypted {
                "payload"
            } else {
                "chunk"
            }),
        }
    }
}

/// Opens a symmetric slot body for [`VECTOR_KEY`] (FORMAT.md §5.3): the data key and
/// the context digest. (`sasf_core::crypto::unwrap_slot` keeps the data key's bytes
/// private, and the re-sealer needs them for the working keys.)
fn open_slot(salt: &[u8; 32], h: &[u8; 32], body: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    let mut kek = [0u8; 32];
    Hkdf::<Sha256>::new(Some(salt), &VECTOR_KEY)
        .expand(b"SASF-v2/slot/AES-256-GCM", &mut kek)
        .expect("32 bytes");
    let aad = [&h[..], &body[..16]].concat();
    let mut plain = body[16..80].to_vec();
    Aes256Gcm::new_from_slice(&kek)
        .expect("32 bytes")
        .decrypt_in_place_detached(
            Nonce::from_slice(&[0u8; 12]),
            &aad,
            &mut plain,
            body[80..96].into(),
        )
        .ok()?;
    Some((plain[..32].try_into().ok()?, plain[32..].try_into().ok()?))
}

/// One chunk as the re-sealer saw it, for the index entries and the manifest after it.
struct Sealed {
    ty: [u8; 4],
    offset: u64,
    timestamp: u64,
    digest: [u8; 32],
}

/// The recipient stanzas of a key copy `copy` as (offset of the stanza's kind in
/// `copy`, kind, body length), as far as they fit before its checksum, and the
/// offset of the section tag after them.
fn stanzas(copy: &[u8]) -> (Vec<(usize, u16, usize)>, usize) {
    let u = (be32(&copy[4..]) as usize).clamp(48, copy.len());
    let end = u - 32;
    let n = u16::from_be_bytes([copy[8], copy[9]]) as usize;
    let mut at = 16;
    let mut out = Vec::new();
    for _ in 0..n {
        if at + 4 > end {
            break;
        }
        let kind = u16::from_be_bytes([copy[at], copy[at + 1]]);
        let len = u16::from_be_bytes([copy[at + 2], copy[at + 3]]) as usize;
        if at + 4 + len > end {
            break;
        }
        out.push((at, kind, len));
        at += 4 + len;
    }
    (out, at)
}

/// Recomputes a key copy's checksum when its length field is in range.
fn rechecksum(copy: &mut [u8]) {
    let u = be32(&copy[4..]) as usize;
    if (48..=copy.len()).contains(&u) {
        let sum = sha256(&[b"SASF-v2/key-copy", &copy[..u - 32]]);
        copy[u - 32..u].copy_from_slice(&sum);
    }
}

/// Makes a mutated input authentic again, under [`VECTOR_KEY`], at every level: a
/// random mutation almost never survives a tag, so without this the fuzzer would only
/// exercise the code before authentication. Following FORMAT.md §4-§11 it rewrites
///
/// - the header: at levels 2 and 3 the commitment, and the header tag;
/// - the key area's copy A (when its capacity is in range): at levels 2 and 3 the
///   symmetric slot of [`VECTOR_KEY`] (or else the first symmetric slot) re-wraps the
///   data key and context digest for the new `H`, and the section tag is recomputed;
///   at every level its checksum;
/// - each chunk, walked by its length field: the stored index (to its position), the
///   digest field of every INDX entry naming a chunk already seen, END's manifest, the
///   tag; at level 3 the body is decrypted without authentication (AES-CTR keystream
///   of the GCM nonce), edited, and encrypted again, so a mutated ciphertext byte
///   becomes a mutated plaintext byte.
///
/// The data key and context digest are the ones the file's slot for [`VECTOR_KEY`]
/// holds when it still opens, else [`SEED_DATA_KEY`] and no context. Everything else
/// (lengths, types, timestamps, payloads, index and end fields) stays as mutated,
/// unless bit 0 of the salt's first byte is set: then index entries (type, offset,
/// timestamp, digest), each INDX's previous offset and first chunk, and END's totals
/// and timestamp are rebuilt from the chunks too, so that mutations reach the rules
/// checked after the index. Returns `None` for inputs it does not apply to (not SASF,
/// unknown level, shorter than a header and a key-section length).
pub fn reseal(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 128 || data[..8] != sasf_core::format::MAGIC {
        return None;
    }
    let level = Integrity::from_code(data[10])?;
    let ext = u16::from_be_bytes([data[28], data[29]]) as usize;
    let hl = 128 + ext;
    if data.len() < hl + 4 {
        return None;
    }
    let rebuild = data[32] & 1 == 1;
    let mut out = data.to_vec();
    let salt: [u8; 32] = out[32..64].try_into().expect("32 bytes");
    let key = Key::from_bytes(VECTOR_KEY);
    let q = be32(&out[hl..]) as usize;
    let section_end = (hl + 4).checked_add(q.checked_mul(2)?)?;
    let copy_a = hl + 4..hl + 4 + q;
    let section = ((256..=32768).contains(&q) && section_end <= out.len())
        .then(|| stanzas(&out[copy_a.clone()]));

    let (keys, h) = if level == Integrity::Keyless {
        let tag = sha256(&[b"SASF-v2/SHA-256/header", &out[..96 + ext]]);
        out[96 + ext..hl].copy_from_slice(&tag);
        (None, sha256(&[&out[..hl]]))
    } else {
        let id = key_id(&key);
        let slots: Vec<usize> = section
            .iter()
            .flat_map(|(v, _)| v)
            .filter(|&&(_, kind, len)| kind == 1 && len == 96)
            .map(|&(at, ..)| copy_a.start + at + 4)
            .collect();
        let mine = slots.iter().copied().find(|&b| out[b..b + 16] == id);
        let h0 = sha256(&[&out[..hl]]);
        let opened = mine.and_then(|b| open_slot(&salt, &h0, &out[b..b + 96]));
        let (dk, c) = opened.unwrap_or((SEED_DATA_KEY, [0u8; 32]));
        let k = WorkingKeys::derive(level, &dk, &salt, &c);
        out[64..96].copy_from_slice(&k.commitment);
        let tag = hmac(&k.header, &[&out[..96 + ext]]);
        out[96 + ext..hl].copy_from_slice(&tag);
        let h = sha256(&[&out[..hl]]);
        if let Some(b) = mine.or(slots.first().copied()) {
            let body = wrap_slot(&key, &salt, &h, &DataKey::from_bytes(dk), &c);
            out[b..b + 96].copy_from_slice(&body);
        }
        if let Some((_, tag_at)) = &section {
            let tag_at = copy_a.start + tag_at;
            if tag_at + 32 <= copy_a.end {
                let n = &out[copy_a.start + 8..copy_a.start + 10];
                let tag = hmac(&k.keys, &[&h, n, &out[copy_a.start + 16..tag_at]]);
                out[tag_at..tag_at + 32].copy_from_slice(&tag);
            }
        }
        (Some(k), h)
    };
    if section.is_some() {
        rechecksum(&mut out[copy_a.clone()]);
    }

    let base = section_end;
    let tag_len = level.tag_len();
    let gcm = (level == Integrity::Encrypted).then(|| {
        Aes256Gcm::new_from_slice(&keys.as_ref().expect("keyed").chunk).expect("32 bytes")
    });
    let bytes_per_sample = match out[11] {
        1 | 7 | 8 => 1,
        2 => 2,
        3 => 3,
        4 | 5 => 4,
        6 => 8,
        _ => 0,
    };
    let block_align = bytes_per_sample * u16::from_be_bytes([out[12], out[13]]) as u64;
    let mut seen: Vec<Sealed> = Vec::new();
    let (mut frames, mut audio_bytes) = (0u64, 0u64);
    let (mut last_index, mut index_first) = (u64::MAX, 0u64);
    let mut at = base;
    let mut index = 0u64;
    while at + 12 <= out.len() {
        let len = be32(&out[at..]) as usize;
        let Some(end) = (at + 12 + tag_len)
            .checked_add(len)
            .filter(|&e| e <= out.len())
        else {
            break;
        };
        out[at + 4..at + 12].copy_from_slice(&index.to_be_bytes());
        let prefix: [u8; 12] = out[at..at + 12].try_into().expect("12 bytes");
        let nonce = [&[0u8; 4][..], &index.to_be_bytes()].concat();
        let mut body = out[at + 12..at + 12 + len].to_vec();
        if let Some(g) = &gcm {
            let mut ks = vec![0u8; len];
            let _ = g.encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut ks);
            body.iter_mut().zip(&ks).for_each(|(b, k)| *b ^= k);
        }
        let offset = (at - base) as u64;
        let mut ty = [0u8; 4];
        let mut timestamp = 0;
        if len >= 12 {
            ty.copy_from_slice(&body[..4]);
            let payload = &mut body[12..];
            match &ty {
                b"INDX" if payload.len() >= 24 => {
                    if rebuild {
                        payload[0..8].copy_from_slice(&last_index.to_be_bytes());
                        payload[8..16].copy_from_slice(&index_first.to_be_bytes());
                    }
                    let first = be64(&payload[8..]);
                    let count = be32(&payload[16..]) as u64;
                    let room = (payload.len() as u64 - 24) / 56;
                    for k in 0..count.min(room) {
                        let Some(s) = first.checked_add(k).and_then(|j| seen.get(j as usize))
                        else {
                            break;
                        };
                        let e = &mut payload[24 + 56 * k as usize..][..56];
                        if rebuild {
                            e[0..4].copy_from_slice(&s.ty);
                            e[4..8].fill(0);
                            e[8..16].copy_from_slice(&s.offset.to_be_bytes());
                            e[16..24].copy_from_slice(&s.timestamp.to_be_bytes());
                        }
                        e[24..56].copy_from_slice(&s.digest);
                    }
                }
                b"END " if payload.len() >= 80 => {
                    if rebuild {
                        payload[0..8].copy_from_slice(&index.to_be_bytes());
                        payload[8..16].copy_from_slice(&frames.to_be_bytes());
                        payload[16..24].copy_from_slice(&audio_bytes.to_be_bytes());
                        payload[24..32].copy_from_slice(&offset.to_be_bytes());
                        payload[32..40].copy_from_slice(&last_index.to_be_bytes());
                    }
                    let mut m = Sha256::new();
                    m.update(b"SASF-v2/manifest");
                    m.update(h);
                    seen.iter().for_each(|s| m.update(s.digest));
                    payload[48..80].copy_from_slice(&m.finalize());
                }
                _ => {}
            }
            if rebuild && matches!(&ty, b"INDX" | b"END ") {
                body[4..12].copy_from_slice(&frames.to_be_bytes());
            }
            timestamp = be64(&body[4..]);
        }
        let tag: Vec<u8> = match (&keys, &gcm) {
            (None, _) => sha256(&[b"SASF-v2/SHA-256/chunk", &h, &prefix, &body]).to_vec(),
            (Some(k), None) => hmac(&k.chunk, &[&h, &prefix, &body]).to_vec(),
            (Some(_), Some(g)) => {
                let aad = [&h[..], &prefix].concat();
                g.encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut body)
                    .expect("a chunk is far below the GCM limit")
                    .to_vec()
            }
        };
        out[at + 12..at + 12 + len].copy_from_slice(&body);
        out[at + 12 + len..end].copy_from_slice(&tag);
        let digest = chunk_digest(level, &prefix, &body, &tag);
        match &ty {
            b"AUDI" => {
                audio_bytes += len as u64 - 12;
                frames += (len as u64 - 12) / block_align.max(1);
            }
            b"INDX" => {
                last_index = offset;
                index_first = index + 1;
            }
            _ => {}
        }
        seen.push(Sealed {
            ty,
            offset,
            timestamp,
            digest,
        });
        at = end;
        index += 1;
    }
    Some(out)
}

/// The `decode` target: the input as given, without a key and with the vectors' key,
/// and re-sealed. With a key and the default requirement (authenticated by that key),
/// a keyless file is never accepted, whatever else it holds (FORMAT.md §13).
pub fn decode_case(data: &[u8]) {
    let key = Key::from_bytes(VECTOR_KEY);
    decode(data, None, small_limits());
    decode(data, Some(&key), small_limits());
    let sealed = reseal(data);
    if let Some(sealed) = &sealed {
        decode(&sealed[..], Some(&key), small_limits());
    }
    for input in std::iter::once(data).chain(sealed.as_deref()) {
        if let Ok(d) = Decoder::with_limits(input, small_limits()) {
            let level = d.header().integrity;
            if let Ok(mut r) = d.open(Some(&key)) {
                assert_ne!(
                    level,
                    Integrity::Keyless,
                    "a keyless file opened with a key"
                );
                while let Ok(Some(_)) = r.next_item() {}
            }
        }
    }
}

/// The `chunked` target: the same outcome in bulk, one byte per read, and with three
/// threads opening chunks.
pub fn chunked_case(data: &[u8]) {
    let key = Key::from_bytes(VECTOR_KEY);
    let limits = small_limits();
    let one = |input: &[u8]| {
        let bulk = decode(input, Some(&key), limits);
        let bytewise = decode(OneByte(input), Some(&key), limits);
        assert_eq!(bulk, bytewise, "bulk and one byte per read differ");
        let parallel = decode_with(input, Some(&key), limits, 3);
        assert_eq!(bulk, parallel, "one and three threads differ");
    };
    one(data);
    if let Some(sealed) = reseal(data) {
        one(&sealed);
    }
}

/// The `wav` target: read the header and all the data; reads return whole frames and
/// a known data length is read in full; then the tags after the data.
pub fn wav_case(data: &[u8]) {
    let Ok(mut r) = WavReader::new(data) else {
        return;
    };
    let ba = r.info().format.block_align();
    assert!(ba >= 1);
    // A buffer of a few frames plus an odd remainder, varied with the input length.
    let mut buf = vec![0u8; ba * (1 + data.len() % 5) + data.len() % 3];
    loop {
        match r.read_data(&mut buf) {
            Ok(0) => {
                if let Some(len) = r.info().data_len {
                    assert_eq!(r.data_read(), len, "a known data length is read in full");
                }
                break;
            }
            Ok(n) => {
                assert!(n <= buf.len());
                assert_eq!(n % ba, 0, "whole frames only");
            }
            Err(_) => break,
        }
    }
    assert_eq!(r.data_read() % ba as u64, 0);
    // The tags after the data, as `pack` reads them from a file: never more than the
    // bounded number of entries, whatever follows the data.
    let mut info = r.info().clone();
    let before = info.info_tags.len();
    let _ = sasf_core::wav::tags_after_data(std::io::Cursor::new(data), r.data_offset(), &mut info);
    assert!(info.info_tags.len() <= 32.max(before));
}

/// The `metadata` target: a document the parser accepts survives a round trip through
/// its own JSON form, as a value and as text.
pub fn metadata_case(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let format = AudioFormat::new(Encoding::MuLaw, 2, 8000).expect("a valid format");
    for total in [None, Some(8000 * 60)] {
        if let Ok(m) = Metadata::from_json_str(text, &format, total) {
            let json = m.to_json(format.sample_rate);
            let again = Metadata::from_json(&json, &format, total)
                .expect("a document the parser accepted re-parses");
            assert_eq!(again, m);
            // As `extract --meta` then `pack --meta` would do. The text may grow (times
            // are written both as ms and as samples), so only a text still under the
            // length limit must re-parse.
            let text2 = json.to_string();
            if text2.len() <= sasf_core::meta::DEFAULT_MAX_JSON_LEN {
                let again2 = Metadata::from_json_str(&text2, &format, total)
                    .expect("the document's own text re-parses");
                assert_eq!(again2, m);
            }
        }
    }
}

/// The `payload` target: a stored EVNT payload, parsed as a reader does
/// (`Event::from_payload`, which checks the reserved `sasf.` records: `sasf.recovered`,
/// `sasf.merge`, `sasf.redaction`, `sasf.excerpt`), at frame 0 and at another frame
/// (`sasf.excerpt` is only valid at 0). Never a panic; an accepted event re-serializes
/// to a payload that parses to the same event.
pub fn payload_case(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = sasf_core::meta::parse_document(text) else {
        return;
    };
    for at in [0, 130] {
        if let Ok(e) = Event::from_payload(&v, "EVNT", at, None) {
            let again = Event::from_payload(&e.to_payload(), "EVNT", at, None)
                .expect("an accepted payload's own payload re-parses");
            assert_eq!(again, e);
        }
    }
}

/// The `keys` target: the key area (both copies, at every level), age stanza
/// descriptions and unwrapping, and the key, identity, recipient and signing-key
/// file parsers, on arbitrary bytes. A key area that parses re-serializes to the
/// bytes of the copy in force.
pub fn keys_case(data: &[u8]) {
    use sasf_core::crypto::age_slot::{describe_age, parse_identity_file, unwrap_age};
    use sasf_core::format::KeyArea;
    for level in [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted] {
        for q in [256usize, 512] {
            let mut copies = data.to_vec();
            copies.resize(2 * q, 0);
            if let Ok(a) = KeyArea::parse(&copies, level, 0) {
                let again = a
                    .section
                    .copy_bytes(q as u32)
                    .expect("a parsed section fits");
                assert_eq!(again[..], copies[a.active * q..(a.active + 1) * q]);
            }
        }
    }
    let _ = describe_age(data);
    let id = sasf_core::crypto::age_slot::generate_x25519().0;
    if let Ok(ids) = parse_identity_file(id.as_bytes()) {
        let refs: Vec<&dyn age::Identity> =
            ids.iter().map(|i| &**i as &dyn age::Identity).collect();
        let _ = unwrap_age(data, &refs, &[0; 32]);
    }
    let _ = parse_identity_file(data);
    let _ = Key::from_key_text(data);
    let _ = sasf_core::SigningKey::from_key_file(data);
    let _ = sasf_core::VerifyingKey::from_pub_file(data);
    if let Ok(t) = std::str::from_utf8(data) {
        let _ = sasf_core::PublicRecipient::parse(t);
        let _ = sasf_core::PublicRecipient::parse_file(t);
    }
}

/// The `seek` target: random access (authenticated END, index chain, range reads) over
/// the input as given and re-sealed, for a few ranges. Any outcome
/// but a panic, a hang or a large allocation; audio returned lies inside the range.
pub fn seek_case(data: &[u8]) {
    let key = Key::from_bytes(VECTOR_KEY);
    let sealed = reseal(data);
    let inputs = std::iter::once(data).chain(sealed.as_deref());
    for input in inputs {
        let Ok(d) = Decoder::with_limits(Cursor::new(input), small_limits()) else {
            continue;
        };
        let d = d.require(Require::Any);
        let ba = d.header().format.block_align() as u64;
        let Ok(r) = d.open(Some(&key)) else { continue };
        let Ok(mut ra) = r.into_random_access() else {
            continue;
        };
        let total = ra.totals().samples;
        for (from, to) in [
            (0, 1),
            (0, u64::MAX),
            (total / 2, total / 2 + 100),
            (total, total + 5),
        ] {
            let mut got = 0u64;
            if ra
                .read_range(from, to, |d| {
                    got += d.len() as u64;
                    Ok(())
                })
                .is_ok()
            {
                let want = to.min(total).saturating_sub(from.min(total));
                assert_eq!(
                    got,
                    want * ba,
                    "a range read returned the wrong amount of audio"
                );
            }
        }
    }
}

/// What one reader made of a whole file.
#[derive(PartialEq)]
pub enum Verdict {
    /// Read to the end: every audio byte, in order, the END totals and the file digest.
    Accepted {
        audio: Vec<u8>,
        totals: Totals,
        file_digest: [u8; 32],
    },
    /// Refused: the error's class and message (with its place).
    Rejected(String),
}

impl std::fmt::Debug for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Accepted {
                audio,
                totals,
                file_digest,
            } => write!(
                f,
                "accepted: {} audio bytes (sha256 {}), {totals:?}, file digest {}",
                audio.len(),
                sasf_core::crypto::hex(&sha256(&[audio])),
                sasf_core::crypto::hex(file_digest)
            ),
            Verdict::Rejected(e) => write!(f, "rejected: {e}"),
        }
    }
}

impl Verdict {
    fn of(r: sasf_core::Result<Verdict>) -> Verdict {
        r.unwrap_or_else(|e| Verdict::Rejected(format!("{}: {e}", e.class())))
    }

    /// Whether the reader accepted the file.
    pub fn accepted(&self) -> bool {
        matches!(self, Verdict::Accepted { .. })
    }
}

/// The streaming reader's verdict: open with [`VECTOR_KEY`] and [`Require::Any`], then
/// every item to the end.
pub fn streaming_verdict(input: &[u8], limits: Limits) -> Verdict {
    let key = Key::from_bytes(VECTOR_KEY);
    Verdict::of((|| {
        let mut r = Decoder::with_limits(input, limits)?
            .require(Require::Any)
            .open(Some(&key))?;
        let mut audio = Vec::new();
        let mut totals = None;
        while let Some(item) = r.next_item()? {
            match item {
                Item::Audio { data, .. } => audio.extend_from_slice(data),
                Item::End(t) => totals = Some(t),
                _ => {}
            }
        }
        Ok(Verdict::Accepted {
            audio,
            totals: totals.expect("a reader that ends has read END"),
            file_digest: *r
                .file_digest()
                .expect("a reader that ends has a file digest"),
        })
    })())
}

/// The random-access reader's verdict: open the same way, `into_random_access`, then
/// one range read of the whole recording.
pub fn random_access_verdict(input: &[u8], limits: Limits) -> Verdict {
    let key = Key::from_bytes(VECTOR_KEY);
    Verdict::of((|| {
        let mut ra = Decoder::with_limits(Cursor::new(input), limits)?
            .require(Require::Any)
            .open(Some(&key))?
            .into_random_access()?;
        let totals = *ra.totals();
        let mut audio = Vec::new();
        ra.read_range(0, totals.samples, |d| {
            audio.extend_from_slice(d);
            Ok(())
        })?;
        Ok(Verdict::Accepted {
            audio,
            totals,
            file_digest: *ra.file_digest(),
        })
    })())
}

/// Both readers over `input`: they must both accept or both refuse, and when they
/// accept, give the same audio, totals and file digest. Random access reads no audio
/// it is not asked for, but here the whole range is asked for, so by FORMAT.md §10
/// there is no by-design difference left. Which error each gives may differ (random
/// access checks END first, so it can name another place or class for the same
/// damage); only the verdict is compared. Returns the (common) verdict.
pub fn parity(input: &[u8]) -> Verdict {
    let limits = small_limits();
    let s = streaming_verdict(input, limits);
    let r = random_access_verdict(input, limits);
    assert_eq!(
        s.accepted(),
        r.accepted(),
        "streaming and random access disagree on {} bytes:\n  streaming:     {s:?}\n  random access: {r:?}",
        input.len()
    );
    if s.accepted() {
        assert_eq!(
            s, r,
            "streaming and random access accept different contents"
        );
    }
    s
}

/// The `parity` target: [`parity`] over the input as given and re-sealed.
pub fn parity_case(data: &[u8]) {
    parity(data);
    if let Some(sealed) = reseal(data) {
        parity(&sealed);
    }
}

/// Seed files for the SASF targets, written with the crate's writer at every level
/// (keyed ones for [`VECTOR_KEY`], data key [`SEED_DATA_KEY`], fixed salts whose first
/// byte alternates the two [`reseal`] modes): a call with participants, events and an
/// annotation over several audio and index chunks, the same bound to a context, a
/// one-frame file, a file with no audio, and a level-3 file with two recipients.
pub fn seed_files() -> Vec<(String, Vec<u8>)> {
    let key = || Key::from_bytes(VECTOR_KEY);
    let mut out = Vec::new();
    let mut salt = 0u8;
    let mut file = |name: String,
                    b: WriterBuilder,
                    level: u8,
                    fill: &dyn Fn(&mut sasf_core::Writer<Vec<u8>>)| {
        salt += 1;
        let b = b
            .salt_for_test_vectors([salt; 32])
            .data_key_for_test_vectors(DataKey::from_bytes(SEED_DATA_KEY));
        let b = match level {
            1 => b,
            2 => b.authenticated(key()),
            _ => b.encrypted(key()),
        };
        let mut w = b.wrap_output(Vec::new()).expect("a seed writer");
        fill(&mut w);
        out.push((name, w.finish().expect("a seed file")));
    };
    let call = |w: &mut sasf_core::Writer<Vec<u8>>| {
        for (id, role, ch) in [("a1", Role::Agent, 0), ("c1", Role::Customer, 1)] {
            w.add_participant(
                Participant::new(id, role)
                    .with_name(format!("Name of {id}"))
                    .with_address("+15550100")
                    .with_channels([ch]),
            )
            .expect("participant");
        }
        for (at_sample, who, kind) in [
            (0, "a1", EventKind::Join),
            (
                130,
                "c1",
                EventKind::Dtmf {
                    digits: Some("42".into()),
                },
            ),
        ] {
            w.add_event(Event::new(at_sample, kind).with_participant(who))
                .expect("event");
        }
        let mut fields = serde_json::Map::new();
        fields.insert("kind".into(), "tag".into());
        fields.insert("value".into(), "escalated".into());
        w.add_annotation(Annotation {
            at_sample: 230,
            fields,
        })
        .expect("annotation");
        let audio: Vec<u8> = (0..230u32 * 4).map(|i| (i * 7 % 251) as u8).collect();
        w.write_audio(&audio).expect("audio");
    };
    let stereo = AudioFormat::new(Encoding::S16, 2, 8000).expect("format");
    let mono = AudioFormat::new(Encoding::U8, 1, 1000).expect("format");
    let small = |f: AudioFormat| {
        WriterBuilder::new(f)
            .max_chunk_len(1024)
            .chunk_frames(50)
            .index_interval(4)
    };
    for level in 1..=3u8 {
        let info = RecordingInfo::new().with_id(format!("call-seed-{level}"));
        file(
            format!("call-l{level}"),
            small(stereo).info(info),
            level,
            &call,
        );
        let ctx = Context::new("call-7", Some("tenant-1")).expect("context");
        file(
            format!("bound-l{level}"),
            small(stereo).bind_context(ctx),
            level,
            &call,
        );
        file(format!("one-frame-l{level}"), small(mono), level, &|w| {
            w.write_audio(&[0x80]).expect("audio")
        });
        file(format!("no-audio-l{level}"), small(mono), level, &|_| {});
    }
    let two = small(mono).recipient(Key::from_bytes([0x42; 32]));
    file("two-recipients-l3".into(), two, 3, &|w| {
        w.write_audio(&[1, 2, 3, 4, 5]).expect("audio")
    });
    out
}

/// Three small files (levels 1, 2, 3) under the vector key, made once.
pub fn segment_bases() -> &'static [(Integrity, Vec<u8>)] {
    static BASES: std::sync::OnceLock<Vec<(Integrity, Vec<u8>)>> = std::sync::OnceLock::new();
    BASES.get_or_init(|| {
        [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted]
            .into_iter()
            .map(|level| {
                let fmt = sasf_core::AudioFormat::new(sasf_core::Encoding::MuLaw, 1, 8000)
                    .expect("a format");
                let b = WriterBuilder::new(fmt)
                    .key_area_capacity(256)
                    .chunk_frames(400);
                let b = match level {
                    Integrity::Keyless => b,
                    Integrity::Hmac => b.authenticated(Key::from_bytes(VECTOR_KEY)),
                    Integrity::Encrypted => b.encrypted(Key::from_bytes(VECTOR_KEY)),
                };
                let mut w = b.wrap_output(Vec::new()).expect("a writer");
                w.write_audio(&[0x55; 1000]).expect("audio");
                (level, w.finish().expect("a file"))
            })
            .collect()
    })
}

/// What a reader made of the segments after END: (complete segments, incomplete at,
/// chain head) or the error class.
type SegmentVerdict = Result<(usize, Option<u64>, [u8; 32]), &'static str>;

/// The `segments` target: the input as a record, form and answers for the annotation
/// model (a record that parses re-serializes to itself), and as the bytes after the
/// END chunk of a small file at each level, where streaming (one and two threads) and
/// random access must agree on the segments, the torn tail and the chain head, or on
/// the error class.
pub fn segments_case(data: &[u8]) {
    use sasf_core::meta::annotation::{Answers, Form, Record};
    if let Ok(r) = Record::from_json(data) {
        let again = Record::from_json(&r.to_json()).expect("a record's own text parses");
        assert_eq!(again.to_json(), r.to_json());
    }
    if let Ok(f) = Form::from_json(data) {
        let again = Form::from_json(&f.to_json()).expect("a form's own text parses");
        assert_eq!(again.to_json(), f.to_json());
        let _ = Answers::from_json(data, &f);
    }
    for (level, base) in segment_bases() {
        let mut file = base.clone();
        file.extend_from_slice(data);
        let keys = match level {
            Integrity::Keyless => sasf_core::Keyring::new(),
            _ => sasf_core::Keyring::from_key(Key::from_bytes(VECTOR_KEY)),
        };
        let verdict =
            |s: &sasf_core::io::segments::Segments| (s.list.len(), s.incomplete_at, s.head);
        let stream = |threads: usize| -> SegmentVerdict {
            let mut r = Decoder::new(&file[..])
                .and_then(|d| {
                    d.threads(threads)
                        .require(sasf_core::Require::Any)
                        .open_with(&keys)
                })
                .map_err(|e| e.class())?;
            r.verify_to_end().map_err(|e| e.class())?;
            Ok(verdict(r.segments().expect("after END")))
        };
        let ra: SegmentVerdict = Decoder::new(Cursor::new(&file[..]))
            .and_then(|d| d.require(sasf_core::Require::Any).open_with(&keys))
            .and_then(|r| r.into_random_access())
            .map(|ra| verdict(ra.segments()))
            .map_err(|e| e.class());
        let one = stream(1);
        assert_eq!(one, stream(2), "{level:?}: one thread and two");
        assert_eq!(
            one.is_ok(),
            ra.is_ok(),
            "{level:?}: streaming {one:?}, random access {ra:?}"
        );
        if one.is_ok() {
            assert_eq!(one, ra, "{level:?}");
        }
    }
}
