//! `sasf serve ARCHIVE`: search, play back and annotate an archive's recordings in a
//! web browser.
//!
//! The server is axum on a tokio runtime. Everything it sends is in the binary
//! (`assets/`): nothing is fetched from elsewhere, so it works offline. The catalog
//! (`sasf index`, run at start) answers searches; a recording is opened by random
//! access through its authenticated index, and its audio is streamed to the browser as
//! a 16-bit WAV, byte ranges mapped to frames, so that seeking into a long call reads
//! only the chunks it needs (each authenticated before a byte of it is sent).
//!
//! - `recording.rs`: opening a recording (random access, or what a damaged one
//!   authenticated), its JSON for the page, the annotation history;
//! - `media.rs`: the WAV stream with HTTP range requests, the waveform peaks and the
//!   voice-activity lanes (computed once per file version, kept in memory);
//! - `auth.rs`: users.toml, Argon2id passwords, sessions, CSRF tokens, roles;
//! - `audit.rs`: the append-only, hash-chained audit log and `--verify-audit`;
//! - `pages.rs`: the HTML pages and the routes.

mod audit;
mod auth;
mod media;
mod pages;
mod recording;
pub mod wire;

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use sasf_core::meta::annotation::Form;
use sasf_core::SigningKey;

use crate::catalog::CatalogKeys;
use crate::cli::{KeyArgs, ServeArgs};
use crate::io::{load_keys, read_signing_key, Keys};

/// Everything a request handler shares.
pub struct App {
    /// The archive's top folder, canonical.
    pub archive: PathBuf,
    /// The key options, as `sasf index` takes them.
    pub key_args: KeyArgs,
    /// The keys and identities.
    pub keys: Keys,
    /// The catalog's keys (from the archive key), if one was given.
    pub ck: Option<CatalogKeys>,
    /// Who may log in; `None`: no login, the local user is a supervisor.
    pub users: Option<auth::Users>,
    /// The local user's name (no `--users`).
    pub local_name: String,
    /// Live sessions.
    pub sessions: auth::Sessions,
    /// The audit log.
    pub audit: audit::Audit,
    /// The questionnaire forms offered, as given.
    pub forms: Vec<Form>,
    /// Signs annotation segments when given.
    pub signer: Option<SigningKey>,
    /// Opened recordings and computed peaks.
    pub media: media::Media,
    /// The Host header values accepted (against DNS rebinding).
    pub hosts: Vec<String>,
    /// The `Origin` values of this server's own pages.
    pub origins: Vec<String>,
    /// The archive's folder, open: recordings are opened beneath it.
    pub dir: std::os::fd::OwnedFd,
    /// Password checks running at once (Argon2 takes 19 MiB and a core each).
    pub logins: Arc<tokio::sync::Semaphore>,
    /// Held while the server indexes a file again.
    pub reindex: std::sync::Mutex<()>,
    /// The catalog, opened once (checked as `sasf search` checks it).
    pub db: std::sync::Mutex<rusqlite::Connection>,
}

impl App {
    /// Checks a recording path taken from a request: relative, no `..`, no hidden
    /// component, no control character, ending in `.sasf`, at most 4096 bytes; returns it as a path under
    /// the archive. Whether the catalog knows it is checked by the caller.
    pub fn checked_rel(&self, rel: &str) -> std::result::Result<PathBuf, &'static str> {
        if rel.is_empty()
            || rel.len() > 4096
            || rel.contains('\\')
            || rel.contains(char::is_control)
        {
            return Err("not a recording path");
        }
        let p = Path::new(rel);
        if !rel.ends_with(".sasf") {
            return Err("not a .sasf path");
        }
        for c in p.components() {
            match c {
                Component::Normal(s) if !s.to_string_lossy().starts_with('.') => {}
                _ => return Err("a path outside the archive"),
            }
        }
        Ok(p.to_path_buf())
    }
}

/// The user's name without `--users`: `--by`, else `$USER`, else `local`.
fn local_name(a: &ServeArgs) -> String {
    a.by.clone()
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "local".into())
}

/// The Host header values that name this server, and the origins of its pages: the
/// public URL's alone when one is given (a proxy in front), else the address listened
/// on (and on loopback its other names). A browser leaves `:80` out of Host.
fn names(addr: &SocketAddr, public: Option<&PublicUrl>) -> (Vec<String>, Vec<String>) {
    if let Some(p) = public {
        return (vec![p.host.clone()], vec![p.origin.clone()]);
    }
    let port = addr.port();
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        for h in ["localhost", "127.0.0.1", "[::1]"] {
            hosts.push(format!("{h}:{port}"));
        }
    }
    if port == 80 {
        let bare: Vec<String> = hosts
            .iter()
            .filter_map(|h| h.strip_suffix(":80").map(String::from))
            .collect();
        hosts.extend(bare);
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
    (hosts, origins)
}

/// `--public-url`: where people reach the server.
#[derive(Debug, PartialEq)]
struct PublicUrl {
    /// `host` or `host:port`, as a browser sends it in Host.
    host: String,
    /// `https://host[:port]`, as a browser sends it in Origin.
    origin: String,
}

fn public_url(u: &str) -> Result<PublicUrl> {
    let bad = || anyhow!("--public-url {u:?}: give https://HOST[:PORT] (no path)");
    let (scheme, rest) = u.split_once("://").ok_or_else(bad)?;
    if scheme != "https" {
        // Passwords and session cookies (Secure) need TLS between browser and proxy.
        return Err(bad());
    }
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let ok = |c: char| c.is_ascii_alphanumeric() || "-.:[]".contains(c);
    if host.is_empty() || !host.chars().all(ok) {
        return Err(bad());
    }
    let host = host
        .strip_suffix(":443")
        .unwrap_or(host)
        .to_ascii_lowercase();
    Ok(PublicUrl {
        origin: format!("{scheme}://{host}"),
        host,
    })
}

pub fn run(archive: Option<&Path>, a: &ServeArgs) -> Result<ExitCode> {
    if a.hash_password {
        return auth::hash_password_from_stdin();
    }
    let archive = archive.ok_or_else(|| anyhow!("give the archive's folder"))?;
    if !archive.is_dir() {
        bail!("{} is not a folder", archive.display());
    }
    let archive = archive
        .canonicalize()
        .with_context(|| format!("cannot open {}", archive.display()))?;
    let keys = load_keys(&a.key)?;
    let secret = crate::commands::index::archive_secret(&a.key, &keys)?;
    let ck = secret.as_deref().map(|s| CatalogKeys::derive(s));
    let audit_key = secret.as_deref().map(|s| audit::derive_key(s));
    if a.verify_audit {
        return audit::verify_file(&archive, audit_key.as_ref(), a.expect_head.as_deref());
    }
    let users = a.users.as_deref().map(auth::Users::load).transpose()?;
    let mut forms = Vec::new();
    for p in &a.form {
        let text = std::fs::read(p).with_context(|| format!("cannot read form {}", p.display()))?;
        forms.push(Form::from_json(&text).with_context(|| format!("form {}", p.display()))?);
    }
    let signer = a
        .signing_key
        .as_ref()
        .map(|p| read_signing_key(p, a.key.allow_loose_permissions))
        .transpose()?;
    let addr: SocketAddr = a.listen.parse().map_err(|_| {
        anyhow!(
            "--listen {:?}: give ADDR:PORT, e.g. 127.0.0.1:8080",
            a.listen
        )
    })?;
    if !addr.ip().is_loopback() && users.is_none() {
        bail!(
            "--listen {addr} is not a loopback address: give --users, so that people log in \
             (without it whoever reaches the server is a supervisor)"
        );
    }
    let public = a.public_url.as_deref().map(public_url).transpose()?;
    if !addr.ip().is_loopback() && public.is_none() {
        bail!(
            "--listen {addr} is not a loopback address: put a TLS-terminating proxy in front \
             and give its address as --public-url https://HOST (passwords and session \
             cookies must not cross a network in clear)"
        );
    }
    let dir = rustix::fs::open(
        &archive,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", archive.display()))?;
    // The audit log is checked before anything is appended to it.
    let audit = audit::Audit::open(&archive, audit_key)?;
    // The catalog, brought up to date (verifying new and changed files).
    let code = crate::commands::index::run(&archive, &a.key, true)?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let db = crate::catalog::open_for_search(&archive, ck.as_ref())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        let app = Arc::new(App {
            archive,
            key_args: a.key.clone(),
            keys,
            ck,
            users,
            local_name: local_name(a),
            sessions: auth::Sessions::default(),
            audit,
            forms,
            signer,
            media: media::Media::default(),
            hosts: names(&bound, public.as_ref()).0,
            origins: names(&bound, public.as_ref()).1,
            dir,
            logins: Arc::new(tokio::sync::Semaphore::new(crate::io::threads().max(1))),
            db: std::sync::Mutex::new(db),
            reindex: std::sync::Mutex::new(()),
        });
        match &public {
            Some(p) => println!(
                "sasf serve: listening on {bound}, reached as {}/ (Ctrl-C stops it)",
                p.origin
            ),
            None => println!("sasf serve: listening on http://{bound}/ (Ctrl-C stops it)"),
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let router = pages::router(app);
        // SIGINT and SIGTERM end the process (the CLI's signal thread): every audit
        // entry is on disk when its request is answered, so nothing is lost.
        axum::serve(listener, router)
            .await
            .context("the server stopped")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_a_server_answers_to() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let (h, o) = names(&lo, None);
        assert_eq!(h, ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"]);
        assert!(o.contains(&"http://localhost:8080".to_string()));
        let (h80, _) = names(&"127.0.0.1:80".parse().unwrap(), None);
        assert!(h80.contains(&"localhost".to_string()) && h80.contains(&"127.0.0.1".to_string()));
        let p = public_url("https://Rec.Example.com:443/").unwrap();
        assert_eq!(
            p,
            PublicUrl {
                host: "rec.example.com".into(),
                origin: "https://rec.example.com".into()
            }
        );
        let (h, o) = names(&"0.0.0.0:8080".parse().unwrap(), Some(&p));
        assert_eq!((h, o), (vec![p.host.clone()], vec![p.origin.clone()]));
        assert_eq!(
            public_url("https://r.example:8443").unwrap().origin,
            "https://r.example:8443"
        );
        for bad in [
            "rec.example.com",
            "ftp://x",
            "http://rec.example.com",
            "https://x/path",
            "https://",
            "https://a b",
        ] {
            assert!(public_url(bad).is_err(), "{bad}");
        }
    }
}
