//! `sasf annotate`: build one annotation record from the options and append it to a
//! file, in place (`sasf_core::annotate`).

use std::io::Write as _;

use anyhow::{anyhow, bail, Context, Result};
use sasf_core::annotate;
use sasf_core::crypto::hex;
use sasf_core::meta::annotation::{Answers, Form, Op, Questionnaire, Record, RetentionRule};
use sasf_core::meta::parse_utc;
use sasf_core::{ErrorKind, Integrity, Keyring};

use crate::cli::AnnotateArgs;
use crate::io::{is_dash, load_keys, read_signing_key, shown, utc_ms};

/// Now as a strict UTC timestamp, to the second: `2026-11-23T10:14:50Z`.
fn now_utc() -> String {
    let t = utc_ms(crate::io::now_ms().max(1));
    format!("{}Z", &t[..19])
}

/// Reads a small JSON document given by an option.
fn read_doc(path: &std::path::Path, what: &str) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if meta.len() > annotate_limit() {
        bail!(
            "{what} {} is {} bytes, over the limit of {}",
            path.display(),
            meta.len(),
            annotate_limit()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn annotate_limit() -> u64 {
    sasf_core::meta::annotation::MAX_RECORD_LEN as u64
}

/// The op of `--retain-until DATE`, parsed as a reader parses it.
fn until_op(date: &str) -> Result<Op> {
    let doc = serde_json::json!({"by": "x", "at": "2000-01-01T00:00:00Z",
        "ops": [{"op": "retention", "until": date}]});
    let r = Record::from_json(&serde_json::to_vec(&doc)?).map_err(|e| match e.kind() {
        ErrorKind::InvalidMetadata { reason, .. } => anyhow!("--retain-until: {reason}"),
        _ => anyhow!("--retain-until: {e}"),
    })?;
    r.ops
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("internal error: no retention op"))
}

/// The record the options ask for, and for each op the option that made it. The ops
/// are in a fixed order (see `sasf annotate --help`).
fn build(a: &AnnotateArgs) -> Result<(Record, Vec<String>)> {
    let mut ops = Vec::new();
    let mut from = Vec::new();
    let mut push = |op: Op, opt: String| {
        ops.push(op);
        from.push(opt);
    };
    for t in &a.tag {
        push(Op::Tag(t.clone()), format!("--tag {t}"));
    }
    for t in &a.untag {
        push(Op::Untag(t.clone()), format!("--untag {t}"));
    }
    for kv in &a.attr {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow!("--attr {kv:?}: expected KEY=VALUE"))?;
        push(
            Op::Attr {
                key: k.to_string(),
                value: v.to_string(),
            },
            format!("--attr {kv}"),
        );
    }
    for k in &a.unattr {
        push(Op::Unattr(k.clone()), format!("--unattr {k}"));
    }
    for l in &a.label {
        push(Op::Label(l.clone()), format!("--label {l}"));
    }
    for l in &a.unlabel {
        push(Op::Unlabel(l.clone()), format!("--unlabel {l}"));
    }
    if let (Some(fp), Some(ap)) = (&a.questionnaire, &a.answers) {
        let form = Form::from_json(&read_doc(fp, "form")?)
            .with_context(|| format!("form {}", fp.display()))?;
        let answers = Answers::from_json(&read_doc(ap, "answers")?, &form)
            .with_context(|| format!("answers {}", ap.display()))?;
        let q = Questionnaire::new(form, answers)
            .with_context(|| format!("answers {}", ap.display()))?;
        push(
            Op::Questionnaire(Box::new(q)),
            format!("--questionnaire {}", fp.display()),
        );
    }
    if let Some(d) = a.retention_days {
        push(
            Op::Retention(RetentionRule::Days(d)),
            format!("--retention-days {d}"),
        );
    }
    if let Some(u) = &a.retain_until {
        push(until_op(u)?, format!("--retain-until {u}"));
    }
    if let Some(c) = &a.legal_hold {
        push(Op::Hold(c.clone()), format!("--legal-hold {c}"));
    }
    if let Some(c) = &a.release_hold {
        push(Op::Release(c.clone()), format!("--release-hold {c}"));
    }
    if ops.is_empty() {
        bail!(
            "nothing to annotate: give at least one of --tag, --untag, --attr, --unattr, \
             --label, --unlabel, --questionnaire, --retention-days, --retain-until, \
             --legal-hold, --release-hold"
        );
    }
    let at = match &a.at {
        Some(t) => {
            parse_utc(t).map_err(|e| anyhow!("--at: {e}"))?;
            t.clone()
        }
        None => now_utc(),
    };
    let record = Record {
        by: a.by.clone(),
        at,
        ops,
        note: a.note.clone(),
    };
    Ok((record, from))
}

/// An invalid-metadata error at `ops[i]…` told in terms of the option that made op i.
fn explain(e: sasf_core::Error, from: &[String]) -> anyhow::Error {
    if let ErrorKind::InvalidMetadata { path, reason } = e.kind() {
        let opt = match path.as_str() {
            "by" => Some("--by".to_string()),
            "at" => Some("--at".to_string()),
            "note" => Some("--note".to_string()),
            p => p
                .strip_prefix("ops[")
                .and_then(|r| r.split(']').next())
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| from.get(i).cloned()),
        };
        if let Some(o) = opt {
            return anyhow!("{o}: {reason} (at {path})");
        }
    }
    anyhow::Error::new(e)
}

/// `questionnaire ID vN: 85.00% (pass)` for a computed result.
pub fn questionnaire_line(q: &Questionnaire) -> String {
    let r = &q.result;
    let mut s = format!(
        "questionnaire {} v{}: {} ({}",
        q.form.id,
        q.form.version,
        super::history::percent(r.percent_bp),
        if r.pass { "pass" } else { "fail" }
    );
    if !r.critical_failed.is_empty() {
        s.push_str(&format!(
            ", critical failed: {}",
            r.critical_failed.join(",")
        ));
    }
    s.push(')');
    s
}

pub fn run(a: &AnnotateArgs) -> Result<()> {
    if is_dash(&a.file) {
        bail!("an annotation is appended in place: give a file, not -");
    }
    let name = shown(&a.file);
    let keys = load_keys(&a.key)?;
    let signer = a
        .signing_key
        .as_ref()
        .map(|p| read_signing_key(p, a.key.allow_loose_permissions))
        .transpose()?;
    let (record, from) = build(a)?;
    record.validate().map_err(|e| explain(e, &from))?;
    // Opened as every reading command opens it (--require, --expect-id, --signer),
    // and checked against the current state, before the append takes the lock (which
    // checks again).
    let opened = super::history::open_segments(&a.file, &keys, &a.key)?;
    if let Some(at) = opened.segments.incomplete_at {
        bail!(
            "{name}: the file ends with an incomplete annotation segment at byte {at} (a torn \
             append); `sasf recover {name} --in-place` trims it"
        );
    }
    annotate::state(&opened.segments)
        .and_then(|s| s.check_new(&record))
        .map_err(|e| explain(e, &from).context(name.clone()))?;
    // A keyless file is appended to without a key (one given with --require any is
    // not the file's).
    let empty = Keyring::new();
    let ring = if opened.level == Integrity::Keyless {
        &empty
    } else {
        &keys.ring
    };
    // The lock is taken by the append, which checks the file again under it, with the
    // same --require and --expect-id (a file swapped in meanwhile meets them or fails).
    let policy = annotate::Policy {
        require: a.key.require.map(Into::into),
        expect: a
            .key
            .expect_id
            .as_ref()
            .map(|id| sasf_core::Context::new(id.clone(), a.key.expect_tenant.as_deref()))
            .transpose()?,
    };
    let done = annotate::append_with_policy(&a.file, ring, &record, signer.as_ref(), &policy)
        .map_err(|e| explain(e, &from).context(name.clone()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "annotated {name}: segment {} ({} bytes appended), chain head {}",
        done.number,
        done.len,
        hex(&done.head)
    )?;
    for op in &record.ops {
        if let Op::Questionnaire(q) = op {
            writeln!(out, "{}", questionnaire_line(q))?;
        }
    }
    Ok(())
}
