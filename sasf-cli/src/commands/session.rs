//! `sasf session`: replay a call's recording actions over its audio through the
//! precedence rules, writing what the recording system would have written.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use sasf_core::error::format_time;
use sasf_core::meta::{sample_to_ms, Metadata};
use sasf_core::session::{
    parse_actions, replay, Ending, Finished, OutputKind, Replay, SessionBuilder, Sinks,
};
use sasf_core::wav::WavWriter;
use sasf_core::{AudioFormat, Decoder, ErrorKind, Key};
use serde_json::{json, Value};

use crate::cli::SessionArgs;
use crate::io::{load_writing_key, shown};
use crate::output::{FileOut, Opts};

/// Writes each recording under a temporary name in OUTDIR; nothing is renamed into
/// place until the whole replay has succeeded.
struct DirSinks {
    dir: PathBuf,
    key: Option<Key>,
    ready: Vec<FileOut>,
}

fn core_err(e: anyhow::Error) -> sasf_core::Error {
    std::io::Error::other(format!("{e:#}")).into()
}

fn file_name(kind: OutputKind, n: u32) -> String {
    match kind {
        OutputKind::Adhoc => format!("adhoc-{n}.wav"),
        OutputKind::Snippet => format!("snippet-{n}.sasf"),
    }
}

impl Sinks for DirSinks {
    type Wav = FileOut;
    type Sasf = FileOut;

    fn create_wav(&mut self, n: u32, f: AudioFormat) -> sasf_core::Result<WavWriter<FileOut>> {
        // An ad hoc recording is a plain WAV by definition (as is the call audio).
        let out = FileOut::create(
            &self.dir.join(file_name(OutputKind::Adhoc, n)),
            Opts::default(),
        )
        .map_err(core_err)?;
        WavWriter::new_seekable(out, f)
    }

    fn commit_wav(&mut self, _n: u32, wav: WavWriter<FileOut>) -> sasf_core::Result<()> {
        self.ready.push(wav.finish_seekable()?);
        Ok(())
    }

    fn create_sasf(&mut self, n: u32) -> sasf_core::Result<FileOut> {
        FileOut::create(
            &self.dir.join(file_name(OutputKind::Snippet, n)),
            Opts::default(),
        )
        .map_err(core_err)
    }

    fn commit_sasf(&mut self, n: u32, mut out: FileOut) -> sasf_core::Result<()> {
        let file = out.reopen().map_err(core_err)?;
        Decoder::new(std::io::BufReader::new(file))
            .and_then(|d| d.open(self.key.as_ref()))
            .and_then(|mut r| r.verify_to_end())
            .map_err(|e| {
                core_err(anyhow!(
                    "internal error: {} does not verify: {e}",
                    file_name(OutputKind::Snippet, n)
                ))
            })?;
        self.ready.push(out);
        Ok(())
    }
}

/// An error in the action log, as `FILE: $[i].field: reason`.
fn action_error(e: sasf_core::Error, file: &str) -> anyhow::Error {
    match e.kind() {
        ErrorKind::InvalidMetadata { path, reason } => anyhow!("{file}: {path}: {reason}"),
        _ => anyhow!(e).context(file.to_string()),
    }
}

/// Makes OUTDIR ready: an empty directory. Returns whether it was created.
fn prepare_dir(dir: &Path) -> Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{}: the output directory is not empty (a replay writes into an empty one)",
                    dir.display()
                );
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            Ok(true)
        }
        Err(e) => Err(e).with_context(|| format!("{}: not a usable directory", dir.display())),
    }
}

fn ending_json(e: &Ending) -> Value {
    json!({"action": e.action.name(), "by": e.by, "reason": e.reason})
}

fn output_json(o: &Finished, rate: u32) -> Value {
    let mut v = json!({
        "file": file_name(o.kind, o.number),
        "kind": match o.kind { OutputKind::Adhoc => "adhoc", OutputKind::Snippet => "snippet" },
        "number": o.number,
        "from_ms": sample_to_ms(o.from, rate),
        "to_ms": sample_to_ms(o.to, rate),
        "from_sample": o.from,
        "to_sample": o.to,
        "duration": format_time(o.frames(), rate),
        "started_by": o.started_by,
        "ended": ending_json(&o.ended),
    });
    if let Some(m) = &o.merged {
        v["merged_adhoc"] = json!({
            "adhoc": m.adhoc,
            "snippet_at_ms": sample_to_ms(m.snippet_at, rate),
            "snippet_at_sample": m.snippet_at,
            "snippet_by": m.snippet_by,
        });
    }
    v
}

fn report_json<S>(audio: &str, rep: &Replay<S>, rate: u32) -> Value {
    let actions: Vec<Value> = rep
        .outcomes
        .iter()
        .map(|o| {
            let a = &o.action;
            let mut v = json!({
                "at_ms": sample_to_ms(a.at_sample, rate),
                "at_sample": a.at_sample,
                "action": a.action.name(),
                "by": a.by,
            });
            match &o.result {
                Ok(applied) => {
                    v["result"] = "ok".into();
                    v["effect"] = applied.to_string().into();
                }
                Err(r) => {
                    v["result"] = "refused".into();
                    v["refusal"] = r.code().into();
                    v["reason"] = r.to_string().into();
                }
            }
            v
        })
        .collect();
    json!({
        "schema": "sasf.session-report/1",
        "audio": audio,
        "sample_rate": rate,
        "call_samples": rep.call_frames,
        "call_duration": format_time(rep.call_frames, rate),
        "ended": ending_json(&rep.ended),
        "actions": actions,
        "refused": rep.outcomes.iter().filter(|o| o.result.is_err()).count(),
        "outputs": rep.outputs.iter().map(|o| output_json(o, rate)).collect::<Vec<_>>(),
    })
}

/// What `report.json` leaves out when the snippets are encrypted: who pressed what
/// (participant ids) and free-text reasons, which the snippets keep encrypted.
const REDACTED: &str = "participant ids (by, started_by, snippet_by) and the free-text \
call-ending reason are left out: the snippets are encrypted, and keep them encrypted";

/// Removes from a report what an encrypted snippet would not show in clear.
fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in ["by", "started_by", "snippet_by"] {
                m.remove(k);
            }
            if let Some(Value::Object(e)) = m.get_mut("ended") {
                e.remove("reason");
            }
            for x in m.values_mut() {
                redact(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

fn summary<S>(audio: &str, rep: &Replay<S>, rate: u32) -> String {
    let refused = rep.outcomes.iter().filter(|o| o.result.is_err()).count();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{audio}: {} of call audio, {} action(s), {refused} refused",
        format_time(rep.call_frames, rate),
        rep.outcomes.len()
    );
    for o in &rep.outcomes {
        let a = &o.action;
        let what = match &o.result {
            Ok(applied) => applied.to_string(),
            Err(r) => format!("REFUSED ({}): {r}", r.code()),
        };
        let _ = writeln!(
            s,
            "  {}  {:<13}  by {:<12}  {what}",
            format_time(a.at_sample, rate),
            a.action.name(),
            a.by
        );
    }
    let e = &rep.ended;
    let _ = writeln!(
        s,
        "  {}  call ended ({}{})",
        format_time(rep.call_frames, rate),
        e.reason.as_deref().unwrap_or("disconnected"),
        if e.by.is_empty() {
            String::new()
        } else {
            format!(", by {}", e.by)
        }
    );
    if rep.outputs.is_empty() {
        let _ = writeln!(s, "nothing was recorded");
    } else {
        let _ = writeln!(s, "wrote:");
    }
    for o in &rep.outputs {
        let merged = match &o.merged {
            Some(m) => format!(
                ", ad hoc recording {} merged at {}",
                m.adhoc,
                format_time(m.snippet_at, rate)
            ),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "  {:<16} {} - {}  started by {}{merged}; ended by {} ({})",
            file_name(o.kind, o.number),
            format_time(o.from, rate),
            format_time(o.to, rate),
            o.started_by,
            o.ended.action.name(),
            o.ended.by
        );
    }
    let _ = writeln!(s, "  report.json");
    s
}

pub fn run(a: &SessionArgs) -> Result<()> {
    let key = load_writing_key(&a.key, "session")?;
    if a.encrypt && key.is_none() {
        bail!("--encrypt needs a key: give --key-file KEYFILE or set SASF_KEY_FILE");
    }
    let audio = shown(&a.audio);
    let mut wav = crate::io::open_wav(&a.audio)?;
    let format = wav.info().format;
    let rate = format.sample_rate;
    let total = wav.info().data_len.map(|l| l / format.block_align() as u64);
    let actions_name = a.actions.display().to_string();
    let text =
        fs::read_to_string(&a.actions).with_context(|| format!("cannot read {actions_name}"))?;
    let actions = parse_actions(&text, rate).map_err(|e| action_error(e, &actions_name))?;
    let meta_name = a.meta.as_ref().map(|p| p.display().to_string());
    let meta = match &a.meta {
        None => Metadata::default(),
        Some(p) => {
            let text =
                fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            Metadata::from_json_str(&text, &format, total)
                .with_context(|| p.display().to_string())?
        }
    };
    let builder = SessionBuilder::new(format)
        .snippets(|b| match (&key, a.encrypt) {
            (None, _) => b,
            (Some(k), false) => b.authenticated(k.clone()),
            (Some(k), true) => b.encrypted(k.clone()),
        })
        .call_info(meta.recording.clone())
        .participants(meta.participants.clone());
    let created = prepare_dir(&a.output)?;
    let result = (|| -> Result<String> {
        let sinks = DirSinks {
            dir: a.output.clone(),
            key: key.clone(),
            ready: Vec::new(),
        };
        let session = builder
            .start(sinks)
            .with_context(|| meta_name.clone().unwrap_or_else(|| audio.clone()))?;
        let rep = replay(session, &mut wav, &actions, &meta.events).map_err(|e| {
            let whose = match e.kind() {
                ErrorKind::InvalidMetadata { path, .. } if path.starts_with("$[") => {
                    return action_error(e, &actions_name);
                }
                ErrorKind::InvalidMetadata { .. } => {
                    meta_name.clone().unwrap_or_else(|| actions_name.clone())
                }
                ErrorKind::Io(_) => a.output.display().to_string(),
                _ => audio.clone(),
            };
            anyhow!(e).context(whose)
        })?;
        // With --encrypt: mode 0600, and nothing that the snippets encrypt.
        let mut report = FileOut::create(
            &a.output.join("report.json"),
            Opts {
                force: false,
                private: a.encrypt,
                partial: false,
            },
        )?;
        let mut doc = report_json(&audio, &rep, rate);
        if a.encrypt {
            redact(&mut doc);
            doc["redacted"] = REDACTED.into();
        }
        serde_json::to_writer_pretty(&mut report, &doc)?;
        report.write_all(b"\n")?;
        let text = summary(&audio, &rep, rate);
        for f in rep.sinks.ready {
            f.commit()?;
        }
        report.commit()?;
        Ok(text)
    })();
    match result {
        Ok(text) => {
            // Everything is written; a closed stdout is an error main turns into 0.
            std::io::stdout().lock().write_all(text.as_bytes())?;
            Ok(())
        }
        Err(e) => {
            if created {
                // Only removes it if nothing was left in it.
                let _ = fs::remove_dir(&a.output);
            }
            Err(e)
        }
    }
}
