//! Benchmarks for sasf. The criterion benches are in `benches/`; the binary
//! `primitives` measures the raw single-core baselines that `benches/compare` prints
//! ratios against.

/// Deterministic pseudo-random bytes (xorshift64*): incompressible audio for the
/// benchmark binaries.
pub fn noise(len: usize, mut s: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        v.extend_from_slice(&s.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Writes `audio_len` bytes of noise as a SASF file at `path` (encrypted with `key`,
/// or keyless), on `threads` threads, and makes it durable.
pub fn write_file(
    path: &std::path::Path,
    format: sasf_core::AudioFormat,
    key: Option<&sasf_core::Key>,
    audio_len: u64,
    threads: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut b = sasf_core::WriterBuilder::new(format)
        .threads(threads)
        .flush_each_chunk(false);
    if let Some(k) = key {
        b = b.encrypted(k.clone());
    }
    let out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut w = b.wrap_output(sasf_core::OutputThread(out))?;
    let frame = format.block_align() as u64;
    let block = noise(4 << 20, 0x9e37_79b9_7f4a_7c15);
    let mut left = audio_len - audio_len % frame;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        let n = n - n % frame as usize;
        w.write_audio(&block[..n])?;
        left -= n as u64;
    }
    let f = w.finish()?.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    Ok(())
}

/// Runs `sasf ARGS` (which must succeed) and returns its wall time in seconds and its
/// standard output.
pub fn time_sasf(
    sasf: &std::path::Path,
    args: &[&str],
) -> Result<(f64, String), Box<dyn std::error::Error>> {
    let t = std::time::Instant::now();
    let o = std::process::Command::new(sasf).args(args).output()?;
    let s = t.elapsed().as_secs_f64();
    if !o.status.success() {
        return Err(format!(
            "sasf {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    Ok((s, String::from_utf8_lossy(&o.stdout).into_owned()))
}
