//! The WAV reader: header parsing and data access, without seeking.

use std::io::{self, Read};

use super::{
    Container, WavInfo, GUID_TAIL, TAG_ALAW, TAG_EXTENSIBLE, TAG_FLOAT, TAG_MULAW, TAG_PCM,
};
use crate::audio::{AudioFormat, Encoding};
use crate::error::{Error, Result};

/// The most of a `fmt ` chunk that is read; the rest is skipped.
const FMT_CAP: usize = 1024;
/// The most of a `ds64` chunk that is read (28 fixed bytes and a table of 12-byte
/// entries); the rest is skipped.
const DS64_CAP: usize = 4096;
/// The part of a `bext` chunk that holds the origination date and time: Description
/// (256), Originator (32), OriginatorReference (32), OriginationDate (10),
/// OriginationTime (8).
const BEXT_PREFIX: usize = 338;
/// Offset of OriginationDate in a `bext` chunk.
const BEXT_DATE_AT: usize = 320;

/// The input, counting the bytes consumed so errors can name an offset.
struct Src<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Src<R> {
    /// One `read`, retried on `Interrupted`.
    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.inner.read(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Fills `buf` unless the input ends first; returns the number of bytes read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            let n = self.read_some(&mut buf[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        Ok(got)
    }

    /// Discards up to `n` bytes in bounded pieces; returns how many were discarded
    /// (fewer than `n` only at the end of the input).
    fn skip(&mut self, n: u64) -> Result<u64> {
        let mut scratch = [0u8; 8192];
        let mut done = 0u64;
        while done < n {
            let want = (n - done).min(scratch.len() as u64) as usize;
            let got = self.read_some(&mut scratch[..want])?;
            if got == 0 {
                break;
            }
            done += got as u64;
        }
        Ok(done)
    }
}

/// The header of one chunk, with where its body starts.
struct ChunkHeader {
    id: [u8; 4],
    size32: u32,
    /// Offset of the chunk's first byte (its id).
    at: u64,
}

impl ChunkHeader {
    fn body_at(&self) -> u64 {
        self.at + 8
    }
}

/// The parts of a `ds64` chunk that are used.
struct Ds64 {
    riff_size: u64,
    data_size: u64,
    /// 64-bit sizes of other chunks whose 32-bit size is `0xFFFFFFFF`.
    table: Vec<([u8; 4], u64)>,
}

/// Reads a WAV file from any [`Read`]: the header in [`WavReader::new`], then the
/// sample data with [`WavReader::read_data`]. It never seeks, so it works on pipes.
///
/// The reader does no buffering of its own beyond what a call needs; wrap an
/// unbuffered source such as a file in a [`std::io::BufReader`] if reads are small.
pub struct WavReader<R: Read> {
    src: Src<R>,
    info: WavInfo,
    /// Offset of the first data byte.
    data_at: u64,
    /// Data bytes left when the length is known.
    remaining: Option<u64>,
    /// Data bytes handed out so far.
    data_read: u64,
    /// Bytes per frame.
    block_align: usize,
    /// A streamed data chunk has reached the end of the input.
    at_end: bool,
}

impl<R: Read> std::fmt::Debug for WavReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavReader")
            .field("info", &self.info)
            .field("data_read", &self.data_read)
            .finish_non_exhaustive()
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// A chunk id for messages: printable ASCII as is, anything else escaped.
fn show_id(id: &[u8; 4]) -> String {
    id.iter()
        .map(|&c| {
            if (0x20..0x7F).contains(&c) {
                (c as char).to_string()
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect()
}

/// A name for a format tag that this reader does not read, for error messages.
fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x0000 => "unknown",
        0x0002 => "Microsoft ADPCM",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG",
        0x0055 => "MPEG Layer 3",
        0x0064 => "G.726 ADPCM",
        0x0065 => "G.722 ADPCM",
        0x00FF => "AAC",
        0x0161 => "Windows Media Audio",
        _ => "not supported",
    }
}

fn guid_string(g: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        le32(g, 0),
        le16(g, 4),
        le16(g, 6),
        g[8],
        g[9],
        g[10],
        g[11],
        g[12],
        g[13],
        g[14],
        g[15]
    )
}

/// Parses the first bytes of a `fmt ` chunk (at most [`FMT_CAP`]) found at offset
/// `at`. Returns the format and the format tag.
fn parse_fmt(b: &[u8], at: u64) -> Result<(AudioFormat, u16)> {
    let tag = le16(b, 0);
    let channels = le16(b, 2);
    let rate = le32(b, 4);
    let block_align = le16(b, 12);
    let bits = le16(b, 14);

    let (code_tag, valid_bits, label) = if tag == TAG_EXTENSIBLE {
        if b.len() < 40 {
            return Err(Error::wav_malformed(
                format!(
                    "WAVE_FORMAT_EXTENSIBLE fmt chunk is {} bytes, 40 needed",
                    b.len()
                ),
                at,
            ));
        }
        let cb = le16(b, 16);
        if cb < 22 {
            return Err(Error::wav_malformed(
                format!("WAVE_FORMAT_EXTENSIBLE fmt chunk has cbSize {cb}, 22 needed"),
                at + 16,
            ));
        }
        let guid = &b[24..40];
        if guid[2..] != GUID_TAIL {
            return Err(Error::wav_unsupported(format!(
                "WAVE_FORMAT_EXTENSIBLE sub-format {{{}}}",
                guid_string(guid)
            )));
        }
        (
            le16(guid, 0),
            le16(b, 18),
            "WAVE_FORMAT_EXTENSIBLE sub-format",
        )
    } else {
        (tag, bits, "format tag")
    };

    let encoding = match (code_tag, bits) {
        (TAG_PCM, 8) => Encoding::U8,
        (TAG_PCM, 16) => Encoding::S16,
        (TAG_PCM, 24) => Encoding::S24,
        (TAG_PCM, 32) => Encoding::S32,
        (TAG_FLOAT, 32) => Encoding::F32,
        (TAG_FLOAT, 64) => Encoding::F64,
        (TAG_ALAW, 8) => Encoding::ALaw,
        (TAG_MULAW, 8) => Encoding::MuLaw,
        (TAG_PCM, _) => return Err(Error::wav_unsupported(format!("{bits}-bit integer PCM"))),
        (TAG_FLOAT, _) => return Err(Error::wav_unsupported(format!("{bits}-bit IEEE float"))),
        (TAG_ALAW, _) => return Err(Error::wav_unsupported(format!("{bits}-bit A-law"))),
        (TAG_MULAW, _) => return Err(Error::wav_unsupported(format!("{bits}-bit µ-law"))),
        (t, _) => {
            return Err(Error::wav_unsupported(format!(
                "{label} 0x{t:04X} ({})",
                tag_name(t)
            )))
        }
    };
    // Some writers leave wValidBitsPerSample at 0; read that as "all bits valid".
    if valid_bits != bits && valid_bits != 0 {
        return Err(Error::wav_unsupported(format!(
            "{valid_bits}-bit samples in {bits}-bit containers"
        )));
    }
    if channels == 0 {
        return Err(Error::wav_unsupported("zero channels"));
    }
    if rate == 0 {
        return Err(Error::wav_unsupported("sample rate 0"));
    }
    let format = AudioFormat {
        encoding,
        channels,
        sample_rate: rate,
    };
    if block_align as usize != format.block_align() {
        return Err(Error::wav_unsupported(format!(
            "block align {block_align} inconsistent with {channels} channels of {} bytes",
            encoding.bytes_per_sample()
        )));
    }
    Ok((format, tag))
}

/// The value of a run of ASCII digits, or `None` if any byte is not a digit.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
    })
}

/// Most bytes of a `LIST` chunk read (the rest is skipped).
const LIST_CAP: usize = 64 * 1024;

/// Text of a WAV text field: up to the first NUL, trimmed, if it is non-empty UTF-8
/// of at most 4096 bytes without control characters.
fn wav_text(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let t = std::str::from_utf8(&b[..end]).ok()?.trim();
    (!t.is_empty() && t.len() <= 4096 && !t.chars().any(|c| c.is_control())).then(|| t.to_string())
}

#[cfg(test)]
pub(crate) fn parse_info_list_for_test(body: &[u8]) -> Vec<(String, String)> {
    parse_info_list(body)
}

/// The entries of a `LIST` chunk of type `INFO`: (id, text), at most 32.
fn parse_info_list(body: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if body.len() < 4 || &body[..4] != b"INFO" {
        return out;
    }
    let mut at = 4;
    while at + 8 <= body.len() && out.len() < 32 {
        let id = &body[at..at + 4];
        let len = le32(body, at + 4) as usize;
        let start = at + 8;
        let Some(end) = start.checked_add(len).filter(|&e| e <= body.len()) else {
            break;
        };
        if id.iter().all(|c| c.is_ascii_alphanumeric()) {
            if let Some(t) = wav_text(&body[start..end]) {
                out.push((String::from_utf8_lossy(id).into_owned(), t));
            }
        }
        at = end + (len & 1);
    }
    out
}

fn is_bext_sep(c: u8) -> bool {
    matches!(c, b'-' | b'_' | b':' | b' ' | b'.')
}

/// Normalises a `bext` OriginationDate (`yyyy-mm-dd`) and OriginationTime
/// (`hh:mm:ss`) to `YYYY-MM-DDTHH:MM:SS`, or `None` if either is not well formed.
pub(crate) fn bext_origination(date: &[u8], time: &[u8]) -> Option<String> {
    if date.len() != 10 || time.len() != 8 {
        return None;
    }
    if !(is_bext_sep(date[4])
        && is_bext_sep(date[7])
        && is_bext_sep(time[2])
        && is_bext_sep(time[5]))
    {
        return None;
    }
    let year = digits(&date[..4])?;
    let month = digits(&date[5..7])?;
    let day = digits(&date[8..10])?;
    let hour = digits(&time[..2])?;
    let minute = digits(&time[3..5])?;
    let second = digits(&time[6..8])?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
    ))
}

/// Most chunks after the data chunk looked at by [`tags_after_data`].
const MAX_CHUNKS_AFTER_DATA: usize = 64;

/// Fills in `info` from the `bext` and `LIST`/`INFO` chunks that follow the data chunk
/// (many editors write them there), where the chunks before the data did not give
/// them. `inner` is the same file, seekable; the data chunk of `info.data_len` bytes
/// starts at `data_at` ([`WavReader::data_offset`]). A streamed file (no data length)
/// has nothing after its data. What follows is read as well as it can be: a cut or
/// malformed chunk ends the search (the audio was already read, and is not affected).
/// At most 64 chunks are looked at, and a `LIST` chunk is read up to 64 KiB.
pub fn tags_after_data<R: Read + io::Seek>(
    inner: R,
    data_at: u64,
    info: &mut WavInfo,
) -> Result<()> {
    let Some(len) = info.data_len else {
        return Ok(());
    };
    let Some(after) = data_at
        .checked_add(len)
        .and_then(|e| e.checked_add(len & 1))
    else {
        return Ok(());
    };
    let mut src = Src { inner, pos: after };
    src.inner.seek(io::SeekFrom::Start(after))?;
    for _ in 0..MAX_CHUNKS_AFTER_DATA {
        let at = src.pos;
        let mut b = [0u8; 8];
        if src.read_full(&mut b)? < 8 {
            break;
        }
        let ch = ChunkHeader {
            id: [b[0], b[1], b[2], b[3]],
            size32: le32(&b, 4),
            at,
        };
        let size = ch.size32 as u64;
        let step = match &ch.id {
            b"bext" if info.bext_origination.is_none() && info.bext_text.is_empty() => {
                WavReader::bext_chunk(&mut src, &ch, size).map(|(o, t)| {
                    info.bext_origination = o;
                    info.bext_text = t;
                })
            }
            b"LIST" if info.info_tags.is_empty() => {
                let mut buf = vec![0u8; LIST_CAP];
                WavReader::capped_body(&mut src, &ch, size, &mut buf)
                    .map(|body| info.info_tags = parse_info_list(body))
            }
            _ => WavReader::skip_body(&mut src, &ch, size, 0),
        };
        if step.is_err() || (size % 2 == 1 && src.skip(1)? < 1) {
            break;
        }
    }
    Ok(())
}

impl<R: Read> WavReader<R> {
    /// Parses RIFF/RF64/BW64 headers up to the start of the data chunk (never seeks;
    /// works from a pipe).
    ///
    /// Chunks other than `ds64`, `fmt `, `bext` and `data` are skipped. Errors:
    /// [`WavMalformed`](crate::error::ErrorKind::WavMalformed) for input that is not a
    /// well-formed WAV header (with the offending byte offset),
    /// [`WavUnsupported`](crate::error::ErrorKind::WavUnsupported) for an encoding or
    /// layout this library does not read, and I/O errors.
    pub fn new(inner: R) -> Result<WavReader<R>> {
        let mut src = Src { inner, pos: 0 };
        let mut head = [0u8; 12];
        let n = src.read_full(&mut head)?;
        if n < 4 {
            return Err(Error::wav_malformed(
                format!("input of {n} bytes is too short to be a WAV file"),
                n as u64,
            ));
        }
        let container = match &head[..4] {
            b"RIFF" => Container::Riff,
            b"RF64" => Container::Rf64,
            b"BW64" => Container::Bw64,
            b"RIFX" => return Err(Error::wav_unsupported("big-endian RIFX WAV")),
            m => {
                let mut id = [0u8; 4];
                id.copy_from_slice(m);
                return Err(Error::wav_malformed(
                    format!(
                        "not a WAV file: starts with '{}', not 'RIFF', 'RF64' or 'BW64'",
                        show_id(&id)
                    ),
                    0,
                ));
            }
        };
        if n < 12 {
            return Err(Error::wav_malformed(
                format!("input ends after {n} bytes, inside the RIFF header"),
                n as u64,
            ));
        }
        if &head[8..12] != b"WAVE" {
            let mut id = [0u8; 4];
            id.copy_from_slice(&head[8..12]);
            return Err(Error::wav_malformed(
                format!("RIFF form type is '{}', not 'WAVE'", show_id(&id)),
                8,
            ));
        }
        let riff32 = le32(&head, 4);

        let mut fmt: Option<(AudioFormat, u16)> = None;
        let mut ds64: Option<Ds64> = None;
        let mut bext = None;
        let mut bext_text = Vec::new();
        let mut info_tags = Vec::new();
        let mut first = true;
        loop {
            let ch = Self::chunk_header(&mut src, fmt.is_some())?;
            if container != Container::Riff && first && &ch.id != b"ds64" {
                return Err(Error::wav_malformed(
                    format!(
                        "{} file starts with a '{}' chunk, not 'ds64'",
                        show_id(container.magic()),
                        show_id(&ch.id)
                    ),
                    ch.at,
                ));
            }
            first = false;
            let size = match &ds64 {
                Some(ds) if ch.size32 == u32::MAX && &ch.id != b"data" => ds
                    .table
                    .iter()
                    .find(|(id, _)| *id == ch.id)
                    .map_or(ch.size32 as u64, |&(_, s)| s),
                _ => ch.size32 as u64,
            };
            match &ch.id {
                b"ds64" if container != Container::Riff && ds64.is_none() => {
                    ds64 = Some(Self::ds64_chunk(&mut src, &ch, size)?);
                }
                b"fmt " => {
                    if fmt.is_some() {
                        return Err(Error::wav_malformed("a second fmt chunk", ch.at));
                    }
                    fmt = Some(Self::fmt_chunk(&mut src, &ch, size)?);
                }
                b"bext" => {
                    (bext, bext_text) = Self::bext_chunk(&mut src, &ch, size)?;
                }
                b"LIST" => {
                    let mut buf = vec![0u8; LIST_CAP];
                    let body = Self::capped_body(&mut src, &ch, size, &mut buf)?;
                    if info_tags.is_empty() {
                        info_tags = parse_info_list(body);
                    }
                }
                b"data" => {
                    let Some((format, format_tag)) = fmt else {
                        return Err(Error::wav_malformed(
                            "data chunk before any fmt chunk",
                            ch.at,
                        ));
                    };
                    let data_len = Self::data_len(container, riff32, ds64.as_ref(), &ch);
                    let block_align = format.block_align();
                    if let Some(len) = data_len {
                        if len % block_align as u64 != 0 {
                            return Err(Error::wav_malformed(
                                format!(
                                    "data chunk of {len} bytes ends in a partial frame \
                                     ({block_align} bytes per frame)"
                                ),
                                ch.at + 4,
                            ));
                        }
                    }
                    let info = WavInfo {
                        format,
                        container,
                        data_len,
                        bext_origination: bext,
                        format_tag,
                        bext_text,
                        info_tags,
                    };
                    return Ok(WavReader {
                        data_at: src.pos,
                        src,
                        info,
                        remaining: data_len,
                        data_read: 0,
                        block_align,
                        at_end: false,
                    });
                }
                _ => Self::skip_body(&mut src, &ch, size, 0)?,
            }
            if size % 2 == 1 {
                // The pad byte; if the input ends here the next header read reports it.
                src.skip(1)?;
            }
        }
    }

    /// Reads the next chunk header; the end of the input here means there is no
    /// data chunk.
    fn chunk_header(src: &mut Src<R>, have_fmt: bool) -> Result<ChunkHeader> {
        let at = src.pos;
        let mut b = [0u8; 8];
        let n = src.read_full(&mut b)?;
        if n == 0 {
            let what = if have_fmt {
                "no data chunk"
            } else {
                "no fmt chunk and no data chunk"
            };
            return Err(Error::wav_malformed(
                format!("input ends after {at} bytes with {what}"),
                at,
            ));
        }
        if n < 8 {
            return Err(Error::wav_malformed(
                "input ends inside a chunk header",
                at + n as u64,
            ));
        }
        Ok(ChunkHeader {
            id: [b[0], b[1], b[2], b[3]],
            size32: le32(&b, 4),
            at,
        })
    }

    /// Skips the rest of a chunk body of `size` bytes of which `done` were read.
    fn skip_body(src: &mut Src<R>, ch: &ChunkHeader, size: u64, done: u64) -> Result<()> {
        let want = size - done;
        let got = src.skip(want)?;
        if got < want {
            return Err(Self::chunk_cut(ch, size, done + got));
        }
        Ok(())
    }

    fn chunk_cut(ch: &ChunkHeader, size: u64, got: u64) -> Error {
        Error::wav_malformed(
            format!(
                "'{}' chunk claims {size} bytes but input ends after {got}",
                show_id(&ch.id)
            ),
            ch.body_at() + got,
        )
    }

    /// Reads up to `cap` bytes of a chunk body into `buf`, skips the rest, and returns
    /// the bytes read.
    fn capped_body<'b>(
        src: &mut Src<R>,
        ch: &ChunkHeader,
        size: u64,
        buf: &'b mut [u8],
    ) -> Result<&'b [u8]> {
        let take = size.min(buf.len() as u64) as usize;
        let got = src.read_full(&mut buf[..take])?;
        if got < take {
            return Err(Self::chunk_cut(ch, size, got as u64));
        }
        Self::skip_body(src, ch, size, take as u64)?;
        Ok(&buf[..take])
    }

    fn fmt_chunk(src: &mut Src<R>, ch: &ChunkHeader, size: u64) -> Result<(AudioFormat, u16)> {
        if size < 16 {
            return Err(Error::wav_malformed(
                format!("fmt chunk is {size} bytes, at least 16 needed"),
                ch.at + 4,
            ));
        }
        let mut buf = [0u8; FMT_CAP];
        let body = Self::capped_body(src, ch, size, &mut buf)?;
        parse_fmt(body, ch.body_at())
    }

    fn ds64_chunk(src: &mut Src<R>, ch: &ChunkHeader, size: u64) -> Result<Ds64> {
        if size < 28 {
            return Err(Error::wav_malformed(
                format!("ds64 chunk is {size} bytes, at least 28 needed"),
                ch.at + 4,
            ));
        }
        let mut buf = [0u8; DS64_CAP];
        let body = Self::capped_body(src, ch, size, &mut buf)?;
        let entries = (le32(body, 24) as usize).min((body.len() - 28) / 12);
        let table = (0..entries)
            .map(|i| {
                let e = &body[28 + 12 * i..40 + 12 * i];
                ([e[0], e[1], e[2], e[3]], le64(e, 4))
            })
            .collect();
        Ok(Ds64 {
            riff_size: le64(body, 0),
            data_size: le64(body, 8),
            table,
        })
    }

    #[allow(clippy::type_complexity)]
    fn bext_chunk(
        src: &mut Src<R>,
        ch: &ChunkHeader,
        size: u64,
    ) -> Result<(Option<String>, Vec<(&'static str, String)>)> {
        let mut buf = [0u8; BEXT_PREFIX];
        let body = Self::capped_body(src, ch, size, &mut buf)?;
        if body.len() < BEXT_PREFIX {
            return Ok((None, Vec::new()));
        }
        let text: Vec<(&'static str, String)> = [
            ("description", &body[..256]),
            ("originator", &body[256..288]),
            ("originator_reference", &body[288..320]),
        ]
        .into_iter()
        .filter_map(|(k, b)| wav_text(b).map(|t| (k, t)))
        .collect();
        Ok((
            bext_origination(
                &body[BEXT_DATE_AT..BEXT_DATE_AT + 10],
                &body[BEXT_DATE_AT + 10..BEXT_PREFIX],
            ),
            text,
        ))
    }

    /// The data length, or `None` for a streamed file read to the end of the input.
    fn data_len(
        container: Container,
        riff32: u32,
        ds64: Option<&Ds64>,
        ch: &ChunkHeader,
    ) -> Option<u64> {
        let (riff_unknown, declared) = match (container, ds64) {
            (Container::Riff, _) | (_, None) => {
                if ch.size32 == u32::MAX {
                    return None;
                }
                (riff32 == 0 || riff32 == u32::MAX, ch.size32 as u64)
            }
            (_, Some(ds)) => {
                let declared = if ch.size32 == u32::MAX {
                    if ds.data_size == u64::MAX {
                        return None;
                    }
                    ds.data_size
                } else {
                    ch.size32 as u64
                };
                (ds.riff_size == 0 || ds.riff_size == u64::MAX, declared)
            }
        };
        if declared == 0 && riff_unknown {
            None
        } else {
            Some(declared)
        }
    }

    /// What the header says.
    pub fn info(&self) -> &WavInfo {
        &self.info
    }

    /// Reads data bytes into `buf`; `Ok(0)` at the end of the data (or when `buf` is
    /// empty).
    ///
    /// When `buf` holds at least one frame, the count returned is always a whole
    /// number of frames (the reader waits for the rest of a frame a short read cut).
    /// A data chunk that ends in a partial frame, or that claims more bytes than the
    /// input holds, is [`WavMalformed`](crate::error::ErrorKind::WavMalformed); in a
    /// streamed file, a single byte after an odd number of data bytes is taken as
    /// the chunk's pad byte and dropped (when `buf` holds a frame).
    /// With a known data length nothing after the data chunk is read.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.at_end || buf.is_empty() {
            return Ok(0);
        }
        let ba = self.block_align;
        let mut want = buf.len();
        if let Some(rem) = self.remaining {
            if rem == 0 {
                return Ok(0);
            }
            want = rem.min(want as u64) as usize;
        }
        if want >= ba {
            want -= want % ba;
        }
        let mut got = 0usize;
        while got < want {
            let n = self.src.read_some(&mut buf[got..want])?;
            if n == 0 {
                let total = self.data_read + got as u64;
                if let Some(len) = self.info.data_len {
                    return Err(Error::wav_malformed(
                        format!("data chunk claims {len} bytes but input ends after {total}"),
                        self.src.pos,
                    ));
                }
                let partial = (total % ba as u64) as usize;
                if partial == 1 && total.is_multiple_of(2) && got >= 1 {
                    // The pad byte after an odd-length data chunk whose size field was
                    // left unknown: not data.
                    got -= 1;
                } else if partial != 0 {
                    return Err(Error::wav_malformed(
                        format!(
                            "data ends in a partial frame: {total} bytes is not a multiple \
                             of {ba} bytes per frame"
                        ),
                        self.src.pos,
                    ));
                }
                self.at_end = true;
                break;
            }
            got += n;
            if (self.data_read + got as u64).is_multiple_of(ba as u64) {
                break;
            }
        }
        self.data_read += got as u64;
        if let Some(rem) = &mut self.remaining {
            *rem -= got as u64;
        }
        Ok(got)
    }

    /// Data bytes returned by [`read_data`](WavReader::read_data) so far.
    pub fn data_read(&self) -> u64 {
        self.data_read
    }

    /// Byte offset of the first data byte in the input.
    pub fn data_offset(&self) -> u64 {
        self.data_at
    }

    /// Returns the underlying reader, positioned wherever reading stopped.
    pub fn into_inner(self) -> R {
        self.src.inner
    }
}
