//! The metadata document parser on arbitrary text; a document it accepts must survive
//! a round trip through its own JSON form unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::metadata_case(data));
