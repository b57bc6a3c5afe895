"""The dashboard's own listening socket, bound before anything is built so that its port (chosen
by the system unless `--dashboard-port` names one) is known to the banner and to the API port's
redirect. Its own port gives it an origin no function URL or HTTP API shares."""

from __future__ import annotations

import socket

from aiohttp import web


def bind(host: str, port: int | None) -> socket.socket:
    """A bound, non-listening socket on `host` at `port` (None or 0: a free port). IPv4 first
    when the name has both, as one socket is all the dashboard needs."""
    infos = socket.getaddrinfo(host or None, port or 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does for the API port
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"dashboard port {port}: {e.strerror or e}") from None
    sock.setblocking(False)
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


async def start(app: web.Application, sock: socket.socket) -> web.AppRunner:
    """Serve `app` on `sock`; the caller cleans the runner up, which closes the socket too."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=False)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=128).start()
    return runner
