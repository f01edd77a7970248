"""Starts and stops a local cluster for the test suites under clients/ (the Python client's and the
openai/curl ones): `mq cluster up --port 0 --keep` on 2 workers, waiting for its "running" line."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

START_TIMEOUT = 300


def start_cluster(mq: Path, model: Path, extra=()):
    """Runs `mq cluster up` and waits until it serves; returns the process and what it printed so far."""
    command = [str(mq), "cluster", "up", "--model", str(model), "--workers", "2", "--port", "0", "--keep",
               "--threads", "1", *extra]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            raise RuntimeError(f"mq cluster up exited ({process.wait()}):\n" + "".join(lines))
        lines.append(line)
        if "running; press Ctrl-C" in line:
            return process, "".join(lines)
    process.send_signal(signal.SIGINT)
    raise RuntimeError("mq cluster up did not serve in time:\n" + "".join(lines))


def stop_cluster(process) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
