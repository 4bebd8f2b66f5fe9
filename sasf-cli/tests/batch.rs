//! Issue 16, "Batch verification at archive scale": `sasf verify -r` over a folder
//! tree, `--shard` and the schedulers' array indexes, `--report` and its resume, and
//! `sasf report merge`, driven as a user would.

mod archive;
mod common;

use archive::{archive, tamper};

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use common::sasf;
use serde_json::Value;

/// Runs sasf in `dir` with no scheduler variables (the test may run inside one).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = sasf();
    c.current_dir(dir);
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_STEP",
        "JOB_COMPLETION_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

fn records(p: &Path) -> Vec<Value> {
    fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn files_of(recs: &[Value]) -> BTreeSet<String> {
    recs.iter()
        .map(|r| r["file"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn recursive_verify_reports_every_file_and_each_bad_entry_for_itself() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    archive(d, 12);
    let a = d.join("archive");
    tamper(&a.join("day-1/call-0006.sasf"));
    fs::write(a.join("day-2/fake.sasf"), b"RIFF....WAVE").unwrap();
    fs::write(a.join("day-2/notes.txt"), b"not a recording").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("..", a.join("day-3/up")).unwrap();
        symlink("nowhere.sasf", a.join("day-3/dangling.sasf")).unwrap();
        symlink("self", a.join("day-4/self")).unwrap();
    }
    let (code, out, err) = run(d, &["verify", "-r", "archive", "--json"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verdict = |f: &str| {
        docs.iter()
            .find(|d| d["file"] == format!("archive/{f}"))
            .unwrap_or_else(|| panic!("{f} not reported: {out}"))["verdict"]
            .clone()
    };
    assert_eq!(verdict("day-1/call-0006.sasf"), "failed");
    assert_eq!(verdict("day-2/fake.sasf"), "failed");
    assert_eq!(verdict("day-0/call-0000.sasf"), "ok");
    let want_unreadable = if cfg!(unix) { 3 } else { 0 };
    #[cfg(unix)]
    {
        assert_eq!(verdict("day-3/up"), "unreadable");
        assert_eq!(verdict("day-3/dangling.sasf"), "unreadable");
        assert_eq!(verdict("day-4/self"), "unreadable");
        let up = docs
            .iter()
            .find(|d| d["file"] == "archive/day-3/up")
            .unwrap();
        assert!(
            up["message"].as_str().unwrap().contains("symlink loop"),
            "{up}"
        );
    }
    // notes.txt is no recording; nothing else is reported; output is sorted.
    assert_eq!(docs.len(), 12 + 1 + want_unreadable, "{out}");
    let names: Vec<&str> = docs.iter().map(|d| d["file"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let summary = format!("sasf: 11 OK, 2 FAILED, {want_unreadable} unreadable");
    assert!(
        err.contains(summary.trim_end_matches(", 0 unreadable")),
        "{err}"
    );

    // One thread gives the same lines.
    let (code1, out1, _) = run(d, &["-j", "1", "verify", "-r", "archive", "--json"], &[]);
    assert_eq!((code1, out1), (code, out));

    // Without -r a directory is not walked: unreadable, exit 2.
    let (code, out, _) = run(d, &["verify", "archive"], &[]);
    assert_eq!(code, 2);
    assert!(
        out.contains("archive: UNREADABLE: is a directory: give -r"),
        "{out}"
    );
}

#[test]
fn shards_split_the_files_exactly_once_from_the_flag_or_any_scheduler() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let all: BTreeSet<String> = archive(d, 40)
        .into_iter()
        .map(|r| format!("archive/{r}"))
        .collect();
    tamper(&d.join("archive/day-3/call-0013.sasf"));
    let n = 3;
    // (how the shard is given, the env, extra args): each must take the same files.
    let mut by_source: Vec<Vec<BTreeSet<String>>> = Vec::new();
    for source in ["flag", "slurm", "slurm-minmax", "kubernetes", "aws"] {
        let dir = d.join(format!("shards-{source}"));
        fs::create_dir(&dir).unwrap();
        let mut sets = Vec::new();
        for i in 0..n {
            let (is, ns) = (i.to_string(), n.to_string());
            let shard = format!("{i}/{n}");
            let one = (i + 1).to_string();
            let max = n.to_string();
            let (env, mut extra): (Vec<(&str, &str)>, Vec<&str>) = match source {
                "flag" => (vec![], vec!["--shard", &shard]),
                "slurm" => (
                    vec![
                        ("SLURM_ARRAY_TASK_ID", &is),
                        ("SLURM_ARRAY_TASK_COUNT", &ns),
                    ],
                    vec![],
                ),
                // An array 1-3 with no COUNT: index = ID - MIN.
                "slurm-minmax" => (
                    vec![
                        ("SLURM_ARRAY_TASK_ID", &one),
                        ("SLURM_ARRAY_TASK_MIN", "1"),
                        ("SLURM_ARRAY_TASK_MAX", &max),
                    ],
                    vec![],
                ),
                "kubernetes" => (
                    vec![("JOB_COMPLETION_INDEX", &is)],
                    vec!["--shard-count", &ns],
                ),
                _ => (
                    vec![("AWS_BATCH_JOB_ARRAY_INDEX", &is)],
                    vec!["--shard-count", &ns],
                ),
            };
            let rep = format!("shards-{source}/{i}.jsonl");
            let mut args = vec!["verify", "-r", "archive", "-s", "--report", &rep];
            args.append(&mut extra);
            let (code, out, err) = run(d, &args, &env);
            let recs = records(&d.join(&rep));
            let has_bad = files_of(&recs).contains("archive/day-3/call-0013.sasf");
            assert_eq!(
                code,
                if has_bad { 1 } else { 0 },
                "{source} {i}: {out}{err}"
            );
            sets.push(files_of(&recs));
        }
        // Disjoint, and together every file.
        let union: BTreeSet<String> = sets.iter().flatten().cloned().collect();
        assert_eq!(union, all, "{source}");
        assert_eq!(
            sets.iter().map(|s| s.len()).sum::<usize>(),
            all.len(),
            "{source}"
        );
        assert!(sets.iter().all(|s| !s.is_empty()), "{source}: {sets:?}");
        by_source.push(sets);

        let glob: Vec<String> = (0..n)
            .map(|i| format!("shards-{source}/{i}.jsonl"))
            .collect();
        let mut args = vec!["report", "merge"];
        args.extend(glob.iter().map(|s| s.as_str()));
        let (code, out, _) = run(d, &args, &[]);
        assert_eq!(code, 1, "{out}");
        // Exactly the tampered file is named.
        let named: Vec<&str> = out.lines().filter(|l| l.contains(": FAILED")).collect();
        assert_eq!(named.len(), 1, "{out}");
        assert!(
            named[0].starts_with("archive/day-3/call-0013.sasf: FAILED: authentication failed"),
            "{out}"
        );
        assert!(
            out.contains("39 OK, 1 FAILED, 0 unreadable (40 files in 3 reports)"),
            "{out}"
        );
    }
    for s in &by_source[1..] {
        assert_eq!(s, &by_source[0]);
    }

    // Adding files moves none of the others.
    let before = by_source[0].clone();
    for i in 40..60 {
        fs::copy(
            d.join("one.sasf"),
            d.join(format!("archive/day-9/new-{i}.sasf")),
        )
        .or_else(|_| {
            fs::create_dir_all(d.join("archive/day-9"))?;
            fs::copy(
                d.join("one.sasf"),
                d.join(format!("archive/day-9/new-{i}.sasf")),
            )
        })
        .unwrap();
    }
    for (i, old) in before.iter().enumerate() {
        let (_, out, _) = run(
            d,
            &[
                "verify",
                "-r",
                "archive",
                "--json",
                "--shard",
                &format!("{i}/{n}"),
            ],
            &[],
        );
        let now: BTreeSet<String> = out
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["file"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .filter(|f| !f.contains("/new-"))
            .collect();
        assert_eq!(&now, old, "shard {i}");
    }
}

#[test]
fn invalid_or_conflicting_shards_are_refused_before_anything_is_read() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    archive(d, 2);
    type Row<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let table: &[Row] = &[
        (&["--shard", "3/3"], &[], "not below"),
        (&["--shard", "x/3"], &[], "whole number"),
        (&["--shard", "1/0"], &[], "at least 1"),
        (&["--shard", "1/3", "--shard-count", "3"], &[], "conflict"),
        (&["--shard-count", "3"], &[], "no array index"),
        (&[], &[("SLURM_ARRAY_TASK_ID", "1")], "--shard-count"),
        (
            &["--shard-count", "5"],
            &[
                ("SLURM_ARRAY_TASK_ID", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
            ],
            "conflicts",
        ),
        (&[], &[("JOB_COMPLETION_INDEX", "0")], "--shard-count"),
        (
            &["--shard-count", "2"],
            &[("AWS_BATCH_JOB_ARRAY_INDEX", "2")],
            "not below",
        ),
        (
            &["--shard-count", "2"],
            &[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
                ("JOB_COMPLETION_INDEX", "0"),
            ],
            "more than one",
        ),
    ];
    for (args, env, want) in table {
        let mut a = vec!["verify", "-r", "archive", "--report", "r.jsonl"];
        a.extend(args.iter());
        let (code, out, err) = run(d, &a, env);
        assert_eq!(code, 2, "{args:?} {env:?}: {out}{err}");
        assert!(err.contains(want), "{args:?} {env:?}: {err}");
        assert!(
            !d.join("r.jsonl").exists(),
            "{args:?}: a report was started"
        );
    }
    // The flag beats the environment.
    let (code, _, err) = run(
        d,
        &["verify", "-r", "archive", "--shard", "0/1"],
        &[("SLURM_ARRAY_TASK_ID", "7")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("shard 0/1 (--shard): 2 of 2 files"), "{err}");
}

#[test]
fn a_rerun_with_the_same_report_skips_what_is_recorded_and_repairs_a_torn_line() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    archive(d, 10);
    let rep = d.join("r.jsonl");
    let (code, _, err) = run(d, &["verify", "-r", "archive", "--report", "r.jsonl"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(records(&rep).len(), 10);

    // Tampered with size and mtime kept: the record stands (the identity is size and
    // mtime; a cheap test), nothing is verified again or appended.
    let victim = d.join("archive/day-2/call-0002.sasf");
    tamper(&victim);
    let (code, out, err) = run(d, &["verify", "-r", "archive", "--report", "r.jsonl"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("10 OK (10 already in r.jsonl)"), "{err}");
    assert_eq!(records(&rep).len(), 10);

    // A new mtime: verified again, and now FAILED; the merge takes the later record.
    fs::File::options()
        .write(true)
        .open(&victim)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();
    let (code, out, err) = run(d, &["verify", "-r", "archive", "--report", "r.jsonl"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("archive/day-2/call-0002.sasf: FAILED"),
        "{out}"
    );
    assert!(
        err.contains("9 OK, 1 FAILED (9 already in r.jsonl)"),
        "{err}"
    );
    assert_eq!(records(&rep).len(), 11);
    // And a re-run keeps saying so (exit 1) without verifying it again.
    let (code, out, _) = run(d, &["verify", "-r", "archive", "--report", "r.jsonl"], &[]);
    assert_eq!(code, 1);
    assert!(
        out.contains("call-0002.sasf: FAILED") && out.contains("(recorded in r.jsonl)"),
        "{out}"
    );
    let (code, out, _) = run(d, &["report", "merge", "r.jsonl"], &[]);
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "9 OK, 1 FAILED, 0 unreadable (10 files in 1 report; 1 earlier records replaced"
        ),
        "{out}"
    );

    // An interrupted run: the last record cut short. Merge refuses it; a re-run
    // removes the torn line and checks that file again.
    let whole = fs::read(&rep).unwrap();
    let last_start = whole[..whole.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    let last: Value = serde_json::from_slice(&whole[last_start..]).unwrap();
    fs::write(&rep, &whole[..last_start + 30]).unwrap();
    let (code, _, err) = run(d, &["report", "merge", "r.jsonl"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("line 11 is cut short"), "{err}");
    let (code, _, err) = run(d, &["verify", "-r", "archive", "--report", "r.jsonl"], &[]);
    assert!(err.contains("line 11 was cut short"), "{err}");
    assert_eq!(code, 1);
    let recs = records(&rep);
    assert_eq!(recs.len(), 11);
    assert_eq!(recs[10]["file"], last["file"]);
    assert!(fs::read(&rep).unwrap().ends_with(b"}\n"));
}

#[test]
fn files_from_a_list_and_reports_that_are_not_reports() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let names = archive(d, 6);
    let list: String = names
        .iter()
        .take(3)
        .map(|n| format!("archive/{n}\r\n"))
        .collect::<String>()
        + "\nmissing.sasf\n";
    fs::write(d.join("list.txt"), list).unwrap();
    let (code, out, err) = run(d, &["verify", "--files-from", "list.txt", "--json"], &[]);
    assert_eq!(code, 2, "{out}{err}");
    let docs: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 4);
    assert_eq!(docs[3]["file"], "missing.sasf");
    assert_eq!(docs[3]["verdict"], "unreadable");
    assert!(err.contains("3 OK, 1 unreadable"), "{err}");

    // A --report that is some other file is refused and left as it was.
    for (text, line) in [("hello world", 1), ("{\"a\":1}\n", 1), ("\n\n[]\n", 3)] {
        fs::write(d.join("other.txt"), text).unwrap();
        let (code, _, err) = run(
            d,
            &["verify", "-r", "archive", "--report", "other.txt"],
            &[],
        );
        assert_eq!(code, 2, "{text:?}");
        assert!(err.contains(&format!("line {line}")), "{text:?}: {err}");
        assert_eq!(fs::read_to_string(d.join("other.txt")).unwrap(), text);
        let (code, _, err) = run(d, &["report", "merge", "other.txt"], &[]);
        assert_eq!(code, 2, "{text:?}");
        assert!(err.contains(&format!("other.txt: line {line}")), "{err}");
    }
    let (code, _, err) = run(d, &["report", "merge", "absent.jsonl"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[cfg(unix)]
#[test]
fn a_report_is_written_by_one_run_at_a_time() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let names = archive(d, 4);
    let fifo = d.join("list.fifo");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(ok.success());
    // The first run holds the report while it waits for its list.
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_sasf"))
        .current_dir(d)
        .env_remove("SASF_KEY_FILE")
        .args([
            "verify",
            "-s",
            "--files-from",
            "list.fifo",
            "--report",
            "r.jsonl",
        ])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !d.join("r.jsonl").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never opened its report"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, _, err) = run(d, &["verify", "-r", "archive", "--report", "r.jsonl"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("locked by another sasf"), "{err}");
    let list: String = names.iter().map(|n| format!("archive/{n}\n")).collect();
    fs::write(&fifo, list).unwrap();
    assert!(first.wait().unwrap().success());
    assert_eq!(records(&d.join("r.jsonl")).len(), 4);
}

#[test]
fn a_list_that_is_not_a_list_of_paths_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    fs::write(d.join("huge.txt"), vec![b'a'; 200_000]).unwrap();
    let (code, _, err) = run(d, &["verify", "--files-from", "huge.txt"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("line 1 is longer than"), "{err}");
}
