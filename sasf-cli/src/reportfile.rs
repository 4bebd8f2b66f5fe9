//! Verification reports (`sasf verify --report FILE`): JSON Lines, one `sasf.verify/1`
//! record a line and file, read back to resume a run and by `sasf report merge`.
//!
//! Self-contained (std and serde_json only), so that `fuzz/fuzz_targets/report.rs`
//! builds this very file.

use std::io::{BufRead, Read};

/// The schema every record names.
pub const SCHEMA: &str = "sasf.verify/1";

/// How every record written by `sasf verify` starts (serde_json keeps member order).
pub const PREFIX: &str = "{\"schema\":\"sasf.verify/1\"";

/// The longest line read (a record is a few hundred bytes; a message quotes at most
/// a few strings): a longer one is malformed, never buffered whole.
pub const MAX_LINE: usize = 1 << 20;

/// How one file came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Verified.
    Ok,
    /// Failed verification: corrupt, tampered, truncated, not SASF, wrong key.
    Failed,
    /// Could not be checked: missing, unreadable, a symlink loop, no key.
    Unreadable,
}

impl Verdict {
    /// The `verdict` member's value.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Failed => "failed",
            Verdict::Unreadable => "unreadable",
        }
    }
    fn parse(s: &str) -> Option<Verdict> {
        match s {
            "ok" => Some(Verdict::Ok),
            "failed" => Some(Verdict::Failed),
            "unreadable" => Some(Verdict::Unreadable),
            _ => None,
        }
    }
}

/// The failure classes that are verification failures (the file was read and is
/// not what it must be), as `sasf_core::Error::is_verification_failure` decides; the
/// others (`io`, `key-required`, `invalid-key`, `misuse`, ...) mean it could not be
/// checked. Used for a record without `verdict` (older `verify --json` output).
pub const FAILURE_CLASSES: [&str; 13] = [
    "not-sasf",
    "unsupported-version",
    "unsupported",
    "malformed-header",
    "wrong-key",
    "not-protected",
    "context-mismatch",
    "not-signed",
    "auth-failed",
    "malformed",
    "truncated",
    "trailing-data",
    "limit-exceeded",
];

/// One record.
#[derive(Debug, Clone)]
pub struct Record {
    /// The file it is about, as named by the run that wrote it.
    pub file: String,
    /// How that file came out.
    pub verdict: Verdict,
    /// The file's size and modification time when it was checked (absent when it
    /// could not be looked at).
    pub size: Option<u64>,
    pub mtime: Option<String>,
    /// The whole record.
    pub doc: serde_json::Value,
}

/// A report read back.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Every whole record, in file order.
    pub records: Vec<Record>,
    /// Bytes of whole lines (where the next record goes).
    pub whole: u64,
    /// A torn last line (no line break: its run was interrupted while writing it),
    /// and its line number.
    pub torn_line: Option<usize>,
}

/// Why a report was refused.
#[derive(Debug)]
pub enum ParseError {
    /// Reading failed.
    Io(std::io::Error),
    /// Line `line` is not a record.
    Malformed { line: usize, why: String },
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Io(e) => write!(f, "{e}"),
            ParseError::Malformed { line, why } => write!(f, "line {line}: {why}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses one line (without its line break) into a record.
pub fn record(line: usize, text: &[u8]) -> Result<Record, ParseError> {
    let bad = |why: String| ParseError::Malformed { line, why };
    let doc: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| bad(format!("not JSON ({e}): not a sasf verify report")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    match obj.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => return Err(bad(format!("schema {other:?}, not {SCHEMA:?}"))),
        None => return Err(bad(format!("no \"schema\": not a {SCHEMA} record"))),
    }
    let file = obj
        .get("file")
        .and_then(|f| f.as_str())
        .ok_or_else(|| bad("no \"file\" string".into()))?
        .to_string();
    let ok = obj
        .get("ok")
        .and_then(|o| o.as_bool())
        .ok_or_else(|| bad("no \"ok\" boolean".into()))?;
    let verdict = match obj.get("verdict") {
        Some(v) => {
            let v = v
                .as_str()
                .and_then(Verdict::parse)
                .ok_or_else(|| bad(format!("\"verdict\" {v}: not ok, failed or unreadable")))?;
            if (v == Verdict::Ok) != ok {
                return Err(bad(format!(
                    "\"verdict\" {:?} contradicts \"ok\": {ok}",
                    v.name()
                )));
            }
            v
        }
        None if ok => Verdict::Ok,
        None => {
            let class = obj.get("class").and_then(|c| c.as_str()).unwrap_or("io");
            if FAILURE_CLASSES.contains(&class) {
                Verdict::Failed
            } else {
                Verdict::Unreadable
            }
        }
    };
    let size = match obj.get("size") {
        None => None,
        Some(s) => Some(
            s.as_u64()
                .ok_or_else(|| bad(format!("\"size\" {s}: not a byte count")))?,
        ),
    };
    let mtime = match obj.get("mtime") {
        None => None,
        Some(m) => Some(
            m.as_str()
                .ok_or_else(|| bad(format!("\"mtime\" {m}: not a string")))?
                .to_string(),
        ),
    };
    Ok(Record {
        file,
        verdict,
        size,
        mtime,
        doc,
    })
}

/// Reads a whole report. A last line without its line break is torn (a run stopped
/// while writing it): it is left out and reported in [`Parsed::torn_line`], provided it
/// starts as a record does (otherwise this is not a report, and it is refused). Empty
/// lines are skipped; any other line that is not a record is refused with its number.
pub fn parse<R: BufRead>(mut r: R) -> Result<Parsed, ParseError> {
    let mut out = Parsed::default();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        line += 1;
        let n = Read::by_ref(&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(ParseError::Io)?;
        if n == 0 {
            return Ok(out);
        }
        let complete = buf.last() == Some(&b'\n');
        if !complete {
            if n > MAX_LINE {
                return Err(ParseError::Malformed {
                    line,
                    why: format!("longer than {MAX_LINE} bytes: not a sasf verify report"),
                });
            }
            let p = PREFIX.as_bytes();
            let looks = buf.starts_with(p) || p.starts_with(&buf);
            if !looks {
                return Err(ParseError::Malformed {
                    line,
                    why: "not a sasf verify record".into(),
                });
            }
            out.torn_line = Some(line);
            return Ok(out);
        }
        buf.pop();
        out.whole += n as u64;
        if buf.is_empty() {
            continue;
        }
        out.records.push(record(line, &buf)?);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"schema":"sasf.verify/1","file":"a.sasf","ok":true,"verdict":"ok","size":10,"mtime":"1.000000000"}"#;
    const BAD: &str = r#"{"schema":"sasf.verify/1","file":"b.sasf","ok":false,"class":"auth-failed","message":"x"}"#;

    fn parse_str(s: &str) -> Result<Parsed, ParseError> {
        parse(s.as_bytes())
    }

    fn malformed_line(s: &str) -> usize {
        match parse_str(s) {
            Err(ParseError::Malformed { line, .. }) => line,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn whole_records_and_their_verdicts() {
        let p = parse_str(&format!("{OK}\n{BAD}\n")).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.records[0].verdict, Verdict::Ok);
        assert_eq!(p.records[0].size, Some(10));
        assert_eq!(p.records[0].mtime.as_deref(), Some("1.000000000"));
        assert_eq!(
            p.records[1].verdict,
            Verdict::Failed,
            "auth-failed is a failure"
        );
        assert_eq!(p.whole as usize, OK.len() + BAD.len() + 2);
        assert_eq!(p.torn_line, None);
        let io = BAD.replace("auth-failed", "io");
        assert_eq!(
            parse_str(&format!("{io}\n")).unwrap().records[0].verdict,
            Verdict::Unreadable
        );
    }

    #[test]
    fn a_torn_last_line_is_left_out() {
        for cut in [1, 5, PREFIX.len(), OK.len() - 1, OK.len()] {
            let s = format!("{OK}\n{}", &OK[..cut]);
            let p = parse_str(&s).unwrap();
            assert_eq!(p.records.len(), 1, "cut {cut}");
            assert_eq!(p.torn_line, Some(2));
            assert_eq!(p.whole as usize, OK.len() + 1);
        }
    }

    #[test]
    fn what_is_not_a_report_is_refused_with_its_line() {
        let table: [(&str, usize); 9] = [
            ("hello", 1),
            ("hello\n", 1),
            ("[1]\n", 1),
            (
                &format!("{OK}\n{{\"schema\":\"sasf.info/1\",\"file\":\"x\",\"ok\":true}}\n"),
                2,
            ),
            (
                &format!("{OK}\n\n{}\n", OK.replace("\"ok\":true", "\"ok\":1")),
                3,
            ),
            (
                &format!(
                    "{}\n",
                    OK.replace("\"verdict\":\"ok\"", "\"verdict\":\"failed\"")
                ),
                1,
            ),
            (
                &format!("{}\n", OK.replace("\"size\":10", "\"size\":-1")),
                1,
            ),
            (&format!("{}\n", OK.replace(",\"file\":\"a.sasf\"", "")), 1),
            (&format!("{OK}\n{OK}\n{OK}x\n"), 3),
        ];
        for (s, line) in table {
            assert_eq!(malformed_line(s), line, "{s:?}");
        }
        let long = format!("{PREFIX}{}", " ".repeat(MAX_LINE + 10));
        assert_eq!(malformed_line(&long), 1);
    }
}
