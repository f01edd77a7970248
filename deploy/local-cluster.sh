#!/usr/bin/env bash
# Brings up an mq cluster on this machine: one mq-coordinator and N mq-worker processes, each worker
# holding a contiguous range of the model's layers, and mq-gateway, the OpenAI-compatible HTTP API
# (port 8000 by default; it says which). Waits until every layer is served, prints how to call it
# (ZeroMQ and HTTP), optionally generates from a prompt, and stops every process it started on exit.
# Secured by default: a CURVE key pair for the coordinator and each worker (in the run folder, mode
# 0700), so every plane is encrypted and only these workers can join.
# It installs the build dependencies and builds, then runs `mq cluster up` (Sources/mq/Cluster.swift
# over MQLocalCluster, the one local cluster launcher, also used by `mq bench serve --start` and the
# cluster tests), which does all of the above.
#
# Usage:
#   deploy/local-cluster.sh [--model DIR] [--workers N] [--port PORT] [--prompt TEXT] [--max-tokens N]
#                           [--keep] [--split balanced|even|memory|A,B,...] [--metrics-port P] [--debug]
#                           [--insecure] [--standbys N] [--weights stored|q8_0] [--no-prefix-cache]
#                           [--gateway-port P] [--gateway-api-keys FILE] [--no-gateway]
#     --model DIR     Hugging Face model folder (default: models/default, the bundled model)
#     --workers N     pipeline stages / worker processes (default 2)
#     --standbys N    extra workers that wait to take over a lost stage (default 0)
#     --port PORT     client port; workers use PORT+1 (default 5555)
#     --prompt TEXT   generate from TEXT (streamed) once the cluster is ready; --temperature T,
#                     --top-k K, --top-p P, --seed S, --repetition-penalty R go with it
#     --suffix TEXT   with --prompt: fill in the middle (the prompt is the text before the gap)
#     --metrics-port P  Prometheus metrics at http://127.0.0.1:P/metrics (default PORT+9; 0: off)
#     --gateway-port P  HTTP port of mq-gateway, the OpenAI-compatible API (default 8000)
#     --gateway-api-keys FILE  API keys (one a line) HTTP clients must send as "Authorization: Bearer KEY"
#     --no-gateway    do not start mq-gateway
#     --keep          keep the cluster running until Ctrl-C (default: stop after the prompt, or
#                     keep running if no prompt was given)
#     --debug         use the debug build instead of building with -c release
#     --insecure      no CURVE keys (plain ZeroMQ on loopback, for comparison)
#     --weights W     stored (the checkpoint's precision, default) or q8_0 (each worker quantizes
#                     its layers to 8-bit blocks while loading)
#     --no-prefix-cache  the coordinator reuses no cached prompt prefixes
# Example (the README's quick start):
#   deploy/local-cluster.sh --prompt 'def fibonacci(n):' --max-tokens 64 --repetition-penalty 1.2
set -euo pipefail
cd "$(dirname "$0")/.."

model=models/default workers=2 port=5555 prompt="" max_tokens=64 keep="" split=balanced config=release metrics_port="" insecure="" standbys=0 weights="" no_prefix_cache=""
sampling=() gateway=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --standbys) standbys=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --suffix) suffix=$2; shift 2 ;;
    --max-tokens) max_tokens=$2; shift 2 ;;
    --split) split=$2; shift 2 ;;
    --metrics-port) metrics_port=$2; shift 2 ;;
    --gateway-port|--gateway-api-keys) gateway+=("$1" "$2"); shift 2 ;;
    --no-gateway) gateway+=("$1"); shift ;;
    --weights) weights=$2; shift 2 ;;
    --temperature|--top-k|--top-p|--seed|--repetition-penalty) sampling+=("$1" "$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    --debug) config=debug; shift ;;
    --insecure) insecure=1; shift ;;
    --no-prefix-cache) no_prefix_cache=1; shift ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "local-cluster: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$model/config.json" ] || { echo "local-cluster: $model/config.json not found" >&2; exit 2; }

.ci/install-deps
if [ "$config" = release ]; then
  echo "local-cluster: building (swift build -c release; the first build takes a few minutes)..." >&2
  swift build -c release >&2
fi
bin=".build/$config"
args=(--model "$model" --workers "$workers" --standbys "$standbys" --port "$port" --split "$split" --max-tokens "$max_tokens")
[ -n "$metrics_port" ] && args+=(--metrics-port "$metrics_port")
[ -n "$weights" ] && args+=(--weights "$weights")
[ -n "$prompt" ] && args+=(--prompt "$prompt")
[ -n "${suffix+set}" ] && args+=(--suffix "$suffix")
[ -n "$keep" ] && args+=(--keep)
[ -n "$insecure" ] && args+=(--insecure)
[ -n "$no_prefix_cache" ] && args+=(--no-prefix-cache)
exec "$bin/mq" cluster up "${args[@]}" ${sampling[@]+"${sampling[@]}"} ${gateway[@]+"${gateway[@]}"}
