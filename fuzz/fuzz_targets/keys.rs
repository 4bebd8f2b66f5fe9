//! The key-area parser and the key, identity, recipient and signing-key file parsers
//! on arbitrary bytes: every outcome is an error or a value, never a panic; an area
//! that parses re-serializes to the copy in force.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::keys_case(data));
