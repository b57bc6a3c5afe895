"""The HTTP wire types of the lean data path: a request as it came off the wire and the reply
that goes back, whichever server (the switchboard or aiohttp) parsed it.

They sit below the gateway and every front-end (function URLs, HTTP APIs, Lambda's Invoke), so
that none of those imports another to speak HTTP.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from stratus.invoke.records import MAX_SYNC_PAYLOAD

# The largest request body read at all on the lean path; the event that carries it must also
# fit Lambda's 6 MB.
MAX_BODY = MAX_SYNC_PAYLOAD


@dataclass(frozen=True)
class Incoming:
    """A request as it came off the wire, whichever server parsed it."""

    method: str
    path: str  # raw, percent-encoding intact, without the query
    query: str
    headers: tuple[tuple[str, str], ...]  # lower-cased names, in order
    body: bytes | None  # None: larger than any event could carry
    peer: str
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class StreamedReply:
    """A reply whose body goes out as it is produced (chunked), for response streaming. The
    server that writes it always calls `close` once it is done or the client has gone (even if
    `body` was never read), and the producer settles there what it started."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: AsyncGenerator[bytes, None]
    close: Callable[[], Awaitable[None]]


def json_reply(status: int, body: dict[str, Any], *headers: tuple[str, str]) -> HttpReply:
    return HttpReply(status, (("content-type", "application/json"), *headers), json.dumps(body).encode())


# The dashboard's session cookie. Named here, below both the dashboard that sets it and the
# front-ends that must never pass it to a function (cookies ignore ports).
DASHBOARD_COOKIE = "stratus_dashboard"
