//! A deterministic encoder of a binary (unarmored) age v1 file for one X25519
//! recipient, written from the age v1 specification (c2sp.org/age), not with the
//! `age` crate, so that the conformance vectors can hold age stanzas whose every byte
//! follows from fixed inputs.
//!
//! The file is the header, the 16-byte payload nonce and the payload:
//!
//! ```text
//! age-encryption.org/v1
//! -> X25519 <base64 of the ephemeral share>
//! <base64 of the wrapped file key>
//! --- <base64 of the header MAC>
//! <nonce><STREAM ciphertext>
//! ```
//!
//! - The wrap key is HKDF-SHA256(salt = ephemeral share || recipient, ikm = the X25519
//!   shared secret, info = "age-encryption.org/v1/X25519"); the stanza body is
//!   ChaCha20-Poly1305 of the 16-byte file key under it, with an all-zero nonce.
//! - The MAC key is HKDF-SHA256(salt = empty, ikm = file key, info = "header"); the MAC
//!   is HMAC-SHA256 over the header up to and including `---` (not the space after).
//! - The payload key is HKDF-SHA256(salt = nonce, ikm = file key, info = "payload");
//!   the payload is STREAM of ChaCha20-Poly1305 over 64 KiB chunks, the chunk nonce an
//!   11-byte big-endian counter and a last-chunk flag byte. Here the plaintext is one
//!   final chunk (counter 0, flag 1).
//! - Base64 is the standard alphabet without padding. A stanza body is wrapped at 64
//!   columns and its last line is always shorter than 64 (empty if need be).
//!
//! Unlike the `age` crate, no random "grease" stanza is added (the spec allows but
//! does not require one), so for a 96-byte plaintext the file is always 296 bytes.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

const VERSION_LINE: &str = "age-encryption.org/v1\n";
const X25519_INFO: &[u8] = b"age-encryption.org/v1/X25519";
/// Plaintext bytes per STREAM chunk.
const CHUNK: usize = 64 * 1024;

/// The X25519 public key for a fixed secret scalar (clamped as X25519 does).
pub fn x25519_recipient(secret: &[u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(*secret)).to_bytes()
}

/// The age identity string for a secret: Bech32 with the HRP `AGE-SECRET-KEY-`, upper
/// case.
pub fn x25519_identity_string(secret: &[u8; 32]) -> String {
    let hrp = bech32::Hrp::parse("age-secret-key-").expect("valid HRP");
    bech32::encode_upper::<bech32::Bech32>(hrp, secret).expect("74 characters fit Bech32")
}

/// The age recipient string for a public key: Bech32 with the HRP `age`, lower case.
pub fn recipient_string(public: &[u8; 32]) -> String {
    let hrp = bech32::Hrp::parse("age").expect("valid HRP");
    bech32::encode_lower::<bech32::Bech32>(hrp, public).expect("62 characters fit Bech32")
}

fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    out
}

/// A stanza body: base64 lines of 64 columns, the last one shorter (maybe empty).
fn wrapped_b64(bytes: &[u8]) -> String {
    let b64 = STANDARD_NO_PAD.encode(bytes);
    let mut out = String::new();
    let mut rest = b64.as_str();
    loop {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        if line.len() < 64 {
            return out;
        }
        rest = tail;
    }
}

/// A binary age v1 file encrypting `plaintext` (at most 64 KiB: one final chunk) to
/// `recipient_public`, with every random input given: the ephemeral secret, the file
/// key and the payload nonce.
pub fn age_x25519_file(
    ephemeral_secret: &[u8; 32],
    recipient_public: &[u8; 32],
    file_key: &[u8; 16],
    payload_nonce: &[u8; 16],
    plaintext: &[u8],
) -> Vec<u8> {
    assert!(plaintext.len() <= CHUNK, "the model writes one chunk only");

    // The X25519 stanza.
    let esk = StaticSecret::from(*ephemeral_secret);
    let share = PublicKey::from(&esk);
    let shared = esk.diffie_hellman(&PublicKey::from(*recipient_public));
    assert!(
        shared.as_bytes().iter().any(|&b| b != 0),
        "the spec forbids an all-zero shared secret"
    );
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(share.as_bytes());
    salt[32..].copy_from_slice(recipient_public);
    let wrap_key = hkdf32(&salt, shared.as_bytes(), X25519_INFO);
    let wrapped = ChaCha20Poly1305::new(&wrap_key.into())
        .encrypt(&[0u8; 12].into(), &file_key[..])
        .expect("ChaCha20-Poly1305 seals 16 bytes");
    assert_eq!(wrapped.len(), 32);

    // The header and its MAC.
    let mut header = String::from(VERSION_LINE);
    header.push_str("-> X25519 ");
    header.push_str(&STANDARD_NO_PAD.encode(share.as_bytes()));
    header.push('\n');
    header.push_str(&wrapped_b64(&wrapped));
    header.push_str("---");
    let mac_key = hkdf32(&[], file_key, b"header");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&mac_key).expect("any key length");
    mac.update(header.as_bytes());
    let tag = mac.finalize().into_bytes();
    header.push(' ');
    header.push_str(&STANDARD_NO_PAD.encode(tag));
    header.push('\n');

    // The payload: nonce, then one final STREAM chunk.
    let payload_key = hkdf32(payload_nonce, file_key, b"payload");
    let mut chunk_nonce = [0u8; 12];
    chunk_nonce[11] = 1; // counter 0, last chunk
    let sealed = ChaCha20Poly1305::new(&payload_key.into())
        .encrypt(&chunk_nonce.into(), plaintext)
        .expect("ChaCha20-Poly1305 seals one chunk");

    let mut out = header.into_bytes();
    out.extend_from_slice(payload_nonce);
    out.extend_from_slice(&sealed);
    out
}
