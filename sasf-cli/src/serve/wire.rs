//! What `sasf serve` parses from outside, with no I/O of its own: the HTTP `Range`
//! header, and the lines of the audit log (its chain checked). Built as is by the
//! `serve_wire` fuzz target.

use std::io::{BufRead, BufReader, Read};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// An HTTP `Range` header of one range, resolved against a body of `len` bytes:
/// `Ok(Some((first, last)))` inclusive, `Ok(None)` for no header or one this server
/// answers whole (several ranges), `Err(())` for a range that cannot be satisfied.
pub fn parse_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(h) = header else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    if len == 0 {
        return Err(());
    }
    let (first, last) = if a.is_empty() {
        // The last N bytes.
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let first: u64 = a.parse().map_err(|_| ())?;
        let last = if b.is_empty() {
            len - 1
        } else {
            b.parse::<u64>().map_err(|_| ())?.min(len - 1)
        };
        (first, last)
    };
    if first >= len || first > last {
        return Err(());
    }
    Ok(Some((first, last)))
}

/// The longest line read back.
pub const MAX_LINE: usize = 64 * 1024;

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The MAC of a line's text without its `mac` member.
pub fn mac_of(key: Option<&[u8; 32]>, body: &[u8]) -> [u8; 32] {
    match key {
        Some(k) => {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(k).expect("any key length");
            m.update(body);
            m.finalize().into_bytes().into()
        }
        None => Sha256::digest(body).into(),
    }
}

pub fn chain_name(key: Option<&[u8; 32]>) -> &'static str {
    if key.is_some() {
        "hmac-sha256"
    } else {
        "sha256"
    }
}

/// What checking a log found.
#[derive(Debug, PartialEq)]
pub enum Check {
    /// Every line chains: this many, and the last MAC (zeros for an empty log).
    Ok { entries: u64, head: [u8; 32] },
    /// The first line that does not, with why.
    Broken { line: u64, reason: String },
}

/// Checks a whole log.
pub fn check(input: impl Read, key: Option<&[u8; 32]>) -> std::io::Result<Check> {
    let mut r = BufReader::new(input);
    let mut prev = [0u8; 32];
    let mut n = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let got = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if got == 0 {
            return Ok(Check::Ok {
                entries: n,
                head: prev,
            });
        }
        let line = n + 1;
        let broken = |reason: &str| {
            Ok(Check::Broken {
                line,
                reason: reason.to_string(),
            })
        };
        if buf.last() != Some(&b'\n') {
            return broken(if buf.len() > MAX_LINE {
                "a line longer than 64 KiB"
            } else {
                "the last line is cut off (no line break)"
            });
        }
        buf.pop();
        let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(&buf) else {
            return broken("not a JSON object");
        };
        let Some(Value::String(mac)) = m.remove("mac") else {
            return broken("no mac");
        };
        if m.get("seq").and_then(Value::as_u64) != Some(line) {
            return broken(&format!(
                "seq is not {line} (a line removed, added or moved)"
            ));
        }
        let want_chain = chain_name(key);
        match m.get("chain").and_then(Value::as_str) {
            Some(c) if c == want_chain => {}
            Some("hmac-sha256") => return broken("the log is keyed: give the archive key"),
            Some(c) => {
                return broken(&format!(
                    "chained with {c}, not {want_chain} (a keyed log must stay keyed)"
                ))
            }
            None => return broken("no chain"),
        }
        if m.get("prev").and_then(Value::as_str) != Some(hex(&prev).as_str()) {
            return broken("prev is not the mac of the line before (a line removed or changed)");
        }
        let body = serde_json::to_vec(&Value::Object(m)).expect("a Value serializes");
        let want = mac_of(key, &body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            hex(&want).as_bytes(),
            mac.as_bytes(),
        )) {
            return broken("its mac does not match its contents (the line was changed)");
        }
        prev = want;
        n = line;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_as_rfc_9110_says() {
        let len = 1000;
        for (h, want) in [
            (None, Ok(None)),
            (Some("bytes=0-"), Ok(Some((0, 999)))),
            (Some("bytes=100-199"), Ok(Some((100, 199)))),
            (Some("bytes=900-5000"), Ok(Some((900, 999)))),
            (Some("bytes=-100"), Ok(Some((900, 999)))),
            (Some("bytes=-5000"), Ok(Some((0, 999)))),
            (Some("bytes=0-1,5-6"), Ok(None)),
            (Some("items=0-1"), Ok(None)),
            (Some("bytes=1000-"), Err(())),
            (Some("bytes=5-4"), Err(())),
            (Some("bytes=-0"), Err(())),
            (Some("bytes=x-"), Err(())),
            (Some("bytes=99999999999999999999999-"), Err(())),
        ] {
            assert_eq!(parse_range(h, len), want, "{h:?}");
        }
    }
}
