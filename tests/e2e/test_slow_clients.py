"""Slow clients against the real server (gateway/connections.py): stalled and dribbling
requests, stalled uploads, idle keep-alive connections and clients that do not read, on both
the switchboard's path and aiohttp's, with the deadlines shortened by settings. Waits are
bounded generously; nothing asserts how long anything took."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import Server, create

BOUND = 60.0  # far beyond every deadline set here: reaching it means a deadline did not hold
APP = """
def handler(event, context):
    size = int((event.get("queryStringParameters") or {}).get("size", "2"))
    return {"statusCode": 200, "body": "x" * size}
"""
PARTIAL_API = b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def with_url(srv: Server) -> str:
    """A function behind a NONE function URL on `srv`: the URL's path."""
    lam = srv.client("lambda")
    create(lam, "slow-clients", {"app.py": APP})
    url = str(lam.create_function_url_config(FunctionName="slow-clients", AuthType="NONE")["FunctionUrl"])
    return "/" + url.split("/", 3)[3]


def connect(srv: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=BOUND)


def closed_by_server(sock: socket.socket) -> bool:
    """Without waiting: has the server closed this connection?"""
    sock.settimeout(0)
    try:
        return sock.recv(65536, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def read_until_closed(sock: socket.socket, tick: Callable[[], None] | None = None) -> bytes:
    """Everything the server sends until it closes; `tick` runs every 0.3 s meanwhile (a
    dribbling client). Fails if the server has not closed within BOUND."""
    sock.settimeout(0.3)
    received = b""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if tick is not None:
                tick()
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server kept the connection open past {BOUND} s; got {received[:200]!r}")


def exchange_then_wait(sock: socket.socket, request: bytes) -> bytes:
    """Send a complete request, then read until the server closes."""
    sock.sendall(request)
    return read_until_closed(sock)


def test_stalled_connections_past_the_cap_leave_the_api_reachable(fresh_server: Any) -> None:
    """300 half-open requests against a cap of 50 (and a header timeout far away): the
    well-behaved client still gets its ListFunctions and Invoke answered, and the server closes
    stalled connections (the longest waiting first) so that at most 50 stay open."""
    srv = fresh_server(STRATUS_MAX_CONNECTIONS="50", STRATUS_HEADER_TIMEOUT="600")
    url_path = with_url(srv)
    lam = srv.client("lambda")
    stalled = []
    try:
        for i in range(300):
            sock = connect(srv)
            # Half of them stall inside a function URL's request line, half in an API request.
            sock.sendall(f"GET {url_path}".encode() if i % 2 else PARTIAL_API)
            stalled.append(sock)
        assert lam.list_functions()["Functions"][0]["FunctionName"] == "slow-clients"
        assert lam.invoke(FunctionName="slow-clients", Payload=b"{}")["StatusCode"] == 200
        deadline = time.monotonic() + BOUND
        while True:
            open_now = [not closed_by_server(s) for s in stalled]
            # At most the cap stays open, and the longest waiting were the ones closed.
            if sum(open_now) <= 50 and not any(open_now[:200]):
                break
            assert time.monotonic() < deadline, f"{sum(open_now)} stalled connections still open"
            time.sleep(0.2)
        assert sum(open_now) > 0, "the cap, not a timeout, closed them: the newest stay open"
    finally:
        for sock in stalled:
            sock.close()


def test_stalled_and_dribbled_headers_get_408_after_the_header_timeout(fresh_server: Any) -> None:
    """Bytes that keep arriving do not extend the header deadline, on either path; a connection
    that never sends a byte is closed without an answer."""
    srv = fresh_server(STRATUS_HEADER_TIMEOUT="2")
    url_path = with_url(srv)
    silent, stalled_url, stalled_api, dribbler = (connect(srv) for _ in range(4))
    with silent, stalled_url, stalled_api, dribbler:
        stalled_url.sendall(f"GET {url_path} HTTP/1.1\r\nHost: x\r\n".encode())
        stalled_api.sendall(PARTIAL_API)
        dribbler.sendall(b"GET /2015-03-31/functions/ HTTP/1.1\r\nX-Drip: ")
        assert read_until_closed(silent) == b""
        assert read_until_closed(stalled_url).startswith(b"HTTP/1.1 408 ")
        assert read_until_closed(stalled_api).startswith(b"HTTP/1.1 408 ")
        assert read_until_closed(dribbler, tick=lambda: dribbler.sendall(b"a")).startswith(b"HTTP/1.1 408 ")


def test_a_second_request_stalled_after_an_api_request_gets_408(fresh_server: Any) -> None:
    """aiohttp serves the connection after its first request; the deadline still holds."""
    srv = fresh_server(STRATUS_HEADER_TIMEOUT="2")
    with connect(srv) as sock:
        sock.sendall(b"GET /_stratus/health HTTP/1.1\r\nHost: x\r\n\r\n" + PARTIAL_API)
        received = read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 408 " in received


def test_stalled_uploads_are_closed_after_the_body_timeout(fresh_server: Any) -> None:
    srv = fresh_server(STRATUS_BODY_TIMEOUT="2")
    url_path = with_url(srv)
    to_url = f"POST {url_path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789".encode()
    to_api = b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"Fun"
    with connect(srv) as url_sock, connect(srv) as api_sock:
        url_sock.sendall(to_url)
        api_sock.sendall(to_api)
        assert read_until_closed(url_sock).startswith(b"HTTP/1.1 408 ")
        # aiohttp is already reading the request: the connection is closed without an answer.
        assert read_until_closed(api_sock) == b""


def test_idle_keep_alive_connections_are_closed_after_the_idle_timeout(fresh_server: Any) -> None:
    srv = fresh_server(STRATUS_IDLE_CONNECTION_TIMEOUT="2")
    url_path = with_url(srv)
    with connect(srv) as lean, connect(srv) as api:
        answer = exchange_then_wait(lean, f"GET {url_path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"\r\n\r\nxx")
        answer = exchange_then_wait(api, b"GET /_stratus/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.count(b"HTTP/1.1") == 1


def test_a_client_that_does_not_read_its_answer_is_reset(fresh_server: Any) -> None:
    """A 5 MB answer that the client never reads: once the server's send buffer has stayed
    full for the body timeout, the server resets the connection (freeing what it and the
    kernel hold for it). The client sees the reset without reading a byte."""
    srv = fresh_server(STRATUS_BODY_TIMEOUT="2")
    url_path = with_url(srv)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", srv.port))
    with sock:
        sock.sendall(f"GET {url_path}?size={5 * 1024 * 1024} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        deadline = time.monotonic() + BOUND
        while (error := sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)) == 0:
            assert time.monotonic() < deadline, "the server kept the answer for a client that does not read"
            time.sleep(0.2)
        assert error == errno.ECONNRESET


def test_well_behaved_clients_keep_their_connections(fresh_server: Any) -> None:
    """The deadlines close only what waits on its client: an invoke longer than every
    deadline is answered on its connection."""
    srv = fresh_server(
        STRATUS_HEADER_TIMEOUT="1", STRATUS_IDLE_CONNECTION_TIMEOUT="1", STRATUS_BODY_TIMEOUT="1"
    )
    lam = srv.client("lambda")
    sleeper = "import time\ndef handler(e, c):\n    time.sleep(3)\n    return 'woke'\n"
    create(lam, "sleeper", {"app.py": sleeper}, Timeout=10)
    lam.get_waiter("function_active_v2").wait(FunctionName="sleeper")
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(lam.invoke(FunctionName="sleeper")))
    thread.start()
    thread.join(BOUND)
    assert results and results[0]["Payload"].read() == b'"woke"'
