//! Authenticated excerpts (`docs/FORMAT.md` §9.5.3): a SASF file holding exactly the
//! frames `[from, to)` of a source, the events and annotations at times in
//! `[from, to]` re-based onto `from`, the state of the call at `from`, and a
//! `sasf.excerpt` event at frame 0 naming the source (id, file digest, manifest,
//! length) and the range's position in it. [`check_source`] confirms, given both
//! files, that the excerpt's frames are the source's frames at that position.
//!
//! **The state at the start.** Participants declared before `from` are declared at
//! 0. The record lists who had joined (a `join` not followed by a `leave`), who was
//! on hold and who was muted, and whether a secure pause was in progress; each hold,
//! mute and the pause that were in progress are also written as events at 0, before
//! the source's own events at `from`, so that a reader of the excerpt alone sees
//! them. `started_at` moves by `from` frames. A `sasf.excerpt` event of the source (an
//! excerpt of an excerpt) becomes the new record's `previous`; a `sasf.recovered`
//! event is not copied (the excerpt is complete; its source was recovered, which the
//! source says).

use std::io::{Read, Write};
use std::path::Path;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::bridge::shift_info;
use crate::crypto::hex;
use crate::error::{format_time, Error, Result};
use crate::io::reader::{Item, Reader};
use crate::meta::{Annotation, Event, EventKind, Participant};
use crate::provenance::{builder_like, check_range, same_source, Carried, Opening, Source};
use crate::recover::RECOVERED_KEY;
use crate::PublicRecipient;

pub use crate::provenance::EXCERPT_KEY;

/// The state of the call at the start of an excerpt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartState {
    /// Participants who had joined and not left, in the order they joined.
    pub joined: Vec<String>,
    /// Participants on hold.
    pub on_hold: Vec<String>,
    /// Participants muted.
    pub muted: Vec<String>,
    /// Whether a secure pause was in progress.
    pub paused: bool,
}

impl StartState {
    fn apply(&mut self, e: &Event) {
        let Some(p) = e.participant.clone() else {
            match e.kind {
                EventKind::Pause => self.paused = true,
                EventKind::Unpause => self.paused = false,
                _ => {}
            }
            return;
        };
        let (set, on) = match e.kind {
            EventKind::Join => (&mut self.joined, true),
            EventKind::Leave => {
                // Who leaves is neither on hold nor muted any more.
                self.on_hold.retain(|x| *x != p);
                self.muted.retain(|x| *x != p);
                (&mut self.joined, false)
            }
            EventKind::Hold => (&mut self.on_hold, true),
            EventKind::Resume => (&mut self.on_hold, false),
            EventKind::Mute => (&mut self.muted, true),
            EventKind::Unmute => (&mut self.muted, false),
            EventKind::Pause => {
                self.paused = true;
                return;
            }
            EventKind::Unpause => {
                self.paused = false;
                return;
            }
            _ => return,
        };
        set.retain(|x| *x != p);
        if on {
            set.push(p);
        }
    }

    fn to_json(&self) -> Value {
        json!({"joined": self.joined, "on_hold": self.on_hold, "muted": self.muted,
               "paused": self.paused})
    }

    /// The events at 0 that put an excerpt's reader in this state.
    fn events(&self) -> Vec<Event> {
        let ev = |participant: Option<&String>, kind| Event {
            at_sample: 0,
            participant: participant.cloned(),
            kind,
            extra: Default::default(),
        };
        let mut v: Vec<Event> = (self.paused.then(|| ev(None, EventKind::Pause)))
            .into_iter()
            .collect();
        v.extend(self.on_hold.iter().map(|p| ev(Some(p), EventKind::Hold)));
        v.extend(self.muted.iter().map(|p| ev(Some(p), EventKind::Mute)));
        v
    }
}

/// What an excerpt holds.
#[derive(Debug, Clone)]
pub struct ExcerptReport {
    /// The source, as the excerpt record names it.
    pub source: Source,
    /// The range in the source: `[from, to)`.
    pub from: u64,
    /// End of the range.
    pub to: u64,
    /// The state at `from`.
    pub state: StartState,
    /// Events copied (re-based).
    pub events: usize,
    /// Who can open the excerpt.
    pub carried: Carried,
}

enum Held {
    Participant(Participant),
    Event(Event),
    Annotation(Annotation),
}

/// Writes to `out` the excerpt `[from, to)` of the SASF file at `source`, sealed like
/// the source (see [`crate::provenance`]). Refused before anything is written: an
/// empty range or one not inside the recording. The output is complete only when
/// this returns `Ok`: the source was read and authenticated to its END.
pub fn excerpt<W: Write>(
    source: &Path,
    opening: Opening<'_>,
    extra: &[PublicRecipient],
    from: u64,
    to: u64,
    out: W,
) -> Result<(W, ExcerptReport)> {
    let (src, ra) = opening.survey(source)?;
    check_range(from, to, src.samples, src.format.sample_rate)?;
    drop(ra);
    let mut r = opening.stream(source)?;
    let format = r.header().format;
    let ba = format.block_align() as u64;
    let info = shift_info(r.info(), from, format.sample_rate);
    let (b, carried) = builder_like(&r, opening.keyring, extra, info)?;
    let mut w = b.wrap_output(out)?;
    let mut state = StartState::default();
    let mut before: Vec<Participant> = Vec::new();
    let mut held: Vec<Held> = Vec::new();
    let mut previous: Option<Value> = None;
    let mut started = false;
    let mut events = 0usize;
    let start = |w: &mut crate::Writer<W>,
                 state: &StartState,
                 before: &mut Vec<Participant>,
                 held: &mut Vec<Held>,
                 previous: &mut Option<Value>|
     -> Result<()> {
        for p in before.drain(..) {
            w.add_participant(p)?;
        }
        let mut value = src.members();
        value.insert("from_sample".into(), from.into());
        value.insert("to_sample".into(), to.into());
        if let Some(s) = &src.started_at {
            value.insert("source_started_at".into(), s.clone().into());
        }
        value.insert("state".into(), state.to_json());
        if let Some(p) = previous.take() {
            value.insert("previous".into(), p);
        }
        w.add_library_event(Event {
            at_sample: 0,
            participant: None,
            kind: EventKind::Custom {
                key: EXCERPT_KEY.into(),
                value: Value::Object(value),
            },
            extra: Default::default(),
        })?;
        for e in state.events() {
            w.add_library_event(e)?;
        }
        for h in held.drain(..) {
            match h {
                Held::Participant(p) => w.add_participant(p)?,
                Held::Event(e) => w.add_library_event(e)?,
                Held::Annotation(a) => w.add_annotation(a)?,
            }
        }
        Ok(())
    };
    let in_range = |t: u64| (from..=to).contains(&t);
    loop {
        let item = match r.next_item()? {
            Some(Item::End(_)) | None => break,
            Some(Item::Audio { at_sample, data }) => {
                let end = at_sample + data.len() as u64 / ba;
                if end <= from || at_sample >= to {
                    continue;
                }
                if !started {
                    start(&mut w, &state, &mut before, &mut held, &mut previous)?;
                    started = true;
                }
                let cut = |t: u64| ((t.clamp(at_sample, end) - at_sample) * ba) as usize;
                w.write_audio(&data[cut(from)..cut(to)])?;
                continue;
            }
            Some(Item::Participant {
                at_sample,
                participant,
            }) => {
                if at_sample < from {
                    before.push(participant);
                    continue;
                }
                if at_sample > to {
                    continue;
                }
                Held::Participant(participant)
            }
            Some(Item::Event(mut e)) => {
                if let EventKind::Custom { key, value } = &e.kind {
                    if key == EXCERPT_KEY {
                        previous = Some(value.clone());
                        continue;
                    }
                    if key == RECOVERED_KEY {
                        continue;
                    }
                }
                if e.at_sample < from {
                    state.apply(&e);
                    continue;
                }
                if !in_range(e.at_sample) {
                    continue;
                }
                e.at_sample -= from;
                events += 1;
                Held::Event(e)
            }
            Some(Item::Annotation(mut a)) => {
                if !in_range(a.at_sample) {
                    continue;
                }
                a.at_sample -= from;
                Held::Annotation(a)
            }
            Some(_) => continue,
        };
        if started {
            match item {
                Held::Participant(p) => w.add_participant(p)?,
                Held::Event(e) => w.add_library_event(e)?,
                Held::Annotation(a) => w.add_annotation(a)?,
            }
        } else {
            held.push(item);
        }
    }
    if !started {
        start(&mut w, &state, &mut before, &mut held, &mut previous)?;
    }
    same_source(&r, &src)?;
    let out = w.finish()?;
    Ok((
        out,
        ExcerptReport {
            source: src,
            from,
            to,
            state,
            events,
            carried,
        },
    ))
}

/// What [`check_source`] found.
#[derive(Debug, Clone)]
pub struct SourceCheck {
    /// The excerpt's `sasf.excerpt` record.
    pub record: Map<String, Value>,
    /// The range in the source.
    pub from: u64,
    /// End of the range.
    pub to: u64,
    /// The sample rate (of both).
    pub sample_rate: u32,
    /// The source's file digest, as read.
    pub source_file_digest: [u8; 32],
    /// SHA-256 of the excerpt's frames as stored (`verify --audio-hash` of the excerpt).
    pub audio_sha256: [u8; 32],
    /// Every way the excerpt does not match the source; empty when it does.
    pub mismatches: Vec<String>,
}

impl SourceCheck {
    /// Whether the excerpt came from the source at the position it names.
    pub fn matches(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// Reads the excerpt `excerpt` to its END (so it is verified), then the source
/// `source` to its END, and compares: the source's file digest and manifest are the
/// ones the excerpt's record names, its length is the one named, its audio format is
/// the excerpt's, the excerpt holds exactly `to - from` frames, and those frames are
/// byte for byte the source's frames `[from, to)` (compared through SHA-256 of each
/// side, so memory stays bounded).
///
/// An error means a file could not be read or failed its own verification; an
/// excerpt that verifies but does not match its source is `Ok` with
/// [`SourceCheck::mismatches`] saying how. A file that holds no `sasf.excerpt` record,
/// or more than one, is refused ([`crate::ErrorKind::Misuse`]).
pub fn check_source<A: Read, B: Read>(
    excerpt: &mut Reader<A>,
    source: &mut Reader<B>,
) -> Result<SourceCheck> {
    let mut records = Vec::new();
    let mut h = Sha256::new();
    let mut frames = 0u64;
    let fmt = excerpt.header().format;
    while let Some(item) = excerpt.next_item()? {
        match item {
            Item::Audio { data, .. } => {
                h.update(data);
                frames += data.len() as u64 / fmt.block_align() as u64;
            }
            Item::Event(Event {
                kind: EventKind::Custom { key, value },
                ..
            }) if key == EXCERPT_KEY => records.push(value),
            _ => {}
        }
    }
    let audio_sha256: [u8; 32] = h.finalize().into();
    let record = match records.len() {
        1 => records.remove(0),
        0 => {
            return Err(Error::misuse(
                "the file is not an excerpt: it holds no sasf.excerpt record",
            ))
        }
        n => {
            return Err(Error::misuse(format!(
                "the file holds {n} sasf.excerpt records: an excerpt holds one"
            )))
        }
    };
    let record = record.as_object().cloned().unwrap_or_default();
    let num = |k: &str| record.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (from, to) = (num("from_sample"), num("to_sample"));
    let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
    let rate = fmt.sample_rate;
    let mut mismatches = Vec::new();
    if frames != to - from {
        mismatches.push(format!(
            "the excerpt holds {frames} frames but its record names {} ({}–{} of the source)",
            to - from,
            format_time(from, rate),
            format_time(to, rate)
        ));
    }
    let sfmt = source.header().format;
    let same_format = sfmt == fmt;
    if !same_format {
        mismatches.push(format!(
            "the source's audio format ({}, {} channels, {} Hz) is not the excerpt's ({}, {} channels, {} Hz)",
            sfmt.encoding.describe(), sfmt.channels, sfmt.sample_rate,
            fmt.encoding.describe(), fmt.channels, fmt.sample_rate
        ));
    }
    let sba = sfmt.block_align() as u64;
    let mut s = Sha256::new();
    while let Some(item) = source.next_item()? {
        if let Item::Audio { at_sample, data } = item {
            let end = at_sample + data.len() as u64 / sba;
            let cut = |t: u64| ((t.clamp(at_sample, end) - at_sample) * sba) as usize;
            s.update(&data[cut(from)..cut(to)]);
        }
    }
    let digest = *source
        .file_digest()
        .expect("a reader that reached END knows the file digest");
    let totals = *source.totals().expect("the end chunk was read");
    if text("source_file_digest") != hex(&digest) {
        mismatches.push(format!(
            "the source's file digest is {} but the excerpt names {}",
            hex(&digest),
            text("source_file_digest")
        ));
    }
    if text("source_manifest") != hex(&totals.manifest) {
        mismatches.push("the source's manifest is not the one the excerpt names".into());
    }
    if num("source_samples") != totals.samples {
        mismatches.push(format!(
            "the source holds {} frames but the excerpt names {}",
            totals.samples,
            num("source_samples")
        ));
    }
    let source_hash: [u8; 32] = s.finalize().into();
    if same_format && frames == to - from && to <= totals.samples && source_hash != audio_sha256 {
        mismatches.push(format!(
            "the excerpt's frames differ from the source's frames {}–{}",
            format_time(from, rate),
            format_time(to, rate)
        ));
    }
    Ok(SourceCheck {
        record,
        from,
        to,
        sample_rate: rate,
        source_file_digest: digest,
        audio_sha256,
        mismatches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Role;
    use crate::{AudioFormat, Decoder, Encoding, Key, Keyring, Require, WriterBuilder};

    fn ev(at: u64, kind: EventKind) -> Event {
        Event {
            at_sample: at,
            participant: Some("a".into()),
            kind,
            extra: Default::default(),
        }
    }

    /// 4000 frames of mono 16-bit, each sample its frame number; `a` joins at 0, is on
    /// hold from 1000 to 3000 and muted from 1200 to 1300.
    fn source(key: &Key) -> Vec<u8> {
        let f = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        let mut w = WriterBuilder::new(f)
            .encrypted(key.clone())
            .chunk_frames(300)
            .wrap_output(Vec::new())
            .unwrap();
        w.add_participant(Participant {
            id: "a".into(),
            name: None,
            role: Role::Agent,
            address: None,
            channels: vec![0],
            extra: Default::default(),
        })
        .unwrap();
        for (at, k) in [
            (0, EventKind::Join),
            (1000, EventKind::Hold),
            (1200, EventKind::Mute),
            (1300, EventKind::Unmute),
            (3000, EventKind::Resume),
        ] {
            w.add_event(ev(at, k)).unwrap();
        }
        let audio: Vec<u8> = (0..4000u16).flat_map(|i| i.to_le_bytes()).collect();
        w.write_audio(&audio).unwrap();
        w.finish().unwrap()
    }

    fn check(cut: &[u8], src: &[u8], key: &Key) -> SourceCheck {
        let mut a = Decoder::new(cut).unwrap().open(Some(key)).unwrap();
        let mut b = Decoder::new(src).unwrap().open(Some(key)).unwrap();
        check_source(&mut a, &mut b).unwrap()
    }

    #[test]
    fn an_excerpt_matches_its_source_and_a_forgery_does_not() {
        let key = Key::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sasf");
        let src = source(&key);
        std::fs::write(&path, &src).unwrap();
        let ring = Keyring::from_key(key.clone());
        let opening = Opening {
            keyring: &ring,
            require: Require::Encrypted,
            expect: None,
            signers: &[],
        };
        let (cut, rep) = excerpt(&path, opening, &[], 1250, 2500, Vec::new()).unwrap();
        assert_eq!(
            rep.state,
            StartState {
                joined: vec!["a".into()],
                on_hold: vec!["a".into()],
                muted: vec!["a".into()],
                paused: false
            }
        );
        let c = check(&cut, &src, &key);
        assert!(c.matches(), "{:?}", c.mismatches);
        assert_eq!((c.from, c.to), (1250, 2500));
        // The same record over other frames of the same length: the record is
        // authentic (sealed under the key) but the frames are not the source's.
        let f = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        let mut w = WriterBuilder::new(f)
            .encrypted(key.clone())
            .wrap_output(Vec::new())
            .unwrap();
        w.add_library_event(Event {
            at_sample: 0,
            participant: None,
            kind: EventKind::Custom {
                key: EXCERPT_KEY.into(),
                value: Value::Object(c.record.clone()),
            },
            extra: Default::default(),
        })
        .unwrap();
        let mut other: Vec<u8> = (1250..2500u16).flat_map(|i| i.to_le_bytes()).collect();
        other[100] ^= 1;
        w.write_audio(&other).unwrap();
        let forged = w.finish().unwrap();
        let c = check(&forged, &src, &key);
        assert_eq!(c.mismatches.len(), 1, "{:?}", c.mismatches);
        assert!(
            c.mismatches[0].contains("frames differ"),
            "{:?}",
            c.mismatches
        );
        // One frame short: the length is wrong.
        let mut w = WriterBuilder::new(f)
            .encrypted(key.clone())
            .wrap_output(Vec::new())
            .unwrap();
        w.add_library_event(Event {
            at_sample: 0,
            participant: None,
            kind: EventKind::Custom {
                key: EXCERPT_KEY.into(),
                value: Value::Object(c.record.clone()),
            },
            extra: Default::default(),
        })
        .unwrap();
        w.write_audio(&other[2..]).unwrap();
        let short = w.finish().unwrap();
        let c = check(&short, &src, &key);
        assert!(
            c.mismatches[0].contains("holds 1249 frames"),
            "{:?}",
            c.mismatches
        );
        // A file that is no excerpt cannot be checked.
        let mut a = Decoder::new(&src[..]).unwrap().open(Some(&key)).unwrap();
        let mut b = Decoder::new(&src[..]).unwrap().open(Some(&key)).unwrap();
        let e = check_source(&mut a, &mut b).unwrap_err();
        assert!(e.to_string().contains("not an excerpt"), "{e}");
    }

    fn payload(v: &str, at: u64) -> Result<Event> {
        let v = crate::meta::parse_document(v).unwrap();
        Event::from_payload(&v, "EVNT", at, None)
    }

    const D: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn provenance_records_are_checked_as_a_reader_does() {
        let red = |extra: &str| {
            format!(
                r#"{{"type":"custom","key":"sasf.redaction","value":{{"from_sample":10,"to_sample":20,
                   "source_samples":100,"source_file_digest":"{D}","source_manifest":"{D}",
                   "reason":"pci","by":"qa"{extra}}}}}"#
            )
        };
        let exc = |state: &str, extra: &str| {
            format!(
                r#"{{"type":"custom","key":"sasf.excerpt","value":{{"from_sample":10,"to_sample":20,
                   "source_samples":100,"source_file_digest":"{D}","source_manifest":"{D}",
                   "state":{state}{extra}}}}}"#
            )
        };
        let st = r#"{"joined":["a"],"on_hold":[],"muted":[],"paused":false}"#;
        for ok in [
            red(r#","mode":"silence""#),
            red(
                r#","mode":"omit","dropped_events":[{"type":"dtmf","redacted":true,"at_sample":10}]"#,
            ),
            red(r#","mode":"beep","at":"2026-12-02T05:00:00.000Z","dtmf_redacted":0"#),
        ] {
            payload(&ok, 10).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        payload(&exc(st, ""), 0).unwrap();
        for (bad, at, path) in [
            (red(r#","mode":"mute""#), 10, "EVNT.value.mode"),
            (red(""), 10, "EVNT.value.mode"),
            (
                red(r#","mode":"silence","dropped_events":[]"#),
                10,
                "EVNT.value.dropped_events",
            ),
            (
                red(
                    r#","mode":"omit","dropped_events":[{"type":"dtmf","digits":"4","at_sample":10}]"#,
                ),
                10,
                "EVNT.value.dropped_events[0].digits",
            ),
            (
                red(r#","mode":"omit","dropped_events":[{"type":"hold","at_sample":20}]"#),
                10,
                "EVNT.value.dropped_events[0].at_sample",
            ),
            (
                red(r#","mode":"omit","source_file_digest":"ABC""#)
                    .replace(&format!(r#""source_file_digest":"{D}","#), ""),
                10,
                "EVNT.value.source_file_digest",
            ),
            (exc(st, ""), 5, "EVNT.key"),
            (
                exc(r#"{"joined":["a"],"on_hold":[],"paused":false}"#, ""),
                0,
                "EVNT.value.state.muted",
            ),
            (
                exc(
                    r#"{"joined":[""],"on_hold":[],"muted":[],"paused":false}"#,
                    "",
                ),
                0,
                "EVNT.value.state.joined[0]",
            ),
            (exc(st, r#","previous":1"#), 0, "EVNT.value.previous"),
            (
                exc(st, "").replace(r#""to_sample":20"#, r#""to_sample":101"#),
                0,
                "EVNT.value.to_sample",
            ),
            (
                exc(st, "").replace(r#""to_sample":20"#, r#""to_sample":10"#),
                0,
                "EVNT.value.to_sample",
            ),
        ] {
            match payload(&bad, at).map_err(|e| e.into_kind()) {
                Err(crate::ErrorKind::InvalidMetadata { path: p, .. }) => {
                    assert_eq!(p, path, "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // A user may not write them.
        let doc = format!(
            r#"{{"events":[{}]}}"#,
            red(r#","mode":"silence""#).replace(r#"{"type""#, r#"{"at_ms":1,"type""#)
        );
        let f = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        assert!(crate::meta::Metadata::from_json_str(&doc, &f, None).is_err());
    }
}
