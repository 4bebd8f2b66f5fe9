//! Issue 15, "Redaction" and "Authenticated excerpts": `sasf redact`, `sasf cut`,
//! `convert -o X.sasf` and `verify --source`, driven as a user would, at every level.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::*;

/// The levels a source is packed at: pack's extra arguments (the key file is `k.key`).
const LEVELS: [(&str, &[&str]); 3] = [
    ("keyless", &[]),
    ("authenticated", &["--key-file", "k.key"]),
    ("encrypted", &["--key-file", "k.key", "--encrypt"]),
];

/// 8000 Hz stereo µ-law: 2 bytes per frame.
const BA: usize = 2;
/// The redacted range of the sample call, 00:00:10 to 00:00:12: the customer reads
/// digits (DTMF at 11.426 s), non-silent audio on both channels.
const FROM: usize = 80_000;
const TO: usize = 96_000;

fn setup() -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let k = keygen(dir.path());
    (dir, k)
}

fn pack(d: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = d.join(name);
    sasf()
        .current_dir(d)
        .arg("pack")
        .arg(sample())
        .arg("--meta")
        .arg(sample_meta())
        .arg("-o")
        .arg(&out)
        .args(["--chunk-seconds", "0.3"])
        .args(extra)
        .assert()
        .success();
    out
}

/// The decrypted audio of a SASF file, through `convert`.
fn audio(d: &Path, f: &Path, keys: &[&str]) -> Vec<u8> {
    let o = sasf()
        .current_dir(d)
        .arg("convert")
        .arg(f)
        .args(["-o", "-"])
        .args(keys)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    wav_data(&o.stdout)
}

fn events(d: &Path, f: &Path, keys: &[&str]) -> Vec<Value> {
    let o = sasf()
        .current_dir(d)
        .arg("extract")
        .arg(f)
        .args(["--meta", "-"])
        .args(keys)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["events"].as_array().unwrap().clone()
}

/// The 32-byte windows of `range` that occur nowhere else in `all` (a window of the
/// range that also occurs outside it is not evidence of anything) and carry sound: at
/// least 8 distinct byte values. (A window of 31 silence bytes and one other is no
/// evidence either: the replacement silence followed by any byte of a chunk's tag
/// matches one by chance, 1 time in 256.)
fn unique_windows(all: &[u8], range: std::ops::Range<usize>) -> HashSet<&[u8]> {
    let outside: HashSet<&[u8]> = all[..range.start]
        .windows(32)
        .chain(all[range.end..].windows(32))
        .collect();
    all[range]
        .windows(32)
        .filter(|w| !outside.contains(w))
        .filter(|w| w.iter().collect::<HashSet<_>>().len() >= 8)
        .collect()
}

/// Where a window of `windows` occurs in `haystack`, with the bytes (for the message).
fn leaks(haystack: &[u8], windows: &HashSet<&[u8]>) -> Vec<(usize, String)> {
    haystack
        .windows(32)
        .enumerate()
        .filter(|(_, w)| windows.contains(w))
        .map(|(i, w)| (i, w.iter().map(|b| format!("{b:02x}")).collect()))
        .collect()
}

#[test]
fn redaction_removes_the_range_at_every_level_and_mode() {
    let (dir, _) = setup();
    let d = dir.path();
    let original = wav_data(&fs::read(sample()).unwrap());
    let range = FROM * BA..TO * BA;
    let secret = unique_windows(&original, range.clone());
    // The range is audio, not silence: most windows of it are sound that occurs
    // nowhere else in the call (the sample call is synthetic: some patterns repeat).
    assert!(
        secret.len() > (range.len() - 31) / 2,
        "{} unique windows of {}",
        secret.len(),
        range.len() - 31
    );
    for (level, pack_args) in LEVELS {
        let src = pack(d, &format!("{level}.sasf"), pack_args);
        let keys: &[&str] = if pack_args.is_empty() {
            &[]
        } else {
            &["--key-file", "k.key"]
        };
        for mode in ["silence", "beep", "omit"] {
            let what = format!("{level}, {mode}");
            let out = d.join(format!("{level}-{mode}.sasf"));
            let o = sasf()
                .current_dir(d)
                .arg("redact")
                .arg(&src)
                .arg("-o")
                .arg(&out)
                .args(["--from", "10", "--to", "00:00:12", "--mode", mode])
                .args(["--reason", "card number read out", "--by", "qa@example.com"])
                .args(keys)
                .output()
                .unwrap();
            assert!(o.status.success(), "{what}: {}", stderr_of(&o));
            sasf()
                .current_dir(d)
                .arg("verify")
                .arg(&out)
                .args(keys)
                .assert()
                .success();
            let got = audio(d, &out, keys);
            // On the bytes: nothing of the range, decrypted or stored.
            let none: [(usize, String); 0] = [];
            assert_eq!(leaks(&got, &secret), none, "{what}: decrypted output");
            assert_eq!(
                leaks(&fs::read(&out).unwrap(), &secret),
                none,
                "{what}: stored file"
            );
            assert_eq!(got[..range.start], original[..range.start], "{what}");
            match mode {
                "omit" => {
                    assert_eq!(got.len(), original.len() - range.len(), "{what}");
                    assert_eq!(got[range.start..], original[range.end..], "{what}");
                }
                _ => {
                    assert_eq!(got.len(), original.len(), "{what}");
                    assert_eq!(got[range.end..], original[range.end..], "{what}");
                    let r = &got[range.clone()];
                    if mode == "silence" {
                        assert!(r.iter().all(|&b| b == 0xFF), "{what}: µ-law silence");
                    } else {
                        // A 1 kHz tone at 8 kHz repeats every 8 frames, on both channels.
                        assert_eq!(r[..16], r[16..32], "{what}");
                        assert!(r.chunks(2).all(|f| f[0] == f[1]), "{what}");
                        assert!(r.iter().any(|&b| b != 0xFF), "{what}");
                    }
                }
            }
            let ev = events(d, &out, keys);
            let red: Vec<&Value> = ev.iter().filter(|e| e["key"] == "sasf.redaction").collect();
            assert_eq!(red.len(), 1, "{what}");
            let v = &red[0]["value"];
            assert_eq!(red[0]["at_sample"], FROM as u64, "{what}");
            assert_eq!(v["mode"], mode, "{what}");
            assert_eq!(v["from_sample"], FROM as u64, "{what}");
            assert_eq!(v["to_sample"], TO as u64, "{what}");
            assert_eq!(v["reason"], "card number read out", "{what}");
            assert_eq!(v["by"], "qa@example.com", "{what}");
            assert_eq!(v["source_id"], "call-0001", "{what}");
            assert_eq!(v["dtmf_redacted"], 1, "{what}");
            // The provenance: the source's file digest, as verify prints it.
            let vo = sasf()
                .current_dir(d)
                .args(["verify", "--json"])
                .arg(&src)
                .args(keys)
                .output()
                .unwrap();
            let sv: Value = serde_json::from_slice(&vo.stdout).unwrap();
            assert_eq!(v["source_file_digest"], sv["file_digest"], "{what}");
            // The digits are nowhere: not in the events, not in the stored file.
            let text = serde_json::to_string(&ev).unwrap();
            assert!(!text.contains("\"42\""), "{what}: {text}");
            let dtmf: Vec<&Value> = ev.iter().filter(|e| e["type"] == "dtmf").collect();
            if mode == "omit" {
                assert!(dtmf.is_empty(), "{what}");
                let dropped = v["dropped_events"].as_array().unwrap();
                assert_eq!(dropped.len(), 1, "{what}");
                assert_eq!(dropped[0]["type"], "dtmf");
                assert_eq!(dropped[0]["redacted"], true);
                assert_eq!(dropped[0]["at_sample"], 91_408);
                // The events after the range moved 2 s earlier.
                let case = ev.iter().find(|e| e["key"] == "crm.case").unwrap();
                assert_eq!(case["at_sample"], 96_128 - 16_000, "{what}");
            } else {
                assert_eq!(dtmf.len(), 1, "{what}");
                assert_eq!(dtmf[0]["redacted"], true, "{what}");
                assert!(dtmf[0].get("digits").is_none(), "{what}");
                assert!(v.get("dropped_events").is_none(), "{what}");
            }
            if level == "encrypted" {
                let raw = fs::read(&out).unwrap();
                assert!(!raw.windows(14).any(|w| w == b"sasf.redaction"), "{what}");
                // Only the key opens it.
                sasf().arg("verify").arg(&out).assert().code(2);
            }
        }
    }
}

#[test]
fn a_redacted_file_can_be_signed_and_keeps_the_recipients_given() {
    let (dir, _) = setup();
    let d = dir.path();
    sasf()
        .current_dir(d)
        .args(["keygen", "--signing", "-o", "qa.key"])
        .assert()
        .success();
    let o = sasf()
        .current_dir(d)
        .args(["keygen", "--x25519", "-o", "id.key"])
        .output()
        .unwrap();
    let recipient = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert!(recipient.starts_with("age1"), "{recipient}");
    let src = pack(
        d,
        "src.sasf",
        &["--key-file", "k.key", "--encrypt", "-r", &recipient],
    );
    let o = sasf()
        .current_dir(d)
        .arg("redact")
        .arg(&src)
        .args(["-o", "r.sasf", "--from", "1", "--to", "2"])
        .args(["--reason", "pii", "--by", "qa", "--signing-key", "qa.key"])
        .args(["--key-file", "k.key"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    // The age recipient's identity was not given: sasf says it was not carried over.
    assert!(
        stderr_of(&o).contains("wrapped for 1 of the source's 2 recipients"),
        "{}",
        stderr_of(&o)
    );
    sasf()
        .current_dir(d)
        .args([
            "verify",
            "r.sasf",
            "--signer",
            "qa.pub",
            "--require",
            "signed",
        ])
        .args(["--key-file", "k.key"])
        .assert()
        .success();
    // Without the key, an auditor checks the signature.
    sasf()
        .current_dir(d)
        .args(["verify", "r.sasf", "--signer", "qa.pub"])
        .assert()
        .success();
    // Given the identity, both recipients are carried over.
    let o = sasf()
        .current_dir(d)
        .arg("redact")
        .arg(&src)
        .args(["-o", "r2.sasf", "--from", "1", "--to", "2"])
        .args(["--reason", "pii", "--by", "qa"])
        .args(["--key-file", "k.key", "-i", "id.key"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(!stderr_of(&o).contains("warning"), "{}", stderr_of(&o));
    sasf()
        .current_dir(d)
        .args(["verify", "r2.sasf", "-i", "id.key"])
        .assert()
        .success();
}

fn cut(d: &Path, src: &Path, out: &str, range: &[&str], keys: &[&str]) -> std::process::Output {
    sasf()
        .current_dir(d)
        .arg("cut")
        .arg(src)
        .args(["-o", out])
        .args(range)
        .args(keys)
        .output()
        .unwrap()
}

#[test]
fn an_excerpt_holds_the_exact_frames_and_the_state_at_its_start() {
    let (dir, _) = setup();
    let d = dir.path();
    for (level, pack_args) in LEVELS {
        let src = pack(d, &format!("{level}.sasf"), pack_args);
        let keys: &[&str] = if pack_args.is_empty() {
            &[]
        } else {
            &["--key-file", "k.key"]
        };
        // 00:00:07 is inside the agent's hold (6.752 to 8.252).
        let range = ["--from", "7", "--to", "11.5"];
        let o = cut(d, &src, "cut.sasf", &range, keys);
        assert!(o.status.success(), "{level}: {}", stderr_of(&o));
        let got = audio(d, &d.join("cut.sasf"), keys);
        let o = sasf()
            .current_dir(d)
            .arg("convert")
            .arg(&src)
            .args(["-o", "-"])
            .args(range)
            .args(keys)
            .output()
            .unwrap();
        assert_eq!(got, wav_data(&o.stdout), "{level}");
        assert_eq!(got.len(), (92_000 - 56_000) * BA, "{level}");
        let ev = events(d, &d.join("cut.sasf"), keys);
        let x = &ev[0];
        assert_eq!(x["key"], "sasf.excerpt", "{level}");
        assert_eq!(x["at_sample"], 0);
        let v = &x["value"];
        assert_eq!(v["from_sample"], 56_000);
        assert_eq!(v["to_sample"], 92_000);
        assert_eq!(v["source_id"], "call-0001");
        assert_eq!(v["source_samples"], 150_761);
        assert_eq!(
            v["state"],
            serde_json::json!({"joined": ["a1", "c1"], "on_hold": ["a1"], "muted": [], "paused": false})
        );
        // The hold in progress, as an event at 0; then the events inside, re-based.
        let timeline: Vec<(u64, &str)> = ev[1..]
            .iter()
            .map(|e| {
                (
                    e["at_sample"].as_u64().unwrap(),
                    e["type"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            timeline,
            [
                (0, "hold"),
                (66_016 - 56_000, "resume"),
                (91_408 - 56_000, "dtmf")
            ],
            "{level}"
        );
        let o = sasf()
            .current_dir(d)
            .args(["info", "--json", "cut.sasf"])
            .args(keys)
            .output()
            .unwrap();
        let info: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            info["metadata"]["recording"]["started_at"], "2026-11-23T10:15:07Z",
            "{level}: {info}"
        );
        // verify --source: OK, and 1 against another file.
        let o = sasf()
            .current_dir(d)
            .args(["verify", "cut.sasf", "--source"])
            .arg(&src)
            .args(keys)
            .output()
            .unwrap();
        assert!(o.status.success(), "{level}: {}", stderr_of(&o));
        let line = String::from_utf8_lossy(&o.stdout);
        assert!(line.contains("OK, an excerpt of"), "{line}");
        assert!(line.contains("frames 56000–92000"), "{line}");
        let other = d.join("other.sasf");
        let o = sasf()
            .current_dir(d)
            .arg("redact")
            .arg(&src)
            .arg("-o")
            .arg(&other)
            .args([
                "--from", "9", "--to", "10", "--reason", "x", "--by", "y", "-f",
            ])
            .args(keys)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr_of(&o));
        let o = sasf()
            .current_dir(d)
            .args(["verify", "cut.sasf", "--source"])
            .arg(&other)
            .args(keys)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{level}");
        let line = String::from_utf8_lossy(&o.stdout);
        assert!(line.contains("FAILED: not an excerpt of"), "{line}");
        assert!(line.contains("frames differ"), "{line}");
        assert!(line.contains("file digest"), "{line}");
        // convert -o X.sasf writes the same excerpt.
        let o = sasf()
            .current_dir(d)
            .arg("convert")
            .arg(&src)
            .args(["-o", "conv.sasf"])
            .args(range)
            .args(keys)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr_of(&o));
        assert_eq!(audio(d, &d.join("conv.sasf"), keys), got);
        sasf()
            .current_dir(d)
            .args(["verify", "conv.sasf", "--source"])
            .arg(&src)
            .args(keys)
            .assert()
            .success();
        if level == "encrypted" {
            let raw = fs::read(d.join("cut.sasf")).unwrap();
            assert!(!raw.windows(12).any(|w| w == b"sasf.excerpt"));
        }
        for f in ["cut.sasf", "conv.sasf", "other.sasf"] {
            fs::remove_file(d.join(f)).unwrap();
        }
    }
}

#[test]
fn refusals_exit_2_and_write_nothing() {
    let (dir, _) = setup();
    let d = dir.path();
    let src = pack(d, "src.sasf", &["--key-file", "k.key"]);
    fs::write(d.join("exists.sasf"), b"keep me").unwrap();
    let redact = |extra: &[&str]| {
        let mut v = vec!["redact", "src.sasf", "--reason", "r", "--by", "b"];
        v.extend_from_slice(&["--key-file", "k.key"]);
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let cutting = |extra: &[&str]| {
        let mut v = vec!["cut", "src.sasf", "--key-file", "k.key"];
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let convert = |extra: &[&str]| {
        let mut v = vec!["convert", "src.sasf", "--key-file", "k.key"];
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "past the end",
            redact(&["-o", "o.sasf", "--from", "18", "--to", "99"]),
            "outside the recording",
        ),
        (
            "from = to",
            redact(&["-o", "o.sasf", "--from", "5", "--to", "5"]),
            "must end after",
        ),
        (
            "from > to",
            redact(&["-o", "o.sasf", "--from", "6", "--to", "5"]),
            "must end after",
        ),
        (
            "exists",
            redact(&["-o", "exists.sasf", "--from", "1", "--to", "2"]),
            "exists",
        ),
        (
            "same file",
            redact(&["-o", "src.sasf", "--from", "1", "--to", "2", "-f"]),
            "input",
        ),
        (
            "empty reason",
            vec![
                "redact",
                "src.sasf",
                "--reason",
                "",
                "--by",
                "b",
                "--key-file",
                "k.key",
                "-o",
                "o.sasf",
                "--from",
                "1",
                "--to",
                "2",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "reason",
        ),
        (
            "no key",
            vec![
                "redact", "src.sasf", "--reason", "r", "--by", "b", "-o", "o.sasf", "--from", "1",
                "--to", "2",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "key",
        ),
        (
            "cut past the end",
            cutting(&["-o", "o.sasf", "--from", "18", "--to", "99"]),
            "outside the recording",
        ),
        (
            "cut from past the end",
            cutting(&["-o", "o.sasf", "--from", "30"]),
            "outside the recording",
        ),
        (
            "cut from = to",
            cutting(&["-o", "o.sasf", "--from", "3", "--to", "3"]),
            "must end after",
        ),
        (
            "cut exists",
            cutting(&["-o", "exists.sasf", "--from", "1", "--to", "2"]),
            "exists",
        ),
        (
            "cut same file",
            cutting(&["-o", "src.sasf", "-f", "--to", "2"]),
            "input",
        ),
        (
            "cut from stdin",
            vec!["cut", "-", "-o", "o.sasf", "--to", "2"]
                .into_iter()
                .map(String::from)
                .collect(),
            "regular file",
        ),
        (
            "convert past the end",
            convert(&["-o", "o.sasf", "--from", "18", "--to", "99"]),
            "outside the recording",
        ),
        (
            "convert --pcm16",
            convert(&["-o", "o.sasf", "--to", "2", "--pcm16"]),
            "pcm16",
        ),
    ];
    let before = listing(d);
    for (what, args, says) in cases {
        let o = sasf().current_dir(d).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr_of(&o));
        assert!(stderr_of(&o).contains(says), "{what}: {}", stderr_of(&o));
        assert_eq!(listing(d), before, "{what}");
        assert_eq!(fs::read(d.join("exists.sasf")).unwrap(), b"keep me");
    }
    // A source that fails verification: exit 1, and still nothing written.
    let mut bytes = fs::read(&src).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    fs::write(d.join("bad.sasf"), &bytes).unwrap();
    let before = listing(d);
    for cmd in [
        &[
            "redact",
            "bad.sasf",
            "-o",
            "o.sasf",
            "--from",
            "1",
            "--to",
            "2",
            "--reason",
            "r",
            "--by",
            "b",
            "--key-file",
            "k.key",
        ][..],
        &[
            "cut",
            "bad.sasf",
            "-o",
            "o.sasf",
            "--from",
            "1",
            "--to",
            "2",
            "--key-file",
            "k.key",
        ],
    ] {
        let o = sasf().current_dir(d).args(cmd).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{cmd:?}: {}", stderr_of(&o));
        assert_eq!(listing(d), before, "{cmd:?}");
    }
    // verify --source on a file that is not an excerpt: it cannot check (2).
    let o = sasf()
        .current_dir(d)
        .args([
            "verify",
            "src.sasf",
            "--source",
            "src.sasf",
            "--key-file",
            "k.key",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("not an excerpt"),
        "{}",
        stderr_of(&o)
    );
}

/// A small mono 16-bit source, 0.1 s chunks, with events every 0.25 s.
fn small_source(d: &Path) -> PathBuf {
    let frames = 16_000u32; // 2 s at 8 kHz
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + frames * 2).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(frames * 2).to_le_bytes());
    // A sample is its own frame number: every window is unique.
    for i in 0..frames {
        wav.extend_from_slice(&(i as u16).to_le_bytes());
    }
    fs::write(d.join("small.wav"), wav).unwrap();
    let events: Vec<String> = (0..8)
        .map(|i| {
            let ty = ["hold", "resume", "mute", "unmute"][i % 4];
            format!(
                r#"{{"at_ms": {}, "type": "{ty}", "participant": "a"}}"#,
                i * 250
            )
        })
        .collect();
    fs::write(
        d.join("small.json"),
        format!(
            r#"{{"recording": {{"id": "s1", "started_at": "2026-11-23T10:00:00Z"}},
                "participants": [{{"id": "a", "role": "agent", "channels": [0]}}],
                "events": [{{"at_ms": 0, "type": "join", "participant": "a"}}, {}]}}"#,
            events.join(",")
        ),
    )
    .unwrap();
    let out = d.join("small.sasf");
    sasf()
        .current_dir(d)
        .args([
            "pack",
            "small.wav",
            "--meta",
            "small.json",
            "-o",
            "small.sasf",
        ])
        .args(["--chunk-seconds", "0.1", "--key-file", "k.key", "--encrypt"])
        .assert()
        .success();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
    #[test]
    fn a_cut_at_any_range_verifies_against_its_source(from in 0u32..15_999, len in 1u32..16_000) {
        let (dir, _) = setup();
        let d = dir.path();
        let src = small_source(d);
        let to = (from + len).min(16_000);
        // A frame at 8 kHz is 125 µs exactly.
        let (f, t) = (format!("{}us", from * 125), format!("{}us", to * 125));
        let o = cut(d, &src, "c.sasf", &["--from", &f, "--to", &t], &["--key-file", "k.key"]);
        prop_assert!(o.status.success(), "{}", stderr_of(&o));
        let got = audio(d, &d.join("c.sasf"), &["--key-file", "k.key"]);
        let want: Vec<u8> = (from..to).flat_map(|i| (i as u16).to_le_bytes()).collect();
        prop_assert_eq!(got, want);
        let o = sasf()
            .current_dir(d)
            .args(["verify", "c.sasf", "--source", "small.sasf", "--key-file", "k.key", "--json"])
            .output()
            .unwrap();
        prop_assert!(o.status.success(), "{}", stderr_of(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        prop_assert_eq!(&v["excerpt"]["from_sample"], &Value::from(from));
        prop_assert_eq!(&v["excerpt"]["to_sample"], &Value::from(to));
        // The state at the start follows the cycle hold, resume, mute, unmute.
        let ev = events(d, &d.join("c.sasf"), &["--key-file", "k.key"]);
        let state = &ev[0]["value"]["state"];
        let before = (0..8).filter(|i| i * 2000 < from).count();
        let on_hold = before % 4 == 1;
        let muted = before % 4 == 3;
        prop_assert_eq!(state["on_hold"].as_array().unwrap().len(), on_hold as usize);
        prop_assert_eq!(state["muted"].as_array().unwrap().len(), muted as usize);
        prop_assert_eq!(&state["joined"], &serde_json::json!(if from > 0 { vec!["a"] } else { vec![] }));
    }
}
