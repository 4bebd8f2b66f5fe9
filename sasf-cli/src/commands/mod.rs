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

use crate::cli::KeyArgs;
use crate::io::{open_input, policy, shown, threads};

/// Most participants, events and annotations a command collects from one file.
pub const MAX_RECORDS: usize = 1_000_000;

/// Opens a SASF file (or stdin) with `key`, under the requirement and expected
/// context of `args`, and authenticates its header and key section.
pub fn open_sasf(path: &Path, key: Option<&Key>, args: &KeyArgs) -> Result<Reader<Box<dyn Read>>> {
    let input = open_input(path)?;
    let d = Decoder::new(input).with_context(|| shown(path))?;
    let r = policy(d.threads(threads()), args)?
        .open(key)
        .with_context(|| shown(path))?;
    Ok(r)
}
