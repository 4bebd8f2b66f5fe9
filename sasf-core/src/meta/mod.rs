//! The metadata model: recording information, participants, events and annotations,
//! and their JSON form (see `docs/FORMAT.md` §8, "Metadata payloads").
//!
//! Every JSON text goes through one strict parser (`meta/json.rs`, §8.0: I-JSON, duplicate
//! names refused, `null` never absent); the records are then read by hand from the
//! `serde_json::Value`, so that every refusal names the JSON path of the offending
//! value, e.g. `events[3].participant`; and each record is checked by the one
//! function of `meta/rules.rs` for its type, which the writer calls too.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::audio::AudioFormat;
use crate::error::{Error, Result};

pub mod annotation;
mod json;
pub(crate) mod rules;
mod timestamp;

pub use json::{check_json_limits, MAX_EXACT_INT};

/// Checks the record of an annotation segment (`docs/FORMAT.md` §21.4) as a reader
/// must: strict JSON, then the annotation model's rules ([`annotation::Record`]); a
/// refusal is `malformed`, naming the path under `SEGMENT`.
pub(crate) fn check_segment_record(json: &[u8], place: crate::Place) -> Result<()> {
    annotation::Record::from_json(json)
        .map(|_| ())
        .map_err(|e| match e.kind() {
            crate::ErrorKind::InvalidMetadata { path, reason } => {
                let path = if path.is_empty() || path == "$" {
                    String::new()
                } else {
                    format!(".{}", path.trim_start_matches('.'))
                };
                Error::malformed(format!("SEGMENT{path}: {reason}"), place)
            }
            _ => e,
        })
}
pub use rules::{MAX_ID_LEN, MAX_TEXT_LEN, RESERVED_KEYS};
pub use timestamp::{format_utc, parse_utc, Timestamp, TimestampError};

use rules::{null_member, Origin, TIME_MEMBERS};

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

/// Parses a JSON document a user supplies (metadata, an action list) under the strict
/// profile, refusing it past the default size and depth limits before parsing. Errors
/// name the path of the offending value (`$` for the text as a whole).
pub fn parse_document(text: &str) -> Result<Value> {
    check_json_limits(
        text.as_bytes(),
        DEFAULT_MAX_JSON_LEN,
        DEFAULT_MAX_JSON_DEPTH,
    )
    .map_err(|(what, found, limit)| {
        Error::metadata("$", format!("{what} is {found}, over the limit of {limit}"))
    })?;
    json::parse_strict(text.as_bytes()).map_err(|r| {
        let path = match r.path.strip_prefix('.') {
            Some(p) => p.to_string(),
            None => format!("${}", r.path),
        };
        Error::metadata(path, r.reason)
    })
}

/// Parses a metadata chunk's payload under a reader's limits and the strict profile:
/// too large or too deep is `limit-exceeded`, anything else refused is `malformed`,
/// both at `place`; `root` names the record in the message (`EVNT.value.x`).
pub(crate) fn parse_payload(
    payload: &[u8],
    max_len: usize,
    max_depth: usize,
    place: crate::error::Place,
    root: &str,
) -> Result<Value> {
    check_json_limits(payload, max_len, max_depth).map_err(|(what, found, limit)| {
        Error::new(crate::error::ErrorKind::LimitExceeded {
            what,
            found,
            limit,
            place,
        })
    })?;
    json::parse_strict(payload)
        .map_err(|r| Error::malformed(format!("metadata {root}{}: {}", r.path, r.reason), place))
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
///
/// Made with [`RecordingInfo::new`] (or `Default`) and the `with_` methods; the fields
/// can be read and set directly. More may be added, so it cannot be built as a literal
/// outside this crate.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct RecordingInfo {
    /// Recording id from the recording system.
    pub id: Option<String>,
    /// UTC start anchor (the time of sample 0), RFC 3339 in the strict form of §8.0.
    pub started_at: Option<Timestamp>,
    /// Channel map: for each channel, the participant id or role it carries.
    pub channels: Vec<String>,
    /// Any other fields, kept as given.
    pub extra: Map<String, Value>,
}

/// A participant, carried by a PART chunk.
///
/// Made with [`Participant::new`] and the `with_` methods; the fields can be read and
/// set directly. More may be added, so it cannot be built as a literal outside this
/// crate:
///
/// ```compile_fail
/// use sasf_core::meta::{Participant, Role};
/// let p = Participant {
///     id: "a1".into(), name: None, role: Role::Agent, address: None,
///     channels: vec![0], extra: Default::default(),
/// };
/// ```
///
/// ```
/// use sasf_core::meta::{Participant, Role};
/// let p = Participant::new("a1", Role::Agent).with_name("Ann").with_channels([0]);
/// assert_eq!(p.name.as_deref(), Some("Ann"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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

    pub(crate) fn needs_participant(&self) -> bool {
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
///
/// Made with [`Event::new`] (and [`Event::with_participant`]); the fields can be read
/// and set directly. More may be added, so it cannot be built as a literal outside this
/// crate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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

// ---------- JSON helpers (shape only; the rules are in `rules`) ----------

fn sub(path: &str, key: &str) -> String {
    rules::sub(path, key)
}

fn want_obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::metadata(path, "expected an object"))
}

/// A member SASF defines: absent is `None`; `null` is refused, never taken as absent.
fn member<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a Value>> {
    match o.get(key) {
        Some(Value::Null) => Err(null_member(&sub(path, key))),
        v => Ok(v),
    }
}

fn opt_str(o: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>> {
    match member(o, key, path)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::metadata(sub(path, key), "expected a string")),
    }
}

fn req_str(o: &Map<String, Value>, key: &str, path: &str) -> Result<String> {
    opt_str(o, key, path)?
        .ok_or_else(|| Error::metadata(sub(path, key), "missing (a string is required)"))
}

fn opt_u64(o: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>> {
    member(o, key, path)?
        .map(|v| rules::exact_uint(v, &sub(path, key)))
        .transpose()
}

fn opt_array<'a>(o: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a [Value]>> {
    match member(o, key, path)? {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(Error::metadata(sub(path, key), "expected an array")),
    }
}

fn rest(o: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    o.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A stored event or annotation holds no time: the chunk carries it.
fn no_time_members(o: &Map<String, Value>, path: &str) -> Result<()> {
    match TIME_MEMBERS.iter().find(|m| o.contains_key(**m)) {
        Some(m) => Err(Error::metadata(
            sub(path, m),
            "a stored record holds no time (the chunk carries it)",
        )),
        None => Ok(()),
    }
}

// ---------- RecordingInfo ----------

impl RecordingInfo {
    /// No id, no start anchor, no channel map.
    pub fn new() -> RecordingInfo {
        RecordingInfo::default()
    }

    /// With the recording id.
    pub fn with_id(mut self, id: impl Into<String>) -> RecordingInfo {
        self.id = Some(id.into());
        self
    }

    /// With the start anchor (the UTC time of sample 0).
    pub fn with_started_at(mut self, at: Timestamp) -> RecordingInfo {
        self.started_at = Some(at);
        self
    }

    /// With the channel map: for each channel, the participant id or role it carries.
    pub fn with_channels<S: Into<String>>(
        mut self,
        channels: impl IntoIterator<Item = S>,
    ) -> RecordingInfo {
        self.channels = channels.into_iter().map(Into::into).collect();
        self
    }

    /// With another member, kept as given (checked by the writer like any other).
    pub fn with_extra(mut self, name: impl Into<String>, value: impl Into<Value>) -> RecordingInfo {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Parses and validates the `recording` object. `channels` is the audio's channel count.
    pub fn from_json(v: &Value, path: &str, channels: u16) -> Result<RecordingInfo> {
        let o = want_obj(v, path)?;
        let mut chans = Vec::new();
        if let Some(a) = opt_array(o, "channels", path)? {
            for (i, c) in a.iter().enumerate() {
                chans.push(
                    c.as_str()
                        .ok_or_else(|| {
                            Error::metadata(
                                format!("{}[{i}]", sub(path, "channels")),
                                "expected a string",
                            )
                        })?
                        .to_string(),
                );
            }
            if chans.is_empty() {
                // The typed model reads an empty map as "no map"; the JSON may not.
                return Err(Error::metadata(
                    sub(path, "channels"),
                    format!("the channel map has 0 entries but the audio has {channels} channels"),
                ));
            }
        }
        let started = opt_str(o, "started_at", path)?;
        let mut info = RecordingInfo {
            id: opt_str(o, "id", path)?,
            started_at: None,
            channels: chans,
            extra: rest(o, rules::INFO_MEMBERS),
        };
        rules::check_info(&info, started.as_deref(), channels, path)?;
        info.started_at = started
            .map(|s| Timestamp::parse(&s))
            .transpose()
            .map_err(|e| Error::metadata(sub(path, "started_at"), e.to_string()))?;
        Ok(info)
    }

    /// The JSON object.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        if let Some(id) = &self.id {
            o.insert("id".into(), id.clone().into());
        }
        if let Some(s) = &self.started_at {
            o.insert("started_at".into(), s.as_str().into());
        }
        if !self.channels.is_empty() {
            o.insert("channels".into(), self.channels.clone().into());
        }
        o.extend(self.extra.clone());
        Value::Object(o)
    }

    /// The start anchor as a UTC date-time, if present.
    pub fn started_at_utc(&self) -> Option<time::OffsetDateTime> {
        self.started_at.as_ref().map(Timestamp::utc)
    }
}

// ---------- Participant ----------

impl Participant {
    /// A participant with this id and role, and no name, address or channels.
    pub fn new(id: impl Into<String>, role: Role) -> Participant {
        Participant {
            id: id.into(),
            name: None,
            role,
            address: None,
            channels: Vec::new(),
            extra: Map::new(),
        }
    }

    /// With a display name.
    pub fn with_name(mut self, name: impl Into<String>) -> Participant {
        self.name = Some(name.into());
        self
    }

    /// With a phone number or SIP URI.
    pub fn with_address(mut self, address: impl Into<String>) -> Participant {
        self.address = Some(address.into());
        self
    }

    /// With the audio channels that carry this participant's voice.
    pub fn with_channels(mut self, channels: impl IntoIterator<Item = u16>) -> Participant {
        self.channels = channels.into_iter().collect();
        self
    }

    /// With another member, kept as given (checked by the writer like any other).
    pub fn with_extra(mut self, name: impl Into<String>, value: impl Into<Value>) -> Participant {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Parses and validates one participant object.
    pub fn from_json(v: &Value, path: &str, channels: u16) -> Result<Participant> {
        Participant::parse(v, path, channels, &|_| false)
    }

    /// Like [`Participant::from_json`]; `declared` says which ids the stream (or the
    /// document) already declared, to refuse a second declaration.
    pub(crate) fn parse(
        v: &Value,
        path: &str,
        channels: u16,
        declared: &dyn Fn(&str) -> bool,
    ) -> Result<Participant> {
        let o = want_obj(v, path)?;
        let id = req_str(o, "id", path)?;
        let role_s = req_str(o, "role", path)?;
        let role = Role::from_name(&role_s).ok_or_else(|| {
            Error::metadata(
                sub(path, "role"),
                format!(
                    "unknown role {role_s:?} (agent, customer, supervisor, ivr, system or other)"
                ),
            )
        })?;
        let mut chans = Vec::new();
        for (i, c) in opt_array(o, "channels", path)?
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let p = format!("{}[{i}]", sub(path, "channels"));
            let n = c
                .as_u64()
                .ok_or_else(|| Error::metadata(&p, "expected a channel index"))?;
            if n >= channels as u64 {
                return Err(Error::metadata(
                    &p,
                    format!("channel {n} is out of range (the audio has {channels} channels)"),
                ));
            }
            chans.push(n as u16);
        }
        let p = Participant {
            id,
            name: opt_str(o, "name", path)?,
            role,
            address: opt_str(o, "address", path)?,
            channels: chans,
            extra: rest(o, rules::PART_MEMBERS),
        };
        rules::check_participant(&p, channels, declared, path)?;
        Ok(p)
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

impl Event {
    /// An event of `kind` at sample position `at_sample`, concerning no participant.
    pub fn new(at_sample: u64, kind: EventKind) -> Event {
        Event {
            at_sample,
            participant: None,
            kind,
            extra: Map::new(),
        }
    }

    /// Concerning this participant (by id).
    pub fn with_participant(mut self, id: impl Into<String>) -> Event {
        self.participant = Some(id.into());
        self
    }

    /// With another member, kept as given (checked by the writer like any other).
    pub fn with_extra(mut self, name: impl Into<String>, value: impl Into<Value>) -> Event {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// Parses an EVNT payload (the time is the chunk's, given as `at_sample`) as a
    /// reader does: the payload holds no time; the keys the `sasf` namespace defines
    /// are accepted (and checked). `participants` are the ids known at this point;
    /// `None` skips that check.
    pub fn from_payload(
        v: &Value,
        path: &str,
        at_sample: u64,
        participants: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<Event> {
        let o = want_obj(v, path)?;
        no_time_members(o, path)?;
        Event::parse(o, path, at_sample, participants, Origin::Library)
    }

    /// Parses an event object without its time members. `Origin::User` is a metadata
    /// document: reserved keys are refused, and a `dtmf` with `redacted: true` keeps no
    /// digits whatever digits it was given (redaction at ingest, §8.3), where a stored
    /// payload holding both is malformed.
    pub(crate) fn parse(
        o: &Map<String, Value>,
        path: &str,
        at_sample: u64,
        participants: Option<&dyn Fn(&str) -> bool>,
        origin: Origin,
    ) -> Result<Event> {
        let ty = req_str(o, "type", path)?;
        let participant = opt_str(o, "participant", path)?;
        let kind = match ty.as_str() {
            "join" => EventKind::Join,
            "leave" => EventKind::Leave,
            "hold" => EventKind::Hold,
            "resume" => EventKind::Resume,
            "mute" => EventKind::Mute,
            "unmute" => EventKind::Unmute,
            "conference" => {
                let mut ps = Vec::new();
                for (i, p) in opt_array(o, "participants", path)?.unwrap_or_default().iter().enumerate() {
                    ps.push(
                        p.as_str()
                            .ok_or_else(|| {
                                Error::metadata(
                                    format!("{}[{i}]", sub(path, "participants")),
                                    "expected a participant id",
                                )
                            })?
                            .to_string(),
                    );
                }
                EventKind::Conference { participants: ps }
            }
            "transfer" => {
                let mode = match req_str(o, "mode", path)?.as_str() {
                    "blind" => TransferMode::Blind,
                    "consult" => TransferMode::Consult,
                    m => {
                        return Err(Error::metadata(
                            sub(path, "mode"),
                            format!("unknown transfer mode {m:?} (blind or consult)"),
                        ))
                    }
                };
                EventKind::Transfer {
                    mode,
                    from: opt_str(o, "from", path)?,
                    to: req_str(o, "to", path)?,
                }
            }
            "dtmf" => {
                let redacted = match member(o, "redacted", path)? {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(Error::metadata(
                            sub(path, "redacted"),
                            "expected true or false",
                        ))
                    }
                };
                let digits = opt_str(o, "digits", path)?;
                match (redacted, digits) {
                    (true, Some(_)) if origin == Origin::Library => {
                        return Err(Error::metadata(
                            sub(path, "digits"),
                            "a redacted DTMF event carries no digits",
                        ))
                    }
                    // Redaction wins: the digits are never stored.
                    (true, _) => EventKind::Dtmf { digits: None },
                    (false, Some(d)) => EventKind::Dtmf { digits: Some(d) },
                    (false, None) => {
                        return Err(Error::metadata(
                            sub(path, "digits"),
                            "missing (give digits, or \"redacted\": true)",
                        ))
                    }
                }
            }
            "pause" => EventKind::Pause,
            "unpause" => EventKind::Unpause,
            "snippet_start" => EventKind::SnippetStart,
            "snippet_stop" => EventKind::SnippetStop,
            "adhoc_start" => EventKind::AdhocStart,
            "adhoc_stop" => EventKind::AdhocStop,
            "marker" => EventKind::Marker {
                label: req_str(o, "label", path)?,
            },
            "disconnect" => EventKind::Disconnect {
                reason: req_str(o, "reason", path)?,
            },
            "custom" => EventKind::Custom {
                key: req_str(o, "key", path)?,
                // Any JSON value, `null` included: it is the value, not an absence.
                value: o
                    .get("value")
                    .cloned()
                    .ok_or_else(|| Error::metadata(sub(path, "value"), "missing"))?,
            },
            other => {
                return Err(Error::metadata(
                    sub(path, "type"),
                    format!(
                        "unknown event type {other:?}; use {{\"type\": \"custom\", \"key\": \"namespace.name\", \"value\": ...}}"
                    ),
                ))
            }
        };
        let extra = rest(o, &rules::event_members(&kind));
        let e = Event {
            at_sample,
            participant,
            kind,
            extra,
        };
        rules::check_event(&e, participants, origin, path)?;
        Ok(e)
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
    /// Parses an ANNO payload object (a non-empty string `kind`, no time members).
    pub fn from_payload(v: &Value, path: &str, at_sample: u64) -> Result<Annotation> {
        let a = Annotation {
            at_sample,
            fields: want_obj(v, path)?.clone(),
        };
        rules::check_annotation(&a, path)?;
        Ok(a)
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
    ///
    /// A document is user input: the reserved `sasf.` custom keys are refused, and a
    /// `dtmf` event with `redacted: true` keeps no digits whatever digits it was given
    /// (`docs/FORMAT.md` §8.3).
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
        let rate = format.sample_rate;
        let recording = match member(o, "recording", "")? {
            None => RecordingInfo::default(),
            Some(r) => RecordingInfo::from_json(r, "recording", format.channels)?,
        };
        let list = |key: &str| match member(o, key, "")? {
            None => Ok(&[][..]),
            Some(Value::Array(a)) => Ok(&a[..]),
            Some(_) => Err(Error::metadata(key, "expected an array")),
        };
        let after_end = |at: u64, path: &str, what: &str| match total_samples {
            Some(total) if at > total => Err(Error::metadata(
                format!("{path}.at_ms"),
                format!(
                    "{what} at {} ms is after the end of the audio ({} ms)",
                    sample_to_ms(at, rate),
                    sample_to_ms(total, rate)
                ),
            )),
            _ => Ok(()),
        };
        let mut participants = Vec::new();
        let mut ids = HashSet::new();
        for (i, p) in list("participants")?.iter().enumerate() {
            let path = format!("participants[{i}]");
            let p = Participant::parse(p, &path, format.channels, &|id| ids.contains(id))?;
            ids.insert(p.id.clone());
            participants.push(p);
        }
        let known = |id: &str| ids.contains(id);
        let mut events = Vec::new();
        for (i, e) in list("events")?.iter().enumerate() {
            let path = format!("events[{i}]");
            let eo = want_obj(e, &path)?;
            let at = entry_time(eo, &path, rate, None)?;
            after_end(at, &path, "event")?;
            let fields = rest(eo, &TIME_MEMBERS);
            events.push(Event::parse(
                &fields,
                &path,
                at,
                Some(&known),
                Origin::User,
            )?);
        }
        let mut annotations = Vec::new();
        for (i, x) in list("annotations")?.iter().enumerate() {
            let path = format!("annotations[{i}]");
            let xo = want_obj(x, &path)?;
            let at = entry_time(xo, &path, rate, Some(0))?;
            after_end(at, &path, "annotation")?;
            let a = Annotation {
                at_sample: at,
                fields: rest(xo, &TIME_MEMBERS),
            };
            rules::check_annotation(&a, &path)?;
            annotations.push(a);
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

    fn err_reason(doc: &str) -> (String, String) {
        match Metadata::from_json_str(doc, &fmt(8000), None)
            .unwrap_err()
            .into_kind()
        {
            crate::ErrorKind::InvalidMetadata { path, reason } => (path, reason),
            k => panic!("unexpected {k:?}"),
        }
    }

    const P: &str = r#"{"id":"a","role":"agent"}"#;

    #[test]
    fn null_is_refused_for_every_member_sasf_defines() {
        let ev = |e: &str| format!(r#"{{"participants":[{P}],"events":[{e}]}}"#);
        for (doc, path) in [
            (r#"{"recording":null}"#.to_string(), "recording"),
            (r#"{"participants":null}"#.into(), "participants"),
            (r#"{"events":null}"#.into(), "events"),
            (r#"{"annotations":null}"#.into(), "annotations"),
            (r#"{"recording":{"id":null}}"#.into(), "recording.id"),
            (
                r#"{"recording":{"started_at":null}}"#.into(),
                "recording.started_at",
            ),
            (
                r#"{"recording":{"channels":null}}"#.into(),
                "recording.channels",
            ),
            (
                r#"{"participants":[{"id":null,"role":"agent"}]}"#.into(),
                "participants[0].id",
            ),
            (
                r#"{"participants":[{"id":"a","role":null}]}"#.into(),
                "participants[0].role",
            ),
            (
                r#"{"participants":[{"id":"a","role":"agent","name":null}]}"#.into(),
                "participants[0].name",
            ),
            (
                r#"{"participants":[{"id":"a","role":"agent","address":null}]}"#.into(),
                "participants[0].address",
            ),
            (
                r#"{"participants":[{"id":"a","role":"agent","channels":null}]}"#.into(),
                "participants[0].channels",
            ),
            (
                ev(r#"{"at_ms":null,"type":"hold","participant":"a"}"#),
                "events[0].at_ms",
            ),
            (
                ev(r#"{"at_sample":null,"at_ms":1,"type":"hold","participant":"a"}"#),
                "events[0].at_sample",
            ),
            (ev(r#"{"at_ms":1,"type":null}"#), "events[0].type"),
            (
                ev(r#"{"at_ms":1,"type":"marker","label":"x","participant":null}"#),
                "events[0].participant",
            ),
            (
                ev(r#"{"at_ms":1,"type":"conference","participants":null}"#),
                "events[0].participants",
            ),
            (
                ev(r#"{"at_ms":1,"type":"transfer","mode":"blind","to":"a","from":null}"#),
                "events[0].from",
            ),
            (
                ev(r#"{"at_ms":1,"type":"transfer","mode":null,"to":"a"}"#),
                "events[0].mode",
            ),
            (
                ev(r#"{"at_ms":1,"type":"dtmf","digits":"1","redacted":null}"#),
                "events[0].redacted",
            ),
            (
                ev(r#"{"at_ms":1,"type":"dtmf","redacted":true,"digits":null}"#),
                "events[0].digits",
            ),
            (
                ev(r#"{"at_ms":1,"type":"marker","label":null}"#),
                "events[0].label",
            ),
            (
                ev(r#"{"at_ms":1,"type":"disconnect","reason":null}"#),
                "events[0].reason",
            ),
            (
                ev(r#"{"at_ms":1,"type":"custom","key":null,"value":1}"#),
                "events[0].key",
            ),
            (
                r#"{"annotations":[{"kind":null}]}"#.into(),
                "annotations[0].kind",
            ),
            (
                r#"{"annotations":[{"kind":"t","at":null}]}"#.into(),
                "annotations[0].at",
            ),
            (
                r#"{"annotations":[{"kind":"t","by":null}]}"#.into(),
                "annotations[0].by",
            ),
        ] {
            let (p, reason) = err_reason(&doc);
            assert_eq!(p, path, "{doc}");
            assert_eq!(reason, "null is not allowed: omit the member", "{doc}");
        }
        // Extra fields and custom values may hold null, and keep it.
        let doc = r#"{"recording":{"crm":null},"participants":[{"id":"a","role":"agent","x":null}],
               "events":[{"at_ms":1,"type":"custom","key":"a.b","value":null,"y":null},
                         {"at_ms":2,"type":"custom","key":"a.b","value":{"z":[null]}}],
               "annotations":[{"kind":"t","w":null}]}"#;
        let m = Metadata::from_json_str(doc, &fmt(8000), None).unwrap();
        assert_eq!(m.recording.extra["crm"], Value::Null);
        assert_eq!(m.participants[0].extra["x"], Value::Null);
        assert_eq!(m.events[0].extra["y"], Value::Null);
        assert_eq!(
            m.events[0].kind,
            EventKind::Custom {
                key: "a.b".into(),
                value: Value::Null
            }
        );
        assert_eq!(m.annotations[0].fields["w"], Value::Null);
        assert_eq!(
            Metadata::from_json(&m.to_json(8000), &fmt(8000), None).unwrap(),
            m
        );
    }

    #[test]
    fn duplicate_members_in_a_document_name_their_path() {
        for (doc, path) in [
            (r#"{"events":[],"events":[]}"#, "events"),
            (r#"{"recording":{"id":"a","id":"b"}}"#, "recording.id"),
            (
                r#"{"events":[{"at_ms":0,"type":"marker","label":"a","label":"b"}]}"#,
                "events[0].label",
            ),
            (
                r#"{"events":[{"at_ms":0,"type":"custom","key":"a.b","value":{"k":[{"x":1,"x":2}]}}]}"#,
                "events[0].value.k[0].x",
            ),
        ] {
            let (p, reason) = err_reason(doc);
            assert_eq!(p, path, "{doc}");
            assert!(reason.starts_with("duplicate member name"), "{reason}");
        }
        // Outside the binary64 range: refused by the parser, for the whole text.
        assert_eq!(
            err_path(r#"{"annotations":[{"kind":"t","v":1e400}]}"#, None),
            "$"
        );
    }

    #[test]
    fn started_at_is_rfc_3339_exactly() {
        for bad in [
            "2026-11-23t10:15:00Z",
            "2026-11-23 10:15:00Z",
            "2026-11-23T10:15:00+01:00",
            "2026-02-30T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:15:60Z",
            "2026-11-23T10:15:00",
            "2026-11-23T10:15:00z",
        ] {
            let doc = format!(r#"{{"recording":{{"started_at":"{bad}"}}}}"#);
            assert_eq!(err_path(&doc, None), "recording.started_at", "{bad}");
        }
        let m = Metadata::from_json_str(
            r#"{"recording":{"started_at":"2026-11-23T10:15:00.125Z"}}"#,
            &fmt(8000),
            None,
        )
        .unwrap();
        assert_eq!(m.recording.started_at_utc().unwrap().millisecond(), 125);
    }

    fn payload_err(text: &str) -> String {
        let v = parse_document(text).unwrap();
        match Event::from_payload(&v, "EVNT", 0, Some(&|id: &str| id == "c1"))
            .unwrap_err()
            .into_kind()
        {
            crate::ErrorKind::InvalidMetadata { path, .. } => path,
            k => panic!("unexpected {k:?}"),
        }
    }

    #[test]
    fn stored_event_payloads_follow_the_payload_rules() {
        for (payload, path) in [
            (
                r#"{"type":"dtmf","participant":"c1","redacted":true,"digits":"42"}"#,
                "EVNT.digits",
            ),
            (r#"{"type":"dtmf","digits":""}"#, "EVNT.digits"),
            (
                r#"{"type":"hold","participant":"c1","at_ms":5}"#,
                "EVNT.at_ms",
            ),
            (r#"{"type":"hold","participant":"zz"}"#, "EVNT.participant"),
            (r#"{"type":"transfer","mode":"blind","to":""}"#, "EVNT.to"),
            (
                r#"{"type":"custom","key":"sasf.other","value":{}}"#,
                "EVNT.key",
            ),
            (
                r#"{"type":"custom","key":"sasf.merge","value":1}"#,
                "EVNT.value",
            ),
            (
                r#"{"type":"custom","key":"sasf.recovered","value":{"at_sample":1,"original_bytes":2}}"#,
                "EVNT.value.reason",
            ),
            (
                r#"{"type":"custom","key":"sasf.recovered","value":{"at_sample":1,"original_bytes":2,"reason":"x","message":null}}"#,
                "EVNT.value.message",
            ),
            (
                r#"{"type":"custom","key":"sasf.recovered","value":{"at_sample":9007199254740993,"original_bytes":2,"reason":"x"}}"#,
                "EVNT.value.at_sample",
            ),
            (
                r#"{"type":"custom","key":"sasf.merge","value":{"adhoc":"a","snippet":"s","adhoc_samples":1,
                    "adhoc_started_at":"2026-11-23T10:15:00Z","snippet_started_at":"2026-11-23T10:15:00+00:00"}}"#,
                "EVNT.value.snippet_started_at",
            ),
        ] {
            assert_eq!(payload_err(payload), path, "{payload}");
        }
        // The library's reserved events, as recover and merge write them, are valid.
        for ok in [
            r#"{"type":"custom","key":"sasf.recovered","value":{"at_sample":1,"original_bytes":2,"reason":"complete"}}"#,
            r#"{"type":"custom","key":"sasf.merge","value":{"adhoc":"a","snippet":"s","adhoc_samples":1,
                "adhoc_started_at":"2026-11-23T10:15:00Z","snippet_started_at":"2026-11-23T10:15:01Z","later":null}}"#,
            r#"{"type":"dtmf","redacted":true}"#,
            r#"{"type":"dtmf","redacted":false,"digits":"1"}"#,
        ] {
            let v = parse_document(ok).unwrap();
            Event::from_payload(&v, "EVNT", 0, None).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn reserved_keys_are_refused_in_documents() {
        for key in ["sasf.recovered", "sasf.merge", "sasf.x"] {
            let doc = format!(
                r#"{{"events":[{{"at_ms":1,"type":"custom","key":"{key}","value":{{"at_sample":0,"original_bytes":0,"reason":"complete"}}}}]}}"#
            );
            let (path, reason) = err_reason(&doc);
            assert_eq!(path, "events[0].key");
            assert!(reason.contains("reserved"), "{reason}");
        }
        // Only the whole first label is the namespace.
        Metadata::from_json_str(
            r#"{"events":[{"at_ms":1,"type":"custom","key":"crm.sasf","value":1}]}"#,
            &fmt(8000),
            None,
        )
        .unwrap();
    }

    #[test]
    fn ids_and_strings_have_limits() {
        let long = "x".repeat(MAX_ID_LEN + 1);
        let text = "t".repeat(MAX_TEXT_LEN + 1);
        for (doc, path) in [
            (
                format!(r#"{{"participants":[{{"id":"{long}","role":"agent"}}]}}"#),
                "participants[0].id",
            ),
            (
                format!(r#"{{"participants":[{{"id":"a","role":"agent","name":"{text}"}}]}}"#),
                "participants[0].name",
            ),
            (
                r#"{"participants":[{"id":"a","role":"agent","channels":[1,1]}]}"#.into(),
                "participants[0].channels[1]",
            ),
            (
                r#"{"recording":{"channels":[]}}"#.into(),
                "recording.channels",
            ),
            (
                r#"{"recording":{"channels":["agent",""]}}"#.into(),
                "recording.channels[1]",
            ),
            (r#"{"recording":{"id":""}}"#.into(), "recording.id"),
            (
                format!(r#"{{"events":[{{"at_ms":1,"type":"marker","label":"{text}"}}]}}"#),
                "events[0].label",
            ),
            (
                r#"{"annotations":[{"kind":"t","at":"2026-11-23"}]}"#.into(),
                "annotations[0].at",
            ),
            (
                r#"{"events":[{"at_sample":9007199254740993,"type":"pause"}]}"#.into(),
                "events[0].at_sample",
            ),
        ] {
            assert_eq!(err_path(&doc, None), path, "{doc}");
        }
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
