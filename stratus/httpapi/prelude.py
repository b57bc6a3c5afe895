"""The HTTP prelude of a streamed function URL response (pure).

A function streaming to a function URL in RESPONSE_STREAM mode sets its status, headers and
cookies the way Node's `awslambda.HttpResponseStream.from(stream, {statusCode, headers,
cookies})` does: the stream's content type is `application/vnd.awslambda.http-integration-
response`, and the stream begins with that object as JSON followed by eight NUL bytes; the body
follows. Without that content type there is no prelude: the answer is 200, with the stream's own
content type, and the stream is the body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PRELUDE_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\0" * 8
# How much of a stream may precede its delimiter (a prelude is a small JSON object).
MAX_PRELUDE = 64 * 1024


class MalformedPrelude(ValueError):
    """The prelude is not the JSON object Lambda expects, or never ends."""


@dataclass(frozen=True)
class Prelude:
    status: int
    headers: tuple[tuple[str, str], ...]


def has_prelude(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == PRELUDE_CONTENT_TYPE


def split(buffer: bytes) -> tuple[bytes, bytes] | None:
    """(the prelude's JSON, what follows it) once `buffer` holds the delimiter; None while it
    may still come. Raises MalformedPrelude once more than MAX_PRELUDE bytes came without it."""
    at = buffer.find(DELIMITER)
    if at < 0:
        if len(buffer) > MAX_PRELUDE:
            raise MalformedPrelude(f"no prelude delimiter within the first {MAX_PRELUDE} bytes")
        return None
    return buffer[:at], buffer[at + len(DELIMITER) :]


def parse(text: bytes) -> Prelude:
    """The status and headers a prelude sets (200 and no headers where it names none)."""
    try:
        value: Any = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise MalformedPrelude(f"the prelude is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise MalformedPrelude("the prelude is not a JSON object")
    status = value.get("statusCode", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedPrelude(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    raw_headers = value.get("headers")
    raw_headers = {} if raw_headers is None else raw_headers
    if not isinstance(raw_headers, dict):
        raise MalformedPrelude("headers is not an object")
    for name, header in raw_headers.items():
        if isinstance(header, dict | list) or header is None:
            raise MalformedPrelude(f"header {name!r} is not a string")
        headers.append((str(name), _text(header)))
    cookies = value.get("cookies")
    cookies = [] if cookies is None else cookies
    if not isinstance(cookies, list):
        raise MalformedPrelude("cookies is not a list")
    headers.extend(("set-cookie", str(cookie)) for cookie in cookies)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/octet-stream"))
    return Prelude(status, tuple(headers))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
