//! `sasf keygen`: a new random key file, age identity or signing key, mode 0600,
//! never overwriting.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sasf_core::crypto::{age_slot::generate_x25519, hex, key_id};
use sasf_core::{Key, SigningKey};

use crate::io::note;

/// Writes `text` to a new file `path` with `mode`, never replacing one; a file left
/// half written is removed.
fn write_new(path: &Path, text: &[u8], mode: u32, what: &str) -> Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{}: already exists; refusing to overwrite a {what}",
                path.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    let written = f.write_all(text).and_then(|_| f.sync_all());
    if let Err(e) = written {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// The public key file next to a signing key file: `.key` replaced by `.pub`, or
/// `.pub` appended.
pub fn pub_path(key: &Path) -> PathBuf {
    if key.extension().is_some_and(|e| e == "key") {
        key.with_extension("pub")
    } else {
        let mut s = key.as_os_str().to_os_string();
        s.push(".pub");
        PathBuf::from(s)
    }
}

pub fn run(output: &Path, x25519: bool, signing: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if x25519 {
        let (identity, recipient) = generate_x25519();
        write_new(output, identity.as_bytes(), 0o600, "key file")?;
        note(format_args!(
            "sasf: wrote a new age identity to {} (mode 0600); keep it secret and backed up; \
             its recipient (public) is on stdout",
            output.display()
        ));
        writeln!(out, "{recipient}")?;
        return Ok(());
    }
    if signing {
        let pubp = pub_path(output);
        if std::fs::symlink_metadata(&pubp).is_ok() {
            bail!(
                "{}: already exists; refusing to overwrite a public key file",
                pubp.display()
            );
        }
        let sk = SigningKey::generate()?;
        let vk = sk.verifying_key();
        write_new(output, sk.to_key_file().as_bytes(), 0o600, "key file")?;
        if let Err(e) = write_new(&pubp, vk.to_pub_file().as_bytes(), 0o644, "public key file") {
            let _ = std::fs::remove_file(output);
            return Err(e);
        }
        #[cfg(unix)]
        {
            // 0644 whatever the umask: a public key is for others to read.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pubp, std::fs::Permissions::from_mode(0o644))
                .with_context(|| format!("cannot set the mode of {}", pubp.display()))?;
        }
        note(format_args!(
            "sasf: wrote a new Ed25519 signing key to {} (mode 0600; keep it secret) and its public key to {}",
            output.display(),
            pubp.display()
        ));
        writeln!(out, "signer id {}", hex(&vk.id()))?;
        return Ok(());
    }
    let key = Key::generate()?;
    write_new(output, key.to_key_file().as_bytes(), 0o600, "key file")?;
    note(format_args!(
        "sasf: wrote a new 256-bit key to {} (mode 0600); keep it secret and backed up",
        output.display()
    ));
    writeln!(out, "key id {}", hex(&key_id(&key)))?;
    Ok(())
}
