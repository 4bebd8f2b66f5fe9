//! What `sasf serve` parses from outside (sasf-cli/src/serve/wire.rs, built here as
//! is): an HTTP `Range` header against a body length, and an audit log, checked with
//! and without a key. Neither panics; a range it resolves lies inside the body; a log
//! it accepts has as many entries as lines, and a broken one names a line inside it.
//!
//! Arbitrary bytes almost never carry a valid MAC, so the input also becomes a log
//! written as the server writes one (its fields taken from the input, the chain
//! computed): that log must check whole, and with one byte of it changed (where and
//! to what, from the input) it must be broken exactly at the line holding that byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

#[path = "../../sasf-cli/src/serve/wire.rs"]
#[allow(dead_code)]
mod wire;

/// A log of one line per `\n`-separated piece of `text`, written as audit.rs writes.
fn write_log(text: &str, key: Option<&[u8; 32]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = [0u8; 32];
    for (i, piece) in text.split('\n').take(16).enumerate() {
        let mut mid = piece.len() / 2;
        while !piece.is_char_boundary(mid) {
            mid -= 1;
        }
        let (user, detail) = piece.split_at(mid);
        let mut m = Map::new();
        m.insert("seq".into(), json!(i as u64 + 1));
        m.insert("at".into(), json!("2026-12-02T00:00:00.000Z"));
        m.insert("user".into(), json!(user));
        m.insert("role".into(), json!("supervisor"));
        m.insert("action".into(), json!("play"));
        m.insert("path".into(), json!(piece));
        m.insert("ok".into(), json!(true));
        m.insert("detail".into(), json!(detail));
        m.insert("chain".into(), json!(wire::chain_name(key)));
        m.insert("prev".into(), json!(wire::hex(&prev)));
        let body = serde_json::to_vec(&Value::Object(m.clone())).unwrap();
        let mac = wire::mac_of(key, &body);
        m.insert("mac".into(), json!(wire::hex(&mac)));
        out.extend(serde_json::to_vec(&Value::Object(m)).unwrap());
        out.push(b'\n');
        prev = mac;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let len = u64::from_le_bytes(data[1..9].try_into().unwrap()) >> (data[0] % 64);
    let rest = &data[9..];
    if let Ok(h) = std::str::from_utf8(rest) {
        if let Ok(Some((a, b))) = wire::parse_range(Some(h), len) {
            assert!(a <= b && b < len, "{h:?} {len}: {a}-{b}");
        }
    }
    let lines = rest.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    for key in [None, Some(&[7u8; 32])] {
        match wire::check(rest, key).expect("reading a slice cannot fail") {
            wire::Check::Ok { entries, .. } => assert!(entries <= lines),
            wire::Check::Broken { line, .. } => assert!(line >= 1 && line <= lines),
        }
    }

    // A log with valid MACs, then one byte of it changed.
    let text = String::from_utf8_lossy(rest);
    let where_ = u64::from_le_bytes(data[1..9].try_into().unwrap());
    for key in [None, Some(&[7u8; 32])] {
        let log = write_log(&text, key);
        let n = log.iter().filter(|&&b| b == b'\n').count() as u64;
        let whole = wire::check(&log[..], key).unwrap();
        assert!(
            matches!(whole, wire::Check::Ok { entries, .. } if entries == n),
            "{whole:?}"
        );
        let at = (where_ % log.len() as u64) as usize;
        let mut changed = log.clone();
        changed[at] ^= data[0].max(1);
        let line = log[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        match wire::check(&changed[..], key).unwrap() {
            wire::Check::Broken { line: l, .. } => assert_eq!(l, line, "byte {at}"),
            ok => panic!("a changed byte {at} (line {line}) was not found: {ok:?}"),
        }
    }
});
