"""The private channel between the server and its own Python (and Node.js: nodeboot/index.mjs
speaks the same frames) environments: one socketpair per environment and compact frames,
instead of two HTTP exchanges per invoke. Standard library
only: the server imports it, and so does every environment's interpreter (3.11 to 3.13).

A frame is: u32 length of the rest, u8 kind, u16 header length, a JSON header, the body.
  runtime -> server  NEXT {}                       asks for the next event
                     RESPONSE {"id"} body         the handler's result
                     ERROR {"id", "type"} body    the handler's error document
  server -> runtime  EVENT {headers} body         the Runtime API's /next answer, as headers

`RuntimeClient` has the functions of awslambdaric's native `runtime_client` module, so
awslambdaric itself runs unchanged on top of it. Init errors still go over HTTP, as
awslambdaric posts them itself.
"""

from __future__ import annotations

import atexit
import json
import socket
import struct
from collections.abc import Callable
from typing import Any

# One encoder for the process: `json.dumps` with separators builds a new encoder per call.
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _std_dumps(header: Any) -> bytes:
    return _COMPACT.encode(header).encode()


# The environments' decoder: the server's headers are UTF-8, so `json.loads`'s encoding
# detection and argument checks are not needed.
_DECODE = json.JSONDecoder().decode


def _std_loads(data: bytes) -> Any:
    return _DECODE(data.decode())


_dumps: Callable[[Any], bytes] = _std_dumps
_loads: Callable[[bytes], Any] = _std_loads
try:  # the server has orjson; environments, which import this with the stdlib only, do not
    import orjson

    _dumps, _loads = orjson.dumps, orjson.loads
except ImportError:
    pass

NEXT, EVENT, RESPONSE, ERROR = 1, 2, 3, 4
_HEAD = struct.Struct("!IBH")
_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_INBOX_SIZE = 64 << 10  # an environment's receive buffer: most events fit, larger ones take turns


def encode(kind: int, header: dict[str, Any], body: bytes = b"") -> bytes:
    head = _dumps(header)
    return _HEAD.pack(1 + 2 + len(head) + len(body), kind, len(head)) + head + body


_NEXT_FRAME = encode(NEXT, {})


class FrameError(ValueError):
    """The stream cannot be decoded any further."""


class FrameTooLarge(FrameError):
    """A frame declares a body larger than the decoder's limit. Nothing of it is kept, and the
    stream cannot go on (the rest of that frame was never read)."""

    def __init__(self, kind: int, body_size: int) -> None:
        super().__init__(f"frame of kind {kind} declares a {body_size}-byte body")
        self.kind = kind
        self.body_size = body_size


class Decoder:
    """Feed bytes in; take whole frames out as (kind, header, body).

    With `body_limit`, a frame is judged by the sizes it declares as soon as its first 7 bytes
    are in: `frames` raises FrameTooLarge instead of waiting for (and buffering) a body past the
    limit (the whole frames before such a frame are returned first; the next call raises). A
    reader that takes frames after each `feed` never holds more than one frame within the limit
    plus one read."""

    def __init__(self, body_limit: int | None = None) -> None:
        self._buffer = bytearray()
        self._limit = body_limit

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def clear(self) -> None:
        self._buffer = bytearray()

    def frames(self) -> list[tuple[int, dict[str, Any], bytes]]:
        out: list[tuple[int, dict[str, Any], bytes]] = []
        buf = self._buffer
        while len(buf) >= 7:
            length, kind, head_len = _HEAD.unpack_from(buf, 0)
            body_size = length - 3 - head_len
            if body_size < 0 or (self._limit is not None and body_size > self._limit):
                if out:  # the frames before it are whole: the next call raises
                    break
                if body_size < 0:
                    raise FrameError(f"frame of kind {kind} is shorter than its header")
                raise FrameTooLarge(kind, body_size)
            if len(buf) < 4 + length:
                break
            head = bytes(buf[7 : 7 + head_len])
            body = bytes(buf[7 + head_len : 4 + length])
            del buf[: 4 + length]
            header = _loads(head)
            if not isinstance(header, dict):
                raise FrameError(f"frame of kind {kind} has a header that is not an object")
            out.append((kind, header, body))
        return out


class RuntimeClient:
    """Stands in for awslambdaric's native `runtime_client` module inside an environment."""

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._sock.setblocking(True)
        self._decoder = Decoder()
        # One receive buffer for the environment's life: `recv(1 MiB)` allocates (mmap), shrinks
        # (mremap) and frees (munmap) a fresh megabyte per invoke, and faults its pages in.
        self._inbox = memoryview(bytearray(_INBOX_SIZE))
        # A result waits here for the NEXT that awslambdaric sends straight after it, so both
        # travel in one write and wake the server once. Exiting flushes it (forked environments
        # end with os._exit, so stratus_isolate flushes it too).
        self._pending = b""
        atexit.register(self.flush)

    def initialize_client(self, user_agent: str) -> None:
        return None

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, b""
            try:
                self._sock.sendall(pending)
            except OSError:
                pass

    def next(self) -> tuple[bytes, dict[str, Any]]:
        frame, self._pending = self._pending + _NEXT_FRAME, b""
        self._sock.sendall(frame)
        while True:
            frames = self._decoder.frames()
            if frames:
                kind, header, body = frames[0]
                if kind != EVENT:
                    raise RuntimeError(f"unexpected frame {kind}")
                # The native client hands the deadline over as a number.
                header["Lambda-Runtime-Deadline-Ms"] = int(header["Lambda-Runtime-Deadline-Ms"])
                return body, header
            size = self._sock.recv_into(self._inbox)
            if not size:
                raise RuntimeError("Failed to get next: the platform closed the channel")
            self._decoder.feed(self._inbox[:size])

    def post_invocation_result(
        self, invoke_id: str, result_data: bytes, content_type: str = "application/json", *_: Any
    ) -> None:
        self.flush()
        if type(invoke_id) is str and type(content_type) is str:
            # The compact encoder's output for these two strings, without its machinery.
            head = f'{{"id":{_quote(invoke_id)},"type":{_quote(content_type)}}}'.encode()
            size = len(head)
            self._pending = _HEAD.pack(3 + size + len(result_data), RESPONSE, size) + head + result_data
        else:
            self._pending = encode(RESPONSE, {"id": invoke_id, "type": content_type}, result_data)

    def post_error(
        self, invoke_id: str, error_response_data: str | bytes, xray_fault: str = "", *_: Any
    ) -> None:
        body = error_response_data.encode() if isinstance(error_response_data, str) else error_response_data
        try:
            error_type = json.loads(body).get("errorType")
        except ValueError:
            error_type = None
        self.flush()
        self._pending = encode(ERROR, {"id": invoke_id, "type": error_type}, body)
