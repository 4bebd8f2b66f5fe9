//! What `sasf` refuses so that no data is lost, and how it exits on closed pipes.
//!
//! Read the `CASES` table as documentation: each row is a command line run in a fresh
//! directory holding the fixtures below, its exit code, a piece of its stderr, and
//! what must be true of the files afterwards. Every file not named in `files` must be
//! exactly as it was, and no other file may appear (no temporary file left behind).
//!
//! Fixtures in each directory: `k.key`; `call.wav` (the sample call); `enc.sasf`
//! (it, encrypted with k.key); `plain.sasf` (it, keyless); `keep.wav` and `keep.json`
//! (bytes that must survive); `hard.wav` (a hard link to enc.sasf); `sym.sasf` (a
//! symlink to enc.sasf). Commands run with umask 022, so a 0600 mode is sasf's doing.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{keygen, sample, stderr_of};
use tempfile::TempDir;

/// What must be true of one file after the command.
#[derive(Debug, Clone, Copy)]
enum After {
    /// Absent (never created, or nothing left behind).
    Absent,
    /// Present, and different from before (replaced or created).
    Written,
    /// Present, with this mode (and different from before).
    Mode(u32),
}

use After::*;

struct Case {
    /// Why the row exists.
    what: &'static str,
    /// The arguments; `D/` is replaced by the fixture directory.
    args: &'static [&'static str],
    /// A fixture file to give as stdin (otherwise stdin is empty).
    stdin: Option<&'static str>,
    /// Extra environment.
    env: &'static [(&'static str, &'static str)],
    exit: i32,
    /// A piece of stderr ("" for any).
    stderr: &'static str,
    /// Files whose state changes; every other file stays as it was.
    files: &'static [(&'static str, After)],
}

const K: &str = "--key-file=D/k.key";

const CASES: &[Case] = &[
    // --- an output is never an input, even with -f ---
    Case {
        what: "convert onto its own input",
        args: &["convert", "D/enc.sasf", "-o", "D/enc.sasf", K],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "is the same file as the input",
        files: &[],
    },
    Case {
        what: "convert onto its own input, with -f",
        args: &["convert", "D/enc.sasf", "-f", "-o", "D/enc.sasf", K],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "refused even with --force",
        files: &[],
    },
    Case {
        what: "pack onto its own WAV, with -f",
        args: &["pack", "D/call.wav", "-f", "-o", "D/call.wav"],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "is the same file as the input",
        files: &[],
    },
    Case {
        what: "recover onto its own input, with -f",
        args: &["recover", "D/enc.sasf", "-f", "-o", "D/enc.sasf", K],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "is the same file as the input",
        files: &[],
    },
    Case {
        what: "the same file through a hard link (device and inode, not the name)",
        args: &["convert", "D/enc.sasf", "-f", "-o", "D/hard.wav", K],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "is the same file as the input",
        files: &[],
    },
    Case {
        what: "the same file through a symlink",
        args: &["recover", "D/enc.sasf", "-f", "-o", "D/sym.sasf", K],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "is the same file as the input",
        files: &[],
    },
    Case {
        what: "the same file as stdin",
        args: &["convert", "-", "-f", "-o", "D/hard.wav", K],
        stdin: Some("enc.sasf"),
        env: &[],
        exit: 2,
        stderr: "is the same file as the input <stdin>",
        files: &[],
    },
    // --- an existing output needs -f ---
    Case {
        what: "convert over an existing file",
        args: &["convert", "D/enc.sasf", "-o", "D/keep.wav", K],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "keep.wav: already exists; give -f/--force",
        files: &[],
    },
    Case {
        what: "pack over an existing file",
        args: &["pack", "D/call.wav", "-o", "D/plain.sasf"],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "already exists",
        files: &[],
    },
    Case {
        what: "extract over an existing file",
        args: &["extract", "D/plain.sasf", "--meta", "D/keep.json"],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "already exists",
        files: &[],
    },
    Case {
        what: "merge over an existing file",
        args: &[
            "merge",
            "--adhoc",
            "D/call.wav",
            "--snippet",
            "D/plain.sasf",
            "-o",
            "D/enc.sasf",
        ],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "already exists",
        files: &[],
    },
    Case {
        what: "convert over an existing file with -f replaces it (decrypted: 0600)",
        args: &["convert", "D/enc.sasf", "-f", "-o", "D/keep.wav", K],
        stdin: None,
        env: &[],
        exit: 0,
        stderr: "",
        files: &[("keep.wav", Mode(0o600))],
    },
    Case {
        what: "a device is written in place, without -f",
        args: &["convert", "D/plain.sasf", "-o", "/dev/null"],
        stdin: None,
        env: &[],
        exit: 0,
        stderr: "",
        files: &[],
    },
    // --- the name says what is written ---
    Case {
        what: "convert to .ogg: we write WAV and FLAC only",
        args: &["convert", "D/plain.sasf", "-o", "D/out.ogg"],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "sasf writes WAV and FLAC only: pipe it to a converter, e.g. `sasf convert … -o - | ffmpeg -i - OUT.ogg`",
        files: &[("out.ogg", Absent)],
    },
    Case {
        what: "convert to .mp3",
        args: &["convert", "D/plain.sasf", "-o", "D/out.MP3"],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "`sasf convert … -o - | ffmpeg -i - OUT.mp3`, or convert a .wav with `sox OUT.wav OUT.mp3`",
        files: &[],
    },
    Case {
        what: "pack to .wav",
        args: &["pack", "D/call.wav", "-o", "D/out.wav"],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "a .wav name for SASF data; name it .sasf",
        files: &[],
    },
    Case {
        what: "extract --audio to .json",
        args: &[
            "extract",
            "D/plain.sasf",
            "--meta",
            "D/m.json",
            "--audio",
            "D/a.json",
        ],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "a .json name for WAV data",
        files: &[],
    },
    // --- two outputs of one command ---
    Case {
        what: "extract --meta X --audio X",
        args: &[
            "extract",
            "D/plain.sasf",
            "--meta",
            "D/x.wav",
            "--audio",
            "D/x.wav",
        ],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "are the same file",
        files: &[],
    },
    Case {
        what: "extract --meta X --audio X, spelt differently and with -f",
        args: &[
            "extract",
            "D/plain.sasf",
            "-f",
            "--meta",
            "D/x.json",
            "--audio",
            "D/./x.json",
        ],
        stdin: None,
        env: &[],
        exit: 2,
        stderr: "are the same file",
        files: &[],
    },
    // --- decrypted outputs are private ---
    Case {
        what: "convert of an encrypted file: 0600",
        args: &["convert", "D/enc.sasf", "-o", "D/out.wav", K],
        stdin: None,
        env: &[],
        exit: 0,
        stderr: "",
        files: &[("out.wav", Mode(0o600))],
    },
    Case {
        what: "the same without O_TMPFILE (the named temporary file fallback): 0600",
        args: &["convert", "D/enc.sasf", "-o", "D/out.wav", K],
        stdin: None,
        env: &[("SASF_NO_O_TMPFILE", "1")],
        exit: 0,
        stderr: "",
        files: &[("out.wav", Mode(0o600))],
    },
    Case {
        what: "extract of an encrypted file: both outputs 0600",
        args: &[
            "extract",
            "D/enc.sasf",
            "--meta",
            "D/m.json",
            "--audio",
            "D/a.wav",
            K,
        ],
        stdin: None,
        env: &[],
        exit: 0,
        stderr: "",
        files: &[("m.json", Mode(0o600)), ("a.wav", Mode(0o600))],
    },
    Case {
        what: "convert of a keyless file: the usual 0666 less umask",
        args: &["convert", "D/plain.sasf", "-o", "D/out.wav"],
        stdin: None,
        env: &[],
        exit: 0,
        stderr: "",
        files: &[("out.wav", Mode(0o644))],
    },
    Case {
        what: "pack still works, and writes a new file",
        args: &["pack", "D/call.wav", "-o", "D/new.sasf", K, "--encrypt"],
        stdin: None,
        env: &[],
        exit: 0,
        stderr: "",
        files: &[("new.sasf", Written)],
    },
];

/// A fresh directory with the fixtures.
fn fixtures() -> TempDir {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = keygen(d);
    fs::copy(sample(), d.join("call.wav")).unwrap();
    for (name, extra) in [("enc.sasf", true), ("plain.sasf", false)] {
        let mut c = common::sasf();
        c.arg("pack")
            .arg(d.join("call.wav"))
            .arg("-o")
            .arg(d.join(name));
        if extra {
            c.arg("--key-file").arg(&key).arg("--encrypt");
        }
        c.assert().success();
    }
    fs::write(d.join("keep.wav"), b"keep me").unwrap();
    fs::write(d.join("keep.json"), b"{\"keep\": true}").unwrap();
    fs::hard_link(d.join("enc.sasf"), d.join("hard.wav")).unwrap();
    std::os::unix::fs::symlink(d.join("enc.sasf"), d.join("sym.sasf")).unwrap();
    dir
}

/// Every file in `dir` with the SHA-256 of its contents (symlinks: of their target).
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let v = if m.file_type().is_symlink() {
                fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                fs::read(&p).unwrap()
            };
            let h: String = Sha256::digest(&v)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (e.file_name().to_string_lossy().into_owned(), h)
        })
        .collect()
}

fn sasf_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("sasf")
}

/// `sasf ARGS` under umask 022.
fn umask_022(args: &[String]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(sasf_bin())
        .args(args)
        .env_remove("SASF_KEY_FILE");
    c
}

#[test]
fn the_table() {
    for case in CASES {
        let dir = fixtures();
        let d = dir.path();
        let before = snapshot(d);
        let dp = format!("{}/", d.display());
        let args: Vec<String> = case.args.iter().map(|a| a.replace("D/", &dp)).collect();
        let mut c = umask_022(&args);
        for (k, v) in case.env {
            c.env(k, v);
        }
        c.stdin(match case.stdin {
            Some(f) => Stdio::from(fs::File::open(d.join(f)).unwrap()),
            None => Stdio::null(),
        });
        let out = c.output().unwrap();
        let err = stderr_of(&out);
        let what = case.what;
        assert_eq!(out.status.code(), Some(case.exit), "{what}: {err}");
        assert!(err.contains(case.stderr), "{what}: stderr was: {err}");
        let after = snapshot(d);
        for (name, state) in case.files {
            let p = d.join(name);
            match state {
                Absent => assert!(!after.contains_key(*name), "{what}: {name} exists"),
                Written | Mode(_) => {
                    assert!(after.contains_key(*name), "{what}: no {name}");
                    assert_ne!(before.get(*name), after.get(*name), "{what}: {name}");
                }
            }
            if let Mode(m) = state {
                let got = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(got, *m, "{what}: mode of {name} is {got:o}");
            }
        }
        // Everything else exactly as it was, and nothing new (no temporary file).
        let changed: Vec<&str> = case.files.iter().map(|(n, _)| *n).collect();
        let rest = |m: &BTreeMap<String, String>| {
            m.iter()
                .filter(|(k, _)| !changed.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(rest(&before) == rest(&after), "{what}: {:?}", after.keys());
    }
}

/// Runs `line` (a shell command) on a pseudo-terminal, through util-linux `script`;
/// returns its exit code and what the terminal showed.
fn on_a_terminal(line: &str) -> (i32, String) {
    let out = Command::new("script")
        .args(["-qec", line, "/dev/null"])
        .env_remove("SASF_KEY_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn binary_output_is_refused_on_a_terminal() {
    let dir = fixtures();
    let d = dir.path().display().to_string();
    let s = sasf_bin().display().to_string();
    for line in [
        format!("{s} pack {d}/call.wav -o -"),
        format!("{s} convert {d}/plain.sasf -o -"),
        format!("{s} extract {d}/plain.sasf --meta {d}/m.json --audio -"),
        format!("{s} recover {d}/plain.sasf -o -"),
    ] {
        let (code, shown) = on_a_terminal(&line);
        assert_eq!(code, 2, "{line}: {shown}");
        assert!(shown.contains("refusing to write"), "{line}: {shown}");
        assert!(
            !shown.contains("RIFF") && shown.len() < 500,
            "{line}: {shown}"
        );
    }
    // Text is fine on a terminal.
    let (code, shown) = on_a_terminal(&format!("{s} extract {d}/plain.sasf --meta -"));
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("\"participants\""), "{shown}");
}

#[test]
fn an_encrypted_session_report_is_private_and_keeps_no_secrets() {
    let dir = fixtures();
    let d = dir.path();
    let actions = d.join("actions.json");
    fs::write(
        &actions,
        r#"[{"at_ms": 1000, "action": "snippet_start", "by": "agent-ann"},
            {"at_ms": 4000, "action": "disconnect", "by": "cust-carl", "reason": "said goodbye secretly"}]"#,
    )
    .unwrap();
    let run = |out: &str, encrypt: bool| {
        let mut args = vec![
            "session".to_string(),
            actions.display().to_string(),
            "--audio".into(),
            d.join("call.wav").display().to_string(),
            "-o".into(),
            d.join(out).display().to_string(),
            format!("--key-file={}", d.join("k.key").display()),
        ];
        if encrypt {
            args.push("--encrypt".into());
        }
        let o = umask_022(&args).output().unwrap();
        assert!(o.status.success(), "{}", stderr_of(&o));
        let report = d.join(out).join("report.json");
        let mode = fs::metadata(&report).unwrap().permissions().mode() & 0o777;
        (mode, fs::read_to_string(report).unwrap())
    };
    let (mode, text) = run("enc", true);
    assert_eq!(mode, 0o600);
    for secret in ["agent-ann", "cust-carl", "said goodbye"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["redacted"].as_str().unwrap().contains("participant ids"));
    assert_eq!(v["actions"][0]["action"], "snippet_start");
    // Authenticated only: the report is as before, whole.
    let (mode, text) = run("hmac", false);
    assert_eq!(mode, 0o644);
    assert!(text.contains("agent-ann") && text.contains("said goodbye secretly"));
}

/// A file entry in `dir` that is not one of the fixtures, or an open file of `pid`
/// inside `dir` (an O_TMPFILE has no entry): whether `sasf` has started its output.
fn output_started(dir: &Path, pid: u32) -> bool {
    let fds = fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten();
    let dir_s = dir.display().to_string();
    let open_in_dir = fds
        .filter_map(|e| fs::read_link(e.path()).ok())
        .any(|t| t.starts_with(&dir_s) && !t.ends_with("k.key"));
    let part = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".part"));
    open_in_dir || part
}

/// A WAV of `seconds` of 8 kHz mono 16-bit noise.
fn long_wav(seconds: u32) -> Vec<u8> {
    let data_len = seconds * 8000 * 2;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    let mut x = 1u32;
    for _ in 0..data_len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        w.push((x >> 24) as u8);
    }
    w
}

/// Starts `sasf convert - -o out.wav` on an encrypted stream fed through a pipe we
/// hold open (the first half of 120 one-second chunks, more than the reader reads
/// ahead), waits until its output exists, sends `signal`, and checks that nothing is
/// left in the directory.
fn interrupted_convert_leaves_nothing(signal: &str, env: &[(&str, &str)]) {
    let dir = fixtures();
    let d = dir.path();
    let wav = d.join("long.wav");
    fs::write(&wav, long_wav(120)).unwrap();
    common::sasf()
        .arg("pack")
        .arg(&wav)
        .arg("-o")
        .arg(d.join("long.sasf"))
        .arg(format!("--key-file={}", d.join("k.key").display()))
        .arg("--encrypt")
        .assert()
        .success();
    let before = snapshot(d);
    let enc = fs::read(d.join("long.sasf")).unwrap();
    let mut c = Command::new(sasf_bin());
    c.args(["-j", "1", "convert", "-", "-o"])
        .arg(d.join("out.wav"))
        .arg(format!("--key-file={}", d.join("k.key").display()))
        .env_remove("SASF_KEY_FILE")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The header and half the chunks; the rest never comes while we wait.
    stdin.write_all(&enc[..enc.len() / 2]).unwrap();
    stdin.flush().unwrap();
    let t0 = Instant::now();
    while !output_started(d, child.id()) {
        assert!(t0.elapsed() < Duration::from_secs(20), "no output started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    drop(stdin);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    use std::os::unix::process::ExitStatusExt;
    let want = if signal == "INT" { 2 } else { 15 };
    assert_eq!(status.signal(), Some(want), "{signal}: {status:?} {err}");
    assert_eq!(
        snapshot(d),
        before,
        "{signal} {env:?}: something was left behind"
    );
}

#[test]
fn sigint_and_sigterm_during_convert_leave_nothing_behind() {
    for signal in ["INT", "TERM"] {
        // O_TMPFILE: nothing ever has a name before the commit.
        interrupted_convert_leaves_nothing(signal, &[]);
        // The fallback: a hidden .part file, removed by the signal handler.
        interrupted_convert_leaves_nothing(signal, &[("SASF_NO_O_TMPFILE", "1")]);
    }
}
