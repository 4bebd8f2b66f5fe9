//! `sasf retention plan|apply|log`: what an archive's retention policy does with each
//! recording, carrying it out, and the deletion log (`docs/RETENTION.md`).
//!
//! The plan reads its facts from the catalog, brought up to date first (as `sasf
//! index`): only recordings verified OK are acted on. `apply` checks each file again
//! under its lock just before it acts (the same file as indexed, and no legal hold
//! now), writes an intent to the log, acts, and writes the completion; a re-run
//! finishes what a crash left (`reconcile`).

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::catalog::{self, normalize_address, normalize_name, CatalogKeys, StoredRow, Tokens};
use crate::cli::{KeyArgs, RetentionCommand};
use crate::io::{escape_controls, load_keys, note, now_ms, utc_ms};
use crate::retention_log::{self as rlog, Check, Entry, Log};
use crate::retention_policy::{
    day_of_ms, format_day, Facts, Own, Policy, TokenSel, Until, Verdict,
};

/// The schema name of `retention plan --json`.
pub const SCHEMA: &str = "sasf.retention-plan/1";
/// The schema name of `retention log --json`.
pub const LOG_SCHEMA: &str = "sasf.retention-log/1";

pub fn run(cmd: RetentionCommand, quiet: bool) -> Result<ExitCode> {
    match cmd {
        RetentionCommand::Plan {
            archive,
            policy,
            json,
            now,
            key,
        } => plan_cmd(&archive, &policy, json, now.as_deref(), &key, quiet),
        RetentionCommand::Apply {
            archive,
            policy,
            yes,
            by,
            key,
        } => apply_cmd(&archive, &policy, yes, by, &key, quiet),
        RetentionCommand::Log {
            archive,
            verify,
            json,
        } => log_cmd(&archive, verify, json),
    }
}

/// Reads and checks a policy file; refused with its line and column.
pub fn read_policy(p: &Path) -> Result<Policy> {
    use std::io::Read;
    let f = std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
    let mut text = Vec::new();
    f.take(crate::retention_policy::MAX_POLICY_LEN as u64 + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("cannot read {}", p.display()))?;
    let text = String::from_utf8(text)
        .map_err(|_| anyhow!("{}: the policy is not UTF-8 text", p.display()))?;
    Policy::parse(&text).map_err(|e| anyhow!("{}: {e}", p.display()))
}

/// One recording's decision, with what `apply` needs.
struct Planned {
    row: StoredRow,
    path: String,
    decision: crate::retention_policy::Decision,
}

/// "today" for a plan: `--now` (a date or an RFC 3339 UTC time), else the clock.
fn today(now: Option<&str>) -> Result<i64> {
    match now {
        None => Ok(day_of_ms(now_ms() as i64)),
        Some(s) => Ok(day_of_ms(super::search::parse_when(s, "--now")?)),
    }
}

/// The decision for every recording of the (up-to-date) catalog.
fn plan(
    archive: &Path,
    policy: &Policy,
    ck: Option<&CatalogKeys>,
    today: i64,
) -> Result<(Vec<Planned>, u64)> {
    let db = catalog::open_for_search(archive, ck)?;
    // Each token selector: the recordings that have one of its tokens.
    let mut sets: HashMap<TokenSel, HashSet<i64>> = HashMap::new();
    for r in &policy.rules {
        for t in &r.tokens {
            if sets.contains_key(t) {
                continue;
            }
            let values: Vec<(&str, String)> = match t {
                TokenSel::Tag(v) => vec![("tag", v.clone())],
                TokenSel::Attribute(v) => vec![("attr", v.clone())],
                TokenSel::Role(v) => vec![("role", v.clone())],
                TokenSel::Participant(v) => vec![
                    ("participant", normalize_name(v)),
                    ("participant", normalize_address(v)),
                ],
            };
            let mut ids = HashSet::new();
            let mut q = db.prepare_cached("SELECT rec FROM tok WHERE t = ?1")?;
            for (field, value) in &values {
                let mut toks = vec![Tokens::Clear.token(field, value)];
                if let Some(k) = ck {
                    toks.push(Tokens::Keyed(k).token(field, value));
                }
                for tok in toks {
                    for id in q.query_map([tok], |r| r.get::<_, i64>(0))? {
                        ids.insert(id?);
                    }
                }
            }
            sets.insert(t.clone(), ids);
        }
    }
    let mut q = db.prepare(&format!(
        "SELECT {} FROM rec ORDER BY path",
        catalog::ROW_COLUMNS
    ))?;
    let rows = q.query_map([], StoredRow::from_sql)?;
    let mut out = Vec::new();
    let mut forged = 0u64;
    for row in rows {
        let row = row.with_context(|| {
            format!(
                "the catalog of {} cannot be read: run `sasf index`",
                archive.display()
            )
        })?;
        let authentic = row.authentic(ck);
        forged += u64::from(!authentic);
        let own = Own::from_catalog(row.retain.as_deref());
        let path = String::from_utf8_lossy(&row.path).into_owned();
        let facts = Facts {
            verified: authentic
                && own.is_some()
                && matches!(row.verdict.as_str(), "ok" | "recovered"),
            legal_hold: row.legal_hold,
            started_ms: row.started_ms,
            duration_ms: row.duration_ms,
            score_bp: row.score_bp,
            own: own.unwrap_or_default(),
            path: path.clone(),
        };
        let id = row.id;
        let mut has = |t: &TokenSel| sets.get(t).is_some_and(|s| s.contains(&id));
        let mut decision = policy.decide(&facts, today, &mut has);
        if !authentic {
            decision.why = "its catalog row does not authenticate (changed outside sasf): \
                            kept; run `sasf index`"
                .into();
        }
        out.push(Planned {
            row,
            path,
            decision,
        });
    }
    Ok((out, forged))
}

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Keep => "keep",
        Verdict::Delete => "delete",
        Verdict::Move(_) => "move",
        Verdict::Hold => "hold",
        Verdict::Unverified => "unverified",
    }
}

fn until_text(u: Option<Until>) -> String {
    match u {
        Some(Until::Day(d)) => format!("kept until {}", format_day(d)),
        Some(Until::Indefinite) => "kept indefinitely".into(),
        None => "no retention date".into(),
    }
}

fn plan_json(p: &Planned) -> Value {
    let d = &p.decision;
    json!({
        "path": p.path,
        "verdict": p.row.verdict,
        "legal_hold": p.row.legal_hold,
        "decision": verdict_name(&d.verdict),
        "rule": d.rule,
        "keep_until": match d.until { Some(Until::Day(x)) => Value::from(format_day(x)), _ => Value::Null },
        "indefinite": d.until == Some(Until::Indefinite),
        "to": match &d.verdict { Verdict::Move(t) => Value::from(t.as_str()), _ => Value::Null },
        "why": d.why,
    })
}

#[derive(Default)]
struct Tally {
    delete: u64,
    moved: u64,
    keep: u64,
    hold: u64,
    unverified: u64,
}

fn tally(planned: &[Planned]) -> Tally {
    let mut t = Tally::default();
    for p in planned {
        match p.decision.verdict {
            Verdict::Keep => t.keep += 1,
            Verdict::Delete => t.delete += 1,
            Verdict::Move(_) => t.moved += 1,
            Verdict::Hold => t.hold += 1,
            Verdict::Unverified => t.unverified += 1,
        }
    }
    t
}

fn catalog_keys(key: &KeyArgs) -> Result<(crate::io::Keys, Option<CatalogKeys>)> {
    let keys = load_keys(key)?;
    let secret = super::index::archive_secret(key, &keys)?;
    let ck = secret.as_deref().map(|s| CatalogKeys::derive(s));
    Ok((keys, ck))
}

fn refresh(archive: &Path, key: &KeyArgs, quiet: bool) -> Result<()> {
    let u = super::index::update(archive, key, quiet)?;
    if u.left > 0 {
        note(format_args!(
            "sasf: {} file{} could not be indexed now (changed while read, or could not be \
             opened): not in this plan",
            u.left,
            if u.left == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

fn plan_cmd(
    archive: &Path,
    policy: &Path,
    as_json: bool,
    now: Option<&str>,
    key: &KeyArgs,
    quiet: bool,
) -> Result<ExitCode> {
    let policy = read_policy(policy)?;
    let day = today(now)?;
    let (_, ck) = catalog_keys(key)?;
    refresh(archive, key, quiet || as_json)?;
    let (planned, forged) = plan(archive, &policy, ck.as_ref(), day)?;
    let t = tally(&planned);
    let mut out = std::io::stdout().lock();
    if as_json {
        let doc = json!({
            "schema": SCHEMA,
            "today": format_day(day),
            "recordings": planned.iter().map(plan_json).collect::<Vec<_>>(),
            "summary": {"delete": t.delete, "move": t.moved, "keep": t.keep,
                        "hold": t.hold, "unverified": t.unverified, "forged": forged},
        });
        writeln!(out, "{doc}")?;
    } else {
        for p in &planned {
            let d = &p.decision;
            let to = match &d.verdict {
                Verdict::Move(t) => format!(" -> {}", escape_controls(t)),
                _ => String::new(),
            };
            writeln!(
                out,
                "{:<10} {}{to}  [{}] {}: {}",
                verdict_name(&d.verdict),
                escape_controls(&p.path),
                d.rule.as_deref().map_or("no rule".into(), escape_controls),
                until_text(d.until),
                escape_controls(&d.why)
            )?;
        }
        writeln!(
            out,
            "{} recording{} on {}: {} to delete, {} to move, {} kept, {} under legal hold, \
             {} not verified (kept)",
            planned.len(),
            if planned.len() == 1 { "" } else { "s" },
            format_day(day),
            t.delete,
            t.moved,
            t.keep,
            t.hold,
            t.unverified
        )?;
    }
    Ok(if forged > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Fault injection for the crash tests: `SASF_RETENTION_CRASH=POINT[:N]` arms the
/// Nth time (default the 1st) the run reaches POINT. Honoured only in debug builds.
fn fault(point: &str) -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let Ok(spec) = std::env::var("SASF_RETENTION_CRASH") else {
        return false;
    };
    let (p, n) = spec
        .split_once(':')
        .map_or((spec.as_str(), 1), |(p, n)| (p, n.parse().unwrap_or(1)));
    p == point && SEEN.fetch_add(1, Ordering::SeqCst) + 1 == n
}

fn die(point: &str) -> ! {
    eprintln!("sasf: fault injection: crashing at {point}");
    std::process::abort();
}

/// Kills the process here when the fault is armed for this point.
fn crash_point(point: &str) {
    if fault(point) {
        die(point);
    }
}

/// Who runs apply: `--by`, else the login name, else the user id.
fn who(by: Option<String>) -> Result<String> {
    let s = by
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| {
            // The owner of a file this process just created is its user id.
            use std::os::unix::fs::MetadataExt;
            let probe = tempfile::tempfile().and_then(|f| f.metadata());
            probe.map_or("unknown".into(), |m| format!("uid {}", m.uid()))
        });
    if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
        bail!("--by: 1 to 256 characters, no control characters");
    }
    Ok(s)
}

/// The retention lock: one apply at a time on an archive.
fn lock(archive: &Path) -> Result<std::fs::File> {
    crate::catalog::lock_archive(
        archive,
        ".sasf-retention.lock",
        "another `sasf retention apply` is running on {}",
    )
}

fn open_nofollow(path: &Path, write: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Overwrites `len` bytes at `at` with random bytes, durably.
fn shred(file: &std::fs::File, at: u64, len: u64) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len as usize];
    getrandom::getrandom(&mut buf).map_err(|e| anyhow!("no randomness: {e}"))?;
    file.write_all_at(&buf, at)?;
    file.sync_data()?;
    Ok(())
}

/// What was read of a file under its lock, just before acting.
struct Checked {
    file: std::fs::File,
    size: u64,
    ino: u64,
    dev: u64,
    id: Option<String>,
    manifest: String,
    /// The key area's copies (offset, length), at level 3.
    key_area: Option<(u64, u64)>,
}

/// Opens and locks `path`, and checks that it is the file the catalog row describes,
/// that it opens (with the keys and policy of the run), and that it has no legal hold
/// now.
fn check_file(
    path: &Path,
    write: bool,
    row: &StoredRow,
    key: &KeyArgs,
    keys: &crate::io::Keys,
) -> Result<Checked> {
    let file = open_nofollow(path, write)
        .with_context(|| format!("cannot open it{}", if write { " for writing" } else { "" }))?;
    file.lock().context("cannot lock it")?;
    let md = file.metadata()?;
    let stamp = (
        md.len() as i64,
        md.mtime() * 1_000_000_000 + md.mtime_nsec(),
        md.ctime() * 1_000_000_000 + md.ctime_nsec(),
        md.ino() as i64,
    );
    if !md.is_file() || stamp != (row.size, row.mtime_ns, row.ctime_ns, row.ino) {
        bail!("it changed since it was indexed: left for the next run");
    }
    let mut r = std::io::BufReader::new(&file);
    let d = sasf_core::Decoder::new(&mut r)?;
    let hlen = d.header_bytes().len() as u64;
    let q = d.key_area().map(|a| a.capacity).ok();
    let level3 = d.header().integrity == sasf_core::Integrity::Encrypted;
    let d = crate::io::policy(d, key, keys)?;
    let ra = d.open_with(&keys.ring)?.into_random_access()?;
    let st = sasf_core::annotate::state(ra.segments())?;
    if !st.holds.is_empty() {
        bail!(
            "under legal hold now ({}): not touched",
            st.holds.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let manifest = ra
        .totals()
        .manifest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let id = ra.info().id.clone();
    let key_area = match (level3, q) {
        (true, Some(q)) => Some((hlen + 4, 2 * q as u64)),
        (true, None) => bail!("its key area is not well formed"),
        (false, _) => None,
    };
    drop(ra);
    Ok(Checked {
        file,
        size: md.len(),
        ino: md.ino(),
        dev: md.dev(),
        id,
        manifest,
        key_area,
    })
}

fn base_entry(event: &str, action: &str, path: &str, rule: &str, by: &str) -> Entry {
    Entry {
        seq: 0,
        event: event.into(),
        of: None,
        action: action.into(),
        path: path.into(),
        to: None,
        id: None,
        manifest: None,
        rule: rule.into(),
        size: 0,
        ino: 0,
        shredded: None,
        key_area: None,
        at: utc_ms(now_ms()),
        by: by.into(),
        note: None,
    }
}

fn append(log: &mut Log, e: Entry, torn_point: &str) -> Result<u64> {
    if fault(torn_point) {
        log.append_torn(e)?;
        die(torn_point);
    }
    Ok(log.append(e)?)
}

fn parent(p: &Path) -> &Path {
    p.parent()
        .filter(|x| !x.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates the folders of `rel` (relative) under `archive`, refusing a symbolic link
/// on the way.
fn make_folders(archive: &Path, rel: &Path) -> Result<()> {
    let mut at = archive.to_path_buf();
    for c in rel.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!("{} is not a folder", at.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&at)
                    .with_context(|| format!("cannot create {}", at.display()))?;
                rlog::sync_dir(parent(&at))?;
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", at.display())),
        }
    }
    Ok(())
}

fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        from,
        rustix::fs::CWD,
        to,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(std::io::Error::from)
}

/// Deletes or moves one planned recording: what was done, or why it was skipped.
fn act(
    archive: &Path,
    p: &Planned,
    log: &mut Log,
    by: &str,
    key: &KeyArgs,
    keys: &crate::io::Keys,
) -> Result<String> {
    let path = archive.join(&p.path);
    let rule = p.decision.rule.clone().unwrap_or_default();
    let shreds = p.row.sealed && p.decision.verdict == Verdict::Delete;
    let c = check_file(&path, shreds, &p.row, key, keys)?;
    match &p.decision.verdict {
        Verdict::Delete => {
            let mut e = base_entry("intent", "delete", &p.path, &rule, by);
            e.id = c.id.clone();
            e.manifest = Some(c.manifest.clone());
            e.size = c.size;
            e.ino = c.ino;
            e.key_area = c.key_area.map(|(a, b)| [a, b]);
            let intent = append(log, e.clone(), "torn-intent")?;
            crash_point("after-intent");
            if let Some((at, len)) = c.key_area {
                shred(&c.file, at, len)?;
                crash_point("after-shred");
            }
            std::fs::remove_file(&path)?;
            rlog::sync_dir(parent(&path))?;
            crash_point("after-unlink");
            drop(c.file);
            e.event = "done".into();
            e.of = Some(intent);
            e.shredded = Some(e.key_area.is_some());
            e.at = utc_ms(now_ms());
            append(log, e, "torn-done")?;
            crash_point("after-done");
            Ok(format!(
                "deleted{} {}",
                if c.key_area.is_some() {
                    " (key section overwritten)"
                } else {
                    ""
                },
                escape_controls(&p.path)
            ))
        }
        Verdict::Move(to) => {
            let dest = archive.join(to);
            let rel_parent = parent(Path::new(to));
            make_folders(archive, rel_parent)?;
            let pd = std::fs::metadata(parent(&dest))?;
            if pd.dev() != c.dev {
                bail!(
                    "{} is on another filesystem: a move is a rename, never a copy; not moved",
                    escape_controls(&rel_parent.display().to_string())
                );
            }
            if std::fs::symlink_metadata(&dest).is_ok() {
                bail!("{} exists: not moved", escape_controls(to));
            }
            let mut e = base_entry("intent", "move", &p.path, &rule, by);
            e.to = Some(to.clone());
            e.id = c.id.clone();
            e.manifest = Some(c.manifest.clone());
            e.size = c.size;
            e.ino = c.ino;
            let intent = append(log, e.clone(), "torn-intent")?;
            crash_point("after-intent");
            rename_noreplace(&path, &dest)?;
            rlog::sync_dir(parent(&dest))?;
            rlog::sync_dir(parent(&path))?;
            crash_point("after-rename");
            drop(c.file);
            e.event = "done".into();
            e.of = Some(intent);
            e.at = utc_ms(now_ms());
            append(log, e, "torn-done")?;
            crash_point("after-done");
            Ok(format!(
                "moved {} -> {}",
                escape_controls(&p.path),
                escape_controls(to)
            ))
        }
        _ => Err(anyhow!("nothing to do")),
    }
}

/// Whether `rel` names a file inside the archive: relative, plain components only.
fn inside(rel: &str) -> bool {
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Finishes (or abandons) what a crashed run left: each intent with no completion.
/// The log's chain has no key, so an intent is trusted only as far as it is checked
/// here: paths inside the archive, the very file (inode and size) it names, and a
/// key area within the bounds of the format and the file.
fn reconcile(archive: &Path, log: &mut Log, open: Vec<Entry>, by: &str) -> Result<u64> {
    let mut n = 0;
    for i in open {
        let area_ok = i.key_area.is_none_or(|[at, len]| {
            len <= 2 * sasf_core::format::MAX_COPY_CAPACITY as u64
                && at.checked_add(len).is_some_and(|end| end <= i.size)
        });
        if !inside(&i.path) || !i.to.as_deref().is_none_or(inside) || !area_ok {
            bail!(
                "{}: intent {} names a path outside the archive or an impossible key area: \
                 nothing is done; see `sasf retention log --verify`",
                rlog::LOG_NAME,
                i.seq
            );
        }
        let path = archive.join(&i.path);
        let same = |p: &Path| {
            std::fs::symlink_metadata(p)
                .ok()
                .filter(|m| m.is_file() && m.ino() == i.ino && m.len() == i.size)
        };
        let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
        let mut e = i.clone();
        e.of = Some(i.seq);
        e.at = utc_ms(now_ms());
        e.by = by.into();
        let (event, what) = match i.action.as_str() {
            "delete" => {
                if same(&path).is_some() {
                    let f = open_nofollow(&path, i.key_area.is_some())?;
                    f.lock()?;
                    if let Some([at, len]) = i.key_area {
                        shred(&f, at, len)?;
                    }
                    std::fs::remove_file(&path)?;
                    rlog::sync_dir(parent(&path))?;
                    e.shredded = Some(i.key_area.is_some());
                    ("done", "finished after a crash")
                } else if exists(&path) {
                    ("abandoned", "the path holds another file now: not touched")
                } else {
                    e.shredded = Some(i.key_area.is_some());
                    (
                        "done",
                        "found deleted: the run that crashed had unlinked it",
                    )
                }
            }
            _ => {
                let to = i.to.clone().unwrap_or_default();
                let dest = archive.join(&to);
                if same(&dest).is_some() && !exists(&path) {
                    ("done", "found moved: the run that crashed had renamed it")
                } else if same(&path).is_some() && !exists(&dest) {
                    rename_noreplace(&path, &dest)?;
                    rlog::sync_dir(parent(&dest))?;
                    rlog::sync_dir(parent(&path))?;
                    ("done", "finished after a crash")
                } else {
                    ("abandoned", "neither the file nor its destination is as the intent left them: not touched")
                }
            }
        };
        e.event = event.into();
        e.note = Some(what.into());
        log.append(e)?;
        note(format_args!(
            "sasf: {}: {} of {}: {what}",
            i.seq,
            i.action,
            escape_controls(&i.path)
        ));
        n += 1;
    }
    Ok(n)
}

fn apply_cmd(
    archive: &Path,
    policy: &Path,
    yes: bool,
    by: Option<String>,
    key: &KeyArgs,
    quiet: bool,
) -> Result<ExitCode> {
    let policy = read_policy(policy)?;
    let by = who(by)?;
    if !yes {
        bail!(
            "apply deletes and moves recordings: give --yes (`sasf retention plan` shows \
             what it would do)"
        );
    }
    if !archive.is_dir() {
        bail!("{} is not a folder", archive.display());
    }
    let (keys, ck) = catalog_keys(key)?;
    let _lock = lock(archive)?;
    let (mut log, open) = Log::open(archive).map_err(|e| anyhow!(e))?;
    let finished = reconcile(archive, &mut log, open, &by)?;
    refresh(archive, key, quiet)?;
    let day = today(None)?;
    let (planned, _) = plan(archive, &policy, ck.as_ref(), day)?;
    let (mut done, mut skipped) = (0u64, 0u64);
    let mut out = std::io::stdout().lock();
    for p in &planned {
        if !matches!(p.decision.verdict, Verdict::Delete | Verdict::Move(_)) {
            continue;
        }
        match act(archive, p, &mut log, &by, key, &keys) {
            Ok(line) => {
                done += 1;
                writeln!(
                    out,
                    "{line}  [{}]",
                    escape_controls(p.decision.rule.as_deref().unwrap_or(""))
                )?;
            }
            Err(e) => {
                skipped += 1;
                note(format_args!(
                    "sasf: {}: {}",
                    escape_controls(&p.path),
                    escape_controls(&format!("{e:#}"))
                ));
            }
        }
    }
    // The catalog follows: deleted files dropped, moved ones indexed at their place.
    if done > 0 {
        super::index::update(archive, key, true)?;
    }
    let t = tally(&planned);
    writeln!(
        out,
        "{done} action{} carried out, {skipped} skipped, {finished} finished from an earlier \
         run; {} kept, {} under legal hold, {} not verified; log: {}",
        if done == 1 { "" } else { "s" },
        t.keep,
        t.hold,
        t.unverified,
        rlog::LOG_NAME
    )?;
    Ok(if skipped > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn log_cmd(archive: &Path, verify: bool, as_json: bool) -> Result<ExitCode> {
    let head = rlog::read_head(archive)?;
    let p: PathBuf = archive.join(rlog::LOG_NAME);
    let mut entries = Vec::new();
    let c = match std::fs::File::open(&p) {
        Ok(f) => rlog::check_collect(f, head.as_deref(), &mut entries)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            rlog::check_collect(&b""[..], head.as_deref(), &mut entries)?
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
    };
    let mut out = std::io::stdout().lock();
    if as_json {
        let (ok, extra) = match &c {
            Check::Ok {
                entries: n,
                head,
                open,
                torn,
                ..
            } => (
                true,
                json!({"entries": n, "head": head, "open": open.len(), "torn_tail": torn}),
            ),
            Check::Broken { line, reason } => (false, json!({"line": line, "reason": reason})),
        };
        let mut doc = json!({"schema": LOG_SCHEMA, "ok": ok, "check": extra});
        if !verify {
            doc["entries"] = json!(entries);
        }
        writeln!(out, "{doc}")?;
    } else {
        if !verify {
            for e in &entries {
                let to =
                    e.to.as_deref()
                        .map_or(String::new(), |t| format!(" -> {t}"));
                writeln!(
                    out,
                    "{:>5} {} {:<9} {:<6} {}{to}  rule {}  by {}{}{}",
                    e.seq,
                    e.at,
                    e.event,
                    e.action,
                    escape_controls(&e.path),
                    escape_controls(&e.rule),
                    escape_controls(&e.by),
                    e.manifest
                        .as_deref()
                        .map_or(String::new(), |m| format!("  manifest {m}")),
                    e.note
                        .as_deref()
                        .map_or(String::new(), |n| format!("  ({})", escape_controls(n)))
                )?;
            }
        }
        match &c {
            Check::Ok {
                entries: n,
                head,
                open,
                torn,
                ..
            } => writeln!(
                out,
                "{n} entr{} chained, head {}{}{}",
                if *n == 1 { "y" } else { "ies" },
                head.as_deref().unwrap_or("(empty log)"),
                if open.is_empty() {
                    String::new()
                } else {
                    format!("; {} unfinished (the next apply finishes them)", open.len())
                },
                if *torn {
                    "; a torn last line (a crash while it was written; the next apply cuts it off)"
                } else {
                    ""
                }
            )?,
            Check::Broken { line, reason } => {
                writeln!(out, "{}: BROKEN at line {line}: {reason}", rlog::LOG_NAME)?
            }
        }
    }
    Ok(match c {
        Check::Ok { .. } => ExitCode::SUCCESS,
        Check::Broken { .. } => ExitCode::from(1),
    })
}
