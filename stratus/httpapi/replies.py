"""A function's result -> the HTTP response the client sees, as Lambda and API Gateway map it.

Format 2.0 (function URLs, and HTTP APIs by default) infers a response from any JSON value;
format 1.0 requires `statusCode`. A result that cannot be mapped raises `MalformedResponse`,
which the front turns into the error status of its kind of endpoint.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import orjson

from stratus.http_types import HttpReply
from stratus.httpapi.events import OWN_COOKIES

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class MalformedResponse(ValueError):
    pass


def from_v2(payload: bytes) -> HttpReply:
    value = _parse(payload)
    if isinstance(value, dict) and "statusCode" in value:
        return _structured(value, cookies=True)
    # Any other JSON value is the body itself, sent as Lambda returned it.
    return HttpReply(200, (("content-type", "application/json"),), payload)


def from_v1(payload: bytes) -> HttpReply:
    value = _parse(payload)
    if not isinstance(value, dict) or "statusCode" not in value:
        raise MalformedResponse("a payload format 1.0 response must be an object with statusCode")
    return _structured(value, cookies=False)


def _parse(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:  # what orjson refuses but Python's json writes: NaN, Infinity, huge integers
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponse("the function's response is not JSON") from None


def _structured(value: dict[str, Any], *, cookies: bool) -> HttpReply:
    status = value["statusCode"]
    if isinstance(status, str) and status.isascii() and status.isdigit():
        status = int(status)
    # 1xx are interim statuses: sent as the final one, the client never gets a response.
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    single = value.get("headers")
    if single is None:
        single = {}
    multi = value.get("multiValueHeaders")
    if multi is None:
        multi = {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    shadowed = {k.lower() for k in multi} if multi else ()
    for name, item in single.items():
        if name.lower() not in shadowed:
            headers.append((_name(name), _scalar(item)))
    for name, items in multi.items():
        if not isinstance(items, list):
            raise MalformedResponse(f"multiValueHeaders.{name} must be a list")
        headers.extend((_name(name), _scalar(item)) for item in items)
    if cookies:
        jar = _absent_as(value.get("cookies"), [])
        if not isinstance(jar, list) or not all(isinstance(c, str) for c in jar):
            raise MalformedResponse("cookies must be a list of strings")
        headers.extend(("set-cookie", _value(cookie)) for cookie in jar)
    names = [name.lower() for name, _ in headers]
    if "content-type" not in names:
        headers.append(("content-type", "application/json"))
    if "set-cookie" in names:
        # A function may not set Stratus's own cookies: a browser would send such a cookie to
        # the dashboard too (cookies ignore ports), shadowing or ending the user's session.
        headers = [(n, v) for n, v in headers if not (n.lower() == "set-cookie" and _names_own_cookie(v))]
    return HttpReply(status, tuple(headers), _body(value))


def _names_own_cookie(set_cookie: str) -> bool:
    return set_cookie.partition("=")[0].strip() in OWN_COOKIES


def _absent_as(item: Any, default: Any) -> Any:
    return default if item is None else item


def _name(name: str) -> str:
    # A header name is an HTTP token; anything else (empty, spaces, CR/LF) cannot go on the wire.
    if not _TOKEN.fullmatch(name):
        raise MalformedResponse(f"header name {name!r} is not a valid HTTP header name")
    return name


def _value(value: str) -> str:
    # CR, LF or NUL in a value would split the header (aiohttp refuses to write it at all).
    if any(c in value for c in "\r\n\0"):
        raise MalformedResponse(f"header value {value!r} holds a control character")
    return value


def _scalar(item: Any) -> str:
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, str | int | float):
        return _value(str(item))
    raise MalformedResponse(f"header value {item!r} is not a string")


def _body(value: dict[str, Any]) -> bytes:
    body = value.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body must be a string")
    encoded = value.get("isBase64Encoded", False)
    if encoded not in (True, False, "true", "false"):
        raise MalformedResponse("isBase64Encoded must be a boolean")
    if encoded in (True, "true"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("body is not valid base64") from None
    return body.encode()
