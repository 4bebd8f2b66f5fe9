//! Benchmarks for sasf. The criterion benches are in `benches/`; the binary
//! `primitives` measures the raw single-core baselines that `benches/compare` prints
//! ratios against.

/// Deterministic pseudo-random bytes (xorshift64*): incompressible audio for the
/// benchmark binaries.
pub fn noise(len: usize, mut s: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        v.extend_from_slice(&s.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}
