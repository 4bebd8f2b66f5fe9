//! Outputs that never destroy data.
//!
//! - [`check`] runs before any work: it refuses an output that is an input (by device
//!   and inode, so also through a hard link or symlink, even with `--force`), an
//!   existing file without `--force`, a name whose extension says another format, and
//!   binary data to a terminal.
//! - [`FileOut`] writes a file where nobody sees it until [`FileOut::commit`]: on Linux
//!   an unnamed `O_TMPFILE` inode linked into place when complete (nothing to clean up,
//!   even after SIGKILL); elsewhere, or where the filesystem lacks `O_TMPFILE`, a
//!   hidden `.NAME.XXXXXX.part` file that is removed on drop and on SIGINT/SIGTERM
//!   ([`install_signal_cleanup`]). Decrypted outputs are created mode 0600.
//! - The commit never replaces a file that appeared meanwhile, unless `--force`.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use sasf_core::wav::WavWriter;
use sasf_core::AudioFormat;
use tempfile::NamedTempFile;

use crate::io::{fsync_enabled, is_dash, shown};

/// Buffer size for output files and stdout.
const BUF: usize = 256 * 1024;

/// What an output holds, which decides the names it may have and whether it may go to
/// a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A SASF file (binary).
    Sasf,
    /// A WAV file (binary).
    Wav,
    /// A FLAC file (binary).
    Flac,
    /// Metadata JSON (text).
    Json,
    /// A timeline sidecar (text): Audacity labels, WebVTT or FFMETADATA.
    Labels,
}

impl Kind {
    fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Sasf => &["sasf"],
            Kind::Wav => &["wav", "wave"],
            Kind::Flac => &["flac"],
            Kind::Json => &["json"],
            Kind::Labels => &["txt", "vtt", "ffmeta", "ffmetadata"],
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Sasf => "SASF",
            Kind::Wav => "WAV",
            Kind::Flac => "FLAC",
            Kind::Json => "JSON",
            Kind::Labels => "label",
        }
    }
    fn binary(self) -> bool {
        !matches!(self, Kind::Json | Kind::Labels)
    }
}

/// How an output file is created.
#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    /// Replace an existing file (`-f/--force`).
    pub force: bool,
    /// Mode 0600: the output holds what the source kept encrypted.
    pub private: bool,
    /// Write under the visible partial name `<path>.part` and rename it when complete;
    /// kept after a failure or a crash, for `sasf recover` (a live recording).
    pub partial: bool,
}

/// The partial name of `path`: `<path>.part`.
pub fn partial_name(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// A file's identity (device, inode).
#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// The metadata of an input (`-`: whatever stdin is), following symlinks.
fn input_metadata(p: &Path) -> Option<std::fs::Metadata> {
    if is_dash(p) {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
            return File::from(fd).metadata().ok();
        }
        #[cfg(not(unix))]
        return None;
    }
    std::fs::metadata(p).ok()
}

/// Whether `out` (existing, metadata `m`) is the same file as the input `input`.
fn same_file(m: &std::fs::Metadata, out: &Path, input: &Path) -> bool {
    #[cfg(unix)]
    {
        let _ = out;
        input_metadata(input).is_some_and(|i| identity(&i) == identity(m))
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        matches!((std::fs::canonicalize(out), std::fs::canonicalize(input)),
            (Ok(a), Ok(b)) if a == b)
    }
}

/// Checks `path` as an output of `kind` before any work is done (see the module doc).
pub fn check(path: &Path, kind: Kind, inputs: &[&Path], force: bool) -> Result<()> {
    if is_dash(path) {
        let stdout = io::stdout();
        if kind.binary() && stdout.is_terminal() {
            bail!(
                "refusing to write {} data to a terminal; redirect stdout (> FILE or | ...) or give -o FILE",
                kind.name()
            );
        }
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let m = stdout
                .as_fd()
                .try_clone_to_owned()
                .ok()
                .and_then(|fd| File::from(fd).metadata().ok());
            if let Some(m) = m.filter(|m| m.is_file()) {
                for input in inputs {
                    if same_file(&m, path, input) {
                        bail!(
                            "stdout is the same file as the input {}; write to another file",
                            shown(input)
                        );
                    }
                }
            }
        }
        return Ok(());
    }
    let existing = std::fs::metadata(path).ok();
    if let Some(m) = &existing {
        for input in inputs {
            if same_file(m, path, input) {
                bail!(
                    "{}: is the same file as the input {} (refused even with --force); write to another file",
                    path.display(),
                    shown(input)
                );
            }
        }
        if m.is_dir() {
            bail!("{}: is a directory; give a file name", path.display());
        }
        if !m.is_file() {
            // A device or a pipe (/dev/null, a FIFO): written in place, nothing to lose.
            return Ok(());
        }
    }
    check_extension(path, kind)?;
    let exists = existing.is_some() || std::fs::symlink_metadata(path).is_ok();
    if exists && !force {
        bail!(
            "{}: already exists; give -f/--force to replace it",
            path.display()
        );
    }
    Ok(())
}

/// Refuses a file name whose extension names another kind of data (no extension is
/// fine), with a hint.
pub fn check_extension(path: &Path, kind: Kind) -> Result<()> {
    if is_dash(path) {
        return Ok(());
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if let Some(ext) = ext {
        if !kind.extensions().contains(&ext.as_str()) {
            let hint = match kind {
                Kind::Wav | Kind::Flac => format!(
                    "; sasf writes WAV and FLAC only: pipe it to a converter, e.g. `sasf convert … -o - | ffmpeg -i - OUT.{ext}`, or convert a .wav with `sox OUT.wav OUT.{ext}`"
                ),
                Kind::Labels => {
                    "; name it .txt (Audacity labels), .vtt (WebVTT) or .ffmeta (ffmpeg chapters)"
                        .to_string()
                }
                _ => format!("; name it .{}", kind.extensions()[0]),
            };
            bail!(
                "{}: a .{ext} name for {} data{hint}",
                path.display(),
                kind.name()
            );
        }
    }
    Ok(())
}

/// Refuses two outputs of one command that would land in the same file.
pub fn check_distinct(a: &Path, b: &Path) -> Result<()> {
    if is_dash(a) || is_dash(b) {
        if is_dash(a) && is_dash(b) {
            bail!("both outputs are stdout (-); give at least one a file name");
        }
        return Ok(());
    }
    // By name (neither may exist yet), then by identity (links).
    let norm = |p: &Path| {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::canonicalize(dir)
            .ok()
            .zip(p.file_name())
            .map(|(d, n)| d.join(n))
    };
    let same_name = matches!((norm(a), norm(b)), (Some(x), Some(y)) if x == y) || a == b;
    #[cfg(unix)]
    let same_inode = matches!((std::fs::metadata(a), std::fs::metadata(b)),
        (Ok(x), Ok(y)) if identity(&x) == identity(&y));
    #[cfg(not(unix))]
    let same_inode = false;
    if same_name || same_inode {
        bail!(
            "{} and {} are the same file; give each output its own name",
            a.display(),
            b.display()
        );
    }
    Ok(())
}

/// Hidden temporary files that exist right now, removed by the signal thread.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Keeps a temporary path in [`LIVE`] while it exists.
struct Live(PathBuf);

fn live_paths() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

impl Live {
    /// Registers `p`, in `guard` when the caller already holds the registry.
    fn new(p: PathBuf, guard: Option<&mut Vec<PathBuf>>) -> Live {
        match guard {
            Some(v) => v.push(p.clone()),
            None => live_paths().push(p.clone()),
        }
        Live(p)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        live_paths().retain(|p| p != &self.0);
    }
}

/// On SIGINT and SIGTERM, removes the hidden temporary files and then dies of the
/// signal as it would have. Without this the fallback `.part` files (which may hold
/// decrypted audio) would stay behind. SIGKILL cannot be caught: see the README.
pub fn install_signal_cleanup() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    // Held until the process ends, so no new temporary file appears.
                    let live = live_paths();
                    for p in live.iter() {
                        let _ = std::fs::remove_file(p);
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                    std::process::exit(128 + sig);
                }
            });
    }
}

/// Where a [`FileOut`] is written before its commit.
enum Tmp {
    /// An `O_TMPFILE` inode: no name at all until it is linked into place.
    #[cfg(target_os = "linux")]
    Unnamed(File),
    /// A hidden `.NAME.XXXXXX.part` file.
    Named(NamedTempFile, Live),
    /// The visible `NAME.part` of a live recording (kept if sasf stops early).
    Partial(File, PathBuf),
}

impl Write for Tmp {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            #[cfg(target_os = "linux")]
            Tmp::Unnamed(f) => f.write(b),
            Tmp::Named(f, _) => f.write(b),
            Tmp::Partial(f, _) => f.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            #[cfg(target_os = "linux")]
            Tmp::Unnamed(f) => f.flush(),
            Tmp::Named(f, _) => f.flush(),
            Tmp::Partial(f, _) => f.flush(),
        }
    }
}

impl Seek for Tmp {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        match self {
            #[cfg(target_os = "linux")]
            Tmp::Unnamed(f) => f.seek(pos),
            Tmp::Named(f, _) => f.seek(pos),
            Tmp::Partial(f, _) => f.seek(pos),
        }
    }
}

impl Tmp {
    fn file(&self) -> &File {
        match self {
            #[cfg(target_os = "linux")]
            Tmp::Unnamed(f) => f,
            Tmp::Named(f, _) => f.as_file(),
            Tmp::Partial(f, _) => f,
        }
    }
}

/// The directory a file named `path` is in.
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// `/proc/self/fd/N` for an open file: its name for `linkat` and for reopening.
#[cfg(target_os = "linux")]
fn proc_path(f: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

/// An unnamed file in `dir`, when the system and filesystem can make one.
#[cfg(target_os = "linux")]
fn unnamed_in(dir: &Path, private: bool) -> Option<File> {
    use rustix::fs::{Mode, OFlags, CWD};
    // SASF_NO_O_TMPFILE=1 forces the fallback (tests use it to check the fallback).
    if std::env::var_os("SASF_NO_O_TMPFILE").is_some_and(|v| v != "0")
        || !Path::new("/proc/self/fd").is_dir()
    {
        return None;
    }
    let mode = Mode::from_raw_mode(if private { 0o600 } else { 0o666 });
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    rustix::fs::openat(CWD, dir, flags, mode)
        .ok()
        .map(File::from)
}

/// A fresh hidden name in `dir` for `name`, for a commit that replaces a file.
#[cfg(target_os = "linux")]
fn hidden_name(dir: &Path, name: &str) -> PathBuf {
    let mut r = [0u8; 6];
    let _ = getrandom::getrandom(&mut r);
    let tag: String = r.iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!(".{name}.{tag}.part"))
}

/// An output file written where nobody sees it and put into place by
/// [`FileOut::commit`]; dropped without commit, it leaves nothing behind.
pub struct FileOut {
    w: BufWriter<Tmp>,
    path: PathBuf,
    force: bool,
}

impl FileOut {
    /// Starts the output file for `path`.
    pub fn create(path: &Path, opts: Opts) -> Result<FileOut> {
        let dir = dir_of(path);
        if opts.partial {
            let part = partial_name(path);
            let mut o = std::fs::OpenOptions::new();
            o.write(true).read(true);
            if opts.force {
                o.create(true).truncate(true);
            } else {
                o.create_new(true);
            }
            let f = o.open(&part).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    anyhow::anyhow!(
                        "{} exists: a recording that did not finish? `sasf recover` salvages it; give -f/--force to replace it",
                        part.display()
                    )
                } else {
                    anyhow::anyhow!("cannot create {}: {e}", part.display())
                }
            })?;
            return Ok(FileOut {
                w: BufWriter::with_capacity(BUF, Tmp::Partial(f, part)),
                path: path.to_path_buf(),
                force: opts.force,
            });
        }
        #[cfg(target_os = "linux")]
        if let Some(f) = unnamed_in(dir, opts.private) {
            return Ok(FileOut {
                w: BufWriter::with_capacity(BUF, Tmp::Unnamed(f)),
                path: path.to_path_buf(),
                force: opts.force,
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut b = tempfile::Builder::new();
        b.prefix(&prefix).suffix(".part");
        #[cfg(unix)]
        {
            // 0666 less the umask, as any new file; 0600 for decrypted content.
            use std::os::unix::fs::PermissionsExt;
            let mode = if opts.private { 0o600 } else { 0o666 };
            b.permissions(std::fs::Permissions::from_mode(mode));
        }
        // The registry is held from before the file exists until it is registered, so
        // the signal thread either runs first (and no file is made) or finds it.
        let mut guard = live_paths();
        let tmp = b
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        let live = Live::new(tmp.path().to_path_buf(), Some(&mut guard));
        drop(guard);
        Ok(FileOut {
            w: BufWriter::with_capacity(BUF, Tmp::Named(tmp, live)),
            path: path.to_path_buf(),
            force: opts.force,
        })
    }

    /// Opens what has been written so far for reading (to verify it before the
    /// commit), with a file position of its own.
    pub fn reopen(&mut self) -> Result<File> {
        self.w.flush()?;
        let f = match self.w.get_ref() {
            #[cfg(target_os = "linux")]
            Tmp::Unnamed(f) => File::open(proc_path(f)),
            Tmp::Named(f, _) => File::open(f.path()),
            Tmp::Partial(_, p) => File::open(p),
        };
        f.with_context(|| format!("cannot read back {}", self.path.display()))
    }

    /// Flushes what has been written and gives a path that opens this very file for
    /// reading and writing before its commit (to sign it in place).
    pub fn edit_path(&mut self) -> Result<PathBuf> {
        self.w.flush()?;
        Ok(match self.w.get_ref() {
            #[cfg(target_os = "linux")]
            Tmp::Unnamed(f) => proc_path(f),
            Tmp::Named(f, _) => f.path().to_path_buf(),
            Tmp::Partial(_, p) => p.clone(),
        })
    }

    /// Flushes (and with `--fsync` syncs) the file and puts it into place.
    pub fn commit(self) -> Result<()> {
        let FileOut { w, path, force } = self;
        let tmp = w.into_inner().map_err(|e| e.into_error())?;
        let failed = || format!("cannot write {}", path.display());
        if fsync_enabled() {
            tmp.file().sync_all().with_context(failed)?;
        }
        let exists = || {
            anyhow::anyhow!(
                "{}: appeared while sasf was writing it; not replaced (give -f/--force to replace it)",
                path.display()
            )
        };
        match tmp {
            #[cfg(target_os = "linux")]
            Tmp::Unnamed(f) => {
                use rustix::fs::{linkat, AtFlags, CWD};
                let from = proc_path(&f);
                match linkat(CWD, &from, CWD, &path, AtFlags::SYMLINK_FOLLOW) {
                    Ok(()) => Ok(()),
                    Err(rustix::io::Errno::EXIST) if force => {
                        // linkat never replaces: link under a hidden name, then rename
                        // over the old file (atomic).
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let dir = dir_of(&path);
                        let mut tries = 0;
                        let hidden = loop {
                            let h = hidden_name(dir, &name);
                            let live = Live::new(h.clone(), None);
                            match linkat(CWD, &from, CWD, &h, AtFlags::SYMLINK_FOLLOW) {
                                Ok(()) => break (h, live),
                                Err(rustix::io::Errno::EXIST) if tries < 10 => tries += 1,
                                Err(e) => return Err(io::Error::from(e)).with_context(failed),
                            }
                        };
                        let renamed = std::fs::rename(&hidden.0, &path);
                        if renamed.is_err() {
                            let _ = std::fs::remove_file(&hidden.0);
                        }
                        renamed.with_context(failed)
                    }
                    Err(rustix::io::Errno::EXIST) => Err(exists()),
                    Err(e) => Err(io::Error::from(e)).with_context(failed),
                }
            }
            Tmp::Partial(_, part) => {
                if !force && std::fs::symlink_metadata(&path).is_ok() {
                    return Err(exists());
                }
                std::fs::rename(&part, &path).with_context(failed)
            }
            Tmp::Named(t, live) => {
                let r = if force {
                    t.persist(&path)
                } else {
                    t.persist_noclobber(&path)
                };
                drop(live);
                match r {
                    Ok(_) => Ok(()),
                    Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Err(exists()),
                    Err(e) => Err(e.error).with_context(failed),
                }
            }
        }
    }
}

impl Write for FileOut {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.w.write(b)
    }
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl Seek for FileOut {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.w.seek(pos)
    }
}

/// An output: a regular file committed on success, or a stream (stdout, or an
/// existing device or pipe such as /dev/null, written in place).
pub enum Output {
    /// A regular file.
    File(FileOut),
    /// Standard output, or a device or pipe.
    Stdout(BufWriter<Box<dyn Write + Send>>),
}

impl Output {
    /// Creates the output for `path` (`-` is stdout). Call [`check`] first.
    pub fn create(path: &Path, opts: Opts) -> Result<Output> {
        if is_dash(path) {
            return Ok(Output::Stdout(BufWriter::with_capacity(
                BUF,
                Box::new(io::stdout()),
            )));
        }
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() && !m.is_dir() => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                Ok(Output::Stdout(BufWriter::with_capacity(BUF, Box::new(f))))
            }
            _ => Ok(Output::File(FileOut::create(path, opts)?)),
        }
    }

    /// Completes the output: puts a file into place, flushes stdout.
    pub fn commit(self) -> Result<()> {
        match self {
            Output::File(f) => f.commit(),
            Output::Stdout(mut s) => Ok(s.flush()?),
        }
    }
}

impl Write for Output {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(f) => f.write(b),
            Output::Stdout(s) => s.write(b),
        }
    }
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Output::File(f) => f.write_all(b),
            Output::Stdout(s) => s.write_all(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(f) => f.flush(),
            Output::Stdout(s) => s.flush(),
        }
    }
}

/// A WAV being written: to a file (sizes patched, RF64 when large) or to stdout
/// (streamed, sizes 0xFFFFFFFF).
pub enum WavOut {
    /// To a file.
    File(WavWriter<FileOut>),
    /// To stdout, a device or a pipe.
    Stdout(WavWriter<BufWriter<Box<dyn Write + Send>>>),
}

impl WavOut {
    /// Starts a WAV of `format` at `path` (`-` is stdout), with `leading` chunks
    /// (bext, INFO) before the data. Call [`check`] first.
    pub fn create_with(
        path: &Path,
        format: AudioFormat,
        opts: Opts,
        leading: Vec<u8>,
    ) -> Result<WavOut> {
        Ok(match Output::create(path, opts)? {
            Output::File(f) => WavOut::File(WavWriter::new_seekable_with(f, format, leading)?),
            Output::Stdout(s) => WavOut::Stdout(WavWriter::new_streaming_with(s, format, leading)?),
        })
    }
    /// Appends sample bytes.
    pub fn write(&mut self, b: &[u8]) -> sasf_core::Result<()> {
        match self {
            WavOut::File(w) => w.write_data(b),
            // A stream follows its input: each chunk's audio goes out as it comes.
            WavOut::Stdout(w) => {
                w.write_data(b)?;
                w.flush()
            }
        }
    }
    /// Finishes the WAV and commits the file, with `trailing` chunks (cue points)
    /// after the data of a file; a stream cannot have any (its reader takes all that follows as
    /// samples), so they are left out there.
    pub fn commit_with(self, trailing: &[u8]) -> Result<()> {
        match self {
            WavOut::File(w) => w.finish_seekable_with(trailing)?.commit(),
            WavOut::Stdout(w) => Ok(w.finish()?.flush()?),
        }
    }
}
