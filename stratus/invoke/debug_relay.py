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
   when the program is paused or running again (`dap_transition`, `inspector_attach`: pure).
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
MAX_DAP_MESSAGE = 64 * 1024 * 1024  # past this the relay stops watching (it still relays)


class Watcher(Protocol):
    def attached(self) -> None: ...

    def paused(self) -> None: ...

    def resumed(self) -> None: ...


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


def inspector_attach(head: bytes) -> bool:
    """Whether the first bytes of a connection to Node's inspector open a debugging session (a
    WebSocket upgrade), rather than a look at its /json list."""
    lines = head.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    return any(line.replace(b" ", b"") == b"upgrade:websocket" for line in lines[1:])


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
            length = None
            for line in bytes(self._buffer[:end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    length = int(value.strip())
            if length is None or length > MAX_DAP_MESSAGE:
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

        if self._protocol == "dap":
            frames = {True: DapFrames(), False: DapFrames()}

            def observe(data: bytes, from_client: bool) -> None:
                for message in frames[from_client].feed(data):
                    note(dap_transition(message, from_client))

        else:
            first = True

            def observe(data: bytes, from_client: bool) -> None:
                nonlocal first
                if from_client and first:
                    first = False
                    if inspector_attach(data):
                        # A Node inspector session is paused or not in messages this relay does
                        # not read (WebSocket frames): the whole session holds the deadline.
                        note("attached")
                        note("paused")

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
