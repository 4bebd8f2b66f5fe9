//! The routes: the search page, the recording page, login, and the JSON, audio and
//! download endpoints behind them. Every request is checked for its Host (against
//! DNS rebinding), its user and role, its CSRF token (forms and saves), and every
//! recording path for staying in the archive and being in its catalog; each refusal
//! is written to the audit log.

// A refusal is an axum Response, returned at most once per request: boxing it would
// only add an allocation.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use sasf_core::annotate;
use sasf_core::meta::annotation::{Answers, Op, Questionnaire, Record};
use sasf_core::{Integrity, Keyring};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{self, Role, Who};
use super::media::{self, WavLayout};
use super::recording;
use super::App;
use crate::commands::search::{self, Query as Search};

type AppState = State<Arc<App>>;

/// Results per search page.
const PAGE: u64 = 25;
/// The last page number taken (past it, a page is this one).
const MAX_PAGE: u64 = 1_000_000;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(search_page))
        .route("/recording", get(recording_page))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/api/search", get(api_search))
        .route("/api/recording", get(api_recording))
        .route("/api/audio", get(api_audio))
        .route("/api/peaks", get(api_peaks))
        .route("/api/annotate", post(api_annotate))
        .route("/api/download", get(api_download))
        .route("/assets/{name}", get(asset))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Refuses a whole request (403) before any handler sees it, and logs it as a refusal
/// without a session: what was asked (its path) and its query.
/// (The strings are taken before the await: a request's body is not `Sync`.)
fn refused_request(
    app: &Arc<App>,
    req: &Request,
    why: &'static str,
) -> impl std::future::Future<Output = Response> + Send + 'static {
    let (a, path) = (app.clone(), req.uri().path().to_string());
    let query = req.uri().query().unwrap_or("").to_string();
    async move {
        tokio::task::spawn_blocking(move || {
            refuse(&a, None, &path, &query, StatusCode::FORBIDDEN, why)
        })
        .await
        .unwrap_or_else(|_| (StatusCode::FORBIDDEN, why).into_response())
    }
}

/// Refuses a request whose Host is not this server (a page elsewhere that made its
/// name resolve here), and adds the security headers to every response.
async fn guard(State(app): AppState, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !app.hosts.iter().any(|h| h == host) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this server does not answer to that host name",
        )
            .into_response();
    }
    // A request another site's page made (an <audio src>, a form, a fetch): only a
    // link followed to a page is let through. Without --users no cookie stands
    // between such a request and a supervisor's rights, so this is what refuses it.
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|h| h.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        let mode = req
            .headers()
            .get("sec-fetch-mode")
            .and_then(|h| h.to_str().ok());
        let page = matches!(req.uri().path(), "/" | "/recording" | "/login");
        if !(page && mode == Some("navigate") && req.method() == axum::http::Method::GET) {
            return refused_request(&app, &req, "a request made by another site's page").await;
        }
    }
    // Without --users: an API request must carry the cookie this server's pages set
    // (SameSite=Strict, so a browser sends it only from these pages). A browser that
    // sends no Sec-Fetch-Site (older Safari and Firefox) is held by this instead.
    let api = req.uri().path().starts_with("/api/");
    if app.users.is_none() && api {
        let token = req
            .headers()
            .get(header::COOKIE)
            .and_then(|c| c.to_str().ok())
            .and_then(|c| auth::cookie(c, auth::LOCAL_COOKIE));
        if !token.is_some_and(|t| auth::same_token(t, app.sessions.local_csrf())) {
            let why = "not from this server's page (no local cookie: open the page first)";
            return refused_request(&app, &req, why).await;
        }
    }
    let origin_ok = match req.headers().get(header::ORIGIN) {
        None => true,
        Some(o) => o.to_str().is_ok_and(|o| app.origins.iter().any(|x| x == o)),
    };
    if !origin_ok && api {
        return refused_request(&app, &req, "a request from another origin").await;
    }
    let mut r = next.run(req).await;
    if app.users.is_none() && !api {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            auth::LOCAL_COOKIE,
            app.sessions.local_csrf()
        )) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             media-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; \
             base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // No other site's page may load what this one sends (an <audio> or <img> of it).
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such page").into_response()
}

/// HTML text with `& < > " '` escaped.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A query-string value, percent-encoded.
pub fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Who the request comes from: the local supervisor without `--users`, else the
/// session's user.
fn who(app: &App, headers: &HeaderMap) -> Option<Who> {
    if app.users.is_none() {
        return Some(Who {
            name: app.local_name.clone(),
            role: Role::Supervisor,
            participants: Vec::new(),
            csrf: app.sessions.local_csrf().to_string(),
            logged_in: false,
        });
    }
    let c = headers.get(header::COOKIE)?.to_str().ok()?;
    app.sessions.get(auth::cookie(c, auth::SESSION_COOKIE)?)
}

/// Logs a refusal and answers it.
fn refuse(
    app: &App,
    who: Option<&Who>,
    what: &str,
    path: &str,
    status: StatusCode,
    why: &str,
) -> Response {
    // A refusal that cannot be logged is still a refusal (the log says why on stderr).
    // Those without a session are logged at most 20 a second (a count of the others
    // goes with the next one), so nobody can fill the disk through the log.
    if who.is_none() {
        let _ = app.audit.log_anonymous(path, &format!("{what}: {why}"));
        return (status, format!("refused: {why}")).into_response();
    }
    let _ = app.audit.log(
        who.map_or("-", |w| w.name.as_str()),
        who.map_or("-", |w| w.role.name()),
        "refused",
        path,
        false,
        &format!("{what}: {why}"),
    );
    (status, format!("refused: {why}")).into_response()
}

fn login_redirect(next: &str) -> Response {
    Redirect::to(&format!("/login?next={}", enc(next))).into_response()
}

/// The checked path of a recording named by a request, in the catalog.
fn recording_rel(app: &App, who: &Who, what: &str, raw: &str) -> Result<PathBuf, Response> {
    let rel = match app.checked_rel(raw) {
        Ok(r) => r,
        Err(why) => {
            return Err(refuse(
                app,
                Some(who),
                what,
                raw,
                StatusCode::BAD_REQUEST,
                why,
            ))
        }
    };
    let known = {
        let db = app.db.lock().unwrap_or_else(|e| e.into_inner());
        db.query_row(
            "SELECT count(*) FROM rec WHERE path = ?1",
            [raw.as_bytes()],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0)
            > 0
    };
    if !known {
        // An agent learns no more of a path that is not there than of one not hers.
        let (status, why) = if who.role == Role::Agent {
            (StatusCode::FORBIDDEN, NOT_THEIRS)
        } else {
            (
                StatusCode::NOT_FOUND,
                "no such recording in the archive's catalog",
            )
        };
        return Err(refuse(app, Some(who), what, raw, status, why));
    }
    Ok(rel)
}

const NOT_THEIRS: &str = "an agent sees only the recordings they took part in";

/// Whether an agent took part in a recording, as its random-access index says.
#[derive(Debug, PartialEq)]
enum Part {
    /// They did (or the user is no agent: they see every recording).
    Yes,
    /// They did not.
    No,
    /// The recording cannot be opened by random access (damaged): the page decides
    /// from what a streaming read authenticated.
    Unknown,
}

fn takes_part(app: &App, who: &Who, rel: &Path) -> Part {
    if who.role != Role::Agent {
        return Part::Yes;
    }
    match recording::cached(app, rel) {
        Ok(o) => {
            let o = o.lock().unwrap_or_else(|e| e.into_inner());
            if recording::takes_part(&who.participants, o.ra.all_participants()) {
                Part::Yes
            } else {
                Part::No
            }
        }
        Err(_) => Part::Unknown,
    }
}

/// What a request asks to do with a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    View,
    Play,
    Waveform,
    Download,
    Annotate,
}

impl Act {
    fn name(self) -> &'static str {
        match self {
            Act::View => "view",
            Act::Play => "play",
            Act::Waveform => "waveform",
            Act::Download => "download",
            Act::Annotate => "annotate",
        }
    }

    /// Why `role` may not do this, if it may not.
    fn refused(self, role: Role) -> Option<String> {
        let (ok, what) = match self {
            Act::View => (true, ""),
            Act::Play | Act::Waveform => (role.can_play(), "play audio"),
            Act::Download => (role.can_download(), "download recordings"),
            Act::Annotate => (role.can_annotate(), "annotate"),
        };
        (!ok).then(|| format!("an {} cannot {what}", role.name()))
    }
}

/// Admits a request to `act` on the recording `raw`, or refuses it (and logs the
/// refusal): someone logged in, whose role may, a path inside the archive that its
/// catalog knows, an agent's own recording, and an auditor's download only of an
/// encrypted file (a file in clear holds its audio). Blocking (catalog, audit log,
/// file): call it through [`blocking`].
fn admit(app: &App, who: Option<Who>, act: Act, raw: &str) -> Result<(Who, PathBuf), Response> {
    let what = act.name();
    let Some(who) = who else {
        return Err(refuse(
            app,
            None,
            what,
            raw,
            StatusCode::UNAUTHORIZED,
            "not logged in",
        ));
    };
    if let Some(why) = act.refused(who.role) {
        return Err(refuse(
            app,
            Some(&who),
            what,
            raw,
            StatusCode::FORBIDDEN,
            &why,
        ));
    }
    let rel = recording_rel(app, &who, what, raw)?;
    match (takes_part(app, &who, &rel), act) {
        (Part::Yes, _) | (Part::Unknown, Act::View) => {}
        // A recording that does not open tells an agent nothing more than another
        // agent's: the same refusal (whether it is hers, the page says).
        (Part::Unknown, _) | (Part::No, _) => {
            return Err(refuse(
                app,
                Some(&who),
                what,
                raw,
                StatusCode::FORBIDDEN,
                NOT_THEIRS,
            ))
        }
    }
    if act == Act::Download && who.role == Role::Auditor {
        let encrypted = recording::open_file(app, &rel)
            .ok()
            .and_then(|(f, _)| sasf_core::Decoder::new(f).ok())
            .is_some_and(|d| d.header().integrity == Integrity::Encrypted);
        if !encrypted {
            return Err(refuse(
                app,
                Some(&who),
                what,
                raw,
                StatusCode::FORBIDDEN,
                "an auditor downloads only encrypted recordings (this one holds its audio in clear)",
            ));
        }
    }
    Ok((who, rel))
}

/// Runs blocking work (the catalog, the audit log, files) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Response> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
    }
}

/// A recording that cannot be played, drawn or annotated: 409 when it did not verify
/// (or is not authenticated), 503 when it could not be checked now.
fn not_now(e: recording::NotPlayable, what: &str) -> Response {
    let status = match e {
        recording::NotPlayable::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        recording::NotPlayable::Failed(_) => StatusCode::CONFLICT,
    };
    (
        status,
        format!("cannot be {what} (nothing unauthenticated is): {e}"),
    )
        .into_response()
}

/// An action that must be logged but could not be: not done.
fn unlogged(e: super::audit::Unlogged) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
}

/// A body made piece by piece as the client reads it, each piece on a blocking
/// thread that is given back between pieces (a slow client holds none). An error
/// cuts the connection: a client never takes a short body as whole.
fn piecewise_body<S: Send + 'static>(
    state: S,
    next: impl Fn(&mut S) -> Result<Option<Vec<u8>>, String> + Send + Sync + Copy + 'static,
) -> Body {
    let stream = futures_util::stream::unfold(Some(state), move |st| async move {
        let mut s = st?;
        let r = tokio::task::spawn_blocking(move || {
            let piece = next(&mut s);
            (s, piece)
        })
        .await;
        let e = match r {
            Ok((s, Ok(Some(b)))) => return Some((Ok(Bytes::from(b)), Some(s))),
            Ok((_, Ok(None))) => return None,
            Ok((_, Err(e))) => e,
            Err(e) => e.to_string(),
        };
        crate::io::note(format_args!("sasf serve: a response was cut off: {e}"));
        Some((Err(std::io::Error::other(e)), None))
    });
    Body::from_stream(stream)
}

/// The page around `body`.
fn page(who: &Who, title: &str, body: &str, script: Option<&str>) -> Response {
    let user = if who.logged_in {
        format!(
            "<form method=post action=/logout class=logout><input type=hidden name=csrf value=\"{}\">\
             <span class=user>{} ({})</span> <button>Log out</button></form>",
            esc(&who.csrf),
            esc(&who.name),
            who.role.name()
        )
    } else {
        format!(
            "<span class=user>{} ({})</span>",
            esc(&who.name),
            who.role.name()
        )
    };
    let script = script
        .map(|s| format!("<script src=\"/assets/{s}\"></script>"))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <meta name=csrf content=\"{csrf}\"><link rel=icon href=\"data:,\"><title>{title} — sasf</title>\
         <link rel=stylesheet href=\"/assets/app.css\"></head><body>\
         <header><a href=\"/\" class=brand>sasf</a><nav><a href=\"/\">Search</a></nav>{user}</header>\
         <main>{body}</main>{script}</body></html>",
        csrf = esc(&who.csrf),
        title = esc(title),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

// ------------------------------------------------------------------ search

/// The search form's fields, as they appear in a bookmarkable URL.
#[derive(Debug, Default, Deserialize)]
struct SearchForm {
    #[serde(default)]
    participant: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    attr: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    score_below: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    hold: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    desc: String,
    #[serde(default)]
    page: String,
}

impl SearchForm {
    fn query(&self, who: &Who) -> anyhow::Result<Search> {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let page: u64 = opt(&self.page)
            .map_or(Ok(1), |p| p.parse())
            .unwrap_or(1)
            .clamp(1, MAX_PAGE);
        let q = Search {
            participant: opt(&self.participant),
            any_participant: if who.role == Role::Agent {
                who.participants.clone()
            } else {
                Vec::new()
            },
            role: opt(&self.role),
            event: opt(&self.event).into_iter().collect(),
            tag: opt(&self.tag).into_iter().collect(),
            attr: opt(&self.attr).into_iter().collect(),
            since_ms: opt(&self.since)
                .map(|s| search::parse_when(&s, "since"))
                .transpose()?,
            until_ms: opt(&self.until)
                .map(|s| search::parse_when(&s, "until"))
                .transpose()?,
            score_below: opt(&self.score_below)
                .map(|s| {
                    s.parse::<f64>()
                        .map_err(|_| anyhow::anyhow!("score below {s:?}: a number"))
                })
                .transpose()?,
            status: opt(&self.status),
            legal_hold: !self.hold.is_empty(),
            sort: opt(&self.sort).map(|s| (s, !self.desc.is_empty())),
            limit: Some(PAGE),
            offset: (page - 1) * PAGE,
            min_duration_ms: None,
        };
        q.check()?;
        Ok(q)
    }

    /// This search's URL with some fields changed.
    fn url(&self, sort: Option<(&str, bool)>, page: u64) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("participant", &self.participant),
            ("role", &self.role),
            ("tag", &self.tag),
            ("attr", &self.attr),
            ("event", &self.event),
            ("since", &self.since),
            ("until", &self.until),
            ("score_below", &self.score_below),
            ("status", &self.status),
            ("hold", &self.hold),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        let (s, d) = sort.unwrap_or((self.sort.as_str(), !self.desc.is_empty()));
        if !s.is_empty() {
            parts.push(format!("sort={}", enc(s)));
        }
        if d {
            parts.push("desc=1".into());
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        format!("/?{}", parts.join("&"))
    }
}

/// Runs a search for `who`. An agent's results hold only recordings they took part in
/// as an agent: the catalog's tokens for their names find the candidates, which are
/// then checked against each recording's participants, before the results are paged
/// (so a page is full and the total counts only theirs).
fn run_search(app: &App, who: &Who, q: &Search) -> anyhow::Result<search::Found> {
    let db = app.db.lock().unwrap_or_else(|e| e.into_inner());
    if who.role != Role::Agent {
        return search::find(&db, &app.archive, app.ck.as_ref(), q);
    }
    let all = Search {
        limit: None,
        offset: 0,
        ..q.clone()
    };
    let mut found = search::find(&db, &app.archive, app.ck.as_ref(), &all)?;
    found.recordings.retain(|r| {
        let ps: Vec<sasf_core::meta::Participant> = r["participants"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| {
                        let role = p["role"]
                            .as_str()
                            .and_then(sasf_core::meta::Role::from_name)
                            .unwrap_or(sasf_core::meta::Role::Other);
                        let mut x =
                            sasf_core::meta::Participant::new(p["id"].as_str().unwrap_or(""), role);
                        x.name = p["name"].as_str().map(String::from);
                        x.address = p["address"].as_str().map(String::from);
                        x
                    })
                    .collect()
            })
            .unwrap_or_default();
        recording::takes_part(&who.participants, &ps)
    });
    found.total = found.recordings.len() as u64;
    let from = (q.offset as usize).min(found.recordings.len());
    found.recordings.drain(..from);
    found
        .recordings
        .truncate(q.limit.unwrap_or(u64::MAX) as usize);
    Ok(found)
}

fn people(r: &Value) -> String {
    search::people_text(r, true, "(encrypted: the server has no archive key)")
}

fn duration_text(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => {
            let s = ms / 1000;
            if s >= 3600 {
                format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
            } else {
                format!("{}:{:02}", s / 60, s % 60)
            }
        }
        None => "-".into(),
    }
}

async fn search_page(
    State(app): AppState,
    headers: HeaderMap,
    Query(f): Query<SearchForm>,
) -> Response {
    let Some(who) = who(&app, &headers) else {
        return login_redirect("/");
    };
    let app2 = app.clone();
    let w2 = who.clone();
    let result = tokio::task::spawn_blocking(move || {
        let q = f.query(&w2)?;
        let found = run_search(&app2, &w2, &q)?;
        Ok::<_, anyhow::Error>((f, q, found))
    })
    .await;
    let (f, q, found, error) = match result {
        Ok(Ok((f, q, found))) => (f, Some(q), Some(found), None),
        Ok(Err(e)) => (SearchForm::default(), None, None, Some(format!("{e:#}"))),
        Err(e) => (SearchForm::default(), None, None, Some(e.to_string())),
    };
    let field = |name: &str, label: &str, value: &str, ph: &str| {
        format!(
            "<label>{label}<input name={name} value=\"{}\" placeholder=\"{}\"></label>",
            esc(value),
            esc(ph)
        )
    };
    let select = |name: &str, label: &str, value: &str, options: &[&str]| {
        let opts: String = options
            .iter()
            .map(|o| {
                format!(
                    "<option value=\"{o}\"{}>{}</option>",
                    if *o == value { " selected" } else { "" },
                    if o.is_empty() { "any" } else { o }
                )
            })
            .collect();
        format!("<label>{label}<select name={name}>{opts}</select></label>")
    };
    let mut b = String::new();
    b.push_str("<h1>Recordings</h1><form class=search method=get action=\"/\">");
    b.push_str(&field(
        "participant",
        "Participant or number",
        &f.participant,
        "Gina Customer, +15550100199",
    ));
    b.push_str(&select(
        "role",
        "Role",
        &f.role,
        &[
            "",
            "agent",
            "customer",
            "supervisor",
            "ivr",
            "system",
            "other",
        ],
    ));
    b.push_str(&field("tag", "Tag", &f.tag, "escalated"));
    b.push_str(&field("attr", "Attribute", &f.attr, "queue=billing"));
    b.push_str(&select(
        "event",
        "Event",
        &f.event,
        &[
            "",
            "hold",
            "resume",
            "dtmf",
            "transfer",
            "conference",
            "mute",
            "unmute",
            "pause",
            "unpause",
            "marker",
            "disconnect",
            "redaction",
        ],
    ));
    b.push_str(&format!(
        "<label>From<input type=date name=since value=\"{}\"></label><label>To<input type=date name=until value=\"{}\"></label>",
        esc(&f.since),
        esc(&f.until)
    ));
    b.push_str(&field("score_below", "Score below %", &f.score_below, "70"));
    b.push_str(&select(
        "status",
        "Verdict",
        &f.status,
        &[
            "",
            "ok",
            "recovered",
            "failed",
            "truncated",
            "unreadable",
            "no-key",
        ],
    ));
    b.push_str(&format!(
        "<label class=check><input type=checkbox name=hold value=1{}> Legal hold</label>",
        if f.hold.is_empty() { "" } else { " checked" }
    ));
    if !f.sort.is_empty() {
        b.push_str(&format!(
            "<input type=hidden name=sort value=\"{}\">",
            esc(&f.sort)
        ));
        if !f.desc.is_empty() {
            b.push_str("<input type=hidden name=desc value=1>");
        }
    }
    b.push_str("<button id=search-button>Search</button></form>");
    if let Some(e) = error {
        b.push_str(&format!("<p class=error>{}</p>", esc(&e)));
    }
    if let (Some(q), Some(found)) = (q, found) {
        let page = q.offset / PAGE + 1;
        let pages = found.total.div_ceil(PAGE).max(1);
        b.push_str(&format!(
            "<p class=count>{} recording{} · page {page} of {pages}</p>",
            found.total,
            if found.total == 1 { "" } else { "s" }
        ));
        if found.forged > 0 {
            b.push_str(&format!(
                "<p class=error>{} catalog row(s) did not authenticate under the archive key and are left out: run <code>sasf index</code>.</p>",
                found.forged
            ));
        }
        let (cur, desc) = q.sort.clone().unwrap_or(("started".into(), false));
        let th = |key: &str, label: &str| {
            let d = cur == key && !desc;
            let arrow = if cur == key {
                if desc {
                    " ▼"
                } else {
                    " ▲"
                }
            } else {
                ""
            };
            format!(
                "<th><a href=\"{}\">{label}{arrow}</a></th>",
                esc(&f.url(Some((key, d)), 1))
            )
        };
        b.push_str("<table class=results><thead><tr>");
        b.push_str(&th("started", "Start (UTC)"));
        b.push_str(&th("duration", "Duration"));
        b.push_str("<th>Participants</th><th>Recording</th>");
        b.push_str(&th("score", "Score"));
        b.push_str(&th("verdict", "Verdict"));
        b.push_str(&th("path", "File"));
        b.push_str("</tr></thead><tbody>");
        for r in &found.recordings {
            let rel = r["rel"].as_str().unwrap_or("");
            let link = format!("/recording?path={}", enc(rel));
            let verdict = r["verdict"].as_str().unwrap_or("");
            b.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><a class=open href=\"{}\">{}</a>{}</td><td>{}</td><td><span class=\"verdict v-{}\">{}</span></td><td class=path>{}</td></tr>",
                esc(r["started_at"].as_str().unwrap_or("-")),
                duration_text(r["duration_ms"].as_i64()),
                esc(&people(r)),
                esc(&link),
                esc(r["id"].as_str().unwrap_or("(no id)")),
                if r["legal_hold"] == true { " <span class=hold>legal hold</span>" } else { "" },
                r["lowest_score_percent"].as_f64().map(|s| format!("{s:.2}%")).unwrap_or_else(|| "-".into()),
                esc(verdict),
                esc(verdict),
                esc(rel),
            ));
        }
        b.push_str("</tbody></table><nav class=pages>");
        if page > 1 {
            b.push_str(&format!(
                "<a href=\"{}\">← previous</a> ",
                esc(&f.url(None, page - 1))
            ));
        }
        if page < pages {
            b.push_str(&format!(
                "<a href=\"{}\" id=next-page>next →</a>",
                esc(&f.url(None, page + 1))
            ));
        }
        b.push_str("</nav>");
    }
    page(&who, "Search", &b, None)
}

async fn api_search(
    State(app): AppState,
    headers: HeaderMap,
    Query(f): Query<SearchForm>,
) -> Response {
    let Some(who) = who(&app, &headers) else {
        return (StatusCode::UNAUTHORIZED, "log in first").into_response();
    };
    let r = tokio::task::spawn_blocking(move || {
        let q = f.query(&who)?;
        run_search(&app, &who, &q)
    })
    .await;
    match r {
        Ok(Ok(found)) => Json(json!({
            "schema": search::SCHEMA,
            "count": found.recordings.len(),
            "total": found.total,
            "recordings": found.recordings,
        }))
        .into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("{e:#}")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

// ------------------------------------------------------------------ a recording

#[derive(Deserialize)]
struct PathQuery {
    path: String,
}

async fn recording_page(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let Some(who) = who(&app, &headers) else {
        return login_redirect(&format!("/recording?path={}", enc(&q.path)));
    };
    let (a, raw) = (app.clone(), q.path.clone());
    let w = who.clone();
    let admitted = blocking(move || {
        let (who, rel) = admit(&a, Some(who), Act::View, &raw)?;
        // The waveform is computed while the page loads, for whoever may see it.
        if who.role.can_play() && takes_part(&a, &who, &rel) == Part::Yes {
            std::thread::Builder::new()
                .name("sasf-peaks".into())
                .spawn(move || {
                    let _ = media::peaks(&a, &rel);
                })
                .ok();
        }
        Ok(())
    })
    .await;
    // A refusal (logged by admit) is the page with the refusal in it.
    let refused = match admitted {
        Ok(()) => Value::Null,
        Err(r) => {
            let status = r.status();
            let text = axum::body::to_bytes(r.into_body(), 64 * 1024)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            json!({"status": status.as_u16(), "text": text})
        }
    };
    let who = w;
    let cfg = json!({"path": q.path, "role": who.role.name(), "refused": refused})
        .to_string()
        .replace("</", "<\\/");
    let body = format!(
        "<script type=application/json id=cfg>{cfg}</script>\
         <div id=recording><h1 id=title>{}</h1><p class=loading>Loading…</p></div>",
        esc(&q.path)
    );
    let mut r = page(&who, &q.path, &body, Some("app.js"));
    if let Some(st) = refused["status"].as_u64() {
        *r.status_mut() = StatusCode::from_u16(st as u16).unwrap_or(StatusCode::FORBIDDEN);
    }
    r
}

async fn api_recording(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let who = who(&app, &headers);
    let r = blocking(move || {
        let (who, rel) = admit(&app, who, Act::View, &q.path)?;
        match recording::page_json(&app, &rel, &who) {
            Ok(v) => Ok(Json(v).into_response()),
            Err(recording::PageError::Refused(why)) => Err(refuse(
                &app,
                Some(&who),
                "view",
                &q.path,
                StatusCode::FORBIDDEN,
                &why,
            )),
            Err(recording::PageError::Busy(why)) => {
                Ok((StatusCode::SERVICE_UNAVAILABLE, why).into_response())
            }
        }
    })
    .await;
    r.unwrap_or_else(|r| r)
}

async fn api_audio(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let who = who(&app, &headers);
    let range = headers
        .get(header::RANGE)
        .and_then(|h| h.to_str().ok())
        .map(String::from);
    let r = blocking(move || {
        let (who, rel) = admit(&app, who, Act::Play, &q.path)?;
        let opened = recording::playable(&app, &rel).map_err(|e| not_now(e, "played"))?;
        let layout = {
            let o = opened.lock().unwrap_or_else(|e| e.into_inner());
            let f = o.ra.header().format;
            WavLayout::new(f.channels, f.sample_rate, o.ra.totals().samples)
        }
        .ok_or_else(|| {
            (
                StatusCode::CONFLICT,
                "a 16-bit WAV cannot describe this recording's format",
            )
                .into_response()
        })?;
        let len = layout.len();
        let (first, last, partial) = match media::parse_range(range.as_deref(), len) {
            Ok(Some((a, b))) => (a, b, true),
            Ok(None) => (0, len - 1, false),
            Err(()) => {
                return Err(Response::builder()
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                    .body(Body::empty())
                    .unwrap_or_else(|_| StatusCode::RANGE_NOT_SATISFIABLE.into_response()))
            }
        };
        // Every request for audio is a playback (a seek makes a new one), logged
        // before a byte of it is sent.
        let at_ms =
            first.saturating_sub(media::WAV_HEADER) / layout.block() * 1000 / layout.rate as u64;
        app.audit
            .log(
                &who.name,
                who.role.name(),
                "play",
                &rel.display().to_string(),
                true,
                &format!(
                    "bytes {first}-{last} of {len}, from {}.{:03} s",
                    at_ms / 1000,
                    at_ms % 1000
                ),
            )
            .map_err(unlogged)?;
        Ok((opened, layout, first, last, partial))
    })
    .await;
    let (opened, layout, first, last, partial) = match r {
        Ok(x) => x,
        Err(r) => return r,
    };
    let body = piecewise_body(
        (opened, layout, media::Cursor::new(layout, first, last)),
        |(o, layout, c)| media::next_piece(o, *layout, c).map_err(|e| e.to_string()),
    );
    let mut b = Response::builder()
        .status(if partial {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .header(header::CONTENT_TYPE, "audio/wav")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, last - first + 1)
        .header(header::CACHE_CONTROL, "private, no-store");
    if partial {
        b = b.header(
            header::CONTENT_RANGE,
            format!("bytes {first}-{last}/{}", layout.len()),
        );
    }
    b.body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn api_peaks(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let who = who(&app, &headers);
    blocking(move || {
        let (_, rel) = admit(&app, who, Act::Waveform, &q.path)?;
        let v = media::peaks(&app, &rel).map_err(|e| not_now(e, "drawn"))?;
        Ok(Json((*v).clone()).into_response())
    })
    .await
    .unwrap_or_else(|r| r)
}

async fn api_download(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let who = who(&app, &headers);
    let r = blocking(move || {
        let (who, rel) = admit(&app, who, Act::Download, &q.path)?;
        let (file, (size, ..)) = recording::open_file(&app, &rel)
            .map_err(|e| (StatusCode::NOT_FOUND, format!("{e:#}")).into_response())?;
        app.audit
            .log(
                &who.name,
                who.role.name(),
                "download",
                &q.path,
                true,
                &format!("{size} bytes"),
            )
            .map_err(unlogged)?;
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().replace(['"', '\\'], "_"))
            .unwrap_or_else(|| "recording.sasf".into());
        Ok((file, size, name))
    })
    .await;
    let (file, size, name) = match r {
        Ok(x) => x,
        Err(r) => return r,
    };
    let body = piecewise_body((file, size), |(f, left)| {
        use std::io::Read;
        if *left == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; (256 * 1024).min(*left as usize)];
        f.read_exact(&mut buf).map_err(|e| e.to_string())?;
        *left -= buf.len() as u64;
        Ok(Some(buf))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, size)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A save from the annotate panel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnotateBody {
    #[serde(default)]
    add_tags: Vec<String>,
    #[serde(default)]
    remove_tags: Vec<String>,
    #[serde(default)]
    set_attrs: Vec<(String, String)>,
    #[serde(default)]
    remove_attrs: Vec<String>,
    /// `{"form": ID, "version": N, "answers": {...}}`, as `sasf annotate --answers`.
    #[serde(default)]
    questionnaire: Option<Value>,
    #[serde(default)]
    note: Option<String>,
}

/// Whether the request's Origin (when sent) is this server.
fn same_origin(app: &App, headers: &HeaderMap) -> bool {
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(o) => app.origins.iter().any(|x| x == o),
    }
}

/// Checks the CSRF token of a form or save: the session's token, sent back.
fn csrf_ok(who: &Who, sent: Option<&str>) -> bool {
    sent.is_some_and(|s| auth::same_token(s, &who.csrf))
}

fn now_utc() -> String {
    let t = crate::io::utc_ms(crate::io::now_ms().max(1));
    format!("{}Z", &t[..19])
}

fn build_record(app: &App, who: &Who, b: AnnotateBody) -> anyhow::Result<Record> {
    let mut ops = Vec::new();
    ops.extend(b.add_tags.into_iter().map(Op::Tag));
    ops.extend(b.remove_tags.into_iter().map(Op::Untag));
    ops.extend(
        b.set_attrs
            .into_iter()
            .map(|(key, value)| Op::Attr { key, value }),
    );
    ops.extend(b.remove_attrs.into_iter().map(Op::Unattr));
    if let Some(q) = b.questionnaire {
        let id = q["form"].as_str().unwrap_or("");
        let form = app
            .forms
            .iter()
            .find(|f| f.id == id && Some(f.version) == q["version"].as_u64())
            .ok_or_else(|| {
                anyhow::anyhow!("no questionnaire form {id:?} of that version on this server")
            })?
            .clone();
        let answers = Answers::from_json(&serde_json::to_vec(&q)?, &form)?;
        ops.push(Op::Questionnaire(Box::new(Questionnaire::new(
            form, answers,
        )?)));
    }
    if ops.is_empty() {
        anyhow::bail!("nothing to save");
    }
    let record = Record {
        by: who.name.clone(),
        at: now_utc(),
        ops,
        note: b.note.filter(|n| !n.trim().is_empty()),
    };
    record.validate()?;
    Ok(record)
}

async fn api_annotate(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
    body: Bytes,
) -> Response {
    let who = who(&app, &headers);
    let token = headers
        .get("x-csrf-token")
        .and_then(|h| h.to_str().ok())
        .map(String::from);
    let origin_ok = same_origin(&app, &headers);
    let r = blocking(move || -> Result<Value, Response> {
        if let Some(w) = &who {
            if !csrf_ok(w, token.as_deref()) || !origin_ok {
                return Err(refuse(
                    &app,
                    Some(w),
                    "annotate",
                    &q.path,
                    StatusCode::FORBIDDEN,
                    "missing or wrong CSRF token",
                ));
            }
        }
        let (who, rel) = admit(&app, who, Act::Annotate, &q.path)?;
        let bad =
            |e: anyhow::Error| (StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")).into_response();
        let parsed: AnnotateBody = serde_json::from_slice(&body)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("not a save: {e}")).into_response())?;
        let record = build_record(&app, &who, parsed).map_err(bad)?;
        // Only a recording that verified is annotated. Its current state says whether
        // the change makes sense (an untag of an absent tag is refused); the append
        // checks the file again under its lock.
        let level = {
            let o = recording::verified(&app, &rel).map_err(|e| not_now(e, "annotated"))?;
            let o = o.lock().unwrap_or_else(|e| e.into_inner());
            annotate::state(o.ra.segments())
                .and_then(|s| s.check_new(&record))
                .map_err(|e| bad(e.into()))?;
            o.ra.header().integrity
        };
        let empty = Keyring::new();
        let ring = if level == Integrity::Keyless {
            &empty
        } else {
            &app.keys.ring
        };
        let policy = annotate::Policy {
            require: app.key_args.require.map(Into::into),
            expect: None,
        };
        let summary: Vec<String> = record
            .ops
            .iter()
            .map(crate::commands::history::op_summary)
            .collect();
        // The log is checked to take entries before the file is changed; a log that
        // fails after the append is reported to the user with what was saved.
        app.audit
            .log(
                &who.name,
                who.role.name(),
                "annotate-begin",
                &rel.display().to_string(),
                true,
                &summary.join("; "),
            )
            .map_err(unlogged)?;
        // Opened as every recording is (beneath the archive, following no link, never
        // waiting on a FIFO), then appended to through that descriptor.
        let file = recording::open_file_rw(&app, &rel).map_err(bad)?;
        let done =
            annotate::append_open_with_policy(file, ring, &record, app.signer.as_ref(), &policy)
                .map_err(|e| {
                    let _ = app.audit.log(
                        &who.name,
                        who.role.name(),
                        "annotate",
                        &rel.display().to_string(),
                        false,
                        &format!("{e}"),
                    );
                    bad(e.into())
                })?;
        app.audit
            .log(
                &who.name,
                who.role.name(),
                "annotate",
                &rel.display().to_string(),
                true,
                &format!("segment {}: {}", done.number, summary.join("; ")),
            )
            .map_err(|e| {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("saved as segment {} of the file, but {e}", done.number),
                )
                    .into_response()
            })?;
        if let Err(e) = crate::commands::index::index_one(
            &app.archive,
            &rel,
            &app.key_args,
            &app.keys,
            app.ck.as_ref(),
        ) {
            crate::io::note(format_args!("sasf serve: {e:#}"));
        }
        let page = recording::page_json(&app, &rel, &who).map_err(|e| match e {
            recording::PageError::Refused(m) | recording::PageError::Busy(m) => {
                (StatusCode::SERVICE_UNAVAILABLE, m).into_response()
            }
        })?;
        Ok(json!({"segment": done.number, "history": page["history"]}))
    })
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

// ------------------------------------------------------------------ login

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// A `next` that stays on this server.
fn local_next(n: &str) -> &str {
    let b = n.as_bytes();
    if b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && !n
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        n
    } else {
        "/"
    }
}

fn login_form(next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let token = auth::new_login_token();
    let err = error
        .map(|e| format!("<p class=error id=login-error>{}</p>", esc(e)))
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><link rel=icon href=\"data:,\"><title>Log in — sasf</title>\
         <link rel=stylesheet href=\"/assets/app.css\"></head><body class=login>\
         <main><h1>sasf</h1>{err}<form method=post action=/login>\
         <input type=hidden name=csrf value=\"{token}\"><input type=hidden name=next value=\"{}\">\
         <label>Name<input name=name autocomplete=username required autofocus></label>\
         <label>Password<input name=password type=password autocomplete=current-password required></label>\
         <button id=login-button>Log in</button></form></main></body></html>",
        esc(local_next(next))
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "{}={token}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600",
                    auth::LOGIN_COOKIE
                ),
            ),
        ],
        html,
    )
        .into_response()
}

async fn login_page(State(app): AppState, Query(q): Query<NextQuery>) -> Response {
    if app.users.is_none() {
        return Redirect::to("/").into_response();
    }
    login_form(&q.next, None, StatusCode::OK)
}

#[derive(Deserialize)]
struct LoginBody {
    name: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

async fn login(State(app): AppState, headers: HeaderMap, Form(f): Form<LoginBody>) -> Response {
    if app.users.is_none() {
        return Redirect::to("/").into_response();
    }
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| auth::cookie(c, auth::LOGIN_COOKIE));
    let form_ok =
        cookie.is_some_and(|c| auth::same_token(c, &f.csrf)) && same_origin(&app, &headers);
    // At most one Argon2 check per core at once; the others wait their turn (10 s).
    let permit =
        match tokio::time::timeout(Duration::from_secs(10), app.logins.clone().acquire_owned())
            .await
        {
            Ok(Ok(p)) => p,
            _ => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many logins at once: try again",
                )
                    .into_response()
            }
        };
    let next = f.next.clone();
    let r = blocking(move || {
        let _permit = permit;
        if !form_ok {
            let _ = app.audit.log(
                &f.name,
                "-",
                "refused",
                "",
                false,
                "login: missing or wrong CSRF token",
            );
            return Err(login_form(
                &f.next,
                Some("The form expired: try again."),
                StatusCode::FORBIDDEN,
            ));
        }
        let users = app.users.as_ref().expect("checked above");
        let password = zeroize::Zeroizing::new(f.password);
        match users.check(&f.name, &password) {
            Ok(u) => {
                // No session starts that the log does not hold.
                app.audit
                    .log(&f.name, u.role.name(), "login", "", true, "")
                    .map_err(unlogged)?;
                Ok(app.sessions.create(u))
            }
            Err(why) => {
                let _ = app.audit.log(&f.name, "-", "login", "", false, why);
                Err(login_form(&f.next, Some(why), StatusCode::UNAUTHORIZED))
            }
        }
    })
    .await;
    match r {
        Ok(token) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, local_next(&next).to_string()),
                (
                    header::SET_COOKIE,
                    format!(
                        "{}={token}; HttpOnly; Secure; SameSite=Strict; Path=/",
                        auth::SESSION_COOKIE
                    ),
                ),
            ],
        )
            .into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct LogoutBody {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(app): AppState, headers: HeaderMap, Form(f): Form<LogoutBody>) -> Response {
    if let Some(w) = who(&app, &headers) {
        if !csrf_ok(&w, Some(&f.csrf)) {
            return blocking(move || {
                Ok(refuse(
                    &app,
                    Some(&w),
                    "logout",
                    "",
                    StatusCode::FORBIDDEN,
                    "missing or wrong CSRF token",
                ))
            })
            .await
            .unwrap_or_else(|r| r);
        }
        if let Some(t) = headers
            .get(header::COOKIE)
            .and_then(|c| c.to_str().ok())
            .and_then(|c| auth::cookie(c, auth::SESSION_COOKIE))
        {
            app.sessions.remove(t);
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login".to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "{}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0",
                    auth::SESSION_COOKIE
                ),
            ),
        ],
    )
        .into_response()
}

// ------------------------------------------------------------------ assets

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (ty, body) = match name.as_str() {
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_files_cannot_make_markup() {
        assert_eq!(
            esc("<img src=x onerror='a()'>&\""),
            "&lt;img src=x onerror=&#39;a()&#39;&gt;&amp;&quot;"
        );
        assert_eq!(enc("a b/../c?d=é"), "a%20b%2F..%2Fc%3Fd%3D%C3%A9");
        assert_eq!(local_next("//evil.example/"), "/");
        assert_eq!(local_next("https://evil.example/"), "/");
        assert_eq!(local_next("/\t/evil.example"), "/");
        assert_eq!(local_next("/\\evil.example"), "/");
        assert_eq!(
            local_next("/recording?path=a.sasf"),
            "/recording?path=a.sasf"
        );
    }
}
