"""SigV4 verification of a request against the server's credentials."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from aiohttp import web

from stratus.config import Credentials
from stratus.gateway import sigv4


def verify(request: web.Request, body: bytes, credentials: Credentials) -> sigv4.Identity:
    """The signer of an aiohttp request; raises the AWS authentication error that fits."""
    return verify_parts(
        request.method,
        request.raw_path.split("?", 1)[0],
        request.query.items(),
        request.headers.items(),
        body,
        credentials,
    )


def verify_parts(
    method: str,
    raw_path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes,
    credentials: Credentials,
) -> sigv4.Identity:
    """The same for a request known by its parts: decoded query pairs, headers in any case."""
    signed = sigv4.SignedRequest(
        method=method,
        raw_path=raw_path,
        query=tuple(query),
        headers={k.lower(): v for k, v in headers},
        body_sha256=hashlib.sha256(body).hexdigest(),
    )
    secrets = {credentials.access_key_id: credentials.secret_access_key}
    return sigv4.verify(signed, secrets, datetime.now(UTC))
