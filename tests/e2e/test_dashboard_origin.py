"""The dashboard's origin is its own: attacks from a function URL against a logged-in browser.

A function's author controls what its URL answers: a page with script, headers, cookies. These
tests log into the dashboard in Chromium (Debian's, through Playwright), then let a function's
page try to read the dashboard's data and the dashboard's cookie, and send that cookie to the
API port and to function URLs and HTTP APIs by hand.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import test_dashboard
from tests.e2e.conftest import Server, allow_api_gateway, create
from tests.e2e.http_client import call
from tests.e2e.test_dashboard import API, dashboard, http, http_login, log_in, start_token

# Chromium, and a page of a context of its own whose script errors fail the test.
browser = test_dashboard.browser
page = test_dashboard.page

COOKIE = "stratus_dashboard"
# A function that serves a probing page at /page and otherwise echoes what its event carries.
PROBE_PAGE = """<!doctype html><title>probe</title><script>
const dash = new URLSearchParams(location.search).get("dash");
async function probe(url, init) {
  try {
    const r = await fetch(url, Object.assign({credentials: "include"}, init || {}));
    return {status: r.status, body: await r.text()};
  } catch (e) {
    return {error: String(e)};
  }
}
(async () => {
  const found = {};
  found.dashboardFunctions = await probe(dash + "/_stratus/ui/api/functions");
  found.dashboardSession = await probe(dash + "/_stratus/ui/api/session");
  found.dashboardInvoke = await probe(dash + "/_stratus/ui/api/invoke", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-Stratus-Dashboard": "1"},
    body: JSON.stringify({function: "nope", payload: "{}"}),
  });
  found.sameOriginFunctions = await probe("/_stratus/ui/api/functions");
  found.sameOriginSession = await probe("/_stratus/ui/api/session");
  found.sameOriginPage = await probe("/_stratus/");
  found.documentCookie = document.cookie;
  window.probes = found;
})();
</script>"""
APP: dict[str, str | bytes] = {
    "app.py": f"""
        import json
        PAGE = {PROBE_PAGE!r}
        def handler(event, context):
            path = event.get("rawPath") or event.get("path") or ""
            if path.endswith("/page"):
                return {{"statusCode": 200, "headers": {{"content-type": "text/html"}}, "body": PAGE}}
            if path.endswith("/toss"):  # tries to plant Stratus's own cookie in the browser
                return {{"statusCode": 200, "body": "tossed",
                         "cookies": ["stratus_dashboard=planted; Path=/_stratus/ui/", "visitor=1"],
                         "multiValueHeaders": {{"Set-Cookie": [" stratus_dashboard=again; Path=/"]}}}}
            seen = {{k: event.get(k) for k in ("cookies", "headers", "multiValueHeaders")}}
            return {{"statusCode": 200, "headers": {{"content-type": "application/json"}},
                     "body": json.dumps(seen)}}
        """
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("dashboard-origin") / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fn(srv: Server) -> str:
    name = f"origin-{uuid.uuid4().hex[:8]}"
    create(srv.client(), name, APP)
    return name


@pytest.fixture(scope="module")
def fn_url(srv: Server, fn: str) -> str:
    url = str(srv.client().create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"])
    assert url.startswith(srv.endpoint + "/_stratus/url/")
    return url


def session_cookie(page: Any) -> dict[str, Any]:
    cookies = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert len(cookies) == 1, cookies
    return dict(cookies[0])


def event_cookies(seen: dict[str, Any]) -> list[str]:
    return list(seen.get("cookies") or [])


def test_a_function_url_never_sees_the_dashboard_cookie(page: Any, srv: Server, fn: str, fn_url: str) -> None:
    log_in(page, srv)
    cookie = session_cookie(page)
    assert cookie["path"] == "/_stratus/ui/" and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # A cookie of the function's own host, so that the event is seen to carry cookies at all.
    page.context.add_cookies([{"name": "visitor", "value": "v1", "url": srv.endpoint + "/"}])
    seen = page.goto(fn_url + "echo").json()
    assert "visitor=v1" in event_cookies(seen)
    assert not any(c.startswith(COOKIE) for c in event_cookies(seen)), seen
    assert cookie["value"] not in json.dumps(seen)

    # Even a dashboard cookie the browser does send (one with a wide path, as before) stops at
    # the event: the server takes Stratus's own cookies out.
    wide = {"name": COOKIE, "value": cookie["value"], "url": srv.endpoint + "/"}
    page.context.add_cookies([wide])
    seen = page.goto(fn_url + "echo").json()
    assert "visitor=v1" in event_cookies(seen)
    assert cookie["value"] not in json.dumps(seen), seen


def test_function_urls_and_http_apis_get_no_stratus_cookie_from_any_client(
    srv: Server, fn: str, fn_url: str
) -> None:
    session = http_login(srv)["Cookie"]
    value = session.split("=", 1)[1]
    sent = [("Cookie", f"a=1; {session}; b=2")]
    seen = call(fn_url + "echo", headers=sent).json()
    assert event_cookies(seen) == ["a=1", "b=2"]
    assert value not in json.dumps(seen)

    gw = srv.client("apigatewayv2")
    arn = srv.client().get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    allow_api_gateway(srv.client(), fn)
    v2 = gw.create_api(Name=f"origin-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP", Target=arn)
    v1 = gw.create_api(Name=f"origin-v1-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")
    try:
        seen = call(v2["ApiEndpoint"] + "/echo", headers=sent).json()
        assert event_cookies(seen) == ["a=1", "b=2"] and value not in json.dumps(seen)

        integration = gw.create_integration(
            ApiId=v1["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="1.0"
        )["IntegrationId"]
        gw.create_route(ApiId=v1["ApiId"], RouteKey="ANY /{rest+}", Target=f"integrations/{integration}")
        gw.create_stage(ApiId=v1["ApiId"], StageName="$default", AutoDeploy=True)
        seen = call(v1["ApiEndpoint"] + "/echo", headers=sent).json()
        assert seen["headers"]["cookie"] == "a=1; b=2"
        assert seen["multiValueHeaders"]["cookie"] == ["a=1; b=2"]
        assert value not in json.dumps(seen)
        only_ours = call(v1["ApiEndpoint"] + "/echo", headers=[("Cookie", session)]).json()
        assert "cookie" not in only_ours["headers"] and value not in json.dumps(only_ours)
    finally:
        gw.delete_api(ApiId=v2["ApiId"])
        gw.delete_api(ApiId=v1["ApiId"])


def test_a_function_page_cannot_read_the_dashboard(page: Any, srv: Server, fn: str, fn_url: str) -> None:
    log_in(page, srv)
    # The session is live: the dashboard's own page reads its data.
    own = page.evaluate("fetch('/_stratus/ui/api/functions').then(r => r.text())")
    assert fn in own

    page.goto(f"{fn_url}page?dash={dashboard(srv)}")
    page.wait_for_function("() => window.probes !== undefined")
    probes = page.evaluate("window.probes")
    for name, got in probes.items():
        assert fn not in json.dumps(got), (name, got)  # no function list reached the script
    # The dashboard's port answers no CORS: a fetch from the function's origin gets nothing.
    for name in ("dashboardFunctions", "dashboardSession", "dashboardInvoke", "sameOriginPage"):
        assert "error" in probes[name] and "status" not in probes[name], (name, probes[name])
    # The API port has no dashboard: the old paths want SigV4, whatever cookie comes along.
    for name in ("sameOriginFunctions", "sameOriginSession"):
        assert probes[name]["status"] == 403, probes[name]
        assert "MissingAuthenticationToken" in probes[name]["body"]
    assert COOKIE not in probes["documentCookie"]


def test_the_dashboard_cookie_is_refused_on_the_api_port(srv: Server, fn: str, fn_url: str) -> None:
    session = http_login(srv)
    assert http(srv, "GET", API + "functions", headers=session)[0] == 200  # on the dashboard's port
    for path in ("functions", "session", "metrics", "cost", "logs"):
        status, _, body = http(srv, "GET", API + path, headers=session, endpoint=srv.endpoint)
        assert status == 403 and body["__type"] == "MissingAuthenticationTokenException", (path, body)
    status, _, body = http(
        srv,
        "POST",
        API + "invoke",
        {"function": fn, "payload": "{}"},
        {**session, "X-Stratus-Dashboard": "1", "Content-Type": "application/json"},
        endpoint=srv.endpoint,
    )
    assert status == 403 and "echo" not in json.dumps(body)
    # The API port's /_stratus/ only points at the dashboard, and logs nobody in.
    reply = call(f"{srv.endpoint}/_stratus/?token={start_token(srv)}")
    assert reply.status == 307 and reply.headers["Location"] == f"{dashboard(srv)}/_stratus/"
    assert reply.headers.get("Set-Cookie") is None


def test_the_dashboard_port_serves_nothing_but_the_dashboard(srv: Server, fn_url: str) -> None:
    url_path = fn_url[len(srv.endpoint) :]
    url_id = url_path.split("/")[3]
    # By path or by a function URL's host name, the dashboard's port never reaches a function.
    reply = call(dashboard(srv) + url_path + "echo", headers=[("Cookie", "a=1")])
    assert reply.status == 404 and b"a=1" not in reply.body
    reply = call(dashboard(srv) + "/echo", headers=[("Host", f"{url_id}.lambda-url.us-east-1.localhost")])
    assert reply.status == 404 and b"headers" not in reply.body
    reply = call(dashboard(srv) + "/", headers=[("Host", f"{url_id}.lambda-url.us-east-1.localhost")])
    assert reply.status == 308 and reply.headers["Location"] == "/_stratus/"


def test_a_function_cannot_set_the_dashboard_cookie(srv: Server, fn_url: str) -> None:
    """Cookies ignore ports: a dashboard cookie set by a function URL's answer would reach the
    dashboard. The front drops any Set-Cookie that names Stratus's own cookies."""
    reply = call(fn_url + "toss")
    assert reply.status == 200
    set_cookies = reply.headers.get_all("Set-Cookie") or []
    assert set_cookies == ["visitor=1"], set_cookies
