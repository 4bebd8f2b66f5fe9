//! Issue 14, "Consistency": what `sasf` says when it cannot take an input, read as a
//! table. Each row is a WAV input sasf does not read, the command run on it, and what
//! its error must name; every row must exit 2 and write nothing.

mod common;

use std::fs;

use common::{sasf, stderr_of, streamed_wav_header};

/// (what, WAV format tag, bits per sample, a piece the error must hold).
const UNSUPPORTED: &[(&str, u16, u16, &str)] = &[
    (
        "Microsoft ADPCM",
        0x0002,
        4,
        "format tag 0x0002 (Microsoft ADPCM)",
    ),
    ("IMA ADPCM", 0x0011, 4, "format tag 0x0011 (IMA ADPCM)"),
    ("GSM 6.10", 0x0031, 0, "format tag 0x0031 (GSM 6.10)"),
    ("MP3 in WAV", 0x0055, 0, "format tag 0x0055 (MPEG Layer 3)"),
    ("12-bit PCM", 0x0001, 12, "12-bit integer PCM"),
];

#[test]
fn an_unsupported_wav_encoding_names_the_command_that_converts_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for &(what, tag, bits, piece) in UNSUPPORTED {
        let wav = d.join("in call.wav");
        let mut b = streamed_wav_header(tag, 1, 8000, bits.max(8));
        // The header's bits field as the encoding has it (0 for GSM/MP3).
        let at = b.windows(4).position(|w| w == b"fmt ").unwrap() + 8 + 14;
        b[at..at + 2].copy_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(&[0u8; 400]);
        fs::write(&wav, &b).unwrap();
        for cmd in [vec![
            "pack".to_string(),
            wav.display().to_string(),
            "-o".into(),
            d.join("out.sasf").display().to_string(),
        ]] {
            let o = sasf().args(&cmd).output().unwrap();
            let err = stderr_of(&o);
            assert_eq!(o.status.code(), Some(2), "{what}: {err}");
            for want in [
                piece,
                "convert it first",
                &format!(
                    "ffmpeg -i '{}' -c:a pcm_s16le '{}'",
                    wav.display(),
                    d.join("in call-pcm.wav").display()
                ),
                &format!(
                    "sox '{}' -e signed-integer -b 16 '{}'",
                    wav.display(),
                    d.join("in call-pcm.wav").display()
                ),
            ] {
                assert!(err.contains(want), "{what}: {want:?} not in {err}");
            }
            assert!(!d.join("out.sasf").exists(), "{what}: nothing written");
        }
    }
}

/// (how the sample call is packed: extra `pack` arguments).
const PACKINGS: &[(&str, &[&str])] = &[
    ("keyless", &[]),
    ("authenticated", &["--key-file", "k.key"]),
    ("encrypted", &["--key-file", "k.key", "--encrypt"]),
    (
        "encrypted, 0.25 s chunks",
        &[
            "--key-file",
            "k.key",
            "--encrypt",
            "--chunk-seconds",
            "0.25",
        ],
    ),
    ("with its metadata", &["--meta", "META"]),
];

#[test]
fn the_audio_content_hash_depends_on_the_audio_only() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = common::keygen(d);
    fs::rename(&key, d.join("k.key")).unwrap();
    let meta = common::sample_meta().display().to_string();
    let run = |args: &[&str]| {
        let o = sasf().current_dir(d).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr_of(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    // The reference: SHA-256 of the WAV data chunk `convert` writes.
    let expect = sasf_core::crypto::hex(&sha2::Sha256::digest(common::wav_data(
        &fs::read(common::sample()).unwrap(),
    )));
    let sample = common::sample().display().to_string();
    for (what, extra) in PACKINGS {
        let extra: Vec<&str> = extra
            .iter()
            .map(|a| if *a == "META" { meta.as_str() } else { a })
            .collect();
        let mut args = vec!["pack", &sample, "-o", "c.sasf", "-f"];
        args.extend(&extra);
        run(&args);
        let keyed = extra.contains(&"k.key");
        let mut v = vec!["verify", "--json", "--audio-hash", "c.sasf"];
        let mut i = vec!["info", "--json", "c.sasf"];
        if keyed {
            v.extend(["--key-file", "k.key"]);
            i.extend(["--key-file", "k.key"]);
        }
        let vj: serde_json::Value = serde_json::from_str(&run(&v)).unwrap();
        let ij: serde_json::Value = serde_json::from_str(&run(&i)).unwrap();
        assert_eq!(vj["audio_sha256"], expect, "{what}: verify");
        assert_eq!(ij["audio_sha256"], expect, "{what}: info");
        let mut t = vec!["verify", "--audio-hash", "c.sasf"];
        if keyed {
            t.extend(["--key-file", "k.key"]);
        }
        assert!(
            run(&t).contains(&format!("audio sha256 {expect}")),
            "{what}: verify text"
        );
        // Without --audio-hash, verify does not spend the pass.
        let mut plain = vec!["verify", "--json", "c.sasf"];
        if keyed {
            plain.extend(["--key-file", "k.key"]);
        }
        let pj: serde_json::Value = serde_json::from_str(&run(&plain)).unwrap();
        assert!(pj.get("audio_sha256").is_none(), "{what}");
    }
    // One changed sample changes it.
    let mut wav = fs::read(common::sample()).unwrap();
    let n = wav.len();
    wav[n - 1] ^= 1;
    fs::write(d.join("other.wav"), &wav).unwrap();
    run(&["pack", "other.wav", "-o", "o.sasf"]);
    let vj: serde_json::Value =
        serde_json::from_str(&run(&["verify", "--json", "--audio-hash", "o.sasf"])).unwrap();
    assert_ne!(vj["audio_sha256"], expect);
}

/// (range arguments to `convert`, exit code, frames in the WAV or 0, a piece of stderr).
/// The sample call is 18.845 s of 8 kHz audio: 150 761 frames.
const RANGES: &[(&[&str], i32, u64, &str)] = &[
    (&["--from", "2", "--to", "4"], 0, 16_000, ""),
    (&["--from", "2s", "--to", "4s"], 0, 16_000, ""),
    (&["--from", "+2", "--to", "+4"], 0, 16_000, ""),
    (&["--from", "2000ms", "--to", "4000ms"], 0, 16_000, ""),
    (&["--from", "00:00:02.000", "--to", "0:04"], 0, 16_000, ""),
    (&["--from", "2", "--duration", "2"], 0, 16_000, ""),
    (&["--from", "2", "--duration", "500ms"], 0, 4_000, ""),
    (&["--duration", "1s"], 0, 8_000, ""),
    (&["--from", "1500000us", "--duration", "0.5"], 0, 4_000, ""),
    // Past the end: the range ends at the end, and sasf says so.
    (
        &["--from", "18", "--to", "30"],
        0,
        150_761 - 144_000,
        "past the end of the recording (00:00:18.845): it ends there",
    ),
    (&["--from", "18", "--duration", "1h"], 2, 0, "is not a time"),
    (
        &["--from", "18", "--duration", "60s"],
        0,
        6_761,
        "it ends there",
    ),
    // A range must start inside the recording.
    (&["--from", "19"], 2, 0, "past the end of the recording"),
    (
        &["--from", "4", "--to", "2"],
        2,
        0,
        "--from must be before --to",
    ),
    (
        &["--to", "3", "--duration", "1"],
        2,
        0,
        "cannot be used with",
    ),
    (
        &["--duration", "0"],
        2,
        0,
        "--duration must be longer than zero",
    ),
    (&["--from", "1:30s"], 2, 0, "is not a time"),
];

#[test]
fn one_time_syntax_and_one_rule_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::pack_sample(&d.join("c.sasf"));
    for (args, code, frames, piece) in RANGES {
        let out = d.join("cut.wav");
        let _ = fs::remove_file(&out);
        let o = sasf()
            .current_dir(d)
            .args(["convert", "c.sasf", "-o", "cut.wav"])
            .args(*args)
            .output()
            .unwrap();
        let err = stderr_of(&o);
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {err}");
        assert!(err.contains(piece), "{args:?}: {piece:?} not in {err}");
        if *code == 0 {
            let data = common::wav_data(&fs::read(&out).unwrap());
            assert_eq!(data.len() as u64, frames * 2, "{args:?}");
        } else {
            assert!(!out.exists(), "{args:?}: nothing written");
        }
    }
    // extract takes the same syntax.
    let o = sasf()
        .current_dir(d)
        .args([
            "extract",
            "c.sasf",
            "--meta",
            "m.json",
            "--audio",
            "x.wav",
            "--from",
            "1s",
            "--duration",
            "250ms",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert_eq!(
        common::wav_data(&fs::read(d.join("x.wav")).unwrap()).len(),
        2 * 2_000
    );
}

/// `info` on a damaged file: (how the sample call is damaged, the damaged bytes, pieces
/// of the text, `status` in `--json`). Both exit 1, as `verify` would.
#[test]
fn info_on_a_damaged_file_shows_what_was_authenticated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let meta = common::sample_meta().display().to_string();
    let s = common::sample().display().to_string();
    let o = sasf()
        .current_dir(d)
        .args(["pack", &s, "--meta", &meta, "-o", "c.sasf"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let whole = fs::read(d.join("c.sasf")).unwrap();
    let mut flipped = whole.clone();
    flipped[whole.len() * 2 / 3] ^= 1;
    let rows: Vec<(&str, Vec<u8>, &[&str], &str)> = vec![
        (
            "cut in half",
            whole[..whole.len() / 2].to_vec(),
            &[
                "status:        TRUNCATED: truncated after chunk",
                "recording id:  call-0001",
                "participants:  2 (checked so far)",
                "  a1 ",
                "events:",
                "checked:       00:00:0",
            ],
            "truncated",
        ),
        (
            "one byte flipped",
            flipped,
            &[
                "status:        FAILED: authentication failed at chunk",
                "recording id:  call-0001",
                "participants:  2",
                "join",
            ],
            "failed",
        ),
    ];
    for (what, bytes, pieces, status) in rows {
        fs::write(d.join("bad.sasf"), &bytes).unwrap();
        let o = sasf()
            .current_dir(d)
            .args(["info", "bad.sasf"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{what}");
        let text = String::from_utf8(o.stdout).unwrap();
        for p in pieces {
            assert!(text.contains(p), "{what}: {p:?} not in\n{text}");
        }
        let o = sasf()
            .current_dir(d)
            .args(["info", "--json", "bad.sasf"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{what}");
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["status"], status, "{what}");
        assert_eq!(j["verified"], false);
        assert_eq!(
            j["metadata"]["participants"].as_array().unwrap().len(),
            2,
            "{what}"
        );
        assert!(j["errors"][0]["class"].is_string());
    }
}

#[test]
fn man_pages_name_commands_as_typed_and_keep_global_options_apart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Into an existing directory only: a typo is not silently created.
    let o = sasf()
        .args(["man", "-o"])
        .arg(d.join("no/such/dir"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains("no such directory"),
        "{}",
        stderr_of(&o)
    );
    assert!(!d.join("no").exists());
    let o = sasf().args(["man", "-o"]).arg(d).output().unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let page = |n: &str| fs::read_to_string(d.join(format!("{n}.1"))).unwrap();
    // (page, pieces it holds, pieces it must not hold).
    let rows: &[(&str, &[&str], &[&str])] = &[
        (
            "sasf",
            &[
                ".SH \"GLOBAL OPTIONS\"",
                ".SH \"EXIT STATUS\"",
                ".SH SUBCOMMANDS",
                "sasf\\-verify(1)",
            ],
            &["sasf\\-help(1)", ".SH EXTRA"],
        ),
        (
            "sasf-verify",
            &[
                "\\fBsasf verify\\fR",
                ".SH NAME\nsasf\\-verify \\- Verify",
                ".SH \"GLOBAL OPTIONS\"",
                "\\fB\\-\\-fsync\\fR",
                ".SH NOTES",
                ".SH \"EXIT STATUS\"",
                "\\fBsasf\\fR(1)",
            ],
            &["sasf\\-verify [", ".SH EXTRA"],
        ),
        (
            "sasf-pack",
            &["\\fBsasf pack\\fR", ".SH \"GLOBAL OPTIONS\""],
            &[".SH EXTRA"],
        ),
        (
            "sasf-keygen",
            &["\\fBsasf keygen\\fR", ".SH \"EXIT STATUS\""],
            &[".SH \"GLOBAL OPTIONS\"", "\\-\\-fsync"],
        ),
        (
            "sasf-man",
            &["\\fBsasf man\\fR"],
            &[".SH \"GLOBAL OPTIONS\""],
        ),
        (
            "sasf-completions",
            &["\\fBsasf completions\\fR"],
            &[".SH \"GLOBAL OPTIONS\""],
        ),
    ];
    for (name, has, lacks) in rows {
        let p = page(name);
        for h in *has {
            assert!(p.contains(h), "{name}: {h:?} missing");
        }
        for l in *lacks {
            assert!(!p.contains(l), "{name}: {l:?} present");
        }
    }
    assert!(!d.join("sasf-help.1").exists());
    // The global options mean nothing to keygen, man and completions: refused there.
    for args in [
        vec!["keygen", "-o", "k.key", "--fsync"],
        vec!["-q", "completions", "bash"],
        vec!["man", "-o", ".", "-j", "2"],
    ] {
        let o = sasf().current_dir(d).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr_of(&o).contains("means nothing to `sasf"),
            "{args:?}: {}",
            stderr_of(&o)
        );
    }
    assert!(!d.join("k.key").exists());
    // Elsewhere they sit in their own help section.
    let o = sasf().args(["verify", "--help"]).output().unwrap();
    let help = String::from_utf8(o.stdout).unwrap();
    let g = help
        .find("Global options:")
        .expect("a Global options section");
    assert!(help[g..].contains("--fsync") && help[g..].contains("--threads"));
    // ... and the help of keygen, man and completions does not offer them.
    for cmd in ["keygen", "man", "completions"] {
        let o = sasf().args([cmd, "--help"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{cmd}");
        let help = String::from_utf8(o.stdout).unwrap();
        assert!(help.contains("--help"), "{cmd}: {help}");
        for global in ["Global options", "--fsync", "--threads", "--quiet"] {
            assert!(
                !help.contains(global),
                "{cmd} --help offers {global}: {help}"
            );
        }
    }
}

fn wav_chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut c = id.to_vec();
    c.extend_from_slice(&(body.len() as u32).to_le_bytes());
    c.extend_from_slice(body);
    if body.len() % 2 == 1 {
        c.push(0);
    }
    c
}

/// A 16-bit mono 8 kHz WAV of 0.1 s with the given extra chunks before `data`.
fn wav_with(chunks: &[Vec<u8>]) -> Vec<u8> {
    wav_around(chunks, &[])
}

/// The same, with chunks `before` and `after` the data chunk.
fn wav_around(chunks: &[Vec<u8>], after: &[Vec<u8>]) -> Vec<u8> {
    let mut fmt = Vec::new();
    for v in [1u16, 1] {
        fmt.extend_from_slice(&v.to_le_bytes());
    }
    fmt.extend_from_slice(&8000u32.to_le_bytes());
    fmt.extend_from_slice(&16000u32.to_le_bytes());
    fmt.extend_from_slice(&2u16.to_le_bytes());
    fmt.extend_from_slice(&16u16.to_le_bytes());
    let mut body = b"WAVE".to_vec();
    body.extend(wav_chunk(b"fmt ", &fmt));
    for c in chunks {
        body.extend_from_slice(c);
    }
    body.extend(wav_chunk(b"data", &[0u8; 1600]));
    for c in after {
        body.extend_from_slice(c);
    }
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(body.len() as u32).to_le_bytes());
    w.extend(body);
    w
}

#[test]
fn bext_and_info_tags_of_a_wav_are_kept_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut bext = vec![0u8; 602];
    bext[..17].copy_from_slice(b"Call from Lisbon\0");
    bext[256..263].copy_from_slice(b"ACD-7\0\0");
    bext[288..294].copy_from_slice(b"REF-99");
    bext[320..330].copy_from_slice(b"2026-11-23");
    bext[330..338].copy_from_slice(b"10:14:50");
    let mut list = b"INFO".to_vec();
    list.extend(wav_chunk(b"INAM", b"Call 42\0"));
    list.extend(wav_chunk(b"ICMT", b"escalated\0"));
    list.extend(wav_chunk(b"ISFT", b"\xff\xfe not text"));
    fs::write(
        d.join("tagged.wav"),
        wav_with(&[wav_chunk(b"bext", &bext), wav_chunk(b"LIST", &list)]),
    )
    .unwrap();
    fs::write(
        d.join("meta.json"),
        r#"{"recording":{"started_at":"2026-01-01T00:00:00Z"}}"#,
    )
    .unwrap();
    fs::write(d.join("plain.wav"), wav_with(&[])).unwrap();
    // Many editors write the tags after the audio.
    fs::write(
        d.join("tagged-after.wav"),
        wav_around(
            &[],
            &[
                wav_chunk(b"JUNK", &[0; 7]),
                wav_chunk(b"LIST", &list),
                wav_chunk(b"bext", &bext),
            ],
        ),
    )
    .unwrap();
    // (pack arguments, started_at in the file, recording.wav in the file, a piece of stderr).
    let rows: Vec<(Vec<&str>, Option<&str>, serde_json::Value, &str)> = vec![
        (
            vec!["pack", "tagged.wav", "-o", "a.sasf"],
            Some("2026-11-23T10:14:50Z"),
            serde_json::json!({"bext": {"description": "Call from Lisbon", "originator": "ACD-7", "originator_reference": "REF-99"},
                               "info": {"INAM": "Call 42", "ICMT": "escalated"}}),
            "started_at 2026-11-23T10:14:50Z from the WAV's bext origination time (read as UTC)",
        ),
        // The metadata's own started_at wins; the tags are kept beside it.
        (
            vec!["pack", "tagged.wav", "--meta", "meta.json", "-o", "b.sasf"],
            Some("2026-01-01T00:00:00Z"),
            serde_json::json!({"bext": {"description": "Call from Lisbon", "originator": "ACD-7", "originator_reference": "REF-99"},
                               "info": {"INAM": "Call 42", "ICMT": "escalated"}}),
            "",
        ),
        (
            vec!["pack", "plain.wav", "-o", "c.sasf"],
            None,
            serde_json::Value::Null,
            "",
        ),
        (
            vec!["pack", "tagged-after.wav", "-o", "d.sasf"],
            Some("2026-11-23T10:14:50Z"),
            serde_json::json!({"bext": {"description": "Call from Lisbon", "originator": "ACD-7", "originator_reference": "REF-99"},
                               "info": {"INAM": "Call 42", "ICMT": "escalated"}}),
            "started_at 2026-11-23T10:14:50Z from the WAV's bext origination time (read as UTC)",
        ),
    ];
    for (args, started, wav, piece) in rows {
        let out = args[args.len() - 1];
        let o = sasf().current_dir(d).args(&args).output().unwrap();
        let err = stderr_of(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        assert!(err.contains(piece), "{args:?}: {piece:?} not in {err}");
        let o = sasf()
            .current_dir(d)
            .args(["info", "--json", out])
            .output()
            .unwrap();
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let rec = &j["metadata"]["recording"];
        assert_eq!(rec["started_at"].as_str(), started, "{args:?}: {rec}");
        assert_eq!(rec["wav"], wav, "{args:?}");
    }
}

#[test]
fn the_conversion_hint_can_be_copied_whatever_the_file_is_called() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut b = streamed_wav_header(0x0011, 1, 8000, 4);
    b.extend_from_slice(&[0u8; 400]);
    // (file name as typed, what the hint must hold).
    let rows: &[(&str, &str)] = &[
        (
            "-dash.wav",
            "ffmpeg -i ./-dash.wav -c:a pcm_s16le ./-dash-pcm.wav",
        ),
        (
            "sub/it's.wav",
            "ffmpeg -i 'sub/it'\\''s.wav' -c:a pcm_s16le 'sub/it'\\''s-pcm.wav'",
        ),
        ("bell\x07.wav", "ffmpeg -i in.wav -c:a pcm_s16le in-pcm.wav"),
    ];
    fs::create_dir_all(d.join("sub")).unwrap();
    for (name, want) in rows {
        fs::write(d.join(name), &b).unwrap();
        let o = sasf()
            .current_dir(d)
            .args(["pack", "-o", "o.sasf", "--", name])
            .output()
            .unwrap();
        let err = stderr_of(&o);
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(err.contains(want), "{name}: {want:?} not in {err}");
        assert!(
            !err.contains('\x07'),
            "{name}: a control character reached the terminal"
        );
    }
}

#[test]
fn info_on_damage_found_while_opening_is_still_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = common::keygen(d);
    let s = common::sample().display().to_string();
    let meta = common::sample_meta().display().to_string();
    let k = key.display().to_string();
    let o = sasf()
        .current_dir(d)
        .args([
            "pack",
            &s,
            "--meta",
            &meta,
            "-o",
            "h.sasf",
            "--key-file",
            &k,
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    // One byte of the recording id inside INFO (chunk 0), in clear at level 2.
    let mut b = fs::read(d.join("h.sasf")).unwrap();
    let at = b.windows(9).position(|w| w == b"call-0001").unwrap();
    b[at] ^= 1;
    fs::write(d.join("bad.sasf"), &b).unwrap();
    let o = sasf()
        .current_dir(d)
        .args(["info", "--json", "bad.sasf", "--key-file", &k])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["status"], "failed");
    assert_eq!(j["errors"][0]["class"], "auth-failed");
    assert_eq!(j["errors"][0]["chunk"], 0);
    assert_eq!(j["authenticated"]["by_key"], true);
    // A keyless file is "checked", never "authenticated".
    let o = sasf()
        .current_dir(d)
        .args(["pack", &s, "--meta", &meta, "-o", "p.sasf"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let p = fs::read(d.join("p.sasf")).unwrap();
    fs::write(d.join("cut.sasf"), &p[..p.len() / 2]).unwrap();
    let o = sasf()
        .current_dir(d)
        .args(["info", "cut.sasf"])
        .output()
        .unwrap();
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(
        t.contains("checked:") && t.contains("checked for corruption only"),
        "{t}"
    );
    assert!(
        !t.contains("authenticated so far") && !t.contains("authenticated:"),
        "{t}"
    );
    let o = sasf()
        .current_dir(d)
        .args(["info", "--json", "cut.sasf"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["authenticated"]["by_key"], false);
    assert!(
        j["errors"][0]["at"].is_string() && j["errors"][0]["after_chunk"].is_u64(),
        "{j}"
    );
}
