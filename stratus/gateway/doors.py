"""The Stratus endpoint inside environments' network namespaces.

Every environment has a listening socket on 127.0.0.1:PORT in its own namespace (made by
`isolation/network.py`), so that code in a function reaches Stratus's APIs at the same address
the host uses. This serves those sockets with the same protocol as the main port. Sockets opened
before the front is ready (blank environments are prepared at start) wait, with any connection
queued in their backlog, until `serve` is called.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable


class EnvironmentDoors:
    """Contract: `open` and `close` come from the network owner as environments come and go;
    `serve` starts serving with the front's protocol factory; `close_all` stops every door.
    One asyncio server per open socket, keyed by the socket object."""

    def __init__(self) -> None:
        self._factory: Callable[[], asyncio.Protocol] | None = None
        self._waiting: dict[int, socket.socket] = {}
        self._servers: dict[int, asyncio.Server] = {}

    async def serve(self, factory: Callable[[], asyncio.Protocol]) -> None:
        self._factory = factory
        waiting, self._waiting = self._waiting, {}
        for listener in waiting.values():
            await self.open(listener)

    async def open(self, listener: socket.socket) -> None:
        if self._factory is None:
            self._waiting[id(listener)] = listener
            return
        server = await asyncio.get_running_loop().create_server(self._factory, sock=listener)
        self._servers[id(listener)] = server

    def close(self, listener: socket.socket) -> None:
        self._waiting.pop(id(listener), None)
        server = self._servers.pop(id(listener), None)
        if server is not None:
            server.close()  # closes the listening socket; open connections are the front's

    def close_all(self) -> None:
        self._factory = None
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        self._waiting.clear()
