//! What `sasf serve` parses from outside, with no I/O of its own: the HTTP `Range`
//! header, and the lines of the audit log (its chain checked). Built as is by the
//! `serve_wire` fuzz target.

use std::io::{BufRead, BufReader, Read};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// An HTTP `Range` header of one range, resolved against a body of `len` bytes:
/// `Ok(Some((first, last)))` inclusive; `Ok(None)` for no header, one this server
/// answers whole (another unit, several ranges) or one that is not a valid range
/// (RFC 9110 §14.2: a server ignores an invalid Range); `Err(())` for a valid range
/// that cannot be satisfied (416).
pub fn parse_range(header: Option<&str>, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(h) = header else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    // A number too large for 64 bits is still a valid range: past any end.
    let num = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    if a.is_empty() {
        // The last N bytes.
        if !digits(b) {
            return Ok(None);
        }
        let n = num(b);
        if n == 0 || len == 0 {
            return Err(());
        }
        return Ok(Some((len.saturating_sub(n), len - 1)));
    }
    if !digits(a) || !(b.is_empty() || digits(b)) {
        return Ok(None);
    }
    let first = num(a);
    if !b.is_empty() && num(b) < first {
        // last-pos before first-pos: invalid, ignored.
        return Ok(None);
    }
    if first >= len {
        return Err(());
    }
    let last = if b.is_empty() {
        len - 1
    } else {
        num(b).min(len - 1)
    };
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

/// The text a line's MAC covers (the line without its last member, `"mac"`, closed
/// again) and the MAC's hex, when the line ends `,"mac":"<64 lowercase hex>"}`.
pub fn split_mac(line: &[u8]) -> Option<(Vec<u8>, &str)> {
    const TAIL: usize = 8 + 64 + 2;
    let cut = line.len().checked_sub(TAIL)?;
    let (head, tail) = line.split_at(cut);
    let hexpart = tail.strip_prefix(b",\"mac\":\"")?.strip_suffix(b"\"}")?;
    if !hexpart
        .iter()
        .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut body = head.to_vec();
    body.push(b'}');
    Some((body, std::str::from_utf8(hexpart).ok()?))
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
    check_each(input, key, |_, _| {})
}

/// Checks a whole log, giving `each` the number and MAC of every line that checks.
pub fn check_each(
    input: impl Read,
    key: Option<&[u8; 32]>,
    mut each: impl FnMut(u64, &[u8; 32]),
) -> std::io::Result<Check> {
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
        // The MAC covers the line's own bytes without its `mac` member, which the
        // writer puts last: `{…,"mac":"<64 hex>"}`. So nothing in a line can change,
        // not even to text that parses the same (an escape, a duplicate key).
        let Some((body, mac)) = split_mac(&buf) else {
            return broken("no mac at the end of the line");
        };
        let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&body) else {
            return broken("not a JSON object");
        };
        if m.contains_key("mac") {
            return broken("a second mac");
        }
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
        let want = mac_of(key, &body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            hex(&want).as_bytes(),
            mac.as_bytes(),
        )) {
            return broken("its mac does not match its contents (the line was changed)");
        }
        each(line, &want);
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
            (Some("bytes=-0"), Err(())),
            (Some("bytes=99999999999999999999999-"), Err(())),
            (Some("bytes=0-99999999999999999999999"), Ok(Some((0, 999)))),
            // Not valid ranges: ignored, the whole body is sent.
            (Some("bytes=5-4"), Ok(None)),
            (Some("bytes=x-"), Ok(None)),
            (Some("bytes=1-x"), Ok(None)),
            (Some("bytes=-x"), Ok(None)),
            (Some("bytes=+1-2"), Ok(None)),
            (Some("bytes=5"), Ok(None)),
            (Some("bytes=-"), Ok(None)),
        ] {
            assert_eq!(parse_range(h, len), want, "{h:?}");
        }
    }
}
