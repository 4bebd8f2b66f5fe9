//! FLAC output of `sasf convert` against the `flac` command at its default level (-5),
//! in one run: output sizes and encoding speed, on the shipped sample call (µ-law,
//! which sasf decodes to 16-bit; flac is given the same 16-bit samples as a WAV) and
//! on a generated 10-minute 16-bit stereo 16 kHz recording.
//!
//! Usage: cargo run --release -p sasf-benches --bin flac [-- RUNS]
//! Needs target/release/sasf (cargo build --release -p sasf-cli) and `flac` on PATH.
//! Times are whole processes, best of RUNS (default 5), page cache warm; speed is PCM
//! bytes (16-bit) per second of wall time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) {
    let o = cmd.output().expect("run");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .expect("runs")
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).expect("size").len()
}

/// A 16-bit PCM WAV of `frames` frames: two voices of drifting pitch and amplitude
/// and a little noise, so the predictor has real work.
fn generate(path: &Path, channels: u16, rate: u32, frames: u64) {
    let ba = channels as u32 * 2;
    let data_len = frames * ba as u64;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * ba).to_le_bytes());
    out.extend_from_slice(&(ba as u16).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    let mut seed = 0x9e37_79b9_u32;
    let (mut ph0, mut ph1) = (0f64, 0f64);
    for i in 0..frames {
        let t = i as f64 / rate as f64;
        ph0 += std::f64::consts::TAU * (180.0 + 60.0 * (t * 0.7).sin()) / rate as f64;
        ph1 += std::f64::consts::TAU * (240.0 + 90.0 * (t * 0.31).sin()) / rate as f64;
        for c in 0..channels {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 2001) as f64 / 1000.0 - 1.0;
            let env = 0.5 + 0.4 * (t * (0.4 + c as f64 * 0.13)).sin();
            let v = if c % 2 == 0 {
                ph0.sin() + 0.3 * (3.0 * ph0).sin()
            } else {
                ph1.sin() + 0.2 * (2.0 * ph1).sin()
            };
            let x = (v * env * 0.6 + noise * 0.01) * 32767.0;
            out.extend_from_slice(&(x as i16).to_le_bytes());
        }
    }
    std::fs::write(path, out).expect("write wav");
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("RUNS"))
        .unwrap_or(5);
    let sasf = root().join("target/release/sasf");
    assert!(
        sasf.exists(),
        "{} is missing: cargo build --release -p sasf-cli",
        sasf.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ten = d.join("ten.wav");
    generate(&ten, 2, 16_000, 10 * 60 * 16_000);
    let inputs: [(&str, PathBuf); 2] = [
        (
            "sample call (µ-law -> 16-bit)",
            root().join("testdata/sample-call.wav"),
        ),
        ("10 min 16-bit stereo 16 kHz", ten),
    ];
    println!(
        "{:32} {:>10} {:>10} {:>10} {:>7} {:>7} {:>9} {:>9} {:>6}",
        "input",
        "sasf B",
        "(markers)",
        "flac -5 B",
        "ratio",
        "frames",
        "sasf MiB/s",
        "flac MiB/s",
        "speed"
    );
    for (name, wav) in inputs {
        let packed = d.join("in.sasf");
        let pcm = d.join("in16.wav");
        let _ = std::fs::remove_file(&packed);
        run(Command::new(&sasf)
            .args(["-q", "pack"])
            .arg(&wav)
            .arg("-o")
            .arg(&packed));
        // What flac is given: the 16-bit samples sasf encodes, as a plain WAV.
        run(Command::new(&sasf)
            .args(["-q", "convert"])
            .arg(&packed)
            .args(["--pcm16", "--no-markers", "-f", "-o"])
            .arg(&pcm));
        let pcm_bytes = size(&pcm) - 44;
        let ours = d.join("ours.flac");
        let marked = d.join("marked.flac");
        let theirs = d.join("theirs.flac");
        let bare = d.join("bare.flac");
        let t_sasf = best(runs, || {
            run(Command::new(&sasf)
                .args(["-q", "convert"])
                .arg(&packed)
                .args(["--no-markers", "-f", "-o"])
                .arg(&ours))
        });
        let t_flac = best(runs, || {
            run(Command::new("flac")
                .args(["-5", "-s", "-f", "-o"])
                .arg(&theirs)
                .arg(&pcm))
        });
        run(Command::new(&sasf)
            .args(["-q", "convert"])
            .arg(&packed)
            .args(["-f", "-o"])
            .arg(&marked));
        // flac's frames alone: no padding (flac -5 reserves 8 KiB), no seek table.
        run(Command::new("flac")
            .args(["-5", "-s", "-f", "--no-padding", "--no-seektable", "-o"])
            .arg(&bare)
            .arg(&pcm));
        let (o, m, t, b) = (size(&ours), size(&marked), size(&theirs), size(&bare));
        let mibs = |dt: Duration| pcm_bytes as f64 / 1048576.0 / dt.as_secs_f64();
        println!(
            "{:32} {:>10} {:>10} {:>10} {:>6.3}x {:>6.3}x {:>9.1} {:>9.1} {:>5.2}x",
            name,
            o,
            m,
            t,
            o as f64 / t as f64,
            o as f64 / b as f64,
            mibs(t_sasf),
            mibs(t_flac),
            t_flac.as_secs_f64() / t_sasf.as_secs_f64()
        );
    }
    println!(
        "ratio: sasf (--no-markers) / flac -5; frames: the same against flac -5 --no-padding --no-seektable; \
         speed: flac's time / sasf's (sasf's includes reading and verifying the SASF input)"
    );
}
