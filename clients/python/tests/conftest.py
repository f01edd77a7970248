"""The cluster the Python client's tests call: MQ_TEST_SERVER (+ MQ_TEST_SERVER_KEY, MQ_TEST_API_KEY)
when set, else a 2-worker cluster this session starts with `mq cluster up` (CURVE keys and an API key
on the coordinator, no gateway) from $MQ_BIN (default: the repository's .build/debug) and stops."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from cluster_up import start_cluster, stop_cluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Cluster:
    endpoint: str
    server_key: Optional[str]
    api_key: Optional[str]
    model: Path
    mq: Path
    metrics_url: Optional[str] = None

    def calls_ended(self, status: str) -> int:
        """The coordinator's count of calls that ended with `status` (its Prometheus metrics)."""
        import urllib.request
        if self.metrics_url is None:
            return -1
        with urllib.request.urlopen(self.metrics_url, timeout=30) as response:
            text = response.read().decode()
        match = re.search(r'^mq_calls_total\{status="%s"\} (\d+)' % status, text, re.M)
        return int(match.group(1)) if match else 0


@pytest.fixture(scope="session")
def cluster():
    mq = Path(os.environ.get("MQ_BIN", ROOT / ".build" / "debug")) / "mq"
    if os.environ.get("MQ_TEST_SERVER"):
        yield Cluster(os.environ["MQ_TEST_SERVER"], os.environ.get("MQ_TEST_SERVER_KEY"),
                      os.environ.get("MQ_TEST_API_KEY"), ROOT / "models" / "default", mq)
        return
    api_key = "py-" + secrets.token_hex(16)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        metrics_port = s.getsockname()[1]
    process, text = start_cluster(mq, ROOT / "models" / "default", ["--api-key", api_key, "--no-gateway", "--metrics-port", str(metrics_port)])
    try:
        endpoint = re.search(r"serving on (\S+)", text).group(1)
        server_key = re.search(r"--server-key (\S+)", text).group(1)
        yield Cluster(endpoint, server_key, api_key, ROOT / "models" / "default", mq,
                      f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        stop_cluster(process)


def mq_run(cluster: Cluster, *args: str) -> dict:
    """`mq run --json` in one process: what the cluster must reproduce."""
    import json
    out = subprocess.run([str(cluster.mq), "run", "--model", str(cluster.model), "--json", *args],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)
