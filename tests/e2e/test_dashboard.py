"""The dashboard at /_stratus/ on its own port, driven in headless Chromium (Debian's, through
Playwright) and over plain HTTP, against the real server with functions invoked through boto3.
Its login's back-off is attacked here too; its origin is in test_dashboard_origin.py."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY, Server, create

CHROMIUM = "/usr/bin/chromium"
# As this machine needs them: no sandbox as root, and no calls home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"  # gitignored
API = "/_stratus/ui/api/"
APP: dict[str, str | bytes] = {
    "app.py": """
        import time
        def handler(event, context):
            if "say" in event:
                print(event["say"])
            time.sleep(event.get("sleep", 0))
            if event.get("fail"):
                raise ValueError("dashboard failure")
            return {"echo": event}
        """
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("dashboard") / "data").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fn(srv: Server) -> str:
    """A function with real invocations behind it: five that succeed and two that fail."""
    name = f"dash-{uuid.uuid4().hex[:8]}"
    lam = srv.client()
    create(lam, name, APP)
    for i in range(5):
        out = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": 0.01 * i}).encode())
        assert "FunctionError" not in out
    for _ in range(2):
        out = lam.invoke(FunctionName=name, Payload=b'{"fail": true}')
        assert out["FunctionError"] == "Unhandled"
    return name


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a context of its own (no cookies), whose script errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(15000)
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    context.close()
    assert not errors, errors


def banner_link(server: Server) -> tuple[str, str]:
    """(the dashboard's endpoint, the start token), from the link the banner prints."""
    match = re.search(r"dashboard:\s+(http://127\.0\.0\.1:(\d+))/_stratus/\?token=(\S+)", server.output())
    assert match, server.output()
    assert int(match.group(2)) != server.port  # an origin of its own
    return match.group(1), match.group(3)


def dashboard(server: Server) -> str:
    return banner_link(server)[0]


def dashboard_port(server: Server) -> int:
    return int(dashboard(server).rsplit(":", 1)[1])


def start_token(server: Server) -> str:
    return banner_link(server)[1]


def log_in(page: Any, server: Server) -> None:
    page.goto(f"{dashboard(server)}/_stratus/?token={start_token(server)}")
    page.wait_for_selector("#dashboard-view:not([hidden])")
    page.wait_for_function("() => window.stratusDashboard.refreshes >= 1")


def http(
    server: Server,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    endpoint: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, parsed JSON or text) of a plain HTTP request, to the dashboard's port
    unless `endpoint` says otherwise."""
    data = None if body is None else json.dumps(body).encode()
    base = endpoint or dashboard(server)
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            status, raw, got = r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        status, raw, got = e.code, e.read(), dict(e.headers)
    try:
        return status, got, json.loads(raw)
    except ValueError:
        return status, got, raw.decode(errors="replace")


CHANGE = {"Content-Type": "application/json", "X-Stratus-Dashboard": "1"}
KEYS = {"accessKeyId": ACCESS_KEY, "secretAccessKey": SECRET_KEY}


def http_login(server: Server) -> dict[str, str]:
    """The Cookie header of a session opened with the access key over plain HTTP."""
    status, headers, _ = http(server, "POST", API + "session", KEYS, CHANGE)
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/_stratus/ui/" in cookie  # not sent to the API port's function URLs
    return {"Cookie": cookie.split(";")[0]}


def test_data_endpoints_refuse_requests_without_a_session(srv: Server, fn: str) -> None:
    for path in ("functions", "metrics", "cost", "logs"):
        status, _, body = http(srv, "GET", API + path)
        assert status == 401, path
        assert body["__type"] == "UnauthorizedException" and "Log in" in body["message"]
    status, _, body = http(srv, "POST", API + "invoke", {"function": fn, "payload": "{}"}, CHANGE)
    assert status == 401 and body["__type"] == "UnauthorizedException"
    bogus = {"Cookie": "stratus_dashboard=not-a-session"}
    assert http(srv, "GET", API + "functions", headers=bogus)[0] == 401
    # The page itself is public: it shows the login form.
    status, headers, text = http(srv, "GET", "/_stratus/")
    assert status == 200 and "key-form" in text
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    # Stratus's own SigV4 endpoints stay as they were, on the API port.
    assert http(srv, "GET", "/_stratus/cost", endpoint=srv.endpoint)[0] == 403
    assert http(srv, "GET", "/_stratus/health", endpoint=srv.endpoint)[0] == 200


def test_login_over_http_bad_keys_csrf_and_logout(srv: Server) -> None:
    wrong = {**KEYS, "secretAccessKey": "x"}
    status, _, body = http(srv, "POST", API + "session", wrong, CHANGE)
    assert status == 403 and "wrong" in body["message"]
    status, _, body = http(srv, "POST", API + "session", {"token": "guess"}, CHANGE)
    assert status == 403 and "token" in body["message"]
    # Without the dashboard's header (a form posted from another site cannot add it): refused.
    assert http(srv, "POST", API + "session", KEYS, {"Content-Type": "application/json"})[0] == 403
    assert http(srv, "POST", API + "session", KEYS, {**CHANGE, "Origin": "http://evil.example"})[0] == 403
    session = http_login(srv)
    assert http(srv, "GET", API + "functions", headers=session)[0] == 200
    status, _, body = http(srv, "GET", API + "metrics?window=7y", headers=session)
    assert status == 400 and "window" in body["message"]
    assert http(srv, "DELETE", API + "session", {}, {**CHANGE, **session})[0] == 200
    assert http(srv, "GET", API + "functions", headers=session)[0] == 401


def test_login_form_refuses_a_wrong_key_and_takes_the_right_one(page: Any, srv: Server, fn: str) -> None:
    page.goto(f"{dashboard(srv)}/_stratus/")
    page.wait_for_selector("#login-view:not([hidden])")
    assert page.is_hidden("#dashboard-view")
    page.fill("#access-key-id", ACCESS_KEY)
    page.fill("#secret-access-key", "not-the-secret")
    page.click("#key-submit")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "wrong" in page.text_content("#login-error")
    assert page.is_hidden("#dashboard-view")
    page.fill("#secret-access-key", SECRET_KEY)
    page.click("#key-submit")
    page.wait_for_selector("#dashboard-view:not([hidden])")
    row = page.wait_for_selector(f'#functions-table tr[data-function="{fn}"]')
    assert "python3.11" in row.text_content() and "app.handler" in row.text_content()
    page.click("#logout")
    page.wait_for_selector("#login-view:not([hidden])")


def test_the_printed_link_logs_in_and_leaves_the_address_bar(page: Any, srv: Server) -> None:
    log_in(page, srv)
    assert "token" not in page.url
    # A stale link with an open session: the session counts.
    page.goto(f"{dashboard(srv)}/_stratus/?token=stale-token")
    page.wait_for_selector("#dashboard-view:not([hidden])")
    page.context.clear_cookies()
    page.goto(f"{dashboard(srv)}/_stratus/?token=stale-token")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "not this server's" in page.text_content("#login-error")


def test_charts_render_data_from_real_invocations(page: Any, srv: Server, fn: str) -> None:
    log_in(page, srv)
    page.select_option("#function-filter", fn)
    page.wait_for_function(
        "name => { const m = window.stratusDashboard.metrics;"
        " return m && m.function === name && m.totals.invocations >= 7; }",
        arg=fn,
    )
    totals = page.evaluate("window.stratusDashboard.metrics.totals")
    assert totals["errors"] >= 2 and totals["coldStarts"] >= 1
    assert totals["p50"] > 0 and totals["p99"] >= totals["p50"] and totals["concurrency"] >= 1
    assert page.locator(".uplot canvas").count() == 4
    # What the charts hold, as uPlot has it: the invocation series adds up to the totals.
    charted = page.evaluate(
        "Object.fromEntries(Object.entries(window.stratusDashboard.charts).map(([id, u]) =>"
        " [id, u.data.slice(1).map(s => s.reduce((a, v) => a + (v || 0), 0))]))"
    )
    assert charted["chart-invocations"][0] == totals["invocations"]
    assert charted["chart-invocations"][1] == totals["errors"]
    assert charted["chart-duration"][0] > 0 and charted["chart-cold"][0] >= 1
    assert int(page.text_content("#tile-invocations").replace(",", "")) == totals["invocations"]
    assert page.text_content("#tile-errors") == str(totals["errors"])
    cost_row = page.locator("#cost-table tbody tr", has_text=fn)
    assert cost_row.count() == 1 and "$" in cost_row.text_content()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "charts.png"), full_page=True)


def test_live_tail_shows_lines_logged_after_it_started(page: Any, srv: Server, fn: str) -> None:
    log_in(page, srv)
    page.wait_for_function("() => window.stratusDashboard.tail.polls >= 2")
    marker = f"tail-{uuid.uuid4().hex}"
    said = f'{marker} <b id="injected">not markup</b>'
    srv.client().invoke(FunctionName=fn, Payload=json.dumps({"say": said}).encode())
    line = page.locator("#tail .line", has_text=marker)
    line.wait_for(timeout=10000)
    assert said in line.text_content()
    assert page.locator("#injected").count() == 0  # log text is shown as text


def test_invoke_form_shows_results_errors_and_bad_json(page: Any, srv: Server, fn: str) -> None:
    log_in(page, srv)
    page.select_option("#invoke-function", fn)
    marker = f"form-{uuid.uuid4().hex[:8]}"
    page.fill("#invoke-payload", json.dumps({"say": marker}))
    page.click("#invoke-submit")
    page.wait_for_selector("#invoke-result:not([hidden])")
    assert "200" in page.text_content("#invoke-status") and "succeeded" in page.text_content("#invoke-status")
    assert json.loads(page.text_content("#invoke-response")) == {"echo": {"say": marker}}
    log = page.text_content("#invoke-log")
    assert marker in log and "REPORT RequestId" in log

    page.fill("#invoke-payload", '{"fail": true}')
    page.click("#invoke-submit")
    page.wait_for_function("() => document.querySelector('#invoke-status').textContent.includes('Unhandled')")
    assert json.loads(page.text_content("#invoke-response"))["errorType"] == "ValueError"

    page.fill("#invoke-payload", '{"broken": ')
    page.click("#invoke-submit")
    page.wait_for_selector("#invoke-error:not([hidden])")
    assert "not valid JSON" in page.text_content("#invoke-error")
    assert page.is_hidden("#invoke-result")
    # The server goes on serving, and the form with it.
    page.fill("#invoke-payload", "{}")
    page.click("#invoke-submit")
    page.wait_for_selector("#invoke-result:not([hidden])")
    assert page.is_hidden("#invoke-error")


def test_without_the_chart_library_the_page_says_so(page: Any, srv: Server) -> None:
    page.route("**/vendor/uPlot.iife.min.js", lambda route: route.abort())
    log_in(page, srv)
    page.wait_for_selector("#charts-missing:not([hidden])")
    assert "make install" in page.text_content("#charts-missing")
    assert page.text_content("#tile-invocations") != "–"  # the rest still works


def test_invoke_of_a_missing_function_is_a_clear_error(srv: Server) -> None:
    session = http_login(srv)
    missing = {"function": "nope", "payload": "{}"}
    status, _, body = http(srv, "POST", API + "invoke", missing, {**CHANGE, **session})
    assert status == 404 and body["__type"] == "ResourceNotFoundException"
    assert "Traceback" not in json.dumps(body)


def own_address() -> str | None:
    """One of this machine's non-loopback addresses (the one its routes would send from)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_the_start_token_works_only_from_this_machine(tmp_path: Path) -> None:
    address = own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to come from")
    srv = Server(tmp_path / "data", host="0.0.0.0").start()
    try:
        token = {"token": start_token(srv)}
        remote_endpoint = f"http://{address}:{dashboard_port(srv)}"
        request = urllib.request.Request(
            remote_endpoint + API + "session",
            data=json.dumps(token).encode(),
            method="POST",
            headers=CHANGE,
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403
        assert "only from this machine" in json.loads(refused.value.read())["message"]
        keys = urllib.request.Request(
            remote_endpoint + API + "session", data=json.dumps(KEYS).encode(), method="POST", headers=CHANGE
        )
        with urllib.request.urlopen(keys, timeout=30) as r:
            assert r.status == 200  # the access key works from anywhere
        assert http(srv, "POST", API + "session", token, CHANGE)[0] == 200  # from 127.0.0.1
    finally:
        srv.stop()


def test_fifty_wrong_logins_are_refused_and_the_right_one_works_after_the_wait(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data").start()  # a server of its own: the back-off is per server
    try:
        wrong = {**KEYS, "secretAccessKey": "guess"}
        statuses: list[int] = []
        retry_after: list[int] = []
        # Both ways in share one count: three guesses through the printed link, then the form.
        for _ in range(3):
            statuses.append(http(srv, "GET", "/_stratus/?token=guess")[0])
        for _ in range(47):
            status, headers, _ = http(srv, "POST", API + "session", wrong, CHANGE)
            statuses.append(status)
            if status == 429:
                retry_after.append(int(headers["Retry-After"]))
        assert statuses[:5] == [403] * 5  # five free tries
        checked, refused = statuses.count(403), statuses.count(429)
        assert checked + refused == 50
        # After the fifth failure each one doubles the wait (1 s, 2 s, 4 s ...), so only a run
        # slower than 31 s could have more than ten guesses checked.
        assert checked <= 10 and refused >= 40, statuses
        assert min(retry_after) >= 1
        # While the wait runs, the right secret is refused too, unread, on both ways in.
        status, headers, _ = http(srv, "POST", API + "session", KEYS, CHANGE)
        assert status == 429 and int(headers["Retry-After"]) >= 1
        status, _, body = http(srv, "GET", f"/_stratus/?token={start_token(srv)}")
        assert status == 429 and body["__type"] == "TooManyRequestsException"
        time.sleep(int(headers["Retry-After"]) + 0.5)  # the wait it announced, not a measurement
        http_login(srv)  # the right key is let in after the wait
        # A success clears this client's count: the next wrong guess is checked, not refused.
        assert http(srv, "POST", API + "session", wrong, CHANGE)[0] == 403
    finally:
        srv.stop()


def test_the_printed_link_logs_in_only_from_this_machine(tmp_path: Path) -> None:
    address = own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to come from")
    srv = Server(tmp_path / "data", host="0.0.0.0").start()
    try:
        link = f"/_stratus/?token={start_token(srv)}"
        remote = urllib.request.Request(f"http://{address}:{dashboard_port(srv)}{link}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(remote, timeout=30)
        assert refused.value.code == 403 and refused.value.headers.get("Set-Cookie") is None
        assert "only from this machine" in json.loads(refused.value.read())["message"]
        status, headers, _ = http(srv, "GET", link)  # from 127.0.0.1
        assert status == 200 and "Path=/_stratus/ui/" in headers["Set-Cookie"]
    finally:
        srv.stop()
