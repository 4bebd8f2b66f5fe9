#!/usr/bin/env bash
# The README's test command: installs what the tests drive when it is missing, then runs
# every test. ffmpeg (ffprobe) and Python's wavinfo read the WAVs `sasf convert` writes
# (sasf-cli/tests/listening.rs); the `flac` command decodes the FLACs it writes
# (sasf-cli/tests/flac.rs); slurm-wlm and munge give the real single-node Slurm of
# sasf-cli/tests/slurm.rs; Debian's chromium and playwright-core (npm, pinned by
# sasf-cli/tests/browser/package-lock.json) run the browser tests of `sasf serve`
# (sasf-cli/tests/browser.rs). Installing needs root (apt-get); on a machine that has
# them, nothing is installed. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=""
{ command -v ffprobe && command -v ffmpeg; } > /dev/null || need="$need ffmpeg"
command -v flac > /dev/null || need="$need flac"
{ command -v sbatch && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/munged ]; } > /dev/null || need="$need slurm-wlm munge"
[ -x /usr/bin/chromium ] || need="$need chromium"
command -v node > /dev/null || need="$need nodejs npm"
if [ -n "$need" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need > /dev/null
fi
python3 -c 'import wavinfo' 2> /dev/null || python3 -m pip install --quiet wavinfo==4.0.1
[ -d sasf-cli/tests/browser/node_modules/playwright-core ] ||
    npm ci --prefix sasf-cli/tests/browser --no-audit --no-fund --loglevel=error


cargo test --workspace "$@"
