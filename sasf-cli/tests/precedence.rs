//! Recording precedence through the `sasf` binary: `sasf merge` (an ad hoc WAV into
//! the snippet that started while it ran) and `sasf session` (a call's actions replayed
//! over its audio), as a recorder vendor would use them.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{json, Value};
use tempfile::TempDir;

mod common;
use common::*;

/// The sample call: µ-law, 2 channels, 8000 Hz (2 bytes per frame).
const BA: usize = 2;
const RATE: usize = 8000;

fn call_samples() -> Vec<u8> {
    wav_data(&fs::read(sample()).unwrap())
}

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = id.to_vec();
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(body);
    if body.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// A WAV of µ-law samples with `channels` channels at 8000 Hz and, if given, a BWF
/// `bext` chunk with that origination date and time.
fn mulaw_wav(samples: &[u8], channels: u16, bext: Option<(&str, &str)>) -> Vec<u8> {
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&7u16.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&8000u32.to_le_bytes());
    fmt.extend_from_slice(&(8000 * channels as u32).to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&8u16.to_le_bytes());
    fmt.extend_from_slice(&0u16.to_le_bytes());
    let mut chunks = vec![chunk(b"fmt ", &fmt)];
    if let Some((date, time)) = bext {
        let mut b = vec![0u8; 602];
        b[320..330].copy_from_slice(date.as_bytes());
        b[330..338].copy_from_slice(time.as_bytes());
        chunks.push(chunk(b"bext", &b));
    }
    chunks.push(chunk(b"data", samples));
    let body = chunks.concat();
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&(4 + body.len() as u32).to_le_bytes());
    v.extend_from_slice(b"WAVE");
    v.extend_from_slice(&body);
    v
}

fn secs(s: f64) -> usize {
    (s * RATE as f64) as usize * BA
}

const META: &str = r#"{
  "recording": {"id": "call-7", "started_at": "2026-11-23T10:15:04Z", "channels": ["agent", "customer"]},
  "participants": [
    {"id": "a1", "name": "Ann Agent", "role": "agent", "channels": [0]},
    {"id": "c1", "name": "Carl Customer", "role": "customer", "channels": [1]}
  ],
  "events": [
    {"at_ms": 0, "type": "snippet_start", "participant": "a1"},
    {"at_ms": 1000, "type": "hold", "participant": "a1"},
    {"at_ms": 2500, "type": "resume", "participant": "a1"},
    {"at_ms": 6000, "type": "disconnect", "reason": "hangup"}
  ]
}"#;

/// A directory with a key, an ad hoc WAV of the call's first 6 s (bext 10:15:00), and
/// an encrypted snippet of the call from 4 s to 10 s starting at 10:15:04Z.
struct Fixture {
    dir: TempDir,
    key: PathBuf,
    adhoc: PathBuf,
    snippet: PathBuf,
    call: Vec<u8>,
}

fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let call = call_samples();
    let adhoc = d.join("adhoc.wav");
    fs::write(
        &adhoc,
        mulaw_wav(&call[..secs(6.0)], 2, Some(("2026-11-23", "10:15:00"))),
    )
    .unwrap();
    let snip_wav = d.join("snip-src.wav");
    fs::write(&snip_wav, mulaw_wav(&call[secs(4.0)..secs(10.0)], 2, None)).unwrap();
    fs::write(d.join("snip.json"), META).unwrap();
    let snippet = d.join("snip.sasf");
    sasf()
        .arg("pack")
        .arg(&snip_wav)
        .arg("-o")
        .arg(&snippet)
        .arg("--meta")
        .arg(d.join("snip.json"))
        .arg("--encrypt")
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success();
    fs::remove_file(&snip_wav).unwrap();
    fs::remove_file(d.join("snip.json")).unwrap();
    Fixture {
        dir,
        key,
        adhoc,
        snippet,
        call,
    }
}

/// `sasf extract`: the metadata document and the audio samples.
fn extract(file: &Path, key: Option<&Path>) -> (Value, Vec<u8>) {
    let out = TempDir::new().unwrap();
    let (m, a) = (out.path().join("m.json"), out.path().join("a.wav"));
    let mut c = sasf();
    c.arg("extract")
        .arg(file)
        .arg("--meta")
        .arg(&m)
        .arg("--audio")
        .arg(&a);
    if let Some(k) = key {
        c.arg("--key-file").arg(k);
    }
    c.assert().success();
    let meta: Value = serde_json::from_str(&fs::read_to_string(&m).unwrap()).unwrap();
    (meta, wav_data(&fs::read(&a).unwrap()))
}

fn events(meta: &Value) -> Vec<(u64, String)> {
    meta["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["at_ms"].as_u64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn merge_puts_the_adhoc_prefix_before_the_snippet_and_shifts_its_events() {
    let f = fixture();
    let d = f.dir.path();
    let before = (fs::read(&f.adhoc).unwrap(), fs::read(&f.snippet).unwrap());
    let out = d.join("merged.sasf");
    let run = sasf()
        .args(["merge", "--adhoc"])
        .arg(&f.adhoc)
        .arg("--snippet")
        .arg(&f.snippet)
        .arg("-o")
        .arg(&out)
        .arg("--key-file")
        .arg(&f.key)
        .assert()
        .success()
        .get_output()
        .clone();
    let msg = stderr_of(&run);
    assert!(msg.contains("00:00:10.000"), "{msg}");
    assert!(
        msg.contains("00:00:02.000 of ad hoc audio overlapped"),
        "{msg}"
    );
    // The inputs are untouched; the output verifies, and is encrypted like the snippet.
    assert_eq!(fs::read(&f.adhoc).unwrap(), before.0);
    assert_eq!(fs::read(&f.snippet).unwrap(), before.1);
    sasf()
        .arg("verify")
        .arg(&out)
        .arg("--key-file")
        .arg(&f.key)
        .assert()
        .success();
    sasf().arg("verify").arg(&out).assert().code(2); // needs the key
    let info = sasf().args(["info", "--json"]).arg(&out).output().unwrap();
    let info: Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["header"]["integrity"], "aes-256-gcm", "{info}");

    let (meta, audio) = extract(&out, Some(&f.key));
    // The ad hoc audio up to the snippet's start (4 s), then the snippet's: bit-exact.
    assert!(audio == f.call[..secs(10.0)], "merged audio differs");
    assert_eq!(meta["recording"]["started_at"], "2026-11-23T10:15:00Z");
    assert_eq!(meta["recording"]["id"], "call-7");
    assert_eq!(meta["participants"].as_array().unwrap().len(), 2);
    assert_eq!(
        events(&meta),
        [
            (0, "adhoc_start".to_string()),
            (4000, "custom".to_string()),
            (4000, "snippet_start".to_string()),
            (5000, "hold".to_string()),
            (6500, "resume".to_string()),
            (10000, "disconnect".to_string()),
        ]
    );
    let merge = &meta["events"][1];
    assert_eq!(merge["key"], "sasf.merge");
    assert_eq!(merge["value"]["adhoc"], "adhoc.wav");
    assert_eq!(merge["value"]["snippet"], "snip.sasf");
    assert_eq!(merge["value"]["adhoc_samples"], 32000);
    assert_eq!(merge["value"]["adhoc_samples_dropped"], 16000);
    // The snippet's own snippet_start (with its participant) is kept, not doubled.
    assert_eq!(meta["events"][2]["participant"], "a1");

    // --adhoc-start overrides bext: starting 1 s later, 1 s less ad hoc audio.
    let out2 = d.join("merged2.sasf");
    sasf()
        .args(["merge", "--adhoc"])
        .arg(&f.adhoc)
        .arg("--snippet")
        .arg(&f.snippet)
        .arg("-o")
        .arg(&out2)
        .args(["--adhoc-start", "2026-11-23T11:15:01+01:00"])
        .arg("--key-file")
        .arg(&f.key)
        .assert()
        .success();
    let (meta, audio) = extract(&out2, Some(&f.key));
    assert_eq!(meta["recording"]["started_at"], "2026-11-23T10:15:01Z");
    let mut want = f.call[..secs(3.0)].to_vec();
    want.extend_from_slice(&f.call[secs(4.0)..secs(10.0)]);
    assert!(audio == want, "merged audio differs");
}

#[test]
fn merge_errors_exit_2_and_leave_nothing_behind() {
    let f = fixture();
    let d = f.dir.path();
    let call = &f.call;
    fs::write(
        d.join("mono.wav"),
        mulaw_wav(&call[..8000], 1, Some(("2026-11-23", "10:15:00"))),
    )
    .unwrap();
    // 2 s of audio from 10:15:00: it ended 2 s before the snippet started.
    fs::write(
        d.join("short.wav"),
        mulaw_wav(&call[..secs(2.0)], 2, Some(("2026-11-23", "10:15:00"))),
    )
    .unwrap();
    fs::write(d.join("nobext.wav"), mulaw_wav(&call[..secs(6.0)], 2, None)).unwrap();
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(d.join("nostart.sasf"))
        .assert()
        .success();
    let before = listing(d);
    let merged = d.join("o.sasf");
    let key = f.key.clone();
    let run = |adhoc: &str, snippet: &Path, extra: &[&str]| {
        let mut c = sasf();
        c.arg("merge")
            .arg("--adhoc")
            .arg(d.join(adhoc))
            .arg("--snippet")
            .arg(snippet)
            .arg("-o")
            .arg(&merged)
            .arg("--key-file")
            .arg(&key)
            .args(extra);
        c
    };
    let cases: Vec<(Command, &str)> = vec![
        (
            run("mono.wav", &f.snippet, &[]),
            "1 channel, 8000 Hz but the snippet is G.711 µ-law, 2 channels",
        ),
        (
            run(
                "adhoc.wav",
                &f.snippet,
                &["--adhoc-start", "2026-11-23T10:15:05Z"],
            ),
            "after the snippet",
        ),
        (
            run("short.wav", &f.snippet, &[]),
            "ends 2000 ms before the snippet starts",
        ),
        (run("nobext.wav", &f.snippet, &[]), "no BWF bext"),
        (
            run("adhoc.wav", &f.snippet, &["--adhoc-start", "10:15"]),
            "not an RFC 3339",
        ),
        (
            // A keyless snippet given with a key: accepted only when asked for.
            run("adhoc.wav", &d.join("nostart.sasf"), &["--require", "any"]),
            "no start time",
        ),
        (
            run("adhoc.wav", &d.join("missing.sasf"), &[]),
            "missing.sasf",
        ),
    ];
    for (mut c, needle) in cases {
        let out = c.assert().code(2).get_output().clone();
        let err = stderr_of(&out);
        assert!(err.contains(needle), "{needle}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert_eq!(listing(d), before, "{needle}: something was left behind");
    }
    // The output may not replace an input.
    let out = sasf()
        .args(["merge", "--adhoc"])
        .arg(&f.adhoc)
        .arg("--snippet")
        .arg(&f.snippet)
        .arg("-o")
        .arg(&f.snippet)
        .arg("--key-file")
        .arg(&f.key)
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(stderr_of(&out).contains("is the same file as the input"));
    // A tampered snippet is a verification failure: exit 1, nothing left behind.
    let mut bad = fs::read(&f.snippet).unwrap();
    let n = bad.len();
    bad[n - 200] ^= 1;
    fs::write(d.join("bad.sasf"), &bad).unwrap();
    let before = listing(d);
    let out = run("adhoc.wav", &d.join("bad.sasf"), &[])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(stderr_of(&out).contains("bad.sasf"));
    assert_eq!(listing(d), before);
}

// ---------- sasf session ----------

/// What `sasf session` produced.
struct Replayed {
    dir: PathBuf,
    files: Vec<String>,
    report: Value,
    stdout: String,
}

/// Runs `sasf session` on the sample call with these actions, into a new directory.
fn session(dir: &Path, actions: Value, extra: &[&str]) -> Replayed {
    let out = dir.join(format!("out-{}", listing(dir).len()));
    fs::write(dir.join("actions.json"), actions.to_string()).unwrap();
    let run = sasf()
        .arg("session")
        .arg(dir.join("actions.json"))
        .arg("--audio")
        .arg(sample())
        .arg("-o")
        .arg(&out)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .clone();
    let report: Value =
        serde_json::from_str(&fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    Replayed {
        files: listing(&out),
        dir: out,
        report,
        stdout: String::from_utf8(run.stdout).unwrap(),
    }
}

fn act(at_ms: u64, action: &str, by: &str) -> Value {
    json!({"at_ms": at_ms, "action": action, "by": by})
}

fn results(report: &Value) -> Vec<String> {
    report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| match a["result"].as_str().unwrap() {
            "ok" => "ok".to_string(),
            _ => a["refusal"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[test]
fn session_adhoc_only_gives_a_wav_and_snippet_only_a_sasf() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let call = call_samples();
    let r = session(
        d,
        json!([
            act(1000, "adhoc_start", "a1"),
            act(3000, "adhoc_stop", "a1")
        ]),
        &[],
    );
    assert_eq!(r.files, ["adhoc-1.wav", "report.json"]);
    let wav = fs::read(r.dir.join("adhoc-1.wav")).unwrap();
    assert!(wav_data(&wav) == call[secs(1.0)..secs(3.0)]);
    assert_eq!(r.report["outputs"][0]["kind"], "adhoc");
    assert!(r.stdout.contains("adhoc-1.wav"), "{}", r.stdout);

    let r = session(
        d,
        json!([
            act(2000, "snippet_start", "a1"),
            act(5000, "snippet_stop", "a1")
        ]),
        &[],
    );
    assert_eq!(r.files, ["report.json", "snippet-1.sasf"]);
    let (report, snip) = (&r.report, r.dir.join("snippet-1.sasf"));
    sasf().arg("verify").arg(&snip).assert().success();
    let (meta, audio) = extract(&snip, None);
    assert!(audio == call[secs(2.0)..secs(5.0)]);
    assert_eq!(
        events(&meta),
        [
            (0, "snippet_start".to_string()),
            (3000, "snippet_stop".to_string())
        ]
    );
    assert_eq!(report["refused"], 0);
}

#[test]
fn session_merges_a_running_adhoc_into_the_snippet_and_refuses_adhoc_during_it() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let call = call_samples();
    fs::write(
        d.join("call.json"),
        include_str!("../../testdata/sample-call.json"),
    )
    .unwrap();
    let meta_path = d.join("call.json").display().to_string();
    let key_path = key.display().to_string();
    let r = session(
        d,
        json!([
            act(1000, "adhoc_start", "a1"),
            act(4000, "snippet_start", "s1"),
            act(5000, "adhoc_start", "a1"),
            act(5500, "snippet_start", "c1"),
            act(9000, "adhoc_stop", "a1"),
        ]),
        &["--meta", &meta_path, "--key-file", &key_path, "--encrypt"],
    );
    let (files, report, stdout) = (&r.files, &r.report, &r.stdout);
    assert_eq!(
        files,
        &["report.json", "snippet-1.sasf"],
        "no WAV for a merged ad hoc"
    );
    assert_eq!(
        results(report),
        ["ok", "ok", "snippet-running", "snippet-running", "ok"]
    );
    assert!(report["actions"][2]["reason"]
        .as_str()
        .unwrap()
        .contains("no ad hoc recording"));
    assert!(stdout.contains("REFUSED (snippet-running)"), "{stdout}");
    let out = &report["outputs"][0];
    assert_eq!(out["merged_adhoc"]["adhoc"], 1);
    assert_eq!(out["merged_adhoc"]["snippet_at_ms"], 4000);
    assert_eq!(
        (out["from_ms"].as_u64(), out["to_ms"].as_u64()),
        (Some(1000), Some(9000))
    );
    let snip = r.dir.join("snippet-1.sasf");
    sasf()
        .arg("verify")
        .arg(&snip)
        .arg("--key-file")
        .arg(&key)
        .assert()
        .success();
    let (meta, audio) = extract(&snip, Some(&key));
    assert!(audio == call[secs(1.0)..secs(9.0)]);
    assert_eq!(meta["recording"]["started_at"], "2026-11-23T10:15:01Z");
    assert_eq!(meta["recording"]["id"], "call-0001-snippet-1");
    let ev = events(&meta);
    assert_eq!(ev.first().unwrap(), &(0, "adhoc_start".to_string()));
    assert!(ev.contains(&(3000, "snippet_start".to_string())), "{ev:?}");
    assert_eq!(ev.last().unwrap(), &(8000, "adhoc_stop".to_string()));
    // The call's own events inside the span are kept (the sample's hold at 6.752 s).
    assert!(ev.contains(&(5752, "hold".to_string())), "{ev:?}");
    assert_eq!(meta["events"][0]["participant"], "a1");
}

#[test]
fn session_stop_by_either_control_and_disconnect_ends_everything() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    for (stop, other) in [
        ("adhoc_stop", "snippet_stop"),
        ("snippet_stop", "adhoc_stop"),
    ] {
        // Once stopped, the other control has nothing to stop.
        let refusal_of_other = "not-recording";
        let r = session(
            d,
            json!([
                act(1000, "adhoc_start", "a1"),
                act(2000, "snippet_start", "a1"),
                act(3000, stop, "a1"),
                act(3500, other, "a1"),
            ]),
            &[],
        );
        assert_eq!(r.files, ["report.json", "snippet-1.sasf"]);
        assert_eq!(results(&r.report), ["ok", "ok", "ok", refusal_of_other]);
        assert_eq!(r.report["outputs"][0]["ended"]["action"], stop);
    }
    // Record does not stop a snippet nobody merged an ad hoc recording into.
    let report = session(
        d,
        json!([
            act(1000, "snippet_start", "a1"),
            act(2000, "adhoc_stop", "a1")
        ]),
        &[],
    )
    .report;
    assert_eq!(results(&report), ["ok", "no-adhoc"]);
    // The end of the audio ends the call.
    assert_eq!(report["ended"]["reason"], "end of call audio");
    assert_eq!(report["outputs"][0]["ended"]["action"], "disconnect");

    let r = session(
        d,
        json!([
            act(1000, "adhoc_start", "a1"),
            act(2000, "adhoc_stop", "a1"),
            act(3000, "snippet_start", "a1"),
            json!({"at_ms": 4000, "action": "disconnect", "by": "c1", "reason": "customer hung up"}),
            act(5000, "adhoc_start", "a1"),
            act(6000, "snippet_start", "a1"),
        ]),
        &[],
    );
    let (files, report, stdout) = (&r.files, &r.report, &r.stdout);
    assert_eq!(files, &["adhoc-1.wav", "report.json", "snippet-1.sasf"]);
    assert_eq!(
        results(report),
        ["ok", "ok", "ok", "ok", "call-ended", "call-ended"]
    );
    assert_eq!(report["call_samples"], 32000);
    assert_eq!(report["ended"]["reason"], "customer hung up");
    assert_eq!(report["outputs"][1]["to_ms"], 4000);
    assert!(stdout.contains("2 refused"), "{stdout}");
    let (meta, _) = extract(&r.dir.join("snippet-1.sasf"), None);
    let last = meta["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "disconnect");
    assert_eq!(last["reason"], "customer hung up");
    assert_eq!(last["by"], "c1");
}

#[test]
fn session_errors_exit_2_and_leave_nothing_behind() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = keygen(d).display().to_string();
    fs::create_dir(d.join("full")).unwrap();
    fs::write(d.join("full/x"), "x").unwrap();
    let cases: Vec<(&str, Value, Vec<&str>, &str)> = vec![
        (
            "new",
            json!([act(1000, "snip", "a1")]),
            vec![],
            "$[0].action",
        ),
        ("new", json!({"at_ms": 1}), vec![], "$: expected an array"),
        (
            "new",
            json!([
                act(2000, "adhoc_start", "a1"),
                act(1000, "adhoc_stop", "a1")
            ]),
            vec![],
            "$[1].at_ms",
        ),
        (
            "new",
            json!([{"at_ms": 1, "action": "adhoc_start"}]),
            vec![],
            "$[0].by",
        ),
        (
            "new",
            json!([
                act(1000, "adhoc_start", "a1"),
                act(99000, "adhoc_stop", "a1")
            ]),
            vec![],
            "after the end of the call audio",
        ),
        ("new", json!([]), vec!["--encrypt"], "needs a key"),
        (
            "new",
            json!([]),
            vec!["--key-file", &key, "--meta", "/nonexistent.json"],
            "nonexistent.json",
        ),
        (
            "full",
            json!([]),
            vec!["--key-file", &key, "--encrypt"],
            "not empty",
        ),
    ];
    for (outdir, actions, extra, needle) in cases {
        fs::write(d.join("actions.json"), actions.to_string()).unwrap();
        let before = listing(d);
        let out = sasf()
            .arg("session")
            .arg(d.join("actions.json"))
            .arg("--audio")
            .arg(sample())
            .arg("-o")
            .arg(d.join(outdir))
            .args(&extra)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = stderr_of(&out);
        assert!(err.contains(needle), "{needle}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert_eq!(listing(d), before, "{needle}: something was left behind");
        assert_eq!(listing(&d.join("full")), ["x"]);
    }
}
