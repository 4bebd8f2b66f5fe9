//! Keys and signatures (issue 12), measured in one run, for `benches/compare --access`:
//!
//! 1. **Re-keying in place** (`docs/FORMAT.md` §5.6): an encrypted 10-hour 8 kHz mono
//!    G.711 µ-law recording (288 MB) and a 1-minute one are written to a file under
//!    `--dir`, made durable, then `KeyEdit::open` → `unlock` → `add_key` → `commit`
//!    (two `fdatasync`'d copies) and, separately, the same with `remove_key`, each
//!    `--rekey-runs` times. Reports the best and median wall time of the whole
//!    operation, the time of `commit` alone, the `bytes_written` of the report, and
//!    checks after every rewrite that the SHA-256 of the header (`0 .. 128 + E`) and of
//!    every chunk (`128 + E + 4 + 2Q ..` end) is what it was before.
//! 2. **Auditor throughput**: a `--size-mib` recording of 48 kHz 16-bit stereo PCM,
//!    packed encrypted and signed with `access::sign`, and packed keyless; from the
//!    page cache, best of `--runs`: `access::audit` (no key) with a 1 MiB `BufReader`
//!    (and with the CLI's 8 KiB one), keyless `verify_to_end`, keyed `verify_to_end`
//!    of the encrypted file, all on every core; and one-core SHA-256 of 1 MiB buffers
//!    and a plain read of the file as baselines. Throughput is WAV bytes (audio plus
//!    a 44-byte header) per second of wall time.
//!
//! Prints a table, then one line `ACCESS_JSON {…}` with every figure.
//!
//! Usage: `access [--dir DIR] [--hours 10] [--rekey-runs 9] [--size-mib 1024]
//! [--runs 3] [--threads N] [--settle 2] [--only rekey|audit]`

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sasf_core::access::{self, KeyEdit};
use sasf_core::{AudioFormat, Decoder, Encoding, Key, Keyring, Limits, SigningKey};
use sha2::{Digest, Sha256};

const MIB: f64 = 1024.0 * 1024.0;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

struct Args {
    dir: Option<PathBuf>,
    hours: u64,
    rekey_runs: usize,
    size_mib: u64,
    runs: usize,
    threads: usize,
    settle: u64,
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        dir: None,
        hours: 10,
        rekey_runs: 9,
        size_mib: 1024,
        runs: 3,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        settle: 2,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |s: String| -> u64 { s.parse().unwrap_or_else(|_| usage("not a number")) };
        match flag.as_str() {
            "--dir" => a.dir = Some(PathBuf::from(val())),
            "--hours" => a.hours = num(val()).max(1),
            "--rekey-runs" => a.rekey_runs = num(val()).max(1) as usize,
            "--size-mib" => a.size_mib = num(val()).max(1),
            "--runs" => a.runs = num(val()).max(1) as usize,
            "--threads" => a.threads = num(val()).max(1) as usize,
            "--settle" => a.settle = num(val()),
            "--only" => a.only = Some(val()),
            "-h" | "--help" => usage(""),
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    a
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("access: {msg}");
    }
    eprintln!(
        "usage: access [--dir DIR] [--hours 10] [--rekey-runs 9] [--size-mib 1024] [--runs 3] [--threads N] [--settle 2] [--only rekey|audit]"
    );
    std::process::exit(2)
}

/// Pseudo-random bytes (xorshift64*): audio that does not compress or repeat in a chunk.
use sasf_benches::write_file;

/// SHA-256 of the immutable parts: the header (`0 .. 128 + E`) and every chunk
/// (`128 + E + 4 + 2Q ..` end), read independently of the library.
fn immutable_digests(path: &Path) -> Res<([u8; 32], [u8; 32], u64)> {
    let mut f = File::open(path)?;
    let mut head = [0u8; 132];
    f.read_exact(&mut head[..128])?;
    let e = u16::from_be_bytes([head[28], head[29]]) as u64;
    let header_len = 128 + e;
    let mut header = vec![0u8; header_len as usize];
    f.seek(SeekFrom::Start(0))?;
    f.read_exact(&mut header)?;
    let mut q = [0u8; 4];
    f.read_exact(&mut q)?;
    let q = u32::from_be_bytes(q) as u64;
    let stream = header_len + 4 + 2 * q;
    f.seek(SeekFrom::Start(stream))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok((Sha256::digest(&header).into(), h.finalize().into(), stream))
}

fn filesystem(dir: &Path) -> String {
    let out = std::process::Command::new("df")
        .arg("-T")
        .arg(dir)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    // Filesystem Type 1K-blocks Used Available Use% Mounted-on
    let line = out.lines().nth(1).unwrap_or("");
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() >= 7 {
        format!("{} on {} ({})", f[1], f[6], f[0])
    } else {
        "unknown (df -T failed)".to_string()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn best_median(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    (s[0], m)
}

struct Rekey {
    label: String,
    file_bytes: u64,
    op: &'static str,
    total_ms: Vec<f64>,
    commit_ms: Vec<f64>,
    bytes_written: u64,
    unchanged: bool,
}

/// An encrypted µ-law recording to re-key, written and made durable.
struct Prepared {
    label: String,
    path: PathBuf,
    k1: Key,
    k2: Key,
    file_bytes: u64,
}

fn prepare(dir: &Path, label: &str, seconds: u64, threads: usize) -> Res<Prepared> {
    let path = dir.join(format!("rekey-{label}.sasf"));
    let format = AudioFormat::new(Encoding::MuLaw, 1, 8000)?;
    let k1 = Key::generate()?;
    let k2 = Key::generate()?;
    write_file(&path, format, Some(&k1), seconds * 8000, threads)?;
    let file_bytes = std::fs::metadata(&path)?.len();
    Ok(Prepared {
        label: label.to_string(),
        path,
        k1,
        k2,
        file_bytes,
    })
}

/// Adds and removes a key `runs` times each (alternately) on a prepared recording.
fn rekey(p: &Prepared, runs: usize, threads: usize) -> Res<Vec<Rekey>> {
    let path = &p.path;
    let (k1, k2) = (&p.k1, &p.k2);
    let ring = Keyring::from_key(k1.clone());
    let before = immutable_digests(path)?;
    let new = |op| Rekey {
        label: p.label.clone(),
        file_bytes: p.file_bytes,
        op,
        total_ms: Vec::new(),
        commit_ms: Vec::new(),
        bytes_written: 0,
        unchanged: true,
    };
    let (mut add, mut remove, mut base) = (new("add_key"), new("remove_key"), new("baseline"));
    // The device's share: two 4096-byte writes, each made durable, in a scratch file
    // of its own, interleaved with the rewrites so that both see the same disk.
    let scratch_path = p.path.with_extension("scratch");
    let mut scratch = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&scratch_path)?;
    scratch.write_all(&vec![1u8; 4 + 2 * 4096])?;
    scratch.sync_all()?;
    let page = vec![2u8; 4096];
    for _ in 0..runs {
        let t0 = Instant::now();
        for at in [4 + 4096, 4] {
            scratch.seek(SeekFrom::Start(at))?;
            scratch.write_all(&page)?;
            scratch.sync_data()?;
        }
        base.total_ms.push(ms(t0.elapsed()));
        base.commit_ms.push(ms(t0.elapsed()));
        base.bytes_written = 2 * 4096;
        for (i, r) in [&mut add, &mut remove].into_iter().enumerate() {
            let t0 = Instant::now();
            let mut e = KeyEdit::open(path)?;
            e.unlock(&ring)?;
            if i == 0 {
                e.add_key(k2)?;
            } else {
                e.remove_key(k2)?;
            }
            let t1 = Instant::now();
            let rep = e.commit()?;
            let t2 = Instant::now();
            r.total_ms.push(ms(t2 - t0));
            r.commit_ms.push(ms(t2 - t1));
            r.bytes_written = r.bytes_written.max(rep.bytes_written);
            let after = immutable_digests(path)?;
            r.unchanged &= after == before && std::fs::metadata(path)?.len() == p.file_bytes;
        }
    }
    // The file still verifies with the first key, and no longer opens with the second.
    let input = BufReader::with_capacity(8192, File::open(path)?);
    let mut rd = Decoder::new(input)?.threads(threads).open(Some(k1))?;
    rd.verify_to_end()?;
    let input = BufReader::with_capacity(8192, File::open(path)?);
    let removed = Decoder::new(input)?.open(Some(k2)).map(|_| ()).unwrap_err();
    assert_eq!(removed.class(), "wrong-key", "{removed}");
    std::fs::remove_file(path)?;
    std::fs::remove_file(&scratch_path)?;
    Ok(vec![add, remove, base])
}

/// Best wall time of `runs` runs of `f`.
fn best_of(runs: usize, mut f: impl FnMut() -> Res<()>) -> Res<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t0 = Instant::now();
        f()?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Single-core SHA-256 (sha2) of 1 MiB buffers, MiB/s, as `primitives` measures it.
fn sha256_one_core() -> f64 {
    let buf = vec![0x5au8; 1 << 20];
    for _ in 0..50 {
        std::hint::black_box(Sha256::digest(&buf));
    }
    let mut best = 0.0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(400) {
            std::hint::black_box(Sha256::digest(&buf));
            n += 1;
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn read_all(path: &Path) -> Res<u64> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

struct AuditFigures {
    wav_bytes: u64,
    rows: Vec<(&'static str, f64)>,
    sign_ms: f64,
}

fn audit_bench(dir: &Path, size_mib: u64, runs: usize, threads: usize) -> Res<AuditFigures> {
    let format = AudioFormat::new(Encoding::S16, 2, 48000)?;
    let audio = size_mib << 20;
    let audio = audio - audio % 4;
    let wav_bytes = audio + 44;
    let key = Key::generate()?;
    let enc = dir.join("audit-enc.sasf");
    let kl = dir.join("audit-keyless.sasf");
    write_file(&enc, format, Some(&key), audio, threads)?;
    write_file(&kl, format, None, audio, threads)?;
    let sk = SigningKey::generate()?;
    let pk = sk.verifying_key();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let t0 = Instant::now();
    let rep = access::sign(&enc, &Keyring::from_key(key.clone()), None, &sk, now)?;
    let sign_ms = ms(t0.elapsed());
    // Into the page cache.
    read_all(&enc)?;
    read_all(&kl)?;

    let mut rows = Vec::new();
    let t = best_of(runs, || read_all(&enc).map(|_| ()))?;
    let enc_len = std::fs::metadata(&enc)?.len();
    rows.push((
        "read (page cache, 1 MiB reads; file bytes)",
        enc_len as f64 / MIB / t,
    ));
    for (name, cap) in [
        ("audit, BufReader 1 MiB", 1usize << 20),
        ("audit, BufReader 8 KiB", 8 << 10),
    ] {
        let t = best_of(runs, || {
            let input = BufReader::with_capacity(cap, File::open(&enc)?);
            let a = access::audit(input, std::slice::from_ref(&pk), Limits::default(), threads)?;
            assert_eq!(a.file_digest, rep.file_digest);
            assert!(a.signatures.iter().any(|s| s.valid && s.trusted));
            Ok(())
        })?;
        rows.push((name, wav_bytes as f64 / MIB / t));
    }
    let t = best_of(runs, || {
        let input = BufReader::with_capacity(8 << 10, File::open(&kl)?);
        let mut r = Decoder::new(input)?.threads(threads).open(None)?;
        r.verify_to_end()?;
        Ok(())
    })?;
    rows.push(("keyless verify (verify_to_end)", wav_bytes as f64 / MIB / t));
    let t = best_of(runs, || {
        let input = BufReader::with_capacity(8 << 10, File::open(&enc)?);
        let mut r = Decoder::new(input)?.threads(threads).open(Some(&key))?;
        r.verify_to_end()?;
        Ok(())
    })?;
    rows.push((
        "keyed verify, encrypted (verify_to_end)",
        wav_bytes as f64 / MIB / t,
    ));
    rows.push(("sha-256, one core, 1 MiB buffers", sha256_one_core()));
    std::fs::remove_file(&enc)?;
    std::fs::remove_file(&kl)?;
    Ok(AuditFigures {
        wav_bytes,
        rows,
        sign_ms,
    })
}

fn main() -> Res<()> {
    let a = args();
    let base = match &a.dir {
        Some(d) => d.clone(),
        None => {
            // target/release/access → target/
            let exe = std::env::current_exe()?;
            exe.parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))
        }
    };
    std::fs::create_dir_all(&base)?;
    let tmp = tempfile::Builder::new()
        .prefix("bench-access-")
        .tempdir_in(&base)?;
    let dir = tmp.path();
    let fs = filesystem(dir);
    println!("directory: {} — filesystem {fs}", dir.display());
    if fs.starts_with("tmpfs") || fs.starts_with("ramfs") {
        println!("warning: a memory filesystem: fdatasync costs nothing here");
    }
    println!("threads: {}", a.threads);
    let mut json = vec![
        format!("\"filesystem\":\"{}\"", fs.replace('"', "'")),
        format!("\"threads\":{}", a.threads),
    ];

    if a.only.as_deref() != Some("audit") {
        let long = prepare(dir, &format!("{}h", a.hours), a.hours * 3600, a.threads)?;
        let short = prepare(dir, "1min", 60, a.threads)?;
        // Let the writeback of the files just written settle, so that the first
        // rewrite's fdatasync does not wait for it: a file is re-keyed long after it
        // was recorded.
        let _ = std::process::Command::new("sync").status();
        std::thread::sleep(Duration::from_secs(a.settle));
        let mut all = rekey(&long, a.rekey_runs, a.threads)?;
        all.extend(rekey(&short, a.rekey_runs, a.threads)?);
        println!(
            "\nRe-keying in place (KeyEdit open+unlock+edit+commit, two fdatasync'd copies), {} runs each; targets <= 20 ms, < 64 KiB written\n",
            a.rekey_runs
        );
        println!("| recording | file | operation | best ms | median ms | max ms | commit (2 x fdatasync) median ms | bytes written | rest of file unchanged (SHA-256) | target |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let mut jr = Vec::new();
        for r in &all {
            let (best, med) = best_median(&r.total_ms);
            let max = r.total_ms.iter().copied().fold(0.0, f64::max);
            let (_, cmed) = best_median(&r.commit_ms);
            let ok = med <= 20.0 && r.bytes_written < 65536 && r.unchanged;
            let baseline = r.op == "baseline";
            println!(
                "| {} µ-law 8 kHz | {:.1} MB | {} | {best:.2} | {med:.2} | {max:.2} | {cmed:.2} | {} | {} | {} |",
                r.label,
                r.file_bytes as f64 / 1e6,
                if baseline { "baseline: 2 x (4 KiB pwrite + fdatasync), scratch file" } else { r.op },
                r.bytes_written,
                if baseline { "-" } else if r.unchanged { "yes" } else { "NO" },
                if baseline { "-" } else if ok { "met" } else { "MISSED" },
            );
            let list = |v: &[f64]| {
                v.iter()
                    .map(|x| format!("{x:.3}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            jr.push(format!(
                "{{\"recording\":\"{}\",\"file_bytes\":{},\"op\":\"{}\",\"best_ms\":{best:.3},\"median_ms\":{med:.3},\"max_ms\":{max:.3},\"commit_median_ms\":{cmed:.3},\"bytes_written\":{},\"unchanged\":{},\"runs_ms\":[{}]}}",
                r.label, r.file_bytes, r.op, r.bytes_written, r.unchanged, list(&r.total_ms)
            ));
        }
        json.push(format!("\"rekey\":[{}]", jr.join(",")));
    }

    if a.only.as_deref() != Some("rekey") {
        let f = audit_bench(dir, a.size_mib, a.runs, a.threads)?;
        println!(
            "\nVerification of {} MiB of 48 kHz s16 stereo, encrypted and signed (access::sign took {:.0} ms), from the page cache, {} threads, best of {}; MiB/s of WAV bytes\n",
            a.size_mib, f.sign_ms, a.threads, a.runs
        );
        println!("| operation | MiB/s |");
        println!("|---|---|");
        for (name, v) in &f.rows {
            println!("| {name} | {v:.0} |");
        }
        let get = |n: &str| f.rows.iter().find(|r| r.0 == n).map_or(f64::NAN, |r| r.1);
        let audit = get("audit, BufReader 1 MiB");
        let audit_small = get("audit, BufReader 8 KiB");
        let keyless = get("keyless verify (verify_to_end)");
        let ratio = audit / keyless;
        println!(
            "\naudit / keyless verify: {ratio:.2}x with a 1 MiB BufReader (target >= 1.0: {}), {:.2}x with 8 KiB",
            if ratio >= 1.0 { "met" } else { "MISSED" },
            audit_small / keyless
        );
        let rows = f
            .rows
            .iter()
            .map(|(n, v)| format!("\"{n}\":{v:.1}"))
            .collect::<Vec<_>>()
            .join(",");
        json.push(format!(
            "\"audit\":{{\"size_mib\":{},\"wav_bytes\":{},\"runs\":{},\"sign_ms\":{:.1},\"mib_s\":{{{rows}}},\"audit_over_keyless\":{ratio:.3},\"audit_8k_over_keyless\":{:.3}}}",
            a.size_mib,
            f.wav_bytes,
            a.runs,
            f.sign_ms,
            audit_small / keyless
        ));
    }
    println!("\nACCESS_JSON {{{}}}", json.join(","));
    Ok(())
}
