//! `sasf recover`: salvage the authenticated prefix of a damaged file.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sasf_core::error::format_time;
use sasf_core::recover::recover_with;

use crate::cli::KeyArgs;
use crate::io::{note, open_input, shown};
use crate::output::{self, Kind, Opts, Output};

/// Exit 0 with a recovered file, or nothing to do (the original was complete);
/// 1 when the original fails authentication and `--allow-auth-failure` was not given.
pub fn run(
    file: &Path,
    output: &Path,
    allow_auth_failure: bool,
    force: bool,
    key_args: &KeyArgs,
) -> Result<ExitCode> {
    output::check(output, Kind::Sasf, &[file], force)?;
    let keys = crate::io::load_keys(key_args)?;
    if !keys.signers.is_empty() {
        anyhow::bail!("sasf recover checks no signature: verify the file with `sasf verify --signer` instead of giving --signer here");
    }
    let ring = &keys.ring;
    let name = shown(file);
    // Re-sealed at the source's level: an encrypted source gives an encrypted output.
    let mut out = Output::create(
        output,
        Opts {
            force,
            private: false,
            partial: false,
        },
    )?;
    let (_, rep) = recover_with(
        open_input(file)?,
        ring,
        key_args
            .require
            .map(Into::into)
            .unwrap_or(sasf_core::Require::default_for(!ring.is_empty())),
        key_args
            .expect_id
            .as_ref()
            .map(|id| sasf_core::Context::new(id.clone(), key_args.expect_tenant.as_deref()))
            .transpose()?,
        &mut out,
    )
    .with_context(|| name.clone())?;
    let at = format_time(rep.samples, rep.sample_rate);
    match &rep.stop {
        None if matches!(out, Output::File(_)) => {
            // Nothing to recover: the output is dropped unwritten.
            note(format_args!(
                "sasf: {name}: the file is complete ({} chunks, {at}); nothing written",
                rep.chunks_kept
            ));
            return Ok(ExitCode::SUCCESS);
        }
        Some(e) if e.class() != "truncated" && !allow_auth_failure => {
            note(format_args!(
                "sasf: {name}: {e}; it was not cut short but changed or damaged, so nothing was written \
                 (give --allow-auth-failure to salvage the {} authenticated chunk(s) before it)",
                rep.chunks_kept
            ));
            return Ok(ExitCode::from(1));
        }
        _ => {}
    }
    if let Output::File(f) = &mut out {
        // As pack does: the structure of what was written is read back first.
        let file = f.reopen()?;
        sasf_core::Decoder::new(std::io::BufReader::new(file))
            .and_then(|d| d.require(sasf_core::Require::Any).open_with(ring))
            .and_then(|r| r.into_random_access().map(drop))
            .map_err(|e| {
                anyhow::anyhow!("internal error: the recovered file does not verify: {e}")
            })?;
    }
    out.commit()?;
    match &rep.stop {
        Some(e) => note(format_args!(
            "sasf: {name}: recovered {} chunk(s), {at} of audio; the original stopped: {e}",
            rep.chunks_kept
        )),
        None => note(format_args!(
            "sasf: {name}: the file was complete; copied {} chunk(s), {at} of audio",
            rep.chunks_kept
        )),
    }
    Ok(ExitCode::SUCCESS)
}
