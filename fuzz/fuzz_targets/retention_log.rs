//! The deletion log checker (sasf-cli/src/retention_log.rs, built here as is) on
//! arbitrary bytes, with and without a head: it never panics and reads each line with
//! a bound; a broken log names a line inside it (or 0 for the head); an accepted one
//! has no more entries than lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../sasf-cli/src/retention_log.rs"]
#[allow(dead_code)]
mod retention_log;

use retention_log::Check;

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    // The first line, when short, doubles as a head.
    let head = data.split(|&b| b == b'\n').next().filter(|h| h.len() < 100);
    for head in [None, head] {
        let mut all = Vec::new();
        match retention_log::check_collect(data, head, &mut all).expect("reading a slice cannot fail") {
            Check::Ok { entries, open, complete_len, .. } => {
                assert!(entries <= lines);
                assert_eq!(all.len() as u64, entries);
                assert!(open.len() as u64 <= entries);
                assert!(complete_len <= data.len() as u64);
            }
            Check::Broken { line, .. } => assert!(line <= lines + 1),
        }
    }
});
