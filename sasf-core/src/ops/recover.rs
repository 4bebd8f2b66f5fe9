//! Crash recovery (`docs/FORMAT.md` §15): salvage the authenticated prefix of a stream
//! whose writer died into a new, valid stream that says it was recovered.

use std::io::{Read, Write};

use serde_json::json;

use crate::error::{Error, Result};
use crate::io::reader::{Decoder, Item};
use crate::io::writer::WriterBuilder;
use crate::io::{Limits, Require};
use crate::meta::{Event, EventKind};
use crate::{Context, Key, Keyring};

/// The context a bound file's copy must be bound to again: its INFO's id and tenant.
pub(crate) fn bound_context<R: Read>(r: &crate::io::reader::Reader<R>) -> Option<Context> {
    r.context_digest()?;
    let info = r.info();
    let tenant = info.extra.get("tenant").and_then(|t| t.as_str());
    Context::new(info.id.clone()?, tenant).ok()
}

/// The reserved `custom` event key that marks a recovered file (`docs/FORMAT.md` §17).
pub const RECOVERED_KEY: &str = "sasf.recovered";

/// What a recovery found and kept.
#[derive(Debug)]
pub struct Recovery {
    /// Chunks of the original that were authentic and kept.
    pub chunks_kept: u64,
    /// Audio frames kept.
    pub samples: u64,
    /// Sample rate, to express `samples` as a time.
    pub sample_rate: u32,
    /// Bytes of the original read up to the end of the last authentic chunk.
    pub original_bytes: u64,
    /// Why the original stopped (its error), or `None` if it was complete.
    pub stop: Option<Error>,
    /// Chunks written to the recovered stream.
    pub chunks_written: u64,
}

/// Copies every authenticated chunk of `input` up to the first one that is incomplete
/// or fails (never past it) into a new stream on `out`: same format, level and key,
/// a **new salt** (every chunk is re-sealed, since the original may hold a partial
/// chunk sealed under the next index), a `custom` event `sasf.recovered` saying where
/// the original stopped, and an END chunk with the recovered flag.
///
/// Fails if the header or the INFO chunk is not authentic (nothing can be trusted
/// then). A complete original is copied too, and the report's `stop` is `None`.
pub fn recover<R: Read, W: Write>(input: R, key: Option<&Key>, out: W) -> Result<(W, Recovery)> {
    recover_requiring(input, key, Require::default_for(key.is_some()), None, out)
}

/// [`recover`] with an explicit requirement (`docs/FORMAT.md` §13), and the context the
/// original must be bound to, if any: a recovery given a key refuses, by default, to
/// salvage a file that this key does not protect.
pub fn recover_requiring<R: Read, W: Write>(
    input: R,
    key: Option<&Key>,
    require: Require,
    expect: Option<Context>,
    out: W,
) -> Result<(W, Recovery)> {
    let ring = key
        .map(|k| Keyring::from_key(k.clone()))
        .unwrap_or_default();
    recover_with(input, &ring, require, expect, out)
}

/// [`recover_requiring`] with every key and identity of `keyring`. The new file is
/// wrapped for the keyring's keys that the original has a slot for and for the
/// recipients of its X25519 identities.
pub fn recover_with<R: Read, W: Write>(
    input: R,
    keyring: &Keyring,
    require: Require,
    expect: Option<Context>,
    out: W,
) -> Result<(W, Recovery)> {
    let mut d = Decoder::with_limits(input, Limits::default())?.require(require);
    if let Some(c) = expect {
        d = d.expect_context(c);
    }
    let header = d.header().clone();
    let mut r = d.open_with(keyring)?;
    let f = header.format;
    let mut b = WriterBuilder::new(f)
        .info(r.info().clone())
        .max_chunk_len(header.max_chunk_len)
        .retention_days(header.retention_days);
    // A bound original gives a bound copy (its INFO names the context).
    if let Some(c) = bound_context(&r) {
        b = b.bind_context(c);
    }
    // A recovered original's own sasf.recovered event is not copied: the new one
    // carries its value as `previous`, so the copy still holds exactly one (§11).
    let mut previous: Option<serde_json::Value> = None;
    if header.integrity != crate::Integrity::Keyless {
        let (keys, public) = keyring.rewrap_for(r.key_section(), r.header_hash());
        if keys.is_empty() && public.is_empty() {
            return Err(Error::new(crate::ErrorKind::KeyRequired));
        }
        b = b.integrity(header.integrity);
        for k in keys {
            b = b.recipient(k);
        }
        for p in public {
            b = b.public_recipient(p);
        }
    }
    let mut w = b.wrap_output(out)?;
    // Counted after each chunk that was authenticated, checked and copied.
    let (mut chunks_kept, mut kept_bytes) = (r.chunks(), r.offset());
    let stop = loop {
        let done = match r.next_item() {
            Ok(Some(Item::Audio { data, .. })) => w.write_audio(data).map(|_| false)?,
            Ok(Some(Item::Participant { participant, .. })) => {
                w.add_participant(participant).map(|_| false)?
            }
            Ok(Some(Item::Event(Event {
                kind: EventKind::Custom { key, value },
                ..
            }))) if key == RECOVERED_KEY => {
                previous = Some(value);
                false
            }
            // A copy: the original may hold the library's own reserved events.
            Ok(Some(Item::Event(e))) => w.add_library_event(e).map(|_| false)?,
            Ok(Some(Item::Annotation(a))) => w.add_annotation(a).map(|_| false)?,
            Ok(Some(Item::Index { .. } | Item::Skipped { .. })) => false,
            Ok(Some(Item::End(_))) | Ok(None) => true,
            Err(e) => break Some(e),
        };
        (chunks_kept, kept_bytes) = (r.chunks(), r.offset());
        if done {
            break None;
        }
    };
    let samples = w.position();
    let dropped = w.drop_metadata_after(samples);
    // Members that do not apply are omitted: `null` never stands for "none" (§9.2).
    let mut value = json!({
        "at_sample": samples,
        "original_bytes": kept_bytes,
        "reason": stop.as_ref().map(|e| e.class()).unwrap_or("complete"),
        "metadata_dropped": dropped,
    });
    if let Some(last) = chunks_kept.checked_sub(1) {
        value["after_chunk"] = last.into();
    }
    if let Some(e) = &stop {
        value["message"] = e.to_string().into();
    }
    if let Some(p) = previous {
        value["previous"] = p;
    }
    w.add_library_event(Event {
        at_sample: samples,
        participant: None,
        kind: EventKind::Custom {
            key: RECOVERED_KEY.into(),
            value,
        },
        extra: Default::default(),
    })?;
    let chunks_written = w.chunks_written();
    let out = w.finish()?;
    Ok((
        out,
        Recovery {
            chunks_kept,
            samples,
            sample_rate: f.sample_rate,
            original_bytes: kept_bytes,
            stop,
            chunks_written,
        },
    ))
}
