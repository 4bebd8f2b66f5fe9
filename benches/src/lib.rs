//! Benchmarks for sasf. The criterion benches are in `benches/`; the binary
//! `primitives` measures the raw single-core baselines that `benches/compare` prints
//! ratios against.
