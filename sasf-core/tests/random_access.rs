//! Random access through the index, and crash recovery.

mod common;
use common::*;

use std::io::Cursor;

use sasf_core::bridge::read_range_stream;
use sasf_core::meta::{EventKind, Role};
use sasf_core::recover::recover;
use sasf_core::{AudioFormat, Decoder, Encoding, Integrity, Item};

/// A file of 3000 frames (u8 stereo) in 30 chunks, an index every 8 chunks, and
/// events every 250 frames.
fn long_file(level: Integrity) -> (Vec<u8>, Vec<u8>) {
    let format = AudioFormat::new(Encoding::U8, 2, 8000).unwrap();
    let audio = noise(2 * 3000, 77);
    let mut w = builder(format, level, &key())
        .chunk_frames(100)
        .index_interval(8)
        .wrap_output(Vec::new())
        .unwrap();
    w.add_participant(participant("a", Role::Agent, 0)).unwrap();
    for t in (0..=3000).step_by(250) {
        w.add_event(event(
            t,
            "a",
            EventKind::Marker {
                label: format!("t{t}"),
            },
        ))
        .unwrap();
    }
    w.write_audio(&audio).unwrap();
    (w.finish().unwrap(), audio)
}

#[test]
fn ranges_read_through_the_index_match_the_stream() {
    for level in LEVELS {
        let (file, audio) = long_file(level);
        for (from, to) in [
            (0, 3000),
            (0, 1),
            (1234, 2345),
            (100, 200),
            (250, 250),
            (2999, 3000),
            (2900, 9999),
            (0, 0),
            (1000, 1001),
            // A range that ends before an event inside the same audio chunk (the
            // event's chunk comes before the audio chunk in the stream).
            (200, 210),
            (2700, 2710),
            (1, 2),
        ] {
            let mut ra = Decoder::new(Cursor::new(&file))
                .unwrap()
                .require(sasf_core::Require::Any)
                .open(Some(&key()))
                .unwrap()
                .into_random_access()
                .unwrap();
            assert_eq!(ra.totals().samples, 3000);
            let mut got = Vec::new();
            let m = ra
                .read_range(from, to, |d| {
                    got.extend_from_slice(d);
                    Ok(())
                })
                .unwrap();
            let end = to.min(3000) as usize;
            let start = (from as usize).min(end);
            assert_eq!(got, audio[start * 2..end * 2], "{level:?} {from}..{to}");
            let want: Vec<u64> = (0..=3000u64)
                .step_by(250)
                .filter(|t| *t >= start as u64 && *t <= end as u64)
                .map(|t| t - start as u64)
                .collect();
            let times: Vec<u64> = m.events.iter().map(|e| e.at_sample).collect();
            assert_eq!(times, want, "{level:?} {from}..{to}");
            assert_eq!(m.participants.len(), 1);
            // The streaming fallback gives the same.
            let mut r = Decoder::new(&file[..])
                .unwrap()
                .require(sasf_core::Require::Any)
                .open(Some(&key()))
                .unwrap();
            let mut got2 = Vec::new();
            let m2 = read_range_stream(&mut r, from, to, 1000, |d| {
                got2.extend_from_slice(d);
                Ok(())
            })
            .unwrap();
            assert_eq!(got2, got);
            assert_eq!(m2.events, m.events);
        }
    }
}

#[test]
fn random_access_reads_only_what_it_needs_and_authenticates_it() {
    for level in LEVELS {
        let (file, _) = long_file(level);
        let (header, chunks) = split(&file, level.tag_len());
        // Find the audio chunks by re-reading: chunk i's timestamp via streaming.
        let mut r = Decoder::new(&file[..])
            .unwrap()
            .require(sasf_core::Require::Any)
            .open(Some(&key()))
            .unwrap();
        let mut audio_chunks = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            if c.chunk_type == sasf_core::ChunkType::AUDIO {
                audio_chunks.push((c.index as usize, c.timestamp));
            }
        }
        let (early, _) = audio_chunks[1]; // frames 100..200
        let (mid, mid_ts) = audio_chunks[15];
        for (victim, expect_ok) in [(early, true), (mid, false)] {
            let mut c = chunks.clone();
            let n = c[victim].len();
            c[victim][n - 1] ^= 1;
            let f = join(&header, &c);
            let mut ra = Decoder::new(Cursor::new(&f))
                .unwrap()
                .require(sasf_core::Require::Any)
                .open(Some(&key()))
                .unwrap()
                .into_random_access()
                .unwrap();
            let res = ra.read_range(mid_ts, mid_ts + 50, |_| Ok(()));
            assert_eq!(res.is_ok(), expect_ok, "{level:?} victim {victim}");
            if let Err(e) = res {
                assert_eq!(e.class(), "auth-failed");
            }
        }
        // A damaged END chunk, or none at all, stops random access before anything is read.
        let mut c = chunks.clone();
        let last = c.len() - 1;
        c[last][20] ^= 1;
        let e = Decoder::new(Cursor::new(join(&header, &c)))
            .unwrap()
            .require(sasf_core::Require::Any)
            .open(Some(&key()))
            .unwrap()
            .into_random_access()
            .err()
            .unwrap();
        assert_eq!(e.class(), "auth-failed");
        let e = Decoder::new(Cursor::new(join(&header, &chunks[..last])))
            .unwrap()
            .require(sasf_core::Require::Any)
            .open(Some(&key()))
            .unwrap()
            .into_random_access()
            .err()
            .unwrap();
        assert_eq!(e.class(), "truncated");
        let mut f = file.clone();
        f.push(0);
        let e = Decoder::new(Cursor::new(f))
            .unwrap()
            .require(sasf_core::Require::Any)
            .open(Some(&key()))
            .unwrap()
            .into_random_access()
            .err()
            .unwrap();
        // The END chunk is found before the stray byte, which is then judged as what
        // follows END is (docs/FORMAT.md §21): not a segment, so trailing data, as
        // when streaming.
        assert_eq!(e.class(), "trailing-data");
    }
}

fn audio_of(file: &[u8]) -> (Vec<u8>, sasf_core::Totals, Vec<sasf_core::meta::Event>) {
    let mut r = Decoder::new(file)
        .unwrap()
        .require(sasf_core::Require::Any)
        .open(Some(&key()))
        .unwrap();
    let mut a = Vec::new();
    let mut ev = Vec::new();
    loop {
        match r.next_item().unwrap().unwrap() {
            Item::Audio { data, .. } => a.extend_from_slice(data),
            Item::Event(e) => ev.push(e),
            Item::End(t) => return (a, t, ev),
            _ => {}
        }
    }
}

#[test]
fn recovery_keeps_exactly_the_authenticated_prefix_at_every_cut() {
    for level in LEVELS {
        let (file, audio) = long_file(level);
        let step = (file.len() / 97).max(1);
        // Every cut after the INFO chunk (padded to 256 bytes).
        let first = stream_start(&file) + 12 + 256 + level.tag_len();
        for cut in (first..file.len()).step_by(step).chain([file.len() - 1]) {
            let broken = &file[..cut];
            let k = (level != Integrity::Keyless).then(key);
            let (fixed, rep) = recover(broken, k.as_ref(), Vec::new()).unwrap();
            assert_eq!(
                rep.stop.as_ref().unwrap().class(),
                "truncated",
                "{level:?} cut {cut}"
            );
            let (a, t, ev) = audio_of(&fixed);
            assert!(t.recovered());
            assert_eq!(
                a[..],
                audio[..a.len()],
                "{level:?} cut {cut}: a prefix of the original"
            );
            // At most the chunk in progress (100 frames) plus what followed is lost.
            let last = ev.last().unwrap();
            assert!(matches!(&last.kind, EventKind::Custom { key, .. } if key == "sasf.recovered"));
            assert_eq!(rep.samples as usize * 2, a.len());
        }
        // A damaged chunk in the middle: nothing past it is recovered.
        let (header, mut chunks) = split(&file, level.tag_len());
        let k = chunks.len() / 2;
        chunks[k][13] ^= 0x40;
        let broken = join(&header, &chunks);
        let kk = (level != Integrity::Keyless).then(key);
        let (fixed, rep) = recover(&broken[..], kk.as_ref(), Vec::new()).unwrap();
        assert_eq!(rep.stop.unwrap().class(), "auth-failed");
        assert_eq!(rep.chunks_kept as usize, k);
        let (a, _, _) = audio_of(&fixed);
        assert!(a.len() < audio.len() && a[..] == audio[..a.len()]);
    }
}

#[test]
fn recovery_needs_an_authentic_header_and_info() {
    let (file, _) = long_file(Integrity::Encrypted);
    assert_eq!(
        recover(&file[..100], Some(&key()), Vec::new())
            .unwrap_err()
            .class(),
        "truncated"
    );
    assert_eq!(
        recover(
            &file[..],
            Some(&sasf_core::Key::from_bytes([9; 32])),
            Vec::new()
        )
        .unwrap_err()
        .class(),
        "wrong-key"
    );
    let mut f = file.clone();
    let info = common::stream_start(&f) + 20;
    f[info] ^= 1; // inside the INFO chunk
    assert_eq!(
        recover(&f[..], Some(&key()), Vec::new())
            .unwrap_err()
            .class(),
        "auth-failed"
    );
}

/// Hostile files kept from review and fuzzing: random access must refuse them with an
/// error, never panic.
#[test]
fn random_access_refuses_the_kept_hostile_files() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/fuzz-fixtures/seek");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        let res = Decoder::new(Cursor::new(&bytes))
            .and_then(|d| d.open(None))
            .and_then(|r| r.into_random_access())
            .and_then(|mut ra| ra.read_range(0, 1, |_| Ok(())));
        assert!(res.is_err());
        n += 1;
    }
    assert!(n >= 1);
}

#[test]
fn many_threads_work_for_writing_and_reading() {
    let format = AudioFormat::new(Encoding::S16, 2, 8000).unwrap();
    let audio = noise(4 * 20_000, 5);
    for threads in [17, 40] {
        let mut w = builder(format, Integrity::Encrypted, &key())
            .chunk_frames(100)
            .threads(threads)
            .max_chunk_len(16 * 1024 * 1024)
            .wrap_output(Vec::new())
            .unwrap();
        w.write_audio(&audio).unwrap();
        let file = w.finish().unwrap();
        let out = read_all_threads(&file, Some(&key()), threads);
        assert!(out.error.is_none(), "{:?}", out.error);
        assert_eq!(out.audio, audio);
    }
}
