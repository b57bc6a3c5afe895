"""The host side of a debugger's connection to a debug environment (`stratus invoke --debug`).

Contract:
1. A `Relay` listens on a port of the host's loopback only (never another address) for as long
   as its invocation runs, and closes it when cancelled.
2. Every connection to it is checked first: it must come from the local user (uid) that asked
   for the debug invocation, found in the kernel's table of TCP sockets (`owner_uid`, pure).
   Anything else is closed unanswered. With the port's short life and the loopback binding,
   that is the attach's authentication: debugpy's own access tokens guard its adapter's link
   to the debuggee, not a client's attach, so they add nothing here.
3. An allowed connection is relayed byte for byte to the debugger inside the environment,
   reached through `connect` (inside the environment's own network namespace on the Linux
   backend). The relay reads what passes to tell its `Watcher` when a client has attached and
   when the program is paused or running again (`dap_transition`, `cdp_transition`: pure).
4. DAP (debugpy): "attached" is debugpy's answer to configurationDone, "paused" a stopped
   event, "resumed" a continue or step request or a continued event. The inspector (Node.js):
   HTTP look-ups (/json) are relayed and say nothing; in a WebSocket session (RFC 6455 frames
   read by `WebSocketFrames`), "attached" is the client's Runtime.runIfWaitingForDebugger (sent
   by VS Code's js-debug and Chrome DevTools once their breakpoints are set), "paused" node's
   Debugger.paused event and "resumed" its Debugger.resumed. A client that disconnects leaves
   the program running ("resumed"). What a reader cannot follow (a message past its cap, a
   framing it does not know) it stops watching; the bytes are still relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

LOOPBACK = "127.0.0.1"
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
ESTABLISHED = "01"
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


class Watcher(Protocol):
    def attached(self) -> None: ...

    def paused(self) -> None: ...

    def resumed(self) -> None: ...


class MessageReader(Protocol):
    """One direction of a debugger's stream, read as its messages (`DapFrames`, `InspectorStream`)."""

    def feed(self, data: bytes) -> list[dict[str, Any]]: ...


# -- decisions (pure) --------------------------------------------------------------------------


def _port(address: str) -> int:
    return int(address.rpartition(":")[2], 16)


def owner_uid(table: str, client_port: int, server_port: int) -> int | None:
    """The uid owning the established socket from local port `client_port` to remote port
    `server_port`, in the text of /proc/net/tcp (or tcp6); None if there is none."""
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or fields[3] != ESTABLISHED:
            continue
        try:
            if _port(fields[1]) == client_port and _port(fields[2]) == server_port:
                return int(fields[7])
        except ValueError:
            continue
    return None


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


# -- effects -----------------------------------------------------------------------------------


def connection_uid(client_port: int, server_port: int) -> int | None:
    """The local uid of the loopback connection from `client_port` to `server_port`."""
    for path in TCP_TABLES:
        try:
            with open(path) as f:
                uid = owner_uid(f.read(), client_port, server_port)
        except OSError:
            continue
        if uid is not None:
            return uid
    return None


def host_listener(port: int) -> socket.socket:
    """A listening socket on the host's loopback (`port` 0: any free one). Raises OSError."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # The port is taken again for each invocation's relay while connections of the last one
        # may linger in TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, port))
        listener.listen(8)
    except OSError:
        listener.close()
        raise
    listener.setblocking(False)
    return listener


class Relay:
    def __init__(
        self,
        protocol: str,  # "dap" (debugpy) or "inspector" (node --inspect)
        owner: int,
        connect: Callable[[], Awaitable[socket.socket]],
        watcher: Watcher,
        port: int = 0,
        listener: socket.socket | None = None,
    ) -> None:
        """Listens on `port`, or on `listener` (a debug session's, bound and listening already,
        which the relay uses but does not close)."""
        self._protocol = protocol
        self._owner = owner
        self._connect = connect
        self._watcher = watcher
        self._owns_listener = listener is None
        self._listener = host_listener(port) if listener is None else listener
        self.port: int = self._listener.getsockname()[1]
        self.refused = 0  # connections from another user

    async def run(self) -> None:
        """Accept and relay until cancelled; each connection is a child task."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.TaskGroup() as tasks:
                while True:
                    conn, address = await loop.sock_accept(self._listener)
                    if connection_uid(address[1], self.port) != self._owner:
                        self.refused += 1
                        conn.close()
                        continue
                    tasks.create_task(self._serve(conn))
        finally:
            self.close()

    def close(self) -> None:
        if self._owns_listener:
            self._listener.close()

    async def _serve(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        try:
            upstream = await self._connect()
        except OSError:
            conn.close()
            return
        client_r, client_w = await asyncio.open_connection(sock=conn)
        env_r, env_w = await asyncio.open_connection(sock=upstream)
        held = False

        def note(change: str | None) -> None:
            nonlocal held
            if change == "attached":
                self._watcher.attached()
            elif change == "paused":
                held = True
                self._watcher.paused()
            elif change == "resumed" and held:
                held = False
                self._watcher.resumed()

        readers: dict[bool, MessageReader]
        if self._protocol == "dap":
            readers, transition = {True: DapFrames(), False: DapFrames()}, dap_transition
        else:
            readers = {True: InspectorStream(True), False: InspectorStream(False)}
            transition = cdp_transition

        def observe(data: bytes, from_client: bool) -> None:
            for message in readers[from_client].feed(data):
                note(transition(message, from_client))

        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(_pump(client_r, env_w, lambda d: observe(d, True)))
                tasks.create_task(_pump(env_r, client_w, lambda d: observe(d, False)))
        finally:
            note("resumed")  # a client that goes leaves the program running


async def _pump(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, observe: Callable[[bytes], None]
) -> None:
    try:
        while data := await source.read(65536):
            observe(data)
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        sink.close()  # the other direction then ends too
