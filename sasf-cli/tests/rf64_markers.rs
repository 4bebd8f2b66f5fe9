//! An RF64 output above 4 GiB keeps its markers: the cue points and their labels follow
//! the data, the 64-bit sizes of `ds64` count them, and readers nobody here wrote
//! (ffprobe, Python's `wavinfo`) find every one, the last ones past the 4 GiB mark.
//!
//! The input is generated and piped into `sasf pack -` (no input file on disk): 2.2e9
//! frames of µ-law, mono, 48 kHz (2.2 GB), converted with `--pcm16` into a 4.4 GB WAV.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::process::{Command as Proc, Stdio};

use serde_json::{json, Value};
use tempfile::TempDir;

mod common;
use common::*;

const RATE: u64 = 48_000;
const FRAMES: u64 = 2_200_000_000;

fn le32(b: &[u8]) -> u64 {
    u32::from_le_bytes(b[..4].try_into().unwrap()) as u64
}
fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap())
}

/// Whether `cmd args` runs; in CI (which installs every tool) a missing one fails.
fn have(cmd: &str, args: &[&str]) -> bool {
    let ok = Proc::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "CI needs `{cmd}`");
        eprintln!("`{cmd}` not found: skipping its checks");
    }
    ok
}

#[test]
#[ignore = "writes 6.6 GB (a 2.2 GB SASF file, a 4.4 GB WAV) and takes about a minute and a half: run by hand with --ignored"]
fn an_rf64_output_past_4_gib_keeps_its_cue_points_through_ds64() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let last_ms = FRAMES * 1000 / RATE - 1000;
    // Events at the start, one near the end of the first 4 GiB of output (2^31 frames
    // of 16-bit mono) and three past it.
    let events_ms = [0, 1000, 44_700_000, 44_800_000, 45_000_000, last_ms];
    let meta = json!({
        "recording": {"id": "rf64", "started_at": "2026-11-23T10:15:00Z", "channels": ["a1"]},
        "participants": [{"id": "a1", "name": "Ann Agent", "role": "agent", "channels": [0]}],
        "events": events_ms.iter().map(|&ms| json!(
            {"at_ms": ms, "type": "marker", "label": format!("at {ms} ms")}
        )).collect::<Vec<_>>(),
    });
    let m = d.join("m.json");
    fs::write(&m, meta.to_string()).unwrap();
    let sasf_file = d.join("big.sasf");
    let t = std::time::Instant::now();
    let bin = assert_cmd::cargo::cargo_bin("sasf");
    let mut pack = Proc::new(&bin)
        .args(["-q", "pack", "-", "--meta"])
        .arg(&m)
        .arg("-o")
        .arg(&sasf_file)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut w = pack.stdin.take().unwrap();
        w.write_all(&streamed_wav_header(7, 1, RATE as u32, 8))
            .unwrap();
        let block: Vec<u8> = (0..1u32 << 20).map(|i| (i * 37 % 251) as u8).collect();
        let mut left = FRAMES as usize;
        while left > 0 {
            let n = left.min(block.len());
            w.write_all(&block[..n]).unwrap();
            left -= n;
        }
    }
    assert!(pack.wait().unwrap().success());
    let packed = t.elapsed();
    let wav = d.join("big.wav");
    let o = Proc::new(&bin)
        .args(["-q", "convert"])
        .arg(&sasf_file)
        .arg("-o")
        .arg(&wav)
        .arg("--pcm16")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr_of(&o));
    eprintln!(
        "pack {:.1} s, convert {:.1} s",
        packed.as_secs_f64(),
        (t.elapsed() - packed).as_secs_f64()
    );
    fs::remove_file(&sasf_file).unwrap();
    let len = fs::metadata(&wav).unwrap().len();
    let data_len = FRAMES * 2;
    assert!(data_len > u32::MAX as u64 && len > data_len);

    // The header: RF64, 32-bit sizes 0xFFFFFFFF, ds64 with the real 64-bit sizes.
    let mut f = fs::File::open(&wav).unwrap();
    let mut h = vec![0u8; 4096];
    f.read_exact(&mut h).unwrap();
    assert_eq!(&h[..4], b"RF64");
    assert_eq!(le32(&h[4..]), 0xFFFF_FFFF);
    assert_eq!(&h[8..12], b"WAVE");
    assert_eq!(&h[12..16], b"ds64");
    let riff_size = le64(&h[20..]);
    let ds64_data = le64(&h[28..]);
    let ds64_frames = le64(&h[36..]);
    assert_eq!(
        riff_size,
        len - 8,
        "ds64 RIFF size counts the chunks after the data"
    );
    assert_eq!(ds64_data, data_len);
    assert_eq!(ds64_frames, FRAMES);
    let data_at = h.windows(4).position(|w| w == b"data").unwrap();
    assert_eq!(le32(&h[data_at + 4..]), 0xFFFF_FFFF);
    // After the data: the cue chunk, past 4 GiB.
    let after = data_at as u64 + 8 + data_len;
    f.seek(SeekFrom::Start(after)).unwrap();
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).unwrap();
    assert_eq!(&tail[..4], b"cue ", "the cue chunk follows the data");
    assert_eq!(le32(&tail[8..]), events_ms.len() as u64);

    let frame_of = |ms: u64| ms * RATE / 1000;
    if have("python3", &["-c", "import wavinfo"]) {
        let o = Proc::new("python3")
            .args([
                "-c",
                r#"
import json, sys, wavinfo
w = wavinfo.WavInfoReader(sys.argv[1], info_encoding="utf-8")
print(json.dumps({"frames": w.data.frame_count,
                  "cues": [[c["frame"], c.get("label")] for c in w.cues.to_dict().values()]}))
"#,
            ])
            .arg(&wav)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["frames"], FRAMES);
        let cues: Vec<(u64, String)> = v["cues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_u64().unwrap(), c[1].as_str().unwrap().to_string()))
            .collect();
        let want: Vec<(u64, String)> = events_ms
            .iter()
            .map(|&ms| (frame_of(ms), format!("marker — at {ms} ms")))
            .collect();
        assert_eq!(cues, want);
    }
    if have("ffprobe", &["-version"]) {
        let o = Proc::new("ffprobe")
            .args([
                "-v",
                "error",
                "-of",
                "json",
                "-show_chapters",
                "-show_streams",
            ])
            .arg(&wav)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["streams"][0]["duration_ts"], FRAMES);
        let starts: Vec<u64> = v["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["start"].as_u64().unwrap())
            .collect();
        let want: Vec<u64> = events_ms.iter().map(|&ms| frame_of(ms)).collect();
        assert_eq!(starts, want);
        let titles: Vec<&str> = v["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["tags"]["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles.last(),
            Some(&format!("marker — at {last_ms} ms").as_str())
        );
    }
}
