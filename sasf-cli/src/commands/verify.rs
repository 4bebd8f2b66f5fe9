//! `sasf verify`: check files completely; one line per file.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use sasf_core::error::format_time;
use sasf_core::{Error, Key};
use serde_json::json;

use crate::cli::KeyArgs;
use crate::io::{escape_controls, load_key, not_stdin_twice, note, shown};

struct Report {
    level: &'static str,
    samples: u64,
    rate: u32,
    chunks: u64,
    recovered: bool,
    /// The file digest (FORMAT.md §11), hex.
    digest: String,
    /// Why a recovered file was recovered (its sasf.recovered event's value).
    why: Option<serde_json::Value>,
}

fn check(path: &std::path::Path, key: Option<&Key>, args: &KeyArgs) -> Result<Report> {
    let mut r = super::open_sasf(path, key, args)?;
    let t = r.verify_to_end()?;
    Ok(Report {
        level: r.header().integrity.name(),
        samples: t.samples,
        rate: r.header().format.sample_rate,
        chunks: t.chunks + 1,
        recovered: t.recovered(),
        why: r.recovered_reason().cloned(),
        digest: r
            .file_digest()
            .map(|d| d.iter().map(|b| format!("{b:02x}")).collect())
            .unwrap_or_default(),
    })
}

/// How each file came out, for the exit code and the summary line.
#[derive(Default)]
struct Tally {
    ok: usize,
    failed: usize,
    unreadable: usize,
}

impl Tally {
    /// 1 if any file failed verification (even when another could not be read: a
    /// missing file must not hide a tampered one); else 2 if any could not be read;
    /// else 0.
    fn exit_code(&self) -> u8 {
        if self.failed > 0 {
            1
        } else if self.unreadable > 0 {
            2
        } else {
            0
        }
    }
    fn summary(&self) -> String {
        let mut parts = vec![format!("{} OK", self.ok)];
        if self.failed > 0 {
            parts.push(format!("{} FAILED", self.failed));
        }
        if self.unreadable > 0 {
            parts.push(format!("{} unreadable", self.unreadable));
        }
        parts.join(", ")
    }
}

pub fn run(files: &[PathBuf], json: bool, silent: bool, key_args: &KeyArgs) -> Result<ExitCode> {
    not_stdin_twice(files)?;
    let key = load_key(key_args)?;
    let mut tally = Tally::default();
    // Written line by line; a closed stdout is an error that main turns into exit 0.
    let mut out = std::io::stdout().lock();
    for f in files {
        let name = shown(f);
        match check(f, key.as_ref(), key_args) {
            Ok(rep) => {
                tally.ok += 1;
                if silent {
                    continue;
                }
                let status = match (&rep.recovered, &rep.why) {
                    (true, Some(w)) => format!(
                        "OK (recovered: the original stopped at {}{})",
                        format_time(w["at_sample"].as_u64().unwrap_or(0), rep.rate),
                        w["message"]
                            .as_str()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_else(|| ", complete".into())
                    ),
                    (true, None) => "OK (recovered)".into(),
                    _ => "OK".into(),
                };
                if json {
                    writeln!(
                        out,
                        "{}",
                        json!({"file": name, "ok": true, "recovered": rep.recovered, "integrity": rep.level,
                               "duration": format_time(rep.samples, rep.rate), "samples": rep.samples,
                               "sample_rate": rep.rate, "chunks": rep.chunks, "file_digest": rep.digest,
                               "recovered_reason": rep.why})
                    )?;
                } else {
                    let line = format!(
                        "{name}: {status}  {}  {}  {} chunks",
                        format_time(rep.samples, rep.rate),
                        rep.level,
                        rep.chunks
                    );
                    // The reason quotes an error message: shown escaped.
                    writeln!(out, "{}", escape_controls(&line))?;
                }
            }
            Err(e) => {
                let core = e.downcast_ref::<Error>();
                let failed = core.is_some_and(|c| c.is_verification_failure());
                if failed {
                    tally.failed += 1;
                } else {
                    tally.unreadable += 1;
                }
                let msg = core
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| format!("{e:#}"));
                if json {
                    let class = core.map(|c| c.class()).unwrap_or("io");
                    writeln!(
                        out,
                        "{}",
                        json!({"file": name, "ok": false, "error": class, "message": msg})
                    )?;
                } else {
                    let status = if failed { "FAILED" } else { "UNREADABLE" };
                    // A message may quote strings from the file: shown escaped.
                    writeln!(
                        out,
                        "{}",
                        escape_controls(&format!("{name}: {status}: {msg}"))
                    )?;
                }
            }
        }
    }
    out.flush()?;
    let code = tally.exit_code();
    // On stderr, so that stdout (and --json) holds only the per-file lines.
    if !(silent && code == 0) {
        note(format_args!("sasf: {}", tally.summary()));
    }
    Ok(ExitCode::from(code))
}
