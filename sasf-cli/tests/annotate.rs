//! Appended annotations through the `sasf` binary (issue 13): `annotate` at every
//! level, `history` (text and JSON), questionnaires and their refusals, signatures,
//! the state in `info`, `verify` and `extract`, a torn append and `recover`, and the
//! README's "Tagging and scoring a call" recipe.

mod common;
use common::*;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

const WHEN: &str = "2026-12-01T10:00:00Z";

fn os(s: &str) -> &OsStr {
    s.as_ref()
}

/// Runs `sasf ARGS…`; (exit code, stdout, stderr).
fn run(args: &[&OsStr]) -> (i32, String, String) {
    let o = sasf().args(args).output().unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr_of(&o),
    )
}

/// Runs `sasf ARGS…` and requires exit 0; stdout.
fn ok(args: &[&OsStr]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}\n{out}{err}");
    out
}

fn qa(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/qa")
        .join(name)
}

/// The levels a file is packed at: name, extra `pack` options, key options to open it.
fn levels(key: &Path) -> Vec<(&'static str, Vec<&OsStr>, Vec<&OsStr>)> {
    let k = vec![os("--key-file"), key.as_os_str()];
    let mut enc = k.clone();
    enc.push(os("--encrypt"));
    vec![
        ("keyless", vec![], vec![]),
        ("hmac", k.clone(), k.clone()),
        ("encrypted", enc, k),
    ]
}

/// Packs the sample call and its metadata into `out` with `args`.
fn pack(out: &Path, args: &[&OsStr]) {
    let (wav, meta) = (sample(), sample_meta());
    let mut a = vec![
        os("pack"),
        wav.as_os_str(),
        os("-o"),
        out.as_os_str(),
        os("--meta"),
        meta.as_os_str(),
    ];
    a.extend_from_slice(args);
    ok(&a);
}

/// `sasf annotate FILE --by qa@example.com --at WHEN OPTS… KEYS…`: (code, out, err).
fn annotate(file: &Path, opts: &[&OsStr], keys: &[&OsStr]) -> (i32, String, String) {
    let mut a = vec![
        os("annotate"),
        file.as_os_str(),
        os("--by"),
        os("qa@example.com"),
        os("--at"),
        os(WHEN),
    ];
    a.extend_from_slice(opts);
    a.extend_from_slice(keys);
    run(&a)
}

fn history_json(file: &Path, keys: &[&OsStr]) -> Value {
    let mut a = vec![os("history"), file.as_os_str(), os("--json")];
    a.extend_from_slice(keys);
    serde_json::from_str(&ok(&a)).unwrap()
}

fn history_text(file: &Path, keys: &[&OsStr]) -> String {
    let mut a = vec![os("history"), file.as_os_str()];
    a.extend_from_slice(keys);
    ok(&a)
}

#[test]
fn annotate_at_every_level_and_history_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    for (level, pack_opts, keys) in levels(&key) {
        let f = dir.path().join(format!("{level}.sasf"));
        pack(&f, &pack_opts);
        let original = fs::read(&f).unwrap();
        let (code, out, err) = annotate(
            &f,
            &[
                os("--tag"),
                os("escalated"),
                os("--attr"),
                os("queue=billing"),
                os("--label"),
                os("pii"),
                os("--retention-days"),
                os("365"),
                os("--note"),
                os("customer asked for a supervisor"),
            ],
            &keys,
        );
        assert_eq!(code, 0, "{level}: {err}");
        let line = out.lines().next().unwrap();
        let prefix = format!("annotated {}: segment 0 (", f.display());
        assert!(line.starts_with(&prefix), "{line}");
        assert!(line.contains(" bytes appended), chain head "), "{line}");
        let now = fs::read(&f).unwrap();
        assert_eq!(
            &now[..original.len()],
            &original[..],
            "{level}: recording kept"
        );
        // The second segment removes what the first added.
        let (code, _, err) = annotate(
            &f,
            &[os("--untag"), os("escalated"), os("--unattr"), os("queue")],
            &keys,
        );
        assert_eq!(code, 0, "{level}: {err}");

        let h = history_json(&f, &keys);
        assert_eq!(h["schema"], "sasf.history/1");
        assert_eq!(h["file"], f.display().to_string());
        let segs = h["segments"].as_array().unwrap();
        assert_eq!(segs.len(), 2, "{level}");
        assert_eq!(segs[0]["number"], 0);
        assert_eq!(segs[0]["offset"].as_u64().unwrap(), original.len() as u64);
        assert_eq!(
            segs[1]["offset"].as_u64().unwrap(),
            original.len() as u64 + segs[0]["len"].as_u64().unwrap()
        );
        assert_eq!(segs[0]["by"], "qa@example.com");
        assert_eq!(segs[0]["at"], WHEN);
        assert_eq!(segs[0]["note"], "customer asked for a supervisor");
        assert!(segs[1].get("note").is_none());
        assert_eq!(
            segs[0]["ops"],
            serde_json::json!([
                {"op": "tag", "tag": "escalated"},
                {"op": "attr", "key": "queue", "value": "billing"},
                {"op": "label", "label": "pii"},
                {"op": "retention", "days": 365}
            ])
        );
        assert_eq!(segs[0]["signature"], Value::Null);
        let authenticated = level != "keyless";
        assert_eq!(segs[0]["authenticated"], authenticated, "{level}");
        assert_eq!(h["incomplete_segment_at"], Value::Null);
        assert_eq!(h["chain_head"], segs[1]["digest"]);

        let t = history_text(&f, &keys);
        for want in [
            "+tag escalated",
            "attr queue=billing",
            "+label pii",
            "retention 365 days",
            "-tag escalated",
            "-attr queue",
            "note: customer asked for a supervisor",
            "unsigned",
            &format!("segment 0 at byte {}", original.len()),
            &format!(
                "authenticated: {}",
                if authenticated { "yes" } else { "no" }
            ),
        ] {
            assert!(t.contains(want), "{level}: {want}\n{t}");
        }

        // verify: OK, then the segments.
        let mut a = vec![os("verify"), f.as_os_str()];
        a.extend_from_slice(&keys);
        let out = ok(&a);
        let head = h["chain_head"].as_str().unwrap();
        assert!(
            out.contains(&format!("2 annotation segments, chain head {head}")),
            "{out}"
        );
        a.push(os("--json"));
        let v: Value = serde_json::from_str(&ok(&a)).unwrap();
        assert_eq!(v["segments"], 2);
        assert_eq!(v["chain_head"], head);
        assert_eq!(v["incomplete_segment_at"], Value::Null);
    }
}

#[test]
fn a_file_without_segments_verifies_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.sasf");
    pack(&f, &[]);
    let out = ok(&[os("verify"), f.as_os_str()]);
    assert!(!out.contains("annotation"), "{out}");
    let v: Value = serde_json::from_str(&ok(&[os("verify"), f.as_os_str(), os("--json")])).unwrap();
    assert_eq!(v["segments"], 0);
    assert_eq!(v["chain_head"], v["file_digest"]);
    let h = history_json(&f, &[]);
    assert_eq!(h["segments"], serde_json::json!([]));
    let info: Value =
        serde_json::from_str(&ok(&[os("info"), f.as_os_str(), os("--json")])).unwrap();
    assert!(info.get("annotation_state").is_none());
}

#[test]
fn questionnaires_are_scored_and_a_critical_failure_fails() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.sasf");
    pack(&f, &[]);
    let (form, shipped) = (qa("form.json"), qa("answers.json"));
    let q = [
        os("--questionnaire"),
        form.as_os_str(),
        os("--answers"),
        shipped.as_os_str(),
    ];
    let (code, out, err) = annotate(&f, &q, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().nth(1),
        Some("questionnaire qa-basic v3: 71.43% (pass)")
    );
    // The same answers with the critical identity check failed.
    let mut answers: Value =
        serde_json::from_slice(&fs::read(qa("answers.json")).unwrap()).unwrap();
    answers["answers"]["identity"]["value"] = false.into();
    let bad = dir.path().join("bad.json");
    fs::write(&bad, answers.to_string()).unwrap();
    let (code, out, err) = annotate(
        &f,
        &[
            os("--questionnaire"),
            form.as_os_str(),
            os("--answers"),
            bad.as_os_str(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().nth(1),
        Some("questionnaire qa-basic v3: 57.14% (fail, critical failed: identity)")
    );
    let t = history_text(&f, &[]);
    assert!(t.contains("questionnaire qa-basic v3 71.43% pass"), "{t}");
    assert!(
        t.contains("questionnaire qa-basic v3 57.14% fail (critical failed: identity)"),
        "{t}"
    );
    let h = history_json(&f, &[]);
    let result = &h["segments"][1]["ops"][0]["result"];
    assert_eq!(result["pass"], false);
    assert_eq!(result["critical_failed"], serde_json::json!(["identity"]));
    // info: the latest questionnaire of the form.
    let info: Value =
        serde_json::from_str(&ok(&[os("info"), f.as_os_str(), os("--json")])).unwrap();
    let st = &info["annotation_state"]["state"]["questionnaires"]["qa-basic"];
    assert_eq!(st["segment"], 1);
    assert_eq!(st["result"]["percent_bp"], 5714);
    let text = ok(&[os("info"), f.as_os_str()]);
    assert!(
        text.contains("questionnaire qa-basic v3: 57.14% fail (critical failed: identity)"),
        "{text}"
    );
}

#[test]
fn answers_that_do_not_fit_the_form_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.sasf");
    pack(&f, &[]);
    let before = fs::read(&f).unwrap();
    let good: Value = serde_json::from_slice(&fs::read(qa("answers.json")).unwrap()).unwrap();
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str); 5] = [
        (
            "unknown question",
            |a| a["answers"]["bogus"] = serde_json::json!({"value": true}),
            "at answers.bogus:",
        ),
        (
            "out-of-range scale",
            |a| a["answers"]["empathy"]["value"] = 9.into(),
            "at answers.empathy.value: 9 is outside the scale 1 to 5",
        ),
        (
            "missing required answer",
            |a| {
                a["answers"].as_object_mut().unwrap().remove("greeting");
            },
            "at answers.greeting: required question \"greeting\" has no answer",
        ),
        (
            "wrong form id",
            |a| a["form"] = "qa-other".into(),
            "at form: the answers are for form \"qa-other\"",
        ),
        (
            "not a choice",
            |a| a["answers"]["resolution"]["value"] = "maybe".into(),
            "at answers.resolution.value:",
        ),
    ];
    let form = qa("form.json");
    for (what, edit, want) in cases {
        let mut a = good.clone();
        edit(&mut a);
        let p = dir.path().join("answers.json");
        fs::write(&p, a.to_string()).unwrap();
        let (code, out, err) = annotate(
            &f,
            &[
                os("--questionnaire"),
                form.as_os_str(),
                os("--answers"),
                p.as_os_str(),
            ],
            &[],
        );
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert!(err.contains(want), "{what}: {err}");
        assert!(err.contains(&p.display().to_string()), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: one line\n{err}");
        assert!(out.is_empty(), "{what}: {out}");
        assert_eq!(fs::read(&f).unwrap(), before, "{what}: nothing written");
    }
}

#[test]
fn refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.sasf");
    pack(&f, &[]);
    let before = fs::read(&f).unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--untag", "x"],
            "--untag x: there is no tag \"x\" to remove",
        ),
        (
            &["--unattr", "k"],
            "--unattr k: there is no attribute \"k\"",
        ),
        (&["--unlabel", "l"], "--unlabel l: there is no label \"l\""),
        (
            &["--release-hold", "CASE-1"],
            "--release-hold CASE-1: there is no active hold for case \"CASE-1\"",
        ),
        (
            &["--attr", "novalue"],
            "--attr \"novalue\": expected KEY=VALUE",
        ),
        (&["--retain-until", "2027-02-30"], "--retain-until:"),
        (&[], "nothing to annotate"),
    ];
    for (opts, want) in cases {
        let o: Vec<&OsStr> = opts.iter().map(|s| os(s)).collect();
        let (code, _, err) = annotate(&f, &o, &[]);
        assert_eq!(code, 2, "{opts:?}: {err}");
        assert!(err.contains(want), "{opts:?}: {err}");
        assert_eq!(fs::read(&f).unwrap(), before, "{opts:?}");
    }
    let (code, _, err) = run(&[
        os("annotate"),
        f.as_os_str(),
        os("--by"),
        os("a"),
        os("--at"),
        os("2026-12-01 10:00"),
        os("--tag"),
        os("t"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--at:"), "{err}");
    assert_eq!(fs::read(&f).unwrap(), before);
}

#[test]
fn a_keyed_file_needs_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let other = dir.path().join("other.key");
    ok(&[os("keygen"), os("-o"), other.as_os_str()]);
    let f = dir.path().join("enc.sasf");
    pack(&f, &[os("--key-file"), key.as_os_str(), os("--encrypt")]);
    let before = fs::read(&f).unwrap();
    let (code, _, err) = annotate(&f, &[os("--tag"), os("t")], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs a key"), "{err}");
    assert!(err.contains(&f.display().to_string()), "{err}");
    let (code, _, err) = annotate(
        &f,
        &[os("--tag"), os("t")],
        &[os("--key-file"), other.as_os_str()],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(fs::read(&f).unwrap(), before);
    let (code, _, err) = run(&[os("history"), f.as_os_str()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs a key"), "{err}");
}

/// Truncates `f` by `n` bytes.
fn cut(f: &Path, n: u64) {
    let len = fs::metadata(f).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(f)
        .unwrap()
        .set_len(len - n)
        .unwrap();
}

#[test]
fn a_torn_append_verifies_is_shown_and_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    for (level, pack_opts, keys) in levels(&key) {
        let f = dir.path().join(format!("{level}.sasf"));
        pack(&f, &pack_opts);
        assert_eq!(annotate(&f, &[os("--tag"), os("a")], &keys).0, 0);
        let whole = fs::read(&f).unwrap();
        assert_eq!(annotate(&f, &[os("--tag"), os("b")], &keys).0, 0);
        let torn_at = whole.len() as u64;
        cut(&f, 7);
        let torn = fs::read(&f).unwrap();

        // verify: exit 0, the warning on stderr.
        let mut v = vec![os("verify"), f.as_os_str()];
        v.extend_from_slice(&keys);
        let (code, out, err) = run(&v);
        assert_eq!(code, 0, "{level}: {out}{err}");
        assert!(out.contains(": OK"), "{out}");
        assert!(out.contains("1 annotation segments"), "{out}");
        let warning = format!(
            "incomplete annotation segment at byte {torn_at} (a torn append; sasf recover trims it)"
        );
        assert!(err.contains(&warning), "{level}: {err}");
        v.push(os("--json"));
        let j: Value = serde_json::from_str(&ok(&v)).unwrap();
        assert_eq!(j["incomplete_segment_at"], torn_at);
        assert_eq!(j["segments"], 1);

        // history: the last line, exit 0.
        let t = history_text(&f, &keys);
        assert_eq!(t.lines().last(), Some(warning.as_str()), "{t}");
        assert_eq!(history_json(&f, &keys)["incomplete_segment_at"], torn_at);
        let mut i = vec![os("info"), f.as_os_str()];
        i.extend_from_slice(&keys);
        assert!(ok(&i).contains(&warning));

        // annotate refuses until trimmed.
        let (code, _, err) = annotate(&f, &[os("--tag"), os("c")], &keys);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!(
                "incomplete annotation segment at byte {torn_at} (a torn append)"
            )),
            "{err}"
        );
        assert!(err.contains("sasf recover"), "{err}");
        assert_eq!(fs::read(&f).unwrap(), torn);

        // recover -o: the exact prefix, segments kept.
        let out_f = dir.path().join(format!("{level}-fixed.sasf"));
        let mut r = vec![os("recover"), f.as_os_str(), os("-o"), out_f.as_os_str()];
        r.extend_from_slice(&keys);
        let (code, _, err) = run(&r);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!(
                "trimmed an incomplete annotation segment at byte {torn_at} ({} bytes)",
                torn.len() as u64 - torn_at
            )),
            "{err}"
        );
        assert_eq!(fs::read(&out_f).unwrap(), whole, "{level}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&out_f).unwrap().permissions().mode() & 0o777;
            if level == "encrypted" {
                assert_eq!(mode, 0o600);
            }
        }
        assert_eq!(fs::read(&f).unwrap(), torn, "the original is left alone");

        // recover --in-place.
        let mut r = vec![os("recover"), f.as_os_str(), os("--in-place")];
        r.extend_from_slice(&keys);
        let (code, _, err) = run(&r);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("trimmed an incomplete annotation segment"),
            "{err}"
        );
        assert_eq!(fs::read(&f).unwrap(), whole);
        let (code, _, err) = run(&r);
        assert_eq!(code, 0);
        assert!(err.contains("nothing to trim"), "{err}");
        let (code, _, err) = run(&v[..v.len() - 1]);
        assert_eq!(code, 0);
        assert!(!err.contains("incomplete"), "{err}");

        // And annotate works again.
        let (code, out, err) = annotate(&f, &[os("--tag"), os("c")], &keys);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("segment 1 "), "{out}");
    }
}

#[test]
fn a_signed_annotation_is_authenticated_at_the_keyless_level() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.sasf");
    pack(&f, &[]);
    let sk = dir.path().join("qa.key");
    let id = ok(&[os("keygen"), os("--signing"), os("-o"), sk.as_os_str()])
        .trim()
        .strip_prefix("signer id ")
        .unwrap()
        .to_string();
    let forger = dir.path().join("forger.key");
    let forger_id = ok(&[os("keygen"), os("--signing"), os("-o"), forger.as_os_str()])
        .trim()
        .strip_prefix("signer id ")
        .unwrap()
        .to_string();
    let (code, _, err) = annotate(
        &f,
        &[
            os("--legal-hold"),
            os("CASE-7"),
            os("--signing-key"),
            sk.as_os_str(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(annotate(&f, &[os("--tag"), os("t")], &[]).0, 0);
    // Anyone can append to a keyless file and sign with a key of their own.
    let (code, _, err) = annotate(
        &f,
        &[
            os("--release-hold"),
            os("CASE-7"),
            os("--signing-key"),
            forger.as_os_str(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    // Without trusted annotators, no keyless segment is authenticated.
    let t = history_text(&f, &[]);
    assert!(
        t.contains(&format!(
            "signed by {id} (valid, not a trusted annotator: --annotator); authenticated: no"
        )),
        "{t}"
    );
    assert!(t.contains("hold CASE-7"), "{t}");
    assert!(t.contains("unsigned; authenticated: no"), "{t}");
    // Trusting qa.pub authenticates its segment, and only its.
    let qa_pub = dir.path().join("qa.pub");
    let trust = [os("--annotator"), qa_pub.as_os_str()];
    let t = history_text(&f, &trust);
    assert!(
        t.contains(&format!(
            "signed by {id} (valid, trusted annotator); authenticated: yes"
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "signed by {forger_id} (valid, not a trusted annotator: --annotator); authenticated: no"
        )),
        "{t}"
    );
    let h = history_json(&f, &trust);
    assert_eq!(
        h["segments"][0]["signature"],
        serde_json::json!({"signer": id, "valid": true, "trusted": true})
    );
    assert_eq!(h["segments"][0]["authenticated"], true);
    assert_eq!(h["segments"][1]["authenticated"], false);
    assert_eq!(h["segments"][2]["signature"]["trusted"], false);
    assert_eq!(h["segments"][2]["authenticated"], false);
    let h = history_json(&f, &[]);
    assert_eq!(h["segments"][0]["authenticated"], false);
    // A signing key others can read is refused, as everywhere.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&sk, fs::Permissions::from_mode(0o644)).unwrap();
        let before = fs::read(&f).unwrap();
        let (code, _, err) = annotate(
            &f,
            &[os("--tag"), os("u"), os("--signing-key"), sk.as_os_str()],
            &[],
        );
        assert_eq!(code, 2);
        assert!(err.contains("readable by other users"), "{err}");
        assert_eq!(fs::read(&f).unwrap(), before);
    }
}

#[test]
fn info_and_extract_show_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.sasf");
    pack(&f, &[os("--retention-days"), os("30")]);
    let info_json = |f: &Path| -> Value {
        serde_json::from_str(&ok(&[os("info"), f.as_os_str(), os("--json")])).unwrap()
    };
    // Header retention only: 30 days from started_at 2026-11-23T10:15:00Z.
    assert_eq!(annotate(&f, &[os("--tag"), os("vip")], &[]).0, 0);
    let a = &info_json(&f)["annotation_state"];
    assert_eq!(
        a["effective_retention"],
        serde_json::json!({"until": "2026-12-23"})
    );
    let steps: [(&[&str], Value); 3] = [
        (
            &[
                "--retention-days",
                "365",
                "--attr",
                "queue=billing",
                "--label",
                "pii",
            ],
            serde_json::json!({"until": "2027-11-23"}),
        ),
        (
            &["--legal-hold", "CASE-7"],
            serde_json::json!({"held": ["CASE-7"]}),
        ),
        (
            &["--release-hold", "CASE-7", "--retain-until", "2030-01-31"],
            serde_json::json!({"until": "2030-01-31"}),
        ),
    ];
    for (opts, want) in steps {
        let o: Vec<&OsStr> = opts.iter().map(|s| os(s)).collect();
        let (code, _, err) = annotate(&f, &o, &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            info_json(&f)["annotation_state"]["effective_retention"],
            want,
            "{opts:?}"
        );
    }
    let a = info_json(&f)["annotation_state"].clone();
    assert_eq!(a["segments"], 4);
    assert_eq!(a["incomplete_segment_at"], Value::Null);
    assert_eq!(a["state"]["tags"], serde_json::json!(["vip"]));
    assert_eq!(
        a["state"]["attributes"],
        serde_json::json!({"queue": "billing"})
    );
    assert_eq!(a["state"]["labels"], serde_json::json!(["pii"]));
    assert_eq!(a["state"]["holds"], serde_json::json!({}));
    let text = ok(&[os("info"), f.as_os_str()]);
    for want in [
        "annotations:   4 segment(s), chain head ",
        "  tags:        vip",
        "  attributes:  queue=billing",
        "  labels:      pii",
        "  legal holds: -",
        "  retention:   until 2030-01-31",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }

    // extract: history and state beside the in-stream annotations.
    let m = dir.path().join("m.json");
    ok(&[os("extract"), f.as_os_str(), os("--meta"), m.as_os_str()]);
    let doc: Value = serde_json::from_slice(&fs::read(&m).unwrap()).unwrap();
    let h = doc["history"].as_array().unwrap();
    assert_eq!(h.len(), 4);
    assert_eq!(
        h[0]["ops"][0],
        serde_json::json!({"op": "tag", "tag": "vip"})
    );
    assert_eq!(doc["state"], a["state"]);
    // The file is keyless: neither its history nor the state it gives is authenticated.
    assert_eq!(doc["history_authenticated"], false);
    assert_eq!(a["authenticated"], false);
    assert!(
        text.contains("warning:     keyless file: anyone can append"),
        "{text}"
    );
    assert!(doc.get("participants").is_some());
    // Without segments, neither member.
    let g = dir.path().join("g.sasf");
    pack(&g, &[]);
    let m2 = dir.path().join("m2.json");
    ok(&[os("extract"), g.as_os_str(), os("--meta"), m2.as_os_str()]);
    let doc: Value = serde_json::from_slice(&fs::read(&m2).unwrap()).unwrap();
    assert!(doc.get("history").is_none() && doc.get("state").is_none());
}

#[test]
fn twenty_sequential_annotations_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.sasf");
    pack(&f, &[]);
    for n in 0..20 {
        let t = format!("t{n}");
        let (code, out, err) = annotate(&f, &[os("--tag"), os(&t)], &[]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(&format!(": segment {n} (")), "{out}");
    }
    let h = history_json(&f, &[]);
    let segs = h["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 20);
    for (n, s) in segs.iter().enumerate() {
        assert_eq!(s["number"], n);
        assert_eq!(s["ops"][0]["tag"], format!("t{n}"));
    }
    let t = history_text(&f, &[]);
    assert_eq!(t.matches("\nsegment ").count(), 20, "{t}");
    assert!(ok(&[os("verify"), f.as_os_str()]).contains("20 annotation segments"));
}

/// The shell block after `<!-- annotate-recipe: NAME -->` in the README.
fn readme_recipe(name: &str) -> String {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let marker = format!("<!-- annotate-recipe: {name} -->");
    let rest = &readme[readme.find(&marker).expect("recipe marker") + marker.len()..];
    let start = rest.find("```sh\n").unwrap() + "```sh\n".len();
    let len = rest[start..].find("```").unwrap();
    rest[start..start + len].to_string()
}

#[test]
fn the_readme_tagging_recipe_runs() {
    let script = readme_recipe("tag-and-score");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("testdata/qa")).unwrap();
    for (from, to) in [
        (sample(), "testdata/sample-call.wav"),
        (sample_meta(), "testdata/sample-call.json"),
        (qa("form.json"), "testdata/qa/form.json"),
        (qa("answers.json"), "testdata/qa/answers.json"),
    ] {
        fs::copy(from, d.join(to)).unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("sasf");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("sh")
        .arg("-eu")
        .arg("-c")
        .arg(&script)
        .current_dir(d)
        .env("PATH", &path)
        .env_remove("SASF_KEY_FILE")
        .env_remove("SASF_IDENTITY_FILE")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = stderr_of(&o);
    assert!(o.status.success(), "{script}\n{out}{err}");
    for want in [
        "annotated call.sasf: segment 0 (",
        "questionnaire qa-basic v3: 71.43% (pass)",
        "annotated call.sasf: segment 1 (",
        "segment 0 at byte ",
        "  +tag escalated",
        "  attr queue=billing",
        "  questionnaire qa-basic v3 71.43% pass",
        "  hold CASE-7",
        "(valid, trusted annotator); authenticated: yes",
        "call.sasf: OK",
        "2 annotation segments, chain head ",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
    // The output shown in the README matches what ran, but for the chain heads, the
    // signer id and the byte counts.
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    for line in [
        "questionnaire qa-basic v3: 71.43% (pass)",
        "  questionnaire qa-basic v3 71.43% pass",
        "annotated call.sasf: segment 0 (4216 bytes appended)",
        "annotated call.sasf: segment 1 (472 bytes appended)",
        "segment 0 at byte 316106: 2026-12-01T10:00:00Z by qa@example.com; unsigned; authenticated: no",
        "  retention:   held (legal hold: CASE-7)",
        "  warning:     keyless file: anyone can append, so this state is unauthenticated",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
        assert!(readme.contains(line), "README lacks {line:?}");
    }
}
