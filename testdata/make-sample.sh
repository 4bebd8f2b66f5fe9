#!/usr/bin/env bash
# Makes testdata/sample-call.wav and testdata/sample-call.json: a short synthetic
# contact-centre call for tests and demos.
#
#   - stereo, 8000 Hz, G.711 µ-law (WAV format tag 7), about 19 seconds (about 300 KB);
#   - left channel (0) = the agent "Ann", right channel (1) = the customer "Carl";
#   - turns: greeting, the customer asks about an order, the agent puts the call on
#     hold (silence on both channels), the customer keys in "42" (DTMF tones on the
#     customer's channel), the agent resolves it and opens case 12345, goodbyes.
#
# The event times in the JSON are computed from the same timeline that places the
# speech, so they always match the audio.
#
# Needs espeak-ng and sox (Debian: apt-get install -y espeak-ng sox). The output is
# deterministic for a given espeak-ng and sox version: no random dither, no noise.
#
# Usage: testdata/make-sample.sh [OUTPUT_DIR]   (default: the directory of this script)

set -euo pipefail

for tool in espeak-ng sox soxi; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make-sample.sh: '$tool' not found; install it with:" >&2
        echo "    apt-get install -y espeak-ng sox" >&2
        exit 1
    fi
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${1:-$here}"
mkdir -p "$out_dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rate=8000              # samples per second
ms=$((rate / 1000))    # samples per millisecond
# Global sox options: -R repeatable (fixed seeds), -D no automatic dither,
# -V1 errors only.
SOX=(sox -R -D -V1)

agent_voice="en-us+f3"
customer_voice="en-gb+m3"
speed=205              # words per minute

# --- helpers -----------------------------------------------------------------

# say NAME VOICE TEXT: speaks TEXT into $work/NAME.wav as 16-bit mono at $rate,
# with the leading and trailing silence trimmed, band-limited like a phone line and
# normalised to -4 dBFS.
say() {
    local name="$1" voice="$2" text="$3"
    espeak-ng -v "$voice" -s "$speed" -w "$work/$name.raw.wav" "$text"
    "${SOX[@]}" "$work/$name.raw.wav" -r "$rate" -c 1 -b 16 -e signed-integer \
        "$work/$name.wav" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
        sinc 300-3400 rate "$rate" gain -n -4
}

# tone NAME LOW HIGH: a 120 ms DTMF tone (two sines) at -8 dBFS.
tone() {
    local name="$1" low="$2" high="$3"
    "${SOX[@]}" -n -r "$rate" -c 2 -b 16 "$work/$name.st.wav" \
        synth 0.120 sine "$low" sine "$high"
    "${SOX[@]}" "$work/$name.st.wav" -c 1 "$work/$name.wav" remix 1v0.5,2v0.5 gain -n -8
}

# samples FILE: length of FILE in samples.
samples() { soxi -s "$1"; }

# The timeline: each channel is a list of pieces placed at a start sample.
# place CHANNEL NAME START_SAMPLE appends NAME (a file in $work) to CHANNEL's list.
agent_pieces=()
customer_pieces=()
place() {
    local channel="$1" name="$2" start="$3"
    if [[ "$channel" == agent ]]; then
        agent_pieces+=("$name:$start")
    else
        customer_pieces+=("$name:$start")
    fi
}

# render CHANNEL TOTAL_SAMPLES OUT: concatenates the channel's pieces, each preceded
# by the silence that puts it at its start sample, and pads to TOTAL_SAMPLES.
render() {
    local channel="$1" total="$2" out="$3" cursor=0 i=0 piece name start gap
    local -a pieces files=()
    if [[ "$channel" == agent ]]; then
        pieces=("${agent_pieces[@]}")
    else
        pieces=("${customer_pieces[@]}")
    fi
    for piece in "${pieces[@]}"; do
        name="${piece%%:*}"
        start="${piece##*:}"
        gap=$((start - cursor))
        if ((gap < 0)); then
            echo "make-sample.sh: $name overlaps the previous piece on $channel" >&2
            exit 1
        fi
        "${SOX[@]}" "$work/$name.wav" "$work/$channel.$i.wav" pad "${gap}s"
        files+=("$work/$channel.$i.wav")
        cursor=$((start + $(samples "$work/$name.wav")))
        i=$((i + 1))
    done
    "${SOX[@]}" "${files[@]}" "$work/$channel.cat.wav"
    "${SOX[@]}" "$work/$channel.cat.wav" "$out" pad 0 "${total}s" trim 0 "${total}s"
}

# --- the dialogue --------------------------------------------------------------

say a1 "$agent_voice"    "Example Shop, Ann speaking. How can I help?"
say c1 "$customer_voice" "Hi, my order hasn't arrived."
say a2 "$agent_voice"    "Let me check. Please hold."
say a3 "$agent_voice"    "Thanks. Please key in the last two digits of your order."
say a4 "$agent_voice"    "It arrives tomorrow. Your case is one two three four five."
say c2 "$customer_voice" "Great, thanks. Bye!"
say a5 "$agent_voice"    "Thanks for calling. Goodbye."
tone d4 770 1209   # DTMF "4": 770 Hz + 1209 Hz
tone d2 697 1336   # DTMF "2": 697 Hz + 1336 Hz

gap=$((250 * ms))  # silence between turns
t=$((500 * ms))    # the agent starts speaking 500 ms into the call

place agent a1 "$t";    t=$((t + $(samples "$work/a1.wav") + gap))
place customer c1 "$t"; t=$((t + $(samples "$work/c1.wav") + gap))
place agent a2 "$t";    t=$((t + $(samples "$work/a2.wav") + 200 * ms))
hold_at=$t;             t=$((t + 1500 * ms))  # on hold: silence on both channels
resume_at=$t;           t=$((t + 100 * ms))
place agent a3 "$t";    t=$((t + $(samples "$work/a3.wav") + 400 * ms))
dtmf_at=$t
place customer d4 "$t"; t=$((t + $(samples "$work/d4.wav") + 100 * ms))
place customer d2 "$t"; t=$((t + $(samples "$work/d2.wav") + gap))
case_at=$t
place agent a4 "$t";    t=$((t + $(samples "$work/a4.wav") + gap))
place customer c2 "$t"; t=$((t + $(samples "$work/c2.wav") + gap))
place agent a5 "$t";    t=$((t + $(samples "$work/a5.wav") + 300 * ms))
leave_at=$t;            t=$((t + 200 * ms))
disconnect_at=$t;       t=$((t + 200 * ms))
total=$t

render agent "$total" "$work/left.wav"
render customer "$total" "$work/right.wav"

# Left = agent, right = customer; encode as G.711 µ-law.
"${SOX[@]}" -M "$work/left.wav" "$work/right.wav" \
    -r "$rate" -c 2 -e mu-law -b 8 "$out_dir/sample-call.wav"

# --- the metadata ------------------------------------------------------------------

to_ms() { echo $(($1 / ms)); }
cat >"$out_dir/sample-call.json" <<EOF
{
  "recording": {"id": "call-0001", "started_at": "2026-11-23T10:15:00Z", "channels": ["agent", "customer"]},
  "participants": [
    {"id": "a1", "name": "Ann Agent", "role": "agent", "address": "sip:ann@example.com", "channels": [0]},
    {"id": "c1", "name": "Carl Customer", "role": "customer", "address": "+15551234567", "channels": [1]}
  ],
  "events": [
    {"at_ms": 0, "type": "join", "participant": "a1"},
    {"at_ms": 350, "type": "join", "participant": "c1"},
    {"at_ms": $(to_ms "$hold_at"), "type": "hold", "participant": "a1"},
    {"at_ms": $(to_ms "$resume_at"), "type": "resume", "participant": "a1"},
    {"at_ms": $(to_ms "$dtmf_at"), "type": "dtmf", "participant": "c1", "digits": "42"},
    {"at_ms": $(to_ms "$case_at"), "type": "custom", "participant": "a1", "key": "crm.case", "value": "12345"},
    {"at_ms": $(to_ms "$leave_at"), "type": "leave", "participant": "c1"},
    {"at_ms": $(to_ms "$disconnect_at"), "type": "disconnect", "reason": "normal"}
  ]
}
EOF

echo "wrote $out_dir/sample-call.wav ($(to_ms "$total") ms) and $out_dir/sample-call.json"
