"""What the sync and asyncio clients share: request frames, reply decoding, result types, keys.

The wire contract is Protos/PROTOCOL.md, section 4: a DEALER sends one CallRequest frame per call
and receives CallReply frames (stream items, then exactly one trailer) tagged with the call id.
"""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import zmq

from . import errors
from ._proto.mq.v1 import client_pb2, common_pb2

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 4
METHOD_PREFIX = "mq.v1.Decoder/"

#: Deadline of a call that names none, seconds (MQClient's default).
DEFAULT_TIMEOUT = 60.0
#: How long a call waits for a connection before failing with UNAVAILABLE, seconds.
CONNECT_TIMEOUT = 5.0
#: Extra time past a deadline before the client gives up locally (the server's trailer wins).
DEADLINE_GRACE = 0.2
#: ZeroMQ reconnect interval and heartbeats, milliseconds.
RECONNECT_IVL_MS = 100
RECONNECT_IVL_MAX_MS = 2000
HEARTBEAT_IVL_MS = 1000
HEARTBEAT_TIMEOUT_MS = 3000
#: Largest reply frame accepted (the protocol's 16 MiB limit).
MAX_REPLY_BYTES = 16 << 20

FINISH_REASONS = {0: "unspecified", 1: "length", 2: "eos", 3: "stop"}

Prompt = Union[str, Sequence[int]]


@dataclass
class TokenLogprob:
    token_id: int
    logprob: float


@dataclass
class Timing:
    queue_ns: int = 0
    prefill_ns: int = 0
    decode_ns: int = 0


@dataclass
class GenerateResult:
    """What Generate returns (and a whole GenerateStream joined)."""

    token_ids: List[int]
    logprobs: List[float]
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    top_logprobs: List[List[TokenLogprob]] = field(default_factory=list)
    timing: Timing = field(default_factory=Timing)
    #: With ``prompt_logprobs=True``: the prompt's ids as the model saw them, the log probability of
    #: each after the first, and (with ``top_logprobs``) the alternatives at those positions.
    prompt_token_ids: List[int] = field(default_factory=list)
    prompt_logprobs: List[float] = field(default_factory=list)
    prompt_top_logprobs: List[List[TokenLogprob]] = field(default_factory=list)


@dataclass
class StreamChunk:
    """One GenerateStream item; ``finish_reason`` is None on every chunk but the last."""

    token_ids: List[int]
    logprobs: List[float]
    text: str
    finish_reason: Optional[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    top_logprobs: List[List[TokenLogprob]] = field(default_factory=list)
    timing: Optional[Timing] = None
    #: On the first chunk only, with ``prompt_logprobs=True`` (as in GenerateResult).
    prompt_token_ids: List[int] = field(default_factory=list)
    prompt_logprobs: List[float] = field(default_factory=list)
    prompt_top_logprobs: List[List[TokenLogprob]] = field(default_factory=list)


@dataclass
class Credentials:
    """CURVE keys (Z85) and the API key of a client."""

    server_key: Optional[bytes] = None
    public_key: Optional[bytes] = None
    secret_key: Optional[bytes] = None
    api_key: Optional[str] = None

    def apply(self, socket: zmq.Socket) -> None:
        if self.server_key is None:
            return
        public, secret = self.public_key, self.secret_key
        if secret is None:
            public, secret = zmq.curve_keypair()
        elif public is None:
            public = zmq.curve_public(secret)
        socket.curve_serverkey = self.server_key
        socket.curve_publickey = public
        socket.curve_secretkey = secret


def read_key(value: Union[str, bytes, os.PathLike, None]) -> Optional[bytes]:
    """A Z85 key given as the 40 characters themselves or as a key file (mq keygen's .pub/.key:
    lines starting with '#' are comments)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        text = value.decode("ascii")
    else:
        text = os.fspath(value)
    # A Z85 key may contain '/', so anything that is not an existing file is taken as the key itself.
    if not (len(text) == 40 and not os.path.exists(text)):
        try:
            with open(text, "r", encoding="ascii") as handle:
                lines = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
        except OSError as exc:
            raise errors.InvalidArgument(f"cannot read the key file {text}: {exc}") from None
        if len(lines) != 1:
            raise errors.InvalidArgument(f"{text}: expected one Z85 key line, found {len(lines)}")
        text = lines[0]
    if len(text) != 40:
        raise errors.InvalidArgument(f"a CURVE key is 40 Z85 characters, got {len(text)}")
    return text.encode("ascii")


def credentials(server_key=None, client_secret_key=None, api_key=None) -> Credentials:
    if api_key is None:
        api_key = os.environ.get("MQ_API_KEY") or None
    if api_key is not None and (not api_key or any(c.isspace() for c in api_key)):
        raise errors.InvalidArgument("an API key is one non-empty word")
    if client_secret_key is not None and server_key is None:
        raise errors.InvalidArgument("a client key needs the server key")
    return Credentials(server_key=read_key(server_key), secret_key=read_key(client_secret_key), api_key=api_key)


def configure(socket: zmq.Socket, creds: Credentials) -> None:
    socket.setsockopt(zmq.IMMEDIATE, 1)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
    socket.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
    socket.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    socket.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)
    creds.apply(socket)


class CallIds:
    """Nonzero call ids, unique on one connection (a counter)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            return next(self._counter)


def check_timeout(timeout: Optional[float], default: float) -> float:
    timeout = default if timeout is None else timeout
    if not timeout > 0:
        raise errors.InvalidArgument(f"the timeout must be positive, got {timeout}")
    return float(timeout)


def generate_request(prompt: Prompt, max_tokens: int = 0, temperature: float = 0.0, top_k: int = 0,
                     top_p: float = 0.0, seed: Optional[int] = None, repetition_penalty: float = 0.0,
                     stop: Sequence[str] = (), stop_token_ids: Sequence[int] = (), top_logprobs: int = 0,
                     suffix: Optional[str] = None, prompt_logprobs: bool = False) -> client_pb2.GenerateRequest:
    """A GenerateRequest: a text prompt (the coordinator tokenizes it) or token ids. ``suffix``:
    fill-in-the-middle (the prompt is the text before the gap); ``prompt_logprobs``: also score the
    prompt (protocol 1.4)."""
    request = client_pb2.GenerateRequest(max_new_tokens=max_tokens, prompt_logprobs=prompt_logprobs)
    if suffix is not None:
        request.suffix = suffix.encode("utf-8")
    if isinstance(prompt, str):
        request.text = prompt.encode("utf-8")
    elif isinstance(prompt, (bytes, bytearray)):
        raise errors.InvalidArgument("a prompt is a str or a sequence of token ids, not bytes")
    else:
        request.token_ids.ids.extend(int(i) for i in prompt)
    sampling = request.sampling
    sampling.temperature = temperature
    sampling.top_k = top_k
    sampling.top_p = top_p
    if seed is not None:
        sampling.seed = seed & 0xFFFFFFFFFFFFFFFF
    sampling.repetition_penalty = repetition_penalty
    sampling.stop_strings.extend(s.encode("utf-8") for s in stop)
    sampling.stop_token_ids.extend(stop_token_ids)
    sampling.top_logprobs = top_logprobs
    return request


def call_frame(call_id: int, method: str, payload: bytes, timeout: float, api_key: Optional[str],
               metadata: Optional[Dict[str, str]] = None) -> bytes:
    request = client_pb2.CallRequest(call_id=call_id, method=METHOD_PREFIX + method,
                                     timeout_ms=max(1, min(int(timeout * 1000 + 0.999), 0xFFFFFFFF)), payload=payload)
    request.version.major = PROTOCOL_MAJOR
    request.version.minor = PROTOCOL_MINOR
    for key, value in (metadata or {}).items():
        request.metadata[key] = value
    if api_key:
        request.metadata["authorization"] = f"Bearer {api_key}"
    return request.SerializeToString()


def parse_reply(frame: bytes) -> Optional[client_pb2.CallReply]:
    """The reply, or None for a frame that does not parse (dropped, as MQClient does)."""
    reply = client_pb2.CallReply()
    try:
        reply.ParseFromString(frame)
    except Exception:  # protobuf raises DecodeError; anything else is malformed too
        return None
    return reply


def is_trailer(reply: client_pb2.CallReply) -> bool:
    return reply.kind == client_pb2.REPLY_KIND_TRAILER


def raise_for_trailer(reply: client_pb2.CallReply) -> None:
    if reply.status.code != client_pb2.STATUS_CODE_OK:
        raise errors.error_for(reply.status.code, reply.status.message, reply.call_id)


def _top(items) -> List[List[TokenLogprob]]:
    return [[TokenLogprob(c.token_id, c.logprob) for c in t.candidates] for t in items]


def _timing(message) -> Timing:
    return Timing(message.queue_ns, message.prefill_ns, message.decode_ns)


def decode_text(data: bytes, what: str, call_id: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.Internal(f"the server sent {what} that is not UTF-8", call_id) from None


def generate_result(payload: bytes, call_id: int) -> GenerateResult:
    response = client_pb2.GenerateResponse()
    response.ParseFromString(payload)
    return GenerateResult(
        token_ids=list(response.token_ids), logprobs=list(response.logprobs),
        text=decode_text(response.text, "text", call_id), finish_reason=FINISH_REASONS.get(response.finish_reason, "unknown"),
        prompt_tokens=response.prompt_tokens, completion_tokens=response.completion_tokens,
        top_logprobs=_top(response.top_logprobs), timing=_timing(response.timing),
        prompt_token_ids=list(response.prompt_token_ids), prompt_logprobs=list(response.prompt_logprobs),
        prompt_top_logprobs=_top(response.prompt_top_logprobs))


def stream_chunk(payload: bytes, call_id: int) -> StreamChunk:
    chunk = client_pb2.GenerateStreamChunk()
    chunk.ParseFromString(payload)
    finish = FINISH_REASONS.get(chunk.finish_reason, "unknown") if chunk.finish_reason else None
    return StreamChunk(
        token_ids=list(chunk.token_ids), logprobs=list(chunk.logprobs),
        text=decode_text(chunk.text_delta, "a text delta", call_id), finish_reason=finish,
        prompt_tokens=chunk.prompt_tokens, completion_tokens=chunk.completion_tokens,
        top_logprobs=_top(chunk.top_logprobs), timing=_timing(chunk.timing) if finish else None,
        prompt_token_ids=list(chunk.prompt_token_ids), prompt_logprobs=list(chunk.prompt_logprobs),
        prompt_top_logprobs=_top(chunk.prompt_top_logprobs))


def join_chunks(chunks: Sequence[StreamChunk]) -> GenerateResult:
    """What Generate would have returned, from a stream's chunks."""
    if not chunks or chunks[-1].finish_reason is None:
        raise errors.Internal("the stream ended without its last chunk (no finish reason)")
    last = chunks[-1]
    return GenerateResult(
        token_ids=[t for c in chunks for t in c.token_ids], logprobs=[p for c in chunks for p in c.logprobs],
        text="".join(c.text for c in chunks), finish_reason=last.finish_reason,
        prompt_tokens=last.prompt_tokens, completion_tokens=last.completion_tokens,
        top_logprobs=[t for c in chunks for t in c.top_logprobs], timing=last.timing or Timing(),
        prompt_token_ids=chunks[0].prompt_token_ids, prompt_logprobs=chunks[0].prompt_logprobs,
        prompt_top_logprobs=chunks[0].prompt_top_logprobs)


def parse_unary(method: str, payload: bytes):
    cls = {"Tokenize": client_pb2.TokenizeResponse, "Health": client_pb2.HealthResponse,
           "Info": client_pb2.InfoResponse, "Cancel": client_pb2.CancelResponse}[method]
    message = cls()
    message.ParseFromString(payload)
    return message


def tokenize_payload(text: str) -> bytes:
    return client_pb2.TokenizeRequest(text=text.encode("utf-8")).SerializeToString()


def empty_payload(method: str) -> bytes:
    return {"Health": client_pb2.HealthRequest, "Info": client_pb2.InfoRequest}[method]().SerializeToString()


def cancel_payload(call_id: int) -> bytes:
    return client_pb2.CancelRequest(call_id=call_id).SerializeToString()


__all__ = ["GenerateResult", "StreamChunk", "TokenLogprob", "Timing", "common_pb2", "client_pb2"]
