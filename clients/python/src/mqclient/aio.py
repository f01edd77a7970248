"""The asyncio mq client: the same calls as :class:`mqclient.Client`, as coroutines, over one DEALER
(zmq.asyncio) whose replies a reader task hands to the calls by call id.

    async with mqclient.AsyncClient("tcp://127.0.0.1:5555", server_key="keys/coordinator.pub") as client:
        result = await client.generate("def fib(n):", max_tokens=32)
        async for chunk in client.generate_stream("def fib(n):", max_tokens=32):
            print(chunk.text, end="")

Cancelling the task awaiting a call, or closing a stream before its end (``break`` out of
``async for`` then ``await stream.aclose()``, or ``async with`` around it), cancels the call on the
coordinator. Use one AsyncClient per event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Dict, List, Optional

import zmq
import zmq.asyncio

from . import _core, errors
from ._core import GenerateResult, Prompt, StreamChunk


class AsyncClient:
    def __init__(self, endpoint: str, *, server_key=None, client_secret_key=None, api_key: Optional[str] = None,
                 timeout: float = _core.DEFAULT_TIMEOUT, connect_timeout: float = _core.CONNECT_TIMEOUT,
                 context: Optional[zmq.asyncio.Context] = None):
        """Arguments as :class:`mqclient.Client`."""
        self.endpoint = endpoint
        self.default_timeout = _core.check_timeout(timeout, _core.DEFAULT_TIMEOUT)
        self.connect_timeout = _core.check_timeout(connect_timeout, _core.CONNECT_TIMEOUT)
        self._creds = _core.credentials(server_key, client_secret_key, api_key)
        self._ids = _core.CallIds()
        self._context = context or zmq.asyncio.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        _core.configure(self._socket, self._creds)
        try:
            self._socket.connect(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close(0)
            raise errors.InvalidArgument(f'cannot connect to "{endpoint}" (expected tcp://HOST:PORT or ipc://PATH): {exc}')
        self._calls: Dict[int, asyncio.Queue] = {}
        self._reader: Optional[asyncio.Task] = None
        self._closed = False

    async def close(self) -> None:
        """Fails calls in flight with Cancelled and closes the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        for call_id, replies in self._calls.items():
            replies.put_nowait(errors.Cancelled("the client is closed", call_id))
        self._calls.clear()
        self._socket.close(0)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # -- calls ---------------------------------------------------------------------------------

    async def generate(self, prompt: Prompt, max_tokens: int = 0, *, timeout: Optional[float] = None,
                       metadata: Optional[Dict[str, str]] = None, **sampling) -> GenerateResult:
        request = _core.generate_request(prompt, max_tokens, **sampling)
        call_id, deadline = await self._start("Generate", request.SerializeToString(), timeout, metadata)
        return _core.generate_result(await self._await_trailer(call_id, deadline, cancel_on_exit=True), call_id)

    def generate_stream(self, prompt: Prompt, max_tokens: int = 0, *, timeout: Optional[float] = None,
                        metadata: Optional[Dict[str, str]] = None, **sampling) -> "AsyncGenerateStream":
        """A GenerateStream call, started when first iterated (``async for chunk in ...``)."""
        request = _core.generate_request(prompt, max_tokens, **sampling)
        return AsyncGenerateStream(self, request.SerializeToString(), timeout, metadata)

    async def cancel(self, call_id: int, *, timeout: Optional[float] = None) -> None:
        cid, deadline = await self._start("Cancel", _core.cancel_payload(call_id), timeout, None)
        await self._await_trailer(cid, deadline)

    async def tokenize(self, text: str, *, timeout: Optional[float] = None) -> List[int]:
        cid, deadline = await self._start("Tokenize", _core.tokenize_payload(text), timeout, None)
        return list(_core.parse_unary("Tokenize", await self._await_trailer(cid, deadline)).token_ids)

    async def health(self, *, timeout: Optional[float] = None):
        cid, deadline = await self._start("Health", _core.empty_payload("Health"), timeout, None)
        return _core.parse_unary("Health", await self._await_trailer(cid, deadline))

    async def info(self, *, timeout: Optional[float] = None):
        cid, deadline = await self._start("Info", _core.empty_payload("Info"), timeout, None)
        return _core.parse_unary("Info", await self._await_trailer(cid, deadline))

    # -- internals -----------------------------------------------------------------------------

    async def _start(self, method: str, payload: bytes, timeout: Optional[float], metadata):
        if self._closed:
            raise errors.Cancelled("the client is closed")
        timeout = _core.check_timeout(timeout, self.default_timeout)
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read())
        call_id = self._ids.next()
        frame = _core.call_frame(call_id, method, payload, timeout, self._creds.api_key, metadata)
        self._calls[call_id] = asyncio.Queue()
        # ZMQ_IMMEDIATE: a send waits until a connection exists; no connection in time is UNAVAILABLE.
        try:
            await asyncio.wait_for(self._socket.send(frame), timeout=min(self.connect_timeout, timeout))
        except asyncio.TimeoutError:
            self._calls.pop(call_id, None)
            raise errors.Unavailable(f"no connection to {self.endpoint} within {self.connect_timeout:g} s", call_id) from None
        except BaseException:
            self._calls.pop(call_id, None)
            raise
        return call_id, time.monotonic() + timeout + _core.DEADLINE_GRACE

    async def _next_reply(self, call_id: int, deadline: float):
        replies = self._calls.get(call_id)
        if replies is None:
            raise errors.Cancelled("the call is no longer in flight", call_id)
        try:
            item = await asyncio.wait_for(replies.get(), timeout=max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            self._calls.pop(call_id, None)
            raise errors.DeadlineExceeded(f"no reply from {self.endpoint} within the deadline", call_id) from None
        if isinstance(item, errors.MQError):
            raise item
        if _core.is_trailer(item):
            self._calls.pop(call_id, None)
        return item

    async def _await_trailer(self, call_id: int, deadline: float, cancel_on_exit: bool = False) -> bytes:
        try:
            while True:
                reply = await self._next_reply(call_id, deadline)
                if _core.is_trailer(reply):
                    _core.raise_for_trailer(reply)
                    return reply.payload
        except asyncio.CancelledError:
            if cancel_on_exit:
                await self._abandon(call_id)
            raise

    async def _abandon(self, call_id: int) -> None:
        """Forgets a call and asks the coordinator to stop it (the Cancel's own reply is ignored)."""
        if self._calls.pop(call_id, None) is None or self._closed:
            return
        frame = _core.call_frame(self._ids.next(), "Cancel", _core.cancel_payload(call_id), _core.CONNECT_TIMEOUT,
                                 self._creds.api_key)
        try:
            self._socket.send(frame, zmq.NOBLOCK)
        except zmq.ZMQError:
            pass

    async def _read(self) -> None:
        while True:
            frame = await self._socket.recv()
            reply = _core.parse_reply(frame)
            if reply is None:
                continue
            replies = self._calls.get(reply.call_id)  # id 0 (the liveness probe) and late replies are dropped
            if replies is not None:
                replies.put_nowait(reply)


class AsyncGenerateStream:
    """An async iterator of StreamChunks; ``call_id`` is known once iteration has started."""

    def __init__(self, client: AsyncClient, payload: bytes, timeout: Optional[float], metadata):
        self._client = client
        self._payload = payload
        self._timeout = timeout
        self._metadata = metadata
        self.call_id: Optional[int] = None
        self._deadline = 0.0
        self._done = False

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        return self

    async def __anext__(self) -> StreamChunk:
        if self._done:
            raise StopAsyncIteration
        if self.call_id is None:
            self.call_id, self._deadline = await self._client._start("GenerateStream", self._payload, self._timeout,
                                                                     self._metadata)
        try:
            reply = await self._client._next_reply(self.call_id, self._deadline)
        except errors.MQError:
            self._done = True
            raise
        except asyncio.CancelledError:
            await self.aclose()
            raise
        if _core.is_trailer(reply):
            self._done = True
            _core.raise_for_trailer(reply)
            raise StopAsyncIteration
        return _core.stream_chunk(reply.payload, self.call_id)

    async def cancel(self, *, timeout: Optional[float] = None) -> None:
        """Asks the coordinator to cancel the call; the iteration then raises Cancelled."""
        if self.call_id is None:
            raise errors.InvalidArgument("the stream has not started (iterate it first)")
        await self._client.cancel(self.call_id, timeout=timeout)

    async def aclose(self) -> None:
        """Stops reading; a call not yet ended is cancelled on the coordinator."""
        if not self._done:
            self._done = True
            if self.call_id is not None:
                await self._client._abandon(self.call_id)

    async def collect(self) -> GenerateResult:
        return _core.join_chunks([chunk async for chunk in self])

    async def __aenter__(self) -> "AsyncGenerateStream":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
