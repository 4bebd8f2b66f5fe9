//! Issue 14, "Machine-readable output": every JSON document `sasf` prints carries a
//! `schema` name and is valid against its JSON Schema in `docs/schemas/`. Each row runs
//! a command as a user would and names the schema its output must meet; failure
//! records must carry their structured fields.

mod common;

use std::fs;
use std::path::Path;

use common::{keygen, sample, sasf};
use serde_json::Value;

fn schema(name: &str) -> jsonschema::Validator {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../docs/schemas/{name}.schema.json"));
    let v: Value = serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap();
    jsonschema::validator_for(&v).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn check(name: &str, doc: &Value, what: &str) {
    let v = schema(name);
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: not {name}: {errors:?}\n{doc:#}");
    assert_eq!(doc["schema"], format!("sasf.{name}/1"), "{what}");
}

fn run(dir: &Path, args: &[&str]) -> String {
    let o = sasf().current_dir(dir).args(args).output().unwrap();
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn every_json_output_meets_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = keygen(d);
    fs::rename(&key, d.join("k.key")).unwrap();
    let s = sample().display().to_string();
    let meta = common::sample_meta().display().to_string();
    run(d, &["pack", &s, "--meta", &meta, "-o", "plain.sasf"]);
    run(
        d,
        &[
            "pack",
            &s,
            "-o",
            "enc.sasf",
            "--key-file",
            "k.key",
            "--encrypt",
        ],
    );
    run(
        d,
        &[
            "annotate",
            "enc.sasf",
            "--key-file",
            "k.key",
            "--by",
            "qa",
            "--tag",
            "x",
        ],
    );
    run(d, &["keygen", "--signing", "-o", "sig.key"]);
    run(
        d,
        &[
            "annotate",
            "plain.sasf",
            "--by",
            "qa",
            "--tag",
            "y",
            "--signing-key",
            "sig.key",
        ],
    );
    let whole = fs::read(d.join("plain.sasf")).unwrap();
    fs::write(d.join("torn.sasf"), &whole[..whole.len() - 20]).unwrap();
    fs::write(d.join("cut.sasf"), &whole[..whole.len() / 2]).unwrap();
    let mut flipped = whole.clone();
    flipped[whole.len() / 3] ^= 1;
    fs::write(d.join("flipped.sasf"), &flipped).unwrap();
    fs::write(d.join("not.sasf"), b"RIFF....WAVE").unwrap();

    // verify --json: one document per line, ok or not.
    let lines = run(
        d,
        &[
            "verify",
            "--json",
            "--audio-hash",
            "--key-file",
            "k.key",
            "--require",
            "any",
            "plain.sasf",
            "enc.sasf",
            "torn.sasf",
            "cut.sasf",
            "flipped.sasf",
            "not.sasf",
            "missing.sasf",
        ],
    );
    let docs: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 7);
    for doc in &docs {
        check("verify", doc, doc["file"].as_str().unwrap());
    }
    // verify --report: the same records, one a line, with verdict, size and mtime;
    // report merge --json sums them.
    let files = [
        "plain.sasf",
        "enc.sasf",
        "torn.sasf",
        "cut.sasf",
        "flipped.sasf",
        "not.sasf",
        "missing.sasf",
    ];
    let mut args = vec!["verify", "-s", "--key-file", "k.key", "--require", "any"];
    args.extend(["--report", "r.jsonl"]);
    args.extend(files);
    run(d, &args);
    let report = fs::read_to_string(d.join("r.jsonl")).unwrap();
    let records: Vec<Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), files.len(), "{report}");
    for r in &records {
        check("verify", r, r["file"].as_str().unwrap());
        assert!(r["verdict"].is_string(), "{r}");
        if r["file"] != "missing.sasf" {
            assert!(r["size"].is_u64() && r["mtime"].is_string(), "{r}");
        }
    }
    let summary: Value =
        serde_json::from_str(&run(d, &["report", "merge", "--json", "r.jsonl"])).unwrap();
    check("report-summary", &summary, "report merge --json");
    // cut, flipped and not.sasf failed; missing.sasf unreadable.
    assert_eq!(
        (&summary["failed"], &summary["unreadable"], &summary["exit"]),
        (&Value::from(3), &Value::from(1), &Value::from(1)),
        "{summary}"
    );
    assert_eq!(
        summary["problems"].as_array().unwrap().len(),
        4,
        "{summary}"
    );
    for p in summary["problems"].as_array().unwrap() {
        check("verify", p, "a merged problem");
    }
    // Structured failure fields (table: file, class, fields it must carry).
    let failures: &[(&str, &str, &[&str])] = &[
        (
            "cut.sasf",
            "truncated",
            &["offset", "after_chunk", "at", "at_sample", "recording_id"],
        ),
        (
            "flipped.sasf",
            "auth-failed",
            &["offset", "chunk", "recording_id"],
        ),
        ("not.sasf", "not-sasf", &[]),
        ("missing.sasf", "io", &[]),
    ];
    for (file, class, fields) in failures {
        let doc = docs.iter().find(|x| x["file"] == *file).unwrap();
        assert_eq!(doc["ok"], false, "{file}");
        assert_eq!(doc["class"], *class, "{file}: {doc}");
        for f in *fields {
            assert!(doc.get(*f).is_some(), "{file}: no {f} in {doc}");
        }
        if fields.contains(&"recording_id") {
            assert_eq!(doc["recording_id"], "call-0001", "{file}");
        }
    }
    let torn = docs.iter().find(|x| x["file"] == "torn.sasf").unwrap();
    assert!(torn["incomplete_segment_at"].is_u64(), "{torn}");
    // An auditor's line (no key, a signer).
    run(
        d,
        &[
            "sign",
            "enc.sasf",
            "--key-file",
            "k.key",
            "--signing-key",
            "sig.key",
        ],
    );
    let audit: Value = serde_json::from_str(&run(
        d,
        &["verify", "--json", "--signer", "sig.pub", "enc.sasf"],
    ))
    .unwrap();
    check("verify", &audit, "audit");
    assert_eq!(audit["verified_without_key"], true);

    // info --json: verified, and without the key (public header only).
    for (args, what) in [
        (
            vec!["info", "--json", "enc.sasf", "--key-file", "k.key"],
            "info with the key",
        ),
        (vec!["info", "--json", "enc.sasf"], "info without the key"),
        (
            vec!["info", "--json", "plain.sasf"],
            "info, keyless, annotated",
        ),
        (
            vec!["info", "--json", "cut.sasf"],
            "info on a truncated file",
        ),
        (
            vec!["info", "--json", "flipped.sasf"],
            "info on a tampered file",
        ),
    ] {
        let doc: Value = serde_json::from_str(&run(d, &args)).unwrap();
        check("info", &doc, what);
    }

    // history --json.
    for (args, what) in [
        (
            vec!["history", "--json", "plain.sasf", "--annotator", "sig.pub"],
            "history",
        ),
        (
            vec!["history", "--json", "torn.sasf"],
            "history of a torn file",
        ),
        (
            vec!["history", "--json", "enc.sasf", "--key-file", "k.key"],
            "history, encrypted",
        ),
    ] {
        let doc: Value = serde_json::from_str(&run(d, &args)).unwrap();
        check("history", &doc, what);
    }

    // extract --meta: the metadata document, which pack reads back.
    run(d, &["extract", "plain.sasf", "--meta", "m.json"]);
    let doc: Value = serde_json::from_slice(&fs::read(d.join("m.json")).unwrap()).unwrap();
    check("metadata", &doc, "extract");
    let o = sasf()
        .current_dir(d)
        .args(["pack", &s, "--meta", "m.json", "-o", "again.sasf"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pack reads extract's document back: {}",
        common::stderr_of(&o)
    );

    // A redaction and an excerpt: their records in extract's and info's metadata, and
    // verify --source, matching and not.
    run(
        d,
        &[
            "redact",
            "enc.sasf",
            "-o",
            "red.sasf",
            "--from",
            "10",
            "--to",
            "12",
            "--mode",
            "omit",
            "--reason",
            "pci",
            "--by",
            "qa",
            "--key-file",
            "k.key",
        ],
    );
    run(
        d,
        &[
            "cut",
            "enc.sasf",
            "-o",
            "x.sasf",
            "--from",
            "7",
            "--to",
            "9",
            "--key-file",
            "k.key",
        ],
    );
    for f in ["red.sasf", "x.sasf"] {
        run(
            d,
            &[
                "extract",
                f,
                "--meta",
                "m2.json",
                "-f",
                "--key-file",
                "k.key",
            ],
        );
        let doc: Value = serde_json::from_slice(&fs::read(d.join("m2.json")).unwrap()).unwrap();
        let key = if f == "red.sasf" {
            "sasf.redaction"
        } else {
            "sasf.excerpt"
        };
        assert!(
            doc["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["key"] == key),
            "{f}: {doc}"
        );
        check("metadata", &doc, f);
        let doc: Value =
            serde_json::from_str(&run(d, &["info", "--json", f, "--key-file", "k.key"])).unwrap();
        check("info", &doc, f);
    }
    for (source, ok) in [("enc.sasf", true), ("red.sasf", false)] {
        let doc: Value = serde_json::from_str(&run(
            d,
            &[
                "verify",
                "--json",
                "x.sasf",
                "--source",
                source,
                "--key-file",
                "k.key",
            ],
        ))
        .unwrap();
        check("verify", &doc, source);
        assert_eq!(doc["ok"], ok, "{doc}");
        assert_eq!(doc["excerpt"]["matches"], ok, "{doc}");
    }

    // retention plan --json and retention log --json, before and after an apply.
    fs::create_dir_all(d.join("arch/2020")).unwrap();
    fs::copy(d.join("plain.sasf"), d.join("arch/2020/plain.sasf")).unwrap();
    fs::copy(d.join("enc.sasf"), d.join("arch/2020/enc.sasf")).unwrap();
    fs::write(
        d.join("policy.toml"),
        "version = 1\n[[rule]]\nname = \"tagged\"\ntag = \"x\"\nmove_to = \"cold\"\n[default]\nkeep_until = \"2001-01-01\"\n",
    )
    .unwrap();
    let keyed = ["--key-file", "k.key", "--require", "any"];
    for when in ["2000-06-01", "2030-01-01"] {
        let mut args = vec![
            "retention",
            "plan",
            "arch",
            "--policy",
            "policy.toml",
            "--json",
        ];
        args.extend(["--now", when]);
        args.extend(keyed);
        let doc: Value = serde_json::from_str(&run(d, &args)).unwrap();
        check("retention-plan", &doc, when);
    }
    let doc: Value =
        serde_json::from_str(&run(d, &["retention", "log", "arch", "--json"])).unwrap();
    check("retention-log", &doc, "an empty log");
    let mut args = vec![
        "retention",
        "apply",
        "arch",
        "--policy",
        "policy.toml",
        "--yes",
    ];
    args.extend(keyed);
    run(d, &args);
    let doc: Value =
        serde_json::from_str(&run(d, &["retention", "log", "arch", "--json"])).unwrap();
    check("retention-log", &doc, "the log after an apply");
    assert_eq!(doc["check"]["entries"], 4, "{doc}");
    let doc: Value =
        serde_json::from_str(&run(d, &["retention", "log", "arch", "--json", "--verify"])).unwrap();
    check("retention-log", &doc, "log --verify");

    // session's report.json.
    let actions = serde_json::json!([
        {"at_ms": 1000, "action": "snippet_start", "by": "a1"},
        {"at_ms": 3000, "action": "snippet_stop", "by": "a1"}
    ]);
    fs::write(d.join("actions.json"), actions.to_string()).unwrap();
    let o = sasf()
        .current_dir(d)
        .args(["session", "actions.json", "--audio", &s, "-o", "out"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr_of(&o));
    let doc: Value = serde_json::from_slice(&fs::read(d.join("out/report.json")).unwrap()).unwrap();
    check("session-report", &doc, "session");
}
