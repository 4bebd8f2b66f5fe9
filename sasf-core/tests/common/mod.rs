//! Helpers shared by the integration tests: making files and reading them back.
#![allow(dead_code)]

use sasf_core::meta::{Event, EventKind, Participant, RecordingInfo, Role};
use sasf_core::{AudioFormat, Decoder, Encoding, Error, Integrity, Item, Key, WriterBuilder};

pub const LEVELS: [Integrity; 3] = [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted];

pub fn key() -> Key {
    Key::from_bytes([0x42; 32])
}

/// A writer of `level` under `key`, with the smallest key area (256 bytes a copy), so
/// that byte-by-byte tests stay quick.
pub fn builder(format: AudioFormat, level: Integrity, key: &Key) -> WriterBuilder {
    let b = WriterBuilder::new(format).key_area_capacity(256);
    match level {
        Integrity::Keyless => b,
        Integrity::Hmac => b.authenticated(key.clone()),
        Integrity::Encrypted => b.encrypted(key.clone()),
    }
}

/// Deterministic pseudo-random bytes.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn participant(id: &str, role: Role, ch: u16) -> Participant {
    Participant::new(id, role)
        .with_name(format!("Name of {id}"))
        .with_address("+15550000000")
        .with_channels([ch])
}

pub fn event(at: u64, p: &str, kind: EventKind) -> Event {
    Event::new(at, kind).with_participant(p)
}

/// A small file with every v1 chunk type: INFO, PART×2, AUDI×3+, EVNT×2, ANNO, INDX, END.
pub fn small_file(level: Integrity, key: &Key, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let format = AudioFormat::new(Encoding::MuLaw, 2, 8000).unwrap();
    let audio = noise(2 * 250, seed);
    let mut w = builder(format, level, key)
        .chunk_frames(100)
        .info(RecordingInfo::new().with_id(format!("call-{seed}")))
        .wrap_output(Vec::new())
        .unwrap();
    w.add_participant(participant("a1", Role::Agent, 0))
        .unwrap();
    w.add_participant(participant("c1", Role::Customer, 1))
        .unwrap();
    w.add_event(event(0, "a1", EventKind::Join)).unwrap();
    w.add_event(event(
        130,
        "c1",
        EventKind::Dtmf {
            digits: Some("42".into()),
        },
    ))
    .unwrap();
    w.add_annotation(sasf_core::meta::Annotation {
        at_sample: 250,
        fields: serde_json::json!({"kind": "tag", "value": "escalated"})
            .as_object()
            .unwrap()
            .clone(),
    })
    .unwrap();
    w.write_audio(&audio).unwrap();
    (w.finish().unwrap(), audio)
}

/// What a reader released before it stopped.
#[derive(Debug, Default)]
pub struct Outcome {
    pub audio: Vec<u8>,
    pub events: Vec<Event>,
    pub participants: Vec<Participant>,
    pub audio_positions: Vec<u64>,
    pub items: Vec<String>,
    pub error: Option<Error>,
}

pub fn read_all(bytes: &[u8], key: Option<&Key>) -> Outcome {
    read_all_threads(bytes, key, 1)
}

pub fn read_all_threads(bytes: &[u8], key: Option<&Key>, threads: usize) -> Outcome {
    let mut out = Outcome::default();
    let mut r = match Decoder::new(bytes).and_then(|d| {
        d.threads(threads)
            .require(sasf_core::Require::Any)
            .open(key)
    }) {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    loop {
        match r.next_item() {
            Ok(None) => break,
            Ok(Some(Item::Audio { at_sample, data })) => {
                out.audio_positions.push(at_sample);
                out.audio.extend_from_slice(data);
                out.items.push("AUDI".into());
            }
            Ok(Some(Item::Event(e))) => {
                out.items.push(format!("EVNT@{}", e.at_sample));
                out.events.push(e);
            }
            Ok(Some(Item::Participant { participant, .. })) => {
                out.items.push("PART".into());
                out.participants.push(participant);
            }
            Ok(Some(Item::Annotation(_))) => out.items.push("ANNO".into()),
            Ok(Some(Item::Index { .. })) => out.items.push("INDX".into()),
            Ok(Some(Item::Skipped { .. })) => out.items.push("skip".into()),
            Ok(Some(Item::End(_))) => out.items.push("END".into()),
            Err(e) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out
}

/// Splits a file into its header with the key section, and its chunks (raw bytes),
/// using the length fields.
pub fn split(bytes: &[u8], tag_len: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let hlen = stream_start(bytes);
    let mut chunks = Vec::new();
    let mut at = hlen;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 12 + len + tag_len;
        chunks.push(bytes[at..end].to_vec());
        at = end;
    }
    (bytes[..hlen].to_vec(), chunks)
}

/// File offset of chunk 0: after the header (128 + extensions) and the key area
/// (capacity field and two copies).
pub fn stream_start(bytes: &[u8]) -> usize {
    let ext = u16::from_be_bytes([bytes[28], bytes[29]]) as usize;
    let h = 96 + ext + 32;
    h + 4 + 2 * u32::from_be_bytes(bytes[h..h + 4].try_into().unwrap()) as usize
}

pub fn join(header: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut v = header.to_vec();
    for c in chunks {
        v.extend_from_slice(c);
    }
    v
}
