//! `sasf redact`: a new file with a range silenced, beeped or cut out; and what it
//! shares with `sasf cut` (writing a file derived from a source).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use sasf_core::error::format_time;
use sasf_core::provenance::{Carried, Opening};
use sasf_core::redact::{redact, Mode, Redaction};
use sasf_core::{PublicRecipient, Require};

use crate::cli::{KeyArgs, RecipientArgs, RedactArgs, RedactMode};
use crate::io::{
    is_dash, load_keys, load_recipients, note, now_ms, read_signing_key, shown, utc_ms, Keys,
};
use crate::output::{self, Kind, Opts, Output};

/// A TIME as a frame position at `rate`, nearest frame.
pub fn to_frames(t: &str, rate: u32, what: &str) -> Result<u64> {
    let ns = super::convert::parse_time(t).with_context(|| what.to_string())?;
    Ok(((ns * rate as u128 + 500_000_000) / 1_000_000_000).min(u64::MAX as u128) as u64)
}

/// What a derived file is made from and where it goes.
pub struct Derive<'a> {
    pub file: &'a Path,
    pub output: &'a Path,
    pub force: bool,
    pub key_args: &'a KeyArgs,
    pub recipients: &'a RecipientArgs,
    pub signing_key: Option<&'a PathBuf>,
}

/// Writes a file derived from `d.file` with `make`, which is given how to open the
/// source, the extra recipients, the source's sample rate and the output. The source
/// must be a regular file (it is read twice, under a shared lock against appends);
/// the output is read back, signed if asked, and put into place only when complete.
pub fn derive(
    d: &Derive<'_>,
    make: impl FnOnce(Opening<'_>, &[PublicRecipient], u32, &mut Output) -> Result<Carried>,
) -> Result<()> {
    output::check(d.output, Kind::Sasf, &[d.file], d.force)?;
    let name = shown(d.file);
    if is_dash(d.file) || !std::fs::metadata(d.file).is_ok_and(|m| m.is_file()) {
        bail!("{name}: the source is read twice (its structure, then its stream): give a regular file, not - or a pipe");
    }
    let keys: Keys = load_keys(d.key_args)?;
    let extra = load_recipients(d.recipients)?;
    let sk = match d.signing_key {
        None => None,
        Some(_) if is_dash(d.output) => {
            bail!(
                "--signing-key needs a file output, not -: sign the file afterwards with sasf sign"
            )
        }
        Some(p) => Some(read_signing_key(p, d.key_args.allow_loose_permissions)?),
    };
    let ring = &keys.ring;
    let expect = d
        .key_args
        .expect_id
        .as_ref()
        .map(|id| sasf_core::Context::new(id.clone(), d.key_args.expect_tenant.as_deref()))
        .transpose()?;
    let opening = Opening {
        keyring: ring,
        require: d
            .key_args
            .require
            .map(Into::into)
            .unwrap_or(Require::default_for(!ring.is_empty())),
        expect: expect.as_ref(),
        signers: &keys.signers,
    };
    // A shared lock across both passes: no append (which holds it exclusively) comes
    // in between.
    let locked = std::fs::File::open(d.file).with_context(|| format!("cannot open {name}"))?;
    locked
        .lock_shared()
        .with_context(|| format!("cannot lock {name}"))?;
    let rate = sasf_core::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(d.file).with_context(|| format!("cannot open {name}"))?,
    ))
    .with_context(|| name.clone())?
    .header()
    .format
    .sample_rate;
    // The output is SASF at the source's level: an encrypted source gives an
    // encrypted output, a keyless one a keyless output (its source was readable too).
    let mut out = Output::create(
        d.output,
        Opts {
            force: d.force,
            private: false,
            partial: false,
        },
    )?;
    let carried = make(opening, &extra, rate, &mut out)?;
    if let Output::File(f) = &mut out {
        let file = f.reopen()?;
        sasf_core::Decoder::new(std::io::BufReader::new(file))
            .and_then(|d| d.require(Require::Any).open_with(ring))
            .and_then(|r| r.into_random_access().map(drop))
            .map_err(|e| anyhow::anyhow!("internal error: the new file does not verify: {e}"))?;
    }
    if let (Some(sk), Output::File(f)) = (&sk, &mut out) {
        // Signed before it is put into place: the file appears signed or not at all.
        let path = f.edit_path()?;
        let rep = sasf_core::access::sign(&path, ring, None, sk, now_ms())
            .map_err(|e| anyhow::anyhow!("cannot sign the new file: {e}"))?;
        note(format_args!(
            "sasf: {}: signed by {}",
            shown(d.output),
            rep.signer_id
        ));
    }
    out.commit()?;
    if carried.carried < carried.source_recipients {
        note(format_args!(
            "sasf: warning: {}: wrapped for {} of the source's {} recipients (a recipient is carried over only when its key file or identity is given){}",
            shown(d.output),
            carried.carried,
            carried.source_recipients,
            if carried.added > 0 {
                format!(", and {} added", carried.added)
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

pub fn run(a: &RedactArgs) -> Result<()> {
    let d = Derive {
        file: &a.file,
        output: &a.output,
        force: a.force,
        key_args: &a.key,
        recipients: &a.recipients,
        signing_key: a.signing_key.as_ref(),
    };
    let name = shown(&a.file);
    derive(&d, |opening, extra, rate, out| {
        let red = Redaction {
            from: to_frames(&a.from, rate, "--from")?,
            to: to_frames(&a.to, rate, "--to")?,
            mode: match a.mode {
                RedactMode::Silence => Mode::Silence,
                RedactMode::Beep => Mode::Beep,
                RedactMode::Omit => Mode::Omit,
            },
            reason: a.reason.clone(),
            by: a.by.clone(),
            at: Some(now_ms()).filter(|&ms| ms > 0).map(utc_ms),
        };
        let (_, rep) = redact(&a.file, opening, extra, &red, out).with_context(|| name.clone())?;
        note(format_args!(
            "sasf: {name}: redacted {}–{} ({}, {}){}{}; {} of audio written",
            format_time(red.from, rate),
            format_time(red.to, rate),
            red.mode.name(),
            format_time(rep.frames, rate),
            if rep.dtmf_redacted > 0 {
                format!(", {} DTMF event(s) redacted", rep.dtmf_redacted)
            } else {
                String::new()
            },
            if rep.events_dropped > 0 {
                format!(", {} event(s) dropped", rep.events_dropped)
            } else {
                String::new()
            },
            format_time(rep.samples, rate)
        ));
        Ok(rep.carried)
    })
}
