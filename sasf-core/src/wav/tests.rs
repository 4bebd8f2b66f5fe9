//! Tests of the WAV bridge: writer→reader round trips, hand-built fixtures of the
//! layouts found in the wild, refusals, hostile input and hound interoperability.

use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};

use super::read::bext_origination;
use super::*;
use crate::audio::{AudioFormat, Encoding};
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Hands out at most `step` bytes per `read`, and an `Interrupted` error before
/// every other read, like a slow pipe.
struct Trickle<R> {
    inner: R,
    step: usize,
    interrupt: bool,
    flip: bool,
}

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.interrupt {
            self.flip = !self.flip;
            if self.flip {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "again"));
            }
        }
        let n = buf.len().min(self.step);
        self.inner.read(&mut buf[..n])
    }
}

fn le16(v: u16) -> [u8; 2] {
    v.to_le_bytes()
}
fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}
fn le64(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

/// A chunk: id, size, body and the pad byte of an odd body.
fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    c.extend_from_slice(id);
    c.extend_from_slice(&le32(body.len() as u32));
    c.extend_from_slice(body);
    if body.len() % 2 == 1 {
        c.push(0);
    }
    c
}

/// A chunk header with an explicit size field (the body follows separately).
fn chunk_header(id: &[u8; 4], size: u32) -> Vec<u8> {
    let mut c = id.to_vec();
    c.extend_from_slice(&le32(size));
    c
}

/// `magic size WAVE` followed by the chunks.
fn riff_with(magic: &[u8; 4], size: u32, chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut f = magic.to_vec();
    f.extend_from_slice(&le32(size));
    f.extend_from_slice(b"WAVE");
    for c in chunks {
        f.extend_from_slice(c);
    }
    f
}

/// A RIFF file with a correct RIFF size.
fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let len: usize = chunks.iter().map(Vec::len).sum();
    riff_with(b"RIFF", 4 + len as u32, chunks)
}

/// A 16-byte `fmt ` body.
fn fmt16(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let ba = channels * bits.div_ceil(8);
    let mut b = Vec::new();
    b.extend_from_slice(&le16(tag));
    b.extend_from_slice(&le16(channels));
    b.extend_from_slice(&le32(rate));
    b.extend_from_slice(&le32(rate * ba as u32));
    b.extend_from_slice(&le16(ba));
    b.extend_from_slice(&le16(bits));
    b
}

/// An 18-byte `fmt ` body (cbSize 0).
fn fmt18(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let mut b = fmt16(tag, channels, rate, bits);
    b.extend_from_slice(&le16(0));
    b
}

/// A 40-byte WAVE_FORMAT_EXTENSIBLE `fmt ` body with a `tag`-derived sub-format.
fn fmt_ext(sub: u16, channels: u16, rate: u32, bits: u16, valid: u16) -> Vec<u8> {
    fmt_ext_guid(guid_for_tag(sub), channels, rate, bits, valid)
}

fn fmt_ext_guid(guid: [u8; 16], channels: u16, rate: u32, bits: u16, valid: u16) -> Vec<u8> {
    let mut b = fmt16(0xFFFE, channels, rate, bits);
    b.extend_from_slice(&le16(22));
    b.extend_from_slice(&le16(valid));
    b.extend_from_slice(&le32(0));
    b.extend_from_slice(&guid);
    b
}

/// Deterministic test bytes.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 37 + i / 7 + 11) as u8).collect()
}

/// Reads a whole file through `Trickle` with the given step and buffer size.
fn read_with(bytes: &[u8], step: usize, buf_len: usize) -> Result<(WavInfo, Vec<u8>)> {
    let src = Trickle {
        inner: Cursor::new(bytes.to_vec()),
        step,
        interrupt: step < 4,
        flip: false,
    };
    let mut r = WavReader::new(src)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; buf_len];
    loop {
        let n = r.read_data(&mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    // Once at the end, it stays there.
    assert_eq!(r.read_data(&mut buf)?, 0);
    Ok((r.info().clone(), out))
}

/// Reads a whole file in two very different ways and checks they agree.
fn read_all(bytes: &[u8]) -> Result<(WavInfo, Vec<u8>)> {
    let a = read_with(bytes, usize::MAX, 65536);
    let b = read_with(bytes, 3, 5);
    match (&a, &b) {
        (Ok(x), Ok(y)) => assert_eq!(x, y),
        (Err(x), Err(y)) => assert_eq!(x.to_string(), y.to_string()),
        _ => panic!("readers disagree: {a:?} vs {b:?}"),
    }
    a
}

fn expect_err(bytes: &[u8], class: &str) -> String {
    match read_all(bytes) {
        Ok((info, _)) => panic!("expected {class}, read {info:?}"),
        Err(e) => {
            assert_eq!(e.class(), class, "{e}");
            e.to_string()
        }
    }
}

fn fmt_of(e: Encoding, channels: u16, rate: u32) -> AudioFormat {
    AudioFormat::new(e, channels, rate).unwrap()
}

fn write_streaming(format: AudioFormat, data: &[u8]) -> Vec<u8> {
    let mut w = WavWriter::new_streaming(Vec::new(), format).unwrap();
    // Split the data unevenly to show frames may be split across calls.
    let (a, b) = data.split_at(data.len() / 3);
    w.write_data(a).unwrap();
    w.write_data(b).unwrap();
    w.finish().unwrap()
}

fn write_seekable(format: AudioFormat, data: &[u8]) -> Vec<u8> {
    let mut w = WavWriter::new_seekable(Cursor::new(Vec::new()), format).unwrap();
    w.write_data(data).unwrap();
    w.finish_seekable().unwrap().into_inner()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The offset of the first chunk with this id (walking the chunk list).
fn find_chunk(file: &[u8], id: &[u8; 4]) -> Option<usize> {
    let mut at = 12;
    while at + 8 <= file.len() {
        if &file[at..at + 4] == id {
            return Some(at);
        }
        let size = u32_at(file, at + 4) as usize;
        at += 8 + size + size % 2;
    }
    None
}

// ---------------------------------------------------------------------------
// Writer → reader round trips
// ---------------------------------------------------------------------------

#[test]
fn round_trip_every_encoding_channel_count_and_length() {
    for enc in Encoding::ALL {
        for channels in [1u16, 2, 3] {
            let format = fmt_of(enc, channels, 8000);
            // 0 frames, 1 frame, 7 frames (an odd byte count for 1-byte encodings).
            for frames in [0usize, 1, 7] {
                let data = pattern(frames * format.block_align());
                let expect_tag = if channels > 2 || matches!(enc, Encoding::S24 | Encoding::S32) {
                    0xFFFE
                } else {
                    tag_for_encoding(enc)
                };
                for seekable in [false, true] {
                    let file = if seekable {
                        write_seekable(format, &data)
                    } else {
                        write_streaming(format, &data)
                    };
                    let ctx = format!("{enc:?} x{channels} {frames} frames seekable={seekable}");
                    let (info, got) = read_all(&file).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                    assert_eq!(info.format, format, "{ctx}");
                    assert_eq!(info.container, Container::Riff, "{ctx}");
                    assert_eq!(info.format_tag, expect_tag, "{ctx}");
                    assert_eq!(info.bext_origination, None, "{ctx}");
                    assert_eq!(got, data, "{ctx}");
                    if seekable {
                        assert_eq!(file.len() % 2, 0, "{ctx}: odd data is padded");
                        assert_eq!(info.data_len, Some(data.len() as u64), "{ctx}");
                        assert_eq!(u32_at(&file, 4) as usize, file.len() - 8, "{ctx}");
                        assert_eq!(&file[12..16], b"JUNK", "{ctx}");
                    } else {
                        // No pad byte: it would read back as a sample.
                        assert_eq!(file.len() % 2, data.len() % 2, "{ctx}");
                        assert_eq!(info.data_len, None, "{ctx}");
                        assert_eq!(u32_at(&file, 4), u32::MAX, "{ctx}");
                    }
                }
            }
        }
    }
}

#[test]
fn writer_header_layouts() {
    // 16-bit stereo: PCM tag 1, 16-byte fmt, no fact.
    let f = write_seekable(fmt_of(Encoding::S16, 2, 8000), &pattern(8));
    assert_eq!(&f[..4], b"RIFF");
    assert_eq!(&f[8..16], b"WAVEJUNK");
    assert_eq!(u32_at(&f, 16), 28);
    let fmt = find_chunk(&f, b"fmt ").unwrap();
    assert_eq!(fmt, 48);
    assert_eq!(u32_at(&f, fmt + 4), 16);
    assert_eq!(&f[fmt + 8..fmt + 24], &fmt16(1, 2, 8000, 16)[..]);
    assert_eq!(find_chunk(&f, b"fact"), None);
    let data = find_chunk(&f, b"data").unwrap();
    assert_eq!(data, 72);
    assert_eq!(u32_at(&f, data + 4), 8);
    assert_eq!(f.len(), 88);

    // µ-law stereo, odd frame count: tag 7, 18-byte fmt, fact with the frame count.
    let f = write_seekable(fmt_of(Encoding::MuLaw, 1, 8000), &pattern(5));
    let fmt = find_chunk(&f, b"fmt ").unwrap();
    assert_eq!(u32_at(&f, fmt + 4), 18);
    assert_eq!(&f[fmt + 8..fmt + 26], &fmt18(7, 1, 8000, 8)[..]);
    let fact = find_chunk(&f, b"fact").unwrap();
    assert_eq!(u32_at(&f, fact + 4), 4);
    assert_eq!(u32_at(&f, fact + 8), 5);
    assert_eq!(*f.last().unwrap(), 0, "pad byte");
    // Streaming: the fact count is unknown.
    let f = write_streaming(fmt_of(Encoding::ALaw, 2, 8000), &pattern(4));
    let fmt = find_chunk(&f, b"fmt ").unwrap();
    assert_eq!(&f[fmt + 8..fmt + 26], &fmt18(6, 2, 8000, 8)[..]);
    let fact = find_chunk(&f, b"fact").unwrap();
    assert_eq!(u32_at(&f, fact + 8), u32::MAX);
    assert_eq!(&f[12..16], b"fmt ", "no JUNK reserve when streaming");

    // Float: tag 3, 18 bytes, fact.
    let f = write_seekable(fmt_of(Encoding::F64, 2, 48000), &pattern(32));
    let fmt = find_chunk(&f, b"fmt ").unwrap();
    assert_eq!(&f[fmt + 8..fmt + 26], &fmt18(3, 2, 48000, 64)[..]);
    assert_eq!(u32_at(&f, find_chunk(&f, b"fact").unwrap() + 8), 2);

    // 24-bit mono: extensible, front-centre mask, PCM GUID.
    let f = write_seekable(fmt_of(Encoding::S24, 1, 44100), &pattern(6));
    let fmt = find_chunk(&f, b"fmt ").unwrap();
    assert_eq!(u32_at(&f, fmt + 4), 40);
    let mut want = fmt_ext(1, 1, 44100, 24, 24);
    want[20..24].copy_from_slice(&le32(4));
    assert_eq!(&f[fmt + 8..fmt + 48], &want[..]);
    assert_eq!(find_chunk(&f, b"fact"), None);

    // 32-bit stereo: mask 3.
    let f = write_seekable(fmt_of(Encoding::S32, 2, 8000), &pattern(8));
    let fmt = find_chunk(&f, b"fmt ").unwrap();
    assert_eq!(u32_at(&f, fmt + 8 + 20), 3);

    // u8 with 3 channels: extensible, mask 0. µ-law with 6: extensible µ-law + fact.
    let f = write_seekable(fmt_of(Encoding::U8, 3, 8000), &pattern(3));
    let fmt = find_chunk(&f, b"fmt ").unwrap();
    assert_eq!(&f[fmt + 8..fmt + 48], &fmt_ext(1, 3, 8000, 8, 8)[..]);
    let f = write_seekable(fmt_of(Encoding::MuLaw, 6, 8000), &pattern(12));
    let fmt = find_chunk(&f, b"fmt ").unwrap();
    assert_eq!(&f[fmt + 8..fmt + 48], &fmt_ext(7, 6, 8000, 8, 8)[..]);
    assert_eq!(u32_at(&f, find_chunk(&f, b"fact").unwrap() + 8), 2);
}

#[test]
fn rf64_rewrite_when_riff_size_exceeds_the_threshold() {
    for (enc, fact) in [(Encoding::S16, false), (Encoding::MuLaw, true)] {
        let format = fmt_of(enc, 1, 8000);
        let data = pattern(201 * format.block_align());
        let mut w = WavWriter::new_seekable(Cursor::new(Vec::new()), format)
            .unwrap()
            .with_rf64_threshold(100);
        w.write_data(&data).unwrap();
        let f = w.finish_seekable().unwrap().into_inner();
        assert_eq!(&f[..4], b"RF64");
        assert_eq!(u32_at(&f, 4), u32::MAX);
        assert_eq!(&f[8..16], b"WAVEds64");
        assert_eq!(u32_at(&f, 16), 28);
        assert_eq!(u64_at(&f, 20), f.len() as u64 - 8, "ds64 RIFF size");
        assert_eq!(u64_at(&f, 28), data.len() as u64, "ds64 data size");
        assert_eq!(u64_at(&f, 36), 201, "ds64 sample count");
        assert_eq!(u32_at(&f, 44), 0, "ds64 table length");
        let d = find_chunk(&f, b"data").unwrap();
        assert_eq!(u32_at(&f, d + 4), u32::MAX);
        if fact {
            assert_eq!(u32_at(&f, find_chunk(&f, b"fact").unwrap() + 8), u32::MAX);
        }
        assert_eq!(f.len() % 2, 0);
        let (info, got) = read_all(&f).unwrap();
        assert_eq!(info.container, Container::Rf64);
        assert_eq!(info.data_len, Some(data.len() as u64));
        assert_eq!(got, data);
    }
    // Exactly at the threshold it stays RIFF.
    let format = fmt_of(Encoding::S16, 1, 8000);
    let w = WavWriter::new_seekable(Cursor::new(Vec::new()), format).unwrap();
    let header_riff = w.riff_size();
    let mut w = w.with_rf64_threshold(header_riff + 10);
    w.write_data(&pattern(10)).unwrap();
    let f = w.finish_seekable().unwrap().into_inner();
    assert_eq!(&f[..4], b"RIFF");
    assert_eq!(&f[12..16], b"JUNK");
    assert_eq!(u32_at(&f, 4) as u64, header_riff + 10);
}

#[test]
fn seekable_writer_at_a_non_zero_position_and_unfinished_header() {
    let format = fmt_of(Encoding::S16, 2, 16000);
    let data = pattern(40);
    let mut cur = Cursor::new(Vec::new());
    cur.write_all(b"0123456789").unwrap();
    let mut w = WavWriter::new_seekable(cur, format).unwrap();
    w.write_data(&data).unwrap();
    let mut cur = w.finish_seekable().unwrap();
    assert_eq!(
        cur.position(),
        cur.get_ref().len() as u64,
        "left at the end"
    );
    cur.seek(SeekFrom::Start(10)).unwrap();
    let mut r = WavReader::new(cur).unwrap();
    assert_eq!(r.info().data_len, Some(40));
    let mut buf = [0u8; 100];
    assert_eq!(r.read_data(&mut buf).unwrap(), 40);
    assert_eq!(&buf[..40], &data[..]);
    assert_eq!(&r.into_inner().into_inner()[..10], b"0123456789");

    // A seekable writer finished with finish() leaves a streamed header.
    let mut w = WavWriter::new_seekable(Cursor::new(Vec::new()), format).unwrap();
    w.write_data(&data).unwrap();
    let f = w.finish().unwrap().into_inner();
    let (info, got) = read_all(&f).unwrap();
    assert_eq!(info.data_len, None);
    assert_eq!(got, data);

    // A streaming writer over a seekable sink can still be patched.
    let mut w = WavWriter::new_streaming(Cursor::new(Vec::new()), format).unwrap();
    w.write_data(&data).unwrap();
    let f = w.finish_seekable().unwrap().into_inner();
    assert_eq!(u32_at(&f, 4) as usize, f.len() - 8);
    let (info, got) = read_all(&f).unwrap();
    assert_eq!(info.data_len, Some(40));
    assert_eq!(got, data);
    // ... but not turned into RF64, for lack of room.
    let mut w = WavWriter::new_streaming(Cursor::new(Vec::new()), format)
        .unwrap()
        .with_rf64_threshold(10);
    w.write_data(&data).unwrap();
    assert_eq!(w.finish_seekable().unwrap_err().class(), "misuse");
}

#[test]
fn writer_refuses_partial_frames_and_impossible_formats() {
    let mut w = WavWriter::new_streaming(Vec::new(), fmt_of(Encoding::S16, 2, 8000)).unwrap();
    w.write_data(&[1, 2, 3]).unwrap();
    assert_eq!(w.data_len(), 3);
    assert_eq!(w.finish().unwrap_err().class(), "misuse");
    let bad = AudioFormat {
        encoding: Encoding::S16,
        channels: 0,
        sample_rate: 8000,
    };
    assert_eq!(
        WavWriter::new_streaming(Vec::new(), bad)
            .unwrap_err()
            .class(),
        "misuse"
    );
    let wide = AudioFormat {
        encoding: Encoding::F64,
        channels: 9000,
        sample_rate: 8000,
    };
    assert_eq!(
        WavWriter::new_streaming(Vec::new(), wide)
            .unwrap_err()
            .class(),
        "wav-unsupported"
    );
    let fast = fmt_of(Encoding::F64, 2, u32::MAX);
    assert_eq!(
        WavWriter::new_streaming(Vec::new(), fast)
            .unwrap_err()
            .class(),
        "wav-unsupported"
    );
}

// ---------------------------------------------------------------------------
// hound interoperability
// ---------------------------------------------------------------------------

#[test]
fn hound_reads_what_we_write() {
    for channels in [1u16, 2, 3] {
        let frames = 9usize;
        let n = frames * channels as usize;
        // (encoding, hound bits, float?)
        let s16: Vec<i16> = (0..n).map(|i| (i as i32 * 997 - 12000) as i16).collect();
        let f = write_seekable(
            fmt_of(Encoding::S16, channels, 8000),
            &s16.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<_>>(),
        );
        let mut r = hound::WavReader::new(Cursor::new(f)).unwrap();
        assert_eq!(r.spec().channels, channels);
        let got: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(got, s16);

        let s24: Vec<i32> = (0..n).map(|i| i as i32 * 300_001 - 4_000_000).collect();
        let f = write_seekable(
            fmt_of(Encoding::S24, channels, 8000),
            &s24.iter()
                .flat_map(|s| s.to_le_bytes()[..3].to_vec())
                .collect::<Vec<_>>(),
        );
        let mut r = hound::WavReader::new(Cursor::new(f)).unwrap();
        assert_eq!(r.spec().bits_per_sample, 24);
        let got: Vec<i32> = r.samples::<i32>().map(|s| s.unwrap()).collect();
        assert_eq!(got, s24);

        let f32s: Vec<f32> = (0..n).map(|i| i as f32 * 0.1 - 0.5).collect();
        let f = write_seekable(
            fmt_of(Encoding::F32, channels, 8000),
            &f32s
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect::<Vec<_>>(),
        );
        let mut r = hound::WavReader::new(Cursor::new(f)).unwrap();
        assert_eq!(r.spec().sample_format, hound::SampleFormat::Float);
        let got: Vec<f32> = r.samples::<f32>().map(|s| s.unwrap()).collect();
        assert_eq!(got, f32s);

        let u8s: Vec<u8> = pattern(n);
        let f = write_seekable(fmt_of(Encoding::U8, channels, 8000), &u8s);
        let mut r = hound::WavReader::new(Cursor::new(f)).unwrap();
        let got: Vec<i8> = r.samples::<i8>().map(|s| s.unwrap()).collect();
        let want: Vec<i8> = u8s.iter().map(|&b| (b as i16 - 128) as i8).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn hound_written_files_read_back_identically() {
    fn hound_file<F: FnOnce(&mut hound::WavWriter<&mut Cursor<Vec<u8>>>)>(
        spec: hound::WavSpec,
        f: F,
    ) -> Vec<u8> {
        let mut cur = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
        f(&mut w);
        w.finalize().unwrap();
        cur.into_inner()
    }
    let spec = |channels, bits, fmt| hound::WavSpec {
        channels,
        sample_rate: 8000,
        bits_per_sample: bits,
        sample_format: fmt,
    };
    let int = hound::SampleFormat::Int;

    // 16-bit stereo (plain PCM fmt).
    let s: Vec<i16> = (0..40).map(|i| i * 811 - 16000).collect();
    let f = hound_file(spec(2, 16, int), |w| {
        s.iter().for_each(|&x| w.write_sample(x).unwrap())
    });
    let (info, data) = read_all(&f).unwrap();
    assert_eq!(info.format, fmt_of(Encoding::S16, 2, 8000));
    assert_eq!(info.data_len, Some(80));
    assert_eq!(
        data,
        s.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>()
    );

    // 24-bit mono (hound writes WAVE_FORMAT_EXTENSIBLE).
    let s: Vec<i32> = (0..11).map(|i| i * 700_001 - 4_000_000).collect();
    let f = hound_file(spec(1, 24, int), |w| {
        s.iter().for_each(|&x| w.write_sample(x).unwrap())
    });
    let (info, data) = read_all(&f).unwrap();
    assert_eq!(info.format, fmt_of(Encoding::S24, 1, 8000));
    let want: Vec<u8> = s
        .iter()
        .flat_map(|x| x.to_le_bytes()[..3].to_vec())
        .collect();
    assert_eq!(data, want);

    // 32-bit float, 3 channels.
    let s: Vec<f32> = (0..30).map(|i| i as f32 / 64.0 - 0.25).collect();
    let f = hound_file(spec(3, 32, hound::SampleFormat::Float), |w| {
        s.iter().for_each(|&x| w.write_sample(x).unwrap())
    });
    let (info, data) = read_all(&f).unwrap();
    assert_eq!(info.format, fmt_of(Encoding::F32, 3, 8000));
    assert_eq!(
        data,
        s.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<_>>()
    );

    // 8-bit mono, odd length (hound pads the data chunk).
    let s: Vec<i8> = (0..7i16).map(|i| (i * 30 - 100) as i8).collect();
    let f = hound_file(spec(1, 8, int), |w| {
        s.iter().for_each(|&x| w.write_sample(x).unwrap())
    });
    let (info, data) = read_all(&f).unwrap();
    assert_eq!(info.format, fmt_of(Encoding::U8, 1, 8000));
    assert_eq!(
        data,
        s.iter()
            .map(|&x| (x as i16 + 128) as u8)
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------
// Hand-built fixtures
// ---------------------------------------------------------------------------

#[test]
fn fmt_chunks_of_16_18_40_and_more_bytes() {
    let data = pattern(12);
    for body in [
        fmt16(1, 2, 8000, 16),
        fmt18(1, 2, 8000, 16),
        fmt_ext(1, 2, 8000, 16, 16),
        {
            // 50 bytes: cbSize 34 with trailing vendor bytes.
            let mut b = fmt16(1, 2, 8000, 16);
            b.extend_from_slice(&le16(32));
            b.extend_from_slice(&[0xAB; 32]);
            b
        },
    ] {
        let file = riff(&[chunk(b"fmt ", &body), chunk(b"data", &data)]);
        let (info, got) = read_all(&file).unwrap();
        assert_eq!(info.format, fmt_of(Encoding::S16, 2, 8000));
        assert_eq!(info.data_len, Some(12));
        assert_eq!(got, data);
    }
    // A large odd-sized fmt (over the 1 KiB cap) is read in part and skipped.
    let mut big = fmt18(7, 1, 8000, 8);
    big.extend_from_slice(&vec![0x5A; 3001]);
    let file = riff(&[chunk(b"fmt ", &big), chunk(b"data", &data)]);
    let (info, got) = read_all(&file).unwrap();
    assert_eq!(info.format, fmt_of(Encoding::MuLaw, 1, 8000));
    assert_eq!(info.format_tag, 7);
    assert_eq!(got, data);
}

#[test]
fn plain_format_tags_for_every_encoding() {
    // Many writers use plain tags (and a 16-byte fmt) even where the specification
    // asks for WAVE_FORMAT_EXTENSIBLE or an 18-byte fmt.
    let cases = [
        (1u16, 8u16, Encoding::U8),
        (1, 16, Encoding::S16),
        (1, 24, Encoding::S24),
        (1, 32, Encoding::S32),
        (3, 32, Encoding::F32),
        (3, 64, Encoding::F64),
        (6, 8, Encoding::ALaw),
        (7, 8, Encoding::MuLaw),
    ];
    for (tag, bits, enc) in cases {
        for channels in [1u16, 2, 6] {
            let format = fmt_of(enc, channels, 22050);
            let data = pattern(3 * format.block_align());
            let file = riff(&[
                chunk(b"fmt ", &fmt16(tag, channels, 22050, bits)),
                chunk(b"data", &data),
            ]);
            let (info, got) = read_all(&file).unwrap();
            assert_eq!(info.format, format);
            assert_eq!(info.format_tag, tag);
            assert_eq!(got, data);
        }
    }
}

/// A 602-byte `bext` body with the given date and time fields.
fn bext_body(date: &[u8; 10], time: &[u8; 8]) -> Vec<u8> {
    let mut b = vec![0u8; 602];
    b[..11].copy_from_slice(b"Sample call");
    b[320..330].copy_from_slice(date);
    b[330..338].copy_from_slice(time);
    b
}

#[test]
fn chunks_before_fmt_fact_and_list_after_data() {
    let data = pattern(10);
    let list = chunk(b"LIST", b"INFOINAM\x05\x00\x00\x00call\x00");
    let file = riff(&[
        chunk(b"JUNK", &[0; 28]),
        chunk(b"bext", &bext_body(b"2026-11-23", b"10:15:00")),
        list.clone(),
        chunk(b"fmt ", &fmt18(6, 2, 8000, 8)),
        chunk(b"fact", &le32(5)),
        chunk(b"data", &data),
        list,
    ]);
    let (info, got) = read_all(&file).unwrap();
    assert_eq!(info.format, fmt_of(Encoding::ALaw, 2, 8000));
    assert_eq!(info.format_tag, 6);
    assert_eq!(
        info.bext_origination.as_deref(),
        Some("2026-11-23T10:15:00")
    );
    assert_eq!(got, data);

    // With a known length nothing after the data chunk is read.
    let mut r = WavReader::new(Cursor::new(file.clone())).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(r.read_data(&mut buf).unwrap(), 10);
    assert_eq!(r.read_data(&mut buf).unwrap(), 0);
    assert_eq!(r.data_read(), 10);
    let end = r.data_offset() + 10;
    assert_eq!(r.into_inner().position(), end);
}

#[test]
fn odd_sized_chunks_are_followed_by_a_pad_byte() {
    let data = pattern(3);
    let file = riff(&[
        chunk(b"abc ", &[1, 2, 3]),
        chunk(b"fmt ", &fmt16(7, 1, 8000, 8)),
        chunk(b"odd!", &[9]),
        chunk(b"data", &data),
    ]);
    assert_eq!(file.len(), 12 + 12 + 24 + 10 + 12);
    let (info, got) = read_all(&file).unwrap();
    assert_eq!(info.format, fmt_of(Encoding::MuLaw, 1, 8000));
    assert_eq!(info.data_len, Some(3));
    assert_eq!(got, data);
}

fn ds64(riff: u64, data: u64, samples: u64, table: &[(&[u8; 4], u64)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&le64(riff));
    b.extend_from_slice(&le64(data));
    b.extend_from_slice(&le64(samples));
    b.extend_from_slice(&le32(table.len() as u32));
    for (id, size) in table {
        b.extend_from_slice(*id);
        b.extend_from_slice(&le64(*size));
    }
    b
}

#[test]
fn rf64_and_bw64_with_ds64() {
    let data = pattern(24);
    for (magic, container) in [(b"RF64", Container::Rf64), (b"BW64", Container::Bw64)] {
        let chunks = vec![
            chunk(b"ds64", &ds64(1000, 24, 6, &[])),
            chunk(b"fmt ", &fmt16(1, 2, 48000, 16)),
            chunk_header(b"data", u32::MAX),
            data.clone(),
        ];
        let file = riff_with(magic, u32::MAX, &chunks);
        let (info, got) = read_all(&file).unwrap();
        assert_eq!(info.container, container);
        assert_eq!(info.format, fmt_of(Encoding::S16, 2, 48000));
        assert_eq!(info.data_len, Some(24));
        assert_eq!(got, data);

        // A 32-bit data size other than 0xFFFFFFFF is used as is.
        let chunks = vec![
            chunk(b"ds64", &ds64(1000, 9999, 6, &[])),
            chunk(b"fmt ", &fmt16(1, 2, 48000, 16)),
            chunk(b"data", &data),
        ];
        let (info, _) = read_all(&riff_with(magic, u32::MAX, &chunks)).unwrap();
        assert_eq!(info.data_len, Some(24));
    }
    // The ds64 table gives the size of another chunk whose 32-bit size is 0xFFFFFFFF.
    let mut big = chunk_header(b"axml", u32::MAX);
    big.extend_from_slice(b"<a/>x\0");
    let chunks = vec![
        chunk(b"ds64", &ds64(1000, 24, 6, &[(b"axml", 5)])),
        chunk(b"fmt ", &fmt16(1, 2, 48000, 16)),
        big,
        chunk_header(b"data", u32::MAX),
        data.clone(),
    ];
    let (info, got) = read_all(&riff_with(b"BW64", u32::MAX, &chunks)).unwrap();
    assert_eq!(info.container, Container::Bw64);
    assert_eq!(got, data);
    // A huge table length is bounded by the chunk.
    let mut d = ds64(1000, 24, 6, &[]);
    d[24..28].copy_from_slice(&le32(u32::MAX));
    let chunks = vec![
        chunk(b"ds64", &d),
        chunk(b"fmt ", &fmt16(1, 2, 48000, 16)),
        chunk_header(b"data", u32::MAX),
        data.clone(),
    ];
    assert_eq!(
        read_all(&riff_with(b"RF64", u32::MAX, &chunks)).unwrap().1,
        data
    );

    // RF64 must start with ds64; a ds64 of under 28 bytes is broken.
    let chunks = vec![
        chunk(b"fmt ", &fmt16(1, 2, 48000, 16)),
        chunk(b"data", &data),
    ];
    let msg = expect_err(&riff_with(b"RF64", u32::MAX, &chunks), "wav-malformed");
    assert!(msg.contains("not 'ds64'"), "{msg}");
    let chunks = vec![chunk(b"ds64", &[0; 20]), chunk(b"data", &data)];
    expect_err(&riff_with(b"RF64", u32::MAX, &chunks), "wav-malformed");
}

#[test]
fn streamed_files_are_read_to_the_end() {
    let data = pattern(20);
    let fmt = chunk(b"fmt ", &fmt16(1, 1, 8000, 16));
    for (riff_size, data_size) in [
        (u32::MAX, u32::MAX),
        (0, 0),
        (u32::MAX, 0),
        (0, u32::MAX),
        (36, u32::MAX),
    ] {
        let file = riff_with(
            b"RIFF",
            riff_size,
            &[fmt.clone(), chunk_header(b"data", data_size), data.clone()],
        );
        let (info, got) = read_all(&file).unwrap();
        assert_eq!(info.data_len, None, "{riff_size:#x}/{data_size:#x}");
        assert_eq!(got, data);
    }
    // A streamed file with no data at all.
    let file = riff_with(
        b"RIFF",
        u32::MAX,
        &[fmt.clone(), chunk_header(b"data", u32::MAX)],
    );
    assert_eq!(read_all(&file).unwrap().1, Vec::<u8>::new());
    // A data size of 0 with a real RIFF size is an empty chunk (what follows is
    // another chunk, not data).
    let file = riff(&[fmt.clone(), chunk(b"data", &[]), chunk(b"LIST", b"INFO")]);
    let (info, got) = read_all(&file).unwrap();
    assert_eq!(info.data_len, Some(0));
    assert!(got.is_empty());
    // RF64 streamed: unknown ds64 sizes.
    for (r, d) in [
        (0u64, 0u64),
        (u64::MAX, u64::MAX),
        (0, u64::MAX),
        (5000, u64::MAX),
    ] {
        let chunks = vec![
            chunk(b"ds64", &ds64(r, d, 0, &[])),
            fmt.clone(),
            chunk_header(b"data", u32::MAX),
            data.clone(),
        ];
        let (info, got) = read_all(&riff_with(b"RF64", u32::MAX, &chunks)).unwrap();
        assert_eq!(info.data_len, None, "{r:#x}/{d:#x}");
        assert_eq!(got, data);
    }
    // A streamed file ending in a partial frame.
    let file = riff_with(
        b"RIFF",
        u32::MAX,
        &[fmt, chunk_header(b"data", u32::MAX), pattern(21)],
    );
    let msg = expect_err(&file, "wav-malformed");
    assert!(msg.contains("partial frame"), "{msg}");
}

#[test]
fn extensible_with_each_sub_format() {
    let cases = [
        (1u16, 8u16, Encoding::U8),
        (1, 16, Encoding::S16),
        (1, 24, Encoding::S24),
        (1, 32, Encoding::S32),
        (3, 32, Encoding::F32),
        (3, 64, Encoding::F64),
        (6, 8, Encoding::ALaw),
        (7, 8, Encoding::MuLaw),
    ];
    for (sub, bits, enc) in cases {
        for channels in [1u16, 2, 6, 32] {
            for valid in [bits, 0] {
                let format = fmt_of(enc, channels, 16000);
                let data = pattern(2 * format.block_align());
                let mut chunks = vec![chunk(b"fmt ", &fmt_ext(sub, channels, 16000, bits, valid))];
                if sub != 1 {
                    chunks.push(chunk(b"fact", &le32(2)));
                }
                chunks.push(chunk(b"data", &data));
                let (info, got) = read_all(&riff(&chunks)).unwrap();
                assert_eq!(info.format, format);
                assert_eq!(info.format_tag, 0xFFFE);
                assert_eq!(got, data);
            }
        }
    }
    let refuse = |fmt: Vec<u8>, class: &str| {
        expect_err(
            &riff(&[chunk(b"fmt ", &fmt), chunk(b"data", &[0; 6])]),
            class,
        )
    };
    // 20 valid bits in 24-bit containers.
    let msg = refuse(fmt_ext(1, 2, 8000, 24, 20), "wav-unsupported");
    assert!(msg.contains("20-bit samples in 24-bit containers"), "{msg}");
    // A non-derived GUID (Ambisonic B-format).
    let bformat = [
        0x01, 0x00, 0x00, 0x00, 0x21, 0x07, 0xD3, 0x11, 0x86, 0x44, 0xC8, 0xC1, 0xCA, 0x00, 0x00,
        0x00,
    ];
    let msg = refuse(fmt_ext_guid(bformat, 4, 8000, 16, 16), "wav-unsupported");
    assert!(
        msg.contains("{00000001-0721-11D3-8644-C8C1CA000000}"),
        "{msg}"
    );
    let msg = refuse(fmt_ext(2, 1, 8000, 16, 16), "wav-unsupported");
    assert!(msg.contains("sub-format 0x0002 (Microsoft ADPCM)"), "{msg}");
    // Structurally short extensible fmt chunks.
    refuse(fmt18(0xFFFE, 1, 8000, 16), "wav-malformed");
    let mut cb_short = fmt_ext(1, 1, 8000, 16, 16);
    cb_short[16..18].copy_from_slice(&le16(10));
    refuse(cb_short, "wav-malformed");
}

#[test]
fn unsupported_formats_are_refused_by_name() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (fmt18(2, 1, 8000, 4), "format tag 0x0002 (Microsoft ADPCM)"),
        (fmt18(0x11, 1, 8000, 4), "format tag 0x0011 (IMA ADPCM)"),
        (fmt18(0x31, 1, 8000, 0), "format tag 0x0031 (GSM 6.10)"),
        (fmt18(0x55, 2, 44100, 0), "format tag 0x0055 (MPEG Layer 3)"),
        (fmt18(0x1234, 2, 44100, 16), "format tag 0x1234"),
        (fmt16(1, 1, 8000, 12), "12-bit integer PCM"),
        (fmt18(3, 1, 8000, 16), "16-bit IEEE float"),
        (fmt18(7, 1, 8000, 16), "16-bit µ-law"),
        (fmt18(6, 1, 8000, 16), "16-bit A-law"),
        (fmt16(1, 0, 8000, 16), "zero channels"),
        (fmt16(1, 1, 0, 16), "sample rate 0"),
        (
            {
                let mut b = fmt16(1, 2, 8000, 16);
                b[12..14].copy_from_slice(&le16(2));
                b
            },
            "block align 2 inconsistent with 2 channels of 2 bytes",
        ),
    ];
    for (fmt, what) in cases {
        let file = riff(&[chunk(b"fmt ", &fmt), chunk(b"data", &pattern(16))]);
        let msg = expect_err(&file, "wav-unsupported");
        assert!(msg.contains(what), "{msg} lacks {what}");
    }
    let mut rifx = riff(&[chunk(b"fmt ", &fmt16(1, 1, 8000, 16))]);
    rifx[..4].copy_from_slice(b"RIFX");
    expect_err(&rifx, "wav-unsupported");
}

fn malformed_at(bytes: &[u8], what: &str, offset: u64) {
    match read_all(bytes) {
        Err(e) => match e.into_kind() {
            crate::error::ErrorKind::WavMalformed { reason, offset: o } => {
                assert!(reason.contains(what), "{reason:?} lacks {what:?}");
                assert_eq!(o, offset, "{reason}");
            }
            k => panic!("expected WavMalformed, got {:?}", Error::new(k)),
        },
        Ok((info, _)) => panic!("expected WavMalformed, read {info:?}"),
    }
}

#[test]
fn malformed_files_are_refused_with_an_offset() {
    let fmt = chunk(b"fmt ", &fmt16(1, 1, 8000, 16));
    malformed_at(b"", "too short", 0);
    malformed_at(b"RIF", "too short", 3);
    malformed_at(b"OggS\0\0\0\0WAVE", "not a WAV file", 0);
    malformed_at(b"RIFF\x04\0\0\0WAV", "inside the RIFF header", 11);
    malformed_at(b"RIFF\x04\0\0\0AVI ", "not 'WAVE'", 8);
    malformed_at(
        &riff(&[chunk(b"data", &[0; 4]), fmt.clone()]),
        "before any fmt",
        12,
    );
    malformed_at(&riff(&[]), "no fmt chunk and no data chunk", 12);
    malformed_at(&riff(std::slice::from_ref(&fmt)), "no data chunk", 36);
    malformed_at(&riff(&[fmt.clone(), fmt.clone()]), "second fmt", 36);
    malformed_at(&riff(&[chunk(b"fmt ", &[1, 0, 1, 0])]), "at least 16", 16);
    let mut cut = riff(std::slice::from_ref(&fmt));
    cut.truncate(30);
    malformed_at(
        &cut,
        "'fmt ' chunk claims 16 bytes but input ends after 10",
        30,
    );
    let mut cut = riff(&[fmt.clone(), chunk(b"data", &[0; 4])]);
    cut.truncate(40);
    malformed_at(&cut, "inside a chunk header", 40);
    // Data chunk claims more than the file holds.
    let mut short = riff(&[fmt.clone(), chunk_header(b"data", 100)]);
    short.extend_from_slice(&pattern(40));
    malformed_at(
        &short,
        "data chunk claims 100 bytes but input ends after 40",
        84,
    );
    // Partial final frame with a known length.
    malformed_at(
        &riff(&[fmt.clone(), chunk(b"data", &[0; 5])]),
        "partial frame",
        40,
    );
    // An unknown chunk longer than the input.
    let mut huge = riff(&[fmt]);
    huge.extend_from_slice(&chunk_header(b"LIST", 0xFFFF_FFF0));
    huge.extend_from_slice(&[0; 10]);
    malformed_at(
        &huge,
        "'LIST' chunk claims 4294967280 bytes but input ends after 10",
        54,
    );
}

#[test]
fn every_strict_prefix_of_a_file_is_refused() {
    let data = pattern(30);
    let file = riff(&[
        chunk(b"bext", &bext_body(b"2026-11-23", b"10:15:00")),
        chunk(b"fmt ", &fmt18(7, 2, 8000, 8)),
        chunk(b"fact", &le32(15)),
        chunk(b"data", &data),
    ]);
    assert_eq!(read_all(&file).unwrap().1, data);
    for n in 0..file.len() {
        let e = read_all(&file[..n]).unwrap_err();
        assert_eq!(e.class(), "wav-malformed", "prefix {n}: {e}");
    }
}

#[test]
fn hostile_input_never_panics() {
    let base = riff(&[
        chunk(b"JUNK", &[0; 4]),
        chunk(b"ds64", &ds64(1, 2, 3, &[(b"data", 4)])),
        chunk(b"fmt ", &fmt_ext(1, 2, 8000, 16, 16)),
        chunk(b"fact", &le32(3)),
        chunk(b"data", &pattern(12)),
    ]);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..3000 {
        let mut f = base.clone();
        for _ in 0..1 + i % 4 {
            let at = (next() % f.len() as u64) as usize;
            f[at] = match next() % 4 {
                0 => 0xFF,
                1 => 0,
                _ => next() as u8,
            };
        }
        if i % 3 == 0 {
            f[..4].copy_from_slice([b"RF64", b"BW64"][i % 2]);
        }
        let _ = read_all(&f);
    }
}

#[test]
fn read_data_returns_whole_frames_from_a_trickling_pipe() {
    let format = fmt_of(Encoding::S24, 2, 8000);
    let data = pattern(6 * 50);
    for file in [
        write_streaming(format, &data),
        write_seekable(format, &data),
    ] {
        let src = Trickle {
            inner: Cursor::new(file),
            step: 1,
            interrupt: true,
            flip: false,
        };
        let mut r = WavReader::new(src).unwrap();
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        loop {
            let n = r.read_data(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert_eq!(n % 6, 0, "whole frames");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, data);
    }
    // A buffer smaller than a frame still works.
    let (_, got) = read_with(&write_seekable(format, &data), 2, 4).unwrap();
    assert_eq!(got, data);
    // An empty buffer reads nothing.
    let mut r = WavReader::new(Cursor::new(write_seekable(format, &data))).unwrap();
    assert_eq!(r.read_data(&mut []).unwrap(), 0);
    assert_eq!(r.data_read(), 0);
}

#[test]
fn bext_origination_parsing() {
    let ok = [
        (b"2026-11-23", b"10:15:00", "2026-11-23T10:15:00"),
        (b"2026_11_23", b"10_15_00", "2026-11-23T10:15:00"),
        (b"2026:11:23", b"10.15.00", "2026-11-23T10:15:00"),
        (b"2026 11 23", b"23 59 59", "2026-11-23T23:59:59"),
        (b"2024.02.29", b"00-00-00", "2024-02-29T00:00:00"),
    ];
    for (d, t, want) in ok {
        assert_eq!(bext_origination(d, t).as_deref(), Some(want));
    }
    let bad: [(&[u8], &[u8]); 10] = [
        (b"2026-13-01", b"10:15:00"),
        (b"2026-00-01", b"10:15:00"),
        (b"2025-02-29", b"10:15:00"),
        (b"2026-04-31", b"10:15:00"),
        (b"2026-11-23", b"24:00:00"),
        (b"2026-11-23", b"10:60:00"),
        (b"2026/11/23", b"10:15:00"),
        (b"2026-11-2x", b"10:15:00"),
        (b"\0\0\0\0\0\0\0\0\0\0", b"\0\0\0\0\0\0\0\0"),
        (b"2026-11-23", b"\0\0\0\0\0\0\0\0"),
    ];
    for (d, t) in bad {
        assert_eq!(bext_origination(d, t), None, "{:?} {:?}", d, t);
    }
    // In a file: a well-formed bext, a blank one, and one too short to hold the date.
    let fmt = chunk(b"fmt ", &fmt16(1, 1, 8000, 8));
    let data = chunk(b"data", &[1, 2]);
    let with = |bext: Vec<u8>| {
        read_all(&riff(&[chunk(b"bext", &bext), fmt.clone(), data.clone()]))
            .unwrap()
            .0
            .bext_origination
    };
    assert_eq!(
        with(bext_body(b"2026.11.23", b"10:15:00")).as_deref(),
        Some("2026-11-23T10:15:00")
    );
    assert_eq!(with(vec![0; 602]), None);
    assert_eq!(with(vec![b'1'; 300]), None);
    // bext after fmt is read too.
    let file = riff(&[
        fmt.clone(),
        chunk(b"bext", &bext_body(b"1999-12-31", b"23:59:58")),
        data.clone(),
    ]);
    let info = read_all(&file).unwrap().0;
    assert_eq!(
        info.bext_origination.as_deref(),
        Some("1999-12-31T23:59:58")
    );
}

#[test]
fn container_magic() {
    assert_eq!(Container::Riff.magic(), b"RIFF");
    assert_eq!(Container::Rf64.magic(), b"RF64");
    assert_eq!(Container::Bw64.magic(), b"BW64");
}

// ---------------------------------------------------------------------------
// The sample call in testdata/
// ---------------------------------------------------------------------------

/// The `at_ms` values of the sample's metadata, in order (a tiny scan: no JSON
/// crate here).
fn event_times(json: &str) -> Vec<u64> {
    json.split("\"at_ms\":")
        .skip(1)
        .map(|s| {
            let digits: String = s
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().unwrap()
        })
        .collect()
}

#[test]
fn sample_call_matches_its_metadata() {
    let wav = include_bytes!("../../../testdata/sample-call.wav");
    let json = include_str!("../../../testdata/sample-call.json");
    let (info, data) = read_all(wav).unwrap();
    assert_eq!(info.format, fmt_of(Encoding::MuLaw, 2, 8000));
    assert_eq!(info.format_tag, 7);
    assert_eq!(info.container, Container::Riff);
    assert_eq!(info.data_len, Some(data.len() as u64));
    let frames = data.len() / 2;
    let duration_ms = frames as u64 * 1000 / 8000;
    assert!((12_000..=20_000).contains(&duration_ms), "{duration_ms} ms");

    let times = event_times(json);
    assert_eq!(times.len(), 8);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(*times.last().unwrap() < duration_ms);

    // Mean absolute level of one channel between two times.
    let level = |channel: usize, from_ms: u64, to_ms: u64| {
        let (a, b) = (from_ms as usize * 8, to_ms as usize * 8);
        let sum: u64 = (a..b)
            .map(|f| crate::audio::mulaw_to_linear(data[2 * f + channel]).unsigned_abs() as u64)
            .sum();
        sum / (b - a) as u64
    };
    let (hold, resume, dtmf) = (times[2], times[3], times[4]);
    // On hold: silence on both channels.
    assert_eq!(level(0, hold, resume), 0);
    assert_eq!(level(1, hold, resume), 0);
    // The agent speaks first, on the left only; the DTMF tones are on the right only.
    assert!(level(0, 500, 1500) > 500);
    assert_eq!(level(1, 0, 1500), 0);
    assert!(level(1, dtmf, dtmf + 100) > 500);
    assert_eq!(level(0, dtmf, dtmf + 300), 0);
}

#[test]
fn info_lists_are_read_within_their_bounds() {
    use super::read::parse_info_list_for_test as parse;
    let entry = |id: &[u8; 4], t: &[u8]| {
        let mut e = id.to_vec();
        e.extend_from_slice(&(t.len() as u32).to_le_bytes());
        e.extend_from_slice(t);
        if t.len() % 2 == 1 {
            e.push(0);
        }
        e
    };
    let mut ok = b"INFO".to_vec();
    ok.extend(entry(b"INAM", b"Call\0"));
    ok.extend(entry(b"ICMT", b"odd"));
    ok.extend(entry(b"I\x01MT", b"bad id"));
    ok.extend(entry(b"ISFT", b"\x07bell"));
    assert_eq!(
        parse(&ok),
        vec![
            ("INAM".to_string(), "Call".to_string()),
            ("ICMT".into(), "odd".into())
        ]
    );
    // A length past the end stops the walk; not INFO: nothing.
    let mut past = b"INFO".to_vec();
    past.extend_from_slice(b"INAM\xff\xff\xff\x7fabc");
    assert!(parse(&past).is_empty());
    assert!(parse(b"adtl").is_empty());
    // At most 32 entries.
    let mut many = b"INFO".to_vec();
    for _ in 0..40 {
        many.extend(entry(b"ICMT", b"x"));
    }
    assert_eq!(parse(&many).len(), 32);
}

#[test]
fn tags_after_the_data_are_read_from_a_seekable_file_and_bounded() {
    let mut list = b"INFO".to_vec();
    list.extend(chunk(b"INAM", b"Call 42\0"));
    let data = chunk(b"data", &[0u8; 7]); // odd: a pad byte follows
    let fmt = chunk(b"fmt ", &fmt16(1, 1, 8000, 8));
    // (what, chunks after the data, INAM expected).
    let mut many = vec![chunk(b"JUNK", &[0; 2]); 80];
    many.push(chunk(b"LIST", &list));
    let mut cut = chunk(b"LIST", &list);
    cut.truncate(10);
    type Row<'a> = (&'a str, Vec<Vec<u8>>, Option<&'a str>);
    let rows: Vec<Row> = vec![
        (
            "after the pad byte",
            vec![chunk(b"LIST", &list)],
            Some("Call 42"),
        ),
        (
            "after other chunks",
            vec![chunk(b"JUNK", &[1; 3]), chunk(b"LIST", &list)],
            Some("Call 42"),
        ),
        ("past 64 chunks: not looked at", many, None),
        ("a cut chunk: nothing, no error", vec![cut], None),
        ("nothing after the data", vec![], None),
    ];
    for (what, after, want) in rows {
        let mut chunks = vec![fmt.clone(), data.clone()];
        chunks.extend(after);
        let bytes = riff(&chunks);
        let r = WavReader::new(Cursor::new(bytes.clone())).unwrap();
        let mut info = r.info().clone();
        tags_after_data(Cursor::new(bytes), r.data_offset(), &mut info).unwrap();
        let got = info
            .info_tags
            .iter()
            .find(|(k, _)| k == "INAM")
            .map(|(_, v)| v.as_str());
        assert_eq!(got, want, "{what}");
    }
}

// ---------------------------------------------------------------------------
// Descriptive chunks (cue points, bext, INFO) around the data
// ---------------------------------------------------------------------------

fn described() -> WavMetadata {
    let mut m = WavMetadata::new();
    m.bext(Bext {
        description: "recording call-9".into(),
        originator: "sasf".into(),
        originator_reference: "call-9".into(),
        origination: Some(("2026-03-01".into(), "09:30:05".into())),
        time_reference: 42,
        coding_history: String::new(),
    })
    .info(*b"INAM", "call-9")
    .marker(Marker {
        at: 3,
        length: None,
        label: "join — Ann (a1)".into(),
    })
    .marker(Marker {
        at: 7,
        length: Some(2),
        label: "hold — Ann (a1)".into(),
    });
    m
}

/// Writes `frames` frames of mono 8-bit (odd data: a pad byte) with `described()`,
/// forcing RF64 when `rf64`.
fn write_described(rf64: bool, frames: usize) -> Vec<u8> {
    let m = described();
    let format = fmt_of(Encoding::U8, 1, 8000);
    let mut w = WavWriter::new_seekable_with(Cursor::new(Vec::new()), format, m.leading().unwrap())
        .unwrap();
    if rf64 {
        w = w.with_rf64_threshold(100);
    }
    w.write_data(&pattern(frames)).unwrap();
    w.finish_seekable_with(&m.trailing().unwrap())
        .unwrap()
        .into_inner()
}

#[test]
fn descriptive_chunks_sit_around_the_data_with_every_size_right() {
    for rf64 in [false, true] {
        let frames = 301;
        let f = write_described(rf64, frames);
        let data = find_chunk(&f, b"data").unwrap();
        if rf64 {
            assert_eq!(&f[..4], b"RF64");
            assert_eq!(u64_at(&f, 20), f.len() as u64 - 8, "ds64 RIFF size");
            assert_eq!(u64_at(&f, 28), frames as u64, "ds64 data size");
            assert_eq!(u32_at(&f, data + 4), u32::MAX);
        } else {
            assert_eq!(&f[..4], b"RIFF");
            assert_eq!(u32_at(&f, 4) as usize, f.len() - 8, "RIFF size");
            assert_eq!(u32_at(&f, data + 4) as usize, frames);
        }
        // bext and INFO before the data, cue and adtl right after it and its pad.
        assert!(find_chunk(&f, b"bext").unwrap() < data);
        let after = data + 8 + frames + 1;
        assert_eq!(&f[after..after + 4], b"cue ");
        let (info, got) = read_all(&f).unwrap();
        assert_eq!(got, pattern(frames));
        assert_eq!(info.data_len, Some(frames as u64));
        assert_eq!(
            info.bext_origination.as_deref(),
            Some("2026-03-01T09:30:05")
        );
        assert!(info
            .info_tags
            .contains(&("INAM".to_string(), "call-9".to_string())));
        assert!(info.bext_text.contains(&("originator", "sasf".to_string())));
    }
}

#[test]
fn chunks_that_are_not_whole_or_cannot_follow_streamed_data_are_refused() {
    let format = fmt_of(Encoding::U8, 1, 8000);
    let e = WavWriter::new_seekable_with(Cursor::new(Vec::new()), format, vec![0; 3]);
    assert_eq!(e.unwrap_err().class(), "misuse");
    let w = WavWriter::new_seekable(Cursor::new(Vec::new()), format).unwrap();
    assert_eq!(
        w.finish_seekable_with(&[0; 3]).unwrap_err().class(),
        "misuse"
    );
    let w = WavWriter::new_streaming(Cursor::new(Vec::new()), format).unwrap();
    assert_eq!(
        w.finish_seekable_with(&[0; 4]).unwrap_err().class(),
        "misuse"
    );
    // A streamed header keeps its leading chunks (bext and INFO reach a pipe).
    let mut w =
        WavWriter::new_streaming_with(Vec::new(), format, described().leading().unwrap()).unwrap();
    w.write_data(&pattern(10)).unwrap();
    let f = w.finish().unwrap();
    let (info, got) = read_all(&f).unwrap();
    assert_eq!(got, pattern(10));
    assert!(info.bext_origination.is_some());
}

/// What Python's `wavinfo` (an independent reader) makes of a WAV file, or `None`
/// when it is not installed and this is not CI (which installs it: `.ci/run`).
pub(crate) fn wavinfo(path: &std::path::Path) -> Option<serde_json::Value> {
    const SCRIPT: &str = r#"
import json, sys, wavinfo
# RIFF text declares no encoding; sasf writes UTF-8.
w = wavinfo.WavInfoReader(sys.argv[1], info_encoding="utf-8", bext_encoding="utf-8")
out = {"frames": w.data.frame_count, "cues": {}, "info": {}, "bext": None}
if w.cues is not None:
    out["cues"] = {str(k): v for k, v in w.cues.to_dict().items()}
if w.info is not None:
    out["info"] = {k: v for k, v in w.info.to_dict().items() if v is not None}
if w.bext is not None:
    out["bext"] = {k: v for k, v in w.bext.to_dict().items() if isinstance(v, (str, int))}
print(json.dumps(out))
"#;
    let have = std::process::Command::new("python3")
        .args(["-c", "import wavinfo"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs python3 with wavinfo (.ci/run installs it)"
        );
        eprintln!("python3 with wavinfo not found: skipping the independent check");
        return None;
    }
    let o = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "wavinfo failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

#[test]
fn wavinfo_reads_the_markers_of_a_riff_and_of_an_rf64_file() {
    for rf64 in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.wav");
        std::fs::write(&p, write_described(rf64, 301)).unwrap();
        let Some(v) = wavinfo(&p) else { return };
        assert_eq!(v["frames"], 301, "{v}");
        assert_eq!(v["cues"]["1"]["frame"], 3, "{v}");
        assert_eq!(v["cues"]["1"]["label"], "join — Ann (a1)", "{v}");
        assert_eq!(v["cues"]["2"]["frame"], 7, "{v}");
        assert_eq!(v["cues"]["2"]["label"], "hold — Ann (a1)", "{v}");
        assert_eq!(v["cues"]["2"]["length"], 2, "{v}");
        assert_eq!(v["info"]["title"], "call-9", "{v}");
        assert_eq!(v["bext"]["originator"], "sasf", "{v}");
        assert_eq!(v["bext"]["originator_date"], "2026-03-01", "{v}");
        assert_eq!(v["bext"]["originator_time"], "09:30:05", "{v}");
        assert_eq!(v["bext"]["description"], "recording call-9", "{v}");
    }
}
