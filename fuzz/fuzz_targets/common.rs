//! The checks of the `decode`, `chunked`, `wav` and `metadata` targets, one function
//! per target. `sasf-core/tests/fuzz_fixtures.rs` includes this file too, so kept
//! crash inputs are replayed with exactly the checks that found them.
#![allow(dead_code)]

use std::io::Read;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sasf_core::meta::Metadata;
use sasf_core::wav::WavReader;
use sasf_core::{AudioFormat, Decoder, Encoding, Item, Key, Limits};
use sha2::{Digest, Sha256};

/// The key the conformance vectors use, so that keyed seeds get past the commitment.
pub const VECTOR_KEY: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];

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

/// Decodes all of `input` on the caller's thread, checking the invariants every
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
    let opened = Decoder::with_limits(input, limits).and_then(|d| d.threads(threads).open(key));
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

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Makes a mutated level-1 or level-2 input authentic again: a random mutation almost
/// never survives a SHA-256 or HMAC tag, so without this the fuzzer would only ever
/// exercise the code before authentication. Walks the chunks by their length fields
/// and rewrites, under [`VECTOR_KEY`], the level-2 commitment, the header tag, each
/// chunk's stored index (to its position) and each chunk's tag, as FORMAT.md §4-5 say;
/// everything else (lengths, types, timestamps, payloads, INDX and END contents) stays
/// as mutated. Returns `None` for inputs it does not apply to (level 3, short input).
pub fn reseal(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 128 || data[..8] != sasf_core::format::MAGIC {
        return None;
    }
    let level = data[10];
    let ext = u16::from_be_bytes([data[28], data[29]]) as usize;
    let header_len = 128 + ext;
    if !(level == 1 || level == 2) || data.len() < header_len {
        return None;
    }
    let mut out = data.to_vec();
    let chunk_key = if level == 2 {
        let hk = Hkdf::<Sha256>::new(Some(&data[32..64]), &VECTOR_KEY);
        let mut commit = [0u8; 32];
        let mut header_key = [0u8; 32];
        let mut chunk_key = [0u8; 32];
        hk.expand(b"SASF-v1/HMAC-SHA256/commit", &mut commit).ok()?;
        hk.expand(b"SASF-v1/HMAC-SHA256/header", &mut header_key)
            .ok()?;
        hk.expand(b"SASF-v1/HMAC-SHA256/chunk", &mut chunk_key)
            .ok()?;
        out[64..96].copy_from_slice(&commit);
        let tag = hmac(&header_key, &[&out[..96 + ext]]);
        out[96 + ext..header_len].copy_from_slice(&tag);
        Some(chunk_key)
    } else {
        let mut d = Sha256::new();
        d.update(b"SASF-v1/SHA-256/header");
        d.update(&out[..96 + ext]);
        let tag: [u8; 32] = d.finalize().into();
        out[96 + ext..header_len].copy_from_slice(&tag);
        None
    };
    let h: [u8; 32] = Sha256::digest(&out[..header_len]).into();
    let mut at = header_len;
    let mut index = 0u64;
    while at + 12 <= out.len() {
        let len = u32::from_be_bytes(out[at..at + 4].try_into().expect("4 bytes")) as usize;
        let Some(end) = (at + 12 + 32).checked_add(len).filter(|&e| e <= out.len()) else {
            break;
        };
        out[at + 4..at + 12].copy_from_slice(&index.to_be_bytes());
        let (prefix, body) = (&out[at..at + 12], &out[at + 12..at + 12 + len]);
        let tag = match &chunk_key {
            Some(k) => hmac(k, &[&h, prefix, body]),
            None => {
                let mut d = Sha256::new();
                d.update(b"SASF-v1/SHA-256/chunk");
                d.update(h);
                d.update(prefix);
                d.update(body);
                d.finalize().into()
            }
        };
        out[end - 32..end].copy_from_slice(&tag);
        at = end;
        index += 1;
    }
    Some(out)
}

/// The `decode` target: the input as given, without a key and with the vectors' key,
/// and re-sealed at levels 1 and 2.
pub fn decode_case(data: &[u8]) {
    let key = Key::from_bytes(VECTOR_KEY);
    decode(data, None, small_limits());
    decode(data, Some(&key), small_limits());
    if let Some(sealed) = reseal(data) {
        decode(&sealed[..], Some(&key), small_limits());
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
/// a known data length is read in full.
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

/// The `seek` target: random access (authenticated END, index chain, range reads) over
/// the input as given and re-sealed at levels 1 and 2, for a few ranges. Any outcome
/// but a panic, a hang or a large allocation; audio returned lies inside the range.
pub fn seek_case(data: &[u8]) {
    let key = Key::from_bytes(VECTOR_KEY);
    let sealed = reseal(data);
    let inputs = std::iter::once(data).chain(sealed.as_deref());
    for input in inputs {
        let Ok(d) = sasf_core::Decoder::with_limits(std::io::Cursor::new(input), small_limits())
        else {
            continue;
        };
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
