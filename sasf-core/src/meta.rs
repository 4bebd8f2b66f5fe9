//! The metadata model: recording information, participants, events and annotations,
//! and their JSON form (see `docs/FORMAT.md`, "Metadata payloads").
//!
//! Parsing is done by hand over `serde_json::Value` so that every refusal names the
//! JSON path of the offending value, e.g. `events[3].participant`.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::audio::AudioFormat;
use crate::error::{Error, Result};

/// Default cap on the size of one metadata document or payload (1 MiB).
pub const DEFAULT_MAX_JSON_LEN: usize = 1024 * 1024;
/// Default cap on JSON nesting depth.
pub const DEFAULT_MAX_JSON_DEPTH: usize = 32;

/// Converts milliseconds to a sample position: `floor((ms * rate + 500) / 1000)`,
/// i.e. rounded to the nearest sample, halves up.
pub fn ms_to_sample(ms: u64, rate: u32) -> u64 {
    ((ms as u128 * rate as u128 + 500) / 1000) as u64
}

/// Converts a sample position to milliseconds: `floor((sample * 1000 + rate / 2) / rate)`.
/// For rates of 1000 Hz and above, `sample_to_ms(ms_to_sample(ms, r), r) == ms`.
pub fn sample_to_ms(sample: u64, rate: u32) -> u64 {
    ((sample as u128 * 1000 + rate as u128 / 2) / rate.max(1) as u128) as u64
}

/// Checks size and nesting depth of JSON text before it is parsed.
/// On failure returns what was exceeded, the value found and the limit.
pub fn check_json_limits(
    text: &[u8],
    max_len: usize,
    max_depth: usize,
) -> std::result::Result<(), (&'static str, u64, u64)> {
    if text.len() > max_len {
        return Err(("JSON length in bytes", text.len() as u64, max_len as u64));
    }
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &c in text {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(("JSON nesting depth", depth as u64, max_depth as u64));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses a JSON document a user supplies (metadata, an action list), refusing it past
/// the default size and depth limits before parsing; errors name the path `$`.
pub fn parse_document(text: &str) -> Result<Value> {
    check_json_limits(
        text.as_bytes(),
        DEFAULT_MAX_JSON_LEN,
        DEFAULT_MAX_JSON_DEPTH,
    )
    .map_err(|(what, found, limit)| {
        Error::metadata("$", format!("{what} is {found}, over the limit of {limit}"))
    })?;
    serde_json::from_str(text).map_err(|e| {
        Error::metadata(
            "$",
            format!(
                "malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Parses a metadata chunk's payload under a reader's limits: too large or too deep is
/// `limit-exceeded`, not JSON is `malformed`, both at `place`.
pub(crate) fn parse_payload(
    payload: &[u8],
    max_len: usize,
    max_depth: usize,
    place: crate::error::Place,
) -> Result<Value> {
    check_json_limits(payload, max_len, max_depth).map_err(|(what, found, limit)| {
        Error::new(crate::error::ErrorKind::LimitExceeded {
            what,
            found,
            limit,
            place,
        })
    })?;
    serde_json::from_slice(payload)
        .map_err(|e| Error::malformed(format!("metadata is not valid JSON: {e}"), place))
}

/// A participant's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A contact-center agent.
    Agent,
    /// The customer.
    Customer,
    /// A supervisor (monitoring, barge-in).
    Supervisor,
    /// An interactive voice response system.
    Ivr,
    /// The recording system itself.
    System,
    /// Anyone else.
    Other,
}

impl Role {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Customer => "customer",
            Role::Supervisor => "supervisor",
            Role::Ivr => "ivr",
            Role::System => "system",
            Role::Other => "other",
        }
    }
    /// The role for a JSON name.
    pub fn from_name(s: &str) -> Option<Role> {
        [
            Role::Agent,
            Role::Customer,
            Role::Supervisor,
            Role::Ivr,
            Role::System,
            Role::Other,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
}

/// Recording-wide information, carried by the INFO chunk.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordingInfo {
    /// Recording id from the recording system.
    pub id: Option<String>,
    /// UTC start anchor, RFC 3339 (the time of sample 0).
    pub started_at: Option<String>,
    /// Channel map: for each channel, the participant id or role it carries.
    pub channels: Vec<String>,
    /// Any other fields, kept as given.
    pub extra: Map<String, Value>,
}

/// A participant, carried by a PART chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    /// Unique id within the recording.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Role.
    pub role: Role,
    /// Phone number or SIP URI.
    pub address: Option<String>,
    /// Audio channels carrying this participant's voice.
    pub channels: Vec<u16>,
    /// Any other fields, kept as given.
    pub extra: Map<String, Value>,
}

/// Kind of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMode {
    /// Blind (unattended) transfer.
    Blind,
    /// Consult (attended) transfer.
    Consult,
}

/// What happened, with its type-specific data.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A participant joined.
    Join,
    /// A participant left.
    Leave,
    /// Put on hold.
    Hold,
    /// Taken off hold.
    Resume,
    /// Muted.
    Mute,
    /// Unmuted.
    Unmute,
    /// A conference formed, optionally listing who is in it.
    Conference {
        /// Participant ids in the conference.
        participants: Vec<String>,
    },
    /// A transfer.
    Transfer {
        /// Blind or consult.
        mode: TransferMode,
        /// From whom (participant id or address).
        from: Option<String>,
        /// To whom (participant id or address).
        to: String,
    },
    /// DTMF digits; `None` when redacted (no digits are stored).
    Dtmf {
        /// The digits, or `None` if redacted.
        digits: Option<String>,
    },
    /// Recording paused (secure pause): the audio that follows is silence by policy.
    Pause,
    /// Recording resumed after a secure pause.
    Unpause,
    /// A snippet recording started.
    SnippetStart,
    /// A snippet recording stopped.
    SnippetStop,
    /// An ad hoc recording started.
    AdhocStart,
    /// An ad hoc recording stopped.
    AdhocStop,
    /// A marker with a label.
    Marker {
        /// The label.
        label: String,
    },
    /// The call was disconnected.
    Disconnect {
        /// Why.
        reason: String,
    },
    /// A namespaced custom event.
    Custom {
        /// Namespaced key, e.g. `crm.case`.
        key: String,
        /// Any JSON value.
        value: Value,
    },
}

impl EventKind {
    /// The JSON `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::Hold => "hold",
            EventKind::Resume => "resume",
            EventKind::Mute => "mute",
            EventKind::Unmute => "unmute",
            EventKind::Conference { .. } => "conference",
            EventKind::Transfer { .. } => "transfer",
            EventKind::Dtmf { .. } => "dtmf",
            EventKind::Pause => "pause",
            EventKind::Unpause => "unpause",
            EventKind::SnippetStart => "snippet_start",
            EventKind::SnippetStop => "snippet_stop",
            EventKind::AdhocStart => "adhoc_start",
            EventKind::AdhocStop => "adhoc_stop",
            EventKind::Marker { .. } => "marker",
            EventKind::Disconnect { .. } => "disconnect",
            EventKind::Custom { .. } => "custom",
        }
    }

    fn needs_participant(&self) -> bool {
        matches!(
            self,
            EventKind::Join
                | EventKind::Leave
                | EventKind::Hold
                | EventKind::Resume
                | EventKind::Mute
                | EventKind::Unmute
        )
    }
}

/// An event on the recording's timeline, carried by an EVNT chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Sample position (frames from the start of the recording).
    pub at_sample: u64,
    /// The participant the event concerns, if any.
    pub participant: Option<String>,
    /// What happened.
    pub kind: EventKind,
    /// Any other fields, kept as given.
    pub extra: Map<String, Value>,
}

/// An annotation (tag, attribute, questionnaire answer, retention or access label),
/// carried by an ANNO chunk. Its JSON object must have a string `kind`.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Sample position the annotation is attached to.
    pub at_sample: u64,
    /// The annotation object (with at least `kind`).
    pub fields: Map<String, Value>,
}

/// A whole metadata document: what `pack --meta` reads and `extract --meta` writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    /// Recording information.
    pub recording: RecordingInfo,
    /// Participants.
    pub participants: Vec<Participant>,
    /// Events, in timeline order.
    pub events: Vec<Event>,
    /// Annotations, in timeline order.
    pub annotations: Vec<Annotation>,
}

// ---------- JSON helpers ----------

fn want_obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::metadata(path, "expected an object"))
}

fn opt_str(o: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::metadata(
            format!("{path}.{key}"),
            "expected a string",
        )),
    }
}

fn req_str(o: &Map<String, Value>, key: &str, path: &str) -> Result<String> {
    opt_str(o, key, path)?
        .ok_or_else(|| Error::metadata(format!("{path}.{key}"), "missing (a string is required)"))
}

fn opt_u64(o: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Ok(Some(u))
            } else if n.as_i64().is_some_and(|i| i < 0) || n.as_f64().is_some_and(|f| f < 0.0) {
                Err(Error::metadata(format!("{path}.{key}"), "negative time"))
            } else {
                Err(Error::metadata(
                    format!("{path}.{key}"),
                    "expected a non-negative integer",
                ))
            }
        }
        Some(_) => Err(Error::metadata(
            format!("{path}.{key}"),
            "expected a non-negative integer",
        )),
    }
}

fn rest(o: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    o.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn check_id(s: &str, path: &str) -> Result<()> {
    if s.is_empty() || s.len() > 256 {
        return Err(Error::metadata(path, "an id is 1 to 256 bytes"));
    }
    Ok(())
}

fn is_namespaced(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|p| !p.is_empty())
}

// ---------- RecordingInfo ----------

impl RecordingInfo {
    /// Parses and validates the `recording` object. `channels` is the audio's channel count.
    pub fn from_json(v: &Value, path: &str, channels: u16) -> Result<RecordingInfo> {
        let o = want_obj(v, path)?;
        let id = opt_str(o, "id", path)?;
        let started_at = opt_str(o, "started_at", path)?;
        if let Some(s) = &started_at {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    Error::metadata(
                        format!("{path}.started_at"),
                        format!("{s:?} is not an RFC 3339 date-time"),
                    )
                })?;
        }
        let mut chans = Vec::new();
        match o.get("channels") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for (i, c) in a.iter().enumerate() {
                    chans.push(
                        c.as_str()
                            .ok_or_else(|| {
                                Error::metadata(
                                    format!("{path}.channels[{i}]"),
                                    "expected a string",
                                )
                            })?
                            .to_string(),
                    );
                }
                if chans.len() != channels as usize {
                    return Err(Error::metadata(
                        format!("{path}.channels"),
                        format!(
                            "the channel map has {} entries but the audio has {channels} channels",
                            chans.len()
                        ),
                    ));
                }
            }
            Some(_) => {
                return Err(Error::metadata(
                    format!("{path}.channels"),
                    "expected an array of strings",
                ))
            }
        }
        Ok(RecordingInfo {
            id,
            started_at,
            channels: chans,
            extra: rest(o, &["id", "started_at", "channels"]),
        })
    }

    /// The JSON object.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(id) = &self.id {
            o.insert("id".into(), id.clone().into());
        }
        if let Some(s) = &self.started_at {
            o.insert("started_at".into(), s.clone().into());
        }
        if !self.channels.is_empty() {
            o.insert("channels".into(), self.channels.clone().into());
        }
        o.extend(self.extra.clone());
        Value::Object(o)
    }

    /// The start anchor as a UTC date-time, if present and valid.
    pub fn started_at_utc(&self) -> Option<time::OffsetDateTime> {
        let s = self.started_at.as_deref()?;
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    }
}

// ---------- Participant ----------

impl Participant {
    /// Parses and validates one participant object.
    pub fn from_json(v: &Value, path: &str, channels: u16) -> Result<Participant> {
        let o = want_obj(v, path)?;
        let id = req_str(o, "id", path)?;
        check_id(&id, &format!("{path}.id"))?;
        let role_s = req_str(o, "role", path)?;
        let role = Role::from_name(&role_s).ok_or_else(|| {
            Error::metadata(
                format!("{path}.role"),
                format!(
                    "unknown role {role_s:?} (agent, customer, supervisor, ivr, system or other)"
                ),
            )
        })?;
        let mut chans = Vec::new();
        match o.get("channels") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for (i, c) in a.iter().enumerate() {
                    let p = format!("{path}.channels[{i}]");
                    let n = c
                        .as_u64()
                        .ok_or_else(|| Error::metadata(&p, "expected a channel index"))?;
                    if n >= channels as u64 {
                        return Err(Error::metadata(
                            &p,
                            format!(
                                "channel {n} is out of range (the audio has {channels} channels)"
                            ),
                        ));
                    }
                    chans.push(n as u16);
                }
            }
            Some(_) => {
                return Err(Error::metadata(
                    format!("{path}.channels"),
                    "expected an array of channel indexes",
                ))
            }
        }
        Ok(Participant {
            id,
            name: opt_str(o, "name", path)?,
            role,
            address: opt_str(o, "address", path)?,
            channels: chans,
            extra: rest(o, &["id", "name", "role", "address", "channels"]),
        })
    }

    /// The JSON object.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), self.id.clone().into());
        if let Some(n) = &self.name {
            o.insert("name".into(), n.clone().into());
        }
        o.insert("role".into(), self.role.name().into());
        if let Some(a) = &self.address {
            o.insert("address".into(), a.clone().into());
        }
        o.insert("channels".into(), self.channels.clone().into());
        o.extend(self.extra.clone());
        Value::Object(o)
    }
}

// ---------- Event ----------

const EVENT_TIME_KEYS: [&str; 2] = ["at_ms", "at_sample"];

impl Event {
    /// Parses an event object whose time is given separately (an EVNT payload).
    /// `participants` are the ids known at this point; `None` skips that check.
    pub fn from_payload(
        v: &Value,
        path: &str,
        at_sample: u64,
        participants: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<Event> {
        let o = want_obj(v, path)?;
        let ty = req_str(o, "type", path)?;
        let participant = opt_str(o, "participant", path)?;
        let mut known: Vec<&str> = vec!["type", "participant", "at_ms", "at_sample"];
        let kind = match ty.as_str() {
            "join" => EventKind::Join,
            "leave" => EventKind::Leave,
            "hold" => EventKind::Hold,
            "resume" => EventKind::Resume,
            "mute" => EventKind::Mute,
            "unmute" => EventKind::Unmute,
            "conference" => {
                known.push("participants");
                let mut ps = Vec::new();
                match o.get("participants") {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(a)) => {
                        for (i, p) in a.iter().enumerate() {
                            ps.push(
                                p.as_str()
                                    .ok_or_else(|| {
                                        Error::metadata(format!("{path}.participants[{i}]"), "expected a participant id")
                                    })?
                                    .to_string(),
                            );
                        }
                    }
                    Some(_) => {
                        return Err(Error::metadata(format!("{path}.participants"), "expected an array of ids"))
                    }
                }
                EventKind::Conference { participants: ps }
            }
            "transfer" => {
                known.extend(["mode", "from", "to"]);
                let mode = match req_str(o, "mode", path)?.as_str() {
                    "blind" => TransferMode::Blind,
                    "consult" => TransferMode::Consult,
                    m => {
                        return Err(Error::metadata(
                            format!("{path}.mode"),
                            format!("unknown transfer mode {m:?} (blind or consult)"),
                        ))
                    }
                };
                EventKind::Transfer { mode, from: opt_str(o, "from", path)?, to: req_str(o, "to", path)? }
            }
            "dtmf" => {
                known.extend(["digits", "redacted"]);
                let redacted = match o.get("redacted") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => return Err(Error::metadata(format!("{path}.redacted"), "expected true or false")),
                };
                let digits = opt_str(o, "digits", path)?;
                if redacted {
                    // Redaction wins: the digits are never stored.
                    EventKind::Dtmf { digits: None }
                } else {
                    let d = digits.ok_or_else(|| {
                        Error::metadata(format!("{path}.digits"), "missing (give digits, or \"redacted\": true)")
                    })?;
                    if d.is_empty() || !d.bytes().all(|c| c.is_ascii_digit() || b"*#ABCDabcd".contains(&c)) {
                        return Err(Error::metadata(format!("{path}.digits"), "DTMF digits are 0-9, *, #, A-D"));
                    }
                    EventKind::Dtmf { digits: Some(d) }
                }
            }
            "pause" => EventKind::Pause,
            "unpause" => EventKind::Unpause,
            "snippet_start" => EventKind::SnippetStart,
            "snippet_stop" => EventKind::SnippetStop,
            "adhoc_start" => EventKind::AdhocStart,
            "adhoc_stop" => EventKind::AdhocStop,
            "marker" => {
                known.push("label");
                EventKind::Marker { label: req_str(o, "label", path)? }
            }
            "disconnect" => {
                known.push("reason");
                EventKind::Disconnect { reason: req_str(o, "reason", path)? }
            }
            "custom" => {
                known.extend(["key", "value"]);
                let key = req_str(o, "key", path)?;
                if !is_namespaced(&key) {
                    return Err(Error::metadata(
                        format!("{path}.key"),
                        format!("custom key {key:?} must be namespaced, like \"crm.case\""),
                    ));
                }
                let value = o
                    .get("value")
                    .cloned()
                    .ok_or_else(|| Error::metadata(format!("{path}.value"), "missing"))?;
                EventKind::Custom { key, value }
            }
            other => {
                return Err(Error::metadata(
                    format!("{path}.type"),
                    format!(
                        "unknown event type {other:?}; use {{\"type\": \"custom\", \"key\": \"namespace.name\", \"value\": ...}}"
                    ),
                ))
            }
        };
        if kind.needs_participant() && participant.is_none() {
            return Err(Error::metadata(
                format!("{path}.participant"),
                format!("a {} event needs a participant", kind.type_name()),
            ));
        }
        if let Some(known_ids) = participants {
            if let Some(p) = &participant {
                if !known_ids(p) {
                    return Err(Error::metadata(
                        format!("{path}.participant"),
                        format!("unknown participant {p:?}"),
                    ));
                }
            }
            if let EventKind::Conference { participants: ps } = &kind {
                for (i, p) in ps.iter().enumerate() {
                    if !known_ids(p) {
                        return Err(Error::metadata(
                            format!("{path}.participants[{i}]"),
                            format!("unknown participant {p:?}"),
                        ));
                    }
                }
            }
        }
        Ok(Event {
            at_sample,
            participant,
            kind,
            extra: rest(o, &known),
        })
    }

    /// The payload object stored in an EVNT chunk (no times: the chunk carries them).
    pub fn to_payload(&self) -> Value {
        let mut o = Map::new();
        o.insert("type".into(), self.kind.type_name().into());
        if let Some(p) = &self.participant {
            o.insert("participant".into(), p.clone().into());
        }
        match &self.kind {
            EventKind::Conference { participants } if !participants.is_empty() => {
                o.insert("participants".into(), participants.clone().into());
            }
            EventKind::Transfer { mode, from, to } => {
                o.insert(
                    "mode".into(),
                    match mode {
                        TransferMode::Blind => "blind",
                        TransferMode::Consult => "consult",
                    }
                    .into(),
                );
                if let Some(f) = from {
                    o.insert("from".into(), f.clone().into());
                }
                o.insert("to".into(), to.clone().into());
            }
            EventKind::Dtmf { digits: Some(d) } => {
                o.insert("digits".into(), d.clone().into());
            }
            EventKind::Dtmf { digits: None } => {
                o.insert("redacted".into(), true.into());
            }
            EventKind::Marker { label } => {
                o.insert("label".into(), label.clone().into());
            }
            EventKind::Disconnect { reason } => {
                o.insert("reason".into(), reason.clone().into());
            }
            EventKind::Custom { key, value } => {
                o.insert("key".into(), key.clone().into());
                o.insert("value".into(), value.clone());
            }
            _ => {}
        }
        o.extend(self.extra.clone());
        Value::Object(o)
    }

    /// The JSON object of the metadata document: `at_ms` and `at_sample` first.
    pub fn to_json(&self, rate: u32) -> Value {
        let mut o = Map::new();
        o.insert("at_ms".into(), sample_to_ms(self.at_sample, rate).into());
        o.insert("at_sample".into(), self.at_sample.into());
        if let Value::Object(p) = self.to_payload() {
            o.extend(p);
        }
        Value::Object(o)
    }
}

/// Reads `at_ms`/`at_sample` of a document entry and returns the sample position.
fn entry_time(o: &Map<String, Value>, path: &str, rate: u32, default: Option<u64>) -> Result<u64> {
    let ms = opt_u64(o, "at_ms", path)?;
    let sample = opt_u64(o, "at_sample", path)?;
    match (ms, sample) {
        (Some(ms), None) => {
            let s = ms_to_sample(ms, rate);
            if sample_to_ms(s, rate) != ms {
                return Err(Error::metadata(
                    format!("{path}.at_ms"),
                    format!("{ms} ms is not exactly representable at {rate} Hz; give at_sample"),
                ));
            }
            Ok(s)
        }
        (Some(ms), Some(s)) => {
            if sample_to_ms(s, rate) != ms {
                return Err(Error::metadata(
                    format!("{path}.at_ms"),
                    format!("at_ms {ms} disagrees with at_sample {s} at {rate} Hz"),
                ));
            }
            Ok(s)
        }
        (None, Some(s)) => Ok(s),
        (None, None) => default.ok_or_else(|| {
            Error::metadata(format!("{path}.at_ms"), "missing (a time is required)")
        }),
    }
}

// ---------- Annotation ----------

impl Annotation {
    /// Parses an annotation payload object (must have a string `kind`).
    pub fn from_payload(v: &Value, path: &str, at_sample: u64) -> Result<Annotation> {
        let o = want_obj(v, path)?;
        let kind = req_str(o, "kind", path)?;
        if kind.is_empty() {
            return Err(Error::metadata(format!("{path}.kind"), "must not be empty"));
        }
        Ok(Annotation {
            at_sample,
            fields: rest(o, &EVENT_TIME_KEYS),
        })
    }
    /// The payload stored in an ANNO chunk.
    pub fn to_payload(&self) -> Value {
        Value::Object(self.fields.clone())
    }
    /// The JSON object of the metadata document.
    pub fn to_json(&self, rate: u32) -> Value {
        let mut o = Map::new();
        o.insert("at_ms".into(), sample_to_ms(self.at_sample, rate).into());
        o.insert("at_sample".into(), self.at_sample.into());
        o.extend(self.fields.clone());
        Value::Object(o)
    }
}

// ---------- Metadata document ----------

impl Metadata {
    /// Parses and validates a metadata document against the audio format. When
    /// `total_samples` is known, events after the end of the audio are refused here;
    /// otherwise the writer refuses them at `finish`.
    pub fn from_json_str(
        text: &str,
        format: &AudioFormat,
        total_samples: Option<u64>,
    ) -> Result<Metadata> {
        let v = parse_document(text)?;
        Metadata::from_json(&v, format, total_samples)
    }

    /// Like [`Metadata::from_json_str`], from a parsed value.
    pub fn from_json(
        v: &Value,
        format: &AudioFormat,
        total_samples: Option<u64>,
    ) -> Result<Metadata> {
        let o = want_obj(v, "$")?;
        let recording = match o.get("recording") {
            None | Some(Value::Null) => RecordingInfo::default(),
            Some(r) => RecordingInfo::from_json(r, "recording", format.channels)?,
        };
        let mut participants = Vec::new();
        let mut ids = HashSet::new();
        match o.get("participants") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for (i, p) in a.iter().enumerate() {
                    let path = format!("participants[{i}]");
                    let p = Participant::from_json(p, &path, format.channels)?;
                    if !ids.insert(p.id.clone()) {
                        return Err(Error::metadata(
                            format!("{path}.id"),
                            format!("duplicate participant id {:?}", p.id),
                        ));
                    }
                    participants.push(p);
                }
            }
            Some(_) => return Err(Error::metadata("participants", "expected an array")),
        }
        let known = |id: &str| ids.contains(id);
        let mut events = Vec::new();
        match o.get("events") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for (i, e) in a.iter().enumerate() {
                    let path = format!("events[{i}]");
                    let eo = want_obj(e, &path)?;
                    let at = entry_time(eo, &path, format.sample_rate, None)?;
                    if let Some(total) = total_samples {
                        if at > total {
                            return Err(Error::metadata(
                                format!("{path}.at_ms"),
                                format!(
                                    "event at {} ms is after the end of the audio ({} ms)",
                                    sample_to_ms(at, format.sample_rate),
                                    sample_to_ms(total, format.sample_rate)
                                ),
                            ));
                        }
                    }
                    events.push(Event::from_payload(e, &path, at, Some(&known))?);
                }
            }
            Some(_) => return Err(Error::metadata("events", "expected an array")),
        }
        let mut annotations = Vec::new();
        match o.get("annotations") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for (i, x) in a.iter().enumerate() {
                    let path = format!("annotations[{i}]");
                    let xo = want_obj(x, &path)?;
                    let at = entry_time(xo, &path, format.sample_rate, Some(0))?;
                    if total_samples.is_some_and(|t| at > t) {
                        return Err(Error::metadata(
                            format!("{path}.at_ms"),
                            "annotation after the end of the audio",
                        ));
                    }
                    annotations.push(Annotation::from_payload(x, &path, at)?);
                }
            }
            Some(_) => return Err(Error::metadata("annotations", "expected an array")),
        }
        // Timeline order; stable, so events at one instant keep their given order.
        events.sort_by_key(|e| e.at_sample);
        annotations.sort_by_key(|a| a.at_sample);
        Ok(Metadata {
            recording,
            participants,
            events,
            annotations,
        })
    }

    /// The JSON document.
    pub fn to_json(&self, rate: u32) -> Value {
        let mut o = Map::new();
        o.insert("recording".into(), self.recording.to_json());
        o.insert(
            "participants".into(),
            self.participants.iter().map(Participant::to_json).collect(),
        );
        o.insert(
            "events".into(),
            self.events.iter().map(|e| e.to_json(rate)).collect(),
        );
        if !self.annotations.is_empty() {
            o.insert(
                "annotations".into(),
                self.annotations.iter().map(|a| a.to_json(rate)).collect(),
            );
        }
        Value::Object(o)
    }

    /// Index of participants by id.
    pub fn participant(&self, id: &str) -> Option<&Participant> {
        self.participants.iter().find(|p| p.id == id)
    }

    /// Participants by id, for look-ups.
    pub fn participant_map(&self) -> HashMap<&str, &Participant> {
        self.participants
            .iter()
            .map(|p| (p.id.as_str(), p))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Encoding;
    use proptest::prelude::*;

    fn fmt(rate: u32) -> AudioFormat {
        AudioFormat::new(Encoding::MuLaw, 2, rate).unwrap()
    }

    const DOC: &str = r#"{
      "recording": {"id": "call-0001", "started_at": "2026-11-23T10:15:00Z", "channels": ["agent", "customer"]},
      "participants": [
        {"id": "a1", "name": "Ann Agent", "role": "agent", "address": "sip:ann@example.com", "channels": [0]},
        {"id": "c1", "name": "Carl Customer", "role": "customer", "address": "+15551234567", "channels": [1]}
      ],
      "events": [
        {"at_ms": 0, "type": "join", "participant": "a1"},
        {"at_ms": 350, "type": "join", "participant": "c1"},
        {"at_ms": 12500, "type": "hold", "participant": "a1"},
        {"at_ms": 20000, "type": "resume", "participant": "a1"},
        {"at_ms": 21000, "type": "dtmf", "participant": "c1", "digits": "42"},
        {"at_ms": 30000, "type": "custom", "participant": "a1", "key": "crm.case", "value": "12345"},
        {"at_ms": 31000, "type": "leave", "participant": "c1"}
      ]
    }"#;

    #[test]
    fn the_contract_document_round_trips() {
        let m = Metadata::from_json_str(DOC, &fmt(8000), Some(8000 * 40)).unwrap();
        assert_eq!(m.events.len(), 7);
        assert_eq!(m.events[1].at_sample, 2800);
        let back = m.to_json(8000);
        let again = Metadata::from_json(&back, &fmt(8000), None).unwrap();
        assert_eq!(again, m);
        let orig: Value = serde_json::from_str(DOC).unwrap();
        for (i, e) in orig["events"].as_array().unwrap().iter().enumerate() {
            for (k, v) in e.as_object().unwrap() {
                assert_eq!(&back["events"][i][k], v, "events[{i}].{k}");
            }
        }
        assert_eq!(back["participants"], orig["participants"]);
        assert_eq!(back["recording"], orig["recording"]);
    }

    fn err_path(doc: &str, total: Option<u64>) -> String {
        match Metadata::from_json_str(doc, &fmt(8000), total)
            .unwrap_err()
            .into_kind()
        {
            crate::ErrorKind::InvalidMetadata { path, .. } => path,
            k => panic!("unexpected {k:?}"),
        }
    }

    #[test]
    fn each_validation_error_names_its_path() {
        let p = r#"{"id":"a","role":"agent"}"#;
        assert_eq!(
            err_path(
                &format!(
                    r#"{{"participants":[{p}],"events":[{{"at_ms":1,"type":"join","participant":"x"}}]}}"#
                ),
                None
            ),
            "events[0].participant"
        );
        assert_eq!(
            err_path(&format!(r#"{{"participants":[{p},{p}]}}"#), None),
            "participants[1].id"
        );
        assert_eq!(
            err_path(
                &format!(
                    r#"{{"participants":[{p}],"events":[{{"at_ms":-5,"type":"join","participant":"a"}}]}}"#
                ),
                None
            ),
            "events[0].at_ms"
        );
        assert_eq!(
            err_path(
                &format!(
                    r#"{{"participants":[{p}],"events":[{{"at_ms":5000,"type":"join","participant":"a"}}]}}"#
                ),
                Some(8000)
            ),
            "events[0].at_ms"
        );
        assert_eq!(
            err_path(
                r#"{"participants":[{"id":"a","role":"agent","channels":[2]}]}"#,
                None
            ),
            "participants[0].channels[0]"
        );
        assert_eq!(
            err_path(r#"{"events":[{"at_ms":1,"type":"explode"}]}"#, None),
            "events[0].type"
        );
        assert_eq!(
            err_path(
                r#"{"events":[{"at_ms":1,"type":"custom","key":"flat","value":1}]}"#,
                None
            ),
            "events[0].key"
        );
        assert_eq!(err_path(r#"{"events": [}"#, None), "$");
        assert_eq!(
            err_path(
                r#"{"events":[{"at_ms":"1","type":"marker","label":"x"}]}"#,
                None
            ),
            "events[0].at_ms"
        );
        assert_eq!(
            err_path(r#"{"participants":[{"id":"a","role":7}]}"#, None),
            "participants[0].role"
        );
        assert_eq!(
            err_path(r#"{"recording":{"channels":["a"]}}"#, None),
            "recording.channels"
        );
        assert_eq!(
            err_path(r#"{"recording":{"started_at":"yesterday"}}"#, None),
            "recording.started_at"
        );
        assert_eq!(
            err_path(
                r#"{"events":[{"at_ms":1,"type":"dtmf","digits":"4x"}]}"#,
                None
            ),
            "events[0].digits"
        );
        assert_eq!(err_path(r#"[1]"#, None), "$");
    }

    #[test]
    fn redacted_dtmf_stores_no_digits() {
        let m = Metadata::from_json_str(
            r#"{"events":[{"at_ms":1,"type":"dtmf","digits":"1234","redacted":true}]}"#,
            &fmt(8000),
            None,
        )
        .unwrap();
        assert_eq!(m.events[0].kind, EventKind::Dtmf { digits: None });
        assert!(!m.to_json(8000).to_string().contains("1234"));
    }

    #[test]
    fn json_limits_refuse_depth_and_size() {
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(check_json_limits(deep.as_bytes(), 1000, 32).is_err());
        assert!(check_json_limits(
            b"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"",
            1000,
            32
        )
        .is_ok());
        assert!(check_json_limits(&[b' '; 11], 10, 32).is_err());
    }

    proptest! {
        #[test]
        fn ms_round_trip_is_exact_for_rates_from_1000(ms in 0u64..(1u64 << 40), rate in 1000u32..=768_000) {
            prop_assert_eq!(sample_to_ms(ms_to_sample(ms, rate), rate), ms);
        }
    }

    #[test]
    fn ms_round_trip_at_common_rates() {
        for rate in [
            8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 192000,
        ] {
            for ms in (0..100_000).step_by(7) {
                assert_eq!(sample_to_ms(ms_to_sample(ms, rate), rate), ms);
            }
        }
    }
}
