"""The sync client against a real cluster: results equal `mq run`, streams, cancel, tokenize, health,
info, deadlines, and every failure as its typed exception."""

from __future__ import annotations

import threading
import time

import pytest

import mqclient
from mqclient import errors

from conftest import mq_run

PROMPT = "def fibonacci(n):"


@pytest.fixture(scope="module")
def client(cluster):
    with mqclient.Client(cluster.endpoint, server_key=cluster.server_key, api_key=cluster.api_key) as c:
        yield c


def test_generate_equals_mq_run(client, cluster):
    expected = mq_run(cluster, "--prompt", PROMPT, "--max-tokens", "24")
    result = client.generate(PROMPT, max_tokens=24)
    assert result.token_ids == expected["token_ids"]
    assert result.text == expected["text"]
    assert result.finish_reason == expected["finish_reason"]
    assert max(abs(a - b) for a, b in zip(result.logprobs, expected["logprobs"])) < 1e-4
    assert result.completion_tokens == len(expected["token_ids"])


def test_sampled_with_seed_and_stop_equals_mq_run(client, cluster):
    expected = mq_run(cluster, "--prompt", PROMPT, "--max-tokens", "40", "--temperature", "0.8", "--top-p", "0.9",
                      "--seed", "7", "--stop", "\n\n")
    result = client.generate(PROMPT, max_tokens=40, temperature=0.8, top_p=0.9, seed=7, stop=["\n\n"])
    assert (result.token_ids, result.text, result.finish_reason) == (expected["token_ids"], expected["text"],
                                                                      expected["finish_reason"])


def test_token_id_prompt_and_tokenize(client, cluster):
    ids = client.tokenize(PROMPT)
    assert ids and all(isinstance(i, int) for i in ids)
    assert client.generate(ids, max_tokens=8).token_ids == client.generate(PROMPT, max_tokens=8).token_ids


def test_stream_joins_to_generate(client):
    stream = client.generate_stream(PROMPT, max_tokens=16, top_logprobs=3)
    chunks = list(stream)
    assert chunks[-1].finish_reason is not None and all(c.finish_reason is None for c in chunks[:-1])
    joined = mqclient._core.join_chunks(chunks)
    unary = client.generate(PROMPT, max_tokens=16, top_logprobs=3)
    assert joined.token_ids == unary.token_ids and joined.text == unary.text
    assert len(joined.top_logprobs) == len(joined.token_ids) and all(len(t) == 3 for t in joined.top_logprobs)


def test_cancel_ends_the_stream_with_cancelled(client):
    stream = client.generate_stream(PROMPT, max_tokens=480)
    iterator = iter(stream)
    next(iterator)
    stream.cancel()
    with pytest.raises(errors.Cancelled):
        for _ in iterator:
            pass


def test_cancel_of_an_unknown_call_is_not_found(client):
    with pytest.raises(errors.NotFound):
        client.cancel(987654321)


def test_closing_a_stream_early_cancels_the_call(client, cluster):
    before = cluster.calls_ended("CANCELLED")
    stream = client.generate_stream(PROMPT, max_tokens=480)
    for _ in stream:
        break  # leaving the loop closes the generator: the call is cancelled on the coordinator
    deadline = time.monotonic() + 5
    while client.health().in_flight_calls > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.health().in_flight_calls == 0
    if before >= 0:
        assert cluster.calls_ended("CANCELLED") == before + 1


def test_health_and_info(client):
    health = client.health()
    assert health.serving and health.total_layers > 0 and not health.missing_layers
    info = client.info()
    assert info.model.num_layers == health.total_layers
    assert len(info.stages) == 2 and info.version.major == 1


def test_bad_argument_is_invalid_argument(client):
    with pytest.raises(errors.InvalidArgument) as raised:
        client.generate(PROMPT, max_tokens=4, top_p=2.0)
    assert raised.value.code == 3 and "top_p" in raised.value.message


def test_deadline_exceeded(client):
    with pytest.raises(errors.DeadlineExceeded):
        client.generate(PROMPT, max_tokens=480, timeout=0.05)


def test_missing_api_key_is_unauthenticated(cluster):
    if not cluster.api_key:
        pytest.skip("this cluster has no API key")
    with mqclient.Client(cluster.endpoint, server_key=cluster.server_key, api_key="wrong-key-0123456789") as c:
        with pytest.raises(errors.Unauthenticated):
            c.health()


def test_wrong_server_key_never_connects(cluster):
    if not cluster.server_key:
        pytest.skip("this cluster has no CURVE keys")
    import zmq
    public, _ = zmq.curve_keypair()
    with mqclient.Client(cluster.endpoint, server_key=public.decode(), api_key=cluster.api_key,
                         connect_timeout=0.5, timeout=1.0) as c:
        with pytest.raises((errors.Unavailable, errors.DeadlineExceeded)):
            c.health()


def test_nobody_listening_is_unavailable():
    with mqclient.Client("tcp://127.0.0.1:9", connect_timeout=0.3) as c:
        started = time.monotonic()
        with pytest.raises(errors.Unavailable):
            c.info()
        assert time.monotonic() - started < 3


def test_many_threads_share_one_client(client):
    results, failures = [], []

    def work(i):
        try:
            results.append((i, client.generate([1 + i, 2, 3], max_tokens=6).token_ids))
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    for i, ids in results:
        assert ids == client.generate([1 + i, 2, 3], max_tokens=6).token_ids


def test_bad_key_material_is_invalid_argument(cluster):
    with pytest.raises(errors.InvalidArgument):
        mqclient.Client(cluster.endpoint, server_key="not-a-key")


def test_keys_as_text_or_files(tmp_path):
    import zmq
    from mqclient import _core
    for _ in range(20):  # Z85 keys contain '/' now and then: text is never mistaken for a path
        public, _secret = zmq.curve_keypair()
        assert _core.read_key(public.decode()) == public
    key_file = tmp_path / "coordinator.pub"
    key_file.write_text("# mq CURVE public key\n" + public.decode() + "\n")
    assert _core.read_key(str(key_file)) == public
    with pytest.raises(errors.InvalidArgument):
        _core.read_key(str(tmp_path / "missing.pub"))


def test_suffix_and_prompt_logprobs_equal_mq_run(client, cluster):
    before, after = "def add(a, b):\n    ", "\n    return c"
    expected = mq_run(cluster, "--prompt", before, "--suffix", after, "--max-tokens", "10")
    assert client.generate(before, max_tokens=10, suffix=after).token_ids == expected["token_ids"]
    scored = mq_run(cluster, "--prompt", PROMPT, "--max-tokens", "3", "--prompt-logprobs", "--top-logprobs", "2")
    result = client.generate(PROMPT, max_tokens=3, prompt_logprobs=True, top_logprobs=2)
    assert result.prompt_token_ids == scored["prompt_token_ids"]
    assert len(result.prompt_logprobs) == len(result.prompt_token_ids) - 1
    assert max(abs(a - b) for a, b in zip(result.prompt_logprobs, scored["prompt_logprobs"])) < 1e-4
    assert all(len(t) == 2 for t in result.prompt_top_logprobs)
    streamed = client.generate_stream(PROMPT, max_tokens=3, prompt_logprobs=True).collect()
    assert streamed.prompt_token_ids == result.prompt_token_ids
