//! `convert`/`extract` with --from/--to, and `recover`, including a writer killed with
//! SIGKILL while it streams.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::*;

#[test]
fn a_range_is_exactly_its_samples_and_events_from_a_file_or_a_pipe() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = d.join("k");
    sasf().args(["keygen", "-o"]).arg(&key).assert().success();
    let f = d.join("c.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&f)
        .arg("--meta")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample-call.json"))
        .args(["--encrypt", "--chunk-seconds", "0.25", "--key-file"])
        .arg(&key)
        .assert()
        .success();
    let all = wav_data(&fs::read(sample()).unwrap());
    // 00:00:06.5 .. 00:00:12.1 at 8000 Hz stereo µ-law: frames 52000..96800.
    let (from, to) = (52000usize, 96800usize);
    let from_file = sasf()
        .arg("convert")
        .arg(&f)
        .args([
            "-o",
            "-",
            "--from",
            "00:00:06.5",
            "--to",
            "12.1",
            "--key-file",
        ])
        .arg(&key)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(wav_data(&from_file), all[from * 2..to * 2]);
    let from_pipe = sasf()
        .args([
            "convert",
            "-",
            "-o",
            "-",
            "--from",
            "6.5",
            "--to",
            "0:12.1",
            "--key-file",
        ])
        .arg(&key)
        .write_stdin(fs::read(&f).unwrap())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(wav_data(&from_pipe), all[from * 2..to * 2]);
    // extract: the events inside the range, re-based, and the start anchor moved.
    let out = sasf()
        .arg("extract")
        .arg(&f)
        .args(["--meta", "-", "--from", "6.5", "--to", "12.1", "--key-file"])
        .arg(&key)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let m: Value = serde_json::from_slice(&out).unwrap();
    let ev: Vec<(String, u64)> = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["at_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("hold", 252),
        ("resume", 1752),
        ("dtmf", 4926),
        ("custom", 5516),
    ];
    assert_eq!(ev, want.map(|(t, ms)| (t.to_string(), ms)));
    assert_eq!(m["recording"]["started_at"], "2026-11-23T10:15:06.5Z");
    assert_eq!(m["participants"].as_array().unwrap().len(), 2);
    // A range past the end is refused, and leaves nothing behind.
    sasf()
        .arg("convert")
        .arg(&f)
        .arg("-o")
        .arg(d.join("x.wav"))
        .args(["--from", "1:00", "--key-file"])
        .arg(&key)
        .assert()
        .code(2);
    sasf()
        .arg("convert")
        .arg(&f)
        .arg("-o")
        .arg(d.join("x.wav"))
        .args(["--from", "5", "--to", "4", "--key-file"])
        .arg(&key)
        .assert()
        .code(2);
    assert!(!d.join("x.wav").exists());
}

#[test]
fn recover_salvages_a_truncated_file_and_verify_tells_them_apart() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = d.join("c.sasf");
    pack_sample(&f);
    let bytes = fs::read(&f).unwrap();
    let mut broken = bytes[..bytes.len() * 2 / 3].to_vec();
    broken.extend_from_slice(b"garbage after a crash");
    fs::write(d.join("broken.sasf"), &broken).unwrap();
    let out = sasf()
        .arg("verify")
        .arg(d.join("broken.sasf"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains("truncated after chunk") || line.contains("authentication failed"),
        "{line}"
    );
    sasf()
        .arg("recover")
        .arg(d.join("broken.sasf"))
        .arg("-o")
        .arg(d.join("fixed.sasf"))
        .assert()
        .success();
    let out = sasf()
        .arg("verify")
        .arg(d.join("fixed.sasf"))
        .assert()
        .success()
        .get_output()
        .clone();
    // verify says why the file was recovered: where the original stopped, and why.
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains("OK (recovered: the original stopped at ") && line.contains("truncated"),
        "{line}"
    );
    let fixed = sasf()
        .arg("convert")
        .arg(d.join("fixed.sasf"))
        .args(["-o", "-"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let orig = wav_data(&fs::read(sample()).unwrap());
    let got = wav_data(&fixed);
    assert!(!got.is_empty() && got.len() < orig.len());
    assert_eq!(got[..], orig[..got.len()]);
    let info = sasf()
        .arg("info")
        .arg(d.join("fixed.sasf"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let info = String::from_utf8(info).unwrap();
    assert!(
        info.contains("RECOVERED") && info.contains("sasf.recovered"),
        "{info}"
    );
}

#[test]
fn a_writer_killed_with_sigkill_loses_at_most_the_chunk_in_progress() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = d.join("k");
    sasf().args(["keygen", "-o"]).arg(&key).assert().success();
    let audio = wav_data(&fs::read(sample()).unwrap());
    let chunk_bytes = 800; // --chunk-seconds 0.05 at 16000 bytes/s
    let feed = 400;
    let mut seed = 0x2545F4914F6CDD1Du64;
    for run in 0..6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let feeds = 10 + (seed % 120) as usize;
        let out_path = d.join(format!("live-{run}.sasf"));
        let mut child = Proc::cargo_bin("sasf")
            .unwrap()
            .args([
                "pack",
                "-",
                "-o",
                "-",
                "--encrypt",
                "--chunk-seconds",
                "0.05",
                "--key-file",
            ])
            .arg(&key)
            .stdin(Stdio::piped())
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(&streamed_wav_header(7, 2, 8000, 8))
            .unwrap();
        for i in 0..feeds {
            stdin.write_all(&audio[i * feed..(i + 1) * feed]).unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(Duration::from_millis(8));
        }
        std::thread::sleep(Duration::from_millis(50));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        drop(stdin);
        let fed = feeds * feed;
        // The broken file fails verification as truncated.
        let out = sasf()
            .arg("verify")
            .arg(&out_path)
            .arg("--key-file")
            .arg(&key)
            .assert()
            .code(1)
            .get_output()
            .clone();
        assert!(String::from_utf8(out.stdout)
            .unwrap()
            .contains("truncated after chunk"));
        let fixed = d.join(format!("fixed-{run}.sasf"));
        sasf()
            .arg("recover")
            .arg(&out_path)
            .arg("-o")
            .arg(&fixed)
            .arg("--key-file")
            .arg(&key)
            .assert()
            .success();
        let wav = sasf()
            .arg("convert")
            .arg(&fixed)
            .args(["-o", "-", "--key-file"])
            .arg(&key)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let got = wav_data(&wav);
        assert_eq!(
            got[..],
            audio[..got.len()],
            "run {run}: a prefix of the input"
        );
        assert!(
            fed - got.len() < chunk_bytes,
            "run {run}: fed {fed}, recovered {}",
            got.len()
        );
    }
}
