//! Criterion benches: whole-stream encode and decode at each integrity level, with one
//! thread and with every core, and random access: cutting 10 s from the middle of a
//! 1-hour and a 10-hour recording (the time must not grow with the length).
//!
//! Run: `cargo bench -p sasf-benches` (add `-- <filter>` to pick some).

use std::io::Cursor;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sasf_core::{AudioFormat, Decoder, Encoding, Integrity, Key, WriterBuilder};

const LEVELS: [Integrity; 3] = [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted];

fn builder(format: AudioFormat, level: Integrity) -> WriterBuilder {
    let key = Key::from_bytes([7; 32]);
    let b = WriterBuilder::new(format).flush_each_chunk(false);
    match level {
        Integrity::Keyless => b,
        Integrity::Hmac => b.authenticated(key),
        Integrity::Encrypted => b.encrypted(key),
    }
}

fn encode(format: AudioFormat, level: Integrity, audio: &[u8], threads: usize) -> Vec<u8> {
    let mut w = builder(format, level)
        .threads(threads)
        .wrap_output(Vec::with_capacity(audio.len() + audio.len() / 64))
        .unwrap();
    for piece in audio.chunks(256 * 1024) {
        w.write_audio(piece).unwrap();
    }
    w.finish().unwrap()
}

fn streams(c: &mut Criterion) {
    // 32 MiB of 48 kHz 16-bit stereo: one-second chunks of 188 KiB.
    let format = AudioFormat::new(Encoding::S16, 2, 48_000).unwrap();
    let audio: Vec<u8> = (0..32u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let key = Key::from_bytes([7; 32]);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Bytes(audio.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    for level in LEVELS {
        for t in [1, threads] {
            g.bench_function(
                BenchmarkId::new(format!("encode/{}", level.name()), t),
                |b| b.iter(|| encode(format, level, &audio, t)),
            );
            let file = encode(format, level, &audio, 1);
            g.bench_function(
                BenchmarkId::new(format!("decode/{}", level.name()), t),
                |b| {
                    b.iter(|| {
                        let mut r = Decoder::new(&file[..])
                            .unwrap()
                            .threads(t)
                            .open(Some(&key))
                            .unwrap();
                        r.verify_to_end().unwrap()
                    })
                },
            );
        }
    }
    g.finish();
}

fn chunk_seal_open(c: &mut Criterion) {
    // One 1-second chunk of 8 kHz stereo µ-law (16 000 bytes), sealed and opened.
    let format = AudioFormat::new(Encoding::MuLaw, 2, 8000).unwrap();
    let audio = vec![0x55u8; 16_000];
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Bytes(audio.len() as u64));
    for level in LEVELS {
        g.bench_function(BenchmarkId::new("seal", level.name()), |b| {
            let mut w = builder(format, level).wrap_output(std::io::sink()).unwrap();
            b.iter(|| w.write_audio(&audio).unwrap())
        });
        let file = encode(format, level, &audio.repeat(64), 1);
        g.bench_function(BenchmarkId::new("open", level.name()), |b| {
            b.iter(|| {
                let mut r = Decoder::new(&file[..])
                    .unwrap()
                    .open(Some(&Key::from_bytes([7; 32])))
                    .unwrap();
                r.verify_to_end().unwrap()
            })
        });
    }
    g.finish();
}

fn random_access(c: &mut Criterion) {
    // 8 kHz mono µ-law, encrypted: 1 hour is 28.8 MB, 10 hours 288 MB, in memory.
    let format = AudioFormat::new(Encoding::MuLaw, 1, 8000).unwrap();
    let key = Key::from_bytes([7; 32]);
    let second = vec![0xD5u8; 8000];
    let mut g = c.benchmark_group("cut 10 s from the middle");
    g.sample_size(20);
    for hours in [1u64, 10] {
        let mut w = builder(format, Integrity::Encrypted)
            .threads(2)
            .wrap_output(Vec::new())
            .unwrap();
        for _ in 0..hours * 3600 {
            w.write_audio(&second).unwrap();
        }
        let file = w.finish().unwrap();
        let mid = hours * 3600 / 2 * 8000;
        g.bench_function(BenchmarkId::from_parameter(format!("{hours} h")), |b| {
            b.iter(|| {
                let r = Decoder::new(Cursor::new(&file))
                    .unwrap()
                    .open(Some(&key))
                    .unwrap();
                let mut ra = r.into_random_access().unwrap();
                let mut n = 0;
                ra.read_range(mid, mid + 80_000, |d| {
                    n += d.len();
                    Ok(())
                })
                .unwrap();
                assert_eq!(n, 80_000);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, streams, chunk_seal_open, random_access);
criterion_main!(benches);
