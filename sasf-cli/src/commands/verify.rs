//! `sasf verify`: check files completely; one line per file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use sasf_core::error::format_time;
use sasf_core::{Error, Key};
use serde_json::json;

use crate::cli::KeyArgs;
use crate::io::{load_key, not_stdin_twice, shown};

struct Report {
    level: &'static str,
    samples: u64,
    rate: u32,
    chunks: u64,
    recovered: bool,
}

fn check(path: &std::path::Path, key: Option<&Key>) -> Result<Report> {
    let mut r = super::open_sasf(path, key)?;
    let t = r.verify_to_end()?;
    Ok(Report {
        level: r.header().integrity.name(),
        samples: t.samples,
        rate: r.header().format.sample_rate,
        chunks: t.chunks + 1,
        recovered: t.recovered(),
    })
}

pub fn run(files: &[PathBuf], json: bool, key_args: &KeyArgs) -> Result<ExitCode> {
    not_stdin_twice(files)?;
    let key = load_key(key_args)?;
    let mut code = 0u8;
    for f in files {
        let name = shown(f);
        match check(f, key.as_ref()) {
            Ok(rep) => {
                let status = if rep.recovered {
                    "OK (recovered)"
                } else {
                    "OK"
                };
                if json {
                    println!(
                        "{}",
                        json!({"file": name, "ok": true, "recovered": rep.recovered, "integrity": rep.level,
                               "duration": format_time(rep.samples, rep.rate), "samples": rep.samples,
                               "sample_rate": rep.rate, "chunks": rep.chunks})
                    );
                } else {
                    println!(
                        "{name}: {status}  {}  {}  {} chunks",
                        format_time(rep.samples, rep.rate),
                        rep.level,
                        rep.chunks
                    );
                }
            }
            Err(e) => {
                let core = e.downcast_ref::<Error>();
                let this = if core.is_some_and(|c| c.is_verification_failure()) {
                    1
                } else {
                    2
                };
                code = code.max(this);
                let msg = core
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| format!("{e:#}"));
                if json {
                    let class = core.map(|c| c.class()).unwrap_or("io");
                    println!(
                        "{}",
                        json!({"file": name, "ok": false, "error": class, "message": msg})
                    );
                } else {
                    println!("{name}: FAILED: {msg}");
                }
            }
        }
    }
    Ok(ExitCode::from(code))
}
