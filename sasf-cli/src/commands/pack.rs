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
    verify_all: bool,
    bind_context: bool,
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
    let context = if bind_context {
        let id = metadata.recording.id.clone().ok_or_else(|| {
            anyhow::anyhow!("--bind-context needs a recording id (recording.id in --meta)")
        })?;
        let tenant = metadata
            .recording
            .extra
            .get("tenant")
            .and_then(|t| t.as_str())
            .map(str::to_string);
        Some(sasf_core::Context::new(id, tenant.as_deref())?)
    } else {
        None
    };
    let chunk_frames = ((chunk_seconds * format.sample_rate as f64).round() as u64).max(1);
    let progress = Progress::new(info.data_len, "packing", quiet);
    // The output is SASF, encrypted or not; its source was a plain WAV anyway.
    // From a live input (stdin, a pipe) each chunk is flushed as soon as its audio has
    // arrived, to a file or a stream; a regular file needs no per-chunk flush (and is
    // sealed on every core), whatever the output.
    let live_input = is_dash(input)
        || std::fs::metadata(input)
            .map(|m| !m.is_file())
            .unwrap_or(true);
    // From a live input, a file is written under its partial name `<output>.part`,
    // visible from the start, and renamed when complete: after a crash or a failed
    // input that is what `sasf recover` salvages. From a regular file nothing is lost
    // by a failure, and nothing is left behind.
    let out = Output::create(
        output,
        Opts {
            force,
            private: false,
            partial: live_input,
        },
    )?;
    let result = pack_wav(
        &mut wav,
        |b| {
            let mut b = b
                .chunk_frames(chunk_frames)
                .retention_days(retention_days)
                .threads(threads())
                .flush_each_chunk(live_input);
            if let Some(c) = context.clone() {
                b = b.bind_context(c);
            }
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
            // The read-back comes from the page cache, so it catches the writer's own
            // mistakes, not the disk's: by default it checks the structure (end chunk,
            // index chain, metadata, the manifest over the index's digests), which
            // costs a few reads; --verify-all re-reads and re-hashes every chunk.
            let file = f.reopen()?;
            let d = Decoder::new(std::io::BufReader::with_capacity(256 * 1024, file));
            let r = if verify_all {
                d.and_then(|d| d.threads(threads()).open(key.as_ref()))
                    .and_then(|mut r| r.verify_to_end().map(drop))
            } else {
                d.and_then(|d| d.open(key.as_ref()))
                    .and_then(|r| r.into_random_access().map(drop))
            };
            r.map_err(|e| anyhow::anyhow!("internal error: the packed file does not verify: {e}"))?;
        }
    }
    out.commit()?;
    Ok(())
}
