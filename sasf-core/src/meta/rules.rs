//! The validation rules of `docs/FORMAT.md` §8: one function per record type, called
//! by the reader on every parsed record and by the writer on every record it is
//! given, so that a writer refuses at the call everything a reader would refuse.
//!
//! The JSON shape (types, `null`, unknown `type` names, roles) is checked while
//! parsing (`meta/mod.rs`); the typed model cannot express a wrong shape, except
//! through its `extra` maps, which is why each function refuses an `extra` member
//! that the record itself defines. Everything else lives here.

use serde_json::{Map, Value};

use super::json::{member_path, MAX_EXACT_INT};
use super::timestamp::parse_utc;
use super::{Annotation, Event, EventKind, Participant, RecordingInfo};
use crate::error::{Error, Result};

/// Longest id (participant, recording, channel-map entry, custom key, DTMF digits),
/// in bytes.
pub const MAX_ID_LEN: usize = 256;
/// Longest other SASF-defined string (name, address, label, reason, transfer ends),
/// in bytes.
pub const MAX_TEXT_LEN: usize = 4096;

/// The custom keys this specification defines in its reserved `sasf` namespace.
pub const RESERVED_KEYS: [&str; 4] = [
    "sasf.recovered",
    "sasf.merge",
    "sasf.redaction",
    "sasf.excerpt",
];

/// Who hands a record over. The `sasf.` custom-key namespace belongs to the library:
/// users (metadata documents, [`crate::Writer::add_event`]) may not use it; files,
/// and the library's own recover and merge code, may hold the keys it defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A user: reserved keys are refused.
    User,
    /// A stored file, or the library itself: defined reserved keys are checked.
    Library,
}

pub(crate) const INFO_MEMBERS: &[&str] = &["id", "started_at", "channels"];
pub(crate) const PART_MEMBERS: &[&str] = &["id", "name", "role", "address", "channels"];
/// Members no stored event or annotation may hold: the chunk carries the time.
pub(crate) const TIME_MEMBERS: [&str; 2] = ["at_ms", "at_sample"];

/// The members an event of this kind defines (its `extra` may hold any other name).
pub(crate) fn event_members(kind: &EventKind) -> Vec<&'static str> {
    let mut m = vec!["type", "participant", "at_ms", "at_sample"];
    m.extend_from_slice(match kind {
        EventKind::Conference { .. } => &["participants"][..],
        EventKind::Transfer { .. } => &["mode", "from", "to"],
        EventKind::Dtmf { .. } => &["digits", "redacted"],
        EventKind::Marker { .. } => &["label"],
        EventKind::Disconnect { .. } => &["reason"],
        EventKind::Custom { .. } => &["key", "value"],
        _ => &[],
    });
    m
}

/// The path of member `name` below `path` (`path` empty: the document's top level).
pub(crate) fn sub(path: &str, name: &str) -> String {
    match member_path(name) {
        m if path.is_empty() && m.starts_with('.') => m[1..].to_string(),
        m => format!("{path}{m}"),
    }
}

/// `extra` must not hold a member the record defines: it would replace (or duplicate)
/// the typed value when the record is written.
fn extra_free(extra: &Map<String, Value>, members: &[&str], path: &str) -> Result<()> {
    match members.iter().find(|m| extra.contains_key(**m)) {
        Some(m) => Err(Error::metadata(
            sub(path, m),
            format!("{m:?} is a member SASF defines; it cannot be an extra field here"),
        )),
        None => Ok(()),
    }
}

pub(crate) fn check_id(s: &str, path: &str) -> Result<()> {
    if s.is_empty() || s.len() > MAX_ID_LEN {
        return Err(Error::metadata(
            path,
            format!("an id is 1 to {MAX_ID_LEN} bytes"),
        ));
    }
    Ok(())
}

pub(crate) fn check_text(s: &str, path: &str) -> Result<()> {
    if s.len() > MAX_TEXT_LEN {
        return Err(Error::metadata(
            path,
            format!("longer than {MAX_TEXT_LEN} bytes"),
        ));
    }
    Ok(())
}

pub(crate) fn check_timestamp(s: &str, path: &str) -> Result<()> {
    parse_utc(s)
        .map(|_| ())
        .map_err(|e| Error::metadata(path, e))
}

/// The INFO record. `channels` is the audio's channel count; `started` is the text of
/// `started_at` when it comes from a document, checked here in the order of the other
/// members (a typed [`RecordingInfo`] holds only a valid one, so the writer passes
/// `None`).
pub(crate) fn check_info(
    i: &RecordingInfo,
    started: Option<&str>,
    channels: u16,
    path: &str,
) -> Result<()> {
    extra_free(&i.extra, INFO_MEMBERS, path)?;
    if let Some(id) = &i.id {
        check_id(id, &sub(path, "id"))?;
    }
    if let Some(s) = started {
        check_timestamp(s, &sub(path, "started_at"))?;
    }
    // The tenant (§9.3, for context binding) is kept among the extra members but is a
    // member this format defines: an id-sized string, never null.
    match i.extra.get("tenant") {
        None => {}
        Some(Value::Null) => return Err(null_member(&sub(path, "tenant"))),
        Some(Value::String(t)) => check_id(t, &sub(path, "tenant"))?,
        Some(_) => {
            return Err(Error::metadata(
                sub(path, "tenant"),
                "the tenant is a string",
            ))
        }
    }
    // An empty map is the absent map (the writer omits it).
    if !i.channels.is_empty() && i.channels.len() != channels as usize {
        return Err(Error::metadata(
            sub(path, "channels"),
            format!(
                "the channel map has {} entries but the audio has {channels} channels",
                i.channels.len()
            ),
        ));
    }
    for (c, name) in i.channels.iter().enumerate() {
        check_id(name, &format!("{}[{c}]", sub(path, "channels")))?;
    }
    Ok(())
}

/// A PART record. `declared` says whether an id is already declared in the stream.
pub(crate) fn check_participant(
    p: &Participant,
    channels: u16,
    declared: &dyn Fn(&str) -> bool,
    path: &str,
) -> Result<()> {
    extra_free(&p.extra, PART_MEMBERS, path)?;
    check_id(&p.id, &sub(path, "id"))?;
    if declared(&p.id) {
        return Err(Error::metadata(
            sub(path, "id"),
            format!("duplicate participant id {:?}", p.id),
        ));
    }
    if let Some(n) = &p.name {
        check_text(n, &sub(path, "name"))?;
    }
    if let Some(a) = &p.address {
        check_text(a, &sub(path, "address"))?;
    }
    for (i, &c) in p.channels.iter().enumerate() {
        let at = format!("{}[{i}]", sub(path, "channels"));
        if c >= channels {
            return Err(Error::metadata(
                at,
                format!("channel {c} is out of range (the audio has {channels} channels)"),
            ));
        }
        if p.channels[..i].contains(&c) {
            return Err(Error::metadata(at, format!("channel {c} is listed twice")));
        }
    }
    Ok(())
}

/// An EVNT record. `declared` says whether a participant id is declared at this point
/// of the stream (`None`: references are not checked).
pub(crate) fn check_event(
    e: &Event,
    declared: Option<&dyn Fn(&str) -> bool>,
    origin: Origin,
    path: &str,
) -> Result<()> {
    extra_free(&e.extra, &event_members(&e.kind), path)?;
    let refer = |id: &str, at: String| match declared {
        Some(known) if !known(id) => Err(Error::metadata(
            at,
            format!("unknown participant {id:?} (not declared at or before this point)"),
        )),
        _ => Ok(()),
    };
    match &e.participant {
        Some(p) => refer(p, sub(path, "participant"))?,
        None if e.kind.needs_participant() => {
            return Err(Error::metadata(
                sub(path, "participant"),
                format!("a {} event needs a participant", e.kind.type_name()),
            ))
        }
        None => {}
    }
    match &e.kind {
        EventKind::Conference { participants } => {
            for (i, p) in participants.iter().enumerate() {
                refer(p, format!("{}[{i}]", sub(path, "participants")))?;
            }
        }
        EventKind::Transfer { from, to, .. } => {
            if let Some(f) = from {
                check_text(f, &sub(path, "from"))?;
            }
            if to.is_empty() {
                return Err(Error::metadata(sub(path, "to"), "must not be empty"));
            }
            check_text(to, &sub(path, "to"))?;
        }
        EventKind::Dtmf { digits: Some(d) } => {
            let ok = !d.is_empty()
                && d.len() <= MAX_ID_LEN
                && d.bytes()
                    .all(|c| c.is_ascii_digit() || b"*#ABCDabcd".contains(&c));
            if !ok {
                return Err(Error::metadata(
                    sub(path, "digits"),
                    format!("DTMF digits are 1 to {MAX_ID_LEN} of 0-9, *, #, A-D"),
                ));
            }
        }
        EventKind::Marker { label } => check_text(label, &sub(path, "label"))?,
        EventKind::Disconnect { reason } => check_text(reason, &sub(path, "reason"))?,
        EventKind::Custom { key, value } => check_custom(key, value, e.at_sample, origin, path)?,
        _ => {}
    }
    Ok(())
}

fn check_custom(key: &str, value: &Value, at: u64, origin: Origin, path: &str) -> Result<()> {
    let key_at = sub(path, "key");
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(Error::metadata(
            key_at,
            format!("custom key {key:?} must be namespaced, like \"crm.case\""),
        ));
    }
    check_id(key, &key_at)?;
    if parts[0] != "sasf" {
        return Ok(());
    }
    if origin == Origin::User {
        return Err(Error::metadata(
            key_at,
            format!("{key:?}: the \"sasf\" namespace is reserved for the library's own events"),
        ));
    }
    let Some(members) = reserved_members(key) else {
        return Err(Error::metadata(
            key_at,
            format!(
                "{key:?} is not a key this version defines ({})",
                RESERVED_KEYS.join(", ")
            ),
        ));
    };
    let vpath = sub(path, "value");
    check_reserved_value(key, members, value, &vpath)?;
    match key {
        "sasf.redaction" => check_redaction(value, &vpath),
        "sasf.excerpt" if at != 0 => Err(Error::metadata(
            key_at,
            format!("a sasf.excerpt event is at frame 0, not {at}"),
        )),
        "sasf.excerpt" => check_excerpt(value, &vpath),
        _ => Ok(()),
    }
}

/// The redaction modes of a `sasf.redaction` event (`docs/FORMAT.md` §9.5.2).
pub const REDACTION_MODES: [&str; 3] = ["silence", "beep", "omit"];

/// `from_sample < to_sample <= source_samples`, the rule of both provenance records.
fn check_span(o: &Map<String, Value>, path: &str) -> Result<(u64, u64)> {
    let n = |k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (from, to, total) = (n("from_sample"), n("to_sample"), n("source_samples"));
    if from >= to {
        return Err(Error::metadata(
            sub(path, "to_sample"),
            format!("the range ends at frame {to}, not after its start {from}"),
        ));
    }
    if to > total {
        return Err(Error::metadata(
            sub(path, "to_sample"),
            format!("the range ends at frame {to}, past the source's {total} frames"),
        ));
    }
    Ok((from, to))
}

/// The members of `sasf.redaction` beyond their types (`docs/FORMAT.md` §9.5.2).
fn check_redaction(v: &Value, path: &str) -> Result<()> {
    let o = v.as_object().expect("checked by check_reserved_value");
    let (from, to) = check_span(o, path)?;
    let mode = o["mode"].as_str().unwrap_or_default();
    if !REDACTION_MODES.contains(&mode) {
        return Err(Error::metadata(
            sub(path, "mode"),
            format!("unknown redaction mode {mode:?} (silence, beep or omit)"),
        ));
    }
    for m in ["reason", "by"] {
        if o[m].as_str().is_some_and(str::is_empty) {
            return Err(Error::metadata(sub(path, m), "must not be empty"));
        }
    }
    let Some(dropped) = o.get("dropped_events") else {
        return Ok(());
    };
    let at = sub(path, "dropped_events");
    if mode != "omit" {
        return Err(Error::metadata(
            at,
            "only an omitted range drops events (mode \"omit\")",
        ));
    }
    for (i, e) in dropped.as_array().into_iter().flatten().enumerate() {
        let p = format!("{at}[{i}]");
        let e = e
            .as_object()
            .ok_or_else(|| Error::metadata(&p, "expected an event object"))?;
        match e.get("type") {
            Some(Value::String(t)) => check_id(t, &sub(&p, "type"))?,
            _ => {
                return Err(Error::metadata(
                    sub(&p, "type"),
                    "missing (a string is required)",
                ))
            }
        }
        let t = match e.get("at_sample") {
            Some(t) => exact_uint(t, &sub(&p, "at_sample"))?,
            None => return Err(Error::metadata(sub(&p, "at_sample"), "missing")),
        };
        if !(from..to).contains(&t) {
            return Err(Error::metadata(
                sub(&p, "at_sample"),
                format!("a dropped event lies inside the range [{from}, {to}), not at {t}"),
            ));
        }
        // A dropped DTMF event is listed redacted, like one that was kept.
        if e.get("type") == Some(&Value::String("dtmf".into())) && e.contains_key("digits") {
            return Err(Error::metadata(
                sub(&p, "digits"),
                "a DTMF event in a redacted range is listed without its digits",
            ));
        }
    }
    Ok(())
}

/// The members of `sasf.excerpt` beyond their types (`docs/FORMAT.md` §9.5.3).
fn check_excerpt(v: &Value, path: &str) -> Result<()> {
    let o = v.as_object().expect("checked by check_reserved_value");
    check_span(o, path)?;
    let at = sub(path, "state");
    let state = o["state"]
        .as_object()
        .expect("checked by check_reserved_value");
    for m in ["joined", "on_hold", "muted"] {
        let p = sub(&at, m);
        match state.get(m) {
            Some(Value::Array(ids)) => {
                for (i, id) in ids.iter().enumerate() {
                    let q = format!("{p}[{i}]");
                    check_id(
                        id.as_str()
                            .ok_or_else(|| Error::metadata(&q, "expected a participant id"))?,
                        &q,
                    )?;
                }
            }
            Some(Value::Null) => return Err(null_member(&p)),
            _ => return Err(Error::metadata(p, "missing (an array of participant ids)")),
        }
    }
    match state.get("paused") {
        Some(Value::Bool(_)) => Ok(()),
        Some(Value::Null) => Err(null_member(&sub(&at, "paused"))),
        _ => Err(Error::metadata(
            sub(&at, "paused"),
            "expected true or false",
        )),
    }
}

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Time,
    /// 64 lower-case hex digits (a SHA-256 value).
    Hex,
    Array,
    Object,
}

/// The members of the reserved values (`docs/FORMAT.md` §8.3, §15): name, type,
/// required. Other members are allowed and kept; a defined one is never `null`.
fn reserved_members(key: &str) -> Option<&'static [(&'static str, Ty, bool)]> {
    Some(match key {
        "sasf.recovered" => &[
            ("after_chunk", Ty::Int, false),
            ("at_sample", Ty::Int, true),
            ("original_bytes", Ty::Int, true),
            ("reason", Ty::Str, true),
            ("message", Ty::Str, false),
            ("metadata_dropped", Ty::Int, false),
        ],
        "sasf.merge" => &[
            ("adhoc", Ty::Str, true),
            ("adhoc_started_at", Ty::Time, true),
            ("snippet", Ty::Str, true),
            ("snippet_started_at", Ty::Time, true),
            ("snippet_id", Ty::Str, false),
            ("adhoc_samples", Ty::Int, true),
            ("adhoc_samples_dropped", Ty::Int, false),
            ("start_moved_samples", Ty::Int, false),
        ],
        "sasf.redaction" => &[
            ("from_sample", Ty::Int, true),
            ("to_sample", Ty::Int, true),
            ("mode", Ty::Str, true),
            ("reason", Ty::Str, true),
            ("by", Ty::Str, true),
            ("at", Ty::Time, false),
            ("source_id", Ty::Str, false),
            ("source_file_digest", Ty::Hex, true),
            ("source_manifest", Ty::Hex, true),
            ("source_samples", Ty::Int, true),
            ("dtmf_redacted", Ty::Int, false),
            ("dropped_events", Ty::Array, false),
        ],
        "sasf.excerpt" => &[
            ("source_id", Ty::Str, false),
            ("source_file_digest", Ty::Hex, true),
            ("source_manifest", Ty::Hex, true),
            ("source_samples", Ty::Int, true),
            ("source_started_at", Ty::Time, false),
            ("from_sample", Ty::Int, true),
            ("to_sample", Ty::Int, true),
            ("state", Ty::Object, true),
            ("previous", Ty::Object, false),
        ],
        _ => return None,
    })
}

fn check_reserved_value(
    key: &str,
    members: &[(&str, Ty, bool)],
    value: &Value,
    path: &str,
) -> Result<()> {
    let o = value
        .as_object()
        .ok_or_else(|| Error::metadata(path, format!("the value of {key} is an object")))?;
    for &(name, ty, required) in members {
        let at = sub(path, name);
        match o.get(name) {
            None if required => return Err(Error::metadata(at, "missing")),
            None => {}
            Some(Value::Null) => return Err(null_member(&at)),
            Some(v) => match ty {
                Ty::Str => {
                    let s = v
                        .as_str()
                        .ok_or_else(|| Error::metadata(&at, "expected a string"))?;
                    check_text(s, &at)?;
                }
                Ty::Time => {
                    let s = v
                        .as_str()
                        .ok_or_else(|| Error::metadata(&at, "expected a string"))?;
                    check_timestamp(s, &at)?;
                }
                Ty::Int => {
                    exact_uint(v, &at)?;
                }
                Ty::Hex => {
                    if !v.as_str().is_some_and(|s| {
                        s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
                    }) {
                        return Err(Error::metadata(&at, "expected 64 lower-case hex digits"));
                    }
                }
                Ty::Array if !v.is_array() => {
                    return Err(Error::metadata(&at, "expected an array"))
                }
                Ty::Object if !v.is_object() => {
                    return Err(Error::metadata(&at, "expected an object"))
                }
                Ty::Array | Ty::Object => {}
            },
        }
    }
    Ok(())
}

/// The refusal of a `null` for a member SASF defines.
pub(crate) fn null_member(path: &str) -> Error {
    Error::metadata(path, "null is not allowed: omit the member")
}

/// A SASF-defined integer: non-negative and at most 2^53.
pub(crate) fn exact_uint(v: &Value, path: &str) -> Result<u64> {
    match v.as_u64() {
        Some(u) if u <= MAX_EXACT_INT => Ok(u),
        Some(_) => Err(Error::metadata(
            path,
            format!("larger than 2^53 ({MAX_EXACT_INT}), the exact range of binary64"),
        )),
        None if v.as_i64().is_some_and(|i| i < 0) || v.as_f64().is_some_and(|f| f < 0.0) => Err(
            Error::metadata(path, "negative (a non-negative integer is required)"),
        ),
        None => Err(Error::metadata(path, "expected a non-negative integer")),
    }
}

/// An ANNO record.
pub(crate) fn check_annotation(a: &Annotation, path: &str) -> Result<()> {
    let f = &a.fields;
    if let Some(m) = TIME_MEMBERS.iter().find(|m| f.contains_key(**m)) {
        return Err(Error::metadata(
            sub(path, m),
            "an annotation record holds no time (the chunk carries it)",
        ));
    }
    let at = sub(path, "kind");
    match f.get("kind") {
        None => return Err(Error::metadata(at, "missing (a string is required)")),
        Some(Value::Null) => return Err(null_member(&at)),
        Some(Value::String(k)) => check_id(k, &at)?,
        Some(_) => return Err(Error::metadata(at, "expected a string")),
    }
    // The members §8.4 defines for appended annotation sets.
    match f.get("by") {
        Some(Value::Null) => return Err(null_member(&sub(path, "by"))),
        Some(Value::String(s)) => check_text(s, &sub(path, "by"))?,
        Some(_) => return Err(Error::metadata(sub(path, "by"), "expected a string")),
        None => {}
    }
    match f.get("at") {
        Some(Value::Null) => return Err(null_member(&sub(path, "at"))),
        Some(Value::String(s)) => check_timestamp(s, &sub(path, "at"))?,
        Some(_) => return Err(Error::metadata(sub(path, "at"), "expected a string")),
        None => {}
    }
    match f.get("prev_manifest") {
        Some(Value::Null) => return Err(null_member(&sub(path, "prev_manifest"))),
        Some(Value::String(s))
            if s.len() == 64 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) => {}
        Some(_) => {
            return Err(Error::metadata(
                sub(path, "prev_manifest"),
                "expected 64 lower-case hex digits",
            ))
        }
        None => {}
    }
    Ok(())
}
