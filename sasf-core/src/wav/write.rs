//! The WAV writer: streaming (for pipes) and seekable (for files, RIFF or RF64).

use std::io::{Seek, SeekFrom, Write};

use super::{guid_for_tag, tag_for_encoding, TAG_EXTENSIBLE, TAG_PCM};
use crate::audio::{AudioFormat, Encoding};
use crate::error::{Error, Result};

/// Size of the body of the `JUNK` chunk reserved for a `ds64` chunk: RIFF size,
/// data size and sample count (8 bytes each) and a table length of 0.
const DS64_BODY: usize = 28;

/// Writes a WAV file: a header chosen for the format, then the sample bytes exactly as
/// given.
///
/// Made with [`new_streaming`](WavWriter::new_streaming) (any [`Write`], e.g. a pipe)
/// or [`new_seekable`](WavWriter::new_seekable) (a file). The header is finished only
/// by [`finish`](WavWriter::finish) or [`finish_seekable`](WavWriter::finish_seekable);
/// dropping the writer does neither. The writer does no buffering of its own: wrap an
/// unbuffered sink in a [`std::io::BufWriter`].
///
/// Header layout: `fmt ` is WAVE_FORMAT_PCM (16 bytes) for 8- and 16-bit PCM of one or
/// two channels; WAVE_FORMAT_EXTENSIBLE (40 bytes) for 24- and 32-bit PCM and for any
/// encoding with more than two channels; IEEE float (tag 3), A-law (6) and µ-law (7)
/// otherwise, with an 18-byte `fmt ` (cbSize 0). Every encoding other than PCM also
/// gets a `fact` chunk holding the frame count.
pub struct WavWriter<W: Write> {
    inner: W,
    format: AudioFormat,
    /// Body of the `fmt ` chunk.
    fmt: Vec<u8>,
    /// Whether a `fact` chunk follows `fmt `.
    fact: bool,
    /// Seekable mode: the stream position of the header's first byte.
    start: Option<u64>,
    /// Data bytes written so far.
    data_len: u64,
    /// RIFF sizes above this make [`WavWriter::finish_seekable`] write RF64.
    /// `u32::MAX`, lowered in tests.
    rf64_threshold: u64,
    /// Chunks written between `fmt `/`fact` and `data` (e.g. `bext`, `LIST`/`INFO`).
    leading: Vec<u8>,
    /// Length of the chunks written after `data` by `finish_seekable_with`.
    trailing_len: u64,
}

impl<W: Write> std::fmt::Debug for WavWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavWriter")
            .field("format", &self.format)
            .field("seekable", &self.start.is_some())
            .field("data_len", &self.data_len)
            .finish_non_exhaustive()
    }
}

/// The standard channel mask for one (front centre) or two (front left and right)
/// channels, 0 ("no assignment") for more.
fn channel_mask(channels: u16) -> u32 {
    match channels {
        1 => 0x4,
        2 => 0x3,
        _ => 0,
    }
}

/// The body of the `fmt ` chunk for a format, and whether a `fact` chunk is needed.
fn fmt_body(format: AudioFormat) -> Result<(Vec<u8>, bool)> {
    if format.channels == 0 {
        return Err(Error::misuse("a WAV file needs at least one channel"));
    }
    if format.sample_rate == 0 {
        return Err(Error::misuse("a WAV file needs a non-zero sample rate"));
    }
    let block_align = u16::try_from(format.block_align()).map_err(|_| {
        Error::wav_unsupported(format!(
            "{} channels of {}: {} bytes per frame exceeds WAV's 65535",
            format.channels,
            format.encoding.describe(),
            format.block_align()
        ))
    })?;
    let byte_rate = u32::try_from(format.byte_rate()).map_err(|_| {
        Error::wav_unsupported(format!(
            "{} bytes per second exceeds WAV's 32-bit byte rate",
            format.byte_rate()
        ))
    })?;
    let tag = tag_for_encoding(format.encoding);
    let bits = (format.encoding.bytes_per_sample() * 8) as u16;
    let extensible =
        format.channels > 2 || matches!(format.encoding, Encoding::S24 | Encoding::S32);

    let mut b = Vec::with_capacity(40);
    b.extend_from_slice(&(if extensible { TAG_EXTENSIBLE } else { tag }).to_le_bytes());
    b.extend_from_slice(&format.channels.to_le_bytes());
    b.extend_from_slice(&format.sample_rate.to_le_bytes());
    b.extend_from_slice(&byte_rate.to_le_bytes());
    b.extend_from_slice(&block_align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        b.extend_from_slice(&22u16.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(&channel_mask(format.channels).to_le_bytes());
        b.extend_from_slice(&guid_for_tag(tag));
    } else if tag != TAG_PCM {
        b.extend_from_slice(&0u16.to_le_bytes());
    }
    Ok((b, tag != TAG_PCM))
}

/// The sizes a header is written with.
enum Sizes {
    /// Not known yet: every size field is `0xFFFFFFFF`.
    Unknown,
    /// A finished RIFF file of this many data bytes.
    Riff(u64),
    /// A finished RF64 file of this many data bytes.
    Rf64(u64),
}

impl<W: Write> WavWriter<W> {
    fn make(
        inner: W,
        format: AudioFormat,
        start: Option<u64>,
        leading: Vec<u8>,
    ) -> Result<WavWriter<W>> {
        let (fmt, fact) = fmt_body(format)?;
        if leading.len() % 2 == 1 || leading.len() > (u32::MAX / 2) as usize {
            return Err(Error::misuse(
                "chunks before WAV data must be whole chunks of even length under 2 GiB",
            ));
        }
        let mut w = WavWriter {
            inner,
            format,
            fmt,
            fact,
            start,
            data_len: 0,
            rf64_threshold: u32::MAX as u64,
            leading,
            trailing_len: 0,
        };
        let header = w.header(Sizes::Unknown);
        w.inner.write_all(&header)?;
        Ok(w)
    }

    /// The header bytes, up to and including the data chunk's size field.
    fn header(&self, sizes: Sizes) -> Vec<u8> {
        let reserve = self.start.is_some();
        let frames = self.data_len / self.format.block_align() as u64;
        let pad = self.data_len % 2;
        let mut h = Vec::with_capacity(120);
        let (magic, riff32, data32, fact32) = match sizes {
            Sizes::Unknown => (b"RIFF", u32::MAX, u32::MAX, u32::MAX),
            Sizes::Riff(len) => (
                b"RIFF",
                0, // patched below, once the header length is known
                len as u32,
                u32::try_from(frames).unwrap_or(u32::MAX),
            ),
            Sizes::Rf64(_) => (b"RF64", u32::MAX, u32::MAX, u32::MAX),
        };
        h.extend_from_slice(magic);
        h.extend_from_slice(&riff32.to_le_bytes());
        h.extend_from_slice(b"WAVE");
        let ds64_at = h.len() + 8;
        if reserve {
            let id = if matches!(sizes, Sizes::Rf64(_)) {
                b"ds64"
            } else {
                b"JUNK"
            };
            h.extend_from_slice(id);
            h.extend_from_slice(&(DS64_BODY as u32).to_le_bytes());
            h.extend_from_slice(&[0u8; DS64_BODY]);
        }
        h.extend_from_slice(b"fmt ");
        h.extend_from_slice(&(self.fmt.len() as u32).to_le_bytes());
        h.extend_from_slice(&self.fmt);
        if self.fact {
            h.extend_from_slice(b"fact");
            h.extend_from_slice(&4u32.to_le_bytes());
            h.extend_from_slice(&fact32.to_le_bytes());
        }
        h.extend_from_slice(&self.leading);
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data32.to_le_bytes());
        let riff_size = (h.len() as u64 - 8) + self.data_len + pad + self.trailing_len;
        match sizes {
            Sizes::Unknown => {}
            Sizes::Riff(_) => h[4..8].copy_from_slice(&(riff_size as u32).to_le_bytes()),
            Sizes::Rf64(len) => {
                h[ds64_at..ds64_at + 8].copy_from_slice(&riff_size.to_le_bytes());
                h[ds64_at + 8..ds64_at + 16].copy_from_slice(&len.to_le_bytes());
                h[ds64_at + 16..ds64_at + 24].copy_from_slice(&frames.to_le_bytes());
                // The table length (last 4 bytes) stays 0.
            }
        }
        h
    }

    /// The RIFF size of the finished file.
    pub(super) fn riff_size(&self) -> u64 {
        self.header(Sizes::Unknown).len() as u64 - 8
            + self.data_len
            + self.data_len % 2
            + self.trailing_len
    }

    /// For pipes: writes a header whose RIFF and data sizes (and `fact` sample count)
    /// are `0xFFFFFFFF` ("unknown, read to EOF"); never seeks.
    pub fn new_streaming(w: W, format: AudioFormat) -> Result<WavWriter<W>> {
        WavWriter::make(w, format, None, Vec::new())
    }

    /// [`new_streaming`](WavWriter::new_streaming) with `leading`, whole chunks such as
    /// [`WavMetadata::leading`](super::WavMetadata::leading) gives, written between
    /// the format chunks and `data`.
    pub fn new_streaming_with(w: W, format: AudioFormat, leading: Vec<u8>) -> Result<WavWriter<W>> {
        WavWriter::make(w, format, None, leading)
    }

    /// The format being written.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// Data bytes written so far.
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// Appends sample bytes, exactly as given. They may split frames anywhere, but
    /// the total must be a whole number of frames when the writer is finished.
    pub fn write_data(&mut self, bytes: &[u8]) -> Result<()> {
        self.inner.write_all(bytes)?;
        self.data_len += bytes.len() as u64;
        Ok(())
    }

    /// Flushes what has been written to the underlying writer (for a stream, so
    /// that output follows input).
    pub fn flush(&mut self) -> Result<()> {
        self.inner.flush()?;
        Ok(())
    }

    /// Checks for a partial final frame and, if `pad`, writes the pad byte of an odd
    /// data chunk.
    fn end_data(&mut self, pad: bool) -> Result<()> {
        let ba = self.format.block_align() as u64;
        if !self.data_len.is_multiple_of(ba) {
            return Err(Error::misuse(format!(
                "WAV data of {} bytes is not a whole number of {ba}-byte frames",
                self.data_len
            )));
        }
        if pad && self.data_len % 2 == 1 {
            self.inner.write_all(&[0])?;
        }
        Ok(())
    }

    /// Streaming mode: checks that the data is a whole number of frames, flushes and
    /// returns the writer. Must be called: nothing is finished on drop.
    ///
    /// No pad byte is written after an odd data length here: the data chunk's size is
    /// unknown, so a reader takes everything up to the end of the input as data, and a
    /// pad byte would come back as an extra sample.
    ///
    /// On a writer made by [`new_seekable`](WavWriter::new_seekable) this leaves the
    /// header as first written (all sizes `0xFFFFFFFF`), which readers take as a
    /// streamed file.
    pub fn finish(mut self) -> Result<W> {
        self.end_data(false)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write + Seek> WavWriter<W> {
    /// For files: writes a header with a 28-byte `JUNK` chunk reserved after `WAVE`
    /// and placeholder sizes of `0xFFFFFFFF` (so a file never finished still reads as
    /// a streamed WAV). The header starts at the current stream position.
    pub fn new_seekable(w: W, format: AudioFormat) -> Result<WavWriter<W>> {
        WavWriter::new_seekable_with(w, format, Vec::new())
    }

    /// [`new_seekable`](WavWriter::new_seekable) with `leading`, whole chunks such as
    /// [`WavMetadata::leading`](super::WavMetadata::leading) gives, written between
    /// the format chunks and `data`.
    pub fn new_seekable_with(
        mut w: W,
        format: AudioFormat,
        leading: Vec<u8>,
    ) -> Result<WavWriter<W>> {
        let start = w.stream_position()?;
        WavWriter::make(w, format, Some(start), leading)
    }

    /// Checks that the data is a whole number of frames, writes the pad byte after an
    /// odd data length, seeks back and patches the sizes, then returns the writer
    /// positioned at the end of the file.
    ///
    /// If the RIFF size would exceed `u32::MAX` bytes, the header is rewritten as RF64
    /// (EBU Tech 3306): `RF64` magic, the `JUNK` chunk becomes a `ds64` chunk holding
    /// the 64-bit RIFF size, data size and frame count, and the 32-bit RIFF size, data
    /// size and `fact` count are set to `0xFFFFFFFF`. On a writer made by
    /// [`new_streaming`](WavWriter::new_streaming), which reserved no room for
    /// `ds64`, a file that large is refused.
    pub fn finish_seekable(self) -> Result<W> {
        self.finish_seekable_with(&[])
    }

    /// [`finish_seekable`](WavWriter::finish_seekable), writing `trailing` (whole
    /// chunks, such as [`WavMetadata::trailing`](super::WavMetadata::trailing) gives)
    /// after the data chunk and its pad byte, and counting them in the RIFF size (the
    /// 64-bit one of `ds64` in an RF64 file). The data size stays that of the audio.
    pub fn finish_seekable_with(mut self, trailing: &[u8]) -> Result<W> {
        if trailing.len() % 2 == 1 {
            return Err(Error::misuse(
                "chunks after WAV data must be whole chunks of even length",
            ));
        }
        self.end_data(true)?;
        if self.start.is_none() && !trailing.is_empty() {
            return Err(Error::misuse(
                "a WAV header written for streaming cannot have chunks after its data",
            ));
        }
        self.inner.write_all(trailing)?;
        self.trailing_len = trailing.len() as u64;
        let rf64 = self.riff_size() > self.rf64_threshold.min(u32::MAX as u64);
        let start = match self.start {
            Some(s) => s,
            None if rf64 => {
                return Err(Error::misuse(
                    "a WAV header written for streaming has no room for RF64 sizes",
                ))
            }
            None => self
                .inner
                .stream_position()?
                .checked_sub(self.riff_size() + 8)
                .ok_or_else(|| Error::misuse("the WAV writer's stream position moved back"))?,
        };
        let header = if rf64 {
            self.header(Sizes::Rf64(self.data_len))
        } else {
            self.header(Sizes::Riff(self.data_len))
        };
        let end = self.inner.stream_position()?;
        self.inner.seek(SeekFrom::Start(start))?;
        self.inner.write_all(&header)?;
        self.inner.seek(SeekFrom::Start(end))?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Lowers the RIFF size above which [`finish_seekable`](WavWriter::finish_seekable)
    /// writes RF64, so tests need not write 4 GiB.
    #[cfg(test)]
    pub(super) fn with_rf64_threshold(mut self, threshold: u64) -> Self {
        self.rf64_threshold = threshold;
        self
    }
}
