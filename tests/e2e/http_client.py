"""HTTP client helpers for the end-to-end tests of the HTTP data path (function URLs and HTTP APIs):
one request by http.client whatever its status, one that must answer 200 with JSON, and curl."""

from __future__ import annotations

import http.client
import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# A mapping, or (name, value) pairs in which a name may come more than once.
Headers = Mapping[str, str] | Iterable[tuple[str, str]]

# The methods for which http.client sends "Content-Length: 0" when there is no body.
BODY_METHODS = frozenset({"PATCH", "POST", "PUT"})


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: Headers | None = None,
    timeout: float = 30,
) -> Reply:
    """One request with http.client, whatever the status. Each header pair is a line of its own,
    so a repeated name is sent repeated; Host, Accept-Encoding and Content-Length are added as
    `HTTPConnection.request` adds them, unless given."""
    lines = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    names = {name.lower() for name, _ in lines}
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.putrequest(
            method, target, skip_host="host" in names, skip_accept_encoding="accept-encoding" in names
        )
        if "content-length" not in names and (body is not None or method.upper() in BODY_METHODS):
            conn.putheader("Content-Length", str(len(body or b"")))
        for name, value in lines:
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return Reply(resp.status, resp.msg, resp.read())
    finally:
        conn.close()


def event_of(url: str, method: str = "GET", body: bytes | None = None, headers: Headers | None = None) -> Any:
    """A request that must answer 200; its JSON body (with an echoing function, the event)."""
    reply = call(url, method, body, headers)
    assert reply.status == 200, (url, reply.status, reply.body)
    return reply.json()


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    """curl with the given arguments, which must succeed (an HTTP error status is a success)."""
    return subprocess.run(
        ["curl", "-sS", "--max-time", "30", *args], capture_output=True, check=True, timeout=60
    )


def curl_post_file(url: str, data: Path, out: Path, *extra: str) -> bytes:
    """POST a file's bytes as application/octet-stream with curl, not waiting for a 100 Continue;
    the answer's body goes to `out`. The status code, as curl writes it (b"413")."""
    return curl(
        "-o",
        str(out),
        "-w",
        "%{http_code}",
        "-H",
        "Expect:",
        "-H",
        "Content-Type: application/octet-stream",
        *extra,
        "--data-binary",
        f"@{data}",
        url,
    ).stdout
