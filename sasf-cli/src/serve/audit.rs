//! The audit log of `sasf serve`: every playback, download, annotation, login and
//! refusal, one JSON line each, appended to `ARCHIVE/.sasf-audit.jsonl` and chained:
//! each line carries the `mac` of the line before it (`prev`) and its own, over its
//! text without the `mac` member. With an archive key the MAC is HMAC-SHA256 under a
//! key derived from it (`"chain":"hmac-sha256"`), so nobody without the key can
//! rewrite the log unnoticed; without one it is SHA-256 (`"chain":"sha256"`): an edit
//! or removal inside the log is found, but whoever can write the file can recompute
//! the chain. Cutting lines off the end is found only against a head kept elsewhere:
//! `--verify-audit` prints it. docs/SERVE.md says the same.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use super::wire::{chain_name, hex, mac_of};
pub use super::wire::{check, Check};
use zeroize::Zeroizing;

/// The log's file name in the archive.
pub const FILE_NAME: &str = ".sasf-audit.jsonl";
/// Derives the audit chain's key from the archive secret.
pub fn derive_key(secret: &[u8]) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<Sha256>::new(Some(b"sasf-audit-v1"), secret);
    let mut k = Zeroizing::new([0u8; 32]);
    hk.expand(b"audit-chain", &mut *k)
        .expect("32 bytes is a valid HKDF length");
    k
}

struct State {
    file: File,
    seq: u64,
    prev: [u8; 32],
}

/// The open log, appended to under a lock.
pub struct Audit {
    state: Mutex<State>,
    key: Option<Zeroizing<[u8; 32]>>,
    path: PathBuf,
}

impl Audit {
    /// Opens (or creates, mode 0600) the archive's log, takes its lock (one server per
    /// archive) and checks the chain; a broken log is refused.
    pub fn open(archive: &Path, key: Option<Zeroizing<[u8; 32]>>) -> Result<Audit> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = archive.join(FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .with_context(|| format!("cannot open the audit log {}", path.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| {
                anyhow::anyhow!(
                    "the audit log {} is in use: another `sasf serve` runs on this archive",
                    path.display()
                )
            },
        )?;
        let (seq, prev) = match check(&file, key.as_deref()).context("cannot read the audit log")? {
            Check::Ok { entries, head } => (entries, head),
            Check::Broken { line, reason } => bail!(
                "the audit log {} is broken at line {line}: {reason}. Nothing was appended; \
                 keep it as evidence, move it aside, and start again",
                path.display()
            ),
        };
        Ok(Audit {
            state: Mutex::new(State { file, seq, prev }),
            key,
            path,
        })
    }

    /// Appends one entry and flushes it to disk. A failure to write is reported on
    /// stderr; the chain in memory then stays at the last entry written.
    pub fn log(&self, user: &str, role: &str, action: &str, path: &str, ok: bool, detail: &str) {
        // Fields from a request are cut so that a line always fits what is read back.
        let cut = |t: &str, n: usize| -> String {
            if t.len() <= n {
                t.to_string()
            } else {
                format!("{}…", t.chars().take(n).collect::<String>())
            }
        };
        let (user, path, detail) = (&cut(user, 256), &cut(path, 1024), &cut(detail, 2048));
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let seq = st.seq + 1;
        let mut m = Map::new();
        m.insert("seq".into(), seq.into());
        m.insert("at".into(), json!(now_utc()));
        m.insert("user".into(), json!(user));
        m.insert("role".into(), json!(role));
        m.insert("action".into(), json!(action));
        m.insert("path".into(), json!(path));
        m.insert("ok".into(), json!(ok));
        m.insert("detail".into(), json!(detail));
        m.insert("chain".into(), json!(chain_name(self.key.as_deref())));
        m.insert("prev".into(), json!(hex(&st.prev)));
        let body = serde_json::to_vec(&Value::Object(m.clone())).expect("a Value serializes");
        let mac = mac_of(self.key.as_deref(), &body);
        m.insert("mac".into(), json!(hex(&mac)));
        let mut line = serde_json::to_vec(&Value::Object(m)).expect("a Value serializes");
        line.push(b'\n');
        let written = st.file.write_all(&line).and_then(|_| st.file.sync_data());
        match written {
            Ok(()) => {
                st.seq = seq;
                st.prev = mac;
            }
            Err(e) => crate::io::note(format_args!(
                "sasf serve: cannot append to the audit log {}: {e}",
                self.path.display()
            )),
        }
    }
}

fn now_utc() -> String {
    crate::io::utc_ms(crate::io::now_ms())
}

/// `sasf serve ARCHIVE --verify-audit`.
pub fn verify_file(
    archive: &Path,
    key: Option<&Zeroizing<[u8; 32]>>,
) -> Result<std::process::ExitCode> {
    let path = archive.join(FILE_NAME);
    let f = File::open(&path)
        .with_context(|| format!("cannot open the audit log {}", path.display()))?;
    match check(f, key.map(|k| &**k)).context("cannot read the audit log")? {
        Check::Ok { entries, head } => {
            println!(
                "{}: {entries} entr{} chained ({}), head {}",
                path.display(),
                if entries == 1 { "y" } else { "ies" },
                chain_name(key.map(|k| &**k)),
                hex(&head)
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Check::Broken { line, reason } => {
            println!("{}: BROKEN at line {line}: {reason}", path.display());
            Ok(std::process::ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(key: Option<Zeroizing<[u8; 32]>>, n: usize) -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        {
            let a = Audit::open(dir.path(), key).unwrap();
            for i in 0..n {
                a.log(
                    "sam",
                    "supervisor",
                    "play",
                    &format!("c{i}.sasf"),
                    true,
                    "from 0 s",
                );
            }
        }
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        (dir, bytes)
    }

    #[test]
    fn a_log_chains_and_every_change_is_found_at_its_line() {
        let k = derive_key(b"archive secret");
        let (dir, bytes) = log_with(Some(k.clone()), 4);
        let Check::Ok { entries: 4, .. } = check(&bytes[..], Some(&k)).unwrap() else {
            panic!("a fresh log checks")
        };
        // Reopening continues the chain.
        {
            let a = Audit::open(dir.path(), Some(k.clone())).unwrap();
            a.log(
                "ann",
                "agent",
                "refused",
                "x.sasf",
                false,
                "not a participant",
            );
        }
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert!(matches!(
            check(&bytes[..], Some(&k)).unwrap(),
            Check::Ok { entries: 5, .. }
        ));
        let text = String::from_utf8(bytes.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let join = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
        let edited = text.replacen("c2.sasf", "c9.sasf", 1);
        let mut dropped = lines.clone();
        dropped.remove(1);
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        for (what, t, line) in [
            ("an edit", edited, 3),
            ("a removed line", join(&dropped), 2),
            ("swapped lines", join(&swapped), 2),
            ("a cut last line", text[..text.len() - 5].to_string(), 5),
        ] {
            match check(t.as_bytes(), Some(&k)).unwrap() {
                Check::Broken { line: l, .. } => assert_eq!(l, line, "{what}"),
                ok => panic!("{what} not found: {ok:?}"),
            }
        }
        // Without the key, a keyed log is not taken as chained.
        assert!(matches!(
            check(&bytes[..], None).unwrap(),
            Check::Broken { line: 1, .. }
        ));
        // A keyless log recomputed without the key is still refused by a keyed check.
        let (_d, plain) = log_with(None, 2);
        assert!(matches!(
            check(&plain[..], None).unwrap(),
            Check::Ok { entries: 2, .. }
        ));
        assert!(matches!(
            check(&plain[..], Some(&k)).unwrap(),
            Check::Broken { line: 1, .. }
        ));
    }

    #[test]
    fn long_fields_from_a_request_are_cut_and_the_log_still_checks() {
        let dir = tempfile::tempdir().unwrap();
        let a = Audit::open(dir.path(), None).unwrap();
        let long = "\u{1}".repeat(100_000);
        a.log(&long, "-", "refused", &long, false, &long);
        drop(a);
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert!(bytes.len() < crate::serve::wire::MAX_LINE);
        assert!(matches!(
            check(&bytes[..], None).unwrap(),
            Check::Ok { entries: 1, .. }
        ));
    }

    #[test]
    fn a_broken_log_is_not_appended_to_and_one_server_holds_it() {
        let (dir, bytes) = log_with(None, 2);
        let a = Audit::open(dir.path(), None).unwrap();
        assert!(
            Audit::open(dir.path(), None).is_err(),
            "a second server is refused"
        );
        drop(a);
        let broken = String::from_utf8(bytes).unwrap().replacen("sam", "eve", 1);
        std::fs::write(dir.path().join(FILE_NAME), &broken).unwrap();
        let e = Audit::open(dir.path(), None).err().unwrap().to_string();
        assert!(e.contains("broken at line 1"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap(),
            broken
        );
    }
}
