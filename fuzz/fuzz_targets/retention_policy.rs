//! The retention policy parser (sasf-cli/src/retention_policy.rs, built here as is) on
//! arbitrary text: it never panics; a refusal names a place inside the text; a policy
//! it accepts gives a decision for any facts without panicking, and never deletes or
//! moves a recording under legal hold or one not verified.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../sasf-cli/src/retention_policy.rs"]
#[allow(dead_code)]
mod retention_policy;

use retention_policy::{Facts, Own, Policy, Verdict};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::parse(text) {
        Err(e) => {
            let lines = text.split('\n').count();
            assert!(e.line >= 1 && e.line <= lines, "{e} in {lines} lines");
            assert!(e.column >= 1);
        }
        Ok(p) => {
            let seed = data.iter().fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(b as u64));
            for (i, hold) in [(0u64, false), (1, true), (2, false)] {
                let s = seed.rotate_left(i as u32 * 17);
                let f = Facts {
                    verified: i != 2,
                    legal_hold: hold,
                    started_ms: (s & 1 == 0).then_some((s >> 8) as i64 % 400_000_000_000_000),
                    duration_ms: Some((s >> 3) as i64 % 10_000_000_000),
                    score_bp: (s & 2 == 0).then_some((s >> 5) as i64 % 10_001),
                    own: match s % 4 {
                        0 => Own::Unspecified,
                        1 => Own::Until((s >> 7) as i64 % 3_000_000),
                        2 => Own::Days((s >> 9) as u32 % 36_501),
                        _ => Own::Indefinite,
                    },
                    path: "2026/a.sasf".into(),
                };
                let today = (s >> 11) as i64 % 3_000_000;
                let d = p.decide(&f, today, &mut |t| (format!("{t:?}").len() as u64 + s) % 2 == 0);
                if hold && i != 2 {
                    assert_eq!(d.verdict, Verdict::Hold);
                }
                if i == 2 {
                    assert_eq!(d.verdict, Verdict::Unverified);
                }
            }
        }
    }
});
