#!/usr/bin/env bash
# Two builds of mq side by side on `mq bench decode`, in interleaved rounds (not in CI): is a change
# faster, and is it no slower where it should not matter?
#
#   tools/bench_ab.sh BEFORE_MQ AFTER_MQ [--rounds 3] [--cases "NAME:MODEL:ARGS;..."]
#
# e.g. keep the old binary before rebuilding:
#   cp .build/release/mq /tmp/mq-before; <change, swift build -c release --product mq>
#   tools/bench_ab.sh /tmp/mq-before .build/release/mq
# Default cases (models from tools/make_bench_checkpoint.py, made here when missing):
#   batch 1 (prompt 16, 64 tokens) at F32 and F16 on 1 and 2 threads, batch 16 (prompt 128, 32
#   tokens) and batch 8 with 1024 tokens of context (16 tokens), 2 threads.
# Each round runs every case with BEFORE then AFTER (the order alternates between rounds); it prints
# every median step (ms), then per case the median over rounds and AFTER / BEFORE in step time
# (below 1: AFTER is faster). Report `uptime` with the numbers: on a shared 2-core machine only
# ratios from one run mean anything.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ $# -ge 2 ]] || { sed -n '2,16p' "$0"; exit 2; }
BEFORE=$1 AFTER=$2; shift 2
PY=${PY:-/work/venv/bin/python}
ROUNDS=3
F32=models/bench/tiny_starcoder F16=models/bench/tiny_starcoder_f16
CASES="b1-f32-1t:$F32:--batch 1 --context 16 --tokens 64 --threads 1;b1-f32-2t:$F32:--batch 1 --context 16 --tokens 64 --threads 2;\
b1-f16-1t:$F16:--batch 1 --context 16 --tokens 64 --threads 1;b1-f16-2t:$F16:--batch 1 --context 16 --tokens 64 --threads 2;\
b16-f32-2t:$F32:--batch 16 --context 128 --tokens 32 --threads 2;b8-ctx1024-f32-2t:$F32:--batch 8 --context 1024 --tokens 16 --threads 2"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --cases) CASES=$2; shift 2 ;;
        *) echo "bench_ab.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
for b in "$BEFORE" "$AFTER"; do [[ -x "$b" ]] || { echo "bench_ab.sh: $b is not an executable" >&2; exit 1; }; done
for spec in "tiny_starcoder f32" "tiny_starcoder_f16 f16"; do
    read -r dir dtype <<<"$spec"
    [[ -f "models/bench/$dir/model.safetensors" ]] ||
        "$PY" tools/make_bench_checkpoint.py --shape tiny_starcoder --dtype "$dtype" --out "models/bench/$dir"
done

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
IFS=';' read -r -a cases <<<"$CASES"
step_ms() {   # BINARY MODEL ARGS... -> median ms per step
    local bin=$1 model=$2; shift 2
    "$bin" bench decode --model "$model" "$@" --no-bandwidth --json |
        "$PY" -c 'import json,sys; print(round(json.loads(sys.stdin.readline())["msPerStep"], 3))'
}

echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# before: $BEFORE   after: $AFTER   (median ms per decode step)"
for ((round = 1; round <= ROUNDS; round++)); do
    for c in "${cases[@]}"; do
        IFS=':' read -r name model args <<<"$c"
        # shellcheck disable=SC2086
        if ((round % 2)); then
            b=$(step_ms "$BEFORE" "$model" $args); a=$(step_ms "$AFTER" "$model" $args)
        else
            a=$(step_ms "$AFTER" "$model" $args); b=$(step_ms "$BEFORE" "$model" $args)
        fi
        printf 'round %d  %-20s before %9s  after %9s  load %s\n' "$round" "$name" "$b" "$a" "$(cut -d' ' -f1 /proc/loadavg)"
        echo "$name $b $a" >>"$RESULTS"
    done
done
echo
"$PY" - "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
names = list(dict.fromkeys(r[0] for r in rows))
print(f"{'case':20} {'before ms/step':>14} {'after ms/step':>14} {'after/before':>13}")
for n in names:
    b = statistics.median(float(r[1]) for r in rows if r[0] == n)
    a = statistics.median(float(r[2]) for r in rows if r[0] == n)
    print(f"{n:20} {b:14.2f} {a:14.2f} {a / b:13.3f}")
EOF
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
