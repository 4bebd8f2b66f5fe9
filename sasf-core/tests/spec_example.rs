//! The worked example of `docs/FORMAT.md`, rebuilt byte by byte from the primitives as
//! the specification describes them, independently of the crate's writer, and compared
//! with what the crate writes. The annotated dump is `docs/worked-example.txt`; run with
//! `SASF_BLESS=1` to rewrite it after a deliberate format change.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use sasf_core::crypto::DataKey;
use sasf_core::meta::RecordingInfo;
use sasf_core::{AudioFormat, Decoder, Encoding, Key, WriterBuilder};

struct Dump(String);
impl Dump {
    fn line(&mut self, label: &str, bytes: &[u8]) {
        self.0.push_str(&format!("{label}:\n"));
        for row in bytes.chunks(32) {
            self.0.push_str(&format!("    {}\n", hex::encode(row)));
        }
    }
    fn text(&mut self, s: &str) {
        self.0.push_str(s);
        self.0.push('\n');
    }
}

fn expand(prk: &Hkdf<Sha256>, label: &str, c: &[u8; 32]) -> [u8; 32] {
    let mut o = [0u8; 32];
    let info = [label.as_bytes(), c].concat();
    prk.expand(&info, &mut o).unwrap();
    o
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[test]
fn worked_example_matches_the_spec_and_the_writer() {
    let master: [u8; 32] = std::array::from_fn(|i| i as u8);
    let salt: [u8; 32] = std::array::from_fn(|i| 0x20 + i as u8);
    let data_key: [u8; 32] = std::array::from_fn(|i| 0x40 + i as u8);
    let audio = [0x80u8, 0x81, 0x7f, 0x80];
    let info = br#"{"id":"ex-1"}"#;
    let c = [0u8; 32]; // not context bound
    let mut d = Dump(String::new());
    d.text("SASF v2 worked example: AES-256-GCM (level 3), unsigned 8-bit mono at 8000 Hz,");
    d.text("chunk cap 1024, one recipient key slot, INFO {\"id\":\"ex-1\"}, four samples");
    d.text("80 81 7f 80. Not context bound (C = 32 zero bytes). All values hex.");
    d.text("");
    d.line("recipient key K (a key file)", &master);
    d.line("salt", &salt);
    d.line("data key DK", &data_key);

    // Key schedule (FORMAT.md §4.3).
    let hk = Hkdf::<Sha256>::new(Some(&salt), &data_key);
    let commitment = expand(&hk, "SASF-v2/AES-256-GCM/commit", &c);
    let header_key = expand(&hk, "SASF-v2/AES-256-GCM/header", &c);
    let keys_key = expand(&hk, "SASF-v2/AES-256-GCM/keys", &c);
    let payload_key = expand(&hk, "SASF-v2/AES-256-GCM/payload", &c);
    d.line(
        "commitment = HKDF-Expand(PRK, \"SASF-v2/AES-256-GCM/commit\" || C, 32)",
        &commitment,
    );
    d.line(
        "header key = HKDF-Expand(PRK, \"SASF-v2/AES-256-GCM/header\" || C, 32)",
        &header_key,
    );
    d.line(
        "keys key = HKDF-Expand(PRK, \"SASF-v2/AES-256-GCM/keys\" || C, 32)",
        &keys_key,
    );
    d.line(
        "payload key = HKDF-Expand(PRK, \"SASF-v2/AES-256-GCM/payload\" || C, 32)",
        &payload_key,
    );

    // Header (§3).
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&[0x89, b'S', b'A', b'S', b'F', 0x0D, 0x0A, 0x1A]);
    hdr.extend_from_slice(&2u16.to_be_bytes()); // version
    hdr.push(3); // integrity level
    hdr.push(1); // encoding u8
    hdr.extend_from_slice(&1u16.to_be_bytes()); // channels
    hdr.extend_from_slice(&8000u32.to_be_bytes());
    hdr.extend_from_slice(&1024u32.to_be_bytes()); // chunk cap
    hdr.extend_from_slice(&0u32.to_be_bytes()); // retention
    hdr.push(0); // duration class
    hdr.push(0); // flags
    hdr.extend_from_slice(&0u16.to_be_bytes()); // extension length
    hdr.extend_from_slice(&0u16.to_be_bytes()); // reserved
    hdr.extend_from_slice(&salt);
    hdr.extend_from_slice(&commitment);
    assert_eq!(hdr.len(), 96);
    let htag = hmac(&header_key, &[&hdr]);
    hdr.extend_from_slice(&htag);
    d.line("header (128 bytes: 96 fixed, no extensions, 32 tag = HMAC-SHA256(header key, bytes 0..96))", &hdr);
    let h = sha(&[&hdr]);
    d.line("H = SHA-256(header)", &h);

    // Key section (§5): one symmetric slot.
    let key_id = &hmac(&master, &[b"SASF-v2/key-id"])[..16];
    let kek = {
        let k = Hkdf::<Sha256>::new(Some(&salt), &master);
        let mut o = [0u8; 32];
        k.expand(b"SASF-v2/slot/AES-256-GCM", &mut o).unwrap();
        o
    };
    let mut wrapped = [&data_key[..], &c[..]].concat();
    let wtag = Aes256Gcm::new_from_slice(&kek)
        .unwrap()
        .encrypt_in_place_detached(
            Nonce::from_slice(&[0u8; 12]),
            &[&h[..], key_id].concat(),
            &mut wrapped,
        )
        .unwrap();
    d.text("");
    d.line("key id = HMAC-SHA256(K, \"SASF-v2/key-id\")[0..16]", key_id);
    d.line(
        "KEK = HKDF-SHA256(salt, K, \"SASF-v2/slot/AES-256-GCM\", 32)",
        &kek,
    );
    d.line(
        "wrapped = AES-256-GCM(KEK, nonce 0, DK || C, AAD = H || key id), tag last",
        &[&wrapped[..], &wtag].concat(),
    );
    let mut stanza = Vec::new();
    stanza.extend_from_slice(&1u16.to_be_bytes()); // kind: symmetric slot
    stanza.extend_from_slice(&96u16.to_be_bytes());
    stanza.extend_from_slice(key_id);
    stanza.extend_from_slice(&wrapped);
    stanza.extend_from_slice(&wtag);
    let stag = hmac(&keys_key, &[&h, &1u16.to_be_bytes(), &stanza]);
    d.line(
        "section tag = HMAC-SHA256(keys key, H || u16 recipient count || recipient stanzas)",
        &stag,
    );
    // The key area: capacity Q = 512, copy A (generation 1), copy B empty.
    const Q: usize = 512;
    let mut copy = Vec::new();
    copy.extend_from_slice(&1u32.to_be_bytes()); // generation
    copy.extend_from_slice(&((16 + stanza.len() + 32 + 32) as u32).to_be_bytes()); // U
    copy.extend_from_slice(&1u16.to_be_bytes()); // recipients
    copy.extend_from_slice(&0u16.to_be_bytes()); // signatures
    copy.extend_from_slice(&[0; 4]);
    copy.extend_from_slice(&stanza);
    copy.extend_from_slice(&stag);
    let sum = sha(&[b"SASF-v2/key-copy", &copy]);
    copy.extend_from_slice(&sum);
    d.line(
        "key copy A (generation, length U, counts, reserved, stanza, section tag, checksum = SHA-256(\"SASF-v2/key-copy\" || copy bytes 0..U-32)); then zeros to Q = 512",
        &copy,
    );
    copy.resize(Q, 0);
    let mut keys = (Q as u32).to_be_bytes().to_vec();
    keys.extend_from_slice(&copy);
    keys.extend_from_slice(&[0u8; Q]); // copy B: empty
    let cipher = Aes256Gcm::new_from_slice(&payload_key).unwrap();
    let mut file = [hdr.clone(), keys.clone()].concat();
    let base = file.len() as u64;
    let mut digests: Vec<[u8; 32]> = Vec::new();
    let mut entries = Vec::new();
    let seal =
        |file: &mut Vec<u8>, index: u64, ty: &[u8; 4], ts: u64, payload: &[u8], d: &mut Dump| {
            let offset = file.len() as u64 - base;
            let mut body = ty.to_vec();
            body.extend_from_slice(&ts.to_be_bytes());
            body.extend_from_slice(payload);
            let mut prefix = (body.len() as u32).to_be_bytes().to_vec();
            prefix.extend_from_slice(&index.to_be_bytes());
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&index.to_be_bytes());
            let aad = [&h[..], &prefix].concat();
            d.text(&format!(
                "\nchunk {index} ({}) at stream offset {offset}, timestamp {ts}",
                String::from_utf8_lossy(ty)
            ));
            d.line("  plaintext body (type, timestamp, payload)", &body);
            d.line("  nonce", &nonce);
            let tag = cipher
                .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut body)
                .unwrap();
            let digest = sha(&[b"SASF-v2/chunk-digest", &prefix, &body, &tag]);
            d.line("  prefix (length, index)", &prefix);
            d.line("  ciphertext body", &body);
            d.line("  tag", &tag);
            d.line(
                "  digest = SHA-256(\"SASF-v2/chunk-digest\" || prefix || ciphertext || tag)",
                &digest,
            );
            file.extend_from_slice(&prefix);
            file.extend_from_slice(&body);
            file.extend_from_slice(&tag);
            (offset, digest)
        };
    // INFO: JSON length, JSON, zero padding to the 256-byte bucket (§9.1).
    let mut info_payload = (info.len() as u32).to_be_bytes().to_vec();
    info_payload.extend_from_slice(info);
    info_payload.resize(256 - 12, 0);
    let (o0, d0) = seal(&mut file, 0, b"INFO", 0, &info_payload, &mut d);
    entries.push((*b"INFO", o0, 0u64, d0));
    digests.push(d0);
    let (o1, d1) = seal(&mut file, 1, b"AUDI", 0, &audio, &mut d);
    entries.push((*b"AUDI", o1, 0u64, d1));
    digests.push(d1);
    let mut idx = Vec::new();
    idx.extend_from_slice(&u64::MAX.to_be_bytes());
    idx.extend_from_slice(&0u64.to_be_bytes());
    idx.extend_from_slice(&2u32.to_be_bytes());
    idx.extend_from_slice(&0u32.to_be_bytes());
    for (ty, off, ts, dg) in &entries {
        idx.extend_from_slice(ty);
        idx.extend_from_slice(&0u32.to_be_bytes());
        idx.extend_from_slice(&off.to_be_bytes());
        idx.extend_from_slice(&ts.to_be_bytes());
        idx.extend_from_slice(dg);
    }
    let (o2, d2) = seal(&mut file, 2, b"INDX", 4, &idx, &mut d);
    digests.push(d2);
    let mut m = Sha256::new();
    m.update(b"SASF-v2/manifest");
    m.update(h);
    for dg in &digests {
        m.update(dg);
    }
    let manifest: [u8; 32] = m.finalize().into();
    let mut end = Vec::new();
    end.extend_from_slice(&3u64.to_be_bytes()); // chunks before END
    end.extend_from_slice(&4u64.to_be_bytes()); // frames
    end.extend_from_slice(&4u64.to_be_bytes()); // audio bytes
    end.extend_from_slice(&(file.len() as u64 - base).to_be_bytes()); // stream bytes
    end.extend_from_slice(&o2.to_be_bytes()); // last index offset
    end.extend_from_slice(&0u32.to_be_bytes()); // flags
    end.extend_from_slice(&0u32.to_be_bytes()); // reserved
    end.extend_from_slice(&manifest);
    d.text("");
    d.line(
        "manifest = SHA-256(\"SASF-v2/manifest\" || H || d0 || d1 || d2)",
        &manifest,
    );
    let (_, d_end) = seal(&mut file, 3, b"END ", 4, &end, &mut d);
    let file_digest = sha(&[b"SASF-v2/file", &manifest, &d_end]);
    d.text("");
    d.line(
        "file digest = SHA-256(\"SASF-v2/file\" || manifest || d_END)",
        &file_digest,
    );
    d.text("");
    d.line(&format!("the whole file ({} bytes)", file.len()), &file);

    // The crate's writer must produce exactly these bytes.
    let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
    let key = Key::from_bytes(master);
    let mut w = WriterBuilder::new(format)
        .encrypted(key.clone())
        .max_chunk_len(1024)
        .key_area_capacity(512)
        .salt_for_test_vectors(salt)
        .data_key_for_test_vectors(DataKey::from_bytes(data_key))
        .info(RecordingInfo::new().with_id("ex-1"))
        .wrap_output(Vec::new())
        .unwrap();
    w.write_audio(&audio).unwrap();
    let written = w.finish().unwrap();
    assert_eq!(hex::encode(&written), hex::encode(&file));
    let mut r = Decoder::new(&file[..]).unwrap().open(Some(&key)).unwrap();
    assert_eq!(r.verify_to_end().unwrap().samples, 4);
    assert_eq!(r.file_digest(), Some(&file_digest));

    // A signature (§5.5), added in place (§5.6): the signer's seed is 80 81 .. 9f and
    // its stated time 2026-01-01T00:00:00Z.
    let seed: [u8; 32] = std::array::from_fn(|i| 0x80 + i as u8);
    let signed_at: u64 = 1_767_225_600_000;
    let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
    let pk = sk.verifying_key().to_bytes();
    let msg = [
        &b"SASF-v2/signature"[..],
        &h,
        &file_digest,
        &signed_at.to_be_bytes(),
    ]
    .concat();
    let sig = ed25519_dalek::Signer::sign(&sk, &msg).to_bytes();
    d.text("");
    d.text("Signature (Ed25519, signer seed 80 81 .. 9f, signed at 2026-01-01T00:00:00Z):");
    d.line("signer public key A", &pk);
    d.line(
        "signer id = SHA-256(\"SASF-v2/signer-id\" || A)[0..16]",
        &sha(&[b"SASF-v2/signer-id", &pk])[..16],
    );
    d.line(
        "signed message = \"SASF-v2/signature\" || H || file digest || u64 signed at",
        &msg,
    );
    d.line("signature", &sig);
    let mut sig_stanza = 1u16.to_be_bytes().to_vec(); // kind: Ed25519
    sig_stanza.extend_from_slice(&104u16.to_be_bytes());
    sig_stanza.extend_from_slice(&pk);
    sig_stanza.extend_from_slice(&signed_at.to_be_bytes());
    sig_stanza.extend_from_slice(&sig);
    let mut copy2 = Vec::new();
    copy2.extend_from_slice(&2u32.to_be_bytes()); // generation 2
    copy2.extend_from_slice(
        &((16 + stanza.len() + 32 + sig_stanza.len() + 32) as u32).to_be_bytes(),
    );
    copy2.extend_from_slice(&1u16.to_be_bytes());
    copy2.extend_from_slice(&1u16.to_be_bytes()); // one signature
    copy2.extend_from_slice(&[0; 4]);
    copy2.extend_from_slice(&stanza);
    copy2.extend_from_slice(&stag); // the recipients did not change: same tag
    copy2.extend_from_slice(&sig_stanza);
    let sum2 = sha(&[b"SASF-v2/key-copy", &copy2]);
    copy2.extend_from_slice(&sum2);
    d.line(
        "key copy after signing (generation 2, one signature stanza; written to copy B, then copy A)",
        &copy2,
    );
    copy2.resize(Q, 0);
    let mut signed = file.clone();
    let a = hdr.len() + 4;
    signed[a..a + Q].copy_from_slice(&copy2);
    signed[a + Q..a + 2 * Q].copy_from_slice(&copy2);
    // The crate's in-place signing gives the same bytes.
    let dir = std::env::temp_dir().join(format!("sasf-spec-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("ex.sasf");
    std::fs::write(&p, &file).unwrap();
    let skey = sasf_core::SigningKey::from_key_file(
        format!("sasf-sign-secret:{}\n", hex::encode(seed)).as_bytes(),
    )
    .unwrap();
    sasf_core::access::sign(
        &p,
        &sasf_core::Keyring::from_key(key.clone()),
        None,
        &skey,
        signed_at,
    )
    .unwrap();
    assert_eq!(
        hex::encode(std::fs::read(&p).unwrap()),
        hex::encode(&signed)
    );

    // An annotation segment (§21), appended in place after END and signed by the
    // same signer; its nonce is a0 a1 .. af (a real writer draws it at random).
    let record = br#"{"by":"qa@example.com","at":"2026-01-02T03:04:05Z","ops":[{"op":"tag","tag":"escalated"}]}"#;
    let parsed = sasf_core::meta::annotation::Record::from_json(record).unwrap();
    assert_eq!(
        parsed.to_json(),
        record.to_vec(),
        "the record is in canonical form"
    );
    let seg_nonce: [u8; 16] = std::array::from_fn(|i| 0xa0 + i as u8);
    let segment_key = expand(&hk, "SASF-v2/AES-256-GCM/segment", &c);
    let own = Hkdf::<Sha256>::from_prk(&segment_key).unwrap();
    let mut k0 = [0u8; 32];
    own.expand(&[&b"SASF-v2/segment-key"[..], &seg_nonce].concat(), &mut k0)
        .unwrap();
    let mut body = vec![0u8; 256];
    body[..4].copy_from_slice(&(record.len() as u32).to_be_bytes());
    body[4..4 + record.len()].copy_from_slice(record);
    let plain_body = body.clone();
    let mut g = Vec::new();
    g.extend_from_slice(&[0x89, b'S', b'A', b'N', b'N', 0x0D, 0x0A, 0x1A]);
    g.extend_from_slice(&0u32.to_be_bytes()); // segment 0
    g.extend_from_slice(&256u32.to_be_bytes()); // body length
    g.extend_from_slice(&1u32.to_be_bytes()); // flags: signed
    g.extend_from_slice(&[0; 4]);
    g.extend_from_slice(&seg_nonce);
    g.extend_from_slice(&file_digest); // link of segment 0
    let aad = [&h[..], &g].concat();
    let gtag = Aes256Gcm::new_from_slice(&k0)
        .unwrap()
        .encrypt_in_place_detached(Nonce::from_slice(&[0; 12]), &aad, &mut body)
        .unwrap();
    let d0 = sha(&[b"SASF-v2/segment", &g, &body, &gtag]);
    let seg_msg = [&b"SASF-v2/segment-signature"[..], &h, &d0].concat();
    let seg_sig = ed25519_dalek::Signer::sign(&sk, &seg_msg).to_bytes();
    let mut segment = [&g[..], &body, &gtag, &pk, &seg_sig].concat();
    let total = segment.len() as u64 + 16;
    segment.extend_from_slice(&total.to_be_bytes());
    segment.extend_from_slice(b"SANN-END");
    d.text("");
    d.text("Annotation segment 0 (§21), appended after END, signed by the same signer:");
    d.line("record (JSON)", record);
    d.line(
        "segment key = HKDF-Expand(PRK, \"SASF-v2/AES-256-GCM/segment\" || C)",
        &segment_key,
    );
    d.line("segment nonce", &seg_nonce);
    d.line(
        "K_0 = HKDF-Expand(segment key, \"SASF-v2/segment-key\" || nonce)",
        &k0,
    );
    d.line("segment header G (72 bytes; link = file digest)", &g);
    d.line(
        "plaintext body (u32 length, JSON, zeros to 256)",
        &plain_body,
    );
    d.line(
        "ciphertext body (AES-256-GCM, K_0, nonce 0, AAD H || G)",
        &body,
    );
    d.line("tag", &gtag);
    d.line(
        "d_0 = SHA-256(\"SASF-v2/segment\" || G || body || tag) = the chain head",
        &d0,
    );
    d.line(
        "signature over \"SASF-v2/segment-signature\" || H || d_0",
        &seg_sig,
    );
    d.line(
        &format!("the whole segment ({total} bytes, trailer included)"),
        &segment,
    );
    // The crate appends the same bytes, and reads them back.
    sasf_core::annotate::append_for_test_vectors(
        &p,
        &sasf_core::Keyring::from_key(key.clone()),
        &parsed,
        Some(&skey),
        seg_nonce,
    )
    .unwrap();
    let annotated = [&signed[..], &segment].concat();
    assert_eq!(
        hex::encode(std::fs::read(&p).unwrap()),
        hex::encode(&annotated)
    );
    let mut r = Decoder::new(&annotated[..])
        .unwrap()
        .open(Some(&key))
        .unwrap();
    r.verify_to_end().unwrap();
    let segs = r.segments().unwrap();
    assert_eq!(segs.list.len(), 1);
    assert_eq!(segs.head, d0);
    assert_eq!(segs.list[0].record, record.to_vec());
    assert!(segs.list[0].signature.as_ref().unwrap().valid);
    std::fs::remove_dir_all(&dir).unwrap();

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/worked-example.txt");
    if std::env::var_os("SASF_BLESS").is_some() {
        std::fs::write(path, &d.0).unwrap();
    }
    let committed =
        std::fs::read_to_string(path).expect("docs/worked-example.txt (run with SASF_BLESS=1)");
    assert_eq!(
        committed, d.0,
        "docs/worked-example.txt is stale: rerun with SASF_BLESS=1"
    );
}
