"""The dashboard's routes: the page at `/_stratus/`, its files under `/_stratus/ui/assets/`, and
its JSON under `/_stratus/ui/api/`, served on a port of their own (`build_app`).

Why a port of its own: an origin is scheme, host and port, so nothing a function URL or an HTTP
API answers on the API port (a page, a script) can run in the dashboard's origin, read its
answers or call it with its `Origin`. Nothing but the dashboard is served on its port, whatever
the Host header says. Cookies ignore ports, hence the cookie's narrow path (see `login`). The API
port only redirects `/_stratus/` here (`pointer`).

The page and its files are public, so that a browser without a session can show the login
form; everything under `api/` but the session endpoint answers only an open session.
The chart library (uPlot) is not kept in git: `make install` fetches it into `static/vendor/`,
and without it the page says so instead of drawing charts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from stratus.dashboard import api, login, replays, workflows
from stratus.dashboard.auth import Sessions
from stratus.dashboard.login import SESSIONS
from stratus.errors import AccessDenied
from stratus.frontend.context import CTX, ApiContext
from stratus.gateway.server import mapped_errors
from stratus.lambda_api.context import LambdaContext
from stratus.workflows.executor import Executions

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


# The page and its JSON are small; nothing larger is ever posted to them.
MAX_REQUEST_BYTES = 1024 * 1024


async def page(request: web.Request) -> web.StreamResponse:
    """The page. `?token=` logs in with the start token, through the same checks as the form's
    login (`login.verify`); the page then drops it from the address bar, and says so when the
    token was not this server's (answered 403, with the page)."""
    token = request.query.get("token")
    if not token:
        return web.FileResponse(STATIC_DIR / "index.html")
    try:
        right = login.verify(request, token=token)
    except login.LoginThrottled as e:
        return login.throttled_response(e)
    if not right:
        return web.FileResponse(STATIC_DIR / "index.html", status=AccessDenied.status)
    return login.with_session(web.FileResponse(STATIC_DIR / "index.html"), request)


async def to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(PAGE_PATH)


async def _harden(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def build_app(
    context: ApiContext,
    lambda_context: LambdaContext,
    sessions: Sessions,
    executions: Executions | None = None,
) -> web.Application:
    """The application of the dashboard's own port: the dashboard's routes and nothing else.
    Its pages read `context`; its Invoke form runs Lambda's Invoke with `lambda_context`; its
    Step Functions pages read `executions` (without it they are not served)."""
    app = web.Application(middlewares=[mapped_errors], client_max_size=MAX_REQUEST_BYTES)
    app[CTX] = context
    app[api.LAMBDA] = lambda_context
    app[SESSIONS] = sessions
    register(app)
    if executions is not None:
        app[workflows.WORKFLOWS] = executions
        app.router.add_get(API_PREFIX + "state-machines", login.guarded(workflows.state_machines))
        app.router.add_get(API_PREFIX + "state-machine", login.guarded(workflows.state_machine))
        app.router.add_get(API_PREFIX + "execution", login.guarded(workflows.execution))
    app.router.add_get("/", to_page)
    return app


def pointer(dashboard_port: int) -> Callable[[web.Application], None]:
    """Routes for the API port: `/_stratus/` redirects a browser to the dashboard's port, on the
    host it asked for. Nothing else of the dashboard is served there."""

    async def to_dashboard(request: web.Request) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(
            request.url.with_port(dashboard_port).with_path(PAGE_PATH).with_query({})
        )

    def add(app: web.Application) -> None:
        app.router.add_get(PAGE_PATH, to_dashboard)
        app.router.add_get(PAGE_PATH.rstrip("/"), to_dashboard)

    return add


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
    app.router.add_get(API_PREFIX + "invocations", login.guarded(replays.recent))
    app.router.add_post(API_PREFIX + "replay", login.guarded(replays.replay))
    app.on_response_prepare.append(_harden)
