//! Files, pipes, keys and progress: what the commands share.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sasf_core::wav::WavWriter;
use sasf_core::{AudioFormat, Key};
use tempfile::NamedTempFile;
use zeroize::Zeroizing;

use crate::cli::KeyArgs;

/// Buffer size for files and pipes.
const BUF: usize = 256 * 1024;

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

/// Opens an input file, or stdin for `-`.
pub fn open_input(p: &Path) -> Result<Box<dyn Read>> {
    if is_dash(p) {
        return Ok(Box::new(BufReader::with_capacity(BUF, io::stdin())));
    }
    let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
    Ok(Box::new(BufReader::with_capacity(BUF, f)))
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
                eprintln!(
                    "sasf: warning: key file {} is readable by other users (chmod 600 it)",
                    path.display()
                );
            }
        }
    }
    let mut bytes = Zeroizing::new(Vec::new());
    Read::by_ref(&mut f)
        .take(64 * 1024)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let key = Key::from_key_file(&bytes).with_context(|| format!("key file {}", path.display()))?;
    Ok(Some(key))
}

/// An output file written under a temporary name in the same directory and renamed
/// into place by [`FileOut::commit`]; dropped without commit, it is removed.
pub struct FileOut {
    tmp: BufWriter<NamedTempFile>,
    path: PathBuf,
}

impl FileOut {
    /// Creates the temporary file for `path`.
    pub fn create(path: &Path) -> Result<FileOut> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut b = tempfile::Builder::new();
        b.prefix(&prefix).suffix(".part");
        #[cfg(unix)]
        {
            // Outputs get the usual 0666-less-umask mode, not the 0600 of temporary files.
            use std::os::unix::fs::PermissionsExt;
            b.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = b
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))?;
        Ok(FileOut {
            tmp: BufWriter::with_capacity(BUF, tmp),
            path: path.to_path_buf(),
        })
    }

    /// The temporary file's path (to read it back before committing).
    pub fn temp_path(&mut self) -> Result<PathBuf> {
        self.tmp.flush()?;
        Ok(self.tmp.get_ref().path().to_path_buf())
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let tmp = self.tmp.into_inner().map_err(|e| e.into_error())?;
        if FSYNC.load(std::sync::atomic::Ordering::Relaxed) {
            tmp.as_file()
                .sync_all()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(())
    }
}

impl Write for FileOut {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.tmp.write(b)
    }
    fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        self.tmp.write_all(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

impl Seek for FileOut {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.tmp.seek(pos)
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
    /// Creates the output for `path` (`-` is stdout).
    pub fn create(path: &Path) -> Result<Output> {
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
            _ => Ok(Output::File(FileOut::create(path)?)),
        }
    }

    /// Completes the output: renames a file into place, flushes stdout.
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
    /// Starts a WAV of `format` at `path` (`-` is stdout).
    pub fn create(path: &Path, format: AudioFormat) -> Result<WavOut> {
        Ok(match Output::create(path)? {
            Output::File(f) => WavOut::File(WavWriter::new_seekable(f, format)?),
            Output::Stdout(s) => WavOut::Stdout(WavWriter::new_streaming(s, format)?),
        })
    }
    /// Appends sample bytes.
    pub fn write(&mut self, b: &[u8]) -> sasf_core::Result<()> {
        match self {
            WavOut::File(w) => w.write_data(b),
            WavOut::Stdout(w) => w.write_data(b),
        }
    }
    /// Finishes the WAV and commits the file.
    pub fn commit(self) -> Result<()> {
        match self {
            WavOut::File(w) => w.finish_seekable()?.commit(),
            WavOut::Stdout(w) => Ok(w.finish()?.flush()?),
        }
    }
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
