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
use std::time::{Duration, Instant};

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
/// A user's playback of a recording is logged once per this long.
const PLAY_LOG_EVERY: Duration = Duration::from_secs(600);

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
    let mut r = next.run(req).await;
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
    app.audit.log(
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
        return Err(refuse(
            app,
            Some(who),
            what,
            raw,
            StatusCode::NOT_FOUND,
            "no such recording in the archive's catalog",
        ));
    }
    Ok(rel)
}

/// Checks that an agent took part in `rel` (others may see every recording).
fn agent_check(app: &App, who: &Who, what: &str, rel: &Path) -> Result<(), Response> {
    if who.role != Role::Agent {
        return Ok(());
    }
    let ok = recording::cached(app, rel)
        .ok()
        .map(|o| {
            let o = o.lock().unwrap_or_else(|e| e.into_inner());
            recording::takes_part(&who.participants, o.ra.all_participants())
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(refuse(
            app,
            Some(who),
            what,
            &rel.display().to_string(),
            StatusCode::FORBIDDEN,
            "an agent sees only the recordings they took part in",
        ))
    }
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
            .max(1);
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

/// Runs a search for `who`: an agent's results hold only recordings they took part
/// in (the catalog's tokens, then the participants themselves).
fn run_search(app: &App, who: &Who, q: &Search) -> anyhow::Result<search::Found> {
    let db = app.db.lock().unwrap_or_else(|e| e.into_inner());
    let mut found = search::find(&db, &app.archive, app.ck.as_ref(), q)?;
    if who.role == Role::Agent {
        found.recordings.retain(|r| {
            let ps: Vec<sasf_core::meta::Participant> = r["participants"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            let mut x = sasf_core::meta::Participant::new(
                                p["id"].as_str().unwrap_or(""),
                                sasf_core::meta::Role::Other,
                            );
                            x.name = p["name"].as_str().map(String::from);
                            x.address = p["address"].as_str().map(String::from);
                            x
                        })
                        .collect()
                })
                .unwrap_or_default();
            recording::takes_part(&who.participants, &ps)
        });
    }
    Ok(found)
}

fn people(r: &Value) -> String {
    match &r["participants"] {
        Value::Array(ps) => ps
            .iter()
            .map(|p| {
                let name = p["name"].as_str().or(p["id"].as_str()).unwrap_or("?");
                let addr = p["address"]
                    .as_str()
                    .map(|a| format!(" <{a}>"))
                    .unwrap_or_default();
                format!("{name}{addr} ({})", p["role"].as_str().unwrap_or("?"))
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ if r["encrypted"] == true => "(encrypted: the server has no archive key)".into(),
        _ => "-".into(),
    }
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
    let rel = match recording_rel(&app, &who, "view", &q.path) {
        Ok(r) => r,
        Err(r) => return r,
    };
    // The waveform is computed while the page loads.
    if who.role.can_play() {
        let (a, r) = (app.clone(), rel.clone());
        tokio::task::spawn_blocking(move || {
            let _ = media::peaks(&a, &r);
        });
    }
    let cfg = json!({"path": q.path, "role": who.role.name()})
        .to_string()
        .replace("</", "<\\/");
    let body = format!(
        "<script type=application/json id=cfg>{cfg}</script>\
         <div id=recording><h1 id=title>{}</h1><p class=loading>Loading…</p></div>",
        esc(&q.path)
    );
    page(&who, &q.path, &body, Some("app.js"))
}

async fn api_recording(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let Some(who) = who(&app, &headers) else {
        return (StatusCode::UNAUTHORIZED, "log in first").into_response();
    };
    let rel = match recording_rel(&app, &who, "view", &q.path) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let a = app.clone();
    let w = who.clone();
    let r = tokio::task::spawn_blocking(move || recording::page_json(&a, &rel, &w)).await;
    match r {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(why)) => refuse(
            &app,
            Some(&who),
            "view",
            &q.path,
            StatusCode::FORBIDDEN,
            &why,
        ),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A body produced on a blocking thread, piece by piece, as the client reads it.
fn blocking_body(
    produce: impl FnOnce(&mut dyn FnMut(Vec<u8>) -> bool) -> Result<(), String> + Send + 'static,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut send = |b: Vec<u8>| tx.blocking_send(Ok(Bytes::from(b))).is_ok();
        if let Err(e) = produce(&mut send) {
            // The connection is cut: a client never takes a short body as whole.
            crate::io::note(format_args!("sasf serve: a response was cut off: {e}"));
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|x| (x, rx))
    }))
}

/// Logs a playback of `rel` by `who`, at most once per [`PLAY_LOG_EVERY`].
fn log_play(app: &App, who: &Who, rel: &Path, detail: &str) {
    let key = (who.name.clone(), rel.to_path_buf());
    let now = Instant::now();
    {
        let mut plays = app.media.plays.lock().unwrap_or_else(|e| e.into_inner());
        if plays
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < PLAY_LOG_EVERY)
        {
            return;
        }
        if plays.len() > 100_000 {
            plays.clear();
        }
        plays.insert(key, now);
    }
    app.audit.log(
        &who.name,
        who.role.name(),
        "play",
        &rel.display().to_string(),
        true,
        detail,
    );
}

async fn api_audio(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let Some(who) = who(&app, &headers) else {
        return refuse(
            &app,
            None,
            "play",
            &q.path,
            StatusCode::UNAUTHORIZED,
            "not logged in",
        );
    };
    if !who.role.can_play() {
        return refuse(
            &app,
            Some(&who),
            "play",
            &q.path,
            StatusCode::FORBIDDEN,
            "an auditor cannot play audio",
        );
    }
    let rel = match recording_rel(&app, &who, "play", &q.path) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (a, r2, w) = (app.clone(), rel.clone(), who.clone());
    let opened = tokio::task::spawn_blocking(move || {
        agent_check(&a, &w, "play", &r2)?;
        recording::playable(&a, &r2).map_err(|e| {
            (
                StatusCode::CONFLICT,
                format!("cannot be played (nothing unauthenticated is): {e:#}"),
            )
                .into_response()
        })
    })
    .await;
    let opened = match opened {
        Ok(Ok(o)) => o,
        Ok(Err(r)) => return r,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let layout = {
        let o = opened.lock().unwrap_or_else(|e| e.into_inner());
        let f = o.ra.header().format;
        WavLayout::new(f.channels, f.sample_rate, o.ra.totals().samples)
    };
    let len = layout.len();
    let range = headers.get(header::RANGE).and_then(|h| h.to_str().ok());
    let (first, last, partial) = match media::parse_range(range, len) {
        Ok(Some((a, b))) => (a, b, true),
        Ok(None) => (0, len - 1, false),
        Err(()) => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Body::empty())
                .unwrap_or_else(|_| StatusCode::RANGE_NOT_SATISFIABLE.into_response())
        }
    };
    let at_s = first.saturating_sub(media::WAV_HEADER) / layout.block() / layout.rate.max(1) as u64;
    log_play(&app, &who, &rel, &format!("from {at_s} s"));
    let body = blocking_body(move |send| {
        media::produce(&opened, layout, first, last, send).map_err(|e| e.to_string())
    });
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
        b = b.header(header::CONTENT_RANGE, format!("bytes {first}-{last}/{len}"));
    }
    b.body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn api_peaks(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let Some(who) = who(&app, &headers) else {
        return (StatusCode::UNAUTHORIZED, "log in first").into_response();
    };
    if !who.role.can_play() {
        return refuse(
            &app,
            Some(&who),
            "waveform",
            &q.path,
            StatusCode::FORBIDDEN,
            "an auditor cannot play audio",
        );
    }
    let rel = match recording_rel(&app, &who, "waveform", &q.path) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let a = app.clone();
    let r = tokio::task::spawn_blocking(move || {
        agent_check(&a, &who, "waveform", &rel)?;
        media::peaks(&a, &rel).map_err(|e| (StatusCode::CONFLICT, e).into_response())
    })
    .await;
    match r {
        Ok(Ok(v)) => Json((*v).clone()).into_response(),
        Ok(Err(r)) => r,
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn api_download(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<PathQuery>,
) -> Response {
    let Some(who) = who(&app, &headers) else {
        return refuse(
            &app,
            None,
            "download",
            &q.path,
            StatusCode::UNAUTHORIZED,
            "not logged in",
        );
    };
    if !who.role.can_download() {
        return refuse(
            &app,
            Some(&who),
            "download",
            &q.path,
            StatusCode::FORBIDDEN,
            "an agent cannot download recordings",
        );
    }
    let rel = match recording_rel(&app, &who, "download", &q.path) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (file, (size, ..)) = match recording::open_file(&app, &rel) {
        Ok(x) => x,
        Err(e) => return (StatusCode::NOT_FOUND, format!("{e:#}")).into_response(),
    };
    app.audit.log(
        &who.name,
        who.role.name(),
        "download",
        &q.path,
        true,
        &format!("{size} bytes"),
    );
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().replace(['"', '\\'], "_"))
        .unwrap_or_else(|| "recording.sasf".into());
    let body = blocking_body(move |send| {
        use std::io::Read;
        let mut f = file;
        let mut left = size;
        while left > 0 {
            let mut buf = vec![0u8; (256 * 1024).min(left as usize)];
            f.read_exact(&mut buf).map_err(|e| e.to_string())?;
            left -= buf.len() as u64;
            if !send(buf) {
                break;
            }
        }
        Ok(())
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
        Some(o) => o
            .strip_prefix("http://")
            .is_some_and(|h| app.hosts.iter().any(|x| x == h)),
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
    let Some(who) = who(&app, &headers) else {
        return refuse(
            &app,
            None,
            "annotate",
            &q.path,
            StatusCode::UNAUTHORIZED,
            "not logged in",
        );
    };
    let token = headers.get("x-csrf-token").and_then(|h| h.to_str().ok());
    if !csrf_ok(&who, token) || !same_origin(&app, &headers) {
        return refuse(
            &app,
            Some(&who),
            "annotate",
            &q.path,
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token",
        );
    }
    if !who.role.can_annotate() {
        return refuse(
            &app,
            Some(&who),
            "annotate",
            &q.path,
            StatusCode::FORBIDDEN,
            &format!("an {} cannot annotate", who.role.name()),
        );
    }
    let rel = match recording_rel(&app, &who, "annotate", &q.path) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let parsed: AnnotateBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not a save: {e}")).into_response(),
    };
    let a = app.clone();
    let w = who.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<Value, (StatusCode, String)> {
        let bad = |e: anyhow::Error| (StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}"));
        let record = build_record(&a, &w, parsed).map_err(bad)?;
        let path = a.archive.join(&rel);
        // The current state says whether the change makes sense (an untag of an
        // absent tag is refused); the append checks the file again under its lock.
        let level = {
            let o = recording::cached(&a, &rel).map_err(bad)?;
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
            &a.keys.ring
        };
        let policy = annotate::Policy {
            require: a.key_args.require.map(Into::into),
            expect: None,
        };
        let done = annotate::append_with_policy(&path, ring, &record, a.signer.as_ref(), &policy)
            .map_err(|e| bad(e.into()))?;
        let summary: Vec<String> = record
            .ops
            .iter()
            .map(crate::commands::history::op_summary)
            .collect();
        a.audit.log(
            &w.name,
            w.role.name(),
            "annotate",
            &rel.display().to_string(),
            true,
            &format!("segment {}: {}", done.number, summary.join("; ")),
        );
        if let Err(e) =
            crate::commands::index::index_one(&a.archive, &rel, &a.key_args, &a.keys, a.ck.as_ref())
        {
            crate::io::note(format_args!("sasf serve: {e:#}"));
        }
        let page = recording::page_json(&a, &rel, &w).map_err(|e| (StatusCode::FORBIDDEN, e))?;
        Ok(json!({"segment": done.number, "history": page["history"]}))
    })
    .await;
    match r {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err((s, m))) => (s, m).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
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
    if !cookie.is_some_and(|c| auth::same_token(c, &f.csrf)) || !same_origin(&app, &headers) {
        app.audit.log(
            &f.name,
            "-",
            "refused",
            "",
            false,
            "login: missing or wrong CSRF token",
        );
        return login_form(
            &f.next,
            Some("The form expired: try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let a = app.clone();
    let (name, password) = (f.name.clone(), zeroize::Zeroizing::new(f.password));
    let r = tokio::task::spawn_blocking(move || {
        let users = a.users.as_ref().expect("checked above");
        users
            .check(&name, &password)
            .map(|u| (a.sessions.create(u), u.role))
    })
    .await;
    match r {
        Ok(Ok((token, role))) => {
            app.audit.log(&f.name, role.name(), "login", "", true, "");
            (
                StatusCode::SEE_OTHER,
                [
                    (header::LOCATION, local_next(&f.next).to_string()),
                    (
                        header::SET_COOKIE,
                        format!(
                            "{}={token}; HttpOnly; Secure; SameSite=Strict; Path=/",
                            auth::SESSION_COOKIE
                        ),
                    ),
                ],
            )
                .into_response()
        }
        Ok(Err(why)) => {
            app.audit.log(&f.name, "-", "login", "", false, why);
            login_form(&f.next, Some(why), StatusCode::UNAUTHORIZED)
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
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
            return refuse(
                &app,
                Some(&w),
                "logout",
                "",
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token",
            );
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
