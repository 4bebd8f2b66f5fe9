//! `sasf keys`: list a file's recipients and signatures, and add, remove or rotate
//! recipients by rewriting only its key area, in place (`docs/FORMAT.md` §5.6).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sasf_core::access::KeyEdit;
use sasf_core::crypto::{age_slot::describe_age, hex};
use sasf_core::format::{CopyState, Stanza, STANZA_AGE};
use sasf_core::{Decoder, VerifyingKey};
use serde_json::json;

use crate::cli::{KeyArgs, NewRecipients};
use crate::io::{
    escape_controls, is_dash, load_keys, load_recipients, open_input, read_key_file, shown, utc_ms,
};

/// The signer id of a signature stanza (hex), or why there is none.
pub fn signer_id(s: &Stanza) -> String {
    if s.kind != sasf_core::format::SIGNATURE_ED25519 || s.body.len() < 40 {
        return "unknown".into();
    }
    let pk: [u8; 32] = s.body[..32].try_into().expect("32 bytes");
    VerifyingKey::from_bytes(&pk)
        .map(|k| hex(&k.id()))
        .unwrap_or_else(|_| "invalid-key".into())
}

/// When the signer says it signed (ms since the epoch; 0 when unknown).
fn signed_at(s: &Stanza) -> u64 {
    if s.kind != sasf_core::format::SIGNATURE_ED25519 || s.body.len() < 40 {
        return 0;
    }
    u64::from_be_bytes(s.body[32..40].try_into().expect("8 bytes"))
}

fn copy_text(c: &CopyState) -> String {
    match c {
        CopyState::Empty => "empty".into(),
        CopyState::Intact(g) => format!("intact, generation {g}"),
        CopyState::Damaged(why) => format!("damaged: {why}"),
    }
}

fn copy_json(c: &CopyState) -> serde_json::Value {
    match c {
        CopyState::Empty => json!({"state": "empty"}),
        CopyState::Intact(g) => json!({"state": "intact", "generation": g}),
        CopyState::Damaged(why) => json!({"state": "damaged", "reason": why}),
    }
}

const NOT_CHECKED: &str = "not checked; use sasf verify --signer";

pub fn list(file: &Path, json_out: bool) -> Result<()> {
    let name = shown(file);
    let d = Decoder::new(open_input(file)?).with_context(|| name.clone())?;
    let level = d.header().integrity;
    let area = d.into_key_area().with_context(|| name.clone())?;
    let sec = &area.section;
    let doc = if json_out {
        let recipients: Vec<_> = sec
            .recipients
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut v = json!({"index": i, "kind": r.kind_name(false), "id": r.id()});
                if r.kind == STANZA_AGE {
                    v["age"] = json!(describe_age(&r.body));
                }
                v
            })
            .collect();
        let signatures: Vec<_> = sec
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let at = signed_at(s);
                json!({"index": i, "kind": s.kind_name(true), "signer_id": signer_id(s),
                       "signed_at": (at != 0).then(|| utc_ms(at)), "valid": null, "note": NOT_CHECKED})
            })
            .collect();
        let v = json!({
            "file": name,
            "integrity": level.name(),
            "capacity": area.capacity,
            "active": if area.active == 0 { "A" } else { "B" },
            "generation": sec.generation,
            "copies": [copy_json(&area.copies[0]), copy_json(&area.copies[1])],
            "recipients": recipients,
            "signatures": signatures,
        });
        format!("{}\n", serde_json::to_string_pretty(&v)?)
    } else {
        let mut s = String::new();
        let _ = writeln!(s, "file:          {name}");
        let _ = writeln!(s, "integrity:     {}", level.name());
        let _ = writeln!(s, "key area:      {} bytes per copy", area.capacity);
        for (i, c) in area.copies.iter().enumerate() {
            let _ = writeln!(
                s,
                "copy {}:        {}{}",
                ["A", "B"][i],
                copy_text(c),
                if i == area.active { " (in force)" } else { "" }
            );
        }
        let _ = writeln!(s, "recipients:    {}", sec.recipients.len());
        for (i, r) in sec.recipients.iter().enumerate() {
            let extra = if r.kind == STANZA_AGE {
                format!("  {}", describe_age(&r.body))
            } else {
                String::new()
            };
            let _ = writeln!(s, "  {i:<3} {:<10} {}{extra}", r.kind_name(false), r.id());
        }
        let _ = writeln!(s, "signatures:    {}", sec.signatures.len());
        for (i, g) in sec.signatures.iter().enumerate() {
            let _ = writeln!(
                s,
                "  {i:<3} {:<10} signer {}  signed at {}  validity {NOT_CHECKED}",
                g.kind_name(true),
                signer_id(g),
                utc_ms(signed_at(g)),
            );
        }
        escape_controls(&s)
    };
    std::io::stdout().lock().write_all(doc.as_bytes())?;
    Ok(())
}

/// Opens `file` for a rewrite, unlocks it with the opener of `key_args`, lets `f`
/// change the section, commits, and reports.
fn edit(
    file: &Path,
    key_args: &KeyArgs,
    f: impl FnOnce(&mut KeyEdit, &mut Vec<String>) -> Result<()>,
) -> Result<()> {
    if is_dash(file) {
        bail!("the key area is rewritten in place: give a file, not -");
    }
    let name = shown(file);
    let keys = load_keys(key_args)?;
    if keys.ring.is_empty() {
        bail!("{name}: changing recipients needs a key that opens the file: give --key-file KEYFILE or -i IDENTITY");
    }
    let mut e = KeyEdit::open(file).with_context(|| name.clone())?;
    e.unlock(&keys.ring).with_context(|| name.clone())?;
    let mut done = Vec::new();
    f(&mut e, &mut done).with_context(|| name.clone())?;
    let rep = e.commit().with_context(|| name.clone())?;
    let mut out = std::io::stdout().lock();
    for d in done {
        writeln!(out, "{name}: {d}")?;
    }
    writeln!(
        out,
        "{name}: key area rewritten in place: {} bytes written, generation {}, {} recipient(s), {} signature(s)",
        rep.bytes_written, rep.generation, rep.recipients, rep.signatures
    )?;
    Ok(())
}

/// Adds every new recipient of `new`.
fn add_new(
    e: &mut KeyEdit,
    new: &NewRecipients,
    loose: bool,
    done: &mut Vec<String>,
) -> Result<()> {
    let public = load_recipients(&new.public)?;
    let mut keys = Vec::new();
    for p in &new.add_key_file {
        keys.push(read_key_file(p, loose)?);
    }
    if public.is_empty() && keys.is_empty() {
        bail!("no new recipient: give -r RECIPIENT, -R FILE or --add-key-file KEYFILE");
    }
    for k in &keys {
        e.add_key(k)?;
        done.push(format!("added symmetric {}", last_id(e)));
    }
    for r in &public {
        e.add_recipient(r)?;
        done.push(format!("added age {}", last_id(e)));
    }
    Ok(())
}

fn last_id(e: &KeyEdit) -> String {
    e.section()
        .recipients
        .last()
        .map(|s| s.id())
        .unwrap_or_default()
}

fn removed(s: &Stanza) -> String {
    format!("removed {} {}", s.kind_name(false), s.id())
}

pub fn add(file: &Path, new: &NewRecipients, key_args: &KeyArgs) -> Result<()> {
    let loose = key_args.allow_loose_permissions;
    edit(file, key_args, |e, done| add_new(e, new, loose, done))
}

pub fn remove(
    file: &Path,
    ids: &[String],
    key_files: &[PathBuf],
    key_args: &KeyArgs,
) -> Result<()> {
    if ids.is_empty() && key_files.is_empty() {
        bail!("nothing to remove: give --id ID or --remove-key-file KEYFILE");
    }
    let loose = key_args.allow_loose_permissions;
    let mut keys = Vec::new();
    for p in key_files {
        keys.push(read_key_file(p, loose)?);
    }
    edit(file, key_args, |e, done| {
        for id in ids {
            let s = e.remove(id)?;
            done.push(removed(&s));
        }
        for k in &keys {
            let s = e.remove_key(k)?;
            done.push(removed(&s));
        }
        Ok(())
    })
}

pub fn rotate(
    file: &Path,
    id: Option<&str>,
    old_key: Option<&Path>,
    new: &NewRecipients,
    key_args: &KeyArgs,
) -> Result<()> {
    let loose = key_args.allow_loose_permissions;
    let old = old_key.map(|p| read_key_file(p, loose)).transpose()?;
    edit(file, key_args, |e, done| {
        // The new first, so that the file never has too few recipients; one commit.
        add_new(e, new, loose, done)?;
        let s = match (&old, id) {
            (Some(k), _) => e.remove_key(k)?,
            (None, Some(id)) => e.remove(id)?,
            (None, None) => bail!("give --id OLD or --remove-key-file OLD.key"),
        };
        done.push(removed(&s));
        Ok(())
    })
}
