//! Issue 14, the library API as a vendor embedding it meets it: a key file is read
//! from a path (`Key::read_key_file`) or parsed from its text (`Key::from_key_text`);
//! the old name, which took the contents and not a path, is deprecated. `Participant`,
//! `Event` and `RecordingInfo` are made by constructors (they are `#[non_exhaustive]`:
//! a literal does not compile outside the crate); `started_at` is a `Timestamp`; and
//! one `wrap_output` takes any writer, or an `OutputThread` around one.

use sasf_core::meta::{Event, EventKind, Participant, RecordingInfo, Role, Timestamp};
use sasf_core::{AudioFormat, Decoder, Encoding, Item, Key, OutputThread, WriterBuilder};

#[test]
fn key_files_are_read_by_path_or_parsed_from_text() {
    let dir = tempfile::tempdir().unwrap();
    let key = Key::generate().unwrap();
    let p = dir.path().join("archive.key");
    std::fs::write(&p, key.to_key_file().as_bytes()).unwrap();
    // (what, the call, key bytes expected or the error class).
    let rows: Vec<(&str, sasf_core::Result<Key>, Option<&str>)> = vec![
        ("by path", Key::read_key_file(&p), None),
        (
            "from its text",
            Key::from_key_text(key.to_key_file().as_bytes()),
            None,
        ),
        (
            "a missing file",
            Key::read_key_file(&dir.path().join("nope.key")),
            Some("io"),
        ),
        (
            "a path given as text",
            Key::from_key_text(p.to_str().unwrap().as_bytes()),
            Some("invalid-key"),
        ),
    ];
    for (what, got, err) in rows {
        match (got, err) {
            (Ok(k), None) => assert_eq!(k.as_bytes(), key.as_bytes(), "{what}"),
            (Err(e), Some(class)) => assert_eq!(e.class(), class, "{what}"),
            (other, _) => panic!("{what}: {other:?}"),
        }
    }
    let big = dir.path().join("big.key");
    std::fs::write(&big, vec![b'#'; 70 * 1024]).unwrap();
    assert_eq!(Key::read_key_file(&big).unwrap_err().class(), "invalid-key");
    #[allow(deprecated)]
    let old = Key::from_key_file(key.to_key_file().as_bytes()).unwrap();
    assert_eq!(old.as_bytes(), key.as_bytes());
}

/// Writes a small call through the constructors and reads it back.
fn call(
    threads: usize,
    output_thread: bool,
) -> (Vec<u8>, RecordingInfo, Vec<Participant>, Vec<Event>) {
    let format = AudioFormat::new(Encoding::S16, 2, 8000).unwrap();
    let info = RecordingInfo::new()
        .with_id("call-api")
        .with_started_at("2026-11-23T10:15:00.500Z".parse().unwrap())
        .with_channels(["a1", "c1"])
        .with_extra("tenant", "acme");
    let b = WriterBuilder::new(format)
        .info(info)
        .chunk_frames(400)
        .threads(threads)
        .salt_for_test_vectors([5; 32]);
    let mut w = if output_thread {
        b.wrap_output(OutputThread(Vec::new())).unwrap()
    } else {
        b.wrap_output(Vec::new()).unwrap()
    };
    w.add_participant(
        Participant::new("a1", Role::Agent)
            .with_name("Ann Agent")
            .with_address("+15550100")
            .with_channels([0]),
    )
    .unwrap();
    w.add_participant(Participant::new("c1", Role::Customer).with_channels([1]))
        .unwrap();
    w.add_event(Event::new(800, EventKind::Hold).with_participant("a1"))
        .unwrap();
    w.add_event(
        Event::new(
            1600,
            EventKind::Marker {
                label: "promise".into(),
            },
        )
        .with_extra("x-crm", "case-9"),
    )
    .unwrap();
    w.write_audio(&vec![7u8; 8000 * 4]).unwrap();
    let bytes = w.finish().unwrap();
    let mut r = Decoder::new(&bytes[..]).unwrap().open(None).unwrap();
    let (mut parts, mut events) = (vec![], vec![]);
    while let Some(item) = r.next_item().unwrap() {
        match item {
            Item::Participant { participant, .. } => parts.push(participant),
            Item::Event(e) => events.push(e),
            _ => {}
        }
    }
    let info = r.info().clone();
    (bytes, info, parts, events)
}

#[test]
fn records_are_made_by_constructors_and_read_back_equal() {
    let (_, info, parts, events) = call(1, false);
    assert_eq!(info.id.as_deref(), Some("call-api"));
    let at = info.started_at.as_ref().expect("a start anchor");
    assert_eq!(
        at.as_str(),
        "2026-11-23T10:15:00.500Z",
        "the text as written"
    );
    assert_eq!(at.utc().millisecond(), 500, "and the instant");
    assert_eq!(info.channels, ["a1", "c1"]);
    assert_eq!(info.extra["tenant"], "acme");
    assert_eq!(
        parts,
        [
            Participant::new("a1", Role::Agent)
                .with_name("Ann Agent")
                .with_address("+15550100")
                .with_channels([0]),
            Participant::new("c1", Role::Customer).with_channels([1]),
        ]
    );
    assert_eq!(
        events[0],
        Event::new(800, EventKind::Hold).with_participant("a1")
    );
    assert_eq!(events[1].extra["x-crm"], "case-9");
    assert_eq!(events[1].participant, None);
}

#[test]
fn a_start_anchor_is_a_time_not_any_string() {
    // (text, accepted).
    for (text, ok) in [
        ("2026-11-23T10:15:00Z", true),
        ("2026-11-23T10:15:00.000000001Z", true),
        ("2026-11-23T10:15:00+01:00", false),
        ("2026-11-23 10:15:00Z", false),
        ("yesterday", false),
        ("2026-02-30T00:00:00Z", false),
    ] {
        assert_eq!(text.parse::<Timestamp>().is_ok(), ok, "{text}");
    }
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_795_428_906_500_000_000)
        .unwrap()
        .to_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap());
    let t = Timestamp::from_utc(t).unwrap();
    assert_eq!(
        t.as_str(),
        "2026-11-23T10:15:06.5Z",
        "an instant in canonical UTC text"
    );
}

#[test]
fn one_wrap_output_writes_the_same_bytes_on_the_callers_thread_or_its_own() {
    let (direct, ..) = call(1, false);
    for (threads, output_thread) in [(1, true), (2, false), (2, true), (3, true)] {
        let (bytes, ..) = call(threads, output_thread);
        assert!(
            bytes == direct,
            "{threads} threads, output thread {output_thread}"
        );
    }
}
