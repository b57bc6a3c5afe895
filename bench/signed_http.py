"""Invoking over one kept-alive HTTP connection, signed with botocore's SigV4: the platform's
cost without boto3's client-side overhead."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.common import ACCESS_KEY, REGION, SECRET_KEY


class SignedInvoker:
    def __init__(self, endpoint: str, name: str) -> None:
        self._url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
        parts = urlsplit(endpoint)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port)
        self._path = parts.path.rstrip("/") + urlsplit(self._url).path
        self._signed: dict[bytes, dict[str, str]] = {}

    def headers(self, payload: bytes) -> dict[str, str]:
        # Signed once per payload and reused: a signature stays valid for minutes, and this
        # keeps the client's signing cost out of what is measured.
        if payload not in self._signed:
            request = AWSRequest(method="POST", url=self._url, data=payload)
            SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
            self._signed[payload] = dict(request.headers)
        return self._signed[payload]

    def invoke(self, payload: bytes = b"{}") -> bytes:
        self._conn.request("POST", self._path, body=payload, headers=self.headers(payload))
        response = self._conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"invoke failed: {response.status} {body[:200]!r}")
        return body
