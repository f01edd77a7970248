"""mqclient: the Python client of mq's ZeroMQ protocol (Protos/PROTOCOL.md).

Sync: :class:`Client`; asyncio: :class:`AsyncClient`. Both offer generate, generate_stream, cancel,
tokenize, health and info, with deadlines, CURVE keys and API keys; failures raise the
:mod:`mqclient.errors` exception of their status code.
"""

from ._core import GenerateResult, StreamChunk, Timing, TokenLogprob
from .aio import AsyncClient, AsyncGenerateStream
from .client import Client, GenerateStream
from .errors import (Cancelled, DeadlineExceeded, Internal, InvalidArgument, MQError, NotFound, ResourceExhausted,
                     Unauthenticated, Unavailable, Unimplemented)

__version__ = "0.1.0"

__all__ = [
    "Client", "GenerateStream", "AsyncClient", "AsyncGenerateStream", "GenerateResult", "StreamChunk", "Timing",
    "TokenLogprob", "MQError", "Cancelled", "InvalidArgument", "DeadlineExceeded", "NotFound", "ResourceExhausted",
    "Unimplemented", "Internal", "Unavailable", "Unauthenticated",
]
