//! Redaction after the fact (a secure pause applied later): a new file in which the
//! audio of a range is silence, a 1 kHz tone of the same length, or gone, and which
//! says so in a `sasf.redaction` event (`docs/FORMAT.md` §9.5.2).
//!
//! The source is read twice ([`provenance`](crate::provenance)): first its structure,
//! for the digest the redaction event names and the events inside the range, then the
//! whole stream, copied into a file sealed like the source with a new data key. The
//! original samples of the range are never written: the replacement is generated, not
//! derived from them. DTMF events inside the range lose their digits; with
//! [`Mode::Omit`] the events inside the range are dropped (and listed, redacted, in
//! the redaction event), the library's own reserved events move to the range start,
//! and everything after the range moves earlier by its length. Participants declared
//! inside an omitted range stay declared (later events may name them).

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::audio::{AudioFormat, Encoding};
use crate::error::{Error, Result};
use crate::io::reader::Item;
use crate::meta::{Event, EventKind};
use crate::provenance::{builder_like, check_range, same_source, Carried, Opening, Source};
use crate::PublicRecipient;

pub use crate::provenance::REDACTION_KEY;

/// What replaces the audio of the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The encoding's silence: 0 for PCM and float, 0x80 for 8-bit, 0xFF for µ-law,
    /// 0xD5 for A-law.
    Silence,
    /// A 1 kHz sine tone at −12 dBFS on every channel, of the same length.
    Beep,
    /// Nothing: the range is cut out and what follows moves earlier.
    Omit,
}

impl Mode {
    /// The name in the redaction event.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Silence => "silence",
            Mode::Beep => "beep",
            Mode::Omit => "omit",
        }
    }
}

/// One redaction: the frames `[from, to)` of the source, how, why, by whom.
#[derive(Debug, Clone)]
pub struct Redaction {
    /// First frame redacted.
    pub from: u64,
    /// First frame after the range.
    pub to: u64,
    /// How.
    pub mode: Mode,
    /// Why (1 to 4096 bytes).
    pub reason: String,
    /// Who (1 to 4096 bytes).
    pub by: String,
    /// When, RFC 3339 UTC, if the caller states it.
    pub at: Option<String>,
}

/// What a redaction did.
#[derive(Debug, Clone)]
pub struct RedactReport {
    /// The source, as the redaction event names it.
    pub source: Source,
    /// Frames replaced (silence, beep) or removed (omit).
    pub frames: u64,
    /// Frames in the new file.
    pub samples: u64,
    /// Events dropped (omit).
    pub events_dropped: usize,
    /// DTMF events inside the range whose digits were removed.
    pub dtmf_redacted: usize,
    /// Who can open the new file.
    pub carried: Carried,
}

/// Writes to `out` a copy of the SASF file at `source` with `red` applied, sealed like
/// the source for the keys and identities of `opening` that open it and for `extra`
/// recipients. Nothing of the source is released before it is authenticated; the
/// output is complete only when this returns `Ok` (the source's END verified, and its
/// file digest the same in both passes).
///
/// Refused before anything is written: a range not inside the recording or empty, an
/// empty or overlong reason or author.
pub fn redact<W: Write>(
    source: &Path,
    opening: Opening<'_>,
    extra: &[PublicRecipient],
    red: &Redaction,
    out: W,
) -> Result<(W, RedactReport)> {
    for (what, s) in [("reason", &red.reason), ("by", &red.by)] {
        if s.is_empty() || s.len() > crate::meta::MAX_TEXT_LEN {
            return Err(Error::misuse(format!(
                "the redaction's {what} is 1 to {} bytes",
                crate::meta::MAX_TEXT_LEN
            )));
        }
    }
    let (src, mut ra) = opening.survey(source)?;
    let rate = src.format.sample_rate;
    check_range(red.from, red.to, src.samples, rate)?;
    let len = red.to - red.from;
    // The events of the range, from the index: the redaction event (written before the
    // range's audio) lists what an omitted range drops.
    let planned = ra.read_range(red.from, red.to, |_| Ok(()))?.events;
    drop(ra);
    let inside = |t: u64| (red.from..red.to).contains(&t);
    let reserved =
        |e: &Event| matches!(&e.kind, EventKind::Custom { key, .. } if key.starts_with("sasf."));
    let mut dropped = Vec::new();
    let mut dtmf = 0usize;
    for e in planned.iter().filter(|e| e.at_sample < len) {
        let mut e = e.clone();
        e.at_sample += red.from;
        if let EventKind::Dtmf { digits } = &mut e.kind {
            *digits = None;
            dtmf += 1;
        }
        if red.mode == Mode::Omit && !reserved(&e) {
            let mut v = e.to_payload();
            v["at_sample"] = e.at_sample.into();
            dropped.push(v);
        }
    }
    let mut value = src.members();
    value.insert("from_sample".into(), red.from.into());
    value.insert("to_sample".into(), red.to.into());
    value.insert("mode".into(), red.mode.name().into());
    value.insert("reason".into(), red.reason.clone().into());
    value.insert("by".into(), red.by.clone().into());
    if let Some(at) = &red.at {
        value.insert("at".into(), at.clone().into());
    }
    value.insert("dtmf_redacted".into(), dtmf.into());
    if red.mode == Mode::Omit {
        value.insert("dropped_events".into(), Value::Array(dropped.clone()));
    }

    let mut r = opening.stream(source)?;
    let format = r.header().format;
    let ba = format.block_align() as u64;
    let (b, carried) = builder_like(&r, opening.keyring, extra, r.info().clone())?;
    let mut w = b.wrap_output(out)?;
    w.add_library_event(Event {
        at_sample: red.from,
        participant: None,
        kind: EventKind::Custom {
            key: REDACTION_KEY.into(),
            value: Value::Object(value),
        },
        extra: Default::default(),
    })?;
    let moved = |t: u64| match red.mode {
        Mode::Omit if t >= red.to => t - len,
        Mode::Omit if t >= red.from => red.from,
        _ => t,
    };
    let mut fill = Vec::new();
    let (mut seen_dropped, mut seen_dtmf) = (0usize, 0usize);
    loop {
        match r.next_item()? {
            Some(Item::Audio { at_sample, data }) => {
                let end = at_sample + data.len() as u64 / ba;
                let cut = |t: u64| ((t.clamp(at_sample, end) - at_sample) * ba) as usize;
                w.write_audio(&data[..cut(red.from)])?;
                let (a, b) = (red.from.max(at_sample), red.to.min(end));
                if a < b && red.mode != Mode::Omit {
                    replacement(format, red.mode, a - red.from, b - a, &mut fill);
                    w.write_audio(&fill)?;
                }
                w.write_audio(&data[cut(red.to)..])?;
            }
            Some(Item::Participant { participant, .. }) => w.add_participant(participant)?,
            Some(Item::Event(mut e)) => {
                if inside(e.at_sample) {
                    if let EventKind::Dtmf { digits } = &mut e.kind {
                        *digits = None;
                        seen_dtmf += 1;
                    }
                    if red.mode == Mode::Omit && !reserved(&e) {
                        seen_dropped += 1;
                        continue;
                    }
                }
                e.at_sample = moved(e.at_sample);
                w.add_library_event(e)?;
            }
            Some(Item::Annotation(mut a)) => {
                a.at_sample = moved(a.at_sample);
                w.add_annotation(a)?;
            }
            Some(Item::End(_)) | None => break,
            Some(_) => {}
        }
    }
    same_source(&r, &src)?;
    if seen_dropped != dropped.len() || seen_dtmf != dtmf {
        return Err(Error::misuse(
            "the source's events in the range differ between its index and its stream",
        ));
    }
    let samples = w.position();
    let out = w.finish()?;
    Ok((
        out,
        RedactReport {
            source: src,
            frames: len,
            samples,
            events_dropped: dropped.len(),
            dtmf_redacted: dtmf,
            carried,
        },
    ))
}

/// `frames` frames of `mode`'s replacement in `format`, the first being frame `k` of
/// the range (so a tone keeps its phase across chunks), into `out`.
fn replacement(format: AudioFormat, mode: Mode, k: u64, frames: u64, out: &mut Vec<u8>) {
    out.clear();
    let ch = format.channels as usize;
    let enc = format.encoding;
    match mode {
        Mode::Beep => {
            let rate = format.sample_rate as f64;
            for n in k..k + frames {
                let x = BEEP_AMPLITUDE * (std::f64::consts::TAU * BEEP_HZ * n as f64 / rate).sin();
                let start = out.len();
                encode_sample(enc, x, out);
                let one = out[start..].to_vec();
                for _ in 1..ch {
                    out.extend_from_slice(&one);
                }
            }
        }
        _ => {
            let s = silence(enc);
            for _ in 0..frames as usize * ch {
                out.extend_from_slice(s);
            }
        }
    }
}

/// The tone's frequency.
pub const BEEP_HZ: f64 = 1000.0;
/// The tone's amplitude, of full scale (−12 dBFS).
pub const BEEP_AMPLITUDE: f64 = 0.25;

/// One sample of silence in `enc`.
pub fn silence(enc: Encoding) -> &'static [u8] {
    match enc {
        Encoding::U8 => &[0x80],
        Encoding::S16 => &[0; 2],
        Encoding::S24 => &[0; 3],
        Encoding::S32 | Encoding::F32 => &[0; 4],
        Encoding::F64 => &[0; 8],
        Encoding::MuLaw => &[0xFF],
        Encoding::ALaw => &[0xD5],
    }
}

/// Appends `x` (−1 to 1) as one sample in `enc`.
fn encode_sample(enc: Encoding, x: f64, out: &mut Vec<u8>) {
    let x = x.clamp(-1.0, 1.0);
    let int = |max: f64| (x * max).round() as i64;
    match enc {
        Encoding::U8 => out.push((int(127.0) + 128) as u8),
        Encoding::S16 => out.extend_from_slice(&(int(32767.0) as i16).to_le_bytes()),
        Encoding::S24 => out.extend_from_slice(&(int(8_388_607.0) as i32).to_le_bytes()[..3]),
        Encoding::S32 => out.extend_from_slice(&(int(2_147_483_647.0) as i32).to_le_bytes()),
        Encoding::F32 => out.extend_from_slice(&(x as f32).to_le_bytes()),
        Encoding::F64 => out.extend_from_slice(&x.to_le_bytes()),
        Encoding::MuLaw => out.push(linear_to_mulaw(int(32767.0) as i16)),
        Encoding::ALaw => out.push(linear_to_alaw(int(32767.0) as i16)),
    }
}

/// G.711 µ-law of a 16-bit sample (the inverse of [`crate::audio::mulaw_to_linear`]
/// up to quantization).
pub fn linear_to_mulaw(x: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let sign = if x < 0 { 0x80 } else { 0 };
    let mag = (x as i32).abs().min(CLIP) + BIAS;
    // The segment: the position of the highest set bit above bit 7.
    let exp = (0..8).rev().find(|e| mag & (0x80 << e) != 0).unwrap_or(0);
    let mantissa = (mag >> (exp + 3)) & 0x0F;
    !((sign | (exp << 4) | mantissa) as u8)
}

/// G.711 A-law of a 16-bit sample (the inverse of [`crate::audio::alaw_to_linear`]
/// up to quantization).
pub fn linear_to_alaw(x: i16) -> u8 {
    let mut v = (x as i32) >> 3;
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    // Segment ends of the 13-bit magnitude.
    let seg = (0..8).find(|s| v < (0x20 << s)).unwrap_or(8);
    let code = if seg >= 8 {
        0x7F
    } else if seg < 2 {
        (seg << 4) | ((v >> 1) & 0x0F)
    } else {
        (seg << 4) | ((v >> seg) & 0x0F)
    };
    (code ^ mask) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{alaw_to_linear, mulaw_to_linear};

    #[test]
    fn g711_encoders_invert_the_decoders() {
        for c in 0..=255u8 {
            let m = mulaw_to_linear(c);
            assert_eq!(mulaw_to_linear(linear_to_mulaw(m)), m, "µ-law {c:#04x}");
            let a = alaw_to_linear(c);
            assert_eq!(alaw_to_linear(linear_to_alaw(a)), a, "A-law {c:#04x}");
        }
        assert_eq!(linear_to_mulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_mulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_mulaw(i16::MAX), 0x80);
    }

    #[test]
    fn silence_decodes_to_zero_and_the_tone_is_a_tone() {
        for enc in Encoding::ALL {
            let f = AudioFormat::new(enc, 2, 8000).unwrap();
            let mut out = Vec::new();
            replacement(f, Mode::Silence, 0, 10, &mut out);
            assert_eq!(out.len(), 10 * f.block_align());
            let mut pcm = Vec::new();
            crate::audio::decode_to_pcm16(enc, &out, &mut pcm);
            // A-law has no zero: its silence is the smallest step, 8 of 32768.
            let quiet = if enc == Encoding::ALaw { 8 } else { 0 };
            assert!(
                pcm.chunks(2)
                    .all(|c| i16::from_le_bytes([c[0], c[1]]).unsigned_abs() <= quiet),
                "{enc:?}"
            );
            // 8 frames of 1 kHz at 8 kHz: one period; the second channel equals the first.
            replacement(f, Mode::Beep, 0, 8, &mut out);
            pcm.clear();
            crate::audio::decode_to_pcm16(enc, &out, &mut pcm);
            let s: Vec<i16> = pcm
                .chunks(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            for fr in s.chunks(2) {
                assert_eq!(fr[0], fr[1], "{enc:?}");
            }
            let peak = s.iter().map(|v| v.unsigned_abs()).max().unwrap();
            assert!((7000..=8900).contains(&peak), "{enc:?}: peak {peak}");
            // The phase goes on from frame k.
            let mut later = Vec::new();
            replacement(f, Mode::Beep, 2, 1, &mut later);
            assert_eq!(
                later,
                out[2 * f.block_align()..3 * f.block_align()],
                "{enc:?}"
            );
        }
    }
}
