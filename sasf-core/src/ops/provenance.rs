//! What [`redact`](crate::redact) and [`excerpt`](crate::excerpt) share: reading a
//! source twice (first its end, index and structure, for the digest every derived file
//! names; then the whole stream, to copy it) and sealing a new file like it.
//!
//! A derived file is sealed at the source's level with a **new data key and salt**:
//! its chunks depend on its own header (`docs/FORMAT.md` §4.3), and every recipient
//! stanza binds the header hash `H` (§5.3, §5.4), so neither the source's chunks nor
//! its stanzas can be reused. The new file is wrapped for every key of the keyring
//! that has a slot in the source, for the recipient of every identity that opens one
//! of its age stanzas, and for the extra recipients the caller names. An age stanza
//! does not name its recipient's public key, so a source recipient whose identity is
//! not given cannot be carried over: [`Carried`] says how many were.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::crypto::{hex, Context, Integrity, Keyring, PublicRecipient};
use crate::error::{Error, ErrorKind, Result};
use crate::io::random::RandomAccess;
use crate::io::reader::{Decoder, Reader};
use crate::io::writer::WriterBuilder;
use crate::io::{Limits, Require};
use crate::meta::RecordingInfo;
use crate::AudioFormat;

/// The key of the `custom` event that records a redaction (`docs/FORMAT.md` §9.5.2).
pub const REDACTION_KEY: &str = "sasf.redaction";
/// The key of the `custom` event that records an excerpt (`docs/FORMAT.md` §9.5.3).
pub const EXCERPT_KEY: &str = "sasf.excerpt";

/// The recording a derived file was made from, as its provenance record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its recording id (INFO `id`).
    pub id: Option<String>,
    /// Its start anchor (INFO `started_at`).
    pub started_at: Option<String>,
    /// Its file digest (§11): what a signature or a ledger pins, and what an auditor
    /// recomputes from the stored bytes without the data key.
    pub file_digest: [u8; 32],
    /// Its manifest (§11).
    pub manifest: [u8; 32],
    /// Its audio frames.
    pub samples: u64,
    /// Its audio format.
    pub format: AudioFormat,
    /// Its integrity level.
    pub integrity: Integrity,
}

impl Source {
    /// The members every provenance record carries about its source.
    pub(crate) fn members(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut o = serde_json::Map::new();
        if let Some(id) = &self.id {
            o.insert("source_id".into(), id.clone().into());
        }
        o.insert("source_file_digest".into(), hex(&self.file_digest).into());
        o.insert("source_manifest".into(), hex(&self.manifest).into());
        o.insert("source_samples".into(), self.samples.into());
        o
    }
}

/// How many of the source's recipients the new file is wrapped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Carried {
    /// Recipients of the source (slots and age stanzas).
    pub source_recipients: usize,
    /// Of them, carried over (a key or identity for them was given).
    pub carried: usize,
    /// Extra public recipients the caller added.
    pub added: usize,
}

/// How a derived file opens its source.
#[derive(Clone, Copy)]
pub struct Opening<'a> {
    /// Every key and identity to try (also the recipients to carry over).
    pub keyring: &'a Keyring,
    /// What the source must be (`docs/FORMAT.md` §13).
    pub require: Require,
    /// The context the source must be bound to, if any.
    pub expect: Option<&'a Context>,
    /// Trusted signers (with [`Require::Signed`], the source must be signed by one).
    pub signers: &'a [crate::VerifyingKey],
}

impl Opening<'_> {
    fn reader(&self, path: &Path) -> Result<Reader<BufReader<File>>> {
        let f = File::open(path).map_err(Error::from)?;
        let mut d =
            Decoder::with_limits(BufReader::with_capacity(256 * 1024, f), Limits::default())?
                .require(self.require);
        if let Some(c) = self.expect {
            d = d.expect_context(c.clone());
        }
        if !self.signers.is_empty() {
            d = d.signers(self.signers.to_vec());
        }
        d.open_with(self.keyring)
    }

    /// The first pass: the source's END, index chain and structure (no audio is read),
    /// which give its digest, manifest and totals.
    pub(crate) fn survey(&self, path: &Path) -> Result<(Source, RandomAccess<BufReader<File>>)> {
        let ra = self.reader(path)?.into_random_access()?;
        let h = ra.header();
        let source = Source {
            id: ra.info().id.clone(),
            // As text: `RecordingInfo::started_at` is a string here and a `Timestamp` (shown
            // as its exact text) on main since issue 14; this reads the same with both.
            started_at: ra.info().started_at.as_ref().map(|s| s.to_string()),
            file_digest: *ra.file_digest(),
            manifest: ra.totals().manifest,
            samples: ra.totals().samples,
            format: h.format,
            integrity: h.integrity,
        };
        Ok((source, ra))
    }

    /// The second pass: the whole stream, from the start.
    pub(crate) fn stream(&self, path: &Path) -> Result<Reader<BufReader<File>>> {
        self.reader(path)
    }
}

/// After the second pass reached END: the stream read is the file surveyed.
pub(crate) fn same_source<R: Read>(r: &Reader<R>, source: &Source) -> Result<()> {
    if r.file_digest() != Some(&source.file_digest) {
        return Err(Error::new(ErrorKind::Io(std::io::Error::other(
            "the source changed while it was read (its file digest differs between the two passes)",
        ))));
    }
    Ok(())
}

/// A builder for a file like the source `r`: its format, level, chunk cap, retention
/// and context, `info` as its INFO, wrapped as the module docs say.
pub(crate) fn builder_like<R: Read>(
    r: &Reader<R>,
    keyring: &Keyring,
    extra: &[PublicRecipient],
    info: RecordingInfo,
) -> Result<(WriterBuilder, Carried)> {
    let header = r.header().clone();
    let mut b = WriterBuilder::new(header.format)
        .info(info)
        .max_chunk_len(header.max_chunk_len)
        .retention_days(header.retention_days);
    if let Some(c) = crate::recover::bound_context(r) {
        b = b.bind_context(c);
    }
    let mut carried = Carried::default();
    if header.integrity == Integrity::Keyless {
        if !extra.is_empty() {
            return Err(Error::misuse(
                "the source is keyless: a file derived from it is keyless too and has no recipients",
            ));
        }
        return Ok((b, carried));
    }
    let (keys, public) = keyring.rewrap_for(r.key_section(), r.header_hash());
    if keys.is_empty() && public.is_empty() {
        return Err(Error::new(ErrorKind::KeyRequired));
    }
    carried.source_recipients = r.key_section().recipients.len();
    carried.carried = keys.len() + public.len();
    carried.added = extra.len();
    b = b.integrity(header.integrity);
    for k in keys {
        b = b.recipient(k);
    }
    for p in public.into_iter().chain(extra.iter().cloned()) {
        b = b.public_recipient(p);
    }
    Ok((b, carried))
}

/// Refuses a range that is not inside a recording of `total` frames.
pub(crate) fn check_range(from: u64, to: u64, total: u64, rate: u32) -> Result<()> {
    use crate::error::format_time;
    if to > total || from >= total {
        return Err(Error::misuse(format!(
            "the range {}–{} is outside the recording, which ends at {}",
            format_time(from, rate),
            format_time(to, rate),
            format_time(total, rate)
        )));
    }
    if from >= to {
        return Err(Error::misuse(format!(
            "the range must end after it starts ({} is not after {})",
            format_time(to, rate),
            format_time(from, rate)
        )));
    }
    Ok(())
}
