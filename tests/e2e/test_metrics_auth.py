"""Who may scrape /_stratus/metrics: a SigV4-signed request always; `Authorization: Bearer` with
STRATUS_METRICS_TOKEN when that is set; anyone only with STRATUS_METRICS_PUBLIC=1. Each way is
tried against the real server with invocations behind it, and so is each way of being refused."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, create

TOKEN = f"scrape-{uuid.uuid4().hex}"
APP: dict[str, str | bytes] = {"app.py": "def handler(event, context):\n    return 1\n"}


def scrape(server: Server, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(server.endpoint + "/_stratus/metrics", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def signed(server: Server, secret: str = SECRET_KEY) -> dict[str, str]:
    request = AWSRequest(method="GET", url=server.endpoint + "/_stratus/metrics")
    SigV4Auth(Credentials(ACCESS_KEY, secret), "lambda", REGION).add_auth(request)
    return dict(request.headers)


def invoked(server: Server) -> str:
    """A function invoked once, so that a scrape that gets through names it."""
    name = f"scraped-{uuid.uuid4().hex[:8]}"
    lam: Any = server.client()
    create(lam, name, APP)
    lam.invoke(FunctionName=name, Payload=b"{}")
    return f'stratus_invocations_total{{function="{name}"}} 1.0'


def test_by_default_only_signed_scrapes_are_answered(server: Server) -> None:
    line = invoked(server)
    status, text = scrape(server)
    assert status == 403 and "MissingAuthenticationToken" in text and line not in text
    status, text = scrape(server, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 403 and "No STRATUS_METRICS_TOKEN" in text and line not in text
    status, text = scrape(server, signed(server, secret="not-the-secret"))
    assert status == 403 and line not in text
    status, text = scrape(server, signed(server))
    assert status == 200 and line in text


def test_a_bearer_token_when_one_is_set(fresh_server: Any) -> None:
    srv = fresh_server(STRATUS_METRICS_TOKEN=TOKEN)
    line = invoked(srv)
    status, text = scrape(srv, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and line in text
    for wrong in (f"Bearer {TOKEN}x", "Bearer ", f"Bearer {TOKEN[:-1]}"):
        status, text = scrape(srv, {"Authorization": wrong})
        assert status == 403 and "not this server's" in text and line not in text
    status, text = scrape(srv)
    assert status == 403 and line not in text
    status, text = scrape(srv, signed(srv))  # SigV4 still works beside the token
    assert status == 200 and line in text


def test_public_only_when_asked_for(fresh_server: Any) -> None:
    srv = fresh_server(STRATUS_METRICS_PUBLIC="1")
    line = invoked(srv)
    status, text = scrape(srv)
    assert status == 200 and line in text


def test_a_guessable_token_stops_the_start(fresh_server: Any) -> None:
    with pytest.raises(RuntimeError, match="STRATUS_METRICS_TOKEN must be at least 16"):
        fresh_server(STRATUS_METRICS_TOKEN="short")
