//! `convert` for listening: the timeline as WAV cue points, bext and INFO (read back
//! with Python's `wavinfo` and ffmpeg's `ffprobe`, readers nobody here wrote), the
//! `--labels` sidecars (the ffmetadata one muxed into mkv by ffmpeg), and per-speaker
//! audio (`--participant`, `--split`, `--channels`, `--stereo`, `--mono`).
//!
//! The tools are installed by `.ci/run`; elsewhere a test that needs a missing tool
//! says so and checks what it can without it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;

use sasf_core::audio::mulaw_to_linear;
use serde_json::{json, Value};
use tempfile::TempDir;

mod common;
use common::*;

/// Whether `cmd args` runs; in CI (which installs every tool) a missing one fails.
fn have(cmd: &str, args: &[&str]) -> bool {
    let ok = Proc::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs `{cmd}` (.ci/run installs it)"
        );
        eprintln!("`{cmd}` not found: skipping its checks");
    }
    ok
}

fn have_wavinfo() -> bool {
    have("python3", &["-c", "import wavinfo"])
}
fn have_ffmpeg() -> bool {
    have("ffprobe", &["-version"]) && have("ffmpeg", &["-version"])
}

/// What `wavinfo` reads from a WAV: frame count, cue points {id: {frame, label,
/// length}}, INFO and bext text.
fn wavinfo(path: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, sys, wavinfo
# RIFF text declares no encoding; sasf writes UTF-8.
w = wavinfo.WavInfoReader(sys.argv[1], info_encoding="utf-8", bext_encoding="utf-8")
out = {"frames": w.data.frame_count, "channels": w.fmt.channel_count,
       "cues": {}, "info": {}, "bext": None}
if w.cues is not None:
    out["cues"] = {str(k): v for k, v in w.cues.to_dict().items()}
if w.info is not None:
    out["info"] = {k: v for k, v in w.info.to_dict().items() if v is not None}
if w.bext is not None:
    out["bext"] = {k: v for k, v in w.bext.to_dict().items() if isinstance(v, (str, int))}
print(json.dumps(out))
"#;
    let o = Proc::new("python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "wavinfo: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The cue points wavinfo reads, as (frame, length, label) in id order.
fn cues(v: &Value) -> Vec<(u64, Option<u64>, String)> {
    let c = v["cues"].as_object().unwrap();
    (1..=c.len())
        .map(|i| {
            let e = &c[&i.to_string()];
            (
                e["frame"].as_u64().unwrap(),
                e["length"].as_u64(),
                e["label"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn ffprobe_json(path: &Path, what: &str) -> Value {
    let o = Proc::new("ffprobe")
        .args(["-v", "error", what, "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The sample call packed with its metadata, plus a redacted DTMF event whose
/// digits were given (and must never come out).
fn packed(d: &Path) -> PathBuf {
    let mut meta: Value = serde_json::from_slice(&fs::read(sample_meta()).unwrap()).unwrap();
    meta["events"].as_array_mut().unwrap().push(json!(
        {"at_ms": 15000, "type": "dtmf", "participant": "c1", "digits": "987654", "redacted": true}
    ));
    meta["events"]
        .as_array_mut()
        .unwrap()
        .sort_by_key(|e| e["at_ms"].as_u64());
    let m = d.join("meta.json");
    fs::write(&m, meta.to_string()).unwrap();
    let f = d.join("c.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("--meta")
        .arg(&m)
        .arg("-o")
        .arg(&f)
        .assert()
        .success();
    f
}

/// The timeline of `packed` as cue points: (frame, length, label).
fn expected_cues() -> Vec<(u64, Option<u64>, String)> {
    [
        (0, None, "join — Ann Agent (a1)"),
        (2800, None, "join — Carl Customer (c1)"),
        (54016, Some(12000), "hold — Ann Agent (a1)"),
        (66016, None, "resume — Ann Agent (a1)"),
        (91408, None, "dtmf — Carl Customer (c1) — digits 42"),
        (96128, None, "custom — Ann Agent (a1) — crm.case = 12345"),
        (120000, None, "dtmf — Carl Customer (c1) — digits redacted"),
        (147560, None, "leave — Carl Customer (c1)"),
        (149160, None, "disconnect — normal"),
    ]
    .into_iter()
    .map(|(a, l, s)| (a, l, s.to_string()))
    .collect()
}

fn convert(f: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    sasf()
        .arg("convert")
        .arg(f)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

#[test]
fn the_wav_carries_the_timeline_bext_and_info_for_independent_readers() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = packed(d);
    let wav = d.join("c.wav");
    let o = convert(&f, &wav, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let bytes = fs::read(&wav).unwrap();
    // The samples are the sample call's, bit for bit.
    assert_eq!(wav_data(&bytes), wav_data(&fs::read(sample()).unwrap()));
    assert!(
        find(&bytes, b"987654").is_none(),
        "redacted digits in clear"
    );
    assert!(find(&bytes, b"cue ").is_some());
    if have_wavinfo() {
        let v = wavinfo(&wav);
        assert_eq!(v["frames"], 150_761, "{v}");
        assert_eq!(cues(&v), expected_cues());
        assert_eq!(v["info"]["title"], "call-0001");
        assert_eq!(v["info"]["created_date"], "2026-11-23T10:15:00Z");
        assert!(v["info"]["software"].as_str().unwrap().starts_with("sasf "));
        let b = &v["bext"];
        assert_eq!(b["originator"], "sasf");
        assert_eq!(b["originator_ref"], "call-0001");
        assert_eq!(b["description"], "SASF recording call-0001");
        assert_eq!(b["originator_date"], "2026-11-23");
        assert_eq!(b["originator_time"], "10:15:00");
        assert_eq!(b["time_reference"], (10 * 3600 + 15 * 60) * 8000);
    }
    if have_ffmpeg() {
        // ffprobe shows the bext and INFO text as format tags, and the cue points as
        // chapters (each ending where the next starts: it reads no `ltxt` length).
        let v = ffprobe_json(&wav, "-show_format");
        let tags = &v["format"]["tags"];
        assert_eq!(tags["title"], "call-0001", "{v}");
        assert_eq!(tags["comment"], "SASF recording call-0001", "{v}");
        assert_eq!(tags["encoded_by"], "sasf", "{v}");
        assert_eq!(tags["date"], "2026-11-23T10:15:00Z", "{v}");
        let v = ffprobe_json(&wav, "-show_chapters");
        let got: Vec<(u64, String)> = v["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["start"].as_u64().unwrap(),
                    c["tags"]["title"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: Vec<(u64, String)> = expected_cues()
            .into_iter()
            .map(|(a, _, l)| (a, l))
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn no_markers_writes_the_plain_layout_and_a_pipe_gets_bext_and_info_only() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = packed(d);
    let plain = d.join("plain.wav");
    let o = convert(&f, &plain, &["--no-markers"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let p = fs::read(&plain).unwrap();
    for id in [&b"cue "[..], b"bext", b"LIST", b"adtl"] {
        assert!(find(&p, id).is_none(), "{}", String::from_utf8_lossy(id));
    }
    // Header: RIFF, JUNK (room for ds64), fmt, fact, data.
    let data = find(&p, b"data").unwrap();
    assert_eq!(data, 12 + 36 + 26 + 12);
    assert_eq!(wav_data(&p), wav_data(&fs::read(sample()).unwrap()));

    let o = sasf()
        .arg("convert")
        .arg(&f)
        .args(["-o", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    let s = &o.stdout;
    assert!(find(s, b"bext").is_some());
    assert!(find(s, b"INFO").is_some());
    assert!(
        find(s, b"cue ").is_none(),
        "a streamed WAV's tail is samples"
    );
    assert_eq!(wav_data(s), wav_data(&p));
}

#[test]
fn a_range_rebases_its_markers() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = packed(d);
    // From a file (through the index) and from a pipe.
    for pipe in [false, true] {
        let wav = d.join(format!("r{pipe}.wav"));
        let mut c = sasf();
        c.arg("convert");
        if pipe {
            c.arg("-").pipe_stdin(&f).unwrap();
        } else {
            c.arg(&f);
        }
        let o = c
            .arg("-o")
            .arg(&wav)
            .args(["--from", "6", "--to", "12"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr_of(&o));
        if have_wavinfo() {
            let v = wavinfo(&wav);
            assert_eq!(v["frames"], 48_000);
            assert_eq!(
                cues(&v),
                vec![
                    (6016, Some(12000), "hold — Ann Agent (a1)".to_string()),
                    (18016, None, "resume — Ann Agent (a1)".to_string()),
                    (
                        43408,
                        None,
                        "dtmf — Carl Customer (c1) — digits 42".to_string()
                    ),
                ]
            );
            // bext and INFO give the range's own start.
            assert_eq!(v["bext"]["originator_time"], "10:15:06");
            assert_eq!(v["info"]["created_date"], "2026-11-23T10:15:06Z");
        }
    }
}

#[test]
fn labels_sidecars_in_three_formats_and_ffmpeg_muxes_the_chapters() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = packed(d);
    let wav = d.join("c.wav");
    for (name, first, hold) in [
        (
            "l.txt",
            "0.000000\t0.000000\tjoin — Ann Agent (a1)\n",
            "6.752000\t8.252000\thold — Ann Agent (a1)\n",
        ),
        (
            "l.vtt",
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\njoin — Ann Agent (a1)\n\n",
            "00:00:06.752 --> 00:00:08.252\nhold — Ann Agent (a1)\n\n",
        ),
        (
            "l.ffmeta",
            ";FFMETADATA1\ntitle=call-0001\n\n[CHAPTER]\nTIMEBASE=1/8000\nSTART=0\nEND=0\ntitle=join — Ann Agent (a1)\n",
            "[CHAPTER]\nTIMEBASE=1/8000\nSTART=54016\nEND=66016\ntitle=hold — Ann Agent (a1)\n",
        ),
    ] {
        let l = d.join(name);
        let o = convert(&f, &wav, &["-f", "--labels", l.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr_of(&o));
        let text = fs::read_to_string(&l).unwrap();
        assert!(text.starts_with(first), "{name}: {text}");
        assert!(text.contains(hold), "{name}: {text}");
        assert!(text.contains("digits redacted") && !text.contains("987654"));
        assert_eq!(text.matches("dtmf").count(), 2, "{name}");
    }
    // Not a label format: refused before anything is written.
    let o = convert(
        &f,
        &d.join("x.wav"),
        &["--labels", d.join("l.srt").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains(".vtt (WebVTT)"));
    assert!(!d.join("x.wav").exists());

    if !have_ffmpeg() {
        return;
    }
    let mkv = d.join("c.mkv");
    let o = Proc::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&wav)
        .arg("-i")
        .arg(d.join("l.ffmeta"))
        .args([
            "-map",
            "0:a",
            "-map_metadata",
            "1",
            "-map_chapters",
            "1",
            "-c",
            "copy",
        ])
        .arg(&mkv)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = ffprobe_json(&mkv, "-show_chapters");
    let got: Vec<(String, String, String)> = v["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["start_time"].as_str().unwrap().to_string(),
                c["end_time"].as_str().unwrap().to_string(),
                c["tags"]["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = expected_cues()
        .into_iter()
        .map(|(a, l, t)| {
            let s = |f: u64| format!("{}.{:06}", f / 8000, f % 8000 * 125);
            (s(a), s(a + l.unwrap_or(0)), t)
        })
        .collect();
    assert_eq!(got, want);
}

/// The sample's two µ-law channels.
fn channels_of_sample() -> (Vec<u8>, Vec<u8>) {
    let data = wav_data(&fs::read(sample()).unwrap());
    let left = data.iter().step_by(2).copied().collect();
    let right = data.iter().skip(1).step_by(2).copied().collect();
    (left, right)
}

#[test]
fn per_speaker_outputs_carry_the_right_channels_and_the_markers() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = packed(d);
    let (left, right) = channels_of_sample();
    let interleave =
        |a: &[u8], b: &[u8]| -> Vec<u8> { a.iter().zip(b).flat_map(|(x, y)| [*x, *y]).collect() };
    // (what, arguments, [(file, its samples)])
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, Vec<u8>)>);
    let cases: Vec<Case> = vec![
        (
            "participant",
            vec!["--participant", "c1"],
            vec![("p.wav", right.clone())],
        ),
        (
            "channels",
            vec!["--channels", "1,0"],
            vec![("ch.wav", interleave(&right, &left))],
        ),
        (
            "channel",
            vec!["--channels", "0"],
            vec![("one.wav", left.clone())],
        ),
        (
            "stereo",
            vec!["--stereo", "customer,agent"],
            vec![("st.wav", interleave(&right, &left))],
        ),
        (
            "split",
            vec!["--split"],
            vec![("s.a1.wav", left.clone()), ("s.c1.wav", right.clone())],
        ),
    ];
    for (what, args, outs) in cases {
        let base = match what {
            "split" => d.join("s.wav"),
            _ => d.join(outs[0].0),
        };
        let o = convert(&f, &base, &args);
        assert!(o.status.success(), "{what}: {}", stderr_of(&o));
        if what == "split" {
            assert!(
                !base.exists(),
                "--split writes only the per-participant files"
            );
        }
        for (name, want) in outs {
            let p = d.join(name);
            let (fmt, data) = wav_format_and_data(&fs::read(&p).unwrap());
            assert_eq!(fmt.encoding, sasf_core::Encoding::MuLaw, "{what}");
            assert_eq!(data, want, "{what}: {name}");
            if have_wavinfo() {
                let v = wavinfo(&p);
                assert_eq!(cues(&v), expected_cues(), "{what}: {name}");
                assert!(v["info"]["comment"].as_str().is_some(), "{what}: {v}");
            }
        }
    }
    // A range of one participant, decoded to 16-bit.
    let p = d.join("range.wav");
    let o = convert(
        &f,
        &p,
        &[
            "--participant",
            "a1",
            "--from",
            "6",
            "--to",
            "12",
            "--pcm16",
        ],
    );
    assert!(o.status.success(), "{}", stderr_of(&o));
    let (fmt, data) = wav_format_and_data(&fs::read(&p).unwrap());
    assert_eq!((fmt.encoding, fmt.channels), (sasf_core::Encoding::S16, 1));
    let want: Vec<u8> = left[48_000..96_000]
        .iter()
        .flat_map(|&u| mulaw_to_linear(u).to_le_bytes())
        .collect();
    assert_eq!(data, want);
    if have_wavinfo() {
        assert_eq!(cues(&wavinfo(&p)).len(), 3);
    }
}

#[test]
fn mono_is_the_mean_in_float_and_says_so() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = packed(d);
    let (left, right) = channels_of_sample();
    let p = d.join("m.wav");
    let o = convert(&f, &p, &["--mono"]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let (fmt, data) = wav_format_and_data(&fs::read(&p).unwrap());
    assert_eq!((fmt.encoding, fmt.channels), (sasf_core::Encoding::F32, 1));
    let got: Vec<f32> = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(got.len(), left.len());
    for (i, g) in got.iter().enumerate() {
        let a = mulaw_to_linear(left[i]) as f64 / 32768.0;
        let b = mulaw_to_linear(right[i]) as f64 / 32768.0;
        assert_eq!(*g, ((a + b) / 2.0) as f32, "frame {i}");
        assert!(g.abs() <= 1.0);
    }
    if have_wavinfo() {
        let v = wavinfo(&p);
        assert!(
            v["info"]["comment"]
                .as_str()
                .unwrap()
                .starts_with("mixed down to mono from 2 channel(s)"),
            "{v}"
        );
        assert_eq!(cues(&v), expected_cues());
    }
}

#[test]
fn impossible_selections_are_refused_before_anything_is_written() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = packed(d);
    let before = listing(d);
    for (args, message) in [
        (vec!["--participant", "zz"], "no participant zz"),
        (vec!["--channels", "0,2"], "channel 2 is out of range"),
        (
            vec!["--stereo", "agent,ivr"],
            "no channel carries the ivr role",
        ),
        (vec!["--stereo", "agent,boss"], "is not a role"),
        (vec!["--split", "--mono"], "cannot be used with"),
        (
            vec!["--participant", "zz", "--from", "2", "--labels", "x.txt"],
            "no participant zz",
        ),
    ] {
        let o = sasf()
            .current_dir(d)
            .arg("convert")
            .arg(&f)
            .args(["-o", "out.wav"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr_of(&o);
        assert!(e.contains(message), "{args:?}: {e}");
        assert_eq!(listing(d), before, "{args:?}");
    }
    // A split to stdout has nowhere to put its files.
    let o = convert(&f, Path::new("-"), &["--split"]);
    assert_eq!(o.status.code(), Some(2));
    // A split never replaces an existing per-participant file without -f.
    fs::write(d.join("s.c1.wav"), b"keep").unwrap();
    let o = convert(&f, &d.join("s.wav"), &["--split"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("already exists"));
    assert_eq!(fs::read(d.join("s.c1.wav")).unwrap(), b"keep");
    assert!(!d.join("s.a1.wav").exists());
}
