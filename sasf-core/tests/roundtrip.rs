//! Round trips: every integrity level × every encoding × boundary sizes, metadata
//! ordering, and proptest round trips.

mod common;
use common::*;

use proptest::prelude::*;
use sasf_core::meta::{EventKind, Role};
use sasf_core::{AudioFormat, Decoder, Encoding, Integrity, Item};

#[test]
fn every_level_every_encoding_boundary_sizes() {
    let key = key();
    let chunk_frames = 64u64;
    let mut cases = 0;
    for level in LEVELS {
        for enc in Encoding::ALL {
            for channels in [1u16, 2, 3] {
                let format = AudioFormat::new(enc, channels, 8000).unwrap();
                let ba = format.block_align();
                for frames in [
                    0u64,
                    1,
                    chunk_frames,
                    chunk_frames + 1,
                    chunk_frames * 7 + 5,
                ] {
                    let audio = noise(frames as usize * ba, frames + channels as u64);
                    let mut w = builder(format, level, &key)
                        .chunk_frames(chunk_frames)
                        .wrap_output(Vec::new())
                        .unwrap();
                    w.write_audio(&audio).unwrap();
                    let file = w.finish().unwrap();
                    let out = read_all(&file, Some(&key));
                    assert!(
                        out.error.is_none(),
                        "{level:?} {enc:?} {frames}: {:?}",
                        out.error
                    );
                    assert_eq!(
                        out.audio, audio,
                        "{level:?} {enc:?} {channels}ch {frames} frames"
                    );
                    let expect_chunks = frames.div_ceil(chunk_frames) as usize;
                    assert_eq!(out.audio_positions.len(), expect_chunks);
                    for (i, p) in out.audio_positions.iter().enumerate() {
                        assert_eq!(*p, i as u64 * chunk_frames);
                    }
                    if level == Integrity::Encrypted && audio.len() >= 16 {
                        assert!(
                            !file.windows(16).any(|w| w == &audio[..16]),
                            "plaintext visible"
                        );
                    }
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 3 * 8 * 3 * 5);
}

#[test]
fn one_byte_at_a_time_matches_bulk_and_partial_frames_wait() {
    let key = key();
    let format = AudioFormat::new(Encoding::S24, 2, 16000).unwrap();
    let audio = noise(6 * 333, 9);
    for level in LEVELS {
        let mk = |bytewise: bool| {
            let mut w = builder(format, level, &key)
                .chunk_frames(50)
                .salt_for_test_vectors([5; 32])
                .wrap_output(Vec::new())
                .unwrap();
            if bytewise {
                for b in &audio {
                    w.write_audio(std::slice::from_ref(b)).unwrap();
                }
            } else {
                w.write_audio(&audio).unwrap();
            }
            w.finish().unwrap()
        };
        assert_eq!(mk(true), mk(false));
    }
}

#[test]
fn finish_refuses_a_partial_frame() {
    let format = AudioFormat::new(Encoding::S16, 2, 8000).unwrap();
    let mut w = sasf_core::WriterBuilder::new(format)
        .wrap_output(Vec::new())
        .unwrap();
    w.write_audio(&[1, 2, 3]).unwrap();
    assert_eq!(w.finish().unwrap_err().class(), "misuse");
}

#[test]
fn metadata_is_interleaved_at_its_sample_and_round_trips() {
    let key = key();
    for level in LEVELS {
        let (file, audio) = small_file(level, &key, 1);
        let out = read_all(&file, Some(&key));
        assert!(out.error.is_none(), "{:?}", out.error);
        assert_eq!(out.audio, audio);
        assert_eq!(out.participants.len(), 2);
        assert_eq!(out.events.len(), 2);
        assert_eq!(
            out.events[1].kind,
            EventKind::Dtmf {
                digits: Some("42".into())
            }
        );
        // INFO is not an item. Audio is never split at an event (100-frame chunks);
        // each event comes just before the audio chunk it happened in.
        assert_eq!(
            out.items,
            ["PART", "PART", "EVNT@0", "AUDI", "EVNT@130", "AUDI", "AUDI", "ANNO", "INDX", "END"]
        );
        assert_eq!(out.audio_positions, [0, 100, 200]);
    }
}

#[test]
fn events_ahead_of_the_audio_wait_and_events_in_the_past_are_refused() {
    let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
    let mut w = sasf_core::WriterBuilder::new(format)
        .chunk_frames(10)
        .wrap_output(Vec::new())
        .unwrap();
    w.add_participant(participant("a", Role::Agent, 0)).unwrap();
    w.add_event(event(25, "a", EventKind::Mute)).unwrap();
    w.write_audio(&[128; 40]).unwrap();
    assert_eq!(
        w.add_event(event(5, "a", EventKind::Unmute))
            .unwrap_err()
            .class(),
        "misuse"
    );
    assert_eq!(
        w.add_event(event(45, "zz", EventKind::Unmute))
            .unwrap_err()
            .class(),
        "invalid-metadata"
    );
    w.add_event(event(60, "a", EventKind::Unmute)).unwrap();
    // The event at 60 lies after the end of the audio (40 frames).
    assert_eq!(w.finish().unwrap_err().class(), "invalid-metadata");
}

#[test]
fn a_writer_dropped_without_finish_reads_as_truncated() {
    let key = key();
    for level in LEVELS {
        let format = AudioFormat::new(Encoding::S16, 1, 8000).unwrap();
        let mut out = Vec::new();
        {
            let mut w = builder(format, level, &key)
                .chunk_frames(10)
                .wrap_output(&mut out)
                .unwrap();
            w.write_audio(&noise(2 * 35, 3)).unwrap();
        }
        let r = read_all(&out, Some(&key));
        assert_eq!(r.error.unwrap().class(), "truncated");
        assert_eq!(
            r.audio.len(),
            2 * 30,
            "three whole chunks were sealed and are authentic"
        );
    }
}

#[test]
fn index_chunks_every_interval_are_checked() {
    let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
    let mut w = sasf_core::WriterBuilder::new(format)
        .chunk_frames(10)
        .index_interval(4)
        .wrap_output(Vec::new())
        .unwrap();
    w.write_audio(&noise(10 * 20, 4)).unwrap();
    let file = w.finish().unwrap();
    let out = read_all(&file, None);
    assert!(out.error.is_none(), "{:?}", out.error);
    // 21 indexed chunks (INFO + 20 audio) in groups of 4, plus a final partial group.
    assert_eq!(out.items.iter().filter(|i| *i == "INDX").count(), 6);
    let mut r = Decoder::new(&file[..]).unwrap().open(None).unwrap();
    let t = r.verify_to_end().unwrap();
    assert_eq!(t.samples, 200);
    assert_eq!(t.chunks, 27);
    assert_eq!(
        stream_start(&file) + t.stream_bytes as usize + 12 + 12 + 80 + 32,
        file.len()
    );
}

#[test]
fn duration_class_is_checked_at_the_end() {
    let format = AudioFormat::new(Encoding::U8, 1, 1000).unwrap();
    let mut w = sasf_core::WriterBuilder::new(format)
        .duration_class(sasf_core::DurationClass::UnderOneMinute)
        .wrap_output(Vec::new())
        .unwrap();
    w.write_audio(&[0; 2000]).unwrap();
    let f = w.finish().unwrap();
    assert!(read_all(&f, None).error.is_none());
    let mut w = sasf_core::WriterBuilder::new(format)
        .duration_class(sasf_core::DurationClass::OneHourOrMore)
        .wrap_output(Vec::new())
        .unwrap();
    w.write_audio(&[0; 2000]).unwrap();
    assert!(w.finish().is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn proptest_round_trip(
        level in 0usize..3,
        enc in 0usize..8,
        channels in 1u16..4,
        rate in 1u32..200_000,
        chunk_frames in 1u64..300,
        frames in 0usize..2000,
        splits in proptest::collection::vec(1usize..700, 0..8),
        events in proptest::collection::vec((0u64..2000, 0u8..4), 0..6),
    ) {
        let key = key();
        let format = AudioFormat::new(Encoding::ALL[enc], channels, rate).unwrap();
        let audio = noise(frames * format.block_align(), frames as u64);
        let mut w = builder(format, LEVELS[level], &key).chunk_frames(chunk_frames).wrap_output(Vec::new()).unwrap();
        w.add_participant(participant("p", Role::Other, 0)).unwrap();
        let mut evs: Vec<_> = events.iter().filter(|(at, _)| (*at as usize) <= frames).collect();
        evs.sort_by_key(|(at, _)| *at);
        for (at, k) in &evs {
            let kind = match k { 0 => EventKind::Hold, 1 => EventKind::Resume, 2 => EventKind::Mute, _ => EventKind::Marker { label: format!("m{at}") } };
            w.add_event(event(*at, "p", kind)).unwrap();
        }
        let mut rest = &audio[..];
        for s in splits {
            let s = s.min(rest.len());
            w.write_audio(&rest[..s]).unwrap();
            rest = &rest[s..];
        }
        w.write_audio(rest).unwrap();
        let file = w.finish().unwrap();
        let out = read_all(&file, Some(&key));
        prop_assert!(out.error.is_none(), "{:?}", out.error);
        prop_assert_eq!(&out.audio, &audio);
        prop_assert_eq!(out.events.len(), evs.len());
        for (e, (at, _)) in out.events.iter().zip(evs.iter()) {
            prop_assert_eq!(e.at_sample, *at);
        }
        // Every event is met just before the audio chunk it happened in.
        let mut samples = 0u64;
        let mut pending: Option<u64> = None;
        let mut it = Decoder::new(&file[..])
            .unwrap()
            .require(sasf_core::Require::Any)
            .open(Some(&key))
            .unwrap();
        while let Some(item) = it.next_item().unwrap() {
            match item {
                Item::Audio { data, .. } => {
                    samples += (data.len() / format.block_align()) as u64;
                    if let Some(p) = pending.take() {
                        prop_assert!(p < samples);
                    }
                }
                Item::Event(e) => {
                    prop_assert!(e.at_sample >= samples);
                    pending = Some(e.at_sample);
                }
                Item::End(t) => prop_assert!(pending.is_none_or(|p| p == t.samples)),
                _ => {}
            }
        }
    }
}

#[test]
fn parallel_sealing_writes_the_same_bytes_as_one_thread() {
    let key = key();
    for level in LEVELS {
        for (chunk_frames, frames) in [
            (7u64, 0usize),
            (7, 1),
            (7, 7),
            (50, 5000),
            (1, 300),
            (4000, 123_457),
        ] {
            let format = AudioFormat::new(Encoding::S16, 2, 8000).unwrap();
            let audio = noise(frames * 4, frames as u64);
            let mk = |threads: usize| {
                let b = builder(format, level, &key)
                    .chunk_frames(chunk_frames)
                    .index_interval(16)
                    .threads(threads)
                    .salt_for_test_vectors([3; 32]);
                // Odd thread counts also write through the output thread.
                let mut w = if threads % 2 == 1 {
                    b.wrap_output(sasf_core::OutputThread(Vec::new())).unwrap()
                } else {
                    b.wrap_output(Vec::new()).unwrap()
                };
                w.add_participant(participant("a", Role::Agent, 0)).unwrap();
                for t in (0..=frames as u64).step_by(997) {
                    w.add_event(event(t, "a", EventKind::Mute)).unwrap();
                }
                for piece in audio.chunks(1001) {
                    w.write_audio(piece).unwrap();
                }
                w.flush().unwrap();
                w.finish().unwrap()
            };
            let one = mk(1);
            for threads in [2, 3, 8] {
                assert!(
                    mk(threads) == one,
                    "{level:?} {chunk_frames} {frames} threads {threads}"
                );
            }
            assert_eq!(read_all(&one, Some(&key)).audio, audio);
        }
    }
}

fn stanza() -> impl Strategy<Value = sasf_core::format::Stanza> {
    (1u16..0x7fff, proptest::collection::vec(any::<u8>(), 0..200))
        .prop_filter("a slot is 96 bytes, a signature 104", |(k, b)| {
            (*k != 1 || b.len() == 96) && (*k != 2 || !b.is_empty())
        })
        .prop_map(|(kind, body)| sasf_core::format::Stanza { kind, body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Any key section that fits its copy is read back exactly, from either copy,
    /// and the copy of the higher generation is the one in force (FORMAT.md §5.1).
    #[test]
    fn proptest_key_area_round_trip(
        recipients in proptest::collection::vec(stanza(), 1..6),
        signatures in proptest::collection::vec(stanza().prop_map(|mut s| {
            if s.kind == 1 { s.body.resize(104, 7); }
            s
        }), 0..4),
        tag in any::<[u8; 32]>(),
        generation in 1u32..1000,
        older_in_a in any::<bool>(),
    ) {
        use sasf_core::format::{KeyArea, KeySection};
        let s = KeySection { generation, recipients, tag: Some(tag), signatures };
        let q = 4096u32;
        let new = s.copy_bytes(q).unwrap();
        let mut old_s = s.clone();
        old_s.generation = generation - 1;
        let old = if generation > 1 { old_s.copy_bytes(q).unwrap() } else { vec![0; q as usize] };
        let copies = if older_in_a { [old, new].concat() } else { [new, old].concat() };
        let a = KeyArea::parse(&copies, Integrity::Encrypted, 0).unwrap();
        prop_assert_eq!(&a.section, &s);
        prop_assert_eq!(a.active, usize::from(older_in_a));
    }
}
