//! `sasf merge`: an ad hoc WAV recording and the snippet that started while it ran,
//! into one snippet.

use std::path::Path;

use anyhow::{anyhow, Result};
use sasf_core::error::format_time;
use sasf_core::merge::{bext_start, merge_adhoc_with, parse_rfc3339, MergeError, MergeOptions};
use sasf_core::{Decoder, ErrorKind};

use crate::cli::MergeArgs;
use crate::io::{is_dash, load_keys, not_stdin_twice, note, shown};
use crate::output::{self, Kind, Opts, Output};

/// A source's name as recorded in the `sasf.merge` event: its file name only.
fn source_name(p: &Path) -> String {
    match p.file_name() {
        Some(n) if !is_dash(p) => n.to_string_lossy().into_owned(),
        _ => shown(p),
    }
}

pub fn run(a: &MergeArgs) -> Result<()> {
    not_stdin_twice(&[a.adhoc.clone(), a.snippet.clone()])?;
    output::check(&a.output, Kind::Sasf, &[&a.adhoc, &a.snippet], a.force)?;
    let keys = load_keys(&a.key)?;
    let (adhoc_name, snippet_name) = (shown(&a.adhoc), shown(&a.snippet));
    let mut wav = crate::io::open_wav(&a.adhoc)?;
    let start = match &a.adhoc_start {
        Some(s) => parse_rfc3339(s).ok_or_else(|| {
            anyhow!("--adhoc-start: {s:?} is not an RFC 3339 date-time (e.g. 2026-11-23T10:14:50Z)")
        })?,
        None => bext_start(wav.info()).ok_or_else(|| {
            anyhow!(
                "{adhoc_name}: no BWF bext origination date and time; give --adhoc-start RFC3339"
            )
        })?,
    };
    let mut snippet = super::open_sasf(&a.snippet, &keys, &a.key)?;
    let options = MergeOptions {
        adhoc_name: source_name(&a.adhoc),
        snippet_name: source_name(&a.snippet),
        ..Default::default()
    };
    // The snippet's integrity level and key: an encrypted snippet gives an encrypted
    // output.
    let mut out = Output::create(
        &a.output,
        Opts {
            force: a.force,
            private: false,
            partial: false,
        },
    )?;
    // Wrapped for the key files with a slot in the snippet and the recipients of the
    // X25519 identities.
    let result = merge_adhoc_with(
        &mut wav,
        start,
        &mut snippet,
        &keys.ring,
        &options,
        &mut out,
    );
    let incomplete = if is_dash(&a.output) {
        " (the output written to stdout is incomplete)"
    } else {
        ""
    };
    let (_, summary) = result.map_err(|e| match e {
        MergeError::Failed(e) => {
            let whose = match e.kind() {
                ErrorKind::WavMalformed { .. } | ErrorKind::WavUnsupported { .. } => {
                    adhoc_name.clone()
                }
                _ if e.is_verification_failure() => snippet_name.clone(),
                _ => format!("merging into {}", shown(&a.output)),
            };
            anyhow!(e).context(format!("{whose}{incomplete}"))
        }
        other => anyhow!(other).context(format!("{adhoc_name}, {snippet_name}{incomplete}")),
    })?;
    if let Output::File(f) = &mut out {
        let file = f.reopen()?;
        Decoder::new(std::io::BufReader::with_capacity(256 * 1024, file))
            .and_then(|d| d.open_with(&keys.ring))
            .and_then(|mut r| r.verify_to_end())
            .map_err(|e| anyhow!("internal error: the merged file does not verify: {e}"))?;
    }
    out.commit()?;
    let rate = summary.sample_rate;
    let dropped = match summary.adhoc_frames_dropped {
        Some(0) | None => String::new(),
        Some(n) => format!(
            "; {} of ad hoc audio overlapped the snippet and was not used",
            format_time(n, rate)
        ),
    };
    let moved = if summary.start_moved_frames > 0 {
        format!(
            "; the ad hoc recording ended {} before the snippet started, so its start was taken as {}",
            format_time(summary.start_moved_frames, rate),
            summary.started_at
        )
    } else {
        String::new()
    };
    note(format_args!(
        "sasf: {}: {} from {} (ad hoc {} + snippet {}){dropped}{moved}",
        shown(&a.output),
        format_time(summary.frames(), rate),
        summary.started_at,
        format_time(summary.adhoc_frames, rate),
        format_time(summary.snippet_frames, rate),
    ));
    Ok(())
}
