#!/usr/bin/env bash
# The main job on the shipped sample call: make a key, pack the WAV and its metadata
# into an encrypted SASF file, verify it, inspect it, and convert it back to a WAV
# that holds exactly the original samples. Everything is written to target/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p sasf-cli
sasf=target/release/sasf
out=target/demo
rm -rf "$out" && mkdir -p "$out"

run() { printf '\n$ %s\n' "$*"; "$@"; }

run "$sasf" keygen -o "$out/demo.key"
run "$sasf" pack testdata/sample-call.wav --meta testdata/sample-call.json \
    -o "$out/sample-call.sasf" --key-file "$out/demo.key" --encrypt
run "$sasf" verify "$out/sample-call.sasf" --key-file "$out/demo.key"
run "$sasf" info "$out/sample-call.sasf" --key-file "$out/demo.key"
run "$sasf" convert "$out/sample-call.sasf" -o "$out/sample-call.wav" --key-file "$out/demo.key"
run "$sasf" extract "$out/sample-call.sasf" --meta "$out/sample-call.json" --key-file "$out/demo.key"

echo
echo "outputs are in $out/ (sasf-cli/tests/cli.rs checks that the round trip is bit-exact)"
