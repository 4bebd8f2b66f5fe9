//! `sasf convert`: SASF to WAV, samples as stored (or decoded with --pcm16).

use std::path::Path;

use anyhow::{Context, Result};
use sasf_core::bridge::{read_all, wav_output_format, wav_payload};

use crate::cli::KeyArgs;
use crate::io::{is_dash, load_key, shown, Progress, WavOut};

/// Reads `file` to its end, writing its audio to a WAV at `audio_out`; returns the
/// contents and the sample rate. The WAV is committed only after the end chunk verifies.
pub fn to_wav(
    file: &Path,
    audio_out: Option<(&Path, bool)>,
    key_args: &KeyArgs,
    quiet: bool,
) -> Result<(sasf_core::bridge::Contents, u32)> {
    let key = load_key(key_args)?;
    let name = shown(file);
    let mut r = super::open_sasf(file, key.as_ref())?;
    let format = r.header().format;
    let mut wav = match audio_out {
        Some((p, pcm16)) => Some((
            WavOut::create(p, wav_output_format(format, pcm16))?,
            pcm16,
            p,
        )),
        None => None,
    };
    let size = if is_dash(file) {
        None
    } else {
        std::fs::metadata(file).ok().map(|m| m.len())
    };
    let progress = Progress::new(size, "reading", quiet);
    let mut scratch = Vec::new();
    let result = read_all(&mut r, super::MAX_RECORDS, |data| {
        if let Some((w, pcm16, _)) = &mut wav {
            w.write(wav_payload(format.encoding, *pcm16, data, &mut scratch))?;
        }
        Ok(())
    });
    progress.set(r.offset());
    progress.finish();
    let contents = result.with_context(|| match &wav {
        Some((_, _, p)) if is_dash(p) => {
            format!("{name} (the audio written to stdout is incomplete)")
        }
        _ => name.clone(),
    })?;
    if let Some((w, _, _)) = wav {
        w.commit()?;
    }
    Ok((contents, format.sample_rate))
}

pub fn run(file: &Path, output: &Path, pcm16: bool, key_args: &KeyArgs, quiet: bool) -> Result<()> {
    to_wav(file, Some((output, pcm16)), key_args, quiet)?;
    Ok(())
}
