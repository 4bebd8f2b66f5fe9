//! A stored EVNT payload on arbitrary text, as a reader parses it (where the reserved
//! `sasf.` records of recover, merge, redact and cut are checked); an accepted event
//! must survive a round trip through its own payload unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::payload_case(data));
