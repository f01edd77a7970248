"""The asyncio client against the same cluster: the same results, concurrent calls, streaming,
cancellation by the task and typed errors."""

from __future__ import annotations

import asyncio

import pytest

import mqclient
from mqclient import errors

from conftest import mq_run

PROMPT = "def fibonacci(n):"


@pytest.fixture
async def client(cluster):
    async with mqclient.AsyncClient(cluster.endpoint, server_key=cluster.server_key, api_key=cluster.api_key) as c:
        yield c


async def test_generate_equals_mq_run(client, cluster):
    expected = mq_run(cluster, "--prompt", PROMPT, "--max-tokens", "20")
    result = await client.generate(PROMPT, max_tokens=20)
    assert (result.token_ids, result.text, result.finish_reason) == (expected["token_ids"], expected["text"],
                                                                      expected["finish_reason"])


async def test_concurrent_calls_get_their_own_results(client):
    prompts = [[5 + i, 6, 7] for i in range(6)]
    together = await asyncio.gather(*(client.generate(p, max_tokens=6) for p in prompts))
    for prompt, result in zip(prompts, together):
        assert result.token_ids == (await client.generate(prompt, max_tokens=6)).token_ids


async def test_stream_collects_to_generate(client):
    streamed = await client.generate_stream(PROMPT, max_tokens=12).collect()
    unary = await client.generate(PROMPT, max_tokens=12)
    assert streamed.token_ids == unary.token_ids and streamed.text == unary.text


async def test_cancelled_task_cancels_the_call(client, cluster):
    before = cluster.calls_ended("CANCELLED")
    task = asyncio.ensure_future(client.generate(PROMPT, max_tokens=480))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if (await client.health()).in_flight_calls == 0:
            break
        await asyncio.sleep(0.05)
    assert (await client.health()).in_flight_calls == 0
    if before >= 0:
        assert cluster.calls_ended("CANCELLED") == before + 1


async def test_stream_cancel_raises_cancelled(client):
    stream = client.generate_stream(PROMPT, max_tokens=480)
    await stream.__anext__()
    await stream.cancel()
    with pytest.raises(errors.Cancelled):
        async for _ in stream:
            pass


async def test_tokenize_health_info(client):
    assert await client.tokenize("def")
    assert (await client.health()).serving
    assert (await client.info()).model.num_layers > 0


async def test_errors_are_typed(client):
    with pytest.raises(errors.InvalidArgument):
        await client.generate("", max_tokens=4)
    with pytest.raises(errors.DeadlineExceeded):
        await client.generate(PROMPT, max_tokens=480, timeout=0.05)
    with pytest.raises(errors.NotFound):
        await client.cancel(123456789)


async def test_nobody_listening_is_unavailable():
    async with mqclient.AsyncClient("tcp://127.0.0.1:9", connect_timeout=0.3) as c:
        with pytest.raises(errors.Unavailable):
            await c.health()
