//! The same outcome, item for item and error for error (class, message and place),
//! whether the input arrives in one piece or one byte per `read` call, and whether
//! one or three threads open the chunks; for the input as given and, at levels 1 and
//! 2, re-sealed (`common::reseal`).
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::chunked_case(data));
