//! Byte layout of SASF version 2: the header, the key area, chunk framing, chunk
//! types, the padded metadata payload, and the fixed-layout payloads (index and end).
//! No I/O and no cryptography here; see `docs/FORMAT.md`.

mod keys;
pub mod segment;
pub use keys::{
    copy_checksum, CopyState, KeyArea, KeySection, Stanza, AREA_FIXED_LEN, CRITICAL_KIND,
    DEFAULT_COPY_CAPACITY, ED25519_BODY_LEN, MAX_COPY_CAPACITY, MAX_GENERATION, MAX_RECIPIENTS,
    MAX_SIGNATURES, MAX_STANZA_LEN, MIN_COPY_CAPACITY, SIGNATURE_ED25519, SLOT_BODY_LEN,
    STANZA_AGE, STANZA_SLOT,
};

use byteorder::{BigEndian, ByteOrder};

use crate::audio::{AudioFormat, Encoding};
use crate::crypto::Integrity;
use crate::error::{Error, Place, Result};

/// The eight magic bytes every SASF file starts with.
pub const MAGIC: [u8; 8] = [0x89, b'S', b'A', b'S', b'F', 0x0D, 0x0A, 0x1A];
/// The format version this crate writes and reads.
pub const VERSION: u16 = 2;
/// Length of the header before its extensions.
pub const HEADER_FIXED_LEN: usize = 96;
/// Length of the header tag.
pub const HEADER_TAG_LEN: usize = 32;
/// Largest extension area a header may declare.
pub const MAX_EXTENSIONS_LEN: usize = 4096;
/// Length of a chunk's framing prefix: body length (u32 BE) and chunk index (u64 BE).
pub const PREFIX_LEN: usize = 12;
/// Length of the body header: type (4 bytes) and timestamp (u64 BE).
pub const BODY_HEADER_LEN: usize = 12;
/// Hard cap on a chunk body, whatever the header declares: 16 MiB.
pub const MAX_CHUNK_LEN: u32 = 16 * 1024 * 1024;
/// Smallest chunk-length cap a header may declare.
pub const MIN_CHUNK_LEN: u32 = 1024;
/// Length of the end chunk's payload.
pub const END_PAYLOAD_LEN: usize = 80;
/// Length of the fixed part of an index payload.
pub const INDEX_HEADER_LEN: usize = 24;
/// Length of one index entry: type, reserved, offset, timestamp, digest.
pub const INDEX_ENTRY_LEN: usize = 56;
/// Header flag: the file is bound to a context (recording id, tenant).
pub const HEADER_FLAG_CONTEXT: u8 = 1;
/// Critical header extension holding a level-1 file's context digest.
pub const EXT_CONTEXT: u16 = 0x8001;
/// Length of the JSON length field at the start of a metadata payload.
pub const META_LEN_FIELD: usize = 4;
/// Metadata chunk body sizes (§9.1): a record is padded up to the first that fits.
pub const META_BUCKETS: [usize; 9] = [
    256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
];

/// The body length a metadata record of `json_len` bytes is padded to under `cap`, or
/// `None` if it does not fit under the cap.
pub fn meta_body_len(json_len: usize, cap: u32) -> Option<usize> {
    let need = BODY_HEADER_LEN + META_LEN_FIELD + json_len;
    if need > cap as usize {
        return None;
    }
    let bucket = META_BUCKETS
        .iter()
        .copied()
        .find(|&b| b >= need)
        .unwrap_or(need);
    Some(bucket.min(cap as usize))
}

/// Whether chunks of this type carry a padded JSON payload (INFO, PART, EVNT, ANNO).
pub fn is_metadata_type(t: ChunkType) -> bool {
    matches!(
        t,
        ChunkType::INFO | ChunkType::PARTICIPANT | ChunkType::EVENT | ChunkType::ANNOTATION
    )
}
/// "No offset" in index and end payloads.
pub const NO_OFFSET: u64 = u64::MAX;
/// End-chunk flag: the file was rebuilt by a recovery tool from a damaged original.
pub const END_FLAG_RECOVERED: u32 = 1;

/// A four-byte chunk type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkType(pub [u8; 4]);

impl ChunkType {
    /// Recording information (the private header); always chunk 0.
    pub const INFO: ChunkType = ChunkType(*b"INFO");
    /// Audio samples in the file's encoding.
    pub const AUDIO: ChunkType = ChunkType(*b"AUDI");
    /// One participant.
    pub const PARTICIPANT: ChunkType = ChunkType(*b"PART");
    /// One event on the timeline.
    pub const EVENT: ChunkType = ChunkType(*b"EVNT");
    /// One annotation (tag, attribute, questionnaire answer, label).
    pub const ANNOTATION: ChunkType = ChunkType(*b"ANNO");
    /// A seek table over the chunks since the previous index chunk.
    pub const INDEX: ChunkType = ChunkType(*b"INDX");
    /// The end chunk with the stream's totals.
    pub const END: ChunkType = ChunkType(*b"END ");

    /// Critical types have bit 5 of their first byte clear (an upper-case ASCII
    /// letter). A reader that meets an unknown critical type must stop; an unknown
    /// ancillary type (lower-case first letter) is authenticated and skipped.
    pub fn is_critical(self) -> bool {
        self.0[0] & 0x20 == 0
    }

    /// The code as text, with non-printable bytes escaped.
    pub fn display(self) -> String {
        self.0
            .iter()
            .flat_map(|b| std::ascii::escape_default(*b))
            .map(char::from)
            .collect()
    }
}

/// Declared duration class, a public header field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DurationClass {
    /// Not declared (a live recorder does not know the duration up front).
    #[default]
    Undeclared,
    /// Less than one minute.
    UnderOneMinute,
    /// One minute up to ten minutes.
    UnderTenMinutes,
    /// Ten minutes up to one hour.
    UnderOneHour,
    /// One hour or more.
    OneHourOrMore,
}

impl DurationClass {
    /// Header code 0..=4.
    pub fn code(self) -> u8 {
        match self {
            DurationClass::Undeclared => 0,
            DurationClass::UnderOneMinute => 1,
            DurationClass::UnderTenMinutes => 2,
            DurationClass::UnderOneHour => 3,
            DurationClass::OneHourOrMore => 4,
        }
    }
    /// The class for a header code.
    pub fn from_code(c: u8) -> Option<DurationClass> {
        Some(match c {
            0 => DurationClass::Undeclared,
            1 => DurationClass::UnderOneMinute,
            2 => DurationClass::UnderTenMinutes,
            3 => DurationClass::UnderOneHour,
            4 => DurationClass::OneHourOrMore,
            _ => return None,
        })
    }
    /// The class of a duration of `frames` at `rate`.
    pub fn of(frames: u64, rate: u32) -> DurationClass {
        let secs = frames / rate.max(1) as u64;
        match secs {
            0..=59 => DurationClass::UnderOneMinute,
            60..=599 => DurationClass::UnderTenMinutes,
            600..=3599 => DurationClass::UnderOneHour,
            _ => DurationClass::OneHourOrMore,
        }
    }
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            DurationClass::Undeclared => "undeclared",
            DurationClass::UnderOneMinute => "<1m",
            DurationClass::UnderTenMinutes => "1m-10m",
            DurationClass::UnderOneHour => "10m-1h",
            DurationClass::OneHourOrMore => ">=1h",
        }
    }
}

/// A header extension (type-length-value). Bit 15 of the type marks it critical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension type; bit 15 set means a reader that does not know it must stop.
    pub ext_type: u16,
    /// The value.
    pub data: Vec<u8>,
}

/// The public header of a SASF file. Every field is readable without a key and
/// authenticated by the header tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Integrity level.
    pub integrity: Integrity,
    /// Audio encoding, channels and rate.
    pub format: AudioFormat,
    /// Largest chunk body (type, timestamp and payload) the file may hold.
    pub max_chunk_len: u32,
    /// Retention in days; 0 unspecified; `u32::MAX` keep indefinitely (legal hold).
    pub retention_days: u32,
    /// Declared duration class.
    pub duration_class: DurationClass,
    /// Whether the file is bound to a context (header flag bit 0, §4.4).
    pub context_bound: bool,
    /// Random per-file salt.
    pub salt: [u8; 32],
    /// Key commitment (all zero at level 1).
    pub commitment: [u8; 32],
    /// Extensions (none are defined in v1).
    pub extensions: Vec<Extension>,
    /// The header tag.
    pub tag: [u8; 32],
}

impl Header {
    /// The header bytes covered by the tag: everything but the tag.
    pub fn unsigned_bytes(&self) -> Vec<u8> {
        let ext_len: usize = self.extensions.iter().map(|e| 4 + e.data.len()).sum();
        let mut b = vec![0u8; HEADER_FIXED_LEN + ext_len];
        b[0..8].copy_from_slice(&MAGIC);
        BigEndian::write_u16(&mut b[8..10], VERSION);
        b[10] = self.integrity.code();
        b[11] = self.format.encoding.code();
        BigEndian::write_u16(&mut b[12..14], self.format.channels);
        BigEndian::write_u32(&mut b[14..18], self.format.sample_rate);
        BigEndian::write_u32(&mut b[18..22], self.max_chunk_len);
        BigEndian::write_u32(&mut b[22..26], self.retention_days);
        b[26] = self.duration_class.code();
        b[27] = if self.context_bound {
            HEADER_FLAG_CONTEXT
        } else {
            0
        };
        BigEndian::write_u16(&mut b[28..30], ext_len as u16);
        // 30..32 reserved, zero
        b[32..64].copy_from_slice(&self.salt);
        b[64..96].copy_from_slice(&self.commitment);
        let mut at = HEADER_FIXED_LEN;
        for e in &self.extensions {
            BigEndian::write_u16(&mut b[at..at + 2], e.ext_type);
            BigEndian::write_u16(&mut b[at + 2..at + 4], e.data.len() as u16);
            b[at + 4..at + 4 + e.data.len()].copy_from_slice(&e.data);
            at += 4 + e.data.len();
        }
        b
    }

    /// The full header bytes as written to the file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.unsigned_bytes();
        b.extend_from_slice(&self.tag);
        b
    }

    /// Parses the 96 fixed bytes (after the magic and version have been checked).
    /// Returns the header with no extensions yet and the declared extension length.
    pub(crate) fn parse_fixed(b: &[u8; HEADER_FIXED_LEN]) -> Result<(Header, usize)> {
        let integrity = Integrity::from_code(b[10]).ok_or_else(|| {
            Error::unsupported(format!("integrity level {}", b[10]), Place::header(10))
        })?;
        let encoding = Encoding::from_code(b[11]).ok_or_else(|| {
            Error::unsupported(format!("audio encoding code {}", b[11]), Place::header(11))
        })?;
        let channels = BigEndian::read_u16(&b[12..14]);
        if channels == 0 {
            return Err(Error::malformed_header("channel count is 0", 12));
        }
        let sample_rate = BigEndian::read_u32(&b[14..18]);
        if sample_rate == 0 {
            return Err(Error::malformed_header("sample rate is 0", 14));
        }
        let max_chunk_len = BigEndian::read_u32(&b[18..22]);
        if !(MIN_CHUNK_LEN..=MAX_CHUNK_LEN).contains(&max_chunk_len) {
            return Err(Error::malformed_header(
                format!(
                    "chunk length cap {max_chunk_len} outside {MIN_CHUNK_LEN}..={MAX_CHUNK_LEN}"
                ),
                18,
            ));
        }
        let format = AudioFormat {
            encoding,
            channels,
            sample_rate,
        };
        if (BODY_HEADER_LEN + format.block_align()) as u64 > max_chunk_len as u64 {
            return Err(Error::malformed_header(
                "chunk length cap is smaller than one audio frame",
                18,
            ));
        }
        let retention_days = BigEndian::read_u32(&b[22..26]);
        let duration_class = DurationClass::from_code(b[26])
            .ok_or_else(|| Error::malformed_header(format!("duration class {}", b[26]), 26))?;
        if b[27] & !HEADER_FLAG_CONTEXT != 0 {
            return Err(Error::malformed_header(
                format!("unknown header flags {:#04x}", b[27]),
                27,
            ));
        }
        let ext_len = BigEndian::read_u16(&b[28..30]) as usize;
        if ext_len > MAX_EXTENSIONS_LEN {
            return Err(Error::malformed_header(
                format!("extension area of {ext_len} bytes exceeds {MAX_EXTENSIONS_LEN}"),
                28,
            ));
        }
        if b[30] != 0 || b[31] != 0 {
            return Err(Error::malformed_header("reserved bytes are not zero", 30));
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&b[32..64]);
        let mut commitment = [0u8; 32];
        commitment.copy_from_slice(&b[64..96]);
        if integrity == Integrity::Keyless && commitment != [0u8; 32] {
            return Err(Error::malformed_header(
                "a keyless file's commitment must be zero",
                64,
            ));
        }
        Ok((
            Header {
                integrity,
                format,
                max_chunk_len,
                retention_days,
                duration_class,
                context_bound: b[27] & HEADER_FLAG_CONTEXT != 0,
                salt,
                commitment,
                extensions: Vec::new(),
                tag: [0u8; 32],
            },
            ext_len,
        ))
    }

    /// The context digest a level-1 file carries in its extension `0x8001`.
    pub fn keyless_context(&self) -> Option<[u8; 32]> {
        self.extensions
            .iter()
            .find(|e| e.ext_type == EXT_CONTEXT)
            .and_then(|e| e.data.as_slice().try_into().ok())
    }

    /// Checks the extensions against the level and flags: the context extension is
    /// present exactly on a context-bound level-1 file, once, with 32 bytes.
    pub(crate) fn check_extensions(&self) -> Result<()> {
        let n = self
            .extensions
            .iter()
            .filter(|e| e.ext_type == EXT_CONTEXT)
            .count();
        let want = usize::from(self.context_bound && self.integrity == Integrity::Keyless);
        if n != want || (n == 1 && self.keyless_context().is_none()) {
            return Err(Error::malformed_header(
                "the context extension 0x8001 must appear once, with 32 bytes, exactly on a context-bound keyless file",
                HEADER_FIXED_LEN as u64,
            ));
        }
        Ok(())
    }

    /// Parses the extension area. Critical extensions other than the context digest
    /// are refused.
    pub(crate) fn parse_extensions(area: &[u8]) -> Result<Vec<Extension>> {
        let mut out = Vec::new();
        let mut at = 0usize;
        while at < area.len() {
            let off = (HEADER_FIXED_LEN + at) as u64;
            if area.len() - at < 4 {
                return Err(Error::malformed_header(
                    "extension entry shorter than 4 bytes",
                    off,
                ));
            }
            let ext_type = BigEndian::read_u16(&area[at..at + 2]);
            let len = BigEndian::read_u16(&area[at + 2..at + 4]) as usize;
            if area.len() - at - 4 < len {
                return Err(Error::malformed_header(
                    "extension runs past the extension area",
                    off,
                ));
            }
            if ext_type & 0x8000 != 0 && ext_type != EXT_CONTEXT {
                return Err(Error::unsupported(
                    format!("critical header extension {ext_type:#06x}"),
                    Place::header(off),
                ));
            }
            out.push(Extension {
                ext_type,
                data: area[at + 4..at + 4 + len].to_vec(),
            });
            at += 4 + len;
        }
        Ok(out)
    }
}

/// Builds a chunk's 12-byte framing prefix.
pub fn chunk_prefix(body_len: u32, index: u64) -> [u8; PREFIX_LEN] {
    let mut p = [0u8; PREFIX_LEN];
    BigEndian::write_u32(&mut p[0..4], body_len);
    BigEndian::write_u64(&mut p[4..12], index);
    p
}

/// The totals carried by the end chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Number of chunks before the end chunk (so also the end chunk's index).
    pub chunks: u64,
    /// Audio frames (samples per channel).
    pub samples: u64,
    /// Audio payload bytes.
    pub audio_bytes: u64,
    /// Stream offset of the end chunk (the bytes of all chunks before it).
    pub stream_bytes: u64,
    /// Stream offset of the last index chunk, or [`NO_OFFSET`].
    pub last_index_offset: u64,
    /// Flags; see [`END_FLAG_RECOVERED`].
    pub flags: u32,
    /// Manifest over the header hash and every chunk digest before the end chunk.
    pub manifest: [u8; 32],
}

impl Totals {
    /// Whether the file says it was rebuilt by a recovery tool.
    pub fn recovered(&self) -> bool {
        self.flags & END_FLAG_RECOVERED != 0
    }

    /// Serializes the 80-byte end payload.
    pub fn to_payload(&self) -> [u8; END_PAYLOAD_LEN] {
        let mut b = [0u8; END_PAYLOAD_LEN];
        BigEndian::write_u64(&mut b[0..8], self.chunks);
        BigEndian::write_u64(&mut b[8..16], self.samples);
        BigEndian::write_u64(&mut b[16..24], self.audio_bytes);
        BigEndian::write_u64(&mut b[24..32], self.stream_bytes);
        BigEndian::write_u64(&mut b[32..40], self.last_index_offset);
        BigEndian::write_u32(&mut b[40..44], self.flags);
        b[48..80].copy_from_slice(&self.manifest);
        b
    }

    /// Parses an end payload; `None` if its length or reserved bytes are wrong.
    pub fn from_payload(b: &[u8]) -> Option<Totals> {
        if b.len() != END_PAYLOAD_LEN || b[44..48] != [0, 0, 0, 0] {
            return None;
        }
        let mut manifest = [0u8; 32];
        manifest.copy_from_slice(&b[48..80]);
        Some(Totals {
            chunks: BigEndian::read_u64(&b[0..8]),
            samples: BigEndian::read_u64(&b[8..16]),
            audio_bytes: BigEndian::read_u64(&b[16..24]),
            stream_bytes: BigEndian::read_u64(&b[24..32]),
            last_index_offset: BigEndian::read_u64(&b[32..40]),
            flags: BigEndian::read_u32(&b[40..44]),
            manifest,
        })
    }
}

/// One entry of an index chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// The chunk's type.
    pub chunk_type: ChunkType,
    /// Stream offset of the chunk's prefix (from the first byte of chunk 0).
    pub offset: u64,
    /// The chunk's timestamp.
    pub timestamp: u64,
    /// The chunk's digest (`docs/FORMAT.md` §6.3).
    pub digest: [u8; 32],
}

impl IndexEntry {
    /// Serializes the 56-byte entry.
    pub fn to_bytes(&self) -> [u8; INDEX_ENTRY_LEN] {
        let mut b = [0u8; INDEX_ENTRY_LEN];
        b[0..4].copy_from_slice(&self.chunk_type.0);
        BigEndian::write_u64(&mut b[8..16], self.offset);
        BigEndian::write_u64(&mut b[16..24], self.timestamp);
        b[24..56].copy_from_slice(&self.digest);
        b
    }
    /// Parses a 56-byte entry; `None` if its reserved bytes are not zero.
    pub fn from_bytes(b: &[u8]) -> Option<IndexEntry> {
        if b.len() != INDEX_ENTRY_LEN || b[4..8] != [0, 0, 0, 0] {
            return None;
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&b[24..56]);
        Some(IndexEntry {
            chunk_type: ChunkType([b[0], b[1], b[2], b[3]]),
            offset: BigEndian::read_u64(&b[8..16]),
            timestamp: BigEndian::read_u64(&b[16..24]),
            digest,
        })
    }
}

/// The fixed part of an index payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    /// Stream offset of the previous index chunk, or [`NO_OFFSET`].
    pub prev_index_offset: u64,
    /// Index of the first chunk the entries describe.
    pub first_chunk: u64,
    /// Number of entries.
    pub count: u32,
}

impl IndexHeader {
    /// Serializes the 24-byte fixed part.
    pub fn to_bytes(&self) -> [u8; INDEX_HEADER_LEN] {
        let mut b = [0u8; INDEX_HEADER_LEN];
        BigEndian::write_u64(&mut b[0..8], self.prev_index_offset);
        BigEndian::write_u64(&mut b[8..16], self.first_chunk);
        BigEndian::write_u32(&mut b[16..20], self.count);
        b
    }
    /// Parses an index payload's fixed part and checks its length.
    pub fn parse(payload: &[u8]) -> Option<IndexHeader> {
        if payload.len() < INDEX_HEADER_LEN || payload[20..24] != [0, 0, 0, 0] {
            return None;
        }
        let h = IndexHeader {
            prev_index_offset: BigEndian::read_u64(&payload[0..8]),
            first_chunk: BigEndian::read_u64(&payload[8..16]),
            count: BigEndian::read_u32(&payload[16..20]),
        };
        if (payload.len() - INDEX_HEADER_LEN) != h.count as usize * INDEX_ENTRY_LEN {
            return None;
        }
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criticality_follows_the_case_of_the_first_letter() {
        for t in [
            ChunkType::INFO,
            ChunkType::AUDIO,
            ChunkType::PARTICIPANT,
            ChunkType::EVENT,
            ChunkType::ANNOTATION,
            ChunkType::INDEX,
            ChunkType::END,
        ] {
            assert!(t.is_critical(), "{}", t.display());
        }
        assert!(!ChunkType(*b"xtra").is_critical());
        assert_eq!(ChunkType(*b"A\0\x01B").display(), "A\\x00\\x01B");
    }

    #[test]
    fn totals_round_trip_and_reserved_bytes_refused() {
        let t = Totals {
            chunks: 1,
            samples: 2,
            audio_bytes: 3,
            stream_bytes: 4,
            last_index_offset: NO_OFFSET,
            flags: END_FLAG_RECOVERED,
            manifest: [9; 32],
        };
        let mut p = t.to_payload();
        assert_eq!(Totals::from_payload(&p), Some(t));
        assert!(Totals::from_payload(&p[..79]).is_none());
        p[45] = 1;
        assert!(Totals::from_payload(&p).is_none());
    }

    #[test]
    fn index_header_checks_count_against_length() {
        let h = IndexHeader {
            prev_index_offset: 5,
            first_chunk: 0,
            count: 2,
        };
        let mut p = h.to_bytes().to_vec();
        assert!(IndexHeader::parse(&p).is_none());
        p.extend_from_slice(&[0u8; 112]);
        assert_eq!(IndexHeader::parse(&p), Some(h));
        p.push(0);
        assert!(IndexHeader::parse(&p).is_none());
    }

    #[test]
    fn duration_classes_have_exact_boundaries() {
        assert_eq!(
            DurationClass::of(59 * 8000 + 7999, 8000),
            DurationClass::UnderOneMinute
        );
        assert_eq!(
            DurationClass::of(60 * 8000, 8000),
            DurationClass::UnderTenMinutes
        );
        assert_eq!(
            DurationClass::of(3600 * 8000, 8000),
            DurationClass::OneHourOrMore
        );
    }
}
