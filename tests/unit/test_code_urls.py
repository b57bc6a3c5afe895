"""Code.Location links: signed statelessly, expiring, refused when altered."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

from stratus.lambda_api import code_urls

SECRET = "test-secret-key-0123456789abcdefghijklmn"
KEY = "ab" * 32
NOW = 1_800_000_000.0


def parts(url: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(url)
    return split.path, dict(parse_qsl(split.query))


def test_a_link_is_valid_for_its_ttl_and_no_longer() -> None:
    path, query = parts(code_urls.location("127.0.0.1:9000", KEY, SECRET, 600, now=NOW))
    assert path == f"/_stratus/code/{KEY}"
    assert int(query["Expires"]) == NOW + 600
    assert code_urls.check(KEY, query["Expires"], query["Signature"], SECRET, NOW) is None
    assert code_urls.check(KEY, query["Expires"], query["Signature"], SECRET, NOW + 600) is None
    assert code_urls.check(KEY, query["Expires"], query["Signature"], SECRET, NOW + 601) is code_urls.EXPIRED


def test_altered_links_are_refused() -> None:
    _, query = parts(code_urls.location("h", KEY, SECRET, 600, now=NOW))
    expires, sig = query["Expires"], query["Signature"]
    later = str(int(expires) + 3600)
    assert code_urls.check(KEY, later, sig, SECRET, NOW) is code_urls.TAMPERED  # extended expiry
    assert code_urls.check("cd" * 32, expires, sig, SECRET, NOW) is code_urls.TAMPERED  # other package
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    assert code_urls.check(KEY, expires, flipped, SECRET, NOW) is code_urls.TAMPERED
    assert code_urls.check(KEY, expires, sig, SECRET + "x", NOW) is code_urls.TAMPERED  # other server
    for bad_expires, bad_sig in ((None, sig), (expires, None), ("-1", sig), ("1e9", sig), ("9" * 20, sig)):
        assert code_urls.check(KEY, bad_expires, bad_sig, SECRET, NOW) is code_urls.MALFORMED


def test_the_link_is_not_signed_with_the_root_secret_itself() -> None:
    _, query = parts(code_urls.location("h", KEY, SECRET, 600, now=NOW))
    message = f"{KEY}\n{query['Expires']}".encode()
    assert query["Signature"] != hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert SECRET not in code_urls.location("h", KEY, SECRET, 600, now=NOW)


def test_refusals_are_s3_error_xml() -> None:
    body = code_urls.EXPIRED.xml("REQ1").decode()
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "<Code>AccessDenied</Code><Message>Request has expired</Message>" in body
    assert "<Code>SignatureDoesNotMatch</Code>" in code_urls.TAMPERED.xml("R").decode()
