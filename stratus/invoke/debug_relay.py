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
   HTTP look-ups (/json) are relayed and say nothing; in a WebSocket session (RFC 6455
   frames, read by `WebSocketFrames` in debug_protocols.py), "attached" is the client's
   Runtime.runIfWaitingForDebugger (sent by VS Code's js-debug and Chrome DevTools once their
   breakpoints are set), "paused" node's Debugger.paused event and "resumed" its
   Debugger.resumed. A client that disconnects leaves the program running ("resumed"). What a
   reader cannot follow (a message past its cap, a framing it does not know) it stops
   watching; the bytes are still relayed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol

from stratus.invoke.debug_protocols import (
    DapFrames,
    InspectorStream,
    MessageReader,
    cdp_transition,
    dap_transition,
)

LOOPBACK = "127.0.0.1"
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
ESTABLISHED = "01"


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
