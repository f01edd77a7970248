"""Status codes of the mq client plane (gRPC's numbers) as typed exceptions.

Every failed call raises a subclass of :class:`MQError`; ``code`` is the numeric status code,
``message`` names what failed and ``call_id`` is the call's id when it got one.
"""

from __future__ import annotations

from typing import Dict, Optional, Type


class MQError(Exception):
    """A failed call: the coordinator's status, or one detected locally (deadline, no connection)."""

    code: int = 2  # gRPC UNKNOWN: a status this client does not know
    name: str = "UNKNOWN"

    def __init__(self, message: str = "", call_id: Optional[int] = None, code: Optional[int] = None):
        if code is not None:
            self.code = code
        self.message = message
        self.call_id = call_id
        super().__init__(f"{self.name}: {message}" if message else self.name)


class Cancelled(MQError):
    code, name = 1, "CANCELLED"


class InvalidArgument(MQError):
    code, name = 3, "INVALID_ARGUMENT"


class DeadlineExceeded(MQError):
    code, name = 4, "DEADLINE_EXCEEDED"


class NotFound(MQError):
    code, name = 5, "NOT_FOUND"


class ResourceExhausted(MQError):
    code, name = 8, "RESOURCE_EXHAUSTED"


class Unimplemented(MQError):
    code, name = 12, "UNIMPLEMENTED"


class Internal(MQError):
    code, name = 13, "INTERNAL"


class Unavailable(MQError):
    code, name = 14, "UNAVAILABLE"


class Unauthenticated(MQError):
    code, name = 16, "UNAUTHENTICATED"


_BY_CODE: Dict[int, Type[MQError]] = {
    cls.code: cls
    for cls in (Cancelled, InvalidArgument, DeadlineExceeded, NotFound, ResourceExhausted, Unimplemented,
                Internal, Unavailable, Unauthenticated)
}


def error_for(code: int, message: str, call_id: Optional[int] = None) -> MQError:
    """The exception of a non-OK status code (an unknown code gives a plain MQError carrying it)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return MQError(message, call_id, code=code)
    return cls(message, call_id)
