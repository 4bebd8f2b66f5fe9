//! Arbitrary bytes as a SASF stream, with small limits, without a key and with the
//! conformance vectors' key: any outcome but a panic, a hang or a large allocation.
//! Level-1 and level-2 inputs are also decoded re-sealed (`common::reseal`), so that
//! mutations of the seeds reach the checks made after authentication.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::decode_case(data));
