//! `sasf keygen`: a new random key file, mode 0600, never overwriting.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sasf_core::Key;

pub fn run(output: &Path) -> Result<()> {
    let key = Key::generate()?;
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = match opts.open(output) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{}: already exists; refusing to overwrite a key file",
                output.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", output.display())),
    };
    let written = f
        .write_all(key.to_key_file().as_bytes())
        .and_then(|_| f.sync_all());
    if let Err(e) = written {
        drop(f);
        let _ = std::fs::remove_file(output);
        return Err(e).with_context(|| format!("cannot write {}", output.display()));
    }
    crate::io::note(format_args!(
        "sasf: wrote a new 256-bit key to {} (mode 0600); keep it secret and backed up",
        output.display()
    ));
    Ok(())
}
