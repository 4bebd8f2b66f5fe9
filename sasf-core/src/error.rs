//! The one error type of `sasf-core`.
//!
//! [`Error`] is a boxed [`ErrorKind`]; the kinds are grouped by who is at fault: the
//! environment (I/O), the SASF input (not SASF, unsupported, malformed, authentication,
//! wrong key, truncation, trailing data, limits), other inputs (WAV, metadata), and the
//! caller (misuse). Every SASF error carries the chunk index and byte offset where it
//! was found, when there is one.

use std::fmt;
use std::io;

/// Where in a SASF stream an error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Index of the chunk being read, or `None` for the header.
    pub chunk: Option<u64>,
    /// Byte offset from the start of the stream.
    pub offset: u64,
    /// The annotation segment (`docs/FORMAT.md` §21) being read, if the place is in one.
    pub segment: Option<u32>,
}

impl Place {
    /// A place inside the header.
    pub fn header(offset: u64) -> Place {
        Place {
            chunk: None,
            segment: None,
            offset,
        }
    }
    /// A place inside chunk `index`.
    pub fn chunk(index: u64, offset: u64) -> Place {
        Place {
            chunk: Some(index),
            segment: None,
            offset,
        }
    }
    /// A place inside annotation segment `number` (0 for the first), at file offset
    /// `offset`.
    pub fn segment(number: u32, offset: u64) -> Place {
        Place {
            chunk: None,
            segment: Some(number),
            offset,
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(k) = self.segment {
            return write!(f, "annotation segment {k}, byte offset {}", self.offset);
        }
        match self.chunk {
            Some(c) => write!(f, "chunk {c}, byte offset {}", self.offset),
            None => write!(f, "header, byte offset {}", self.offset),
        }
    }
}

/// What went wrong. See [`Error::kind`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    // --- environment ---
    /// Reading or writing failed.
    Io(io::Error),

    // --- the SASF input ---
    /// The input does not start with the SASF magic bytes.
    NotSasf,
    /// The file declares a format version this reader does not implement.
    UnsupportedVersion {
        /// The version found in the file.
        found: u16,
    },
    /// A feature this reader does not implement (integrity level, encoding, critical
    /// chunk type or header extension).
    Unsupported {
        /// What is unsupported.
        what: String,
        /// Where it was found.
        place: Place,
    },
    /// The header is not well formed.
    MalformedHeader {
        /// Why.
        reason: String,
        /// Byte offset of the offending field.
        offset: u64,
    },
    /// A chunk is authentic but breaks a structural rule of the format.
    Malformed {
        /// Why.
        reason: String,
        /// Where.
        place: Place,
    },
    /// The file needs a key (HMAC or encrypted) and none was given.
    KeyRequired,
    /// The key does not match the file's key commitment.
    WrongKey,
    /// No recipient slot of the file is for the given key.
    NoRecipient {
        /// The key ids of the file's symmetric recipients, in hex.
        key_ids: Vec<String>,
        /// How many recipients the file has (of every kind).
        recipients: usize,
    },
    /// The file does not meet the protection the caller required (`docs/FORMAT.md` §13).
    NotProtected {
        /// The file's integrity level name.
        level: &'static str,
        /// What was required.
        required: &'static str,
    },
    /// The file is not bound to the context the caller expected.
    ContextMismatch {
        /// Why (unbound, or a different context).
        reason: String,
    },
    /// No valid signature by a signer the caller trusts (`docs/FORMAT.md` §5.5).
    NotSigned {
        /// What was required, and what the file has.
        reason: String,
    },
    /// A tag did not verify: the header or a chunk was altered, moved, dropped,
    /// duplicated or spliced in from another file.
    AuthFailed {
        /// Where.
        place: Place,
    },
    /// The stream ended before its end chunk.
    Truncated {
        /// The last chunk that was read whole and authenticated, if any.
        after_chunk: Option<u64>,
        /// Audio frames (samples per channel) authenticated before the cut.
        at_sample: u64,
        /// Sample rate, to express `at_sample` as a time.
        sample_rate: u32,
        /// Byte offset at which the input ended.
        offset: u64,
    },
    /// Bytes follow the end chunk.
    TrailingData {
        /// Offset of the first byte after the end chunk.
        offset: u64,
    },
    /// A length or count exceeds a limit of the format or of the reader's [`crate::Limits`].
    LimitExceeded {
        /// What was too large.
        what: &'static str,
        /// The value found.
        found: u64,
        /// The limit.
        limit: u64,
        /// Where.
        place: Place,
    },

    // --- other inputs ---
    /// A WAV file uses an encoding or layout this library does not read.
    WavUnsupported {
        /// What.
        what: String,
    },
    /// A WAV file is not well formed.
    WavMalformed {
        /// Why.
        reason: String,
        /// Byte offset in the WAV input.
        offset: u64,
    },
    /// Participant or event metadata is invalid.
    InvalidMetadata {
        /// JSON path of the offending value, e.g. `events[3].participant`.
        path: String,
        /// Why.
        reason: String,
    },
    /// A key file is not in the expected format.
    InvalidKey {
        /// Why.
        reason: String,
    },

    // --- the caller ---
    /// The API was used in a way it does not allow.
    Misuse {
        /// What was wrong.
        reason: String,
    },
}

/// The error type of `sasf-core`: a boxed [`ErrorKind`].
pub struct Error(Box<ErrorKind>);

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Makes an error of this kind.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }
    /// Consumes the error, returning its kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// Where in the SASF input the error was found, when it has a place: the header
    /// or key section (by byte offset), or a chunk (index and byte offset). Truncation
    /// and trailing data carry their offsets in their kinds.
    pub fn place(&self) -> Option<Place> {
        match &*self.0 {
            ErrorKind::Unsupported { place, .. }
            | ErrorKind::Malformed { place, .. }
            | ErrorKind::AuthFailed { place }
            | ErrorKind::LimitExceeded { place, .. } => Some(*place),
            ErrorKind::MalformedHeader { offset, .. } => Some(Place::header(*offset)),
            _ => None,
        }
    }

    /// True when the error means the SASF input failed verification (corrupt,
    /// tampered, truncated, malformed, unsupported or the wrong key), as opposed to an
    /// I/O error, bad other input or caller misuse.
    pub fn is_verification_failure(&self) -> bool {
        matches!(
            *self.0,
            ErrorKind::NotSasf
                | ErrorKind::UnsupportedVersion { .. }
                | ErrorKind::Unsupported { .. }
                | ErrorKind::MalformedHeader { .. }
                | ErrorKind::Malformed { .. }
                | ErrorKind::WrongKey
                | ErrorKind::NoRecipient { .. }
                | ErrorKind::NotProtected { .. }
                | ErrorKind::ContextMismatch { .. }
                | ErrorKind::NotSigned { .. }
                | ErrorKind::AuthFailed { .. }
                | ErrorKind::Truncated { .. }
                | ErrorKind::TrailingData { .. }
                | ErrorKind::LimitExceeded { .. }
        )
    }

    /// A short stable name for the error class, used by the conformance vectors and
    /// the CLI's JSON output (`"auth-failed"`, `"truncated"`, ...).
    pub fn class(&self) -> &'static str {
        match *self.0 {
            ErrorKind::Io(_) => "io",
            ErrorKind::NotSasf => "not-sasf",
            ErrorKind::UnsupportedVersion { .. } => "unsupported-version",
            ErrorKind::Unsupported { .. } => "unsupported",
            ErrorKind::MalformedHeader { .. } => "malformed-header",
            ErrorKind::Malformed { .. } => "malformed",
            ErrorKind::KeyRequired => "key-required",
            ErrorKind::WrongKey => "wrong-key",
            ErrorKind::NoRecipient { .. } => "wrong-key",
            ErrorKind::NotProtected { .. } => "not-protected",
            ErrorKind::ContextMismatch { .. } => "context-mismatch",
            ErrorKind::NotSigned { .. } => "not-signed",
            ErrorKind::AuthFailed { .. } => "auth-failed",
            ErrorKind::Truncated { .. } => "truncated",
            ErrorKind::TrailingData { .. } => "trailing-data",
            ErrorKind::LimitExceeded { .. } => "limit-exceeded",
            ErrorKind::WavUnsupported { .. } => "wav-unsupported",
            ErrorKind::WavMalformed { .. } => "wav-malformed",
            ErrorKind::InvalidMetadata { .. } => "invalid-metadata",
            ErrorKind::InvalidKey { .. } => "invalid-key",
            ErrorKind::Misuse { .. } => "misuse",
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>, place: Place) -> Error {
        Error::new(ErrorKind::Malformed {
            reason: reason.into(),
            place,
        })
    }
    pub(crate) fn malformed_header(reason: impl Into<String>, offset: u64) -> Error {
        Error::new(ErrorKind::MalformedHeader {
            reason: reason.into(),
            offset,
        })
    }
    pub(crate) fn unsupported(what: impl Into<String>, place: Place) -> Error {
        Error::new(ErrorKind::Unsupported {
            what: what.into(),
            place,
        })
    }
    pub(crate) fn misuse(reason: impl Into<String>) -> Error {
        Error::new(ErrorKind::Misuse {
            reason: reason.into(),
        })
    }
    pub(crate) fn metadata(path: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidMetadata {
            path: path.into(),
            reason: reason.into(),
        })
    }
    pub(crate) fn wav_malformed(reason: impl Into<String>, offset: u64) -> Error {
        Error::new(ErrorKind::WavMalformed {
            reason: reason.into(),
            offset,
        })
    }
    pub(crate) fn wav_unsupported(what: impl Into<String>) -> Error {
        Error::new(ErrorKind::WavUnsupported { what: what.into() })
    }
}

/// Formats a sample position as `HH:MM:SS.mmm`.
pub fn format_time(samples: u64, rate: u32) -> String {
    if rate == 0 {
        return format!("sample {samples}");
    }
    let ms = (samples as u128 * 1000 / rate as u128) as u64;
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        h,
        rem / 60_000,
        (rem / 1000) % 60,
        rem % 1000
    )
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            ErrorKind::Io(e) => write!(f, "I/O error: {e}"),
            ErrorKind::NotSasf => write!(f, "not a SASF file (bad magic bytes)"),
            ErrorKind::UnsupportedVersion { found: 1 } => write!(
                f,
                "unsupported version 1: re-pack the WAV with this version (version 1 was never released; this reader knows version 2)"
            ),
            ErrorKind::UnsupportedVersion { found } => {
                write!(
                    f,
                    "unsupported SASF version {found} (this reader knows version 2)"
                )
            }
            ErrorKind::Unsupported { what, place } => write!(f, "unsupported {what} at {place}"),
            ErrorKind::MalformedHeader { reason, offset } => {
                write!(f, "malformed header at byte offset {offset}: {reason}")
            }
            ErrorKind::Malformed { reason, place } => write!(f, "malformed at {place}: {reason}"),
            ErrorKind::KeyRequired => write!(f, "this file needs a key (none given)"),
            ErrorKind::WrongKey => write!(f, "wrong key (key commitment does not match)"),
            ErrorKind::NoRecipient {
                key_ids,
                recipients,
            } => {
                write!(
                    f,
                    "wrong key: no recipient matches: this file has {recipients} recipient{}",
                    if *recipients == 1 { "" } else { "s" }
                )?;
                if !key_ids.is_empty() {
                    write!(f, " (key ids {})", key_ids.join(", "))?;
                }
                Ok(())
            }
            ErrorKind::NotProtected { level, required } => write!(
                f,
                "not protected as required: this file is {level}; {required} was required (give --require any to accept keyless files)"
            ),
            ErrorKind::ContextMismatch { reason } => write!(f, "context mismatch: {reason}"),
            ErrorKind::NotSigned { reason } => write!(f, "not signed as required: {reason}"),
            ErrorKind::AuthFailed { place } => write!(f, "authentication failed at {place}"),
            ErrorKind::Truncated {
                after_chunk,
                at_sample,
                sample_rate,
                offset,
            } => {
                let t = format_time(*at_sample, *sample_rate);
                match after_chunk {
                    Some(c) => write!(
                        f,
                        "truncated after chunk {c} at {t} (input ends at byte offset {offset}, no end chunk)"
                    ),
                    None => write!(
                        f,
                        "truncated before the first chunk (input ends at byte offset {offset})"
                    ),
                }
            }
            ErrorKind::TrailingData { offset } => {
                write!(
                    f,
                    "trailing data after the end chunk at byte offset {offset}"
                )
            }
            ErrorKind::LimitExceeded {
                what,
                found,
                limit,
                place,
            } => write!(
                f,
                "limit exceeded at {place}: {what} is {found}, limit {limit}"
            ),
            ErrorKind::WavUnsupported { what } => write!(f, "unsupported WAV: {what}"),
            ErrorKind::WavMalformed { reason, offset } => {
                write!(f, "malformed WAV at byte offset {offset}: {reason}")
            }
            ErrorKind::InvalidMetadata { path, reason } => {
                write!(f, "invalid metadata at {path}: {reason}")
            }
            ErrorKind::InvalidKey { reason } => write!(f, "invalid key: {reason}"),
            ErrorKind::Misuse { reason } => write!(f, "API misuse: {reason}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.class(), self)
    }
}

// No `source()`: the message already includes the I/O error's, and error reporters
// that print the chain would repeat it.
impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::new(ErrorKind::Io(e))
    }
}
