//! `sasf cut` (and `convert … -o CUT.sasf`): an authenticated excerpt; and `sasf verify
//! CUT --source FULL`, which checks it against its source.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use sasf_core::crypto::hex;
use sasf_core::error::format_time;
use sasf_core::excerpt::{check_source, excerpt};
use serde_json::json;

use crate::cli::{CutArgs, KeyArgs, RangeArgs, RecipientArgs};
use crate::io::{escape_controls, load_keys, not_stdin_twice, note, shown};

use super::redact::{derive, to_frames, Derive};

pub fn run(a: &CutArgs) -> Result<()> {
    cut(
        &a.file,
        &a.output,
        &a.range,
        a.force,
        &a.key,
        &a.recipients,
        a.signing_key.as_ref(),
    )
}

/// `convert FILE -o CUT.sasf [--from] [--to]`: the same excerpt as `sasf cut`.
pub fn from_convert(
    file: &Path,
    output: &Path,
    pcm16: bool,
    range: &RangeArgs,
    key_args: &KeyArgs,
    force: bool,
) -> Result<()> {
    if pcm16 {
        bail!("--pcm16 decodes to a WAV; an excerpt (.sasf) keeps the samples as stored");
    }
    cut(
        file,
        output,
        range,
        force,
        key_args,
        &RecipientArgs::default(),
        None,
    )
}

fn cut(
    file: &Path,
    output: &Path,
    range: &RangeArgs,
    force: bool,
    key_args: &KeyArgs,
    recipients: &RecipientArgs,
    signing_key: Option<&PathBuf>,
) -> Result<()> {
    let d = Derive {
        file,
        output,
        force,
        key_args,
        recipients,
        signing_key,
    };
    let name = shown(file);
    derive(&d, |opening, extra, rate, out| {
        let from = match &range.from {
            Some(t) => to_frames(t, rate, "--from")?,
            None => 0,
        };
        // Without --to or --duration the excerpt runs to the end; a --to past the end
        // is refused (the excerpt would not be the range asked for).
        let to = match (&range.to, &range.duration) {
            (Some(t), _) => Some(to_frames(t, rate, "--to")?),
            (None, Some(l)) => Some(from.saturating_add(to_frames(l, rate, "--duration")?)),
            (None, None) => None,
        };
        let to = match to {
            Some(t) => t,
            None => opening_samples(file, opening)?,
        };
        let (_, rep) =
            excerpt(file, opening, extra, from, to, out).with_context(|| name.clone())?;
        let s = &rep.state;
        note(format_args!(
            "sasf: {name}: excerpt {}–{} ({}), {} event(s); at its start: {} joined, {} on hold{}",
            format_time(from, rate),
            format_time(to, rate),
            format_time(to - from, rate),
            rep.events,
            s.joined.len(),
            s.on_hold.len(),
            if s.paused { ", paused" } else { "" }
        ));
        Ok(rep.carried)
    })
}

/// The source's length, from its END (for a range that runs to the end).
fn opening_samples(file: &Path, opening: sasf_core::provenance::Opening<'_>) -> Result<u64> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", shown(file)))?;
    let mut d = sasf_core::Decoder::new(std::io::BufReader::new(f))?.require(opening.require);
    if let Some(c) = opening.expect {
        d = d.expect_context(c.clone());
    }
    Ok(d.open_with(opening.keyring)?
        .into_random_access()?
        .totals()
        .samples)
}

/// `verify CUT --source FULL`: exit 0 when CUT verifies and came from FULL at the
/// position it names, 1 when either fails verification or they do not match, 2 when
/// a file cannot be read (or CUT is not an excerpt).
pub fn verify_source(
    files: &[PathBuf],
    source: &Path,
    json: bool,
    key_args: &KeyArgs,
) -> Result<ExitCode> {
    let [file] = files else {
        bail!("--source checks one excerpt: give one FILE");
    };
    not_stdin_twice(&[file.clone(), source.to_path_buf()])?;
    let keys = load_keys(key_args)?;
    let (name, src_name) = (shown(file), shown(source));
    let mut a = super::open_sasf(file, &keys, key_args)?;
    let mut b = super::open_sasf(source, &keys, key_args)?;
    let c = check_source(&mut a, &mut b).with_context(|| format!("{name} against {src_name}"))?;
    let rate = c.sample_rate;
    let mut out = std::io::stdout().lock();
    if json {
        let mut doc = json!({"schema": super::verify::SCHEMA, "file": name,
            "ok": c.matches(),
            "excerpt": {"source": src_name, "matches": c.matches(),
                "from_sample": c.from, "to_sample": c.to,
                "source_file_digest": hex(&c.source_file_digest),
                "audio_sha256": hex(&c.audio_sha256),
                "mismatches": c.mismatches}});
        if c.matches() {
            doc["integrity"] = json!(a.header().integrity.name());
            doc["chunks"] = json!(a.totals().map(|t| t.chunks + 1).unwrap_or(0));
            doc["file_digest"] = json!(a.file_digest().map(|d| hex(d)).unwrap_or_default());
            doc["recovered"] = json!(false);
            doc["signatures"] = super::verify::signatures_json(a.signatures());
        } else {
            doc["error"] = json!("excerpt-mismatch");
            doc["class"] = json!("excerpt-mismatch");
            doc["message"] = json!(c.mismatches.join("; "));
        }
        writeln!(out, "{doc}")?;
    } else if c.matches() {
        writeln!(
            out,
            "{}",
            escape_controls(&format!(
                "{name}: OK, an excerpt of {src_name}: its frames are the source's {}–{} (frames {}–{}), source file digest {} (the frames are compared; its events and participants are its own)",
                format_time(c.from, rate),
                format_time(c.to, rate),
                c.from,
                c.to,
                hex(&c.source_file_digest)
            ))
        )?;
    } else {
        writeln!(
            out,
            "{}",
            escape_controls(&format!(
                "{name}: FAILED: not an excerpt of {src_name} as it claims: {}",
                c.mismatches.join("; ")
            ))
        )?;
    }
    Ok(ExitCode::from(if c.matches() { 0 } else { 1 }))
}
