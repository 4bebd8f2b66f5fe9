//! Splitting a batch of files into shards: which one this process takes (`--shard I/N`,
//! or a scheduler's array index from the environment) and which files are in it.
//!
//! A file belongs to shard `H mod N`, where `H` is the first 8 bytes (big-endian) of
//! the SHA-256 of its shard key: its path relative to the directory given (walked with
//! `-r`, `/` between components), or the path as given for a file named directly or in
//! `--files-from`. Adding or removing files never moves another file to another shard.

use anyhow::{bail, Result};
use sha2::Digest;

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    fn new(index: u64, count: u64, what: &str) -> Result<Shard> {
        if count == 0 {
            bail!("{what}: a shard count must be at least 1");
        }
        if index >= count {
            bail!("{what}: shard index {index} is not below the count {count} (indexes run from 0 to {})", count - 1);
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N`.
    pub fn parse(s: &str) -> Result<Shard> {
        let Some((i, n)) = s.split_once('/') else {
            bail!("--shard {s:?}: give I/N, e.g. 0/4 (the first of four)");
        };
        let num = |x: &str| -> Result<u64> {
            match x.parse::<u64>() {
                Ok(v) if x.bytes().all(|c| c.is_ascii_digit()) => Ok(v),
                _ => bail!("--shard {s:?}: {x:?} is not a whole number"),
            }
        };
        Shard::new(num(i)?, num(n)?, &format!("--shard {s}"))
    }

    /// Whether the file with shard key `key` is in this shard.
    pub fn takes(&self, key: &[u8]) -> bool {
        shard_of(key, self.count) == self.index
    }
}

/// The shard of `count` that shard key `key` belongs to.
pub fn shard_of(key: &[u8], count: u64) -> u64 {
    let h = sha2::Sha256::digest(key);
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_be_bytes(b) % count
}

/// Which shard to take: `--shard` if given (the environment is then not read); else a
/// scheduler's array index from the environment (`get` reads a variable; an empty one
/// counts as unset), with the count from Slurm or `--shard-count`; else none (every
/// file). Returns the shard and where it came from. Conflicting or invalid values are
/// errors.
pub fn choose(
    flag: Option<&str>,
    shard_count: Option<u64>,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<(Shard, String)>> {
    if let Some(s) = flag {
        if shard_count.is_some() {
            bail!("--shard I/N and --shard-count N conflict: give one (--shard-count only completes an index from the environment)");
        }
        return Ok(Some((Shard::parse(s)?, "--shard".into())));
    }
    let get = |k: &str| get(k).filter(|v| !v.is_empty());
    let num = |k: &str| -> Result<Option<u64>> {
        match get(k) {
            None => Ok(None),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if v.bytes().all(|c| c.is_ascii_digit()) => Ok(Some(n)),
                _ => bail!("{k}={v:?} is not a whole number"),
            },
        }
    };
    let sources: Vec<&str> = [
        "SLURM_ARRAY_TASK_ID",
        "JOB_COMPLETION_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ]
    .into_iter()
    .filter(|k| get(k).is_some())
    .collect();
    if sources.len() > 1 {
        bail!(
            "array indexes from more than one scheduler in the environment ({}): give --shard I/N",
            sources.join(", ")
        );
    }
    let Some(&source) = sources.first() else {
        if let Some(n) = shard_count {
            bail!("--shard-count {n}: no array index in the environment (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX); give --shard I/N");
        }
        return Ok(None);
    };
    let id = num(source)?.expect("set");
    let (index, count, what) = if source == "SLURM_ARRAY_TASK_ID" {
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
        if step == 0 {
            bail!("SLURM_ARRAY_TASK_STEP=0 is not a step");
        }
        let from_range = match num("SLURM_ARRAY_TASK_MAX")? {
            Some(max) if max < min => {
                bail!("SLURM_ARRAY_TASK_MAX={max} is below SLURM_ARRAY_TASK_MIN={min}")
            }
            Some(max) => Some((max - min) / step + 1),
            None => None,
        };
        let slurm = match (num("SLURM_ARRAY_TASK_COUNT")?, from_range) {
            (Some(c), Some(r)) if c != r => bail!(
                "SLURM_ARRAY_TASK_COUNT={c} but the array's MIN..MAX:STEP holds {r} tasks: \
                 a sparse array (--array=0,5,9) cannot be split; use --array=0-{} or give --shard I/N",
                c.saturating_sub(1)
            ),
            (c, r) => c.or(r),
        };
        let count = match (slurm, shard_count) {
            (Some(s), Some(n)) if s != n => bail!(
                "--shard-count {n} conflicts with the Slurm array's {s} tasks"
            ),
            (Some(s), _) => s,
            (None, Some(n)) => n,
            (None, None) => bail!(
                "SLURM_ARRAY_TASK_ID={id} without SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MAX: give --shard-count N"
            ),
        };
        if id < min || (id - min) % step != 0 {
            bail!("SLURM_ARRAY_TASK_ID={id} is not in the array from {min} by {step}");
        }
        let what = format!("SLURM_ARRAY_TASK_ID={id} of {count} tasks from {min}");
        ((id - min) / step, count, what)
    } else {
        let Some(n) = shard_count else {
            bail!("{source}={id}: give the number of shards with --shard-count N (the array's size or completions)");
        };
        (id, n, format!("{source}={id} of --shard-count {n}"))
    };
    Ok(Some((Shard::new(index, count, &what)?, what)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| v.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone())
    }

    #[test]
    fn where_the_shard_comes_from() {
        type Row<'a> = (
            Option<&'a str>,
            Option<u64>,
            &'a [(&'a str, &'a str)],
            Option<(u64, u64)>,
        );
        let table: &[Row] = &[
            (None, None, &[], None),
            (Some("1/4"), None, &[], Some((1, 4))),
            // The flag beats the environment.
            (
                Some("0/1"),
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "3"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                Some((0, 1)),
            ),
            (
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "3"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                Some((3, 4)),
            ),
            // Slurm without COUNT: from MIN and MAX (and STEP); an array from 1.
            (
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "2"),
                    ("SLURM_ARRAY_TASK_MIN", "1"),
                    ("SLURM_ARRAY_TASK_MAX", "4"),
                ],
                Some((1, 4)),
            ),
            (
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "6"),
                    ("SLURM_ARRAY_TASK_MIN", "0"),
                    ("SLURM_ARRAY_TASK_MAX", "6"),
                    ("SLURM_ARRAY_TASK_STEP", "2"),
                ],
                Some((3, 4)),
            ),
            (None, Some(4), &[("SLURM_ARRAY_TASK_ID", "3")], Some((3, 4))),
            (
                None,
                Some(4),
                &[
                    ("SLURM_ARRAY_TASK_ID", "3"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                Some((3, 4)),
            ),
            (
                None,
                Some(3),
                &[("JOB_COMPLETION_INDEX", "2")],
                Some((2, 3)),
            ),
            (
                None,
                Some(10),
                &[("AWS_BATCH_JOB_ARRAY_INDEX", "0")],
                Some((0, 10)),
            ),
            // Empty means unset.
            (None, None, &[("JOB_COMPLETION_INDEX", "")], None),
        ];
        for (flag, count, vars, want) in table {
            let got = choose(*flag, *count, env(vars)).unwrap_or_else(|e| panic!("{vars:?}: {e}"));
            assert_eq!(
                got.map(|(s, _)| (s.index, s.count)),
                *want,
                "{flag:?} {count:?} {vars:?}"
            );
        }
    }

    #[test]
    fn conflicting_or_invalid_values_are_refused() {
        type Row<'a> = (
            Option<&'a str>,
            Option<u64>,
            &'a [(&'a str, &'a str)],
            &'a str,
        );
        let table: &[Row] = &[
            (Some("4/4"), None, &[], "not below"),
            (Some("0/0"), None, &[], "at least 1"),
            (Some("1"), None, &[], "I/N"),
            (Some("-1/4"), None, &[], "whole number"),
            (Some("+1/4"), None, &[], "whole number"),
            (Some("1/4"), Some(4), &[], "conflict"),
            (None, Some(4), &[], "no array index"),
            (None, None, &[("SLURM_ARRAY_TASK_ID", "1")], "--shard-count"),
            (
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "x"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                "whole number",
            ),
            (
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "4"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                "not below",
            ),
            (
                None,
                Some(5),
                &[
                    ("SLURM_ARRAY_TASK_ID", "1"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                "conflicts",
            ),
            (
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "5"),
                    ("SLURM_ARRAY_TASK_COUNT", "3"),
                    ("SLURM_ARRAY_TASK_MIN", "0"),
                    ("SLURM_ARRAY_TASK_MAX", "9"),
                ],
                "sparse",
            ),
            (
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "3"),
                    ("SLURM_ARRAY_TASK_MIN", "0"),
                    ("SLURM_ARRAY_TASK_MAX", "6"),
                    ("SLURM_ARRAY_TASK_STEP", "2"),
                ],
                "not in the array",
            ),
            (
                None,
                None,
                &[
                    ("SLURM_ARRAY_TASK_ID", "0"),
                    ("SLURM_ARRAY_TASK_MIN", "5"),
                    ("SLURM_ARRAY_TASK_MAX", "9"),
                ],
                "not in the array",
            ),
            (
                None,
                None,
                &[("JOB_COMPLETION_INDEX", "1")],
                "--shard-count",
            ),
            (None, Some(2), &[("JOB_COMPLETION_INDEX", "2")], "not below"),
            (
                None,
                Some(2),
                &[
                    ("JOB_COMPLETION_INDEX", "1"),
                    ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
                ],
                "more than one",
            ),
        ];
        for (flag, count, vars, want) in table {
            match choose(*flag, *count, env(vars)) {
                Err(e) => assert!(e.to_string().contains(want), "{vars:?}: {e}"),
                Ok(s) => panic!("{flag:?} {count:?} {vars:?}: accepted as {s:?}"),
            }
        }
    }

    #[test]
    fn shards_cover_every_file_once_and_stay_put_when_files_are_added() {
        let keys: Vec<String> = (0..1000)
            .map(|i| format!("day{}/call-{i}.sasf", i % 7))
            .collect();
        let n = 4;
        let mut per = vec![0; n as usize];
        for k in &keys {
            let taken: Vec<u64> = (0..n)
                .filter(|&i| Shard { index: i, count: n }.takes(k.as_bytes()))
                .collect();
            assert_eq!(taken.len(), 1, "{k}");
            per[taken[0] as usize] += 1;
        }
        // Roughly even: each of 4 gets 250 ± 60 of 1000.
        assert!(per.iter().all(|&c| (190..=310).contains(&c)), "{per:?}");
        // The shard depends on the key alone, not on the other files.
        assert_eq!(
            shard_of(b"day1/call-1.sasf", 4),
            shard_of(b"day1/call-1.sasf", 4)
        );
        let fixed = shard_of(b"a/b.sasf", 4);
        assert_eq!(
            fixed,
            u64::from_be_bytes(sha2::Sha256::digest(b"a/b.sasf")[..8].try_into().unwrap()) % 4
        );
    }
}
