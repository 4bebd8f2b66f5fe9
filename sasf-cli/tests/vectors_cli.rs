//! Replays every conformance vector in `testdata/vectors/` through the `sasf` binary, as
//! `testdata/vectors/README.md` describes: `verify` must give the expected outcome,
//! exit code and place; `convert` to stdout must release exactly the authenticated
//! audio prefix the vector states (and nothing at all into a file on error); for
//! valid files, `extract` must give back every metadata record in order.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

mod common;
use common::*;

struct Vector {
    name: String,
    header: HashMap<String, String>,
    meta: Vec<String>,
    /// The `signer` lines (they may repeat).
    signers: Vec<String>,
    bytes: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/vectors");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "vec"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let raw = fs::read(&p).unwrap();
            let split = raw
                .windows(2)
                .position(|w| w == b"\n\n")
                .expect("header end");
            let text = std::str::from_utf8(&raw[..split]).unwrap();
            let mut header = HashMap::new();
            let mut meta = Vec::new();
            let mut signers = Vec::new();
            for line in text.lines() {
                let (k, v) = line.split_once(": ").expect("key: value");
                if k == "meta" {
                    meta.push(v.to_string());
                } else if k == "signer" {
                    signers.push(v.to_string());
                } else {
                    header.insert(k.to_string(), v.to_string());
                }
            }
            Vector {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                header,
                meta,
                signers,
                bytes: raw[split + 2..].to_vec(),
            }
        })
        .collect()
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn every_vector_through_the_cli() {
    let vs = vectors();
    assert!(vs.len() >= 80, "{} vectors", vs.len());
    let dir = TempDir::new().unwrap();
    let (mut ok, mut err) = (0, 0);
    for v in &vs {
        let file = dir.path().join("v.sasf");
        fs::write(&file, &v.bytes).unwrap();
        let mut key_args: Vec<std::ffi::OsString> = match v.header["key"].as_str() {
            "none" => vec![],
            hex => {
                let k = dir.path().join("v.key");
                common::write_secret(&k, &format!("{hex}\n"));
                vec!["--key-file".into(), k.into()]
            }
        };
        // The vector's requirement and expected context, as the CLI spells them.
        if let Some(r) = v.header.get("require") {
            key_args.extend(["--require".into(), r.into()]);
        }
        if let Some(c) = v.header.get("expect-context") {
            let (id, tenant) = c.split_once('/').unwrap_or((c, ""));
            key_args.extend(["--expect-id".into(), id.into()]);
            if !tenant.is_empty() {
                key_args.extend(["--expect-tenant".into(), tenant.into()]);
            }
        }
        // An age identity and trusted signers, as files (FORMAT.md §5.7).
        if let Some(id) = v.header.get("identity") {
            let p = dir.path().join("v.identity");
            common::write_secret(&p, &format!("{id}\n"));
            key_args.extend(["-i".into(), p.into()]);
        }
        let mut signer_args: Vec<std::ffi::OsString> = Vec::new();
        for (i, s) in v.signers.iter().enumerate() {
            let p = dir.path().join(format!("v{i}.pub"));
            fs::write(&p, format!("sasf-sign:{s}\n")).unwrap();
            signer_args.extend(["--signer".into(), p.into()]);
        }
        key_args.extend(signer_args.iter().cloned());
        // An auditor: no key, only the signers, through `verify --signer`.
        if let Some(want) = v.header.get("audit") {
            let out = sasf()
                .args(["verify", "--json"])
                .arg(&file)
                .args(&signer_args)
                .output()
                .unwrap();
            let line: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{}: audit: {e}: {out:?}", v.name));
            if want == "success" {
                assert_eq!(out.status.code(), Some(0), "{}: audit: {line}", v.name);
            } else {
                assert_eq!(out.status.code(), Some(1), "{}: audit: {line}", v.name);
                assert_eq!(
                    line["error"].as_str(),
                    want.strip_prefix("error "),
                    "{}: audit: {line}",
                    v.name
                );
            }
        }
        let run = |args: &[&str]| {
            sasf()
                .args(args)
                .arg(&file)
                .args(&key_args)
                .output()
                .unwrap()
        };
        let expect = v.header["expect"].as_str();
        let verify = run(&["verify", "--json"]);
        let line: Value = serde_json::from_slice(&verify.stdout)
            .unwrap_or_else(|e| panic!("{}: {e}: {:?}", v.name, verify));
        let conv = run(&["convert", "-o", "-"]);
        assert!(
            !String::from_utf8_lossy(&conv.stderr).contains("panicked"),
            "{}",
            v.name
        );
        if expect == "success" {
            ok += 1;
            assert_eq!(verify.status.code(), Some(0), "{}: {line}", v.name);
            assert_eq!(
                line["samples"].as_u64().unwrap().to_string(),
                v.header["samples"],
                "{}",
                v.name
            );
            assert_eq!(
                line["recovered"],
                v.header["recovered"] == "yes",
                "{}",
                v.name
            );
            assert_eq!(conv.status.code(), Some(0), "{}", v.name);
            assert_eq!(
                hex_sha256(&wav_data(&conv.stdout)),
                v.header["audio-sha256"],
                "{}",
                v.name
            );
            // Metadata: every PART, EVNT and ANNO record, in order, at its sample.
            let ex = run(&["extract", "--meta", "-"]);
            assert_eq!(ex.status.code(), Some(0), "{}", v.name);
            let doc: Value = serde_json::from_slice(&ex.stdout).unwrap();
            let want: Vec<(&str, u64, Value)> = v
                .meta
                .iter()
                .map(|m| {
                    let (ty, rest) = m.split_at(4);
                    let (ts, json) = rest[1..].split_once(' ').unwrap();
                    (ty, ts.parse().unwrap(), serde_json::from_str(json).unwrap())
                })
                .collect();
            let parts: Vec<&Value> = want
                .iter()
                .filter(|w| w.0 == "PART")
                .map(|w| &w.2)
                .collect();
            let got_parts = doc["participants"].as_array().unwrap();
            assert_eq!(got_parts.len(), parts.len(), "{}", v.name);
            for (g, w) in got_parts.iter().zip(parts) {
                for (k, val) in w.as_object().unwrap() {
                    assert_eq!(&g[k], val, "{}: participant {k}", v.name);
                }
            }
            for (kind, key) in [("EVNT", "events"), ("ANNO", "annotations")] {
                let w: Vec<&(&str, u64, Value)> = want.iter().filter(|w| w.0 == kind).collect();
                let empty = Vec::new();
                let g = doc[key].as_array().unwrap_or(&empty);
                assert_eq!(g.len(), w.len(), "{}: {key}", v.name);
                for (g, w) in g.iter().zip(w) {
                    assert_eq!(g["at_sample"].as_u64(), Some(w.1), "{}: {key}", v.name);
                    for (k, val) in w.2.as_object().unwrap() {
                        if !(k == "digits" && w.2.get("redacted") == Some(&Value::Bool(true))) {
                            assert_eq!(&g[k], val, "{}: {key}.{k}", v.name);
                        }
                    }
                }
            }
        } else {
            err += 1;
            let class = expect.strip_prefix("error ").unwrap();
            let code = if class == "key-required" { 2 } else { 1 };
            assert_eq!(verify.status.code(), Some(code), "{}: {line}", v.name);
            assert_eq!(line["error"], class, "{}: {line}", v.name);
            let msg = line["message"].as_str().unwrap();
            if let Some(c) = v.header.get("chunk") {
                assert!(msg.contains(&format!("chunk {c},")), "{}: {msg}", v.name);
            }
            if let Some(o) = v.header.get("offset") {
                assert!(msg.contains(&format!("offset {o}")), "{}: {msg}", v.name);
            }
            if let Some(a) = v.header.get("after-chunk").filter(|a| *a != "none") {
                assert!(
                    msg.contains(&format!("after chunk {a} ")),
                    "{}: {msg}",
                    v.name
                );
            }
            // To stdout: exactly the authenticated prefix, and the failure is reported.
            assert_eq!(conv.status.code(), Some(code), "{}", v.name);
            let released = wav_data(&conv.stdout);
            assert_eq!(
                hex_sha256(&released),
                v.header["released-audio-sha256"],
                "{}",
                v.name
            );
            // To a file: nothing at all.
            let out = dir.path().join("out.wav");
            let c = sasf()
                .arg("convert")
                .arg(&file)
                .arg("-o")
                .arg(&out)
                .args(&key_args)
                .output()
                .unwrap();
            assert_eq!(c.status.code(), Some(code), "{}", v.name);
            assert!(!out.exists(), "{}", v.name);
            let left = fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .contains("out.wav")
                })
                .count();
            assert_eq!(left, 0, "{}: left a file", v.name);
        }
    }
    assert!(ok >= 20 && err >= 60, "{ok} valid, {err} invalid");
}
