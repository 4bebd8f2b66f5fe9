//! Keys, the key schedule, and sealing/opening of header and chunk bytes.
//!
//! No I/O here: everything works on byte slices, so each primitive is testable alone and
//! chunks can be sealed or opened on several threads at once.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag as GcmTag};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

pub mod age_slot;
pub mod keyring;
pub mod segment;
pub mod sign;

pub use age_slot::{AgeUnwrap, AGE_PLAINTEXT_LEN};
pub use keyring::{Keyring, PublicRecipient};
pub use sign::{SigningKey, VerifyingKey};

type HmacSha256 = Hmac<Sha256>;

/// Length of a master key in bytes.
pub const KEY_LEN: usize = 32;

/// A 256-bit master key. The bytes are wiped from memory when the key is dropped.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl Key {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        Key(Zeroizing::new(bytes))
    }

    /// Makes a fresh random key from the operating system's generator.
    pub fn generate() -> Result<Key> {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::getrandom(&mut k[..]).map_err(|e| {
            Error::new(ErrorKind::Io(std::io::Error::other(format!(
                "random generator failed: {e}"
            ))))
        })?;
        Ok(Key(k))
    }

    /// Reads the key file at `path` (at most 64 KiB, into a buffer wiped afterwards)
    /// and parses it with [`Key::from_key_text`]. It does not check the file's
    /// permissions; the `sasf` command refuses a key file others can read.
    ///
    /// ```no_run
    /// let key = sasf_core::Key::read_key_file(std::path::Path::new("archive.key"))?;
    /// # Ok::<(), sasf_core::Error>(())
    /// ```
    pub fn read_key_file(path: &std::path::Path) -> Result<Key> {
        use std::io::Read;
        let f = std::fs::File::open(path)?;
        let mut buf = Zeroizing::new(Vec::with_capacity(128));
        f.take(64 * 1024 + 1).read_to_end(&mut buf)?;
        if buf.len() > 64 * 1024 {
            return Err(Error::new(ErrorKind::InvalidKey {
                reason: "a key file is at most 64 KiB".into(),
            }));
        }
        Key::from_key_text(&buf)
    }

    /// Former name of [`Key::from_key_text`], which takes a key file's contents,
    /// not its path (for a path: [`Key::read_key_file`]).
    #[deprecated(
        since = "0.2.0",
        note = "takes the contents, not a path: use Key::from_key_text, or Key::read_key_file for a path"
    )]
    pub fn from_key_file(contents: &[u8]) -> Result<Key> {
        Key::from_key_text(contents)
    }

    /// Parses the contents of a key file: lines starting with `#` are comments, and
    /// the one remaining non-empty line holds 64 hexadecimal digits.
    ///
    /// ```
    /// let key = sasf_core::Key::from_key_text(b"# my key\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n").unwrap();
    /// assert_eq!(key.as_bytes()[31], 0x1f);
    /// ```
    pub fn from_key_text(contents: &[u8]) -> Result<Key> {
        let bad = |reason: &str| {
            Error::new(ErrorKind::InvalidKey {
                reason: reason.to_string(),
            })
        };
        let text = std::str::from_utf8(contents).map_err(|_| bad("key file is not text"))?;
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let line = lines.next().ok_or_else(|| bad("key file holds no key"))?;
        if lines.next().is_some() {
            return Err(bad("key file holds more than one key line"));
        }
        if line.len() != 2 * KEY_LEN {
            return Err(bad("a key is 64 hexadecimal digits"));
        }
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        for (i, pair) in line.as_bytes().chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(|| bad("a key is 64 hexadecimal digits"))?;
            let lo = hex_val(pair[1]).ok_or_else(|| bad("a key is 64 hexadecimal digits"))?;
            k[i] = hi << 4 | lo;
        }
        Ok(Key(k))
    }

    /// The key file text for this key (a comment line and the hex line).
    pub fn to_key_file(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::from(
            "# sasf key file (256-bit master key); keep it secret\n",
        ));
        for b in self.0.iter() {
            s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        s.push('\n');
        s
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The integrity level of a file (header byte 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// Level 1: SHA-256 over every chunk; detects corruption, not forgery. No key.
    Keyless,
    /// Level 2: HMAC-SHA256 with a key derived from the master key.
    Hmac,
    /// Level 3: AES-256-GCM; confidentiality and authenticity.
    Encrypted,
}

impl Integrity {
    /// The header code: 1, 2 or 3.
    pub fn code(self) -> u8 {
        match self {
            Integrity::Keyless => 1,
            Integrity::Hmac => 2,
            Integrity::Encrypted => 3,
        }
    }
    /// The level for a header code, if known.
    pub fn from_code(c: u8) -> Option<Integrity> {
        match c {
            1 => Some(Integrity::Keyless),
            2 => Some(Integrity::Hmac),
            3 => Some(Integrity::Encrypted),
            _ => None,
        }
    }
    /// A short name: `keyless-sha256`, `hmac-sha256`, `aes-256-gcm`.
    pub fn name(self) -> &'static str {
        match self {
            Integrity::Keyless => "keyless-sha256",
            Integrity::Hmac => "hmac-sha256",
            Integrity::Encrypted => "aes-256-gcm",
        }
    }
    /// Length of each chunk's tag: 32 for levels 1 and 2, 16 for level 3.
    pub fn tag_len(self) -> usize {
        match self {
            Integrity::Encrypted => 16,
            _ => 32,
        }
    }
    /// Whether the level needs a key.
    pub fn needs_key(self) -> bool {
        self != Integrity::Keyless
    }
    fn suite_label(self) -> &'static str {
        match self {
            Integrity::Keyless => "SHA-256",
            Integrity::Hmac => "HMAC-SHA256",
            Integrity::Encrypted => "AES-256-GCM",
        }
    }
}

/// The domain-separation label for `purpose` under `level`, e.g.
/// `SASF-v2/AES-256-GCM/payload`.
pub fn label(level: Integrity, purpose: &str) -> String {
    format!("SASF-v2/{}/{}", level.suite_label(), purpose)
}

/// Label of the manifest in the end chunk (all levels).
pub const MANIFEST_LABEL: &[u8] = b"SASF-v2/manifest";
/// Label of the file digest (all levels).
pub const FILE_LABEL: &[u8] = b"SASF-v2/file";
/// Label of the chunk digest at levels 2 and 3.
pub const CHUNK_DIGEST_LABEL: &[u8] = b"SASF-v2/chunk-digest";
/// Label of the context digest.
pub const CONTEXT_LABEL: &[u8] = b"SASF-v2/context";
/// Label of a symmetric slot's key-encryption key.
pub const SLOT_LABEL: &[u8] = b"SASF-v2/slot/AES-256-GCM";
/// Label of a symmetric key's id.
pub const KEY_ID_LABEL: &[u8] = b"SASF-v2/key-id";
/// Length of a symmetric key id.
pub const KEY_ID_LEN: usize = 16;

/// A 256-bit per-file data key (`docs/FORMAT.md` §4.2). Wiped on drop.
#[derive(Clone)]
pub struct DataKey(pub(crate) Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Result<DataKey> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut k[..]).map_err(|e| {
            Error::new(ErrorKind::Io(std::io::Error::other(format!(
                "random generator failed: {e}"
            ))))
        })?;
        Ok(DataKey(k))
    }
    /// A data key from fixed bytes (for test vectors only).
    pub fn from_bytes(b: [u8; 32]) -> DataKey {
        DataKey(Zeroizing::new(b))
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A recording context (`docs/FORMAT.md` §4.4): the recording id and an optional
/// tenant. A file bound to one fails to open when another is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The recording id (1..=256 bytes).
    pub id: String,
    /// The tenant (0..=256 bytes; empty for none).
    pub tenant: String,
}

impl Context {
    /// A context of a recording id and an optional tenant.
    pub fn new(id: impl Into<String>, tenant: Option<&str>) -> Result<Context> {
        let c = Context {
            id: id.into(),
            tenant: tenant.unwrap_or("").to_string(),
        };
        if c.id.is_empty() || c.id.len() > 256 || c.tenant.len() > 256 {
            return Err(Error::metadata(
                "context",
                "a context id is 1..=256 bytes and a tenant at most 256",
            ));
        }
        Ok(c)
    }

    /// The context digest `C`.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(CONTEXT_LABEL);
        h.update((self.id.len() as u16).to_be_bytes());
        h.update(self.id.as_bytes());
        h.update((self.tenant.len() as u16).to_be_bytes());
        h.update(self.tenant.as_bytes());
        h.finalize().into()
    }
}

/// The id of a symmetric key: the first 16 bytes of HMAC-SHA256(K, "SASF-v2/key-id").
pub fn key_id(key: &Key) -> [u8; KEY_ID_LEN] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(KEY_ID_LABEL);
    let out = mac.finalize().into_bytes();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&out[..KEY_ID_LEN]);
    id
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn slot_kek(key: &Key, salt: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(salt), key.as_bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    hk.expand(SLOT_LABEL, &mut okm[..])
        .expect("32-byte HKDF output is always valid");
    okm
}

fn slot_aad(h: &[u8; 32], id: &[u8; KEY_ID_LEN]) -> [u8; 48] {
    let mut aad = [0u8; 48];
    aad[..32].copy_from_slice(h);
    aad[32..].copy_from_slice(id);
    aad
}

/// The 96-byte body of a symmetric slot wrapping `dk` and the context digest `c` for
/// `key` in the file whose header hash is `h` (`docs/FORMAT.md` §5.3).
pub fn wrap_slot(key: &Key, salt: &[u8; 32], h: &[u8; 32], dk: &DataKey, c: &[u8; 32]) -> Vec<u8> {
    let id = key_id(key);
    let kek = slot_kek(key, salt);
    let gcm = Gcm::new(GcmBackend::DEFAULT, &kek);
    let mut plain = Zeroizing::new([0u8; 64]);
    plain[..32].copy_from_slice(&dk.0[..]);
    plain[32..].copy_from_slice(c);
    let mut ct = plain.to_vec();
    let tag = gcm.seal(&[0u8; 12], &slot_aad(h, &id), &mut ct);
    let mut body = Vec::with_capacity(96);
    body.extend_from_slice(&id);
    body.extend_from_slice(&ct);
    body.extend_from_slice(&tag);
    body
}

/// Opens a symmetric slot body for `key`: the data key and context digest, or `None`
/// if the wrap does not authenticate.
pub fn unwrap_slot(
    key: &Key,
    salt: &[u8; 32],
    h: &[u8; 32],
    body: &[u8],
) -> Option<(DataKey, [u8; 32])> {
    if body.len() != 96 {
        return None;
    }
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&body[..16]);
    let kek = slot_kek(key, salt);
    let gcm = Gcm::new(GcmBackend::DEFAULT, &kek);
    let mut plain = Zeroizing::new(body[16..80].to_vec());
    if !gcm.open(&[0u8; 12], &slot_aad(h, &id), &mut plain, &body[80..96]) {
        return None;
    }
    let mut dk = Zeroizing::new([0u8; 32]);
    dk.copy_from_slice(&plain[..32]);
    let mut c = [0u8; 32];
    c.copy_from_slice(&plain[32..64]);
    Some((DataKey(dk), c))
}

/// Per-file keys derived from the data key, the salt and the context digest, and the
/// commitment (`docs/FORMAT.md` §4.3).
pub(crate) struct FileKeys {
    pub commitment: [u8; 32],
    header_key: Zeroizing<[u8; 32]>,
    keys_key: Zeroizing<[u8; 32]>,
    pub suite: Suite,
    /// Seals and opens the file's annotation segments.
    pub segments: segment::SegmentCrypto,
}

fn expand(hk: &Hkdf<Sha256>, label: &str, c: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut okm = Zeroizing::new([0u8; 32]);
    let mut info = Vec::with_capacity(label.len() + 32);
    info.extend_from_slice(label.as_bytes());
    info.extend_from_slice(c);
    // 32 bytes is far below HKDF-SHA256's 8160-byte maximum, so this cannot fail.
    hk.expand(&info, &mut okm[..])
        .expect("32-byte HKDF output is always valid");
    okm
}

fn hmac32(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl FileKeys {
    /// Derives the commitment, header key, key-section key and chunk key or cipher.
    pub fn derive(level: Integrity, dk: &DataKey, salt: &[u8; 32], c: &[u8; 32]) -> FileKeys {
        FileKeys::derive_with(level, dk, salt, c, GcmBackend::DEFAULT)
    }

    /// Like [`FileKeys::derive`], with a chosen AES-GCM backend.
    pub fn derive_with(
        level: Integrity,
        dk: &DataKey,
        salt: &[u8; 32],
        c: &[u8; 32],
        backend: GcmBackend,
    ) -> FileKeys {
        let hk = Hkdf::<Sha256>::new(Some(salt), &dk.0[..]);
        let commitment = *expand(&hk, &label(level, "commit"), c);
        let header_key = expand(&hk, &label(level, "header"), c);
        let keys_key = expand(&hk, &label(level, "keys"), c);
        let suite = match level {
            Integrity::Keyless => Suite::Keyless,
            Integrity::Hmac => {
                let k = expand(&hk, &label(level, "chunk"), c);
                Suite::Hmac(Box::new(
                    <HmacSha256 as Mac>::new_from_slice(&k[..]).expect("HMAC takes any key length"),
                ))
            }
            Integrity::Encrypted => {
                let k = expand(&hk, &label(level, "payload"), c);
                Suite::Gcm(Gcm::new(backend, &k))
            }
        };
        let segments = match level {
            Integrity::Keyless => segment::SegmentCrypto::keyless(),
            _ => segment::SegmentCrypto::keyed(
                level,
                expand(&hk, &label(level, "segment"), c),
                backend,
            ),
        };
        FileKeys {
            commitment,
            header_key,
            keys_key,
            suite,
            segments,
        }
    }

    /// Checks the header's commitment in constant time.
    pub fn commitment_matches(&self, stored: &[u8; 32]) -> bool {
        bool::from(self.commitment.ct_eq(stored))
    }

    /// The header tag for levels 2 and 3.
    pub fn header_tag(&self, unsigned_header: &[u8]) -> [u8; 32] {
        hmac32(&self.header_key[..], &[unsigned_header])
    }

    /// The key-section tag over `h` and the section's unsigned bytes.
    pub fn keys_tag(&self, h: &[u8; 32], unsigned_section: &[u8]) -> [u8; 32] {
        hmac32(&self.keys_key[..], &[h, unsigned_section])
    }
}

/// The digest of a stored chunk (`docs/FORMAT.md` §6.3): its tag at level 1, else
/// SHA-256 over the label and its stored bytes.
pub fn chunk_digest(
    level: Integrity,
    prefix: &[u8; 12],
    stored_body: &[u8],
    tag: &[u8],
) -> [u8; 32] {
    if level == Integrity::Keyless {
        let mut d = [0u8; 32];
        d.copy_from_slice(&tag[..32]);
        return d;
    }
    let mut h = Sha256::new();
    h.update(CHUNK_DIGEST_LABEL);
    h.update(prefix);
    h.update(stored_body);
    h.update(tag);
    h.finalize().into()
}

/// The file digest: SHA-256("SASF-v2/file" || manifest || d_END).
pub fn file_digest(manifest: &[u8; 32], end_digest: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(FILE_LABEL);
    h.update(manifest);
    h.update(end_digest);
    h.finalize().into()
}

/// The header tag of a level-1 file.
pub fn keyless_header_tag(unsigned_header: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label(Integrity::Keyless, "header").as_bytes());
    h.update(unsigned_header);
    h.finalize().into()
}

/// Compares two tags in constant time.
pub fn tags_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// How chunk bodies are sealed and opened. Cheap to share between threads: sealing
/// takes `&self`.
pub(crate) enum Suite {
    Keyless,
    Hmac(Box<HmacSha256>),
    Gcm(Gcm),
}

/// Which AES-256-GCM implementation seals and opens chunks. Both produce the same
/// bytes; `ring` is the default when the `ring` feature is on (it is several times
/// faster here; see the README's performance section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcmBackend {
    /// The `aes-gcm` crate (RustCrypto).
    RustCrypto,
    /// The `ring` crate.
    #[cfg(feature = "ring")]
    Ring,
}

impl GcmBackend {
    /// The backend used unless a caller asks for another.
    #[cfg(feature = "ring")]
    pub const DEFAULT: GcmBackend = GcmBackend::Ring;
    /// The backend used unless a caller asks for another.
    #[cfg(not(feature = "ring"))]
    pub const DEFAULT: GcmBackend = GcmBackend::RustCrypto;
}

/// An AES-256-GCM key in one of the backends.
pub(crate) enum Gcm {
    RustCrypto(Box<Aes256Gcm>),
    #[cfg(feature = "ring")]
    Ring(Box<ring::aead::LessSafeKey>),
}

impl Gcm {
    pub(crate) fn new(backend: GcmBackend, key: &[u8; 32]) -> Gcm {
        match backend {
            GcmBackend::RustCrypto => Gcm::RustCrypto(Box::new(
                Aes256Gcm::new_from_slice(key).expect("32-byte AES key"),
            )),
            #[cfg(feature = "ring")]
            GcmBackend::Ring => {
                let k = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key)
                    .expect("32-byte AES key");
                Gcm::Ring(Box::new(ring::aead::LessSafeKey::new(k)))
            }
        }
    }

    pub(crate) fn seal(&self, nonce: &[u8; 12], aad: &[u8], body: &mut [u8]) -> [u8; 16] {
        let mut t = [0u8; 16];
        match self {
            Gcm::RustCrypto(c) => {
                let tag = c
                    .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, body)
                    .expect("chunk bodies are far below the GCM length limit");
                t.copy_from_slice(&tag);
            }
            #[cfg(feature = "ring")]
            Gcm::Ring(k) => {
                let tag = k
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(*nonce),
                        ring::aead::Aad::from(aad),
                        body,
                    )
                    .expect("chunk bodies are far below the GCM length limit");
                t.copy_from_slice(tag.as_ref());
            }
        }
        t
    }

    pub(crate) fn open(&self, nonce: &[u8; 12], aad: &[u8], body: &mut [u8], tag: &[u8]) -> bool {
        if tag.len() != 16 {
            return false;
        }
        match self {
            Gcm::RustCrypto(c) => c
                .decrypt_in_place_detached(
                    Nonce::from_slice(nonce),
                    aad,
                    body,
                    GcmTag::from_slice(tag),
                )
                .is_ok(),
            #[cfg(feature = "ring")]
            Gcm::Ring(k) => {
                let Ok(tag) = ring::aead::Tag::try_from(tag) else {
                    return false;
                };
                k.open_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(*nonce),
                    ring::aead::Aad::from(aad),
                    tag,
                    body,
                    0..,
                )
                .is_ok()
            }
        }
    }
}

/// A chunk tag: 32 bytes for levels 1 and 2, 16 for level 3 (the first 16 used).
#[derive(Clone, Copy)]
pub(crate) struct Tag {
    pub bytes: [u8; 32],
    pub len: usize,
}

impl Tag {
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn gcm_nonce(prefix: &[u8; 12]) -> [u8; 12] {
    // Nonce = 4 zero bytes || chunk index (u64 BE); the index is prefix bytes 4..12.
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&prefix[4..12]);
    n
}

impl Suite {
    /// Seals `body` in place (encrypts it at level 3) and returns its tag. `h` is the
    /// header hash; `prefix` the 12 framing bytes (length u32 BE, index u64 BE).
    pub fn seal(&self, h: &[u8; 32], prefix: &[u8; 12], body: &mut [u8]) -> Tag {
        let mut bytes = [0u8; 32];
        match self {
            Suite::Keyless => {
                let mut d = Sha256::new();
                d.update(label(Integrity::Keyless, "chunk").as_bytes());
                d.update(h);
                d.update(prefix);
                d.update(&*body);
                bytes.copy_from_slice(&d.finalize());
                Tag { bytes, len: 32 }
            }
            Suite::Hmac(base) => {
                let mut mac = (**base).clone();
                mac.update(h);
                mac.update(prefix);
                mac.update(body);
                bytes.copy_from_slice(&mac.finalize().into_bytes());
                Tag { bytes, len: 32 }
            }
            Suite::Gcm(gcm) => {
                let mut aad = [0u8; 44];
                aad[..32].copy_from_slice(h);
                aad[32..].copy_from_slice(prefix);
                bytes[..16].copy_from_slice(&gcm.seal(&gcm_nonce(prefix), &aad, body));
                Tag { bytes, len: 16 }
            }
        }
    }

    /// Opens `body` in place (decrypts it at level 3) if `tag` verifies. On failure the
    /// body's contents are unspecified and must not be used.
    pub fn open(&self, h: &[u8; 32], prefix: &[u8; 12], body: &mut [u8], tag: &[u8]) -> bool {
        match self {
            Suite::Keyless | Suite::Hmac(_) => {
                let expect = self.seal(h, prefix, body);
                tags_equal(expect.as_slice(), tag)
            }
            Suite::Gcm(gcm) => {
                let mut aad = [0u8; 44];
                aad[..32].copy_from_slice(h);
                aad[32..].copy_from_slice(prefix);
                gcm.open(&gcm_nonce(prefix), &aad, body, tag)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        Key::from_bytes([b; 32])
    }

    fn dk(b: u8) -> DataKey {
        DataKey::from_bytes([b; 32])
    }

    #[test]
    fn slots_open_only_for_their_key_and_file() {
        let (salt, h, c) = ([3u8; 32], [4u8; 32], [5u8; 32]);
        let body = wrap_slot(&key(1), &salt, &h, &dk(9), &c);
        assert_eq!(body.len(), 96);
        assert_eq!(&body[..16], &key_id(&key(1)));
        let (d, c2) = unwrap_slot(&key(1), &salt, &h, &body).unwrap();
        assert_eq!(*d.0, [9u8; 32]);
        assert_eq!(c2, c);
        assert!(unwrap_slot(&key(2), &salt, &h, &body).is_none());
        assert!(unwrap_slot(&key(1), &[0u8; 32], &h, &body).is_none());
        assert!(unwrap_slot(&key(1), &salt, &[0u8; 32], &body).is_none());
        let mut b2 = body.clone();
        b2[0] ^= 1;
        assert!(
            unwrap_slot(&key(1), &salt, &h, &b2).is_none(),
            "the key id is bound"
        );
        assert_ne!(key_id(&key(1)), key_id(&key(2)));
    }

    #[test]
    fn key_file_round_trip_and_refusals() {
        let k = key(0xab);
        let text = k.to_key_file();
        assert_eq!(
            Key::from_key_text(text.as_bytes()).unwrap().as_bytes(),
            k.as_bytes()
        );
        for bad in [
            &b""[..],
            b"# only a comment\n",
            b"abcd\n",
            b"zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
            b"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
        ] {
            let e = Key::from_key_text(bad).unwrap_err();
            assert_eq!(e.class(), "invalid-key", "{bad:?}");
        }
    }

    #[test]
    fn labels_are_distinct_per_level_and_purpose() {
        let mut all = Vec::new();
        for l in [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted] {
            for p in ["commit", "header", "chunk", "payload"] {
                all.push(label(l, p));
            }
        }
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        assert_eq!(
            label(Integrity::Encrypted, "payload"),
            "SASF-v2/AES-256-GCM/payload"
        );
    }

    #[test]
    fn commitment_differs_by_key_salt_and_level() {
        let salt = [7u8; 32];
        let z = [0u8; 32];
        let a = FileKeys::derive(Integrity::Encrypted, &dk(1), &salt, &z);
        let b = FileKeys::derive(Integrity::Encrypted, &dk(2), &salt, &z);
        let c = FileKeys::derive(Integrity::Encrypted, &dk(1), &[8u8; 32], &z);
        let d = FileKeys::derive(Integrity::Hmac, &dk(1), &salt, &z);
        let e = FileKeys::derive(Integrity::Encrypted, &dk(1), &salt, &[1u8; 32]);
        assert!(a.commitment_matches(&a.commitment.clone()));
        assert!(!a.commitment_matches(&b.commitment.clone()));
        assert!(!a.commitment_matches(&c.commitment.clone()));
        assert!(!a.commitment_matches(&d.commitment.clone()));
        assert!(
            !a.commitment_matches(&e.commitment.clone()),
            "the context is bound"
        );
    }

    #[cfg(feature = "ring")]
    #[test]
    fn each_gcm_backend_opens_what_the_other_sealed() {
        let h = [9u8; 32];
        let prefix = [0, 0, 0, 40, 0, 0, 0, 0, 0, 1, 2, 3];
        let plain: Vec<u8> = (0..40u8).collect();
        let backends = [GcmBackend::RustCrypto, GcmBackend::Ring];
        for a in backends {
            for b in backends {
                let z = [0u8; 32];
                let ka = FileKeys::derive_with(Integrity::Encrypted, &dk(5), &[2u8; 32], &z, a);
                let kb = FileKeys::derive_with(Integrity::Encrypted, &dk(5), &[2u8; 32], &z, b);
                let mut body = plain.clone();
                let tag = ka.suite.seal(&h, &prefix, &mut body);
                let mut body2 = plain.clone();
                assert_eq!(
                    kb.suite.seal(&h, &prefix, &mut body2).as_slice(),
                    tag.as_slice()
                );
                assert_eq!(body, body2, "{a:?} and {b:?} seal to the same bytes");
                assert!(kb.suite.open(&h, &prefix, &mut body, tag.as_slice()));
                assert_eq!(body, plain);
                let mut bad = body2.clone();
                bad[3] ^= 1;
                assert!(!kb.suite.open(&h, &prefix, &mut bad, tag.as_slice()));
            }
        }
    }

    #[test]
    fn seal_open_each_suite_and_reject_any_bit_flip() {
        let h = [3u8; 32];
        let prefix = [0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9];
        for level in [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted] {
            let keys = FileKeys::derive(level, &dk(4), &[1u8; 32], &[0u8; 32]);
            let plain = *b"hello";
            let mut body = plain;
            let tag = keys.suite.seal(&h, &prefix, &mut body);
            assert_eq!(tag.len, level.tag_len());
            if level == Integrity::Encrypted {
                assert_ne!(body, plain);
            } else {
                assert_eq!(body, plain);
            }
            let mut b2 = body;
            assert!(keys.suite.open(&h, &prefix, &mut b2, tag.as_slice()));
            assert_eq!(b2, plain);
            for bit in 0..(body.len() * 8) {
                let mut b3 = body;
                b3[bit / 8] ^= 1 << (bit % 8);
                assert!(!keys.suite.open(&h, &prefix, &mut b3, tag.as_slice()));
            }
            for bit in 0..96 {
                let mut p = prefix;
                p[bit / 8] ^= 1 << (bit % 8);
                let mut b3 = body;
                assert!(!keys.suite.open(&h, &p, &mut b3, tag.as_slice()));
            }
            let mut h2 = h;
            h2[31] ^= 1;
            let mut b3 = body;
            assert!(!keys.suite.open(&h2, &prefix, &mut b3, tag.as_slice()));
            let mut t2 = tag;
            t2.bytes[0] ^= 0x80;
            let mut b3 = body;
            assert!(!keys.suite.open(&h, &prefix, &mut b3, t2.as_slice()));
        }
    }
}
