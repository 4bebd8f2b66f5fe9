//! `sasf verify`: check files completely; one line per file.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use std::io::Read;

use anyhow::{Context as _, Result};
use sasf_core::access::audit;
use sasf_core::crypto::hex;
use sasf_core::crypto::sign::SignatureCheck;
use sasf_core::error::format_time;
use sasf_core::{Decoder, Error};
use serde_json::json;

use crate::cli::KeyArgs;
use crate::io::{
    escape_controls, load_keys, not_stdin_twice, note, open_input, policy, shown, threads, utc_ms,
    Keys,
};

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
    /// The verdict on every signature (checked against the file digest).
    signatures: Vec<SignatureCheck>,
    /// Checked without a key (an audit): samples and duration are unknown.
    audited: bool,
    /// Annotation segments: how many, the chain head (hex) and where a torn last one
    /// starts (unknown in an audit).
    segments: Option<(usize, String, Option<u64>)>,
    /// The audio content hash (hex), when asked for.
    audio_sha256: Option<String>,
}

/// The schema of each line `verify --json` prints (`docs/schemas/verify.schema.json`).
pub const SCHEMA: &str = "sasf.verify/1";

/// The recording id of a file that failed after its INFO chunk was authenticated,
/// attached to the error so that a failure record can name the recording.
#[derive(Debug)]
struct RecordingId(String);

impl std::fmt::Display for RecordingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "recording {:?}", self.0)
    }
}

/// Bytes read ahead to see a file's header and key area before deciding how to
/// check it (the largest key area is 64 KiB).
const PEEK: usize = 80 * 1024;

fn check(
    path: &std::path::Path,
    keys: &Keys,
    args: &KeyArgs,
    audio_hash: bool,
    n: usize,
) -> Result<Report> {
    if keys.ring.is_empty() && !keys.signers.is_empty() {
        // No key but trusted signers: a keyed file is audited (its stored bytes
        // checked against a signature, nothing decrypted), read once.
        let mut input = open_input(path)?;
        let mut head = Vec::with_capacity(PEEK);
        Read::by_ref(&mut input)
            .take(PEEK as u64)
            .read_to_end(&mut head)
            .with_context(|| shown(path))?;
        let level = Decoder::new(&head[..]).map(|d| d.header().integrity);
        if let Ok(l) = level.as_ref().copied() {
            if l.needs_key() {
                audit_policy(l, args)?;
            }
        }
        if matches!(level, Ok(l) if l.needs_key()) {
            if audio_hash {
                note(format_args!(
                    "sasf: {}: no audio hash: an audit without the key reads no audio",
                    shown(path)
                ));
            }
            let limits = sasf_core::Limits::default();
            let whole = std::io::Cursor::new(head).chain(input);
            let a = audit(whole, &keys.signers, limits, n)?;
            return Ok(Report {
                level: a.level.name(),
                samples: 0,
                rate: 0,
                chunks: a.chunks,
                recovered: false,
                digest: hex(&a.file_digest),
                why: None,
                signatures: a.signatures,
                audited: true,
                segments: None,
                audio_sha256: None,
            });
        }
        let d =
            Decoder::new(std::io::Cursor::new(head).chain(input)).with_context(|| shown(path))?;
        let mut r = policy(d.threads(1), args, keys)?
            .open_with(&keys.ring)
            .with_context(|| shown(path))?;
        return report(&mut r, audio_hash);
    }
    let mut r = super::open_sasf_threads(path, keys, args, n)?;
    report(&mut r, audio_hash)
}

/// What an audit can check of `--require` and `--expect-id` without the key.
fn audit_policy(level: sasf_core::Integrity, args: &KeyArgs) -> Result<()> {
    use sasf_core::ErrorKind;
    if args.require == Some(crate::cli::RequireArg::Encrypted)
        && level != sasf_core::Integrity::Encrypted
    {
        return Err(Error::new(ErrorKind::NotProtected {
            level: level.name(),
            required: "encrypted by the given key",
        })
        .into());
    }
    if args.expect_id.is_some() {
        // The bound context is known only to key holders.
        return Err(Error::new(ErrorKind::KeyRequired).into());
    }
    Ok(())
}

/// The audio content hash: SHA-256 of every AUDI payload in stream order, read to the
/// end (so the file is verified too); returns it in hex with the totals.
pub fn audio_hash_to_end<R: Read>(
    r: &mut sasf_core::Reader<R>,
) -> Result<(sasf_core::Totals, String)> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    while let Some(item) = r.next_item()? {
        if let sasf_core::Item::Audio { data, .. } = item {
            h.update(data);
        }
    }
    let t = *r.totals().expect("the end chunk was read");
    Ok((t, hex(&h.finalize())))
}

fn report<R: Read>(r: &mut sasf_core::Reader<R>, audio_hash: bool) -> Result<Report> {
    // INFO (chunk 0) is authenticated when the reader opens: a later failure can name
    // the recording.
    let id = r.info().id.clone();
    let read = if audio_hash {
        audio_hash_to_end(r).map(|(t, h)| (t, Some(h)))
    } else {
        r.verify_to_end().map(|t| (t, None)).map_err(Into::into)
    };
    let (t, audio_sha256) = match (read, id) {
        (Ok(x), _) => x,
        (Err(e), Some(id)) => return Err(e.context(RecordingId(id))),
        (Err(e), None) => return Err(e),
    };
    Ok(Report {
        level: r.header().integrity.name(),
        samples: t.samples,
        rate: r.header().format.sample_rate,
        chunks: t.chunks + 1,
        recovered: t.recovered(),
        why: r.recovered_reason().cloned(),
        digest: r.file_digest().map(|d| hex(d)).unwrap_or_default(),
        signatures: r.signatures().to_vec(),
        audited: false,
        segments: r
            .segments()
            .map(|s| (s.list.len(), hex(&s.head), s.incomplete_at)),
        audio_sha256,
    })
}

/// A failure record: the class and message, and where: the chunk or annotation
/// segment and byte offset, the time the damage is at (truncation), and the recording
/// id when the file's INFO chunk was authenticated before the failure.
fn failure_json(
    name: &str,
    core: Option<&Error>,
    msg: &str,
    recording_id: Option<&str>,
) -> serde_json::Value {
    let class = core.map(|c| c.class()).unwrap_or("io");
    let mut doc = json!({"schema": SCHEMA, "file": name, "ok": false, "error": class,
                         "class": class, "message": msg});
    if let Some(c) = core {
        locate(&mut doc, c);
    }
    if let Some(id) = recording_id {
        doc["recording_id"] = json!(id);
    }
    doc
}

/// Where an error was found, into `doc`: `chunk` or `segment` and `offset`, and for a
/// truncation `after_chunk`, `at` and `at_sample` (shared with `info`'s errors).
pub fn locate(doc: &mut serde_json::Value, c: &Error) {
    use sasf_core::ErrorKind;
    if let Some(p) = c.place() {
        doc["offset"] = json!(p.offset);
        if let Some(i) = p.chunk {
            doc["chunk"] = json!(i);
        }
        if let Some(k) = p.segment {
            doc["segment"] = json!(k);
        }
    }
    match c.kind() {
        ErrorKind::Truncated {
            after_chunk,
            at_sample,
            sample_rate,
            offset,
        } => {
            doc["offset"] = json!(offset);
            if let Some(i) = after_chunk {
                doc["after_chunk"] = json!(i);
            }
            if *sample_rate > 0 {
                doc["at"] = json!(format_time(*at_sample, *sample_rate));
                doc["at_sample"] = json!(at_sample);
            }
        }
        ErrorKind::TrailingData { offset } => doc["offset"] = json!(offset),
        _ => {}
    }
}

/// The signatures as JSON.
pub fn signatures_json(checks: &[SignatureCheck]) -> serde_json::Value {
    checks
        .iter()
        .map(|c| {
            json!({"id": c.id, "signed_at": (c.signed_at_ms != 0).then(|| utc_ms(c.signed_at_ms)),
                   "valid": c.valid, "trusted": c.trusted})
        })
        .collect()
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

/// What `verify` runs over beyond the files named: directories, lists, shards and a
/// report to write and resume from.
#[derive(Debug, Default)]
pub struct Batch {
    /// Walk directories for `.sasf` files.
    pub recursive: bool,
    /// A file of paths, one a line (`-`: stdin).
    pub files_from: Option<PathBuf>,
    /// Where records go, one line per file; files already recorded are skipped.
    pub report: Option<PathBuf>,
    /// `--shard I/N`.
    pub shard: Option<String>,
    /// `--shard-count N`, for an array index from the environment.
    pub shard_count: Option<u64>,
    /// No progress bar (`-q`).
    pub quiet: bool,
}

/// One file to check (or a path that could not be looked at).
struct Item {
    path: PathBuf,
    /// The shard key (see `shard`).
    key: Vec<u8>,
    /// Why it cannot be checked, found while walking (a symlink loop, an unreadable
    /// directory).
    problem: Option<String>,
    /// Its size and modification time, when it could be looked at.
    ident: Option<(u64, String)>,
}

/// A file's modification time, exactly: seconds since 1970 and nine decimals.
fn mtime(m: &std::fs::Metadata) -> Option<String> {
    let t = m.modified().ok()?;
    Some(match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            format!("-{}.{:09}", d.as_secs(), d.subsec_nanos())
        }
    })
}

fn ident(m: &std::fs::Metadata) -> Option<(u64, String)> {
    Some((m.len(), mtime(m)?))
}

/// A directory's identity, to find loops.
#[cfg(unix)]
fn dir_id(m: &std::fs::Metadata, _p: &std::path::Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}
#[cfg(not(unix))]
fn dir_id(_m: &std::fs::Metadata, p: &std::path::Path) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .hash(&mut h);
    (0, h.finish())
}

/// The command-line paths (and those of `--files-from`) as items, directories walked.
fn gather(args: &[PathBuf], recursive: bool) -> Vec<Item> {
    let mut out = Vec::new();
    for a in args {
        let key = a.as_os_str().as_encoded_bytes().to_vec();
        if crate::io::is_dash(a) {
            out.push(Item {
                path: a.clone(),
                key,
                problem: None,
                ident: None,
            });
            continue;
        }
        match std::fs::metadata(a) {
            Ok(m) if m.is_dir() => {
                if recursive {
                    let mut walk = Walk {
                        root: a,
                        out: &mut out,
                        stack: Vec::new(),
                        seen: Default::default(),
                    };
                    walk.dir(a, &std::path::PathBuf::new(), &m);
                } else {
                    out.push(Item {
                        path: a.clone(),
                        key,
                        problem: Some(
                            "is a directory: give -r to verify the .sasf files under it".into(),
                        ),
                        ident: None,
                    });
                }
            }
            // Opened (and its error, if any, reported) by the check.
            m => out.push(Item {
                path: a.clone(),
                key,
                problem: None,
                ident: m.ok().as_ref().and_then(ident),
            }),
        }
    }
    out
}

/// A walk of one directory argument.
struct Walk<'a> {
    root: &'a std::path::Path,
    out: &'a mut Vec<Item>,
    /// The directories from the root down to the one being read (a loop leads back
    /// to one of them).
    stack: Vec<((u64, u64), PathBuf)>,
    /// Every directory read (one reached again through another link is not read again).
    seen: std::collections::HashSet<(u64, u64)>,
}

impl Walk<'_> {
    fn item(
        &mut self,
        rel: &std::path::Path,
        problem: Option<String>,
        ident: Option<(u64, String)>,
    ) {
        let path = self.root.join(rel);
        let key = rel.as_os_str().as_encoded_bytes().to_vec();
        self.out.push(Item {
            path,
            key,
            problem,
            ident,
        });
    }

    fn dir(&mut self, path: &std::path::Path, rel: &std::path::Path, m: &std::fs::Metadata) {
        let id = dir_id(m, path);
        if let Some((_, earlier)) = self.stack.iter().find(|(d, _)| *d == id) {
            let earlier = earlier.clone();
            let back = if earlier.as_os_str().is_empty() {
                shown(self.root)
            } else {
                shown(&self.root.join(&earlier))
            };
            self.item(
                rel,
                Some(format!("symlink loop: leads back to {back}")),
                None,
            );
            return;
        }
        if !self.seen.insert(id) {
            return;
        }
        let entries = match std::fs::read_dir(path) {
            Ok(rd) => rd.collect::<std::io::Result<Vec<_>>>(),
            Err(e) => Err(e),
        };
        let mut entries = match entries {
            Ok(v) => v,
            Err(e) => {
                self.item(rel, Some(format!("cannot read the directory: {e}")), None);
                return;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        self.stack.push((id, rel.to_path_buf()));
        for e in entries {
            let name = e.file_name();
            let rel = rel.join(&name);
            let path = e.path();
            let is_sasf = std::path::Path::new(&name)
                .extension()
                .is_some_and(|x| x == "sasf");
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => self.dir(&path, &rel, &m),
                Ok(m) if m.is_file() && is_sasf => self.item(&rel, None, ident(&m)),
                Ok(_) => {}
                Err(e) => {
                    // A link that loops on itself, or a .sasf name that cannot be
                    // looked at; a dangling link of another name is no recording.
                    #[cfg(unix)]
                    let looped = e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error());
                    #[cfg(not(unix))]
                    let looped = false;
                    if looped {
                        self.item(&rel, Some(format!("symlink loop: {e}")), None);
                    } else if is_sasf {
                        let why = if std::fs::symlink_metadata(&path)
                            .is_ok_and(|m| m.file_type().is_symlink())
                        {
                            format!("dangling symlink: {e}")
                        } else {
                            format!("cannot look at it: {e}")
                        };
                        self.item(&rel, Some(why), None);
                    }
                }
            }
        }
        self.stack.pop();
    }
}

/// Reads `--files-from`: one path a line (a CR before the line break is dropped, so
/// CRLF lists work); empty lines are skipped.
fn files_from(p: &std::path::Path) -> Result<Vec<PathBuf>> {
    use std::io::BufRead;
    let mut r = std::io::BufReader::new(open_input(p)?);
    let mut out = Vec::new();
    for i in 1.. {
        let mut line = Vec::new();
        let n = Read::by_ref(&mut r)
            .take(MAX_PATH as u64 + 2)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("--files-from {}: line {i}", shown(p)))?;
        if n == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > MAX_PATH {
            anyhow::bail!(
                "--files-from {}: line {i} is longer than {MAX_PATH} bytes: not a list of paths",
                shown(p)
            );
        }
        if line.is_empty() {
            continue;
        }
        #[cfg(unix)]
        let path = {
            use std::os::unix::ffi::OsStringExt;
            PathBuf::from(std::ffi::OsString::from_vec(line))
        };
        #[cfg(not(unix))]
        let path = PathBuf::from(
            String::from_utf8(line)
                .map_err(|_| anyhow::anyhow!("--files-from {}: line {i}: not UTF-8", shown(p)))?,
        );
        out.push(path);
    }
    Ok(out)
}

/// The longest path read from `--files-from` (Linux's PATH_MAX is 4096).
const MAX_PATH: usize = 64 * 1024;

/// The report being written: whole lines appended, one per file, each in one write.
struct ReportOut {
    file: std::fs::File,
    name: String,
    /// The last record of each file already in it.
    done: std::collections::HashMap<String, crate::reportfile::Record>,
}

impl ReportOut {
    /// Opens (or creates) the report, locks it against a second writer, and reads
    /// what is in it; a torn last line is cut off.
    fn open(p: &std::path::Path) -> Result<ReportOut> {
        let name = shown(p);
        if crate::io::is_dash(p) {
            anyhow::bail!("--report -: give a file (a report is read back to resume)");
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(p)
            .with_context(|| format!("--report {name}: cannot open it"))?;
        #[cfg(unix)]
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| {
                anyhow::anyhow!(
                    "--report {name}: locked by another sasf ({e}): give each shard its own report"
                )
            },
        )?;
        let parsed = crate::reportfile::parse(std::io::BufReader::new(&mut file))
            .map_err(|e| anyhow::anyhow!("--report {name}: {e}; nothing was written to it"))?;
        if let Some(line) = parsed.torn_line {
            file.set_len(parsed.whole)
                .with_context(|| format!("--report {name}"))?;
            note(format_args!(
                "sasf: {}: line {line} was cut short (an interrupted run): removed, its file is verified again",
                escape_controls(&name)
            ));
        }
        let mut done = std::collections::HashMap::new();
        for r in parsed.records {
            done.insert(r.file.clone(), r);
        }
        Ok(ReportOut { file, name, done })
    }

    /// The record of a file already checked as it is now (same size and modification
    /// time), with a verdict (a file that could not be read is tried again).
    fn recorded(
        &self,
        name: &str,
        ident: &Option<(u64, String)>,
    ) -> Option<&crate::reportfile::Record> {
        let (size, mtime) = ident.as_ref()?;
        let r = self.done.get(name)?;
        (r.verdict != crate::reportfile::Verdict::Unreadable
            && r.size == Some(*size)
            && r.mtime.as_deref() == Some(mtime.as_str()))
        .then_some(r)
    }

    fn append(&mut self, doc: &serde_json::Value) -> Result<()> {
        let mut line = serde_json::to_vec(doc)?;
        line.push(b'\n');
        // One write of the whole line to an O_APPEND file; flushed to disk too with
        // --fsync.
        self.file
            .write_all(&line)
            .with_context(|| format!("--report {}", self.name))?;
        if crate::io::fsync_enabled() {
            self.file
                .sync_data()
                .with_context(|| format!("--report {}", self.name))?;
        }
        Ok(())
    }
}

/// The record (and `--json` line) of a file that verified.
fn ok_json(name: &str, rep: &Report) -> serde_json::Value {
    let mut doc = json!({"schema": SCHEMA, "file": name, "ok": true, "verdict": "ok", "recovered": rep.recovered, "integrity": rep.level,
               "chunks": rep.chunks, "file_digest": rep.digest,
               "recovered_reason": rep.why,
               "signatures": signatures_json(&rep.signatures)});
    if rep.audited {
        doc["decrypted"] = json!(false);
        doc["verified_without_key"] = json!(true);
    } else {
        doc["duration"] = json!(format_time(rep.samples, rep.rate));
        doc["samples"] = json!(rep.samples);
        doc["sample_rate"] = json!(rep.rate);
    }
    if let Some(a) = &rep.audio_sha256 {
        doc["audio_sha256"] = json!(a);
    }
    if let Some((n, head, torn)) = &rep.segments {
        doc["segments"] = json!(n);
        doc["chain_head"] = json!(head);
        doc["incomplete_segment_at"] = json!(torn);
    }
    doc
}

/// The text line(s) of a file that verified.
fn ok_text(name: &str, rep: &Report) -> String {
    let signed_by: Vec<&str> = rep
        .signatures
        .iter()
        .filter(|c| c.valid && c.trusted)
        .map(|c| c.id.as_str())
        .collect();
    if rep.audited {
        let line = format!(
            "{name}: OK, signed by {} (verified without the key: contents not decrypted)  {}  {} chunks",
            signed_by.join(", "),
            rep.level,
            rep.chunks
        );
        return escape_controls(&line) + "\n";
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
    let mut line = format!(
        "{name}: {status}  {}  {}  {} chunks",
        format_time(rep.samples, rep.rate),
        rep.level,
        rep.chunks
    );
    if !signed_by.is_empty() {
        line.push_str(&format!("  signed by {}", signed_by.join(", ")));
    }
    if let Some(a) = &rep.audio_sha256 {
        line.push_str(&format!("  audio sha256 {a}"));
    }
    // The reason quotes an error message: shown escaped.
    let mut text = escape_controls(&line) + "\n";
    if let Some((n, head, _)) = &rep.segments {
        if *n > 0 {
            text += &escape_controls(&format!(
                "{name}: {n} annotation segments, chain head {head}"
            ));
            text += "\n";
        }
    }
    text
}

/// Sets its flag when dropped: the verifying threads stop, whichever way the printing
/// loop ends.
struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How many files the verifying threads may finish ahead of the one printed next.
const AHEAD: usize = 4096;

/// A progress bar of files on stderr, only when stderr is a terminal.
fn file_bar(total: usize, quiet: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if quiet || total < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "verify [{bar:30}] {pos}/{len} files {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    Some(bar)
}

pub fn run(
    files: &[PathBuf],
    json: bool,
    silent: bool,
    audio_hash: bool,
    key_args: &KeyArgs,
    batch: &Batch,
) -> Result<ExitCode> {
    use crate::reportfile::Verdict;
    let mut paths = files.to_vec();
    if let Some(list) = &batch.files_from {
        if crate::io::is_dash(list) && files.iter().any(|f| crate::io::is_dash(f)) {
            anyhow::bail!(
                "stdin (-) can be given only once (--files-from - reads the list from it)"
            );
        }
    }
    not_stdin_twice(files)?;
    let shard = super::shard::choose(batch.shard.as_deref(), batch.shard_count, |k| {
        std::env::var(k).ok()
    })?;
    let keys = load_keys(key_args)?;
    // Locked from here on, before the list is read.
    let mut report = batch.report.as_deref().map(ReportOut::open).transpose()?;
    if let Some(list) = &batch.files_from {
        paths.extend(files_from(list)?);
    }
    not_stdin_twice(&paths)?;
    let mut items = gather(&paths, batch.recursive);
    let all = items.len();
    if let Some((s, _)) = &shard {
        items.retain(|i| s.takes(&i.key));
    }
    if let Some((s, from)) = &shard {
        if !silent {
            note(format_args!(
                "sasf: shard {s} ({}): {} of {all} files",
                escape_controls(from),
                items.len()
            ));
        }
    }
    // What each item needs: its earlier record, or a check.
    let names: Vec<String> = items.iter().map(|i| shown(&i.path)).collect();
    let recorded: Vec<Option<crate::reportfile::Record>> = items
        .iter()
        .zip(&names)
        .map(|(it, n)| {
            report
                .as_ref()
                .and_then(|r| r.recorded(n, &it.ident))
                .cloned()
        })
        .collect();
    let todo: Vec<usize> = (0..items.len())
        .filter(|&i| recorded[i].is_none() && items[i].problem.is_none())
        .collect();
    let cores = threads();
    let workers = cores.min(todo.len()).max(1);
    // Files on every core; a file alone (or one of a few) on several.
    let inner = (cores / todo.len().max(1)).max(1);
    let bar = file_bar(items.len(), batch.quiet);
    let mut tally = Tally::default();
    let mut skipped = 0usize;
    // Written line by line; a closed stdout is an error that main turns into exit 0.
    let mut out = std::io::stdout().lock();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Report>)>();
    let stop = std::sync::atomic::AtomicBool::new(false);
    // Checked files printed so far (in `todo` order).
    let printed = std::sync::atomic::AtomicUsize::new(0);
    let result = std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (todo, items, keys, next, stop, printed) =
                (&todo, &items, &keys, &next, &stop, &printed);
            scope.spawn(move || loop {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = todo.get(k) else { return };
                // At most AHEAD results wait for a slow file before them to be
                // printed: memory stays bounded whatever the number of files.
                while k >= printed.load(std::sync::atomic::Ordering::Acquire) + AHEAD {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                let r = check(&items[i].path, keys, key_args, audio_hash, inner);
                if tx.send((i, r)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut ready = std::collections::BTreeMap::new();
        // On an error (a closed stdout, a full disk), the workers stop after their file.
        let _stop = StopOnDrop(&stop);
        for (i, item) in items.iter().enumerate() {
            let name = &names[i];
            let mut text = String::new();
            let verdict;
            let mut doc = None;
            if let Some(rec) = &recorded[i] {
                skipped += 1;
                verdict = rec.verdict;
                if json && verdict != Verdict::Ok {
                    text = format!("{}\n", rec.doc);
                } else if verdict != Verdict::Ok {
                    let msg = rec.doc["message"].as_str().unwrap_or("");
                    text = escape_controls(&format!(
                        "{name}: FAILED: {msg} (recorded in {})",
                        report.as_ref().map(|r| r.name.as_str()).unwrap_or("")
                    )) + "\n";
                }
            } else if let Some(p) = &item.problem {
                verdict = Verdict::Unreadable;
                doc = Some(failure_json(name, None, p, None));
                text = escape_controls(&format!("{name}: UNREADABLE: {p}")) + "\n";
            } else {
                let r = loop {
                    if let Some(r) = ready.remove(&i) {
                        break r;
                    }
                    match rx.recv() {
                        Ok((j, r)) => {
                            ready.insert(j, r);
                        }
                        Err(_) => anyhow::bail!("a verifying thread stopped"),
                    }
                };
                printed.fetch_add(1, std::sync::atomic::Ordering::Release);
                match r {
                    Ok(rep) => {
                        verdict = Verdict::Ok;
                        doc = Some(ok_json(name, &rep));
                        if !silent {
                            text = ok_text(name, &rep);
                        }
                        if let Some((_, _, Some(at))) = &rep.segments {
                            // The file verifies exactly as it did before the torn append.
                            note(format_args!(
                                "sasf: warning: {}: {}",
                                escape_controls(name),
                                super::history::torn_line(*at)
                            ));
                        }
                    }
                    Err(e) => {
                        let core = e.downcast_ref::<Error>();
                        let failed = core.is_some_and(|c| c.is_verification_failure());
                        verdict = if failed {
                            Verdict::Failed
                        } else {
                            Verdict::Unreadable
                        };
                        let msg = core
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| format!("{e:#}"));
                        let id = e.downcast_ref::<RecordingId>().map(|r| r.0.as_str());
                        doc = Some(failure_json(name, core, &msg, id));
                        let status = if failed { "FAILED" } else { "UNREADABLE" };
                        // A message may quote strings from the file: shown escaped.
                        text = escape_controls(&format!("{name}: {status}: {msg}")) + "\n";
                    }
                }
            }
            match verdict {
                Verdict::Ok => tally.ok += 1,
                Verdict::Failed => tally.failed += 1,
                Verdict::Unreadable => tally.unreadable += 1,
            }
            if let Some(mut doc) = doc {
                doc["verdict"] = json!(verdict.name());
                if let Some((size, mtime)) = &item.ident {
                    doc["size"] = json!(size);
                    doc["mtime"] = json!(mtime);
                }
                if let Some(r) = report.as_mut() {
                    r.append(&doc)?;
                }
                if json && !(silent && verdict == Verdict::Ok) {
                    text = format!("{doc}\n");
                }
            }
            if !text.is_empty() {
                match &bar {
                    Some(b) => b.suspend(|| out.write_all(text.as_bytes()))?,
                    None => out.write_all(text.as_bytes())?,
                }
            }
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
        Ok(())
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    result?;
    out.flush()?;
    let code = tally.exit_code();
    // On stderr, so that stdout (and --json) holds only the per-file lines.
    if !(silent && code == 0) {
        let mut s = tally.summary();
        if skipped > 0 {
            if let Some(r) = &report {
                s += &format!(" ({skipped} already in {})", r.name);
            }
        }
        note(format_args!("sasf: {}", escape_controls(&s)));
    }
    Ok(ExitCode::from(code))
}
