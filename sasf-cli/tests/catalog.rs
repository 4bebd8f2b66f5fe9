//! Issue 16, the archive catalog: `sasf index` and `sasf search` as a compliance
//! officer uses them, on a real archive (encrypted, authenticated-only, tampered and
//! foreign files, a symbolic link loop), with the catalog's privacy checked on its bytes.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{sample, sasf, stderr_of, write_secret};

thread_local! {
    /// docs/schemas/search.schema.json, which every `search --json` output must meet.
    static SCHEMA: jsonschema::Validator = {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas/search.schema.json");
        let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap();
        jsonschema::validator_for(&v).unwrap()
    };
}

fn meta(id: &str, start: &str, customer: (&str, &str), dtmf: bool) -> String {
    let dtmf = if dtmf {
        r#",{"at_ms": 5000, "type": "dtmf", "participant": "c1", "digits": "4242"}"#
    } else {
        ""
    };
    format!(
        r#"{{"recording": {{"id": "{id}", "started_at": "{start}", "channels": ["agent", "customer"]}},
  "participants": [
    {{"id": "a1", "name": "Ann Agent", "role": "agent", "address": "sip:ann@example.com", "channels": [0]}},
    {{"id": "c1", "name": "{}", "role": "customer", "address": "{}", "channels": [1]}}
  ],
  "events": [{{"at_ms": 0, "type": "join", "participant": "a1"}},
             {{"at_ms": 3000, "type": "hold", "participant": "a1"}}{dtmf}]}}"#,
        customer.0, customer.1
    )
}

struct Archive {
    _dir: tempfile::TempDir,
    root: PathBuf,
    key: PathBuf,
    other_key: PathBuf,
}

fn pack(a: &Archive, rel: &str, meta_json: &str, encrypt: bool) -> PathBuf {
    let out = a.root.join(rel);
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let m = a
        .root
        .parent()
        .unwrap()
        .join(format!("{}.json", rel.replace('/', "_")));
    fs::write(&m, meta_json).unwrap();
    let mut c = sasf();
    c.arg("pack")
        .arg(sample())
        .arg("--meta")
        .arg(&m)
        .arg("-o")
        .arg(&out);
    c.arg("--key-file").arg(&a.key);
    if encrypt {
        c.arg("--encrypt");
    }
    c.assert().success();
    out
}

fn annotate(a: &Archive, file: &Path, args: &[&str]) {
    sasf()
        .arg("annotate")
        .arg(file)
        .args(["--by", "qa@example.com"])
        .args(args)
        .arg("--key-file")
        .arg(&a.key)
        .assert()
        .success();
}

fn archive() -> Archive {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("archive");
    fs::create_dir_all(&root).unwrap();
    let (key, other_key) = (dir.path().join("archive.key"), dir.path().join("other.key"));
    for k in [&key, &other_key] {
        let o = sasf().args(["keygen", "-o"]).arg(k).output().unwrap();
        assert!(o.status.success());
        write_secret(k, &fs::read_to_string(k).unwrap());
    }
    let a = Archive {
        _dir: dir,
        root,
        key,
        other_key,
    };
    let qa = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/qa");
    let gina = pack(
        &a,
        "2026/11/enc-1.sasf",
        &meta(
            "call-gina",
            "2026-11-20T09:00:00Z",
            ("Gina Customer", "+1 (555) 010-0199"),
            true,
        ),
        true,
    );
    annotate(
        &a,
        &gina,
        &["--tag", "escalated", "--attr", "queue=billing"],
    );
    annotate(
        &a,
        &gina,
        &[
            "--questionnaire",
            qa.join("form.json").to_str().unwrap(),
            "--answers",
            qa.join("answers.json").to_str().unwrap(),
        ],
    );
    pack(
        &a,
        "2026/11/auth-2.sasf",
        &meta(
            "call-hugo",
            "2026-11-25T09:00:00Z",
            ("Hugo Plain", "+44 20 7946 0000"),
            false,
        ),
        false,
    );
    let carl = pack(
        &a,
        "2026/12/enc-3.sasf",
        &meta(
            "call-carl",
            "2026-12-01T09:00:00Z",
            ("Carl Customer", "+15551234567"),
            false,
        ),
        true,
    );
    annotate(&a, &carl, &["--legal-hold", "case-7"]);
    // One tampered copy, one file that is not SASF, a link loop.
    let mut bytes = fs::read(&carl).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    fs::write(a.root.join("2026/12/tampered.sasf"), bytes).unwrap();
    fs::write(a.root.join("notes.sasf"), "meeting notes").unwrap();
    std::os::unix::fs::symlink("..", a.root.join("2026/loop")).unwrap();
    a
}

fn index(a: &Archive, key: Option<&Path>) -> (i32, String, String) {
    let mut c = sasf();
    c.arg("index").arg(&a.root);
    if let Some(k) = key {
        c.arg("--key-file").arg(k);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr_of(&o),
    )
}

/// The file names `search` finds with `args` (and the archive key when `keyed`).
fn found(a: &Archive, keyed: bool, args: &[&str]) -> Vec<String> {
    let mut c = sasf();
    c.arg("search").arg(&a.root).args(args).arg("--json");
    if keyed {
        c.arg("--key-file").arg(&a.key);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr_of(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["schema"], "sasf.search/1");
    let errors: Vec<String> = SCHEMA.with(|v| v.iter_errors(&j).map(|e| e.to_string()).collect());
    assert!(errors.is_empty(), "{args:?}: not sasf.search/1: {errors:?}");
    let mut names: Vec<String> = j["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            Path::new(r["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(j["count"], names.len());
    names
}

#[test]
fn an_archive_is_indexed_once_and_searched_by_every_filter() {
    let a = archive();
    let (code, out, err) = index(&a, Some(&a.key));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5 recordings in the catalog: 5 new"), "{out}");
    assert!(err.contains("tampered.sasf: failed"), "{err}");
    assert!(err.contains("notes.sasf: unreadable"), "{err}");
    assert!(err.contains("a symbolic link, not followed"), "{err}");

    // (filters, what is found with the key).
    let rows: &[(&[&str], &[&str])] = &[
        (&["--participant", "gina customer"], &["enc-1.sasf"]),
        (
            &["--participant", "GINA  Customer", "--event", "dtmf"],
            &["enc-1.sasf"],
        ),
        (&["--participant", "tel:+1-555-010-0199"], &["enc-1.sasf"]),
        (
            &["--participant", "Gina Customer", "--role", "customer"],
            &["enc-1.sasf"],
        ),
        (&["--participant", "Gina Customer", "--role", "agent"], &[]),
        (
            &["--participant", "Ann Agent"],
            &["auth-2.sasf", "enc-1.sasf", "enc-3.sasf"],
        ),
        (&["--event", "dtmf"], &["enc-1.sasf"]),
        (
            &["--event", "hold", "--role", "customer"],
            &["auth-2.sasf", "enc-1.sasf", "enc-3.sasf"],
        ),
        (&["--tag", "escalated"], &["enc-1.sasf"]),
        (&["--attr", "queue=billing"], &["enc-1.sasf"]),
        (&["--attr", "queue=sales"], &[]),
        (
            &["--since", "2026-11-21", "--until", "2026-12-01"],
            &["auth-2.sasf"],
        ),
        (&["--since", "2026-12-01T09:00:00Z"], &["enc-3.sasf"]),
        (
            &["--min-duration", "18s"],
            &["auth-2.sasf", "enc-1.sasf", "enc-3.sasf"],
        ),
        (&["--min-duration", "19s"], &[]),
        (&["--score-below", "100"], &["enc-1.sasf"]),
        (&["--score-below", "1"], &[]),
        (&["--legal-hold"], &["enc-3.sasf"]),
        (&["--status", "failed"], &["tampered.sasf"]),
        (&["--status", "unreadable"], &["notes.sasf"]),
    ];
    for (args, want) in rows {
        assert_eq!(found(&a, true, args), *want, "{args:?}");
    }
    // Without the key, what an encrypted recording hides cannot be searched; its
    // public fields can.
    assert_eq!(
        found(&a, false, &["--participant", "gina customer"]),
        Vec::<String>::new()
    );
    assert_eq!(
        found(&a, false, &["--participant", "Hugo Plain"]),
        ["auth-2.sasf"]
    );
    assert_eq!(found(&a, false, &["--legal-hold"]), ["enc-3.sasf"]);
    let o = sasf()
        .arg("search")
        .arg(&a.root)
        .arg("--legal-hold")
        .output()
        .unwrap();
    let line = String::from_utf8(o.stdout).unwrap();
    assert!(
        line.contains("(encrypted: give the archive key)") && !line.contains("Carl"),
        "{line}"
    );
    let o = sasf()
        .arg("search")
        .arg(&a.root)
        .args(["--legal-hold", "--key-file"])
        .arg(&a.key)
        .output()
        .unwrap();
    let line = String::from_utf8(o.stdout).unwrap();
    assert!(
        line.contains("call-carl") && line.contains("Carl Customer (customer)"),
        "{line}"
    );
    assert!(line.contains("2026-12-01T09:00:00"), "{line}");

    // What the encrypted recordings hide is not in the catalog's bytes.
    let mut catalog = Vec::new();
    for e in fs::read_dir(&a.root).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".sasf-catalog")
        {
            catalog.extend(fs::read(&p).unwrap());
        }
    }
    assert!(catalog.len() > 4096);
    for secret in [
        "Gina",
        "gina",
        "Carl",
        "0100199",
        "5551234567",
        "escalated",
        "billing",
        "case-7",
        "4242",
        "call-gina",
    ] {
        assert!(
            !catalog
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "{secret} is in the catalog"
        );
    }
    // The authenticated-only recording is indexed in clear, as its file is.
    assert!(catalog.windows(10).any(|w| w == b"Hugo Plain"));
}

#[test]
fn a_re_index_reads_only_what_changed_and_a_bad_catalog_is_rebuilt() {
    let a = archive();
    assert_eq!(index(&a, Some(&a.key)).0, 0);
    let (_, out, _) = index(&a, Some(&a.key));
    assert!(
        out.contains("0 new, 0 changed, 1 verified again, 4 unchanged, 0 removed"),
        "{out}"
    );
    annotate(
        &a,
        &a.root.join("2026/11/auth-2.sasf"),
        &["--tag", "reviewed"],
    );
    fs::remove_file(a.root.join("notes.sasf")).unwrap();
    let (_, out, _) = index(&a, Some(&a.key));
    assert!(
        out.contains("4 recordings in the catalog: 0 new, 1 changed, 0 verified again, 3 unchanged, 1 removed"),
        "{out}"
    );
    assert_eq!(found(&a, true, &["--tag", "reviewed"]), ["auth-2.sasf"]);

    // Another key is refused, and changes nothing.
    let (code, _, err) = index(&a, Some(&a.other_key));
    assert_eq!(code, 2);
    assert!(err.contains("another archive key"), "{err}");
    assert_eq!(found(&a, true, &["--tag", "reviewed"]), ["auth-2.sasf"]);

    // A damaged catalog is never trusted: search refuses it, index rebuilds it.
    let cat = a.root.join(".sasf-catalog.sqlite");
    let mut bytes = fs::read(&cat).unwrap();
    for b in bytes.iter_mut().skip(100).take(2000) {
        *b = 0x55;
    }
    fs::write(&cat, bytes).unwrap();
    for ext in ["-wal", "-shm"] {
        let _ = fs::remove_file(a.root.join(format!(".sasf-catalog.sqlite{ext}")));
    }
    let o = sasf().arg("search").arg(&a.root).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("sasf index"), "{}", stderr_of(&o));
    let (code, out, err) = index(&a, Some(&a.key));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("rebuilding it from the files"), "{err}");
    assert!(out.contains("4 recordings in the catalog: 4 new"), "{out}");
    assert_eq!(
        found(&a, true, &["--participant", "gina customer"]),
        ["enc-1.sasf"]
    );

    // Bad arguments are refused before the catalog is touched.
    for args in [
        vec!["--since", "last week"],
        vec!["--status", "fine"],
        vec!["--attr", "queue"],
        vec!["--role", "boss"],
    ] {
        let o = sasf()
            .arg("search")
            .arg(&a.root)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn verdicts_follow_the_policy_rows_are_authenticated_and_one_index_runs_at_a_time() {
    let a = archive();
    assert_eq!(index(&a, Some(&a.key)).0, 0);
    assert_eq!(
        found(&a, true, &["--status", "ok"]),
        ["auth-2.sasf", "enc-1.sasf", "enc-3.sasf"]
    );
    // Under a stricter policy every file is verified again, and back.
    let o = sasf()
        .arg("index")
        .arg(&a.root)
        .args(["--require", "encrypted", "--key-file"])
        .arg(&a.key)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("5 verified again, 0 unchanged"), "{out}");
    assert_eq!(
        found(&a, true, &["--status", "ok"]),
        ["enc-1.sasf", "enc-3.sasf"]
    );
    let (_, out, _) = index(&a, Some(&a.key));
    assert!(out.contains("5 verified again"), "{out}");
    assert_eq!(
        found(&a, true, &["--status", "ok"]),
        ["auth-2.sasf", "enc-1.sasf", "enc-3.sasf"]
    );

    // A verdict changed outside sasf: left out of searches (exit 2), verified again by
    // the next index.
    let cat = a.root.join(".sasf-catalog.sqlite");
    {
        let c = rusqlite::Connection::open(&cat).unwrap();
        let n = c
            .execute(
                "UPDATE rec SET verdict = 'ok', error = NULL WHERE verdict = 'failed'",
                [],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let o = sasf()
        .arg("search")
        .arg(&a.root)
        .args(["--json", "--key-file"])
        .arg(&a.key)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains("did not authenticate"),
        "{}",
        stderr_of(&o)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!j.to_string().contains("tampered"), "{j}");
    let (code, _, err) = index(&a, Some(&a.key));
    assert_eq!(code, 0);
    assert!(err.contains("1 catalog row did not authenticate"), "{err}");
    assert_eq!(found(&a, true, &["--status", "failed"]), ["tampered.sasf"]);

    // One index at a time.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(a.root.join(".sasf-catalog.lock"))
        .unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let (code, _, err) = index(&a, Some(&a.key));
    assert_eq!(code, 2);
    assert!(err.contains("another `sasf index` is running"), "{err}");
    drop(lock);
    assert_eq!(index(&a, Some(&a.key)).0, 0);
}
