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
pub fn parse_when(s: &str, what: &str) -> Result<i64> {
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

/// A search: every filter the command line and `sasf serve` take. Each one given
/// must hold.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// A participant's name or address (names case-folded, numbers as E.164).
    pub participant: Option<String>,
    /// Any of these participants (names or addresses): an agent's own recordings.
    pub any_participant: Vec<String>,
    /// A role; with `participant`, that participant's role.
    pub role: Option<String>,
    /// Every one of these event types.
    pub event: Vec<String>,
    /// Every one of these tags.
    pub tag: Vec<String>,
    /// Every one of these attributes, `KEY=VALUE`.
    pub attr: Vec<String>,
    /// Started at or after (ms since 1970, UTC).
    pub since_ms: Option<i64>,
    /// Started before.
    pub until_ms: Option<i64>,
    /// At least this long.
    pub min_duration_ms: Option<i64>,
    /// A questionnaire scored below this percentage.
    pub score_below: Option<f64>,
    /// With this verdict.
    pub status: Option<String>,
    /// Under an active legal hold.
    pub legal_hold: bool,
    /// The order: `started` (the default), `duration`, `path`, `score` or `verdict`,
    /// and whether it is descending.
    pub sort: Option<(String, bool)>,
    /// At most this many rows, after skipping `offset`.
    pub limit: Option<u64>,
    /// Rows skipped.
    pub offset: u64,
}

/// What a search found.
pub struct Found {
    /// One JSON object per recording (the members of `sasf.search/1`), with `rel`,
    /// its path relative to the archive.
    pub recordings: Vec<Value>,
    /// Matching rows in all (before `limit` and `offset`, forged ones included).
    pub total: u64,
    /// Rows left out because they did not authenticate under the archive key.
    pub forged: u64,
}

impl Query {
    /// Checks the filters that take a fixed set of values.
    pub fn check(&self) -> Result<()> {
        if let Some(s) = &self.status {
            if !VERDICTS.contains(&s.as_str()) {
                bail!("--status {s:?}: one of {}", VERDICTS.join(", "));
            }
        }
        for kv in &self.attr {
            if !kv.contains('=') {
                bail!("--attr {kv:?}: give KEY=VALUE");
            }
        }
        if let Some((col, _)) = &self.sort {
            if sort_column(col).is_none() {
                bail!("sort {col:?}: one of started, duration, path, score, verdict");
            }
        }
        Ok(())
    }
}

fn sort_column(name: &str) -> Option<&'static str> {
    Some(match name {
        "started" => "started_ms",
        "duration" => "duration_ms",
        "path" => "path",
        "score" => "score_bp",
        "verdict" => "verdict",
        _ => return None,
    })
}

/// Runs `q` on the catalog `db` of `archive`.
pub fn find(
    db: &rusqlite::Connection,
    archive: &Path,
    ck: Option<&CatalogKeys>,
    q: &Query,
) -> Result<Found> {
    q.check()?;
    // Each token filter: the recording has one of these tokens (the value under each
    // key that may have made it).
    let keyed = ck.map(Tokens::Keyed);
    let both = |field: &str, value: &str| -> Vec<Vec<u8>> {
        let mut v = vec![Tokens::Clear.token(field, value)];
        if let Some(k) = &keyed {
            v.push(k.token(field, value));
        }
        v
    };
    let person = |p: &str, role: Option<&String>| -> Vec<Vec<u8>> {
        let mut t = Vec::new();
        for v in [normalize_name(p), normalize_address(p)] {
            match role {
                Some(r) => t.extend(both("participant-role", &format!("{r}\0{v}"))),
                None => t.extend(both("participant", &v)),
            }
        }
        t
    };
    let mut any_of: Vec<Vec<Vec<u8>>> = Vec::new();
    if let Some(p) = &q.participant {
        any_of.push(person(p, q.role.as_ref()));
    } else if let Some(r) = &q.role {
        any_of.push(both("role", r));
    }
    if !q.any_participant.is_empty() {
        any_of.push(
            q.any_participant
                .iter()
                .flat_map(|p| person(p, None))
                .collect(),
        );
    }
    for e in &q.event {
        any_of.push(both("event", e));
    }
    for t in &q.tag {
        any_of.push(both("tag", t));
    }
    for kv in &q.attr {
        any_of.push(both("attr", kv));
    }

    let mut sql = String::from(" FROM rec WHERE 1");
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
    if let Some(s) = q.since_ms {
        cond(" AND started_ms >= ?", Sql::Integer(s));
    }
    if let Some(u) = q.until_ms {
        cond(" AND started_ms < ?", Sql::Integer(u));
    }
    if let Some(d) = q.min_duration_ms {
        cond(" AND duration_ms >= ?", Sql::Integer(d));
    }
    if let Some(n) = q.score_below {
        cond(
            " AND score_bp < ?",
            Sql::Integer((n * 100.0).round() as i64),
        );
    }
    if let Some(s) = &q.status {
        cond(" AND verdict = ?", Sql::Text(s.clone()));
    }
    if q.legal_hold {
        sql.push_str(" AND legal_hold = 1");
    }
    let damaged = || {
        format!(
            "the catalog of {} cannot be read: run `sasf index {}` to rebuild it",
            archive.display(),
            archive.display()
        )
    };
    let total: i64 = db
        .query_row(
            &format!("SELECT count(*){sql}"),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .with_context(damaged)?;
    let (col, desc) = match &q.sort {
        Some((c, d)) => (sort_column(c).unwrap_or("started_ms"), *d),
        None => ("started_ms", false),
    };
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {col} IS NULL, {col} {dir}, path {dir}"));
    if q.limit.is_some() || q.offset > 0 {
        let n = q.limit.unwrap_or(i64::MAX as u64).min(i64::MAX as u64);
        sql.push_str(&format!(
            " LIMIT {n} OFFSET {}",
            q.offset.min(i64::MAX as u64)
        ));
    }
    let sql = format!("SELECT {}{sql}", catalog::ROW_COLUMNS);
    let mut stmt = db.prepare(&sql).with_context(damaged)?;
    let rows = stmt
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
        if !row.authentic(ck) {
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
            let plain = if sealed { ck?.open(&d)? } else { d };
            serde_json::from_slice(&plain).ok()
        });
        let rel = String::from_utf8_lossy(&path).into_owned();
        let path = archive.join(&rel);
        out.push(json!({
            "path": path.display().to_string(),
            "rel": rel,
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
    Ok(Found {
        recordings: out,
        total: total.max(0) as u64,
        forged,
    })
}

/// A result's participants as one line: `Ann Agent (agent), Gina Customer (customer)`,
/// with `<address>` after each name when `addresses`; `no_key` for an encrypted
/// recording whose participants the catalog could not open.
pub fn people_text(r: &Value, addresses: bool, no_key: &str) -> String {
    match &r["participants"] {
        Value::Array(ps) => ps
            .iter()
            .map(|p| {
                let name = p["name"].as_str().or(p["id"].as_str()).unwrap_or("?");
                let addr = match p["address"].as_str() {
                    Some(a) if addresses => format!(" <{a}>"),
                    _ => String::new(),
                };
                format!("{name}{addr} ({})", p["role"].as_str().unwrap_or("?"))
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ if r["encrypted"] == true => no_key.into(),
        _ => "-".into(),
    }
}

pub fn run(archive: &Path, a: &SearchArgs) -> Result<std::process::ExitCode> {
    let keys = load_keys(&a.key)?;
    let secret = super::index::archive_secret(&a.key, &keys)?;
    let ck = secret.as_deref().map(|s| CatalogKeys::derive(s));
    // Every argument is checked before the catalog is opened.
    let q = Query {
        participant: a.participant.clone(),
        role: a.role.clone(),
        event: a.event.clone(),
        tag: a.tag.clone(),
        attr: a.attr.clone(),
        since_ms: a
            .since
            .as_deref()
            .map(|s| parse_when(s, "--since"))
            .transpose()?,
        until_ms: a
            .until
            .as_deref()
            .map(|s| parse_when(s, "--until"))
            .transpose()?,
        min_duration_ms: a
            .min_duration
            .as_deref()
            .map(|d| super::convert::parse_time(d).map(|ns| (ns / 1_000_000) as i64))
            .transpose()?,
        score_below: a.score_below,
        status: a.status.clone(),
        legal_hold: a.legal_hold,
        limit: a.limit,
        ..Default::default()
    };
    q.check()?;
    let db = catalog::open_for_search(archive, ck.as_ref())?;
    let found = find(&db, archive, ck.as_ref(), &q)?;
    let forged = found.forged;
    let mut out = found.recordings;
    for r in &mut out {
        if let Some(o) = r.as_object_mut() {
            o.remove("rel");
        }
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
            let people = people_text(r, false, "(encrypted: give the archive key)");
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
