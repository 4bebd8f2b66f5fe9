#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs (the corpus directories are git-ignored):
#   decode, chunked, seek, parity
#                    version-2 files written by the crate at every level (the example
#                    sasf-core/examples/fuzz_seeds.rs, from common::seed_files), the SASF
#                    bytes of every version-2 conformance vector (testdata/vectors/*.vec
#                    with its text header stripped; version-1 vectors are skipped) and
#                    the kept fuzz fixtures;
#   wav              a few small hand-made WAV headers (RIFF, streamed, extensible, RF64)
#                    and the first 2 KiB of testdata/sample-call.wav;
#   metadata         testdata/sample-call.json and a few small documents;
#   roundtrip        a few seed files' bytes (any bytes drive that target).
# Run from anywhere; then, from fuzz/:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=60 -rss_limit_mb=1024
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
corpus="$here/corpus"
for t in decode chunked seek parity wav metadata roundtrip report; do
    mkdir -p "$corpus/$t"
done

# The SASF bytes of a vector: everything after the first blank line.
strip_header() {
    local lines bytes
    lines="$(awk '/^$/ { print NR; exit }' "$1")"
    bytes="$(head -n "$lines" "$1" | wc -c)"
    tail -c +"$((bytes + 1))" "$1"
}

sasf_targets="decode chunked seek parity"
(cd "$root" && cargo run -q -p sasf-core --example fuzz_seeds -- "$corpus/.seeds") >/dev/null
for f in "$corpus"/.seeds/*; do
    for t in $sasf_targets; do cp "$f" "$corpus/$t/seed-$(basename "$f")"; done
done
n=0
for v in "$root"/testdata/vectors/*.vec; do
    [ -f "$v" ] || continue
    name="$(basename "$v" .vec)"
    strip_header "$v" >"$corpus/.vector"
    # Bytes 8-9 are the version: only version-2 vectors are worth mutating.
    [ "$(head -c 10 "$corpus/.vector" | tail -c 2 | od -An -tx1 | tr -d ' ')" = 0002 ] || continue
    for t in $sasf_targets; do cp "$corpus/.vector" "$corpus/$t/$name"; done
    n=$((n + 1))
done
rm -f "$corpus/.vector"
for t in $sasf_targets; do
    for f in "$root"/testdata/fuzz-fixtures/*/*.sasf; do
        [ -f "$f" ] && cp "$f" "$corpus/$t/"
    done
done
for name in call-l1 call-l2 call-l3 one-frame-l1; do
    cp "$corpus/.seeds/$name" "$corpus/roundtrip/$name"
done

# Little-endian integers for the WAV headers.
le16() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
fmt_chunk() { # tag channels rate bits
    local block=$(($2 * $4 / 8))
    printf 'fmt '; le32 16; le16 "$1"; le16 "$2"; le32 "$3"; le32 $(($3 * block)); le16 "$block"; le16 "$4"
}
{ printf RIFF; le32 44; printf WAVE; fmt_chunk 1 1 8000 8; printf data; le32 8; printf '\x80\x81\x7f\x80\x80\x81\x7f\x80'; } >"$corpus/wav/u8-mono"
{ printf RIFF; le32 0; printf WAVE; fmt_chunk 1 2 16000 16; printf data; le32 4294967295; printf '\x01\x00\x02\x00\x03\x00\x04\x00'; } >"$corpus/wav/s16-streamed"
{ printf RIFF; le32 60; printf WAVE; printf 'LIST'; le32 4; printf 'INFO'; fmt_chunk 7 2 8000 8; printf data; le32 5; printf '\xff\x7f\xff\x7f\xff\x00'; } >"$corpus/wav/mulaw-odd-pad"
{ printf RIFF; le32 72; printf WAVE; printf 'fmt '; le32 40; le16 65534; le16 1; le32 8000; le32 32000; le16 4; le16 32; le16 22; le16 32; le32 4
  le16 3; printf '\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71'; printf data; le32 8; printf '\x00\x00\x80\x3f\x00\x00\x80\xbf'; } >"$corpus/wav/f32-extensible"
{ printf RF64; le32 4294967295; printf WAVE; printf ds64; le32 28; le32 60; le32 0; le32 4; le32 0; le32 0; le32 0; le32 0
  fmt_chunk 6 1 8000 8; printf data; le32 4294967295; printf '\xd5\xd5\x55\x55'; } >"$corpus/wav/alaw-rf64"
head -c 2048 "$root/testdata/sample-call.wav" >"$corpus/wav/sample-call-head"

cp "$root/testdata/sample-call.json" "$corpus/metadata/sample-call.json"
printf '{}' >"$corpus/metadata/empty"
printf '{"recording":{"id":"x","started_at":"2026-11-23T10:15:00Z","channels":["a","b"]},"participants":[{"id":"a","role":"agent","channels":[0]}],"events":[{"at_ms":5,"type":"transfer","mode":"blind","participant":"a","to":"+1555"},{"at_sample":9,"type":"custom","key":"a.b","value":[1,{"x":null}]}],"annotations":[{"kind":"tag","value":"v"}]}' >"$corpus/metadata/full"
printf '{"events":[{"at_ms":1,"type":"dtmf","digits":"12#","redacted":true},{"at_ms":2,"type":"conference","participants":[]}]}' >"$corpus/metadata/dtmf"

printf '{"schema":"sasf.verify/1","file":"a/b.sasf","ok":true,"verdict":"ok","integrity":"keyless-sha256","chunks":3,"size":10,"mtime":"1796186929.000000001"}\n{"schema":"sasf.verify/1","file":"c.sasf","ok":false,"class":"auth-failed","message":"m","verdict":"failed"}\n{"schema":"sasf.ver' >"$corpus/report/torn"
printf '{"schema":"sasf.verify/1","file":"x","ok":false,"class":"io","message":"cannot open x"}\n\n' >"$corpus/report/old-verify-json"
echo "seeded: $(ls "$corpus/.seeds" | wc -l) writer seeds and $n v2 vectors into $sasf_targets; $(ls "$corpus/wav" | wc -l) wav; $(ls "$corpus/metadata" | wc -l) metadata; $(ls "$corpus/roundtrip" | wc -l) roundtrip"
