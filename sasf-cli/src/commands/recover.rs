//! `sasf recover`: salvage the authenticated prefix of a damaged file.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sasf_core::error::format_time;
use sasf_core::recover::recover_with;
use sasf_core::{annotate, Integrity, Keyring};

use crate::cli::KeyArgs;
use crate::io::{is_dash, load_keys, note, open_input, shown, Keys};
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
    let keys = load_keys(key_args)?;
    if !keys.signers.is_empty() {
        anyhow::bail!("sasf recover checks no signature: verify the file with `sasf verify --signer` instead of giving --signer here");
    }
    let ring = &keys.ring;
    let name = shown(file);
    // A shared lock across the check and the copy: no append (which holds it
    // exclusively) can change the file in between.
    let regular = !is_dash(file) && std::fs::metadata(file).is_ok_and(|m| m.is_file());
    let locked = regular
        .then(|| std::fs::File::open(file))
        .transpose()
        .with_context(|| format!("cannot open {name}"))?;
    if let Some(f) = &locked {
        f.lock_shared()
            .with_context(|| format!("cannot lock {name}"))?;
    }
    if let Some(t) = torn_only(file, &keys, key_args) {
        // The recording and every complete segment verify: the output is the exact
        // prefix before the torn segment, signatures and segments kept.
        let mut out = Output::create(
            output,
            Opts {
                force,
                private: t.level == Integrity::Encrypted,
                partial: false,
            },
        )?;
        let mut f = locked
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("{name}: a torn file is trimmed from a path"))?;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0))?;
        let n = std::io::copy(&mut Read::take(f, t.at), &mut out)
            .with_context(|| format!("cannot read {name}"))?;
        if n != t.at {
            anyhow::bail!("{name}: the file changed while it was read");
        }
        out.commit()?;
        note(format_args!(
            "sasf: {name}: trimmed an incomplete annotation segment at byte {} ({} bytes)",
            t.at,
            t.len - t.at
        ));
        return Ok(ExitCode::SUCCESS);
    }
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

/// A file whose only damage is a torn last annotation segment.
struct Torn {
    level: Integrity,
    /// Where the torn segment starts (the end of the last complete one).
    at: u64,
    /// The file's length.
    len: u64,
}

/// Whether `file` (a regular file) verifies completely, recording and every complete
/// segment, and ends with a torn segment.
fn torn_only(file: &Path, keys: &Keys, key_args: &KeyArgs) -> Option<Torn> {
    if is_dash(file) || !std::fs::metadata(file).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let mut r = super::open_sasf(file, keys, key_args).ok()?;
    r.verify_to_end().ok()?;
    let at = r.segments()?.incomplete_at?;
    Some(Torn {
        level: r.header().integrity,
        at,
        len: std::fs::metadata(file).ok()?.len(),
    })
}

/// `recover --in-place`: trims a torn last annotation segment off `file` itself.
pub fn in_place(file: &Path, key_args: &KeyArgs) -> Result<ExitCode> {
    if is_dash(file) {
        anyhow::bail!("--in-place trims a file: give a file, not -");
    }
    let keys = load_keys(key_args)?;
    if !keys.signers.is_empty() {
        anyhow::bail!("sasf recover checks no signature: verify the file with `sasf verify --signer` instead of giving --signer here");
    }
    let name = shown(file);
    // Everything before the torn segment must verify: nothing else is repaired here.
    let mut r = super::open_sasf(file, &keys, key_args)?;
    r.verify_to_end().with_context(|| {
        format!("{name} (--in-place only trims a torn annotation segment; recover -o salvages a damaged recording)")
    })?;
    let level = r.header().integrity;
    let torn = r.segments().and_then(|s| s.incomplete_at);
    drop(r);
    let Some(at) = torn else {
        note(format_args!(
            "sasf: {name}: no incomplete annotation segment; nothing to trim"
        ));
        return Ok(ExitCode::SUCCESS);
    };
    let empty = Keyring::new();
    let ring = if level == Integrity::Keyless {
        &empty
    } else {
        &keys.ring
    };
    let cut = annotate::trim_incomplete(file, ring).with_context(|| name.clone())?;
    note(format_args!(
        "sasf: {name}: trimmed an incomplete annotation segment at byte {at} ({cut} bytes)"
    ));
    Ok(ExitCode::SUCCESS)
}
