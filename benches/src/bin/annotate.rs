//! Annotations (issue 13), measured in one run, for `benches/compare --annotate`:
//!
//! 1. **Appending** (`docs/FORMAT.md` §21.6): an encrypted 10-hour and a 1-minute 8 kHz
//!    mono µ-law recording are written under `--dir` and made durable; then
//!    `annotate::append` of a record with a tag, an attribute and a scored
//!    questionnaire (the README's form), `--runs` times each. Each append opens the
//!    file by random access under `flock` (index, metadata, every segment so far),
//!    seals, writes, `fdatasync`s and reads the segment back. Reports best / median /
//!    max wall time, the bytes each append added, and whether the SHA-256 of every
//!    byte before the append is unchanged. Beside it, the device's share: one 4 KiB
//!    append + `fdatasync` to a scratch file.
//! 2. **Reading the current state** of a 1-minute file with `--segments` segments:
//!    `annotate::read` (random access: END by trailers, index chain, every segment
//!    authenticated and its record parsed and checked) then `annotate::state`, best /
//!    median of `--runs`; beside it a plain read of the whole file.
//!
//! Prints a table, then one line `ANNOTATE_JSON {…}`.
//!
//! Usage: `annotate [--dir DIR] [--hours 10] [--runs 9] [--segments 1000]`

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sasf_core::annotate;
use sasf_core::meta::annotation::{Answers, Form, Op, Questionnaire, Record};
use sasf_core::{AudioFormat, Encoding, Key, Keyring};
use sha2::{Digest, Sha256};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// A four-question form: yes/no, scale, a critical choice, free text.
const FORM: &str = r#"{"id":"qa-basic","version":3,"title":"Basic call quality","pass_percent":80,"questions":[
 {"id":"greeting","text":"Did the agent greet the caller by name?","type":"yes_no","weight":10},
 {"id":"empathy","text":"Empathy","type":"scale","min":1,"max":5,"weight":20,"allow_na":true},
 {"id":"resolution","text":"Was the issue resolved?","type":"choice","choices":[{"value":"yes","points":100},{"value":"partly","points":50},{"value":"no","points":0}],"weight":30,"critical":true},
 {"id":"notes","text":"Notes","type":"text","required":false}]}"#;
const ANSWERS: &str = r#"{"form":"qa-basic","version":3,"answers":{
 "greeting":{"value":true,"comment":"warm"},"empathy":{"value":4},
 "resolution":{"value":"partly"},"notes":{"value":"Caller was upset about billing"}}}"#;

/// An encrypted 8 kHz mono µ-law recording of `seconds`, made durable; its size.
fn write_file(path: &Path, key: &Key, seconds: u64) -> Res<u64> {
    let format = AudioFormat::new(Encoding::MuLaw, 1, 8000)?;
    sasf_benches::write_file(path, format, Some(key), seconds * 8000, 2)?;
    Ok(std::fs::metadata(path)?.len())
}

fn sha_prefix(path: &Path, len: u64) -> Res<[u8; 32]> {
    let mut f = File::open(path)?.take(len);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

fn record(n: usize, scored: bool) -> Res<Record> {
    let mut ops = vec![
        Op::Tag(format!("reviewed-{n}")),
        Op::Attr {
            key: "queue".into(),
            value: "billing".into(),
        },
    ];
    if scored {
        let form = Form::from_json(FORM.as_bytes())?;
        let answers = Answers::from_json(ANSWERS.as_bytes(), &form)?;
        ops.push(Op::Questionnaire(Box::new(Questionnaire::new(
            form, answers,
        )?)));
    }
    Ok(Record {
        by: "qa.lead@example.com".into(),
        at: "2026-12-01T10:00:00Z".into(),
        ops,
        note: None,
    })
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    (s[0], s[s.len() / 2], s[s.len() - 1])
}

struct Row {
    what: String,
    file_bytes: u64,
    ms: Vec<f64>,
    bytes_added: Vec<u64>,
    unchanged: bool,
}

fn main() -> Res<()> {
    let (mut dir, mut hours, mut runs, mut segments) = (None::<PathBuf>, 10u64, 9usize, 1000usize);
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        let v = it.next().ok_or("a flag needs a value")?;
        match f.as_str() {
            "--dir" => dir = Some(v.into()),
            "--hours" => hours = v.parse()?,
            "--runs" => runs = v.parse::<usize>()?.max(1),
            "--segments" => segments = v.parse::<usize>()?.max(1),
            _ => return Err(format!("unknown flag {f}").into()),
        }
    }
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let key = Key::generate()?;
    let keys = Keyring::from_key(key.clone());
    let mut rows = Vec::new();
    for (label, seconds) in [
        (format!("{hours}h"), hours * 3600),
        ("1min".to_string(), 60),
    ] {
        let path = tmp.path().join(format!("{label}.sasf"));
        let file_bytes = write_file(&path, &key, seconds)?;
        let mut row = Row {
            what: format!("append (tag + attr + questionnaire), {label} µ-law 8 kHz"),
            file_bytes,
            ms: Vec::new(),
            bytes_added: Vec::new(),
            unchanged: true,
        };
        for n in 0..runs {
            let before = std::fs::metadata(&path)?.len();
            let digest = sha_prefix(&path, before)?;
            let r = record(n, true)?;
            let t = Instant::now();
            let a = annotate::append(&path, &keys, &r, None)?;
            row.ms.push(t.elapsed().as_secs_f64() * 1e3);
            let after = std::fs::metadata(&path)?.len();
            row.bytes_added.push(after - before);
            row.unchanged &= a.len == after - before && sha_prefix(&path, before)? == digest;
        }
        rows.push(row);
    }
    // The device's share: a 4 KiB append made durable.
    let scratch = tmp.path().join("scratch");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&scratch)?;
    let mut base = Row {
        what: "baseline: 4 KiB append + fdatasync, scratch file".into(),
        file_bytes: 0,
        ms: Vec::new(),
        bytes_added: Vec::new(),
        unchanged: true,
    };
    let page = vec![7u8; 4096];
    for _ in 0..runs {
        let t = Instant::now();
        f.write_all(&page)?;
        f.sync_data()?;
        base.ms.push(t.elapsed().as_secs_f64() * 1e3);
        base.bytes_added.push(4096);
    }
    rows.push(base);

    // Current state of a file with `segments` segments.
    let path = tmp.path().join("many.sasf");
    write_file(&path, &key, 60)?;
    let t = Instant::now();
    for n in 0..segments {
        annotate::append(&path, &keys, &record(n, n % 10 == 0)?, None)?;
    }
    let build_s = t.elapsed().as_secs_f64();
    let many_bytes = std::fs::metadata(&path)?.len();
    let (mut state_ms, mut read_ms) = (Vec::new(), Vec::new());
    let mut tags = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let segs = annotate::read(&path, &keys)?;
        let st = annotate::state(&segs)?;
        state_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(segs.list.len(), segments);
        tags = st.tags.len();
        let t = Instant::now();
        let b = std::fs::read(&path)?;
        read_ms.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(b.len() as u64, many_bytes);
    }

    println!("| operation | file | best ms | median ms | max ms | bytes added | bytes before unchanged |");
    println!("|---|---|---|---|---|---|---|");
    let mut json_rows = Vec::new();
    for r in &rows {
        let (b, m, x) = stats(&r.ms);
        let added = r.bytes_added.iter().max().copied().unwrap_or(0);
        println!(
            "| {} | {:.1} MB | {b:.2} | {m:.2} | {x:.2} | {added} | {} |",
            r.what,
            r.file_bytes as f64 / 1e6,
            if r.file_bytes == 0 {
                "-"
            } else if r.unchanged {
                "yes"
            } else {
                "NO"
            }
        );
        json_rows.push(format!(
            r#"{{"what":"{}","file_bytes":{},"best_ms":{b:.3},"median_ms":{m:.3},"max_ms":{x:.3},"bytes_added":{added},"unchanged":{}}}"#,
            r.what, r.file_bytes, r.unchanged
        ));
    }
    let (sb, sm, sx) = stats(&state_ms);
    let (rb, rm, _) = stats(&read_ms);
    println!();
    println!(
        "current state of a 1-minute file with {segments} segments ({:.2} MB; {tags} tags; built in {build_s:.1} s): read + state best {sb:.2} ms, median {sm:.2} ms, max {sx:.2} ms; plain read of the file best {rb:.2} ms, median {rm:.2} ms",
        many_bytes as f64 / 1e6
    );
    println!(
        "ANNOTATE_JSON {{\"append\":[{}],\"state\":{{\"segments\":{segments},\"file_bytes\":{many_bytes},\"best_ms\":{sb:.3},\"median_ms\":{sm:.3},\"max_ms\":{sx:.3},\"read_best_ms\":{rb:.3},\"read_median_ms\":{rm:.3}}}}}",
        json_rows.join(",")
    );
    Ok(())
}
