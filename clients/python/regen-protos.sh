#!/usr/bin/env bash
# Regenerates the protobuf Python modules of the mq Python client from Protos/mq/v1/*.proto into
# clients/python/src/mqclient/_proto/mq/v1 (committed). Needs grpcio-tools (pip install grpcio-tools),
# whose bundled protoc writes code for the protobuf runtime of its own version (see pyproject.toml).
# protoc writes absolute imports ("from mq.v1 import common_pb2"); they are rewritten to live inside
# the mqclient package.
#   clients/python/regen-protos.sh [PYTHON]      (default python3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${1:-python3}"
out="$here/src/mqclient/_proto"
rm -rf "$out/mq"
mkdir -p "$out"
(cd "$root/Protos" && "$python" -m grpc_tools.protoc --proto_path=. --python_out="$out" mq/v1/*.proto)
sed -i 's/^from mq\.v1 import/from mqclient._proto.mq.v1 import/' "$out"/mq/v1/*_pb2.py
touch "$out/mq/__init__.py" "$out/mq/v1/__init__.py"
echo "regen-protos: wrote $(ls "$out"/mq/v1/*_pb2.py | wc -l) modules into $out/mq/v1"
