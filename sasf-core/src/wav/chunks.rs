//! Descriptive WAV chunks: cue points with their labels (`cue ` and `LIST`/`adtl`),
//! the Broadcast Wave `bext` chunk and `LIST`/`INFO` text, built as bytes with no I/O.
//!
//! [`WavMetadata`] collects what a WAV should say about its audio and gives two byte
//! strings: [`leading`](WavMetadata::leading) (`bext` and `LIST`/`INFO`, known before
//! the audio, which go between `fmt ` and `data`) and [`trailing`](WavMetadata::trailing)
//! (`cue ` and `LIST`/`adtl`, which go after `data`: RIFF allows chunks in any order,
//! and the timeline of a stream is only known once it has been read). Hand them to
//! [`WavWriter::new_seekable_with`](super::WavWriter::new_seekable_with) and
//! [`WavWriter::finish_seekable_with`](super::WavWriter::finish_seekable_with).
//!
//! Layouts: `cue ` and `adtl` as in the Microsoft/IBM RIFF specification (1991)
//! (`cue ` points of 24 bytes, `labl` and `ltxt` with purpose `rgn `); `bext` version 1
//! as in EBU Tech 3285 (602 bytes before the coding history).

use crate::error::{Error, Result};

/// Chunk id of the cue point list.
pub const CUE: [u8; 4] = *b"cue ";
/// Chunk id of a list.
pub const LIST: [u8; 4] = *b"LIST";
/// List type of the associated data list (labels of cue points).
pub const ADTL: [u8; 4] = *b"adtl";
/// List type of the text information list.
pub const INFO: [u8; 4] = *b"INFO";
/// Sub-chunk id of a cue point's label.
pub const LABL: [u8; 4] = *b"labl";
/// Sub-chunk id of a cue point's labelled text, which carries a length in samples.
pub const LTXT: [u8; 4] = *b"ltxt";
/// Chunk id of the Broadcast Wave extension.
pub const BEXT: [u8; 4] = *b"bext";

/// Most bytes of a marker's label kept (cut at a character boundary).
pub const MAX_LABEL: usize = 512;
/// Most bytes of an INFO text or a `bext` coding history kept.
pub const MAX_TEXT: usize = 4096;

/// A cue point: a position in frames, optionally the length of the region it starts,
/// and a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Position of the point, in frames from the first frame of `data`.
    pub at: u64,
    /// Length of the region in frames, when the point starts one (an `ltxt` chunk).
    pub length: Option<u64>,
    /// The label (a `labl` chunk).
    pub label: String,
}

/// What a Broadcast Wave `bext` chunk says (EBU Tech 3285, version 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bext {
    /// Description (at most 256 bytes; cut at a character boundary).
    pub description: String,
    /// Originator (at most 32 bytes).
    pub originator: String,
    /// OriginatorReference (at most 32 bytes).
    pub originator_reference: String,
    /// OriginationDate `yyyy-mm-dd` and OriginationTime `hh:mm:ss`, or none.
    pub origination: Option<(String, String)>,
    /// TimeReference: the first frame's position in frames since midnight.
    pub time_reference: u64,
    /// CodingHistory (at most [`MAX_TEXT`] bytes).
    pub coding_history: String,
}

/// Builder of the descriptive chunks of a WAV file (see the module doc).
///
/// # Example
/// ```
/// use sasf_core::wav::{Marker, WavMetadata};
/// let mut m = WavMetadata::new();
/// m.info(*b"INAM", "call 42");
/// m.marker(Marker { at: 8000, length: Some(4000), label: "hold — Ann (a1)".into() });
/// let (lead, trail) = (m.leading().unwrap(), m.trailing().unwrap());
/// assert_eq!(&lead[..4], b"LIST");
/// assert_eq!(&trail[..4], b"cue ");
/// ```
#[derive(Debug, Clone, Default)]
pub struct WavMetadata {
    markers: Vec<Marker>,
    bext: Option<Bext>,
    info: Vec<([u8; 4], String)>,
    dropped: u64,
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Appends a chunk: id, little-endian size, body and the pad byte of an odd body.
fn push_chunk(out: &mut Vec<u8>, id: [u8; 4], body: &[u8]) -> Result<()> {
    let size =
        u32::try_from(body.len()).map_err(|_| Error::misuse("a WAV chunk body exceeds 4 GiB"))?;
    out.extend_from_slice(&id);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    Ok(())
}

/// A NUL-terminated text with the NULs inside it replaced by spaces (a NUL would end it
/// early for every reader).
fn zstring(s: &str) -> Vec<u8> {
    let mut b: Vec<u8> = s.bytes().map(|c| if c == 0 { b' ' } else { c }).collect();
    b.push(0);
    b
}

/// `s` in a fixed field of `n` bytes, NUL-padded.
fn fixed(out: &mut Vec<u8>, s: &str, n: usize) {
    let s = cut(s, n);
    out.extend(s.bytes().map(|c| if c == 0 { b' ' } else { c }));
    out.resize(out.len() + (n - s.len()), 0);
}

impl WavMetadata {
    /// Nothing yet.
    pub fn new() -> WavMetadata {
        WavMetadata::default()
    }

    /// Adds a cue point. A point past frame `u32::MAX` (which a `cue ` chunk cannot
    /// address) is dropped and counted in [`dropped`](WavMetadata::dropped); a length
    /// past `u32::MAX` frames is clamped to it.
    pub fn marker(&mut self, m: Marker) -> &mut Self {
        if m.at > u32::MAX as u64 || self.markers.len() >= u32::MAX as usize {
            self.dropped += 1;
        } else {
            self.markers.push(m);
        }
        self
    }

    /// Sets the `bext` chunk.
    pub fn bext(&mut self, b: Bext) -> &mut Self {
        self.bext = Some(b);
        self
    }

    /// Adds an `INFO` entry (e.g. `INAM`, `ICMT`, `ISFT`, `ICRD`); the text is cut at
    /// [`MAX_TEXT`] bytes.
    pub fn info(&mut self, id: [u8; 4], text: &str) -> &mut Self {
        self.info.push((id, cut(text, MAX_TEXT).to_string()));
        self
    }

    /// The cue points kept, in the order given.
    pub fn markers(&self) -> &[Marker] {
        &self.markers
    }

    /// How many cue points were dropped because a `cue ` chunk cannot address them.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// `bext` then `LIST`/`INFO` (each only if set), to go before `data`.
    pub fn leading(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(b) = &self.bext {
            push_chunk(&mut out, BEXT, &bext_body(b))?;
        }
        if !self.info.is_empty() {
            let mut body = INFO.to_vec();
            for (id, text) in &self.info {
                push_chunk(&mut body, *id, &zstring(text))?;
            }
            push_chunk(&mut out, LIST, &body)?;
        }
        Ok(out)
    }

    /// `cue ` then `LIST`/`adtl` (only if there are cue points), to go after `data`.
    /// Cue point ids are 1, 2, … in the order the points were given.
    pub fn trailing(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        if self.markers.is_empty() {
            return Ok(out);
        }
        let mut cue = Vec::with_capacity(4 + 24 * self.markers.len());
        cue.extend_from_slice(&(self.markers.len() as u32).to_le_bytes());
        let mut adtl = ADTL.to_vec();
        // Every `labl` first, then the `ltxt`s: ffmpeg's reader (5.1) loses the labels
        // that follow an `ltxt`.
        let mut ltxts = Vec::new();
        for (i, m) in self.markers.iter().enumerate() {
            let id = i as u32 + 1;
            let at = m.at as u32; // checked in `marker`
            cue.extend_from_slice(&id.to_le_bytes());
            cue.extend_from_slice(&at.to_le_bytes()); // dwPosition
            cue.extend_from_slice(b"data"); // fccChunk
            cue.extend_from_slice(&0u32.to_le_bytes()); // dwChunkStart
            cue.extend_from_slice(&0u32.to_le_bytes()); // dwBlockStart
            cue.extend_from_slice(&at.to_le_bytes()); // dwSampleOffset
            let mut labl = id.to_le_bytes().to_vec();
            labl.extend_from_slice(&zstring(cut(&m.label, MAX_LABEL)));
            push_chunk(&mut adtl, LABL, &labl)?;
            if let Some(len) = m.length {
                let mut ltxt = id.to_le_bytes().to_vec();
                ltxt.extend_from_slice(&(len.min(u32::MAX as u64) as u32).to_le_bytes());
                ltxt.extend_from_slice(b"rgn ");
                // Country, language, dialect, code page: unspecified.
                ltxt.extend_from_slice(&[0u8; 8]);
                push_chunk(&mut ltxts, LTXT, &ltxt)?;
            }
        }
        adtl.extend_from_slice(&ltxts);
        push_chunk(&mut out, CUE, &cue)?;
        push_chunk(&mut out, LIST, &adtl)?;
        Ok(out)
    }
}

/// The body of a version 1 `bext` chunk.
fn bext_body(b: &Bext) -> Vec<u8> {
    let mut out = Vec::with_capacity(602 + b.coding_history.len());
    fixed(&mut out, &b.description, 256);
    fixed(&mut out, &b.originator, 32);
    fixed(&mut out, &b.originator_reference, 32);
    match &b.origination {
        Some((date, time)) => {
            fixed(&mut out, date, 10);
            fixed(&mut out, time, 8);
        }
        None => out.resize(out.len() + 18, 0),
    }
    out.extend_from_slice(&(b.time_reference as u32).to_le_bytes());
    out.extend_from_slice(&((b.time_reference >> 32) as u32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // Version
                                                // UMID (64), loudness fields (10, unused in version 1) and the reserved 180 bytes.
    out.resize(out.len() + 64 + 10 + 180, 0);
    out.extend_from_slice(cut(&b.coding_history, MAX_TEXT).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// Splits a run of chunks into (id, body), checking sizes and pad bytes.
    fn chunks(mut b: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let id: [u8; 4] = b[..4].try_into().unwrap();
            let n = le32(b, 4) as usize;
            out.push((id, b[8..8 + n].to_vec()));
            let padded = n + n % 2;
            if n % 2 == 1 {
                assert_eq!(b[8 + n], 0, "pad byte");
            }
            b = &b[8 + padded..];
        }
        out
    }

    #[test]
    fn nothing_set_gives_no_chunks() {
        let m = WavMetadata::new();
        assert!(m.leading().unwrap().is_empty());
        assert!(m.trailing().unwrap().is_empty());
    }

    #[test]
    fn cue_points_and_labels_are_laid_out_as_riff_says() {
        let mut m = WavMetadata::new();
        m.marker(Marker {
            at: 0,
            length: None,
            label: "join".into(),
        })
        .marker(Marker {
            at: 16_000,
            length: Some(8_000),
            label: "hold — Ann Agent (a1)".into(),
        });
        let t = m.trailing().unwrap();
        let c = chunks(&t);
        assert_eq!(c.len(), 2);
        assert_eq!(&c[0].0, b"cue ");
        let cue = &c[0].1;
        assert_eq!(cue.len(), 4 + 2 * 24);
        assert_eq!(le32(cue, 0), 2);
        // Second point: id 2, position and sample offset 16000, chunk "data".
        assert_eq!(le32(cue, 28), 2);
        assert_eq!(le32(cue, 32), 16_000);
        assert_eq!(&cue[36..40], b"data");
        assert_eq!(le32(cue, 48), 16_000);
        assert_eq!(&c[1].0, b"LIST");
        assert_eq!(&c[1].1[..4], b"adtl");
        let sub = chunks(&c[1].1[4..]);
        assert_eq!(sub.len(), 3);
        assert_eq!(&sub[0].0, b"labl");
        assert_eq!(sub[0].1, b"\x01\0\0\0join\0");
        assert_eq!(&sub[1].0, b"labl");
        assert_eq!(le32(&sub[1].1, 0), 2);
        assert_eq!(&sub[1].1[4..], "hold — Ann Agent (a1)\0".as_bytes());
        assert_eq!(&sub[2].0, b"ltxt");
        assert_eq!(sub[2].1.len(), 20);
        assert_eq!(le32(&sub[2].1, 0), 2);
        assert_eq!(le32(&sub[2].1, 4), 8_000);
        assert_eq!(&sub[2].1[8..12], b"rgn ");
    }

    #[test]
    fn labels_and_texts_are_cut_at_a_character_boundary_and_nuls_replaced() {
        let mut m = WavMetadata::new();
        let long = "é".repeat(MAX_LABEL); // 2 bytes each
        m.marker(Marker {
            at: 1,
            length: None,
            label: format!("a\0b{long}"),
        });
        let t = m.trailing().unwrap();
        let adtl = &chunks(&t)[1].1;
        let labl = &chunks(&adtl[4..])[0].1;
        let text = &labl[4..labl.len() - 1];
        assert!(text.len() <= MAX_LABEL);
        assert!(std::str::from_utf8(text).unwrap().starts_with("a b"));
        assert!(!text.contains(&0));
    }

    #[test]
    fn points_past_what_cue_can_address_are_dropped_and_counted() {
        let mut m = WavMetadata::new();
        for at in [u32::MAX as u64, u32::MAX as u64 + 1] {
            m.marker(Marker {
                at,
                length: Some(u64::MAX),
                label: "x".into(),
            });
        }
        assert_eq!(m.markers().len(), 1);
        assert_eq!(m.dropped(), 1);
        let t = m.trailing().unwrap();
        let adtl = &chunks(&t)[1].1;
        assert_eq!(le32(&chunks(&adtl[4..])[1].1, 4), u32::MAX);
    }

    #[test]
    fn bext_and_info_come_out_in_their_fixed_layouts() {
        let mut m = WavMetadata::new();
        m.bext(Bext {
            description: "recording call-7".into(),
            originator: "sasf".into(),
            originator_reference: "call-7".into(),
            origination: Some(("2026-03-01".into(), "09:30:05".into())),
            time_reference: (1u64 << 32) + 5,
            coding_history: "A=PCM,F=8000,W=16,M=mono,T=sasf".into(),
        })
        .info(*b"INAM", "call-7")
        .info(*b"ICMT", "odd");
        let lead = m.leading().unwrap();
        let c = chunks(&lead);
        assert_eq!(&c[0].0, b"bext");
        let b = &c[0].1;
        assert_eq!(b.len(), 602 + 31);
        assert!(b[..256].starts_with(b"recording call-7\0"));
        assert!(b[256..288].starts_with(b"sasf\0"));
        assert!(b[288..320].starts_with(b"call-7\0"));
        assert_eq!(&b[320..330], b"2026-03-01");
        assert_eq!(&b[330..338], b"09:30:05");
        assert_eq!(le32(b, 338), 5);
        assert_eq!(le32(b, 342), 1);
        assert_eq!(u16::from_le_bytes([b[346], b[347]]), 1);
        assert_eq!(&b[602..], b"A=PCM,F=8000,W=16,M=mono,T=sasf");
        assert_eq!(&c[1].0, b"LIST");
        assert_eq!(&c[1].1[..4], b"INFO");
        let info = chunks(&c[1].1[4..]);
        assert_eq!(info[0], (*b"INAM", b"call-7\0".to_vec()));
        // "odd\0" is 4 bytes: no pad; an odd text gets one.
        assert_eq!(info[1], (*b"ICMT", b"odd\0".to_vec()));
    }
}
