//! Annotation segments (`docs/FORMAT.md` §21): appended after the END chunk, in place,
//! each naming the digest of everything before it. Byte layout only; sealing is in
//! `crypto::segment`, reading in `io::segments`.

use byteorder::{BigEndian, ByteOrder};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Place, Result};

/// The eight bytes a segment starts with: `\x89SANN\r\n\x1a`.
pub const SEGMENT_MAGIC: [u8; 8] = [0x89, b'S', b'A', b'N', b'N', 0x0D, 0x0A, 0x1A];
/// The eight bytes a segment ends with.
pub const SEGMENT_TAIL_MAGIC: [u8; 8] = *b"SANN-END";
/// Length of a segment's fixed header.
pub const SEGMENT_HEADER_LEN: usize = 72;
/// Length of a segment's trailer: total segment length (u64) and the tail magic.
pub const SEGMENT_TRAILER_LEN: usize = 16;
/// Length of a segment signature block: Ed25519 public key and signature.
pub const SEGMENT_SIGNATURE_LEN: usize = 96;
/// Segment flag: a signature block follows the tag.
pub const SEGMENT_FLAG_SIGNED: u32 = 1;
/// Segment body lengths: the record is padded up to the first that fits.
pub const SEGMENT_BUCKETS: [usize; 7] = [256, 1024, 4096, 16384, 65536, 262144, 1048576];
/// Largest segment body.
pub const MAX_SEGMENT_BODY: usize = 1 << 20;
/// Most segments a file may hold.
pub const MAX_SEGMENTS: u32 = 65_536;
/// Largest whole segment (header, body, 32-byte tag, signature, trailer).
pub const MAX_SEGMENT_LEN: usize =
    SEGMENT_HEADER_LEN + MAX_SEGMENT_BODY + 32 + SEGMENT_SIGNATURE_LEN + SEGMENT_TRAILER_LEN;

const DIGEST_LABEL: &[u8] = b"SASF-v2/segment";
const SIGNATURE_LABEL: &[u8] = b"SASF-v2/segment-signature";

/// The fixed header of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Segment number: 0 for the first segment after END, then +1.
    pub number: u32,
    /// Body length (one of [`SEGMENT_BUCKETS`]).
    pub body_len: u32,
    /// Flags ([`SEGMENT_FLAG_SIGNED`]).
    pub flags: u32,
    /// Random per-segment nonce, from which the segment's key is derived.
    pub nonce: [u8; 16],
    /// The chain link: the file digest for segment 0, else the previous segment's
    /// digest.
    pub link: [u8; 32],
}

impl SegmentHeader {
    /// The 72 header bytes.
    pub fn to_bytes(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[..8].copy_from_slice(&SEGMENT_MAGIC);
        BigEndian::write_u32(&mut b[8..12], self.number);
        BigEndian::write_u32(&mut b[12..16], self.body_len);
        BigEndian::write_u32(&mut b[16..20], self.flags);
        b[24..40].copy_from_slice(&self.nonce);
        b[40..72].copy_from_slice(&self.link);
        b
    }

    /// Whether a signature block follows the tag.
    pub fn signed(&self) -> bool {
        self.flags & SEGMENT_FLAG_SIGNED != 0
    }

    /// The whole segment's length with a tag of `tag_len` bytes.
    pub fn total_len(&self, tag_len: usize) -> usize {
        SEGMENT_HEADER_LEN
            + self.body_len as usize
            + tag_len
            + if self.signed() {
                SEGMENT_SIGNATURE_LEN
            } else {
                0
            }
            + SEGMENT_TRAILER_LEN
    }
}

/// What the bytes at a segment's start say, judged before anything is allocated.
#[derive(Debug)]
pub enum Start {
    /// A complete, well-formed header.
    Header(SegmentHeader),
    /// Fewer than 72 bytes, all consistent with a header of the expected number: the
    /// start of a segment whose writing was cut off.
    Partial,
    /// Not a segment (error to report).
    Not(Error),
}

/// Judges the bytes `b` found at file offset `at`, where segment `expect` would start.
/// `b` holds at most [`SEGMENT_HEADER_LEN`] bytes (fewer only when the input ends).
pub fn parse_start(b: &[u8], expect: u32, at: u64) -> Start {
    let place = Place::segment(expect, at);
    let n = b.len().min(8);
    if b[..n] != SEGMENT_MAGIC[..n] {
        return Start::Not(Error::new(ErrorKind::TrailingData { offset: at }));
    }
    // The bytes of field `lo..hi` that the input holds (all of them, or a cut prefix).
    let field = |lo: usize, hi: usize| (b.len() > lo).then(|| &b[lo..b.len().min(hi)]);
    // Fields are judged in order (magic, number, length, flags, reserved); a field cut
    // short must be the start of a valid value, else it is refused as a whole one is.
    if let Some(f) = field(8, 12) {
        if f != &expect.to_be_bytes()[..f.len()] {
            return Start::Not(Error::new(ErrorKind::AuthFailed { place }));
        }
    }
    if let Some(f) = field(12, 16) {
        if f.len() == 4 {
            let len = BigEndian::read_u32(f) as usize;
            if len > MAX_SEGMENT_BODY {
                return Start::Not(Error::new(ErrorKind::LimitExceeded {
                    what: "annotation segment body length",
                    found: len as u64,
                    limit: MAX_SEGMENT_BODY as u64,
                    place,
                }));
            }
        }
        let fits = SEGMENT_BUCKETS
            .iter()
            .any(|&k| (k as u32).to_be_bytes()[..f.len()] == *f);
        if !fits {
            return Start::Not(Error::malformed(
                format!(
                    "annotation segment body length {} is not one of the buckets",
                    hex_bytes(f)
                ),
                place,
            ));
        }
    }
    if let Some(f) = field(16, 20) {
        let ok = f.iter().enumerate().all(|(i, &x)| match i {
            3 => x & !(SEGMENT_FLAG_SIGNED as u8) == 0,
            _ => x == 0,
        });
        if !ok {
            return Start::Not(Error::malformed(
                format!(
                    "annotation segment flags {}: undefined bits set",
                    hex_bytes(f)
                ),
                place,
            ));
        }
    }
    if let Some(f) = field(20, 24) {
        if f.iter().any(|&x| x != 0) {
            return Start::Not(Error::malformed(
                "annotation segment reserved bytes are not zero",
                place,
            ));
        }
    }
    if b.len() < SEGMENT_HEADER_LEN {
        return Start::Partial;
    }
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&b[24..40]);
    let mut link = [0u8; 32];
    link.copy_from_slice(&b[40..72]);
    Start::Header(SegmentHeader {
        number: expect,
        body_len: BigEndian::read_u32(&b[12..16]),
        flags: BigEndian::read_u32(&b[16..20]),
        nonce,
        link,
    })
}

/// Bytes in hex, for messages: `0x00000101`.
fn hex_bytes(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// The trailer of a segment of `total` bytes.
pub fn trailer(total: usize) -> [u8; SEGMENT_TRAILER_LEN] {
    let mut t = [0u8; SEGMENT_TRAILER_LEN];
    BigEndian::write_u64(&mut t[..8], total as u64);
    t[8..].copy_from_slice(&SEGMENT_TAIL_MAGIC);
    t
}

/// The segment length a trailer states, if it is a trailer.
pub fn parse_trailer(t: &[u8; SEGMENT_TRAILER_LEN]) -> Option<u64> {
    (t[8..] == SEGMENT_TAIL_MAGIC).then(|| BigEndian::read_u64(&t[..8]))
}

/// The body length a record of `json_len` bytes is padded to, if it fits.
pub fn segment_body_len(json_len: usize) -> Option<usize> {
    SEGMENT_BUCKETS.iter().copied().find(|&b| b >= 4 + json_len)
}

/// The padded body of a record: u32 JSON length, the JSON, zeros up to the bucket.
pub fn pad_record(json: &[u8]) -> Option<Vec<u8>> {
    let len = segment_body_len(json.len())?;
    let mut b = vec![0u8; len];
    BigEndian::write_u32(&mut b[..4], json.len() as u32);
    b[4..4 + json.len()].copy_from_slice(json);
    Some(b)
}

/// The JSON inside a padded body (after opening), checking the padding.
pub fn unpad_record(body: &[u8], place: Place) -> Result<&[u8]> {
    let n = BigEndian::read_u32(&body[..4]) as usize;
    if n > body.len() - 4 {
        return Err(Error::malformed(
            format!("annotation record length {n} exceeds its segment body"),
            place,
        ));
    }
    if segment_body_len(n) != Some(body.len()) {
        return Err(Error::malformed(
            "annotation segment body is not the smallest bucket for its record",
            place,
        ));
    }
    if body[4 + n..].iter().any(|&b| b != 0) {
        return Err(Error::malformed(
            "annotation segment padding is not zero",
            place,
        ));
    }
    Ok(&body[4..4 + n])
}

/// The digest of a segment: SHA-256 over the label, its header, stored body and tag.
/// The next segment's link, and the chain head once it is the last.
pub fn segment_digest(
    header: &[u8; SEGMENT_HEADER_LEN],
    stored_body: &[u8],
    tag: &[u8],
) -> [u8; 32] {
    let mut d = Sha256::new();
    d.update(DIGEST_LABEL);
    d.update(header);
    d.update(stored_body);
    d.update(tag);
    d.finalize().into()
}

/// The message a segment's author signs: label, header hash, segment digest.
pub fn segment_signed_message(h: &[u8; 32], digest: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_LABEL.len() + 64);
    m.extend_from_slice(SIGNATURE_LABEL);
    m.extend_from_slice(h);
    m.extend_from_slice(digest);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SegmentHeader {
        SegmentHeader {
            number: 3,
            body_len: 256,
            flags: SEGMENT_FLAG_SIGNED,
            nonce: [7; 16],
            link: [9; 32],
        }
    }

    #[test]
    fn a_header_round_trips_and_every_prefix_is_partial() {
        let b = header().to_bytes();
        match parse_start(&b, 3, 100) {
            Start::Header(h) => assert_eq!(h, header()),
            other => panic!("{other:?}"),
        }
        for n in 1..SEGMENT_HEADER_LEN {
            assert!(
                matches!(parse_start(&b[..n], 3, 100), Start::Partial),
                "{n}"
            );
        }
    }

    #[test]
    fn bad_starts_are_refused_by_class() {
        let cases: Vec<(usize, u8, &str)> = vec![
            (0, 0x01, "trailing-data"),
            (11, 0x04, "auth-failed"),
            (13, 0x20, "limit-exceeded"),
            (15, 0x01, "malformed"),
            (19, 0x03, "malformed"),
            (22, 0x01, "malformed"),
        ];
        for (at, x, class) in cases {
            let mut b = header().to_bytes();
            b[at] ^= x;
            match parse_start(&b, 3, 0) {
                Start::Not(e) => assert_eq!(e.class(), class, "byte {at}"),
                other => panic!("byte {at}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_cut_field_must_start_a_valid_value() {
        let b = header().to_bytes();
        // Number 3 is 00 00 00 03: a cut 00 01 cannot become it.
        let mut x = b;
        x[9] = 1;
        for n in 10..12 {
            match parse_start(&x[..n], 3, 0) {
                Start::Not(e) => assert_eq!(e.class(), "auth-failed", "{n}"),
                other => panic!("{n}: {other:?}"),
            }
        }
        // Length 256 is 00 00 01 00; a cut 00 03 is no bucket's start.
        let mut x = b;
        x[13] = 3;
        match parse_start(&x[..14], 3, 0) {
            Start::Not(e) => assert_eq!(e.class(), "malformed"),
            other => panic!("{other:?}"),
        }
        // Flags: a cut 00 00 80 sets an undefined bit.
        let mut x = b;
        x[18] = 0x80;
        match parse_start(&x[..19], 3, 0) {
            Start::Not(e) => assert_eq!(e.class(), "malformed"),
            other => panic!("{other:?}"),
        }
        // Reserved: a cut non-zero byte.
        let mut x = b;
        x[21] = 1;
        match parse_start(&x[..22], 3, 0) {
            Start::Not(e) => assert_eq!(e.class(), "malformed"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn records_pad_to_the_smallest_bucket() {
        for (n, len) in [(0, 256), (252, 256), (253, 1024), (1_048_572, 1_048_576)] {
            let body = pad_record(&vec![b'x'; n]).unwrap();
            assert_eq!(body.len(), len);
            assert_eq!(unpad_record(&body, Place::segment(0, 0)).unwrap().len(), n);
        }
        assert!(pad_record(&vec![b'x'; 1_048_573]).is_none());
        let mut body = pad_record(b"{}").unwrap();
        body[100] = 1;
        assert_eq!(
            unpad_record(&body, Place::segment(0, 0))
                .unwrap_err()
                .class(),
            "malformed"
        );
    }

    #[test]
    fn trailers_round_trip() {
        assert_eq!(parse_trailer(&trailer(1234)), Some(1234));
        let mut t = trailer(1);
        t[15] ^= 1;
        assert_eq!(parse_trailer(&t), None);
    }
}
