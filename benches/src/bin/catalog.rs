//! The archive catalog (issue 16), measured against `sasf verify` in the same run:
//!
//! 1. indexing: `sasf index` of N encrypted recordings of S seconds (default 10,000 of
//!    20 s, 8 kHz mono µ-law, two participants and five events each) from an empty
//!    catalog, against `sasf verify -r` of the same files with the same key; both on
//!    every core, from the page cache, best of --runs. Target: index throughput >= 0.5x
//!    verify's.
//! 2. search: the whole `sasf search` process on a catalog of M recordings (default
//!    100,000 of 0.1 s), by participant (a blind-index token), by time range, and both;
//!    best of --runs. Target: <= 50 ms. Also the catalog's bytes per recording.
//!
//! Usage: target/release/catalog [--sasf target/release/sasf] [--dir DIR] [--files N]
//!        [--seconds S] [--search-files M] [--runs R]
//!
//! Prints a table, then one line `CATALOG_JSON {…}`.

use std::path::{Path, PathBuf};

use sasf_benches::noise;
use sasf_core::meta::{Event, EventKind, Participant, RecordingInfo, Role, Timestamp};
use sasf_core::{AudioFormat, Encoding, Key, WriterBuilder};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Writes recording `i`: `frames` of noise, two participants, five events.
fn recording(path: &Path, key: &Key, i: usize, frames: u64) -> Res<()> {
    let format = AudioFormat::new(Encoding::MuLaw, 1, 8000)?;
    let start = Timestamp::from_utc(time::OffsetDateTime::from_unix_timestamp(
        1_790_000_000 + 600 * i as i64,
    )?)?;
    let info = RecordingInfo::new()
        .with_id(format!("call-{i:06}"))
        .with_started_at(start);
    let mut w = WriterBuilder::new(format)
        .encrypted(key.clone())
        .info(info)
        .wrap_output(std::io::BufWriter::new(std::fs::File::create(path)?))?;
    w.add_participant(
        Participant::new("a1", Role::Agent)
            .with_name(format!("Agent {}", i % 50))
            .with_address(format!("sip:agent{}@example.com", i % 50))
            .with_channels([0]),
    )?;
    w.add_participant(
        Participant::new("c1", Role::Customer)
            .with_name(format!("Customer {i}"))
            .with_address(format!("+1555{i:07}")),
    )?;
    let step = frames / 6;
    for (k, kind) in [
        EventKind::Join,
        EventKind::Hold,
        EventKind::Resume,
        EventKind::Dtmf { digits: None },
        EventKind::Leave,
    ]
    .into_iter()
    .enumerate()
    {
        w.add_event(Event::new(step * k as u64, kind).with_participant("c1"))?;
    }
    w.write_audio(&noise(frames as usize, i as u64 + 1))?;
    w.finish()?;
    Ok(())
}

fn archive(dir: &Path, key: &Key, n: usize, frames: u64) -> Res<u64> {
    let mut bytes = 0;
    for i in 0..n {
        let d = dir.join(format!("day-{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&d)?;
        }
        let p = d.join(format!("call-{i:06}.sasf"));
        recording(&p, key, i, frames)?;
        bytes += std::fs::metadata(&p)?.len();
    }
    Ok(bytes)
}

use sasf_benches::time_sasf as time;

fn remove_catalog(dir: &Path) {
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!(".sasf-catalog.sqlite{ext}")));
    }
}

fn catalog_bytes(dir: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|e| std::fs::metadata(dir.join(format!(".sasf-catalog.sqlite{e}"))).ok())
        .map(|m| m.len())
        .sum()
}

fn main() -> Res<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (mut sasf, mut dir) = (root.join("target/release/sasf"), None::<PathBuf>);
    let (mut files, mut seconds, mut search_files, mut runs) =
        (10_000usize, 20u64, 100_000usize, 3usize);
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        let v = it.next().ok_or("a flag needs a value")?;
        match f.as_str() {
            "--sasf" => sasf = v.into(),
            "--dir" => dir = Some(v.into()),
            "--files" => files = v.parse::<usize>()?.max(1),
            "--seconds" => seconds = v.parse::<u64>()?.max(1),
            "--search-files" => search_files = v.parse::<usize>()?.max(1),
            "--runs" => runs = v.parse::<usize>()?.max(1),
            _ => return Err(format!("unknown flag {f}").into()),
        }
    }
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let key = Key::generate()?;
    let kf = tmp.path().join("archive.key");
    std::fs::write(&kf, key.to_key_file().as_bytes())?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&kf, std::fs::Permissions::from_mode(0o600))?;
    }
    let k = kf.display().to_string();

    // 1. Indexing against verification.
    let a = tmp.path().join("archive");
    let bytes = archive(&a, &key, files, seconds * 8000)?;
    let ad = a.display().to_string();
    let (mut t_verify, mut t_index) = (f64::MAX, f64::MAX);
    for _ in 0..runs {
        t_verify =
            t_verify.min(time(&sasf, &["-q", "verify", "-r", &ad, "-s", "--key-file", &k])?.0);
        remove_catalog(&a);
        t_index = t_index.min(time(&sasf, &["-q", "index", &ad, "--key-file", &k])?.0);
    }
    let (t_reindex, _) = time(&sasf, &["-q", "index", &ad, "--key-file", &k])?;
    let per_rec_1 = catalog_bytes(&a) as f64 / files as f64;

    // 2. Search on a big catalog.
    let s = tmp.path().join("search");
    archive(&s, &key, search_files, 800)?;
    let sd = s.display().to_string();
    let (t_build, _) = time(&sasf, &["-q", "index", &sd, "--key-file", &k])?;
    let per_rec_2 = catalog_bytes(&s) as f64 / search_files as f64;
    let who = format!("Customer {}", search_files / 2);
    let queries: Vec<(&str, Vec<&str>)> = vec![
        ("participant (token)", vec!["--participant", &who]),
        (
            "a day (time range)",
            vec!["--since", "2026-09-25", "--until", "2026-09-26"],
        ),
        (
            "agent and dtmf (tokens)",
            vec![
                "--participant",
                "Agent 7",
                "--event",
                "dtmf",
                "--limit",
                "20",
            ],
        ),
    ];
    let mut rows = Vec::new();
    for (what, q) in &queries {
        let mut args = vec!["search", &sd, "--key-file", &k];
        args.extend(q.iter().copied());
        let mut best = f64::MAX;
        let mut lines = 0;
        for _ in 0..runs.max(5) {
            let (t, out) = time(&sasf, &args)?;
            best = best.min(t);
            lines = out.lines().count();
        }
        rows.push((what, best, lines));
    }

    let mib = |b: u64, s: f64| b as f64 / s / (1024.0 * 1024.0);
    println!("| what | best s | MiB/s |");
    println!("|---|---|---|");
    println!("| sasf verify -r, {files} encrypted files of {seconds} s ({bytes} bytes) | {t_verify:.3} | {:.0} |", mib(bytes, t_verify));
    println!(
        "| sasf index, the same, empty catalog | {t_index:.3} | {:.0} |",
        mib(bytes, t_index)
    );
    println!("| sasf index again, nothing changed | {t_reindex:.3} | |");
    println!("index/verify throughput ratio {:.2} (target >= 0.5); catalog {per_rec_1:.0} bytes per recording", t_verify / t_index);
    println!();
    println!("catalog of {search_files} recordings: built in {t_build:.1} s, {per_rec_2:.0} bytes per recording");
    println!("| search (whole process) | best ms | lines |");
    println!("|---|---|---|");
    for (what, t, n) in &rows {
        println!("| {what} | {:.1} | {n} |", t * 1000.0);
    }
    println!(
        "CATALOG_JSON {{\"files\":{files},\"seconds\":{seconds},\"bytes\":{bytes},\"verify_s\":{t_verify:.4},\"index_s\":{t_index:.4},\"reindex_s\":{t_reindex:.4},\"ratio\":{:.4},\"bytes_per_recording\":{per_rec_1:.1},\"search_files\":{search_files},\"build_s\":{t_build:.3},\"search_bytes_per_recording\":{per_rec_2:.1},\"search_ms\":[{}]}}",
        t_verify / t_index,
        rows.iter().map(|r| format!("{:.2}", r.1 * 1000.0)).collect::<Vec<_>>().join(",")
    );
    Ok(())
}
