"""The dashboard's login, logout and session check, and the guard its data endpoints sit behind.

Requests that change something (login, logout, invoke) must send JSON with the
`X-Stratus-Dashboard` header, and an `Origin`, when the browser sends one, of this server: a
page of another site can send neither without a CORS preflight, which is never answered. The
session cookie is SameSite=Strict as well.

Both ways of logging in, the form's POST and the printed link's `GET /_stratus/?token=`, go
through `verify`, so they apply the same checks in the same order: the back-off (429 with
Retry-After while a wait runs), loopback only for the start token, then the secret, whose
failure is counted.

The cookie's path is `/_stratus/ui/`, where the page's JSON lives, and the dashboard has a port
of its own: browsers send a cookie to every port of its host, so the path is what keeps it from
the API port, which answers nothing under that path without a SigV4 signature and routes
nothing under it to a function.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from stratus.dashboard.auth import COOKIE, MAX_AGE_S, Sessions
from stratus.dashboard.throttle import retry_after_header
from stratus.errors import (
    AccessDenied,
    InvalidRequestContent,
    LoginRequired,
    TooManyRequests,
    UnsupportedMediaType,
)
from stratus.frontend.responses import error_response, json_response

COOKIE_PATH = "/_stratus/ui/"
WRONG_TOKEN = "That token is not this server's: it changes each time the server starts."
CSRF_HEADER = "X-Stratus-Dashboard"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The dashboard's logins, owned by `Sessions`; the app of its port holds them.
SESSIONS = web.AppKey("sessions", Sessions)


def is_loopback(remote: str | None) -> bool:
    """Whether a peer address is this machine's loopback: the start token is for local use, as
    it is printed only to whoever started the server."""
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class LoginThrottled(TooManyRequests):
    def __init__(self, wait_s: float) -> None:
        self.retry_after = retry_after_header(wait_s)
        super().__init__(f"Too many failed logins: try again in {self.retry_after} s.")


def throttled_response(error: LoginThrottled) -> web.Response:
    """The one mapper's answer, with the Retry-After this wait needs (it says 1 s by default)."""
    response = error_response(error)
    response.headers["Retry-After"] = error.retry_after
    return response


def verify(request: web.Request, *, token: str | None = None, keys: tuple[str, str] | None = None) -> bool:
    """Whether the start token, or else the access key pair, is right; a wrong one is counted.
    Raises LoginThrottled while the client must wait, and AccessDenied for a token from a peer
    that is not this machine; in both cases the secret is not looked at."""
    sessions = request.app[SESSIONS]
    peer = request.remote
    wait = sessions.throttle.wait_s(peer)
    if wait > 0:
        raise LoginThrottled(wait)
    if token is not None:
        if not is_loopback(peer):
            raise AccessDenied(
                "The start token works only from this machine; from elsewhere, log in with the access key."
            )
        right = sessions.token_matches(token)
    elif keys is not None:
        right = sessions.key_matches(*keys)
    else:
        right = False
    if right:
        sessions.throttle.succeeded(peer)
    else:
        sessions.throttle.failed(peer)
    return right


def logged_in(request: web.Request) -> bool:
    return request.app[SESSIONS].check(request.cookies.get(COOKIE))


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
    session = request.app[SESSIONS].open()
    response.set_cookie(
        COOKIE, session, path=COOKIE_PATH, max_age=int(MAX_AGE_S), httponly=True, samesite="Strict"
    )
    return response


async def session_state(request: web.Request) -> web.StreamResponse:
    return json_response({"authenticated": logged_in(request)})


async def login(request: web.Request) -> web.StreamResponse:
    params = await change_request(request)
    token = params.get("token")
    key_id, secret = params.get("accessKeyId"), params.get("secretAccessKey")
    try:
        if isinstance(token, str) and token:
            if not verify(request, token=token):
                raise AccessDenied(WRONG_TOKEN)
        elif isinstance(key_id, str) and isinstance(secret, str) and key_id and secret:
            if not verify(request, keys=(key_id, secret)):
                raise AccessDenied("The access key id or secret access key is wrong.")
        else:
            raise InvalidRequestContent("Give either token, or accessKeyId and secretAccessKey.")
    except LoginThrottled as e:
        return throttled_response(e)
    return with_session(json_response({"authenticated": True}), request)


async def logout(request: web.Request) -> web.StreamResponse:
    await change_request(request)
    request.app[SESSIONS].close(request.cookies.get(COOKIE))
    response = json_response({"authenticated": False})
    response.del_cookie(COOKIE, path=COOKIE_PATH)
    return response
