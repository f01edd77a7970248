"""mq-gateway called with curl: the plain HTTP contract (JSON bodies, server-sent events ending with
`data: [DONE]`, status codes and OpenAI error bodies, Retry-After, bounded bodies), health and
metrics, a client that disconnects mid-stream (its call is cancelled on the cluster), and a
deadline (504)."""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import BIN, calls_ended, free_port, mq_run

PROMPT = "def fibonacci(n):"


def curl(*args: str, timeout: float = 120):
    """(status, headers, body) of one curl call."""
    out = subprocess.run(["curl", "-sS", "-D", "-", "--max-time", str(timeout), *args], capture_output=True)
    head, _, body = out.stdout.decode("utf-8").partition("\r\n\r\n")  # bytes: keep the \r\n of HTTP
    status = int(head.split()[1]) if head.startswith("HTTP/") else 0
    headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:] if ":" in line}
    return status, headers, body


def post(gateway, body, *extra, key="default"):
    key = gateway.api_key if key == "default" else key
    auth = ["-H", f"Authorization: Bearer {key}"] if key else []
    return curl(f"{gateway.url}/v1/completions", "-H", "Content-Type: application/json", *auth,
                "--data-binary", json.dumps(body) if not isinstance(body, str) else body, *extra)


def test_completion_json_equals_mq_run(gateway):
    status, headers, body = post(gateway, {"model": gateway.model, "prompt": PROMPT, "max_tokens": 16, "temperature": 0})
    assert status == 200 and headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert answer["choices"][0]["text"] == mq_run("--prompt", PROMPT, "--max-tokens", "16")["text"]
    assert answer["usage"]["total_tokens"] == answer["usage"]["prompt_tokens"] + answer["usage"]["completion_tokens"]


def test_stream_is_server_sent_events_ending_with_done(gateway):
    status, headers, body = post(gateway, {"model": gateway.model, "prompt": PROMPT, "max_tokens": 16, "temperature": 0,
                                           "stream": True}, "-N")
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [e for e in body.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == mq_run("--prompt", PROMPT, "--max-tokens", "16")["text"]
    assert chunks[-1]["choices"][0]["finish_reason"] in ("length", "stop")


def test_errors_have_openai_shape_and_status(gateway):
    status, _, body = post(gateway, {"model": gateway.model, "prompt": PROMPT}, key=None)
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"
    status, _, body = post(gateway, "{not json")
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error"
    status, _, body = post(gateway, {"model": gateway.model, "prompt": PROMPT, "n": "two"})
    assert status == 400 and json.loads(body)["error"]["param"] == "n"
    status, _, body = post(gateway, {"model": "nope", "prompt": PROMPT})
    assert status == 404 and json.loads(body)["error"]["code"] == "model_not_found"
    status, _, body = curl(f"{gateway.url}/v1/nothing", "-H", f"Authorization: Bearer {gateway.api_key}")
    assert status == 404 and "error" in json.loads(body)
    big = Path(tempfile.mkdtemp()) / "big.json"
    big.write_text(json.dumps({"model": gateway.model, "prompt": "x" * (5 << 20)}))
    status, _, body = post(gateway, f"@{big}")
    assert status == 413 and "error" in json.loads(body)


def test_health_and_metrics(gateway):
    status, _, body = curl(f"{gateway.url}/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, _, body = curl(f"{gateway.url}/metrics")
    assert status == 200
    assert 'mq_gateway_requests_total{route="/v1/completions",code="200"}' in body
    assert "mq_gateway_time_to_first_token_seconds_count" in body


def in_flight(gateway) -> int:
    _, _, body = curl(f"{gateway.url}/health")
    return sum(c.get("in_flight_calls", 0) for c in json.loads(body)["coordinators"])


def test_client_disconnect_mid_stream_cancels_the_call(gateway):
    # 8 choices of 480 tokens: seconds of work, cut short when curl goes away after the first event.
    cancelled_before = calls_ended(gateway, "CANCELLED")
    body = json.dumps({"model": gateway.model, "prompt": PROMPT, "max_tokens": 480, "temperature": 0, "stream": True,
                       "n": 8})
    process = subprocess.Popen(["curl", "-sS", "-N", f"{gateway.url}/v1/completions", "-H", "Content-Type: application/json",
                                "-H", f"Authorization: Bearer {gateway.api_key}", "-d", body],
                               stdout=subprocess.PIPE, text=True)
    first = process.stdout.readline()
    assert first.startswith("data: "), first
    assert in_flight(gateway) == 8
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 5
    while in_flight(gateway) > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert in_flight(gateway) == 0, "the calls of a vanished HTTP client are still running"
    assert calls_ended(gateway, "CANCELLED") - cancelled_before == 8, (calls_ended(gateway, "OK"), cancelled_before)


def test_client_disconnect_during_a_unary_completion_cancels_the_calls(gateway):
    cancelled_before = calls_ended(gateway, "CANCELLED")
    status, _, _ = post(gateway, {"model": gateway.model, "prompt": PROMPT, "max_tokens": 480, "temperature": 0, "n": 8},
                        "--max-time", "0.5")
    assert status == 0, "curl should have given up before the answer"
    deadline = time.monotonic() + 5
    while in_flight(gateway) > 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert in_flight(gateway) == 0
    assert calls_ended(gateway, "CANCELLED") - cancelled_before == 8


def test_deadline_is_504(gateway):
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "mq-gateway"), "--coordinator", gateway.endpoint, "--server-key", str(gateway.folder / "keys" / "coordinator.pub"),
         "--port", str(port), "--timeout", "0.3"],
        env={"MQ_API_KEY": gateway.coordinator_api_key, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "listening" in process.stdout.readline()
        fast = type(gateway)(f"http://127.0.0.1:{port}", None, gateway.model)
        status, _, body = post(fast, {"model": gateway.model, "prompt": PROMPT, "max_tokens": 480, "temperature": 0}, key=None)
        assert status == 504 and json.loads(body)["error"]["code"] == "deadline_exceeded"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_unavailable_is_503_with_retry_after(dead_gateway):
    status, headers, body = post(dead_gateway, {"model": dead_gateway.model, "prompt": PROMPT}, key=None)
    assert status == 503 and headers.get("retry-after") == "1"
    assert json.loads(body)["error"]["code"] == "cluster_unavailable"
    status, _, _ = curl(f"{dead_gateway.url}/health")
    assert status == 503
