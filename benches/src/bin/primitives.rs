//! Single-core throughput of the raw primitives, the baselines of `benches/compare`:
//! AES-256-GCM `encrypt_in_place_detached` (aes-gcm 0.10) and SHA-256 (sha2), both on
//! 1 MiB buffers; and ring's AES-256-GCM `seal_in_place_separate_tag`, the backend
//! sasf uses by default. Prints one line per primitive: `name MiB/s`.

use std::time::{Duration, Instant};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use sha2::{Digest, Sha256};

fn measure(mut f: impl FnMut()) -> f64 {
    const MIB: f64 = 1024.0 * 1024.0;
    for _ in 0..50 {
        f(); // warm-up
    }
    let mut best = 0.0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(400) {
            f();
            n += 1;
        }
        best = best.max(n as f64 * MIB / start.elapsed().as_secs_f64() / MIB);
    }
    best
}

fn main() {
    let mut buf = vec![0x5au8; 1 << 20];
    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).expect("key");
    let nonce = [0u8; 12];
    let aes = measure(|| {
        let tag = cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut buf)
            .expect("encrypt");
        std::hint::black_box(tag);
    });
    println!("aes-256-gcm {aes:.0}");
    let key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7u8; 32]).expect("key"),
    );
    let ring_aes = measure(|| {
        let tag = key
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                &mut buf,
            )
            .expect("encrypt");
        let _ = std::hint::black_box(tag);
    });
    println!("ring-aes-256-gcm {ring_aes:.0}");
    let sha = measure(|| {
        std::hint::black_box(Sha256::digest(&buf));
    });
    println!("sha-256 {sha:.0}");
    let ring_sha = measure(|| {
        std::hint::black_box(ring::digest::digest(&ring::digest::SHA256, &buf));
    });
    println!("ring-sha-256 {ring_sha:.0}");
}
