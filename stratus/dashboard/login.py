"""The dashboard's login, logout and session check, and the guard its data endpoints sit behind.

Requests that change something (login, logout, invoke) must send JSON with the
`X-Stratus-Dashboard` header, and an `Origin`, when the browser sends one, of this server: a
page of another site can send neither without a CORS preflight, which is never answered. The
session cookie is SameSite=Strict as well.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from stratus.dashboard.auth import COOKIE, MAX_AGE_S
from stratus.errors import AccessDenied, InvalidRequestContent, LoginRequired, UnsupportedMediaType
from stratus.gateway.responses import json_response
from stratus.gateway.server import ctx

COOKIE_PATH = "/_stratus/"
CSRF_HEADER = "X-Stratus-Dashboard"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(remote: str | None) -> bool:
    """Whether a peer address is this machine's loopback: the start token is for local use, as
    it is printed only to whoever started the server."""
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def logged_in(request: web.Request) -> bool:
    return ctx(request).dashboard.check(request.cookies.get(COOKIE))


def guarded(handler: Handler) -> Handler:
    """The handler, answering 401 to requests without an open session."""

    async def guard(request: web.Request) -> web.StreamResponse:
        if not logged_in(request):
            raise LoginRequired("Log in to the dashboard first (POST /_stratus/ui/api/session).")
        return await handler(request)

    return guard


async def change_request(request: web.Request) -> dict[str, Any]:
    """The JSON object a state-changing request carries, once it has passed the CSRF checks."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise AccessDenied(f"Dashboard requests that change state need the {CSRF_HEADER}: 1 header.")
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        raise AccessDenied("Cross-origin dashboard requests are refused.")
    raw = await request.read()
    if not raw.strip():
        return {}
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Dashboard requests carry application/json.")
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestContent("The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise InvalidRequestContent("The request body must be a JSON object.")
    return parsed


def with_session(response: web.StreamResponse, request: web.Request) -> web.StreamResponse:
    """The response, carrying the cookie of a newly opened session."""
    session = ctx(request).dashboard.open()
    response.set_cookie(
        COOKIE, session, path=COOKIE_PATH, max_age=int(MAX_AGE_S), httponly=True, samesite="Strict"
    )
    return response


async def session_state(request: web.Request) -> web.StreamResponse:
    return json_response({"authenticated": logged_in(request)})


async def login(request: web.Request) -> web.StreamResponse:
    params = await change_request(request)
    sessions = ctx(request).dashboard
    token = params.get("token")
    key_id, secret = params.get("accessKeyId"), params.get("secretAccessKey")
    if isinstance(token, str) and token:
        if not is_loopback(request.remote):
            raise AccessDenied(
                "The start token works only from this machine; from elsewhere, log in with the access key."
            )
        if not sessions.token_matches(token):
            raise AccessDenied("That token is not this server's: it changes each time the server starts.")
    elif isinstance(key_id, str) and isinstance(secret, str) and key_id and secret:
        if not sessions.key_matches(key_id, secret):
            raise AccessDenied("The access key id or secret access key is wrong.")
    else:
        raise InvalidRequestContent("Give either token, or accessKeyId and secretAccessKey.")
    return with_session(json_response({"authenticated": True}), request)


async def logout(request: web.Request) -> web.StreamResponse:
    await change_request(request)
    ctx(request).dashboard.close(request.cookies.get(COOKIE))
    response = json_response({"authenticated": False})
    response.del_cookie(COOKIE, path=COOKIE_PATH)
    return response
