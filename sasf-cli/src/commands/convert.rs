//! `sasf convert`: SASF to WAV, samples as stored (or decoded with --pcm16), whole or
//! a range, with the timeline as cue points (and a labels sidecar), per speaker.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sasf_core::bridge::{
    read_all, read_audio, read_range_stream, shift_info, wav_output_format, wav_payload,
};
use sasf_core::error::format_time;
use sasf_core::labels::{self, LabelFormat};
use sasf_core::layout::{participant_channels, role_channels, Layout};
use sasf_core::meta::{Metadata, Participant, RecordingInfo, Role};
use sasf_core::wav::WavMetadata;
use sasf_core::{Decoder, Encoding, Integrity};

use crate::cli::{KeyArgs, RangeArgs, SpeakerArgs};
use crate::flac::FlacOut;
use crate::io::{is_dash, load_keys, shown, threads, Progress};
use crate::output::{self, Kind, Opts, Output, WavOut};

/// Parses a TIME into nanoseconds: HH:MM:SS[.f], MM:SS[.f], seconds S[.f] (with an
/// optional leading `+`), or seconds with a unit: `90s`, `1500ms`, `250us`.
pub fn parse_time(s: &str) -> Result<u128> {
    let bad = || {
        anyhow::anyhow!(
            "{s:?} is not a time (use HH:MM:SS[.mmm], MM:SS, seconds such as 90.5, or 90s, 1500ms, 250us)"
        )
    };
    let t = s.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    // A unit: a plain number (no colons) in that unit.
    for (unit, ns) in [("ms", 1_000_000u128), ("us", 1_000), ("s", 1_000_000_000)] {
        if let Some(n) = t.strip_suffix(unit) {
            if n.contains(':') || n.is_empty() {
                return Err(bad());
            }
            let secs_ns = clock(n).map_err(|_| bad())?;
            // clock() read `n` as seconds; rescale to the unit.
            return Ok(secs_ns * ns / 1_000_000_000);
        }
    }
    clock(t).map_err(|_| bad())
}

/// HH:MM:SS[.f], MM:SS[.f] or SS[.f] into nanoseconds.
fn clock(s: &str) -> Result<u128> {
    let bad = || anyhow::anyhow!("not a time");
    let parts: Vec<&str> = s.split(':').collect();
    if parts.is_empty() || parts.len() > 3 {
        return Err(bad());
    }
    let (whole, frac) = match parts[parts.len() - 1].split_once('.') {
        Some((w, f)) => (w, f),
        None => (parts[parts.len() - 1], ""),
    };
    if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |t: &str| -> Result<u128> {
        if t.is_empty() || t.len() > 12 || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        Ok(t.parse::<u128>()?)
    };
    let mut secs = num(whole)?;
    let mut mult = 60;
    for p in parts[..parts.len() - 1].iter().rev() {
        secs += num(p)? * mult;
        mult *= 60;
    }
    let frac_ns = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>()? * 10u128.pow(9 - frac.len() as u32)
    };
    Ok(secs * 1_000_000_000 + frac_ns)
}

/// The range in frames: `[from, to)`, nearest sample.
fn frames(range: &RangeArgs, rate: u32) -> Result<Option<(u64, u64)>> {
    if !range.is_set() {
        return Ok(None);
    }
    let conv =
        |ns: u128| ((ns * rate as u128 + 500_000_000) / 1_000_000_000).min(u64::MAX as u128) as u64;
    let from = range
        .from
        .as_deref()
        .map(parse_time)
        .transpose()
        .context("--from")?
        .map(conv)
        .unwrap_or(0);
    let to = range
        .to
        .as_deref()
        .map(parse_time)
        .transpose()
        .context("--to")?
        .map(conv);
    let length = range
        .duration
        .as_deref()
        .map(parse_time)
        .transpose()
        .context("--duration")?
        .map(conv);
    let to = match (to, length) {
        (Some(t), _) => t,
        (None, Some(d)) => {
            if d == 0 {
                bail!("--duration must be longer than zero");
            }
            from.saturating_add(d)
        }
        (None, None) => u64::MAX,
    };
    if from >= to {
        bail!("--from must be before --to");
    }
    Ok(Some((from, to)))
}

fn check_from(from: u64, total: u64, rate: u32) -> Result<()> {
    if from >= total && total > 0 || from > total {
        bail!(
            "--from {} is past the end of the recording ({})",
            format_time(from, rate),
            format_time(total, rate)
        );
    }
    Ok(())
}

/// Whether `p` is a regular file, which can be read through the index.
fn seekable(p: &Path) -> bool {
    !is_dash(p) && std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false)
}

/// What the WAV outputs of a conversion carry.
#[derive(Debug, Clone, Default)]
pub struct WavPlan {
    /// Decode to 16-bit PCM.
    pub pcm16: bool,
    /// Write the timeline (cue points), bext and INFO.
    pub markers: bool,
    /// Which channels, and into how many files.
    pub speakers: SpeakerArgs,
    /// A timeline sidecar to write too.
    pub labels: Option<PathBuf>,
    /// Write FLAC instead of WAV (the output's name ends in `.flac`).
    pub flac: bool,
}

impl WavPlan {
    /// A plain WAV of every channel, nothing but fmt, fact and data.
    pub fn plain(pcm16: bool) -> WavPlan {
        WavPlan {
            pcm16,
            ..Default::default()
        }
    }
    fn needs_participants(&self) -> bool {
        let s = &self.speakers;
        s.participant.is_some() || s.split || s.stereo.is_some()
    }
}

/// One WAV being written: where, which channels (`None`: all, as stored) and what its
/// INFO comment says about them.
struct WavTarget {
    path: PathBuf,
    layout: Option<Layout>,
    comment: Option<String>,
}

/// The file name of participant `id`'s WAV of a split: `<base>.<id>.wav` (`.flac`
/// for a FLAC split), the id's
/// characters other than letters, digits, `-` and `_` replaced by `_`, so no id
/// leaves the output's directory.
fn split_path(base: &Path, id: &str, ext: &str) -> PathBuf {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    base.with_file_name(format!("{stem}.{safe}.{ext}"))
}

fn list(ch: &[u16]) -> String {
    ch.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

/// The WAVs to write for `plan`, checked against the recording (`channels` channels,
/// its information and participants) before anything is created.
fn targets(
    out: &Path,
    plan: &WavPlan,
    channels: u16,
    info: &RecordingInfo,
    participants: &[Participant],
    pipe: bool,
) -> Result<Vec<WavTarget>> {
    let s = &plan.speakers;
    let from_pipe = if pipe {
        " (a pipe is read for its channel map only: give the file to use its participants)"
    } else {
        ""
    };
    let one = |layout: Layout, comment: String| -> Result<Vec<WavTarget>> {
        layout.check(channels)?;
        Ok(vec![WavTarget {
            path: out.to_path_buf(),
            layout: Some(layout),
            comment: Some(comment),
        }])
    };
    if let Some(id) = &s.participant {
        let ch = participant_channels(id, info, participants);
        if ch.is_empty() {
            if participants.iter().any(|p| &p.id == id) {
                bail!("participant {id} has no channel in this recording");
            }
            bail!("no participant {id} in this recording{from_pipe}");
        }
        return one(
            Layout::Select(ch.clone()),
            format!("participant {id}: channel(s) {} of {channels}", list(&ch)),
        );
    }
    if let Some(c) = &s.channels {
        return one(
            Layout::Select(c.clone()),
            format!("channel(s) {} of {channels}", list(c)),
        );
    }
    if let Some(roles) = &s.stereo {
        if roles.len() != 2 {
            bail!("--stereo takes two roles, LEFT,RIGHT (e.g. agent,customer)");
        }
        let mut ch = Vec::new();
        for r in roles {
            let role = Role::from_name(r).ok_or_else(|| {
                anyhow::anyhow!(
                    "--stereo: {r:?} is not a role (agent, customer, supervisor, ivr, system, other)"
                )
            })?;
            match role_channels(role, info, participants)[..] {
                [c] => ch.push(c),
                [] => bail!("no channel carries the {r} role in this recording{from_pipe}"),
                ref several => bail!(
                    "the {r} role is on channels {}: choose with --channels",
                    list(several)
                ),
            }
        }
        return one(
            Layout::Select(ch.clone()),
            format!(
                "stereo: {} left (channel {}), {} right (channel {}), of {channels}",
                roles[0], ch[0], roles[1], ch[1]
            ),
        );
    }
    if s.mono {
        return one(
            Layout::Mono,
            format!("mixed down to mono from {channels} channel(s): their mean, in floating point"),
        );
    }
    if s.split {
        let mut t = Vec::new();
        for p in participants {
            let ch = participant_channels(&p.id, info, participants);
            if ch.is_empty() {
                crate::io::note(format_args!(
                    "sasf: participant {} has no channel: no WAV for it",
                    crate::io::escape_controls(&p.id)
                ));
                continue;
            }
            let layout = Layout::Select(ch.clone());
            layout.check(channels)?;
            let path = split_path(out, &p.id, if plan.flac { "flac" } else { "wav" });
            if let Some(other) = t.iter().find(|x: &&WavTarget| x.path == path) {
                bail!(
                    "participants' ids give the same file name {} ({}); use --participant",
                    path.display(),
                    other.comment.as_deref().unwrap_or_default()
                );
            }
            t.push(WavTarget {
                path,
                layout: Some(layout),
                comment: Some(format!(
                    "participant {}: channel(s) {} of {channels}",
                    p.id,
                    list(&ch)
                )),
            });
        }
        if t.is_empty() {
            bail!("--split: no participant has a channel in this recording{from_pipe}");
        }
        return Ok(t);
    }
    Ok(vec![WavTarget {
        path: out.to_path_buf(),
        layout: None,
        comment: None,
    }])
}

type Indexed = sasf_core::io::random::RandomAccess<File>;

/// A seekable SASF file opened through its index (which authenticates its structure
/// and gives every participant).
fn open_indexed(file: &Path, keys: &crate::io::Keys, key_args: &KeyArgs) -> Result<Indexed> {
    let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    Ok(crate::io::policy(Decoder::new(f)?, key_args, keys)?
        .open_with(&keys.ring)?
        .into_random_access()?)
}

/// An audio output started by [`to_wav`], committed by [`Converted::commit_audio`].
/// One per output file, so the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum PendingWav {
    /// A WAV.
    Wav {
        out: WavOut,
        /// Chunks after the data (the cue points), computed once the timeline is known.
        trailing: Vec<u8>,
    },
    /// A FLAC.
    Flac {
        out: FlacOut,
        /// Its Vorbis comments (none with --no-markers), known once the timeline is.
        comments: Option<Vec<String>>,
    },
}

/// An audio output being written (one per output file).
#[allow(clippy::large_enum_variant)]
enum Sink {
    Wav(WavOut),
    Flac(FlacOut),
}

impl Sink {
    fn write(&mut self, b: &[u8]) -> sasf_core::Result<()> {
        match self {
            Sink::Wav(w) => w.write(b),
            Sink::Flac(f) => f
                .write(b)
                .map_err(|e| sasf_core::Error::from(std::io::Error::other(format!("{e:#}")))),
        }
    }
}

/// What [`to_wav`] read and the outputs it started, which the caller commits (only
/// after the input has verified, which it has when `to_wav` returns).
pub struct Converted {
    /// The metadata, re-based for a range.
    pub metadata: Metadata,
    /// The sample rate.
    pub rate: u32,
    /// The WAVs asked for.
    pub wavs: Vec<PendingWav>,
    /// The labels sidecar, written, not yet committed.
    pub labels: Option<Output>,
    /// The metadata output, if one was asked for (not yet written).
    pub meta: Option<Output>,
    /// The annotation segments after the end, when the reader reached them.
    pub segments: Option<sasf_core::io::segments::Segments>,
    /// The file's integrity level.
    pub level: Integrity,
}

impl Converted {
    /// Finishes and commits the WAVs and the labels sidecar.
    pub fn commit_audio(&mut self) -> Result<()> {
        for w in self.wavs.drain(..) {
            match w {
                PendingWav::Wav { out, trailing } => out.commit_with(&trailing)?,
                PendingWav::Flac { out, comments } => out.commit_with(comments)?,
            }
        }
        if let Some(l) = self.labels.take() {
            l.commit()?;
        }
        Ok(())
    }
}

/// Reads `file` (all of it, or `range`), writing its audio to the WAVs `plan` asks
/// for at `audio_out`, and starts the metadata output `meta_out`. Outputs of an
/// encrypted source are created mode 0600. The caller has checked `audio_out` and
/// `meta_out` with [`output::check`]; the outputs of a split and the labels sidecar
/// are checked here, before anything is created.
#[allow(clippy::too_many_arguments)]
pub fn to_wav(
    file: &Path,
    audio_out: Option<&Path>,
    plan: &WavPlan,
    meta_out: Option<&Path>,
    range: &RangeArgs,
    key_args: &KeyArgs,
    force: bool,
    quiet: bool,
) -> Result<Converted> {
    let keys = load_keys(key_args)?;
    let name = shown(file);
    // A range of a seekable file is read through the index, and so is the whole of
    // one whose per-speaker outputs need its participants: the index is opened once,
    // for the participants and the audio alike, which one pass demultiplexes into
    // every output. This first reader only gives the header, so it reads nothing ahead.
    let indexed =
        seekable(file) && (range.is_set() || audio_out.is_some() && plan.needs_participants());
    let n = if indexed { 1 } else { threads() };
    let mut r = super::open_sasf_threads(file, &keys, key_args, n)?;
    let format = r.header().format;
    let level = r.header().integrity;
    let rate = format.sample_rate;
    let span = frames(range, rate)?;
    let opts = Opts {
        force,
        // Decrypted content is for the owner only, whatever the umask.
        private: r.header().integrity == Integrity::Encrypted,
        partial: false,
    };
    // Every output is resolved and checked before the first is created.
    let kind = plan_kind(plan);
    let mut index = if indexed {
        Some(open_indexed(file, &keys, key_args)?)
    } else {
        None
    };
    let targets = match audio_out {
        Some(out) => {
            let participants = match &index {
                Some(ra) if plan.needs_participants() => ra.all_participants().to_vec(),
                _ => Vec::new(),
            };
            let t = targets(
                out,
                plan,
                format.channels,
                r.info(),
                &participants,
                !seekable(file),
            )?;
            if plan.speakers.split {
                if is_dash(out) {
                    bail!("--split writes one file per participant: give -o a file name, not -");
                }
                for x in &t {
                    output::check(&x.path, kind, &[file], force)?;
                }
            }
            t
        }
        None => Vec::new(),
    };
    let label_format = match &plan.labels {
        Some(p) => {
            if is_dash(p) {
                bail!("--labels needs a file name (its extension chooses the format), not -");
            }
            let f = LabelFormat::from_path(p).ok_or_else(|| {
                anyhow::anyhow!(
                    "--labels {}: name it .txt (Audacity labels), .vtt (WebVTT) or .ffmeta (ffmpeg chapters)",
                    p.display()
                )
            })?;
            output::check(p, Kind::Labels, &[file], force)?;
            for t in &targets {
                output::check_distinct(p, &t.path)?;
            }
            Some((p.as_path(), f))
        }
        None => None,
    };
    let info_at_start = match span {
        Some((from, _)) => shift_info(r.info(), from, rate),
        None => r.info().clone(),
    };
    // FLAC holds integer PCM: G.711 is decoded to 16-bit, and a mix-down is the
    // 16-bit mix; a float output is refused (check_format) before anything is made.
    let pcm16_of = |t: &WavTarget| {
        plan.pcm16
            || plan.flac
                && (matches!(format.encoding, Encoding::MuLaw | Encoding::ALaw)
                    || matches!(t.layout, Some(Layout::Mono)))
    };
    let format_of = |t: &WavTarget| match &t.layout {
        Some(l) => l.output_format(format, pcm16_of(t)),
        None => wav_output_format(format, pcm16_of(t)),
    };
    if plan.flac {
        for t in &targets {
            crate::flac::check_format(format_of(t), &t.path.display().to_string())?;
        }
    }
    let meta = meta_out.map(|p| Output::create(p, opts)).transpose()?;
    let mut wavs = Vec::with_capacity(targets.len());
    for t in &targets {
        let out_format = format_of(t);
        let sink = if plan.flac {
            Sink::Flac(FlacOut::create(&t.path, out_format, opts)?)
        } else {
            let leading = if plan.markers {
                labels::wav_metadata(&info_at_start, rate, t.comment.as_deref()).leading()?
            } else {
                Vec::new()
            };
            Sink::Wav(WavOut::create_with(&t.path, out_format, opts, leading)?)
        };
        wavs.push((sink, t.layout.clone(), pcm16_of(t)));
    }
    let to_stdout = audio_out.is_some_and(is_dash);
    let mut scratch = Vec::new();
    let mut frames_out = 0u64;
    let ba = format.block_align() as u64;
    let mut on_audio = |data: &[u8]| {
        frames_out += data.len() as u64 / ba;
        for (w, layout, pcm16) in &mut wavs {
            match layout {
                None => w.write(wav_payload(format.encoding, *pcm16, data, &mut scratch))?,
                Some(l) => {
                    scratch.clear();
                    l.apply(format, *pcm16, data, &mut scratch);
                    w.write(&scratch)?;
                }
            }
        }
        Ok(())
    };
    let incomplete = || {
        if to_stdout {
            format!("{name} (the audio written to stdout is incomplete)")
        } else {
            name.clone()
        }
    };
    // The timeline is kept when something writes it.
    let keep_metadata = meta.is_some() || label_format.is_some() || plan.markers;
    let segments;
    let total_samples;
    let metadata = match (span, index.take()) {
        (span, Some(mut ra)) => {
            drop(r);
            let (from, to) = span.unwrap_or((0, u64::MAX));
            let (m, s, total) =
                read_range_indexed(&mut ra, from, to, &mut on_audio).with_context(incomplete)?;
            segments = Some(s);
            total_samples = Some(total);
            m
        }
        (None, None) => {
            let size = if is_dash(file) {
                None
            } else {
                std::fs::metadata(file).ok().map(|m| m.len())
            };
            let progress = Progress::new(size, "reading", quiet);
            // Metadata is kept only when it is asked for: a plain conversion's memory
            // does not grow with the file's metadata.
            let result = if keep_metadata {
                read_all(&mut r, super::MAX_RECORDS, &mut on_audio).map(|c| c.metadata)
            } else {
                read_audio(&mut r, &mut on_audio).map(|_| Metadata {
                    recording: r.info().clone(),
                    ..Default::default()
                })
            };
            progress.set(r.offset());
            progress.finish();
            let m = result.with_context(incomplete)?;
            segments = r.segments().cloned();
            total_samples = r.totals().map(|t| t.samples);
            m
        }
        (Some((from, to)), None) => {
            let m = read_range_stream(&mut r, from, to, super::MAX_RECORDS, &mut on_audio)
                .with_context(incomplete)?;
            let total = r.totals().map(|t| t.samples).unwrap_or(0);
            check_from(from, total, rate).with_context(|| name.clone())?;
            segments = r.segments().cloned();
            total_samples = Some(total);
            m
        }
    };
    // One rule past the end: a range starts inside the recording (else an error) and
    // ends at the end at the latest, which is said when --to or --duration went past.
    let end_given = range.to.is_some() || range.duration.is_some();
    if let (Some((_, to)), Some(total)) = (span, total_samples) {
        if end_given && to > total {
            crate::io::note(format_args!(
                "sasf: {name}: the range asked to end at {}, past the end of the recording ({}): it ends there",
                format_time(to, rate),
                format_time(total, rate)
            ));
        }
    }
    let timeline = if plan.markers || label_format.is_some() {
        labels::timeline(&metadata, frames_out)
    } else {
        Vec::new()
    };
    let trailing = if plan.markers && !to_stdout && !plan.flac {
        let mut m = WavMetadata::new();
        for t in &timeline {
            m.marker(t.clone());
        }
        if m.dropped() > 0 {
            crate::io::note(format_args!(
                "sasf: {} event(s) past frame 4294967295 have no cue point (a WAV cue cannot address them)",
                m.dropped()
            ));
        }
        m.trailing()?
    } else {
        Vec::new()
    };
    let labels_out = match label_format {
        Some((p, f)) => {
            let mut o = Output::create(p, opts)?;
            let text = f.render(
                &timeline,
                rate,
                frames_out,
                metadata.recording.id.as_deref(),
            );
            o.write_all(text.as_bytes())?;
            o.flush()?;
            Some(o)
        }
        None => None,
    };
    let mut dropped_chapters = 0;
    let pending = wavs
        .into_iter()
        .zip(&targets)
        .map(|((sink, _, _), t)| match sink {
            Sink::Wav(out) => PendingWav::Wav {
                out,
                trailing: trailing.clone(),
            },
            Sink::Flac(out) => PendingWav::Flac {
                out,
                comments: plan.markers.then(|| {
                    let (c, dropped) = labels::vorbis_comments(
                        &info_at_start,
                        rate,
                        t.comment.as_deref(),
                        &timeline,
                    );
                    dropped_chapters = dropped;
                    c
                }),
            },
        })
        .collect();
    if dropped_chapters > 0 {
        crate::io::note(format_args!(
            "sasf: {dropped_chapters} event(s) past the {}th have no chapter in the FLAC (--labels FILE writes them all)",
            labels::FLAC_CHAPTERS
        ));
    }
    Ok(Converted {
        metadata,
        rate,
        wavs: pending,
        labels: labels_out,
        meta,
        segments,
        level,
    })
}

/// A range through the authenticated index: reads only the chunks it needs.
fn read_range_indexed(
    ra: &mut Indexed,
    from: u64,
    to: u64,
    on_audio: &mut dyn FnMut(&[u8]) -> sasf_core::Result<()>,
) -> Result<(Metadata, sasf_core::io::segments::Segments, u64)> {
    let rate = ra.header().format.sample_rate;
    check_from(from, ra.totals().samples, rate)?;
    let m = ra.read_range(from, to, on_audio)?;
    Ok((
        Metadata {
            recording: shift_info(ra.info(), from, rate),
            participants: m.participants,
            events: m.events,
            annotations: m.annotations,
        },
        ra.segments().clone(),
        ra.totals().samples,
    ))
}

/// Whether `output` names a FLAC file (`.flac`, any case).
pub fn is_flac(output: &Path) -> bool {
    output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("flac"))
}

fn plan_kind(plan: &WavPlan) -> Kind {
    if plan.flac {
        Kind::Flac
    } else {
        Kind::Wav
    }
}

pub fn run(
    file: &Path,
    output: &Path,
    plan: &WavPlan,
    range: &RangeArgs,
    key_args: &KeyArgs,
    force: bool,
    quiet: bool,
) -> Result<()> {
    // A .sasf output is an authenticated excerpt (`sasf cut`), not a WAV.
    if output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("sasf"))
    {
        if plan.speakers.is_set() || plan.labels.is_some() || plan.pcm16 || !plan.markers {
            bail!(
                "a .sasf output is an authenticated excerpt of every channel as stored: \
                 --participant, --split, --channels, --stereo, --mono, --labels, --pcm16 and \
                 --no-markers apply to WAV outputs"
            );
        }
        return super::cut::from_convert(file, output, plan.pcm16, range, key_args, force);
    }
    let kind = plan_kind(plan);
    if plan.speakers.split {
        // The outputs are OUT.ID.wav (.flac), checked once the participants are known;
        // OUT itself is only a name.
        output::check_extension(output, kind)?;
    } else {
        output::check(output, kind, &[file], force)?;
    }
    let mut c = to_wav(
        file,
        Some(output),
        plan,
        None,
        range,
        key_args,
        force,
        quiet,
    )?;
    c.commit_audio()
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_parse_in_every_form() {
        assert_eq!(parse_time("00:01:30").unwrap(), 90_000_000_000);
        assert_eq!(parse_time("1:30.5").unwrap(), 90_500_000_000);
        assert_eq!(parse_time("90.25").unwrap(), 90_250_000_000);
        assert_eq!(
            parse_time("10:00:00.000000001").unwrap(),
            36_000_000_000_001
        );
        assert_eq!(parse_time("+3").unwrap(), 3_000_000_000);
        assert_eq!(parse_time("5s").unwrap(), 5_000_000_000);
        assert_eq!(parse_time("2.5s").unwrap(), 2_500_000_000);
        assert_eq!(parse_time("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_time("250us").unwrap(), 250_000);
        for bad in [
            "",
            "a",
            "1:2:3:4",
            "1.2.3",
            "-5",
            "1:",
            "99999999999999999:00",
            "1:30s",
            "ms",
            "5 s",
            "5h",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
