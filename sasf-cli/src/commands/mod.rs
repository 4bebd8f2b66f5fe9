//! One module per command; each is a thin layer over `sasf-core`.

pub mod annotate;
pub mod convert;
pub mod cut;
pub mod extract;
pub mod history;
pub mod index;
pub mod info;
pub mod keygen;
pub mod keys;
pub mod merge;
pub mod pack;
pub mod recover;
pub mod redact;
pub mod report;
pub mod retention;
pub mod search;
pub mod session;
pub mod shard;
pub mod sign;
pub mod verify;

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use sasf_core::{Decoder, Reader};

use crate::cli::KeyArgs;
use crate::io::{is_dash, open_input, policy, shown, threads, Keys};

/// Most participants, events and annotations a command collects from one file.
pub const MAX_RECORDS: usize = 1_000_000;

/// Opens a SASF file (or stdin) with `key`, under the requirement and expected
/// context of `args`, and authenticates its header and key section.
pub fn open_sasf(path: &Path, keys: &Keys, args: &KeyArgs) -> Result<Reader<Box<dyn Read>>> {
    open_sasf_threads(path, keys, args, threads())
}

/// [`open_sasf`] with at most `n` threads (1 when the reader is only asked for its
/// header before random access takes over: nothing is read ahead).
pub fn open_sasf_threads(
    path: &Path,
    keys: &Keys,
    args: &KeyArgs,
    n: usize,
) -> Result<Reader<Box<dyn Read>>> {
    let input = open_input(path)?;
    let d = Decoder::new(input).with_context(|| shown(path))?;
    // Reading ahead on several threads waits for input to fill the read-ahead; from a
    // pipe (perhaps a live recording) each chunk is released as soon as it arrives.
    let regular = !is_dash(path) && std::fs::metadata(path).is_ok_and(|m| m.is_file());
    let r = policy(d.threads(if regular { n } else { 1 }), args, keys)?
        .open_with(&keys.ring)
        .with_context(|| shown(path))?;
    Ok(r)
}
