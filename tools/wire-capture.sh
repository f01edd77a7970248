#!/usr/bin/env bash
# Shows what an eavesdropper on the network sees: starts a 2-stage cluster with every plane on
# TCP loopback (client, control and data sockets), captures the loopback traffic with tcpdump
# while one prompt is generated, and counts the packets that carry the prompt's text in clear.
# Run once without keys (--insecure) and once secured (CURVE on every plane).
#
# Usage: tools/wire-capture.sh [--debug] [--model DIR]     (needs root for tcpdump; Debian: tcpdump)
# Prints one line per mode, e.g. "insecure: 3 packets carry the prompt" / "secured: 0 packets ...",
# and exits non-zero if the secured run leaks it or the insecure run does not show it (the check
# would then prove nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
config=release model=models/default
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) config=debug; shift ;;
    --model) model=$2; shift 2 ;;
    *) echo "wire-capture: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v tcpdump >/dev/null || { echo "wire-capture: tcpdump not found (apt-get install tcpdump)" >&2; exit 1; }
bin=.build/$config
work=$(mktemp -d "${TMPDIR:-/tmp}/mq-capture.XXXXXX")
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
marker="SECRET_PROMPT_$RANDOM$RANDOM"

run() {  # run MODE PORT
  local mode=$1 port=$2 keys=() wkeys0=() wkeys1=() ckeys=()
  if [ "$mode" = secured ]; then
    for n in coordinator w0 w1; do "$bin/mq" keygen --out "$work/$mode/$n" >/dev/null; done
    grep -hv '^#' "$work/$mode"/w0.pub "$work/$mode"/w1.pub >"$work/$mode/authorized"
    keys=(--curve-key "$work/$mode/coordinator.key" --authorized-workers "$work/$mode/authorized")
    wkeys0=(--curve-key "$work/$mode/w0.key" --coordinator-key "$work/$mode/coordinator.pub")
    wkeys1=(--curve-key "$work/$mode/w1.key" --coordinator-key "$work/$mode/coordinator.pub")
    ckeys=(--server-key "$work/$mode/coordinator.pub")
  fi
  mkdir -p "$work/$mode"
  tcpdump -i lo -U -s 0 -w "$work/$mode.pcap" "tcp portrange $port-$((port + 3))" 2>/dev/null &
  local dump=$!
  sleep 1
  "$bin/mq-coordinator" --model "$model" --workers 2 --listen "tcp://127.0.0.1:$port" \
    --workers-listen "tcp://127.0.0.1:$((port + 1))" ${keys[@]+"${keys[@]}"} 2>"$work/$mode/coordinator.log" &
  pids+=($!)
  "$bin/mq-worker" --coordinator "tcp://127.0.0.1:$((port + 1))" --listen "tcp://127.0.0.1:$((port + 2))" \
    ${wkeys0[@]+"${wkeys0[@]}"} 2>"$work/$mode/w0.log" &
  pids+=($!)
  "$bin/mq-worker" --coordinator "tcp://127.0.0.1:$((port + 1))" --listen "tcp://127.0.0.1:$((port + 3))" \
    ${wkeys1[@]+"${wkeys1[@]}"} 2>"$work/$mode/w1.log" &
  pids+=($!)
  for _ in $(seq 100); do
    "$bin/mq" health --server "tcp://127.0.0.1:$port" ${ckeys[@]+"${ckeys[@]}"} --timeout 1 >/dev/null 2>&1 && break
    sleep 0.2
  done
  "$bin/mq" generate --server "tcp://127.0.0.1:$port" ${ckeys[@]+"${ckeys[@]}"} --prompt "# $marker" --max-tokens 16 >/dev/null
  sleep 1
  kill "$dump"; wait "$dump" 2>/dev/null || true
  kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; pids=()
  local packets total
  total=$(tcpdump -r "$work/$mode.pcap" 2>/dev/null | wc -l)
  packets=$(tcpdump -r "$work/$mode.pcap" -A 2>/dev/null | grep -c "$marker" || true)
  echo "$mode: $packets of $total captured packets carry the prompt text ($work/$mode.pcap)"
  eval "${mode}_hits=$packets"
}

run insecure 6710 && insecure_hits=${insecure_hits:-0}
run secured 6720 && secured_hits=${secured_hits:-0}
[ "$insecure_hits" -gt 0 ] || { echo "wire-capture: the insecure run did not show the prompt; the check proves nothing" >&2; exit 1; }
[ "$secured_hits" -eq 0 ] || { echo "wire-capture: the secured run leaked the prompt" >&2; exit 1; }
