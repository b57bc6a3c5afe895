"""The protocol of the one listening socket.

The hot requests (function URLs, HTTP APIs and Lambda's Invoke) are parsed here with httptools
and answered without aiohttp's web layer: on that path aiohttp's request and response objects,
router and middlewares cost about as much server time as the invoke itself. The first request on a
connection that is for anything else (an AWS API, the dashboard) hands the connection to
aiohttp, with every byte received so far, and aiohttp serves it from then on.

A connection's responses go out in the order its requests came in. A response whose client
has gone is dropped; its invoke is never cancelled, since the environment is still running it.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httptools

from stratus.httpapi.front import MAX_BODY, Incoming
from stratus.httpapi.replies import HttpReply, json_reply

log = logging.getLogger("stratus.gateway")

ProtocolFactory = Callable[[], asyncio.BaseProtocol]
LeanHandler = Callable[[Incoming], Awaitable[HttpReply]]
# Which requests are answered here rather than by aiohttp: (method, path, host) -> a handler.
LeanRoutes = Callable[[str, str, str], LeanHandler | None]
_REASONS = {s.value: s.phrase for s in http.HTTPStatus}


class _HandOver(Exception):
    """Raised inside the parser's callbacks: this request is aiohttp's."""


class Switchboard(asyncio.Protocol):
    def __init__(self, routes: LeanRoutes, fallback: ProtocolFactory, connections: set[Switchboard]) -> None:
        self._routes = routes
        self._handler: LeanHandler | None = None
        self._fallback = fallback
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._peer = "127.0.0.1"
        # The bytes of the request being parsed, kept so that it can be handed over whole. They
        # are exact only when the request began at the start of a read ("aligned").
        self._raw = bytearray()
        self._aligned = True
        self._ended_in_this_read = False
        self._previous: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._reset()

    def _reset(self) -> None:
        self._url = bytearray()
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._oversized = False

    # -- transport events ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self._peer = str(peer[0])
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if not self._raw and not self._url and not self._headers:
            self._aligned = True
        self._raw += data
        self._ended_in_this_read = False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as e:
            if isinstance(e.__context__, _HandOver):
                self._hand_over()
            else:
                log.error("request handling failed", exc_info=e.__context__ or e)
                self._fail(500, "Internal Server Error")
        except httptools.HttpParserUpgrade:
            self._hand_over()  # websockets and the like are not for the data path
        except httptools.HttpParserError:
            self._fail(400, "Bad Request")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._ended_in_this_read:
            self._aligned = False  # pipelined: this request shares a read with the last one
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # As aiohttp decodes them, so both paths give functions the same text.
        self._headers.append((name.decode("latin-1").lower(), value.decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        path = self._url.split(b"?", 1)[0].decode("utf-8", "surrogateescape")
        host = next((v for k, v in self._headers if k == "host"), "")
        method = self._parser.get_method().decode("ascii", "replace")
        self._handler = self._routes(method, path, host)
        if self._handler is None:
            raise _HandOver
        length = next((v for k, v in self._headers if k == "content-length"), None)
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            self._oversized = True
        elif self._transport is not None and self._expects_continue():
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _expects_continue(self) -> bool:
        return next((v for k, v in self._headers if k == "expect"), "").lower() == "100-continue"

    def on_body(self, body: bytes) -> None:
        if self._oversized:
            return
        self._size += len(body)
        if self._size > MAX_BODY:
            self._oversized = True
            self._body.clear()
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        url = self._url.decode("utf-8", "surrogateescape")
        path, _, query = url.partition("?")
        method = self._parser.get_method().decode("ascii", "replace")
        incoming = Incoming(
            method=method,
            path=path,
            query=query,
            headers=tuple(self._headers),
            body=None if self._oversized else b"".join(self._body),
            peer=self._peer,
            protocol=f"HTTP/{self._parser.get_http_version()}",
        )
        keep_alive = self._parser.should_keep_alive() and not self._oversized
        assert self._handler is not None
        task = asyncio.get_running_loop().create_task(
            self._serve(self._handler, incoming, keep_alive, method == "HEAD", self._previous)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._previous = task
        self._raw.clear()
        self._ended_in_this_read = True
        self._reset()

    # -- answering -------------------------------------------------------------------------

    async def _serve(
        self,
        handler: LeanHandler,
        request: Incoming,
        keep_alive: bool,
        head: bool,
        previous: asyncio.Task[None] | None,
    ) -> None:
        try:
            reply = await handler(request)
        except Exception as e:  # a client gets a status, never a traceback
            log.error("request handling failed", exc_info=e)
            reply = json_reply(500, {"message": "Internal Server Error"})
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(encode(reply, keep_alive=keep_alive, head=head))
        if not keep_alive:
            transport.close()

    def _fail(self, status: int, message: str) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(encode(json_reply(status, {"message": message}), keep_alive=False))
            transport.close()

    def _hand_over(self) -> None:
        transport = self._transport
        if transport is None:
            return
        if not self._aligned or self._tasks:
            # Where this request starts in the stream is not known (or answers to earlier
            # requests are still due): close, and the client retries on a new connection.
            transport.close()
            return
        protocol = self._fallback()
        self._connections.discard(self)
        self._transport = None
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(bytes(self._raw))  # type: ignore[attr-defined]


def encode(reply: HttpReply, *, keep_alive: bool, head: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in reply.headers)
    lines.append(f"Content-Length: {len(reply.body)}")
    lines.append(f"Date: {_date()}")
    if not keep_alive:
        lines.append("Connection: close")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    return head_bytes if head else head_bytes + reply.body


_date_cache: list[Any] = [0, ""]


def _date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0], _date_cache[1] = now, email.utils.formatdate(now, usegmt=True)
    return str(_date_cache[1])
