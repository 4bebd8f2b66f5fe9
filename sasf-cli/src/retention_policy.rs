//! A retention policy (`sasf retention plan|apply --policy P.toml`): its parser, and
//! the decision it gives for one recording (`docs/RETENTION.md`).
//!
//! Self-contained (std, serde and toml only) so that the fuzz target
//! `retention_policy` builds this very file. Everything a policy says is checked
//! before anything is touched: an unknown field or an impossible rule is refused with
//! its line and column.

use std::fmt;

use serde::Deserialize;

/// Longest retention a rule may give, in days (as a `retention` annotation: about
/// 100 years).
pub const MAX_KEEP_DAYS: u32 = 36500;
/// Largest policy file read.
pub const MAX_POLICY_LEN: usize = 1 << 20;
/// Most rules in a policy.
pub const MAX_RULES: usize = 1000;
/// The longest selector value or folder name.
const MAX_TEXT: usize = 1024;

/// A policy refused: why, and where (1-based line and column), when a place is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.reason
        )
    }
}

impl std::error::Error for PolicyError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: toml::Spanned<i64>,
    #[serde(default)]
    rule: Vec<toml::Spanned<RawRule>>,
    default: Option<toml::Spanned<RawAction>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    tag: Option<String>,
    attribute: Option<String>,
    role: Option<String>,
    participant: Option<String>,
    older_than_days: Option<u32>,
    min_duration_s: Option<u64>,
    max_duration_s: Option<u64>,
    score_below: Option<f64>,
    keep_days: Option<u32>,
    keep_until: Option<String>,
    move_to: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    keep_days: Option<u32>,
    keep_until: Option<String>,
    move_to: Option<String>,
}

/// What a rule (or the default) does with the recordings it selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Keep this many days from the recording's start (through that whole UTC day).
    KeepDays(u32),
    /// Keep through the end of this UTC day (days since 1970-01-01).
    KeepUntil(i64),
    /// Move into this folder of the archive (relative, `/`-separated).
    MoveTo(String),
}

/// A selector that the catalog answers with a blind-index token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenSel {
    Tag(String),
    /// `KEY=VALUE`.
    Attribute(String),
    Role(String),
    /// A name or an address (normalised by the caller as a search does).
    Participant(String),
}

/// One rule: every selector it has must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub tokens: Vec<TokenSel>,
    pub older_than_days: Option<u32>,
    pub min_duration_ms: Option<i64>,
    pub max_duration_ms: Option<i64>,
    /// Basis points: the lowest questionnaire score is below this.
    pub score_below_bp: Option<i64>,
    pub action: Action,
}

/// A parsed, checked policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub rules: Vec<Rule>,
    /// For recordings no rule selected.
    pub default: Option<Action>,
}

/// What the catalog knows of one recording, for a decision.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Verified OK (or recovered) at indexing: only such a recording is acted on.
    pub verified: bool,
    pub legal_hold: bool,
    pub started_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub score_bp: Option<i64>,
    /// Its own retention ([`Own`]).
    pub own: Own,
    /// Its path relative to the archive, `/`-separated.
    pub path: String,
}

/// The recording's own retention (its annotation or header field), holds aside.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Own {
    #[default]
    Unspecified,
    /// Through the end of this UTC day.
    Until(i64),
    /// N days from a start the file does not state.
    Days(u32),
    Indefinite,
}

impl Own {
    /// From the catalog's `retain` column; `None` for a value this build does not know.
    pub fn from_catalog(s: Option<&str>) -> Option<Own> {
        let Some(s) = s else {
            return Some(Own::Unspecified);
        };
        if s == "indefinite" {
            return Some(Own::Indefinite);
        }
        if let Some(d) = s.strip_prefix("until:") {
            return parse_date(d).map(Own::Until);
        }
        s.strip_prefix("days:")
            .and_then(|n| n.parse().ok())
            .map(Own::Days)
    }
}

/// Until when a recording is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Until {
    /// Through the end of this UTC day (days since 1970-01-01).
    Day(i64),
    Indefinite,
}

/// What the policy does with one recording today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Delete,
    /// Into this folder, at this path relative to the archive.
    Move(String),
    /// Under a legal hold: neither deleted nor moved, whatever a rule says.
    Hold,
    /// Not verified at indexing: nothing is known for sure; kept.
    Unverified,
}

/// A decision: what, the rule that decided (a rule's name, `default`, `recording`
/// for its own retention, or none), until when it is kept, and why in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub rule: Option<String>,
    pub until: Option<Until>,
    pub why: String,
}

fn place(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text.as_bytes()[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

fn err_at(text: &str, at: usize, reason: impl Into<String>) -> PolicyError {
    let (line, column) = place(text, at);
    PolicyError {
        line,
        column,
        reason: reason.into(),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day number, `YYYY-MM-DD`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A day number as `YYYY-MM-DD`.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A strict `YYYY-MM-DD` (years 0000 to 9999, a real calendar day).
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[r];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let len = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (d <= len).then(|| days_from_civil(y as i64, m, d))
}

/// The UTC day of a time in ms since 1970.
pub fn day_of_ms(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

/// Checks a tier folder: relative, of plain non-hidden names.
fn check_folder(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > MAX_TEXT {
        return Err(format!(
            "move_to {s:?}: a folder name of 1 to {MAX_TEXT} bytes"
        ));
    }
    let parts: Vec<&str> = s.trim_end_matches('/').split('/').collect();
    for p in &parts {
        if p.is_empty()
            || p.starts_with('.')
            || p.chars().any(|c| c.is_control() || c == '\\')
            || p.len() > 255
        {
            return Err(format!(
                "move_to {s:?}: a folder inside the archive, of plain names (no leading /, \
                 no empty, hidden, `.` or `..` parts, no control characters)"
            ));
        }
    }
    Ok(parts.join("/"))
}

fn action(
    text: &str,
    at: usize,
    keep_days: Option<u32>,
    keep_until: Option<String>,
    move_to: Option<String>,
    what: &str,
) -> Result<Action, PolicyError> {
    let given = [keep_days.is_some(), keep_until.is_some(), move_to.is_some()]
        .iter()
        .filter(|&&b| b)
        .count();
    if given != 1 {
        return Err(err_at(
            text,
            at,
            format!("{what}: give exactly one of keep_days, keep_until, move_to"),
        ));
    }
    if let Some(n) = keep_days {
        if !(1..=MAX_KEEP_DAYS).contains(&n) {
            return Err(err_at(
                text,
                at,
                format!("{what}: keep_days is 1 to {MAX_KEEP_DAYS}, not {n}"),
            ));
        }
        return Ok(Action::KeepDays(n));
    }
    if let Some(d) = keep_until {
        return parse_date(&d).map(Action::KeepUntil).ok_or_else(|| {
            err_at(
                text,
                at,
                format!("{what}: keep_until {d:?} is not a date (YYYY-MM-DD)"),
            )
        });
    }
    let m = move_to.unwrap_or_default();
    check_folder(&m)
        .map(Action::MoveTo)
        .map_err(|e| err_at(text, at, format!("{what}: {e}")))
}

impl Policy {
    /// Parses and checks a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_LEN {
            return Err(PolicyError {
                line: 1,
                column: 1,
                reason: format!("the policy is over {MAX_POLICY_LEN} bytes"),
            });
        }
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            err_at(text, at, e.message().trim_end().to_string())
        })?;
        if *raw.version.get_ref() != 1 {
            return Err(err_at(
                text,
                raw.version.span().start,
                format!(
                    "version {}: this build reads version 1",
                    raw.version.get_ref()
                ),
            ));
        }
        if raw.rule.len() > MAX_RULES {
            return Err(err_at(
                text,
                raw.rule[MAX_RULES].span().start,
                format!("more than {MAX_RULES} rules"),
            ));
        }
        let mut rules = Vec::new();
        let mut names = std::collections::HashSet::new();
        for spanned in raw.rule {
            let at = spanned.span().start;
            let r = spanned.into_inner();
            let bad = |reason: String| err_at(text, at, reason);
            let name = r.name.clone();
            if name.is_empty()
                || name.len() > MAX_TEXT
                || name.chars().any(char::is_control)
                || name == "default"
                || name == "recording"
            {
                return Err(bad(format!(
                    "rule name {name:?}: 1 to {MAX_TEXT} bytes, no control characters, not \
                     `default` or `recording`"
                )));
            }
            if !names.insert(name.clone()) {
                return Err(bad(format!("a second rule named {name:?}")));
            }
            let what = format!("rule {name:?}");
            let mut tokens = Vec::new();
            for (v, f) in [
                (&r.tag, TokenSel::Tag as fn(String) -> TokenSel),
                (&r.attribute, TokenSel::Attribute),
                (&r.role, TokenSel::Role),
                (&r.participant, TokenSel::Participant),
            ] {
                if let Some(v) = v {
                    if v.trim().is_empty() || v.len() > MAX_TEXT {
                        return Err(bad(format!(
                            "{what}: a selector value of 1 to {MAX_TEXT} bytes"
                        )));
                    }
                    tokens.push(f(v.clone()));
                }
            }
            if let Some(a) = &r.attribute {
                if !a.contains('=') || a.starts_with('=') {
                    return Err(bad(format!("{what}: attribute {a:?}: give KEY=VALUE")));
                }
            }
            if let Some(s) = r.score_below {
                if !(s.is_finite() && s > 0.0 && s <= 100.0) {
                    return Err(bad(format!(
                        "{what}: score_below is a percentage above 0 and at most 100, not {s}"
                    )));
                }
            }
            if let Some(n) = r.older_than_days {
                if n > MAX_KEEP_DAYS * 2 {
                    return Err(bad(format!(
                        "{what}: older_than_days is at most {}, not {n}",
                        MAX_KEEP_DAYS * 2
                    )));
                }
            }
            let ms = |s: Option<u64>| -> Result<Option<i64>, PolicyError> {
                match s {
                    None => Ok(None),
                    Some(s) if s <= 100 * 365 * 86_400 => Ok(Some(s as i64 * 1000)),
                    Some(s) => Err(bad(format!("{what}: a duration of {s} s is impossible"))),
                }
            };
            let (min_d, max_d) = (ms(r.min_duration_s)?, ms(r.max_duration_s)?);
            if let (Some(a), Some(b)) = (min_d, max_d) {
                if a > b {
                    return Err(bad(format!(
                        "{what}: min_duration_s is above max_duration_s: it selects nothing"
                    )));
                }
            }
            let selects = !tokens.is_empty()
                || r.older_than_days.is_some()
                || min_d.is_some()
                || max_d.is_some()
                || r.score_below.is_some();
            if !selects {
                return Err(bad(format!(
                    "{what} has no selector (tag, attribute, role, participant, \
                     older_than_days, min_duration_s, max_duration_s, score_below); \
                     [default] is for recordings no rule selects"
                )));
            }
            let action = action(text, at, r.keep_days, r.keep_until, r.move_to, &what)?;
            rules.push(Rule {
                name,
                tokens,
                older_than_days: r.older_than_days,
                min_duration_ms: min_d,
                max_duration_ms: max_d,
                score_below_bp: r.score_below.map(|s| (s * 100.0).round() as i64),
                action,
            });
        }
        let default = match raw.default {
            None => None,
            Some(d) => {
                let at = d.span().start;
                let d = d.into_inner();
                Some(action(
                    text,
                    at,
                    d.keep_days,
                    d.keep_until,
                    d.move_to,
                    "[default]",
                )?)
            }
        };
        Ok(Policy { rules, default })
    }

    /// The tier folders the policy moves to.
    pub fn tiers(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self
            .rules
            .iter()
            .filter_map(|r| match &r.action {
                Action::MoveTo(m) => Some(m.as_str()),
                _ => None,
            })
            .chain(match &self.default {
                Some(Action::MoveTo(m)) => Some(m.as_str()),
                _ => None,
            })
            .collect();
        t.sort();
        t.dedup();
        t
    }

    /// Whether `r` selects a recording: every selector holds. `token` answers the
    /// token selectors from the catalog.
    fn selects(r: &Rule, f: &Facts, today: i64, token: &mut dyn FnMut(&TokenSel) -> bool) -> bool {
        if let Some(n) = r.older_than_days {
            match f.started_ms {
                Some(s) if today - day_of_ms(s) >= n as i64 => {}
                _ => return false,
            }
        }
        if let Some(m) = r.min_duration_ms {
            if f.duration_ms.is_none_or(|d| d < m) {
                return false;
            }
        }
        if let Some(m) = r.max_duration_ms {
            if f.duration_ms.is_none_or(|d| d > m) {
                return false;
            }
        }
        if let Some(b) = r.score_below_bp {
            if f.score_bp.is_none_or(|s| s >= b) {
                return false;
            }
        }
        r.tokens.iter().all(token)
    }

    /// Where a recording at `path` goes in `tier`: the tier folder, then its path
    /// below the tier folder it is in now (or below the archive).
    pub fn destination(&self, path: &str, tier: &str) -> String {
        let mut rest = path;
        for t in self.tiers() {
            if let Some(r) = path.strip_prefix(t).and_then(|r| r.strip_prefix('/')) {
                rest = r;
                break;
            }
        }
        format!("{tier}/{rest}")
    }

    /// The decision for one recording on day `today` (days since 1970, UTC).
    pub fn decide(
        &self,
        f: &Facts,
        today: i64,
        token: &mut dyn FnMut(&TokenSel) -> bool,
    ) -> Decision {
        if !f.verified {
            return Decision {
                verdict: Verdict::Unverified,
                rule: None,
                until: None,
                why: "not verified OK at indexing: kept, nothing decided".into(),
            };
        }
        let selected: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| Self::selects(r, f, today, token))
            .collect();
        // Retention candidates, in order: the rules selected, the default when none
        // was, the recording's own. The latest date wins; indefinite beats any date;
        // on a tie the first.
        let mut cands: Vec<(String, Until, String)> = Vec::new();
        let keep = |name: &str, a: &Action| -> Option<(String, Until, String)> {
            Some(match a {
                Action::KeepDays(n) => match f.started_ms {
                    Some(s) => (
                        name.to_string(),
                        Until::Day(day_of_ms(s) + *n as i64),
                        format!("keep {n} days"),
                    ),
                    None => (
                        name.to_string(),
                        Until::Indefinite,
                        format!("keep {n} days, but no start time to count from"),
                    ),
                },
                Action::KeepUntil(d) => (
                    name.to_string(),
                    Until::Day(*d),
                    format!("keep until {}", format_day(*d)),
                ),
                Action::MoveTo(_) => return None,
            })
        };
        for r in &selected {
            cands.extend(keep(&r.name, &r.action));
        }
        // The default fills in what no rule selected gives: a retention when no keep
        // rule selected the recording, a tier when no move rule did.
        let kept_by_rule = !cands.is_empty();
        if !kept_by_rule {
            if let Some(d) = &self.default {
                cands.extend(keep("default", d));
            }
        }
        match f.own {
            Own::Unspecified => {}
            Own::Until(d) => cands.push((
                "recording".into(),
                Until::Day(d),
                format!("its own retention, until {}", format_day(d)),
            )),
            Own::Days(n) => cands.push((
                "recording".into(),
                Until::Indefinite,
                format!("its own retention of {n} days, but no start time to count from"),
            )),
            Own::Indefinite => cands.push((
                "recording".into(),
                Until::Indefinite,
                "its own retention: indefinitely".into(),
            )),
        }
        let mut best: Option<&(String, Until, String)> = None;
        for c in &cands {
            if best.is_none_or(|b| c.1 > b.1) {
                best = Some(c);
            }
        }
        let mover = selected
            .iter()
            .find_map(|r| match &r.action {
                Action::MoveTo(t) => Some((r.name.clone(), t.clone())),
                _ => None,
            })
            .or_else(|| match &self.default {
                Some(Action::MoveTo(t)) => Some(("default".into(), t.clone())),
                _ => None,
            });
        let (rule, until, why) = match best {
            Some((n, u, w)) => (Some(n.clone()), Some(*u), w.clone()),
            None => (
                None,
                None,
                "no rule gives a retention and the recording has none: kept".into(),
            ),
        };
        if f.legal_hold {
            return Decision {
                verdict: Verdict::Hold,
                rule,
                until,
                why: format!("under legal hold: neither deleted nor moved ({why})"),
            };
        }
        if let Some(Until::Day(d)) = until {
            if today > d {
                return Decision {
                    verdict: Verdict::Delete,
                    rule,
                    until,
                    why: format!("{why}: expired"),
                };
            }
        }
        if let Some((name, tier)) = mover {
            let dest = self.destination(&f.path, &tier);
            if dest != f.path {
                return Decision {
                    verdict: Verdict::Move(dest),
                    rule: Some(name),
                    until,
                    why: format!("move to {tier} (retention: {why})"),
                };
            }
        }
        Decision {
            verdict: Verdict::Keep,
            rule,
            until,
            why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> PolicyError {
        Policy::parse(text).expect_err(text)
    }

    #[test]
    fn dates_are_strict_and_round_trip() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29"), Some(19782));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "２024-01-01",
            "2024-00-10",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        for d in [-719468, -1, 0, 19782, 2_932_896] {
            assert_eq!(parse_date(&format_day(d)), Some(d), "{d}");
        }
    }

    #[test]
    fn bad_policies_are_refused_with_their_place() {
        // (text, line, column, words in the reason)
        let cases: &[(&str, usize, usize, &str)] = &[
            ("version = 1\n[[rule]]\nname = \"a\"\ntag = \"x\"\nkeep_dayz = 3\n", 5, 1, "unknown field"),
            ("version = 2\n", 1, 11, "version 2"),
            ("version = 1\n[[rule]]\nname = \"a\"\nkeep_days = 3\n", 2, 1, "no selector"),
            ("version = 1\n[[rule]]\nname = \"a\"\ntag = \"x\"\n", 2, 1, "exactly one"),
            ("version = 1\n[[rule]]\nname = \"a\"\ntag = \"x\"\nkeep_days = 0\n", 2, 1, "1 to 36500"),
            ("version = 1\n[[rule]]\nname = \"a\"\ntag = \"x\"\nkeep_until = \"2026-02-30\"\n", 2, 1, "not a date"),
            ("version = 1\n[[rule]]\nname = \"a\"\ntag = \"x\"\nmove_to = \"../out\"\n", 2, 1, "inside the archive"),
            ("version = 1\n[[rule]]\nname = \"a\"\ntag = \"x\"\nmove_to = \"/abs\"\n", 2, 1, "inside the archive"),
            ("version = 1\n[[rule]]\nname = \"a\"\nmin_duration_s = 9\nmax_duration_s = 3\nkeep_days = 1\n", 2, 1, "selects nothing"),
            ("version = 1\n[[rule]]\nname = \"a\"\nscore_below = 120.0\nkeep_days = 1\n", 2, 1, "percentage"),
            ("version = 1\n[[rule]]\nname = \"a\"\nattribute = \"k\"\nkeep_days = 1\n", 2, 1, "KEY=VALUE"),
            ("version = 1\n[[rule]]\nname = \"a\"\ntag = \"x\"\nkeep_days = 1\n[[rule]]\nname = \"a\"\ntag = \"y\"\nkeep_days = 1\n", 6, 1, "second rule"),
            ("version = 1\n[default]\nkeep_days = 1\nmove_to = \"x\"\n", 2, 1, "exactly one"),
            ("version = 1\ntag = \"x\"\n", 2, 1, "unknown field"),
            ("version = 1\nversion = 1\n", 2, 1, "duplicate"),
            ("version = 1\n[[rule]]\nname = \"a\"\ntag = \"x\"\nkeep_days = -4\n", 5, 13, "invalid value"),
        ];
        for (text, line, column, words) in cases {
            let e = err(text);
            assert_eq!((e.line, e.column), (*line, *column), "{text}: {e}");
            assert!(e.reason.contains(words), "{text}: {e}");
        }
    }

    fn facts(started: &str, own: Own) -> Facts {
        Facts {
            verified: true,
            legal_hold: false,
            started_ms: parse_date(started).map(|d| d * 86_400_000 + 3_600_000),
            duration_ms: Some(60_000),
            score_bp: Some(4000),
            own,
            path: "2020/a.sasf".into(),
        }
    }

    #[test]
    fn the_longest_retention_wins_and_a_hold_overrides_every_rule() {
        let p = Policy::parse(
            "version = 1\n\
             [[rule]]\nname = \"short\"\ntag = \"t\"\nkeep_days = 10\n\
             [[rule]]\nname = \"long\"\nscore_below = 50\nkeep_until = \"2021-06-30\"\n\
             [[rule]]\nname = \"cold\"\nolder_than_days = 30\nmove_to = \"cold\"\n\
             [default]\nkeep_days = 5\n",
        )
        .unwrap();
        let day = |s: &str| parse_date(s).unwrap();
        let yes = &mut |_: &TokenSel| true;
        let no = &mut |_: &TokenSel| false;
        // (facts, today, tags match, verdict, rule, until)
        let f0 = facts("2020-01-01", Own::Unspecified);
        let d = p.decide(&f0, day("2021-07-01"), yes);
        assert_eq!(
            (d.verdict, d.rule.as_deref()),
            (Verdict::Delete, Some("long"))
        );
        assert_eq!(d.until, Some(Until::Day(day("2021-06-30"))));
        let d = p.decide(&f0, day("2021-06-30"), yes);
        assert_eq!(d.verdict, Verdict::Move("cold/2020/a.sasf".into()));
        // Its own retention is one more candidate: the longest wins.
        let f1 = facts("2020-01-01", Own::Until(day("2030-01-01")));
        let d = p.decide(&f1, day("2029-01-01"), yes);
        assert_eq!(d.until, Some(Until::Day(day("2030-01-01"))));
        assert!(
            d.why.contains("its own retention, until 2030-01-01"),
            "{d:?}"
        );
        let d = p.decide(&f1, day("2029-01-01"), no);
        assert_eq!(
            (d.verdict, d.rule.as_deref()),
            (Verdict::Move("cold/2020/a.sasf".into()), Some("cold"))
        );
        let f2 = facts("2020-01-01", Own::Indefinite);
        assert_eq!(
            p.decide(&f2, day("2100-01-01"), yes).until,
            Some(Until::Indefinite)
        );
        // No rule selected: the default (started 2020-01-01, 5 days).
        let mut f3 = facts("2020-01-01", Own::Unspecified);
        f3.score_bp = None;
        let d = p.decide(&f3, day("2020-01-10"), no);
        assert_eq!(
            (d.verdict, d.rule.as_deref()),
            (Verdict::Delete, Some("default"))
        );
        assert_eq!(d.until, Some(Until::Day(day("2020-01-06"))));
        // A hold blocks delete and move.
        let mut f4 = f0.clone();
        f4.legal_hold = true;
        assert_eq!(p.decide(&f4, day("2040-01-01"), yes).verdict, Verdict::Hold);
        // Not verified: nothing is decided.
        let mut f5 = f0.clone();
        f5.verified = false;
        assert_eq!(
            p.decide(&f5, day("2040-01-01"), yes).verdict,
            Verdict::Unverified
        );
        // Already in the tier: kept where it is.
        let mut f6 = facts("2020-01-01", Own::Until(day("2099-01-01")));
        f6.path = "cold/2020/a.sasf".into();
        assert_eq!(p.decide(&f6, day("2021-01-01"), yes).verdict, Verdict::Keep);
        // No start time: keep-days rules cannot expire it.
        let mut f7 = f3.clone();
        f7.started_ms = None;
        let d = p.decide(&f7, day("2099-01-01"), no);
        assert_eq!(
            (d.verdict, d.until),
            (Verdict::Keep, Some(Until::Indefinite))
        );
    }

    #[test]
    fn own_retention_reads_what_the_catalog_stores() {
        assert_eq!(Own::from_catalog(None), Some(Own::Unspecified));
        assert_eq!(Own::from_catalog(Some("indefinite")), Some(Own::Indefinite));
        assert_eq!(Own::from_catalog(Some("days:30")), Some(Own::Days(30)));
        assert_eq!(
            Own::from_catalog(Some("until:1970-01-02")),
            Some(Own::Until(1))
        );
        assert_eq!(Own::from_catalog(Some("until:1970-13-02")), None);
        assert_eq!(Own::from_catalog(Some("forever")), None);
    }
}
