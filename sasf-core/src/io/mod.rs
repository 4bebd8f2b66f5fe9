//! The I/O drivers over the stream core: the streaming [`writer`], the streaming
//! [`reader`] with its parallel read-ahead, and [`random`] access through the index.

pub(crate) mod pool;
pub mod random;
pub mod reader;
pub mod segments;
mod sink;
pub mod writer;

use crate::format::MAX_CHUNK_LEN;
use crate::meta;

/// Limits a reader enforces against hostile input. Every length read from a file is
/// checked against these before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest chunk body accepted (and so the largest single buffer allocated; see
    /// [`reader::Decoder::threads`] for read-ahead); at most [`MAX_CHUNK_LEN`]. A
    /// header declaring a larger cap is refused.
    pub max_chunk_len: u32,
    /// Largest JSON payload accepted in a metadata chunk.
    pub max_json_len: usize,
    /// Deepest JSON nesting accepted in a metadata chunk.
    pub max_json_depth: usize,
    /// Most participants a stream may declare.
    pub max_participants: usize,
    /// The metadata budget: bytes of metadata a reader keeps across chunks (the
    /// participant table), default 64 MiB (`docs/FORMAT.md` §15).
    pub max_metadata_bytes: usize,
}

/// Default metadata budget: 64 MiB.
pub const DEFAULT_METADATA_BUDGET: usize = 64 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_chunk_len: MAX_CHUNK_LEN,
            max_json_len: meta::DEFAULT_MAX_JSON_LEN,
            max_json_depth: meta::DEFAULT_MAX_JSON_DEPTH,
            max_participants: 10_000,
            max_metadata_bytes: DEFAULT_METADATA_BUDGET,
        }
    }
}

/// What a reader requires of a file before it opens a chunk (`docs/FORMAT.md` §13).
/// The file's header names its level, but a forger writes the header: the caller's
/// requirement decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Require {
    /// Any level; keyless files are checked for corruption only.
    Any,
    /// Authenticated (level 2 or 3) by the caller's key.
    Authenticated,
    /// Encrypted (level 3) under the caller's key.
    Encrypted,
    /// Authenticated or encrypted (level 2 or 3) and signed by one of the signers the
    /// caller names (`docs/FORMAT.md` §5.5); keyless files never meet it.
    Signed,
}

impl Require {
    /// The default: `Authenticated` when a key is given, else `Any`.
    pub fn default_for(has_key: bool) -> Require {
        if has_key {
            Require::Authenticated
        } else {
            Require::Any
        }
    }
    /// The name used by the CLI's `--require`: `any`, `authenticated`, `encrypted`.
    pub fn name(self) -> &'static str {
        match self {
            Require::Any => "any",
            Require::Authenticated => "authenticated",
            Require::Encrypted => "encrypted",
            Require::Signed => "signed",
        }
    }
    /// Parses a name.
    pub fn from_name(s: &str) -> Option<Require> {
        match s {
            "any" => Some(Require::Any),
            "authenticated" => Some(Require::Authenticated),
            "encrypted" => Some(Require::Encrypted),
            "signed" => Some(Require::Signed),
            _ => None,
        }
    }
}
