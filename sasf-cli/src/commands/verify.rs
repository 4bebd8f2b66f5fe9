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

fn check(path: &std::path::Path, keys: &Keys, args: &KeyArgs, audio_hash: bool) -> Result<Report> {
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
            let a = audit(whole, &keys.signers, limits, threads())?;
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
    let mut r = super::open_sasf(path, keys, args)?;
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

pub fn run(
    files: &[PathBuf],
    json: bool,
    silent: bool,
    audio_hash: bool,
    key_args: &KeyArgs,
) -> Result<ExitCode> {
    not_stdin_twice(files)?;
    let keys = load_keys(key_args)?;
    let mut tally = Tally::default();
    // Written line by line; a closed stdout is an error that main turns into exit 0.
    let mut out = std::io::stdout().lock();
    for f in files {
        let name = shown(f);
        match check(f, &keys, key_args, audio_hash) {
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
                let signed_by: Vec<&str> = rep
                    .signatures
                    .iter()
                    .filter(|c| c.valid && c.trusted)
                    .map(|c| c.id.as_str())
                    .collect();
                if json {
                    let mut doc = json!({"schema": SCHEMA, "file": name, "ok": true, "recovered": rep.recovered, "integrity": rep.level,
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
                    writeln!(out, "{doc}")?;
                } else if rep.audited {
                    let line = format!(
                        "{name}: OK, signed by {} (verified without the key: contents not decrypted)  {}  {} chunks",
                        signed_by.join(", "),
                        rep.level,
                        rep.chunks
                    );
                    writeln!(out, "{}", escape_controls(&line))?;
                } else {
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
                    writeln!(out, "{}", escape_controls(&line))?;
                    if let Some((n, head, _)) = &rep.segments {
                        if *n > 0 {
                            writeln!(
                                out,
                                "{}",
                                escape_controls(&format!(
                                    "{name}: {n} annotation segments, chain head {head}"
                                ))
                            )?;
                        }
                    }
                }
                if let Some((_, _, Some(at))) = &rep.segments {
                    // The file verifies exactly as it did before the torn append.
                    note(format_args!(
                        "sasf: warning: {}: {}",
                        escape_controls(&name),
                        super::history::torn_line(*at)
                    ));
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
                    let id = e.downcast_ref::<RecordingId>().map(|r| r.0.as_str());
                    writeln!(out, "{}", failure_json(&name, core, &msg, id))?;
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
