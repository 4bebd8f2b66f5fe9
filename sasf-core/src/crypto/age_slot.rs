//! Public-key recipients through the `age` crate.
//!
//! The body of a SASF age stanza is a complete binary (unarmored) age v1 file made for
//! exactly one recipient, whose plaintext is exactly [`AGE_PLAINTEXT_LEN`] bytes: the
//! data key `DK`, the context digest `C` and the header hash `H`, 32 bytes each. `H`
//! ties the stanza to one file: a stanza copied from another file opens, but its `H`
//! differs, and [`unwrap_age`] says so.
//!
//! The `age` crate adds one random "grease" stanza to every header it writes, so the
//! length of a body for one X25519 recipient varies from file to file (296 bytes
//! without grease, 309 to 486 with it; see the tests).

use std::io::Read;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::DataKey;
use crate::error::{Error, ErrorKind, Result};

/// Length of the plaintext of an age stanza: `DK || C || H`.
pub const AGE_PLAINTEXT_LEN: usize = 96;

/// The longest body [`describe_age`] reads.
const DESCRIBE_LIMIT: usize = 4096;

/// What [`describe_age`] returns for a body it cannot read.
const UNREADABLE: &str = "unreadable age header";

fn invalid(reason: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidKey {
        reason: reason.into(),
    })
}

/// Wraps `dk || c || h` for one age recipient; returns the stanza body (a binary age
/// v1 file).
pub fn wrap_age(
    recipient: &dyn age::Recipient,
    dk: &DataKey,
    c: &[u8; 32],
    h: &[u8; 32],
) -> Result<Vec<u8>> {
    let mut plain = Zeroizing::new([0u8; AGE_PLAINTEXT_LEN]);
    plain[..32].copy_from_slice(&dk.0[..]);
    plain[32..64].copy_from_slice(c);
    plain[64..].copy_from_slice(h);
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient))
        .map_err(|e| invalid(format!("age recipient cannot wrap a key: {e}")))?;
    let mut body = Vec::with_capacity(512);
    let mut w = encryptor.wrap_output(&mut body)?;
    std::io::Write::write_all(&mut w, &plain[..])?;
    w.finish()?;
    Ok(body)
}

/// What happened when identities were tried on one stanza.
pub enum AgeUnwrap {
    /// No identity opens the stanza (or the body is not a readable age file, so none
    /// can).
    NoMatch,
    /// An identity opened the stanza and its `H` is this file's: the data key and the
    /// context digest `C`.
    Opened(DataKey, [u8; 32]),
    /// An identity matched, but the payload is not 96 bytes, does not decrypt, or is
    /// bound to another file (its `H` differs). Says why; holds no secret.
    Bad(String),
}

impl std::fmt::Debug for AgeUnwrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgeUnwrap::NoMatch => f.write_str("NoMatch"),
            AgeUnwrap::Opened(..) => f.write_str("Opened(..)"),
            AgeUnwrap::Bad(why) => f.debug_tuple("Bad").field(why).finish(),
        }
    }
}

/// Tries `identities` on the stanza `body` of the file whose header hash is `h`.
///
/// A body that is not a readable age header gives [`AgeUnwrap::NoMatch`]: no identity
/// can be said to match it. Never panics on any input.
pub fn unwrap_age(body: &[u8], identities: &[&dyn age::Identity], h: &[u8; 32]) -> AgeUnwrap {
    let Ok(decryptor) = age::Decryptor::new_buffered(body) else {
        return AgeUnwrap::NoMatch;
    };
    let mut reader = match decryptor.decrypt(identities.iter().copied()) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return AgeUnwrap::NoMatch,
        Err(e) => return AgeUnwrap::Bad(format!("age stanza does not open: {e}")),
    };
    // One byte more than the plaintext, to tell "longer" from "exactly 96".
    let mut plain = Zeroizing::new([0u8; AGE_PLAINTEXT_LEN + 1]);
    let mut n = 0;
    while n < plain.len() {
        match reader.read(&mut plain[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return AgeUnwrap::Bad("age stanza payload does not decrypt".into()),
        }
    }
    if n != AGE_PLAINTEXT_LEN {
        return AgeUnwrap::Bad(if n > AGE_PLAINTEXT_LEN {
            "age stanza payload is longer than 96 bytes".into()
        } else {
            format!("age stanza payload is {n} bytes, not 96")
        });
    }
    if !bool::from(plain[64..96].ct_eq(&h[..])) {
        return AgeUnwrap::Bad(
            "age stanza belongs to another file (its header hash differs)".into(),
        );
    }
    let mut dk = Zeroizing::new([0u8; 32]);
    dk.copy_from_slice(&plain[..32]);
    let mut c = [0u8; 32];
    c.copy_from_slice(&plain[32..64]);
    AgeUnwrap::Opened(DataKey(dk), c)
}

/// Parses one recipient string (an X25519 recipient, `age1…`). Any other string gets
/// a clear [`ErrorKind::InvalidKey`] error, which never repeats secret material.
pub fn parse_recipient(s: &str) -> Result<Box<dyn age::Recipient + Send + Sync>> {
    let s = s.trim();
    if s.is_empty() {
        return Err(invalid("an age recipient is empty"));
    }
    // Secret keys first, so they are never echoed.
    if has_prefix_ci(s, "AGE-SECRET-KEY-") {
        return Err(invalid(
            "this is an age identity (a secret key), not a recipient; give its public key (age1…), e.g. from `age-keygen -y`",
        ));
    }
    if has_prefix_ci(s, "AGE-PLUGIN-") {
        return Err(invalid(
            "this is an age plugin identity (secret), not a recipient",
        ));
    }
    if has_prefix_ci(s, "sasf-sign") {
        return Err(invalid("this is a SASF signing key, not an age recipient"));
    }
    if s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-") {
        return Err(invalid(
            "SSH recipients are not supported by this build; give an X25519 age recipient (age1…)",
        ));
    }
    match s.parse::<age::x25519::Recipient>() {
        Ok(r) => Ok(Box::new(r)),
        Err(_) => {
            let lower = s.to_ascii_lowercase();
            if lower.starts_with("age1") && lower[4..].contains('1') {
                // age1<name>1…: a plugin or another native type (age1tag1…, age1pq1…).
                let name = &lower[4..4 + lower[4..].find('1').unwrap_or(0)];
                let name: String = name
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(32)
                    .collect();
                Err(invalid(format!(
                    "age recipients of type `{name}` (plugins and non-X25519 types) are not supported; give an X25519 recipient (age1…)"
                )))
            } else if lower.starts_with("age1") {
                Err(invalid(
                    "not a valid X25519 age recipient (bad Bech32 encoding or length)",
                ))
            } else {
                Err(invalid(
                    "not an age recipient (an X25519 recipient starts with age1)",
                ))
            }
        }
    }
}

fn has_prefix_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Parses a recipients file: one recipient per line; lines starting with `#` and blank
/// lines are ignored. An error names the line number.
pub fn parse_recipients_file(text: &str) -> Result<Vec<Box<dyn age::Recipient + Send + Sync>>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_recipient(line) {
            Ok(r) => out.push(r),
            Err(e) => {
                let reason = match e.kind() {
                    ErrorKind::InvalidKey { reason } => reason.clone(),
                    _ => e.to_string(),
                };
                return Err(invalid(format!(
                    "recipients file, line {}: {reason}",
                    i + 1
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(invalid("recipients file holds no recipient"));
    }
    Ok(out)
}

/// Parses an age identity file (`AGE-SECRET-KEY-1…` lines; lines starting with `#`
/// and blank lines are ignored) into identities. An error names the line number and
/// never contains the secret.
pub fn parse_identity_file(contents: &[u8]) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>> {
    if contents.starts_with(b"age-encryption.org/")
        || contents.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
    {
        return Err(invalid(
            "this identity file is itself age-encrypted (passphrase-protected); decrypt it first",
        ));
    }
    let text = std::str::from_utf8(contents)
        .map_err(|_| invalid("age identity file is not UTF-8 text"))?;
    let mut out: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |why: &str| invalid(format!("age identity file, line {}: {why}", i + 1));
        if has_prefix_ci(line, "AGE-SECRET-KEY-1") {
            match line.parse::<age::x25519::Identity>() {
                Ok(id) => out.push(Box::new(id)),
                Err(_) => {
                    return Err(at(
                        "not a valid X25519 identity (bad Bech32 encoding or length)",
                    ))
                }
            }
        } else if has_prefix_ci(line, "AGE-SECRET-KEY-") {
            return Err(at(
                "this type of age identity is not supported (only X25519, AGE-SECRET-KEY-1…)",
            ));
        } else if has_prefix_ci(line, "AGE-PLUGIN-") {
            return Err(at("plugin identities are not supported by this build"));
        } else if has_prefix_ci(line, "age1") {
            return Err(at(
                "this is a recipient (public key), not an identity; give the identity file with the AGE-SECRET-KEY-1 line",
            ));
        } else if line.starts_with("-----BEGIN") {
            return Err(at("SSH and other PEM keys are not supported by this build"));
        } else {
            return Err(at("not an age identity (expected AGE-SECRET-KEY-1…)"));
        }
    }
    if out.is_empty() {
        return Err(invalid("age identity file holds no identity"));
    }
    Ok(out)
}

/// A new X25519 identity: the identity file text in `age-keygen` style (a
/// `# created: <RFC 3339 UTC>` line, a `# public key: age1…` line, then the
/// `AGE-SECRET-KEY-1…` line), wiped on drop, and the recipient string.
pub fn generate_x25519() -> (Zeroizing<String>, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "unknown".into());
    let secret = id.to_string();
    // Room for everything up front, so that no reallocation leaves a copy behind.
    let mut text = Zeroizing::new(String::with_capacity(256));
    text.push_str("# created: ");
    text.push_str(&created);
    text.push_str("\n# public key: ");
    text.push_str(&recipient);
    text.push('\n');
    text.push_str(secret.expose_secret());
    text.push('\n');
    (text, recipient)
}

/// A public description of an age stanza body, read without any key: each stanza's
/// type and what it reveals, e.g. `X25519` (nothing about the recipient),
/// `ssh-ed25519 1a2b3c4d` (the 4-byte key tag, in hex), `scrypt (passphrase, work
/// factor 2^18)`, or `piv-p256 (plugin or unknown type)`. The random "grease" stanzas
/// age adds are left out. Several stanzas are joined with `, `.
///
/// Reads at most 4096 bytes and never panics: a body it cannot read (or a longer
/// one) gives `unreadable age header`.
pub fn describe_age(body: &[u8]) -> String {
    describe(body).unwrap_or_else(|| UNREADABLE.to_string())
}

fn describe(body: &[u8]) -> Option<String> {
    if body.len() > DESCRIBE_LIMIT {
        return None;
    }
    let mut rest = body.strip_prefix(b"age-encryption.org/v1\n")?;
    let mut next_line = || -> Option<&str> {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&rest[..end]).ok()?;
        rest = &rest[end + 1..];
        Some(line)
    };
    let mut parts = Vec::new();
    let mut stanzas = 0usize;
    let mut line = next_line()?;
    loop {
        if let Some(mac) = line.strip_prefix("--- ") {
            if stanzas == 0 || mac.len() != 43 || !mac.bytes().all(is_b64) {
                return None;
            }
            break;
        }
        let stanza = line.strip_prefix("-> ")?;
        stanzas += 1;
        let mut fields = stanza.split(' ');
        let tag = fields.next().unwrap_or("");
        let args: Vec<&str> = fields.collect();
        if tag.is_empty()
            || !tag.bytes().all(|b| b.is_ascii_graphic())
            || args
                .iter()
                .any(|a| a.is_empty() || !a.bytes().all(|b| b.is_ascii_graphic()))
        {
            return None;
        }
        // The body: base64 lines of 64 columns, ending with a shorter (maybe empty) one.
        loop {
            let b = next_line()?;
            if b.len() > 64 || !b.bytes().all(is_b64) {
                return None;
            }
            if b.len() < 64 {
                break;
            }
        }
        if !tag.ends_with("-grease") {
            parts.push(describe_stanza(tag, &args));
        }
        line = next_line()?;
    }
    if parts.is_empty() {
        return Some("no recipient stanza (only grease)".to_string());
    }
    Some(parts.join(", "))
}

fn describe_stanza(tag: &str, args: &[&str]) -> String {
    match tag {
        "X25519" | "mlkem768x25519" => tag.to_string(),
        "ssh-ed25519" | "ssh-rsa" => match args.first().and_then(|a| b64_decode(a)) {
            Some(t) if t.len() == 4 => format!("{tag} {}", super::hex(&t)),
            _ => format!("{tag} (malformed key tag)"),
        },
        "scrypt" => match args.get(1).and_then(|n| n.parse::<u8>().ok()) {
            Some(n) => format!("scrypt (passphrase, work factor 2^{n})"),
            None => "scrypt (passphrase)".to_string(),
        },
        "p256tag" | "mlkem768p256tag" => format!("{tag} (tagged recipient, hardware key)"),
        _ => {
            let shown: String = tag.chars().take(64).collect();
            format!("{shown} (plugin or unknown type)")
        }
    }
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Decodes short unpadded standard base64 (an SSH key tag); `None` if malformed.
fn b64_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() > 64 || s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Canonical: the leftover bits are zero.
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error of a result whose value has no `Debug`.
    fn err<T>(r: Result<T>) -> Error {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    fn x25519() -> (age::x25519::Identity, age::x25519::Recipient) {
        let id = age::x25519::Identity::generate();
        let r = id.to_public();
        (id, r)
    }

    fn dk() -> DataKey {
        DataKey::from_bytes([7u8; 32])
    }

    const C: [u8; 32] = [0xc0; 32];
    const H: [u8; 32] = [0x11; 32];

    #[test]
    fn round_trip() {
        let (id, r) = x25519();
        let body = wrap_age(&r, &dk(), &C, &H).unwrap();
        match unwrap_age(&body, &[&id], &H) {
            AgeUnwrap::Opened(k, c) => {
                assert_eq!(*k.0, [7u8; 32]);
                assert_eq!(c, C);
            }
            other => panic!("{other:?}"),
        }
        // Among other identities too, in any position.
        let (other, _) = x25519();
        assert!(matches!(
            unwrap_age(&body, &[&other, &id], &H),
            AgeUnwrap::Opened(..)
        ));
    }

    #[test]
    fn wrong_identity_is_no_match() {
        let (_, r) = x25519();
        let (other, _) = x25519();
        let body = wrap_age(&r, &dk(), &C, &H).unwrap();
        assert!(matches!(
            unwrap_age(&body, &[&other], &H),
            AgeUnwrap::NoMatch
        ));
        assert!(matches!(unwrap_age(&body, &[], &H), AgeUnwrap::NoMatch));
    }

    #[test]
    fn stanza_from_another_file_is_bad() {
        let (id, r) = x25519();
        let body = wrap_age(&r, &dk(), &C, &H).unwrap();
        match unwrap_age(&body, &[&id], &[0x12; 32]) {
            AgeUnwrap::Bad(why) => assert!(why.contains("another file"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    fn age_file(r: &dyn age::Recipient, plain: &[u8]) -> Vec<u8> {
        let e = age::Encryptor::with_recipients(std::iter::once(r)).unwrap();
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap();
        std::io::Write::write_all(&mut w, plain).unwrap();
        w.finish().unwrap();
        out
    }

    #[test]
    fn plaintext_must_be_96_bytes() {
        let (id, r) = x25519();
        for len in [0usize, 64, 95, 97, 200, 70_000] {
            let mut plain = vec![0u8; len];
            if len >= 96 {
                plain[64..96].copy_from_slice(&H);
            }
            let body = age_file(&r, &plain);
            match unwrap_age(&body, &[&id], &H) {
                AgeUnwrap::Bad(why) => assert!(why.contains("96"), "{len}: {why}"),
                other => panic!("{len}: {other:?}"),
            }
        }
        // And a hand-made 96-byte plaintext opens.
        let mut plain = [0u8; 96];
        plain[..32].copy_from_slice(&[1; 32]);
        plain[32..64].copy_from_slice(&C);
        plain[64..].copy_from_slice(&H);
        let body = age_file(&r, &plain);
        assert!(matches!(
            unwrap_age(&body, &[&id], &H),
            AgeUnwrap::Opened(k, c) if *k.0 == [1; 32] && c == C
        ));
    }

    #[test]
    fn truncated_or_flipped_never_panics() {
        let (id, r) = x25519();
        let body = wrap_age(&r, &dk(), &C, &H).unwrap();
        for cut in 0..body.len() {
            let r = unwrap_age(&body[..cut], &[&id], &H);
            assert!(!matches!(r, AgeUnwrap::Opened(..)), "cut {cut}");
            let _ = describe_age(&body[..cut]);
        }
        for i in 0..body.len() {
            for bit in [0x01u8, 0x80] {
                let mut b = body.clone();
                b[i] ^= bit;
                let r = unwrap_age(&b, &[&id], &H);
                assert!(!matches!(r, AgeUnwrap::Opened(..)), "byte {i} bit {bit:#x}");
                let _ = describe_age(&b);
            }
        }
        // Trailing bytes after the payload.
        let mut b = body.clone();
        b.push(0);
        assert!(!matches!(unwrap_age(&b, &[&id], &H), AgeUnwrap::Opened(..)));
    }

    #[test]
    fn body_length_for_one_x25519_recipient() {
        // age adds one random grease stanza, so the length varies: 296 bytes without
        // it (22 version line, 54 stanza line, 44 stanza body, 48 MAC line, 16 nonce,
        // 112 payload and tag), 309 to 486 with it (a 1..=8-character tag plus
        // "-grease", 0..=4 arguments, a 0..=99-byte body). Seen over 200 wraps:
        // 315..=466.
        let (_, r) = x25519();
        let mut lens = Vec::new();
        for _ in 0..200 {
            lens.push(wrap_age(&r, &dk(), &C, &H).unwrap().len());
        }
        let (min, max) = (*lens.iter().min().unwrap(), *lens.iter().max().unwrap());
        println!("age stanza body length for one X25519 recipient: {min}..={max}");
        assert!(min >= 309 && max <= 486, "{min}..={max}");
    }

    #[test]
    fn describe_real_and_garbage() {
        let (_, r) = x25519();
        for _ in 0..20 {
            let body = wrap_age(&r, &dk(), &C, &H).unwrap();
            assert_eq!(describe_age(&body), "X25519");
        }
        let h = "age-encryption.org/v1\n";
        let mac = "--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
        let ssh = format!("{h}-> ssh-ed25519 Ghrd7A abc\nAAAA\n{mac}");
        assert_eq!(describe_age(ssh.as_bytes()), "ssh-ed25519 1a1addec");
        let two = format!(
            "{h}-> piv-p256 abc def\n{}\n\n-> x-grease\n\n-> scrypt c2FsdA 18\nAAAA\n{mac}",
            "A".repeat(64)
        );
        assert_eq!(
            describe_age(two.as_bytes()),
            "piv-p256 (plugin or unknown type), scrypt (passphrase, work factor 2^18)"
        );
        for garbage in [
            &b""[..],
            b"age-encryption.org/v1\n",
            b"age-encryption.org/v1\n--- AAAA\n",
            b"age-encryption.org/v2\n-> X25519 a\n\n",
            b"\xff\xfe\x00garbage",
            b"age-encryption.org/v1\n-> \xff\n\n",
            b"age-encryption.org/v1\n->  X25519\n\n",
        ] {
            assert_eq!(describe_age(garbage), UNREADABLE, "{garbage:?}");
        }
        // A body line of 64 columns must be followed by another line.
        let no_end = format!("{h}-> X25519 a\n{}\n{mac}", "A".repeat(64));
        assert_eq!(describe_age(no_end.as_bytes()), UNREADABLE);
        assert_eq!(describe_age(&vec![b'a'; 5000]), UNREADABLE);
    }

    #[test]
    fn recipient_parse_errors() {
        let (id, r) = x25519();
        assert!(parse_recipient(&r.to_string()).is_ok());
        assert!(parse_recipient(&format!("  {r}\n")).is_ok());
        use age::secrecy::ExposeSecret;
        let secret = id.to_string();
        let secret = secret.expose_secret();
        let e = err(parse_recipient(secret)).to_string();
        assert!(e.contains("secret key"), "{e}");
        assert!(!e.contains(&secret[16..]), "{e}");
        for (s, want) in [
            ("", "empty"),
            ("ssh-ed25519 AAAAC3Nza", "SSH"),
            ("age1yubikey1qwerty", "yubikey"),
            ("age1qqqq", "not a valid"),
            ("hello", "not an age recipient"),
            ("sasf-sign:00", "signing key"),
        ] {
            let e = err(parse_recipient(s));
            assert_eq!(e.class(), "invalid-key");
            assert!(e.to_string().contains(want), "{s}: {e}");
        }
        let text = format!("# team\n\n{r}\n  # indented comment\n{}\n", id.to_public());
        assert_eq!(parse_recipients_file(&text).unwrap().len(), 2);
        let e = err(parse_recipients_file(&format!("# a\n{r}\nnope\n"))).to_string();
        assert!(e.contains("line 3"), "{e}");
        let e = err(parse_recipients_file(&format!("{r}\n{secret}\n"))).to_string();
        assert!(e.contains("line 2") && !e.contains(&secret[16..]), "{e}");
        assert!(parse_recipients_file("# only comments\n").is_err());
    }

    #[test]
    fn identity_files() {
        let (text, recipient) = generate_x25519();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("# created: ") && lines[0].ends_with('Z'));
        assert!(time::OffsetDateTime::parse(
            &lines[0][11..],
            &time::format_description::well_known::Rfc3339
        )
        .is_ok());
        assert_eq!(lines[1], format!("# public key: {recipient}"));
        assert!(lines[2].starts_with("AGE-SECRET-KEY-1"));
        let ids = parse_identity_file(text.as_bytes()).unwrap();
        assert_eq!(ids.len(), 1);
        let r = parse_recipient(&recipient).unwrap();
        let body = wrap_age(&*r, &dk(), &C, &H).unwrap();
        let ids: Vec<&dyn age::Identity> = ids.iter().map(|i| &**i as _).collect();
        assert!(matches!(unwrap_age(&body, &ids, &H), AgeUnwrap::Opened(..)));

        // Errors name the line and never hold the secret.
        let secret = lines[2];
        let broken = format!("# c\n{}X\n", secret);
        let e = err(parse_identity_file(broken.as_bytes())).to_string();
        assert!(e.contains("line 2") && !e.contains(&secret[16..]), "{e}");
        let e = err(parse_identity_file(
            format!("{secret}\n{recipient}\n").as_bytes(),
        ))
        .to_string();
        assert!(e.contains("line 2") && e.contains("recipient"), "{e}");
        for (f, want) in [
            (&b"# nothing\n\n"[..], "no identity"),
            (b"\xff\xfe", "UTF-8"),
            (b"AGE-PLUGIN-YUBIKEY-1QQQ\n", "plugin"),
            (b"AGE-SECRET-KEY-PQ-1QQQ\n", "only X25519"),
            (b"age-encryption.org/v1\n-> scrypt", "age-encrypted"),
            (b"-----BEGIN OPENSSH PRIVATE KEY-----\n", "SSH"),
            (b"0001020304\n", "not an age identity"),
        ] {
            let e = err(parse_identity_file(f));
            assert_eq!(e.class(), "invalid-key");
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    #[test]
    fn base64_helper() {
        assert_eq!(b64_decode("Ghrd7A").unwrap(), [0x1a, 0x1a, 0xdd, 0xec]);
        assert_eq!(b64_decode("").unwrap(), b"");
        assert!(b64_decode("Ghrd7B").is_none()); // non-canonical trailing bits
        assert!(b64_decode("G").is_none());
        assert!(b64_decode("Gh=d").is_none());
    }
}
