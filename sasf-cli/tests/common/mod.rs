//! Helpers shared by the CLI integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sasf_core::wav::WavReader;
use sasf_core::AudioFormat;

/// The built `sasf`, with no key or identity file from the environment.
pub fn sasf() -> Command {
    let mut c = Command::cargo_bin("sasf").unwrap();
    c.env_remove("SASF_KEY_FILE");
    c.env_remove("SASF_IDENTITY_FILE");
    c
}

/// Writes a secret file (a key, an identity) as a test should: mode 0600, which
/// sasf requires of secret files.
pub fn write_secret(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The shipped sample call and its metadata.
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample-call.wav")
}
pub fn sample_meta() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample-call.json")
}

/// Packs the sample call, keyless, to `out`.
pub fn pack_sample(out: &Path) {
    sasf()
        .arg("pack")
        .arg(sample())
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

/// Files in `dir`, sorted (to check nothing is left behind).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Makes `dir/k.key` with `sasf keygen`.
pub fn keygen(dir: &Path) -> PathBuf {
    let k = dir.join("k.key");
    sasf().args(["keygen", "-o"]).arg(&k).assert().success();
    k
}

/// A WAV's format and sample bytes.
pub fn wav_format_and_data(bytes: &[u8]) -> (AudioFormat, Vec<u8>) {
    let mut r = WavReader::new(bytes).unwrap();
    let f = r.info().format;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = r.read_data(&mut buf).unwrap();
        if n == 0 {
            return (f, out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// A WAV's sample bytes; an empty output (nothing written) has none.
pub fn wav_data(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    wav_format_and_data(bytes).1
}

/// Stderr, checked to hold no panic text.
pub fn stderr_of(out: &std::process::Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!s.contains("panicked"), "{s}");
    assert!(!s.contains("RUST_BACKTRACE"), "{s}");
    s
}

/// A streamed WAV header (RIFF and data sizes 0xFFFFFFFF): WAV format `tag` (1 PCM,
/// 7 µ-law), `channels`, `rate`, `bits` per sample.
pub fn streamed_wav_header(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let ba = channels * bits / 8;
    let mut h = b"RIFF\xff\xff\xff\xffWAVEfmt ".to_vec();
    let ext = tag != 1;
    h.extend_from_slice(&(if ext { 18u32 } else { 16 }).to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * ba as u32).to_le_bytes());
    h.extend_from_slice(&ba.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    if ext {
        h.extend_from_slice(&0u16.to_le_bytes());
    }
    h.extend_from_slice(b"data\xff\xff\xff\xff");
    h
}
