#!/usr/bin/env bash
# Reproduce the default model and the quality table from scratch (about 40 minutes of wall clock
# on a 2-core machine; both models train at the same time on one thread each).
#
#   tools/train/reproduce.sh            # data, tokenizer, both models, F16 export, table, card
#   SKIP_TRAIN=1 tools/train/reproduce.sh   # only export + table + card from existing checkpoints
#
# Everything it writes goes to models/train-work/ except models/default/ and models/QUALITY.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/work/venv/bin/python}
W=models/train-work
export OMP_NUM_THREADS=1
# Hyperparameters of the shipped run; train.py documents each one.
TRAIN_ARGS="--batch-size 8 --context 256 --lr 2e-3 --warmup-tokens 40960 --token-budget 614400 --max-minutes 40"

mkdir -p "$W"
if [[ -z "${SKIP_TRAIN:-}" ]]; then
  "$PY" tools/train/prepare.py --python /usr/bin/python3 --vocab-size 8192 --out "$W/data"
  pids=()
  for a in mqa mha; do
    "$PY" tools/train/train.py --attention "$a" --out "$W/$a" $TRAIN_ARGS > "$W/$a.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  # A run stopped by the wall clock before the token budget is resumed until it reaches it, so
  # both models always see the same tokens (train.py continues from its checkpoint).
  for a in mqa mha; do
    "$PY" tools/train/train.py --attention "$a" --out "$W/$a" $TRAIN_ARGS --max-minutes 1000 >> "$W/$a.log" 2>&1
  done
fi
"$PY" tools/train/export.py "$W/mqa/final" models/default
"$PY" tools/train/export.py "$W/mha/final" "$W/mha/export"
"$PY" tools/train/evaluate.py --mqa models/default --mha "$W/mha/export" \
    --json-out "$W/eval.json" --markdown-out "$W/table.md"
"$PY" tools/train/sample.py models/default --json-out "$W/samples.json"
"$PY" tools/train/card.py --eval "$W/eval.json" --samples "$W/samples.json"
