//! `sasf extract`: metadata as JSON, and optionally the audio as WAV.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};

use crate::cli::{KeyArgs, RangeArgs};
use crate::io::{is_dash, Output};

pub fn run(
    file: &Path,
    meta: &Path,
    audio: Option<&Path>,
    pcm16: bool,
    range: &RangeArgs,
    key_args: &KeyArgs,
    quiet: bool,
) -> Result<()> {
    if let Some(a) = audio {
        if is_dash(a) && is_dash(meta) {
            bail!("--meta and --audio cannot both be stdout (-)");
        }
    }
    // Both outputs are made first and committed last, so a failure anywhere leaves
    // neither behind.
    let mut out = Output::create(meta)?;
    let (metadata, rate, wav) =
        super::convert::to_wav(file, audio.map(|a| (a, pcm16)), range, key_args, quiet)?;
    serde_json::to_writer_pretty(&mut out, &metadata.to_json(rate))?;
    out.write_all(b"\n")?;
    out.flush()?;
    if let Some(w) = wav {
        w.commit()?;
    }
    out.commit()
}
