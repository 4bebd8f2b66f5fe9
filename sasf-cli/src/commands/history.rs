//! `sasf history`: a file's annotation segments, one entry each; and what `annotate`,
//! `info`, `verify` and `extract` share about segments.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sasf_core::crypto::hex;
use sasf_core::io::segments::{Segment, Segments};
use sasf_core::meta::annotation::{Op, Record, Retention, RetentionRule, State};
use sasf_core::meta::RecordingInfo;
use sasf_core::{Decoder, Integrity, VerifyingKey};
use serde_json::{json, Value};

use crate::cli::KeyArgs;
use crate::io::{escape_controls, is_dash, load_keys, policy, shown, Keys};

/// A file opened for its segments.
pub struct Opened {
    /// Its integrity level.
    pub level: Integrity,
    /// Its segments, every complete one verified.
    pub segments: Segments,
}

/// Opens `path` under the policy of `args` and reads its segments: a regular file by
/// random access (the recording's structure and every segment are verified, not its
/// audio), stdin by reading it to its end.
pub fn open_segments(path: &Path, keys: &Keys, args: &KeyArgs) -> Result<Opened> {
    let name = shown(path);
    if is_dash(path) {
        let mut r = super::open_sasf(path, keys, args)?;
        r.verify_to_end().with_context(|| name.clone())?;
        let segments = r
            .segments()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("internal error: no segments after the end"))?;
        return Ok(Opened {
            level: r.header().integrity,
            segments,
        });
    }
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let ra = policy(Decoder::new(f).with_context(|| name.clone())?, args, keys)?
        .open_with(&keys.ring)
        .and_then(|r| r.into_random_access())
        .with_context(|| name.clone())?;
    Ok(Opened {
        level: ra.header().integrity,
        segments: ra.segments().clone(),
    })
}

/// Basis points as a percentage: `85.00%`.
pub fn percent(bp: u32) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

/// One op, briefly: `+tag escalated`, `attr queue=billing`, `hold CASE-7`, …
pub fn op_summary(op: &Op) -> String {
    match op {
        Op::Tag(t) => format!("+tag {t}"),
        Op::Untag(t) => format!("-tag {t}"),
        Op::Attr { key, value } => format!("attr {key}={value}"),
        Op::Unattr(k) => format!("-attr {k}"),
        Op::Label(l) => format!("+label {l}"),
        Op::Unlabel(l) => format!("-label {l}"),
        Op::Questionnaire(q) => {
            let r = &q.result;
            let mut s = format!(
                "questionnaire {} v{} {} {}",
                q.form.id,
                q.form.version,
                percent(r.percent_bp),
                if r.pass { "pass" } else { "fail" }
            );
            if !r.critical_failed.is_empty() {
                let _ = write!(s, " (critical failed: {})", r.critical_failed.join(","));
            }
            s
        }
        Op::Retention(RetentionRule::Days(d)) => format!("retention {d} days"),
        Op::Retention(RetentionRule::Until(d)) => format!("retention until {d}"),
        Op::Hold(c) => format!("hold {c}"),
        Op::Release(c) => format!("release {c}"),
    }
}

/// Whether a segment's signature is valid and by one of `trusted`.
fn trusted_signature(s: &Segment, trusted: &[VerifyingKey]) -> bool {
    s.signature
        .as_ref()
        .is_some_and(|g| g.valid && trusted.iter().any(|t| t.to_bytes() == g.public_key))
}

/// A segment's signature: `signed by ID (valid, trusted)`, `signed by ID (valid, not
/// a trusted annotator)`, `INVALID signature (claims ID)`, `unsigned`.
fn signature_text(s: &Segment, trusted: &[VerifyingKey]) -> String {
    match &s.signature {
        None => "unsigned".into(),
        Some(g) if g.valid && trusted_signature(s, trusted) => {
            format!("signed by {} (valid, trusted annotator)", g.signer_hex())
        }
        Some(g) if g.valid => format!(
            "signed by {} (valid, not a trusted annotator: --annotator)",
            g.signer_hex()
        ),
        Some(g) => format!("INVALID signature (claims {})", g.signer_hex()),
    }
}

/// Whether a segment is authenticated: above the keyless level always (sealed under
/// the file's key, which only its recipients hold); at the keyless level only when
/// validly signed by a trusted annotator (anyone can append and sign a keyless
/// segment with a key of their own).
pub fn authenticated(level: Integrity, s: &Segment, trusted: &[VerifyingKey]) -> bool {
    level != Integrity::Keyless || trusted_signature(s, trusted)
}

/// The warning line for a torn append.
pub fn torn_line(at: u64) -> String {
    format!("incomplete annotation segment at byte {at} (a torn append; sasf recover trims it)")
}

/// The effective retention, briefly, and as JSON.
pub fn retention_text(r: &Retention) -> (String, Value) {
    match r {
        Retention::Held { cases } => (
            format!("held (legal hold: {})", cases.join(", ")),
            json!({"held": cases}),
        ),
        Retention::Until(d) => (format!("until {d}"), json!({"until": d.to_string()})),
        Retention::Days(n) => (
            format!("{n} days from the start (not stated)"),
            json!({"days": n}),
        ),
        Retention::Indefinite => ("indefinite".into(), json!("indefinite")),
        Retention::Unspecified => ("unspecified".into(), json!("unspecified")),
    }
}

/// What `info` shows of the annotations: a text block and a JSON object.
pub fn state_report(
    segs: &Segments,
    level: Integrity,
    info: &RecordingInfo,
    header_days: u32,
) -> Result<(String, Value)> {
    let st: State = sasf_core::annotate::state(segs)?;
    let eff = st.effective_retention(info.started_at_utc(), header_days);
    let (eff_text, eff_json) = retention_text(&eff);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nannotations:   {} segment(s), chain head {}",
        segs.list.len(),
        hex(&segs.head)
    );
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let _ = writeln!(
        s,
        "  tags:        {}",
        join(st.tags.iter().cloned().collect())
    );
    let _ = writeln!(
        s,
        "  attributes:  {}",
        join(
            st.attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        )
    );
    let _ = writeln!(
        s,
        "  labels:      {}",
        join(st.labels.iter().cloned().collect())
    );
    let _ = writeln!(
        s,
        "  legal holds: {}",
        join(
            st.holds
                .iter()
                .map(|(c, p)| format!("{c} (segment {}, by {} at {})", p.segment, p.by, p.at))
                .collect()
        )
    );
    for (id, q) in &st.questionnaires {
        let r = &q.result;
        let mut line = format!(
            "  questionnaire {id} v{}: {} {}",
            q.form.version,
            percent(r.percent_bp),
            if r.pass { "pass" } else { "fail" }
        );
        if !r.critical_failed.is_empty() {
            let _ = write!(line, " (critical failed: {})", r.critical_failed.join(","));
        }
        let _ = writeln!(
            s,
            "{line} (segment {}, by {} at {})",
            q.stamp.segment, q.stamp.by, q.stamp.at
        );
    }
    let _ = writeln!(s, "  retention:   {eff_text}");
    let unauthenticated = level == Integrity::Keyless && !segs.list.is_empty();
    if unauthenticated {
        let _ = writeln!(
            s,
            "  warning:     keyless file: anyone can append, so this state is unauthenticated (sasf history --annotator shows which segments a trusted annotator signed)"
        );
    }
    if let Some(at) = segs.incomplete_at {
        let _ = writeln!(s, "  warning:     {}", torn_line(at));
    }
    let doc = json!({
        "segments": segs.list.len(),
        "chain_head": hex(&segs.head),
        "incomplete_segment_at": segs.incomplete_at,
        "state": st.to_json(),
        "effective_retention": eff_json,
        "authenticated": !unauthenticated,
    });
    Ok((s, doc))
}

pub fn run(file: &Path, json_out: bool, annotators: &[PathBuf], key_args: &KeyArgs) -> Result<()> {
    let keys = load_keys(key_args)?;
    let mut trusted = Vec::new();
    for p in annotators {
        let text = std::fs::read(p)
            .with_context(|| format!("cannot read annotator file {}", p.display()))?;
        trusted.push(
            VerifyingKey::from_pub_file(&text)
                .with_context(|| format!("annotator file {}", p.display()))?,
        );
    }
    let name = shown(file);
    let o = open_segments(file, &keys, key_args)?;
    let segs = &o.segments;
    let mut out = std::io::stdout().lock();
    if json_out {
        let list = segs
            .list
            .iter()
            .map(|s| {
                let rec: Value = serde_json::from_slice(&s.record)
                    .with_context(|| format!("{name}: segment {}", s.number))?;
                let mut e = json!({
                    "number": s.number,
                    "offset": s.offset,
                    "len": s.len,
                    "by": rec["by"],
                    "at": rec["at"],
                    "ops": rec["ops"],
                });
                if let Some(n) = rec.get("note") {
                    e["note"] = n.clone();
                }
                e["digest"] = json!(hex(&s.digest));
                e["signature"] = match &s.signature {
                    None => Value::Null,
                    Some(g) => json!({
                        "signer": g.signer_hex(),
                        "valid": g.valid,
                        "trusted": trusted_signature(s, &trusted),
                    }),
                };
                e["authenticated"] = json!(authenticated(o.level, s, &trusted));
                Ok(e)
            })
            .collect::<Result<Vec<_>>>()?;
        let doc = json!({
            "schema": "sasf.history/1",
            "file": name,
            "level": o.level.code(),
            "integrity": o.level.name(),
            "segments": list,
            "incomplete_segment_at": segs.incomplete_at,
            "chain_head": hex(&segs.head),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{name}: {} annotation segment(s), {}, chain head {}",
        segs.list.len(),
        o.level.name(),
        hex(&segs.head)
    );
    for s in &segs.list {
        let r = Record::from_json(&s.record)
            .with_context(|| format!("{name}: segment {}", s.number))?;
        let _ = writeln!(
            t,
            "segment {} at byte {}: {} by {}; {}; authenticated: {}",
            s.number,
            s.offset,
            r.at,
            r.by,
            signature_text(s, &trusted),
            if authenticated(o.level, s, &trusted) {
                "yes"
            } else {
                "no"
            }
        );
        for op in &r.ops {
            let _ = writeln!(t, "  {}", op_summary(op));
        }
        if let Some(n) = &r.note {
            let _ = writeln!(t, "  note: {n}");
        }
    }
    if let Some(at) = segs.incomplete_at {
        let _ = writeln!(t, "{}", torn_line(at));
    }
    // Strings from the file are shown escaped: they cannot drive the terminal.
    out.write_all(escape_controls(&t).as_bytes())?;
    Ok(())
}
