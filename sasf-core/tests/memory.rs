//! Limits that hold, measured: a counting global allocator records the bytes allocated
//! while a reader runs, and shows that
//! (a) length fields claiming gigabytes are refused without allocating them;
//! (b) a long stream, generated on the fly and never held in memory, decodes with a
//!     peak of one chunk buffer plus a small constant, the same for 5 MB and 50 MB;
//! (c) metadata JSON past `Limits::max_json_len` / `max_json_depth` is refused before
//!     it is parsed.
//!
// A global allocator can only be written with `unsafe impl GlobalAlloc`. The library
// keeps `#![forbid(unsafe_code)]`; this test file alone opts out, which is why the
// workspace lint is `deny` (allowable per file) rather than `forbid`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};

use sasf_core::meta::{Annotation, Metadata};
use sasf_core::wav::WavReader;
use sasf_core::{AudioFormat, Decoder, Encoding, Item, Key, Limits, Writer, WriterBuilder};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, SeqCst) + n;
    PEAK.fetch_max(now, SeqCst);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged and
// only adds bookkeeping on atomics, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            // Counted as the new block living beside the old one, as it may during a move.
            grew(new_size);
            CURRENT.fetch_sub(layout.size(), SeqCst);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Measurements must not overlap: the tests of this file run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` and returns its result and the peak number of bytes allocated while it ran,
/// above what was allocated when it started.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(SeqCst);
    PEAK.store(base, SeqCst);
    let r = f();
    (r, PEAK.load(SeqCst) - base)
}

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// What a reader allocates besides its one chunk buffer: the header bytes, the
/// authentication suite, the recording information, the participant set and the
/// parsed metadata of one small chunk. The documented constant of the bound
/// "peak ≤ chunk cap + 32 + READER_OVERHEAD".
const READER_OVERHEAD: usize = 64 * KIB;

fn decode_all<R: Read>(input: R, key: Option<&Key>, limits: Limits) -> Result<u64, String> {
    let mut r = Decoder::with_limits(input, limits)
        .and_then(|d| d.require(sasf_core::Require::Any).open(key))
        .map_err(|e| e.class().to_string())?;
    let mut audio = 0u64;
    loop {
        match r.next_item() {
            Ok(None) => return Ok(audio),
            Ok(Some(Item::Audio { data, .. })) => audio += data.len() as u64,
            Ok(Some(_)) => {}
            Err(e) => return Err(e.class().to_string()),
        }
    }
}

fn small_file(level_key: Option<&Key>) -> Vec<u8> {
    let format = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
    let b = WriterBuilder::new(format).chunk_frames(100);
    let b = match level_key {
        Some(k) => b.encrypted(k.clone()),
        None => b,
    };
    let mut w = b.wrap_output(Vec::new()).unwrap();
    w.write_audio(&[7u8; 2000]).unwrap();
    w.finish().unwrap()
}

/// Offset of chunk `i`'s prefix in a file whose header has no extensions (after the
/// header and the key area).
fn chunk_offset(file: &[u8], tag_len: usize, i: usize) -> usize {
    let mut at = 132 + 2 * u32::from_be_bytes(file[128..132].try_into().unwrap()) as usize;
    for _ in 0..i {
        let len = u32::from_be_bytes(file[at..at + 4].try_into().unwrap()) as usize;
        at += 12 + len + tag_len;
    }
    at
}

#[test]
fn lengths_claiming_gigabytes_are_refused_without_allocating_them() {
    let _g = serial();
    let key = Key::from_bytes([9; 32]);
    for (level_key, tag_len) in [(None, 32), (Some(&key), 16)] {
        let file = small_file(level_key);
        for claim in [0xFFFF_FFFFu32, 0xFFFF_FFF0, 0x8000_0000, 0x0100_0001] {
            let mut f = file.clone();
            let at = chunk_offset(&f, tag_len, 1);
            f[at..at + 4].copy_from_slice(&claim.to_be_bytes());
            let (r, peak) = peak_of(|| decode_all(&f[..], level_key, Limits::default()));
            assert_eq!(r, Err("limit-exceeded".into()), "claim {claim:#x}");
            eprintln!("chunk length claim {claim:#x}: refused, peak {peak} bytes");
            assert!(peak < MIB, "claim {claim:#x}: peak {peak}");
        }
    }
    // A header declaring a cap above the reader's limit is refused before any chunk.
    let mut f = small_file(None);
    f[18..22].copy_from_slice(&(16 * MIB as u32).to_be_bytes());
    let limits = Limits {
        max_chunk_len: 64 * KIB as u32,
        ..Limits::default()
    };
    let (r, peak) = peak_of(|| decode_all(&f[..], None, limits));
    assert_eq!(r, Err("limit-exceeded".into()));
    assert!(peak < 64 * KIB, "peak {peak}");

    // A WAV whose size fields claim 4 GiB: chunks are skipped in bounded pieces and
    // the data is read into the caller's buffer.
    let mut wav = b"RIFF\xff\xff\xff\xffWAVE".to_vec();
    wav.extend_from_slice(b"junk\xf0\xff\xff\xff");
    wav.extend_from_slice(&[0u8; 100]);
    let (r, peak) = peak_of(|| WavReader::new(&wav[..]).map(|_| ()));
    assert_eq!(r.unwrap_err().class(), "wav-malformed");
    assert!(peak < 64 * KIB, "peak {peak}");
    let mut wav = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00".to_vec();
    wav.extend_from_slice(&[1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0]);
    wav.extend_from_slice(b"data\xf0\xff\xff\xff");
    wav.extend_from_slice(&[0x80; 1000]);
    let (r, peak) = peak_of(|| {
        let mut r = WavReader::new(&wav[..])?;
        let mut buf = [0u8; 256];
        while r.read_data(&mut buf)? > 0 {}
        Ok::<(), sasf_core::Error>(())
    });
    assert_eq!(r.unwrap_err().class(), "wav-malformed");
    assert!(peak < 64 * KIB, "peak {peak}");
}

#[test]
fn a_length_within_the_cap_costs_at_most_the_cap() {
    let _g = serial();
    // A truncated file whose chunk claims exactly the (largest) cap: the reader may
    // reserve its one chunk buffer, and no more.
    let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
    let cap = 16 * MIB as u32;
    let mut w = WriterBuilder::new(format)
        .max_chunk_len(cap)
        .wrap_output(Vec::new())
        .unwrap();
    w.write_audio(&[1u8; 100]).unwrap();
    let mut f = w.finish().unwrap();
    let at = chunk_offset(&f, 32, 1);
    f[at..at + 4].copy_from_slice(&cap.to_be_bytes());
    f.truncate(at + 200);
    let (r, peak) = peak_of(|| decode_all(&f[..], None, Limits::default()));
    assert_eq!(r, Err("truncated".into()));
    eprintln!("chunk claiming the 16 MiB cap, input short: peak {peak} bytes");
    assert!(peak <= cap as usize + 32 + READER_OVERHEAD, "peak {peak}");
}

/// A level-3 SASF stream of `audio_len` bytes of audio, produced by the crate's writer
/// as it is read: never more than one chunk of it exists at a time.
struct Generated {
    writer: Option<Writer<Sink>>,
    sink: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    samples: Vec<u8>,
    left: usize,
    pos: usize,
}

struct Sink(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Generated {
    fn new(audio_len: usize, cap: u32, key: &Key) -> Generated {
        let format = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        let chunk = (cap as usize - 12) / 2 * 2;
        // Room for a whole chunk, reserved before the measurement starts; the buffer
        // is emptied before the writer is asked for more, so it never grows.
        let sink = std::rc::Rc::new(std::cell::RefCell::new(Vec::with_capacity(
            chunk + 64 * KIB,
        )));
        let writer = WriterBuilder::new(format)
            .encrypted(key.clone())
            .max_chunk_len(cap)
            .chunk_frames((chunk / 2) as u64)
            .index_interval(8)
            .wrap_output(Sink(sink.clone()))
            .unwrap();
        Generated {
            writer: Some(writer),
            sink,
            samples: (0..chunk).map(|i| (i * 31 % 251) as u8).collect(),
            left: audio_len,
            pos: 0,
        }
    }
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut s = self.sink.borrow_mut();
                if self.pos < s.len() {
                    let n = out.len().min(s.len() - self.pos);
                    out[..n].copy_from_slice(&s[self.pos..self.pos + n]);
                    self.pos += n;
                    if self.pos == s.len() {
                        s.clear();
                        self.pos = 0;
                    }
                    return Ok(n);
                }
            }
            if self.left > 0 {
                let n = self.left.min(self.samples.len());
                let w = self.writer.as_mut().expect("not finished");
                w.write_audio(&self.samples[..n])
                    .map_err(io::Error::other)?;
                self.left -= n;
            } else if let Some(w) = self.writer.take() {
                w.finish().map_err(io::Error::other)?;
            } else {
                return Ok(0);
            }
        }
    }
}

#[test]
fn a_long_stream_decodes_in_one_chunk_of_memory() {
    let _g = serial();
    let key = Key::from_bytes([3; 32]);
    let cap = 256 * KIB as u32;
    let mut peaks = Vec::new();
    // A first, unmeasured run, so one-time initialisation is not counted.
    let warm_up = Generated::new(MIB, cap, &key);
    assert_eq!(
        decode_all(warm_up, Some(&key), Limits::default()),
        Ok(MIB as u64)
    );
    for audio_len in [5 * 1000 * 1000, 50 * 1000 * 1000] {
        // The least of three runs: the test harness's own threads may allocate a few
        // KiB (printing another test's result) while a run is measured; that noise only
        // adds.
        let mut best = usize::MAX;
        for _ in 0..3 {
            let input = Generated::new(audio_len, cap, &key);
            let k = &key;
            let (r, peak) = peak_of(move || decode_all(input, Some(k), Limits::default()));
            assert_eq!(r, Ok(audio_len as u64));
            best = best.min(peak);
        }
        eprintln!("decoding {audio_len} bytes of audio (cap {cap}): peak {best} bytes");
        // The generator's allocations during the run (index entries, small index and
        // end payloads) are counted too; they are a few KiB.
        assert!(
            best <= cap as usize + 32 + READER_OVERHEAD,
            "peak {best} > cap {cap} + 32 + {READER_OVERHEAD}"
        );
        peaks.push(best);
    }
    // Ten times the stream, the same memory.
    assert!(
        peaks[0].abs_diff(peaks[1]) <= 4 * KIB,
        "peaks differ: {peaks:?}"
    );
}

#[test]
fn metadata_past_the_json_limits_is_refused_before_parsing() {
    let _g = serial();
    let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
    let annotated = |value: serde_json::Value, cap: u32| {
        // The writer refuses what a default reader would refuse; these files are
        // for readers with other limits, so the writer is told generous ones.
        let mut w = WriterBuilder::new(format)
            .max_chunk_len(cap)
            .reader_limits(Limits {
                max_json_len: 4 * MIB,
                max_json_depth: 64,
                ..Limits::default()
            })
            .wrap_output(Vec::new())
            .unwrap();
        let mut fields = serde_json::Map::new();
        fields.insert("kind".into(), "note".into());
        fields.insert("v".into(), value);
        w.add_annotation(Annotation {
            at_sample: 0,
            fields,
        })
        .unwrap();
        w.write_audio(&[1u8; 10]).unwrap();
        w.finish().unwrap()
    };
    let nested = |depth: usize| {
        let mut v = serde_json::Value::Null;
        for _ in 0..depth {
            v = serde_json::Value::Array(vec![v]);
        }
        v
    };
    // Depth: the annotation object is level 1, so `v` nested d deep gives 1 + d.
    let defaults = Limits::default();
    let at_limit = annotated(nested(defaults.max_json_depth - 1), 4096);
    assert_eq!(decode_all(&at_limit[..], None, defaults), Ok(10));
    let too_deep = annotated(nested(defaults.max_json_depth), 4096);
    assert_eq!(
        decode_all(&too_deep[..], None, defaults),
        Err("limit-exceeded".into())
    );
    let small = Limits {
        max_json_depth: 4,
        ..defaults
    };
    assert_eq!(
        decode_all(&annotated(nested(3), 4096)[..], None, small),
        Ok(10)
    );
    assert_eq!(
        decode_all(&annotated(nested(4), 4096)[..], None, small),
        Err("limit-exceeded".into())
    );

    // Length: a payload one byte over the default 1 MiB, in a chunk the cap allows.
    let over = |extra: usize| {
        // `{"kind":"note","v":"…"}` is 22 bytes around the string.
        let s = "x".repeat(defaults.max_json_len - 22 + extra);
        annotated(serde_json::Value::String(s), 2 * MIB as u32)
    };
    assert_eq!(decode_all(&over(0)[..], None, defaults), Ok(10));
    let big = over(1);
    let (r, peak) = peak_of(|| decode_all(&big[..], None, defaults));
    assert_eq!(r, Err("limit-exceeded".into()));
    eprintln!("1 MiB + 1 byte of metadata JSON: refused, peak {peak} bytes");
    // Refused before parsing: the chunk buffer (the record is padded to its size
    // bucket, here the 2 MiB cap) and the reader's small overhead, no parsed copy of
    // the megabyte.
    assert!(peak <= 2 * MIB + 64 + READER_OVERHEAD, "peak {peak}");
    let tight = Limits {
        max_json_len: 1000,
        ..defaults
    };
    let doc = annotated(serde_json::Value::String("y".repeat(1000 - 22)), 4096);
    assert_eq!(decode_all(&doc[..], None, tight), Ok(10));
    let doc = annotated(serde_json::Value::String("y".repeat(1001 - 22)), 4096);
    assert_eq!(
        decode_all(&doc[..], None, tight),
        Err("limit-exceeded".into())
    );

    // The metadata document parser (`pack --meta`) applies the same defaults.
    let deep_doc = format!(
        "{{\"events\":[{{\"at_ms\":0,\"type\":\"custom\",\"key\":\"a.b\",\"value\":{}{}}}]}}",
        "[".repeat(40),
        "]".repeat(40)
    );
    let (r, peak) = peak_of(|| Metadata::from_json_str(&deep_doc, &format, None));
    assert_eq!(r.unwrap_err().class(), "invalid-metadata");
    assert!(peak < 4 * KIB, "peak {peak}");
    let long_doc = format!(
        "{{\"recording\":{{\"id\":\"{}\"}}}}",
        "z".repeat(defaults.max_json_len)
    );
    let (r, peak) = peak_of(|| Metadata::from_json_str(&long_doc, &format, None));
    assert_eq!(r.unwrap_err().class(), "invalid-metadata");
    assert!(peak < 4 * KIB, "peak {peak}");
}

/// Issue 11, point 6: 64 keyless events of almost 1 MiB of JSON each, every one within
/// every per-chunk limit. v1 took 2.4 GB to `convert` such a file. Now a reader that
/// keeps the metadata (`info`, `extract`) stops at the 64 MiB metadata budget with
/// `limit-exceeded`, and one that wants only the audio (`convert`) keeps nothing: its
/// peak is one chunk and one record's parse, whatever the metadata adds up to.
#[test]
fn metadata_memory_is_bounded_by_the_budget() {
    let _g = serial();
    let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
    let mut w = WriterBuilder::new(format)
        .max_chunk_len(2 * MIB as u32)
        .wrap_output(Vec::new())
        .unwrap();
    let big = "x".repeat(MIB - 64);
    for i in 0..64u64 {
        w.add_annotation(Annotation {
            at_sample: i * 100,
            fields: serde_json::json!({"kind": "note", "v": big})
                .as_object()
                .unwrap()
                .clone(),
        })
        .unwrap();
    }
    w.write_audio(&[128u8; 8000]).unwrap();
    let file = w.finish().unwrap();
    assert!(file.len() > 64 * MIB);
    let open = || Decoder::new(&file[..]).unwrap().open(None).unwrap();

    let (r, peak) = peak_of(|| {
        let mut r = open();
        sasf_core::bridge::read_all(&mut r, 1_000_000, |_| Ok(())).map(|c| c.totals)
    });
    let e = r.unwrap_err();
    assert_eq!(e.class(), "limit-exceeded", "{e}");
    assert!(e.to_string().contains("metadata budget"), "{e}");
    eprintln!("keeping the metadata: refused at the budget, peak {peak} bytes");
    assert!(peak < 80 * MIB, "peak {peak}");

    let (r, peak) = peak_of(|| {
        let mut r = open();
        sasf_core::bridge::read_audio(&mut r, |_| Ok(()))
    });
    assert_eq!(r.unwrap().samples, 8000);
    eprintln!("audio only: peak {peak} bytes");
    // One 2 MiB chunk buffer and one record's JSON (about 1 MiB) parsed at a time.
    assert!(peak < 6 * MIB, "peak {peak}");
}

/// Review finding: random access kept every participant whole, outside the metadata
/// budget (a 63 MB file took 1.68 GB). Now what it keeps is charged at its size.
#[test]
fn random_access_keeps_participants_within_the_budget() {
    let _g = serial();
    let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
    let mut w = WriterBuilder::new(format)
        .max_chunk_len(2 * MIB as u32)
        .wrap_output(Vec::new())
        .unwrap();
    let big = "x".repeat(MIB - 200);
    for i in 0..70 {
        let mut extra = serde_json::Map::new();
        extra.insert("x".into(), big.clone().into());
        let mut p =
            sasf_core::meta::Participant::new(format!("p{i}"), sasf_core::meta::Role::Other);
        p.extra = extra;
        w.add_participant(p).unwrap();
    }
    w.write_audio(&[128u8; 800]).unwrap();
    let file = w.finish().unwrap();
    let (r, peak) = peak_of(|| {
        Decoder::new(io::Cursor::new(&file[..]))
            .unwrap()
            .open(None)
            .unwrap()
            .into_random_access()
            .map(drop)
    });
    let e = r.unwrap_err();
    assert_eq!(e.class(), "limit-exceeded", "{e}");
    eprintln!("random access over 70 MiB of participants: refused, peak {peak} bytes");
    assert!(peak < 100 * MIB, "peak {peak}");
}
