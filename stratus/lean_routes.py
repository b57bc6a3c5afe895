"""The one table of requests answered on the lean path, shared by both servers of the port.

The switchboard (switchboard.py) parses the hot requests itself and asks `RouteTable.route`
which handler answers one; a connection it handed to aiohttp asks `RouteTable.claimed` in the
gateway's error middleware, so a function URL or HTTP API reached over such a connection gets
the same handler, fed the same `Incoming`. Two kinds of entries:
- claims: requests that belong to a front-end by where they are sent (a path prefix, or a
  marker in the Host name), authenticated by that front-end's own configuration, on both servers;
- operations: hot AWS API operations (Lambda's Invoke) the switchboard answers itself; on an
  aiohttp connection they go through its router like any other API request;
- targets: the JSON-protocol services (`POST /` with `X-Amz-Target: <prefix>.<Operation>`:
  SQS, CloudWatch Logs, EventBridge...), by target prefix, answered by the same declared
  dispatch as on aiohttp (`gateway/lean_json.py`), without aiohttp's web layer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict

from stratus.http_types import MAX_BODY, HttpReply, Incoming, StreamedReply

# A handler answers whole (HttpReply) or, streaming a function's response, as it goes.
LeanHandler = Callable[[Incoming], Awaitable[HttpReply | StreamedReply]]
# Which requests are answered without aiohttp's web layer: (method, path, host, X-Amz-Target)
# -> a handler.
LeanRoutes = Callable[[str, str, str, str | None], LeanHandler | None]


@dataclass(frozen=True)
class Claim:
    """Every request sent under one of `prefixes`, or to a host name holding one of `hosts`."""

    handler: LeanHandler
    prefixes: tuple[str, ...]
    hosts: tuple[str, ...]

    def claims(self, path: str, host: str) -> bool:
        return path.startswith(self.prefixes) or any(marker in host for marker in self.hosts)


@dataclass(frozen=True)
class Operation:
    """One AWS API operation the switchboard parses itself, matched by (method, path)."""

    handler: LeanHandler
    matches: Callable[[str, str], bool]


@dataclass(frozen=True)
class RouteTable:
    claims: tuple[Claim, ...] = ()
    operations: tuple[Operation, ...] = ()
    targets: Mapping[str, LeanHandler] = field(default_factory=dict)

    def claimed(self, path: str, host: str) -> LeanHandler | None:
        """The front-end a request belongs to by where it was sent, on either server."""
        for claim in self.claims:
            if claim.claims(path, host):
                return claim.handler
        return None

    def route(self, method: str, path: str, host: str, target: str | None = None) -> LeanHandler | None:
        """The switchboard's routes: the claims first, then the hot operations, then the JSON
        services by their X-Amz-Target prefix."""
        handler = self.claimed(path, host)
        if handler is not None:
            return handler
        for operation in self.operations:
            if operation.matches(method, path):
                return operation.handler
        if target is not None and method == "POST" and path == "/":
            return self.targets.get(target.partition(".")[0])
        return None


# Where the gateway's aiohttp application keeps the table (set by the app that wires it).
ROUTES = web.AppKey("lean_routes", RouteTable)
NO_ROUTES = RouteTable()


async def answer(request: web.Request, handler: LeanHandler) -> web.StreamResponse:
    """Serve an aiohttp request with a lean handler: the same `Incoming` the switchboard makes."""
    raw_path, _, raw_query = request.raw_path.partition("?")
    version = request.version
    incoming = Incoming(
        method=request.method,
        path=raw_path,
        query=raw_query,
        headers=tuple((k.lower(), v) for k, v in request.headers.items()),
        body=await _read_body(request),
        peer=request.remote or "127.0.0.1",
        protocol=f"HTTP/{version.major}.{version.minor}",
    )
    reply = await handler(incoming)
    if isinstance(reply, StreamedReply):
        return await _stream(request, reply)
    return web.Response(status=reply.status, headers=CIMultiDict(reply.headers), body=reply.body)


async def _stream(request: web.Request, reply: StreamedReply) -> web.StreamResponse:
    """Write a streamed reply chunk by chunk (aiohttp waits for the client to take each)."""
    response = web.StreamResponse(status=reply.status, headers=CIMultiDict(reply.headers))
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        if request.method != "HEAD":
            async for chunk in reply.body:
                await response.write(chunk)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client has gone: the body's producer settles the rest as it closes
    finally:
        await reply.body.aclose()
        await reply.close()
    return response


async def _read_body(request: web.Request) -> bytes | None:
    """The body, or None when it is larger than any event could carry."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        return None
    body = await request.content.read(MAX_BODY + 1) if length is None else await request.read()
    if length is None:
        chunks = [body]
        while body and sum(map(len, chunks)) <= MAX_BODY:
            body = await request.content.read(MAX_BODY + 1)
            chunks.append(body)
        body = b"".join(chunks)
    return None if len(body) > MAX_BODY else body
