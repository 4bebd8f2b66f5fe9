//! Files, pipes, keys and progress: what the commands share.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sasf_core::Key;
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

/// Applies `--require` and `--expect-id`/`--expect-tenant` to a decoder.
pub fn policy<R: Read>(d: sasf_core::Decoder<R>, args: &KeyArgs) -> Result<sasf_core::Decoder<R>> {
    let mut d = d;
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

/// Loads the key named by `--key-file` or `SASF_KEY_FILE`, if any.
pub fn load_key(args: &KeyArgs) -> Result<Option<Key>> {
    let Some(path) = &args.key_file else {
        return Ok(None);
    };
    let mut f =
        File::open(path).with_context(|| format!("cannot open key file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = f.metadata() {
            if m.permissions().mode() & 0o077 != 0 {
                note(format_args!(
                    "sasf: warning: key file {} is readable by other users (chmod 600 it)",
                    path.display()
                ));
            }
        }
    }
    // Room for the whole (at most 64 KiB) file at once: a growing buffer would leave
    // freed copies of the key text behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(64 * 1024 + 1));
    Read::by_ref(&mut f)
        .take(64 * 1024)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let key = Key::from_key_file(&bytes).with_context(|| format!("key file {}", path.display()))?;
    Ok(Some(key))
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
