//! Whole-stream operations built on the reader and writer: packing a WAV stream with
//! its metadata into SASF, and reading a SASF stream to the end while handing out its
//! audio and collecting its metadata. The `sasf` command is a thin layer over these.

use std::io::{Read, Write};

use crate::audio::{decode_to_pcm16, AudioFormat, Encoding};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::{DurationClass, Totals};
use crate::io::reader::{Item, Reader};
use crate::io::writer::WriterBuilder;
use crate::meta::{Metadata, RecordingInfo};
use crate::wav::WavReader;

/// Size of the buffer audio is moved through.
pub const IO_BUFFER: usize = 256 * 1024;

/// Packs the audio of `wav` and the metadata `meta` into a SASF stream written to
/// `out`. `configure` receives a builder for the WAV's format (to choose the integrity
/// level, key and chunking); the recording information comes from `meta`, and the
/// duration class is declared when the WAV states its length. `progress` is called
/// with the number of audio bytes read so far. With more than one thread, chunks are
/// sealed in parallel and written by a thread of their own.
///
/// Participants are declared at sample 0, events and annotations at their times.
/// Metadata after the end of the audio is refused (at the start when the WAV states
/// its length, otherwise at the end, before the stream is completed).
pub fn pack_wav<R: Read, W: Write + Send + 'static>(
    wav: &mut WavReader<R>,
    configure: impl FnOnce(WriterBuilder) -> WriterBuilder,
    meta: &Metadata,
    out: W,
    progress: &mut dyn FnMut(u64),
) -> Result<W> {
    let info = wav.info().clone();
    let format = info.format;
    let mut builder = configure(WriterBuilder::new(format)).info(meta.recording.clone());
    if let Some(len) = info.data_len {
        builder = builder.duration_class(DurationClass::of(
            len / format.block_align() as u64,
            format.sample_rate,
        ));
    }
    let mut w = builder.wrap_output(crate::io::writer::OutputThread(out))?;
    for p in &meta.participants {
        w.add_participant(p.clone())?;
    }
    for e in &meta.events {
        w.add_event(e.clone())?;
    }
    for a in &meta.annotations {
        w.add_annotation(a.clone())?;
    }
    let mut buf = vec![0u8; IO_BUFFER];
    let mut total = 0u64;
    loop {
        let n = wav.read_data(&mut buf)?;
        if n == 0 {
            break;
        }
        w.write_audio(&buf[..n])?;
        total += n as u64;
        progress(total);
    }
    w.finish()
}

/// Everything a stream holds but its audio.
#[derive(Debug, Clone)]
pub struct Contents {
    /// Recording information, participants, events and annotations, in stream order.
    pub metadata: Metadata,
    /// The verified totals of the end chunk.
    pub totals: Totals,
    /// Number of index chunks met.
    pub index_chunks: u64,
    /// Number of unknown ancillary chunks skipped.
    pub skipped_chunks: u64,
}

/// Reads `r` to its end chunk, passing each authenticated audio payload to `on_audio`
/// and collecting the metadata: at most `max_records` participants, events and
/// annotations together, and at most the metadata budget
/// ([`crate::Limits::max_metadata_bytes`], 64 MiB by default) of memory for what is
/// kept, so a hostile stream cannot make the collection unbounded (`limit-exceeded`).
pub fn read_all<R: Read>(
    r: &mut Reader<R>,
    max_records: usize,
    on_audio: impl FnMut(&[u8]) -> Result<()>,
) -> Result<Contents> {
    read_all_within(r, max_records, crate::io::DEFAULT_METADATA_BUDGET, on_audio)
}

/// Reads `r` to its end chunk for its audio only: nothing but the totals is kept, so
/// memory does not grow with the metadata, however much there is.
pub fn read_audio<R: Read>(
    r: &mut Reader<R>,
    mut on_audio: impl FnMut(&[u8]) -> Result<()>,
) -> Result<Totals> {
    loop {
        match r.next_item()? {
            Some(Item::Audio { data, .. }) => on_audio(data)?,
            Some(Item::End(t)) => return Ok(t),
            Some(_) => {}
            None => return Err(Error::misuse("the stream was already read to its end")),
        }
    }
}

/// What [`read_all_partial`] authenticated before an error: the recording
/// information, and every participant, event and annotation up to the damage.
#[derive(Debug, Clone, Default)]
pub struct Partial {
    /// The metadata authenticated before the error.
    pub metadata: Metadata,
    /// Index chunks met.
    pub index_chunks: u64,
}

/// Like [`read_all`], but on an error also returns what was authenticated before it
/// (the metadata up to the damage; the reader's `samples()` and `chunks()` tell how
/// far the audio went), for a report on a damaged file. Nothing unauthenticated is in it.
pub fn read_all_partial<R: Read>(
    r: &mut Reader<R>,
    max_records: usize,
    on_audio: impl FnMut(&[u8]) -> Result<()>,
) -> std::result::Result<Contents, Box<(Partial, Error)>> {
    let mut metadata = Metadata {
        recording: r.info().clone(),
        ..Default::default()
    };
    let mut counts = (0, 0);
    match collect(
        r,
        max_records,
        crate::io::DEFAULT_METADATA_BUDGET,
        on_audio,
        &mut metadata,
        &mut counts,
    ) {
        Ok(totals) => Ok(Contents {
            metadata,
            totals,
            index_chunks: counts.0,
            skipped_chunks: counts.1,
        }),
        Err(e) => Err(Box::new((
            Partial {
                metadata,
                index_chunks: counts.0,
            },
            e,
        ))),
    }
}

/// [`read_all`] with an explicit metadata budget in bytes.
pub fn read_all_within<R: Read>(
    r: &mut Reader<R>,
    max_records: usize,
    budget: usize,
    on_audio: impl FnMut(&[u8]) -> Result<()>,
) -> Result<Contents> {
    let mut metadata = Metadata {
        recording: r.info().clone(),
        ..Default::default()
    };
    let mut counts = (0, 0);
    let totals = collect(r, max_records, budget, on_audio, &mut metadata, &mut counts)?;
    Ok(Contents {
        metadata,
        totals,
        index_chunks: counts.0,
        skipped_chunks: counts.1,
    })
}

/// Reads to the end chunk, collecting metadata into `metadata` and (index, skipped)
/// chunk counts into `counts` as it goes, so that a caller keeps them on an error.
fn collect<R: Read>(
    r: &mut Reader<R>,
    max_records: usize,
    budget: usize,
    mut on_audio: impl FnMut(&[u8]) -> Result<()>,
    metadata: &mut Metadata,
    counts: &mut (u64, u64),
) -> Result<Totals> {
    let mut used = 0usize;
    let (index_chunks, skipped_chunks) = (&mut counts.0, &mut counts.1);
    let mut records = 0usize;
    loop {
        let (offset, chunk) = (r.offset(), r.chunks());
        let item = match r.next_item()? {
            Some(i) => i,
            None => return Err(Error::misuse("the stream was already read to its end")),
        };
        let mut count = |records: &mut usize, cost: usize| {
            *records += 1;
            used = used.saturating_add(cost);
            if used > budget {
                return Err(Error::new(ErrorKind::LimitExceeded {
                    what: "metadata budget in bytes",
                    found: used as u64,
                    limit: budget as u64,
                    place: Place::chunk(chunk, offset),
                }));
            }
            if *records > max_records {
                Err(Error::new(ErrorKind::LimitExceeded {
                    what: "metadata records",
                    found: *records as u64,
                    limit: max_records as u64,
                    place: Place::chunk(chunk, offset),
                }))
            } else {
                Ok(())
            }
        };
        match item {
            Item::Audio { data, .. } => on_audio(data)?,
            Item::Participant { participant, .. } => {
                count(&mut records, heap_bytes(&participant.to_json()))?;
                metadata.participants.push(participant);
            }
            Item::Event(e) => {
                count(&mut records, heap_bytes(&e.to_payload()))?;
                metadata.events.push(e);
            }
            Item::Annotation(a) => {
                count(&mut records, heap_bytes(&a.to_payload()))?;
                metadata.annotations.push(a);
            }
            Item::Index { .. } => *index_chunks += 1,
            Item::Skipped { .. } => *skipped_chunks += 1,
            Item::End(totals) => return Ok(totals),
        }
    }
}

/// An estimate, from above, of the memory a kept record takes: its JSON value tree
/// (every value, string, array slot and object entry), which is what the typed record
/// holds too.
pub fn heap_bytes(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    const NODE: usize = std::mem::size_of::<Value>();
    NODE + match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(heap_bytes).sum::<usize>(),
        // Key string, its header, and the map's per-entry overhead.
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| k.len() + 48 + heap_bytes(v))
            .sum::<usize>(),
    }
}

/// The recording information of a cut starting at frame `from`: the start anchor moves
/// by `from / rate` seconds.
pub fn shift_info(info: &RecordingInfo, from: u64, rate: u32) -> RecordingInfo {
    let mut out = info.clone();
    if let (Some(start), true) = (info.started_at_utc(), from > 0) {
        let nanos = (from as i128 * 1_000_000_000) / rate.max(1) as i128;
        if let Some(t) = start.checked_add(time::Duration::nanoseconds_i128(nanos)) {
            if let Ok(s) = crate::meta::Timestamp::from_utc(t) {
                out.started_at = Some(s);
            }
        }
    }
    out
}

/// Reads `r` to its end chunk (so the whole stream is verified), passing the audio
/// frames in `[from, to)` to `on_audio`, and returns the metadata of that range:
/// every participant, and the events and annotations at
/// times in `[from, to]`, re-based onto `from`. The fallback for inputs that cannot
/// seek; [`crate::io::random::RandomAccess::read_range`] reads only what it needs.
pub fn read_range_stream<R: Read>(
    r: &mut Reader<R>,
    from: u64,
    to: u64,
    max_records: usize,
    mut on_audio: impl FnMut(&[u8]) -> Result<()>,
) -> Result<Metadata> {
    let ba = r.header().format.block_align() as u64;
    let rate = r.header().format.sample_rate;
    let mut pos = 0u64;
    let c = read_all(r, max_records, |data| {
        let start = pos;
        let end = start + data.len() as u64 / ba;
        pos = end;
        let (a, b) = (from.max(start), to.min(end));
        if a < b {
            on_audio(&data[((a - start) * ba) as usize..((b - start) * ba) as usize])?;
        }
        Ok(())
    })?;
    let to = to.min(c.totals.samples);
    let from = from.min(to);
    let mut m = c.metadata;
    m.recording = shift_info(&m.recording, from, rate);
    m.events
        .retain(|e| e.at_sample >= from && e.at_sample <= to);
    m.events.iter_mut().for_each(|e| e.at_sample -= from);
    m.annotations
        .retain(|a| a.at_sample >= from && a.at_sample <= to);
    m.annotations.iter_mut().for_each(|a| a.at_sample -= from);
    Ok(m)
}

/// The format a converted WAV gets: the stream's own, or 16-bit PCM with `pcm16`.
pub fn wav_output_format(format: AudioFormat, pcm16: bool) -> AudioFormat {
    if pcm16 {
        AudioFormat {
            encoding: Encoding::S16,
            ..format
        }
    } else {
        format
    }
}

/// Turns an audio payload into what a converted WAV holds: the bytes as they are, or
/// decoded to 16-bit PCM with `pcm16` (into `scratch`).
pub fn wav_payload<'a>(
    encoding: Encoding,
    pcm16: bool,
    data: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    if pcm16 && encoding != Encoding::S16 {
        scratch.clear();
        decode_to_pcm16(encoding, data, scratch);
        scratch
    } else {
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::reader::Decoder;
    use crate::wav::WavWriter;

    #[test]
    fn pack_then_read_all_gives_back_audio_and_metadata() {
        let format = AudioFormat::new(Encoding::MuLaw, 2, 8000).unwrap();
        let audio: Vec<u8> = (0..16000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut wav = WavWriter::new_seekable(std::io::Cursor::new(Vec::new()), format).unwrap();
        wav.write_data(&audio).unwrap();
        let wav = wav.finish_seekable().unwrap().into_inner();
        let meta = Metadata::from_json_str(
            r#"{"participants":[{"id":"a","role":"agent","channels":[0]}],
                "events":[{"at_ms":500,"type":"hold","participant":"a"},{"at_ms":1000,"type":"disconnect","reason":"normal"}]}"#,
            &format,
            Some(8000),
        )
        .unwrap();
        let mut reader = WavReader::new(&wav[..]).unwrap();
        let mut seen = 0;
        let file = pack_wav(&mut reader, |b| b, &meta, Vec::new(), &mut |n| seen = n).unwrap();
        assert_eq!(seen, 16000);
        let mut r = Decoder::new(&file[..]).unwrap().open(None).unwrap();
        assert_eq!(r.header().duration_class, DurationClass::UnderOneMinute);
        let mut back = Vec::new();
        let c = read_all(&mut r, 10, |d| {
            back.extend_from_slice(d);
            Ok(())
        })
        .unwrap();
        assert_eq!(back, audio);
        assert_eq!(c.metadata, meta);
        assert_eq!(c.totals.samples, 8000);
    }

    #[test]
    fn read_all_caps_the_records_it_collects() {
        let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
        let mut w = WriterBuilder::new(format).wrap_output(Vec::new()).unwrap();
        for i in 0..5 {
            w.add_annotation(crate::meta::Annotation {
                at_sample: 0,
                fields: serde_json::json!({"kind": "tag", "n": i})
                    .as_object()
                    .unwrap()
                    .clone(),
            })
            .unwrap();
        }
        let file = w.finish().unwrap();
        let mut r = Decoder::new(&file[..]).unwrap().open(None).unwrap();
        let e = read_all(&mut r, 4, |_| Ok(())).unwrap_err();
        assert_eq!(e.class(), "limit-exceeded");
    }
}
