//! `convert -o x.flac`: FLAC outputs, decoded by the Debian `flac` command (`flac -d`,
//! which also checks the MD5 of the samples) and read by ffprobe, compared sample for
//! sample with the WAV `sasf convert` writes from the same input: µ-law (decoded to
//! 16-bit first), 8-, 16- and 24-bit PCM, a range, per-speaker outputs, and what FLAC
//! cannot hold, refused before anything is written.
//!
//! The tools are installed by `scripts/test.sh`; elsewhere a test that needs a missing
//! tool says so and checks what it can without it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Proc;

use sasf_core::wav::WavWriter;
use sasf_core::{AudioFormat, Encoding};
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
            "CI needs `{cmd}` (scripts/test.sh installs it)"
        );
        eprintln!("`{cmd}` not found: skipping its checks");
    }
    ok
}

fn have_flac() -> bool {
    have("flac", &["--version"])
}

/// The samples of a FLAC as `flac -d` decodes them: raw little-endian signed
/// interleaved, what a WAV of 16-, 24- or 32-bit PCM holds (8-bit is turned into
/// WAV's unsigned form). `flac -d` fails on an MD5 mismatch.
fn flac_decode(path: &Path, bits: u32) -> Vec<u8> {
    let raw = path.with_extension("raw");
    let o = Proc::new("flac")
        .args(["-s", "-d", "-f", "--force-raw-format", "--endian=little"])
        .arg(if bits == 8 {
            "--sign=unsigned"
        } else {
            "--sign=signed"
        })
        .arg("-o")
        .arg(&raw)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "flac -d {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let d = fs::read(&raw).unwrap();
    fs::remove_file(&raw).unwrap();
    d
}

/// What `metaflac`-like readers would see, through ffprobe: stream format and the
/// chapters' (start, title).
fn ffprobe(path: &Path) -> Value {
    let o = Proc::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_streams",
            "-show_chapters",
        ])
        .args(["-show_format"])
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
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

fn ok(o: std::process::Output) {
    assert!(o.status.success(), "{}", stderr_of(&o));
}

/// A generated recording: `frames` frames of `format`, a tone and a noise per channel
/// (so the encoder's predictor has real work), packed with two participants on the
/// first two channels and four events.
fn generated(d: &Path, name: &str, format: AudioFormat, frames: u64) -> PathBuf {
    let bps = format.encoding.bytes_per_sample();
    let mut data = Vec::with_capacity(frames as usize * format.block_align());
    let mut seed = 0x2545_f491_u32;
    for i in 0..frames {
        for c in 0..format.channels {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let t = i as f64 / format.sample_rate as f64;
            let tone = (t * (300.0 + 200.0 * c as f64) * std::f64::consts::TAU).sin() * 0.5;
            let noise = (seed % 2001) as f64 / 1000.0 - 1.0;
            let x = tone + noise * 0.05;
            match format.encoding {
                Encoding::U8 => data.push(((x * 127.0) as i32 + 128) as u8),
                Encoding::S16 => data.extend_from_slice(&((x * 32767.0) as i16).to_le_bytes()),
                Encoding::S24 => {
                    data.extend_from_slice(&(((x * 8_388_607.0) as i32).to_le_bytes())[..3])
                }
                Encoding::S32 => {
                    data.extend_from_slice(&((x * 2_147_483_647.0) as i32).to_le_bytes())
                }
                Encoding::F32 => data.extend_from_slice(&(x as f32).to_le_bytes()),
                _ => unreachable!("{bps}"),
            }
        }
    }
    let mut w = WavWriter::new_seekable(std::io::Cursor::new(Vec::new()), format).unwrap();
    w.write_data(&data).unwrap();
    let wav = d.join(format!("{name}.wav"));
    fs::write(&wav, w.finish_seekable().unwrap().into_inner()).unwrap();
    let ms = frames * 1000 / format.sample_rate as u64;
    let mut participants =
        vec![json!({"id": "a1", "name": "Ann Agent", "role": "agent", "channels": [0]})];
    if format.channels > 1 {
        participants.push(
            json!({"id": "c1", "name": "Carl Customer", "role": "customer", "channels": [1]}),
        );
    }
    let meta = json!({
        "recording": {"id": name, "started_at": "2026-11-23T10:15:00Z"},
        "participants": participants,
        "events": [
            {"at_ms": 0, "type": "join", "participant": "a1"},
            {"at_ms": ms / 4, "type": "hold", "participant": "a1"},
            {"at_ms": ms / 2, "type": "resume", "participant": "a1"},
            {"at_ms": ms * 3 / 4, "type": "marker", "label": "three quarters"},
        ],
    });
    let m = d.join(format!("{name}.json"));
    fs::write(&m, meta.to_string()).unwrap();
    let f = d.join(format!("{name}.sasf"));
    sasf()
        .arg("pack")
        .arg(&wav)
        .arg("--meta")
        .arg(&m)
        .arg("-o")
        .arg(&f)
        .assert()
        .success();
    f
}

/// The FLAC `sasf convert ARGS -o x.flac` writes decodes to the same samples as the
/// WAV `sasf convert ARGS -o x.wav` writes (`bits` per sample in the FLAC).
fn same_as_wav(f: &Path, d: &Path, name: &str, args: &[&str], bits: u32) -> Vec<u8> {
    let wav = d.join(format!("{name}.wav"));
    let flac = d.join(format!("{name}.flac"));
    ok(convert(f, &wav, args));
    ok(convert(f, &flac, args));
    let (format, want) = wav_format_and_data(&fs::read(&wav).unwrap());
    assert_eq!(
        format.encoding.bytes_per_sample() as u32 * 8,
        bits,
        "{name}: {format:?}"
    );
    assert!(!want.is_empty());
    if have_flac() {
        let got = flac_decode(&flac, bits);
        assert_eq!(got.len(), want.len(), "{name}: sample bytes");
        assert!(
            got == want,
            "{name}: the FLAC's samples differ from the WAV's"
        );
    }
    want
}

#[test]
fn the_sample_call_in_mu_law_is_decoded_to_16_bit_and_carries_its_timeline() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = d.join("c.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("--meta")
        .arg(sample_meta())
        .arg("-o")
        .arg(&f)
        .assert()
        .success();
    // µ-law: the FLAC holds what --pcm16 gives a WAV.
    let want = same_as_wav(&f, d, "pcm16", &["--pcm16"], 16);
    assert_eq!(want.len(), 150_761 * 2 * 2);
    let flac = d.join("pcm16.flac");
    assert_eq!(&fs::read(&flac).unwrap()[..4], b"fLaC");
    if have("flac", &["--version"]) {
        // The stream's MD5 checks out.
        let t = Proc::new("flac")
            .args(["-s", "-t"])
            .arg(&flac)
            .output()
            .unwrap();
        assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    }
    if have("ffprobe", &["-version"]) {
        let p = ffprobe(&flac);
        let s = &p["streams"][0];
        assert_eq!(s["codec_name"], "flac");
        assert_eq!(s["sample_rate"], "8000");
        assert_eq!(s["channels"], 2);
        assert_eq!(s["sample_fmt"], "s16");
        let tags = &p["format"]["tags"];
        assert_eq!(tags["TITLE"], "call-0001");
        assert_eq!(tags["DATE"], "2026-11-23T10:15:00Z");
        let chapters: Vec<(String, String)> = p["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["start_time"].as_str().unwrap().to_string(),
                    c["tags"]["title"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        // The WAV's cue points (listening.rs) to the millisecond.
        let want: Vec<(String, String)> = [
            ("0.000000", "join — Ann Agent (a1)"),
            ("0.350000", "join — Carl Customer (c1)"),
            ("6.752000", "hold — Ann Agent (a1)"),
            ("8.252000", "resume — Ann Agent (a1)"),
            ("11.426000", "dtmf — Carl Customer (c1) — digits 42"),
            ("12.016000", "custom — Ann Agent (a1) — crm.case = 12345"),
            ("18.445000", "leave — Carl Customer (c1)"),
            ("18.645000", "disconnect — normal"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(chapters, want);
    }
    // --no-markers: no Vorbis comments at all, the same samples.
    let plain = d.join("plain.flac");
    ok(convert(&f, &plain, &["--no-markers"]));
    let p = fs::read(&plain).unwrap();
    assert!(find(&p, b"CHAPTER001").is_none() && find(&p, b"TITLE=").is_none());
    assert!(find(&fs::read(&flac).unwrap(), b"CHAPTER001NAME=join").is_some());
    if have_flac() {
        assert!(flac_decode(&plain, 16) == want_of(d, &f));
    }
}

fn want_of(d: &Path, f: &Path) -> Vec<u8> {
    let w = d.join("want.wav");
    ok(convert(f, &w, &["--pcm16", "-f"]));
    wav_data(&fs::read(&w).unwrap())
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

#[test]
fn pcm_of_8_16_24_and_32_bits_is_bit_exact_whole_and_in_a_range() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    for (e, bits) in [
        (Encoding::U8, 8),
        (Encoding::S16, 16),
        (Encoding::S24, 24),
        (Encoding::S32, 32),
    ] {
        let name = format!("s{bits}");
        let f = generated(d, &name, AudioFormat::new(e, 2, 16000).unwrap(), 40_000);
        let all = same_as_wav(&f, d, &format!("{name}-all"), &[], bits);
        assert_eq!(all.len(), 40_000 * 2 * bits as usize / 8);
        // A range through the index: the exact frames of the range.
        let part = same_as_wav(
            &f,
            d,
            &format!("{name}-part"),
            &["--from", "0.5", "--to", "1.75"],
            bits,
        );
        let ba = 2 * bits as usize / 8;
        assert!(part[..] == all[8000 * ba..28000 * ba], "{name}: range");
    }
}

#[test]
fn per_speaker_flac_outputs_and_a_split_into_flac_files() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let f = generated(
        d,
        "three",
        AudioFormat::new(Encoding::S16, 3, 8000).unwrap(),
        24_000,
    );
    same_as_wav(&f, d, "p-a1", &["--participant", "a1"], 16);
    same_as_wav(&f, d, "ch", &["--channels", "2,0"], 16);
    same_as_wav(
        &f,
        d,
        "st",
        &["--stereo", "customer,agent", "--from", "1", "--to", "2"],
        16,
    );
    // A mix-down in FLAC is the 16-bit mix (FLAC holds no float): as --pcm16 --mono.
    same_as_wav(&f, d, "mono", &["--mono", "--pcm16"], 16);
    let mono = d.join("mono2.flac");
    ok(convert(&f, &mono, &["--mono"]));
    if have_flac() {
        let w = wav_data(&fs::read(d.join("mono.wav")).unwrap());
        assert!(flac_decode(&mono, 16) == w);
    }
    // --split with a .flac name: OUT.ID.flac, one per participant with a channel.
    let out = d.join("call.flac");
    ok(convert(&f, &out, &["--split"]));
    let wout = d.join("call.wav");
    ok(convert(&f, &wout, &["--split"]));
    assert!(!out.exists());
    for id in ["a1", "c1"] {
        let fl = d.join(format!("call.{id}.flac"));
        let wv = d.join(format!("call.{id}.wav"));
        let bytes = fs::read(&fl).unwrap();
        assert_eq!(&bytes[..4], b"fLaC");
        assert!(find(&bytes, format!("COMMENT=participant {id}").as_bytes()).is_some());
        assert!(find(&bytes, b"NAME=hold \xe2\x80\x94 Ann Agent (a1)").is_some());
        if have_flac() {
            assert!(
                flac_decode(&fl, 16) == wav_data(&fs::read(&wv).unwrap()),
                "{id}"
            );
        }
    }
}

#[test]
fn decrypted_flac_is_private_and_an_existing_file_is_kept() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key = keygen(d);
    let f = d.join("e.sasf");
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(&f)
        .arg("--key-file")
        .arg(&key)
        .arg("--encrypt")
        .assert()
        .success();
    let out = d.join("e.flac");
    ok(convert(&f, &out, &["--key-file", key.to_str().unwrap()]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Nothing but the outputs in the directory: the scratch file is gone.
    assert_eq!(listing(d), ["e.flac", "e.sasf", "k.key"]);
    fs::write(&out, b"keep me").unwrap();
    let o = convert(&f, &out, &["--key-file", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("already exists"));
    assert_eq!(fs::read(&out).unwrap(), b"keep me");
}

#[test]
fn what_flac_cannot_hold_is_refused_before_anything_is_written() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let float = generated(
        d,
        "float",
        AudioFormat::new(Encoding::F32, 2, 8000).unwrap(),
        4000,
    );
    let nine = generated(
        d,
        "nine",
        AudioFormat::new(Encoding::S16, 9, 8000).unwrap(),
        4000,
    );
    let before = listing(d);
    for (f, args, says) in [
        (&float, &[][..], "FLAC holds integer PCM"),
        (&float, &["--channels", "1"][..], "give --pcm16"),
        (&nine, &[][..], "FLAC holds 1 to 8 channels"),
        (&nine, &["--channels", "9"][..], "channel 9 is out of range"),
        (&nine, &["--participant", "z9"][..], "no participant z9"),
    ] {
        let o = convert(f, &d.join("x.flac"), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr_of(&o));
        assert!(stderr_of(&o).contains(says), "{args:?}: {}", stderr_of(&o));
        assert_eq!(listing(d), before, "{args:?}");
    }
    // What FLAC can hold of them: float decoded with --pcm16, eight of nine channels.
    same_as_wav(&float, d, "float16", &["--pcm16"], 16);
    same_as_wav(&nine, d, "eight", &["--channels", "0,1,2,3,4,5,6,7"], 16);
    // A FLAC to stdout is not offered: `-` is a WAV stream.
    let o = sasf()
        .args(["convert"])
        .arg(&nine)
        .args(["-o", "-", "--channels", "0"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(&o.stdout[..4], b"RIFF");
}
