//! Merging, after the fact, an ad hoc WAV recording into the snippet that started while
//! it ran: what a [`Session`](crate::session::Session) does live, for two files a
//! recording system wrote separately.
//!
//! The result is one snippet running from the ad hoc start to the snippet's end: the
//! ad hoc audio up to the snippet's start, then the snippet's audio. The snippet's
//! participants, events and annotations move onto the new timeline (later by the ad
//! hoc prefix), and the merge itself is recorded as events: `adhoc_start` at 0,
//! `snippet_start` where the snippet begins (unless the snippet has its own there), and
//! a `custom` event `sasf.merge` there naming the sources.
//!
//! **Overlap.** When the ad hoc WAV runs on past the snippet's start (it usually does:
//! the recorder kept writing it), the snippet's audio wins from the snippet's start
//! on: the rest of the WAV is not used, and `sasf.merge` says how many frames were
//! dropped.
//!
//! **Gap.** An ad hoc WAV that ends before the snippet starts was not running when the
//! snippet started, so the rules do not merge it: that is an error. But a BWF `bext`
//! origination time has one-second resolution, so a WAV that ends at most
//! [`MergeOptions::gap_tolerance`] (default one second) early is taken to have run
//! until the snippet started: the whole WAV is used, and the start anchor moves that
//! much later. This needs the WAV's header to state its length.
//!
//! The snippet is read with [`Reader`] (so only authenticated data is used) and the
//! result written with [`Writer`](crate::Writer) at the snippet's integrity level, under the same
//! key, with a new salt. Memory is bounded: both inputs are streamed. The output is
//! complete only when [`merge_adhoc`] returns `Ok` (the snippet's end chunk verified).

use std::fmt;
use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::audio::AudioFormat;
use crate::bridge::IO_BUFFER;
use crate::crypto::{Integrity, Key, Keyring};
use crate::error::{Error, ErrorKind};
use crate::io::reader::{Item, Reader};
use crate::io::writer::WriterBuilder;
use crate::meta::{sample_to_ms, Event, EventKind, Timestamp};
use crate::wav::{WavInfo, WavReader};

/// The key of the `custom` event that records a merge.
pub const MERGE_EVENT_KEY: &str = "sasf.merge";

/// How a merge names its sources and how much gap it tolerates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOptions {
    /// The ad hoc recording's name in the `sasf.merge` event (e.g. its file name).
    pub adhoc_name: String,
    /// The snippet's name in the `sasf.merge` event.
    pub snippet_name: String,
    /// How far before the snippet's start the ad hoc WAV may end and still be taken to
    /// have run until it (default one second, the resolution of BWF times).
    pub gap_tolerance: Duration,
}

impl Default for MergeOptions {
    fn default() -> MergeOptions {
        MergeOptions {
            adhoc_name: "adhoc".into(),
            snippet_name: "snippet".into(),
            gap_tolerance: Duration::from_secs(1),
        }
    }
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSummary {
    /// The merged file's start anchor (INFO `started_at`).
    pub started_at: Timestamp,
    /// Frames of ad hoc audio used: the snippet starts at this position.
    pub adhoc_frames: u64,
    /// Frames of the ad hoc WAV after the snippet's start, not used (`None` when the
    /// WAV's header does not state its length).
    pub adhoc_frames_dropped: Option<u64>,
    /// Frames by which the start anchor was moved later than the given ad hoc start,
    /// because the WAV ended that much before the snippet started (within tolerance).
    pub start_moved_frames: u64,
    /// Frames taken from the snippet.
    pub snippet_frames: u64,
    /// Sample rate of both.
    pub sample_rate: u32,
    /// Unknown ancillary chunks of the snippet that could not be carried over.
    pub skipped_chunks: u64,
}

impl MergeSummary {
    /// Frames in the merged file.
    pub fn frames(&self) -> u64 {
        self.adhoc_frames + self.snippet_frames
    }
}

/// Why a merge could not be done.
#[derive(Debug)]
pub enum MergeError {
    /// The WAV's encoding, channel count or sample rate differs from the snippet's.
    FormatMismatch {
        /// The ad hoc WAV's format.
        adhoc: AudioFormat,
        /// The snippet's format.
        snippet: AudioFormat,
    },
    /// The snippet's INFO has no `started_at`, so it cannot be placed in time.
    NoSnippetStart,
    /// The ad hoc recording started after the snippet.
    AdhocAfterSnippet {
        /// The ad hoc start, RFC 3339.
        adhoc_start: String,
        /// The snippet start, RFC 3339.
        snippet_start: String,
    },
    /// The ad hoc WAV ends before the snippet starts, by more than the tolerance (or
    /// at all, when its header does not state its length).
    AdhocEndsBeforeSnippet {
        /// How long before, in milliseconds.
        gap_ms: u64,
        /// Whether the WAV's header stated its length.
        length_known: bool,
    },
    /// Reading or writing failed; the error says what and where.
    Failed(Error),
}

impl MergeError {
    /// The error as the crate's [`Error`]: `Failed` unwrapped, the others as
    /// [`ErrorKind::Misuse`] with this message.
    pub fn into_error(self) -> Error {
        match self {
            MergeError::Failed(e) => e,
            other => Error::misuse(other.to_string()),
        }
    }
}

fn describe(f: &AudioFormat) -> String {
    format!(
        "{}, {} channel{}, {} Hz",
        f.encoding.describe(),
        f.channels,
        if f.channels == 1 { "" } else { "s" },
        f.sample_rate
    )
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::FormatMismatch { adhoc, snippet } => write!(
                f,
                "the ad hoc recording is {} but the snippet is {}: they cannot be merged",
                describe(adhoc),
                describe(snippet)
            ),
            MergeError::NoSnippetStart => write!(
                f,
                "the snippet has no start time (INFO started_at), so it cannot be placed after the ad hoc recording"
            ),
            MergeError::AdhocAfterSnippet {
                adhoc_start,
                snippet_start,
            } => write!(
                f,
                "the ad hoc recording starts at {adhoc_start}, after the snippet ({snippet_start}): \
                 only an ad hoc recording running when the snippet started merges into it"
            ),
            MergeError::AdhocEndsBeforeSnippet {
                gap_ms,
                length_known,
            } => write!(
                f,
                "the ad hoc recording ends {gap_ms} ms before the snippet starts, so it was not \
                 running when the snippet started{}",
                if *length_known {
                    ""
                } else {
                    " (its WAV header does not state its length; give its start time precisely)"
                }
            ),
            MergeError::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MergeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MergeError::Failed(e) => e.source(),
            _ => None,
        }
    }
}

impl From<Error> for MergeError {
    fn from(e: Error) -> MergeError {
        MergeError::Failed(e)
    }
}

/// Parses an RFC 3339 date-time (e.g. `2026-11-23T10:14:50Z`).
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// The start time in a WAV's BWF `bext` chunk (OriginationDate and OriginationTime),
/// **taken as UTC**: BWF stores it without a zone.
pub fn bext_start(info: &WavInfo) -> Option<OffsetDateTime> {
    parse_rfc3339(&format!("{}Z", info.bext_origination.as_deref()?))
}

/// The strict UTC form of `t` (`docs/FORMAT.md` §8.0).
fn rfc3339(t: OffsetDateTime) -> String {
    crate::meta::format_utc(t).unwrap_or_else(|| t.to_offset(UtcOffset::UTC).to_string())
}

/// `nanos` seconds·10⁻⁹ as frames at `rate`, rounded to the nearest frame.
fn nanos_to_frames(nanos: u128, rate: u32) -> u64 {
    ((nanos * rate as u128 + 500_000_000) / 1_000_000_000) as u64
}

/// Merges the ad hoc recording `adhoc`, which started at `adhoc_start`, with the
/// snippet `snippet` (opened with `key`), writing one snippet to `out`; see the
/// [module documentation](self) for what the result holds.
///
/// `key` must be the key the snippet was opened with (ignored for a keyless snippet);
/// the result is sealed at the snippet's level under it, with a new salt.
///
/// Refused before anything is written: a format mismatch, a snippet without start
/// time, an ad hoc recording starting after the snippet, or ending too early (when
/// its length is known). Reading errors of either input and writing errors are
/// [`MergeError::Failed`]; `out` then holds an incomplete stream.
pub fn merge_adhoc<A: Read, S: Read, W: Write>(
    adhoc: &mut WavReader<A>,
    adhoc_start: OffsetDateTime,
    snippet: &mut Reader<S>,
    key: Option<&Key>,
    options: &MergeOptions,
    out: W,
) -> std::result::Result<(W, MergeSummary), MergeError> {
    let ring = key
        .map(|k| Keyring::from_key(k.clone()))
        .unwrap_or_default();
    merge_adhoc_with(adhoc, adhoc_start, snippet, &ring, options, out)
}

/// [`merge_adhoc`] with every key and identity of `keyring` (the one the snippet was
/// opened with): the result is wrapped for the keyring's keys that have a slot in the
/// snippet, and for the recipients of its X25519 identities.
pub fn merge_adhoc_with<A: Read, S: Read, W: Write>(
    adhoc: &mut WavReader<A>,
    adhoc_start: OffsetDateTime,
    snippet: &mut Reader<S>,
    keyring: &Keyring,
    options: &MergeOptions,
    out: W,
) -> std::result::Result<(W, MergeSummary), MergeError> {
    let header = snippet.header().clone();
    let format = header.format;
    if adhoc.info().format != format {
        return Err(MergeError::FormatMismatch {
            adhoc: adhoc.info().format,
            snippet: format,
        });
    }
    let snippet_start = snippet
        .info()
        .started_at_utc()
        .ok_or(MergeError::NoSnippetStart)?;
    let gap = snippet_start - adhoc_start;
    if gap.is_negative() {
        return Err(MergeError::AdhocAfterSnippet {
            adhoc_start: rfc3339(adhoc_start),
            snippet_start: rfc3339(snippet_start),
        });
    }
    let rate = format.sample_rate;
    let ba = format.block_align() as u64;
    let offset = nanos_to_frames(gap.whole_nanoseconds() as u128, rate);
    let tolerance = nanos_to_frames(options.gap_tolerance.as_nanos(), rate);
    let adhoc_len = adhoc.info().data_len.map(|l| l / ba);
    let (prefix, moved) = match adhoc_len {
        Some(len) if len < offset => {
            if offset - len > tolerance {
                return Err(MergeError::AdhocEndsBeforeSnippet {
                    gap_ms: sample_to_ms(offset - len, rate),
                    length_known: true,
                });
            }
            (len, offset - len)
        }
        _ => (offset, 0),
    };
    let start = if moved == 0 {
        adhoc_start
    } else {
        let back = (prefix as i128 * 1_000_000_000) / rate as i128;
        snippet_start - time::Duration::nanoseconds_i128(back)
    };
    let started_at = Timestamp::from_utc(start)
        .map_err(|e| MergeError::Failed(Error::misuse(format!("the merged start: {e}"))))?;

    let mut info = snippet.info().clone();
    info.started_at = Some(started_at.clone());
    let mut b = WriterBuilder::new(format)
        .info(info)
        .max_chunk_len(header.max_chunk_len)
        .retention_days(header.retention_days);
    // A bound snippet gives a bound result (its INFO names the context).
    if let Some(c) = crate::recover::bound_context(snippet) {
        b = b.bind_context(c);
    }
    if header.integrity != Integrity::Keyless {
        // The result must be under the snippet's keys, not just any key: a symmetric
        // key must have one of the snippet's slots (checked by its id, and by
        // unwrapping it).
        let (keys, public) = keyring.rewrap_for(snippet.key_section(), snippet.header_hash());
        let h = *snippet.header_hash();
        let keys: Vec<Key> = keys
            .into_iter()
            .filter(|k| {
                snippet.key_section().recipients.iter().any(|s| {
                    s.kind == crate::format::STANZA_SLOT
                        && crate::crypto::unwrap_slot(k, &header.salt, &h, &s.body).is_some()
                })
            })
            .collect();
        if keys.is_empty() && public.is_empty() {
            return Err(Error::new(if keyring.is_empty() {
                ErrorKind::KeyRequired
            } else {
                ErrorKind::WrongKey
            })
            .into());
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
    w.add_event(Event {
        at_sample: 0,
        participant: None,
        kind: EventKind::AdhocStart,
        extra: Default::default(),
    })?;
    // Members that are unknown are omitted: `null` never stands for "none" (§8.0).
    let mut merge_value = json!({
        "adhoc": options.adhoc_name,
        "adhoc_started_at": rfc3339(adhoc_start),
        "snippet": options.snippet_name,
        "snippet_started_at": snippet.info().started_at.as_ref().map(|t| t.as_str()),
    });
    if let Some(id) = &snippet.info().id {
        merge_value["snippet_id"] = id.clone().into();
    }
    merge_value["adhoc_samples"] = prefix.into();
    if let Some(len) = adhoc_len {
        merge_value["adhoc_samples_dropped"] = len.saturating_sub(prefix).into();
    }

    let mut buf = vec![0u8; IO_BUFFER - IO_BUFFER % ba as usize];
    let mut prefix_written = false;
    // Our snippet_start is added unless the snippet has one at its own time 0.
    let mut need_snippet_start = true;
    let mut skipped_chunks = 0;
    let totals = loop {
        let item = snippet
            .next_item()?
            .ok_or_else(|| Error::misuse("the snippet was already read to its end"))?;
        // Participants declared before anything else are declared at 0; the ad hoc
        // audio goes before everything else.
        if !prefix_written && !matches!(item, Item::Participant { .. }) {
            // Counted in bytes: a read may end inside a frame.
            let mut left = prefix * ba;
            while left > 0 {
                let want = left.min(buf.len() as u64) as usize;
                let n = adhoc.read_data(&mut buf[..want])?;
                if n == 0 {
                    return Err(MergeError::AdhocEndsBeforeSnippet {
                        gap_ms: sample_to_ms(left.div_ceil(ba), rate),
                        length_known: false,
                    });
                }
                w.write_audio(&buf[..n])?;
                left -= n as u64;
            }
            let mut value = merge_value.clone();
            if moved > 0 {
                value["start_moved_samples"] = Value::from(moved);
            }
            w.add_library_event(Event {
                at_sample: prefix,
                participant: None,
                kind: EventKind::Custom {
                    key: MERGE_EVENT_KEY.into(),
                    value,
                },
                extra: Default::default(),
            })?;
            prefix_written = true;
        }
        if need_snippet_start && prefix_written {
            let at_zero = match &item {
                Item::Event(e) if e.at_sample == 0 && e.kind == EventKind::SnippetStart => {
                    need_snippet_start = false;
                    true
                }
                Item::Event(e) => e.at_sample == 0,
                Item::Annotation(a) => a.at_sample == 0,
                Item::Participant { at_sample, .. } => *at_sample == 0,
                Item::Index { .. } | Item::Skipped { .. } => true,
                Item::Audio { .. } | Item::End(_) => false,
            };
            if !at_zero {
                w.add_event(Event {
                    at_sample: prefix,
                    participant: None,
                    kind: EventKind::SnippetStart,
                    extra: Default::default(),
                })?;
                need_snippet_start = false;
            }
        }
        match item {
            Item::Audio { data, .. } => w.write_audio(data)?,
            Item::Participant { participant, .. } => w.add_participant(participant)?,
            Item::Event(mut e) => {
                e.at_sample += prefix;
                // A copy: the snippet may hold the library's own reserved events.
                w.add_library_event(e)?;
            }
            Item::Annotation(mut a) => {
                a.at_sample += prefix;
                w.add_annotation(a)?;
            }
            Item::Index { .. } => {}
            Item::Skipped { .. } => skipped_chunks += 1,
            Item::End(t) => break t,
        }
    };
    let out = w.finish()?;
    Ok((
        out,
        MergeSummary {
            started_at,
            adhoc_frames: prefix,
            adhoc_frames_dropped: adhoc_len.map(|l| l.saturating_sub(prefix)),
            start_moved_frames: moved,
            snippet_frames: totals.samples,
            sample_rate: rate,
            skipped_chunks,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::reader::Decoder;
    use crate::meta::{Participant, RecordingInfo, Role};
    use crate::wav::WavWriter;
    use crate::Encoding;

    fn fmt() -> AudioFormat {
        AudioFormat::new(Encoding::S16, 2, 8000).unwrap()
    }

    fn noise(n: usize, seed: usize) -> Vec<u8> {
        (0..n)
            .map(|i| ((i * 31 + seed * 7 + 3) % 253) as u8)
            .collect()
    }

    fn wav(format: AudioFormat, data: &[u8], streamed: bool) -> Vec<u8> {
        if streamed {
            let mut w = WavWriter::new_streaming(Vec::new(), format).unwrap();
            w.write_data(data).unwrap();
            w.finish().unwrap()
        } else {
            let mut w = WavWriter::new_seekable(std::io::Cursor::new(Vec::new()), format).unwrap();
            w.write_data(data).unwrap();
            w.finish_seekable().unwrap().into_inner()
        }
    }

    fn at(s: &str) -> OffsetDateTime {
        parse_rfc3339(s).unwrap()
    }

    /// A snippet starting at 10:15:00 with 1 s of audio, a participant, a
    /// snippet_start at 0, a hold at 0.5 s and a disconnect at the end.
    fn snippet(key: Option<&Key>, encrypted: bool, started_at: Option<&str>) -> (Vec<u8>, Vec<u8>) {
        let audio = noise(8000 * 4, 2);
        let mut b = WriterBuilder::new(fmt())
            .chunk_frames(3000)
            .info(RecordingInfo {
                id: Some("snip-1".into()),
                started_at: started_at.map(|s| s.parse().unwrap()),
                channels: vec!["agent".into(), "customer".into()],
                extra: Default::default(),
            });
        if let Some(k) = key {
            b = if encrypted {
                b.encrypted(k.clone())
            } else {
                b.authenticated(k.clone())
            };
        }
        let mut w = b.wrap_output(Vec::new()).unwrap();
        w.add_participant(Participant {
            id: "a1".into(),
            name: None,
            role: Role::Agent,
            address: None,
            channels: vec![0],
            extra: Default::default(),
        })
        .unwrap();
        let ev = |at, kind| Event {
            at_sample: at,
            participant: Some("a1".into()),
            kind,
            extra: Default::default(),
        };
        w.add_event(ev(0, EventKind::SnippetStart)).unwrap();
        w.add_event(ev(4000, EventKind::Hold)).unwrap();
        w.add_event(ev(
            8000,
            EventKind::Disconnect {
                reason: "hangup".into(),
            },
        ))
        .unwrap();
        w.write_audio(&audio).unwrap();
        (w.finish().unwrap(), audio)
    }

    struct Out {
        audio: Vec<u8>,
        events: Vec<Event>,
        participants: Vec<(u64, String)>,
        info: RecordingInfo,
        header: crate::Header,
    }

    fn read(file: &[u8], key: Option<&Key>) -> Out {
        let mut r = Decoder::new(file).unwrap().open(key).unwrap();
        let (mut audio, mut events, mut participants) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(item) = r.next_item().unwrap() {
            match item {
                Item::Audio { data, .. } => audio.extend_from_slice(data),
                Item::Event(e) => events.push(e),
                Item::Participant {
                    at_sample,
                    participant,
                } => participants.push((at_sample, participant.id)),
                _ => {}
            }
        }
        Out {
            audio,
            events,
            participants,
            info: r.info().clone(),
            header: r.header().clone(),
        }
    }

    fn run(
        adhoc_wav: &[u8],
        start: &str,
        file: &[u8],
        key: Option<&Key>,
    ) -> std::result::Result<(Vec<u8>, MergeSummary), MergeError> {
        let mut a = WavReader::new(adhoc_wav).unwrap();
        let mut r = Decoder::new(file).unwrap().open(key).unwrap();
        merge_adhoc(
            &mut a,
            at(start),
            &mut r,
            key,
            &MergeOptions::default(),
            Vec::new(),
        )
    }

    #[test]
    fn a_merge_of_a_recovered_snippet_is_recovered_too() {
        // Issue 11, point 9: derived files inherit the recovered flag and its event.
        let (file, _) = snippet(None, false, Some("2026-11-23T10:15:00Z"));
        let cut = &file[..file.len() - 200];
        let (recovered, rep) = crate::recover::recover(cut, None, Vec::new()).unwrap();
        assert!(rep.stop.is_some());
        let adhoc = noise(8000 * 4, 5);
        let (merged, _) = run(
            &wav(fmt(), &adhoc, false),
            "2026-11-23T10:14:59Z",
            &recovered,
            None,
        )
        .unwrap();
        let mut r = Decoder::new(&merged[..]).unwrap().open(None).unwrap();
        let mut recovered_events = 0;
        loop {
            match r.next_item().unwrap().unwrap() {
                Item::Event(e) => {
                    if matches!(&e.kind, EventKind::Custom { key, .. } if key == crate::recover::RECOVERED_KEY)
                    {
                        recovered_events += 1;
                    }
                }
                Item::End(t) => {
                    assert!(t.recovered(), "the merged file says it was recovered");
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(recovered_events, 1);
    }

    #[test]
    fn adhoc_prefix_then_snippet_audio_with_events_shifted() {
        let key = Key::from_bytes([9; 32]);
        for (k, enc) in [(None, false), (Some(&key), false), (Some(&key), true)] {
            let (file, snip_audio) = snippet(k, enc, Some("2026-11-23T10:15:00Z"));
            // The ad hoc recording began 2.5 s earlier and ran 1 s into the snippet.
            let adhoc = noise(8000 * 4 * 7 / 2, 5);
            let (merged, sum) = run(
                &wav(fmt(), &adhoc, false),
                "2026-11-23T10:14:57.5Z",
                &file,
                k,
            )
            .unwrap();
            assert_eq!(sum.adhoc_frames, 20000);
            assert_eq!(sum.adhoc_frames_dropped, Some(8000));
            assert_eq!(sum.snippet_frames, 8000);
            assert_eq!(sum.frames(), 28000);
            let o = read(&merged, k);
            let mut want = adhoc[..20000 * 4].to_vec();
            want.extend_from_slice(&snip_audio);
            assert!(o.audio == want, "audio differs");
            assert_eq!(
                o.info.started_at.as_ref().map(|t| t.as_str()),
                Some("2026-11-23T10:14:57.5Z")
            );
            assert_eq!(o.info.id.as_deref(), Some("snip-1"));
            assert_eq!(o.info.channels, ["agent", "customer"]);
            assert_eq!(o.participants, [(0, "a1".to_string())]);
            let got: Vec<(u64, &str)> = o
                .events
                .iter()
                .map(|e| (e.at_sample, e.kind.type_name()))
                .collect();
            assert_eq!(
                got,
                [
                    (0, "adhoc_start"),
                    (20000, "custom"),
                    (20000, "snippet_start"),
                    (24000, "hold"),
                    (28000, "disconnect")
                ]
            );
            let EventKind::Custom { key: ck, value } = &o.events[1].kind else {
                unreachable!()
            };
            assert_eq!(ck, MERGE_EVENT_KEY);
            assert_eq!(value["adhoc_samples"], 20000);
            assert_eq!(value["adhoc_samples_dropped"], 8000);
            assert_eq!(value["snippet_started_at"], "2026-11-23T10:15:00Z");
            // Same level and key, new salt.
            let src = Decoder::new(&file[..]).unwrap();
            assert_eq!(o.header.integrity, src.header().integrity);
            assert_ne!(o.header.salt, src.header().salt);
        }
    }

    #[test]
    fn a_snippet_without_its_own_snippet_start_gets_one() {
        let mut w = WriterBuilder::new(fmt())
            .info(RecordingInfo {
                started_at: Some("2026-11-23T10:15:01Z".parse().unwrap()),
                ..Default::default()
            })
            .wrap_output(Vec::new())
            .unwrap();
        w.write_audio(&noise(400, 1)).unwrap();
        let file = w.finish().unwrap();
        let (merged, sum) = run(
            &wav(fmt(), &noise(8000 * 4, 3), true),
            "2026-11-23T10:15:00Z",
            &file,
            None,
        )
        .unwrap();
        assert_eq!(sum.adhoc_frames, 8000);
        assert_eq!(sum.adhoc_frames_dropped, None);
        let o = read(&merged, None);
        let got: Vec<(u64, &str)> = o
            .events
            .iter()
            .map(|e| (e.at_sample, e.kind.type_name()))
            .collect();
        assert_eq!(
            got,
            [
                (0, "adhoc_start"),
                (8000, "custom"),
                (8000, "snippet_start")
            ]
        );
        assert_eq!(o.audio.len(), 8000 * 4 + 400);
    }

    #[test]
    fn refusals_come_before_anything_is_written() {
        let (file, _) = snippet(None, false, Some("2026-11-23T10:15:00Z"));
        let adhoc = wav(fmt(), &noise(8000 * 4, 1), false);
        let mono = wav(
            AudioFormat::new(Encoding::S16, 1, 8000).unwrap(),
            &noise(800, 1),
            false,
        );
        let mulaw = wav(
            AudioFormat::new(Encoding::MuLaw, 2, 8000).unwrap(),
            &noise(800, 1),
            false,
        );
        let fast = wav(
            AudioFormat::new(Encoding::S16, 2, 16000).unwrap(),
            &noise(800, 1),
            false,
        );
        for w in [&mono, &mulaw, &fast] {
            assert!(matches!(
                run(w, "2026-11-23T10:14:59Z", &file, None),
                Err(MergeError::FormatMismatch { .. })
            ));
        }
        assert!(matches!(
            run(&adhoc, "2026-11-23T10:15:00.001Z", &file, None),
            Err(MergeError::AdhocAfterSnippet { .. })
        ));
        // 1 s of ad hoc audio starting 2.5 s before: 1.5 s short, over the tolerance.
        let e = run(&adhoc, "2026-11-23T10:14:57.5Z", &file, None).unwrap_err();
        assert!(matches!(
            e,
            MergeError::AdhocEndsBeforeSnippet {
                gap_ms: 1500,
                length_known: true
            }
        ));
        assert!(e.to_string().contains("1500 ms before"));
        let (nostart, _) = snippet(None, false, None);
        assert!(matches!(
            run(&adhoc, "2026-11-23T10:14:59Z", &nostart, None),
            Err(MergeError::NoSnippetStart)
        ));
        // A streamed WAV that turns out short fails while reading.
        let streamed = wav(fmt(), &noise(8000 * 4, 1), true);
        assert!(matches!(
            run(&streamed, "2026-11-23T10:14:58.5Z", &file, None),
            Err(MergeError::AdhocEndsBeforeSnippet {
                gap_ms: 500,
                length_known: false
            })
        ));
    }

    #[test]
    fn a_wav_ending_within_the_tolerance_moves_the_start() {
        let (file, _) = snippet(None, false, Some("2026-11-23T10:15:00Z"));
        // bext says 10:14:58 (one-second resolution); the WAV holds 1.25 s.
        let adhoc = wav(fmt(), &noise(10000 * 4, 1), false);
        let (merged, sum) = run(&adhoc, "2026-11-23T10:14:58Z", &file, None).unwrap();
        assert_eq!(sum.adhoc_frames, 10000);
        assert_eq!(sum.start_moved_frames, 6000);
        assert_eq!(sum.adhoc_frames_dropped, Some(0));
        let o = read(&merged, None);
        assert_eq!(
            o.info.started_at.as_ref().map(|t| t.as_str()),
            Some("2026-11-23T10:14:58.75Z")
        );
        assert_eq!(o.audio.len(), (10000 + 8000) * 4);
    }

    #[test]
    fn the_key_must_be_the_snippets() {
        let key = Key::from_bytes([1; 32]);
        let (file, _) = snippet(Some(&key), true, Some("2026-11-23T10:15:00Z"));
        let adhoc = wav(fmt(), &noise(8000 * 4, 1), false);
        let mut a = WavReader::new(&adhoc[..]).unwrap();
        let mut r = Decoder::new(&file[..]).unwrap().open(Some(&key)).unwrap();
        let other = Key::from_bytes([2; 32]);
        let e = merge_adhoc(
            &mut a,
            at("2026-11-23T10:14:59Z"),
            &mut r,
            Some(&other),
            &MergeOptions::default(),
            Vec::new(),
        )
        .unwrap_err();
        assert_eq!(e.into_error().class(), "wrong-key");
    }

    #[test]
    fn bext_times_are_taken_as_utc() {
        let info = WavInfo {
            format: fmt(),
            container: crate::wav::Container::Riff,
            data_len: None,
            bext_origination: Some("2026-11-23T10:14:50".into()),
            format_tag: 1,
            bext_text: Vec::new(),
            info_tags: Vec::new(),
        };
        assert_eq!(rfc3339(bext_start(&info).unwrap()), "2026-11-23T10:14:50Z");
    }
}
