//! The WAV bridge: a streaming WAV reader and writer.
//!
//! [`WavReader`] parses RIFF, RF64 and BW64 headers up to the start of the `data`
//! chunk without ever seeking, so it works on pipes, and then hands out the sample
//! bytes exactly as stored. It reads the encodings of [`Encoding`]: unsigned 8-bit,
//! signed 16/24/32-bit PCM, 32/64-bit IEEE float and G.711 µ-law/A-law, whether
//! declared with a plain format tag or with `WAVE_FORMAT_EXTENSIBLE`. Everything else
//! is refused with [`ErrorKind::WavUnsupported`](crate::error::ErrorKind::WavUnsupported),
//! and structurally broken input with
//! [`ErrorKind::WavMalformed`](crate::error::ErrorKind::WavMalformed). Size fields are
//! never trusted for allocation: unknown chunks are skipped in bounded pieces.
//!
//! [`WavWriter`] writes the bytes it is given, bit for bit, behind a header chosen
//! for the format: either for a pipe (sizes `0xFFFFFFFF`, "read to end of file") or
//! for a seekable file (sizes patched at the end, switching to RF64 when the file
//! outgrows the 4 GiB of a RIFF file, as EBU Tech 3306 describes), with the
//! descriptive chunks (cue points and their labels, `bext`, `LIST`/`INFO`) that
//! [`WavMetadata`] builds before and after the data.

use crate::audio::{AudioFormat, Encoding};

mod chunks;
mod read;
mod write;

pub use chunks::{Bext, Marker, WavMetadata, MAX_LABEL, MAX_TEXT};
pub use read::{tags_after_data, WavReader};
pub use write::WavWriter;

/// The RIFF variant a WAV file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// Classic `RIFF`/`WAVE`, 32-bit sizes (files up to 4 GiB).
    Riff,
    /// EBU Tech 3306 `RF64`/`WAVE`: 64-bit sizes in a `ds64` chunk.
    Rf64,
    /// ITU-R BS.2088 `BW64`/`WAVE`: the same 64-bit layout as RF64.
    Bw64,
}

impl Container {
    /// The four magic bytes that start a file of this kind.
    pub fn magic(self) -> &'static [u8; 4] {
        match self {
            Container::Riff => b"RIFF",
            Container::Rf64 => b"RF64",
            Container::Bw64 => b"BW64",
        }
    }
}

/// What [`WavReader::new`] learned from a WAV header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavInfo {
    /// Sample encoding, channel count and sample rate.
    pub format: AudioFormat,
    /// Which RIFF variant the file uses.
    pub container: Container,
    /// Length of the data chunk in bytes; `None` when the file is "streamed" (size
    /// fields 0 or `0xFFFFFFFF`) and is read to the end of the input.
    pub data_len: Option<u64>,
    /// From a BWF `bext` chunk: OriginationDate and OriginationTime as
    /// `YYYY-MM-DDTHH:MM:SS` (no zone), if present and well formed. The separators
    /// allowed by the BWF specification (`-`, `_`, `:`, space, `.`) are normalised.
    pub bext_origination: Option<String>,
    /// The format tag found in the `fmt ` chunk (1 PCM, 3 IEEE float, 6 A-law,
    /// 7 µ-law, `0xFFFE` extensible); informative only.
    pub format_tag: u16,
    /// From a BWF `bext` chunk: Description, Originator and OriginatorReference (text
    /// up to the first NUL, trimmed; empty ones omitted).
    pub bext_text: Vec<(&'static str, String)>,
    /// The text of a `LIST`/`INFO` chunk: (four-character id such as `INAM`, `ICMT`,
    /// `IART`, `ICRD`, `ISFT`; its text), in file order. At most 32 entries of at
    /// most 4096 bytes each; entries that are not UTF-8 text are left out.
    pub info_tags: Vec<(String, String)>,
}

/// `WAVE_FORMAT_PCM`.
pub(crate) const TAG_PCM: u16 = 0x0001;
/// `WAVE_FORMAT_IEEE_FLOAT`.
pub(crate) const TAG_FLOAT: u16 = 0x0003;
/// `WAVE_FORMAT_ALAW`.
pub(crate) const TAG_ALAW: u16 = 0x0006;
/// `WAVE_FORMAT_MULAW`.
pub(crate) const TAG_MULAW: u16 = 0x0007;
/// `WAVE_FORMAT_EXTENSIBLE`.
pub(crate) const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// Bytes 2..16 of the `KSDATAFORMAT_SUBTYPE_*` GUIDs derived from a format tag
/// (`TTTT0000-0000-0010-8000-00AA00389B71` as stored little-endian in a file).
pub(crate) const GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// The sub-format GUID, as stored in a file, for a format tag.
pub(crate) fn guid_for_tag(tag: u16) -> [u8; 16] {
    let mut g = [0u8; 16];
    g[..2].copy_from_slice(&tag.to_le_bytes());
    g[2..].copy_from_slice(&GUID_TAIL);
    g
}

/// The format tag a writer uses for an encoding (before any extensible wrapping).
pub(crate) fn tag_for_encoding(e: Encoding) -> u16 {
    match e {
        Encoding::U8 | Encoding::S16 | Encoding::S24 | Encoding::S32 => TAG_PCM,
        Encoding::F32 | Encoding::F64 => TAG_FLOAT,
        Encoding::MuLaw => TAG_MULAW,
        Encoding::ALaw => TAG_ALAW,
    }
}

#[cfg(test)]
mod tests;
