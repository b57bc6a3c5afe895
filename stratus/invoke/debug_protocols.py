"""What a debug relay reads of a debugger's stream (invoke/debug_relay.py), pure: DAP's
Content-Length framed JSON (debugpy), and Node's inspector, HTTP look-ups then a WebSocket
(RFC 6455) session of CDP messages; and what each message says of the session ("attached",
"paused", "resumed"). What a reader cannot follow (a message past its cap, a framing it does not
know) it stops watching; the relay still relays the bytes."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Protocol

# DAP requests after which the program runs again (or the session ends).
RESUMING = frozenset(
    {"continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue", "goto"}
    | {"disconnect", "terminate"}
)
MAX_WATCHED_MESSAGE = 64 * 1024 * 1024  # past this the relay stops watching (it still relays)
MAX_HTTP_HEAD = 64 * 1024
# The CDP methods `cdp_transition` looks at: other messages (scripts' sources among them) are
# relayed without being decoded.
CDP_WATCHED = {
    "Runtime.runIfWaitingForDebugger": "attached",
    "Debugger.paused": "paused",
    "Debugger.resumed": "resumed",
}
CONTINUATION, TEXT = 0x0, 0x1
CONTROL = 0x8  # opcodes from here on (close, ping, pong) are control frames


class MessageReader(Protocol):
    """One direction of a debugger's stream, read as its messages (`DapFrames`, `InspectorStream`)."""

    def feed(self, data: bytes) -> list[dict[str, Any]]: ...


def dap_transition(message: dict[str, Any], from_client: bool) -> str | None:
    """What one DAP message says of the session: "attached" (debugpy has answered the client's
    configurationDone: its breakpoints are in), "paused" (a stopped event), "resumed", or None."""
    kind = message.get("type")
    if from_client and kind == "request" and message.get("command") in RESUMING:
        return "resumed"
    if not from_client and kind == "response" and message.get("command") == "configurationDone":
        return "attached" if message.get("success") else None
    if not from_client and kind == "event":
        event = message.get("event")
        if event == "stopped":
            return "paused"
        if event == "continued":
            return "resumed"
    return None


def cdp_transition(message: dict[str, Any], from_client: bool) -> str | None:
    """What one CDP message of a Node inspector session says of it: "attached" (the client's
    Runtime.runIfWaitingForDebugger: its breakpoints are set), "paused" (node's Debugger.paused
    event), "resumed" (its Debugger.resumed), or None."""
    method = message.get("method")
    change = CDP_WATCHED.get(method) if isinstance(method, str) else None
    # The client sends the command that says "attached"; node, the events that say the rest.
    return change if (change == "attached") == from_client else None


def inspector_attach(head: bytes) -> bool:
    """Whether an HTTP request's head, to Node's inspector, opens a debugging session (a
    WebSocket upgrade), rather than a look at its /json list."""
    lines = head.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    return any(line.replace(b" ", b"") == b"upgrade:websocket" for line in lines[1:])


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


def _unmask(payload: bytes, key: bytes) -> bytes:
    """A client frame's payload XORed with its 4-byte masking key (as whole integers: the
    per-byte loop in Python is slow on a large message)."""
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


class DapFrames:
    """Splits one direction of a DAP stream into its messages (Content-Length framed JSON)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self.broken:
            return []
        self._buffer += data
        messages: list[dict[str, Any]] = []
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            length = _content_length(bytes(self._buffer[:end]))
            if length is None or length > MAX_WATCHED_MESSAGE:
                self.broken = True
                self._buffer.clear()
                break
            if len(self._buffer) < end + 4 + length:
                break
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            with contextlib.suppress(ValueError):
                message = json.loads(body)
                if isinstance(message, dict):
                    messages.append(message)
        return messages


class WebSocketFrames:
    """Splits one direction of a WebSocket stream (RFC 6455), from just after the HTTP upgrade,
    into its text messages: a message's continuation frames are joined until FIN, control frames
    (ping, pong, close, which may come between them) are skipped, client frames are unmasked.
    Past `limit` bytes in a message, or at a frame it cannot read (RSV bits: an extension, which
    node's inspector never agrees to), it is `broken` and reads no more."""

    def __init__(self, limit: int = MAX_WATCHED_MESSAGE) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._parts: list[bytes] = []  # the fragments of the message being joined
        self._size = 0
        self._opcode: int | None = None  # that message's (text, binary), None between messages
        self.broken = False

    def feed(self, data: bytes) -> list[str]:
        if self.broken:
            return []
        self._buffer += data
        messages: list[str] = []
        while (frame := self._next_frame()) is not None:
            fin, opcode, payload = frame
            if opcode >= CONTROL:
                continue
            if (opcode == CONTINUATION) != (self._opcode is not None):
                self._stop()  # a continuation of nothing, or a new message inside one
                break
            if self._opcode is None:
                self._opcode = opcode
            self._parts.append(payload)
            if fin:
                body, text = b"".join(self._parts), self._opcode == TEXT
                self._parts, self._size, self._opcode = [], 0, None
                if text:
                    with contextlib.suppress(UnicodeDecodeError):
                        messages.append(body.decode())
        return messages

    def _next_frame(self) -> tuple[bool, int, bytes] | None:
        """The next whole frame taken from the buffer (FIN, opcode, unmasked payload), or None."""
        buffer = self._buffer
        if self.broken or len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        length, start = second & 0x7F, 2
        if length >= 126:
            start += 2 if length == 126 else 8
            if len(buffer) < start:
                return None
            length = int.from_bytes(buffer[2:start], "big")
        masked = bool(second & 0x80)
        key_at, start = start, start + (4 if masked else 0)
        opcode = first & 0x0F
        if first & 0x70 or (opcode < CONTROL and self._size + length > self._limit):
            self._stop()
            return None
        if len(buffer) < start + length:
            return None
        payload = bytes(buffer[start : start + length])
        if masked:
            payload = _unmask(payload, bytes(buffer[key_at:start]))
        del buffer[: start + length]
        if opcode < CONTROL:
            self._size += length
        return bool(first & 0x80), opcode, payload

    def _stop(self) -> None:
        self.broken = True
        self._buffer.clear()
        self._parts = []


class InspectorStream:
    """One direction of a connection to Node's inspector, read as CDP messages: HTTP messages
    (the /json look-ups: they say nothing) until the one that opens a WebSocket session (the
    client's upgrade request, node's 101 answer), then the session's messages. Only those that
    name a method of CDP_WATCHED are decoded."""

    def __init__(self, from_client: bool) -> None:
        self._from_client = from_client
        self._head = bytearray()
        self._body_left = 0  # bytes of an HTTP message's body still to pass by
        self._frames: WebSocketFrames | None = None
        self.broken = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if self._frames is None:
            data = self._past_http(data)
        if self._frames is None:
            return []
        messages: list[dict[str, Any]] = []
        for text in self._frames.feed(data):
            if any(method in text for method in CDP_WATCHED):
                with contextlib.suppress(ValueError):
                    message = json.loads(text)
                    if isinstance(message, dict):
                        messages.append(message)
        return messages

    def _past_http(self, data: bytes) -> bytes:
        """What follows the HTTP head that opens the WebSocket session (b"" until it came)."""
        while data and not self.broken:
            if self._body_left:
                passed = min(self._body_left, len(data))
                self._body_left -= passed
                data = data[passed:]
                continue
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                self.broken = len(self._head) > MAX_HTTP_HEAD
                return b""
            head, data = bytes(self._head[: end + 4]), bytes(self._head[end + 4 :])
            self._head.clear()
            if self._opens_session(head):
                self._frames = WebSocketFrames()
                return data
            self._body_left = _content_length(head) or 0
        return b""

    def _opens_session(self, head: bytes) -> bool:
        if self._from_client:
            return inspector_attach(head)
        status = head.split(b"\r\n", 1)[0].split(b" ")
        return len(status) > 1 and status[1] == b"101"
