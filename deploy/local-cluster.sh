#!/usr/bin/env bash
# Brings up an mq cluster on this machine: one mq-coordinator and N mq-worker processes, each worker
# holding a contiguous range of the model's layers. Waits until every layer is served, prints how
# to call it, optionally generates from a prompt, and stops every process it started on exit.
# Secured by default: it makes CURVE keys for the coordinator, each worker and a client (mq keygen,
# in the run folder, mode 0700), so every plane is encrypted and only these workers can join.
#
# Usage:
#   deploy/local-cluster.sh [--model DIR] [--workers N] [--port PORT] [--prompt TEXT] [--max-tokens N]
#                           [--keep] [--split balanced|even|memory|A,B,...] [--metrics-port P] [--debug]
#                           [--insecure] [--standbys N]
#     --model DIR     Hugging Face model folder (default: models/default, the bundled model)
#     --workers N     pipeline stages / worker processes (default 2)
#     --standbys N    extra workers that wait to take over a lost stage (default 0)
#     --port PORT     client port; workers use PORT+1 (default 5555)
#     --prompt TEXT   generate from TEXT (streamed) once the cluster is ready; --temperature T,
#                     --top-k K, --top-p P, --seed S, --repetition-penalty R go with it to mq stream
#     --metrics-port P  Prometheus metrics at http://127.0.0.1:P/metrics (default PORT+9; 0: off)
#     --keep          keep the cluster running until Ctrl-C (default: stop after the prompt, or
#                     keep running if no prompt was given)
#     --debug         use the debug build instead of building with -c release
#     --insecure      no CURVE keys (plain ZeroMQ on loopback, for comparison)
# Example (the README's quick start):
#   deploy/local-cluster.sh --prompt 'def fibonacci(n):' --max-tokens 64 --repetition-penalty 1.2
set -euo pipefail
cd "$(dirname "$0")/.."

model=models/default workers=2 port=5555 prompt="" max_tokens=64 keep="" split=balanced config=release metrics_port="" insecure="" standbys=0
sampling=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --standbys) standbys=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --max-tokens) max_tokens=$2; shift 2 ;;
    --split) split=$2; shift 2 ;;
    --metrics-port) metrics_port=$2; shift 2 ;;
    --temperature|--top-k|--top-p|--seed|--repetition-penalty) sampling+=("$1" "$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    --debug) config=debug; shift ;;
    --insecure) insecure=1; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
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
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/mq-cluster.XXXXXX")
clients="tcp://127.0.0.1:$port"
workers_ep="tcp://127.0.0.1:$((port + 1))"
pids=()

stop_all() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
      alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ $alive = 0 ] && break; sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
  fi
  echo "local-cluster: stopped (logs in $run_dir)" >&2
}
trap stop_all EXIT INT TERM

# Every stage runs on this one machine, so the stages take turns with all of its cores (one
# micro-batch in flight, each worker using every core) rather than running side by side on a share
# of them: measured on 2 cores with tiny_starcoder and 2 stages, 16 streams decode 169 tok/s this
# way against 109-131 tok/s with two micro-batches. Across machines use the coordinator's default
# (one micro-batch per stage) so the stages overlap.
threads=$(nproc 2>/dev/null || echo 1)
metrics_port=${metrics_port:-$((port + 9))}
metrics_args=()
[ "$metrics_port" != 0 ] && metrics_args=(--metrics-listen "tcp://127.0.0.1:$metrics_port")

# Keys: one pair per process; the coordinator accepts exactly these workers.
coordinator_keys=() client_keys=()
if [ -z "$insecure" ]; then
  keys="$run_dir/keys"
  for name in coordinator client $(seq -f 'worker%g' 0 $((workers + standbys - 1))); do
    "$bin/mq" keygen --out "$keys/$name" >/dev/null
  done
  for i in $(seq 0 $((workers + standbys - 1))); do grep -v '^#' "$keys/worker$i.pub"; done >"$keys/authorized-workers"
  coordinator_keys=(--curve-key "$keys/coordinator.key" --authorized-workers "$keys/authorized-workers")
  client_keys=(--server-key "$keys/coordinator.pub")
fi

"$bin/mq-coordinator" --model "$model" --workers "$workers" --split "$split" --micro-batches 1 "${metrics_args[@]}" \
  --listen "$clients" --workers-listen "$workers_ep" ${coordinator_keys[@]+"${coordinator_keys[@]}"} \
  >"$run_dir/coordinator.out" 2>"$run_dir/coordinator.log" &
pids+=($!)
for i in $(seq 0 $((workers + standbys - 1))); do
  wkeys=()
  [ -z "$insecure" ] && wkeys=(--curve-key "$keys/worker$i.key" --coordinator-key "$keys/coordinator.pub")
  "$bin/mq-worker" --coordinator "$workers_ep" --listen "ipc://$run_dir/worker$i.sock" --worker-id "worker$i" \
    --threads "$threads" ${wkeys[@]+"${wkeys[@]}"} >"$run_dir/worker$i.out" 2>"$run_dir/worker$i.log" &
  pids+=($!)
done

echo "local-cluster: waiting for $workers workers to load $model ..." >&2
for _ in $(seq 600); do
  if "$bin/mq" health --server "$clients" ${client_keys[@]+"${client_keys[@]}"} --timeout 1 >/dev/null 2>&1; then break; fi
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo "local-cluster: a process exited early; logs:" >&2; tail -n 20 "$run_dir"/*.log >&2; exit 1; }
  done
  sleep 0.2
done
"$bin/mq" health --server "$clients" ${client_keys[@]+"${client_keys[@]}"} --timeout 2 >/dev/null || { echo "local-cluster: not serving after 120 s" >&2; tail -n 20 "$run_dir"/*.log >&2; exit 1; }
"$bin/mq" info --server "$clients" ${client_keys[@]+"${client_keys[@]}"} >&2
ck="${client_keys[*]+ ${client_keys[*]}}"
cat >&2 <<EOT
local-cluster: serving on $clients
  $bin/mq stream   --server $clients$ck --prompt 'def fibonacci(n):' --max-tokens 64
  $bin/mq generate --server $clients$ck --prompt-ids 1,2,3 --max-tokens 8 --json
  $bin/mq health   --server $clients$ck
EOT
[ "$metrics_port" != 0 ] && echo "  curl -s http://127.0.0.1:$metrics_port/metrics      # Prometheus metrics" >&2

if [ -n "$prompt" ]; then
  printf '%s' "$prompt"
  "$bin/mq" stream --server "$clients" ${client_keys[@]+"${client_keys[@]}"} --prompt "$prompt" --max-tokens "$max_tokens" ${sampling[@]+"${sampling[@]}"}
fi
if [ -n "$keep" ] || [ -z "$prompt" ]; then
  echo "local-cluster: running; press Ctrl-C to stop" >&2
  wait "${pids[0]}"
fi
