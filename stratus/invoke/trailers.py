"""The trailers of chunked requests to the Runtime API, which aiohttp parses and drops.

A streaming runtime reports an error that happens after it began its response in the trailers
of that chunked request (`Lambda-Runtime-Function-Error-Type` and `-Body`). aiohttp serves the
Runtime API but keeps no trailers, so each connection's bytes also go, first, through an
httptools parser that records the trailers of every request it sees complete. The watch is fed
before aiohttp, so by the time a handler has read its body to the end, the trailers of that
request are known.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping

import httptools


class TrailerWatch(asyncio.Protocol):
    """Wraps the protocol serving one connection (aiohttp's), passing every event through."""

    def __init__(self, inner: asyncio.Protocol, watches: MutableMapping[object, TrailerWatch]) -> None:
        self._inner = inner
        self._watches = watches  # the endpoint's, by transport: how a handler finds its watch
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._in_body = False
        self._current: dict[str, str] = {}
        self.transport: asyncio.BaseTransport | None = None
        # The trailers of the last request that completed on this connection (lower-cased names).
        self.last: dict[str, str] = {}

    # -- the transport's events, passed on ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._watches[transport] = self
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._watches.pop(self.transport, None)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is not None:
            try:
                parser.feed_data(data)
            except httptools.HttpParserError:
                self._parser = None  # aiohttp answers what it makes of it; nothing more is watched
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- httptools' callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_body = False
        self._current = {}

    def on_headers_complete(self) -> None:
        self._in_body = True  # headers reported from here on are trailers

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._in_body:
            self._current[name.decode("latin-1").lower()] = value.decode("utf-8", "replace")

    def on_message_complete(self) -> None:
        self.last = self._current
        self._current = {}
        self._in_body = False
