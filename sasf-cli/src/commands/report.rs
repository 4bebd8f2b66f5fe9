//! `sasf report merge`: the reports of a sharded `sasf verify --report` run, summed.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde_json::json;

use crate::io::{escape_controls, open_input, shown};
use crate::reportfile::{parse, Record, Verdict};

/// The schema of `report merge --json` (`docs/schemas/report-summary.schema.json`).
pub const SCHEMA: &str = "sasf.report-summary/1";

/// The merged verdicts: the last record of each file.
#[derive(Default)]
struct Merged {
    /// File name to its last record, in the order files were first seen.
    last: Vec<Record>,
    index: std::collections::HashMap<String, usize>,
    /// Records of a file seen before.
    repeated: usize,
    lines: usize,
}

impl Merged {
    fn add(&mut self, r: Record) {
        self.lines += 1;
        match self.index.get(&r.file) {
            Some(&i) => {
                self.repeated += 1;
                self.last[i] = r;
            }
            None => {
                self.index.insert(r.file.clone(), self.last.len());
                self.last.push(r);
            }
        }
    }
    fn count(&self, v: Verdict) -> usize {
        self.last.iter().filter(|r| r.verdict == v).count()
    }
}

pub fn merge(reports: &[PathBuf], json: bool) -> Result<ExitCode> {
    crate::io::not_stdin_twice(reports)?;
    let mut m = Merged::default();
    for p in reports {
        let name = shown(p);
        let input = open_input(p)?;
        let parsed = parse(std::io::BufReader::new(input))
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))
            .context("not merged")?;
        if let Some(line) = parsed.torn_line {
            anyhow::bail!(
                "{name}: line {line} is cut short: the run writing it was interrupted; run it again with the same --report to finish it, then merge"
            );
        }
        for r in parsed.records {
            m.add(r);
        }
    }
    let (ok, failed, unreadable) = (
        m.count(Verdict::Ok),
        m.count(Verdict::Failed),
        m.count(Verdict::Unreadable),
    );
    let code: u8 = if failed > 0 {
        1
    } else if unreadable > 0 {
        2
    } else {
        0
    };
    let mut out = std::io::stdout().lock();
    let problems = m.last.iter().filter(|r| r.verdict != Verdict::Ok);
    if json {
        let doc = json!({
            "schema": SCHEMA,
            "reports": reports.iter().map(|p| shown(p)).collect::<Vec<_>>(),
            "records": m.lines,
            "files": m.last.len(),
            "repeated": m.repeated,
            "ok": ok,
            "failed": failed,
            "unreadable": unreadable,
            "exit": code,
            "problems": problems.map(|r| r.doc.clone()).collect::<Vec<_>>(),
        });
        writeln!(out, "{doc}")?;
    } else {
        for r in problems {
            let status = if r.verdict == Verdict::Failed {
                "FAILED"
            } else {
                "UNREADABLE"
            };
            let msg = r.doc["message"].as_str().unwrap_or("");
            writeln!(
                out,
                "{}",
                escape_controls(&format!("{}: {status}: {msg}", r.file))
            )?;
        }
        let mut s = format!("{ok} OK, {failed} FAILED, {unreadable} unreadable");
        s += &format!(
            " ({} files in {} report{}",
            m.last.len(),
            reports.len(),
            if reports.len() == 1 { "" } else { "s" }
        );
        if m.repeated > 0 {
            s += &format!("; {} earlier records replaced by later ones", m.repeated);
        }
        s += ")";
        writeln!(out, "{s}")?;
    }
    out.flush()?;
    Ok(ExitCode::from(code))
}
