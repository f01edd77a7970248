"""Clusters with mq-gateway for the tests written with real clients (the official `openai` package and
curl): started with `mq cluster up` from $MQ_BIN (default .build/debug), stopped at the end.

- `gateway`: models/default on 2 workers, CURVE keys, an API key on the coordinator and another on
  the gateway (what a deployment looks like);
- `small_gateway`: KV cache for a few calls and a queue of 1, to fill the coordinator's queue (429);
- `dead_gateway`: an mq-gateway whose coordinator is not running (503)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cluster_up import start_cluster, stop_cluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MQ_BIN", ROOT / ".build" / "debug"))
MODEL = ROOT / "models" / "default"


@dataclass
class Gateway:
    url: str
    api_key: Optional[str]
    model: str
    folder: Optional[Path] = None
    endpoint: Optional[str] = None
    coordinator_api_key: Optional[str] = None
    metrics_url: Optional[str] = None

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


def model_name(url: str, api_key: Optional[str]) -> str:
    import urllib.request
    request = urllib.request.Request(url + "/v1/models", headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"][0]["id"]


def cluster_gateway(tmp_path_factory, extra):
    key = "gw-" + secrets.token_hex(16)
    coordinator_key = "co-" + secrets.token_hex(16)
    keys = tmp_path_factory.mktemp("gateway-keys") / "api-keys"
    keys.write_text(f"# gateway keys\n{key}\n")
    metrics_port = free_port()
    process, text = start_cluster(BIN / "mq", MODEL, ["--api-key", coordinator_key, "--gateway-api-keys", str(keys), "--metrics-port", str(metrics_port),
                           *extra])
    url = re.search(r"OpenAI-compatible gateway on (\S+)", text).group(1)
    folder = Path(re.search(r"logs in (\S+?)\)", text).group(1))
    endpoint = re.search(r"serving on (\S+)", text).group(1)
    return process, Gateway(url, key, model_name(url, key), folder, endpoint, coordinator_key,
                            f"http://127.0.0.1:{metrics_port}/metrics")


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    process, gw = cluster_gateway(tmp_path_factory, [])
    yield gw
    stop_cluster(process)


@pytest.fixture(scope="session")
def small_gateway(tmp_path_factory):
    # Each call reserves KV for prompt + max_tokens on every stage (768 bytes a token on a 3-layer
    # stage of models/default): 128K holds two calls of 60 tokens.
    process, gw = cluster_gateway(tmp_path_factory, ["--kv-memory", "128K", "--max-queued", "1"])
    yield gw
    stop_cluster(process)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def dead_gateway():
    port = free_port()
    process = subprocess.Popen([str(BIN / "mq-gateway"), "--coordinator", f"tcp://127.0.0.1:{free_port()}",
                                "--port", str(port), "--served-model-name", "default"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    assert "listening" in line, line
    yield Gateway(f"http://127.0.0.1:{port}", None, "default")
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def calls_ended(gateway: Gateway, status: str) -> int:
    """The coordinator's count of calls that ended with `status` (its Prometheus metrics)."""
    import urllib.request
    with urllib.request.urlopen(gateway.metrics_url, timeout=30) as response:
        text = response.read().decode()
    match = re.search(r'^mq_calls_total\{status="%s"\} (\d+)' % status, text, re.M)
    return int(match.group(1)) if match else 0


def mq_run(*args: str) -> dict:
    """`mq run --json` in one process: what the gateway's answers must equal."""
    out = subprocess.run([str(BIN / "mq"), "run", "--model", str(MODEL), "--json", *args],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)
