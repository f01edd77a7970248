#!/usr/bin/env bash
# Runs the tests written with real clients against real local clusters (each suite starts its own
# with `mq cluster up` from the built executables, and stops it):
#   clients/python/tests   the Python client (pip-installed from clients/python), sync and asyncio
#   clients/openai-tests   mq-gateway through the official `openai` package and curl; every output
#                          is compared with `mq run` for the same request
# It makes (once) a virtual environment with the Python client, openai and pytest from PyPI.
# Usage: clients/run-tests.sh [--bin .build/debug] [pytest args...]
#   MQ_TESTS_VENV   the virtual environment's folder (default ~/.cache/mq-client-tests)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug
if [ "${1:-}" = "--bin" ]; then bin=$2; shift 2; fi
for exe in mq mq-coordinator mq-worker mq-gateway; do
  [ -x "$bin/$exe" ] || { echo "run-tests: $bin/$exe not found (swift build first)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "run-tests: curl not found (.ci/install-gateway-test-deps)" >&2; exit 2; }
venv=${MQ_TESTS_VENV:-$HOME/.cache/mq-client-tests}
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import openai, zmq, google.protobuf, grpc_tools" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q openai pytest pytest-asyncio grpcio-tools==1.85.1
fi
# The committed protobuf modules must match Protos/ (fails when a .proto changes and they do not).
clients/python/regen-protos.sh --check "$venv/bin/python"
# The client as a user installs it (not editable), so that packaging mistakes fail here.
"$venv/bin/pip" install -q --force-reinstall --no-deps ./clients/python
"$venv/bin/pip" install -q ./clients/python
export MQ_BIN="$PWD/$bin"
status=0
echo "== clients: Python client suite"
(cd clients/python && "$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@") || status=1
echo "== clients: openai package and curl against mq-gateway"
(cd clients/openai-tests && "$venv/bin/python" -m pytest -q -p no:cacheprovider . "$@") || status=1
exit $status
