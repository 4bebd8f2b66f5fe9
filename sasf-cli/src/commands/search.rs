//! `sasf search ARCHIVE`: the recordings of the catalog that match every filter given.
//!
//! Filters on what an encrypted recording hides (participants, roles, events, tags,
//! attributes) look up blind-index tokens: the query's value is normalised as at
//! indexing and turned into the token under the archive key (for encrypted
//! recordings) and under the public keyless key (for the others), so a search without
//! the key finds only keyless and authenticated-only recordings by them.

use std::path::Path;

use anyhow::{bail, Context, Result};
use rusqlite::types::Value as Sql;
use serde_json::{json, Value};

use crate::catalog::{self, normalize_address, normalize_name, CatalogKeys, Tokens};
use crate::cli::SearchArgs;
use crate::io::{escape_controls, load_keys, utc_ms};

/// The schema name of `search --json`.
pub const SCHEMA: &str = "sasf.search/1";

/// Parses `--since`/`--until`: an RFC 3339 UTC time, or a date (its midnight, UTC).
fn parse_when(s: &str, what: &str) -> Result<i64> {
    let text = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    match sasf_core::meta::parse_utc(&text) {
        Ok(t) => Ok((t.unix_timestamp_nanos() / 1_000_000) as i64),
        Err(e) => bail!("{what}: {e} (or a date, YYYY-MM-DD)"),
    }
}

const VERDICTS: [&str; 6] = [
    "ok",
    "recovered",
    "failed",
    "truncated",
    "unreadable",
    "no-key",
];

pub fn run(archive: &Path, a: &SearchArgs) -> Result<std::process::ExitCode> {
    let keys = load_keys(&a.key)?;
    let secret = super::index::archive_secret(&a.key, &keys)?;
    let ck = secret.as_deref().map(|s| CatalogKeys::derive(s));
    // Every argument is checked before the catalog is opened.
    let since = a
        .since
        .as_deref()
        .map(|s| parse_when(s, "--since"))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_when(s, "--until"))
        .transpose()?;
    if let Some(s) = &a.status {
        if !VERDICTS.contains(&s.as_str()) {
            bail!("--status {s:?}: one of {}", VERDICTS.join(", "));
        }
    }
    let mut attrs = Vec::new();
    for kv in &a.attr {
        let Some((k, v)) = kv.split_once('=') else {
            bail!("--attr {kv:?}: give KEY=VALUE");
        };
        attrs.push(format!("{k}={v}"));
    }
    let min_duration_ms = a
        .min_duration
        .as_deref()
        .map(|d| super::convert::parse_time(d).map(|ns| (ns / 1_000_000) as i64))
        .transpose()?;
    let db = catalog::open_for_search(archive, ck.as_ref())?;

    // Each token filter: the recording has one of these tokens (the value under each
    // key that may have made it).
    let keyed = ck.as_ref().map(Tokens::Keyed);
    let both = |field: &str, value: &str| -> Vec<Vec<u8>> {
        let mut v = vec![Tokens::Clear.token(field, value)];
        if let Some(k) = &keyed {
            v.push(k.token(field, value));
        }
        v
    };
    let mut any_of: Vec<Vec<Vec<u8>>> = Vec::new();
    if let Some(p) = &a.participant {
        let (name, addr) = (normalize_name(p), normalize_address(p));
        let mut t = Vec::new();
        for v in [name, addr] {
            match &a.role {
                Some(r) => t.extend(both("participant-role", &format!("{r}\0{v}"))),
                None => t.extend(both("participant", &v)),
            }
        }
        any_of.push(t);
    } else if let Some(r) = &a.role {
        any_of.push(both("role", r));
    }
    for e in &a.event {
        any_of.push(both("event", e));
    }
    for t in &a.tag {
        any_of.push(both("tag", t));
    }
    for kv in &attrs {
        any_of.push(both("attr", kv));
    }

    let mut sql = format!("SELECT {} FROM rec WHERE 1", catalog::ROW_COLUMNS);
    let mut args: Vec<Sql> = Vec::new();
    for toks in &any_of {
        sql.push_str(" AND id IN (SELECT rec FROM tok WHERE t IN (");
        for (i, t) in toks.iter().enumerate() {
            sql.push_str(if i == 0 { "?" } else { ",?" });
            args.push(Sql::Blob(t.clone()));
        }
        sql.push_str("))");
    }
    let mut cond = |c: &str, v: Sql| {
        sql.push_str(c);
        args.push(v);
    };
    if let Some(s) = since {
        cond(" AND started_ms >= ?", Sql::Integer(s));
    }
    if let Some(u) = until {
        cond(" AND started_ms < ?", Sql::Integer(u));
    }
    if let Some(d) = min_duration_ms {
        cond(" AND duration_ms >= ?", Sql::Integer(d));
    }
    if let Some(n) = a.score_below {
        cond(
            " AND score_bp < ?",
            Sql::Integer((n * 100.0).round() as i64),
        );
    }
    if let Some(s) = &a.status {
        cond(" AND verdict = ?", Sql::Text(s.clone()));
    }
    if a.legal_hold {
        sql.push_str(" AND legal_hold = 1");
    }
    sql.push_str(" ORDER BY started_ms IS NULL, started_ms, path");
    if let Some(n) = a.limit {
        sql.push_str(&format!(" LIMIT {}", n.min(i64::MAX as u64)));
    }
    let damaged = || {
        format!(
            "the catalog of {} cannot be read: run `sasf index {}` to rebuild it",
            archive.display(),
            archive.display()
        )
    };
    let mut q = db.prepare(&sql).with_context(damaged)?;
    let rows = q
        .query_map(
            rusqlite::params_from_iter(args),
            catalog::StoredRow::from_sql,
        )
        .with_context(damaged)?;
    let mut out = Vec::new();
    let mut forged = 0;
    for row in rows {
        let row = row.with_context(damaged)?;
        // A row changed outside sasf is left out (with a key, rows carry a MAC).
        if !row.authentic(ck.as_ref()) {
            forged += 1;
            continue;
        }
        let catalog::StoredRow {
            path,
            level,
            sealed,
            verdict,
            error,
            started_ms: started,
            duration_ms: duration,
            score_bp: score,
            legal_hold: hold,
            display,
            ..
        } = row;
        let shown: Option<Value> = display.and_then(|d| {
            let plain = if sealed { ck.as_ref()?.open(&d)? } else { d };
            serde_json::from_slice(&plain).ok()
        });
        let path = archive.join(String::from_utf8_lossy(&path).as_ref());
        out.push(json!({
            "path": path.display().to_string(),
            "level": level,
            "encrypted": sealed,
            "verdict": verdict,
            "error": error,
            "started_at": started.map(|s| utc_ms(s.max(0) as u64)),
            "duration_ms": duration,
            "lowest_score_percent": score.map(|s| s as f64 / 100.0),
            "legal_hold": hold,
            "id": shown.as_ref().map(|s| s["id"].clone()).filter(|v| !v.is_null()),
            "participants": shown.as_ref().map(|s| s["participants"].clone()),
        }));
    }
    if a.json {
        let doc = json!({
            "schema": SCHEMA,
            "archive": archive.display().to_string(),
            "count": out.len(),
            "recordings": out,
        });
        use std::io::Write;
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&doc)?
        )?;
    } else {
        use std::io::Write;
        let mut w = std::io::stdout().lock();
        for r in &out {
            let people = match &r["participants"] {
                Value::Array(ps) => ps
                    .iter()
                    .map(|p| {
                        let name = p["name"].as_str().or(p["id"].as_str()).unwrap_or("?");
                        format!("{name} ({})", p["role"].as_str().unwrap_or("?"))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ if r["encrypted"] == true => "(encrypted: give the archive key)".into(),
                _ => "-".into(),
            };
            let dur = r["duration_ms"]
                .as_i64()
                .map(|d| format!("{}.{:03}s", d / 1000, d % 1000))
                .unwrap_or_else(|| "-".into());
            let line = format!(
                "{}  {}  {}  {}  {}  {}",
                r["path"].as_str().unwrap_or(""),
                r["id"].as_str().unwrap_or("-"),
                r["started_at"].as_str().unwrap_or("-"),
                dur,
                people,
                r["verdict"].as_str().unwrap_or("")
            );
            writeln!(w, "{}", escape_controls(&line))?;
        }
        let n = out.len();
        crate::io::note(format_args!(
            "{n} recording{}",
            if n == 1 { "" } else { "s" }
        ));
    }
    if forged > 0 {
        crate::io::note(format_args!(
            "sasf: {forged} matching catalog row{} did not authenticate under the archive key \
             (changed outside sasf) and {} left out: run `sasf index` to verify those files again",
            if forged == 1 { "" } else { "s" },
            if forged == 1 { "was" } else { "were" }
        ));
        return Ok(std::process::ExitCode::from(2));
    }
    Ok(std::process::ExitCode::SUCCESS)
}
