//! One module per command; each is a thin layer over `sasf-core`.

pub mod convert;
pub mod extract;
pub mod info;
pub mod keygen;
pub mod merge;
pub mod pack;
pub mod recover;
pub mod session;
pub mod verify;

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use sasf_core::{Decoder, Key, Reader};

use crate::io::{open_input, shown, threads};

/// Most participants, events and annotations a command collects from one file.
pub const MAX_RECORDS: usize = 1_000_000;

/// Opens a SASF file (or stdin) and authenticates its header with `key`.
pub fn open_sasf(path: &Path, key: Option<&Key>) -> Result<Reader<Box<dyn Read>>> {
    let input = open_input(path)?;
    let r = Decoder::new(input)
        .and_then(|d| d.threads(threads()).open(key))
        .with_context(|| shown(path))?;
    Ok(r)
}
