//! Files, pipes, keys and progress: what the commands share.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sasf_core::{Key, Keyring, PublicRecipient, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::cli::KeyArgs;

/// Buffer size for files and pipes.
const BUF: usize = 256 * 1024;
/// The buffer of a regular file being read (see [`open_input`]).
const SMALL_BUF: usize = 8 * 1024;

static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Sets the number of threads that seal and verify chunks (`None`: every core).
pub fn set_threads(n: Option<usize>) {
    let n = n.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let _ = THREADS.set(n.max(1));
}

static FSYNC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether outputs are flushed to disk before they are renamed into place.
pub fn set_fsync(on: bool) {
    FSYNC.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `--fsync` was given.
pub fn fsync_enabled() -> bool {
    FSYNC.load(std::sync::atomic::Ordering::Relaxed)
}

/// Writes a line to stderr, ignoring failure: a closed stderr (`2>&1 | head`) must
/// not turn a result into a panic (`eprintln!` panics there).
pub fn note(args: std::fmt::Arguments) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// The number of threads that seal and verify chunks.
pub fn threads() -> usize {
    THREADS.get().copied().unwrap_or(1)
}

/// Whether `p` names stdin/stdout.
pub fn is_dash(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// How a path is shown in messages.
pub fn shown(p: &Path) -> String {
    if is_dash(p) {
        "<stdin>".to_string()
    } else {
        p.display().to_string()
    }
}

/// Text for a terminal with every control character but the line break escaped
/// (`\u{1b}`), so that a string from a file (a forged recording id holding escape
/// codes, say) cannot move the cursor or rewrite what is shown.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c != '\n'
            && (c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Opens an input file, or stdin for `-`.
/// Opens a WAV input. An encoding sasf does not read (ADPCM, GSM, MP3 in WAV, odd bit
/// depths) is refused with the sox and ffmpeg commands that convert it to PCM.
pub fn open_wav(p: &Path) -> Result<sasf_core::wav::WavReader<Box<dyn Read>>> {
    let name = shown(p);
    sasf_core::wav::WavReader::new(open_input(p)?).map_err(|e| {
        if e.class() != "wav-unsupported" {
            return anyhow::Error::new(e).context(name.clone());
        }
        // A command to copy: the output next to the input; a name that cannot be
        // typed (not UTF-8, control characters) gives placeholders instead.
        let typable = |s: &str| !s.chars().any(|c| c.is_control());
        let shown_path = p.to_str().filter(|s| typable(s));
        let (src, dst) = match shown_path {
            Some(s) if !is_dash(p) => {
                let stem = p
                    .file_stem()
                    .map_or_else(|| "in".into(), |s| s.to_string_lossy().into_owned());
                let dst = p.with_file_name(format!("{stem}-pcm.wav"));
                (
                    shell_quote(&dashless(s)),
                    shell_quote(&dashless(&dst.display().to_string())),
                )
            }
            _ => ("in.wav".to_string(), "in-pcm.wav".to_string()),
        };
        anyhow::anyhow!(
            "{name}: {e}; sasf reads PCM (8/16/24/32-bit), IEEE float (32/64-bit), \
             µ-law and A-law WAV: convert it first, e.g. `ffmpeg -i {src} -c:a pcm_s16le {dst}` \
             or `sox {src} -e signed-integer -b 16 {dst}`"
        )
    })
}

/// A relative path that starts with `-` prefixed with `./`, so that no tool reads it as
/// an option.
fn dashless(s: &str) -> String {
    if s.starts_with('-') {
        format!("./{s}")
    } else {
        s.to_string()
    }
}

/// `s` quoted for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_./+:@".contains(&c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub fn open_input(p: &Path) -> Result<Box<dyn Read>> {
    if is_dash(p) {
        return Ok(Box::new(BufReader::with_capacity(BUF, io::stdin())));
    }
    let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
    // A regular file gets a small buffer: enough that tiny chunks (and chunk
    // prefixes) do not cost a system call each, small enough that a whole chunk read
    // bypasses it and `read` copies it straight into place (a second copy through a
    // large buffer costs as much as hashing; see the README's performance notes).
    // Devices and FIFOs opened by name are buffered like stdin.
    if f.metadata().is_ok_and(|m| m.is_file()) {
        return Ok(Box::new(BufReader::with_capacity(SMALL_BUF, f)));
    }
    Ok(Box::new(BufReader::with_capacity(BUF, f)))
}

/// Applies `--require`, `--signer` and `--expect-id`/`--expect-tenant` to a decoder.
pub fn policy<R: Read>(
    d: sasf_core::Decoder<R>,
    args: &KeyArgs,
    keys: &Keys,
) -> Result<sasf_core::Decoder<R>> {
    let mut d = d;
    if !keys.signers.is_empty() {
        d = d.signers(keys.signers.clone());
    }
    if let Some(r) = args.require {
        d = d.require(r.into());
    }
    if let Some(id) = &args.expect_id {
        d = d.expect_context(sasf_core::Context::new(
            id.clone(),
            args.expect_tenant.as_deref(),
        )?);
    }
    Ok(d)
}

/// Reads a secret file (a key, an identity, a signing key): at most 64 KiB, into a
/// buffer that is wiped when dropped. Refused when its group or others can read it,
/// unless `loose` (`--allow-loose-permissions`). `what` names the kind of file in
/// messages; the contents never appear in one.
pub fn read_secret(path: &Path, what: &str, loose: bool) -> Result<Zeroizing<Vec<u8>>> {
    let mut f =
        File::open(path).with_context(|| format!("cannot open {what} {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = f
            .metadata()
            .with_context(|| format!("cannot read {what} {}", path.display()))?;
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            if !loose {
                bail!(
                    "{what} {} is readable by other users (mode {mode:04o}): refused; run `chmod 600 {}` \
                     (or give --allow-loose-permissions)",
                    path.display(),
                    path.display()
                );
            }
            note(format_args!(
                "sasf: warning: {what} {} is readable by other users (mode {mode:04o}; chmod 600 it)",
                path.display()
            ));
        }
    }
    // Room for the whole (at most 64 KiB) file at once: a growing buffer would leave
    // freed copies of the key text behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(64 * 1024 + 1));
    Read::by_ref(&mut f)
        .take(64 * 1024)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    Ok(bytes)
}

/// Reads one key file.
pub fn read_key_file(path: &Path, loose: bool) -> Result<Key> {
    let bytes = read_secret(path, "key file", loose)?;
    Key::from_key_text(&bytes).with_context(|| format!("key file {}", path.display()))
}

/// Reads one signing key file.
pub fn read_signing_key(path: &Path, loose: bool) -> Result<SigningKey> {
    let bytes = read_secret(path, "signing key", loose)?;
    SigningKey::from_key_file(&bytes).with_context(|| format!("signing key {}", path.display()))
}

/// Every key, identity and trusted signer a command was given.
pub struct Keys {
    /// The key files' keys, in order.
    pub keys: Vec<Key>,
    /// The keys and identities, to open files with.
    pub ring: Keyring,
    /// The trusted signers.
    pub signers: Vec<VerifyingKey>,
}

impl Keys {
    /// The first key file's key, for a command that writes with it.
    pub fn first(&self) -> Option<&Key> {
        self.keys.first()
    }
}

/// Loads the keys, identities and signers named by `args`.
pub fn load_keys(args: &KeyArgs) -> Result<Keys> {
    let mut ring = Keyring::new();
    let mut keys = Vec::new();
    for p in &args.key_file {
        let k = read_key_file(p, args.allow_loose_permissions)?;
        ring.add_key(k.clone());
        keys.push(k);
    }
    for p in &args.identity {
        let bytes = read_secret(p, "identity file", args.allow_loose_permissions)?;
        ring.add_identity_file(&bytes)
            .with_context(|| format!("identity file {}", p.display()))?;
    }
    let mut signers = Vec::new();
    for p in &args.signer {
        let text =
            std::fs::read(p).with_context(|| format!("cannot read signer file {}", p.display()))?;
        signers.push(
            VerifyingKey::from_pub_file(&text)
                .with_context(|| format!("signer file {}", p.display()))?,
        );
    }
    if args.require == Some(crate::cli::RequireArg::Signed) && signers.is_empty() {
        bail!("--require signed needs the signers to trust: give --signer FILE.pub");
    }
    Ok(Keys {
        keys,
        ring,
        signers,
    })
}

/// Loads the first key named by `--key-file` or `SASF_KEY_FILE`, if any, for `what`, a
/// command that writes its output with that key (`recover`, `session`). An identity
/// can open a file but not seal one, and these commands check no signature: both are
/// refused rather than ignored.
pub fn load_writing_key(args: &KeyArgs, what: &str) -> Result<Option<Key>> {
    let keys = load_keys(args)?;
    if !keys.signers.is_empty() {
        bail!("sasf {what} checks no signature: verify the file with `sasf verify --signer` instead of giving --signer here");
    }
    refuse_identity_only(&keys, what)?;
    Ok(keys.keys.into_iter().next())
}

/// Refuses an age identity without a key file for `what`, a command that seals its
/// output with the key.
pub fn refuse_identity_only(keys: &Keys, what: &str) -> Result<()> {
    if keys.keys.is_empty() && keys.ring.identity_count() > 0 {
        bail!(
            "sasf {what} seals its output with a symmetric key: give --key-file KEYFILE \
             (an age identity, -i, opens a file but cannot seal one)"
        );
    }
    Ok(())
}

/// Parses the public recipients of `-r` and `-R`.
pub fn load_recipients(args: &crate::cli::RecipientArgs) -> Result<Vec<PublicRecipient>> {
    let mut v = Vec::new();
    for r in &args.recipient {
        v.push(PublicRecipient::parse(r).with_context(|| format!("recipient {r:?}"))?);
    }
    for p in &args.recipients_file {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read recipients file {}", p.display()))?;
        v.extend(
            PublicRecipient::parse_file(&text)
                .with_context(|| format!("recipients file {}", p.display()))?,
        );
    }
    Ok(v)
}

/// A progress bar on stderr, shown only when stderr is a terminal.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for `total` bytes (a spinner when unknown), labelled `what`.
    pub fn new(total: Option<u64>, what: &str, quiet: bool) -> Progress {
        if quiet || !io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{msg} {spinner} {bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(what.to_string());
        Progress(Some(bar))
    }
    /// Sets the position.
    pub fn set(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.set_position(n);
        }
    }
    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// Refuses to run an input through when it is needed twice and is stdin.
pub fn not_stdin_twice(paths: &[PathBuf]) -> Result<()> {
    if paths.iter().filter(|p| is_dash(p)).count() > 1 {
        bail!("stdin (-) can be given only once");
    }
    Ok(())
}

/// Milliseconds since the Unix epoch as a UTC time, `2026-11-23T10:14:50.123Z`; 0 is
/// "not stated".
pub fn utc_ms(ms: u64) -> String {
    if ms == 0 {
        return "not stated".into();
    }
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 to a proleptic Gregorian date (eras of 400 years).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_times() {
        assert_eq!(super::utc_ms(1), "1970-01-01T00:00:00.001Z");
        assert_eq!(super::utc_ms(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(super::utc_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
