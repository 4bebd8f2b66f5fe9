//! A `sasf serve` started for a test, and a small HTTP/1.1 client that speaks to it
//! over a plain TCP socket (one request per connection), so that the tests see the
//! bytes a browser would.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The archive a test serves: the sample (encrypted; Ann Agent and Carl Customer),
/// another agent's call, a damaged file, with a users file of four people.
pub struct Archive {
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
    pub users: PathBuf,
    pub form: PathBuf,
}

/// The users of [`Archive::users`]: name, role, password.
pub const USERS: [(&str, &str, &str); 5] = [
    ("sam", "supervisor", "sam-password-1"),
    ("ann", "agent", "ann-password-2"),
    ("bob", "agent", "bob-password-3"),
    ("aud", "auditor", "aud-password-4"),
    // An agent whose name is the customer's in every call here: none is hers.
    ("gin", "agent", "gin-password-5"),
];

pub fn sasf_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sasf"))
}

fn run(args: &[&std::ffi::OsStr]) -> String {
    let o = Command::new(sasf_bin())
        .args(args)
        .env_remove("SASF_KEY_FILE")
        .env_remove("SASF_IDENTITY_FILE")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sasf {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `sasf` with `args` and returns its stdout; panics on failure.
pub fn sasf_run(args: &[&std::ffi::OsStr]) -> String {
    run(args)
}

impl Archive {
    /// Builds the archive in a temporary folder.
    pub fn new() -> Archive {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("archive");
        std::fs::create_dir_all(root.join("2026/11")).unwrap();
        let key = dir.path().join("archive.key");
        run(&["keygen".as_ref(), "-o".as_ref(), key.as_os_str()]);
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let sample = root.join("2026/11/sample-call.sasf");
        run(&[
            "pack".as_ref(),
            manifest.join("testdata/sample-call.wav").as_os_str(),
            "--meta".as_ref(),
            manifest.join("testdata/sample-call.json").as_os_str(),
            "-o".as_ref(),
            sample.as_os_str(),
            "--key-file".as_ref(),
            key.as_os_str(),
            "--encrypt".as_ref(),
        ]);
        // Bob's call: the same audio, other people.
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(manifest.join("testdata/sample-call.json")).unwrap(),
        )
        .unwrap();
        let mut bob = meta.clone();
        bob["recording"]["id"] = "call-0002".into();
        bob["participants"][0]["name"] = "Bob Agent".into();
        bob["participants"][0]["address"] = "sip:bob@example.com".into();
        bob["participants"][1]["name"] = "Gina Customer".into();
        bob["participants"][1]["address"] = "+15550100199".into();
        let bob_meta = dir.path().join("bob.json");
        std::fs::write(&bob_meta, serde_json::to_vec_pretty(&bob).unwrap()).unwrap();
        run(&[
            "pack".as_ref(),
            manifest.join("testdata/sample-call.wav").as_os_str(),
            "--meta".as_ref(),
            bob_meta.as_os_str(),
            "-o".as_ref(),
            root.join("2026/11/bob-call.sasf").as_os_str(),
            "--key-file".as_ref(),
            key.as_os_str(),
            "--encrypt".as_ref(),
        ]);
        // Bob's call again, authenticated but not encrypted: its audio is in clear.
        run(&[
            "pack".as_ref(),
            manifest.join("testdata/sample-call.wav").as_os_str(),
            "--meta".as_ref(),
            bob_meta.as_os_str(),
            "-o".as_ref(),
            root.join("2026/11/bob-clear.sasf").as_os_str(),
            "--key-file".as_ref(),
            key.as_os_str(),
        ]);
        // A damaged copy of the sample: one byte of audio changed in the middle.
        let mut bytes = std::fs::read(&sample).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        std::fs::write(root.join("2026/11/damaged.sasf"), bytes).unwrap();
        let users = dir.path().join("users.toml");
        let mut text = String::new();
        for (name, role, pw) in USERS {
            let mut c = Command::new(sasf_bin())
                .args(["serve", "--hash-password"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{pw}\n").as_bytes())
                .unwrap();
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success());
            let hash = String::from_utf8(o.stdout).unwrap().trim().to_string();
            assert!(hash.starts_with("$argon2id$"), "{hash}");
            text.push_str(&format!(
                "[[user]]\nname = \"{name}\"\nrole = \"{role}\"\npassword = \"{hash}\"\n"
            ));
            match name {
                "ann" => text.push_str("participant = [\"sip:ann@example.com\"]\n"),
                "bob" => text.push_str("participant = [\"Bob Agent\"]\n"),
                "gin" => text.push_str("participant = [\"Gina Customer\", \"c1\"]\n"),
                _ => {}
            }
            text.push('\n');
        }
        std::fs::write(&users, text).unwrap();
        Archive {
            dir,
            key,
            users,
            form: manifest.join("testdata/qa/form.json"),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("archive")
    }

    /// Starts `sasf serve` on a free loopback port, with the users file or without.
    pub fn serve(&self, with_users: bool) -> Server {
        self.serve_with(with_users, &[])
    }

    /// As [`Archive::serve`], with more arguments.
    pub fn serve_with(&self, with_users: bool, more: &[&str]) -> Server {
        let mut cmd = Command::new(sasf_bin());
        cmd.arg("serve")
            .arg(self.root())
            .arg("--key-file")
            .arg(&self.key)
            .arg("--form")
            .arg(&self.form)
            .args(["--listen", "127.0.0.1:0", "--by", "local-qa"])
            .env_remove("SASF_KEY_FILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if with_users {
            cmd.arg("--users").arg(&self.users);
        }
        cmd.args(more);
        let mut s = Server::start(cmd);
        if !with_users {
            // As a browser does: the page sets the cookie the API asks for.
            let page = s.get("/", &[]);
            let c = page.cookie("sasf_local").expect("the page sets sasf_local");
            s.local_cookie = Some(format!("sasf_local={c}"));
        }
        s
    }
}

/// A running server, stopped on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    /// Without --users: the cookie the server's page set, sent with every request
    /// that names no Cookie of its own.
    pub local_cookie: Option<String>,
}

impl Server {
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let deadline = Instant::now() + Duration::from_secs(120);
        let port = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("sasf serve ended before it listened"))
                .unwrap();
            if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
                break rest
                    .trim_end_matches(|c: char| !c.is_ascii_digit())
                    .parse()
                    .unwrap();
            }
            assert!(Instant::now() < deadline, "sasf serve did not start");
        };
        // Keep reading its stdout so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            port,
            local_cookie: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One request; returns the status, the headers (lower-case names) and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: 127.0.0.1:{}\r\n", self.port));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(c) = &self.local_cookie {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("cookie"))
            {
                req.push_str(&format!("Cookie: {c}\r\n"));
            }
        }
        if !body.is_empty() {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        Response::parse(&raw)
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers, b"")
    }

    /// Logs in as `name`; returns the `Cookie` header value of the session.
    pub fn login(&self, name: &str, password: &str) -> String {
        let page = self.get("/login", &[]);
        assert_eq!(page.status, 200);
        let cookie = page.cookie("sasf_login").expect("a login cookie");
        let token = page
            .text()
            .split("name=csrf value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a CSRF field")
            .to_string();
        let form = format!("name={name}&password={password}&csrf={token}&next=/");
        let r = self.request(
            "POST",
            "/login",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &format!("sasf_login={cookie}")),
            ],
            form.as_bytes(),
        );
        assert_eq!(r.status, 303, "login as {name}: {}", r.text());
        format!(
            "sasf_session={}",
            r.cookie("sasf_session").expect("a session cookie")
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no response: {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut body = raw[end + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value a `Set-Cookie` header gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .find_map(|(_, v)| v.strip_prefix(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_string())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 4 + n..];
    }
    out
}

/// The audit log's entries.
pub fn audit(root: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(root.join(".sasf-audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
