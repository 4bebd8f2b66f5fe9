//! The worked example of `docs/FORMAT.md`, rebuilt byte by byte from the primitives as
//! the specification describes them, independently of the crate's writer, and compared
//! with what the crate writes. The annotated dump is `docs/worked-example.txt`; run with
//! `SASF_BLESS=1` to rewrite it after a deliberate format change.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

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

fn expand(prk: &Hkdf<Sha256>, label: &str) -> [u8; 32] {
    let mut o = [0u8; 32];
    prk.expand(label.as_bytes(), &mut o).unwrap();
    o
}

#[test]
fn worked_example_matches_the_spec_and_the_writer() {
    let master: [u8; 32] = std::array::from_fn(|i| i as u8);
    let salt: [u8; 32] = std::array::from_fn(|i| 0x20 + i as u8);
    let audio = [0x80u8, 0x81, 0x7f, 0x80];
    let info = br#"{"id":"ex-1"}"#;
    let mut d = Dump(String::new());
    d.text("SASF v1 worked example: AES-256-GCM (level 3), unsigned 8-bit mono at 8000 Hz,");
    d.text("chunk cap 1024, INFO {\"id\":\"ex-1\"}, four samples 80 81 7f 80. All values hex.");
    d.text("");
    d.line("master key", &master);
    d.line("salt", &salt);

    // Key schedule.
    let hk = Hkdf::<Sha256>::new(Some(&salt), &master);
    let commitment = expand(&hk, "SASF-v1/AES-256-GCM/commit");
    let header_key = expand(&hk, "SASF-v1/AES-256-GCM/header");
    let payload_key = expand(&hk, "SASF-v1/AES-256-GCM/payload");
    d.line(
        "commitment = HKDF-Expand(PRK, \"SASF-v1/AES-256-GCM/commit\", 32)",
        &commitment,
    );
    d.line(
        "header key = HKDF-Expand(PRK, \"SASF-v1/AES-256-GCM/header\", 32)",
        &header_key,
    );
    d.line(
        "payload key = HKDF-Expand(PRK, \"SASF-v1/AES-256-GCM/payload\", 32)",
        &payload_key,
    );

    // Header.
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&[0x89, b'S', b'A', b'S', b'F', 0x0D, 0x0A, 0x1A]);
    hdr.extend_from_slice(&1u16.to_be_bytes()); // version
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
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&header_key).unwrap();
    mac.update(&hdr);
    let htag = mac.finalize().into_bytes();
    hdr.extend_from_slice(&htag);
    d.line("header (128 bytes: 96 fixed, no extensions, 32 tag = HMAC-SHA256(header key, bytes 0..96))", &hdr);
    let h: [u8; 32] = Sha256::digest(&hdr).into();
    d.line("H = SHA-256(header)", &h);

    let cipher = Aes256Gcm::new_from_slice(&payload_key).unwrap();
    let mut file = hdr.clone();
    let mut tags: Vec<Vec<u8>> = Vec::new();
    let mut entries = Vec::new();
    let seal =
        |file: &mut Vec<u8>, index: u64, ty: &[u8; 4], ts: u64, payload: &[u8], d: &mut Dump| {
            let offset = file.len() as u64;
            let mut body = ty.to_vec();
            body.extend_from_slice(&ts.to_be_bytes());
            body.extend_from_slice(payload);
            let mut prefix = (body.len() as u32).to_be_bytes().to_vec();
            prefix.extend_from_slice(&index.to_be_bytes());
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&index.to_be_bytes());
            let mut aad = h.to_vec();
            aad.extend_from_slice(&prefix);
            d.text(&format!(
                "\nchunk {index} ({}) at offset {offset}, timestamp {ts}",
                String::from_utf8_lossy(ty)
            ));
            d.line("  plaintext body (type, timestamp, payload)", &body);
            d.line("  nonce", &nonce);
            let tag = cipher
                .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut body)
                .unwrap();
            d.line("  prefix (length, index)", &prefix);
            d.line("  ciphertext body", &body);
            d.line("  tag", &tag);
            file.extend_from_slice(&prefix);
            file.extend_from_slice(&body);
            file.extend_from_slice(&tag);
            (offset, tag.to_vec())
        };
    let (o0, t0) = seal(&mut file, 0, b"INFO", 0, info, &mut d);
    entries.push((*b"INFO", o0, 0u64));
    tags.push(t0);
    let (o1, t1) = seal(&mut file, 1, b"AUDI", 0, &audio, &mut d);
    entries.push((*b"AUDI", o1, 0u64));
    tags.push(t1);
    let mut idx = Vec::new();
    idx.extend_from_slice(&u64::MAX.to_be_bytes());
    idx.extend_from_slice(&0u64.to_be_bytes());
    idx.extend_from_slice(&2u32.to_be_bytes());
    idx.extend_from_slice(&0u32.to_be_bytes());
    for (ty, off, ts) in &entries {
        idx.extend_from_slice(ty);
        idx.extend_from_slice(&0u32.to_be_bytes());
        idx.extend_from_slice(&off.to_be_bytes());
        idx.extend_from_slice(&ts.to_be_bytes());
    }
    let (o2, t2) = seal(&mut file, 2, b"INDX", 4, &idx, &mut d);
    tags.push(t2);
    let mut m = Sha256::new();
    m.update(b"SASF-v1/manifest");
    for t in &tags {
        m.update(t);
    }
    let manifest: [u8; 32] = m.finalize().into();
    let mut end = Vec::new();
    end.extend_from_slice(&3u64.to_be_bytes()); // chunks before END
    end.extend_from_slice(&4u64.to_be_bytes()); // samples
    end.extend_from_slice(&4u64.to_be_bytes()); // audio bytes
    end.extend_from_slice(&(file.len() as u64).to_be_bytes()); // stream bytes
    end.extend_from_slice(&o2.to_be_bytes()); // last index offset
    end.extend_from_slice(&0u32.to_be_bytes()); // flags
    end.extend_from_slice(&0u32.to_be_bytes()); // reserved
    end.extend_from_slice(&manifest);
    d.text("");
    d.line(
        "manifest = SHA-256(\"SASF-v1/manifest\" || tag0 || tag1 || tag2)",
        &manifest,
    );
    seal(&mut file, 3, b"END ", 4, &end, &mut d);
    d.text("");
    d.line(&format!("the whole file ({} bytes)", file.len()), &file);

    // The crate's writer must produce exactly these bytes.
    let format = AudioFormat::new(Encoding::U8, 1, 8000).unwrap();
    let key = Key::from_bytes(master);
    let mut w = WriterBuilder::new(format)
        .encrypted(key.clone())
        .max_chunk_len(1024)
        .salt_for_test_vectors(salt)
        .info(RecordingInfo {
            id: Some("ex-1".into()),
            ..Default::default()
        })
        .wrap_output(Vec::new())
        .unwrap();
    w.write_audio(&audio).unwrap();
    let written = w.finish().unwrap();
    assert_eq!(hex::encode(&written), hex::encode(&file));
    let mut r = Decoder::new(&file[..]).unwrap().open(Some(&key)).unwrap();
    assert_eq!(r.verify_to_end().unwrap().samples, 4);

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
