//! `sasf extract`: metadata as JSON, and optionally the audio as WAV.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::cli::{KeyArgs, RangeArgs};
use crate::output::{self, Kind};

#[allow(clippy::too_many_arguments)]
pub fn run(
    file: &Path,
    meta: &Path,
    audio: Option<&Path>,
    pcm16: bool,
    range: &RangeArgs,
    key_args: &KeyArgs,
    force: bool,
    quiet: bool,
) -> Result<()> {
    if let Some(a) = audio {
        output::check_distinct(meta, a)?;
        output::check(a, Kind::Wav, &[file], force)?;
    }
    output::check(meta, Kind::Json, &[file], force)?;
    // Both outputs are made first and committed last, so a failure anywhere leaves
    // neither behind.
    let mut c = super::convert::to_wav(
        file,
        audio,
        &super::convert::WavPlan::plain(pcm16),
        Some(meta),
        range,
        key_args,
        force,
        quiet,
    )?;
    let mut out = c
        .meta
        .take()
        .ok_or_else(|| anyhow::anyhow!("internal error: no metadata output"))?;
    let mut doc = c.metadata.to_json(c.rate);
    // The document `pack --meta` reads back (which ignores members it does not
    // define, this one included).
    if let Some(m) = doc.as_object_mut() {
        let mut first = serde_json::Map::new();
        first.insert("schema".into(), "sasf.metadata/1".into());
        first.append(m);
        *m = first;
    }
    // Appended annotations (`sasf annotate`), beside the in-stream `annotations` that
    // `pack` accepts: every record in order, and the state they give.
    if let Some(segs) = c.segments.as_ref().filter(|s| !s.list.is_empty()) {
        let history = segs
            .list
            .iter()
            .map(|s| serde_json::from_slice::<serde_json::Value>(&s.record))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let state = sasf_core::annotate::state(segs)?;
        if let Some(m) = doc.as_object_mut() {
            m.insert("history".into(), history.into());
            m.insert("state".into(), state.to_json());
            // Anyone can append to a keyless file: its history vouches for nothing
            // (`sasf history --annotator` shows which segments a trusted key signed).
            m.insert(
                "history_authenticated".into(),
                (c.level != sasf_core::Integrity::Keyless).into(),
            );
        }
    }
    serde_json::to_writer_pretty(&mut out, &doc)?;
    out.write_all(b"\n")?;
    out.flush()?;
    c.commit_audio()?;
    out.commit()
}
