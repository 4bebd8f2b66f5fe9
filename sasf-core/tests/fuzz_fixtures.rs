//! Inputs kept from fuzzing (`testdata/fuzz-fixtures/<target>/`), replayed with
//! exactly the checks of the fuzz target that found them (the targets' check code is
//! `fuzz/fuzz_targets/common.rs`, included here), plus hand-picked hostile inputs so
//! that this test never runs empty. Every input must give an error or a valid result,
//! never a panic; and the streaming reader and random access must agree on it.
//!
//! The hostile inputs come in two sets: those made from the conformance-vector
//! generator (`vectors_gen`), and version-2 files made with the crate's writer
//! ([`hostile_v2`], from `fuzz_common::seed_files`), which do not depend on the
//! generator, in a test of their own.

#[path = "../../fuzz/fuzz_targets/common.rs"]
mod fuzz_common;
mod vectors_gen;

use std::path::PathBuf;

use fuzz_common::{
    chunked_case, decode_case, keys_case, metadata_case, parity, parity_case, payload_case, reseal,
    seed_files, seek_case, segment_bases, segments_case, wav_case,
};

/// The kept inputs of one target, by file name.
fn kept(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/fuzz-fixtures")
        .join(target);
    let mut v = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let path = e.unwrap().path();
            if path.is_file() && path.extension().is_none_or(|x| x != "md") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                v.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    v.sort();
    v
}

fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// A valid keyless file with its INDX chunk's entry count set to `count`, re-sealed so
/// that the change is authentic.
fn index_count(count: u32) -> Vec<u8> {
    let m = vectors_gen::base(1, "fixture");
    let mut b = m.bytes();
    let off = m.offsets();
    let at = off[9] as usize + 12 + 12 + 16;
    b[at..at + 4].copy_from_slice(&count.to_be_bytes());
    reseal(&b).expect("level 1")
}

/// Hostile SASF inputs: lengths at and past every limit, authentic nonsense, and the
/// annotation-segment conformance vectors.
fn hostile_sasf() -> Vec<(String, Vec<u8>)> {
    let base = vectors_gen::base(1, "fixture");
    let good = base.bytes();
    let off = base.offsets();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let mut v = vec![
        ("magic only".to_string(), good[..8].to_vec()),
        ("header and noise".into(), {
            let mut b = good[..128].to_vec();
            b.extend(vectors_gen::noise(300, 1));
            b
        }),
        (
            "cap 16 MiB, over the small limits".into(),
            with(&|b| b[18..22].copy_from_slice(&(16u32 << 20).to_be_bytes())),
        ),
        (
            "chunk length FFFFFFFF".into(),
            with(&|b| {
                let at = off[3] as usize;
                b[at..at + 4].copy_from_slice(&[0xFF; 4]);
            }),
        ),
        ("extension area of 4096 bytes of FF".into(), {
            let mut b = good[..96].to_vec();
            b[28..30].copy_from_slice(&4096u16.to_be_bytes());
            b.extend(vec![0xFF; 4096 + 32]);
            b
        }),
        ("index count u32::MAX".into(), index_count(u32::MAX)),
        ("index count 0".into(), index_count(0)),
        ("END totals all FF, re-sealed".into(), {
            let mut b = good.clone();
            let at = off[10] as usize + 24;
            b[at..at + 48].copy_from_slice(&[0xFF; 48]);
            reseal(&b).unwrap()
        }),
        ("every chunk typed END, re-sealed".into(), {
            let mut b = good.clone();
            for &o in &off[..off.len() - 1] {
                b[o as usize + 12..o as usize + 16].copy_from_slice(b"END ");
            }
            reseal(&b).unwrap()
        }),
        ("timestamps all FF, re-sealed".into(), {
            let mut b = good.clone();
            for &o in &off[..off.len() - 1] {
                b[o as usize + 16..o as usize + 24].copy_from_slice(&[0xFF; 8]);
            }
            reseal(&b).unwrap()
        }),
    ];
    for l in [2u8, 3] {
        let m = vectors_gen::base(l, "fixture");
        let mut b = m.bytes();
        let at = m.offsets()[7] as usize;
        b[at..at + 4].copy_from_slice(&1024u32.to_be_bytes());
        v.push((format!("level {l}, chunk claims the cap, input ends"), b));
    }
    // The annotation-segment vectors (FORMAT.md §21): valid, torn and broken segments
    // after END, at every level (the targets open with the vectors' key).
    v.extend(
        vectors_gen::generate()
            .into_iter()
            .filter(|x| x.name.starts_with("seg-") || x.name.contains("after-segment"))
            .map(|x| {
                let at = x.contents.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
                (x.name, x.contents[at..].to_vec())
            }),
    );
    v
}

fn hostile_wav() -> Vec<(String, Vec<u8>)> {
    let fmt = |tag: u16, ch: u16, bits: u16| {
        // Truncated to the u16 field, as a hostile file would have it.
        let block = (ch as u32 * bits as u32 / 8) as u16;
        let mut b = b"fmt ".to_vec();
        b.extend(le32(16));
        b.extend(tag.to_le_bytes());
        b.extend(ch.to_le_bytes());
        b.extend(le32(8000));
        b.extend(le32(8000u32.wrapping_mul(block as u32)));
        b.extend(block.to_le_bytes());
        b.extend(bits.to_le_bytes());
        b
    };
    let riff = |parts: &[&[u8]]| {
        let mut b = b"RIFF".to_vec();
        b.extend(le32(u32::MAX));
        b.extend(b"WAVE");
        for p in parts {
            b.extend_from_slice(p);
        }
        b
    };
    let data = |len: u32, bytes: &[u8]| {
        let mut b = b"data".to_vec();
        b.extend(le32(len));
        b.extend_from_slice(bytes);
        b
    };
    let mut ds64 = b"RF64".to_vec();
    ds64.extend(le32(u32::MAX));
    ds64.extend(b"WAVEds64");
    ds64.extend(le32(28));
    ds64.extend([0xFF; 24]);
    ds64.extend(le32(u32::MAX)); // table entries
    ds64.extend(fmt(1, 1, 8));
    ds64.extend(data(u32::MAX, &[0x80; 7]));
    let mut ext = b"fmt ".to_vec();
    ext.extend(le32(40));
    ext.extend(0xFFFEu16.to_le_bytes());
    ext.extend([1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]);
    ext.extend(0xFFFFu16.to_le_bytes()); // cbSize
    ext.extend([0u8; 22]);
    vec![
        ("three bytes".into(), b"RIF".to_vec()),
        ("RIFX".into(), b"RIFX\0\0\0\0WAVE".to_vec()),
        (
            "fmt chunk claiming 4 GiB".into(),
            riff(&[b"fmt \xff\xff\xff\xff"]),
        ),
        ("data before fmt".into(), riff(&[&data(4, &[0; 4])])),
        (
            "zero channels".into(),
            riff(&[&fmt(1, 0, 16), &data(4, &[0; 4])]),
        ),
        (
            "24-bit odd data, streamed".into(),
            riff(&[&fmt(1, 1, 24), &data(u32::MAX, &[1; 7])]),
        ),
        (
            "65535 channels of 64-bit float".into(),
            riff(&[&fmt(3, 65535, 64), &data(16, &[0; 16])]),
        ),
        ("RF64 with a table of 2^32-1 entries".into(), ds64),
        (
            "extensible with cbSize FFFF".into(),
            riff(&[&ext, &data(8, &[0; 8])]),
        ),
        (
            "data claiming more than the input".into(),
            riff(&[&fmt(7, 2, 8), &data(1000, &[0xFF; 10])]),
        ),
    ]
}

/// What follows END in a keyless file with two appended segments (one signed), every
/// cut of it, with garbage after it, with each of a few bytes flipped; and records.
fn hostile_segments() -> Vec<(String, Vec<u8>)> {
    use sasf_core::meta::annotation::Record;
    let dir = tempfile::tempdir().unwrap();
    let base = &segment_bases()[0].1;
    let p = dir.path().join("f.sasf");
    std::fs::write(&p, base).unwrap();
    let keys = sasf_core::Keyring::new();
    let rec = |ops: &str| {
        Record::from_json(
            format!(r#"{{"by":"qa","at":"2026-01-01T00:00:00Z","ops":[{ops}]}}"#).as_bytes(),
        )
        .unwrap()
    };
    sasf_core::annotate::append(&p, &keys, &rec(r#"{"op":"tag","tag":"a"}"#), None).unwrap();
    let sk = sasf_core::SigningKey::from_seed([1; 32]);
    sasf_core::annotate::append(&p, &keys, &rec(r#"{"op":"hold","case":"C-1"}"#), Some(&sk))
        .unwrap();
    let tail = std::fs::read(&p).unwrap()[base.len()..].to_vec();
    let mut v = vec![("two segments".to_string(), tail.clone())];
    for cut in (1..tail.len()).step_by(37) {
        v.push((format!("cut at {cut}"), tail[..cut].to_vec()));
    }
    v.push(("garbage after".into(), [&tail[..], b"xyz"].concat()));
    for i in [0, 9, 13, 17, 21, 30, 60, 100, 400, tail.len() - 1] {
        let mut b = tail.clone();
        b[i] ^= 0x40;
        v.push((format!("byte {i} flipped"), b));
    }
    for j in [
        r#"{"by":"qa","at":"2026-01-01T00:00:00Z","ops":[{"op":"tag","tag":"a"}]}"#,
        r#"{"by":"qa","at":"2026-01-01T00:00:00Z","ops":[{"op":"frob"}]}"#,
        r#"{"id":"f","version":1,"pass_percent":50,"questions":[{"id":"q","text":"?","type":"yes_no","critical":true}]}"#,
    ] {
        v.push((j.into(), j.as_bytes().to_vec()));
    }
    v
}

/// Key areas (both copies) of the conformance vectors, and a few made by hand.
fn hostile_keys() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = vectors_gen::generate()
        .into_iter()
        .filter(|x| x.name.starts_with("keys-") || x.name.starts_with("sig-"))
        .map(|x| {
            let at = x.contents.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
            let b = &x.contents[at..];
            let ext = u16::from_be_bytes([b[28], b[29]]) as usize;
            let a = (132 + ext).min(b.len());
            (x.name, b[a..(a + 1024).min(b.len())].to_vec())
        })
        .collect();
    v.push((
        "generation 1, length FFFFFFFF".into(),
        [&[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF][..], &[0; 504]].concat(),
    ));
    v.push((
        "age header of garbage".into(),
        b"age-encryption.org/v1\n-> X25519 \n\n--- \n".to_vec(),
    ));
    v.push((
        "signing key prefix only".into(),
        b"sasf-sign-secret:\n".to_vec(),
    ));
    v
}

/// Stored EVNT payloads around the reserved records: valid ones, each member wrong,
/// huge and negative numbers, wrong types where objects and arrays are expected.
fn hostile_payloads() -> Vec<(String, Vec<u8>)> {
    let d = "0".repeat(64);
    let src = format!(
        r#""source_file_digest":"{d}","source_manifest":"{d}","source_samples":100,"from_sample":10,"to_sample":20"#
    );
    let s = |name: &str, text: String| (name.to_string(), text.into_bytes());
    let red = |extra: &str| {
        format!(
            r#"{{"type":"custom","key":"sasf.redaction","value":{{{src},"reason":"r","by":"b"{extra}}}}}"#
        )
    };
    let exc = |state: &str| {
        format!(r#"{{"type":"custom","key":"sasf.excerpt","value":{{{src},"state":{state}}}}}"#)
    };
    vec![
        s("redaction, silence", red(r#","mode":"silence""#)),
        s(
            "redaction, omit with a dropped event",
            red(
                r#","mode":"omit","dropped_events":[{"type":"dtmf","redacted":true,"at_sample":15,"x":null}]"#,
            ),
        ),
        s(
            "redaction, dropped events not objects",
            red(r#","mode":"omit","dropped_events":[1,"a",null,[]]"#),
        ),
        s(
            "redaction, dropped event at 2^64",
            red(
                r#","mode":"omit","dropped_events":[{"type":"hold","at_sample":18446744073709551616}]"#,
            ),
        ),
        s(
            "redaction, dropped event with a negative time",
            red(r#","mode":"omit","dropped_events":[{"type":"hold","at_sample":-1}]"#),
        ),
        s(
            "redaction, dropped events an object",
            red(r#","mode":"omit","dropped_events":{"type":"hold"}"#),
        ),
        s("redaction, mode a number", red(r#","mode":7"#)),
        s(
            "redaction, value an array",
            r#"{"type":"custom","key":"sasf.redaction","value":[1]}"#.into(),
        ),
        s(
            "excerpt, valid",
            exc(r#"{"joined":["a"],"on_hold":[],"muted":[],"paused":true}"#),
        ),
        s("excerpt, state an array", exc("[]")),
        s(
            "excerpt, state lists of numbers",
            exc(r#"{"joined":[1],"on_hold":[{}],"muted":[null],"paused":1}"#),
        ),
        s(
            "excerpt, previous a record",
            format!(
                r#"{{"type":"custom","key":"sasf.excerpt","value":{{{src},"state":{{"joined":[],"on_hold":[],"muted":[],"paused":false}},"previous":{{"previous":{{}}}}}}}}"#
            ),
        ),
        s(
            "an unknown reserved key",
            r#"{"type":"custom","key":"sasf.redactions","value":{}}"#.into(),
        ),
    ]
}

fn hostile_metadata() -> Vec<(String, Vec<u8>)> {
    let s = |name: &str, text: String| (name.to_string(), text.into_bytes());
    vec![
        s("100 000 open brackets", "[".repeat(100_000)),
        s("deep inside a string", format!("{{\"recording\":{{\"id\":\"{}\"}}}}", "[".repeat(5000))),
        s("largest times", r#"{"participants":[{"id":"a","role":"agent"}],"events":[{"at_ms":18446744073709551615,"type":"hold","participant":"a"},{"at_sample":18446744073709551615,"type":"marker","label":"x"}]}"#.into()),
        s("times as floats and huge", r#"{"events":[{"at_ms":1e400,"type":"pause"},{"at_ms":-0.0,"type":"pause"}]}"#.into()),
        s("id of 300 bytes", format!("{{\"participants\":[{{\"id\":\"{}\",\"role\":\"ivr\"}}]}}", "i".repeat(300))),
        s("escapes and NUL", r#"{"recording":{"id":"\u0000\ud83d\ude00\"\\"},"events":[{"at_ms":0,"type":"custom","key":"a.\u0000","value":{"":[null,true,1.5e-300]}}]}"#.into()),
        s("lone surrogate", r#"{"recording":{"id":"\ud800"}}"#.into()),
        s("duplicate keys", r#"{"events":[],"events":[{"at_ms":1,"type":"unpause"}],"participants":null}"#.into()),
        s("a DEL character", "{\"recording\":{\"id\":\"\u{7f}\"}}".into()),
        ("invalid UTF-8".into(), b"{\"a\":\"\xff\xfe\"}".to_vec()),
    ]
}

#[test]
fn kept_and_hostile_inputs_give_an_error_or_a_valid_result() {
    let mut n = 0;
    let mut run = |target: &str, name: &str, data: &[u8], f: fn(&[u8])| {
        let r = std::panic::catch_unwind(|| f(data));
        assert!(r.is_ok(), "{target} input {name:?} panicked");
        n += 1;
    };
    for (name, data) in kept("decode").iter().chain(&hostile_sasf()) {
        run("decode", name, data, decode_case);
    }
    for (name, data) in kept("chunked").iter().chain(&hostile_sasf()) {
        run("chunked", name, data, chunked_case);
    }
    for (name, data) in kept("seek").iter().chain(&hostile_sasf()) {
        run("seek", name, data, seek_case);
    }
    // Kept `parity` inputs are replayed by `readers_agree_on_kept_and_hostile_v2_inputs`.
    for (name, data) in &hostile_sasf() {
        run("parity", name, data, parity_case);
    }
    for (name, data) in kept("wav").iter().chain(&hostile_wav()) {
        run("wav", name, data, wav_case);
    }
    for (name, data) in kept("metadata").iter().chain(&hostile_metadata()) {
        run("metadata", name, data, metadata_case);
    }
    for (name, data) in kept("payload").iter().chain(&hostile_payloads()) {
        run("payload", name, data, payload_case);
    }
    for (name, data) in kept("keys").iter().chain(&hostile_keys()) {
        run("keys", name, data, keys_case);
    }
    for (name, data) in kept("segments").iter().chain(&hostile_segments()) {
        run("segments", name, data, segments_case);
    }
    assert!(n >= 40, "{n} inputs");
}

/// File offsets of the chunks of a well-formed version-2 file, END included.
fn chunk_offsets(b: &[u8]) -> Vec<usize> {
    let ext = u16::from_be_bytes([b[28], b[29]]) as usize;
    let keys = 128 + ext;
    let mut at = keys + 4 + 2 * u32::from_be_bytes(b[keys..keys + 4].try_into().unwrap()) as usize;
    let tag = if b[10] == 3 { 16 } else { 32 };
    let mut v = Vec::new();
    while at < b.len() {
        v.push(at);
        at += 12 + tag + u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    }
    assert_eq!(at, b.len());
    v
}

fn chunk_type(b: &[u8], at: usize) -> [u8; 4] {
    // Only meaningful below level 3; at level 3 the caller knows the layout.
    b[at + 12..at + 16].try_into().unwrap()
}

/// Damaged version-2 files, made from the writer's call seeds at every level and
/// re-sealed (in both of `reseal`'s modes, chosen by the salt's first bit) so that
/// the damage is authentic and only a structural rule is broken.
fn hostile_v2() -> Vec<(String, Vec<u8>)> {
    let seeds = seed_files();
    let mut v = Vec::new();
    for level in 1..=3 {
        let name = format!("call-l{level}");
        let good = seeds.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        let off = chunk_offsets(&good);
        let end = *off.last().unwrap();
        // The call seed's layout: INFO, PART, PART, EVNT, AUDI, EVNT?, ... known from
        // the keyless seed, the same at every level.
        let plain = &seeds.iter().find(|(n, _)| n == "call-l1").unwrap().1;
        let poff = chunk_offsets(plain);
        let types: Vec<[u8; 4]> = poff.iter().map(|&o| chunk_type(plain, o)).collect();
        let audio: Vec<usize> = (0..types.len()).filter(|&i| &types[i] == b"AUDI").collect();
        let index: Vec<usize> = (0..types.len()).filter(|&i| &types[i] == b"INDX").collect();
        assert!(audio.len() >= 4 && index.len() >= 2, "{types:?}");
        let span = |i: usize| off[i]..off.get(i + 1).copied().unwrap_or(good.len());
        let mut cases: Vec<(String, Vec<u8>)> = vec![
            ("drop an audio chunk".into(), {
                let mut b = good.clone();
                b.drain(span(audio[1]));
                b
            }),
            ("duplicate an audio chunk".into(), {
                let mut b = good.clone();
                let c = good[span(audio[1])].to_vec();
                b.splice(off[audio[1]]..off[audio[1]], c);
                b
            }),
            ("swap two audio chunks".into(), {
                let mut b = good[..off[audio[1]]].to_vec();
                b.extend_from_slice(&good[span(audio[2])]);
                b.extend_from_slice(&good[span(audio[1])]);
                b.extend_from_slice(&good[off[audio[2] + 1]..]);
                b
            }),
            ("last audio chunk one frame short".into(), {
                let last = *audio.last().unwrap();
                let mut b = good.clone();
                let at = off[last];
                let len = u32::from_be_bytes(b[at..at + 4].try_into().unwrap());
                b[at..at + 4].copy_from_slice(&(len - 4).to_be_bytes());
                b.drain(at + 12 + len as usize - 4..at + 12 + len as usize);
                b
            }),
            ("first index chunk dropped".into(), {
                let mut b = good.clone();
                b.drain(span(index[0]));
                b
            }),
            ("an index chunk moved to the end".into(), {
                let mut b = good.clone();
                let c: Vec<u8> = b.drain(span(index[0])).collect();
                let at = b.len() - (good.len() - end);
                b.splice(at..at, c);
                b
            }),
            ("a copy of END appended".into(), {
                let mut b = good.clone();
                b.extend_from_slice(&good[end..]);
                b
            }),
            ("one trailing byte".into(), {
                let mut b = good.clone();
                b.push(0);
                b
            }),
            ("END's chunk moved before the last index".into(), {
                let last = *index.last().unwrap();
                let mut b = good[..off[last]].to_vec();
                b.extend_from_slice(&good[end..]);
                b.extend_from_slice(&good[span(last)]);
                b
            }),
        ];
        for (i, &o) in off.iter().enumerate().skip(1) {
            cases.push((format!("truncated before chunk {i}"), good[..o].to_vec()));
            cases.push((
                format!("truncated inside chunk {i}"),
                good[..o + 20].to_vec(),
            ));
        }
        if level < 3 {
            let with = |f: &dyn Fn(&mut Vec<u8>)| {
                let mut b = good.clone();
                f(&mut b);
                b
            };
            cases.extend([
                (
                    "every chunk typed END".to_string(),
                    with(&|b| {
                        for &o in &off[..off.len() - 1] {
                            b[o + 12..o + 16].copy_from_slice(b"END ");
                        }
                    }),
                ),
                (
                    "timestamps all FF".into(),
                    with(&|b| {
                        for &o in &off[..off.len() - 1] {
                            b[o + 16..o + 24].copy_from_slice(&[0xFF; 8]);
                        }
                    }),
                ),
                (
                    "an audio chunk typed as an unknown ancillary".into(),
                    with(&|b| {
                        let o = off[audio[1]];
                        b[o + 12..o + 16].copy_from_slice(b"xAUD");
                    }),
                ),
                (
                    "END totals all FF".into(),
                    with(&|b| {
                        b[end + 24..end + 24 + 40].copy_from_slice(&[0xFF; 40]);
                    }),
                ),
                (
                    "index count 0".into(),
                    with(&|b| {
                        let o = off[index[0]] + 24 + 16;
                        b[o..o + 4].copy_from_slice(&0u32.to_be_bytes());
                    }),
                ),
                (
                    "index count u32::MAX".into(),
                    with(&|b| {
                        let o = off[index[0]] + 24 + 16;
                        b[o..o + 4].copy_from_slice(&u32::MAX.to_be_bytes());
                    }),
                ),
                (
                    "an index entry's offset one byte on".into(),
                    with(&|b| {
                        let o = off[index[0]] + 24 + 24 + 56 + 8 + 7;
                        b[o] += 1;
                    }),
                ),
                (
                    "an audio timestamp one frame on".into(),
                    with(&|b| {
                        let o = off[audio[2]] + 12 + 4 + 7;
                        b[o] += 1;
                    }),
                ),
            ]);
        }
        for (what, mut b) in cases {
            for mode in [0u8, 1] {
                // The salt's first bit picks the re-sealer's mode (digests only, or
                // index and end rebuilt); a keyed seed's slot then no longer opens and
                // the re-sealer uses the seeds' data key.
                b[32] = b[32] & !1 | mode;
                let sealed = reseal(&b).unwrap();
                v.push((format!("{name}: {what}, re-sealed (mode {mode})"), sealed));
            }
            v.push((format!("{name}: {what}"), b));
        }
    }
    v
}

#[test]
fn seeds_are_accepted_by_both_readers_and_reseal_keeps_them() {
    let seeds = seed_files();
    assert!(seeds.len() >= 10);
    for (name, data) in &seeds {
        let v = parity(data);
        assert!(v.accepted(), "seed {name} is refused: {v:?}");
        assert!(
            reseal(data).unwrap() == *data,
            "re-sealing the valid seed {name} changed it"
        );
    }
}

#[test]
fn readers_agree_on_kept_and_hostile_v2_inputs() {
    let mut n = 0;
    let all = kept("parity")
        .into_iter()
        .chain(kept("decode"))
        .chain(kept("chunked"))
        .chain(kept("seek"))
        .chain(seed_files())
        .chain(hostile_v2());
    for (name, data) in all {
        for (target, f) in [
            ("parity", parity_case as fn(&[u8])),
            ("decode", decode_case),
            ("chunked", chunked_case),
            ("seek", seek_case),
        ] {
            let r = std::panic::catch_unwind(|| f(&data));
            assert!(r.is_ok(), "{target} on {name:?} panicked");
        }
        n += 1;
    }
    assert!(n >= 100, "{n} inputs");
}
