"""The synchronous mq client: one DEALER connection served by its own I/O thread, any number of calls
in flight from any threads, each matched to its replies by call id (like the Swift MQClient).

    with mqclient.Client("tcp://127.0.0.1:5555", server_key="keys/coordinator.pub") as client:
        print(client.generate("def fib(n):", max_tokens=32).text)
        for chunk in client.generate_stream("def fib(n):", max_tokens=32):
            print(chunk.text, end="")

Every call has a deadline (``timeout`` seconds, or the client's default), sent to the coordinator and
enforced locally too, so no call hangs: with no connection a call fails with Unavailable after
``connect_timeout``, with no answer with DeadlineExceeded shortly after its deadline. Closing a
stream before its end (``break`` out of the loop, ``stream.close()``) cancels the call on the
coordinator.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Dict, Iterator, List, Optional

import zmq

from . import _core, errors
from ._core import GenerateResult, Prompt, StreamChunk


class _Call:
    def __init__(self, call_id: int, frame: bytes, deadline: float, connect_deadline: float):
        self.call_id = call_id
        self.frame = frame
        self.deadline = deadline
        self.connect_deadline = connect_deadline
        self.replies: "queue.SimpleQueue" = queue.SimpleQueue()
        self.sent = False


class Client:
    """A client of one mq coordinator. Thread-safe; use one per process and endpoint."""

    def __init__(self, endpoint: str, *, server_key=None, client_secret_key=None, api_key: Optional[str] = None,
                 timeout: float = _core.DEFAULT_TIMEOUT, connect_timeout: float = _core.CONNECT_TIMEOUT,
                 context: Optional[zmq.Context] = None):
        """``server_key``: the coordinator's CURVE public key (Z85 text or a .pub file); required by a
        coordinator that runs with keys. ``client_secret_key``: this client's key (for coordinators with
        --authorized-clients; default a fresh pair). ``api_key``: sent with every call (default
        $MQ_API_KEY)."""
        self.endpoint = endpoint
        self.default_timeout = _core.check_timeout(timeout, _core.DEFAULT_TIMEOUT)
        self.connect_timeout = _core.check_timeout(connect_timeout, _core.CONNECT_TIMEOUT)
        self._creds = _core.credentials(server_key, client_secret_key, api_key)
        self._ids = _core.CallIds()
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.DEALER)
        _core.configure(self._socket, self._creds)
        try:
            self._socket.connect(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close(0)
            raise errors.InvalidArgument(f'cannot connect to "{endpoint}" (expected tcp://HOST:PORT or ipc://PATH): {exc}')
        # Callers hand calls to the I/O thread through a queue and wake it through an inproc pair.
        self._wake_address = f"inproc://mqclient-wake-{id(self)}"
        self._wake_in = self._context.socket(zmq.PAIR)
        self._wake_in.bind(self._wake_address)
        self._wake_out = self._context.socket(zmq.PAIR)
        self._wake_out.connect(self._wake_address)
        self._wake_lock = threading.Lock()
        self._commands: "queue.SimpleQueue" = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="mqclient-io", daemon=True)
        self._thread.start()

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Fails calls in flight with Cancelled and closes the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._post(("shutdown",))
        self._thread.join(timeout=2)
        with self._wake_lock:
            self._wake_out.close(0)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- calls ---------------------------------------------------------------------------------

    def generate(self, prompt: Prompt, max_tokens: int = 0, *, timeout: Optional[float] = None,
                 metadata: Optional[Dict[str, str]] = None, **sampling) -> GenerateResult:
        """Generates a completion. ``prompt`` is text or token ids; ``sampling``: temperature, top_k,
        top_p, seed, repetition_penalty, stop (strings), stop_token_ids, top_logprobs, suffix
        (fill-in-the-middle), prompt_logprobs."""
        request = _core.generate_request(prompt, max_tokens, **sampling)
        call = self._start("Generate", request.SerializeToString(), timeout, metadata)
        return _core.generate_result(self._await_trailer(call), call.call_id)

    def generate_stream(self, prompt: Prompt, max_tokens: int = 0, *, timeout: Optional[float] = None,
                        metadata: Optional[Dict[str, str]] = None, **sampling) -> "GenerateStream":
        """Starts a GenerateStream call; iterate the result for its chunks."""
        request = _core.generate_request(prompt, max_tokens, **sampling)
        return GenerateStream(self, self._start("GenerateStream", request.SerializeToString(), timeout, metadata))

    def cancel(self, call_id: int, *, timeout: Optional[float] = None) -> None:
        """Cancels one of this client's calls in flight; raises NotFound when it already ended."""
        call = self._start("Cancel", _core.cancel_payload(call_id), timeout, None)
        self._await_trailer(call)

    def tokenize(self, text: str, *, timeout: Optional[float] = None) -> List[int]:
        """The token ids the served model's tokenizer gives ``text``."""
        call = self._start("Tokenize", _core.tokenize_payload(text), timeout, None)
        return list(_core.parse_unary("Tokenize", self._await_trailer(call)).token_ids)

    def health(self, *, timeout: Optional[float] = None):
        """The coordinator's HealthResponse (``serving``, ``missing_layers``, ``workers``, ...)."""
        call = self._start("Health", _core.empty_payload("Health"), timeout, None)
        return _core.parse_unary("Health", self._await_trailer(call))

    def info(self, *, timeout: Optional[float] = None):
        """The coordinator's InfoResponse (``model``, ``stages``, ``limits``, ``version``)."""
        call = self._start("Info", _core.empty_payload("Info"), timeout, None)
        return _core.parse_unary("Info", self._await_trailer(call))

    # -- internals -----------------------------------------------------------------------------

    def _post(self, command) -> None:
        self._commands.put(command)
        with self._wake_lock:
            if not self._wake_out.closed:
                self._wake_out.send(b"", zmq.NOBLOCK)

    def _start(self, method: str, payload: bytes, timeout: Optional[float], metadata) -> _Call:
        if self._closed:
            raise errors.Cancelled("the client is closed")
        timeout = _core.check_timeout(timeout, self.default_timeout)
        call_id = self._ids.next()
        frame = _core.call_frame(call_id, method, payload, timeout, self._creds.api_key, metadata)
        now = time.monotonic()
        call = _Call(call_id, frame, now + timeout + _core.DEADLINE_GRACE, now + min(self.connect_timeout, timeout))
        self._post(("start", call))
        return call

    def _next_reply(self, call: _Call):
        """The call's next reply, or raises when its deadline passes first (the call is then
        forgotten; the coordinator ends it by the same deadline)."""
        remaining = call.deadline - time.monotonic()
        try:
            item = call.replies.get(timeout=max(0.0, remaining))
        except queue.Empty:
            self._post(("forget", call.call_id, False))
            if not call.sent:
                raise errors.Unavailable(f"no connection to {self.endpoint}", call.call_id) from None
            raise errors.DeadlineExceeded(f"no reply from {self.endpoint} within the deadline", call.call_id) from None
        if isinstance(item, errors.MQError):
            raise item
        return item

    def _await_trailer(self, call: _Call) -> bytes:
        while True:
            reply = self._next_reply(call)
            if _core.is_trailer(reply):
                _core.raise_for_trailer(reply)
                return reply.payload

    def _run(self) -> None:
        calls: Dict[int, _Call] = {}
        unsent: List[_Call] = []
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._wake_in, zmq.POLLIN)
        running = True
        while running:
            events = dict(poller.poll(10 if unsent else 250))
            if self._wake_in in events:
                while True:
                    try:
                        self._wake_in.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
            while True:
                try:
                    command = self._commands.get_nowait()
                except queue.Empty:
                    break
                if command[0] == "start":
                    calls[command[1].call_id] = command[1]
                    unsent.append(command[1])
                elif command[0] == "forget":
                    call = calls.pop(command[1], None)
                    if call in unsent:
                        unsent.remove(call)
                    if command[2] and call is not None and call.sent:
                        # An abandoned stream: ask the coordinator to stop it (its reply is ignored).
                        cancel_id = self._ids.next()
                        frame = _core.call_frame(cancel_id, "Cancel", _core.cancel_payload(call.call_id),
                                                 _core.CONNECT_TIMEOUT, self._creds.api_key)
                        try:
                            self._socket.send(frame, zmq.NOBLOCK)
                        except zmq.ZMQError:
                            pass
                elif command[0] == "shutdown":
                    running = False
            now = time.monotonic()
            for call in list(unsent):
                try:
                    self._socket.send(call.frame, zmq.NOBLOCK)
                    call.sent = True
                    unsent.remove(call)
                except zmq.Again:
                    if now >= call.connect_deadline:
                        unsent.remove(call)
                        calls.pop(call.call_id, None)
                        call.replies.put(errors.Unavailable(
                            f"no connection to {self.endpoint} within {self.connect_timeout:g} s", call.call_id))
            if self._socket in events:
                while True:
                    try:
                        frame = self._socket.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    reply = _core.parse_reply(frame)
                    if reply is None:
                        continue
                    call = calls.get(reply.call_id)  # id 0 (the liveness probe) and late replies are dropped
                    if call is None:
                        continue
                    call.replies.put(reply)
                    if _core.is_trailer(reply):
                        calls.pop(reply.call_id, None)
        for call in calls.values():
            call.replies.put(errors.Cancelled("the client is closed", call.call_id))
        self._socket.close(0)
        self._wake_in.close(0)


class GenerateStream:
    """A GenerateStream call in flight: iterate it for StreamChunks. Iteration ends after the
    coordinator's OK trailer and raises the call's error otherwise. ``close()`` (or leaving a ``with``
    block, or breaking out of a ``for`` loop over ``iter(stream)`` that is then collected) before the
    end cancels the call on the coordinator."""

    def __init__(self, client: Client, call: _Call):
        self._client = client
        self._call = call
        self._done = False

    @property
    def call_id(self) -> int:
        return self._call.call_id

    def __iter__(self) -> Iterator[StreamChunk]:
        try:
            while not self._done:
                reply = self._client._next_reply(self._call)
                if _core.is_trailer(reply):
                    self._done = True
                    _core.raise_for_trailer(reply)
                    return
                yield _core.stream_chunk(reply.payload, self._call.call_id)
        except errors.MQError:
            self._done = True  # the call has ended (its trailer, or its deadline passed)
            raise
        finally:
            if not self._done:
                self.close()

    def cancel(self, *, timeout: Optional[float] = None) -> None:
        """Asks the coordinator to cancel the call; the iteration then raises Cancelled."""
        self._client.cancel(self._call.call_id, timeout=timeout)

    def close(self) -> None:
        """Stops reading; a call not yet ended is cancelled on the coordinator."""
        if not self._done:
            self._done = True
            self._client._post(("forget", self._call.call_id, True))

    def collect(self) -> GenerateResult:
        """Reads the whole stream and returns what Generate would have returned."""
        return _core.join_chunks(list(self))

    def __enter__(self) -> "GenerateStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
