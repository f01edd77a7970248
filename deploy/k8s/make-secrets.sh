#!/usr/bin/env bash
# Makes the CURVE keys of deploy/k8s/mq.yaml once, in a local folder, and prints the Secrets and
# the ConfigMap as YAML (pipe into kubectl apply -f -). Keys already in the folder are reused.
# Usage: deploy/k8s/make-secrets.sh KEYDIR WORKERS [MQ]
#   KEYDIR   local folder for the keys (keep it: it is the only copy of the secret keys)
#   WORKERS  worker replicas of the StatefulSet (stages + standbys)
#   MQ       the mq binary (default .build/release/mq)
# Example: deploy/k8s/make-secrets.sh ~/mq-keys 3 | kubectl apply -f -
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
dir=$1 workers=$2 mq=${3:-.build/release/mq}
mkdir -p "$dir"; chmod 700 "$dir"
names=(coordinator)
for i in $(seq 0 $((workers - 1))); do names+=("mq-worker-$i"); done
for n in "${names[@]}"; do [ -f "$dir/$n.key" ] || "$mq" keygen --out "$dir/$n" >/dev/null; done
for i in $(seq 0 $((workers - 1))); do echo "$(grep -v '^#' "$dir/mq-worker-$i.pub") mq-worker-$i"; done >"$dir/authorized-workers"
b64() { base64 -w0 <"$1"; }
cat <<YAML
apiVersion: v1
kind: Secret
metadata: {name: mq-coordinator-key}
type: Opaque
data:
  coordinator.key: $(b64 "$dir/coordinator.key")
  authorized-workers: $(b64 "$dir/authorized-workers")
---
apiVersion: v1
kind: Secret
metadata: {name: mq-worker-keys}
type: Opaque
data:
YAML
for i in $(seq 0 $((workers - 1))); do echo "  mq-worker-$i.key: $(b64 "$dir/mq-worker-$i.key")"; done
cat <<YAML
---
apiVersion: v1
kind: ConfigMap
metadata: {name: mq-public-keys}
data:
  coordinator.pub: "$(grep -v '^#' "$dir/coordinator.pub")"
YAML
