//! Annotation segments appended in place (docs/FORMAT.md §21): appends by every level,
//! streaming and random access agreeing, every torn append, concurrent appenders, and
//! the recording's bytes, manifest and signatures untouched.

mod common;

use std::path::Path;

use common::*;
use sasf_core::meta::annotation::Record;
use sasf_core::{annotate, Decoder, Integrity, Key, Keyring, Require, SigningKey};

fn keys_for(level: Integrity, key: &Key) -> Keyring {
    match level {
        Integrity::Keyless => Keyring::new(),
        _ => Keyring::from_key(key.clone()),
    }
}

fn record_json(n: usize) -> Vec<u8> {
    format!(r#"{{"by":"qa{n}@example.com","at":"2026-12-01T10:00:00Z","ops":[{{"op":"tag","tag":"t{n}"}}]}}"#).into_bytes()
}

fn record(n: usize) -> Record {
    Record::from_json(&record_json(n)).unwrap()
}

/// Streaming (one and two threads) and random access over `bytes`: the segments each
/// found, and the file digest.
fn read_both(
    bytes: &[u8],
    level: Integrity,
    key: &Key,
) -> (sasf_core::io::segments::Segments, [u8; 32]) {
    let keys = keys_for(level, key);
    let mut seen = Vec::new();
    for threads in [1, 2] {
        let mut r = Decoder::new(bytes)
            .unwrap()
            .threads(threads)
            .require(Require::Any)
            .open_with(&keys)
            .unwrap();
        r.verify_to_end().unwrap();
        seen.push((r.segments().unwrap().clone(), *r.file_digest().unwrap()));
    }
    let ra = Decoder::new(std::io::Cursor::new(bytes))
        .unwrap()
        .require(Require::Any)
        .open_with(&keys)
        .unwrap()
        .into_random_access()
        .unwrap();
    seen.push((ra.segments().clone(), *ra.file_digest()));
    for (s, fd) in &seen[1..] {
        assert_eq!(s.list.len(), seen[0].0.list.len());
        assert_eq!(s.incomplete_at, seen[0].0.incomplete_at);
        assert_eq!(s.head, seen[0].0.head);
        assert_eq!(s.end, seen[0].0.end);
        assert_eq!(fd, &seen[0].1);
    }
    seen.swap_remove(0)
}

fn write_file(dir: &Path, level: Integrity, key: &Key) -> (std::path::PathBuf, Vec<u8>) {
    let (bytes, _) = small_file(level, key, 7);
    let p = dir.join(format!("call-{}.sasf", level.code()));
    std::fs::write(&p, &bytes).unwrap();
    (p, bytes)
}

#[test]
fn appends_keep_the_recording_and_chain_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let sk = SigningKey::from_seed([9; 32]);
    for level in LEVELS {
        let (p, original) = write_file(dir.path(), level, &key);
        let (before, fd) = read_both(&original, level, &key);
        assert!(before.list.is_empty() && before.incomplete_at.is_none());
        assert_eq!(before.head, fd, "no segment: the head is the file digest");
        let keys = keys_for(level, &key);
        let mut lens = Vec::new();
        for n in 0..4 {
            let a = annotate::append(&p, &keys, &record(n), (n % 2 == 1).then_some(&sk)).unwrap();
            assert_eq!(a.number as usize, n);
            lens.push(a.len);
        }
        let now = std::fs::read(&p).unwrap();
        assert_eq!(
            &now[..original.len()],
            &original[..],
            "the recording's bytes never change"
        );
        assert_eq!(
            now.len() as u64,
            original.len() as u64 + lens.iter().sum::<u64>(),
            "only the segments are written"
        );
        let (s, fd2) = read_both(&now, level, &key);
        assert_eq!(
            fd2, fd,
            "the file digest (what signatures pin) is unchanged"
        );
        assert_eq!(s.list.len(), 4);
        assert_eq!(s.list[0].record, record(0).to_json());
        assert_eq!(s.list[3].record, record(3).to_json());
        for (i, seg) in s.list.iter().enumerate() {
            assert_eq!(
                seg.signature.as_ref().map(|x| x.valid),
                (i % 2 == 1).then_some(true)
            );
        }
        // At level 3 the record is not in the file in clear.
        let r2 = record(2).to_json();
        let clear = now.windows(r2.len()).any(|w| w == r2);
        assert_eq!(clear, level != Integrity::Encrypted, "{level:?}");
    }
}

#[test]
fn every_torn_append_verifies_as_before_and_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    for level in LEVELS {
        let (p, _) = write_file(dir.path(), level, &key);
        let keys = keys_for(level, &key);
        annotate::append(&p, &keys, &record(0), None).unwrap();
        let one = std::fs::read(&p).unwrap();
        annotate::append(&p, &keys, &record(1), Some(&SigningKey::from_seed([3; 32]))).unwrap();
        let two = std::fs::read(&p).unwrap();
        let (full, _) = read_both(&two, level, &key);
        for cut in one.len() + 1..two.len() {
            let torn = &two[..cut];
            let (s, _) = read_both(torn, level, &key);
            assert_eq!(s.list.len(), 1, "{level:?} cut {cut}");
            assert_eq!(
                s.incomplete_at,
                Some(one.len() as u64),
                "{level:?} cut {cut}"
            );
            assert_eq!(s.head, full.list[0].digest);
        }
        // An append refuses a torn file; trimming restores it exactly.
        let tp = dir.path().join("torn.sasf");
        std::fs::write(&tp, &two[..two.len() - 5]).unwrap();
        let e = annotate::append(&tp, &keys, &record(2), None).unwrap_err();
        assert!(
            e.to_string().contains(&format!(
                "incomplete annotation segment at byte {}",
                one.len()
            )),
            "{e}"
        );
        assert_eq!(
            annotate::trim_incomplete(&tp, &keys).unwrap(),
            (two.len() - 5 - one.len()) as u64
        );
        assert_eq!(std::fs::read(&tp).unwrap(), one);
        assert_eq!(annotate::trim_incomplete(&tp, &keys).unwrap(), 0);
        annotate::append(&tp, &keys, &record(2), None).unwrap();
        assert_eq!(annotate::read(&tp, &keys).unwrap().list.len(), 2);
    }
}

#[test]
fn concurrent_appenders_serialize_on_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let (p, _) = write_file(dir.path(), Integrity::Encrypted, &key);
    let keys = Keyring::from_key(key.clone());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (p, keys) = (&p, &keys);
            s.spawn(move || {
                for n in 0..10 {
                    annotate::append(p, keys, &record(t * 100 + n), None).unwrap();
                }
            });
        }
    });
    let s = annotate::read(&p, &keys).unwrap();
    assert_eq!(s.list.len(), 40);
    assert!(s.incomplete_at.is_none());
    let mut seen: Vec<_> = s.list.iter().map(|x| x.record.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 40, "every append landed once");
}

#[test]
fn an_append_without_the_key_or_to_another_file_is_refused_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let (p, _) = write_file(dir.path(), Integrity::Hmac, &key);
    // Someone with another key cannot append (the file does not open) ...
    let other = Keyring::from_key(Key::from_bytes([1; 32]));
    assert_eq!(
        annotate::append(&p, &other, &record(0), None)
            .unwrap_err()
            .class(),
        "wrong-key"
    );
    // ... and a segment made for another file fails here.
    let (q, _) = {
        let (bytes, _) = small_file(Integrity::Hmac, &key, 8);
        let q = dir.path().join("other.sasf");
        std::fs::write(&q, &bytes).unwrap();
        (q, bytes)
    };
    let keys = Keyring::from_key(key.clone());
    annotate::append(&q, &keys, &record(0), None).unwrap();
    let qb = std::fs::read(&q).unwrap();
    let qs = annotate::read(&q, &keys).unwrap();
    let seg = &qb[qs.list[0].offset as usize..];
    let mut mine = std::fs::read(&p).unwrap();
    mine.extend_from_slice(seg);
    let e = Decoder::new(&mine[..])
        .unwrap()
        .open(Some(&key))
        .unwrap()
        .verify_to_end()
        .unwrap_err();
    assert_eq!(e.class(), "auth-failed");
    assert!(e.to_string().contains("annotation segment 0"), "{e}");
}

#[test]
fn the_state_comes_from_the_history_and_a_bad_record_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let (p, _) = write_file(dir.path(), Integrity::Encrypted, &key);
    let keys = Keyring::from_key(key.clone());
    let rec = |ops: &str| {
        Record::from_json(
            format!(r#"{{"by":"legal","at":"2026-12-01T10:00:00Z","ops":[{ops}]}}"#).as_bytes(),
        )
        .unwrap()
    };
    annotate::append(&p, &keys, &rec(r#"{"op":"hold","case":"CASE-7"},{"op":"tag","tag":"dispute"},{"op":"retention","days":90}"#), None).unwrap();
    annotate::append(
        &p,
        &keys,
        &rec(r#"{"op":"untag","tag":"dispute"},{"op":"attr","key":"queue","value":"billing"}"#),
        None,
    )
    .unwrap();
    let before = std::fs::read(&p).unwrap();
    let e =
        annotate::append(&p, &keys, &rec(r#"{"op":"release","case":"CASE-8"}"#), None).unwrap_err();
    assert_eq!(e.class(), "invalid-metadata");
    assert!(e.to_string().contains("ops[0].case"), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), before, "nothing written");
    let st = annotate::state(&annotate::read(&p, &keys).unwrap()).unwrap();
    assert!(st.tags.is_empty());
    assert_eq!(
        st.attributes.get("queue").map(String::as_str),
        Some("billing")
    );
    assert!(st.holds.contains_key("CASE-7"));
    assert!(matches!(
        st.effective_retention(None, 0),
        sasf_core::meta::annotation::Retention::Held { .. }
    ));
}

#[test]
fn an_auditor_checks_the_chain_and_segment_signatures_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let recorder = SigningKey::from_seed([4; 32]);
    let qa = SigningKey::from_seed([5; 32]);
    for level in LEVELS {
        // Room in the key area for a signature beside the slot.
        let format = sasf_core::AudioFormat::new(sasf_core::Encoding::MuLaw, 1, 8000).unwrap();
        let mut w = builder(format, level, &key)
            .key_area_capacity(1024)
            .wrap_output(Vec::new())
            .unwrap();
        w.write_audio(&noise(4000, 3)).unwrap();
        let p = dir.path().join(format!("signed-{}.sasf", level.code()));
        std::fs::write(&p, w.finish().unwrap()).unwrap();
        let keys = keys_for(level, &key);
        sasf_core::access::sign(&p, &keys, Some(Require::Any), &recorder, 1_700_000_000_000)
            .unwrap();
        annotate::append(&p, &keys, &record(0), Some(&qa)).unwrap();
        annotate::append(&p, &keys, &record(1), None).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let (keyed, fd) = read_both(&bytes, level, &key);
        let trust = [recorder.verifying_key()];
        let a = sasf_core::access::audit(&bytes[..], &trust, Default::default(), 2).unwrap();
        assert_eq!(a.file_digest, fd, "{level:?}");
        assert_eq!(a.segments.list.len(), 2);
        assert_eq!(a.segments.head, keyed.head);
        assert!(a.segments.list[0].signature.as_ref().unwrap().valid);
        assert_eq!(
            a.segments.list[0].signature.as_ref().unwrap().signer_id,
            Some(qa.verifying_key().id())
        );
        // Records are opened only at level 1.
        assert_eq!(
            a.segments.list[1].record.is_empty(),
            level != Integrity::Keyless
        );
        // A changed byte in the first segment's body breaks the chain (the second
        // links to its digest) and its signature; a torn tail is reported.
        let mut b = bytes.clone();
        b[keyed.list[0].offset as usize + 80] ^= 1;
        assert_eq!(
            sasf_core::access::audit(&b[..], &trust, Default::default(), 1)
                .unwrap_err()
                .class(),
            "auth-failed"
        );
        let cut = &bytes[..bytes.len() - 3];
        let t = sasf_core::access::audit(cut, &trust, Default::default(), 1).unwrap();
        assert_eq!(t.segments.incomplete_at, Some(keyed.list[1].offset));
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use sasf_core::meta::annotation::{Op, State};

    fn op() -> impl Strategy<Value = Op> {
        let id = "[a-z]{1,3}";
        prop_oneof![
            id.prop_map(Op::Tag),
            id.prop_map(Op::Untag),
            (id, "[ -~]{0,40}").prop_map(|(key, value)| Op::Attr { key, value }),
            id.prop_map(Op::Unattr),
            id.prop_map(Op::Hold),
            id.prop_map(Op::Release),
            id.prop_map(Op::Label),
        ]
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            "[a-z]{1,8}",
            proptest::collection::vec(op(), 1..5),
            proptest::option::of("[ -~]{0,300}"),
        )
            .prop_map(|(by, ops, note)| Record {
                by,
                at: "2026-12-01T10:00:00Z".into(),
                ops,
                note,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Any history appended is read back exactly (streaming and random access),
        /// the state is the records applied in order, and any cut of the last segment
        /// is reported as incomplete with the earlier segments intact.
        #[test]
        fn proptest_history_round_trip(
            level in 0usize..3,
            records in proptest::collection::vec(record(), 1..6),
            cut in any::<proptest::sample::Index>(),
        ) {
            let level = LEVELS[level];
            let key = key();
            let dir = tempfile::tempdir().unwrap();
            let (p, _) = write_file(dir.path(), level, &key);
            let keys = keys_for(level, &key);
            let mut expect = State::new();
            let mut appended = 0;
            for r in &records {
                // A writer refuses removing what is absent; such records are skipped.
                if expect.check_new(r).is_err() {
                    continue;
                }
                annotate::append(&p, &keys, r, None).unwrap();
                expect.apply(appended, r).unwrap();
                appended += 1;
            }
            let bytes = std::fs::read(&p).unwrap();
            let (segs, _) = read_both(&bytes, level, &key);
            prop_assert_eq!(segs.list.len(), appended as usize);
            prop_assert_eq!(annotate::state(&segs).unwrap(), expect);
            if let Some(last) = segs.list.last() {
                let at = last.offset as usize + cut.index(last.len as usize - 1) + 1;
                let (torn, _) = read_both(&bytes[..at.min(bytes.len() - 1)], level, &key);
                prop_assert_eq!(torn.list.len(), segs.list.len() - 1);
                prop_assert_eq!(torn.incomplete_at, Some(last.offset));
            }
        }
    }
}

/// Streaming on 1, 2 and 4 threads and random access: the error class each gives.
fn classes(bytes: &[u8], level: Integrity, key: &Key) -> Vec<String> {
    let keys = keys_for(level, key);
    let mut v = Vec::new();
    for threads in [1, 2, 4] {
        let r = Decoder::new(bytes)
            .unwrap()
            .threads(threads)
            .require(Require::Any)
            .open_with(&keys)
            .and_then(|mut r| r.verify_to_end().map(|_| ()));
        v.push(r.err().map_or("ok".to_string(), |e| e.class().to_string()));
    }
    let ra = Decoder::new(std::io::Cursor::new(bytes))
        .unwrap()
        .require(Require::Any)
        .open_with(&keys)
        .and_then(|r| r.into_random_access().map(|_| ()));
    v.push(ra.err().map_or("ok".to_string(), |e| e.class().to_string()));
    v
}

#[test]
fn a_chunk_prefix_after_end_is_trailing_data_on_every_thread_count() {
    let key = key();
    for level in LEVELS {
        let (mut b, _) = small_file(level, &key, 7);
        let mut r = Decoder::new(&b[..])
            .unwrap()
            .require(Require::Any)
            .open_with(&keys_for(level, &key))
            .unwrap();
        let end_index = r.verify_to_end().unwrap().chunks;
        // A prefix that passes the chunk checks (length 100, the next index), cut short.
        b.extend_from_slice(&100u32.to_be_bytes());
        b.extend_from_slice(&(end_index + 1).to_be_bytes());
        b.extend_from_slice(b"garbage");
        assert_eq!(
            classes(&b, level, &key),
            vec!["trailing-data"; 4],
            "{level:?}"
        );
    }
}

#[test]
fn a_changed_header_of_the_last_segment_is_malformed_never_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    for level in LEVELS {
        let (p, _) = write_file(dir.path(), level, &key);
        let keys = keys_for(level, &key);
        annotate::append(&p, &keys, &record(0), None).unwrap();
        annotate::append(&p, &keys, &record(1), None).unwrap();
        let good = std::fs::read(&p).unwrap();
        let last = annotate::read(&p, &keys).unwrap().list[1].offset as usize;
        // Unsigned made signed (the header then promises 96 more bytes), and the body
        // length made the next bucket: each looked like a torn append.
        for (at, x) in [(last + 19, 0x01u8), (last + 14, 0x05)] {
            let mut b = good.clone();
            b[at] ^= x;
            assert_eq!(
                classes(&b, level, &key),
                vec!["malformed"; 4],
                "{level:?} byte {at}"
            );
            std::fs::write(&p, &b).unwrap();
            assert!(annotate::trim_incomplete(&p, &keys).is_err());
            assert_eq!(std::fs::read(&p).unwrap(), b, "nothing trimmed");
        }
        std::fs::write(&p, &good).unwrap();
    }
}

#[test]
fn a_tail_of_fake_segments_that_never_reach_end_is_refused_in_bounded_work() {
    let key = key();
    let (mut b, _) = small_file(Integrity::Keyless, &key, 7);
    // 20 000 well-framed fake segments numbered 10 000 up (walking back never reaches 0),
    // then a torn one: every candidate walk follows the chain.
    let n = 20_000u32;
    for k in 0..n {
        let mut s = vec![0u8; 360];
        s[..8].copy_from_slice(&[0x89, b'S', b'A', b'N', b'N', 0x0D, 0x0A, 0x1A]);
        s[8..12].copy_from_slice(&(10_000 + k).to_be_bytes());
        s[12..16].copy_from_slice(&256u32.to_be_bytes());
        s[344..352].copy_from_slice(&360u64.to_be_bytes());
        s[352..].copy_from_slice(b"SANN-END");
        b.extend_from_slice(&s);
    }
    let c = classes(&b, Integrity::Keyless, &key);
    assert!(c.iter().all(|x| x != "ok"), "{c:?}");
}

#[test]
fn an_append_checks_the_callers_policy_under_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let (p, _) = write_file(dir.path(), Integrity::Hmac, &key);
    let keys = Keyring::from_key(key.clone());
    let before = std::fs::read(&p).unwrap();
    // (policy, error class or success).
    let rows: Vec<(annotate::Policy, Option<&str>)> = vec![
        (
            annotate::Policy {
                require: Some(Require::Encrypted),
                expect: None,
            },
            Some("not-protected"),
        ),
        (
            annotate::Policy {
                require: None,
                expect: Some(sasf_core::Context::new("another-call", None).unwrap()),
            },
            Some("context-mismatch"),
        ),
        (
            annotate::Policy {
                require: Some(Require::Authenticated),
                expect: None,
            },
            None,
        ),
    ];
    for (policy, want) in rows {
        let r = annotate::append_with_policy(&p, &keys, &record(0), None, &policy);
        match want {
            Some(class) => {
                assert_eq!(r.unwrap_err().class(), class);
                assert_eq!(std::fs::read(&p).unwrap(), before, "nothing written");
            }
            None => assert_eq!(r.unwrap().number, 0),
        }
    }
}
