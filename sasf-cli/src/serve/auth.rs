//! Who is asking: the users file, Argon2id passwords, sessions and CSRF tokens, and
//! what each role may do.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "sasf_session";
/// Without `--users`: the cookie this server's pages set, which API requests carry.
pub const LOCAL_COOKIE: &str = "sasf_local";
/// The cookie that carries the login form's CSRF token before there is a session.
pub const LOGIN_COOKIE: &str = "sasf_login";
/// A session ends after this long without a request.
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept; past it the oldest is dropped.
const MAX_SESSIONS: usize = 10_000;
/// Failed logins of one name in [`FAIL_WINDOW`] before it is refused for a while.
const MAX_FAILS: u32 = 5;
const FAIL_WINDOW: Duration = Duration::from_secs(300);
/// Most names whose failed logins are counted at once.
const MAX_TRACKED: usize = 10_000;
/// Longest name and password a login takes (longer ones fail without a hash).
const MAX_NAME: usize = 256;
const MAX_PASSWORD: usize = 1024;
/// Largest users file read.
const MAX_USERS_FILE: u64 = 1 << 20;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and plays only the recordings they took part in.
    Agent,
    /// Plays, downloads and annotates every recording.
    Supervisor,
    /// Verifies and reads history and downloads the files; plays no audio.
    Auditor,
}

impl Role {
    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
        }
    }
    /// Whether it may hear the audio (and see the waveform and speech lanes).
    pub fn can_play(self) -> bool {
        matches!(self, Role::Agent | Role::Supervisor)
    }
    /// Whether it may append annotations.
    pub fn can_annotate(self) -> bool {
        self == Role::Supervisor
    }
    /// Whether it may download the SASF file.
    pub fn can_download(self) -> bool {
        matches!(self, Role::Supervisor | Role::Auditor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    #[serde(default)]
    user: Vec<UserEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    role: Role,
    password: String,
    #[serde(default)]
    participant: Vec<String>,
}

/// One user of the users file.
#[derive(Debug, Clone)]
pub struct User {
    /// The login name, also the annotator's name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// For an agent: who they are in recordings (names or addresses).
    pub participants: Vec<String>,
    /// The Argon2 PHC string.
    hash: String,
}

/// The users file (`--users`).
#[derive(Debug)]
pub struct Users {
    by_name: HashMap<String, User>,
    fails: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Users {
    /// Reads and checks a users file.
    pub fn load(path: &Path) -> Result<Users> {
        let md = std::fs::metadata(path)
            .with_context(|| format!("cannot read the users file {}", path.display()))?;
        if md.len() > MAX_USERS_FILE {
            bail!(
                "the users file {} is {} bytes, over the limit of {MAX_USERS_FILE}",
                path.display(),
                md.len()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the users file {}", path.display()))?;
        Users::parse(&text).with_context(|| format!("users file {}", path.display()))
    }

    /// Parses the text of a users file.
    pub fn parse(text: &str) -> Result<Users> {
        let f: UsersFile = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        if f.user.is_empty() {
            bail!("no [[user]]: nobody could log in");
        }
        let mut by_name = HashMap::new();
        for (i, u) in f.user.into_iter().enumerate() {
            let at = format!("user {} ({:?})", i + 1, u.name);
            if u.name.is_empty() || u.name.len() > 256 || u.name.chars().any(char::is_control) {
                bail!("{at}: a name is 1 to 256 bytes without control characters");
            }
            let parsed = PasswordHash::new(&u.password).map_err(|e| {
                anyhow::anyhow!(
                    "{at}: password is not a PHC hash string ({e}); make one with \
                     `sasf serve --hash-password < password.txt`"
                )
            })?;
            if !parsed.algorithm.as_str().starts_with("argon2") {
                bail!(
                    "{at}: the password hash is {}, not Argon2",
                    parsed.algorithm
                );
            }
            match u.role {
                Role::Agent if u.participant.is_empty() => bail!(
                    "{at}: an agent needs participant = [\"NAME or ADDRESS\", …]: who they are \
                     in the recordings they may see"
                ),
                Role::Agent if u.participant.iter().any(|p| p.trim().is_empty()) => {
                    bail!("{at}: an empty participant entry would match nobody, or anybody")
                }
                Role::Agent => {}
                _ if !u.participant.is_empty() => {
                    bail!(
                        "{at}: participant is for agents (a {} sees every recording)",
                        u.role.name()
                    )
                }
                _ => {}
            }
            let user = User {
                name: u.name.clone(),
                role: u.role,
                participants: u.participant,
                hash: u.password,
            };
            if by_name.insert(u.name.clone(), user).is_some() {
                bail!("{at}: a second user of that name");
            }
        }
        Ok(Users {
            by_name,
            fails: Mutex::new(HashMap::new()),
        })
    }

    /// The user `name` if `password` is theirs. An unknown name costs the same time
    /// as a wrong password. A try counts against the name before its password is
    /// checked (so tries at once cannot pass the limit together), and a name with
    /// [`MAX_FAILS`] in [`FAIL_WINDOW`] is refused; a success clears its count.
    pub fn check(&self, name: &str, password: &str) -> std::result::Result<&User, &'static str> {
        if name.len() > MAX_NAME {
            // No user has such a name (the users file refuses it).
            return Err("wrong name or password");
        }
        let now = Instant::now();
        {
            let mut fails = self.fails.lock().unwrap_or_else(|e| e.into_inner());
            fails.retain(|_, (_, t)| now.duration_since(*t) < FAIL_WINDOW);
            if fails.get(name).is_some_and(|(n, _)| *n >= MAX_FAILS) {
                return Err("too many failed logins: wait five minutes");
            }
            if !fails.contains_key(name) && fails.len() >= MAX_TRACKED {
                // Full: the oldest count of a name nobody has goes first, so that
                // made-up names cannot wash a real user's count out.
                let victim = fails
                    .iter()
                    .filter(|(k, _)| !self.by_name.contains_key(*k))
                    .min_by_key(|(_, (_, t))| *t)
                    .or_else(|| fails.iter().min_by_key(|(_, (_, t))| *t))
                    .map(|(k, _)| k.clone());
                if let Some(k) = victim {
                    fails.remove(&k);
                }
            }
            let e = fails.entry(name.to_string()).or_insert((0, now));
            e.0 += 1;
        }
        if password.len() > MAX_PASSWORD {
            return Err("wrong name or password");
        }
        let user = self.by_name.get(name);
        let hash = user.map_or_else(|| dummy_hash().as_str(), |u| u.hash.as_str());
        let ok = PasswordHash::new(hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        match user {
            Some(u) if ok => {
                self.fails
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(name);
                Ok(u)
            }
            _ => Err("wrong name or password"),
        }
    }
}

/// A hash of a random password, verified against for an unknown name.
fn dummy_hash() -> &'static String {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password(&hex(&random_bytes::<16>())).unwrap_or_default())
}

/// `n` bytes from the operating system's generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("the operating system's random generator");
    b
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Hashes a password with Argon2id (the crate's default parameters) and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt =
        SaltString::encode_b64(&random_bytes::<16>()).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
        .to_string())
}

/// `sasf serve --hash-password`: one line from stdin (at most 1 KiB), its hash to
/// stdout. The password is never an argument.
pub fn hash_password_from_stdin() -> Result<std::process::ExitCode> {
    use std::io::Read;
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(1025)
        .read_to_end(&mut buf)
        .context("cannot read the password from stdin")?;
    if buf.len() > 1024 {
        bail!("a password is at most 1024 bytes");
    }
    let text = std::str::from_utf8(&buf).context("the password is not UTF-8")?;
    let pw = text.strip_suffix('\n').unwrap_or(text);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        bail!("give the password on stdin: sasf serve --hash-password < password.txt");
    }
    println!("{}", hash_password(pw)?);
    Ok(std::process::ExitCode::SUCCESS)
}

/// Who a request comes from.
#[derive(Debug, Clone)]
pub struct Who {
    /// Their name (the annotator's name of what they save).
    pub name: String,
    /// Their role.
    pub role: Role,
    /// For an agent: who they are in recordings.
    pub participants: Vec<String>,
    /// The CSRF token their forms must carry.
    pub csrf: String,
    /// Whether they logged in (false without `--users`).
    pub logged_in: bool,
}

struct Session {
    who: Who,
    last: Instant,
}

/// The live sessions, by the SHA-256 of their token (a lookup reveals nothing
/// about a token through its timing).
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    local_csrf: OnceLock<String>,
}

fn token_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// Starts a session for `u`; returns its token.
    pub fn create(&self, u: &User) -> String {
        let token = hex(&random_bytes::<32>());
        let who = Who {
            name: u.name.clone(),
            role: u.role,
            participants: u.participants.clone(),
            csrf: hex(&random_bytes::<32>()),
            logged_in: true,
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.last) < IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(k) = map.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k) {
                map.remove(&k);
            }
        }
        map.insert(token_key(&token), Session { who, last: now });
        token
    }

    /// The session of `token`, if it is live.
    pub fn get(&self, token: &str) -> Option<Who> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let k = token_key(token);
        let now = Instant::now();
        match map.get_mut(&k) {
            Some(s) if now.duration_since(s.last) < IDLE => {
                s.last = now;
                Some(s.who.clone())
            }
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends the session of `token`.
    pub fn remove(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token_key(token));
    }

    /// The CSRF token of the local user (no `--users`), one per server run.
    pub fn local_csrf(&self) -> &str {
        self.local_csrf.get_or_init(|| hex(&random_bytes::<32>()))
    }
}

/// Whether two tokens are equal, in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A fresh token for the login form.
pub fn new_login_token() -> String {
    hex(&random_bytes::<32>())
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_is_checked_and_passwords_verify() {
        let h = hash_password("correct horse").unwrap();
        let text = format!(
            "[[user]]\nname = \"sam\"\nrole = \"supervisor\"\npassword = \"{h}\"\n\n\
             [[user]]\nname = \"ann\"\nrole = \"agent\"\npassword = \"{h}\"\nparticipant = [\"Ann Agent\"]\n"
        );
        let u = Users::parse(&text).unwrap();
        assert_eq!(
            u.check("sam", "correct horse").unwrap().role,
            Role::Supervisor
        );
        assert!(u.check("sam", "wrong").is_err());
        assert!(u.check("nobody", "correct horse").is_err());
        assert_eq!(
            u.check("ann", "correct horse").unwrap().participants,
            ["Ann Agent"]
        );
        for (bad, says) in [
            (text.replace("supervisor", "admin"), "unknown variant"),
            (
                text.replace("participant = [\"Ann Agent\"]", ""),
                "an agent needs",
            ),
            (text.replace(&h, "plain-text"), "not a PHC hash"),
            (format!("{text}\nextra = 1\n"), "unknown field"),
            (text.replace("\"ann\"", "\"sam\""), "a second user"),
            (String::new(), "no [[user]]"),
        ] {
            let e = format!("{:#}", Users::parse(&bad).unwrap_err());
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn too_many_failures_lock_a_name_out() {
        let h = hash_password("pw").unwrap();
        let u = Users::parse(&format!(
            "[[user]]\nname = \"sam\"\nrole = \"auditor\"\npassword = \"{h}\"\n"
        ))
        .unwrap();
        for _ in 0..MAX_FAILS {
            assert_eq!(u.check("sam", "no").unwrap_err(), "wrong name or password");
        }
        assert!(u.check("sam", "pw").unwrap_err().starts_with("too many"));
    }

    #[test]
    fn tries_at_once_count_before_their_check_and_made_up_names_are_bounded() {
        let h = hash_password("pw").unwrap();
        let u = std::sync::Arc::new(
            Users::parse(&format!(
                "[[user]]\nname = \"sam\"\nrole = \"auditor\"\npassword = \"{h}\"\n"
            ))
            .unwrap(),
        );
        // 16 wrong tries at once: at most MAX_FAILS of them reach Argon2, the rest are
        // refused as too many, and the right password is then refused too.
        let tries: Vec<_> = (0..16)
            .map(|_| {
                let u = u.clone();
                std::thread::spawn(move || u.check("sam", "no").unwrap_err())
            })
            .collect();
        let said: Vec<&str> = tries.into_iter().map(|t| t.join().unwrap()).collect();
        let wrong = said
            .iter()
            .filter(|s| **s == "wrong name or password")
            .count();
        assert!(
            wrong <= MAX_FAILS as usize,
            "{wrong} tries checked: {said:?}"
        );
        assert!(u.check("sam", "pw").unwrap_err().starts_with("too many"));
        // Made-up names fill the table up to its bound and no further, and do not
        // push the real name's count out.
        for i in 0..MAX_TRACKED + 50 {
            let _ = u.check(&format!("nobody{i}"), &"x".repeat(MAX_PASSWORD + 1));
        }
        let n = u.fails.lock().unwrap().len();
        assert!(n <= MAX_TRACKED, "{n}");
        assert!(u.check("sam", "pw").unwrap_err().starts_with("too many"));
        // Over-long names and passwords fail at once.
        assert_eq!(
            u.check(&"s".repeat(MAX_NAME + 1), "pw").unwrap_err(),
            "wrong name or password"
        );
    }

    #[test]
    fn sessions_and_cookies() {
        let s = Sessions::default();
        let u = User {
            name: "sam".into(),
            role: Role::Auditor,
            participants: vec![],
            hash: String::new(),
        };
        let t = s.create(&u);
        assert_eq!(s.get(&t).unwrap().name, "sam");
        assert!(s.get("00").is_none());
        s.remove(&t);
        assert!(s.get(&t).is_none());
        assert_eq!(
            cookie("a=1; sasf_session=xyz; b=2", SESSION_COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie("sasf_sessionx=1", SESSION_COOKIE), None);
        assert!(same_token("abc", "abc") && !same_token("abc", "abd") && !same_token("a", "ab"));
    }
}
