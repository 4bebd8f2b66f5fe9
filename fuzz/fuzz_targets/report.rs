//! The `sasf verify --report` reader (sasf-cli/src/reportfile.rs, built here as is) on
//! arbitrary bytes: it returns records or an error with a line number, never panics;
//! what it accepts as whole lines ends where a line ends, and every record it returns
//! parses again on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../sasf-cli/src/reportfile.rs"]
#[allow(dead_code)]
mod reportfile;

fuzz_target!(|data: &[u8]| {
    match reportfile::parse(data) {
        Ok(p) => {
            let whole = p.whole as usize;
            assert!(whole <= data.len());
            assert!(whole == 0 || data[whole - 1] == b'\n');
            assert_eq!(p.torn_line.is_some(), whole < data.len());
            for r in &p.records {
                let line = serde_json::to_vec(&r.doc).unwrap();
                let again = reportfile::record(1, &line).unwrap();
                assert_eq!(again.file, r.file);
                assert_eq!(again.verdict, r.verdict);
            }
        }
        Err(reportfile::ParseError::Malformed { line, .. }) => assert!(line >= 1),
        Err(reportfile::ParseError::Io(e)) => panic!("reading a slice failed: {e}"),
    }
});
