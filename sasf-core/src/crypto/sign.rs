//! Ed25519 signatures over a file's header hash, file digest and signing time.
//!
//! The signed message is [`signed_message`]: the label [`SIGNATURE_LABEL`], the header
//! hash `H`, the file digest and the signing time in milliseconds since the Unix epoch
//! (big-endian). Verification is `verify_strict`: no small-order keys, no malleable
//! signatures.
//!
//! Key files are text. A secret one holds `sasf-sign-secret:` and the 32-byte Ed25519
//! seed in hex; a public one `sasf-sign:` and the 32-byte public key in hex; lines
//! starting with `#` and blank lines are ignored in both.

use ed25519_dalek::Signer;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{hex, hex_val};
use crate::error::{Error, ErrorKind, Result};

/// Label at the start of every signed message.
pub const SIGNATURE_LABEL: &[u8] = b"SASF-v2/signature";
/// Label of a signer id.
pub const SIGNER_ID_LABEL: &[u8] = b"SASF-v2/signer-id";

const SECRET_PREFIX: &str = "sasf-sign-secret:";
const PUBLIC_PREFIX: &str = "sasf-sign:";

fn invalid(reason: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidKey {
        reason: reason.into(),
    })
}

/// The one key line of a key file, trimmed: comments (`#`) and blank lines skipped.
fn key_line<'a>(contents: &'a [u8], what: &str) -> Result<&'a str> {
    let text = std::str::from_utf8(contents)
        .map_err(|_| invalid(format!("{what} file is not UTF-8 text")))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines
        .next()
        .ok_or_else(|| invalid(format!("{what} file holds no key")))?;
    if lines.next().is_some() {
        return Err(invalid(format!("{what} file holds more than one key line")));
    }
    // Other kinds of keys, named without repeating them.
    if line.len() >= 4 && line.as_bytes()[..4].eq_ignore_ascii_case(b"age-") {
        return Err(invalid(format!(
            "this is an age identity, not a SASF {what} file"
        )));
    }
    if line.starts_with("age1") {
        return Err(invalid(format!(
            "this is an age recipient, not a SASF {what} file"
        )));
    }
    if line.len() == 64 && line.bytes().all(|b| hex_val(b).is_some()) {
        return Err(invalid(format!(
            "this looks like a SASF symmetric key file (64 hex digits alone), not a {what} file"
        )));
    }
    Ok(line)
}

/// Decodes 64 hex digits into 32 bytes, in a buffer wiped on drop.
fn hex32(digits: &str, what: &str) -> Result<Zeroizing<[u8; 32]>> {
    let bad = || invalid(format!("{what} is 64 hexadecimal digits"));
    if digits.len() != 64 {
        return Err(bad());
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (i, pair) in digits.as_bytes().chunks_exact(2).enumerate() {
        let hi = hex_val(pair[0]).ok_or_else(bad)?;
        let lo = hex_val(pair[1]).ok_or_else(bad)?;
        out[i] = hi << 4 | lo;
    }
    Ok(out)
}

/// An Ed25519 signing key (secret). Its `Debug` shows nothing secret; it is wiped
/// from memory when dropped.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A fresh key from the operating system's random generator.
    pub fn generate() -> Result<SigningKey> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut seed[..]).map_err(|e| {
            Error::new(ErrorKind::Io(std::io::Error::other(format!(
                "random generator failed: {e}"
            ))))
        })?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The key of a 32-byte Ed25519 seed (test vectors; key files hold the seed).
    pub fn from_seed(seed: [u8; 32]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Parses a secret key file: UTF-8; lines starting with `#` and blank lines
    /// ignored; exactly one other line, `sasf-sign-secret:` and 64 hex digits (the
    /// 32-byte Ed25519 seed). A public key file gets an error saying so.
    pub fn from_key_file(contents: &[u8]) -> Result<SigningKey> {
        let line = key_line(contents, "signing key")?;
        if line.starts_with(PUBLIC_PREFIX) {
            return Err(invalid(
                "this is a public signing key file (sasf-sign:…); a secret one (sasf-sign-secret:…) is needed to sign",
            ));
        }
        let digits = line.strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            invalid("a signing key file's key line starts with sasf-sign-secret:")
        })?;
        let seed = hex32(digits, "a signing key")?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The secret key file text: a comment line naming the signer id, then the key
    /// line. Wiped on drop.
    pub fn to_key_file(&self) -> Zeroizing<String> {
        let id = hex(&self.verifying_key().id());
        // Room for everything up front, so that no reallocation leaves a copy behind.
        let mut s = Zeroizing::new(String::with_capacity(160));
        s.push_str("# sasf signing key (Ed25519, secret), signer id ");
        s.push_str(&id);
        s.push('\n');
        s.push_str(SECRET_PREFIX);
        let seed = Zeroizing::new(self.0.to_bytes());
        for b in seed.iter() {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        s.push('\n');
        s
    }

    /// The Ed25519 signature over an arbitrary message (an annotation segment's,
    /// `format::segment::segment_signed_message`).
    pub fn sign_message(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.0.verifying_key())
    }

    /// The Ed25519 signature over [`signed_message`]`(h, file_digest, signed_at_ms)`.
    pub fn sign(&self, h: &[u8; 32], file_digest: &[u8; 32], signed_at_ms: u64) -> [u8; 64] {
        self.0
            .sign(&signed_message(h, file_digest, signed_at_ms))
            .to_bytes()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// An Ed25519 public key, for checking signatures.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifyingKey(ed25519_dalek::VerifyingKey);

impl VerifyingKey {
    /// A public key from its 32 bytes. Rejects bytes that are not a point on the
    /// curve, and weak (small-order) points, which `verify_strict` would reject anyway.
    pub fn from_bytes(b: &[u8; 32]) -> Result<VerifyingKey> {
        let k = ed25519_dalek::VerifyingKey::from_bytes(b)
            .map_err(|_| invalid("not a valid Ed25519 public key"))?;
        if k.is_weak() {
            return Err(invalid("a weak (small-order) Ed25519 public key"));
        }
        Ok(VerifyingKey(k))
    }

    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Parses a public key file: lines starting with `#` and blank lines ignored;
    /// exactly one other line, `sasf-sign:` and 64 hex digits. A secret key file gets
    /// an error saying so (and not repeating it).
    pub fn from_pub_file(contents: &[u8]) -> Result<VerifyingKey> {
        let line = key_line(contents, "signing public key")?;
        if line.starts_with(SECRET_PREFIX) {
            return Err(invalid(
                "this is a secret signing key file (sasf-sign-secret:…), not a public one; give its public key file (sasf-sign:…) and keep the secret one private",
            ));
        }
        let digits = line.strip_prefix(PUBLIC_PREFIX).ok_or_else(|| {
            invalid("a signing public key file's key line starts with sasf-sign:")
        })?;
        let b = hex32(digits, "a signing public key")?;
        VerifyingKey::from_bytes(&b)
    }

    /// The public key file text: a comment line naming the signer id, then the key
    /// line.
    pub fn to_pub_file(&self) -> String {
        format!(
            "# sasf signing public key (Ed25519), signer id {}\n{PUBLIC_PREFIX}{}\n",
            hex(&self.id()),
            hex(&self.to_bytes())
        )
    }

    /// The signer id: the first 16 bytes of SHA-256(`SIGNER_ID_LABEL` || public key).
    pub fn id(&self) -> [u8; 16] {
        let mut h = Sha256::new();
        h.update(SIGNER_ID_LABEL);
        h.update(self.0.as_bytes());
        let d = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&d[..16]);
        id
    }

    /// Whether `sig` is this key's signature (`verify_strict`) over `msg`.
    pub fn verify_message(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        self.0.verify_strict(msg, &sig).is_ok()
    }

    /// Whether `sig` is this key's signature (`verify_strict`) over
    /// [`signed_message`]`(h, file_digest, signed_at_ms)`.
    pub fn verify(
        &self,
        h: &[u8; 32],
        file_digest: &[u8; 32],
        signed_at_ms: u64,
        sig: &[u8; 64],
    ) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        let msg = signed_message(h, file_digest, signed_at_ms);
        self.0.verify_strict(&msg, &sig).is_ok()
    }
}

/// The signed message: `SIGNATURE_LABEL || h || file_digest || signed_at_ms` (u64
/// big-endian).
pub fn signed_message(h: &[u8; 32], file_digest: &[u8; 32], signed_at_ms: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_LABEL.len() + 72);
    m.extend_from_slice(SIGNATURE_LABEL);
    m.extend_from_slice(h);
    m.extend_from_slice(file_digest);
    m.extend_from_slice(&signed_at_ms.to_be_bytes());
    m
}

/// The verdict on one signature stanza of a file (`docs/FORMAT.md` §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The signer's public key, as stored (`None` for a signature kind this crate
    /// does not know).
    pub signer: Option<[u8; 32]>,
    /// The signer's id in hex (empty for an unknown kind).
    pub id: String,
    /// When the signer says it signed, milliseconds since the Unix epoch (0: not
    /// stated).
    pub signed_at_ms: u64,
    /// Whether the signature verifies over this file's header hash and file digest.
    pub valid: bool,
    /// Whether the signer is one the caller trusts.
    pub trusted: bool,
}

/// Checks every signature stanza of `section` against the file's header hash `h` and
/// file digest `fd`; `trusted` are the signers the caller named.
pub fn check_signatures(
    section: &crate::format::KeySection,
    h: &[u8; 32],
    fd: &[u8; 32],
    trusted: &[VerifyingKey],
) -> Vec<SignatureCheck> {
    use crate::format::{ED25519_BODY_LEN, SIGNATURE_ED25519};
    section
        .signatures
        .iter()
        .map(|s| {
            if s.kind != SIGNATURE_ED25519 || s.body.len() != ED25519_BODY_LEN {
                return SignatureCheck {
                    signer: None,
                    id: String::new(),
                    signed_at_ms: 0,
                    valid: false,
                    trusted: false,
                };
            }
            let pk: [u8; 32] = s.body[..32].try_into().expect("32 bytes");
            let at = u64::from_be_bytes(s.body[32..40].try_into().expect("8 bytes"));
            let sig: [u8; 64] = s.body[40..104].try_into().expect("64 bytes");
            let key = VerifyingKey::from_bytes(&pk).ok();
            SignatureCheck {
                signer: Some(pk),
                id: key
                    .as_ref()
                    .map(|k| crate::crypto::hex(&k.id()))
                    .unwrap_or_else(|| "invalid-key".into()),
                signed_at_ms: at,
                valid: key.as_ref().is_some_and(|k| k.verify(h, fd, at, &sig)),
                trusted: key.as_ref().is_some_and(|k| trusted.contains(k)),
            }
        })
        .collect()
}

/// `Ok` when some check is valid and trusted; else why not.
pub fn require_trusted(checks: &[SignatureCheck], trusted: &[VerifyingKey]) -> Result<()> {
    if checks.iter().any(|c| c.valid && c.trusted) {
        return Ok(());
    }
    let want: Vec<String> = trusted
        .iter()
        .map(|k| crate::crypto::hex(&k.id()))
        .collect();
    let have: Vec<String> = checks
        .iter()
        .map(|c| {
            let v = if c.valid { "valid" } else { "INVALID" };
            format!(
                "{} {v}",
                if c.id.is_empty() {
                    "unknown kind"
                } else {
                    &c.id
                }
            )
        })
        .collect();
    Err(Error::new(ErrorKind::NotSigned {
        reason: format!(
            "no valid signature by {}; the file has {}",
            want.join(" or "),
            if have.is_empty() {
                "no signature".to_string()
            } else {
                format!("{} signature(s): {}", have.len(), have.join(", "))
            }
        ),
    }))
}

/// The signature stanza of `key` over the file whose header hash is `h` and file
/// digest `fd`.
pub fn signature_stanza(
    key: &SigningKey,
    h: &[u8; 32],
    fd: &[u8; 32],
    signed_at_ms: u64,
) -> crate::format::Stanza {
    let mut body = key.verifying_key().to_bytes().to_vec();
    body.extend_from_slice(&signed_at_ms.to_be_bytes());
    body.extend_from_slice(&key.sign(h, fd, signed_at_ms));
    crate::format::Stanza {
        kind: crate::format::SIGNATURE_ED25519,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn fixed() -> SigningKey {
        SigningKey::from_key_file(format!("# k\n\n{SECRET_PREFIX}{SEED}\n").as_bytes()).unwrap()
    }

    #[test]
    fn key_files_round_trip() {
        let k = SigningKey::generate().unwrap();
        let text = k.to_key_file();
        assert!(text.starts_with('#'));
        assert!(text.contains(&hex(&k.verifying_key().id())));
        let k2 = SigningKey::from_key_file(text.as_bytes()).unwrap();
        assert_eq!(k.verifying_key(), k2.verifying_key());
        let p = k.verifying_key().to_pub_file();
        assert!(p.contains(&hex(&k.verifying_key().id())));
        assert_eq!(
            VerifyingKey::from_pub_file(p.as_bytes()).unwrap(),
            k.verifying_key()
        );
        let vk = k.verifying_key();
        assert_eq!(VerifyingKey::from_bytes(&vk.to_bytes()).unwrap(), vk);
        // Upper-case hex and CRLF line ends are accepted.
        let upper = format!("{SECRET_PREFIX}{}\r\n", SEED.to_uppercase());
        assert_eq!(
            SigningKey::from_key_file(upper.as_bytes())
                .unwrap()
                .verifying_key(),
            fixed().verifying_key()
        );
        assert_eq!(format!("{k:?}"), "SigningKey(..)");
    }

    #[test]
    fn rfc8032_seed_gives_its_public_key() {
        // RFC 8032 §7.1, test 1.
        let k = SigningKey::from_key_file(
            b"sasf-sign-secret:9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        )
        .unwrap();
        assert_eq!(
            hex(&k.verifying_key().to_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
    }

    #[test]
    fn sign_and_verify_and_every_change_fails() {
        let k = fixed();
        let vk = k.verifying_key();
        let (h, d, t) = ([1u8; 32], [2u8; 32], 1_700_000_000_123u64);
        let sig = k.sign(&h, &d, t);
        assert!(vk.verify(&h, &d, t, &sig));
        // Deterministic.
        assert_eq!(sig, k.sign(&h, &d, t));
        for i in 0..32 {
            let mut h2 = h;
            h2[i] ^= 1;
            assert!(!vk.verify(&h2, &d, t, &sig));
            let mut d2 = d;
            d2[i] ^= 0x80;
            assert!(!vk.verify(&h, &d2, t, &sig));
        }
        for bit in 0..64 {
            assert!(!vk.verify(&h, &d, t ^ (1 << bit), &sig));
        }
        for i in 0..64 {
            for bit in [0x01u8, 0x80] {
                let mut s2 = sig;
                s2[i] ^= bit;
                assert!(!vk.verify(&h, &d, t, &s2), "sig byte {i} bit {bit:#x}");
            }
        }
        let other = SigningKey::generate().unwrap().verifying_key();
        assert!(!other.verify(&h, &d, t, &sig));
    }

    #[test]
    fn message_layout() {
        let m = signed_message(&[0xaa; 32], &[0xbb; 32], 0x0102030405060708);
        assert_eq!(m.len(), 17 + 32 + 32 + 8);
        assert_eq!(&m[..17], b"SASF-v2/signature");
        assert_eq!(&m[17..49], &[0xaa; 32]);
        assert_eq!(&m[49..81], &[0xbb; 32]);
        assert_eq!(&m[81..], &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn signer_id_is_stable() {
        let vk = fixed().verifying_key();
        // Computed here independently: SHA-256 of the label and the public key.
        let mut h = Sha256::new();
        h.update(b"SASF-v2/signer-id");
        h.update(vk.to_bytes());
        let d = h.finalize();
        assert_eq!(vk.id()[..], d[..16]);
        // And pinned, so that a change of derivation is noticed.
        assert_eq!(
            hex(&vk.to_bytes()),
            "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
        );
        assert_eq!(hex(&vk.id()), PINNED_ID);
    }

    // Computed outside Rust (Python hashlib and `cryptography`) from seed 00 01 .. 1f.
    const PINNED_ID: &str = "b6a0925f5d729710b726bfefcbd81315";

    #[test]
    fn malformed_files() {
        let secret = format!("{SECRET_PREFIX}{SEED}\n");
        let public = fixed().verifying_key().to_pub_file();
        // Each kind where the other is expected: a clear error, no secret echoed.
        let e = VerifyingKey::from_pub_file(secret.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("secret signing key file") && !e.contains(&SEED[8..]),
            "{e}"
        );
        let e = SigningKey::from_key_file(public.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("public signing key file"), "{e}");
        let bad_secret: &[&[u8]] = &[
            b"",
            b"# only a comment\n",
            b"\xff\xfe",
            b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            b"sasf-sign-secret:0001",
            b"sasf-sign-secret:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
            b"sasf-sign-secret: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ];
        for f in bad_secret {
            let e = SigningKey::from_key_file(f).unwrap_err();
            assert_eq!(e.class(), "invalid-key", "{f:?}");
        }
        for (f, want) in [
            (&b"AGE-SECRET-KEY-1QQQQ\n"[..], "age identity"),
            (b"age1qqqq\n", "age recipient"),
            (SEED.as_bytes(), "symmetric key file"),
        ] {
            let e = SigningKey::from_key_file(f).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            let e = VerifyingKey::from_pub_file(f).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let two = format!("{secret}{secret}");
        assert!(SigningKey::from_key_file(two.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("more than one"));
        let bad_public: &[&[u8]] = &[
            b"",
            b"sasf-sign:00",
            b"sasf-sign:xx0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            b"age1qqqq",
        ];
        for f in bad_public {
            assert!(VerifyingKey::from_pub_file(f).is_err(), "{f:?}");
        }
    }

    #[test]
    fn invalid_and_weak_points_are_rejected() {
        // The identity point (small order) and a y that is not on the curve.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(VerifyingKey::from_bytes(&identity).is_err());
        let p = format!("sasf-sign:{}\n", hex(&identity));
        assert!(VerifyingKey::from_pub_file(p.as_bytes()).is_err());
        let mut not_on_curve = [0u8; 32];
        not_on_curve[0] = 2;
        assert!(VerifyingKey::from_bytes(&not_on_curve).is_err());
    }
}
