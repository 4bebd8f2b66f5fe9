//! `sasf pack`: WAV (+ metadata JSON) to SASF.

use std::path::Path;

use anyhow::{bail, Context, Result};
use sasf_core::bridge::pack_wav;
use sasf_core::meta::Metadata;
use sasf_core::wav::WavReader;
use sasf_core::Decoder;

use crate::cli::KeyArgs;
use crate::io::{is_dash, load_key, open_input, shown, threads, Progress};
use crate::output::{self, Kind, Opts, Output};

#[allow(clippy::too_many_arguments)]
pub fn run(
    input: &Path,
    output: &Path,
    meta: Option<&Path>,
    encrypt: bool,
    chunk_seconds: f64,
    retention_days: u32,
    no_verify: bool,
    force: bool,
    key_args: &KeyArgs,
    quiet: bool,
) -> Result<()> {
    let inputs: Vec<&Path> = std::iter::once(input).chain(meta).collect();
    output::check(output, Kind::Sasf, &inputs, force)?;
    let key = load_key(key_args)?;
    if encrypt && key.is_none() {
        bail!("--encrypt needs a key: give --key-file KEYFILE or set SASF_KEY_FILE");
    }
    if !(chunk_seconds.is_finite() && chunk_seconds > 0.0) {
        bail!("--chunk-seconds must be a positive number");
    }
    let mut wav = WavReader::new(open_input(input)?).with_context(|| shown(input))?;
    let info = wav.info().clone();
    let format = info.format;
    let total_frames = info.data_len.map(|l| l / format.block_align() as u64);
    let metadata = match meta {
        None => Metadata::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Metadata::from_json_str(&text, &format, total_frames)
                .with_context(|| p.display().to_string())?
        }
    };
    let chunk_frames = ((chunk_seconds * format.sample_rate as f64).round() as u64).max(1);
    let progress = Progress::new(info.data_len, "packing", quiet);
    // The output is SASF, encrypted or not; its source was a plain WAV anyway.
    let out = Output::create(
        output,
        Opts {
            force,
            private: false,
        },
    )?;
    // A stream is flushed chunk by chunk (what a reader or a crash sees is whole
    // chunks); a file is renamed into place only when complete, so it need not be.
    let stream = matches!(out, Output::Stdout(_));
    let result = pack_wav(
        &mut wav,
        |b| {
            let b = b
                .chunk_frames(chunk_frames)
                .retention_days(retention_days)
                .threads(threads())
                .flush_each_chunk(stream);
            match (&key, encrypt) {
                (None, _) => b,
                (Some(k), false) => b.authenticated(k.clone()),
                (Some(k), true) => b.encrypted(k.clone()),
            }
        },
        &metadata,
        out,
        &mut |n| progress.set(n),
    );
    progress.finish();
    let mut out = result.with_context(|| {
        if is_dash(output) {
            format!(
                "{} (the output written to stdout is incomplete)",
                shown(input)
            )
        } else {
            shown(input)
        }
    })?;
    if let Output::File(f) = &mut out {
        if !no_verify {
            let file = f.reopen()?;
            Decoder::new(std::io::BufReader::with_capacity(256 * 1024, file))
                .and_then(|d| d.threads(threads()).open(key.as_ref()))
                .and_then(|mut r| r.verify_to_end())
                .map_err(|e| {
                    anyhow::anyhow!("internal error: the packed file does not verify: {e}")
                })?;
        }
    }
    out.commit()?;
    Ok(())
}
