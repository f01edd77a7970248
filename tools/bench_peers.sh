#!/usr/bin/env bash
# mq against llama.cpp on the same checkpoint, batch-1 decode, in interleaved rounds (not in CI).
#
#   tools/bench_peers.sh [--rounds 3] [--threads "1 2"] [--formats "f32 f16 q8_0"] [--mq PATH]
#                        [--shape tiny_starcoder|falcon7b] [--tokens 64]
#
# --shape falcon7b runs the Falcon-7B shape instead (32 layers, hidden 4544, 13.8 GB at F16; random
# weights from tools/make_bench_checkpoint.py): formats f16 and q8_0 (both from the F16 checkpoint)
# and 16 decoded tokens by default, since one token reads the whole 13.8 GB (7.3 GB at q8_0) and the
# load of each run dominates otherwise. It needs ~35 GB of disk for the checkpoint and two GGUFs.
#
# Each round runs, for every format and thread count, `mq bench decode` (16-token prompt, 64
# decoded tokens, median step) and llama.cpp through llama-cpp-python (tools/llama_peer.py: the
# same prompt length, 64 fixed token ids fed one Llama.eval call each, median step), one after the
# other, so both see the same machine load. It prints every round's rates, then per cell the
# medians over rounds and the ratio mq / llama.cpp. Report `uptime` with the numbers: on a shared
# 2-core machine only ratios from one run mean anything.
#
# What it needs (made once, then reused):
#   - mq built: swift build -c release --product mq (or --mq PATH)
#   - llama-cpp-python in $VENV (default /work/venv), built natively:
#       CMAKE_ARGS="-DGGML_NATIVE=ON" $VENV/bin/pip install llama-cpp-python==0.3.36
#     (or, while that builds: LLAMA_CPP_LIB_PATH=DIR holding a build's libllama.so and libggml*.so
#     and PYTHONPATH=the unpacked sdist, whose llama_cpp package then loads them; needs `diskcache`)
#   - its sdist for the converter, unpacked in $LLAMA_SDIST (default models/bench/llama-sdist):
#       $VENV/bin/pip download --no-deps --no-binary llama-cpp-python llama-cpp-python==0.3.36 -d DIR
#     (this script does that step when the folder is missing)
#   - the checkpoints models/bench/tiny_starcoder (F32) and tiny_starcoder_f16 (F16), made here by
#     tools/make_bench_checkpoint.py when missing, and their GGUF conversions (models/bench/gguf/):
#     F32 and Q8_0 from the F32 checkpoint, F16 from the F16 one.
# mq's q8_0 row runs `mq bench decode --weights q8_0` on the F32 checkpoint; an mq without that
# option gets the row skipped with a message.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-/work/venv}
PY="$VENV/bin/python"
BENCH=models/bench
LLAMA_SDIST=${LLAMA_SDIST:-$BENCH/llama-sdist}
LLAMA_VERSION=0.3.36
ROUNDS=3
THREADS="1 2"
FORMATS="f32 f16 q8_0"
MQ=.build/release/mq
PROMPT=16
TOKENS=
SHAPE=tiny_starcoder
FORMATS_SET=

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --formats) FORMATS=$2; FORMATS_SET=1; shift 2 ;;
        --shape) SHAPE=$2; shift 2 ;;
        --tokens) TOKENS=$2; shift 2 ;;
        --mq) MQ=$2; shift 2 ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        *) echo "bench_peers.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

[[ -x "$MQ" ]] || { echo "bench_peers.sh: no mq at $MQ (swift build -c release --product mq)" >&2; exit 1; }
"$PY" -c 'import llama_cpp' 2>/dev/null || {
    echo "bench_peers.sh: llama-cpp-python is not installed in $VENV:" >&2
    echo "  CMAKE_ARGS=\"-DGGML_NATIVE=ON\" $VENV/bin/pip install llama-cpp-python==$LLAMA_VERSION" >&2
    exit 1
}

# Checkpoints.
case "$SHAPE" in
    tiny_starcoder)
        TOKENS=${TOKENS:-64}
        for spec in "tiny_starcoder f32" "tiny_starcoder_f16 f16"; do
            read -r dir dtype <<<"$spec"
            if [[ ! -f "$BENCH/$dir/model.safetensors" ]]; then
                "$PY" tools/make_bench_checkpoint.py --shape tiny_starcoder --dtype "$dtype" --out "$BENCH/$dir"
            fi
        done ;;
    falcon7b)
        TOKENS=${TOKENS:-16}
        [[ -n "$FORMATS_SET" ]] || FORMATS="f16 q8_0"
        [[ " $FORMATS " != *" f32 "* ]] || { echo "bench_peers.sh: --shape falcon7b has no f32 checkpoint (f16, q8_0)" >&2; exit 2; }
        if [[ ! -f "$BENCH/falcon7b_f16/model.safetensors" && ! -f "$BENCH/falcon7b_f16/model.safetensors.index.json" ]]; then
            "$PY" tools/make_bench_checkpoint.py --shape falcon7b_layer --layers 32 --dtype f16 --out "$BENCH/falcon7b_f16"
        fi ;;
    *) echo "bench_peers.sh: unknown --shape $SHAPE (tiny_starcoder, falcon7b)" >&2; exit 2 ;;
esac

# The converter, from the sdist.
LLAMA_DIR=$(ls -d "$LLAMA_SDIST"/llama_cpp_python-*/vendor/llama.cpp 2>/dev/null | head -1 || true)
if [[ -z "$LLAMA_DIR" ]]; then
    mkdir -p "$LLAMA_SDIST"
    "$VENV/bin/pip" download --no-deps --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_VERSION" -d "$LLAMA_SDIST"
    tar -xzf "$LLAMA_SDIST"/llama_cpp_python-*.tar.gz -C "$LLAMA_SDIST"
    LLAMA_DIR=$(ls -d "$LLAMA_SDIST"/llama_cpp_python-*/vendor/llama.cpp | head -1)
fi

# The mq checkpoint and mq flags of a format; the GGUF made from it.
mq_model() {
    if [[ $SHAPE == falcon7b ]]; then echo "$BENCH/falcon7b_f16"; return; fi
    case "$1" in f16) echo "$BENCH/tiny_starcoder_f16" ;; *) echo "$BENCH/tiny_starcoder" ;; esac
}
mq_flags() { case "$1" in q8_0) echo "--weights q8_0" ;; *) echo "" ;; esac; }
gguf_of() { echo "$BENCH/gguf/$SHAPE-$1.gguf"; }

mkdir -p "$BENCH/gguf"
for f in $FORMATS; do
    if [[ ! -f "$(gguf_of "$f")" ]]; then
        "$PY" tools/llama_peer.py convert "$LLAMA_DIR" "$(mq_model "$f")" "$(gguf_of "$f")" "$f" >/dev/null 2>&1 \
            || { echo "bench_peers.sh: converting $(mq_model "$f") to $f failed; rerun by hand:" >&2
                 echo "  $PY tools/llama_peer.py convert $LLAMA_DIR $(mq_model "$f") $(gguf_of "$f") $f" >&2; exit 1; }
    fi
done

MQ_HAS_WEIGHTS=0
if [[ "$("$MQ" bench decode --help 2>&1)" == *--weights* ]]; then MQ_HAS_WEIGHTS=1; fi

RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT
json_field() { "$PY" -c "import json,sys; print(json.loads(sys.stdin.readline())['$1'])"; }

echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $SHAPE, batch 1, prompt $PROMPT, $TOKENS decoded tokens, rates from the median step, tokens/s"
for ((round = 1; round <= ROUNDS; round++)); do
    for f in $FORMATS; do
        for t in $THREADS; do
            mq_rate=skip
            if [[ "$f" != q8_0 || $MQ_HAS_WEIGHTS == 1 ]]; then
                # shellcheck disable=SC2046
                mq_rate=$("$MQ" bench decode --model "$(mq_model "$f")" $(mq_flags "$f") --batch 1 --context $PROMPT \
                          --tokens $TOKENS --threads "$t" --no-bandwidth --json | json_field decodeTokensPerSecond)
                mq_rate=$(printf '%.2f' "$mq_rate")
            fi
            llama_rate=$("$PY" tools/llama_peer.py decode "$(gguf_of "$f")" "$t" --prompt $PROMPT --tokens $TOKENS \
                         | json_field tokens_per_second)
            printf 'round %d  %-5s %d thread(s)  mq %8s  llama.cpp %8.2f  load %s\n' \
                "$round" "$f" "$t" "$mq_rate" "$llama_rate" "$(cut -d' ' -f1 /proc/loadavg)"
            echo "$f $t $mq_rate $llama_rate" >>"$RESULTS"
        done
    done
done

echo
"$PY" - "$RESULTS" "$MQ_HAS_WEIGHTS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print(f"{'weights':8} {'threads':>7} {'mq tok/s (median)':>18} {'llama.cpp tok/s':>16} {'mq / llama.cpp':>15}")
seen = []
for f, t, _, _ in rows:
    if (f, t) not in seen: seen.append((f, t))
for f, t in seen:
    cell = [r for r in rows if (r[0], r[1]) == (f, t)]
    llama = statistics.median(float(r[3]) for r in cell)
    if cell[0][2] == "skip":
        print(f"{f:8} {t:>7} {'-':>18} {llama:16.2f} {'-':>15}   (this mq has no --weights q8_0: row skipped)")
        continue
    mq = statistics.median(float(r[2]) for r in cell)
    print(f"{f:8} {t:>7} {mq:18.2f} {llama:16.2f} {mq / llama:14.2f}x")
EOF
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
