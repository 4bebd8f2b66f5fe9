//! Generated archives for the batch tests (`batch.rs`, `slurm.rs`).
#![allow(dead_code)]

use std::fs;
use std::path::Path;

use crate::common::{sample, sasf};

/// The shipped sample cut to `ms` milliseconds (8 kHz stereo mu-law: 16 bytes a ms).
pub fn short_wav(path: &Path, ms: usize) {
    let b = fs::read(sample()).unwrap();
    assert_eq!(&b[0x32..0x36], b"data", "the sample's layout changed");
    let n = (16 * ms).min(b.len() - 0x3a);
    let mut w = b[..0x3a + n].to_vec();
    let riff = (w.len() - 8) as u32;
    w[4..8].copy_from_slice(&riff.to_le_bytes());
    w[0x2e..0x32].copy_from_slice(&((n / 2) as u32).to_le_bytes());
    w[0x36..0x3a].copy_from_slice(&(n as u32).to_le_bytes());
    fs::write(path, w).unwrap();
}

/// An archive under `dir`: `files` copies of one short recording spread over day
/// folders, `day-K/call-I.sasf`. Returns their paths relative to `dir`.
pub fn archive(dir: &Path, files: usize) -> Vec<String> {
    let wav = dir.join("short.wav");
    short_wav(&wav, 1500);
    let one = dir.join("one.sasf");
    sasf()
        .arg("pack")
        .arg(&wav)
        .arg("-o")
        .arg(&one)
        .args(["--chunk-seconds", "0.25"])
        .assert()
        .success();
    let mut names = Vec::new();
    for i in 0..files {
        let rel = format!("day-{}/call-{i:04}.sasf", i % 5);
        let p = dir.join("archive").join(&rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::copy(&one, &p).unwrap();
        names.push(rel);
    }
    names
}

/// Flips one byte in the middle of a file, keeping its size and modification time
/// (so that only a real check notices).
pub fn tamper(p: &Path) {
    let t = fs::metadata(p).unwrap().modified().unwrap();
    let mut b = fs::read(p).unwrap();
    let k = b.len() / 2;
    b[k] ^= 0x40;
    fs::write(p, b).unwrap();
    fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}
