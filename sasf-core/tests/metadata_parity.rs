//! Writer/reader parity for metadata (FORMAT-REQUIREMENTS rule 18, issue 11 point 4):
//! whatever the writer accepts, the written file verifies and gives the records back;
//! whatever a reader would refuse, the writer refuses at the call.
//!
//! "A reader would refuse" is asked of the reader's own parsing functions, fed the
//! payload the writer would have stored: a file holding a refused record cannot be
//! written by the writer, by design, and sealing one by hand here would tie this test
//! to the chunk framing.

mod common;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use common::{builder, key, LEVELS};
use sasf_core::meta::{
    self, Annotation, Event, EventKind, Participant, RecordingInfo, Role, Timestamp, TransferMode,
};
use sasf_core::{AudioFormat, Decoder, Encoding, ErrorKind, Integrity, Item};

const CHANNELS: u16 = 2;
const FRAMES: u64 = 400;

fn format() -> AudioFormat {
    AudioFormat::new(Encoding::MuLaw, CHANNELS, 8000).unwrap()
}

/// The reader's verdict on a record's payload: the strict parser, then the record's
/// parser (which runs the record's validation function). It must accept the payload
/// and give back the very record: an `extra` member that a reader would take for a
/// member SASF defines makes a different record, and the writer must refuse it.
fn reader_info(i: &RecordingInfo) -> bool {
    meta::parse_document(&i.to_json().to_string())
        .and_then(|v| RecordingInfo::from_json(&v, "recording", CHANNELS))
        .is_ok_and(|back| &back == i)
}

fn reader_participant(p: &Participant, declared: &[String]) -> bool {
    // Declaring an id twice is a rule of the stream, not of the record.
    !declared.contains(&p.id)
        && meta::parse_document(&p.to_json().to_string())
            .and_then(|v| Participant::from_json(&v, "PART", CHANNELS))
            .is_ok_and(|back| &back == p)
}

fn reader_event(e: &Event, declared: &[String]) -> bool {
    let known = |id: &str| declared.iter().any(|d| d == id);
    meta::parse_document(&e.to_payload().to_string())
        .and_then(|v| Event::from_payload(&v, "EVNT", e.at_sample, Some(&known)))
        .is_ok_and(|back| &back == e)
}

fn reader_annotation(a: &Annotation) -> bool {
    meta::parse_document(&a.to_payload().to_string())
        .and_then(|v| Annotation::from_payload(&v, "ANNO", a.at_sample))
        .is_ok_and(|back| &back == a)
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

// ---------- generators: mostly valid records, with every kind of flaw mixed in ----------

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a1", "c1", "s1"]).prop_map(String::from),
        1 => Just(String::new()),
        1 => Just("x".repeat(257)),
        1 => Just("x".repeat(256)),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["Ann", "+15551234567", "sip:a@b", "ünïcødé \"q\""])
            .prop_map(String::from),
        1 => Just("t".repeat(4097)),
        1 => Just(String::new()),
    ]
}

fn extra(defined: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    let names: Vec<&'static str> = defined.to_vec();
    prop_oneof![
        6 => Just(Map::new()),
        1 => Just(obj(json!({"crm": null, "n": 1e300, "big": u64::MAX}))),
        1 => Just(obj(json!({"nested": {"a": [null, {"b": -0.5}]}}))),
        1 => prop::sample::select(names).prop_map(|n| {
            let mut m = Map::new();
            m.insert(n.to_string(), "collides".into());
            m
        }),
        1 => Just(obj(json!({"at_ms": 5}))),
        1 => Just(obj(json!({"deep": json_deep(40)}))),
    ]
}

fn json_deep(n: usize) -> Value {
    (0..n).fold(Value::Null, |v, _| Value::Array(vec![v]))
}

fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["2026-11-23T10:15:00Z", "2026-11-23T10:15:06.25Z"])
            .prop_map(String::from),
        1 => bad_timestamp(),
    ]
}

fn bad_timestamp() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "yesterday at noon",
        "2026-11-23t10:15:00Z",
        "2026-11-23 10:15:00Z",
        "2026-11-23T10:15:00+01:00",
        "2026-02-30T00:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-12-31T23:59:60Z",
        "2026-11-23T10:15:00",
    ])
    .prop_map(String::from)
}

fn info() -> impl Strategy<Value = RecordingInfo> {
    (
        prop::option::weighted(0.5, prop_oneof![5 => id(), 1 => Just(String::new())]),
        prop::option::of(timestamp()),
        prop_oneof![
            3 => Just(vec![]),
            3 => Just(vec!["agent".to_string(), "customer".to_string()]),
            1 => Just(vec!["agent".to_string()]),
            1 => Just(vec![String::new(), "c1".to_string()]),
        ],
        extra(&["id", "started_at", "channels"]),
    )
        .prop_map(|(id, started_at, channels, extra)| {
            // A typed start anchor holds only a valid text; the invalid ones are the
            // documents' business (the vectors `info-started-at-*`).
            let mut info = RecordingInfo::new().with_channels(channels);
            info.id = id;
            info.started_at = started_at.and_then(|s| s.parse::<Timestamp>().ok());
            info.extra = extra;
            info
        })
}

fn participant() -> impl Strategy<Value = Participant> {
    (
        id(),
        prop::option::of(text()),
        prop::sample::select(vec![Role::Agent, Role::Customer, Role::Ivr, Role::Other]),
        prop::option::of(text()),
        prop::collection::vec(0u16..3, 0..3),
        extra(&["id", "name", "role", "address", "channels"]),
    )
        .prop_map(|(id, name, role, address, channels, extra)| {
            let mut p = Participant::new(id, role).with_channels(channels);
            p.name = name;
            p.address = address;
            p.extra = extra;
            p
        })
}

fn kind() -> impl Strategy<Value = EventKind> {
    let value = prop_oneof![
        Just(json!(12345)),
        Just(Value::Null),
        Just(json!({"a": null})),
        Just(json!({"at_sample": 1, "original_bytes": 2, "reason": "truncated"})),
        Just(json!({"at_sample": null, "original_bytes": 2, "reason": "truncated"})),
    ];
    let custom_key = prop::sample::select(vec![
        "crm.case",
        "flat",
        ".x",
        "sasf.recovered",
        "sasf.merge",
        "sasf.other",
    ]);
    prop_oneof![
        Just(EventKind::Join),
        Just(EventKind::Hold),
        Just(EventKind::Pause),
        Just(EventKind::SnippetStart),
        prop::collection::vec(id(), 0..3)
            .prop_map(|participants| EventKind::Conference { participants }),
        (
            prop::option::of(text()),
            prop_oneof![id(), Just(String::new())]
        )
            .prop_map(|(from, to)| EventKind::Transfer {
                mode: TransferMode::Consult,
                from,
                to
            }),
        prop::option::of(prop::sample::select(vec!["42", "*#0A", "", "4x", "12 3"])).prop_map(
            |d| EventKind::Dtmf {
                digits: d.map(String::from)
            }
        ),
        text().prop_map(|label| EventKind::Marker { label }),
        text().prop_map(|reason| EventKind::Disconnect { reason }),
        (custom_key, value).prop_map(|(key, value)| EventKind::Custom {
            key: key.into(),
            value
        }),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        0..=FRAMES,
        prop::option::of(prop_oneof![id(), Just("zz".to_string())]),
        kind(),
        prop_oneof![
            4 => Just(Map::new()),
            1 => Just(obj(json!({"note": null}))),
            1 => Just(obj(json!({"redacted": true}))),
            1 => Just(obj(json!({"type": "marker"}))),
            1 => Just(obj(json!({"at_sample": 3}))),
            1 => Just(obj(json!({"participant": "a1"}))),
        ],
    )
        .prop_map(|(at_sample, participant, kind, extra)| {
            let mut e = Event::new(at_sample, kind);
            e.participant = participant;
            e.extra = extra;
            e
        })
}

fn annotation() -> impl Strategy<Value = Annotation> {
    (
        0..=FRAMES,
        prop::sample::select(vec![
            json!({"kind": "tag", "value": "escalated"}),
            json!({"kind": "tag", "value": null}),
            json!({"kind": ""}),
            json!({"kind": null}),
            json!({"value": "no kind"}),
            json!({"kind": "tag", "at": "2026-11-23T10:15:00Z", "by": "qa"}),
            json!({"kind": "tag", "at": "2026-11-23T10:15:00+00:00"}),
            json!({"kind": "tag", "at_ms": 1}),
            json!({"kind": "tag", "prev_manifest": "ab"}),
        ]),
    )
        .prop_map(|(at_sample, f)| Annotation {
            at_sample,
            fields: obj(f),
        })
}

#[derive(Debug, Clone)]
enum Record {
    Participant(Participant),
    Event(Event),
    Annotation(Annotation),
}

fn records() -> impl Strategy<Value = Vec<Record>> {
    (
        prop::collection::vec(participant(), 0..4),
        prop::collection::vec(event(), 0..6),
        prop::collection::vec(annotation(), 0..3),
    )
        .prop_map(|(ps, mut es, mut xs)| {
            es.sort_by_key(|e| e.at_sample);
            xs.sort_by_key(|a| a.at_sample);
            let mut v: Vec<Record> = ps.into_iter().map(Record::Participant).collect();
            v.extend(es.into_iter().map(Record::Event));
            v.extend(xs.into_iter().map(Record::Annotation));
            v
        })
}

fn is_reserved(e: &Event) -> bool {
    matches!(&e.kind, EventKind::Custom { key, .. } if key.starts_with("sasf."))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_writer_accepts_exactly_what_the_reader_accepts(
        info in info(),
        records in records(),
        level in prop::sample::select(LEVELS.to_vec()),
    ) {
        let k = key();
        let w = builder(format(), level, &k)
            .chunk_frames(100)
            .info(info.clone())
            .wrap_output(Vec::new());
        prop_assert_eq!(w.is_ok(), reader_info(&info), "INFO {:?}", info);
        let Ok(mut w) = w else { return Ok(()) };

        let mut declared: Vec<String> = Vec::new();
        let (mut parts, mut events, mut annos) = (Vec::new(), Vec::new(), Vec::new());
        for r in records {
            match r {
                Record::Participant(p) => {
                    let reader = reader_participant(&p, &declared);
                    let writer = w.add_participant(p.clone());
                    prop_assert_eq!(writer.is_ok(), reader, "{:?}: {:?}", p, writer.err());
                    if reader {
                        declared.push(p.id.clone());
                        parts.push(p);
                    }
                }
                Record::Event(e) => {
                    // Reserved keys: valid in a file, refused from a user.
                    let reader = reader_event(&e, &declared);
                    let writer = w.add_event(e.clone());
                    prop_assert_eq!(
                        writer.is_ok(),
                        reader && !is_reserved(&e),
                        "{:?}: {:?}", e, writer.err()
                    );
                    if let Err(err) = writer {
                        prop_assert!(
                            matches!(err.kind(), ErrorKind::InvalidMetadata { path, .. } if path.starts_with("event")),
                            "{:?}", err
                        );
                    } else {
                        events.push(e);
                    }
                }
                Record::Annotation(a) => {
                    let reader = reader_annotation(&a);
                    let writer = w.add_annotation(a.clone());
                    prop_assert_eq!(writer.is_ok(), reader, "{:?}: {:?}", a, writer.err());
                    if reader {
                        annos.push(a);
                    }
                }
            }
        }
        w.write_audio(&common::noise(FRAMES as usize * CHANNELS as usize, 7)).unwrap();
        let bytes = w.finish().expect("everything accepted can be finished");

        // The written file verifies and gives back exactly what was accepted.
        let key_arg = (level != Integrity::Keyless).then_some(&k);
        let mut r = Decoder::new(&bytes[..]).unwrap().open(key_arg).unwrap();
        prop_assert_eq!(r.info(), &info);
        let (mut got_p, mut got_e, mut got_a) = (Vec::new(), Vec::new(), Vec::new());
        loop {
            match r.next_item() {
                Ok(Some(Item::Participant { participant, .. })) => got_p.push(participant),
                Ok(Some(Item::Event(e))) => got_e.push(e),
                Ok(Some(Item::Annotation(a))) => got_a.push(a),
                Ok(Some(Item::End(_))) | Ok(None) => break,
                Ok(Some(_)) => {}
                Err(e) => prop_assert!(false, "the written file was refused: {}", e),
            }
        }
        prop_assert_eq!(got_p, parts);
        // Events and annotations at one time keep their order; across kinds the file
        // interleaves them by time, so compare each list on its own.
        prop_assert_eq!(got_e, events);
        prop_assert_eq!(got_a, annos);
    }
}

// ---------- the cases issue 11 measured, one by one ----------

fn refusal_path(r: sasf_core::Result<()>) -> String {
    match r.expect_err("refused").into_kind() {
        ErrorKind::InvalidMetadata { path, .. } => path,
        k => panic!("not invalid-metadata: {k:?}"),
    }
}

#[test]
fn the_writer_refuses_at_the_call_what_v1_wrote_and_could_not_read() {
    // The start anchor is typed: a text v1 wrote and could not read is refused where
    // it becomes a `Timestamp`, so the writer never sees it.
    let start = |started_at: &str| {
        let at = started_at.parse::<Timestamp>().map_err(|e| e.to_string())?;
        builder(format(), Integrity::Keyless, &key())
            .info(RecordingInfo::new().with_started_at(at))
            .wrap_output(Vec::new())
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    for bad in [
        "yesterday at noon",
        "2026-11-23t10:15:00Z",
        "2026-11-23 10:15:00Z",
        "2026-11-23T10:15:00+01:00",
        "2026-02-30T00:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T10:15:60Z",
        "2026-11-23T10:15:00",
    ] {
        let e = start(bad).expect_err(bad);
        assert!(e.contains("is not YYYY-MM-DDTHH:MM:SS"), "{bad}: {e}");
    }
    start("2026-11-23T10:15:00.5Z").unwrap();

    let mut w = builder(format(), Integrity::Keyless, &key())
        .wrap_output(Vec::new())
        .unwrap();
    let mut p = common::participant("", Role::Agent, 0);
    assert_eq!(refusal_path(w.add_participant(p.clone())), "participant.id");
    p.id = "a1".into();
    p.extra = obj(json!({"role": "boss"}));
    assert_eq!(
        refusal_path(w.add_participant(p.clone())),
        "participant.role"
    );
    p.extra = Map::new();
    w.add_participant(p.clone()).unwrap();
    assert_eq!(refusal_path(w.add_participant(p)), "participant.id");

    // dtmf: typed digits plus a `redacted: true` smuggled in through `extra`.
    let mut e = common::event(
        0,
        "a1",
        EventKind::Dtmf {
            digits: Some("42".into()),
        },
    );
    e.extra = obj(json!({"redacted": true}));
    assert_eq!(refusal_path(w.add_event(e)), "event.redacted");

    // Reserved keys belong to the library's recover and merge code.
    for key in ["sasf.recovered", "sasf.merge", "sasf.anything"] {
        let e = Event::new(
            0,
            EventKind::Custom {
                key: key.into(),
                value: json!({"at_sample": 0, "original_bytes": 0, "reason": "complete"}),
            },
        );
        assert_eq!(refusal_path(w.add_event(e)), "event.key", "{key}");
    }

    // Past the default reader limits: refused at the call, not at `finish`.
    let deep = Annotation {
        at_sample: 0,
        fields: obj(json!({"kind": "tag", "v": json_deep(32)})),
    };
    assert_eq!(refusal_path(w.add_annotation(deep)), "annotation");

    // Nothing refused poisoned the writer; the file is whole.
    w.write_audio(&[0u8; 20]).unwrap();
    let bytes = w.finish().unwrap();
    Decoder::new(&bytes[..])
        .unwrap()
        .open(None)
        .unwrap()
        .verify_to_end()
        .unwrap();
}
