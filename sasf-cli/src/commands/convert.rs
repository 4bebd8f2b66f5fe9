//! `sasf convert`: SASF to WAV, samples as stored (or decoded with --pcm16), whole or
//! a range.

use std::fs::File;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sasf_core::bridge::{
    read_all, read_audio, read_range_stream, shift_info, wav_output_format, wav_payload,
};
use sasf_core::error::format_time;
use sasf_core::meta::Metadata;
use sasf_core::{Decoder, Integrity};

use crate::cli::{KeyArgs, RangeArgs};
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

/// What [`to_wav`] read and the outputs it started, which the caller commits (only
/// after the input has verified, which it has when `to_wav` returns).
pub struct Converted {
    /// The metadata, re-based for a range.
    pub metadata: Metadata,
    /// The sample rate.
    pub rate: u32,
    /// The WAV, if one was asked for.
    pub wav: Option<WavOut>,
    /// The metadata output, if one was asked for (not yet written).
    pub meta: Option<Output>,
    /// The annotation segments after the end, when the reader reached them.
    pub segments: Option<sasf_core::io::segments::Segments>,
    /// The file's integrity level.
    pub level: Integrity,
}

/// Reads `file` (all of it, or `range`), writing its audio to a WAV at `audio_out`,
/// and starts the metadata output `meta_out`. Outputs of an encrypted source are
/// created mode 0600. The caller has checked the outputs with [`output::check`].
pub fn to_wav(
    file: &Path,
    audio_out: Option<(&Path, bool)>,
    meta_out: Option<&Path>,
    range: &RangeArgs,
    key_args: &KeyArgs,
    force: bool,
    quiet: bool,
) -> Result<Converted> {
    let keys = load_keys(key_args)?;
    let name = shown(file);
    // A range of a seekable file is read through the index: this first reader only
    // gives the header, so it reads nothing ahead.
    let ranged = range.is_set() && seekable(file);
    let n = if ranged { 1 } else { threads() };
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
    let meta = meta_out.map(|p| Output::create(p, opts)).transpose()?;
    let mut wav = match audio_out {
        Some((p, pcm16)) => Some((
            WavOut::create(p, wav_output_format(format, pcm16), opts)?,
            pcm16,
            p,
        )),
        None => None,
    };
    let mut scratch = Vec::new();
    let mut on_audio = |data: &[u8]| {
        if let Some((w, pcm16, _)) = &mut wav {
            w.write(wav_payload(format.encoding, *pcm16, data, &mut scratch))?;
        }
        Ok(())
    };
    let incomplete = |wav: &Option<(WavOut, bool, &Path)>| match wav {
        Some((_, _, p)) if is_dash(p) => {
            format!("{name} (the audio written to stdout is incomplete)")
        }
        _ => name.clone(),
    };
    let segments;
    let total_samples;
    let metadata = match span {
        None => {
            let size = if is_dash(file) {
                None
            } else {
                std::fs::metadata(file).ok().map(|m| m.len())
            };
            let progress = Progress::new(size, "reading", quiet);
            // Metadata is kept only when it is asked for: a plain conversion's memory
            // does not grow with the file's metadata.
            let result = if meta.is_some() {
                read_all(&mut r, super::MAX_RECORDS, &mut on_audio).map(|c| c.metadata)
            } else {
                read_audio(&mut r, &mut on_audio).map(|_| Metadata {
                    recording: r.info().clone(),
                    ..Default::default()
                })
            };
            progress.set(r.offset());
            progress.finish();
            let m = result.with_context(|| incomplete(&wav))?;
            segments = r.segments().cloned();
            total_samples = r.totals().map(|t| t.samples);
            m
        }
        Some((from, to)) if seekable(file) => {
            drop(r);
            let (m, s, total) = read_range_indexed(file, &keys, key_args, from, to, &mut on_audio)
                .with_context(|| incomplete(&wav))?;
            segments = Some(s);
            total_samples = Some(total);
            m
        }
        Some((from, to)) => {
            let m = read_range_stream(&mut r, from, to, super::MAX_RECORDS, &mut on_audio)
                .with_context(|| incomplete(&wav))?;
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
    Ok(Converted {
        metadata,
        rate,
        wav: wav.map(|(w, _, _)| w),
        meta,
        segments,
        level,
    })
}

/// A range through the authenticated index: reads only the chunks it needs.
fn read_range_indexed(
    file: &Path,
    keys: &crate::io::Keys,
    key_args: &KeyArgs,
    from: u64,
    to: u64,
    on_audio: &mut dyn FnMut(&[u8]) -> sasf_core::Result<()>,
) -> Result<(Metadata, sasf_core::io::segments::Segments, u64)> {
    let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut ra = crate::io::policy(Decoder::new(f)?, key_args, keys)?
        .open_with(&keys.ring)?
        .into_random_access()?;
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

pub fn run(
    file: &Path,
    output: &Path,
    pcm16: bool,
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
        return super::cut::from_convert(file, output, pcm16, range, key_args, force);
    }
    output::check(output, Kind::Wav, &[file], force)?;
    let c = to_wav(
        file,
        Some((output, pcm16)),
        None,
        range,
        key_args,
        force,
        quiet,
    )?;
    match c.wav {
        Some(w) => w.commit(),
        None => Ok(()),
    }
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
