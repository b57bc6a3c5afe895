"""The dashboard's routes: the page at `/_stratus/`, its files under `/_stratus/ui/assets/`, and
its JSON under `/_stratus/ui/api/`.

The page and its files are public, so that a browser without a session can show the login
form; everything under `api/` but the session endpoint answers only an open session. The
gateway's SigV4 check leaves these paths to the dashboard (`gateway.server.PUBLIC_PREFIXES`).
The chart library (uPlot) is not kept in git: `make install` fetches it into `static/vendor/`,
and without it the page says so instead of drawing charts.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from stratus.dashboard import api, login
from stratus.gateway.server import ctx

PAGE_PATH = "/_stratus/"
UI_PREFIX = "/_stratus/ui/"
API_PREFIX = UI_PREFIX + "api/"
STATIC_DIR = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    # Scripts, styles and data from this server only; no inline script, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The page's address may hold the start token; it must not travel on as a Referer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def is_dashboard_path(path: str) -> bool:
    return path == PAGE_PATH or path.startswith(UI_PREFIX)


async def page(request: web.Request) -> web.StreamResponse:
    """The page. `?token=` logs in with the start token; the page then drops it from the address
    bar, and says so when the token was not this server's."""
    response = web.FileResponse(STATIC_DIR / "index.html")
    token = request.query.get("token")
    if token and ctx(request).dashboard.token_matches(token):
        return login.with_session(response, request)
    return response


async def to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(PAGE_PATH)


async def _harden(request: web.Request, response: web.StreamResponse) -> None:
    if is_dashboard_path(request.path):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)


def register(app: web.Application) -> None:
    app.router.add_get(PAGE_PATH, page)
    app.router.add_get(PAGE_PATH.rstrip("/"), to_page)
    app.router.add_static(UI_PREFIX + "assets", STATIC_DIR, follow_symlinks=False, show_index=False)
    app.router.add_get(API_PREFIX + "session", login.session_state)
    app.router.add_post(API_PREFIX + "session", login.login)
    app.router.add_delete(API_PREFIX + "session", login.logout)
    app.router.add_get(API_PREFIX + "functions", login.guarded(api.functions))
    app.router.add_get(API_PREFIX + "metrics", login.guarded(api.metrics))
    app.router.add_get(API_PREFIX + "cost", login.guarded(api.cost))
    app.router.add_get(API_PREFIX + "logs", login.guarded(api.logs))
    app.router.add_post(API_PREFIX + "invoke", login.guarded(api.invoke))
    app.on_response_prepare.append(_harden)
