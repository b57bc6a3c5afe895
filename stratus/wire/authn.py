"""SigV4 verification of a request against the keys the server knows (the keyring: root, IAM
users' keys, STS sessions), held to the signing declaration of the service the request
reaches."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from aiohttp import web

from stratus.wire import sigv4
from stratus.wire.signing import Signing, reached

FORM = "application/x-www-form-urlencoded"


def verify(
    request: web.Request, body: bytes, keys: sigv4.KeyLookup, declarations: Iterable[Signing]
) -> sigv4.Identity:
    """The signer of an aiohttp request, held to the declaration (among `declarations`, the
    gateway's services) of the service the gateway routes it to; raises the AWS authentication
    error that fits."""
    signed = snapshot(
        request.method,
        request.raw_path.split("?", 1)[0],
        request.query.items(),
        request.headers.items(),
        body,
    )
    return _verify(signed, keys, expected(signed, declarations))


def verify_parts(
    method: str,
    raw_path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
    keys: sigv4.KeyLookup,
    *,
    expect: Signing,
) -> sigv4.Identity:
    """A request known by its parts, held to `expect`: the declaration of an endpoint that
    the gateway does not route (function URLs)."""
    return _verify(snapshot(method, raw_path, query, headers, body), keys, expect)


def snapshot(
    method: str,
    raw_path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> sigv4.SignedRequest:
    return sigv4.SignedRequest(
        method=method,
        raw_path=raw_path,
        query=tuple(query),
        headers={k.lower(): v for k, v in headers},
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


def _verify(signed: sigv4.SignedRequest, keys: sigv4.KeyLookup, expect: Signing | None) -> sigv4.Identity:
    return sigv4.verify(signed, keys, datetime.now(UTC), expect=expect)


def expected(signed: sigv4.SignedRequest, declarations: Iterable[Signing]) -> Signing | None:
    """The declaration of the service that the gateway routes `signed` to, if any."""
    scope = sigv4.signing_scope(signed)
    content_type = signed.headers.get("content-type", "").partition(";")[0].strip().lower()
    return reached(
        declarations,
        signed.raw_path,
        signed.headers.get("x-amz-target"),
        content_type == FORM,
        scope[1] if scope else None,
    )
