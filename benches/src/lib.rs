//! Benchmarks for sasf.
