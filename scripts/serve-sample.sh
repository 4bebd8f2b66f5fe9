#!/usr/bin/env bash
# Plays the shipped sample call in the browser: packs it (encrypted) into an archive
# under target/serve-sample/, then runs `sasf serve` on it with the sample
# questionnaire, on http://127.0.0.1:8080/ (Ctrl-C stops it). No login: whoever can
# reach loopback is the local supervisor. Extra arguments go to `sasf serve`
# (--listen 127.0.0.1:9000, --users users.toml, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p sasf-cli
sasf=target/release/sasf
out=target/serve-sample
if [ ! -f "$out/archive/sample-call.sasf" ]; then
    rm -rf "$out" && mkdir -p "$out/archive"
    "$sasf" keygen -o "$out/archive.key"
    "$sasf" pack testdata/sample-call.wav --meta testdata/sample-call.json \
        -o "$out/archive/sample-call.sasf" --key-file "$out/archive.key" --encrypt
fi
exec "$sasf" serve "$out/archive" --key-file "$out/archive.key" \
    --form testdata/qa/form.json "$@"
