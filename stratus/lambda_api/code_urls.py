"""`Code.Location`: the link GetFunction returns to download a function's deployment package.

On AWS it is a presigned S3 URL, "valid for up to 10 minutes" (FunctionCodeLocation). Here it
is a path on the server's own port, signed statelessly: an HMAC over the package's key and the
link's expiry time, both in the URL, so any server holding the same root credentials (peers on
one store, or this one after a restart) can check it without storing anything. The HMAC key is
derived from the root secret for this one purpose, so a link never exposes, or is computed
with, the secret that signs API requests. A link past its expiry, or altered in any part, is
refused with a 403 in S3's XML error shape, as an expired presigned S3 URL is.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlencode
from xml.sax.saxutils import escape

PATH_PREFIX = "/_stratus/code/"
DEFAULT_TTL = 600.0  # seconds: Lambda's "valid for up to 10 minutes"
_PURPOSE = b"stratus/code-location/v1"


@dataclass(frozen=True)
class Refusal:
    """Why a download link is not honoured, as S3 words it."""

    code: str
    message: str

    def xml(self, request_id: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message>"
            f"<RequestId>{escape(request_id)}</RequestId></Error>"
        ).encode()


EXPIRED = Refusal("AccessDenied", "Request has expired")
MALFORMED = Refusal(
    "AccessDenied", "Query-string authentication requires the Signature and Expires parameters"
)
TAMPERED = Refusal(
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method.",
)


@lru_cache(maxsize=8)
def _link_key(root_secret: str) -> bytes:
    return hmac.new(root_secret.encode(), _PURPOSE, hashlib.sha256).digest()


def signature(root_secret: str, code_key: str, expires: int) -> str:
    message = f"{code_key}\n{expires}".encode()
    return hmac.new(_link_key(root_secret), message, hashlib.sha256).hexdigest()


def location(host: str, code_key: str, root_secret: str, ttl: float, now: float | None = None) -> str:
    """A download link for the package `code_key`, valid for `ttl` seconds from `now`."""
    expires = int((time.time() if now is None else now) + ttl)
    query = urlencode({"Expires": expires, "Signature": signature(root_secret, code_key, expires)})
    return f"http://{host}{PATH_PREFIX}{code_key}?{query}"


def check(
    code_key: str, expires: str | None, sig: str | None, root_secret: str, now: float
) -> Refusal | None:
    """None if the link is genuine and current, else why it is refused. Pure given `now`."""
    if not expires or not sig or not expires.isdigit() or len(expires) > 12:
        return MALFORMED
    # The signature first: an altered expiry is a forgery, not an expired link.
    if not hmac.compare_digest(sig.encode(), signature(root_secret, code_key, int(expires)).encode()):
        return TAMPERED
    if now > int(expires):
        return EXPIRED
    return None
