#!/usr/bin/env bash
# Static checks of deploy/: every shell script passes `bash -n` and shellcheck; the systemd units
# pass `systemd-analyze verify` (on copies whose /opt/mq/bin paths point at the built binaries,
# since verify insists the commands exist); the Kubernetes manifests and the Secrets that
# deploy/k8s/make-secrets.sh prints pass kubernetes-validate (installed from PyPI into a venv).
# Usage: deploy/test/check-deploy.sh [--bin DIR]   (default .build/release; .build/debug works too)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=.build/release
[ "${1:-}" = --bin ] && bin=$2
bin=$(cd "$bin" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
failed=0
verify_quiet() { local out; out=$(systemd-analyze verify "$1" 2>&1); echo "$out"; [ -z "$out" ]; }
check() { local what=$1; shift; if "$@" >"$tmp/out" 2>&1; then echo "ok    $what"; else echo "FAIL  $what"; sed 's/^/      /' "$tmp/out"; failed=$((failed + 1)); fi; }

mapfile -t scripts < <(find deploy -name '*.sh' -o -name '*.sbatch' | sort)
for s in "${scripts[@]}"; do
  check "bash -n $s" bash -n "$s"
  check "shellcheck $s" shellcheck "$s"
done

if command -v systemd-analyze >/dev/null; then
  for u in deploy/systemd/*.service; do
    name=$(basename "$u"); name=${name/@./@1.}
    sed "s|/opt/mq/bin/|$bin/|g" "$u" >"$tmp/$name"
    # verify exits 0 on unknown keys (a warning), so any output counts as a failure too.
    check "systemd-analyze verify $u" verify_quiet "$tmp/$name"
  done
else
  echo "skip  systemd-analyze: not installed"
fi

venv=${KUBERNETES_VALIDATE_VENV:-$HOME/.cache/mq-kubernetes-validate}
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv" && "$venv/bin/pip" install -q kubernetes-validate
fi
deploy/k8s/make-secrets.sh "$tmp/keys" 3 "$bin/mq" >"$tmp/secrets.yaml"
check "kubernetes-validate deploy/k8s/mq.yaml" "$venv/bin/kubernetes-validate" --strict deploy/k8s/mq.yaml
check "kubernetes-validate (make-secrets.sh output)" "$venv/bin/kubernetes-validate" --strict "$tmp/secrets.yaml"
[ "$failed" -eq 0 ] || { echo "check-deploy: $failed check(s) failed"; exit 1; }
echo "check-deploy: all passed"
