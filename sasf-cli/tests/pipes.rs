//! Exit codes on closed pipes, and verify's rule for a batch.
//!
//! `CLOSED_STDOUT` lists every command that writes to stdout. Each is started with
//! stdout a pipe whose reader is closed at once (as `sasf ... | head -c0` does); it
//! must exit 0 with no panic. It runs twice: once with stderr captured (to check it
//! for panic text), once with stderr closed too (`2>&1 | head`).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{keygen, pack_sample, sample, sample_meta, stderr_of};
use tempfile::TempDir;

/// Commands that write to stdout; `D/` is the fixture directory (see `fixtures`).
const CLOSED_STDOUT: &[&[&str]] = &[
    &["verify", "D/a.sasf", "D/a.sasf", "D/a.sasf", "D/a.sasf"],
    &["verify", "--json", "D/a.sasf", "D/a.sasf"],
    &["verify", "D/a.sasf", "D/missing.sasf", "D/bad.sasf"],
    &["info", "D/a.sasf"],
    &["info", "--json", "D/a.sasf"],
    &["info", "D/e.sasf"],
    &["extract", "D/a.sasf", "--meta", "-"],
    &["extract", "D/a.sasf", "--meta", "D/m.json", "--audio", "-"],
    &["convert", "D/a.sasf", "-o", "-"],
    &["convert", "D/a.sasf", "-o", "-", "--pcm16"],
    &["convert", "D/a.sasf", "-o", "-", "--from", "2", "--to", "9"],
    &["convert", "-", "-o", "-", "--from", "2", "--to", "9"],
    &[
        "extract", "D/a.sasf", "--meta", "-", "--from", "2", "--to", "9",
    ],
    &["pack", "D/call.wav", "-o", "-"],
    &["pack", "D/call.wav", "-o", "-", "--meta", "D/call.json"],
    &["recover", "D/a.sasf", "-o", "-"],
    &[
        "merge",
        "--adhoc",
        "D/call.wav",
        "--snippet",
        "D/snip.sasf",
        "-o",
        "-",
        "--adhoc-start",
        "2026-11-23T10:14:50Z",
    ],
    &[
        "session",
        "D/actions.json",
        "--audio",
        "D/call.wav",
        "-o",
        "D/out",
    ],
    &["completions", "bash"],
    &["completions", "zsh"],
    &["--help"],
    &["man", "--help"],
    &["--version"],
];

fn fixtures() -> TempDir {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = keygen(d);
    fs::copy(sample(), d.join("call.wav")).unwrap();
    fs::copy(sample_meta(), d.join("call.json")).unwrap();
    pack_sample(&d.join("a.sasf"));
    let mut bad = fs::read(d.join("a.sasf")).unwrap();
    let n = bad.len();
    bad[n / 2] ^= 1;
    fs::write(d.join("bad.sasf"), bad).unwrap();
    common::sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(d.join("e.sasf"))
        .arg("--key-file")
        .arg(&key)
        .arg("--encrypt")
        .assert()
        .success();
    common::sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(d.join("snip.sasf"))
        .arg("--meta")
        .arg(sample_meta())
        .assert()
        .success();
    fs::write(
        d.join("actions.json"),
        r#"[{"at_ms": 1000, "action": "snippet_start", "by": "a1"}]"#,
    )
    .unwrap();
    dir
}

fn run_closed(d: &Path, args: &[&str], close_stderr: bool) -> (Option<i32>, String) {
    let dp = format!("{}/", d.display());
    let args: Vec<String> = args.iter().map(|a| a.replace("D/", &dp)).collect();
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("sasf"));
    c.args(&args)
        .env_remove("SASF_KEY_FILE")
        .stdin(Stdio::from(fs::File::open(d.join("a.sasf")).unwrap()))
        .stdout(Stdio::piped())
        .stderr(if close_stderr {
            Stdio::piped()
        } else {
            Stdio::from(fs::File::create(d.join("stderr.txt")).unwrap())
        });
    let mut child = c.spawn().unwrap();
    // Close the readers before sasf writes anything.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    let err = fs::read_to_string(d.join("stderr.txt")).unwrap_or_default();
    // A session writes into out/, which must be new for the next run.
    let _ = fs::remove_dir_all(d.join("out"));
    let _ = fs::remove_file(d.join("m.json"));
    (status.code(), err)
}

#[test]
fn every_command_exits_0_on_a_closed_stdout() {
    let dir = fixtures();
    let d = dir.path();
    for args in CLOSED_STDOUT {
        let (code, err) = run_closed(d, args, false);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        let (code, _) = run_closed(d, args, true);
        assert_eq!(code, Some(0), "{args:?} with stderr closed too");
    }
}

/// `sasf verify` over a batch: (files, expected exit, the summary on stderr).
const BATCHES: &[(&[&str], i32, &str)] = &[
    (&["a.sasf", "a.sasf"], 0, "sasf: 2 OK\n"),
    (&["a.sasf", "bad.sasf"], 1, "sasf: 1 OK, 1 FAILED\n"),
    (&["a.sasf", "missing.sasf"], 2, "sasf: 1 OK, 1 unreadable\n"),
    // A file that cannot be read must not hide one that failed: 1, not 2.
    (
        &["missing.sasf", "bad.sasf", "a.sasf"],
        1,
        "sasf: 1 OK, 1 FAILED, 1 unreadable\n",
    ),
    (
        &["bad.sasf", "missing.sasf"],
        1,
        "sasf: 0 OK, 1 FAILED, 1 unreadable\n",
    ),
    // An encrypted file without a key could not be checked: unreadable.
    (&["e.sasf", "a.sasf"], 2, "sasf: 1 OK, 1 unreadable\n"),
];

#[test]
fn verify_exit_code_keeps_a_failure_visible_and_ends_with_a_summary() {
    let dir = fixtures();
    let d = dir.path();
    for (files, exit, summary) in BATCHES {
        for json in [false, true] {
            let mut c = common::sasf();
            c.arg("verify").args(files.iter().map(|f| d.join(f)));
            if json {
                c.arg("--json");
            }
            let out = c.output().unwrap();
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(*exit), "{files:?}: {err}");
            assert!(err.ends_with(summary), "{files:?}: {err}");
            let text = String::from_utf8(out.stdout).unwrap();
            assert_eq!(text.lines().count(), files.len(), "{text}");
            if json {
                // Still one JSON object per line, nothing else.
                for line in text.lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    assert!(v["file"].is_string(), "{line}");
                }
            }
        }
    }
    let out = common::sasf()
        .args(["verify", "--json"])
        .arg(d.join("missing.sasf"))
        .arg(d.join("bad.sasf"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\"ok\":false"), "{text}");
    let text_out = common::sasf()
        .arg("verify")
        .arg(d.join("missing.sasf"))
        .arg(d.join("bad.sasf"))
        .output()
        .unwrap();
    let text = String::from_utf8(text_out.stdout).unwrap();
    assert!(
        text.contains("missing.sasf: UNREADABLE: cannot open"),
        "{text}"
    );
    assert!(text.contains("bad.sasf: FAILED: "), "{text}");
}

#[test]
fn verify_silent_prints_only_failures() {
    let dir = fixtures();
    let d = dir.path();
    for flag in ["-s", "--silent", "--quiet"] {
        // All OK: nothing at all, exit 0 (as flac -s).
        let out = common::sasf()
            .args(["verify", flag])
            .arg(d.join("a.sasf"))
            .arg(d.join("a.sasf"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(
            out.stdout.is_empty() && stderr_of(&out).is_empty(),
            "{flag}"
        );
        // A failure: only its line, and the summary.
        let out = common::sasf()
            .args(["verify", flag])
            .arg(d.join("a.sasf"))
            .arg(d.join("bad.sasf"))
            .arg(d.join("missing.sasf"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{flag}: {text}");
        assert!(!text.contains("a.sasf: OK"), "{flag}: {text}");
        assert!(stderr_of(&out).contains("1 OK, 1 FAILED, 1 unreadable"));
    }
}
