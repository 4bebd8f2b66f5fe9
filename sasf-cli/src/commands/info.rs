//! `sasf info`: header, totals, participants and the timeline.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use sasf_core::bridge::{read_all_partial, Contents, Partial};
use sasf_core::error::format_time;
use sasf_core::labels::{details, who};
use sasf_core::meta::sample_to_ms;
use sasf_core::{Decoder, Header, KeySection};
use serde_json::{json, Value};

use crate::cli::KeyArgs;
use crate::io::{escape_controls, load_keys, open_input, shown};

/// The schema of `info --json` (`docs/schemas/info.schema.json`).
pub const SCHEMA: &str = "sasf.info/1";

fn retention(days: u32) -> String {
    match days {
        0 => "unspecified".into(),
        u32::MAX => "indefinite (legal hold)".into(),
        d => format!("{d} days"),
    }
}

fn header_json(h: &Header) -> Value {
    json!({
        "format_version": sasf_core::format::VERSION,
        "integrity": h.integrity.name(),
        "encoding": h.format.encoding.name(),
        "channels": h.format.channels,
        "sample_rate": h.format.sample_rate,
        "max_chunk_len": h.max_chunk_len,
        "retention_days": h.retention_days,
        "duration_class": h.duration_class.name(),
    })
}

fn text(name: &str, h: &Header, c: &Contents, audio_sha256: &str) -> String {
    let f = h.format;
    let t = &c.totals;
    let m = &c.metadata;
    let mut s = String::new();
    let _ = writeln!(s, "file:          {name}");
    let _ = writeln!(
        s,
        "format:        SASF version {}",
        sasf_core::format::VERSION
    );
    let _ = writeln!(s, "integrity:     {}", h.integrity.name());
    let _ = writeln!(
        s,
        "status:        {}",
        if t.recovered() {
            "verified, RECOVERED from a damaged file"
        } else {
            "verified"
        }
    );
    let _ = writeln!(
        s,
        "audio:         {}, {} channel(s), {} Hz",
        f.encoding.describe(),
        f.channels,
        f.sample_rate
    );
    let _ = writeln!(
        s,
        "duration:      {} ({} samples)",
        format_time(t.samples, f.sample_rate),
        t.samples
    );
    let _ = writeln!(s, "audio sha256:  {audio_sha256}");
    let _ = writeln!(
        s,
        "chunks:        {} ({} index)",
        t.chunks + 1,
        c.index_chunks
    );
    let _ = writeln!(s, "retention:     {}", retention(h.retention_days));
    let r = &m.recording;
    if let Some(id) = &r.id {
        let _ = writeln!(s, "recording id:  {id}");
    }
    if let Some(at) = &r.started_at {
        let _ = writeln!(s, "started at:    {at}");
    }
    if !r.channels.is_empty() {
        let map: Vec<String> = r
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{i}={c}"))
            .collect();
        let _ = writeln!(s, "channel map:   {}", map.join(" "));
    }
    let _ = writeln!(s, "\nparticipants:  {}", m.participants.len());
    for p in &m.participants {
        let chans: Vec<String> = p.channels.iter().map(u16::to_string).collect();
        let _ = writeln!(
            s,
            "  {:<8} {:<20} {:<10} {:<24} channels {}",
            p.id,
            p.name.as_deref().unwrap_or("-"),
            p.role.name(),
            p.address.as_deref().unwrap_or("-"),
            if chans.is_empty() {
                "-".to_string()
            } else {
                chans.join(",")
            }
        );
    }
    let _ = writeln!(s, "\ntimeline:      {} event(s)", m.events.len());
    if !m.events.is_empty() {
        let _ = writeln!(s, "  {:<13} {:<14} {:<24} DETAILS", "TIME", "EVENT", "WHO");
        let people = m.participant_map();
        for e in &m.events {
            let _ = writeln!(
                s,
                "  {:<13} {:<14} {:<24} {}",
                format_time(e.at_sample, f.sample_rate),
                e.kind.type_name(),
                who(&people, e.participant.as_ref()),
                details(&e.kind)
            );
        }
    }
    if !m.annotations.is_empty() {
        let _ = writeln!(s, "\nannotations:   {}", m.annotations.len());
        for a in &m.annotations {
            let _ = writeln!(
                s,
                "  {:<13} {}",
                format_time(a.at_sample, f.sample_rate),
                Value::Object(a.fields.clone())
            );
        }
    }
    s
}

/// The recipients and signatures of a key section, briefly.
fn access_text(section: Option<&KeySection>) -> String {
    let Some(k) = section else {
        return "recipients:    (key area damaged; see sasf keys list)\n".into();
    };
    let mut s = String::new();
    let r: Vec<String> = k
        .recipients
        .iter()
        .map(|r| format!("{} {}", r.kind_name(false), r.id()))
        .collect();
    let _ = writeln!(s, "recipients:    {}{}", r.len(), list(&r));
    let g: Vec<String> = k
        .signatures
        .iter()
        .map(|g| format!("{} {}", g.kind_name(true), super::keys::signer_id(g)))
        .collect();
    let _ = writeln!(s, "signatures:    {}{}", g.len(), list(&g));
    s
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!(" ({})", v.join(", "))
    }
}

fn access_json(section: Option<&KeySection>) -> Value {
    match section {
        None => Value::Null,
        Some(k) => json!({
            "recipients": k.recipients.iter().map(|r| json!({"kind": r.kind_name(false), "id": r.id()})).collect::<Vec<_>>(),
            "signatures": k.signatures.iter().map(|g| json!({"kind": g.kind_name(true), "signer_id": super::keys::signer_id(g)})).collect::<Vec<_>>(),
        }),
    }
}

pub fn run(file: &Path, json_out: bool, key_args: &KeyArgs) -> Result<()> {
    let keys = load_keys(key_args)?;
    let name = shown(file);
    let d = Decoder::new(open_input(file)?).with_context(|| name.clone())?;
    let header = d.header().clone();
    let section = d.key_section().cloned();
    let access = access_text(section.as_ref());
    let access_j = access_json(section.as_ref());
    let asked = key_args.expect_id.is_some()
        || key_args
            .require
            .is_some_and(|r| r != crate::cli::RequireArg::Any);
    if header.integrity.needs_key() && keys.ring.is_empty() && asked {
        // A requirement or an expected context cannot be checked without the key.
        return Err(
            anyhow::Error::new(sasf_core::Error::new(sasf_core::ErrorKind::KeyRequired))
                .context(name),
        );
    }
    if header.integrity.needs_key() && keys.ring.is_empty() {
        // Only the public header can be shown, and it is not authenticated yet.
        let doc = if json_out {
            format!(
                "{}\n",
                serde_json::to_string_pretty(
                    &json!({"schema": SCHEMA, "file": name, "header": header_json(&header),
                    "access": access_j, "verified": false, "note": "content needs a key"})
                )?
            )
        } else {
            let mut s = String::new();
            let _ = writeln!(s, "file:          {name}");
            let _ = writeln!(
                s,
                "format:        SASF version {}",
                sasf_core::format::VERSION
            );
            let _ = writeln!(s, "integrity:     {}", header.integrity.name());
            let _ = writeln!(
                s,
                "audio:         {}, {} channel(s), {} Hz",
                header.format.encoding.describe(),
                header.format.channels,
                header.format.sample_rate
            );
            let _ = writeln!(s, "duration:      class {}", header.duration_class.name());
            let _ = writeln!(s, "retention:     {}", retention(header.retention_days));
            s.push_str(&access);
            let _ = writeln!(s, "status:        not verified: the content needs a key (--key-file, -i, or SASF_KEY_FILE)");
            s
        };
        // An error (a closed stdout) goes up, and main turns a broken pipe into exit 0.
        std::io::stdout().lock().write_all(doc.as_bytes())?;
        return Ok(());
    }
    let mut r = match crate::io::policy(d, key_args, &keys)?.open_with(&keys.ring) {
        Ok(r) => r,
        // Damage found while opening (the header, the key area, chunk 0): reported
        // like damage further on, with nothing authenticated.
        Err(e)
            if matches!(
                e.class(),
                "auth-failed" | "malformed" | "malformed-header" | "truncated" | "limit-exceeded"
            ) =>
        {
            let none = Partial::default();
            return damaged(&name, &header, &access, access_j, (0, 0), none, e, json_out);
        }
        Err(e) => return Err(anyhow::Error::new(e).context(name)),
    };
    // The audio content hash: SHA-256 of every frame as stored (FORMAT.md §7.2).
    let mut audio_hash = <sha2::Sha256 as sha2::Digest>::new();
    let c = match read_all_partial(&mut r, super::MAX_RECORDS, |a| {
        sha2::Digest::update(&mut audio_hash, a);
        Ok(())
    }) {
        Ok(c) => c,
        Err(failed) => {
            let (partial, e) = *failed;
            let done = (r.chunks(), r.samples());
            return damaged(
                &name, &header, &access, access_j, done, partial, e, json_out,
            );
        }
    };
    let audio_sha256 = sasf_core::crypto::hex(&sha2::Digest::finalize(audio_hash));
    // The current annotation state, when segments were appended (or one was torn).
    let anno = match r.segments() {
        Some(segs) if !segs.list.is_empty() || segs.incomplete_at.is_some() => Some(
            super::history::state_report(
                segs,
                header.integrity,
                &c.metadata.recording,
                header.retention_days,
            )
            .with_context(|| name.clone())?,
        ),
        _ => None,
    };
    if json_out {
        let t = &c.totals;
        let rate = header.format.sample_rate;
        let doc = json!({
            "schema": SCHEMA,
            "file": name,
            "header": header_json(&header),
            "access": access_j,
            "signatures_checked": crate::commands::verify::signatures_json(r.signatures()),
            "verified": true,
            "recovered": t.recovered(),
            "duration": format_time(t.samples, rate),
            "duration_ms": sample_to_ms(t.samples, rate),
            "samples": t.samples,
            "audio_bytes": t.audio_bytes,
            "audio_sha256": audio_sha256,
            "chunks": t.chunks + 1,
            "index_chunks": c.index_chunks,
            "manifest": t.manifest.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "file_digest": r.file_digest().map(|d| d.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            "metadata": c.metadata.to_json(rate),
        });
        let mut doc = doc;
        if let Some((_, j)) = &anno {
            doc["annotation_state"] = j.clone();
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        // Strings from the file are shown escaped: they cannot drive the terminal.
        let mut t = text(&name, &header, &c, &audio_sha256);
        // After the integrity line.
        let at = t.find("status:").unwrap_or(t.len());
        t.insert_str(at, &access);
        if let Some((a, _)) = &anno {
            t.push_str(a);
        }
        std::io::stdout()
            .lock()
            .write_all(escape_controls(&t).as_bytes())?;
    }
    Ok(())
}

/// `info` on a file that fails part-way: what was authenticated before the damage (the
/// header, the recording information, participants and events up to it, how much
/// audio), the status FAILED or TRUNCATED, and the error; `--json` gives the same with
/// an `errors` array. Exits as `verify` would (1 for a verification failure).
#[allow(clippy::too_many_arguments)]
fn damaged(
    name: &str,
    header: &Header,
    access: &str,
    access_j: serde_json::Value,
    (chunks, samples): (u64, u64),
    partial: Partial,
    e: sasf_core::Error,
    json_out: bool,
) -> Result<()> {
    let rate = header.format.sample_rate;
    let truncated = e.class() == "truncated";
    let status = if truncated { "TRUNCATED" } else { "FAILED" };
    let keyed = header.integrity.needs_key();
    if json_out {
        let mut err = json!({"class": e.class(), "message": e.to_string()});
        crate::commands::verify::locate(&mut err, &e);
        let doc = json!({
            "schema": SCHEMA,
            "file": name,
            "header": header_json(header),
            "access": access_j,
            "verified": false,
            "status": status.to_lowercase(),
            "errors": [err],
            "authenticated": {
                "chunks": chunks,
                "samples": samples,
                "duration": format_time(samples, rate),
                "index_chunks": partial.index_chunks,
                // A keyless file is checked for corruption only: anyone can forge it.
                "by_key": keyed,
            },
            "metadata": partial.metadata.to_json(rate),
        });
        writeln!(
            std::io::stdout().lock(),
            "{}",
            serde_json::to_string_pretty(&doc)?
        )?;
    } else {
        let m = &partial.metadata;
        let mut s = String::new();
        let _ = writeln!(s, "file:          {name}");
        let _ = writeln!(
            s,
            "format:        SASF version {}",
            sasf_core::format::VERSION
        );
        let _ = writeln!(s, "integrity:     {}", header.integrity.name());
        s.push_str(access);
        let _ = writeln!(s, "status:        {status}: {e}");
        let _ = writeln!(
            s,
            "{} {} ({samples} samples) in {chunks} chunks, before the damage",
            if keyed {
                "authenticated:"
            } else {
                "checked:      "
            },
            format_time(samples, rate),
        );
        if !keyed {
            let _ = writeln!(
                s,
                "               (keyless: checked for corruption only, not authenticated)"
            );
        }
        let f = header.format;
        let _ = writeln!(
            s,
            "audio:         {}, {} channel(s), {} Hz",
            f.encoding.describe(),
            f.channels,
            f.sample_rate
        );
        if let Some(id) = &m.recording.id {
            let _ = writeln!(s, "recording id:  {id}");
        }
        if let Some(t) = &m.recording.started_at {
            let _ = writeln!(s, "started at:    {t}");
        }
        let so_far = if keyed {
            "authenticated so far"
        } else {
            "checked so far"
        };
        let _ = writeln!(s, "participants:  {} ({so_far})", m.participants.len());
        for p in &m.participants {
            let _ = writeln!(s, "  {:<12} {:?}", p.id, p.role);
        }
        let _ = writeln!(s, "events:        {} ({so_far})", m.events.len());
        for ev in &m.events {
            let _ = writeln!(
                s,
                "  {:<13} {}",
                format_time(ev.at_sample, rate),
                ev.kind.type_name()
            );
        }
        std::io::stdout()
            .lock()
            .write_all(escape_controls(&s).as_bytes())?;
    }
    Err(anyhow::Error::new(e).context(name.to_string()))
}
