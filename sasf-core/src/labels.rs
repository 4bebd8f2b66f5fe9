//! The timeline as labels: events named the way `sasf info` names them, paired into
//! regions where a duration applies (hold → resume, pause → unpause, …), and written
//! as WAV cue points ([`crate::wav::WavMetadata`]) or as a sidecar in the formats
//! audio tools import ([`LabelFormat`]): an Audacity label track, WebVTT, or an
//! ffmpeg `FFMETADATA` chapter file. Text only, no I/O.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::meta::{Event, EventKind, Metadata, Participant, RecordingInfo};
use crate::wav::{Bext, Marker, WavMetadata};

/// The details `info` prints for an event (empty for most kinds). A redacted DTMF
/// event stores no digits, so none can appear here.
pub fn details(kind: &EventKind) -> String {
    match kind {
        EventKind::Conference { participants } => participants.join(", "),
        EventKind::Transfer { mode, from, to } => format!(
            "{:?} transfer{} to {to}",
            mode,
            from.as_ref()
                .map(|f| format!(" from {f}"))
                .unwrap_or_default()
        )
        .to_lowercase(),
        EventKind::Dtmf { digits: Some(d) } => format!("digits {d}"),
        EventKind::Dtmf { digits: None } => "digits redacted".into(),
        EventKind::Marker { label } => label.clone(),
        EventKind::Disconnect { reason } => reason.clone(),
        EventKind::Custom { key, value } => {
            format!(
                "{key} = {}",
                value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string())
            )
        }
        _ => String::new(),
    }
}

/// A participant as `info` shows it: `Name (id)`, or the id when there is no name,
/// or `-` for none.
pub fn who(people: &HashMap<&str, &Participant>, id: Option<&String>) -> String {
    match id {
        None => "-".into(),
        Some(id) => match people.get(id.as_str()).and_then(|p| p.name.as_ref()) {
            Some(n) => format!("{n} ({id})"),
            None => id.clone(),
        },
    }
}

/// An event's label: its type, who, and its details, joined by ` — ` (for example
/// `hold — Ann Agent (a1)`, `dtmf — Carl (c1) — digits redacted`).
pub fn event_label(e: &Event, people: &HashMap<&str, &Participant>) -> String {
    let mut s = e.kind.type_name().to_string();
    if e.participant.is_some() {
        s.push_str(" — ");
        s.push_str(&who(people, e.participant.as_ref()));
    }
    let d = details(&e.kind);
    if !d.is_empty() {
        s.push_str(" — ");
        s.push_str(&d);
    }
    s
}

/// Which kinds open a region, and the kind that closes it (matched per participant).
fn opens(kind: &EventKind) -> Option<&'static str> {
    Some(match kind {
        EventKind::Hold => "resume",
        EventKind::Mute => "unmute",
        EventKind::Pause => "unpause",
        EventKind::SnippetStart => "snippet_stop",
        EventKind::AdhocStart => "adhoc_stop",
        _ => return None,
    })
}

/// The timeline of `meta` as markers, one per event in time order. An event that
/// opens a region (hold, mute, pause, snippet_start, adhoc_start) gets a length up to
/// the event that closes it for the same participant (resume, unmute, unpause,
/// snippet_stop, adhoc_stop), or up to `end` (the last frame) when none does.
pub fn timeline(meta: &Metadata, end: u64) -> Vec<Marker> {
    let people = meta.participant_map();
    let mut events: Vec<&Event> = meta.events.iter().collect();
    events.sort_by_key(|e| e.at_sample);
    let mut out: Vec<Marker> = Vec::with_capacity(events.len());
    // (closing type, participant) -> index in `out` of the open region.
    let mut open: HashMap<(&'static str, Option<&str>), usize> = HashMap::new();
    for e in events {
        let who = e.participant.as_deref();
        if let Some(i) = open.remove(&(e.kind.type_name(), who)) {
            out[i].length = Some(e.at_sample - out[i].at);
        }
        let i = out.len();
        out.push(Marker {
            at: e.at_sample,
            length: None,
            label: event_label(e, &people),
        });
        if let Some(close) = opens(&e.kind) {
            // A second hold before the resume is a point of its own.
            open.entry((close, who)).or_insert(i);
        }
    }
    for (_, i) in open {
        out[i].length = Some(end.saturating_sub(out[i].at));
    }
    out
}

/// The descriptive chunks of a converted WAV before its timeline: a `bext` chunk
/// (originator `sasf`, the recording id as OriginatorReference and in the
/// Description, the origination date and time and TimeReference from `started_at`, in
/// UTC) and `LIST`/`INFO` (`INAM` the recording id, `ICRD` the start, `ISFT` sasf and
/// its version, `ICMT` `comment` if any). Add the timeline with
/// [`WavMetadata::marker`] (see [`timeline`]).
pub fn wav_metadata(info: &RecordingInfo, rate: u32, comment: Option<&str>) -> WavMetadata {
    let mut m = WavMetadata::new();
    let id = info.id.as_deref();
    let start = info.started_at_utc();
    let (origination, time_reference) = match start {
        Some(t) => {
            let (h, mi, s, ns) = t.to_hms_nano();
            let secs = h as u64 * 3600 + mi as u64 * 60 + s as u64;
            let frames = secs * rate as u64 + ns as u64 * rate as u64 / 1_000_000_000;
            (
                Some((
                    format!("{:04}-{:02}-{:02}", t.year(), t.month() as u8, t.day()),
                    format!("{h:02}:{mi:02}:{s:02}"),
                )),
                frames,
            )
        }
        None => (None, 0),
    };
    m.bext(Bext {
        description: match id {
            Some(id) => format!("SASF recording {id}"),
            None => "SASF recording".into(),
        },
        originator: "sasf".into(),
        originator_reference: id.unwrap_or_default().to_string(),
        origination,
        time_reference,
        coding_history: String::new(),
    });
    if let Some(id) = id {
        m.info(*b"INAM", id);
    }
    if let Some(at) = &info.started_at {
        m.info(*b"ICRD", at.as_str());
    }
    m.info(*b"ISFT", &format!("sasf {}", env!("CARGO_PKG_VERSION")));
    if let Some(c) = comment {
        m.info(*b"ICMT", c);
    }
    m
}

/// How many events a FLAC output names as chapters: `CHAPTER001` to `CHAPTER999`, the
/// three digits of the Vorbis comment chapter convention that ffmpeg reads.
pub const FLAC_CHAPTERS: usize = 999;

/// The Vorbis comments of a converted FLAC, the counterpart of [`wav_metadata`] and
/// the cue points: `TITLE` the recording id, `DESCRIPTION` as bext's, `DATE` the
/// `started_at`, `ENCODER` sasf and its version, `COMMENT` what a per-speaker output
/// holds, and the timeline as chapters, `CHAPTERnnn=HH:MM:SS.mmm` (the millisecond
/// at or before the event's frame) with `CHAPTERnnnNAME` its label, on one line. Each
/// entry is `FIELD=value`. Returns the entries and how many markers past the 999th
/// have no chapter.
pub fn vorbis_comments(
    info: &RecordingInfo,
    rate: u32,
    comment: Option<&str>,
    markers: &[Marker],
) -> (Vec<String>, usize) {
    let mut v = Vec::with_capacity(5 + 2 * markers.len().min(FLAC_CHAPTERS));
    if let Some(id) = info.id.as_deref() {
        v.push(format!("TITLE={}", one_line(id)));
        v.push(format!("DESCRIPTION=SASF recording {}", one_line(id)));
    }
    if let Some(at) = &info.started_at {
        v.push(format!("DATE={}", one_line(at.as_str())));
    }
    v.push(format!("ENCODER=sasf {}", env!("CARGO_PKG_VERSION")));
    if let Some(c) = comment {
        v.push(format!("COMMENT={}", one_line(c)));
    }
    let ms = |frames: u64| frames as u128 * 1000 / rate.max(1) as u128;
    for (i, m) in markers.iter().take(FLAC_CHAPTERS).enumerate() {
        let n = i + 1;
        v.push(format!("CHAPTER{n:03}={}", vtt_time(ms(m.at))));
        v.push(format!("CHAPTER{n:03}NAME={}", one_line(&m.label)));
    }
    (v, markers.len().saturating_sub(FLAC_CHAPTERS))
}

/// A sidecar label format, chosen by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelFormat {
    /// Audacity label track (`.txt`): `start<TAB>end<TAB>label` in seconds.
    Audacity,
    /// WebVTT (`.vtt`).
    WebVtt,
    /// ffmpeg metadata with one chapter per event (`.ffmeta` or `.ffmetadata`).
    FfMetadata,
}

impl LabelFormat {
    /// The format for a path's extension (case-insensitive): `.txt` Audacity, `.vtt`
    /// WebVTT, `.ffmeta`/`.ffmetadata` FFMETADATA; anything else `None`.
    pub fn from_path(path: &Path) -> Option<LabelFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" => LabelFormat::Audacity,
            "vtt" => LabelFormat::WebVtt,
            "ffmeta" | "ffmetadata" => LabelFormat::FfMetadata,
            _ => return None,
        })
    }

    /// The text of the sidecar for `markers` at `rate` Hz; `end` is the last frame
    /// (a WebVTT cue of a point event lasts a second, up to it) and `title` the
    /// recording's title (ffmetadata only).
    pub fn render(self, markers: &[Marker], rate: u32, end: u64, title: Option<&str>) -> String {
        match self {
            LabelFormat::Audacity => audacity(markers, rate),
            LabelFormat::WebVtt => webvtt(markers, rate, end),
            LabelFormat::FfMetadata => ffmetadata(markers, rate, title),
        }
    }
}

/// One line of text: control characters (tabs, newlines) become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Frames as seconds with six decimals, exactly (integer arithmetic).
fn seconds(frames: u64, rate: u32) -> String {
    let rate = rate.max(1) as u128;
    let us = (frames as u128 * 1_000_000 + rate / 2) / rate;
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn audacity(markers: &[Marker], rate: u32) -> String {
    let mut s = String::new();
    for m in markers {
        let end = m.at.saturating_add(m.length.unwrap_or(0));
        let _ = writeln!(
            s,
            "{}\t{}\t{}",
            seconds(m.at, rate),
            seconds(end, rate),
            one_line(&m.label)
        );
    }
    s
}

/// Milliseconds as `HH:MM:SS.mmm`.
fn vtt_time(ms: u128) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn webvtt(markers: &[Marker], rate: u32, end: u64) -> String {
    let ms = |frames: u64| frames as u128 * 1000 / rate.max(1) as u128;
    let mut s = String::from("WEBVTT\n\n");
    for m in markers {
        // A cue must end after it starts: a point lasts a second (up to the end), and
        // at least a millisecond.
        let stop = match m.length {
            Some(l) if l > 0 => m.at.saturating_add(l),
            _ => m.at.saturating_add(rate as u64).min(end.max(m.at)),
        };
        let (a, b) = (ms(m.at), ms(stop).max(ms(m.at) + 1));
        let text = one_line(&m.label)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let _ = write!(s, "{} --> {}\n{text}\n\n", vtt_time(a), vtt_time(b));
    }
    s
}

/// A value of an ffmetadata file: `=`, `;`, `#`, `\` and newlines escaped with `\`.
fn ff_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        if matches!(c, '=' | ';' | '#' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn ffmetadata(markers: &[Marker], rate: u32, title: Option<&str>) -> String {
    let mut s = String::from(";FFMETADATA1\n");
    if let Some(t) = title {
        let _ = writeln!(s, "title={}", ff_escape(t));
    }
    for m in markers {
        let end = m.at.saturating_add(m.length.unwrap_or(0));
        let _ = write!(
            s,
            "\n[CHAPTER]\nTIMEBASE=1/{}\nSTART={}\nEND={}\ntitle={}\n",
            rate.max(1),
            m.at,
            end,
            ff_escape(&m.label)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Role;

    fn meta() -> Metadata {
        let format = crate::AudioFormat::new(crate::Encoding::S16, 2, 8000).unwrap();
        Metadata::from_json_str(
            r#"{"participants":[{"id":"a1","name":"Ann Agent","role":"agent","channels":[0]},
                                {"id":"c1","role":"customer","channels":[1]}],
                "events":[{"at_ms":1000,"type":"hold","participant":"a1"},
                          {"at_ms":500,"type":"dtmf","participant":"c1","digits":"1234","redacted":true},
                          {"at_ms":3000,"type":"resume","participant":"a1"},
                          {"at_ms":4000,"type":"pause"},
                          {"at_ms":4500,"type":"marker","label":"a\tb=c"}]}"#,
            &format,
            Some(80_000),
        )
        .unwrap()
    }

    #[test]
    fn events_are_named_like_info_and_regions_paired() {
        let m = meta();
        assert_eq!(m.participants[1].role, Role::Customer);
        let t = timeline(&m, 80_000);
        let got: Vec<(u64, Option<u64>, &str)> = t
            .iter()
            .map(|m| (m.at, m.length, m.label.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (4000, None, "dtmf — c1 — digits redacted"),
                (8000, Some(16_000), "hold — Ann Agent (a1)"),
                (24_000, None, "resume — Ann Agent (a1)"),
                // Never unpaused: up to the end.
                (32_000, Some(48_000), "pause"),
                (36_000, None, "marker — a\tb=c"),
            ]
        );
    }

    #[test]
    fn a_second_hold_before_the_resume_is_a_point() {
        let format = crate::AudioFormat::new(crate::Encoding::S16, 1, 1000).unwrap();
        let m = Metadata::from_json_str(
            r#"{"participants":[{"id":"a","role":"agent"}],
                "events":[{"at_ms":1,"type":"hold","participant":"a"},
                          {"at_ms":2,"type":"hold","participant":"a"},
                          {"at_ms":5,"type":"resume","participant":"a"},
                          {"at_ms":6,"type":"resume","participant":"a"}]}"#,
            &format,
            Some(1000),
        )
        .unwrap();
        let t = timeline(&m, 10);
        let lengths: Vec<Option<u64>> = t.iter().map(|m| m.length).collect();
        assert_eq!(lengths, vec![Some(4), None, None, None]);
    }

    #[test]
    fn bext_and_info_come_from_the_recording() {
        let format = crate::AudioFormat::new(crate::Encoding::S16, 1, 8000).unwrap();
        let m = Metadata::from_json_str(
            r#"{"recording":{"id":"call-1","started_at":"2026-03-01T09:30:05.5Z"}}"#,
            &format,
            None,
        )
        .unwrap();
        let w = wav_metadata(&m.recording, 8000, Some("mixed"));
        let lead = w.leading().unwrap();
        // Read back with the crate's own reader (Python's wavinfo reads it in the
        // CLI tests).
        let mut wav = crate::wav::WavWriter::new_streaming_with(Vec::new(), format, lead).unwrap();
        wav.write_data(&[0, 0]).unwrap();
        let f = wav.finish().unwrap();
        let info = crate::wav::WavReader::new(&f[..]).unwrap().info().clone();
        assert_eq!(
            info.bext_origination.as_deref(),
            Some("2026-03-01T09:30:05")
        );
        assert!(info
            .bext_text
            .contains(&("description", "SASF recording call-1".to_string())));
        assert!(info
            .bext_text
            .contains(&("originator_reference", "call-1".to_string())));
        let tags: Vec<(&str, &str)> = info
            .info_tags
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            &tags[..2],
            &[("INAM", "call-1"), ("ICRD", "2026-03-01T09:30:05.5Z")]
        );
        assert_eq!(tags[3], ("ICMT", "mixed"));
        // TimeReference: 09:30:05.5 in frames since midnight.
        let b = &f[find(&f, b"bext") + 8..];
        let tr = u32::from_le_bytes(b[338..342].try_into().unwrap());
        assert_eq!(tr, (9 * 3600 + 30 * 60 + 5) * 8000 + 4000);
    }

    fn find(h: &[u8], n: &[u8]) -> usize {
        h.windows(n.len()).position(|w| w == n).unwrap()
    }

    #[test]
    fn formats_come_from_the_extension() {
        for (p, f) in [
            ("a.txt", Some(LabelFormat::Audacity)),
            ("a.TXT", Some(LabelFormat::Audacity)),
            ("a.vtt", Some(LabelFormat::WebVtt)),
            ("a.ffmeta", Some(LabelFormat::FfMetadata)),
            ("a.ffmetadata", Some(LabelFormat::FfMetadata)),
            ("a.srt", None),
            ("a", None),
        ] {
            assert_eq!(LabelFormat::from_path(Path::new(p)), f, "{p}");
        }
    }

    #[test]
    fn each_sidecar_has_its_exact_layout() {
        let t = timeline(&meta(), 80_000);
        let a = LabelFormat::Audacity.render(&t, 8000, 80_000, None);
        assert_eq!(
            a.lines().nth(1).unwrap(),
            "1.000000\t3.000000\thold — Ann Agent (a1)"
        );
        assert_eq!(
            a.lines().nth(4).unwrap(),
            "4.500000\t4.500000\tmarker — a b=c"
        );
        assert!(!a.contains("1234"));

        let v = LabelFormat::WebVtt.render(&t, 8000, 80_000, None);
        assert!(v.starts_with("WEBVTT\n\n00:00:00.500 --> 00:00:01.500\ndtmf"));
        assert!(v.contains("00:00:01.000 --> 00:00:03.000\nhold — Ann Agent (a1)\n\n"));
        // A point at the very end still ends after it starts.
        let end = [Marker {
            at: 8000,
            length: None,
            label: "<x> & y".into(),
        }];
        assert_eq!(
            LabelFormat::WebVtt.render(&end, 8000, 8000, None),
            "WEBVTT\n\n00:00:01.000 --> 00:00:01.001\n&lt;x&gt; &amp; y\n\n"
        );

        let f = LabelFormat::FfMetadata.render(&t, 8000, 80_000, Some("call;1"));
        assert!(f.starts_with(";FFMETADATA1\ntitle=call\\;1\n"));
        assert!(f.contains(
            "[CHAPTER]\nTIMEBASE=1/8000\nSTART=8000\nEND=24000\ntitle=hold — Ann Agent (a1)\n"
        ));
        assert!(f.contains("title=marker — a b\\=c\n"));
    }
}
