//! Drives the built `sasf` binary as a user would: files, pipes, exit codes, and the
//! rule that a failed command leaves no output behind.

use std::fs;

use sasf_core::Encoding;
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::*;

// ---------- hand-built WAV files as found in the wild ----------

fn le16(v: u16) -> [u8; 2] {
    v.to_le_bytes()
}
fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = id.to_vec();
    v.extend_from_slice(&le32(body.len() as u32));
    v.extend_from_slice(body);
    if body.len() % 2 == 1 {
        v.push(0);
    }
    v
}

fn fmt_body(tag: u16, channels: u16, rate: u32, bits: u16, size: usize) -> Vec<u8> {
    let ba = channels * bits / 8;
    let mut v = Vec::new();
    v.extend_from_slice(&le16(if size == 40 { 0xFFFE } else { tag }));
    v.extend_from_slice(&le16(channels));
    v.extend_from_slice(&le32(rate));
    v.extend_from_slice(&le32(rate * ba as u32));
    v.extend_from_slice(&le16(ba));
    v.extend_from_slice(&le16(bits));
    if size >= 18 {
        v.extend_from_slice(&le16((size - 18) as u16));
    }
    if size == 40 {
        v.extend_from_slice(&le16(bits));
        v.extend_from_slice(&le32(0));
        v.extend_from_slice(&le16(tag));
        v.extend_from_slice(&[
            0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
        ]);
    }
    v
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&le32(4 + body.len() as u32));
    v.extend_from_slice(b"WAVE");
    v.extend_from_slice(&body);
    v
}

fn noise(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7919 + 13) % 251) as u8).collect()
}

struct Variant {
    name: &'static str,
    bytes: Vec<u8>,
    encoding: Encoding,
    samples: Vec<u8>,
}

fn variants() -> Vec<Variant> {
    let mut v = Vec::new();
    let encs: [(Encoding, u16, u16); 8] = [
        (Encoding::U8, 1, 8),
        (Encoding::S16, 1, 16),
        (Encoding::S24, 1, 24),
        (Encoding::S32, 1, 32),
        (Encoding::F32, 3, 32),
        (Encoding::F64, 3, 64),
        (Encoding::MuLaw, 7, 8),
        (Encoding::ALaw, 6, 8),
    ];
    for (enc, tag, bits) in encs {
        for (fmt_size, channels) in [(16usize, 2u16), (18, 1), (40, 3)] {
            if fmt_size == 16 && (tag != 1) {
                continue; // non-PCM tags need cbSize
            }
            let ba = channels as usize * bits as usize / 8;
            let samples = noise(ba * 801);
            let bytes = riff(&[
                chunk(b"fmt ", &fmt_body(tag, channels, 8000, bits, fmt_size)),
                chunk(b"data", &samples),
            ]);
            v.push(Variant {
                name: Box::leak(format!("{enc:?} fmt{fmt_size} {channels}ch").into_boxed_str()),
                bytes,
                encoding: enc,
                samples,
            });
        }
    }
    // Chunks before fmt, fact, LIST after data, odd-sized chunk with its pad byte.
    let s = noise(4 * 1001);
    v.push(Variant {
        name: "JUNK+bext+LIST before fmt, fact, odd chunk, LIST after data",
        bytes: riff(&[
            chunk(b"JUNK", &[0; 28]),
            chunk(b"bext", &[b'x'; 602]),
            chunk(b"LIST", b"INFOISFT\x05\0\0\0sox!\0"),
            chunk(b"fmt ", &fmt_body(7, 2, 8000, 8, 18)),
            chunk(b"fact", &le32(2002)),
            chunk(b"odd!", &[1, 2, 3]),
            chunk(b"data", &s),
            chunk(b"LIST", b"INFOICMT\x02\0\0\0x\0"),
        ]),
        encoding: Encoding::MuLaw,
        samples: s.clone(),
    });
    // Odd-sized data chunk (u8 mono, 3 frames) followed by its pad byte and a chunk.
    v.push(Variant {
        name: "odd data with pad",
        bytes: riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 8, 16)),
            chunk(b"data", &[1, 2, 3]),
            chunk(b"LIST", b"abcd"),
        ]),
        encoding: Encoding::U8,
        samples: vec![1, 2, 3],
    });
    // Streamed: sizes 0xFFFFFFFF, read to EOF.
    let mut streamed = riff(&[
        chunk(b"fmt ", &fmt_body(1, 2, 8000, 16, 16)),
        chunk(b"data", &s),
    ]);
    streamed[4..8].copy_from_slice(&le32(u32::MAX));
    let d = streamed.windows(4).position(|w| w == b"data").unwrap();
    streamed[d + 4..d + 8].copy_from_slice(&le32(u32::MAX));
    v.push(Variant {
        name: "streamed 0xFFFFFFFF",
        bytes: streamed.clone(),
        encoding: Encoding::S16,
        samples: s.clone(),
    });
    let mut zero = streamed.clone();
    zero[4..8].copy_from_slice(&le32(0));
    zero[d + 4..d + 8].copy_from_slice(&le32(0));
    v.push(Variant {
        name: "streamed 0",
        bytes: zero,
        encoding: Encoding::S16,
        samples: s.clone(),
    });
    // RF64 and BW64 with ds64.
    for magic in [b"RF64", b"BW64"] {
        let fmt = chunk(b"fmt ", &fmt_body(1, 2, 8000, 16, 16));
        let mut ds64 = Vec::new();
        let riff_size = 4 + (8 + 28) + fmt.len() as u64 + 8 + s.len() as u64;
        ds64.extend_from_slice(&riff_size.to_le_bytes());
        ds64.extend_from_slice(&(s.len() as u64).to_le_bytes());
        ds64.extend_from_slice(&1001u64.to_le_bytes());
        ds64.extend_from_slice(&le32(0));
        let mut data = b"data".to_vec();
        data.extend_from_slice(&le32(u32::MAX));
        data.extend_from_slice(&s);
        let mut b = magic.to_vec();
        b.extend_from_slice(&le32(u32::MAX));
        b.extend_from_slice(b"WAVE");
        b.extend_from_slice(&chunk(b"ds64", &ds64));
        b.extend_from_slice(&fmt);
        b.extend_from_slice(&data);
        v.push(Variant {
            name: if magic == b"RF64" { "RF64" } else { "BW64" },
            bytes: b,
            encoding: Encoding::S16,
            samples: s.clone(),
        });
    }
    v
}

#[test]
fn every_wav_variant_round_trips_bit_exactly_at_every_level() {
    let dir = TempDir::new().unwrap();
    let key = keygen(dir.path());
    let vs = variants();
    assert!(vs.len() >= 25, "{}", vs.len());
    for v in &vs {
        for level in ["keyless", "hmac", "aes"] {
            let wav = dir.path().join("in.wav");
            fs::write(&wav, &v.bytes).unwrap();
            let sasf_path = dir.path().join("x.sasf");
            let mut pack = sasf();
            // -f: every round of the loop writes the same two names.
            pack.arg("pack")
                .arg(&wav)
                .arg("-f")
                .arg("-o")
                .arg(&sasf_path);
            let mut conv = sasf();
            conv.arg("convert")
                .arg(&sasf_path)
                .arg("-f")
                .arg("-o")
                .arg(dir.path().join("out.wav"));
            if level != "keyless" {
                pack.arg("--key-file").arg(&key);
                conv.arg("--key-file").arg(&key);
            }
            if level == "aes" {
                pack.arg("--encrypt");
            }
            pack.assert().success();
            conv.assert().success();
            let (f, samples) = wav_format_and_data(&fs::read(dir.path().join("out.wav")).unwrap());
            assert_eq!(f.encoding, v.encoding, "{} {level}", v.name);
            assert_eq!(samples, v.samples, "{} {level}", v.name);
        }
    }
}

#[test]
fn the_pipeline_works_through_stdin_and_stdout() {
    let dir = TempDir::new().unwrap();
    let key = keygen(dir.path());
    let wav = fs::read(sample()).unwrap();
    let packed = sasf()
        .args(["pack", "-", "-o", "-", "--encrypt", "--key-file"])
        .arg(&key)
        .write_stdin(wav.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(&packed[..5], b"\x89SASF");
    let back = sasf()
        .args(["convert", "-", "-o", "-", "--key-file"])
        .arg(&key)
        .write_stdin(packed.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(wav_format_and_data(&back), wav_format_and_data(&wav));
    // SASF_KEY_FILE names the key file too.
    sasf()
        .args(["verify", "-"])
        .env("SASF_KEY_FILE", &key)
        .write_stdin(packed)
        .assert()
        .success();
}

#[test]
fn pcm16_decodes_mulaw() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("x.sasf");
    pack_sample(&out);
    let wav = sasf()
        .arg("convert")
        .arg(&out)
        .args(["-o", "-", "--pcm16"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let (f, s) = wav_format_and_data(&wav);
    assert_eq!(f.encoding, Encoding::S16);
    let (_, orig) = wav_format_and_data(&fs::read(sample()).unwrap());
    assert_eq!(s.len(), orig.len() * 2);
    assert_eq!(
        i16::from_le_bytes([s[0], s[1]]),
        sasf_core::audio::mulaw_to_linear(orig[0])
    );
}

#[test]
fn metadata_round_trips_through_pack_and_extract_at_each_level() {
    let dir = TempDir::new().unwrap();
    let key = keygen(dir.path());
    let input: Value = serde_json::from_str(&fs::read_to_string(sample_meta()).unwrap()).unwrap();
    for args in [vec![], vec!["--key-file"], vec!["--key-file", "--encrypt"]] {
        let out = dir.path().join("m.sasf");
        let mut p = sasf();
        p.arg("pack")
            .arg(sample())
            .arg("-f")
            .arg("-o")
            .arg(&out)
            .arg("--meta")
            .arg(sample_meta());
        let mut e = sasf();
        e.arg("extract").arg(&out).args(["--meta", "-"]);
        if !args.is_empty() {
            p.arg("--key-file").arg(&key);
            e.arg("--key-file").arg(&key);
        }
        if args.len() == 2 {
            p.arg("--encrypt");
        }
        p.assert().success();
        let got: Value = serde_json::from_slice(&e.assert().success().get_output().stdout).unwrap();
        assert_eq!(got["recording"], input["recording"]);
        assert_eq!(got["participants"], input["participants"]);
        let (a, b) = (
            input["events"].as_array().unwrap(),
            got["events"].as_array().unwrap(),
        );
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            for (k, v) in x.as_object().unwrap() {
                assert_eq!(&y[k], v, "{k}");
            }
        }
        if args.len() == 2 {
            // Encrypted: names and numbers are not visible in the file.
            let bytes = fs::read(&out).unwrap();
            for secret in ["Ann Agent", "+15551234567", "crm.case"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret}"
                );
            }
        }
    }
}

#[test]
fn info_shows_the_timeline_and_json_has_all_of_it() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("i.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&out)
        .arg("--meta")
        .arg(sample_meta())
        .assert()
        .success();
    let text = String::from_utf8(
        sasf()
            .arg("info")
            .arg(&out)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    for needle in [
        "keyless-sha256",
        "G.711 µ-law, 2 channel(s), 8000 Hz",
        "00:00:18.845",
        "Carl Customer (c1)",
        "digits 42",
        "crm.case = 12345",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
    let j: Value = serde_json::from_slice(
        &sasf()
            .arg("info")
            .arg(&out)
            .arg("--json")
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(j["header"]["encoding"], "mulaw");
    assert_eq!(j["samples"], 150761);
    assert_eq!(j["metadata"]["events"].as_array().unwrap().len(), 8);
}

#[test]
fn verification_failures_exit_1_and_say_where() {
    let dir = TempDir::new().unwrap();
    let key = keygen(dir.path());
    let good = dir.path().join("good.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&good)
        .arg("--encrypt")
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success();
    let bytes = fs::read(&good).unwrap();
    let mut tampered = bytes.clone();
    tampered[bytes.len() / 2] ^= 1;
    fs::write(dir.path().join("tampered.sasf"), &tampered).unwrap();
    fs::write(dir.path().join("trunc.sasf"), &bytes[..bytes.len() - 200]).unwrap();
    let other = dir.path().join("other.key");
    sasf().args(["keygen", "-o"]).arg(&other).assert().success();

    let out = sasf()
        .arg("verify")
        .arg(dir.path().join("tampered.sasf"))
        .arg("--key-file")
        .arg(&key)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains("tampered.sasf: FAILED: authentication failed at chunk")
            && line.contains("byte offset"),
        "{line}"
    );
    let out = sasf()
        .arg("verify")
        .arg(dir.path().join("trunc.sasf"))
        .arg("--key-file")
        .arg(&key)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains("truncated after chunk") && line.contains(" at 00:00:"),
        "{line}"
    );
    let out = sasf()
        .arg("verify")
        .arg(&good)
        .arg("--key-file")
        .arg(&other)
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8(out.stdout).unwrap().contains("wrong key"));
    // JSON lines, one per file, in order.
    let out = sasf()
        .arg("verify")
        .arg("--json")
        .arg(&good)
        .arg(dir.path().join("trunc.sasf"))
        .arg("--key-file")
        .arg(&key)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[1]["error"], "truncated");
    // convert of a tampered file: exit 1, one line on stderr naming the file, no output left.
    let before = listing(dir.path());
    let out = sasf()
        .arg("convert")
        .arg(dir.path().join("tampered.sasf"))
        .arg("-o")
        .arg(dir.path().join("t.wav"))
        .arg("--key-file")
        .arg(&key)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("tampered.sasf") && err.contains("authentication failed at chunk"),
        "{err}"
    );
    assert_eq!(listing(dir.path()), before);
    // To stdout: the message says the output is incomplete.
    let out = sasf()
        .arg("convert")
        .arg(dir.path().join("trunc.sasf"))
        .args(["-o", "-", "--key-file"])
        .arg(&key)
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(stderr_of(&out).contains("incomplete"));
}

#[test]
fn commands_that_cannot_run_exit_2_and_leave_nothing_behind() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let good = d.join("good.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&good)
        .arg("--encrypt")
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success();
    // ADPCM (unsupported), a WAV that claims more data than it has (malformed).
    let mut adpcm = fmt_body(2, 1, 8000, 4, 20);
    adpcm[12..14].copy_from_slice(&le16(256));
    fs::write(
        d.join("adpcm.wav"),
        riff(&[chunk(b"fmt ", &adpcm), chunk(b"data", &[0; 256])]),
    )
    .unwrap();
    let mut short = riff(&[
        chunk(b"fmt ", &fmt_body(1, 1, 8000, 16, 16)),
        chunk(b"data", &[0; 100]),
    ]);
    short.truncate(short.len() - 10);
    fs::write(d.join("short.wav"), &short).unwrap();
    fs::write(
        d.join("bad.json"),
        r#"{"events":[{"at_ms":1,"type":"join","participant":"ghost"}]}"#,
    )
    .unwrap();
    let before = listing(d);
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec![
                "pack".into(),
                d.join("adpcm.wav").into(),
                "-o".into(),
                d.join("o.sasf").into(),
            ],
            "unsupported",
        ),
        (
            vec![
                "pack".into(),
                d.join("short.wav").into(),
                "-o".into(),
                d.join("o.sasf").into(),
            ],
            "malformed WAV",
        ),
        (
            vec![
                "pack".into(),
                d.join("missing.wav").into(),
                "-o".into(),
                d.join("o.sasf").into(),
            ],
            "missing.wav",
        ),
        (
            vec![
                "pack".into(),
                sample().into(),
                "-o".into(),
                d.join("o.sasf").into(),
                "--encrypt".into(),
            ],
            "needs a key",
        ),
        (
            vec![
                "pack".into(),
                sample().into(),
                "-o".into(),
                d.join("o.sasf").into(),
                "--meta".into(),
                d.join("bad.json").into(),
            ],
            "events[0].participant",
        ),
        (
            vec![
                "convert".into(),
                good.clone().into(),
                "-o".into(),
                d.join("o.wav").into(),
            ],
            "needs a key",
        ),
        (
            vec![
                "convert".into(),
                good.clone().into(),
                "-o".into(),
                d.join("o.wav").into(),
                "--key-file".into(),
                d.join("nokey").into(),
            ],
            "nokey",
        ),
        (
            vec![
                "extract".into(),
                d.join("nope.sasf").into(),
                "--meta".into(),
                d.join("o.json").into(),
            ],
            "nope.sasf",
        ),
        (
            vec!["keygen".into(), "-o".into(), key.clone().into()],
            "refusing to overwrite",
        ),
        (vec!["pack".into()], "required"),
        (vec!["frobnicate".into()], "unrecognized"),
    ];
    for (args, needle) in cases {
        let out = sasf().args(&args).assert().code(2).get_output().clone();
        let err = stderr_of(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(listing(d), before, "{args:?} left something behind");
    }
    // A missing file among several: exit 2, the others still checked.
    let out = sasf()
        .arg("verify")
        .arg(d.join("missing.sasf"))
        .arg(&good)
        .arg("--key-file")
        .arg(&key)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("missing.sasf: UNREADABLE") && text.contains("good.sasf: OK"),
        "{text}"
    );
}

#[test]
fn keygen_makes_a_private_key_file() {
    let dir = TempDir::new().unwrap();
    let k = keygen(dir.path());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&k).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let text = fs::read_to_string(&k).unwrap();
    assert!(sasf_core::Key::from_key_text(text.as_bytes()).is_ok());
    let k2 = dir.path().join("k2.key");
    sasf().args(["keygen", "-o"]).arg(&k2).assert().success();
    assert_ne!(fs::read(k2).unwrap(), fs::read(&k).unwrap());
}

#[test]
fn help_has_examples_and_man_and_completions_generate() {
    for cmd in ["pack", "verify", "info", "extract", "convert", "keygen"] {
        let out = sasf()
            .args([cmd, "--help"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert!(String::from_utf8(out).unwrap().contains("Example"), "{cmd}");
    }
    let dir = TempDir::new().unwrap();
    sasf()
        .args(["man", "-o"])
        .arg(dir.path())
        .assert()
        .success();
    assert!(dir.path().join("sasf-pack.1").exists());
    let out = sasf()
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8(out).unwrap().contains("sasf"));
}

#[test]
fn bad_metadata_is_refused_before_anything_is_written() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let p = r#"{"id":"a1","role":"agent","channels":[0]}"#;
    let cases = [
        (
            format!(
                r#"{{"participants":[{p}],"events":[{{"at_ms":5,"type":"join","participant":"zz"}}]}}"#
            ),
            "events[0].participant",
        ),
        (
            format!(r#"{{"participants":[{p},{p}]}}"#),
            "participants[1].id",
        ),
        (
            format!(
                r#"{{"participants":[{p}],"events":[{{"at_ms":-1,"type":"join","participant":"a1"}}]}}"#
            ),
            "events[0].at_ms",
        ),
        (
            format!(
                r#"{{"participants":[{p}],"events":[{{"at_ms":999999,"type":"join","participant":"a1"}}]}}"#
            ),
            "after the end of the audio",
        ),
        (
            r#"{"participants":[{"id":"a1","role":"agent","channels":[2]}]}"#.to_string(),
            "participants[0].channels[0]",
        ),
        (
            r#"{"events":[{"at_ms":5,"type":"teleport"}]}"#.to_string(),
            "events[0].type",
        ),
        (
            r#"{"events":[{"at_ms":5,"type":"marker""#.to_string(),
            "malformed JSON",
        ),
        (
            r#"{"participants":[{"id":"a1","role":"agent","channels":"0"}]}"#.to_string(),
            "participants[0].channels",
        ),
        (
            r#"{"recording":{"started_at":12}}"#.to_string(),
            "recording.started_at",
        ),
    ];
    for (doc, needle) in cases {
        fs::write(d.join("m.json"), &doc).unwrap();
        let before = listing(d);
        let out = sasf()
            .arg("pack")
            .arg(sample())
            .arg("-o")
            .arg(d.join("o.sasf"))
            .arg("--meta")
            .arg(d.join("m.json"))
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = stderr_of(&out);
        assert!(
            err.contains(needle) && err.contains("m.json"),
            "{doc}: {err}"
        );
        assert_eq!(listing(d), before);
        // Also to stdout: nothing is written at all.
        let out = sasf()
            .arg("pack")
            .arg(sample())
            .args(["-o", "-", "--meta"])
            .arg(d.join("m.json"))
            .assert()
            .code(2)
            .get_output()
            .clone();
        assert!(out.stdout.is_empty(), "{doc}");
    }
}

#[test]
fn extract_leaves_no_audio_behind_when_the_metadata_output_fails() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = d.join("c.sasf");
    pack_sample(&f);
    let before = listing(d);
    let out = sasf()
        .arg("extract")
        .arg(&f)
        .arg("--meta")
        .arg(d.join("no-such-dir").join("m.json"))
        .arg("--audio")
        .arg(d.join("a.wav"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr_of(&out).contains("no-such-dir"));
    assert_eq!(listing(d), before);
}

#[test]
fn a_range_past_the_end_from_a_pipe_names_the_input() {
    let dir = TempDir::new().unwrap();
    let f = dir.path().join("c.sasf");
    pack_sample(&f);
    let out = sasf()
        .args(["convert", "-", "-o", "-", "--from", "99:00"])
        .write_stdin(fs::read(&f).unwrap())
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(
        stderr_of(&out).contains("<stdin>: --from"),
        "{}",
        stderr_of(&out)
    );
}
