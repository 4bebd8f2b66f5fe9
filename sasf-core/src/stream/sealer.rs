//! The sealer: turns (type, timestamp, payload) into chunk bytes and owns everything
//! a writer must count: chunk indexes, stream offsets, index entries with their
//! digests, the manifest and the totals. No I/O.
//!
//! Sealing has three steps so that the middle one can run on any thread:
//! [`Sealer::begin`] assigns the chunk its place (in order), [`seal_body`] computes its
//! tag and digest (anywhere), and [`Sealer::commit`] records the digest (in order).

use sha2::{Digest, Sha256};

use crate::crypto::{chunk_digest, Integrity, Suite, Tag, MANIFEST_LABEL};
use crate::format::*;

/// A chunk's place, assigned by [`Sealer::begin`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    pub index: u64,
    pub prefix: [u8; PREFIX_LEN],
    /// Whether the chunk is described by the index (every type but INDX and END).
    described: bool,
}

/// Seals `body` (type, timestamp and payload, in place: encrypted at level 3) and
/// returns its tag and digest. Pure: safe on any thread.
pub(crate) fn seal_body(
    suite: &Suite,
    level: Integrity,
    h: &[u8; 32],
    prefix: &[u8; PREFIX_LEN],
    body: &mut [u8],
) -> (Tag, [u8; 32]) {
    let tag = suite.seal(h, prefix, body);
    let digest = chunk_digest(level, prefix, body, tag.as_slice());
    (tag, digest)
}

/// Builds a chunk body: type, timestamp, payload.
pub(crate) fn body_of(ty: ChunkType, ts: u64, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(BODY_HEADER_LEN + payload.len());
    b.extend_from_slice(&ty.0);
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

/// Builds a padded metadata body (`docs/FORMAT.md` §9.1), or `None` when the record
/// does not fit under the cap.
pub(crate) fn metadata_body(ty: ChunkType, ts: u64, json: &[u8], cap: u32) -> Option<Vec<u8>> {
    let len = meta_body_len(json.len(), cap)?;
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&ty.0);
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(&(json.len() as u32).to_be_bytes());
    b.extend_from_slice(json);
    b.resize(len, 0);
    Some(b)
}

/// The counting half of a writer. See the module docs.
pub(crate) struct Sealer {
    level: Integrity,
    h: [u8; 32],
    tag_len: usize,
    block_align: usize,
    index_interval: usize,
    next_index: u64,
    offset: u64,
    samples: u64,
    audio_bytes: u64,
    /// Entries of the chunks since the last INDX chunk; digests filled by `commit`.
    entries: Vec<IndexEntry>,
    index_first: u64,
    last_index_offset: u64,
    /// Next chunk index whose digest `commit` expects.
    next_commit: u64,
    manifest: Sha256,
}

impl Sealer {
    pub fn new(level: Integrity, h: [u8; 32], block_align: usize, index_interval: usize) -> Sealer {
        let mut manifest = Sha256::new();
        manifest.update(MANIFEST_LABEL);
        manifest.update(h);
        Sealer {
            level,
            h,
            tag_len: level.tag_len(),
            block_align,
            index_interval,
            next_index: 0,
            offset: 0,
            samples: 0,
            audio_bytes: 0,
            entries: Vec::new(),
            index_first: 0,
            last_index_offset: NO_OFFSET,
            next_commit: 0,
            manifest,
        }
    }

    pub fn h(&self) -> &[u8; 32] {
        &self.h
    }
    pub fn level(&self) -> Integrity {
        self.level
    }
    /// Audio frames sealed so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }
    /// Chunks begun so far.
    pub fn chunks(&self) -> u64 {
        self.next_index
    }
    /// Stream bytes so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Assigns the next chunk its index and offset. `body` must already hold the
    /// type, timestamp and payload; for audio the frame count is added to the totals.
    pub fn begin(&mut self, body: &[u8]) -> Ticket {
        let ty = ChunkType([body[0], body[1], body[2], body[3]]);
        let ts = u64::from_be_bytes(body[4..12].try_into().expect("8 bytes"));
        let len = body.len();
        let prefix = chunk_prefix(len as u32, self.next_index);
        let described = ty != ChunkType::INDEX && ty != ChunkType::END;
        if described {
            self.entries.push(IndexEntry {
                chunk_type: ty,
                offset: self.offset,
                timestamp: ts,
                digest: [0; 32],
            });
        }
        if ty == ChunkType::AUDIO {
            let n = len - BODY_HEADER_LEN;
            self.samples += (n / self.block_align) as u64;
            self.audio_bytes += n as u64;
        }
        let t = Ticket {
            index: self.next_index,
            prefix,
            described,
        };
        self.offset += (PREFIX_LEN + len + self.tag_len) as u64;
        self.next_index += 1;
        t
    }

    /// Records a sealed chunk's digest. Calls must come in chunk order.
    pub fn commit(&mut self, t: &Ticket, digest: &[u8; 32]) {
        debug_assert_eq!(t.index, self.next_commit, "commits come in order");
        self.next_commit += 1;
        if t.described {
            let k = (t.index - self.index_first) as usize;
            self.entries[k].digest = *digest;
        }
        self.manifest.update(digest);
    }

    /// Whether enough chunks are undescribed that an index chunk is due.
    pub fn index_due(&self) -> bool {
        self.entries.len() >= self.index_interval
    }

    /// Whether every begun chunk has been committed (needed before an INDX or END).
    pub fn all_committed(&self) -> bool {
        self.next_commit == self.next_index
    }

    /// The body of the next INDX chunk over the chunks since the last one, or `None`
    /// if there are none. Every described chunk must be committed.
    pub fn index_body(&mut self) -> Option<Vec<u8>> {
        if self.entries.is_empty() {
            return None;
        }
        debug_assert!(self.all_committed());
        let hdr = IndexHeader {
            prev_index_offset: self.last_index_offset,
            first_chunk: self.index_first,
            count: self.entries.len() as u32,
        };
        let mut p = Vec::with_capacity(INDEX_HEADER_LEN + self.entries.len() * INDEX_ENTRY_LEN);
        p.extend_from_slice(&hdr.to_bytes());
        for e in self.entries.drain(..) {
            p.extend_from_slice(&e.to_bytes());
        }
        self.last_index_offset = self.offset;
        // The INDX chunk itself is the next one; the following one is first undescribed.
        self.index_first = self.next_index + 1;
        Some(body_of(ChunkType::INDEX, self.samples, &p))
    }

    /// The totals for the END chunk. Every chunk must be committed and described.
    pub fn totals(&mut self, recovered: bool) -> Totals {
        debug_assert!(self.all_committed() && self.entries.is_empty());
        Totals {
            chunks: self.next_index,
            samples: self.samples,
            audio_bytes: self.audio_bytes,
            stream_bytes: self.offset,
            last_index_offset: self.last_index_offset,
            flags: if recovered { END_FLAG_RECOVERED } else { 0 },
            manifest: self.manifest.clone().finalize().into(),
        }
    }

    /// Largest index interval that fits under `cap`.
    pub fn max_interval(cap: u32) -> usize {
        (cap as usize - BODY_HEADER_LEN - INDEX_HEADER_LEN) / INDEX_ENTRY_LEN
    }
}
