//! Arbitrary bytes read through random access (the END chunk from the end, the INDX
//! chain, ranges): errors are fine, panics and wrong amounts of audio are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::seek_case(data));
