//! Issue 16, retention and legal hold: `sasf retention plan|apply|log` as a records
//! manager uses them, on a real archive (encrypted, keyless, held, annotated and
//! tampered recordings), with crashes injected at every step of `apply`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{sample, sasf, stderr_of, write_secret};
use serde_json::Value;

thread_local! {
    static PLAN_SCHEMA: jsonschema::Validator = schema("retention-plan");
    static LOG_SCHEMA: jsonschema::Validator = schema("retention-log");
}

fn schema(name: &str) -> jsonschema::Validator {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../docs/schemas/{name}.schema.json"));
    let v: Value = serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap();
    jsonschema::validator_for(&v).unwrap()
}

const POLICY: &str = r#"# The archive's retention policy.
version = 1

[[rule]]
name = "disputes"
tag = "dispute"
keep_days = 3650

[[rule]]
name = "short-calls"
max_duration_s = 5
keep_days = 30

[[rule]]
name = "cold-after-300-days"
older_than_days = 300
move_to = "cold"

[default]
keep_days = 365
"#;

struct Archive {
    dir: tempfile::TempDir,
    root: PathBuf,
    key: PathBuf,
    policy: PathBuf,
}

impl Archive {
    fn new() -> Archive {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("archive");
        fs::create_dir_all(&root).unwrap();
        let key = dir.path().join("archive.key");
        let o = sasf().args(["keygen", "-o"]).arg(&key).output().unwrap();
        assert!(o.status.success());
        write_secret(&key, &fs::read_to_string(&key).unwrap());
        let policy = dir.path().join("retention.toml");
        fs::write(&policy, POLICY).unwrap();
        Archive {
            dir,
            root,
            key,
            policy,
        }
    }

    /// Packs the sample call (about 4 minutes) to `rel`, started at `start`.
    fn pack(&self, rel: &str, start: &str, encrypt: bool) -> PathBuf {
        let out = self.root.join(rel);
        fs::create_dir_all(out.parent().unwrap()).unwrap();
        let m = self
            .dir
            .path()
            .join(format!("{}.json", rel.replace('/', "_")));
        fs::write(
            &m,
            format!(
                r#"{{"recording": {{"id": "id-{}", "started_at": "{start}", "channels": ["agent", "customer"]}},
  "participants": [{{"id": "a1", "name": "Ann Agent", "role": "agent", "channels": [0]}},
                   {{"id": "c1", "name": "Gina Customer", "role": "customer", "address": "+15550100199", "channels": [1]}}]}}"#,
                rel.replace('/', "-")
            ),
        )
        .unwrap();
        let mut c = sasf();
        c.arg("pack")
            .arg(sample())
            .arg("--meta")
            .arg(&m)
            .arg("-o")
            .arg(&out);
        if encrypt {
            c.arg("--key-file").arg(&self.key).arg("--encrypt");
        }
        c.assert().success();
        out
    }

    fn annotate(&self, rel: &str, args: &[&str]) {
        sasf()
            .arg("annotate")
            .arg(self.root.join(rel))
            .args(["--by", "records@example.com"])
            .args(args)
            .arg("--key-file")
            .arg(&self.key)
            .args(["--require", "any"])
            .assert()
            .success();
    }

    /// Runs `sasf retention SUB ARCHIVE --policy P --key-file K --require any ARGS`.
    fn retention(
        &self,
        sub: &str,
        args: &[&str],
        env: Option<&str>,
    ) -> (Option<i32>, String, String) {
        let mut c = sasf();
        c.args(["retention", sub]).arg(&self.root);
        if sub != "log" {
            c.arg("--policy").arg(&self.policy);
            c.arg("--key-file")
                .arg(&self.key)
                .args(["--require", "any"]);
        }
        c.args(args);
        if let Some(e) = env {
            c.env("SASF_RETENTION_CRASH", e);
        }
        let o = c.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr_of(&o),
        )
    }

    fn plan_json(&self, now: &str) -> Value {
        let (code, out, err) = self.retention("plan", &["--json", "--now", now], None);
        assert_eq!(code, Some(0), "{err}");
        let j: Value = serde_json::from_str(&out).unwrap();
        let errors: Vec<String> =
            PLAN_SCHEMA.with(|v| v.iter_errors(&j).map(|e| e.to_string()).collect());
        assert!(
            errors.is_empty(),
            "not sasf.retention-plan/1: {errors:?}\n{j:#}"
        );
        j
    }

    fn log_json(&self) -> Value {
        let (_, out, err) = self.retention("log", &["--json"], None);
        let j: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
        let errors: Vec<String> =
            LOG_SCHEMA.with(|v| v.iter_errors(&j).map(|e| e.to_string()).collect());
        assert!(
            errors.is_empty(),
            "not sasf.retention-log/1: {errors:?}\n{j:#}"
        );
        j
    }

    fn verifies(&self, p: &Path) -> bool {
        sasf()
            .arg("verify")
            .arg(p)
            .arg("--key-file")
            .arg(&self.key)
            .args(["--require", "any"])
            .output()
            .unwrap()
            .status
            .success()
    }
}

/// The archive of most tests: one recording per case of the policy.
fn archive() -> Archive {
    let a = Archive::new();
    a.pack("2020/dispute.sasf", "2020-01-10T09:00:00Z", true);
    a.annotate("2020/dispute.sasf", &["--tag", "dispute"]);
    a.pack("2020/enc-expired.sasf", "2020-01-10T09:00:00Z", true);
    a.pack("2020/keyless-expired.sasf", "2020-01-10T09:00:00Z", false);
    a.pack("2020/held.sasf", "2020-01-10T09:00:00Z", true);
    a.annotate("2020/held.sasf", &["--legal-hold", "case-7"]);
    a.pack("2020/own-long.sasf", "2020-01-10T09:00:00Z", true);
    a.annotate("2020/own-long.sasf", &["--retain-until", "2099-12-31"]);
    a.pack("2026/cold.sasf", "2026-01-05T09:00:00Z", true);
    a.pack("2026/fresh.sasf", "2026-11-30T09:00:00Z", true);
    let mut b = fs::read(a.root.join("2026/fresh.sasf")).unwrap();
    let n = b.len();
    b[n / 2] ^= 1;
    fs::write(a.root.join("2026/tampered.sasf"), b).unwrap();
    a
}

#[test]
fn the_plan_gives_every_recording_its_rule_date_and_fate() {
    let a = archive();
    let j = a.plan_json("2026-12-02");
    // (path, decision, rule, keep_until, to)
    type Row<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let want: &[Row] = &[
        (
            "2020/dispute.sasf",
            "move",
            Some("cold-after-300-days"),
            Some("2030-01-07"),
            Some("cold/2020/dispute.sasf"),
        ),
        (
            "2020/enc-expired.sasf",
            "delete",
            Some("default"),
            Some("2021-01-09"),
            None,
        ),
        (
            "2020/held.sasf",
            "hold",
            Some("default"),
            Some("2021-01-09"),
            None,
        ),
        (
            "2020/keyless-expired.sasf",
            "delete",
            Some("default"),
            Some("2021-01-09"),
            None,
        ),
        (
            "2020/own-long.sasf",
            "move",
            Some("cold-after-300-days"),
            Some("2099-12-31"),
            Some("cold/2020/own-long.sasf"),
        ),
        (
            "2026/cold.sasf",
            "move",
            Some("cold-after-300-days"),
            Some("2027-01-05"),
            Some("cold/2026/cold.sasf"),
        ),
        (
            "2026/fresh.sasf",
            "keep",
            Some("default"),
            Some("2027-11-30"),
            None,
        ),
        ("2026/tampered.sasf", "unverified", None, None, None),
    ];
    let recs = j["recordings"].as_array().unwrap();
    assert_eq!(recs.len(), want.len(), "{j:#}");
    for (r, (path, decision, rule, until, to)) in recs.iter().zip(want) {
        assert_eq!(r["path"], *path);
        assert_eq!(r["decision"], *decision, "{path}: {r}");
        assert_eq!(r["rule"].as_str(), *rule, "{path}: {r}");
        assert_eq!(r["keep_until"].as_str(), *until, "{path}: {r}");
        assert_eq!(r["to"].as_str(), *to, "{path}: {r}");
    }
    // cold.sasf: a move rule selects it and no keep rule, so its retention is the
    // default's 365 days.
    assert!(
        recs[5]["why"].as_str().unwrap().contains("keep 365 days"),
        "{}",
        recs[5]
    );
    assert!(recs[2]["why"].as_str().unwrap().contains("legal hold"));
    assert_eq!(
        j["summary"],
        serde_json::json!({"delete": 2, "move": 3, "keep": 1, "hold": 1, "unverified": 1, "forged": 0})
    );
    // Ten years on, the dispute has expired too; the hold and its own retention still keep.
    let later = a.plan_json("2031-01-01");
    let fate = |p: &str| {
        later["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == p)
            .unwrap()["decision"]
            .clone()
    };
    assert_eq!(fate("2020/dispute.sasf"), "delete");
    assert_eq!(fate("2020/held.sasf"), "hold");
    assert_eq!(fate("2020/own-long.sasf"), "move");
    // The text form: one line per recording and the summary.
    let (code, out, _) = a.retention("plan", &["--now", "2026-12-02"], None);
    assert_eq!(code, Some(0));
    assert!(out.contains("delete     2020/enc-expired.sasf  [default] kept until 2021-01-09: keep 365 days: expired"), "{out}");
    assert!(out.ends_with("8 recordings on 2026-12-02: 2 to delete, 3 to move, 1 kept, 1 under legal hold, 1 not verified (kept)\n"), "{out}");
    // Nothing was touched.
    assert!(a.root.join("2020/enc-expired.sasf").exists());
    assert!(!a.root.join(".sasf-retention.log").exists());
}

#[test]
fn apply_shreds_and_deletes_moves_keeps_held_and_logs_every_action() {
    let a = archive();
    // A hard link outside the archive shares the encrypted file's blocks: after the
    // apply its key section must be gone too (what crypto-shredding promises).
    let twin = a.dir.path().join("twin.sasf");
    fs::hard_link(a.root.join("2020/enc-expired.sasf"), &twin).unwrap();
    assert!(a.verifies(&twin));
    let (code, _, err) = a.retention("apply", &[], None);
    assert_eq!(code.unwrap(), 2, "without --yes: {err}");
    assert!(err.contains("--yes"), "{err}");
    assert!(a.root.join("2020/enc-expired.sasf").exists());
    let (code, out, err) = a.retention("apply", &["--yes", "--by", "dpo@example.com"], None);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("deleted (key section overwritten) 2020/enc-expired.sasf  [default]"),
        "{out}"
    );
    assert!(
        out.contains("deleted 2020/keyless-expired.sasf  [default]"),
        "{out}"
    );
    assert!(
        out.contains("moved 2026/cold.sasf -> cold/2026/cold.sasf  [cold-after-300-days]"),
        "{out}"
    );
    assert!(out.ends_with("5 actions carried out, 0 skipped, 0 finished from an earlier run; 1 kept, 1 under legal hold, 1 not verified; log: .sasf-retention.log\n"), "{out}");
    for (rel, present) in [
        ("2020/enc-expired.sasf", false),
        ("2020/keyless-expired.sasf", false),
        ("2020/held.sasf", true),
        ("2020/dispute.sasf", false),
        ("cold/2020/dispute.sasf", true),
        ("cold/2020/own-long.sasf", true),
        ("cold/2026/cold.sasf", true),
        ("2026/fresh.sasf", true),
        ("2026/tampered.sasf", true),
    ] {
        assert_eq!(a.root.join(rel).exists(), present, "{rel}");
    }
    assert!(a.verifies(&a.root.join("cold/2026/cold.sasf")));
    let o = sasf()
        .arg("verify")
        .arg(&twin)
        .arg("--key-file")
        .arg(&a.key)
        .output()
        .unwrap();
    assert!(!o.status.success(), "the shredded twin still opens");
    // The log: an intent and a done per action, chained, with manifest and who.
    let j = a.log_json();
    assert_eq!(j["ok"], true, "{j:#}");
    assert_eq!(j["check"]["entries"], 10);
    assert_eq!(j["check"]["open"], 0);
    let entries = j["entries"].as_array().unwrap();
    let done: Vec<&Value> = entries.iter().filter(|e| e["event"] == "done").collect();
    assert_eq!(done.len(), 5);
    let enc = done
        .iter()
        .find(|e| e["path"] == "2020/enc-expired.sasf")
        .unwrap();
    assert_eq!(enc["shredded"], true);
    assert_eq!(enc["id"], "id-2020-enc-expired.sasf");
    assert_eq!(enc["by"], "dpo@example.com");
    assert_eq!(enc["rule"], "default");
    assert_eq!(enc["manifest"].as_str().unwrap().len(), 64);
    let keyless = done
        .iter()
        .find(|e| e["path"] == "2020/keyless-expired.sasf")
        .unwrap();
    assert_eq!(keyless["shredded"], false);
    let (code, out, _) = a.retention("log", &["--verify"], None);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("10 entries chained, head "), "{out}");
    // The catalog follows: a search finds the moved file at its new place.
    let o = sasf()
        .arg("search")
        .arg(&a.root)
        .args(["--json", "--key-file"])
        .arg(&a.key)
        .output()
        .unwrap();
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths: Vec<&str> = s["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.iter().any(|p| p.ends_with("cold/2026/cold.sasf")),
        "{paths:?}"
    );
    assert!(
        !paths.iter().any(|p| p.ends_with("enc-expired.sasf")),
        "{paths:?}"
    );
    // A second apply has nothing to do.
    let (code, out, err) = a.retention("apply", &["--yes"], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("0 actions carried out"), "{out}");
}

#[test]
fn a_legal_hold_blocks_until_released() {
    let a = Archive::new();
    a.pack("old.sasf", "2020-01-10T09:00:00Z", true);
    a.annotate("old.sasf", &["--legal-hold", "case-1"]);
    a.annotate("old.sasf", &["--legal-hold", "case-2"]);
    let (code, out, err) = a.retention("apply", &["--yes"], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("0 actions carried out"), "{out}");
    assert!(a.root.join("old.sasf").exists());
    // One case released: still held by the other.
    a.annotate("old.sasf", &["--release-hold", "case-1"]);
    assert_eq!(
        a.plan_json("2026-12-02")["recordings"][0]["decision"],
        "hold"
    );
    a.annotate("old.sasf", &["--release-hold", "case-2"]);
    assert_eq!(
        a.plan_json("2026-12-02")["recordings"][0]["decision"],
        "delete"
    );
    let (code, out, err) = a.retention("apply", &["--yes"], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("deleted (key section overwritten) old.sasf"),
        "{out}"
    );
    assert!(!a.root.join("old.sasf").exists());
}

#[test]
fn a_bad_policy_is_refused_with_its_place_before_anything_is_touched() {
    let a = Archive::new();
    a.pack("old.sasf", "2020-01-10T09:00:00Z", false);
    // (policy, what stderr must say)
    let cases = [
        (
            "version = 1\n[[rule]]\nname = \"x\"\ntag = \"t\"\nkeep_dayz = 3\n",
            "line 5, column 1: unknown field `keep_dayz`",
        ),
        (
            "version = 1\n[[rule]]\nname = \"x\"\ntag = \"t\"\nkeep_days = 40000\n",
            "line 2, column 1: rule \"x\": keep_days is 1 to 36500, not 40000",
        ),
        (
            "version = 1\n[[rule]]\nname = \"x\"\ntag = \"t\"\nmove_to = \"../elsewhere\"\n",
            "line 2, column 1: rule \"x\": move_to \"../elsewhere\"",
        ),
        (
            "version = 1\n[[rule]]\nname = \"x\"\nkeep_days = 3\n",
            "line 2, column 1: rule \"x\" has no selector",
        ),
        (
            "version = 1\n[default]\nkeep_until = \"2026-02-30\"\n",
            "line 2, column 1: [default]: keep_until \"2026-02-30\" is not a date",
        ),
        ("version = 1\n[[rule]\n", "line 2, column"),
        ("version = 3\n", "line 1, column 11: version 3"),
    ];
    for (text, words) in cases {
        fs::write(&a.policy, text).unwrap();
        for sub in ["plan", "apply"] {
            let (code, _, err) = a.retention(sub, &["--yes"][..usize::from(sub == "apply")], None);
            assert_eq!(code, Some(2), "{sub} {text}");
            assert!(err.contains(words), "{sub} {text}: {err}");
        }
    }
    // Nothing was read or written: no catalog, no log.
    assert!(!a.root.join(".sasf-catalog.sqlite").exists());
    assert!(!a.root.join(".sasf-retention.log").exists());
    assert!(a.root.join("old.sasf").exists());
}

/// The small archive of the crash tests: one encrypted file to delete, one keyless
/// file to delete, one to move.
fn crash_archive() -> Archive {
    let a = Archive::new();
    a.pack("a-enc.sasf", "2020-01-10T09:00:00Z", true);
    a.pack("b-keyless.sasf", "2020-01-10T09:00:00Z", false);
    a.pack("c-move.sasf", "2026-01-05T09:00:00Z", true);
    a
}

#[test]
fn a_crash_at_every_step_leaves_each_file_untouched_or_handled_and_a_rerun_finishes() {
    // (fault point and occurrence, the file whose action was cut short)
    let points = [
        ("torn-intent:1", "a-enc.sasf"),
        ("after-intent:1", "a-enc.sasf"),
        ("after-shred:1", "a-enc.sasf"),
        ("after-unlink:1", "a-enc.sasf"),
        ("torn-done:1", "a-enc.sasf"),
        ("after-done:1", "a-enc.sasf"),
        ("after-intent:2", "b-keyless.sasf"),
        ("after-unlink:2", "b-keyless.sasf"),
        ("after-intent:3", "c-move.sasf"),
        ("after-rename:1", "c-move.sasf"),
        ("torn-done:3", "c-move.sasf"),
    ];
    for (point, victim) in points {
        let a = crash_archive();
        let (code, out, err) = a.retention("apply", &["--yes"], Some(point));
        assert_eq!(code, None, "{point}: the process was to die: {out}{err}");
        assert!(err.contains("fault injection"), "{point}: {err}");
        // Each file is untouched (it verifies where it was) or handled (gone, or
        // shredded so that it no longer opens, or at its destination).
        for f in ["a-enc.sasf", "b-keyless.sasf", "c-move.sasf"] {
            let here = a.root.join(f);
            let moved = a.root.join("cold").join(f);
            let state = if here.exists() && a.verifies(&here) {
                "untouched"
            } else if here.exists() {
                "shredded"
            } else if moved.exists() {
                assert!(a.verifies(&moved), "{point}: {f} moved but damaged");
                "moved"
            } else {
                "deleted"
            };
            if state == "shredded" {
                assert_eq!((f, point), ("a-enc.sasf", "after-shred:1"), "{point}: {f}");
            }
            if f != victim && state != "untouched" {
                // Files before the victim were handled completely.
                assert!(f < victim, "{point}: {f} is {state}");
            }
        }
        // The log is sound whatever the crash left (a torn line is reported, not broken).
        let j = a.log_json();
        assert_eq!(j["ok"], true, "{point}: {j:#}");
        // The re-run finishes the job.
        let (code, out, err) = a.retention("apply", &["--yes"], None);
        assert_eq!(code, Some(0), "{point}: {out}{err}");
        assert!(!a.root.join("a-enc.sasf").exists(), "{point}");
        assert!(!a.root.join("b-keyless.sasf").exists(), "{point}");
        assert!(!a.root.join("c-move.sasf").exists(), "{point}");
        assert!(a.verifies(&a.root.join("cold/c-move.sasf")), "{point}");
        let j = a.log_json();
        assert_eq!(j["ok"], true, "{point}: {j:#}");
        assert_eq!(j["check"]["open"], 0, "{point}");
        assert_eq!(j["check"]["torn_tail"], false, "{point}");
        // Exactly one completion per file, each closing its intent.
        let entries = j["entries"].as_array().unwrap();
        for f in ["a-enc.sasf", "b-keyless.sasf", "c-move.sasf"] {
            let intents = entries
                .iter()
                .filter(|e| e["path"] == f && e["event"] == "intent")
                .count();
            let done = entries
                .iter()
                .filter(|e| e["path"] == f && e["event"] == "done")
                .count();
            assert_eq!((intents, done), (1, 1), "{point}: {f}: {j:#}");
        }
        let (code, _, _) = a.retention("log", &["--verify"], None);
        assert_eq!(code, Some(0), "{point}");
    }
}

#[test]
fn the_log_finds_an_edited_removed_or_cut_off_entry_and_apply_refuses_it() {
    let a = crash_archive();
    let (code, _, err) = a.retention("apply", &["--yes"], None);
    assert_eq!(code, Some(0), "{err}");
    let log = a.root.join(".sasf-retention.log");
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    // (the log's new text, the line named, words)
    let edited = text.replacen("b-keyless.sasf", "b-other.sasf", 1);
    let dropped = format!("{}\n{}\n", lines[..2].join("\n"), lines[3..].join("\n"));
    let cut = format!("{}\n", lines[..5].join("\n"));
    let cases = [
        (edited, 3, "does not chain"),
        (dropped, 3, "does not chain"),
        (cut, 6, "cut off"),
    ];
    for (new, line, words) in cases {
        fs::write(&log, &new).unwrap();
        let (code, out, _) = a.retention("log", &["--verify"], None);
        assert_eq!(code, Some(1), "{out}");
        assert!(
            out.contains(&format!("BROKEN at line {line}: ")) && out.contains(words),
            "{out}"
        );
        let j = a.log_json();
        assert_eq!(
            (&j["ok"], &j["check"]["line"]),
            (&Value::from(false), &Value::from(line))
        );
        let (code, _, err) = a.retention("apply", &["--yes"], None);
        assert_eq!(code, Some(2));
        assert!(
            err.contains("nothing is done until the log is sound"),
            "{err}"
        );
    }
    fs::write(&log, &text).unwrap();
    let (code, _, _) = a.retention("log", &["--verify"], None);
    assert_eq!(code, Some(0));
}

#[test]
fn a_file_that_cannot_be_checked_again_is_skipped_not_touched() {
    let a = Archive::new();
    a.pack("old.sasf", "2020-01-10T09:00:00Z", true);
    a.pack("other.sasf", "2020-01-10T09:00:00Z", true);
    // Without the key, the encrypted recordings cannot be verified: nothing is decided.
    let o = sasf()
        .args(["retention", "plan"])
        .arg(&a.root)
        .arg("--policy")
        .arg(&a.policy)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["summary"]["unverified"], 2, "{j:#}");
    // A tier folder on the way that is a file: the move is refused, the rest goes on.
    fs::write(
        &a.policy,
        "version = 1\n[[rule]]\nname = \"t\"\nolder_than_days = 1\nmove_to = \"tier\"\n",
    )
    .unwrap();
    fs::write(a.root.join("tier"), "not a folder").unwrap();
    let (code, out, err) = a.retention("apply", &["--yes"], None);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("old.sasf: ") && err.contains("is not a folder"),
        "{err}"
    );
    assert!(a.root.join("old.sasf").exists() && a.root.join("other.sasf").exists());
    assert_eq!(a.log_json()["check"]["entries"], 0);
}

#[test]
fn a_forged_intent_outside_the_archive_is_refused_not_carried_out() {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let a = Archive::new();
    let outside = a.dir.path().join("outside.sasf");
    common::pack_sample(&outside);
    let md = fs::metadata(&outside).unwrap();
    // A chain anyone can compute: a well-formed intent to delete a file outside.
    let json = format!(
        r#"{{"seq":1,"event":"intent","action":"delete","path":"../outside.sasf","rule":"x","size":{},"ino":{},"at":"2026-12-02T00:00:00.000Z","by":"mallory"}}"#,
        md.len(),
        md.ino()
    );
    let mut h = Sha256::new();
    h.update(b"SASF-retention-log-v1\0");
    h.update([0u8; 32]);
    h.update(json.as_bytes());
    let hash: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    fs::write(
        a.root.join(".sasf-retention.log"),
        format!("{hash} {json}\n"),
    )
    .unwrap();
    fs::write(a.root.join(".sasf-retention.head"), format!("1 {hash}\n")).unwrap();
    assert_eq!(a.log_json()["ok"], true);
    let (code, _, err) = a.retention("apply", &["--yes"], None);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("intent 1 names a path outside the archive"),
        "{err}"
    );
    assert!(outside.exists() && a.verifies(&outside));
}
