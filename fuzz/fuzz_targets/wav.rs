//! The WAV reader on arbitrary bytes, reading all the data: any outcome but a panic,
//! and every successful read returns whole frames.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::wav_case(data));
