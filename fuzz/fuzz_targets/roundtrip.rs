//! Encode then decode arbitrary audio, participants, events and annotations, at any
//! level, encoding and chunk size: what is read back must equal what was written.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use sasf_core::meta::{Annotation, Event, EventKind, Participant, Role, TransferMode};
use sasf_core::{AudioFormat, Decoder, Encoding, Item, Key, WriterBuilder};

const ROLES: [Role; 6] = [
    Role::Agent,
    Role::Customer,
    Role::Supervisor,
    Role::Ivr,
    Role::System,
    Role::Other,
];

struct Case {
    format: AudioFormat,
    level: u8,
    chunk_frames: u64,
    index_interval: u32,
    audio: Vec<u8>,
    pieces: Vec<usize>,
    participants: Vec<Participant>,
    events: Vec<Event>,
    annotations: Vec<Annotation>,
}

fn text(u: &mut Unstructured<'_>, max: usize) -> Result<String> {
    let s: String = u.arbitrary()?;
    Ok(s.chars().take(max).collect())
}

fn case(u: &mut Unstructured<'_>) -> Result<Case> {
    let encoding = *u.choose(&Encoding::ALL)?;
    let channels = u.int_in_range(1u16..=3)?;
    let sample_rate = *u.choose(&[1u32, 1000, 8000, 44_100, 48_000])?;
    let format = AudioFormat::new(encoding, channels, sample_rate).expect("valid format");
    let frames = u.int_in_range(0usize..=600)?;
    let mut audio = vec![0u8; frames * format.block_align()];
    u.fill_buffer(&mut audio)?;
    let total = frames as u64;
    let mut pieces = Vec::new();
    let mut left = audio.len();
    while left > 0 {
        let n = u.int_in_range(1..=left)?;
        pieces.push(n);
        left -= n;
    }
    let mut participants = Vec::new();
    for i in 0..u.int_in_range(0usize..=3)? {
        let mut p = Participant::new(format!("p{i}"), *u.choose(&ROLES)?);
        if u.arbitrary()? {
            p.name = Some(text(u, 40)?);
        }
        if u.arbitrary()? {
            p.address = Some(text(u, 40)?);
        }
        participants.push(p.with_channels([u.int_in_range(0..=channels - 1)?]));
    }
    let mut events = Vec::new();
    for _ in 0..u.int_in_range(0usize..=8)? {
        let at_sample = u.int_in_range(0..=total)?;
        let who = if participants.is_empty() {
            None
        } else {
            Some(format!("p{}", u.choose_index(participants.len())?))
        };
        let kind = match u.int_in_range(0u8..=6)? {
            0 if who.is_some() => EventKind::Hold,
            1 => EventKind::Marker {
                label: text(u, 60)?,
            },
            2 => EventKind::Dtmf {
                digits: if u.arbitrary()? {
                    None
                } else {
                    let n = u.int_in_range(1usize..=8)?;
                    let mut d = String::new();
                    for _ in 0..n {
                        d.push(*u.choose(&['0', '5', '9', '*', '#', 'A', 'd'])?);
                    }
                    Some(d)
                },
            },
            3 => EventKind::Transfer {
                mode: if u.arbitrary()? {
                    TransferMode::Blind
                } else {
                    TransferMode::Consult
                },
                from: who.clone(),
                // Never empty: the writer refuses an empty `to` (FORMAT.md §9.5).
                to: format!("to {}", text(u, 30)?),
            },
            4 => EventKind::Custom {
                key: "fuzz.value".into(),
                value: serde_json_value(u)?,
            },
            5 => EventKind::Disconnect {
                reason: text(u, 30)?,
            },
            _ => EventKind::SnippetStart,
        };
        let participant = if kind == EventKind::Hold || u.arbitrary()? {
            who
        } else {
            None
        };
        let mut e = Event::new(at_sample, kind);
        e.participant = participant;
        events.push(e);
    }
    let mut annotations = Vec::new();
    for _ in 0..u.int_in_range(0usize..=3)? {
        let mut fields = serde_json::Map::new();
        fields.insert("kind".into(), "tag".into());
        fields.insert("value".into(), text(u, 30)?.into());
        annotations.push(Annotation {
            at_sample: u.int_in_range(0..=total)?,
            fields,
        });
    }
    Ok(Case {
        format,
        level: u.int_in_range(1u8..=3)?,
        chunk_frames: u.int_in_range(1u64..=64)?,
        index_interval: u.int_in_range(1u32..=8)?,
        audio,
        pieces,
        participants,
        events,
        annotations,
    })
}

/// A small JSON value: a string, an integer, or a boolean.
fn serde_json_value(u: &mut Unstructured<'_>) -> Result<serde_json::Value> {
    Ok(match u.int_in_range(0u8..=2)? {
        0 => text(u, 20)?.into(),
        1 => u.arbitrary::<i64>()?.into(),
        _ => u.arbitrary::<bool>()?.into(),
    })
}

fn run(c: Case) {
    let key = Key::from_bytes([0x42; 32]);
    let b = WriterBuilder::new(c.format)
        .chunk_frames(c.chunk_frames)
        .index_interval(c.index_interval);
    let b = match c.level {
        1 => b,
        2 => b.authenticated(key.clone()),
        _ => b.encrypted(key.clone()),
    };
    let mut w = b.wrap_output(Vec::new()).expect("writer");
    for p in &c.participants {
        w.add_participant(p.clone()).expect("participant");
    }
    for e in &c.events {
        w.add_event(e.clone()).expect("event");
    }
    for a in &c.annotations {
        w.add_annotation(a.clone()).expect("annotation");
    }
    let mut at = 0;
    for n in &c.pieces {
        w.write_audio(&c.audio[at..at + n]).expect("audio");
        at += n;
    }
    let file = w.finish().expect("finish");

    // A keyless file is opened without the key: with one, the reader would require
    // authentication by it (FORMAT.md §13).
    let key_for_reading = (c.level > 1).then_some(&key);
    let mut r = Decoder::new(&file[..])
        .and_then(|d| d.open(key_for_reading))
        .expect("open");
    let (mut audio, mut parts, mut events, mut annos) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut ended = false;
    while let Some(item) = r.next_item().expect("a file just written reads back") {
        match item {
            Item::Audio { data, .. } => audio.extend_from_slice(data),
            Item::Participant { participant, .. } => parts.push(participant),
            Item::Event(e) => events.push(e),
            Item::Annotation(a) => annos.push(a),
            Item::End(t) => {
                assert_eq!(t.audio_bytes, c.audio.len() as u64);
                ended = true;
            }
            _ => {}
        }
    }
    assert!(ended);
    assert_eq!(audio, c.audio);
    assert_eq!(parts, c.participants);
    // The writer keeps items given for one instant in the order they were given.
    let mut want_events = c.events.clone();
    want_events.sort_by_key(|e| e.at_sample);
    assert_eq!(events, want_events);
    let mut want_annos = c.annotations.clone();
    want_annos.sort_by_key(|a| a.at_sample);
    assert_eq!(annos, want_annos);
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(c) = case(&mut u) {
        run(c);
    }
});
