//! Keys, recipients, signatures and audits through the `sasf` binary (issue 12):
//! `keygen --x25519/--signing`, the key options of every reading command, `pack -r/-R
//! --signing-key`, `keys list/add/remove/rotate`, `sign`, `verify --signer`, and the
//! README's "Keys and access" recipes.

mod common;
use common::*;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn chmod(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

/// `sasf keygen` with `extra` options into `path`; its stdout.
fn keygen_with(path: &Path, extra: &[&str]) -> String {
    let out = sasf()
        .arg("keygen")
        .args(extra)
        .arg("-o")
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    stdout_of(&out)
}

/// A new age identity in `dir/name`; its recipient.
fn identity(dir: &Path, name: &str) -> (PathBuf, String) {
    let p = dir.join(name);
    let r = keygen_with(&p, &["--x25519"]).trim().to_string();
    (p, r)
}

/// A new signing key `dir/name.key` and its `dir/name.pub`; the signer id.
fn signing(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let k = dir.join(format!("{name}.key"));
    let out = keygen_with(&k, &["--signing"]);
    let id = out.trim().strip_prefix("signer id ").unwrap().to_string();
    (k, dir.join(format!("{name}.pub")), id)
}

/// A new key file `dir/name`; its key id.
fn key(dir: &Path, name: &str) -> (PathBuf, String) {
    let p = dir.join(name);
    let out = keygen_with(&p, &[]);
    let id = out.trim().strip_prefix("key id ").unwrap().to_string();
    (p, id)
}

/// `sasf pack` of the sample call into `out` with `args`; must succeed.
fn pack(out: &Path, args: &[&std::ffi::OsStr]) {
    let o = sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Runs `sasf ARGS…`; (exit code, stdout, stderr).
fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let o = sasf().args(args).output().unwrap();
    (o.status.code().unwrap(), stdout_of(&o), stderr_of(&o))
}

/// `verify FILE OPTS…`: the exit code.
fn verify_code(file: &Path, opts: &[&std::ffi::OsStr]) -> i32 {
    let mut a = vec![os("verify"), file.as_os_str()];
    a.extend_from_slice(opts);
    run(&a).0
}

fn keys_list(file: &Path) -> Value {
    let (code, out, err) = run(&[os("keys"), os("list"), file.as_os_str(), os("--json")]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn recipient_ids(file: &Path) -> Vec<String> {
    keys_list(file)["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn keygen_prints_the_public_handle_and_writes_private_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // (options, file, stdout prefix, public file expected)
    let cases: &[(&[&str], &str, &str, Option<&str>)] = &[
        (&[], "k.key", "key id ", None),
        (&["--x25519"], "id.key", "age1", None),
        (&["--signing"], "sign.key", "signer id ", Some("sign.pub")),
        (
            &["--signing"],
            "recorder",
            "signer id ",
            Some("recorder.pub"),
        ),
    ];
    for (opts, name, prefix, public) in cases {
        let p = d.join(name);
        let out = keygen_with(&p, opts);
        let line = out.trim();
        assert!(line.starts_with(prefix), "{opts:?}: {line}");
        assert_eq!(out.lines().count(), 1, "{opts:?}: {out}");
        #[cfg(unix)]
        assert_eq!(mode(&p), 0o600, "{name}");
        let text = fs::read_to_string(&p).unwrap();
        // The secret never goes to stdout.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(!out.contains(l.trim()), "{opts:?}: secret on stdout");
        }
        if let Some(pubname) = public {
            let pp = d.join(pubname);
            #[cfg(unix)]
            assert_eq!(mode(&pp), 0o644, "{pubname}");
            let vk = sasf_core::VerifyingKey::from_pub_file(&fs::read(&pp).unwrap()).unwrap();
            assert_eq!(
                format!("signer id {}", sasf_core::crypto::hex(&vk.id())),
                line
            );
        }
        if *prefix == "key id " {
            let k = sasf_core::Key::from_key_text(text.as_bytes()).unwrap();
            let id = sasf_core::crypto::hex(&sasf_core::crypto::key_id(&k));
            assert_eq!(line, format!("key id {id}"));
        }
        // Never overwritten.
        let before = fs::read(&p).unwrap();
        let o = sasf()
            .arg("keygen")
            .args(*opts)
            .arg("-o")
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{opts:?}");
        assert!(stderr_of(&o).contains("already exists"));
        assert_eq!(fs::read(&p).unwrap(), before);
    }
}

#[cfg(unix)]
#[test]
fn secret_files_readable_by_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (k, _) = key(d, "k.key");
    let (id, rcpt) = identity(d, "id.key");
    let (sk, _, _) = signing(d, "s");
    let f = d.join("f.sasf");
    pack(&f, &[os("--key-file"), k.as_os_str(), os("-r"), os(&rcpt)]);
    let secret_line = |p: &Path| {
        fs::read_to_string(p)
            .unwrap()
            .lines()
            .find(|l| !l.starts_with('#'))
            .unwrap()
            .trim()
            .to_string()
    };
    let f_s = f.as_os_str();
    // (the secret file, its loose mode, the command using it)
    let cases: Vec<(&Path, u32, Vec<&std::ffi::OsStr>)> = vec![
        (
            &k,
            0o644,
            vec![os("verify"), f_s, os("--key-file"), k.as_os_str()],
        ),
        (
            &k,
            0o640,
            vec![os("info"), f_s, os("--key-file"), k.as_os_str()],
        ),
        (
            &id,
            0o604,
            vec![os("verify"), f_s, os("-i"), id.as_os_str()],
        ),
        (
            &sk,
            0o644,
            vec![
                os("sign"),
                f_s,
                os("--signing-key"),
                sk.as_os_str(),
                os("--key-file"),
                k.as_os_str(),
            ],
        ),
    ];
    for (secret, loose, args) in cases {
        chmod(secret, loose);
        let (code, out, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(&secret.display().to_string()), "{err}");
        assert!(err.contains(&format!("{loose:04o}")), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains(&secret_line(secret)), "secret in message");
        // Accepted with --allow-loose-permissions (with a warning).
        let mut a = args.clone();
        a.push(os("--allow-loose-permissions"));
        let (code, out, err) = run(&a);
        assert_eq!(code, 0, "{a:?}: {out}{err}");
        assert!(err.contains("warning"), "{err}");
        chmod(secret, 0o600);
    }
    // SASF_KEY_FILE and SASF_IDENTITY_FILE are checked too.
    chmod(&id, 0o644);
    let o = sasf()
        .arg("verify")
        .arg(&f)
        .env("SASF_IDENTITY_FILE", &id)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    chmod(&id, 0o600);
    let o = sasf()
        .arg("verify")
        .arg(&f)
        .env("SASF_IDENTITY_FILE", &id)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
}

/// Whether a test's secret file is an age identity (by its name), not a key file.
fn is_identity(p: &Path) -> bool {
    let n = p.file_name().unwrap().to_string_lossy();
    n.starts_with("id") || n == "other.key"
}

#[test]
fn pack_with_recipients_of_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, a_id) = key(d, "a.key");
    let (b, b_id) = key(d, "b.key");
    let (id1, r1) = identity(d, "id1.key");
    let (id2, r2) = identity(d, "id2.key");
    let (other, _) = identity(d, "other.key");
    let rfile = d.join("team.txt");
    fs::write(&rfile, format!("# the team\n{r2}\n\n")).unwrap();
    struct Case<'a> {
        name: &'a str,
        args: Vec<&'a std::ffi::OsStr>,
        level: &'a str,
        kinds: &'a [&'a str],
        opens: Vec<&'a Path>,
        closed: Vec<&'a Path>,
        capacity: u64,
    }
    let cases = [
        Case {
            name: "two key files",
            args: vec![
                os("--key-file"),
                a.as_os_str(),
                os("--key-file"),
                b.as_os_str(),
            ],
            level: "hmac-sha256",
            kinds: &["symmetric", "symmetric"],
            opens: vec![&a, &b],
            closed: vec![&id1],
            capacity: 4096,
        },
        Case {
            name: "public only, encrypted",
            args: vec![
                os("--encrypt"),
                os("-r"),
                os(&r1),
                os("-R"),
                rfile.as_os_str(),
            ],
            level: "aes-256-gcm",
            kinds: &["age", "age"],
            opens: vec![&id1, &id2],
            closed: vec![&other, &a],
            capacity: 4096,
        },
        Case {
            name: "a key and a recipient, larger key area",
            args: vec![
                os("--key-file"),
                a.as_os_str(),
                os("-r"),
                os(&r1),
                os("--encrypt"),
                os("--key-area"),
                os("16384"),
            ],
            level: "aes-256-gcm",
            kinds: &["symmetric", "age"],
            opens: vec![&a, &id1],
            closed: vec![&b, &id2],
            capacity: 16384,
        },
        Case {
            name: "public only, authenticated",
            args: vec![os("-r"), os(&r2)],
            level: "hmac-sha256",
            kinds: &["age"],
            opens: vec![&id2],
            closed: vec![&id1],
            capacity: 4096,
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let f = d.join(format!("{i}.sasf"));
        pack(&f, &c.args);
        let l = keys_list(&f);
        assert_eq!(l["integrity"], c.level, "{}", c.name);
        assert_eq!(l["capacity"], c.capacity, "{}", c.name);
        let kinds: Vec<&str> = l["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, c.kinds, "{}", c.name);
        for p in &c.opens {
            let opt = if is_identity(p) { "-i" } else { "--key-file" };
            assert_eq!(
                verify_code(&f, &[os(opt), p.as_os_str()]),
                0,
                "{}: {p:?}",
                c.name
            );
        }
        for p in &c.closed {
            let opt = if is_identity(p) { "-i" } else { "--key-file" };
            assert_eq!(
                verify_code(&f, &[os(opt), p.as_os_str()]),
                1,
                "{}: {p:?}",
                c.name
            );
        }
        // Without a key it cannot be read.
        assert_eq!(verify_code(&f, &[]), 2, "{}", c.name);
    }
    let ids = recipient_ids(&d.join("0.sasf"));
    assert_eq!(ids, vec![a_id, b_id]);

    // Refused: --encrypt without any recipient; --signing-key to stdout; a bad
    // recipient; a key area below the minimum.
    let (sk, _, _) = signing(d, "s");
    let refused: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (vec![os("--encrypt")], "needs a key or a recipient"),
        (
            vec![
                os("--key-file"),
                a.as_os_str(),
                os("--signing-key"),
                sk.as_os_str(),
            ],
            "sign the file afterwards with sasf sign",
        ),
        (vec![os("-r"), os("age1notarecipient")], "recipient"),
        (
            vec![os("--key-file"), a.as_os_str(), os("--key-area"), os("100")],
            "capacity",
        ),
    ];
    for (i, (args, msg)) in refused.iter().enumerate() {
        let out = if i == 1 { os("-") } else { os("refused.sasf") };
        // (A writer for public recipients only signs what it wrote: below.)
        let o = sasf()
            .current_dir(d)
            .arg("pack")
            .arg(sample())
            .arg("-o")
            .arg(out)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr_of(&o).contains(msg), "{args:?}: {}", stderr_of(&o));
        assert!(o.stdout.is_empty() || i != 1, "nothing written to stdout");
        assert!(!d.join("refused.sasf").exists());
    }
}

#[test]
fn pack_signs_before_the_file_appears() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (k, _) = key(d, "k.key");
    let (sk, pk, sid) = signing(d, "s");
    for (i, extra) in [vec![], vec![os("--verify-all")], vec![os("--no-verify")]]
        .into_iter()
        .enumerate()
    {
        let f = d.join(format!("{i}.sasf"));
        let mut args = vec![
            os("--key-file"),
            k.as_os_str(),
            os("--encrypt"),
            os("--signing-key"),
            sk.as_os_str(),
        ];
        args.extend(extra);
        pack(&f, &args);
        let l = keys_list(&f);
        assert_eq!(l["signatures"][0]["signer_id"], sid.as_str());
        let (code, out, err) = run(&[
            os("verify"),
            f.as_os_str(),
            os("--signer"),
            pk.as_os_str(),
            os("--key-file"),
            k.as_os_str(),
            os("--require"),
            os("signed"),
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(&format!("signed by {sid}")), "{out}");
    }
    assert_eq!(listing(d).len(), 6, "{:?}", listing(d));
    // Through the fallback temporary file too (no O_TMPFILE).
    let f = d.join("fallback.sasf");
    let o = sasf()
        .env("SASF_NO_O_TMPFILE", "1")
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&f)
        .arg("--key-file")
        .arg(&k)
        .arg("--signing-key")
        .arg(&sk)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(keys_list(&f)["signatures"].as_array().unwrap().len(), 1);
    assert!(listing(d).iter().all(|n| !n.ends_with(".part")));
}

#[test]
fn keys_list_shows_the_key_area_without_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (k, kid) = key(d, "k.key");
    let (_, r) = identity(d, "id.key");
    let (sk, _, sid) = signing(d, "s");
    let f = d.join("f.sasf");
    pack(
        &f,
        &[
            os("--key-file"),
            k.as_os_str(),
            os("-r"),
            os(&r),
            os("--encrypt"),
            os("--signing-key"),
            sk.as_os_str(),
        ],
    );
    let l = keys_list(&f);
    assert_eq!(l["capacity"], 4096);
    assert_eq!(l["copies"][0]["state"], "intact");
    assert_eq!(l["copies"][1]["state"], "intact");
    assert_eq!(l["generation"], 2, "written, then signed");
    assert_eq!(l["recipients"][0]["kind"], "symmetric");
    assert_eq!(l["recipients"][0]["id"], kid.as_str());
    assert_eq!(l["recipients"][1]["kind"], "age");
    assert_eq!(l["recipients"][1]["index"], 1);
    assert!(l["recipients"][1]["age"]
        .as_str()
        .unwrap()
        .contains("X25519"));
    assert_eq!(l["signatures"][0]["signer_id"], sid.as_str());
    assert!(l["signatures"][0]["signed_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert!(l["signatures"][0]["valid"].is_null());
    let (code, out, err) = run(&[os("keys"), os("list"), f.as_os_str()]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "4096 bytes per copy",
        "copy A:        intact, generation 2",
        "copy B:        intact, generation 2",
        &format!("symmetric  {kid}"),
        "X25519",
        &format!("signer {sid}"),
        "not checked; use sasf verify --signer",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    // A fresh keyless file: one copy written, the other empty.
    let p = d.join("plain.sasf");
    pack_sample(&p);
    let l = keys_list(&p);
    assert_eq!(l["copies"][1]["state"], "empty");
    assert_eq!(l["recipients"].as_array().unwrap().len(), 0);
    // A damaged copy is shown as such (the other stays in force).
    let mut b = fs::read(&f).unwrap();
    b[128 + 4 + 4096 + 10] ^= 0xff;
    fs::write(&p, &b).unwrap();
    let l = keys_list(&p);
    assert_eq!(l["copies"][1]["state"], "damaged", "{l}");
    assert_eq!(l["copies"][0]["state"], "intact");
}

/// The byte ranges where `a` and `b` differ: (first, last).
fn diff_span(a: &[u8], b: &[u8]) -> Option<(usize, usize)> {
    assert_eq!(a.len(), b.len());
    let first = (0..a.len()).find(|&i| a[i] != b[i])?;
    let last = (0..a.len()).rev().find(|&i| a[i] != b[i])?;
    Some((first, last))
}

#[test]
fn keys_add_remove_rotate_rewrite_only_the_key_area() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, a_id) = key(d, "a.key");
    let (b, b_id) = key(d, "b.key");
    let (c, c_id) = key(d, "c.key");
    let (id, r) = identity(d, "id.key");
    let f = d.join("f.sasf");
    pack(&f, &[os("--key-file"), a.as_os_str(), os("--encrypt")]);
    // The key area of a file with no header extensions: 128 header bytes, then the
    // 4-byte capacity and two copies of 4096.
    let area = 128..128 + 4 + 2 * 4096;
    let ka = || vec![os("--key-file"), a.as_os_str()];
    let kb = || vec![os("--key-file"), b.as_os_str()];
    let kc = || vec![os("--key-file"), c.as_os_str()];
    let ki = || vec![os("-i"), id.as_os_str()];
    // (what, arguments after the file, expected recipients after, opens, does not open)
    type Step<'a> = (
        &'a str,
        Vec<&'a std::ffi::OsStr>,
        Vec<String>,
        Vec<Vec<&'a std::ffi::OsStr>>,
        Vec<Vec<&'a std::ffi::OsStr>>,
    );
    let steps: Vec<Step> = vec![
        (
            "add a key and an age recipient",
            [
                vec![
                    os("add"),
                    f.as_os_str(),
                    os("--add-key-file"),
                    b.as_os_str(),
                    os("-r"),
                    os(&r),
                ],
                ka(),
            ]
            .concat(),
            vec![a_id.clone(), b_id.clone(), "age".into()],
            vec![ka(), kb(), ki()],
            vec![kc()],
        ),
        (
            "remove a by id, opened by the identity",
            [
                vec![os("remove"), f.as_os_str(), os("--id"), os(&a_id[..8])],
                ki(),
            ]
            .concat(),
            vec![b_id.clone(), "age".into()],
            vec![kb(), ki()],
            vec![ka()],
        ),
        (
            "rotate b to c",
            [
                vec![
                    os("rotate"),
                    f.as_os_str(),
                    os("--id"),
                    os(&b_id),
                    os("--add-key-file"),
                    c.as_os_str(),
                ],
                kb(),
            ]
            .concat(),
            vec!["age".into(), c_id.clone()],
            vec![kc(), ki()],
            vec![kb(), ka()],
        ),
        (
            "remove by key file",
            [
                vec![
                    os("remove"),
                    f.as_os_str(),
                    os("--remove-key-file"),
                    c.as_os_str(),
                ],
                kc(),
            ]
            .concat(),
            vec!["age".into()],
            vec![ki()],
            vec![kc()],
        ),
    ];
    let mut gen = 1;
    for (what, args, want, opens, closed) in steps {
        let before = fs::read(&f).unwrap();
        let mut full = vec![os("keys")];
        full.extend(args);
        let (code, out, err) = run(&full);
        assert_eq!(code, 0, "{what}: {out}{err}");
        gen += 1;
        assert!(out.contains("8192 bytes written"), "{what}: {out}");
        assert!(out.contains(&format!("generation {gen}")), "{what}: {out}");
        let after = fs::read(&f).unwrap();
        let (first, last) = diff_span(&before, &after).unwrap();
        assert!(
            area.contains(&first) && area.contains(&last),
            "{what}: bytes {first}..={last} changed outside the key area {area:?}"
        );
        assert_eq!(before[..area.start], after[..area.start], "header");
        assert_eq!(before[area.end..], after[area.end..], "chunks");
        let l = keys_list(&f);
        let got: Vec<String> = l["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                if x["kind"] == "age" {
                    "age".to_string()
                } else {
                    x["id"].as_str().unwrap().to_string()
                }
            })
            .collect();
        assert_eq!(got, want, "{what}");
        for o in opens {
            assert_eq!(verify_code(&f, &o), 0, "{what}: {o:?}");
        }
        for o in closed {
            assert_eq!(verify_code(&f, &o), 1, "{what}: {o:?}");
        }
    }
    // Refused: the last recipient (exit 2); an opener that does not open (exit 1);
    // no opener (2); an unknown id (2); nothing to add (2); stdin (2).
    let last = recipient_ids(&f)[0].clone();
    let refused: Vec<(Vec<&std::ffi::OsStr>, i32, &str)> = vec![
        (
            [
                vec![os("remove"), f.as_os_str(), os("--id"), os(&last)],
                ki(),
            ]
            .concat(),
            2,
            "last recipient",
        ),
        (
            [
                vec![
                    os("add"),
                    f.as_os_str(),
                    os("--add-key-file"),
                    b.as_os_str(),
                ],
                ka(),
            ]
            .concat(),
            1,
            "recipient",
        ),
        (
            vec![
                os("add"),
                f.as_os_str(),
                os("--add-key-file"),
                b.as_os_str(),
            ],
            2,
            "needs a key that opens the file",
        ),
        (
            [
                vec![os("remove"), f.as_os_str(), os("--id"), os("00000000")],
                ki(),
            ]
            .concat(),
            2,
            "no recipient has id",
        ),
        (
            [vec![os("add"), f.as_os_str()], ki()].concat(),
            2,
            "no new recipient",
        ),
        (
            [
                vec![os("add"), os("-"), os("--add-key-file"), b.as_os_str()],
                ki(),
            ]
            .concat(),
            2,
            "in place",
        ),
    ];
    let before = fs::read(&f).unwrap();
    for (args, code, msg) in refused {
        let mut full = vec![os("keys")];
        full.extend(args.iter().copied());
        let (got, out, err) = run(&full);
        assert_eq!(got, code, "{args:?}: {out}{err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(fs::read(&f).unwrap(), before, "{args:?}: file unchanged");
    }
}

#[test]
fn two_concurrent_keys_add_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, _) = key(d, "a.key");
    let f = d.join("f.sasf");
    pack(&f, &[os("--key-file"), a.as_os_str()]);
    let bin = assert_cmd::cargo::cargo_bin("sasf");
    for round in 0..3 {
        let new: Vec<(PathBuf, String)> = (0..2)
            .map(|i| key(d, &format!("n{round}-{i}.key")))
            .collect();
        let children: Vec<_> = new
            .iter()
            .map(|(p, _)| {
                std::process::Command::new(&bin)
                    .env_remove("SASF_KEY_FILE")
                    .args(["keys", "add"])
                    .arg(&f)
                    .arg("--add-key-file")
                    .arg(p)
                    .arg("--key-file")
                    .arg(&a)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let ids = recipient_ids(&f);
        for (p, id) in &new {
            assert!(ids.contains(id), "round {round}: {ids:?}");
            assert_eq!(verify_code(&f, &[os("--key-file"), p.as_os_str()]), 0);
        }
        assert_eq!(ids.len(), 1 + 2 * (round + 1));
    }
    assert_eq!(keys_list(&f)["generation"], 7);
}

#[test]
fn sign_and_verify_with_and_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (k, _) = key(d, "k.key");
    let (id, r) = identity(d, "id.key");
    let (sk, pk, sid) = signing(d, "auditor");
    let (_, other_pk, _) = signing(d, "other");
    let signed = d.join("signed.sasf");
    pack(
        &signed,
        &[
            os("--key-file"),
            k.as_os_str(),
            os("-r"),
            os(&r),
            os("--encrypt"),
        ],
    );
    let (code, out, err) = run(&[
        os("sign"),
        signed.as_os_str(),
        os("--signing-key"),
        sk.as_os_str(),
        os("--key-file"),
        k.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("signed by {sid}")), "{out}");
    let unsigned = d.join("unsigned.sasf");
    pack(&unsigned, &[os("--key-file"), k.as_os_str()]);
    let keyless = d.join("keyless.sasf");
    pack_sample(&keyless);
    // A keyless file can be signed, but never meets --require signed.
    let (code, _, err) = run(&[
        os("sign"),
        keyless.as_os_str(),
        os("--signing-key"),
        sk.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let mut tampered = fs::read(&signed).unwrap();
    let n = tampered.len();
    tampered[n - 300] ^= 1;
    let tampered_p = d.join("tampered.sasf");
    fs::write(&tampered_p, &tampered).unwrap();

    let key = || vec![os("--key-file"), k.as_os_str()];
    let ident = || vec![os("-i"), id.as_os_str()];
    let trust = || vec![os("--signer"), pk.as_os_str()];
    let distrust = || vec![os("--signer"), other_pk.as_os_str()];
    let signed_req = || vec![os("--require"), os("signed")];
    // (file, options, exit code, text to find, JSON error class)
    type Case<'a> = (
        &'a Path,
        Vec<&'a std::ffi::OsStr>,
        i32,
        String,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            &signed,
            [key(), trust()].concat(),
            0,
            format!("OK  00:00:18.845  aes-256-gcm  22 chunks  signed by {sid}"),
            None,
        ),
        (
            &signed,
            [ident(), trust(), signed_req()].concat(),
            0,
            format!("signed by {sid}"),
            None,
        ),
        (
            &signed,
            trust(),
            0,
            format!("OK, signed by {sid} (verified without the key: contents not decrypted)"),
            None,
        ),
        (
            &signed,
            [trust(), signed_req()].concat(),
            0,
            "verified without the key".into(),
            None,
        ),
        (
            &signed,
            [trust(), distrust()].concat(),
            0,
            format!("signed by {sid}"),
            None,
        ),
        (&signed, distrust(), 1, "FAILED".into(), Some("not-signed")),
        (
            &signed,
            [key(), distrust()].concat(),
            1,
            "FAILED".into(),
            Some("not-signed"),
        ),
        (
            &unsigned,
            [key(), trust()].concat(),
            1,
            "FAILED".into(),
            Some("not-signed"),
        ),
        (&unsigned, trust(), 1, "FAILED".into(), Some("not-signed")),
        (&tampered_p, trust(), 1, "FAILED".into(), Some("not-signed")),
        (
            &keyless,
            [trust(), signed_req()].concat(),
            1,
            "FAILED".into(),
            Some("not-protected"),
        ),
        (&keyless, trust(), 0, format!("signed by {sid}"), None),
        (&signed, signed_req(), 2, "".into(), None),
        (&signed, key(), 0, "OK".into(), None),
    ];
    for (file, opts, code, text, class) in cases {
        let mut a = vec![os("verify"), file.as_os_str()];
        a.extend(opts.iter().copied());
        let (got, out, err) = run(&a);
        assert_eq!(got, code, "{file:?} {opts:?}: {out}{err}");
        assert!(out.contains(&text), "{file:?} {opts:?}: {out}{err}");
        if code == 2 {
            assert!(err.contains("--signer"), "{err}");
            continue;
        }
        a.push(os("--json"));
        let (got, out, _) = run(&a);
        assert_eq!(got, code);
        let j: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(j["ok"], code == 0, "{j}");
        if let Some(c) = class {
            assert_eq!(j["error"], c, "{file:?} {opts:?}: {j}");
        } else {
            let sigs = j["signatures"].as_array().unwrap();
            if file == signed.as_path() && !opts.is_empty() && opts != key() {
                assert_eq!(sigs[0]["id"], sid.as_str());
                assert_eq!(sigs[0]["valid"], true);
                assert_eq!(sigs[0]["trusted"], true);
                assert!(sigs[0]["signed_at"].as_str().unwrap().ends_with('Z'));
            }
        }
    }
    // Signing needs a file that verifies and an opener for a keyed one.
    let (code, _, err) = run(&[
        os("sign"),
        tampered_p.as_os_str(),
        os("--signing-key"),
        sk.as_os_str(),
        os("--key-file"),
        k.as_os_str(),
    ]);
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = run(&[
        os("sign"),
        unsigned.as_os_str(),
        os("--signing-key"),
        sk.as_os_str(),
    ]);
    assert_eq!(code, 2);
    // The auditor's path reads stdin too.
    let o = sasf()
        .args(["verify", "-", "--signer"])
        .arg(&pk)
        .pipe_stdin(&signed)
        .unwrap()
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stdout_of(&o).contains("verified without the key"));
}

#[test]
fn info_shows_recipients_and_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (k, kid) = key(d, "k.key");
    let (_, r) = identity(d, "id.key");
    let (sk, _, sid) = signing(d, "s");
    let f = d.join("f.sasf");
    pack(
        &f,
        &[
            os("--key-file"),
            k.as_os_str(),
            os("-r"),
            os(&r),
            os("--signing-key"),
            sk.as_os_str(),
        ],
    );
    for opts in [vec![], vec![os("--key-file"), k.as_os_str()]] {
        let mut a = vec![os("info"), f.as_os_str()];
        a.extend(opts.iter().copied());
        let (code, out, err) = run(&a);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("recipients:    2 (symmetric {kid}, age ")),
            "{out}"
        );
        assert!(
            out.contains(&format!("signatures:    1 (ed25519 {sid})")),
            "{out}"
        );
        a.push(os("--json"));
        let (code, out, _) = run(&a);
        assert_eq!(code, 0);
        let j: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["access"]["recipients"][0]["id"], kid.as_str());
        assert_eq!(j["access"]["recipients"][1]["kind"], "age");
        assert_eq!(j["access"]["signatures"][0]["signer_id"], sid.as_str());
    }
}

#[test]
fn every_reading_command_takes_identities_and_several_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ka, _) = key(d, "a.key");
    let (b, _) = key(d, "b.key");
    let (id, r) = identity(d, "id.key");
    let f = d.join("f.sasf");
    let meta = sample_meta();
    pack(
        &f,
        &[
            os("--encrypt"),
            os("-r"),
            os(&r),
            os("--meta"),
            meta.as_os_str(),
        ],
    );
    let fs_ = f.as_os_str();
    let wav = d.join("out.wav");
    let json = d.join("out.json");
    let cmds: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec![os("verify"), fs_],
        vec![os("info"), fs_],
        vec![os("convert"), fs_, os("-o"), wav.as_os_str(), os("-f")],
        vec![
            os("convert"),
            fs_,
            os("-o"),
            wav.as_os_str(),
            os("-f"),
            os("--from"),
            os("2"),
            os("--to"),
            os("4"),
        ],
        vec![os("extract"), fs_, os("--meta"), json.as_os_str(), os("-f")],
    ];
    for c in cmds {
        // Two key files that do not open it, then the identity that does.
        let mut a = c.clone();
        a.extend([
            os("--key-file"),
            ka.as_os_str(),
            os("--key-file"),
            b.as_os_str(),
            os("-i"),
            id.as_os_str(),
        ]);
        let (code, out, err) = run(&a);
        assert_eq!(code, 0, "{a:?}: {out}{err}");
        // The key files alone do not.
        let mut a = c.clone();
        a.extend([os("--key-file"), b.as_os_str()]);
        let (code, _, _) = run(&a);
        assert_eq!(code, 1, "{a:?}");
    }
    assert!(sasf_core::wav::WavReader::new(&fs::read(&wav).unwrap()[..]).is_ok());
}

/// The shell blocks of the README's "Keys and access" recipes, by name: each is the
/// ```sh block after a `<!-- recipe: NAME -->` marker.
fn readme_recipes() -> Vec<(String, String)> {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let mut out = Vec::new();
    let mut rest = readme.as_str();
    while let Some(i) = rest.find("<!-- recipe: ") {
        rest = &rest[i + "<!-- recipe: ".len()..];
        let name = rest[..rest.find(" -->").unwrap()].to_string();
        let start = rest.find("```sh\n").unwrap() + "```sh\n".len();
        let len = rest[start..].find("```").unwrap();
        out.push((name, rest[start..start + len].to_string()));
        rest = &rest[start + len..];
    }
    out
}

#[test]
fn the_readme_recipes_run() {
    let recipes = readme_recipes();
    let names: Vec<&str> = recipes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "master-key",
            "teams-and-auditor",
            "rotate",
            "write-only-recorder"
        ]
    );
    let bin = assert_cmd::cargo::cargo_bin("sasf");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (name, script) in &recipes {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::copy(sample(), d.join("call.wav")).unwrap();
        let o = std::process::Command::new("sh")
            .arg("-eu")
            .arg("-c")
            .arg(script)
            .current_dir(d)
            .env("PATH", &path)
            .env_remove("SASF_KEY_FILE")
            .env_remove("SASF_IDENTITY_FILE")
            .output()
            .unwrap();
        let (out, err) = (stdout_of(&o), stderr_of(&o));
        assert!(o.status.success(), "{name}:\n{script}\n{out}{err}");
        let f = d.join("call.sasf");
        match name.as_str() {
            "master-key" => {
                assert!(out.contains("key id "), "{out}");
                assert!(out.contains("call.sasf: OK"), "{out}");
                assert_eq!(verify_code(&f, &[]), 2, "no key");
            }
            "teams-and-auditor" => {
                assert!(out.contains("call.sasf: OK  "), "{out}");
                assert!(
                    out.contains("(verified without the key: contents not decrypted)"),
                    "{out}"
                );
                for k in ["sales.key", "support.key"] {
                    let k = d.join(k);
                    assert_eq!(verify_code(&f, &[os("--key-file"), k.as_os_str()]), 0);
                }
            }
            "rotate" => {
                let old = d.join("old.key");
                let new = d.join("new.key");
                assert_eq!(verify_code(&f, &[os("--key-file"), old.as_os_str()]), 1);
                assert_eq!(verify_code(&f, &[os("--key-file"), new.as_os_str()]), 0);
                assert!(out.contains("generation 2"), "{out}");
                assert_eq!(recipient_ids(&f).len(), 1);
            }
            "write-only-recorder" => {
                assert!(fs::read_to_string(d.join("archive.rcpt"))
                    .unwrap()
                    .starts_with("age1"));
                assert!(out.contains("call.sasf: OK"), "{out}");
                // The recorder has no key: without the identity nothing opens it.
                assert_eq!(verify_code(&f, &[]), 2);
                let (other, _) = identity(d, "other.id");
                assert_eq!(verify_code(&f, &[os("-i"), other.as_os_str()]), 1);
                assert_eq!(keys_list(&f)["recipients"][0]["kind"], "age");
            }
            other => panic!("untested recipe {other}"),
        }
    }
}

#[test]
fn commands_that_seal_with_the_key_refuse_what_they_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (id, r) = identity(d, "id.key");
    let (_, pk, _) = signing(d, "s");
    let f = d.join("f.sasf");
    pack(&f, &[os("--encrypt"), os("-r"), os(&r)]);
    let actions = d.join("actions.json");
    fs::write(
        &actions,
        r#"[{"at_ms": 1000, "action": "snippet_start", "by": "a"}]"#,
    )
    .unwrap();
    let out = d.join("out.sasf");
    let outdir = d.join("outdir");
    let sample = sample();
    let i = || vec![os("-i"), id.as_os_str()];
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            [
                vec![os("recover"), f.as_os_str(), os("-o"), out.as_os_str()],
                vec![os("--signer"), pk.as_os_str()],
            ]
            .concat(),
            "checks no signature",
        ),
        (
            [
                vec![
                    os("session"),
                    actions.as_os_str(),
                    os("--audio"),
                    sample.as_os_str(),
                ],
                vec![os("-o"), outdir.as_os_str()],
                i(),
            ]
            .concat(),
            "seals its output with a symmetric key",
        ),
    ];
    for (args, msg) in cases {
        let (code, o, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {o}{err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert!(!out.exists() && !outdir.exists());
    }
}

/// A file only an age identity opens can be recovered with that identity: the
/// recovered file is wrapped for the identity's recipient again.
#[test]
fn recover_with_an_identity_rewraps_for_its_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (id, r) = identity(d, "id.key");
    let f = d.join("f.sasf");
    pack(&f, &[os("--encrypt"), os("-r"), os(&r)]);
    let bytes = fs::read(&f).unwrap();
    let cut = d.join("cut.sasf");
    fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let out = d.join("rec.sasf");
    let (code, o, err) = run(&[
        os("recover"),
        cut.as_os_str(),
        os("-o"),
        out.as_os_str(),
        os("-i"),
        id.as_os_str(),
    ]);
    assert_eq!(code, 0, "{o}{err}");
    let (code, o, err) = run(&[os("verify"), out.as_os_str(), os("-i"), id.as_os_str()]);
    assert_eq!(code, 0, "{o}{err}");
    assert!(o.contains("recovered"), "{o}");
}

/// A recorder that cannot decrypt its own output still signs it: an auditor checks the
/// signature without any key, and the identity opens the file.
#[test]
fn a_writer_for_public_recipients_only_signs_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (id, r) = identity(d, "id.key");
    let (sk, pk, _) = signing(d, "rec");
    let f = d.join("f.sasf");
    pack(
        &f,
        &[
            os("--encrypt"),
            os("-r"),
            os(&r),
            os("--signing-key"),
            sk.as_os_str(),
        ],
    );
    let (code, o, err) = run(&[os("verify"), f.as_os_str(), os("--signer"), pk.as_os_str()]);
    assert_eq!(code, 0, "{o}{err}");
    assert!(o.contains("signed by"), "{o}");
    let (code, o, err) = run(&[
        os("verify"),
        f.as_os_str(),
        os("-i"),
        id.as_os_str(),
        os("--signer"),
        pk.as_os_str(),
        os("--require"),
        os("signed"),
    ]);
    assert_eq!(code, 0, "{o}{err}");
}
