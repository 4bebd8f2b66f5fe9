//! The audio a browser plays and the picture of it: a recording streamed as a 16-bit
//! WAV (the file's own encoding decoded), with HTTP range requests mapped onto frames
//! so that a seek reads only the chunks it needs, each authenticated before a byte of
//! it is sent; and the waveform peaks and voice-activity lanes, computed once per
//! version of a file and kept in memory only (never on disk: for an encrypted
//! recording they would show when people spoke).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sasf_core::audio::decode_to_pcm16;
use sasf_core::meta::sample_to_ms;
use sasf_core::{Encoding, Item};
use serde_json::{json, Value};

use super::recording::{self, Opened, Stamp};
pub use super::wire::parse_range;
use super::App;

/// Most recordings kept open at once.
pub const MAX_OPEN: usize = 32;
/// Most waveforms kept.
const MAX_PEAKS: usize = 64;
/// Most buckets of a waveform, per channel.
const MAX_BUCKETS: u64 = 30_000;
/// The length of the WAV header sent.
pub const WAV_HEADER: u64 = 44;

/// An opened recording, shared by the requests reading it.
pub type OpenedRef = Arc<Mutex<Opened>>;
/// Computed peaks, by file and version.
type PeaksCache = HashMap<(PathBuf, Stamp), Arc<OnceLock<Result<Arc<Value>, String>>>>;

/// Opened recordings and computed pictures.
#[derive(Default)]
pub struct Media {
    /// Recordings opened by random access.
    /// (The version is kept beside each, so that a lookup never waits for a
    /// recording another request is reading.)
    pub opened: Mutex<HashMap<PathBuf, (Stamp, OpenedRef)>>,
    peaks: Mutex<PeaksCache>,
}

/// The layout of the WAV a recording is played as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WavLayout {
    /// Channels.
    pub channels: u16,
    /// Frames per second.
    pub rate: u32,
    /// Frames sent (all of them, up to what a 32-bit RIFF size can hold).
    pub frames: u64,
}

impl WavLayout {
    /// For a recording of `frames` frames; `None` when a 16-bit WAV cannot describe
    /// the format (a byte rate over 32 bits: a rate and channel count no call has).
    pub fn new(channels: u16, rate: u32, frames: u64) -> Option<WavLayout> {
        let ba = 2 * channels as u64;
        if channels == 0 || rate == 0 || ba > u16::MAX as u64 || ba * rate as u64 > u32::MAX as u64
        {
            return None;
        }
        let max = (u32::MAX as u64 - WAV_HEADER) / ba;
        Some(WavLayout {
            channels,
            rate,
            frames: frames.min(max),
        })
    }
    /// Bytes per frame.
    pub fn block(&self) -> u64 {
        2 * self.channels as u64
    }
    /// The whole WAV's length.
    pub fn len(&self) -> u64 {
        WAV_HEADER + self.frames * self.block()
    }
    /// The 44-byte header: RIFF, `fmt ` (PCM, 16 bits), `data`.
    pub fn header(&self) -> [u8; WAV_HEADER as usize] {
        let data = (self.frames * self.block()) as u32;
        let mut h = [0u8; WAV_HEADER as usize];
        h[0..4].copy_from_slice(b"RIFF");
        h[4..8].copy_from_slice(&(data + 36).to_le_bytes());
        h[8..12].copy_from_slice(b"WAVE");
        h[12..16].copy_from_slice(b"fmt ");
        h[16..20].copy_from_slice(&16u32.to_le_bytes());
        h[20..22].copy_from_slice(&1u16.to_le_bytes());
        h[22..24].copy_from_slice(&self.channels.to_le_bytes());
        h[24..28].copy_from_slice(&self.rate.to_le_bytes());
        h[28..32].copy_from_slice(&(self.rate * self.block() as u32).to_le_bytes());
        h[32..34].copy_from_slice(&(self.block() as u16).to_le_bytes());
        h[34..36].copy_from_slice(&16u16.to_le_bytes());
        h[36..40].copy_from_slice(b"data");
        h[40..44].copy_from_slice(&data.to_le_bytes());
        h
    }
}

/// Most frames read for one piece: 1 MiB of 16-bit output (two seconds of 8 kHz
/// stereo is 64 KiB; a header claiming a huge rate gets no larger pieces).
fn max_step(layout: WavLayout) -> u64 {
    ((1 << 20) / layout.block()).max(1)
}

/// Where a response's production of WAV bytes is.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    /// The next byte to send.
    pub pos: u64,
    /// The last byte to send (inclusive).
    pub last: u64,
    /// Frames read at a time: a quarter of a second first, so that playback starts at
    /// once; then two seconds.
    step: u64,
}

impl Cursor {
    /// For the WAV bytes `[first, last]`.
    pub fn new(layout: WavLayout, first: u64, last: u64) -> Cursor {
        Cursor {
            pos: first,
            last,
            step: (layout.rate as u64 / 4).clamp(1, max_step(layout)),
        }
    }
}

/// The next piece of the WAV bytes a cursor is at, or `None` when all are sent. Only
/// the chunks the piece needs are read, each authenticated by the random-access
/// reader. A response calls this once per piece, on a blocking thread it gives back
/// between pieces (so that a slow client holds no thread while it reads).
pub fn next_piece(
    o: &Mutex<Opened>,
    layout: WavLayout,
    c: &mut Cursor,
) -> sasf_core::Result<Option<Vec<u8>>> {
    if c.pos > c.last {
        return Ok(None);
    }
    if c.pos < WAV_HEADER {
        let h = layout.header();
        let end = (c.last + 1).min(WAV_HEADER);
        let piece = h[c.pos as usize..end as usize].to_vec();
        c.pos = end;
        return Ok(Some(piece));
    }
    let block = layout.block();
    let frame = (c.pos - WAV_HEADER) / block;
    let skip = ((c.pos - WAV_HEADER) % block) as usize;
    let want_end = (c.last - WAV_HEADER) / block + 1;
    let to = (frame + c.step).min(want_end).min(layout.frames);
    if to <= frame {
        return Ok(None);
    }
    let (encoding, mut pcm) = {
        let mut g = o.lock().unwrap_or_else(|e| e.into_inner());
        let encoding = g.ra.header().format.encoding;
        let mut raw = Vec::with_capacity(((to - frame) * block) as usize);
        g.ra.read_range(frame, to, |a| {
            raw.extend_from_slice(a);
            Ok(())
        })?;
        (encoding, raw)
    };
    let mut out = Vec::with_capacity(pcm.len() * 2);
    decode_to_pcm16(encoding, &pcm, &mut out);
    pcm.clear();
    let stop = ((c.last + 1 - WAV_HEADER) - frame * block).min(out.len() as u64) as usize;
    if skip >= stop {
        return Ok(None);
    }
    out.truncate(stop);
    if skip > 0 {
        out.drain(..skip);
    }
    c.pos += out.len() as u64;
    c.step = (layout.rate as u64 * 2).clamp(1, max_step(layout));
    Ok(Some(out))
}

/// Voice activity of one channel: the spans (ms) where its level is above the noise
/// floor, from per-bucket RMS levels in dBFS.
fn activity(db: &[f32], bucket_ms: f64) -> Vec<[u64; 2]> {
    if db.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<f32> = db.to_vec();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[sorted.len() / 10];
    let threshold = (floor + 12.0).max(-55.0);
    let mut spans: Vec<[u64; 2]> = Vec::new();
    let mut start = None;
    for (i, &v) in db.iter().chain(std::iter::once(&f32::MIN)).enumerate() {
        match (v > threshold, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let (a, b) = ((s as f64 * bucket_ms) as u64, (i as f64 * bucket_ms) as u64);
                match spans.last_mut() {
                    // Pauses under 300 ms are one turn.
                    Some(l) if a.saturating_sub(l[1]) < 300 => l[1] = b,
                    _ => spans.push([a, b]),
                }
                start = None;
            }
            _ => {}
        }
    }
    spans.retain(|s| s[1] - s[0] >= 150);
    spans
}

/// Per channel and bucket: the largest magnitude (0 to 32768) and the sum of
/// squares, of 16-bit samples.
struct Buckets {
    ch: usize,
    step: u64,
    peak: Vec<Vec<u16>>,
    sq: Vec<Vec<u64>>,
    frame: u64,
}

impl Buckets {
    fn add(&mut self, c: usize, s: i32) {
        let b = (self.frame / self.step) as usize;
        let m = s.unsigned_abs() as u16;
        let p = &mut self.peak[c][b];
        if m > *p {
            *p = m;
        }
        self.sq[c][b] += (s * s) as u64;
    }

    /// Adds whole frames of `encoding`.
    fn frames(&mut self, encoding: Encoding, data: &[u8], lut: &[i16; 256]) {
        let ch = self.ch;
        match encoding.bytes_per_sample() {
            1 => {
                for f in data.chunks_exact(ch) {
                    for (c, &b) in f.iter().enumerate() {
                        self.add(c, lut[b as usize] as i32);
                    }
                    self.frame += 1;
                }
            }
            2 if encoding == Encoding::S16 => {
                for f in data.chunks_exact(2 * ch) {
                    for c in 0..ch {
                        self.add(c, i16::from_le_bytes([f[2 * c], f[2 * c + 1]]) as i32);
                    }
                    self.frame += 1;
                }
            }
            _ => {
                let mut pcm = Vec::with_capacity(data.len());
                decode_to_pcm16(encoding, data, &mut pcm);
                for f in pcm.chunks_exact(2 * ch) {
                    for c in 0..ch {
                        self.add(c, i16::from_le_bytes([f[2 * c], f[2 * c + 1]]) as i32);
                    }
                    self.frame += 1;
                }
            }
        }
    }
}

/// Computes the waveform of a recording that verified: per channel, per bucket, the
/// peak (0 to 255, linear) and the speech spans. Reads all of the audio once, with the
/// streaming reader (every chunk authenticated, on every core).
fn compute(app: &App, rel: &Path) -> Result<Arc<Value>, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let (file, _) = recording::open_file(app, rel).map_err(|e| format!("{e:#}"))?;
    let d = sasf_core::Decoder::new(std::io::BufReader::with_capacity(1 << 20, file))
        .map_err(|e| err(&e))?
        // One core is left to the requests (a player seeking while this runs).
        .threads(crate::io::threads().saturating_sub(1).max(1));
    let mut r = crate::io::policy(d, &app.key_args, &app.keys)
        .map_err(|e| err(&e))?
        .open_with(&app.keys.ring)
        .map_err(|e| err(&e))?;
    let h = r.header().clone();
    let frames = {
        let o = recording::cached(app, rel).map_err(|e| format!("{e:#}"))?;
        let o = o.lock().unwrap_or_else(|e| e.into_inner());
        o.ra.totals().samples
    };
    let ch = h.format.channels as usize;
    let rate = h.format.sample_rate;
    let step = frames.div_ceil(MAX_BUCKETS).max(rate as u64 / 100).max(1);
    let buckets = (frames.div_ceil(step) as usize).max(1);
    let encoding = h.format.encoding;
    let mut lut = [0i16; 256];
    if encoding.bytes_per_sample() == 1 {
        for (i, v) in lut.iter_mut().enumerate() {
            let mut o = Vec::with_capacity(2);
            decode_to_pcm16(encoding, &[i as u8], &mut o);
            *v = i16::from_le_bytes([o[0], o[1]]);
        }
    }
    let mut acc = Buckets {
        ch,
        step,
        peak: vec![vec![0u16; buckets]; ch],
        sq: vec![vec![0u64; buckets]; ch],
        frame: 0,
    };
    let mut people = Vec::new();
    while let Some(item) = r.next_item().map_err(|e| err(&e))? {
        match item {
            Item::Audio { data, .. } => {
                if acc.frame + (data.len() / (ch * encoding.bytes_per_sample())) as u64 > frames {
                    return Err("more audio than the END chunk says".into());
                }
                acc.frames(encoding, data, &lut)
            }
            Item::Participant { participant, .. } => people.push(participant),
            Item::End(_) => break,
            _ => {}
        }
    }
    let names = recording::channel_names(&people, h.format.channels);
    let bucket_ms = step as f64 * 1000.0 / rate as f64;
    let lanes: Vec<Value> = (0..ch)
        .map(|c| {
            let db: Vec<f32> = acc.sq[c]
                .iter()
                .enumerate()
                .map(|(b, &s)| {
                    let n = step.min(frames.saturating_sub(b as u64 * step)).max(1) as f64;
                    let rms = (s as f64 / n).sqrt() / 32768.0;
                    (20.0 * rms.max(1e-9).log10()) as f32
                })
                .collect();
            json!({"channel": c, "name": names[c], "speech": activity(&db, bucket_ms)})
        })
        .collect();
    let peaks: Vec<Vec<u8>> = acc
        .peak
        .iter()
        .map(|p| p.iter().map(|&m| (m >> 7).min(255) as u8).collect())
        .collect();
    Ok(Arc::new(json!({
        "rate": rate,
        "frames": frames,
        "duration_ms": sample_to_ms(frames, rate),
        "step": step,
        "bucket_ms": bucket_ms,
        "peaks": peaks,
        "lanes": lanes,
    })))
}

/// The waveform of `rel` (computed on first use, then kept while the file is
/// unchanged; a failure is not kept, so the next request tries again).
pub fn peaks(app: &App, rel: &Path) -> Result<Arc<Value>, recording::NotPlayable> {
    // Only what may be played is drawn (the picture shows when people spoke).
    let stamp = recording::playable(app, rel)?
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .stamp;
    let key = (rel.to_path_buf(), stamp);
    let cell = {
        let mut cache = app.media.peaks.lock().unwrap_or_else(|e| e.into_inner());
        if !cache.contains_key(&key) && cache.len() >= MAX_PEAKS {
            cache.clear();
        }
        cache.entry(key.clone()).or_default().clone()
    };
    let r = cell.get_or_init(|| compute(app, rel)).clone();
    if r.is_err() {
        let mut cache = app.media.peaks.lock().unwrap_or_else(|e| e.into_inner());
        if cache.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            cache.remove(&key);
        }
    }
    r.map_err(recording::NotPlayable::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wav_header_describes_the_frames_sent() {
        let l = WavLayout::new(2, 8000, 80_000).unwrap();
        let h = l.header();
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(h[40..44].try_into().unwrap()), 320_000);
        assert_eq!(l.len(), 44 + 320_000);
        // A recording too long for a 32-bit RIFF size is cut to what fits.
        let big = WavLayout::new(1, 8000, u64::MAX / 4).unwrap();
        assert!(big.len() <= u32::MAX as u64);
        // A byte rate a 32-bit field cannot hold is refused, not wrapped.
        assert!(WavLayout::new(u16::MAX, u32::MAX, 10).is_none());
        assert!(WavLayout::new(0, 8000, 10).is_none());
        assert!(
            WavLayout::new(40_000, 8, 10).is_none(),
            "block align over 16 bits"
        );
        let huge = WavLayout::new(2, 500_000_000, 1 << 40).unwrap();
        assert!(Cursor::new(huge, 0, huge.len() - 1).step * huge.block() <= 1 << 20);
    }

    #[test]
    fn activity_finds_speech_and_joins_short_pauses() {
        // 10 ms buckets: silence, 1 s of speech, a 200 ms pause, 0.5 s, silence.
        let mut db = vec![-80.0f32; 100];
        db.extend(vec![-20.0; 100]);
        db.extend(vec![-80.0; 20]);
        db.extend(vec![-20.0; 50]);
        db.extend(vec![-80.0; 100]);
        db.extend(vec![-20.0; 5]); // 50 ms: too short
        db.extend(vec![-80.0; 100]);
        assert_eq!(activity(&db, 10.0), vec![[1000, 2700]]);
        assert!(activity(&[-80.0; 50], 10.0).is_empty());
    }
}
