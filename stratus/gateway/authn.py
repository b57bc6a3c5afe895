"""SigV4 verification of an aiohttp request against the server's credentials."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from aiohttp import web

from stratus.config import Credentials
from stratus.gateway import sigv4


def verify(request: web.Request, body: bytes, credentials: Credentials) -> sigv4.Identity:
    """The signer's identity; raises the AWS authentication error that fits."""
    signed = sigv4.SignedRequest(
        method=request.method,
        raw_path=request.raw_path.split("?", 1)[0],
        query=tuple((k, v) for k, v in request.query.items()),
        headers={k.lower(): v for k, v in request.headers.items()},
        body_sha256=hashlib.sha256(body).hexdigest(),
    )
    secrets = {credentials.access_key_id: credentials.secret_access_key}
    return sigv4.verify(signed, secrets, datetime.now(UTC))
