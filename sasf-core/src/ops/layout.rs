//! Per-speaker audio: which channels of a recording an output carries, found from the
//! participants and the channel map, and the frames of such an output made from the
//! recording's interleaved frames (selected bit for bit, or mixed down in floating
//! point).

use crate::audio::{decode_to_pcm16, AudioFormat, Encoding};
use crate::error::{Error, Result};
use crate::meta::{Participant, RecordingInfo, Role};

/// The channels an output carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// These channels of the source, in this order (a channel may repeat), samples
    /// copied as they are.
    Select(Vec<u16>),
    /// Every channel mixed down to one: the mean of the channels, computed in
    /// floating point, so it can never clip.
    Mono,
}

/// The channels that carry participant `id`: those the participant declares, and
/// those the channel map gives to `id`, in channel order.
pub fn participant_channels(
    id: &str,
    info: &RecordingInfo,
    participants: &[Participant],
) -> Vec<u16> {
    let mut ch: Vec<u16> = participants
        .iter()
        .filter(|p| p.id == id)
        .flat_map(|p| p.channels.iter().copied())
        .collect();
    ch.extend(
        info.channels
            .iter()
            .enumerate()
            .filter(|(_, c)| c.as_str() == id)
            .filter_map(|(i, _)| u16::try_from(i).ok()),
    );
    ch.sort_unstable();
    ch.dedup();
    ch
}

/// The channels that carry role `role`: channel map entries naming the role or a
/// participant of that role, and the channels of the participants of that role.
pub fn role_channels(role: Role, info: &RecordingInfo, participants: &[Participant]) -> Vec<u16> {
    let mut ch: Vec<u16> = participants
        .iter()
        .filter(|p| p.role == role)
        .flat_map(|p| p.channels.iter().copied())
        .collect();
    for (i, c) in info.channels.iter().enumerate() {
        let named = c == role.name() || participants.iter().any(|p| &p.id == c && p.role == role);
        if let (true, Ok(i)) = (named, u16::try_from(i)) {
            ch.push(i);
        }
    }
    ch.sort_unstable();
    ch.dedup();
    ch
}

/// A sample as a number in [-1, 1) (floats as they are).
fn sample_f64(encoding: Encoding, b: &[u8]) -> f64 {
    match encoding {
        Encoding::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        Encoding::F64 => f64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
        Encoding::S24 => (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f64 / 8_388_608.0,
        Encoding::S32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64 / 2_147_483_648.0,
        _ => {
            let mut v = Vec::with_capacity(2);
            decode_to_pcm16(encoding, b, &mut v);
            i16::from_le_bytes([v[0], v[1]]) as f64 / 32768.0
        }
    }
}

/// The samples of channels `list` of each frame in `data`, appended to `out`;
/// `N` is the sample size.
fn select<const N: usize>(src: AudioFormat, list: &[u16], data: &[u8], out: &mut Vec<u8>) {
    let ba = src.block_align();
    let frames = data.len() / ba;
    let start = out.len();
    out.resize(start + frames * list.len() * N, 0);
    let dst = &mut out[start..];
    if let ([c], 2, 1 | 2) = (list, src.channels, N) {
        // One channel of two, 8- or 16-bit (a split of a stereo call): eight bytes at a
        // time.
        return one_of_two::<N>(*c, data, dst);
    }
    if let [c] = list {
        // One channel: a strided copy.
        let at = *c as usize * N;
        for (f, d) in data.chunks_exact(ba).zip(dst.chunks_exact_mut(N)) {
            let s: &[u8; N] = f[at..at + N].try_into().expect("N bytes");
            d.copy_from_slice(s);
        }
        return;
    }
    for (f, d) in data
        .chunks_exact(ba)
        .zip(dst.chunks_exact_mut(list.len() * N))
    {
        for (d, &c) in d.chunks_exact_mut(N).zip(list) {
            let at = c as usize * N;
            let s: &[u8; N] = f[at..at + N].try_into().expect("N bytes");
            d.copy_from_slice(s);
        }
    }
}

/// Channel `c` (0 or 1) of two-channel frames of `N`-byte samples (`N` 1 or 2) into
/// `dst` (exactly the size of the result), with shifts and masks on 64-bit words.
fn one_of_two<const N: usize>(c: u16, data: &[u8], dst: &mut [u8]) {
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    // The samples of channel `c` in a word of interleaved samples, packed into its low
    // half.
    let pick = |x: u64| -> u64 {
        let shift = c as u32 * 8 * N as u32;
        let x = x >> shift;
        if N == 1 {
            let z = x & 0x00FF_00FF_00FF_00FF;
            let z = (z | z >> 8) & 0x0000_FFFF_0000_FFFF;
            (z | z >> 16) & 0xFFFF_FFFF
        } else {
            let z = x & 0x0000_FFFF_0000_FFFF;
            (z | z >> 16) & 0xFFFF_FFFF
        }
    };
    let mut src = data.chunks_exact(16);
    let mut out = dst.chunks_exact_mut(8);
    for (s, d) in (&mut src).zip(&mut out) {
        let v = pick(word(&s[..8])) | pick(word(&s[8..])) << 32;
        d.copy_from_slice(&v.to_le_bytes());
    }
    // The last frames, one by one.
    let (s, d) = (src.remainder(), out.into_remainder());
    for (f, d) in s.chunks_exact(2 * N).zip(d.chunks_exact_mut(N)) {
        d.copy_from_slice(&f[c as usize * N..(c as usize + 1) * N]);
    }
}

impl Layout {
    /// Checks the layout against a source of `channels` channels: every channel
    /// selected exists, and there is at least one.
    pub fn check(&self, channels: u16) -> Result<()> {
        if let Layout::Select(list) = self {
            if list.is_empty() {
                return Err(Error::misuse("no channel selected"));
            }
            if list.len() > u16::MAX as usize {
                return Err(Error::misuse("more than 65535 channels selected"));
            }
            if let Some(c) = list.iter().find(|&&c| c >= channels) {
                return Err(Error::misuse(format!(
                    "channel {c} is out of range: the recording has {channels} channel(s), 0 to {}",
                    channels - 1
                )));
            }
        }
        Ok(())
    }

    /// The format of the output for source `src`: the source's encoding (16-bit PCM
    /// with `pcm16`) for a selection, 32-bit float (16-bit PCM with `pcm16`) for a
    /// mix.
    pub fn output_format(&self, src: AudioFormat, pcm16: bool) -> AudioFormat {
        let (encoding, channels) = match self {
            Layout::Select(l) => (
                if pcm16 { Encoding::S16 } else { src.encoding },
                l.len() as u16,
            ),
            Layout::Mono => (if pcm16 { Encoding::S16 } else { Encoding::F32 }, 1),
        };
        AudioFormat {
            encoding,
            channels,
            sample_rate: src.sample_rate,
        }
    }

    /// Appends to `out` the output frames of the whole source frames in `data`
    /// (format `src`), in [`output_format`](Layout::output_format). The layout has
    /// passed [`check`](Layout::check).
    pub fn apply(&self, src: AudioFormat, pcm16: bool, data: &[u8], out: &mut Vec<u8>) {
        let bps = src.encoding.bytes_per_sample();
        let frames = data.chunks_exact(src.block_align());
        match self {
            Layout::Select(list) if pcm16 && src.encoding != Encoding::S16 => {
                for f in frames {
                    for &c in list {
                        let s = &f[c as usize * bps..(c as usize + 1) * bps];
                        decode_to_pcm16(src.encoding, s, out);
                    }
                }
            }
            Layout::Select(list) => match bps {
                // Fixed-size copies: the per-sample work of a split is a move.
                1 => select::<1>(src, list, data, out),
                2 => select::<2>(src, list, data, out),
                3 => select::<3>(src, list, data, out),
                4 => select::<4>(src, list, data, out),
                _ => select::<8>(src, list, data, out),
            },
            Layout::Mono => {
                let n = src.channels as f64;
                for f in frames {
                    let sum: f64 = f
                        .chunks_exact(bps)
                        .map(|s| sample_f64(src.encoding, s))
                        .sum();
                    let mean = sum / n;
                    if pcm16 {
                        let v = (mean * 32768.0).round().clamp(-32768.0, 32767.0);
                        let v = if v.is_nan() { 0 } else { v as i16 };
                        out.extend_from_slice(&v.to_le_bytes());
                    } else {
                        out.extend_from_slice(&(mean as f32).to_le_bytes());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fmt(e: Encoding, ch: u16) -> AudioFormat {
        AudioFormat::new(e, ch, 8000).unwrap()
    }

    #[test]
    fn selection_copies_samples_bit_for_bit_in_the_order_asked() {
        let src = fmt(Encoding::S16, 3);
        // Two frames: (1,2,3), (4,5,6).
        let data: Vec<u8> = [1i16, 2, 3, 4, 5, 6]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut out = Vec::new();
        Layout::Select(vec![2, 0]).apply(src, false, &data, &mut out);
        let got: Vec<i16> = out
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(got, vec![3, 1, 6, 4]);
        assert_eq!(
            Layout::Select(vec![2, 0]).output_format(src, false),
            fmt(Encoding::S16, 2)
        );
    }

    #[test]
    fn mulaw_selected_with_pcm16_is_decoded() {
        let src = fmt(Encoding::MuLaw, 2);
        let mut out = Vec::new();
        Layout::Select(vec![1]).apply(src, true, &[0xFF, 0x00], &mut out);
        assert_eq!(
            i16::from_le_bytes([out[0], out[1]]),
            crate::audio::mulaw_to_linear(0)
        );
    }

    #[test]
    fn channels_out_of_range_or_none_are_refused() {
        assert!(Layout::Select(vec![0, 1]).check(2).is_ok());
        let e = Layout::Select(vec![0, 2]).check(2).unwrap_err();
        assert!(e.to_string().contains("channel 2 is out of range"), "{e}");
        assert!(Layout::Select(vec![]).check(2).is_err());
        assert!(Layout::Mono.check(1).is_ok());
    }

    #[test]
    fn a_mix_of_full_scale_channels_does_not_clip() {
        let src = fmt(Encoding::S16, 2);
        let data: Vec<u8> = [i16::MIN, i16::MIN, 32767, 32767, 32767, -32768]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut out = Vec::new();
        Layout::Mono.apply(src, false, &data, &mut out);
        let got: Vec<f32> = out
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(got, vec![-1.0, 32767.0 / 32768.0, -0.5 / 32768.0]);
        let mut out = Vec::new();
        Layout::Mono.apply(src, true, &data, &mut out);
        let got: Vec<i16> = out
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(got, vec![-32768, 32767, -1]);
    }

    #[test]
    fn channels_are_found_from_participants_and_the_map() {
        let format = fmt(Encoding::S16, 4);
        let m = crate::meta::Metadata::from_json_str(
            r#"{"recording":{"channels":["c1","agent","a1","x"]},
                "participants":[{"id":"a1","role":"agent","channels":[3]},
                                {"id":"c1","role":"customer"}]}"#,
            &format,
            None,
        )
        .unwrap();
        let (i, p) = (&m.recording, &m.participants[..]);
        assert_eq!(participant_channels("a1", i, p), vec![2, 3]);
        assert_eq!(participant_channels("c1", i, p), vec![0]);
        assert_eq!(participant_channels("zz", i, p), Vec::<u16>::new());
        assert_eq!(role_channels(Role::Agent, i, p), vec![1, 2, 3]);
        assert_eq!(role_channels(Role::Customer, i, p), vec![0]);
        assert_eq!(role_channels(Role::Ivr, i, p), Vec::<u16>::new());
    }

    proptest! {
        /// Selecting every channel in order gives the source back; a mix of one
        /// channel of 16-bit PCM with --pcm16 gives it back too.
        #[test]
        fn identity_layouts_round_trip(
            ch in 1u16..5,
            frames in 0usize..50,
            seed in any::<u64>(),
            e in prop::sample::select(vec![Encoding::U8, Encoding::MuLaw, Encoding::S16, Encoding::S24, Encoding::S32, Encoding::F64]),
        ) {
            let src = fmt(e, ch);
            let data: Vec<u8> = (0..frames * src.block_align())
                .map(|i| (seed.wrapping_mul(i as u64 + 1) >> 13) as u8)
                .collect();
            let mut out = Vec::new();
            Layout::Select((0..ch).collect()).apply(src, false, &data, &mut out);
            prop_assert_eq!(&out, &data);
            // Channels reversed, then reversed again: the source.
            let rev: Vec<u16> = (0..ch).rev().collect();
            let mut once = Vec::new();
            Layout::Select(rev.clone()).apply(src, false, &data, &mut once);
            let mut twice = Vec::new();
            Layout::Select(rev).apply(src, false, &once, &mut twice);
            prop_assert_eq!(&twice, &data);
            // Each single channel, against a plain strided copy.
            let bps = e.bytes_per_sample();
            for c in 0..ch {
                let mut got = Vec::new();
                Layout::Select(vec![c]).apply(src, false, &data, &mut got);
                let want: Vec<u8> = data
                    .chunks_exact(src.block_align())
                    .flat_map(|f| f[c as usize * bps..(c as usize + 1) * bps].to_vec())
                    .collect();
                prop_assert_eq!(got, want);
            }
            if ch == 1 && e == Encoding::S16 {
                let mut out = Vec::new();
                Layout::Mono.apply(src, true, &data, &mut out);
                prop_assert_eq!(&out, &data);
            }
        }
    }
}
