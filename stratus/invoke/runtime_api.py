"""The Lambda Runtime API endpoint of one environment (`/2018-06-01/runtime/...`).

Each environment gets its own listener, so the endpoint knows whose requests it serves without
trusting anything the runtime sends: an environment can only fetch and answer its own
invocations. The endpoint only translates HTTP to calls on its sandbox, which owns the state.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Protocol

from aiohttp import web
from aiohttp.web_request import BaseRequest

from stratus.invoke.records import Invocation
from stratus.invoke.result_limit import (
    REFUSAL_DOCUMENT,
    REFUSAL_STATUS,
    declared_over_limit,
    over_limit,
)
from stratus.invoke.trailers import TrailerWatch

PREFIX = "/2018-06-01/runtime/"
# A runtime that answers in chunks as its function writes (response streaming) says so here.
RESPONSE_MODE = "Lambda-Runtime-Function-Response-Mode"
ERROR_TYPE_TRAILER = "lambda-runtime-function-error-type"
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"


class RuntimeApiError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class RuntimeSide(Protocol):
    """What the endpoint needs of its sandbox."""

    async def next_invocation(self) -> tuple[Invocation, int]: ...

    def post_response(self, request_id: str, body: bytes) -> None: ...

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def post_init_error(self, body: bytes, error_type: str | None) -> None: ...

    def post_too_large(self, request_id: str | None) -> None: ...

    def begin_stream(self, request_id: str, content_type: str | None) -> None: ...

    async def stream_chunk(self, request_id: str, data: bytes) -> bool: ...

    def end_stream(self, request_id: str, error_type: str | None, error_body: str | None) -> None: ...


def _json(status: int, body: dict[str, str]) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")


_ACCEPTED = b'{"status":"OK"}'


async def _read_body(request: BaseRequest) -> bytes | None:
    """The whole body, or None as soon as it is known to pass the result limit: at once by its
    Content-Length, or by the bytes counted so far when it is chunked. The rest is never read
    (the connection is closed after the answer: see `lingering_time`)."""
    if declared_over_limit(request.content_length):
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if over_limit(size):
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refused() -> web.Response:
    return _json(REFUSAL_STATUS, REFUSAL_DOCUMENT)


class RuntimeEndpoint:
    """Contract: it serves one environment's listener. Under the Linux backend that listener
    lives in the environment's own network namespace, so nothing else (another environment, the
    host) can connect to it to fetch or answer this environment's invocations."""

    def __init__(self, side: RuntimeSide) -> None:
        self._side = side
        # lingering_time=0: a body left unread (one refused as too large) is not drained after
        # the answer; the connection is closed instead.
        self._web = web.Server(self._handle, handler_cancellation=True, access_log=None, lingering_time=0)
        self._server: asyncio.AbstractServer | None = None
        # Each connection's trailer watch, by its transport (see trailers.py).
        self._watches: dict[object, TrailerWatch] = {}

    async def serve(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._connection, sock=listener)

    def _connection(self) -> TrailerWatch:
        return TrailerWatch(self._web(), self._watches)

    def _trailers(self, request: BaseRequest) -> dict[str, str]:
        watch = self._watches.get(request.transport)
        return watch.last if watch is not None else {}

    def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def close(self) -> None:
        self.stop_listening()
        # Open /next long-polls would hold shutdown; the sandbox is gone, so drop them.
        await self._web.shutdown(0.05)

    async def _handle(self, request: BaseRequest) -> web.StreamResponse:
        path = request.path
        if not path.startswith(PREFIX):
            return _json(404, {"errorType": "InvalidRequest", "errorMessage": "Not found"})
        route = path[len(PREFIX) :]
        try:
            if route == "invocation/next" and request.method == "GET":
                return await self._next()
            if route.startswith("invocation/") and request.method == "POST":
                request_id, _, action = route[len("invocation/") :].partition("/")
                if action == "response" and request.headers.get(RESPONSE_MODE, "").lower() == "streaming":
                    return await self._stream(request, request_id)
                if action in ("response", "error"):
                    body = await _read_body(request)
                    if body is None:
                        self._side.post_too_large(request_id)
                        return _refused()
                    if action == "response":
                        self._side.post_response(request_id, body)
                    else:
                        error_type = request.headers.get("Lambda-Runtime-Function-Error-Type")
                        self._side.post_error(request_id, body, error_type)
                    return web.Response(status=202, body=_ACCEPTED, content_type="application/json")
            if route == "restore/next" and request.method == "GET":
                # SnapStart's restore handshake: this environment is already restored when it
                # asks (it was forked from its template), so it may go on at once.
                return web.Response(status=200, body=b"", content_type="application/json")
            if route in ("restore/error", "init/error") and request.method == "POST":
                body = await _read_body(request)
                if body is None:
                    self._side.post_too_large(None)
                    return _refused()
                error_type = request.headers.get("Lambda-Runtime-Function-Error-Type")
                self._side.post_init_error(body, error_type)
                return web.Response(status=202, body=_ACCEPTED, content_type="application/json")
        except RuntimeApiError as e:
            return _json(e.status, {"errorType": e.error_type, "errorMessage": str(e)})
        return _json(404, {"errorType": "InvalidRequest", "errorMessage": f"Unknown path {path}"})

    async def _stream(self, request: BaseRequest, request_id: str) -> web.Response:
        """A response posted in chunks as the function writes them: each chunk goes on to the
        caller as it arrives; an error after the first byte comes in the trailers."""
        self._side.begin_stream(request_id, request.headers.get("Content-Type"))
        while chunk := await request.content.readany():
            if not await self._side.stream_chunk(request_id, chunk):
                return _refused()  # past the limit, or the invocation ended meanwhile
        trailers = self._trailers(request)
        self._side.end_stream(request_id, trailers.get(ERROR_TYPE_TRAILER), trailers.get(ERROR_BODY_TRAILER))
        return web.Response(status=202, body=_ACCEPTED, content_type="application/json")

    async def _next(self) -> web.Response:
        invocation, deadline_ms = await self._side.next_invocation()
        headers = event_headers(invocation, deadline_ms)
        return web.Response(status=200, body=invocation.payload, headers=headers)


def event_headers(invocation: Invocation, deadline_ms: int) -> dict[str, str]:
    """The headers of a /next answer."""
    headers = {
        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
        "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_arn,
        "Lambda-Runtime-Trace-Id": invocation.trace_id or "",
        "Content-Type": "application/json",
    }
    if invocation.client_context:
        headers["Lambda-Runtime-Client-Context"] = invocation.client_context
    return headers
