//! Issue 14, the library API as a vendor embedding it meets it: a key file is read
//! from a path (`Key::read_key_file`) or parsed from its text (`Key::from_key_text`);
//! the old name, which took the contents and not a path, is deprecated.

use sasf_core::Key;

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
