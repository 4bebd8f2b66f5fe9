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
    /// The log's length after the last entry written.
    len: u64,
    /// Tests: write only this many bytes of the next entry, then fail.
    #[cfg(test)]
    short_write: Option<usize>,
    /// Set when an entry could not be written: the log then takes nothing more and
    /// every action that must be logged is refused until the server is restarted.
    failed: Option<String>,
}

/// An entry that could not be written: the action it records must not happen.
#[derive(Debug)]
pub struct Unlogged(pub String);

impl std::fmt::Display for Unlogged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the audit log cannot be written ({}): nothing that must be logged is done \
             until the server is restarted",
            self.0
        )
    }
}

/// Refusals without a session logged per second at most.
const ANONYMOUS_PER_SECOND: u32 = 20;

/// The open log, appended to under a lock.
pub struct Audit {
    state: Mutex<State>,
    /// This second's start, refusals without a session logged in it, and those not
    /// logged one by one since the last one that was.
    anonymous: Mutex<(std::time::Instant, u32, u64)>,
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
        let len = file.metadata()?.len();
        Ok(Audit {
            anonymous: Mutex::new((std::time::Instant::now(), 0, 0)),
            state: Mutex::new(State {
                file,
                seq,
                prev,
                len,
                failed: None,
                #[cfg(test)]
                short_write: None,
            }),
            key,
            path,
        })
    }

    /// Appends one entry and flushes it to disk before returning. A failure to write
    /// cuts what was written of the entry off again (the log ends at its last whole
    /// entry), is reported on stderr, and makes this and every later call fail: the
    /// caller must then not do what it was logging.
    pub fn log(
        &self,
        user: &str,
        role: &str,
        action: &str,
        path: &str,
        ok: bool,
        detail: &str,
    ) -> Result<(), Unlogged> {
        // Fields from a request are cut so that a line always fits what is read back.
        // (A request's path is at most 4096 bytes, so it is not cut; at most 6 bytes
        // per escaped character keeps a line under 64 KiB.)
        let cut = |t: &str, n: usize| -> String {
            match t.char_indices().nth(n) {
                None => t.to_string(),
                Some((at, _)) => format!("{}…", &t[..at]),
            }
        };
        let (user, path, detail) = (&cut(user, 256), &cut(path, 4096), &cut(detail, 2048));
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = &st.failed {
            return Err(Unlogged(why.clone()));
        }
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
        #[cfg(test)]
        if let Some(n) = st.short_write.take() {
            let _ = st.file.write_all(&line[..n.min(line.len())]);
            line.truncate(0);
        }
        let written = if line.is_empty() {
            Err(std::io::Error::other("short write (test)"))
        } else {
            st.file.write_all(&line).and_then(|_| st.file.sync_data())
        };
        match written {
            Ok(()) => {
                st.seq = seq;
                st.prev = mac;
                st.len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                let len = st.len;
                let cut = st.file.set_len(len).and_then(|_| st.file.sync_data());
                let why = match cut {
                    Ok(()) => format!("{}: {e}", self.path.display()),
                    Err(c) => format!(
                        "{}: {e}; cutting the partial entry off failed too ({c}): \
                         --verify-audit names its line",
                        self.path.display()
                    ),
                };
                crate::io::note(format_args!(
                    "sasf serve: cannot append to the audit log {why}"
                ));
                st.failed = Some(why.clone());
                Err(Unlogged(why))
            }
        }
    }

    /// Logs a refusal of a request without a session, at most
    /// [`ANONYMOUS_PER_SECOND`] a second; past that they are counted, and the count
    /// goes into the detail of the next one logged.
    pub fn log_anonymous(&self, path: &str, detail: &str) -> Result<(), Unlogged> {
        let dropped = {
            let mut a = self.anonymous.lock().unwrap_or_else(|e| e.into_inner());
            let now = std::time::Instant::now();
            if now.duration_since(a.0) >= std::time::Duration::from_secs(1) {
                a.0 = now;
                a.1 = 0;
            }
            if a.1 >= ANONYMOUS_PER_SECOND {
                a.2 += 1;
                return Ok(());
            }
            a.1 += 1;
            std::mem::take(&mut a.2)
        };
        let detail = if dropped > 0 {
            format!("{detail} (and {dropped} more refusals without a session before it, not logged one by one)")
        } else {
            detail.to_string()
        };
        self.log("-", "-", "refused", path, false, &detail)
    }

    /// Makes every later entry fail, as a write failure does (tests).
    #[cfg(test)]
    fn fail_for_test(&self) {
        self.state.lock().unwrap().failed = Some("test".into());
    }
}

fn now_utc() -> String {
    crate::io::utc_ms(crate::io::now_ms())
}

/// `sasf serve ARCHIVE --verify-audit`.
pub fn verify_file(
    archive: &Path,
    key: Option<&Zeroizing<[u8; 32]>>,
    expect_head: Option<&str>,
) -> Result<std::process::ExitCode> {
    let path = archive.join(FILE_NAME);
    let f = File::open(&path)
        .with_context(|| format!("cannot open the audit log {}", path.display()))?;
    let mut seen_at = None;
    let checked = super::wire::check_each(f, key.map(|k| &**k), |line, mac| {
        if expect_head.is_some_and(|h| h == hex(mac)) {
            seen_at = Some(line);
        }
    })
    .context("cannot read the audit log")?;
    let n = |entries: u64| format!("{entries} entr{}", if entries == 1 { "y" } else { "ies" });
    match checked {
        Check::Ok { entries, .. } if expect_head.is_some() && seen_at.is_none() => {
            println!(
                "{}: BROKEN: {} chained ({}), but no line has the head {} expected: \
                 entries were cut off the end, or this is another log",
                path.display(),
                n(entries),
                chain_name(key.map(|k| &**k)),
                expect_head.unwrap_or_default()
            );
            Ok(std::process::ExitCode::from(1))
        }
        Check::Ok { entries, head } => {
            let since = seen_at
                .map(|l| format!("; the head expected is line {l}"))
                .unwrap_or_default();
            println!(
                "{}: {} chained ({}), head {}{since}",
                path.display(),
                n(entries),
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
                )
                .unwrap();
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
            )
            .unwrap();
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
        // A change that parses the same (an escape for a letter, a duplicate key in
        // front) is a change: the MAC covers the line's bytes.
        for (what, t) in [
            ("an escape", text.replacen("\"sam\"", "\"\\u0073am\"", 1)),
            (
                "a duplicate key",
                text.replacen("{\"seq\":1,", "{\"user\":\"eve\",\"seq\":1,", 1),
            ),
        ] {
            assert_ne!(t, text, "{what}");
            assert!(
                matches!(
                    check(t.as_bytes(), Some(&k)).unwrap(),
                    Check::Broken { line: 1, .. }
                ),
                "{what} not found"
            );
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
        a.log(&long, "-", "refused", &long, false, &long).unwrap();
        drop(a);
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert!(bytes.len() < crate::serve::wire::MAX_LINE);
        assert!(matches!(
            check(&bytes[..], None).unwrap(),
            Check::Ok { entries: 1, .. }
        ));
    }

    #[test]
    fn an_entry_that_cannot_be_written_stops_what_it_logs() {
        let dir = tempfile::tempdir().unwrap();
        let a = Audit::open(dir.path(), None).unwrap();
        a.log("sam", "supervisor", "play", "a.sasf", true, "")
            .unwrap();
        a.fail_for_test();
        let e = a
            .log("sam", "supervisor", "play", "b.sasf", true, "")
            .unwrap_err();
        assert!(e.to_string().contains("audit log cannot be written"), "{e}");
        drop(a);
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert!(matches!(
            check(&bytes[..], None).unwrap(),
            Check::Ok { entries: 1, .. }
        ));
    }

    #[test]
    fn a_write_cut_short_is_cut_off_again() {
        let dir = tempfile::tempdir().unwrap();
        let a = Audit::open(dir.path(), None).unwrap();
        a.log("sam", "supervisor", "play", "a.sasf", true, "")
            .unwrap();
        let whole = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        a.state.lock().unwrap().short_write = Some(40);
        assert!(a
            .log("sam", "supervisor", "play", "b.sasf", true, "")
            .is_err());
        drop(a);
        // The 40 bytes that reached the file are gone again: the log is its first
        // entry, byte for byte, and checks.
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(bytes, whole);
        assert!(matches!(
            check(&bytes[..], None).unwrap(),
            Check::Ok { entries: 1, .. }
        ));
    }

    #[test]
    fn refusals_without_a_session_are_logged_20_a_second_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let a = Audit::open(dir.path(), None).unwrap();
        for _ in 0..1000 {
            a.log_anonymous("x.sasf", "play: not logged in").unwrap();
        }
        // The next second's first refusal carries the count.
        a.anonymous.lock().unwrap().0 -= std::time::Duration::from_secs(2);
        a.log_anonymous("x.sasf", "play: not logged in").unwrap();
        drop(a);
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(text.lines().count(), 21);
        assert!(text
            .lines()
            .last()
            .unwrap()
            .contains("and 980 more refusals"));
    }

    #[test]
    fn a_full_disk_leaves_the_log_at_its_last_whole_entry() {
        // /dev/full takes no bytes: a write fails as on a full disk. The log file is
        // the real one; only the descriptor written to is swapped.
        let Ok(full) = OpenOptions::new().append(true).open("/dev/full") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let a = Audit::open(dir.path(), None).unwrap();
        a.log("sam", "supervisor", "play", "a.sasf", true, "")
            .unwrap();
        let real = std::mem::replace(&mut a.state.lock().unwrap().file, full);
        assert!(a
            .log("sam", "supervisor", "play", "b.sasf", true, "")
            .is_err());
        a.state.lock().unwrap().file = real;
        // Once failed, the log takes nothing more.
        assert!(a
            .log("sam", "supervisor", "play", "c.sasf", true, "")
            .is_err());
        drop(a);
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
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
