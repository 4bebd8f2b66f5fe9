//! Checks the test-side age encoder (`vectors_gen/age_model.rs`) against the `age`
//! crate and the crate's age stanzas: what the model writes, age decrypts and
//! `unwrap_age` opens; the model's key strings are age's.

#[path = "vectors_gen/age_model.rs"]
mod age_model;

use std::io::Read;

use age::secrecy::ExposeSecret;
use sasf_core::crypto::age_slot::{self, AgeUnwrap};
use sasf_core::crypto::{wrap_slot, DataKey};
use sasf_core::Key;

const SECRET: [u8; 32] = [0x51; 32];
const EPHEMERAL: [u8; 32] = [0xe7; 32];
const FILE_KEY: [u8; 16] = [0xf1; 16];
const NONCE: [u8; 16] = [0x0e; 16];

fn identity() -> age::x25519::Identity {
    age_model::x25519_identity_string(&SECRET)
        .parse()
        .expect("age parses the model's identity string")
}

fn decrypt_with_age(file: &[u8], id: &dyn age::Identity) -> Vec<u8> {
    let d = age::Decryptor::new_buffered(file).expect("age reads the model's header");
    let mut r = d
        .decrypt(std::iter::once(id))
        .expect("age opens the model's file");
    let mut out = Vec::new();
    r.read_to_end(&mut out)
        .expect("age authenticates the payload");
    out
}

#[test]
fn x25519_public_key_matches_rfc7748() {
    // RFC 7748 §6.1, Alice's key pair.
    let sk: [u8; 32] =
        hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .unwrap()
            .try_into()
            .unwrap();
    assert_eq!(
        hex::encode(age_model::x25519_recipient(&sk)),
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    );
}

#[test]
fn key_strings_are_ages() {
    let id = identity();
    let public = age_model::x25519_recipient(&SECRET);
    let recipient = age_model::recipient_string(&public);
    assert!(recipient.starts_with("age1"));
    assert_eq!(id.to_public().to_string(), recipient);
    assert_eq!(
        id.to_string().expose_secret(),
        age_model::x25519_identity_string(&SECRET)
    );
    let parsed: age::x25519::Recipient = recipient.parse().expect("age parses it");
    assert_eq!(parsed.to_string(), recipient);
    assert!(age_slot::parse_recipient(&recipient).is_ok());
    let file = format!(
        "# created: 2000-01-01T00:00:00Z\n# public key: {recipient}\n{}\n",
        age_model::x25519_identity_string(&SECRET)
    );
    assert_eq!(
        age_slot::parse_identity_file(file.as_bytes())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn age_decrypts_what_the_model_writes() {
    let id = identity();
    let public = age_model::x25519_recipient(&SECRET);
    for len in [0usize, 1, 96, 1000, 65536] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let file = age_model::age_x25519_file(&EPHEMERAL, &public, &FILE_KEY, &NONCE, &plain);
        assert_eq!(decrypt_with_age(&file, &id), plain, "length {len}");
    }
    // Deterministic, and the expected shape.
    let a = age_model::age_x25519_file(&EPHEMERAL, &public, &FILE_KEY, &NONCE, &[9; 96]);
    let b = age_model::age_x25519_file(&EPHEMERAL, &public, &FILE_KEY, &NONCE, &[9; 96]);
    assert_eq!(a, b);
    assert_eq!(a.len(), 296);
    assert!(a.starts_with(b"age-encryption.org/v1\n-> X25519 "));
    assert_eq!(age_slot::describe_age(&a), "X25519");
    // Another identity does not open it.
    let other: age::x25519::Identity = age_model::x25519_identity_string(&[0x52; 32])
        .parse()
        .unwrap();
    let d = age::Decryptor::new_buffered(&a[..]).unwrap();
    assert!(matches!(
        d.decrypt(std::iter::once(&other as &dyn age::Identity)),
        Err(age::DecryptError::NoMatchingKeys)
    ));
}

#[test]
fn unwrap_age_opens_a_model_stanza() {
    let id = identity();
    let public = age_model::x25519_recipient(&SECRET);
    let (dk, c, h) = ([0xd0u8; 32], [0xc0u8; 32], [0x4bu8; 32]);
    let mut plain = Vec::new();
    plain.extend_from_slice(&dk);
    plain.extend_from_slice(&c);
    plain.extend_from_slice(&h);
    let body = age_model::age_x25519_file(&EPHEMERAL, &public, &FILE_KEY, &NONCE, &plain);
    match age_slot::unwrap_age(&body, &[&id], &h) {
        AgeUnwrap::Opened(got, got_c) => {
            assert_eq!(got_c, c);
            // The data key's bytes are private; a deterministic symmetric slot made with
            // it equals one made with the expected bytes only if the keys are equal.
            let k = Key::from_bytes([0x33; 32]);
            let salt = [0x5a; 32];
            assert_eq!(
                wrap_slot(&k, &salt, &h, &got, &c),
                wrap_slot(&k, &salt, &h, &DataKey::from_bytes(dk), &c)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        age_slot::unwrap_age(&body, &[&id], &[0x4c; 32]),
        AgeUnwrap::Bad(_)
    ));
    // A 95-byte plaintext is refused.
    let short = age_model::age_x25519_file(&EPHEMERAL, &public, &FILE_KEY, &NONCE, &plain[..95]);
    assert!(matches!(
        age_slot::unwrap_age(&short, &[&id], &h),
        AgeUnwrap::Bad(_)
    ));
}

#[test]
fn crate_stanza_opens_with_model_identity() {
    // The other way round: the crate wraps for the model's recipient string, and age
    // opens it with the model's identity string.
    let public = age_model::x25519_recipient(&SECRET);
    let r = age_slot::parse_recipient(&age_model::recipient_string(&public)).unwrap();
    let h = [0x77u8; 32];
    let body = age_slot::wrap_age(&*r, &DataKey::from_bytes([1; 32]), &[2; 32], &h).unwrap();
    let plain = decrypt_with_age(&body, &identity());
    assert_eq!(plain.len(), 96);
    assert_eq!(&plain[..32], &[1; 32]);
    assert_eq!(&plain[32..64], &[2; 32]);
    assert_eq!(&plain[64..], &h);
}
