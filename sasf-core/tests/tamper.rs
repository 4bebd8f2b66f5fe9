//! Hostile changes to a small file of each level: every one must give an error, and no
//! byte the reader released before the error may differ from the original.

mod common;
use common::*;

use sasf_core::{Integrity, Key};

/// Reads `bytes`; asserts an error and that every released audio byte, event and
/// participant is a prefix of the original's.
fn assert_rejected(bytes: &[u8], key: Option<&Key>, original: &Outcome, what: &str) -> String {
    let out = read_all(bytes, key);
    let err = match out.error {
        Some(e) => e,
        None => panic!("{what}: accepted"),
    };
    assert!(out.audio.len() <= original.audio.len(), "{what}");
    assert_eq!(
        out.audio[..],
        original.audio[..out.audio.len()],
        "{what}: released altered audio"
    );
    assert_eq!(
        out.events[..],
        original.events[..out.events.len()],
        "{what}: released altered events"
    );
    assert_eq!(
        out.participants[..],
        original.participants[..out.participants.len()],
        "{what}: released altered participants"
    );
    err.class().to_string()
}

fn original(level: Integrity) -> (Vec<u8>, Outcome) {
    let (file, _) = small_file(level, &key(), 1);
    let out = read_all(&file, Some(&key()));
    assert!(out.error.is_none());
    (file, out)
}

#[test]
fn every_single_byte_change_is_detected() {
    let mut n = 0;
    for level in LEVELS {
        let (file, orig) = original(level);
        // Copy B of the key area is empty; damage there is what a torn rewrite leaves,
        // so the file still opens from copy A, and the damage is reported.
        let q = u32::from_be_bytes(file[128..132].try_into().unwrap()) as usize;
        let copy_b = 132 + q..132 + 2 * q;
        for i in 0..file.len() {
            for x in [0x01u8, 0x80, 0xFF] {
                let mut f = file.clone();
                f[i] ^= x;
                if copy_b.contains(&i) {
                    let d = sasf_core::Decoder::new(&f[..]).unwrap();
                    let area = d.key_area().unwrap();
                    assert_eq!(area.active, 0);
                    assert!(
                        matches!(area.copies[1], sasf_core::format::CopyState::Damaged(_)),
                        "{level:?} byte {i}"
                    );
                    assert!(read_all(&f, Some(&key())).error.is_none());
                    n += 1;
                    continue;
                }
                assert_rejected(
                    &f,
                    Some(&key()),
                    &orig,
                    &format!("{level:?} byte {i} ^ {x:#x}"),
                );
                n += 1;
            }
        }
    }
    assert!(n > 3000, "{n}");
}

#[test]
fn truncation_at_every_offset_is_detected() {
    for level in LEVELS {
        let (file, orig) = original(level);
        for cut in 0..file.len() {
            let class = assert_rejected(
                &file[..cut],
                Some(&key()),
                &orig,
                &format!("{level:?} cut at {cut}"),
            );
            let want = if cut == 0 { "not-sasf" } else { "truncated" };
            assert_eq!(class, want, "{level:?} cut at {cut}");
        }
    }
}

#[test]
fn truncation_on_every_chunk_boundary_names_the_last_chunk() {
    for level in LEVELS {
        let (file, _) = original(level);
        let (header, chunks) = split(&file, level.tag_len());
        for keep in 0..chunks.len() {
            let f = join(&header, &chunks[..keep]);
            let e = read_all(&f, Some(&key())).error.unwrap();
            match e.kind() {
                sasf_core::ErrorKind::Truncated {
                    after_chunk,
                    offset,
                    ..
                } => {
                    assert_eq!(*after_chunk, keep.checked_sub(1).map(|k| k as u64));
                    assert_eq!(*offset as usize, f.len());
                }
                k => panic!("{level:?} keep {keep}: {k:?}"),
            }
        }
    }
}

#[test]
fn dropped_duplicated_swapped_and_retyped_chunks_are_detected() {
    for level in LEVELS {
        let (file, orig) = original(level);
        let (header, chunks) = split(&file, level.tag_len());
        let n = chunks.len();
        assert!(n >= 10, "the small file has every chunk type");
        for i in 0..n {
            let mut c = chunks.clone();
            c.remove(i);
            assert_rejected(
                &join(&header, &c),
                Some(&key()),
                &orig,
                &format!("{level:?} drop {i}"),
            );
            let mut c = chunks.clone();
            c.insert(i, chunks[i].clone());
            assert_rejected(
                &join(&header, &c),
                Some(&key()),
                &orig,
                &format!("{level:?} dup {i}"),
            );
            for j in (i + 1)..n {
                let mut c = chunks.clone();
                c.swap(i, j);
                assert_rejected(
                    &join(&header, &c),
                    Some(&key()),
                    &orig,
                    &format!("{level:?} swap {i} {j}"),
                );
            }
            // Retype: the type code is the first 4 bytes of the body (byte 12 of the chunk).
            for code in [*b"AUDI", *b"EVNT", *b"END ", *b"xtra", *b"INDX"] {
                let mut c = chunks.clone();
                c[i][12..16].copy_from_slice(&code);
                if c[i] == chunks[i] {
                    continue;
                }
                assert_rejected(
                    &join(&header, &c),
                    Some(&key()),
                    &orig,
                    &format!("{level:?} retype {i}"),
                );
            }
            // Restamping the chunk index to match its new place does not help either.
            if i + 1 < n {
                let mut c = chunks.clone();
                c.remove(i);
                for (k, ch) in c.iter_mut().enumerate().skip(i) {
                    ch[4..12].copy_from_slice(&(k as u64).to_be_bytes());
                }
                assert_rejected(
                    &join(&header, &c),
                    Some(&key()),
                    &orig,
                    &format!("{level:?} drop+renumber {i}"),
                );
            }
        }
    }
}

#[test]
fn a_chunk_spliced_in_from_another_file_with_the_same_key_is_detected() {
    for level in LEVELS {
        let (a, orig) = original(level);
        let (b, _) = small_file(level, &key(), 2);
        let (ha, ca) = split(&a, level.tag_len());
        let (hb, cb) = split(&b, level.tag_len());
        assert_eq!(ca.len(), cb.len());
        for i in 0..ca.len() {
            let mut c = ca.clone();
            c[i] = cb[i].clone();
            if c[i] == ca[i] {
                continue;
            }
            let class = assert_rejected(
                &join(&ha, &c),
                Some(&key()),
                &orig,
                &format!("{level:?} splice {i}"),
            );
            assert_eq!(class, "auth-failed", "{level:?} splice {i}");
        }
        // B's header with A's chunks: every chunk is bound to A's header.
        if level != Integrity::Keyless || ha != hb {
            let class = assert_rejected(
                &join(&hb, &ca),
                Some(&key()),
                &orig,
                &format!("{level:?} header swap"),
            );
            assert_eq!(class, "auth-failed");
        }
    }
}

#[test]
fn trailing_data_and_a_second_end_chunk_are_errors() {
    for level in LEVELS {
        let (file, orig) = original(level);
        let mut f = file.clone();
        f.push(0);
        assert_eq!(
            assert_rejected(&f, Some(&key()), &orig, "trailing"),
            "trailing-data"
        );
        let (header, chunks) = split(&file, level.tag_len());
        let mut c = chunks.clone();
        c.push(chunks.last().unwrap().clone());
        assert_eq!(
            assert_rejected(&join(&header, &c), Some(&key()), &orig, "two ends"),
            "trailing-data"
        );
        let mut c = chunks.clone();
        c.pop();
        assert_eq!(
            assert_rejected(&join(&header, &c), Some(&key()), &orig, "no end"),
            "truncated"
        );
    }
}

#[test]
fn wrong_key_and_missing_key() {
    for level in [Integrity::Hmac, Integrity::Encrypted] {
        let (file, _) = original(level);
        let other = Key::from_bytes([0x43; 32]);
        let out = read_all(&file, Some(&other));
        assert_eq!(out.error.unwrap().class(), "wrong-key");
        assert!(out.audio.is_empty());
        assert_eq!(read_all(&file, None).error.unwrap().class(), "key-required");
    }
    // A keyless file ignores a key.
    let (file, _) = original(Integrity::Keyless);
    assert!(read_all(&file, Some(&Key::from_bytes([1; 32])))
        .error
        .is_none());
}

#[test]
fn header_field_changes_are_reported_by_class() {
    let (file, orig) = original(Integrity::Encrypted);
    let cases: &[(usize, u8, &str)] = &[
        (0, 0x00, "not-sasf"),
        (9, 0x02, "unsupported-version"),
        (10, 0x09, "unsupported"),
        // Every header byte is bound into each recipient slot (AAD = H), so a changed
        // header fails to unwrap the data key before anything else is trusted.
        (10, 0x02, "auth-failed"),       // downgrade to HMAC
        (11, 0x02, "auth-failed"),       // encoding changed
        (13, 0x00, "malformed-header"),  // zero channels
        (13, 0x03, "auth-failed"),       // channels changed
        (17, 0x11, "auth-failed"),       // sample rate changed
        (27, 0x02, "malformed-header"),  // unknown flag
        (27, 0x01, "auth-failed"),       // claims a context binding
        (40, 0x00, "auth-failed"),       // salt changed
        (70, 0x00, "auth-failed"),       // commitment changed
        (100, 0x00, "auth-failed"),      // tag changed
        (128, 0x01, "limit-exceeded"),   // key copy capacity above 32 KiB
        (130, 0x00, "malformed-header"), // key copy capacity below 256
        // Damage inside copy A fails its checksum (copy B is empty), before any key
        // is tried; forgeries that recompute it are conformance vectors (keys-*).
        (141, 0x02, "malformed-header"), // recipient count
        (155, 0x00, "malformed-header"), // key id
        (170, 0x00, "malformed-header"), // wrapped data key
        (260, 0x00, "malformed-header"), // section tag
    ];
    for &(at, val, want) in cases {
        let mut f = file.clone();
        f[at] = if f[at] == val { val ^ 0x10 } else { val };
        let class = assert_rejected(&f, Some(&key()), &orig, &format!("byte {at}"));
        assert_eq!(class, want, "byte {at} = {val:#x}");
    }
}

/// The parallel reader must release the same bytes and report the same error, at the
/// same place, as the one-thread reader, for every damaged file.
#[test]
fn the_parallel_reader_behaves_exactly_like_the_sequential_one() {
    let same = |f: &[u8], what: &str| {
        let a = read_all(f, Some(&key()));
        for threads in [2, 4] {
            let b = common::read_all_threads(f, Some(&key()), threads);
            assert_eq!(a.audio, b.audio, "{what}");
            assert_eq!(a.items, b.items, "{what}");
            assert_eq!(
                a.error.as_ref().map(|e| e.to_string()),
                b.error.as_ref().map(|e| e.to_string()),
                "{what}"
            );
        }
    };
    for level in LEVELS {
        let (file, _) = original(level);
        same(&file, "intact");
        for i in (0..file.len()).step_by(3) {
            let mut f = file.clone();
            f[i] ^= 0x41;
            same(&f, &format!("{level:?} flip {i}"));
        }
        for cut in 0..file.len() {
            same(&file[..cut], &format!("{level:?} cut {cut}"));
        }
        let (header, chunks) = split(&file, level.tag_len());
        for i in 0..chunks.len() {
            let mut c = chunks.clone();
            c.remove(i);
            same(&join(&header, &c), "drop");
            let mut c = chunks.clone();
            c.push(chunks[i].clone());
            same(&join(&header, &c), "appended chunk");
        }
        let mut f = file.clone();
        f.extend_from_slice(&[0u8; 40]);
        same(&f, "trailing zeros");
    }
}
