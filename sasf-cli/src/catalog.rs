//! The archive catalog (`sasf index`, `sasf search`): one SQLite file in the archive,
//! `.sasf-catalog.sqlite`, that can always be deleted and rebuilt from the files.
//!
//! What it holds, and what it reveals to someone who takes it without the key, is in
//! `docs/CATALOG.md`. In short: for an encrypted recording, participant names and
//! addresses, event types, tags and attributes are stored only as keyed tokens (a
//! blind index: HMAC-SHA-256 under a key derived from the archive key, of the
//! normalised value), and what `search` prints (recording id, participants) is sealed
//! with AES-256-GCM under another derived key. DTMF digits are never stored.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use anyhow::{bail, Context, Result};
use hmac::{Hmac, Mac};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The catalog's file name, in the archive's top folder.
pub const FILE_NAME: &str = ".sasf-catalog.sqlite";
/// The schema this build writes and reads; another one is rebuilt, never trusted.
pub const SCHEMA_VERSION: i64 = 4;
/// Bytes of a blind-index token (of the 32 of HMAC-SHA-256).
const TOKEN_LEN: usize = 16;

const SCHEMA: &str = "
CREATE TABLE meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE rec (
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    level INTEGER,
    sealed INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    error TEXT,
    started_ms INTEGER,
    duration_ms INTEGER,
    score_bp INTEGER,
    legal_hold INTEGER NOT NULL,
    display BLOB,
    indexed_ms INTEGER NOT NULL,
    mac BLOB,
    retain TEXT
);
CREATE TABLE tok (rec INTEGER NOT NULL REFERENCES rec(id) ON DELETE CASCADE, t BLOB NOT NULL);
CREATE INDEX tok_t ON tok (t, rec);
CREATE INDEX tok_rec ON tok (rec);
CREATE INDEX rec_started ON rec (started_ms);
";

/// The keys a catalog derives from the archive key: one for the blind index, one for
/// the sealed display records, and a check value that tells a wrong key at once.
pub struct CatalogKeys {
    index: Zeroizing<[u8; 32]>,
    display: Zeroizing<[u8; 32]>,
    row: Zeroizing<[u8; 32]>,
    check: [u8; 32],
}

/// The columns of a catalog row that its MAC covers (everything but the tokens and
/// the indexing time).
pub struct RowFields<'a> {
    pub path: &'a [u8],
    pub size: i64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: i64,
    pub level: Option<u8>,
    pub sealed: bool,
    pub verdict: &'a str,
    pub error: Option<&'a str>,
    pub started_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub score_bp: Option<i64>,
    pub legal_hold: bool,
    pub display: Option<&'a [u8]>,
    /// The recording's own retention, holds aside ([`retain_text`]).
    pub retain: Option<&'a str>,
}

/// The public "key" of keyless recordings' tokens: anyone can compute them, which is
/// the point (a keyless recording is indexed in clear; docs/CATALOG.md).
/// Derived once per process: every keyless token needs it.
fn keyless_index_key() -> &'static [u8; 32] {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"sasf-catalog-v1"), b"keyless");
        hk.expand(b"blind-index", &mut k).expect("32 bytes");
        k
    })
}

impl CatalogKeys {
    /// Derived from the archive key's secret bytes (a key file's key, or an identity
    /// file's contents).
    pub fn derive(secret: &[u8]) -> CatalogKeys {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"sasf-catalog-v1"), secret);
        let mut index = Zeroizing::new([0u8; 32]);
        let mut display = Zeroizing::new([0u8; 32]);
        let mut row = Zeroizing::new([0u8; 32]);
        let mut check = [0u8; 32];
        hk.expand(b"blind-index", &mut index[..]).expect("32 bytes");
        hk.expand(b"display", &mut display[..]).expect("32 bytes");
        hk.expand(b"row-mac", &mut row[..]).expect("32 bytes");
        hk.expand(b"key-check", &mut check).expect("32 bytes");
        CatalogKeys {
            index,
            display,
            row,
            check,
        }
    }

    /// The MAC of a row: HMAC-SHA-256 under the row key of the row's columns in a
    /// canonical JSON array (byte strings in hex), so that a row changed outside sasf
    /// (a `failed` verdict set to `ok`) is found.
    pub fn row_mac(&self, f: &RowFields) -> Vec<u8> {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let text = serde_json::json!([
            hex(f.path),
            f.size,
            f.mtime_ns,
            f.ctime_ns,
            f.ino,
            f.level,
            f.sealed,
            f.verdict,
            f.error,
            f.started_ms,
            f.duration_ms,
            f.score_bp,
            f.legal_hold,
            f.display.map(hex),
            f.retain
        ])
        .to_string();
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.row[..]).expect("any key length");
        m.update(text.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    /// Whether `mac` is the MAC of `f` (compared in constant time).
    pub fn row_mac_ok(&self, f: &RowFields, mac: Option<&[u8]>) -> bool {
        use subtle::ConstantTimeEq;
        mac.is_some_and(|m| bool::from(m.ct_eq(&self.row_mac(f))))
    }

    /// Seals a display record: nonce (12 bytes) ‖ AES-256-GCM ciphertext and tag.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let c = aes_gcm::Aes256Gcm::new_from_slice(&self.display[..]).expect("32-byte key");
        let mut out = nonce.to_vec();
        out.extend(
            c.encrypt(&nonce.into(), plain)
                .map_err(|_| anyhow::anyhow!("sealing a catalog record failed"))?,
        );
        Ok(out)
    }

    /// Opens a display record sealed by [`CatalogKeys::seal`]; `None` if it does not
    /// authenticate (another key, or a changed catalog).
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            return None;
        }
        let c = aes_gcm::Aes256Gcm::new_from_slice(&self.display[..]).expect("32-byte key");
        let nonce: [u8; 12] = sealed[..12].try_into().ok()?;
        c.decrypt(&nonce.into(), &sealed[12..]).ok()
    }
}

/// The columns of `rec` that [`StoredRow::from_sql`] reads, in its order.
pub const ROW_COLUMNS: &str = "id, path, size, mtime_ns, ino, level, sealed, verdict, error, \
     started_ms, duration_ms, score_bp, legal_hold, display, mac, ctime_ns, retain";

/// A row of `rec` as stored.
pub struct StoredRow {
    pub id: i64,
    pub path: Vec<u8>,
    pub size: i64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: i64,
    pub level: Option<u8>,
    pub sealed: bool,
    pub verdict: String,
    pub error: Option<String>,
    pub started_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub score_bp: Option<i64>,
    pub legal_hold: bool,
    pub display: Option<Vec<u8>>,
    pub mac: Option<Vec<u8>>,
    pub retain: Option<String>,
}

impl StoredRow {
    /// Reads a row selected with [`ROW_COLUMNS`].
    pub fn from_sql(r: &rusqlite::Row) -> rusqlite::Result<StoredRow> {
        Ok(StoredRow {
            id: r.get(0)?,
            path: r.get(1)?,
            size: r.get(2)?,
            mtime_ns: r.get(3)?,
            ino: r.get(4)?,
            level: r.get(5)?,
            sealed: r.get(6)?,
            verdict: r.get(7)?,
            error: r.get(8)?,
            started_ms: r.get(9)?,
            duration_ms: r.get(10)?,
            score_bp: r.get(11)?,
            legal_hold: r.get(12)?,
            display: r.get(13)?,
            mac: r.get(14)?,
            ctime_ns: r.get(15)?,
            retain: r.get(16)?,
        })
    }

    /// The columns its MAC covers.
    pub fn fields(&self) -> RowFields<'_> {
        RowFields {
            path: &self.path,
            size: self.size,
            mtime_ns: self.mtime_ns,
            ctime_ns: self.ctime_ns,
            ino: self.ino,
            level: self.level,
            sealed: self.sealed,
            verdict: &self.verdict,
            error: self.error.as_deref(),
            started_ms: self.started_ms,
            duration_ms: self.duration_ms,
            score_bp: self.score_bp,
            legal_hold: self.legal_hold,
            display: self.display.as_deref(),
            retain: self.retain.as_deref(),
        }
    }

    /// Whether the row is as `sasf index` stored it: its MAC checks under the archive
    /// key. Without a key nothing can be checked (the catalog of a keyless archive is
    /// advisory: docs/CATALOG.md), and every row passes.
    pub fn authentic(&self, keys: Option<&CatalogKeys>) -> bool {
        keys.is_none_or(|k| k.row_mac_ok(&self.fields(), self.mac.as_deref()))
    }
}

/// The recording's own retention as the catalog stores it (`docs/RETENTION.md`):
/// `until:YYYY-MM-DD`, `days:N` (no start time to count from), `indefinite`, or `None`
/// (unspecified). Holds are left out: the catalog's `legal_hold` says those.
pub fn retain_text(r: &sasf_core::meta::annotation::Retention) -> Option<String> {
    use sasf_core::meta::annotation::Retention;
    match r {
        Retention::Until(d) => Some(format!(
            "until:{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )),
        Retention::Days(n) => Some(format!("days:{n}")),
        Retention::Indefinite => Some("indefinite".into()),
        Retention::Held { .. } | Retention::Unspecified => None,
    }
}

/// Holds the archive's index lock (`.sasf-catalog.lock`, an exclusive `flock`) while it
/// lives: one `sasf index` at a time writes a catalog.
pub struct IndexLock(#[allow(dead_code)] std::fs::File);

/// Takes the index lock of `archive`, or says that another run holds it.
pub fn lock_for_index(archive: &Path) -> Result<IndexLock> {
    lock_archive(
        archive,
        ".sasf-catalog.lock",
        "another `sasf index` is running on {}; try again when it is done",
    )
    .map(IndexLock)
}

/// Takes an exclusive, non-blocking `flock` on the lock file `name` in `archive`
/// (created if missing); `busy` is the message when another process holds it, its
/// `{}` the archive's path.
pub fn lock_archive(archive: &Path, name: &str, busy: &str) -> Result<std::fs::File> {
    let p = archive.join(name);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .with_context(|| format!("cannot open {}", p.display()))?;
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(f),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            bail!("{}", busy.replace("{}", &archive.display().to_string()))
        }
        Err(e) => Err(anyhow::anyhow!("cannot lock {}: {e}", p.display())),
    }
}

/// What a stored row's verdict was computed under; another policy re-verifies.
pub fn read_meta(c: &Connection, k: &str) -> Result<Option<Vec<u8>>> {
    Ok(
        c.query_row("SELECT v FROM meta WHERE k = ?1", params![k], |r| r.get(0))
            .optional()?,
    )
}

/// Sets a `meta` value.
pub fn write_meta(c: &Connection, k: &str, v: &[u8]) -> Result<()> {
    c.execute(
        "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
        params![k, v],
    )?;
    Ok(())
}

/// A blind-index token of `field` = `value` (already normalised) under `key`.
fn token_with(key: &[u8; 32], field: &str, value: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    m.update(field.as_bytes());
    m.update(&[0]);
    m.update(value.as_bytes());
    m.finalize().into_bytes()[..TOKEN_LEN].to_vec()
}

/// Which tokens a recording gets, and a query looks for: under the archive key for a
/// sealed (encrypted) recording, under the public keyless key otherwise.
pub enum Tokens<'a> {
    /// A keyless or authenticated-only recording: tokens anyone can compute.
    Clear,
    /// An encrypted recording: tokens under the archive key.
    Keyed(&'a CatalogKeys),
}

impl Tokens<'_> {
    /// The token of `field` = `value` (normalised by the caller).
    pub fn token(&self, field: &str, value: &str) -> Vec<u8> {
        match self {
            Tokens::Clear => token_with(keyless_index_key(), field, value),
            Tokens::Keyed(k) => token_with(&k.index, field, value),
        }
    }
}

/// A name as it is matched: whitespace collapsed, case folded (Unicode lower case).
pub fn normalize_name(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A phone number or SIP URI as it is matched. A number becomes E.164 (`+` and its
/// digits; `00` read as `+`; spaces, dashes, dots, slashes and parentheses removed),
/// also from a `tel:` URI or the user part of a `sip:` URI; a number without a country
/// code keeps its digits as written (no region is assumed). Anything else is
/// lower-cased without its `sip:`/`sips:` scheme.
pub fn normalize_address(s: &str) -> String {
    let t = s.trim();
    let lower = t.to_lowercase();
    let rest = ["tel:", "sips:", "sip:"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .unwrap_or(&lower);
    let user = rest.split(['@', ';']).next().unwrap_or(rest);
    let compact: String = user
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/'))
        .collect();
    let (plus, digits) = if let Some(d) = compact.strip_prefix('+') {
        (true, d.to_string())
    } else if let Some(d) = compact.strip_prefix("00") {
        (true, d.to_string())
    } else {
        (false, compact.clone())
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|c| c.is_ascii_digit()) {
        return if plus { format!("+{digits}") } else { digits };
    }
    rest.to_string()
}

/// The catalog of the archive at `archive`, opened for indexing: created when
/// missing; rebuilt (the damaged file moved aside, with a message) when it is not a
/// sound catalog of this schema; refused when it was built with another key.
pub fn open_for_index(archive: &Path, keys: Option<&CatalogKeys>) -> Result<Connection> {
    let path = archive.join(FILE_NAME);
    if path.exists() {
        match check(&path, keys, true) {
            Ok(c) => return Ok(c),
            Err(Problem::WrongKey) => bail!(
                "{} was built with another archive key: give that key, or delete the \
                 catalog to rebuild it with this one",
                path.display()
            ),
            Err(Problem::Unsound(why)) => {
                // Never trusted, and not kept: everything in it comes from the files.
                crate::io::note(format_args!(
                    "sasf: {}: {why}; rebuilding it from the files",
                    path.display()
                ));
                for ext in ["", "-wal", "-shm", "-journal"] {
                    let p = archive.join(format!("{FILE_NAME}{ext}"));
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(e).with_context(|| format!("cannot remove {}", p.display()))
                        }
                    }
                }
            }
        }
    }
    create(&path, keys)
}

/// The catalog of the archive at `archive`, opened for a search: it must exist and be
/// sound (a search never rebuilds; `sasf index` does).
pub fn open_for_search(archive: &Path, keys: Option<&CatalogKeys>) -> Result<Connection> {
    let path = archive.join(FILE_NAME);
    if !path.exists() {
        bail!(
            "{} has no catalog: run `sasf index {}` first",
            archive.display(),
            archive.display()
        );
    }
    match check(&path, keys, false) {
        Ok(c) => Ok(c),
        Err(Problem::WrongKey) => bail!(
            "{} was built with another archive key: give that key",
            path.display()
        ),
        Err(Problem::Unsound(why)) => bail!(
            "{}: {why}: run `sasf index {}` to rebuild it",
            path.display(),
            archive.display()
        ),
    }
}

enum Problem {
    WrongKey,
    Unsound(String),
}

/// Opens and checks a catalog. `whole`: also SQLite's `quick_check` of every page
/// (an index run, which reads everything anyway); a search checks the header, the
/// schema and the key, and every row it returns by its MAC, and a damaged page met on
/// the way is an SQLite error that names the catalog.
fn check(
    path: &Path,
    keys: Option<&CatalogKeys>,
    whole: bool,
) -> std::result::Result<Connection, Problem> {
    let unsound = |e: rusqlite::Error| Problem::Unsound(format!("not a sound catalog ({e})"));
    let c = Connection::open(path).map_err(unsound)?;
    if whole {
        let ok: String = c
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(unsound)?;
        if ok != "ok" {
            return Err(Problem::Unsound(format!("damaged ({ok})")));
        }
    }
    let version: Option<i64> = c
        .query_row("SELECT v FROM meta WHERE k = 'schema'", [], |r| r.get(0))
        .optional()
        .map_err(unsound)?;
    if version != Some(SCHEMA_VERSION) {
        return Err(Problem::Unsound(format!(
            "schema {version:?}, not {SCHEMA_VERSION}"
        )));
    }
    let stored: Option<Vec<u8>> = c
        .query_row("SELECT v FROM meta WHERE k = 'key_check'", [], |r| r.get(0))
        .optional()
        .map_err(unsound)?;
    match (stored, keys) {
        (Some(s), Some(k)) if s != k.check => return Err(Problem::WrongKey),
        // Built without a key and now given one: tokens of encrypted recordings were
        // never made; rebuild so that they are.
        (None, Some(_)) => {
            return Err(Problem::Unsound(
                "built without an archive key, and one is given now".into(),
            ))
        }
        _ => {}
    }
    settings(&c).map_err(unsound)?;
    Ok(c)
}

fn settings(c: &Connection) -> rusqlite::Result<()> {
    // secure_delete: a deleted row (a recording indexed in clear, then replaced or gone)
    // is overwritten, not left in a free page.
    c.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON;",
    )
}

fn create(path: &Path, keys: Option<&CatalogKeys>) -> Result<Connection> {
    let c = Connection::open(path).with_context(|| format!("cannot create {}", path.display()))?;
    settings(&c)?;
    c.execute_batch("PRAGMA journal_mode = WAL;")?;
    let tx = c.unchecked_transaction()?;
    tx.execute_batch(SCHEMA)?;
    tx.execute(
        "INSERT INTO meta (k, v) VALUES ('schema', ?1)",
        params![SCHEMA_VERSION],
    )?;
    if let Some(k) = keys {
        tx.execute(
            "INSERT INTO meta (k, v) VALUES ('key_check', ?1)",
            params![k.check.to_vec()],
        )?;
    }
    tx.commit()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_normalised_before_they_are_matched() {
        for (a, b) in [
            ("Gina  Customer", "gina customer"),
            ("GINA CUSTOMER", "gina customer"),
            ("Ärger Straße", "ärger straße"),
        ] {
            assert_eq!(normalize_name(a), b);
        }
        for (a, b) in [
            ("+1 (555) 010-0199", "+15550100199"),
            ("0015550100199", "+15550100199"),
            ("tel:+1-555-010-0199", "+15550100199"),
            ("sip:+15550100199@pbx.example;user=phone", "+15550100199"),
            ("555 0100", "5550100"),
            ("sip:Gina@Example.COM", "gina@example.com"),
        ] {
            assert_eq!(normalize_address(a), b, "{a}");
        }
    }

    #[test]
    fn tokens_depend_on_the_key_field_and_value() {
        let k1 = CatalogKeys::derive(b"one");
        let k2 = CatalogKeys::derive(b"two");
        let t = |k: &Tokens, f: &str, v: &str| k.token(f, v);
        let (a, b, c) = (Tokens::Keyed(&k1), Tokens::Keyed(&k2), Tokens::Clear);
        assert_eq!(t(&a, "name", "gina"), t(&a, "name", "gina"));
        assert_ne!(t(&a, "name", "gina"), t(&b, "name", "gina"));
        assert_ne!(t(&a, "name", "gina"), t(&c, "name", "gina"));
        assert_ne!(t(&a, "name", "gina"), t(&a, "tag", "gina"));
        // The field and value cannot be shifted into each other.
        assert_ne!(t(&a, "ta", "g\0x"), t(&a, "tag", "x"));
        let sealed = k1.seal(b"Gina Customer").unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"Gina"));
        assert_eq!(k1.open(&sealed).unwrap(), b"Gina Customer");
        assert!(k2.open(&sealed).is_none());
    }
}
