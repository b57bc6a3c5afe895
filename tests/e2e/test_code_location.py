"""GetFunction's Code.Location against the real server: the link downloads the package while
it is current and genuine; altered or expired links get S3's 403 XML."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

import pytest

from stratus.lambda_api import code_urls
from tests.e2e.conftest import SECRET_KEY, Server, create, make_zip

FILES = {"app.py": "def handler(event, context):\n    return 'code-location'\n"}


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def refused(url: str, code: str) -> str:
    status, body = fetch(url)
    assert status == 403, (status, body[:200])
    error = ElementTree.fromstring(body)
    assert error.tag == "Error"
    assert error.findtext("Code") == code, body
    return error.findtext("Message") or ""


def with_query(url: str, **changes: str | None) -> str:
    split = urlsplit(url)
    query = dict(parse_qsl(split.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(split._replace(query=urlencode(query)))


@pytest.fixture(scope="module")
def location(server: Server) -> str:
    lam = server.client("lambda")
    create(lam, "code-location-fn", FILES)
    return str(lam.get_function(FunctionName="code-location-fn")["Code"]["Location"])


def test_the_link_downloads_the_package(location: str) -> None:
    status, body = fetch(location)
    assert status == 200
    assert body == make_zip(FILES)


def test_the_link_expires_after_lambdas_ten_minutes(location: str) -> None:
    expires = int(dict(parse_qsl(urlsplit(location).query))["Expires"])
    assert 540 <= expires - time.time() <= 601


def test_tampered_links_are_refused(location: str) -> None:
    query = dict(parse_qsl(urlsplit(location).query))
    sig, expires = query["Signature"], query["Expires"]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    refused(with_query(location, Signature=flipped), "SignatureDoesNotMatch")
    # Pushing the expiry out is a forgery too.
    refused(with_query(location, Expires=str(int(expires) + 86400)), "SignatureDoesNotMatch")
    # The same signature for another package.
    other = location.replace(urlsplit(location).path, "/_stratus/code/" + "0" * 64)
    refused(other, "SignatureDoesNotMatch")
    refused(with_query(location, Signature=None), "AccessDenied")
    refused(with_query(location, Expires=None, Signature=None, token="0" * 32), "AccessDenied")


def test_an_expired_link_is_refused(location: str) -> None:
    # Signed exactly as the server signs, with the server's secret, but ten minutes ago.
    split = urlsplit(location)
    key = split.path.rsplit("/", 1)[1]
    stale = code_urls.location(split.netloc, key, SECRET_KEY, ttl=0, now=time.time() - 600)
    assert refused(stale, "AccessDenied") == "Request has expired"
    fresh = code_urls.location(split.netloc, key, SECRET_KEY, ttl=60)
    assert fetch(fresh)[0] == 200  # the same signing, current, works


def test_the_lifetime_is_a_setting(fresh_server: Any) -> None:
    srv = fresh_server(STRATUS_CODE_URL_TTL="30")
    lam = srv.client("lambda")
    create(lam, "short-lived-link", FILES)
    link = lam.get_function(FunctionName="short-lived-link")["Code"]["Location"]
    expires = int(dict(parse_qsl(urlsplit(link).query))["Expires"])
    assert 0 < expires - time.time() <= 31
    assert fetch(link)[0] == 200
