//! The streaming reader and random access give the same verdict on the same bytes
//! (FORMAT.md §10): both accept or both refuse, and when both accept, the same audio,
//! totals and file digest; for the input as given and re-sealed (`common::reseal`), so
//! that mutations reach the structural rules behind the tags.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::parity_case(data));
