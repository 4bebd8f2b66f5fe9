//! Issue 16: batch verification on a real scheduler. Starts a single-node Slurm
//! (munged, slurmctld and slurmd from Debian's `munge` and `slurm-wlm`, which `.ci/run`
//! installs) with a configuration written here into a temporary directory, submits
//! `sbatch --array=0-3 --wait` running `sasf verify ARCHIVE -r --report
//! shards/$SLURM_ARRAY_TASK_ID.jsonl` over 200 generated files with one tampered, merges
//! the shards' reports with `sasf report merge`, and checks that exactly that file is
//! named. Then Slurm and munged are shut down.
//!
//! It needs the daemons installed and runs them as the user running the tests (root on
//! CI). Without them it fails, saying what to install: it never passes untested.

mod archive;
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where a Slurm or munge program is: on PATH or in /usr/sbin (not always on a
/// user's PATH).
fn tool(name: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&dirs)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found: this test needs a real Slurm; install the Debian packages slurm-wlm and munge (.ci/run does)")
        })
}

/// Two distinct TCP ports nobody listens on now (both held while the second is
/// picked).
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let b = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

fn output(cmd: &mut Command) -> (bool, String) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), text)
}

/// The daemons started, stopped on drop (also when the test fails).
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn pid(&self, file: &str) -> Option<i32> {
        fs::read_to_string(self.dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn slurm(&self, name: &str) -> Command {
        let mut c = Command::new(tool(name));
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// The daemons' logs, for a failure message.
    fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["slurmctld.log", "slurmd.log", "munged.log"] {
            let t = fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            let tail: Vec<&str> = t.lines().rev().take(15).collect();
            s += &format!("--- {f}\n");
            for l in tail.into_iter().rev() {
                s += l;
                s += "\n";
            }
        }
        s
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.slurm("scontrol").arg("shutdown").output();
        let deadline = Instant::now() + Duration::from_secs(10);
        for pidfile in ["slurmd.pid", "slurmctld.pid", "munged.pid"] {
            let Some(pid) = self.pid(pidfile) else {
                continue;
            };
            if pidfile == "munged.pid" {
                let _ = Command::new("kill").arg(pid.to_string()).output();
            }
            // Each by its own pid, and only if it is still one of ours.
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if alive(pid) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
            }
        }
    }
}

/// Whether process `pid` runs (a zombie, exited but not yet reaped, does not).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// Starts munged, slurmctld and slurmd with their state, sockets and logs in `dir`.
fn start(dir: &Path) -> Cluster {
    let host = {
        let (ok, h) = output(Command::new("hostname").arg("-s"));
        assert!(ok, "hostname -s: {h}");
        h.trim().to_string()
    };
    let user = {
        let (ok, u) = output(Command::new("id").arg("-un"));
        assert!(ok, "id -un: {u}");
        u.trim().to_string()
    };
    let mem_mib = fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .expect("MemTotal in /proc/meminfo");
    for d in ["state", "spool", "munge"] {
        fs::create_dir(dir.join(d)).unwrap();
    }
    // munged refuses a key that others can read.
    let key = dir.join("munge/munge.key");
    let mut bytes = vec![0u8; 1024];
    getrandom(&mut bytes);
    common::write_secret(&key, &String::from_utf8_lossy(&hex(&bytes)));
    let sock = dir.join("munge/socket");
    let d = |f: &str| dir.join(f).display().to_string();
    let conf = dir.join("slurm.conf");
    let cluster = Cluster {
        dir: dir.to_path_buf(),
        conf: conf.clone(),
    };
    let (ok, log) = output(
        Command::new(tool("munged"))
            .arg("--force")
            .arg("--socket")
            .arg(&sock)
            .arg("--key-file")
            .arg(&key)
            .args(["--pid-file", &d("munged.pid")])
            .args(["--log-file", &d("munged.log")])
            .args(["--seed-file", &d("munge/seed")]),
    );
    assert!(ok, "munged: {log}\n{}", cluster.logs());
    let ports = free_ports();
    let text = format!(
        "# Written by sasf-cli/tests/slurm.rs: one node, everything in this directory.
ClusterName=sasftest
SlurmctldHost={host}
SlurmctldPort={ctld}
SlurmdPort={slurmd}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
SlurmUser={user}
SlurmdUser={user}
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={ctld_pid}
SlurmdPidFile={d_pid}
SlurmctldLogFile={ctld_log}
SlurmdLogFile={d_log}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MinJobAge=300
KillWait=5
NodeName={host} CPUs=2 RealMemory={mem} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=10 State=UP
",
        ctld = ports.0,
        slurmd = ports.1,
        sock = sock.display(),
        state = d("state"),
        spool = d("spool"),
        ctld_pid = d("slurmctld.pid"),
        d_pid = d("slurmd.pid"),
        ctld_log = d("slurmctld.log"),
        d_log = d("slurmd.log"),
        mem = mem_mib.saturating_sub(512).max(256),
    );
    fs::write(&conf, text).unwrap();
    let (ok, log) = output(cluster.slurm("slurmctld").arg("-i").arg("-f").arg(&conf));
    assert!(ok, "slurmctld: {log}\n{}", cluster.logs());
    let (ok, log) = output(cluster.slurm("slurmd").arg("-f").arg(&conf));
    assert!(ok, "slurmd: {log}\n{}", cluster.logs());
    // Up when the node is idle.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, state) = output(cluster.slurm("sinfo").args(["-h", "-o", "%T"]));
        if state.trim() == "idle" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not come up: sinfo says {state:?}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster
}

fn getrandom(buf: &mut [u8]) {
    let mut f = fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut f, buf).unwrap();
}

fn hex(b: &[u8]) -> Vec<u8> {
    b.iter()
        .flat_map(|x| format!("{x:02x}").into_bytes())
        .collect()
}

#[test]
fn a_slurm_array_verifies_an_archive_and_the_merged_report_names_the_tampered_file() {
    let started = Instant::now();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let names = archive::archive(d, 200);
    let bad = "archive/day-2/call-0137.sasf";
    archive::tamper(&d.join(bad));
    fs::create_dir(d.join("shards")).unwrap();
    fs::create_dir(d.join("logs")).unwrap();
    let slurm_dir = d.join("slurm");
    fs::create_dir(&slurm_dir).unwrap();
    let cluster = start(&slurm_dir);

    let job = d.join("verify.sbatch");
    fs::write(
        &job,
        format!(
            "#!/bin/sh\ncd {dir}\nexec {sasf} verify archive -r -s --report shards/$SLURM_ARRAY_TASK_ID.jsonl\n",
            dir = d.display(),
            sasf = env!("CARGO_BIN_EXE_sasf"),
        ),
    )
    .unwrap();
    let (ok, out) = output(
        cluster
            .slurm("sbatch")
            .current_dir(d)
            .args(["--array=0-3", "--wait", "--cpus-per-task=1"])
            .arg(format!("--output={}/logs/%a.log", d.display()))
            .arg(&job)
            .env_remove("SASF_KEY_FILE")
            .env_remove("SASF_IDENTITY_FILE"),
    );
    let logs: String = (0..4)
        .map(|i| fs::read_to_string(d.join(format!("logs/{i}.log"))).unwrap_or_default())
        .collect();
    // sbatch --wait exits with the highest status of the tasks: 1, the shard that
    // holds the tampered file.
    assert!(!ok, "sbatch: {out}\n{logs}\n{}", cluster.logs());
    assert!(
        out.contains("Submitted batch job"),
        "sbatch: {out}\n{}",
        cluster.logs()
    );

    // Every task ran as its shard and wrote its report; together they hold every file
    // once.
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for i in 0..4 {
        let rep = fs::read_to_string(d.join(format!("shards/{i}.jsonl")))
            .unwrap_or_else(|e| panic!("shard {i}: {e}\n{logs}\n{}", cluster.logs()));
        let n = rep.lines().count();
        assert!(n > 20, "shard {i} has {n} records");
        total += n;
        for l in rep.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            seen.insert(v["file"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(total, 200);
    let want: BTreeSet<String> = names.iter().map(|n| format!("archive/{n}")).collect();
    assert_eq!(seen, want);

    let mut merge = common::sasf();
    merge.current_dir(d).args(["report", "merge"]);
    for i in 0..4 {
        merge.arg(format!("shards/{i}.jsonl"));
    }
    let o = merge.output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(1), "{text}");
    let named: Vec<&str> = text.lines().filter(|l| l.contains(": FAILED")).collect();
    assert_eq!(named.len(), 1, "{text}");
    assert!(
        named[0].starts_with(&format!("{bad}: FAILED: authentication failed")),
        "{text}"
    );
    assert!(
        text.contains("199 OK, 1 FAILED, 0 unreadable (200 files in 4 reports)"),
        "{text}"
    );
    drop(cluster);
    eprintln!("slurm test: {:.1} s", started.elapsed().as_secs_f64());
}
