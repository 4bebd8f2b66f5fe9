//! What `sasf serve` parses from outside (sasf-cli/src/serve/wire.rs, built here as
//! is): an HTTP `Range` header against a body length, and an audit log, checked with
//! and without a key. Neither panics; a range it resolves lies inside the body; a log
//! it accepts has as many entries as lines, and a broken one names a line inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../sasf-cli/src/serve/wire.rs"]
#[allow(dead_code)]
mod wire;

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
});
