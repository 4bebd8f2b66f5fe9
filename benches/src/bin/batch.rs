//! Per-file overhead of batch verification (issue 16): `sasf verify -r` over N files of
//! S seconds each (default 10,000 of 20 s, 8 kHz mono µ-law, keyless) against
//! `sasf verify` of one file holding the same total audio, in the same run, on the
//! same filesystem, both on every core, both from the page cache (each read once
//! before timing). Best of --runs, alternating.
//!
//! Usage: target/release/batch [--sasf target/release/sasf] [--dir DIR] [--files N]
//!        [--seconds S] [--runs R]
//!
//! Prints a table, then one line `BATCH_JSON {…}`. Target: ratio (file bytes per
//! second of the many files over the one file) >= 0.7.

use std::path::{Path, PathBuf};

use sasf_benches::write_file;
use sasf_core::{AudioFormat, Encoding};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Reads every file under `p` once (into the page cache), returning the bytes read.
fn warm(p: &Path) -> Res<u64> {
    let mut n = 0;
    if p.is_dir() {
        for e in std::fs::read_dir(p)? {
            n += warm(&e?.path())?;
        }
    } else {
        let mut f = std::fs::File::open(p)?;
        n += std::io::copy(&mut f, &mut std::io::sink())?;
    }
    Ok(n)
}

/// Seconds of wall time of `sasf ARGS`, which must succeed.
fn time(sasf: &Path, args: &[&str]) -> Res<f64> {
    Ok(sasf_benches::time_sasf(sasf, args)?.0)
}

fn main() -> Res<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (mut sasf, mut dir) = (root.join("target/release/sasf"), None::<PathBuf>);
    let (mut files, mut seconds, mut runs) = (10_000usize, 20u64, 3usize);
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        let v = it.next().ok_or("a flag needs a value")?;
        match f.as_str() {
            "--sasf" => sasf = v.into(),
            "--dir" => dir = Some(v.into()),
            "--files" => files = v.parse::<usize>()?.max(1),
            "--seconds" => seconds = v.parse::<u64>()?.max(1),
            "--runs" => runs = v.parse::<usize>()?.max(1),
            _ => return Err(format!("unknown flag {f}").into()),
        }
    }
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let format = AudioFormat::new(Encoding::MuLaw, 1, 8000)?;
    let per_file = seconds * 8000;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // One recording, copied into day folders of 1000 (as an archive is laid out).
    let one = tmp.path().join("one.sasf");
    write_file(&one, format, None, per_file, cores)?;
    let archive = tmp.path().join("archive");
    for i in 0..files {
        let d = archive.join(format!("day-{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&d)?;
        }
        std::fs::copy(&one, d.join(format!("call-{i:05}.sasf")))?;
    }
    let big = tmp.path().join("big.sasf");
    write_file(&big, format, None, per_file * files as u64, cores)?;
    let many_bytes = warm(&archive)?;
    let big_bytes = warm(&big)?;

    let a = archive.display().to_string();
    let b = big.display().to_string();
    let (mut t_many, mut t_big) = (f64::MAX, f64::MAX);
    for _ in 0..runs {
        t_many = t_many.min(time(&sasf, &["-q", "verify", "-r", &a, "-s"])?);
        t_big = t_big.min(time(&sasf, &["-q", "verify", &b, "-s"])?);
    }
    // With a report, as an archive run would have it.
    let rep = tmp.path().join("report.jsonl");
    let r = rep.display().to_string();
    let mut t_report = f64::MAX;
    for _ in 0..runs {
        let _ = std::fs::remove_file(&rep);
        t_report = t_report.min(time(
            &sasf,
            &["-q", "verify", "-r", &a, "-s", "--report", &r],
        )?);
    }
    let mib = |bytes: u64, s: f64| bytes as f64 / s / (1024.0 * 1024.0);
    let (m, g, rr) = (
        mib(many_bytes, t_many),
        mib(big_bytes, t_big),
        mib(many_bytes, t_report),
    );
    println!("| what | files | bytes | best s | MiB/s |");
    println!("|---|---|---|---|---|");
    println!(
        "| sasf verify -r, {files} files of {seconds} s | {files} | {many_bytes} | {t_many:.3} | {m:.0} |"
    );
    println!(
        "| sasf verify -r --report, the same | {files} | {many_bytes} | {t_report:.3} | {rr:.0} |"
    );
    println!(
        "| sasf verify, one file of {} s | 1 | {big_bytes} | {t_big:.3} | {g:.0} |",
        seconds * files as u64
    );
    println!(
        "ratio {:.2} (with --report {:.2}); target >= 0.7; {cores} cores; best of {runs}",
        m / g,
        rr / g
    );
    println!(
        "BATCH_JSON {{\"files\":{files},\"seconds\":{seconds},\"cores\":{cores},\"runs\":{runs},\"many_bytes\":{many_bytes},\"big_bytes\":{big_bytes},\"many_s\":{t_many:.4},\"report_s\":{t_report:.4},\"big_s\":{t_big:.4},\"ratio\":{:.4},\"ratio_report\":{:.4}}}",
        m / g,
        rr / g
    );
    Ok(())
}
