//! `sasf sign`: verify a file completely, then add a signature in place.

use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cli::KeyArgs;
use crate::io::{is_dash, load_keys, now_ms, read_signing_key, shown};

pub fn run(file: &Path, signing_key: &Path, key_args: &KeyArgs) -> Result<()> {
    if is_dash(file) {
        bail!("a signature is added in place: give a file, not -");
    }
    let name = shown(file);
    let sk = read_signing_key(signing_key, key_args.allow_loose_permissions)?;
    let keys = load_keys(key_args)?;
    let rep = sasf_core::access::sign(
        file,
        &keys.ring,
        key_args.require.map(Into::into),
        &sk,
        now_ms(),
    )
    .with_context(|| name.clone())?;
    writeln!(
        std::io::stdout().lock(),
        "{name}: signed by {} ({} bytes written, generation {}, {} signature(s))",
        rep.signer_id,
        rep.rewrite.bytes_written,
        rep.rewrite.generation,
        rep.rewrite.signatures
    )?;
    Ok(())
}
