//! The archive's deletion log (`docs/RETENTION.md`): `.sasf-retention.log`, one entry
//! a line, append-only and hash-chained, and `.sasf-retention.head`, the chain's last
//! entry, so that cutting entries off the end is found.
//!
//! A line is `HASH JSON\n`: HASH is 64 lower-case hex digits of
//! SHA-256("SASF-retention-log-v1" 0x00 ‖ previous HASH (32 bytes; zeros before the
//! first) ‖ JSON), JSON the entry exactly as written. Self-contained (std, serde,
//! serde_json, sha2) so that the fuzz target `retention_log` builds this very file.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The log's file name, in the archive's top folder.
pub const LOG_NAME: &str = ".sasf-retention.log";
/// The chain head's file name.
pub const HEAD_NAME: &str = ".sasf-retention.head";
/// The longest line read: a longer one is refused, never buffered whole.
pub const MAX_LINE: usize = 16 * 1024;
/// Most intents without a completion a log may hold (one per crashed run, normally).
pub const MAX_OPEN: usize = 10_000;
const LABEL: &[u8] = b"SASF-retention-log-v1\0";

/// One entry. `intent` is written (durably) before a file is touched, `done` after
/// it was handled, `abandoned` when a re-run finds the intent can no longer be
/// carried out (the path holds another file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// 1, 2, 3, … in the order written.
    pub seq: u64,
    /// `intent`, `done` or `abandoned`.
    pub event: String,
    /// For `done` and `abandoned`: the `seq` of its intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<u64>,
    /// `delete` or `move`.
    pub action: String,
    /// The file, relative to the archive.
    pub path: String,
    /// For a move: where to, relative to the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The recording id, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The recording's manifest (`docs/FORMAT.md` §11), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The rule that decided.
    pub rule: String,
    /// The file's size and inode when the intent was written: a re-run finishes the
    /// job only on this very file.
    pub size: u64,
    pub ino: u64,
    /// For the delete of an encrypted recording: the key area's copies (offset,
    /// length) that are overwritten, so that a re-run can finish the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_area: Option<[u64; 2]>,
    /// Whether the key section was overwritten (`done` of a delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shredded: Option<bool>,
    /// UTC time, RFC 3339.
    pub at: String,
    /// Who ran it (`--by`, else the login name).
    pub by: String,
    /// Why, for `abandoned`; what a re-run did, for a `done` it wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What reading a log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Every line chains, and the head (if given) is covered.
    Ok {
        /// Entries read.
        entries: u64,
        /// The last entry's hash, hex (`None` for an empty log).
        head: Option<String>,
        /// Intents with no `done` or `abandoned` yet: what a crash left.
        open: Vec<Entry>,
        /// Bytes of the complete lines: a torn last line (a crash while it was
        /// written, not covered by the head) starts here.
        complete_len: u64,
        /// Whether such a torn last line follows.
        torn: bool,
    },
    /// The chain is broken at this line (1-based).
    Broken { line: u64, reason: String },
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks(2).enumerate() {
        let v = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        out[i] = v(pair[0])? << 4 | v(pair[1])?;
    }
    Some(out)
}

/// The hash of an entry's JSON after `prev`.
pub fn link(prev: &[u8; 32], json: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL);
    h.update(prev);
    h.update(json);
    h.finalize().into()
}

/// The chain head as stored: `SEQ HASH`.
fn parse_head(text: &[u8]) -> Option<(u64, [u8; 32])> {
    let t = std::str::from_utf8(text).ok()?.trim_end_matches('\n');
    let (seq, hash) = t.split_once(' ')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) || seq.len() > 19 {
        return None;
    }
    Some((seq.parse().ok()?, unhex(hash.as_bytes())?))
}

/// Reads one line of at most [`MAX_LINE`] bytes (its newline included). `Ok(None)` at
/// the end; `Err(n)` for a line longer than that (n bytes read of it).
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    buf.clear();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(buf.last() == Some(&b'\n')))
}

/// Checks a log read from `r` against the stored chain head `head` (the contents of
/// [`HEAD_NAME`], if there is one).
pub fn check<R: Read>(r: R, head: Option<&[u8]>) -> std::io::Result<Check> {
    check_inner(r, head, None)
}

/// [`check`], also collecting the entries read (for `sasf retention log`).
pub fn check_collect<R: Read>(
    r: R,
    head: Option<&[u8]>,
    all: &mut Vec<Entry>,
) -> std::io::Result<Check> {
    check_inner(r, head, Some(all))
}

fn check_inner<R: Read>(
    r: R,
    head: Option<&[u8]>,
    mut all: Option<&mut Vec<Entry>>,
) -> std::io::Result<Check> {
    let mut r = BufReader::with_capacity(1 << 16, r);
    let head = match head {
        None => None,
        Some(h) => match parse_head(h) {
            Some(h) => Some(h),
            None => {
                return Ok(Check::Broken {
                    line: 0,
                    reason: format!("{HEAD_NAME} is not `SEQ HASH`"),
                })
            }
        },
    };
    let mut prev = [0u8; 32];
    let mut seq = 0u64;
    let mut line_no = 0u64;
    let mut complete_len = 0u64;
    let mut open: BTreeMap<u64, Entry> = BTreeMap::new();
    let mut head_seen = false;
    let mut buf = Vec::new();
    let mut torn = false;
    while let Some(ended) = read_line(&mut r, &mut buf)? {
        line_no += 1;
        let broken = |reason: String| Check::Broken {
            line: line_no,
            reason,
        };
        if buf.len() > MAX_LINE {
            return Ok(broken(format!("a line over {MAX_LINE} bytes")));
        }
        if !ended {
            // A last line without its newline: a crash while it was written. Fine
            // unless the head says it was complete.
            if let Some((hs, _)) = head {
                if hs > seq {
                    return Ok(broken(format!(
                        "entry {} is cut short, and the head says the log has {hs}",
                        seq + 1
                    )));
                }
            }
            torn = true;
            break;
        }
        let text = &buf[..buf.len() - 1];
        if text.len() < 66 || text[64] != b' ' {
            return Ok(broken("not `HASH JSON`".into()));
        }
        let Some(stated) = unhex(&text[..64]) else {
            return Ok(broken("its hash is not 64 lower-case hex digits".into()));
        };
        let json = &text[65..];
        if link(&prev, json) != stated {
            return Ok(broken(
                "its hash does not chain (the entry or one before it was changed, \
                 removed or inserted)"
                    .into(),
            ));
        }
        let e: Entry = match serde_json::from_slice(json) {
            Ok(e) => e,
            Err(err) => return Ok(broken(format!("not an entry: {err}"))),
        };
        if e.seq != seq + 1 {
            return Ok(broken(format!("entry {} where {} was due", e.seq, seq + 1)));
        }
        if !matches!(e.action.as_str(), "delete" | "move") {
            return Ok(broken(format!("action {:?}", e.action)));
        }
        if (e.action == "move") != e.to.is_some() {
            return Ok(broken("`to` is for a move, and a move needs it".into()));
        }
        match (e.event.as_str(), e.of) {
            ("intent", None) => {
                if open.len() >= MAX_OPEN {
                    return Ok(broken(format!("more than {MAX_OPEN} open intents")));
                }
                open.insert(e.seq, e.clone());
            }
            ("done" | "abandoned", Some(of)) => match open.remove(&of) {
                Some(i) if i.path == e.path && i.action == e.action && i.to == e.to => {}
                Some(_) => return Ok(broken(format!("it closes intent {of} of another file"))),
                None => return Ok(broken(format!("it closes {of}, not an open intent"))),
            },
            (ev, _) => {
                return Ok(broken(format!(
                    "event {ev:?} (intent without `of`, done or abandoned with it)"
                )))
            }
        }
        seq = e.seq;
        prev = stated;
        if let Some(a) = all.as_deref_mut() {
            a.push(e);
        }
        complete_len += buf.len() as u64;
        if let Some((hs, hh)) = head {
            if hs == seq {
                if hh != stated {
                    return Ok(broken(format!(
                        "entry {seq} is not the one the head records"
                    )));
                }
                head_seen = true;
            }
        }
    }
    if let Some((hs, _)) = head {
        if hs > seq {
            return Ok(Check::Broken {
                line: line_no + 1,
                reason: format!(
                    "the log ends at entry {seq}, and its head says {hs}: entries were cut off"
                ),
            });
        }
        // The head is written after the entry: a crash between leaves it one behind.
        if !head_seen && hs != 0 || seq > hs + 1 {
            return Ok(Check::Broken {
                line: line_no,
                reason: format!("the head records entry {hs}, the log goes on to {seq}"),
            });
        }
    } else if seq > 1 {
        return Ok(Check::Broken {
            line: 1,
            reason: format!("{seq} entries and no {HEAD_NAME}"),
        });
    }
    Ok(Check::Ok {
        entries: seq,
        head: (seq > 0).then(|| hex(&prev)),
        open: open.into_values().collect(),
        complete_len,
        torn,
    })
}

/// Reads the head file of `archive`, if any.
pub fn read_head(archive: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let p = archive.join(HEAD_NAME);
    match File::open(&p) {
        Ok(f) => {
            let mut v = Vec::new();
            f.take(256).read_to_end(&mut v)?;
            Ok(Some(v))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Checks the log of `archive` (`Ok` and empty when there is none).
#[cfg(test)]
pub fn check_archive(archive: &Path) -> std::io::Result<Check> {
    let head = read_head(archive)?;
    match File::open(archive.join(LOG_NAME)) {
        Ok(f) => check(f, head.as_deref()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => check(&b""[..], head.as_deref()),
        Err(e) => Err(e),
    }
}

/// Syncs a folder, so that a rename or unlink in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The log open for appending.
pub struct Log {
    file: File,
    archive: PathBuf,
    seq: u64,
    prev: [u8; 32],
}

impl Log {
    /// Opens (creates) the log of `archive` for appending, after checking it: a
    /// broken log is refused. A torn last line is cut off (it was never durable, so
    /// nothing was done on its account). Returns the log and the open intents.
    pub fn open(archive: &Path) -> Result<(Log, Vec<Entry>), String> {
        let p = archive.join(LOG_NAME);
        let io = |e: std::io::Error| format!("{}: {e}", p.display());
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&p)
            .map_err(io)?;
        let head = read_head(archive).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let c = check(&file, head.as_deref()).map_err(io)?;
        let (entries, head, open, complete_len, torn) = match c {
            Check::Ok {
                entries,
                head,
                open,
                complete_len,
                torn,
            } => (entries, head, open, complete_len, torn),
            Check::Broken { line, reason } => {
                return Err(format!(
                    "{}: line {line}: {reason}; nothing is done until the log is sound \
                     (`sasf retention log --verify`)",
                    p.display()
                ))
            }
        };
        if torn {
            file.set_len(complete_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let prev = head
            .as_deref()
            .and_then(|h| unhex(h.as_bytes()))
            .unwrap_or([0u8; 32]);
        let log = Log {
            file,
            archive: archive.to_path_buf(),
            seq: entries,
            prev,
        };
        if entries > 0 {
            // The head may be one behind after a crash: bring it up to date.
            log.write_head().map_err(io)?;
        }
        Ok((log, open))
    }

    fn line(&self, e: &Entry) -> (Vec<u8>, [u8; 32]) {
        let json = serde_json::to_vec(e).expect("an entry serialises");
        let h = link(&self.prev, &json);
        let mut line = hex(&h).into_bytes();
        line.push(b' ');
        line.extend_from_slice(&json);
        line.push(b'\n');
        (line, h)
    }

    /// Appends `e` (its `seq` set here) durably, then the head.
    pub fn append(&mut self, mut e: Entry) -> std::io::Result<u64> {
        e.seq = self.seq + 1;
        let (line, h) = self.line(&e);
        if line.len() > MAX_LINE {
            return Err(std::io::Error::other(format!(
                "a log entry of {} bytes is over {MAX_LINE}",
                line.len()
            )));
        }
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        self.seq = e.seq;
        self.prev = h;
        self.write_head()?;
        Ok(e.seq)
    }

    /// Writes the first half of `e`'s line, durably, and no head: what a crash while
    /// appending leaves (fault injection in tests).
    pub fn append_torn(&mut self, mut e: Entry) -> std::io::Result<()> {
        e.seq = self.seq + 1;
        let (line, _) = self.line(&e);
        self.file.write_all(&line[..line.len() / 2])?;
        self.file.sync_data()
    }

    fn write_head(&self) -> std::io::Result<()> {
        let tmp = self.archive.join(format!("{HEAD_NAME}.tmp"));
        {
            let mut f = File::create(&tmp)?;
            writeln!(f, "{} {}", self.seq, hex(&self.prev))?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.archive.join(HEAD_NAME))?;
        sync_dir(&self.archive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(event: &str, of: Option<u64>, path: &str) -> Entry {
        Entry {
            seq: 0,
            event: event.into(),
            of,
            action: "delete".into(),
            path: path.into(),
            to: None,
            id: Some("r1".into()),
            manifest: Some("00".repeat(32)),
            rule: "short".into(),
            size: 10,
            ino: 7,
            key_area: Some([200, 8192]),
            shredded: (event == "done").then_some(true),
            at: "2026-12-02T13:00:00Z".into(),
            by: "tester".into(),
            note: None,
        }
    }

    fn written() -> (tempfile::TempDir, Vec<u8>, Vec<u8>) {
        let d = tempfile::tempdir().unwrap();
        let (mut log, open) = Log::open(d.path()).unwrap();
        assert!(open.is_empty());
        log.append(entry("intent", None, "a.sasf")).unwrap();
        log.append(entry("done", Some(1), "a.sasf")).unwrap();
        log.append(entry("intent", None, "b.sasf")).unwrap();
        let text = std::fs::read(d.path().join(LOG_NAME)).unwrap();
        let head = std::fs::read(d.path().join(HEAD_NAME)).unwrap();
        (d, text, head)
    }

    fn broken_at(text: &[u8], head: Option<&[u8]>) -> (u64, String) {
        match check(text, head).unwrap() {
            Check::Broken { line, reason } => (line, reason),
            ok => panic!("accepted: {ok:?}"),
        }
    }

    #[test]
    fn a_sound_log_checks_and_names_its_open_intents() {
        let (d, text, head) = written();
        match check(&text[..], Some(&head)).unwrap() {
            Check::Ok {
                entries,
                open,
                torn,
                ..
            } => {
                assert_eq!(entries, 3);
                assert_eq!(open.len(), 1);
                assert_eq!(open[0].path, "b.sasf");
                assert!(!torn);
            }
            b => panic!("{b:?}"),
        }
        // Reopened, it goes on from the head.
        let (mut log, open) = Log::open(d.path()).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(log.append(entry("done", Some(3), "b.sasf")).unwrap(), 4);
    }

    #[test]
    fn every_kind_of_tampering_is_found_at_its_line() {
        let (_d, text, head) = written();
        let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        let join = |ls: &[&[u8]]| ls.concat();
        // (the log, the head, the line, words)
        let edited = String::from_utf8(text.clone())
            .unwrap()
            .replacen("b.sasf", "c.sasf", 1)
            .into_bytes();
        let dup = {
            let l = String::from_utf8(lines[0].to_vec()).unwrap();
            let json = &l[65..l.len() - 1];
            let json2 = json.replacen("{", "{\"seq\":1,", 1);
            let h = link(&[0u8; 32], json2.as_bytes());
            format!("{} {json2}\n", hex(&h)).into_bytes()
        };
        type Case<'a> = (Vec<u8>, Option<Vec<u8>>, u64, &'a str);
        let cases: Vec<Case> = vec![
            (edited, Some(head.clone()), 3, "does not chain"),
            (
                join(&[lines[0], lines[2]]),
                Some(head.clone()),
                2,
                "does not chain",
            ),
            (
                join(&[lines[0], lines[1]]),
                Some(head.clone()),
                3,
                "cut off",
            ),
            (
                join(&[lines[0], lines[1]]),
                None,
                1,
                "no .sasf-retention.head",
            ),
            (vec![b'a'; MAX_LINE + 10], None, 1, "over"),
            (dup, None, 1, "duplicate field"),
            (b"nothing\n".to_vec(), None, 1, "HASH JSON"),
            (text.clone(), Some(b"1 zz".to_vec()), 0, "SEQ HASH"),
            (
                join(&[lines[0], lines[1], &lines[2][..20]]),
                Some(head.clone()),
                3,
                "cut short",
            ),
        ];
        for (log, head, line, words) in cases {
            let (l, r) = broken_at(&log, head.as_deref());
            assert_eq!(l, line, "{r}");
            assert!(r.contains(words), "{r}");
        }
    }

    #[test]
    fn a_torn_last_line_is_cut_off_on_the_next_open() {
        let (d, _, _) = written();
        let (mut log, _) = Log::open(d.path()).unwrap();
        log.append_torn(entry("done", Some(3), "b.sasf")).unwrap();
        drop(log);
        let text = std::fs::read(d.path().join(LOG_NAME)).unwrap();
        let head = std::fs::read(d.path().join(HEAD_NAME)).unwrap();
        assert!(matches!(
            check(&text[..], Some(&head)).unwrap(),
            Check::Ok { torn: true, .. }
        ));
        let (mut log, open) = Log::open(d.path()).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(log.append(entry("done", Some(3), "b.sasf")).unwrap(), 4);
        let c = check_archive(d.path()).unwrap();
        assert!(
            matches!(
                c,
                Check::Ok {
                    entries: 4,
                    torn: false,
                    ..
                }
            ),
            "{c:?}"
        );
    }
}
