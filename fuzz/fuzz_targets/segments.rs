//! Annotation segments on arbitrary bytes: the annotation model's parsers, and the
//! bytes after a file's END chunk read by streaming (one and two threads) and random
//! access, which must agree. Never a panic, a hang or a large allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::segments_case(data));
