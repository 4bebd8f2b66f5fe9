//! Issue 14, "Consistency": what `sasf` says when it cannot take an input, read as a
//! table. Each row is a WAV input sasf does not read, the command run on it, and what
//! its error must name; every row must exit 2 and write nothing.

mod common;

use std::fs;

use common::{sasf, stderr_of, streamed_wav_header};

/// (what, WAV format tag, bits per sample, a piece the error must hold).
const UNSUPPORTED: &[(&str, u16, u16, &str)] = &[
    (
        "Microsoft ADPCM",
        0x0002,
        4,
        "format tag 0x0002 (Microsoft ADPCM)",
    ),
    ("IMA ADPCM", 0x0011, 4, "format tag 0x0011 (IMA ADPCM)"),
    ("GSM 6.10", 0x0031, 0, "format tag 0x0031 (GSM 6.10)"),
    ("MP3 in WAV", 0x0055, 0, "format tag 0x0055 (MPEG Layer 3)"),
    ("12-bit PCM", 0x0001, 12, "12-bit integer PCM"),
];

#[test]
fn an_unsupported_wav_encoding_names_the_command_that_converts_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for &(what, tag, bits, piece) in UNSUPPORTED {
        let wav = d.join("in call.wav");
        let mut b = streamed_wav_header(tag, 1, 8000, bits.max(8));
        // The header's bits field as the encoding has it (0 for GSM/MP3).
        let at = b.windows(4).position(|w| w == b"fmt ").unwrap() + 8 + 14;
        b[at..at + 2].copy_from_slice(&bits.to_le_bytes());
        b.extend_from_slice(&[0u8; 400]);
        fs::write(&wav, &b).unwrap();
        for cmd in [vec![
            "pack".to_string(),
            wav.display().to_string(),
            "-o".into(),
            d.join("out.sasf").display().to_string(),
        ]] {
            let o = sasf().args(&cmd).output().unwrap();
            let err = stderr_of(&o);
            assert_eq!(o.status.code(), Some(2), "{what}: {err}");
            for want in [
                piece,
                "convert it first",
                &format!(
                    "ffmpeg -i '{}' -c:a pcm_s16le 'in call-pcm.wav'",
                    wav.display()
                ),
                &format!(
                    "sox '{}' -e signed-integer -b 16 'in call-pcm.wav'",
                    wav.display()
                ),
            ] {
                assert!(err.contains(want), "{what}: {want:?} not in {err}");
            }
            assert!(!d.join("out.sasf").exists(), "{what}: nothing written");
        }
    }
}
