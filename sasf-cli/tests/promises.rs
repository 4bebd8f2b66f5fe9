//! The promises SASF v1 broke, each kept by v2 and shown here through `sasf` as a user
//! would run it (issue 11, points 1, 8 and 10):
//!
//! - the key decides the level: a forged keyless file is refused by every command
//!   given a key, unless `--require any` says keyless files are acceptable;
//! - context binding: a file copied over another recording's fails `--expect-id`;
//! - a live pack killed mid-stream leaves `<output>.part`, which `recover` salvages.

mod common;
use common::*;

use std::io::Write;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

/// (arguments after the command's input, exit code, a piece of stderr).
type Row = (&'static str, Vec<String>, i32, &'static str);

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn a_forged_keyless_file_is_refused_by_every_command_given_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let k = key.to_str().unwrap();
    // The forger has write access to the storage and no key: a keyless file.
    let forged = d.join("forged.sasf");
    pack_sample(&forged);
    let f = forged.to_str().unwrap();
    let adhoc = sample();
    let out = |n: &str| d.join(n).to_str().unwrap().to_string();
    let rows: Vec<Row> = vec![
        (
            "verify",
            s(&["verify", "--key-file", k, f]),
            1,
            "not protected as required",
        ),
        (
            "info",
            s(&["info", "--key-file", k, f]),
            1,
            "keyless-sha256",
        ),
        (
            "convert",
            vec![
                "convert".into(),
                "--key-file".into(),
                k.into(),
                f.into(),
                "-o".into(),
                out("a.wav"),
            ],
            1,
            "not protected",
        ),
        (
            "extract",
            vec![
                "extract".into(),
                "--key-file".into(),
                k.into(),
                f.into(),
                "--meta".into(),
                out("m.json"),
            ],
            1,
            "not protected",
        ),
        (
            "recover",
            vec![
                "recover".into(),
                "--key-file".into(),
                k.into(),
                f.into(),
                "-o".into(),
                out("r.sasf"),
            ],
            1,
            "not protected",
        ),
        (
            "merge",
            vec![
                "merge".into(),
                "--key-file".into(),
                k.into(),
                "--adhoc".into(),
                adhoc.to_str().unwrap().into(),
                "--snippet".into(),
                f.into(),
                "--adhoc-start".into(),
                "2026-11-23T10:14:00Z".into(),
                "-o".into(),
                out("mg.sasf"),
            ],
            1,
            "not protected",
        ),
        // Asked for explicitly, keyless files are accepted (checked for corruption).
        (
            "verify any",
            s(&["verify", "--require", "any", "--key-file", k, f]),
            0,
            "",
        ),
        (
            "convert any",
            vec![
                "convert".into(),
                "--require".into(),
                "any".into(),
                "--key-file".into(),
                k.into(),
                f.into(),
                "-o".into(),
                out("b.wav"),
            ],
            0,
            "",
        ),
        // Without a key nothing pretends: keyless is all a keyless file can be.
        ("verify no key", s(&["verify", f]), 0, ""),
        (
            "verify require encrypted, no key",
            s(&["verify", "--require", "encrypted", f]),
            1,
            "not protected",
        ),
    ];
    for (what, args, code, needle) in rows {
        let before = listing(d);
        let o = sasf().args(&args).output().unwrap();
        let err = stderr_of(&o);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(code), "{what}: {err} {stdout}");
        assert!(
            err.contains(needle) || stdout.contains(needle),
            "{what}: {needle:?} not in {err} {stdout}"
        );
        if code != 0 {
            assert_eq!(listing(d), before, "{what}: left an output behind");
        }
    }
    // An HMAC file is not encrypted: --require encrypted refuses it.
    let hmac = d.join("hmac.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&hmac)
        .args(["--key-file", k])
        .assert()
        .success();
    let o = sasf()
        .args(["verify", "--require", "encrypted", "--key-file", k])
        .arg(&hmac)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("hmac-sha256"));
}

fn pack_bound(d: &Path, key: &Path, id: &str, out: &Path) {
    let meta = d.join(format!("{id}.json"));
    std::fs::write(
        &meta,
        format!(r#"{{"recording": {{"id": "{id}", "tenant": "acme"}}}}"#),
    )
    .unwrap();
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(out)
        .arg("--meta")
        .arg(&meta)
        .arg("--key-file")
        .arg(key)
        .args(["--encrypt", "--bind-context"])
        .assert()
        .success();
}

#[test]
fn a_file_copied_over_another_recording_fails_the_expected_context() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let one = d.join("call-0001.sasf");
    let two = d.join("call-0002.sasf");
    pack_bound(d, &key, "call-0001", &one);
    pack_bound(d, &key, "call-0002", &two);
    let verify = |file: &Path, id: &str, tenant: &str| {
        sasf()
            .arg("verify")
            .arg("--key-file")
            .arg(&key)
            .args(["--expect-id", id, "--expect-tenant", tenant])
            .arg(file)
            .output()
            .unwrap()
    };
    assert_eq!(verify(&one, "call-0001", "acme").status.code(), Some(0));
    // The swap: call-0002's bytes under call-0001's name.
    std::fs::copy(&two, &one).unwrap();
    let o = verify(&one, "call-0001", "acme");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("context mismatch"));
    // The tenant is part of the context too.
    assert_eq!(verify(&two, "call-0002", "other").status.code(), Some(1));
    // A file that is not bound fails an expectation.
    let unbound = d.join("unbound.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&unbound)
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success();
    let o = verify(&unbound, "call-0001", "acme");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not bound"));
}

#[test]
fn a_live_pack_killed_mid_stream_leaves_a_partial_file_that_recover_salvages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let live = d.join("live.sasf");
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("sasf"))
        .env_remove("SASF_KEY_FILE")
        .args(["pack", "-", "-o"])
        .arg(&live)
        .arg("--key-file")
        .arg(&key)
        .arg("--encrypt")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // 20 s of audio in one write, larger than any input buffer, then the input stays
    // open: the recorder is still "recording".
    let mut feed = streamed_wav_header(1, 1, 8000, 16);
    feed.extend((0..20 * 8000u32).flat_map(|i| ((i % 200) as i16 * 50).to_le_bytes()));
    stdin.write_all(&feed).unwrap();
    stdin.flush().unwrap();
    let part = d.join("live.sasf.part");
    // Every whole second of audio reaches the partial file without waiting for more
    // input: 20 chunks of about 16 KB each.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if len >= 20 * 16000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {len} bytes reached {part:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL, the recorder crashed
    child.wait().unwrap();
    drop(stdin);
    assert!(!live.exists(), "nothing looks complete");
    let o = sasf()
        .arg("verify")
        .arg("--key-file")
        .arg(&key)
        .arg(&part)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("truncated"));
    let rec = d.join("recovered.sasf");
    sasf()
        .arg("recover")
        .arg(&part)
        .arg("-o")
        .arg(&rec)
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success();
    let o = sasf()
        .args(["verify", "--json", "--key-file"])
        .arg(&key)
        .arg(&rec)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["recovered"], true);
    // All 20 s arrived, and all 20 whole chunks were kept.
    assert_eq!(v["samples"], 20 * 8000, "{v}");
}

#[test]
fn converting_a_live_stream_outputs_each_chunk_as_it_arrives() {
    // Issue 11: `convert - -o -` on a live stream emitted its first byte about 28
    // chunk periods late. Now output follows input within one chunk.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let file = d.join("call.sasf");
    let mut wav = streamed_wav_header(1, 1, 8000, 16);
    wav.extend((0..40 * 8000u32).flat_map(|i| ((i % 300) as i16 * 40).to_le_bytes()));
    let input = d.join("call.wav");
    std::fs::write(&input, &wav).unwrap();
    sasf()
        .arg("pack")
        .arg(&input)
        .arg("-o")
        .arg(&file)
        .arg("--key-file")
        .arg(&key)
        .arg("--encrypt")
        .assert()
        .success();
    let bytes = std::fs::read(&file).unwrap();
    let chunk = 12 + 12 + 16000 + 16; // prefix, body header, one second, GCM tag
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("sasf"))
        .env_remove("SASF_KEY_FILE")
        .args(["convert", "-", "-o", "-", "--key-file"])
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Header, key area and INFO, then the first five audio chunks; the input then
    // stays open, as a live recording's would.
    let info_end = {
        let ext = u16::from_be_bytes([bytes[28], bytes[29]]) as usize;
        let h = 128 + ext;
        let keys = 4 + 2 * u32::from_be_bytes(bytes[h..h + 4].try_into().unwrap()) as usize;
        let at = h + keys;
        at + 12 + u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize + 16
    };
    let fed = info_end + 5 * chunk;
    stdin.write_all(&bytes[..fed]).unwrap();
    stdin.flush().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut got = 0usize;
        let mut buf = [0u8; 65536];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            got += n;
            let _ = tx.send(got);
        }
    });
    // Five seconds of 8 kHz 16-bit mono audio, and the WAV header, with no more input.
    let want = 5 * 16000;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = 0;
    while got < want {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(n) => got = n,
            Err(_) => break,
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    assert!(
        got >= want,
        "only {got} bytes of output for five whole chunks of input"
    );
}

#[test]
fn recovering_a_recovered_or_bound_file_keeps_one_event_and_the_binding() {
    // Review findings: `recover` of a recovered file wrote two sasf.recovered events
    // (a file `verify` refused), ignored --expect-id, and dropped the context binding.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let whole = d.join("call-0001.sasf");
    pack_bound(d, &key, "call-0001", &whole);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = d.join("cut.sasf");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let recover = |from: &Path, to: &Path, extra: &[&str]| {
        sasf()
            .arg("recover")
            .arg(from)
            .arg("-o")
            .arg(to)
            .arg("--key-file")
            .arg(&key)
            .args(extra)
            .output()
            .unwrap()
    };
    let r1 = d.join("r1.sasf");
    let o = recover(
        &cut,
        &r1,
        &["--expect-id", "call-0002", "--expect-tenant", "acme"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("context mismatch"));
    assert!(!r1.exists());
    let o = recover(
        &cut,
        &r1,
        &["--expect-id", "call-0001", "--expect-tenant", "acme"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A complete file has nothing to recover: nothing is written.
    let r2 = d.join("r2.sasf");
    let o = recover(&r1, &r2, &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing written"));
    assert!(!r2.exists());
    // A recovered file cut short again, inside its END chunk: its own sasf.recovered
    // event is in the part kept.
    let b1 = std::fs::read(&r1).unwrap();
    let r1cut = d.join("r1cut.sasf");
    std::fs::write(&r1cut, &b1[..b1.len() - 20]).unwrap();
    let o = recover(&r1cut, &r2, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A changed chunk is not a truncation: salvaging past it must be asked for.
    let mut bad = b1.clone();
    let n = bad.len();
    bad[n / 2] ^= 0x20;
    let badf = d.join("bad.sasf");
    std::fs::write(&badf, &bad).unwrap();
    let r3 = d.join("r3.sasf");
    let o = recover(&badf, &r3, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--allow-auth-failure"));
    assert!(!r3.exists());
    let o = recover(&badf, &r3, &["--allow-auth-failure"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [&r1, &r2, &r3] {
        let o = sasf()
            .args(["verify", "--json", "--key-file"])
            .arg(&key)
            .args(["--expect-id", "call-0001", "--expect-tenant", "acme"])
            .arg(f)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{f:?}: {out}");
        assert!(out.contains("\"recovered\":true"), "{out}");
    }
    // The second recovery keeps the first one's account as `previous`.
    let meta = d.join("r2.json");
    sasf()
        .args(["extract"])
        .arg(&r2)
        .arg("--meta")
        .arg(&meta)
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    let recovered: Vec<&serde_json::Value> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"] == "sasf.recovered")
        .collect();
    assert_eq!(recovered.len(), 1);
    assert!(
        recovered[0]["value"]["previous"].is_object(),
        "{}",
        recovered[0]
    );
}

#[test]
fn strings_from_a_file_cannot_drive_the_terminal_and_verify_prints_the_file_digest() {
    // Issue 14: a forged recording id carrying escape codes rewrote the screen in
    // `info`. Every control character but the line break is shown escaped.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let meta = d.join("m.json");
    std::fs::write(
        &meta,
        r#"{"recording": {"id": "call\u001b[2J\u001b[Hintegrity:     aes-256-gcm"}}"#,
    )
    .unwrap();
    let file = d.join("x.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&file)
        .arg("--meta")
        .arg(&meta)
        .assert()
        .success();
    let o = sasf().arg("info").arg(&file).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(
        !o.stdout.contains(&0x1b),
        "a raw escape byte reached the terminal"
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(r"call\u{1b}[2J"), "{text}");
    // The file digest (FORMAT.md §11) pins every stored byte; it is what verify shows.
    let o = sasf()
        .args(["verify", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let digest = v["file_digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    let o = sasf().args(["info", "--json"]).arg(&file).output().unwrap();
    let i: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(i["file_digest"].as_str(), Some(digest));
}
