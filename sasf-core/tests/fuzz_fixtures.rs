//! Inputs kept from fuzzing (`testdata/fuzz-fixtures/<target>/`), replayed with
//! exactly the checks of the fuzz target that found them (the targets' check code is
//! `fuzz/fuzz_targets/common.rs`, included here), plus hand-picked hostile inputs so
//! that this test never runs empty. Every input must give an error or a valid result,
//! never a panic.

#[path = "../../fuzz/fuzz_targets/common.rs"]
mod fuzz_common;
mod vectors_gen;

use std::path::PathBuf;

use fuzz_common::{chunked_case, decode_case, metadata_case, reseal, seek_case, wav_case};

/// The kept inputs of one target, by file name.
fn kept(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/fuzz-fixtures")
        .join(target);
    let mut v = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let path = e.unwrap().path();
            if path.is_file() && !path.extension().is_some_and(|x| x == "md") {
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

/// Hostile SASF inputs: lengths at and past every limit, authentic nonsense.
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
    for (name, data) in kept("wav").iter().chain(&hostile_wav()) {
        run("wav", name, data, wav_case);
    }
    for (name, data) in kept("metadata").iter().chain(&hostile_metadata()) {
        run("metadata", name, data, metadata_case);
    }
    assert!(n >= 40, "{n} inputs");
}
