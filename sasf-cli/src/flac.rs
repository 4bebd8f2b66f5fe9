//! FLAC outputs of `sasf convert` (`-o x.flac`), through the `flac-codec` encoder.
//!
//! FLAC keeps its metadata blocks before the audio, but a conversion knows its
//! timeline only once the whole input is read (events come between the audio chunks).
//! So the frames are encoded into a scratch file in the output's directory (unnamed
//! where the system can, mode 0600 for decrypted content, gone on drop), and the
//! output is written at the end: `fLaC`, STREAMINFO and SEEKTABLE as the encoder made
//! them, a VORBIS_COMMENT block with the recording and its timeline, then the frames
//! copied from the scratch file. Seek points are relative to the first frame, so they
//! stay right. Nothing is visible under the output's name before its commit.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use flac_codec::encode::{FlacSampleWriter, Options};
use flac_codec::metadata::{write_blocks, BlockList, SeekTable, VorbisComment};
use sasf_core::{AudioFormat, Encoding};

use crate::output::{FileOut, Opts, Output};

/// The most channels a FLAC stream has.
pub const MAX_CHANNELS: u16 = 8;

/// The largest metadata block (a 24-bit length).
const MAX_BLOCK: usize = (1 << 24) - 1;

/// Refuses, before anything is written, a WAV-side format that FLAC cannot hold: float
/// samples (FLAC is integer PCM), more than eight channels, or a sample rate past
/// FLAC's 20 bits. µ-law and A-law never get here: they are decoded to 16-bit first.
pub fn check_format(f: AudioFormat, what: &str) -> Result<()> {
    match f.encoding {
        Encoding::U8 | Encoding::S16 | Encoding::S24 | Encoding::S32 => {}
        Encoding::F32 | Encoding::F64 => bail!(
            "{what}: FLAC holds integer PCM, and this output would be floating point; give --pcm16 to decode it to 16-bit PCM, or write a .wav"
        ),
        Encoding::MuLaw | Encoding::ALaw => {
            bail!("{what}: G.711 is decoded to 16-bit PCM before FLAC")
        }
    }
    if f.channels == 0 || f.channels > MAX_CHANNELS {
        bail!(
            "{what}: FLAC holds 1 to {MAX_CHANNELS} channels, this output has {}; choose some with --channels or --participant, or write a .wav",
            f.channels
        );
    }
    if f.sample_rate == 0 || f.sample_rate >= 1 << 20 {
        bail!(
            "{what}: FLAC holds sample rates up to 1048575 Hz, this recording is {} Hz",
            f.sample_rate
        );
    }
    Ok(())
}

/// The scratch file, shared between the encoder (which owns its writer until it is
/// finalized) and [`FlacOut::commit`], which reads it back.
#[derive(Clone)]
struct Shared(Rc<RefCell<FileOut>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(b)
    }
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        self.0.borrow_mut().write_all(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

impl Seek for Shared {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.0.borrow_mut().seek(pos)
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(b)?;
        self.n += n as u64;
        Ok(n)
    }
}

fn flac_err(e: flac_codec::Error) -> anyhow::Error {
    anyhow::anyhow!("FLAC encoder: {e}")
}

/// A FLAC being written (see the module doc).
pub struct FlacOut {
    encoder: FlacSampleWriter<Shared>,
    scratch: Shared,
    out: Output,
    encoding: Encoding,
    samples: Vec<i32>,
}

impl FlacOut {
    /// Starts a FLAC of `format` (checked with [`check_format`]) at `path`.
    pub fn create(path: &Path, format: AudioFormat, opts: Opts) -> Result<FlacOut> {
        check_format(format, &path.display().to_string())?;
        // The scratch file is never committed: it is a FileOut only for its hidden,
        // private, removed-on-drop file in the output's directory.
        let scratch = Shared(Rc::new(RefCell::new(FileOut::create(
            path,
            Opts {
                force: false,
                partial: false,
                ..opts
            },
        )?)));
        let bits = format.encoding.bytes_per_sample() as u32 * 8;
        let options = Options::default().no_padding();
        let encoder = FlacSampleWriter::new(
            scratch.clone(),
            options,
            format.sample_rate,
            bits,
            format.channels as u8,
            None,
        )
        .map_err(flac_err)?;
        let out = Output::create(path, opts)?;
        Ok(FlacOut {
            encoder,
            scratch,
            out,
            encoding: format.encoding,
            samples: Vec::new(),
        })
    }

    /// Appends whole frames of interleaved little-endian samples, as a WAV of the
    /// same format holds them (8-bit unsigned).
    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        let s = &mut self.samples;
        s.clear();
        match self.encoding {
            Encoding::U8 => s.extend(data.iter().map(|&b| b as i32 - 128)),
            Encoding::S16 => s.extend(
                data.chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as i32),
            ),
            Encoding::S24 => s.extend(
                data.chunks_exact(3)
                    .map(|c| i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8),
            ),
            Encoding::S32 => s.extend(
                data.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            other => bail!("FLAC cannot hold {other:?} samples"),
        }
        self.encoder.write(s).map_err(flac_err)
    }

    /// Finishes the stream, writes the output with `comments` (`FIELD=value` entries)
    /// as its VORBIS_COMMENT block (none for `None`), and commits it.
    pub fn commit_with(self, comments: Option<Vec<String>>) -> Result<()> {
        let FlacOut {
            encoder,
            scratch,
            mut out,
            ..
        } = self;
        encoder.finalize().map_err(flac_err)?;
        let mut file = scratch
            .0
            .try_borrow_mut()
            .map_err(|_| anyhow::anyhow!("FLAC scratch file still in use"))?
            .reopen()?;
        drop(scratch);
        // The encoder's own blocks (STREAMINFO with the final totals and MD5, the seek
        // table), read exactly up to the first frame.
        let mut counted = Counting {
            inner: &mut file,
            n: 0,
        };
        let blocks = BlockList::read(&mut counted).map_err(flac_err)?;
        let frames_at = counted.n;
        let mut list = BlockList::new(blocks.streaminfo().clone());
        if let Some(t) = blocks.get::<SeekTable>() {
            list.insert(t.clone());
        }
        if let Some(comments) = comments {
            let mut vc = VorbisComment {
                vendor_string: format!("sasf {}", env!("CARGO_PKG_VERSION")),
                fields: Vec::with_capacity(comments.len()),
            };
            // A metadata block holds at most 16 MiB: entries past that are left out.
            let mut size = 8 + vc.vendor_string.len();
            let mut left_out = 0usize;
            for c in comments {
                size += 4 + c.len();
                if size > MAX_BLOCK {
                    left_out += 1;
                    continue;
                }
                vc.fields.push(c);
            }
            if left_out > 0 {
                crate::io::note(format_args!(
                    "sasf: {left_out} Vorbis comment(s) left out of the FLAC (a metadata block holds 16 MiB)"
                ));
            }
            list.insert(vc);
        }
        write_blocks(&mut out, list.blocks()).map_err(flac_err)?;
        file.seek(SeekFrom::Start(frames_at))?;
        io::copy(&mut file, &mut out).context("cannot copy the FLAC frames")?;
        out.commit()
    }
}
