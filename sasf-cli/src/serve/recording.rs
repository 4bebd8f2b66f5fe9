//! One recording for the browser: opened by random access through its authenticated
//! index (or, when that fails, what a streaming read authenticated before the
//! damage), described as the JSON the recording page shows.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use sasf_core::crypto::hex;
use sasf_core::io::random::RandomAccess;
use sasf_core::io::segments::Segments;
use sasf_core::meta::annotation::Record;
use sasf_core::meta::{sample_to_ms, Event, EventKind, Metadata, Participant, RecordingInfo};
use sasf_core::{Decoder, Integrity, VerifyingKey};
use serde_json::{json, Value};

use super::auth::{Role, Who};
use super::App;
use crate::catalog::{normalize_address, normalize_name};
use crate::commands::history::{authenticated, op_summary};

/// What identifies a version of a file: size, modification time, inode, status
/// change time (as the catalog's stamp).
pub type Stamp = (u64, i64, u64, i64);

/// A recording opened by random access.
pub struct Opened {
    /// The reader; every range read authenticates the chunks it reads.
    pub ra: RandomAccess<File>,
    /// The version of the file it was opened on.
    pub stamp: Stamp,
}

/// Opens `rel` in the archive: with `openat2` beneath the archive's folder, following
/// no symbolic link on the way (Linux 5.6 and later; before, without following the
/// last component, and then checked by its real path); never blocking (a FIFO planted
/// in the archive is refused, not waited on); a regular file only.
pub fn open_file(app: &App, rel: &Path) -> Result<(File, Stamp)> {
    open_beneath(app, rel, false)
}

/// As [`open_file`], for reading and writing (an annotation's append).
pub fn open_file_rw(app: &App, rel: &Path) -> Result<File> {
    Ok(open_beneath(app, rel, true)?.0)
}

fn open_beneath(app: &App, rel: &Path, write: bool) -> Result<(File, Stamp)> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let access = if write { OFlags::RDWR } else { OFlags::RDONLY };
    let flags = access | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let beneath = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let f = match rustix::fs::openat2(&app.dir, rel, flags, Mode::empty(), beneath) {
        Ok(fd) => File::from(fd),
        Err(rustix::io::Errno::NOSYS) => {
            let path = app.archive.join(rel);
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(write)
                .custom_flags((OFlags::NONBLOCK | OFlags::NOFOLLOW).bits() as i32)
                .open(&path)
                .with_context(|| format!("cannot open {}", rel.display()))?;
            // A folder on the way replaced by a link to elsewhere is refused too.
            if !path.canonicalize()?.starts_with(&app.archive) {
                anyhow::bail!("{} leads outside the archive", rel.display());
            }
            f
        }
        Err(rustix::io::Errno::XDEV | rustix::io::Errno::LOOP) => {
            anyhow::bail!(
                "{} leads outside the archive or through a symbolic link",
                rel.display()
            )
        }
        Err(e) => {
            return Err(anyhow::Error::from(std::io::Error::from(e)))
                .with_context(|| format!("cannot open {}", rel.display()))
        }
    };
    let md = f.metadata()?;
    if !md.is_file() {
        anyhow::bail!("{} is not a regular file", rel.display());
    }
    Ok((
        f,
        (
            md.len(),
            md.mtime() * 1_000_000_000 + md.mtime_nsec(),
            md.ino(),
            md.ctime() * 1_000_000_000 + md.ctime_nsec(),
        ),
    ))
}

/// The verdict of a whole verification of this version of `rel` (every chunk read
/// and authenticated): the catalog's, when its row is authentic and for the file as
/// it is now, else `rel` is indexed again first. Random access alone authenticates
/// only the chunks it reads, so a page says "verified" only from this.
pub fn verdict(app: &App, rel: &Path, stamp: Stamp) -> Result<(String, Option<String>)> {
    use std::os::unix::ffi::OsStrExt;
    // The server indexes one file at a time (the catalog's lock is taken without
    // waiting: requests at once would get "busy" from each other); one that waited
    // finds the row the other wrote.
    let mut _one = None;
    for attempt in 0..3 {
        let row = {
            let db = app.db.lock().unwrap_or_else(|e| e.into_inner());
            let mut q = db.prepare_cached(&format!(
                "SELECT {} FROM rec WHERE path = ?1",
                crate::catalog::ROW_COLUMNS
            ))?;
            let mut rows = q.query_map(
                [rel.as_os_str().as_bytes()],
                crate::catalog::StoredRow::from_sql,
            )?;
            rows.next().transpose()?
        };
        if let Some(r) = row {
            let now = (r.size as u64, r.mtime_ns, r.ino as u64, r.ctime_ns);
            if r.authentic(app.ck.as_ref()) && now == stamp {
                return Ok((r.verdict, r.error));
            }
        }
        if attempt == 0 {
            _one = Some(app.reindex.lock().unwrap_or_else(|e| e.into_inner()));
        } else if attempt == 1 {
            crate::commands::index::index_one(
                &app.archive,
                rel,
                &app.key_args,
                &app.keys,
                app.ck.as_ref(),
            )?;
        }
    }
    anyhow::bail!(
        "{} changed while it was verified: load the page again",
        rel.display()
    )
}

/// Why a recording cannot be played.
#[derive(Debug, Clone)]
pub enum NotPlayable {
    /// It did not verify: the verdict and its error.
    Failed(String),
    /// It could not be checked now (another `sasf index` holds the catalog, the file
    /// changed while it was checked, …): try again.
    Busy(String),
}

impl std::fmt::Display for NotPlayable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotPlayable::Failed(e) | NotPlayable::Busy(e) => f.write_str(e),
        }
    }
}

/// The opened recording `rel` if it may be played: the whole of it verified and it is
/// authenticated, by the key or, for a keyless file (whose digests anyone can
/// compute), by a trusted signer's valid signature.
pub fn playable(app: &App, rel: &Path) -> std::result::Result<Arc<Mutex<Opened>>, NotPlayable> {
    let o = verified(app, rel)?;
    if !audio_authenticated(&o.lock().unwrap_or_else(|e| e.into_inner()).ra) {
        return Err(NotPlayable::Failed(KEYLESS.into()));
    }
    Ok(o)
}

const KEYLESS: &str = "a keyless file is not authenticated: anyone can write one, so it is \
                       not played unless a trusted signer (--signer) signed it";

/// Whether what a reader read is authenticated: under a key, or keyless and signed by
/// a trusted signer.
fn audio_authenticated(ra: &RandomAccess<File>) -> bool {
    ra.header().integrity != Integrity::Keyless
        || ra.signatures().iter().any(|s| s.valid && s.trusted)
}

/// The opened recording `rel` if the whole of it verified (ok or recovered), else why
/// not. The verdict is the one for the very version opened.
pub fn verified(app: &App, rel: &Path) -> std::result::Result<Arc<Mutex<Opened>>, NotPlayable> {
    let o = cached(app, rel).map_err(|e| NotPlayable::Failed(format!("{e:#}")))?;
    let stamp = o.lock().unwrap_or_else(|e| e.into_inner()).stamp;
    let (v, err) = verdict(app, rel, stamp).map_err(|e| NotPlayable::Busy(format!("{e:#}")))?;
    if v != "ok" && v != "recovered" {
        return Err(NotPlayable::Failed(format!(
            "it did not verify ({v}: {})",
            err.unwrap_or_default()
        )));
    }
    Ok(o)
}

/// Opens `rel` by random access (under the server's keys and policy).
pub fn open(app: &App, rel: &Path) -> Result<Opened> {
    let (f, stamp) = open_file(app, rel)?;
    let d = crate::io::policy(Decoder::new(f)?, &app.key_args, &app.keys)?;
    let ra = d.open_with(&app.keys.ring)?.into_random_access()?;
    Ok(Opened { ra, stamp })
}

/// The opened recording `rel`, from the cache while the file is unchanged.
pub fn cached(app: &App, rel: &Path) -> Result<Arc<Mutex<Opened>>> {
    let (_, stamp) = open_file(app, rel)?;
    {
        let cache = app.media.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, o)) = cache.get(rel) {
            if *s == stamp {
                return Ok(o.clone());
            }
        }
    }
    let opened = open(app, rel)?;
    let stamp = opened.stamp;
    let o = Arc::new(Mutex::new(opened));
    let mut cache = app.media.opened.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= super::media::MAX_OPEN {
        cache.clear();
    }
    cache.insert(rel.to_path_buf(), (stamp, o.clone()));
    Ok(o)
}

/// Whether an agent named as `names` (names or addresses) took part in a recording
/// of `people` as an agent: a customer of the same name, or a participant whose
/// per-recording id happens to match, does not make a recording theirs.
pub fn takes_part(names: &[String], people: &[Participant]) -> bool {
    let mine: Vec<(String, String)> = names
        .iter()
        .map(|n| (normalize_name(n), agent_address(n)))
        .filter(|(n, a)| !n.is_empty() && !a.is_empty())
        .collect();
    people
        .iter()
        .filter(|p| p.role == sasf_core::meta::Role::Agent)
        .any(|p| {
            let name = p.name.as_deref().map(normalize_name);
            let addr = p.address.as_deref().map(agent_address);
            mine.iter().any(|(n, a)| {
                name.as_deref() == Some(n.as_str()) || addr.as_deref() == Some(a.as_str())
            })
        })
}

/// An address as an agent's is matched: a SIP URI whole (`user@host`, lower case,
/// without parameters: extension 101 at one site is not 101 at another), a phone
/// number as E.164 when it has a country code, anything else as written (trimmed,
/// lower case).
pub fn agent_address(s: &str) -> String {
    let lower = s.trim().to_lowercase();
    for scheme in ["sips:", "sip:"] {
        if let Some(rest) = lower.strip_prefix(scheme) {
            return format!("sip:{}", rest.split(';').next().unwrap_or(rest));
        }
    }
    let n = normalize_address(&lower);
    if n.starts_with('+') {
        n
    } else {
        lower
    }
}

fn participants_json(ps: &[Participant]) -> Value {
    Value::Array(
        ps.iter()
            .map(|p| {
                json!({
                    "id": p.id, "name": p.name, "role": p.role.name(),
                    "address": p.address, "channels": p.channels,
                })
            })
            .collect(),
    )
}

/// The events as the timeline shows them: time, type, label (as `info` names it),
/// who, how long a region lasts (hold → resume, …), and whether DTMF was redacted.
fn events_json(
    info: &RecordingInfo,
    ps: &[Participant],
    events: &[Event],
    rate: u32,
    end: u64,
) -> Value {
    let meta = Metadata {
        recording: info.clone(),
        participants: ps.to_vec(),
        events: events.to_vec(),
        annotations: Vec::new(),
    };
    let markers = sasf_core::labels::timeline(&meta, end);
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.at_sample);
    Value::Array(
        sorted
            .iter()
            .zip(&markers)
            .map(|(e, m)| {
                json!({
                    "at_ms": sample_to_ms(e.at_sample, rate),
                    "at_sample": e.at_sample,
                    "type": e.kind.type_name(),
                    "label": m.label,
                    "participant": e.participant,
                    "length_ms": m.length.map(|l| sample_to_ms(l, rate)),
                    "redacted": matches!(e.kind, EventKind::Dtmf { digits: None }),
                })
            })
            .collect(),
    )
}

/// The annotation history and the state it gives.
fn history_json(level: Integrity, segs: &Segments, trusted: &[VerifyingKey]) -> Value {
    let list: Vec<Value> = segs
        .list
        .iter()
        .map(|s| match Record::from_json(&s.record) {
            Ok(r) => json!({
                "number": s.number,
                "at": r.at,
                "by": r.by,
                "ops": r.ops.iter().map(op_summary).collect::<Vec<_>>(),
                "note": r.note,
                "authenticated": authenticated(level, s, trusted),
                "signer": s.signature.as_ref().map(|g| g.signer_hex()),
            }),
            Err(e) => json!({"number": s.number, "error": e.to_string()}),
        })
        .collect();
    let state = match sasf_core::annotate::state(segs) {
        Ok(st) => st.to_json(),
        Err(e) => json!({"error": e.to_string()}),
    };
    json!({
        "segments": list,
        "state": state,
        "chain_head": hex(&segs.head),
        "incomplete_segment_at": segs.incomplete_at,
    })
}

/// The signing keys whose annotation segments count as authenticated in a keyless
/// file: the file signers given and the server's own.
fn trusted_annotators(app: &App) -> Vec<VerifyingKey> {
    let mut v = app.keys.signers.clone();
    if let Some(s) = &app.signer {
        v.push(s.verifying_key());
    }
    v
}

/// Why [`page_json`] gives no page.
#[derive(Debug)]
pub enum PageError {
    /// A refusal, for the caller to log: an agent who is not in the recording.
    Refused(String),
    /// The recording could not be checked now; the page can be asked for again.
    Busy(String),
}

const NOT_THEIRS: &str = "an agent sees only the recordings they took part in";

/// What the recording page shows of `rel`, for `who`.
pub fn page_json(app: &App, rel: &Path, who: &Who) -> std::result::Result<Value, PageError> {
    let refused = || PageError::Refused(NOT_THEIRS.into());
    let shown = rel.display().to_string();
    let can = |o: bool| json!(o);
    let rights = json!({
        "play": who.role.can_play(),
        "annotate": who.role.can_annotate(),
        "download": who.role.can_download(),
    });
    match verified(app, rel) {
        Ok(o) => {
            let o = o.lock().unwrap_or_else(|e| e.into_inner());
            let ra = &o.ra;
            let ps = ra.all_participants();
            if who.role == Role::Agent && !takes_part(&who.participants, ps) {
                return Err(refused());
            }
            let h = ra.header();
            let rate = h.format.sample_rate;
            let t = ra.totals();
            let sigs: Vec<Value> = ra
                .signatures()
                .iter()
                .map(|s| {
                    json!({"signer": s.id, "valid": s.valid, "trusted": s.trusted,
                           "signed_at": (s.signed_at_ms > 0).then(|| crate::io::utc_ms(s.signed_at_ms))})
                })
                .collect();
            // A keyless file's digests check, but anyone can make one: only a valid
            // signature by a trusted signer says who did.
            let signed = ra.signatures().iter().any(|s| s.valid && s.trusted);
            let playable = audio_authenticated(ra);
            let (verdict_word, detail) = match (h.integrity, t.recovered(), signed) {
                (Integrity::Keyless, _, false) => (
                    "keyless",
                    "every chunk's digest checks, but a keyless file is not authenticated: \
                     anyone can write one (no trusted signature), so it is not played",
                ),
                (_, true, _) => (
                    "recovered",
                    "recovered by `sasf recover`: everything in it is authenticated; the lost end is not",
                ),
                (Integrity::Keyless, false, true) => {
                    ("verified", "every chunk's digest checks and a trusted signer signed it")
                }
                _ => ("verified", "every chunk authenticated"),
            };
            Ok(json!({
                "path": shown,
                "id": ra.info().id,
                "started_at": ra.info().started_at.as_ref().map(|s| s.as_str().to_string()),
                "rate": rate,
                "channels": h.format.channels,
                "encoding": h.format.encoding.name(),
                "frames": t.samples,
                "duration_ms": sample_to_ms(t.samples, rate),
                "status": {
                    "verdict": verdict_word,
                    "integrity": h.integrity.name(),
                    "encrypted": h.integrity == Integrity::Encrypted,
                    "file_digest": hex(ra.file_digest()),
                    "signatures": sigs,
                    "playable": playable,
                    "detail": detail,
                },
                "participants": participants_json(ps),
                "events": events_json(ra.info(), ps, ra.all_events(), rate, t.samples),
                "history": history_json(h.integrity, ra.segments(), &trusted_annotators(app)),
                "can": rights,
                "forms": app.forms.iter().map(|f| serde_json::from_slice::<Value>(&f.to_json()).unwrap_or(Value::Null)).collect::<Vec<_>>(),
            }))
        }
        Err(NotPlayable::Busy(e)) => Err(PageError::Busy(e)),
        Err(NotPlayable::Failed(reason)) => {
            // What a streaming read authenticated before the damage; never audio.
            let mut doc = json!({
                "path": shown,
                "status": {"verdict": "failed", "detail": reason, "playable": false,
                           "signatures": []},
                "participants": [], "events": [], "history": null,
                "can": {"play": false, "annotate": false, "download": can(who.role.can_download())},
                "forms": [],
            });
            if let Ok((f, _)) = open_file(app, rel) {
                let opened = Decoder::new(BufReader::new(f))
                    .map_err(anyhow::Error::from)
                    .and_then(|d| crate::io::policy(d, &app.key_args, &app.keys))
                    .and_then(|d| Ok(d.open_with(&app.keys.ring)?));
                if let Ok(mut r) = opened {
                    let rate = r.header().format.sample_rate;
                    doc["rate"] = json!(rate);
                    doc["channels"] = json!(r.header().format.channels);
                    doc["status"]["integrity"] = json!(r.header().integrity.name());
                    let (meta, until) = match sasf_core::bridge::read_all_partial(
                        &mut r,
                        crate::commands::MAX_RECORDS,
                        |_| Ok(()),
                    ) {
                        Ok(c) => (c.metadata, None),
                        Err(b) => {
                            let (p, err) = *b;
                            doc["status"]["detail"] = json!(format!("{err}"));
                            (p.metadata, Some(r.samples()))
                        }
                    };
                    let ps = &meta.participants;
                    if who.role == Role::Agent && !takes_part(&who.participants, ps) {
                        return Err(refused());
                    }
                    let end = until.unwrap_or(0);
                    doc["id"] = json!(meta.recording.id);
                    doc["participants"] = participants_json(ps);
                    doc["events"] = events_json(&meta.recording, ps, &meta.events, rate, end);
                    doc["status"]["authenticated_ms"] = json!(sample_to_ms(end, rate));
                    doc["status"]["authenticated"] = json!(format!(
                        "the first {} s of audio and the metadata before the damage were authenticated; nothing is played",
                        sample_to_ms(end, rate) / 1000
                    ));
                } else if who.role == Role::Agent {
                    return Err(refused());
                }
            } else if who.role == Role::Agent {
                return Err(refused());
            }
            Ok(doc)
        }
    }
}

/// Names of participants per channel, from the channel map: `["Ann Agent", "Gina
/// Customer"]`; a channel nobody is mapped to is `channel N`.
pub fn channel_names(ps: &[Participant], channels: u16) -> Vec<String> {
    let mut by: HashMap<u16, Vec<String>> = HashMap::new();
    for p in ps {
        for &c in &p.channels {
            by.entry(c)
                .or_default()
                .push(p.name.clone().unwrap_or_else(|| p.id.clone()));
        }
    }
    (0..channels)
        .map(|c| match by.get(&c) {
            Some(v) => v.join(", "),
            None => format!("channel {}", c + 1),
        })
        .collect()
}
