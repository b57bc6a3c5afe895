"""The protocol of the one listening socket.

The hot requests (function URLs, HTTP APIs and Lambda's Invoke) are parsed here with httptools
and answered without aiohttp's web layer: on that path aiohttp's request and response objects,
router and middlewares cost about as much server time as the invoke itself. The first request on a
connection that is for anything else (an AWS API, the dashboard) hands the connection to
aiohttp, from that request's first byte, and aiohttp serves it from then on (function URLs
included: its middleware answers those too).

A connection's responses go out in the order its requests came in, whichever side answers them:
aiohttp is given the connection only once every earlier answer of the switchboard is written,
and until then the connection is not read. A response whose client has gone is dropped; its
invoke is never cancelled, since the environment is still running it.

The switchboard stays the transport's protocol after the hand-over and relays to aiohttp, so
that it still sees where each request begins and ends: the deadlines of slow clients
(gateway/connections.py) hold on both paths.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import socket
import struct
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httptools

from stratus.gateway.connections import Connections, Phase, Snapshot, Verdict
from stratus.http_types import MAX_BODY, HttpReply, Incoming, StreamedReply, json_reply
from stratus.lean_routes import LeanHandler, LeanRoutes

log = logging.getLogger("stratus.gateway")

ProtocolFactory = Callable[[], asyncio.BaseProtocol]
# The headers the switchboard itself reads (routing, body size, 100-continue).
_ROUTING = frozenset({"host", "x-amz-target", "content-length", "expect"})
_REASONS = {s.value: s.phrase for s in http.HTTPStatus}
# A request line and headers larger than this are refused (ALB allows 64 KiB in all).
MAX_HEAD = 64 * 1024


class _HandOver(Exception):
    """Raised inside the parser's callbacks: this request is aiohttp's."""


class _Stop(Exception):
    """Raised inside the parser's callbacks: nothing more is read on this connection."""


class Switchboard(asyncio.Protocol):
    def __init__(self, routes: LeanRoutes, fallback: ProtocolFactory, connections: Connections) -> None:
        self._routes = routes
        self._handler: LeanHandler | None = None
        self._fallback = fallback
        self._connections = connections
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._peer = "127.0.0.1"
        # The bytes from the start of the first request not complete when the current read
        # began; what a hand-over to aiohttp is cut from.
        self._raw = bytearray()
        self._completed = 0  # requests completed in the current read
        self._last_request = False  # one without keep-alive was read: ignore what follows
        self._previous: asyncio.Task[None] | None = None  # the last answer due, in order
        self._due = 0  # answers not written yet
        self._tasks: set[asyncio.Task[None]] = set()
        # Deadlines (connections.py): the phase, since when, and whether the client reads.
        self._phase = Phase.FRESH
        self._since = self._loop.time()
        self._writes_paused_at: float | None = None
        self._writable = asyncio.Event()  # cleared while the transport takes no more writes
        self._writable.set()
        self._now = self._since
        # Once handed over: aiohttp's protocol, a parser watching request boundaries, and the
        # number of its answers being computed.
        self._relay: asyncio.Protocol | None = None
        self._watch: _Watch | None = None
        self._held: bytearray | None = None  # received while waiting to hand over
        self._answering = 0
        self._reset()

    def _reset(self) -> None:
        self._url = bytearray()
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._oversized = False
        # The headers routing and framing read, kept as they arrive (the first of each), so
        # they are not searched for in the list per request.
        self._host = ""
        self._target: str | None = None
        self._length: str | None = None
        self._expect = ""
        self._method = ""

    # -- transport events ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self._peer = str(peer[0])
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        transport, self._transport = self._transport, None
        self._connections.discard(self)
        if transport is not None:
            self._connections.unbind(transport)
        self._writable.set()  # a streamed answer waiting to write sees the connection gone
        if self._relay is not None:
            self._relay.connection_lost(exc)

    def eof_received(self) -> bool | None:
        if self._relay is not None:
            return self._relay.eof_received()
        return None

    def pause_writing(self) -> None:
        self._writes_paused_at = self._loop.time()
        self._writable.clear()
        if self._relay is not None:
            self._relay.pause_writing()

    def resume_writing(self) -> None:
        self._writes_paused_at = None
        self._writable.set()
        if self._relay is not None:
            self._relay.resume_writing()

    def data_received(self, data: bytes) -> None:
        self._now = self._loop.time()
        if self._relay is not None:
            self._relay_data(data)
            return
        if self._held is not None:  # a hand-over is waiting for earlier answers
            self._held += data
            return
        if self._last_request:
            return
        if not self._oversized:
            self._raw += data
        self._completed = 0
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as e:
            if isinstance(e.__context__, _HandOver):
                self._hand_over()
            elif isinstance(e.__context__, _Stop):
                self._stop_reading()
            else:
                log.error("request handling failed", exc_info=e.__context__ or e)
                self._fail(500, "Internal Server Error")
            return
        except httptools.HttpParserUpgrade:
            self._hand_over()  # websockets and the like are not for the data path
            return
        except httptools.HttpParserError:
            self._fail(400, "Bad Request")
            return
        in_request = self._phase in (Phase.HEADERS, Phase.BODY)
        if not in_request:
            self._raw.clear()
        elif self._completed:
            # A request began after those completed in this read: keep only its bytes.
            del self._raw[: message_end(self._raw, self._completed)]
        if self._phase is Phase.HEADERS and len(self._raw) > MAX_HEAD:
            self._fail(431, "Request Header Fields Too Large")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._last_request:
            raise _Stop
        if self._phase is not Phase.FRESH:  # a connection's first request counts from connect
            self._since = self._now
        self._phase = Phase.HEADERS
        self._reset()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # As aiohttp decodes them, so both paths give functions the same text.
        key, text = name.decode("latin-1").lower(), value.decode("utf-8", "surrogateescape")
        self._headers.append((key, text))
        if key in _ROUTING:
            self._routing(key, text)

    def _routing(self, key: str, text: str) -> None:
        if key == "host":
            if not self._host:
                self._host = text
        elif key == "x-amz-target":
            if self._target is None:
                self._target = text
        elif key == "content-length":
            if self._length is None:
                self._length = text
        elif not self._expect:
            self._expect = text

    def on_headers_complete(self) -> None:
        path = self._url.split(b"?", 1)[0].decode("utf-8", "surrogateescape")
        method = self._method = self._parser.get_method().decode("ascii", "replace")
        self._handler = self._routes(method, path, self._host, self._target)
        if self._handler is None:
            raise _HandOver
        self._phase, self._since = Phase.BODY, self._now
        length = self._length
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            self._oversized = True
        elif self._expect and self._expects_continue():
            self._in_order(lambda transport: transport.write(b"HTTP/1.1 100 Continue\r\n\r\n"))

    def _expects_continue(self) -> bool:
        return self._expect.lower() == "100-continue"

    def on_body(self, body: bytes) -> None:
        self._since = self._now
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
        method = self._method  # read when its headers completed
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
        self._due += 1
        self._phase, self._since = Phase.BUSY, self._now
        self._chain(self._serve(self._handler, incoming, keep_alive, method == "HEAD", self._previous))
        self._completed += 1
        self._last_request = not keep_alive
        self._reset()

    # -- answering -------------------------------------------------------------------------

    def _chain(self, answer: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(answer)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._previous = task

    async def _serve(
        self,
        handler: LeanHandler,
        request: Incoming,
        keep_alive: bool,
        head: bool,
        previous: asyncio.Task[None] | None,
    ) -> None:
        try:
            try:
                reply = await handler(request)
            except Exception as e:  # a client gets a status, never a traceback
                log.error("request handling failed", exc_info=e)
                reply = json_reply(500, {"message": "Internal Server Error"})
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            if isinstance(reply, StreamedReply):
                await self._stream(reply, keep_alive, head)
                return
            transport = self._transport
            if transport is None or transport.is_closing():
                return
            transport.write(encode(reply, keep_alive=keep_alive, head=head))
            if not keep_alive:
                transport.close()
        finally:
            self._due -= 1
            if self._due == 0 and self._phase is Phase.BUSY:
                self._phase, self._since = Phase.IDLE, self._loop.time()

    async def _stream(self, reply: StreamedReply, keep_alive: bool, head: bool) -> None:
        """Write a streamed answer chunk by chunk as its body yields them, waiting while the
        client does not read; a client that goes ends the body (its producer settles the rest)."""
        try:
            transport = self._transport
            if transport is None or transport.is_closing():
                return
            transport.write(encode_head(reply.status, reply.headers, keep_alive=keep_alive))
            if not head:
                async for chunk in reply.body:
                    if not self._writable.is_set():
                        await self._writable.wait()
                    transport = self._transport
                    if transport is None or transport.is_closing():
                        return
                    if chunk:
                        transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
            transport = self._transport
            if transport is None or transport.is_closing():
                return
            transport.write(b"" if head else b"0\r\n\r\n")
            if not keep_alive:
                transport.close()
        finally:
            await reply.body.aclose()
            await reply.close()

    def _in_order(self, action: Callable[[asyncio.Transport], None]) -> None:
        """Run `action` on the transport once every answer due before it is written."""
        previous = self._previous
        if previous is None or previous.done():
            if self._transport is not None and not self._transport.is_closing():
                action(self._transport)
            return

        async def after() -> None:
            await asyncio.wait([previous])
            if self._transport is not None and not self._transport.is_closing():
                action(self._transport)

        self._chain(after())

    def _fail(self, status: int, message: str) -> None:
        """Answer `status` after the answers due, and close."""
        self._stop_reading()
        data = encode(json_reply(status, {"message": message}), keep_alive=False)

        def write_and_close(transport: asyncio.Transport) -> None:
            transport.write(data)
            transport.close()

        self._in_order(write_and_close)

    def _stop_reading(self) -> None:
        self._last_request = True
        self._phase, self._since = Phase.BUSY, self._now
        if self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()

    # -- the hand-over to aiohttp ----------------------------------------------------------

    def _hand_over(self) -> None:
        """The request whose headers just arrived is aiohttp's: so is the connection, from that
        request's first byte, once the answers due before it are written."""
        transport = self._transport
        if transport is None:
            return
        start = message_end(self._raw, self._completed) if self._completed else 0
        self._held = bytearray(self._raw[start:])
        self._raw = bytearray()
        self._phase, self._since = Phase.BUSY, self._now
        if self._previous is None or self._previous.done():
            self._start_relay(transport)
            return
        transport.pause_reading()  # pipelined requests wait in the kernel meanwhile

        def relay(transport: asyncio.Transport) -> None:
            transport.resume_reading()
            self._start_relay(transport)

        self._in_order(relay)

    def _start_relay(self, transport: asyncio.Transport) -> None:
        held, self._held = bytes(self._held or b""), None
        protocol = self._fallback()
        assert isinstance(protocol, asyncio.Protocol)
        self._relay = protocol
        self._watch = _Watch(self)
        self._connections.bind(transport, self)
        protocol.connection_made(transport)
        if self._writes_paused_at is not None:
            protocol.pause_writing()
        self._relay_data(held)

    def _relay_data(self, data: bytes) -> None:
        assert self._relay is not None
        watch = self._watch
        if watch is not None:
            try:
                watch.parser.feed_data(data)
            except httptools.HttpParserError:
                # An upgrade or a request aiohttp will refuse: from here on only the bytes'
                # arrival is seen, and the idle deadline counts from the last of them.
                self._watch = None
        if self._watch is None:
            self._since = self._now
            if self._answering == 0:
                self._phase = Phase.IDLE
        self._relay.data_received(data)

    # -- deadlines (gateway/connections.py) ------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(self._phase, self._since, self._writes_paused_at)

    def answering(self, delta: int) -> None:
        """aiohttp began (+1) or finished (-1) computing an answer on this connection."""
        self._answering += delta
        if delta > 0 and self._phase is Phase.IDLE:
            self._phase, self._since = Phase.BUSY, self._loop.time()
        elif self._answering == 0 and self._phase is Phase.BUSY:
            self._phase, self._since = Phase.IDLE, self._loop.time()

    def expire(self, why: Verdict) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        started = self._phase in (Phase.HEADERS, Phase.BODY)
        if why is Verdict.SEND_STALLED:
            _reset(transport)
        elif not started:
            transport.close()  # idle, or connected without a byte: nothing to answer
        elif self._relay is None:
            self._fail(408, "Request Timeout")
        elif self._answering == 0 and self._writes_paused_at is None:
            transport.write(encode(json_reply(408, {"message": "Request Timeout"}), keep_alive=False))
            transport.close()
        else:
            transport.close()  # aiohttp is mid-answer: a 408 would cut into it

    def evict(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._writes_paused_at is not None:
            _reset(transport)
        else:
            transport.close()


def _reset(transport: asyncio.Transport) -> None:
    """Close with a reset: what is unsent, here and in the kernel's send buffer, would never be
    read, and a plain close leaves the kernel sending it to the slow reader for minutes."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


class _Watch:
    """The request boundaries of a connection aiohttp serves, for its deadlines."""

    def __init__(self, owner: Switchboard) -> None:
        self._owner = owner
        self.parser = httptools.HttpRequestParser(self)

    def on_message_begin(self) -> None:
        owner = self._owner
        owner._phase, owner._since = Phase.HEADERS, owner._now

    def on_headers_complete(self) -> None:
        owner = self._owner
        owner._phase, owner._since = Phase.BODY, owner._now

    def on_body(self, body: bytes) -> None:
        self._owner._since = self._owner._now

    def on_message_complete(self) -> None:
        owner = self._owner
        owner._phase = Phase.BUSY if owner._answering else Phase.IDLE
        owner._since = owner._now


class _Count:
    def __init__(self) -> None:
        self.complete = 0

    def on_message_complete(self) -> None:
        self.complete += 1


def _completes(data: memoryview) -> int:
    counter = _Count()
    try:
        httptools.HttpRequestParser(counter).feed_data(data)
    except httptools.HttpParserError:
        pass
    return counter.complete


def message_end(raw: bytes | bytearray, count: int) -> int:
    """The offset just past the `count`-th request in `raw`, which starts with a request.

    httptools reports requests, not offsets, so this asks a fresh parser how many requests
    each prefix completes and searches for the shortest prefix that completes `count`. It runs
    only when requests share a read with a request after them, over the bytes of that read.
    """
    lo, hi = 0, len(raw)
    with memoryview(raw) as view:
        while lo < hi:
            mid = (lo + hi) // 2
            if _completes(view[:mid]) >= count:
                hi = mid
            else:
                lo = mid + 1
    return lo


def encode_head(status: int, headers: tuple[tuple[str, str], ...], *, keep_alive: bool) -> bytes:
    """The head of a chunked answer, whose body follows as it is produced."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append("Transfer-Encoding: chunked")
    lines.append(f"Date: {_date()}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


def encode(reply: HttpReply, *, keep_alive: bool, head: bool = False) -> bytes:
    status = reply.status
    parts = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
    for name, value in reply.headers:
        parts.append(f"{name}: {value}\r\n")
    parts.append(f"Content-Length: {len(reply.body)}\r\nDate: {_date()}\r\n")
    parts.append("\r\n" if keep_alive else "Connection: close\r\n\r\n")
    head_bytes = "".join(parts).encode("utf-8", "surrogateescape")
    return head_bytes if head else head_bytes + reply.body


_date_cache: list[Any] = [0, ""]


def _date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0], _date_cache[1] = now, email.utils.formatdate(now, usegmt=True)
    return str(_date_cache[1])
