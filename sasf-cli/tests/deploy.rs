//! Issue 16: the `deploy/` examples (Slurm, Kubernetes Indexed Job, AWS Batch array
//! job) parse, give only flags the real `sasf verify` has, and, run for every index as
//! their scheduler would (the index in its variable, the volumes replaced by temporary
//! directories), verify every file of an archive exactly once.

mod archive;
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(rel)
}

/// The flags `sasf verify --help` and `sasf --help` list.
fn real_flags() -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for args in [&["verify", "--help"][..], &["--help"][..]] {
        let o = common::sasf().args(args).output().unwrap();
        assert!(o.status.success());
        let help = String::from_utf8(o.stdout).unwrap();
        for w in help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']') {
            if w.starts_with('-') && w.len() > 1 && !w.starts_with("---") {
                flags.insert(w.trim_end_matches(['.', ':', ')']).to_string());
            }
        }
    }
    flags
}

/// The sasf arguments of a shell command line `... sasf ARGS...`.
fn sasf_args(cmd: &str) -> Vec<String> {
    let at = cmd
        .split_whitespace()
        .position(|w| w == "sasf")
        .unwrap_or_else(|| panic!("no sasf in {cmd:?}"));
    cmd.split_whitespace()
        .skip(at + 1)
        .map(|w| w.trim_matches('"').to_string())
        .collect()
}

fn check_flags(what: &str, cmd: &str, real: &BTreeSet<String>) {
    let args = sasf_args(cmd);
    assert!(
        args.iter().any(|a| a == "verify"),
        "{what}: not sasf verify: {cmd}"
    );
    let given: Vec<&String> = args.iter().filter(|a| a.starts_with('-')).collect();
    assert!(
        given.iter().any(|a| *a == "-r"),
        "{what}: not recursive: {cmd}"
    );
    assert!(
        given.iter().any(|a| *a == "--report"),
        "{what}: no report: {cmd}"
    );
    for f in given {
        assert!(
            real.contains(f.as_str()),
            "{what}: {f} is not a flag of sasf verify: {cmd}"
        );
    }
}

/// Runs `script` with `sh` (or `bash`) for each index: `index_var` set to it, `env`
/// besides, `sasf` on PATH; returns the files the reports in `reports` hold, and how
/// many records in all.
fn run_shards(
    d: &Path,
    shell: &str,
    script: &[String],
    count: usize,
    index_var: &str,
    env: &[(&str, String)],
    reports: &Path,
) -> (BTreeSet<String>, usize) {
    let bin = Path::new(env!("CARGO_BIN_EXE_sasf")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for i in 0..count {
        let mut c = Command::new(shell);
        c.args(script)
            .current_dir(d)
            .env("PATH", &path)
            .env(index_var, i.to_string());
        for k in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "SLURM_ARRAY_TASK_MIN",
            "SLURM_ARRAY_TASK_MAX",
            "SLURM_ARRAY_TASK_STEP",
            "JOB_COMPLETION_INDEX",
            "AWS_BATCH_JOB_ARRAY_INDEX",
            "SASF_KEY_FILE",
            "SASF_IDENTITY_FILE",
        ] {
            if k != index_var {
                c.env_remove(k);
            }
        }
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "{script:?} index {i}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let mut files = BTreeSet::new();
    let mut n = 0;
    for i in 0..count {
        let text = fs::read_to_string(reports.join(format!("{i}.jsonl"))).unwrap();
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["verdict"], "ok", "{v}");
            files.insert(v["file"].as_str().unwrap().to_string());
            n += 1;
        }
    }
    (files, n)
}

#[test]
fn the_deploy_examples_parse_use_real_flags_and_cover_every_file_once() {
    let real = real_flags();
    assert!(
        real.contains("--shard-count") && real.contains("-r"),
        "{real:?}"
    );
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let names = archive::archive(d, 30);
    let archive_dir = d.join("archive");

    // Kubernetes: an Indexed Job whose --shard-count is its completions.
    let y: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &fs::read_to_string(deploy("kubernetes/verify-indexed-job.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(y["apiVersion"].as_str(), Some("batch/v1"));
    assert_eq!(y["kind"].as_str(), Some("Job"));
    assert_eq!(y["spec"]["completionMode"].as_str(), Some("Indexed"));
    let completions = y["spec"]["completions"].as_u64().unwrap() as usize;
    let container = &y["spec"]["template"]["spec"]["containers"][0];
    let command: Vec<String> = container["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(&command[..2], ["sh", "-c"]);
    check_flags("kubernetes", &command[2], &real);
    let args = sasf_args(&command[2]);
    let count_at = args.iter().position(|a| a == "--shard-count").unwrap();
    assert_eq!(
        args[count_at + 1],
        completions.to_string(),
        "--shard-count != completions"
    );
    let mounts: Vec<&str> = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert_eq!(mounts, ["/archive", "/reports"]);
    let k8s_reports = d.join("k8s-reports");
    fs::create_dir(&k8s_reports).unwrap();
    let script = command[2]
        .replace("/archive", &archive_dir.display().to_string())
        .replace("/reports", &k8s_reports.display().to_string());
    let (files, n) = run_shards(
        d,
        "sh",
        &["-c".into(), script],
        completions,
        "JOB_COMPLETION_INDEX",
        &[],
        &k8s_reports,
    );
    let want: BTreeSet<String> = names
        .iter()
        .map(|n| archive_dir.join(n).display().to_string())
        .collect();
    assert_eq!((files, n), (want.clone(), names.len()), "kubernetes");

    // AWS Batch: a job definition whose command reads SHARDS from its environment.
    let j: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(deploy("aws-batch/verify-array-job.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(j["type"], "container");
    let cp = &j["containerProperties"];
    let command: Vec<String> = cp["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(&command[..2], ["sh", "-c"]);
    check_flags("aws batch", &command[2], &real);
    let env: Vec<(String, String)> = cp["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let shards: usize = env
        .iter()
        .find(|(k, _)| k == "SHARDS")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let containers: Vec<&str> = cp["mountPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["containerPath"].as_str().unwrap())
        .collect();
    assert_eq!(containers, ["/archive", "/reports"]);
    let aws_reports = d.join("aws-reports");
    fs::create_dir(&aws_reports).unwrap();
    let script = command[2]
        .replace("/archive", &archive_dir.display().to_string())
        .replace("/reports", &aws_reports.display().to_string());
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (files, n) = run_shards(
        d,
        "sh",
        &["-c".into(), script],
        shards,
        "AWS_BATCH_JOB_ARRAY_INDEX",
        &env,
        &aws_reports,
    );
    assert_eq!((files, n), (want, names.len()), "aws batch");

    // Slurm: the sbatch script, run as each task of a 0-3 array.
    let sbatch = deploy("slurm/verify-array.sbatch");
    let text = fs::read_to_string(&sbatch).unwrap();
    assert!(text.starts_with("#!/bin/bash\n"));
    let array = text
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("an #SBATCH --array line");
    assert!(array.split_once('-').is_some(), "not a range: {array}");
    let exec = text.lines().find(|l| l.starts_with("exec sasf")).unwrap();
    check_flags("slurm", exec, &real);
    fs::create_dir(d.join("shards")).unwrap();
    let (files, n) = run_shards(
        d,
        "bash",
        &[
            sbatch.display().to_string(),
            "archive".into(),
            "shards".into(),
        ],
        4,
        "SLURM_ARRAY_TASK_ID",
        &[
            ("SLURM_ARRAY_TASK_COUNT", "4".into()),
            ("SLURM_CPUS_PER_TASK", "2".into()),
        ],
        &d.join("shards"),
    );
    let want: BTreeSet<String> = names.iter().map(|n| format!("archive/{n}")).collect();
    assert_eq!((files, n), (want, names.len()), "slurm");
}
