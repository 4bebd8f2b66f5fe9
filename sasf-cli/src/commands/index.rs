//! `sasf index ARCHIVE`: brings the archive's catalog up to date with its files.
//!
//! New and changed files (by size, modification time and inode) are verified and
//! read on every core; each result is committed as it arrives, so an interrupted run
//! keeps what it finished and a re-run goes on from there. Files that are gone are
//! dropped from the catalog. A file that changes while it is read is left for the
//! next run.

use std::collections::{HashMap, HashSet};
use std::io::BufReader;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::{bail, Context, Result};
use rusqlite::params;
use sasf_core::bridge::read_all_partial;
use sasf_core::meta::sample_to_ms;
use sasf_core::{Decoder, Integrity};
use serde_json::json;

use crate::catalog::{self, normalize_address, normalize_name, CatalogKeys, Tokens};
use crate::cli::KeyArgs;
use crate::io::{escape_controls, load_keys, note, read_secret, threads, Keys};

/// Most entries of one folder looked at, and most folders deep: a hostile tree
/// cannot make the walk unbounded.
const MAX_DEPTH: usize = 64;

/// What one file gave, ready to be stored.
pub struct Row {
    rel: Vec<u8>,
    stamp: Stamp,
    level: Option<u8>,
    sealed: bool,
    verdict: &'static str,
    error: Option<String>,
    started_ms: Option<i64>,
    duration_ms: Option<i64>,
    score_bp: Option<i64>,
    legal_hold: bool,
    display: Option<Vec<u8>>,
    tokens: Vec<Vec<u8>>,
    retain: Option<String>,
}

/// The archive key's secret bytes, from the first key file, or else the first
/// identity file; `None` without either.
pub fn archive_secret(args: &KeyArgs, keys: &Keys) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    if let Some(k) = keys.keys.first() {
        return Ok(Some(zeroize::Zeroizing::new(k.as_bytes().to_vec())));
    }
    match args.identity.first() {
        Some(p) => Ok(Some(read_secret(
            p,
            "identity file",
            args.allow_loose_permissions,
        )?)),
        None => Ok(None),
    }
}

/// The `.sasf` files under `root` (not following symbolic links), sorted; problems
/// met on the way (unreadable folders, links not followed) are noted per path.
fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if dir == root => {
                return Err(e).with_context(|| format!("cannot read {}", root.display()))
            }
            Err(e) => {
                note(format_args!(
                    "sasf: {}: unreadable folder, skipped: {e}",
                    escape_controls(&dir.display().to_string())
                ));
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let p = entry.path();
            let name = entry.file_name();
            if name.as_bytes().starts_with(b".") {
                continue; // the catalog, and hidden files and folders
            }
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_symlink() {
                if p.extension().is_some_and(|e| e == "sasf") || p.is_dir() {
                    note(format_args!(
                        "sasf: {}: a symbolic link, not followed",
                        escape_controls(&p.display().to_string())
                    ));
                }
            } else if ft.is_dir() {
                if depth + 1 >= MAX_DEPTH {
                    note(format_args!(
                        "sasf: {}: more than {MAX_DEPTH} folders deep, skipped",
                        escape_controls(&p.display().to_string())
                    ));
                } else {
                    stack.push((p, depth + 1));
                }
            } else if ft.is_file() && p.extension().is_some_and(|e| e == "sasf") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What tells that a file changed: size, modification time, status-change time (a
/// `chmod` that makes an unreadable file readable changes only that) and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    ino: u64,
}

fn stamp(md: &std::fs::Metadata) -> Stamp {
    Stamp {
        size: md.len(),
        mtime_ns: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
        ctime_ns: md.ctime() * 1_000_000_000 + md.ctime_nsec(),
        ino: md.ino(),
    }
}

/// Opens `path` without following a symbolic link (one swapped in after the walk is
/// refused), and its metadata from the open file.
fn open_nofollow(path: &Path) -> std::io::Result<(std::fs::File, std::fs::Metadata)> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        // Never waits on a FIFO planted in the archive (which would hold the
        // catalog's lock for good); a regular file ignores O_NONBLOCK.
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)?;
    let md = f.metadata()?;
    if !md.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok((f, md))
}

/// Verifies and reads one file into a row.
fn ingest(
    path: &Path,
    rel: Vec<u8>,
    args: &KeyArgs,
    keys: &Keys,
    ck: Option<&CatalogKeys>,
) -> Option<Row> {
    let (file, before) = match open_nofollow(path) {
        Ok(x) => x,
        Err(e) => {
            note(format_args!(
                "sasf: {}: cannot be opened ({e}); left for the next run",
                escape_controls(&path.display().to_string())
            ));
            return None;
        }
    };
    let before = stamp(&before);
    let mut row = Row {
        rel,
        stamp: before,
        level: None,
        sealed: false,
        verdict: "unreadable",
        error: None,
        started_ms: None,
        duration_ms: None,
        score_bp: None,
        legal_hold: false,
        display: None,
        tokens: Vec::new(),
        retain: None,
    };
    read_into(&mut row, file, args, keys, ck);
    // A file that changed while it was read is left for the next run.
    let after = std::fs::symlink_metadata(path).ok()?;
    if stamp(&after) != before {
        note(format_args!(
            "sasf: {}: changed while it was indexed; left for the next run",
            escape_controls(&path.display().to_string())
        ));
        return None;
    }
    Some(row)
}

fn read_into(
    row: &mut Row,
    file: std::fs::File,
    args: &KeyArgs,
    keys: &Keys,
    ck: Option<&CatalogKeys>,
) {
    let fail = |row: &mut Row, verdict: &'static str, e: &dyn std::fmt::Display| {
        row.verdict = verdict;
        row.error = Some(escape_controls(&e.to_string()));
    };
    let d = match Decoder::new(BufReader::with_capacity(1 << 20, file)) {
        Ok(d) => d,
        Err(e) => return fail(row, "unreadable", &e),
    };
    let header = d.header().clone();
    row.level = Some(match header.integrity {
        Integrity::Keyless => 1,
        Integrity::Hmac => 2,
        Integrity::Encrypted => 3,
    });
    row.sealed = header.integrity == Integrity::Encrypted;
    let d = match crate::io::policy(d, args, keys) {
        Ok(d) => d,
        Err(e) => return fail(row, "failed", &e),
    };
    let mut r = match d.open_with(&keys.ring) {
        Ok(r) => r,
        Err(e) if e.class() == "no-key" || e.class() == "wrong-key" => {
            return fail(row, "no-key", &e)
        }
        Err(e) => return fail(row, verdict_of(&e), &e),
    };
    let c = match read_all_partial(&mut r, super::MAX_RECORDS, |_| Ok(())) {
        Ok(c) => c,
        Err(failed) => {
            let (_, e) = *failed;
            return fail(row, verdict_of(&e), &e);
        }
    };
    let rate = header.format.sample_rate;
    row.verdict = if c.totals.recovered() {
        "recovered"
    } else {
        "ok"
    };
    row.duration_ms = Some(sample_to_ms(c.totals.samples, rate) as i64);
    let m = &c.metadata;
    row.started_ms = m
        .recording
        .started_at_utc()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
    let tokens = match (row.sealed, ck) {
        (true, Some(k)) => Tokens::Keyed(k),
        _ => Tokens::Clear,
    };
    let mut toks = HashSet::new();
    let mut people = Vec::new();
    for p in &m.participants {
        let role = p.role.name();
        toks.insert(tokens.token("role", role));
        for v in [
            p.name.as_deref().map(normalize_name),
            p.address.as_deref().map(normalize_address),
        ]
        .into_iter()
        .flatten()
        {
            toks.insert(tokens.token("participant", &v));
            toks.insert(tokens.token("participant-role", &format!("{role}\0{v}")));
        }
        toks.insert(tokens.token("participant", &normalize_name(&p.id)));
        people.push(json!({"id": p.id, "name": p.name, "role": role, "address": p.address}));
    }
    for e in &m.events {
        toks.insert(tokens.token("event", e.kind.type_name()));
    }
    // The annotation state: tags, attributes, scores, holds, retention.
    let mut own = sasf_core::meta::annotation::State::new();
    if let Some(segs) = r.segments() {
        let st = match sasf_core::annotate::state(segs) {
            Ok(st) => st,
            // A history that gives no state: not "ok" with no tags and no hold.
            Err(e) => return fail(row, "failed", &e),
        };
        {
            for t in &st.tags {
                toks.insert(tokens.token("tag", t));
            }
            for (k, v) in &st.attributes {
                toks.insert(tokens.token("attr", &format!("{k}={v}")));
            }
            row.score_bp = st
                .questionnaires
                .values()
                .map(|q| q.result.percent_bp as i64)
                .min();
            row.legal_hold = !st.holds.is_empty();
        }
        own = st;
    }
    // The recording's own retention, holds aside (the hold is its own column).
    own.holds.clear();
    row.retain = catalog::retain_text(
        &own.effective_retention(m.recording.started_at_utc(), header.retention_days),
    );
    row.tokens = toks.into_iter().collect();
    let display = json!({"id": m.recording.id, "participants": people}).to_string();
    row.display = match (row.sealed, ck) {
        (true, Some(k)) => match k.seal(display.as_bytes()) {
            Ok(s) => Some(s),
            Err(e) => return fail(row, "unreadable", &e),
        },
        (true, None) => None,
        (false, _) => Some(display.into_bytes()),
    };
}

fn verdict_of(e: &sasf_core::Error) -> &'static str {
    match e.class() {
        "truncated" => "truncated",
        "io" => "unreadable",
        "not-sasf" | "bad-magic" => "unreadable",
        _ => "failed",
    }
}

/// What a run did.
#[derive(Default)]
struct Counts {
    new: u64,
    changed: u64,
    retried: u64,
    unchanged: u64,
    removed: u64,
    left: u64,
    failed: u64,
}

pub fn run(archive: &Path, args: &KeyArgs, quiet: bool) -> Result<std::process::ExitCode> {
    let s = update(archive, args, quiet)?;
    let counts = s.counts;
    println!(
        "{} recording{} in the catalog: {} new, {} changed, {} verified again, {} unchanged, \
         {} removed, {} left for the next run; {} not verified OK in this run, {} in the catalog",
        s.total,
        if s.total == 1 { "" } else { "s" },
        counts.new,
        counts.changed,
        counts.retried,
        counts.unchanged,
        counts.removed,
        counts.left,
        counts.failed,
        s.not_ok
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// What [`update`] did, and what the catalog holds after it.
pub struct Updated {
    counts: Counts,
    /// Recordings in the catalog.
    pub total: i64,
    /// Of them, not verified OK.
    pub not_ok: i64,
    /// Files left for the next run (they changed while read, or could not be opened).
    pub left: u64,
}

/// Brings the catalog of `archive` up to date with its files (as `sasf index`,
/// without printing the summary line).
pub fn update(archive: &Path, args: &KeyArgs, quiet: bool) -> Result<Updated> {
    if !archive.is_dir() {
        bail!("{} is not a folder", archive.display());
    }
    let keys = load_keys(args)?;
    let secret = archive_secret(args, &keys)?;
    let ck = secret.as_deref().map(|s| CatalogKeys::derive(s));
    let _lock = catalog::lock_for_index(archive)?;
    let db = catalog::open_for_index(archive, ck.as_ref())?;
    let files = walk(archive)?;
    // A verdict holds for the policy it was computed under (--require, --signer,
    // --expect-id/--expect-tenant): under another one every file is verified again.
    let mut signer_ids: Vec<String> = keys
        .signers
        .iter()
        .map(|s| s.id().iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    signer_ids.sort();
    let policy = format!(
        "require={:?};signers={};expect={:?}/{:?}",
        args.require,
        signer_ids.join(","),
        args.expect_id,
        args.expect_tenant
    );
    let same_policy = catalog::read_meta(&db, "policy")?.is_some_and(|p| p == policy.as_bytes());
    if !same_policy {
        catalog::write_meta(&db, "policy", policy.as_bytes())?;
    }
    // What the catalog has: path → (rowid, stamp, whether to read it again: a file
    // indexed under another policy, one that could not be read (it may be readable
    // now), one indexed without the key it needs when a key is given, and a row that
    // does not authenticate (changed outside sasf)).
    let mut known: HashMap<Vec<u8>, (i64, Stamp, bool)> = HashMap::new();
    let mut forged = 0u64;
    {
        let mut q = db.prepare(&format!("SELECT {} FROM rec", catalog::ROW_COLUMNS))?;
        let rows = q.query_map([], catalog::StoredRow::from_sql)?;
        for row in rows {
            let r = row?;
            let authentic = r.authentic(ck.as_ref());
            forged += u64::from(!authentic);
            let stale = !same_policy
                || !authentic
                || r.verdict == "unreadable"
                || (ck.is_some() && r.verdict == "no-key");
            let s = Stamp {
                size: r.size as u64,
                mtime_ns: r.mtime_ns,
                ctime_ns: r.ctime_ns,
                ino: r.ino as u64,
            };
            known.insert(r.path, (r.id, s, stale));
        }
    }
    if forged > 0 {
        note(format_args!(
            "sasf: {forged} catalog row{} did not authenticate (changed outside sasf): verified again",
            if forged == 1 { "" } else { "s" }
        ));
    }
    let mut counts = Counts::default();
    let mut todo = Vec::new();
    let mut total_bytes = 0u64;
    let mut seen = HashSet::new();
    for p in files {
        let rel = p
            .strip_prefix(archive)
            .unwrap_or(&p)
            .as_os_str()
            .as_bytes()
            .to_vec();
        seen.insert(rel.clone());
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let s = stamp(&md);
        let counter = match known.get(&rel) {
            Some(&(_, _, true)) => &mut counts.retried,
            Some(&(_, k, false)) if k == s => {
                counts.unchanged += 1;
                continue;
            }
            Some(_) => &mut counts.changed,
            None => &mut counts.new,
        };
        *counter += 1;
        total_bytes += s.size;
        todo.push((p, rel));
    }
    // Files that are gone.
    {
        let tx = db.unchecked_transaction()?;
        for (rel, (id, ..)) in &known {
            if !seen.contains(rel) {
                tx.execute("DELETE FROM rec WHERE id = ?1", params![id])?;
                counts.removed += 1;
            }
        }
        tx.commit()?;
    }
    let bar = crate::io::Progress::new(Some(total_bytes), "indexing", quiet);
    let queue = Arc::new(Mutex::new(todo.into_iter().rev().collect::<Vec<_>>()));
    let (tx, rx) = mpsc::sync_channel::<Option<Row>>(64);
    let workers = threads().max(1);
    let args = Arc::new(args.clone());
    let keys = Arc::new(keys);
    let ck = Arc::new(ck);
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (queue, tx, args, keys, ck) = (
            queue.clone(),
            tx.clone(),
            args.clone(),
            keys.clone(),
            ck.clone(),
        );
        handles.push(std::thread::spawn(move || loop {
            let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
            let Some((p, rel)) = next else { break };
            let row = ingest(&p, rel, &args, &keys, ck.as_ref().as_ref());
            if tx.send(row).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut done_bytes = 0u64;
    let mut pending = 0;
    let mut txn = db.unchecked_transaction()?;
    for row in rx {
        let Some(row) = row else {
            counts.left += 1;
            continue;
        };
        done_bytes += row.stamp.size;
        bar.set(done_bytes);
        if !matches!(row.verdict, "ok" | "recovered") {
            counts.failed += 1;
            note(format_args!(
                "sasf: {}: {}: {}",
                escape_controls(&String::from_utf8_lossy(&row.rel)),
                row.verdict,
                row.error.as_deref().unwrap_or("")
            ));
        }
        store(&txn, &row, now_ms, ck.as_ref().as_ref())?;
        pending += 1;
        // Committed in small groups: an interrupted run keeps what it finished.
        if pending >= 32 {
            txn.commit()?;
            txn = db.unchecked_transaction()?;
            pending = 0;
        }
    }
    txn.commit()?;
    let mut panicked = 0;
    for h in handles {
        panicked += usize::from(h.join().is_err());
    }
    bar.finish();
    if panicked > 0 {
        bail!("{panicked} indexing thread(s) failed; the catalog keeps what was stored: run again");
    }
    let total: i64 = db.query_row("SELECT count(*) FROM rec", [], |r| r.get(0))?;
    let not_ok: i64 = db.query_row(
        "SELECT count(*) FROM rec WHERE verdict NOT IN ('ok', 'recovered')",
        [],
        |r| r.get(0),
    )?;
    Ok(Updated {
        left: counts.left,
        counts,
        total,
        not_ok,
    })
}

fn store(
    tx: &rusqlite::Transaction,
    row: &Row,
    now_ms: i64,
    ck: Option<&CatalogKeys>,
) -> Result<()> {
    let mac = ck.map(|k| {
        k.row_mac(&catalog::RowFields {
            path: &row.rel,
            size: row.stamp.size as i64,
            mtime_ns: row.stamp.mtime_ns,
            ctime_ns: row.stamp.ctime_ns,
            ino: row.stamp.ino as i64,
            level: row.level,
            sealed: row.sealed,
            verdict: row.verdict,
            error: row.error.as_deref(),
            started_ms: row.started_ms,
            duration_ms: row.duration_ms,
            score_bp: row.score_bp,
            legal_hold: row.legal_hold,
            display: row.display.as_deref(),
            retain: row.retain.as_deref(),
        })
    });
    tx.execute("DELETE FROM rec WHERE path = ?1", params![row.rel])?;
    tx.execute(
        "INSERT INTO rec (path, size, mtime_ns, ino, level, sealed, verdict, error, started_ms,
                          duration_ms, score_bp, legal_hold, display, indexed_ms, mac, ctime_ns, retain)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            row.rel,
            row.stamp.size as i64,
            row.stamp.mtime_ns,
            row.stamp.ino as i64,
            row.level,
            row.sealed,
            row.verdict,
            row.error,
            row.started_ms,
            row.duration_ms,
            row.score_bp,
            row.legal_hold,
            row.display,
            now_ms,
            mac,
            row.stamp.ctime_ns,
            row.retain
        ],
    )?;
    let id = tx.last_insert_rowid();
    let mut ins = tx.prepare_cached("INSERT INTO tok (rec, t) VALUES (?1, ?2)")?;
    for t in &row.tokens {
        ins.execute(params![id, t])?;
    }
    Ok(())
}

/// Indexes one file of the archive again (after `sasf serve` appended an annotation
/// to it), under the index lock, as `sasf index` would.
pub fn index_one(
    archive: &Path,
    rel: &Path,
    args: &KeyArgs,
    keys: &Keys,
    ck: Option<&CatalogKeys>,
) -> Result<()> {
    let _lock = catalog::lock_for_index(archive)?;
    let db = catalog::open_for_index(archive, ck)?;
    let path = archive.join(rel);
    let Some(row) = ingest(&path, rel.as_os_str().as_bytes().to_vec(), args, keys, ck) else {
        bail!(
            "{} could not be indexed again: run `sasf index`",
            rel.display()
        );
    };
    let txn = db.unchecked_transaction()?;
    store(&txn, &row, crate::io::now_ms() as i64, ck)?;
    txn.commit()?;
    Ok(())
}
