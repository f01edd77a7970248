#!/usr/bin/env bash
# Runs an mq cluster on several machines over ssh: one mq-coordinator host, one mq-worker host per
# pipeline stage and any number of standby hosts, all described in a hostfile. Secured with CURVE
# keys made once, here, in a state folder: each host gets only its own secret key and the public
# keys it needs (the coordinator the workers' .pub, a worker coordinator.pub).
#
# Usage:
#   deploy/cluster.sh up|status|logs|down HOSTFILE [--push] [--state DIR] [--bin DIR] [--model DIR]
#                     [--ssh-config FILE] [--timeout S] [--lines N]
#     up        checks every host has the binaries and the model (copies them with --push), copies
#               the keys, starts what is not already running, waits until `mq health` says serving,
#               prints how to call it. A second `up` finds the processes running and starts nothing.
#     status    which recorded process runs on which host, then `mq health` and `mq info`
#     logs      the last --lines N (default 40) lines of every process's log
#     down      stops exactly the processes `up` recorded (SIGTERM, which drains; SIGKILL after
#               --timeout, default 60 s), coordinator first
#     --push        copy the binaries (with the Swift runtime libraries they link), and the model,
#                   to the hosts where they are missing or differ (sha256)
#     --state DIR   where keys and pid records are kept (default .mq-cluster/NAME, NAME being the
#                   hostfile's name without extension)
#     --bin DIR     local binaries, for --push and for `mq health` here (default .build/release)
#     --model DIR   local model folder that --push copies (default: the hostfile's model, relative
#                   to the repository)
#     --ssh-config FILE   ssh -F FILE (also `set ssh_config=FILE` in the hostfile)
#     --timeout S   how long `up` waits for serving (default 300 s) and `down` for a drain
#
# Hostfile: one line per host; `#` starts a comment. HOST is an ssh destination ([user@]host or an
# alias of ~/.ssh/config); the other hosts reach it at HOST without `user@` unless --address says.
#   set root=/opt/mq             where bin/, lib/, the model and run/ live on every host (default /opt/mq)
#   set bin=bin                  binaries folder, relative to root or absolute (default bin)
#   set model=models/default     model folder, relative to root or absolute (default models/default)
#   set ssh_config=FILE          ssh -F FILE
#   coordinator HOST [--port 5555] [--workers-port 5556] [--metrics-port P] [--split S]
#                    [--micro-batches N] [--failover-timeout S] [--kv-memory M] [--address A] [--root DIR]
#   worker  HOST [--port 5557] [--memory M] [--threads T] [--kv-memory M] [--weights stored|q8_0] [--model PATH]
#                [--standby-preload] [--address A] [--root DIR]
#   standby HOST (the options of worker)     a spare worker that takes over a lost stage
# There are as many pipeline stages as `worker` lines (in order: stage 0 first is not promised; the
# coordinator assigns them as they register). Processes are named coordinator, worker1..N and
# standby1..M; each runs from ROOT/run/CLUSTER/NAME on its host (keys, pid, log).
# Ports to open: the coordinator's --port (clients) and --workers-port (workers), each worker's
# --port (the previous stage and the coordinator push to it); nothing else listens.
#
# Example:
#   cat > hosts.txt <<'EOF'
#   set root=/opt/mq
#   coordinator 10.0.0.10
#   worker 10.0.0.11 --threads 8
#   worker 10.0.0.12 --threads 8
#   standby 10.0.0.13
#   EOF
#   deploy/cluster.sh up hosts.txt --push && deploy/cluster.sh down hosts.txt
# Remote scripts are single-quoted on purpose (they expand on the host), and a file sent over ssh
# is read here and written there:
# shellcheck disable=SC2016,SC2094
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "cluster: $*" >&2; exit 1; }
say() { echo "cluster: $*" >&2; }

[ $# -ge 2 ] || { sed -n '2,56p' "$0" >&2; exit 2; }
action=$1 hostfile=$2; shift 2
case "$action" in up|status|logs|down) ;; *) die "unknown action $action (up|status|logs|down)" ;; esac
[ -f "$hostfile" ] || die "hostfile $hostfile not found"
push="" state="" local_bin="$repo/.build/release" local_model="" ssh_config="" timeout="" lines=40
while [ $# -gt 0 ]; do
  case "$1" in
    --push) push=1; shift ;;
    --state) state=$2; shift 2 ;;
    --bin) local_bin=$2; shift 2 ;;
    --model) local_model=$2; shift 2 ;;
    --ssh-config) ssh_config=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --lines) lines=$2; shift 2 ;;
    -h|--help) sed -n '2,56p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
cluster=$(basename "$hostfile"); cluster=${cluster%.*}
state=${state:-.mq-cluster/$cluster}

# ---- the hostfile -------------------------------------------------------------------------------
root=/opt/mq bin=bin model=models/default
names=() hosts=() roles=() opts=()      # one entry per process; opts is the rest of its line
while read -r kind host rest || [ -n "${kind:-}" ]; do
  case "${kind:-}" in
    ''|'#'*) continue ;;
    set)
      key=${host%%=*} value=${host#*=}
      case "$key" in
        root) root=$value ;; bin) bin=$value ;; model) model=$value ;;
        ssh_config) [ -n "$ssh_config" ] || ssh_config=$value ;;
        *) die "$hostfile: unknown setting $key" ;;
      esac ;;
    coordinator|worker|standby)
      [ -n "${host:-}" ] || die "$hostfile: '$kind' needs a host"
      rest=${rest%%#*}
      if [ "$kind" = coordinator ]; then
        [ ${#names[@]} -eq 0 ] || [ "${roles[0]}" != coordinator ] || die "$hostfile: more than one coordinator"
        names=(coordinator "${names[@]}") hosts=("$host" "${hosts[@]}") roles=(coordinator "${roles[@]}") opts=("$rest" "${opts[@]}")
      else
        n=1; for r in "${roles[@]}"; do [ "$r" = "$kind" ] && n=$((n + 1)); done
        names+=("$kind$n") hosts+=("$host") roles+=("$kind") opts+=("$rest")
      fi ;;
    *) die "$hostfile: unknown line '$kind $host'" ;;
  esac
done <"$hostfile"
if [ ${#names[@]} -eq 0 ] || [ "${roles[0]}" != coordinator ]; then die "$hostfile: no coordinator line"; fi
stages=0 spares=0
for r in "${roles[@]}"; do case "$r" in worker) stages=$((stages + 1)) ;; standby) spares=$((spares + 1)) ;; esac; done
[ "$stages" -gt 0 ] || die "$hostfile: no worker line"

# opt I NAME DEFAULT: the value of --NAME on process I's line.
opt() {
  local -a words
  read -r -a words <<<"${opts[$1]}"
  local i
  for ((i = 0; i < ${#words[@]}; i++)); do
    if [ "${words[$i]}" = "--$2" ]; then
      if [ $# -lt 3 ]; then echo 1; else echo "${words[$((i + 1))]:-}"; fi
      return
    fi
  done
  [ $# -lt 3 ] || echo "$3"
}
abs() { case "$2" in /*) echo "$2" ;; *) echo "$1/$2" ;; esac; }   # abs ROOT PATH
address() { local a; a=$(opt "$1" address "${hosts[$1]#*@}"); echo "$a"; }
root_of() { opt "$1" root "$root"; }
run_dir() { echo "$(root_of "$1")/run/$cluster/${names[$1]}"; }
coord_addr=$(address 0)
client_port=$(opt 0 port 5555)
workers_port=$(opt 0 workers-port 5556)
server="tcp://$coord_addr:$client_port"

ssh_cmd=(ssh -o BatchMode=yes -o ConnectTimeout=10)
[ -n "$ssh_config" ] && ssh_cmd+=(-F "$ssh_config")
# on_host HOST SCRIPT [ARGS...]: runs the bash SCRIPT (sent on stdin) on HOST with ARGS as $1...
on_host() {
  local host=$1 script=$2; shift 2
  local quoted=""
  [ $# -gt 0 ] && quoted=$(printf ' %q' "$@")
  "${ssh_cmd[@]}" "$host" "bash -s --$quoted" <<<"$script"
}
on() { local i=$1; shift; on_host "${hosts[$i]}" "$@"; }   # on I SCRIPT [ARGS...]: on process I's host

# ---- keys and local state -------------------------------------------------------------------------
keys="$state/keys"
make_keys() {
  [ -x "$local_bin/mq" ] || die "$local_bin/mq not found (build with swift build -c release, or pass --bin)"
  mkdir -p "$state/pids"; chmod 700 "$state"
  local i name
  for i in "${!names[@]}"; do
    name=${names[$i]}
    [ -f "$keys/$name.key" ] || "$local_bin/mq" keygen --out "$keys/$name" >/dev/null
  done
  for i in "${!names[@]}"; do
    [ "${roles[$i]}" = coordinator ] || echo "$(grep -v '^#' "$keys/${names[$i]}.pub") ${names[$i]}"
  done >"$keys/authorized-workers.new"
  mv "$keys/authorized-workers.new" "$keys/authorized-workers"
}

# ---- checking and pushing binaries and the model ---------------------------------------------------
binaries=(mq mq-coordinator mq-worker)
# Shared libraries the binaries link from outside the system folders (the Swift runtime).
runtime_libs() {
  ldd "${binaries[@]/#/$local_bin/}" 2>/dev/null | awk '$3 ~ /^\// {print $3}' \
    | grep -Ev '^/(usr/)?lib(64|32)?/' | sort -u || true
}
declare -A sums=()
# local_sum FILE: sets sum to FILE's sha256 (computed once per run).
local_sum() { [ -n "${sums[$1]:-}" ] || sums[$1]=$(sha256sum "$1" | cut -d' ' -f1); sum=${sums[$1]}; }
model_of() { abs "$(root_of "$1")" "$(opt "$1" model "$model")"; }

# Checks (and with --push copies) what process I needs on its host.
prepare_host() {
  local i=$1 r b m
  r=$(root_of "$i"); b=$(abs "$r" "$bin"); m=$(model_of "$i")
  if [ -n "$push" ]; then
    local lm=${local_model:-$(abs "$repo" "$model")}
    [ -f "$lm/config.json" ] || die "--push: local model $lm/config.json not found (pass --model DIR)"
    local -a files=() dests=()
    local f
    for f in "${binaries[@]}"; do files+=("$local_bin/$f"); dests+=("$b/$f"); done
    while read -r f; do [ -n "$f" ] && { files+=("$f"); dests+=("$r/lib/$(basename "$f")"); }; done < <(runtime_libs)
    for f in "$lm"/*; do [ -f "$f" ] && { files+=("$f"); dests+=("$m/$(basename "$f")"); }; done
    # Ask the host for the sums of what it has; send what differs in one tar stream, each file
    # named by its index, then moved into place on the host.
    local have want=() k
    have=$(on "$i" 'for f in "$@"; do if [ -f "$f" ]; then sha256sum "$f" | cut -d" " -f1; else echo -; fi; done' "${dests[@]}")
    mapfile -t have <<<"$have"
    for k in "${!files[@]}"; do
      local_sum "${files[$k]}"
      [ "$sum" = "${have[$k]:-}" ] || want+=("$k")
    done
    if [ ${#want[@]} -gt 0 ]; then
      say "${names[$i]} (${hosts[$i]}): pushing ${#want[@]} file(s)"
      local stage moves=()
      stage=$(mktemp -d)
      for k in "${want[@]}"; do ln -s "$(cd "$(dirname "${files[$k]}")" && pwd)/$(basename "${files[$k]}")" "$stage/$k"; moves+=("$k" "${dests[$k]}"); done
      # One line: the remote login shell may not be bash, and printf %q quotes newlines bash-only.
      tar -C "$stage" -chf - "${want[@]}" | "${ssh_cmd[@]}" "${hosts[$i]}" "bash -c $(printf '%q' 't=$(mktemp -d) && tar -C "$t" -xf - && while [ $# -gt 0 ]; do mkdir -p "$(dirname "$2")" && mv -f "$t/$1" "$2"; shift 2; done; rm -rf "$t"') mq$(printf ' %q' "${moves[@]}")"
      rm -rf "$stage"
    fi
  fi
  local problem
  problem=$(on "$i" '
    r=$1 b=$2 m=$3 role=$4
    [ -d "$r/lib" ] && export LD_LIBRARY_PATH="$r/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    for f in mq mq-coordinator mq-worker; do
      [ -x "$b/$f" ] || { echo "no $b/$f"; exit 0; }
    done
    out=$("$b/mq-$role" --help 2>&1 >/dev/null) || { echo "$b/mq-$role does not run: $out (missing libraries? apt-get install libzmq5 libprotobuf-c1)"; exit 0; }
    [ -f "$m/config.json" ] || { echo "no model at $m (config.json)"; exit 0; }
    [ "$role" = coordinator ] && { [ -f "$m/tokenizer.json" ] || echo "no $m/tokenizer.json"; exit 0; }
    ls "$m"/*.safetensors >/dev/null 2>&1 || echo "no weights (*.safetensors) in $m"
  ' "$r" "$b" "$m" "$([ "${roles[$i]}" = coordinator ] && echo coordinator || echo worker)")
  local hint="; --push copies the binaries and the model"
  [ -z "$push" ] || hint=""
  [ -z "$problem" ] || die "${names[$i]} (${hosts[$i]}): $problem$hint"
}

# ---- starting, checking and stopping processes ------------------------------------------------------
# Runs on the host: is the process in DIR/pid alive and the one we started (its command line
# names this run folder)? Prints the pid if so.
alive_script='d=$1; p=$(cat "$d/pid" 2>/dev/null) || exit 0
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && tr "\0" " " <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$d/" && echo "$p"; true'

# Copies process I's keys: its own secret key, coordinator.pub (workers) or authorized-workers.
send_keys() {
  local i=$1 d name=${names[$1]} files=()
  d=$(run_dir "$i")
  files=("$name.key")
  if [ "${roles[$i]}" = coordinator ]; then files+=(authorized-workers); else files+=(coordinator.pub); fi
  tar -C "$keys" -cf - "${files[@]}" | "${ssh_cmd[@]}" "${hosts[$i]}" \
    "umask 077 && mkdir -p $(printf '%q' "$d") && chmod 700 $(printf '%q' "$d") && tar -C $(printf '%q' "$d") -xf -"
}

start_process() {
  local i=$1 d r b m name=${names[$1]} pid
  d=$(run_dir "$i"); r=$(root_of "$i"); b=$(abs "$r" "$bin"); m=$(model_of "$i")
  pid=$(on "$i" "$alive_script" "$d")
  if [ -n "$pid" ]; then
    say "$name (${hosts[$i]}): already running, pid $pid"
  else
    send_keys "$i"
    local -a cmd
    if [ "${roles[$i]}" = coordinator ]; then
      cmd=("$b/mq-coordinator" --model "$m" --workers "$stages"
           --listen "tcp://0.0.0.0:$client_port" --workers-listen "tcp://0.0.0.0:$workers_port"
           --curve-key "$d/$name.key" --authorized-workers "$d/authorized-workers")
      local o v
      for o in split micro-batches failover-timeout kv-memory; do
        v=$(opt "$i" "$o" "")
        if [ -n "$v" ]; then cmd+=("--$o" "$v"); fi
      done
      v=$(opt "$i" metrics-port "")
      if [ -n "$v" ]; then cmd+=(--metrics-listen "tcp://0.0.0.0:$v"); fi
    else
      cmd=("$b/mq-worker" --coordinator "tcp://$coord_addr:$workers_port" --worker-id "$name"
           --listen "tcp://0.0.0.0:$(opt "$i" port 5557)" --advertise "$(address "$i")" --model "$m"
           --curve-key "$d/$name.key" --coordinator-key "$d/coordinator.pub")
      local o v
      for o in memory threads kv-memory weights; do
        v=$(opt "$i" "$o" "")
        if [ -n "$v" ]; then cmd+=("--$o" "$v"); fi
      done
      if [ -n "$(opt "$i" standby-preload)" ]; then cmd+=(--standby-preload); fi
    fi
    # setsid: the process outlives the ssh session; it writes its own pid before exec.
    pid=$(on "$i" '
      d=$1 r=$2; shift 2
      [ -d "$r/lib" ] && export LD_LIBRARY_PATH="$r/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      rm -f "$d/pid"
      setsid sh -c '"'"'echo $$ >"$0/pid"; shift; exec "$@"'"'"' "$d" x "$@" >>"$d/log" 2>&1 </dev/null &
      for _ in $(seq 50); do [ -s "$d/pid" ] && break; sleep 0.1; done
      cat "$d/pid"' "$d" "$r" "${cmd[@]}")
    say "$name (${hosts[$i]}): started, pid $pid"
  fi
  echo "${hosts[$i]} $pid $d" >"$state/pids/$name"
}

health() { "$local_bin/mq" health --server "$server" --server-key "$keys/coordinator.pub" "$@"; }

how_to_call() {
  local k="$keys/coordinator.pub" m
  m=$(cd "$(dirname "$local_bin/mq")" && pwd)/mq
  cat >&2 <<EOT
cluster: $cluster serving on $server ($stages stages, $spares standby)
  $m stream   --server $server --server-key $k --prompt 'def fibonacci(n):' --max-tokens 64
  $m generate --server $server --server-key $k --prompt-ids 1,2,3 --max-tokens 8 --json
  $m info     --server $server --server-key $k
  deploy/cluster.sh status|logs|down $hostfile${state:+ --state $state}
EOT
}

case "$action" in
  up)
    make_keys
    for i in "${!names[@]}"; do prepare_host "$i"; done
    for i in "${!names[@]}"; do start_process "$i"; done
    say "waiting for $stages stage(s) to load (up to ${timeout:-300} s) ..."
    deadline=$((SECONDS + ${timeout:-300})) next_check=$((SECONDS + 5))
    until health --timeout 1 >/dev/null 2>&1; do
      [ $SECONDS -lt "$deadline" ] || { health --timeout 2 >&2 || true; die "not serving after ${timeout:-300} s (deploy/cluster.sh logs $hostfile)"; }
      if [ $SECONDS -ge "$next_check" ]; then
        for i in "${!names[@]}"; do
          [ -n "$(on "$i" "$alive_script" "$(run_dir "$i")")" ] || {
            on "$i" 'tail -n 20 "$1/log"' "$(run_dir "$i")" >&2 || true
            die "${names[$i]} on ${hosts[$i]} exited (log above)"; }
        done
        next_check=$((SECONDS + 5))
      fi
      sleep 0.5
    done
    health >&2
    how_to_call ;;
  status)
    for i in "${!names[@]}"; do
      if ! pid=$(on "$i" "$alive_script" "$(run_dir "$i")" 2>/dev/null); then st="host unreachable"
      elif [ -n "$pid" ]; then st="running, pid $pid"; else st="not running"; fi
      printf '%-12s %-20s %s\n' "${names[$i]}" "${hosts[$i]}" "$st"
    done
    [ -f "$keys/coordinator.pub" ] || exit 1
    health || exit 1
    "$local_bin/mq" info --server "$server" --server-key "$keys/coordinator.pub" ;;
  logs)
    for i in "${!names[@]}"; do
      echo "==> ${names[$i]} on ${hosts[$i]}: $(run_dir "$i")/log"
      on "$i" 'tail -n "$2" "$1/log" 2>/dev/null || echo "(no log)"' "$(run_dir "$i")" "$lines"
    done ;;
  down)
    # The coordinator first: SIGTERM drains its calls while the workers still serve them.
    status=0
    for i in "${!names[@]}"; do
      record="$state/pids/${names[$i]}"
      [ -f "$record" ] || continue
      read -r host pid d <"$record"
      [ "$host" = "${hosts[$i]}" ] || say "${names[$i]}: recorded on $host, hostfile says ${hosts[$i]}; stopping the recorded one"
      if result=$(on_host "$host" '
          p=$1 d=$2 t=$3
          kill -0 "$p" 2>/dev/null && tr "\0" " " <"/proc/$p/cmdline" | grep -qF -- "$d/" || { echo "already exited (a coordinator that stops tells its workers to stop)"; exit 0; }
          kill -TERM "$p"
          for _ in $(seq $((t * 10))); do kill -0 "$p" 2>/dev/null || { echo "stopped pid $p"; exit 0; }; sleep 0.1; done
          kill -KILL "$p"; echo "killed pid $p (no exit within $t s of SIGTERM)"' "$pid" "$d" "${timeout:-60}"); then
        say "${names[$i]} ($host): $result"; rm -f "$record"
      else
        say "${names[$i]} ($host): could not reach the host; record kept in $record"; status=1
      fi
    done
    exit "$status" ;;
esac
