//! Audio sample encodings and formats, and decoding to 16-bit PCM.

use crate::error::{Error, Result};

/// How samples are stored. SASF carries samples bit for bit in one of these; it never
/// transcodes. Multi-byte encodings are little-endian, as in WAV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Unsigned 8-bit PCM (128 is silence).
    U8,
    /// Signed 16-bit little-endian PCM.
    S16,
    /// Signed 24-bit little-endian PCM, packed in 3 bytes.
    S24,
    /// Signed 32-bit little-endian PCM.
    S32,
    /// IEEE 754 32-bit float, little-endian.
    F32,
    /// IEEE 754 64-bit float, little-endian.
    F64,
    /// G.711 µ-law, one byte per sample.
    MuLaw,
    /// G.711 A-law, one byte per sample.
    ALaw,
}

impl Encoding {
    /// All encodings, in code order.
    pub const ALL: [Encoding; 8] = [
        Encoding::U8,
        Encoding::S16,
        Encoding::S24,
        Encoding::S32,
        Encoding::F32,
        Encoding::F64,
        Encoding::MuLaw,
        Encoding::ALaw,
    ];

    /// The code stored in the SASF header.
    pub fn code(self) -> u8 {
        match self {
            Encoding::U8 => 1,
            Encoding::S16 => 2,
            Encoding::S24 => 3,
            Encoding::S32 => 4,
            Encoding::F32 => 5,
            Encoding::F64 => 6,
            Encoding::MuLaw => 7,
            Encoding::ALaw => 8,
        }
    }

    /// The encoding for a header code, if known.
    pub fn from_code(code: u8) -> Option<Encoding> {
        Encoding::ALL.iter().copied().find(|e| e.code() == code)
    }

    /// Bytes per sample of one channel.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Encoding::U8 | Encoding::MuLaw | Encoding::ALaw => 1,
            Encoding::S16 => 2,
            Encoding::S24 => 3,
            Encoding::S32 | Encoding::F32 => 4,
            Encoding::F64 => 8,
        }
    }

    /// A short name: `u8`, `s16`, `s24`, `s32`, `f32`, `f64`, `mulaw`, `alaw`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::U8 => "u8",
            Encoding::S16 => "s16",
            Encoding::S24 => "s24",
            Encoding::S32 => "s32",
            Encoding::F32 => "f32",
            Encoding::F64 => "f64",
            Encoding::MuLaw => "mulaw",
            Encoding::ALaw => "alaw",
        }
    }

    /// A human description, e.g. `G.711 µ-law`.
    pub fn describe(self) -> &'static str {
        match self {
            Encoding::U8 => "unsigned 8-bit PCM",
            Encoding::S16 => "signed 16-bit PCM",
            Encoding::S24 => "signed 24-bit PCM",
            Encoding::S32 => "signed 32-bit PCM",
            Encoding::F32 => "32-bit float",
            Encoding::F64 => "64-bit float",
            Encoding::MuLaw => "G.711 µ-law",
            Encoding::ALaw => "G.711 A-law",
        }
    }
}

/// The audio format of a recording: encoding, channel count and sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AudioFormat {
    /// Sample encoding.
    pub encoding: Encoding,
    /// Number of interleaved channels (at least 1).
    pub channels: u16,
    /// Frames per second (at least 1).
    pub sample_rate: u32,
}

impl AudioFormat {
    /// Makes a format, checking that channels and rate are non-zero.
    pub fn new(encoding: Encoding, channels: u16, sample_rate: u32) -> Result<AudioFormat> {
        if channels == 0 {
            return Err(Error::misuse("an audio format needs at least one channel"));
        }
        if sample_rate == 0 {
            return Err(Error::misuse(
                "an audio format needs a non-zero sample rate",
            ));
        }
        Ok(AudioFormat {
            encoding,
            channels,
            sample_rate,
        })
    }

    /// Bytes per frame (one sample of every channel).
    pub fn block_align(&self) -> usize {
        self.encoding.bytes_per_sample() * self.channels as usize
    }

    /// Bytes per second of audio.
    pub fn byte_rate(&self) -> u64 {
        self.block_align() as u64 * self.sample_rate as u64
    }
}

/// Decodes one G.711 µ-law byte to linear 16-bit PCM.
pub fn mulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let sign = u & 0x80;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Decodes one G.711 A-law byte to linear 16-bit PCM.
pub fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let sign = a & 0x80;
    let exponent = ((a >> 4) & 0x07) as i32;
    let mantissa = (a & 0x0F) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if sign != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

fn float_to_i16(x: f64) -> i16 {
    if x.is_nan() {
        return 0;
    }
    let v = (x * 32768.0).round();
    v.clamp(-32768.0, 32767.0) as i16
}

/// Decodes whole samples of `encoding` in `input` to 16-bit PCM, appending
/// little-endian bytes to `out`. `input` must hold a whole number of samples.
pub fn decode_to_pcm16(encoding: Encoding, input: &[u8], out: &mut Vec<u8>) {
    let bps = encoding.bytes_per_sample();
    debug_assert_eq!(input.len() % bps, 0);
    out.reserve(input.len() / bps * 2);
    let mut push = |s: i16| out.extend_from_slice(&s.to_le_bytes());
    match encoding {
        Encoding::U8 => input.iter().for_each(|&b| push(((b as i16) - 128) << 8)),
        Encoding::S16 => input
            .chunks_exact(2)
            .for_each(|c| push(i16::from_le_bytes([c[0], c[1]]))),
        Encoding::S24 => input
            .chunks_exact(3)
            .for_each(|c| push(i16::from_le_bytes([c[1], c[2]]))),
        Encoding::S32 => input
            .chunks_exact(4)
            .for_each(|c| push(i16::from_le_bytes([c[2], c[3]]))),
        Encoding::F32 => input.chunks_exact(4).for_each(|c| {
            push(float_to_i16(
                f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64
            ))
        }),
        Encoding::F64 => input.chunks_exact(8).for_each(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            push(float_to_i16(f64::from_le_bytes(b)))
        }),
        Encoding::MuLaw => input.iter().for_each(|&b| push(mulaw_to_linear(b))),
        Encoding::ALaw => input.iter().for_each(|&b| push(alaw_to_linear(b))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_none() {
        for e in Encoding::ALL {
            assert_eq!(Encoding::from_code(e.code()), Some(e));
        }
        assert_eq!(Encoding::from_code(0), None);
        assert_eq!(Encoding::from_code(9), None);
    }

    #[test]
    fn g711_reference_points() {
        // Values from the G.711 tables: 0xFF/0x7F are µ-law zeros, 0x00 is the most
        // negative µ-law value; A-law 0xD5 is the smallest positive value.
        assert_eq!(mulaw_to_linear(0xFF), 0);
        assert_eq!(mulaw_to_linear(0x7F), 0);
        assert_eq!(mulaw_to_linear(0x00), -32124);
        assert_eq!(mulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }

    #[test]
    fn pcm16_decoding_of_each_width() {
        let mut out = Vec::new();
        decode_to_pcm16(Encoding::U8, &[0, 128, 255], &mut out);
        assert_eq!(out, [0x00, 0x80, 0, 0, 0x00, 0x7F]);
        out.clear();
        decode_to_pcm16(Encoding::S24, &[0x11, 0x22, 0x33], &mut out);
        assert_eq!(out, [0x22, 0x33]);
        out.clear();
        decode_to_pcm16(Encoding::F32, &(-1.0f32).to_le_bytes(), &mut out);
        assert_eq!(i16::from_le_bytes([out[0], out[1]]), -32768);
        out.clear();
        decode_to_pcm16(Encoding::F64, &2.0f64.to_le_bytes(), &mut out);
        assert_eq!(i16::from_le_bytes([out[0], out[1]]), 32767);
    }
}
