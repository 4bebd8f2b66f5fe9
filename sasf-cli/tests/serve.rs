//! Issue 17: `sasf serve` over HTTP, as a browser (or an attacker) talks to it: the
//! audio a range request gets is the recording's, bit for bit; a damaged recording is
//! shown but never played; and every request without the right to what it asks is
//! refused and written to the audit log, whose chain `--verify-audit` checks.

mod server;

use server::{audit, sasf_bin, Archive};
use std::process::Command;

const SAMPLE: &str = "2026%2F11%2Fsample-call.sasf";
const BOB: &str = "2026%2F11%2Fbob-call.sasf";

/// The sample's samples as 16-bit PCM, through `sasf convert` and ffmpeg (which
/// decodes the µ-law WAV convert writes): what the server's WAV must hold.
fn reference_pcm(a: &Archive) -> Vec<u8> {
    let wav = a.dir.path().join("ref.wav");
    let st = Command::new(sasf_bin())
        .arg("convert")
        .arg(a.root().join("2026/11/sample-call.sasf"))
        .arg("--key-file")
        .arg(&a.key)
        .arg("--no-markers")
        .arg("-o")
        .arg(&wav)
        .status()
        .unwrap();
    assert!(st.success());
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&wav)
        .args(["-f", "s16le", "-"])
        .output()
        .expect("ffmpeg (scripts/test.sh installs it)");
    assert!(o.status.success());
    o.stdout
}

#[test]
fn range_requests_get_the_recordings_own_samples() {
    let a = Archive::new();
    let s = a.serve(false);
    let pcm = reference_pcm(&a);
    let whole = s.get(&format!("/api/audio?path={SAMPLE}"), &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(&whole.body[..4], b"RIFF");
    assert_eq!(
        whole.body[44..],
        pcm[..],
        "the WAV's samples are the recording's"
    );
    let len = whole.body.len();
    // Table: the Range header, and the bytes it must get.
    for (range, first, last) in [
        ("bytes=0-99", 0, 99),
        ("bytes=10-50", 10, 50),
        ("bytes=100001-200000", 100_001, 200_000),
        ("bytes=300000-", 300_000, len - 1),
        ("bytes=-1000", len - 1000, len - 1),
        ("bytes=43-45", 43, 45),
    ] {
        let r = s.get(&format!("/api/audio?path={SAMPLE}"), &[("Range", range)]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range").unwrap(),
            format!("bytes {first}-{last}/{len}"),
            "{range}"
        );
        assert_eq!(r.body, whole.body[first..=last], "{range}");
    }
    let r = s.get(
        &format!("/api/audio?path={SAMPLE}"),
        &[("Range", &format!("bytes={len}-"))],
    );
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range").unwrap(), format!("bytes */{len}"));
    // Without the cookie this server's page set (a request another site's page made,
    // in a browser that sends no Sec-Fetch-Site), nothing; nor from another origin.
    for (what, headers) in [
        ("no local cookie", vec![("Cookie", "x=1")]),
        ("a forged local cookie", vec![("Cookie", "sasf_local=00")]),
        ("another origin", vec![("Origin", "http://evil.example")]),
    ] {
        let r = s.get(&format!("/api/audio?path={SAMPLE}"), &headers);
        assert_eq!(r.status, 403, "{what}");
        assert!(r.body.len() < 200, "{what}: no audio");
    }
    // Decrypted audio is not kept by a browser's cache.
    assert!(whole.header("cache-control").unwrap().contains("no-store"));
}

#[test]
fn a_damaged_recording_is_shown_with_what_was_authenticated_and_never_played() {
    let a = Archive::new();
    let s = a.serve(false);
    let page = s
        .get("/api/recording?path=2026%2F11%2Fdamaged.sasf", &[])
        .json();
    assert_eq!(page["status"]["verdict"], "failed");
    assert_eq!(page["status"]["playable"], false);
    assert!(page["status"]["authenticated"]
        .as_str()
        .unwrap()
        .contains("authenticated"));
    assert!(
        !page["participants"].as_array().unwrap().is_empty(),
        "what came before the damage"
    );
    let audio = s.get("/api/audio?path=2026%2F11%2Fdamaged.sasf", &[]);
    assert_eq!(audio.status, 409, "{}", audio.text());
    let good = s.get(&format!("/api/recording?path={SAMPLE}"), &[]).json();
    assert_eq!(good["status"]["verdict"], "verified");
    assert_eq!(good["participants"][0]["name"], "Ann Agent");
    assert!(good["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "hold" && e["length_ms"] == 1500));
    drop(s);

    // The catalog knows the files; then the folder they are in is swapped for a
    // symbolic link to a copy, and a file for a FIFO. Nothing is read through the
    // link, and the FIFO is refused at once (not waited on).
    let root = a.root();
    // A keyless file, accepted (--require any): its digests check, but anyone could
    // have written it, so it is shown as keyless and neither played nor drawn.
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    server::sasf_run(&[
        "pack".as_ref(),
        manifest.join("testdata/sample-call.wav").as_os_str(),
        "--meta".as_ref(),
        manifest.join("testdata/sample-call.json").as_os_str(),
        "-o".as_ref(),
        root.join("2026/keyless.sasf").as_os_str(),
    ]);
    let s = a.serve_with(false, &["--require", "any"]);
    let page = s.get("/api/recording?path=2026%2Fkeyless.sasf", &[]).json();
    assert_eq!(page["status"]["verdict"], "keyless", "{page}");
    assert_eq!(page["status"]["playable"], false);
    for api in ["audio", "peaks"] {
        let r = s.get(&format!("/api/{api}?path=2026%2Fkeyless.sasf"), &[]);
        assert_eq!(r.status, 409, "{api}: {}", r.text());
        assert!(r.text().contains("keyless"), "{api}: {}", r.text());
    }
    std::fs::rename(root.join("2026/11"), root.join("2026/elsewhere")).unwrap();
    std::os::unix::fs::symlink("elsewhere", root.join("2026/11")).unwrap();
    let audio = s.get(&format!("/api/audio?path={SAMPLE}"), &[]);
    assert_eq!(audio.status, 409, "{}", audio.text());
    assert!(audio.text().contains("symbolic link"), "{}", audio.text());
    let dl = s.get(&format!("/api/download?path={SAMPLE}"), &[]);
    assert_eq!(dl.status, 404, "{}", dl.text());
    std::fs::remove_file(root.join("2026/11")).unwrap();
    std::fs::rename(root.join("2026/elsewhere"), root.join("2026/11")).unwrap();
    let bob = root.join("2026/11/bob-call.sasf");
    std::fs::remove_file(&bob).unwrap();
    let st = Command::new("mkfifo").arg(&bob).status().unwrap();
    assert!(st.success());
    let t = std::time::Instant::now();
    let dl = s.get(&format!("/api/download?path={BOB}"), &[]);
    assert_eq!(dl.status, 404, "{}", dl.text());
    assert!(dl.text().contains("not a regular file"), "{}", dl.text());
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn requests_without_the_right_are_refused_and_logged() {
    let a = Archive::new();
    let s = a.serve(true);
    let sam = s.login("sam", "sam-password-1");
    let ann = s.login("ann", "ann-password-2");
    let aud = s.login("aud", "aud-password-4");
    let gin = s.login("gin", "gin-password-5");
    let csrf = |cookie: &str| -> String {
        let page = s.get("/", &[("Cookie", cookie)]).text();
        page.split("name=csrf content=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    let sam_csrf = csrf(&sam);
    let ann_csrf = csrf(&ann);
    let save = br#"{"add_tags":["checked"]}"#;
    let post = |cookie: &str, token: Option<&str>, path: &str| {
        let mut h = vec![("Cookie", cookie), ("Content-Type", "application/json")];
        if let Some(t) = token {
            h.push(("X-CSRF-Token", t));
        }
        s.request("POST", &format!("/api/annotate?path={path}"), &h, save)
    };
    // Table: what is asked, by whom, the status it gets, and the audit entry's detail.
    type Ask<'a> = Box<dyn Fn() -> u16 + 'a>;
    let cases: Vec<(&str, Ask, u16, &str)> = vec![
        (
            "path traversal",
            Box::new(|| {
                s.get(
                    "/api/audio?path=..%2F..%2Fetc%2Fpasswd",
                    &[("Cookie", &sam)],
                )
                .status
            }),
            400,
            "play: not a .sasf path",
        ),
        (
            "path traversal to a .sasf outside",
            Box::new(|| {
                s.get("/api/recording?path=..%2Fbob.sasf", &[("Cookie", &sam)])
                    .status
            }),
            400,
            "view: a path outside the archive",
        ),
        (
            "an absolute path",
            Box::new(|| {
                s.get("/api/download?path=%2Fetc%2Fx.sasf", &[("Cookie", &sam)])
                    .status
            }),
            400,
            "download: a path outside the archive",
        ),
        (
            "a file the catalog does not know",
            Box::new(|| {
                s.get("/api/audio?path=2026%2Fnone.sasf", &[("Cookie", &sam)])
                    .status
            }),
            404,
            "play: no such recording",
        ),
        (
            "another agent's recording",
            Box::new(|| {
                s.get(&format!("/api/recording?path={BOB}"), &[("Cookie", &ann)])
                    .status
            }),
            403,
            "view: an agent sees only the recordings they took part in",
        ),
        (
            "another agent's audio",
            Box::new(|| {
                s.get(&format!("/api/audio?path={BOB}"), &[("Cookie", &ann)])
                    .status
            }),
            403,
            "play: an agent sees only",
        ),
        (
            "a save without a CSRF token",
            Box::new(|| post(&sam, None, SAMPLE).status),
            403,
            "annotate: missing or wrong CSRF token",
        ),
        (
            "a save with another session's token",
            Box::new(|| post(&sam, Some(&ann_csrf), SAMPLE).status),
            403,
            "annotate: missing or wrong CSRF token",
        ),
        (
            "an agent annotating",
            Box::new(|| post(&ann, Some(&ann_csrf), SAMPLE).status),
            403,
            "annotate: an agent cannot annotate",
        ),
        (
            "an auditor playing",
            Box::new(|| {
                s.get(&format!("/api/audio?path={SAMPLE}"), &[("Cookie", &aud)])
                    .status
            }),
            403,
            "play: an auditor cannot play audio",
        ),
        (
            "an agent downloading",
            Box::new(|| {
                s.get(&format!("/api/download?path={SAMPLE}"), &[("Cookie", &ann)])
                    .status
            }),
            403,
            "download: an agent cannot download",
        ),
        (
            "another agent's waveform",
            Box::new(|| {
                s.get(&format!("/api/peaks?path={BOB}"), &[("Cookie", &ann)])
                    .status
            }),
            403,
            "waveform: an agent sees only",
        ),
        (
            "another agent's recording page",
            Box::new(|| {
                s.get(&format!("/recording?path={BOB}"), &[("Cookie", &ann)])
                    .status
            }),
            403,
            "view: an agent sees only",
        ),
        (
            "an agent named as a call's customer (and as its id)",
            Box::new(|| {
                s.get(&format!("/api/recording?path={BOB}"), &[("Cookie", &gin)])
                    .status
            }),
            403,
            "view: an agent sees only",
        ),
        (
            "an auditor downloading a recording in clear",
            Box::new(|| {
                s.get(
                    "/api/download?path=2026%2F11%2Fbob-clear.sasf",
                    &[("Cookie", &aud)],
                )
                .status
            }),
            403,
            "download: an auditor downloads only encrypted recordings",
        ),
        (
            "another site's page loading the audio",
            Box::new(|| {
                s.get(
                    &format!("/api/audio?path={SAMPLE}"),
                    &[
                        ("Cookie", &sam),
                        ("Sec-Fetch-Site", "cross-site"),
                        ("Sec-Fetch-Mode", "no-cors"),
                        ("Sec-Fetch-Dest", "audio"),
                    ],
                )
                .status
            }),
            403,
            "/api/audio: a request made by another site's page",
        ),
        (
            "no session",
            Box::new(|| s.get(&format!("/api/audio?path={SAMPLE}"), &[]).status),
            401,
            "play: not logged in",
        ),
        (
            "a forged session",
            Box::new(|| {
                s.get(
                    &format!("/api/audio?path={SAMPLE}"),
                    &[("Cookie", "sasf_session=00ff")],
                )
                .status
            }),
            401,
            "play: not logged in",
        ),
    ];
    for (what, ask, status, detail) in &cases {
        let before = audit(&a.root()).len();
        assert_eq!(ask(), *status, "{what}");
        let log = audit(&a.root());
        assert_eq!(log.len(), before + 1, "{what}: one audit entry");
        let e = log.last().unwrap();
        assert_eq!(e["action"], "refused", "{what}");
        assert_eq!(e["ok"], false, "{what}");
        assert!(
            e["detail"].as_str().unwrap().starts_with(detail),
            "{what}: {e}"
        );
    }
    // A link followed from another site to a page is let through (and shows the
    // page); every response says no other site may load it.
    let linked = s.get(
        "/",
        &[
            ("Cookie", &sam),
            ("Sec-Fetch-Site", "cross-site"),
            ("Sec-Fetch-Mode", "navigate"),
        ],
    );
    assert_eq!(linked.status, 200);
    assert_eq!(
        linked.header("cross-origin-resource-policy"),
        Some("same-origin")
    );
    // A Host that is not this server (DNS rebinding) gets nothing.
    let r = s.get("/", &[("Host", "attacker.example:80"), ("Cookie", &sam)]);
    assert_eq!(r.status, 421);
    // A wrong password is logged too, and gives no session.
    let page = s.get("/login", &[]);
    let token = page
        .text()
        .split("name=csrf value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = s.request(
        "POST",
        "/login",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            (
                "Cookie",
                &format!("sasf_login={}", page.cookie("sasf_login").unwrap()),
            ),
        ],
        format!("name=sam&password=wrong&csrf={token}").as_bytes(),
    );
    assert_eq!(r.status, 401);
    assert!(r.cookie("sasf_session").is_none());
    assert_eq!(audit(&a.root()).last().unwrap()["action"], "login");
    // What is allowed works, and is logged: the agent's own recording, the
    // supervisor's save, the auditor's history and download.
    assert_eq!(
        s.get(&format!("/api/audio?path={SAMPLE}"), &[("Cookie", &ann)])
            .status,
        200
    );
    let saved = post(&sam, Some(&sam_csrf), SAMPLE);
    assert_eq!(saved.status, 200, "{}", saved.text());
    assert!(saved.json()["history"]["segments"][0]["ops"][0] == "+tag checked");
    let hist = s
        .get(
            &format!("/api/recording?path={SAMPLE}"),
            &[("Cookie", &aud)],
        )
        .json();
    assert_eq!(hist["history"]["segments"][0]["by"], "sam");
    assert_eq!(hist["can"]["play"], false);
    let dl = s.get(&format!("/api/download?path={SAMPLE}"), &[("Cookie", &aud)]);
    assert_eq!(dl.status, 200);
    assert_eq!(
        dl.body,
        std::fs::read(a.root().join("2026/11/sample-call.sasf")).unwrap()
    );
    let log = audit(&a.root());
    for action in ["play", "annotate", "download"] {
        assert!(
            log.iter().any(|e| e["action"] == action && e["ok"] == true),
            "{action} logged"
        );
    }
    // An agent's search shows only their recordings.
    let found = s.get("/api/search", &[("Cookie", &ann)]).json();
    let rels: Vec<&str> = found["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rel"].as_str().unwrap())
        .collect();
    assert_eq!(rels, ["2026/11/sample-call.sasf"], "{found}");
    assert_eq!(found["total"], 1, "{found}");
    // Her search for someone else finds nothing of his; a search for her own
    // customer finds her call. An agent who is only ever the customer's namesake
    // finds none (a customer is no agent; ids are per recording).
    for (cookie, query, want) in [
        (&ann, "participant=Bob+Agent", 0),
        (&ann, "participant=Carl+Customer", 1),
        (&gin, "", 0),
        (&gin, "participant=Gina+Customer", 0),
    ] {
        let r = s
            .get(&format!("/api/search?{query}"), &[("Cookie", cookie)])
            .json();
        assert_eq!(r["total"], want, "{query}: {r}");
        assert_eq!(r["recordings"].as_array().unwrap().len(), want as usize);
    }
    // Bob's two calls are his.
    let bob = s.login("bob", "bob-password-3");
    let r = s.get("/api/search", &[("Cookie", &bob)]).json();
    assert_eq!(r["total"], 2, "{r}");
    // The supervisor's tag is searchable at once (the file was indexed again).
    let tagged = s.get("/api/search?tag=checked", &[("Cookie", &sam)]).json();
    assert_eq!(tagged["total"], 1, "{tagged}");
    drop(cases);
    drop(s);

    // The chain holds; an edited entry is found at its line.
    let verify = || {
        Command::new(sasf_bin())
            .arg("serve")
            .arg(a.root())
            .arg("--key-file")
            .arg(&a.key)
            .arg("--verify-audit")
            .output()
            .unwrap()
    };
    let o = verify();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    let head = said.split("head ").nth(1).unwrap().trim().to_string();
    let path = a.root().join(".sasf-audit.jsonl");
    // The head kept elsewhere finds the last line cut off; the log itself still
    // chains without it.
    let whole = std::fs::read_to_string(&path).unwrap();
    let cut: String = whole
        .lines()
        .take(whole.lines().count() - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, &cut).unwrap();
    let with_head = |h: &str| {
        Command::new(sasf_bin())
            .arg("serve")
            .arg(a.root())
            .arg("--key-file")
            .arg(&a.key)
            .args(["--verify-audit", "--expect-head", h])
            .output()
            .unwrap()
    };
    assert!(verify().status.success());
    let o = with_head(&head);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no line has the head"));
    std::fs::write(&path, &whole).unwrap();
    let o = with_head(&head);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"user\":\"ann\"", "\"user\":\"eve\"", 1),
    )
    .unwrap();
    let o = verify();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .position(|l| l.contains("\"user\":\"ann\""))
        .unwrap()
        + 1;
    assert!(out.contains(&format!("BROKEN at line {line}")), "{out}");
    // And a server refuses to append to a broken log.
    let o = Command::new(sasf_bin())
        .arg("serve")
        .arg(a.root())
        .arg("--key-file")
        .arg(&a.key)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("broken at line"));
}

#[test]
fn the_server_refuses_what_would_expose_it() {
    let a = Archive::new();
    // Not on loopback without logins.
    let o = Command::new(sasf_bin())
        .arg("serve")
        .arg(a.root())
        .arg("--key-file")
        .arg(&a.key)
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a loopback address"));
    // Nor with logins but no TLS proxy in front: passwords would cross in clear.
    let o = Command::new(sasf_bin())
        .arg("serve")
        .arg(a.root())
        .arg("--key-file")
        .arg(&a.key)
        .arg("--users")
        .arg(&a.users)
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--public-url"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A users file with a plain-text password.
    let bad = a.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[user]]\nname = \"x\"\nrole = \"supervisor\"\npassword = \"secret\"\n",
    )
    .unwrap();
    let o = Command::new(sasf_bin())
        .arg("serve")
        .arg(a.root())
        .arg("--users")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a PHC hash"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
