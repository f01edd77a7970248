#!/usr/bin/env bash
# Regenerates the protobuf Python modules of the mq Python client from Protos/mq/v1/*.proto into
# clients/python/src/mqclient/_proto/mq/v1 (committed). Needs grpcio-tools (pip install
# grpcio-tools==1.85.1: its bundled protoc, 7.35.1, wrote the committed code, which needs a protobuf
# runtime at least that new; see pyproject.toml). protoc writes absolute imports
# ("from mq.v1 import common_pb2"); they are rewritten to live inside the mqclient package.
#   clients/python/regen-protos.sh [--check] [PYTHON]     (default python3)
#   --check   regenerate into a temporary folder and fail if the committed modules differ
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
check=""
if [ "${1:-}" = "--check" ]; then check=1; shift; fi
python="${1:-python3}"
committed="$here/src/mqclient/_proto"
out="$committed"
[ -n "$check" ] && out="$(mktemp -d)"
rm -rf "$out/mq"
mkdir -p "$out"
(cd "$root/Protos" && "$python" -m grpc_tools.protoc --proto_path=. --python_out="$out" mq/v1/*.proto)
sed -i 's/^from mq\.v1 import/from mqclient._proto.mq.v1 import/' "$out"/mq/v1/*_pb2.py
touch "$out/mq/__init__.py" "$out/mq/v1/__init__.py"
if [ -n "$check" ]; then
  if ! diff -r -x __pycache__ "$committed/mq" "$out/mq" >/dev/null; then
    echo "regen-protos: the committed Python modules differ from Protos/ (run clients/python/regen-protos.sh)" >&2
    rm -rf "$out"
    exit 1
  fi
  rm -rf "$out"
  echo "regen-protos: the committed Python modules match Protos/"
else
  modules=("$out"/mq/v1/*_pb2.py)
  echo "regen-protos: wrote ${#modules[@]} modules into $out/mq/v1"
fi
