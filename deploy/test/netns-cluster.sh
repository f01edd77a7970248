#!/usr/bin/env bash
# Proves deploy/cluster.sh across real network boundaries on one machine: six network namespaces
# (coordinator, two workers, a standby, a client, an intruder), each with its own address on a
# bridge (veth pairs) and its own sshd (throwaway host and user keys, listening on that address
# only). From the client namespace it runs `deploy/cluster.sh up --push` over real ssh, then checks:
#   1. `mq generate --json` from the client equals `mq run --json` here (models/default, greedy);
#   2. a second `up` sees the cluster running and starts nothing; `status` and `logs` work;
#   3. with 2 ms one-way delay on every link the output is still exact (tc netem is missing from
#      this kernel: deploy/test/delay-proxy.py adds the delay per TCP connection instead);
#   4. a stage worker's link set down mid-generation: the call ends with exactly the tokens of
#      `mq run` (the standby takes the stage); once the link is back the worker registers again;
#   5. the intruder (no keys: `mq health --insecure`; or its own keys with coordinator.pub) gets no
#      answer and cannot join as a worker;
#   6. `cluster.sh down` stops every process `up` started.
# Needs root, iproute2, iptables, openssh-server and python3; prints why and exits 0 where network namespaces
# are not permitted. About a minute with release binaries.
#
# With --bench MODEL it instead runs `mq bench serve --streams 1,16` from the client against a
# 2-stage cluster of MODEL (no standby, workers on one thread each) at 0, 2 and 10 ms one-way
# delay, and counts the bytes each host sends per generated token.
#
# Usage: deploy/test/netns-cluster.sh [--bin DIR] [--keep] [--bench MODEL] [--bench-tokens N]
#   --bin DIR   binaries to run (default .build/release)
#   --keep      leave the namespaces and the cluster up at the end (for poking around)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

bin=.build/release keep="" bench="" bench_tokens=64
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --bench) bench=$2; shift 2 ;;
    --bench-tokens) bench_tokens=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "netns-cluster: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=$(cd "$bin" && pwd)

skip() { echo "netns-cluster: SKIPPED: $*"; exit 0; }
fail() { echo "netns-cluster: FAILED: $*" >&2; exit 1; }
step() { echo "== netns-cluster: $* ($((SECONDS - start)) s)"; }
start=$SECONDS

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
for tool in ip iptables sshd ssh ssh-keygen python3; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || fail "$tool not found (apt-get install iproute2 iptables openssh-server python3)"
done
probe="mqt-probe-$$"
ip netns add "$probe" 2>/dev/null || skip "ip netns add is not permitted here"
ip netns del "$probe"
for b in mq mq-coordinator mq-worker; do [ -x "$bin/$b" ] || fail "$bin/$b not found (swift build -c release)"; done

net=10.231.0
bridge=mqt-br0
# namespace name, last octet of its address
hosts=(coord:10 w1:11 w2:12 sb:13 client:20 intruder:30)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mq-netns.XXXXXX")
chmod 755 "$tmp"
state="$tmp/state"
in_ns() { local ns=$1; shift; ip netns exec "mqt-$ns" "$@"; }
addr() { local h; for h in "${hosts[@]}"; do if [ "${h%%:*}" = "$1" ]; then echo "$net.${h#*:}"; fi; done; }

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$keep" ]; then echo "netns-cluster: kept up; state in $tmp"; return; fi
  if [ -f "$tmp/hosts.txt" ] && [ -d "$state/pids" ]; then
    in_ns client "$repo/deploy/cluster.sh" down "$tmp/hosts.txt" --state "$state" --bin "$bin" --timeout 10 >/dev/null 2>&1 || true
  fi
  local f
  for f in "$tmp"/ssh/sshd-*.pid "$tmp"/proxy-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  # Anything still running in a test namespace was started by this test (it keeps the namespace alive).
  for h in "${hosts[@]}"; do
    for p in $(ip netns pids "mqt-${h%%:*}" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  done
  sleep 0.2
  for h in "${hosts[@]}"; do ip netns del "mqt-${h%%:*}" 2>/dev/null || true; done
  ip link del "$bridge" 2>/dev/null || true
  for h in "${hosts[@]}"; do ip link del "mqt-${h%%:*}-h" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# ---- the network: a bridge, one veth pair per namespace ----------------------------------------
step "namespaces on $net.0/24"
ip link del "$bridge" 2>/dev/null || true
ip link add "$bridge" type bridge
ip link set "$bridge" up
for h in "${hosts[@]}"; do
  ns=${h%%:*}
  ip netns del "mqt-$ns" 2>/dev/null || true
  ip link del "mqt-$ns-h" 2>/dev/null || true
  ip netns add "mqt-$ns"
  ip link add "mqt-$ns-h" type veth peer name "mqt-$ns-n"
  ip link set "mqt-$ns-h" master "$bridge" up
  ip link set "mqt-$ns-n" netns "mqt-$ns"
  in_ns "$ns" ip link set "mqt-$ns-n" name eth0
  in_ns "$ns" ip addr add "$(addr "$ns")/24" dev eth0
  in_ns "$ns" ip link set eth0 up
  in_ns "$ns" ip link set lo up
done

# ---- one sshd per namespace, throwaway keys ------------------------------------------------------
step "sshd in every namespace"
mkdir -p "$tmp/ssh" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$tmp/ssh/user_key"
cp "$tmp/ssh/user_key.pub" "$tmp/ssh/authorized_keys"
: >"$tmp/ssh/known_hosts"
for h in "${hosts[@]}"; do
  ns=${h%%:*} a=$(addr "${h%%:*}")
  ssh-keygen -q -t ed25519 -N '' -f "$tmp/ssh/host_key_$ns"
  echo "$a $(cut -d' ' -f1,2 "$tmp/ssh/host_key_$ns.pub")" >>"$tmp/ssh/known_hosts"
  cat >"$tmp/ssh/sshd_config_$ns" <<EOF
ListenAddress $a
HostKey $tmp/ssh/host_key_$ns
PidFile $tmp/ssh/sshd-$ns.pid
AuthorizedKeysFile $tmp/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
  in_ns "$ns" /usr/sbin/sshd -f "$tmp/ssh/sshd_config_$ns" -E "$tmp/ssh/sshd-$ns.log"
done
cat >"$tmp/ssh/config" <<EOF
Host $net.*
  User root
  IdentityFile $tmp/ssh/user_key
  IdentitiesOnly yes
  UserKnownHostsFile $tmp/ssh/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  LogLevel ERROR
EOF
for _ in $(seq 50); do
  in_ns client ssh -F "$tmp/ssh/config" -o BatchMode=yes "$(addr w2)" true 2>/dev/null && break
  sleep 0.1
done

# tc netem is missing from some kernels (this one's), so delay-proxy.py adds the delay: every
# namespace redirects its connections to the cluster's ports through its own proxy.
step "delay proxies in every namespace"
echo 0 >"$tmp/delay_ms"
mark=0x77
python=$(python3 -c 'import sys; print(sys.executable)')   # the interpreter itself, not a shim, so $! is its pid
for h in "${hosts[@]}"; do
  ns=${h%%:*}
  in_ns "$ns" "$python" "$repo/deploy/test/delay-proxy.py" 7777 "$tmp/delay_ms" "$mark" >"$tmp/proxy-$ns.log" 2>&1 &
  echo $! >"$tmp/proxy-$ns.pid"
  in_ns "$ns" iptables -t nat -A OUTPUT -p tcp -d "$net.0/24" --dport 5555:5599 -m mark ! --mark "$mark" \
    -j REDIRECT --to-ports 7777
done
sleep 0.5

cluster() { in_ns client "$repo/deploy/cluster.sh" "$1" "$tmp/hosts.txt" "${@:2}" --state "$state" --bin "$bin"; }
server="tcp://$(addr coord):5555"
client() { in_ns client "$bin/mq" "$1" --server "$server" --server-key "$state/keys/coordinator.pub" "${@:2}"; }
health_text() { client health --timeout 3 || true; }   # also while not serving (exit 2)
delay() { echo "$1" >"$tmp/delay_ms"; sleep 0.5; }   # one-way delay on every link, ms (delay-proxy.py)
health_ms() { local t0; t0=$(date +%s%N); client health --timeout 3 >/dev/null || true; echo $((($(date +%s%N) - t0) / 1000000)); }
tx_bytes() { in_ns "$1" cat /sys/class/net/eth0/statistics/tx_bytes; }

# ---- benchmark mode ----------------------------------------------------------------------------------
if [ -n "$bench" ]; then
  cat >"$tmp/hosts.txt" <<EOF
set ssh_config=$tmp/ssh/config
set root=$repo
set bin=$bin
set model=$bench
coordinator $(addr coord)
worker $(addr w1) --threads 1
worker $(addr w2) --threads 1
EOF
  cluster up --timeout 600
  for delay in 0 2 10; do
    delay "$delay"
    step "delay $delay ms one way: mq health takes $(health_ms) ms"
    in_ns client "$bin/mq" bench serve --server "$server" --server-key "$state/keys/coordinator.pub" --streams 1,16 --max-tokens "$bench_tokens" --requests-per-stream 2 2>&1 | tee "$tmp/bench-$delay.txt"
  done
  delay 0
  step "bytes per token: one greedy call of 256 tokens"
  declare -A before
  for ns in coord w1 w2; do before[$ns]=$(tx_bytes "$ns"); done
  client generate --prompt-ids 1,2,3,4,5,6,7,8 --max-tokens 256 --json >"$tmp/bytes.json"
  n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["token_ids"]))' "$tmp/bytes.json")
  for ns in coord w1 w2; do
    b=$(( $(tx_bytes "$ns") - ${before[$ns]} ))
    echo "  $ns sent $b bytes for $n tokens (+8 prompt): $((b / (n + 8))) bytes per token"
  done
  cluster down --timeout 20
  exit 0
fi

# ---- the cluster, over ssh, from the client namespace --------------------------------------------------
model=models/default
cat >"$tmp/hosts.txt" <<EOF
# coordinator, two stages and a standby, each host with its own install folder (--push fills them)
set ssh_config=$tmp/ssh/config
set model=$model
coordinator $(addr coord) --root $tmp/hosts/coord --failover-timeout 30
worker  $(addr w1) --root $tmp/hosts/w1 --threads 1
worker  $(addr w2) --root $tmp/hosts/w2 --threads 1
standby $(addr sb) --root $tmp/hosts/sb --threads 1
EOF
step "cluster.sh up --push (from the client namespace)"
cluster up --push --model "$repo/$model" | tee "$tmp/up1.txt"
step "a second cluster.sh up"
cluster up 2>&1 | tee "$tmp/up2.txt"
grep -q "started" "$tmp/up2.txt" && fail "the second up started a process"
[ "$(grep -c 'already running' "$tmp/up2.txt")" -eq 4 ] || fail "the second up did not find all four processes running"
step "cluster.sh status and logs"
cluster status >"$tmp/status.txt"; head -4 "$tmp/status.txt"
[ "$(grep -c 'running, pid' "$tmp/status.txt")" -eq 4 ] || fail "status does not show four running processes"
cluster logs --lines 2 >"$tmp/logs.txt"
[ "$(grep -c '^==> ' "$tmp/logs.txt")" -eq 4 ] || fail "logs did not show four logs"

prompt='def fibonacci(n):'
expect=$("$bin/mq" run --model "$model" --prompt "$prompt" --max-tokens 16 --json)
step "exact output across the bridge"
got=$(client generate --prompt "$prompt" --max-tokens 16 --json)
[ "$got" = "$expect" ] || fail "mq generate over the network differs from mq run:
  run:      $expect
  generate: $got"
echo "  $got"

step "exact output with 2 ms one-way delay on every link"
delay 2
echo "  mq health now takes $(health_ms) ms"
got=$(client generate --prompt "$prompt" --max-tokens 16 --json)
[ "$got" = "$expect" ] || fail "with 2 ms delay the output differs: $got"

# ---- a worker's link goes down mid-generation -----------------------------------------------------------
long=400
expect_long=$("$bin/mq" run --model "$model" --prompt "$prompt" --max-tokens "$long" --json)
# Take a stage worker's link down (the second stage's if worker2 holds it).
health_text >"$tmp/health-before.txt"
victim=""
for w in 2 1; do grep -q "worker$w: READY, stage" "$tmp/health-before.txt" && { victim=w$w; break; }; done
[ -n "$victim" ] || fail "no worker holds a stage: $(cat "$tmp/health-before.txt")"
step "link of $victim down during a $long-token call"
client generate --prompt "$prompt" --max-tokens "$long" --json >"$tmp/long.json" 2>"$tmp/long.err" &
call=$!
for _ in $(seq 100); do health_text | grep -Eq '^calls: +[1-9]' && break; sleep 0.05; done
sleep 0.5
in_ns "$victim" ip link set eth0 down
down_at=$SECONDS
if [ -s "$tmp/long.json" ] || ! kill -0 "$call" 2>/dev/null; then fail "the call ended before the link went down (nothing was tested)"; fi
wait "$call" || fail "the call failed after the link went down: $(cat "$tmp/long.err")"
echo "  call ended $((SECONDS - down_at)) s after the link went down"
[ "$(cat "$tmp/long.json")" = "$expect_long" ] || fail "the call survived but its tokens differ from mq run"
health_text | tee "$tmp/health-after.txt"
grep -q "standby1: READY, stage" "$tmp/health-after.txt" || fail "the standby did not take the stage"
in_ns "$victim" ip link set eth0 up
step "link of $victim back up: waiting for worker${victim#w} to register again"
rejoined=""
for _ in $(seq 60); do
  if health_text | grep -Eq "^  worker${victim#w}: (REGISTERED|LOADING|READY)"; then rejoined=1; break; fi
  sleep 0.5
done
health_text
[ -n "$rejoined" ] || fail "worker${victim#w} did not register again within 30 s of its link coming back"
got=$(client generate --prompt "$prompt" --max-tokens 16 --json)
[ "$got" = "$expect" ] || fail "after the failover the output differs: $got"

# ---- a host without keys ---------------------------------------------------------------------------------
step "intruder ($(addr intruder)): no keys, then its own keys"
if out=$(in_ns intruder "$bin/mq" health --server "$server" --insecure --timeout 3 2>&1); then
  fail "mq health without keys got an answer: $out"
fi
echo "  mq health --insecure: refused ($(echo "$out" | tail -1))"
mkdir -p "$tmp/intruder"
"$bin/mq" keygen --out "$tmp/intruder/intruder" >/dev/null
cp "$state/keys/coordinator.pub" "$tmp/intruder/"
if out=$(in_ns intruder "$bin/mq" health --server "$server" --server-key "$tmp/intruder/coordinator.pub" \
    --client-key "$tmp/intruder/intruder.key" --timeout 3 2>&1); then
  echo "  note: a client with coordinator.pub may call (clients are not restricted without --authorized-clients)"
fi
for attempt in insecure keyed; do
  if [ "$attempt" = insecure ]; then wargs=(--insecure); else
    wargs=(--curve-key "$tmp/intruder/intruder.key" --coordinator-key "$tmp/intruder/coordinator.pub"); fi
  in_ns intruder timeout 5 "$bin/mq-worker" --coordinator "tcp://$(addr coord):5556" --worker-id "intruder-$attempt" \
    --listen "tcp://0.0.0.0:5557" --advertise "$(addr intruder)" --model "$model" "${wargs[@]}" \
    >"$tmp/intruder/$attempt.log" 2>&1 || true
  if health_text | grep -q "intruder-$attempt"; then fail "an unlisted worker ($attempt) registered"; fi
  echo "  mq-worker ($attempt) for 5 s: not registered"
done

# ---- down ---------------------------------------------------------------------------------------------
step "cluster.sh down"
cluster down --timeout 20
left=$(pgrep -f "$tmp/hosts/" || true)
[ -z "$left" ] || fail "processes still running after down: $left"
step "passed"
