"""AWS Signature Version 4 verification, as pure functions over a request snapshot.

The server recomputes the signature the client must have made and compares in constant time.
Both forms exist: the `Authorization` header, and presigned query strings where the service
reached declares them acceptable (`signing.Signing`). Outside S3 the body's SHA-256 is always
part of what is signed, whatever `x-amz-content-sha256` claims, so a captured signature cannot
carry another body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote, unquote

from stratus.errors import (
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)
from stratus.wire.signing import Signing

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN = timedelta(days=7)
# Values of x-amz-content-sha256 that do not claim a digest of the body. Only S3 defines them.
UNSIGNED_CONTENT = ("UNSIGNED-PAYLOAD", "STREAMING-")
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-"


@dataclass(frozen=True)
class SignedRequest:
    """What the verifier needs of an HTTP request, with the path still percent-encoded."""

    method: str
    raw_path: str
    query: tuple[tuple[str, str], ...]  # decoded pairs, in order received
    headers: dict[str, str]  # lower-cased names
    body_sha256: str  # hex digest of the body as received


@dataclass(frozen=True)
class Identity:
    access_key_id: str
    region: str
    service: str
    # Who holds the key, as the key lookup named it (identity.keyring.Caller for the gateway).
    caller: object = None


# The secret of an access key (with the request's session token, for temporary credentials)
# and who holds it; raises the AWS error for a key it does not know, or a token expired.
KeyLookup = Callable[[str, "str | None"], tuple[str, object]]


@dataclass(frozen=True)
class _AuthParts:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str
    presigned: bool


def fixed_keys(secrets: dict[str, str]) -> KeyLookup:
    """A lookup of a fixed set of key pairs, each held by its own key id."""

    def lookup(access_key_id: str, token: str | None) -> tuple[str, object]:
        secret = secrets.get(access_key_id)
        if secret is None:
            raise UnrecognizedClient("The security token included in the request is invalid.")
        return secret, access_key_id

    return lookup


@dataclass(frozen=True)
class StreamKey:
    """What verifying the chunks of an S3 aws-chunked body needs from the request's own
    signature: each chunk's signature is chained from the one before, starting at `seed`."""

    signing_key: bytes
    stamp: str  # X-Amz-Date
    scope: str  # DATE/REGION/s3/aws4_request
    seed: str  # the request's signature


def verify(req: SignedRequest, keys: KeyLookup, now: datetime, *, expect: Signing | None) -> Identity:
    """Return who signed `req`, or raise the error AWS would answer with.

    `expect` is the declaration of the service the request reaches: the credential scope must
    name that service, and a presigned request must be one it accepts presigned. None means
    the request reaches no service (it will be answered 404): only the signature is checked,
    and presigned requests are refused."""
    return _verify(req, keys, now, expect, streaming=False)[0]


def verify_head(
    req: SignedRequest, keys: KeyLookup, now: datetime, *, expect: Signing
) -> tuple[Identity, StreamKey]:
    """S3's check before its body is read: `req.body_sha256` is the digest the client claims
    (x-amz-content-sha256, or UNSIGNED-PAYLOAD for a presigned request), which the signature
    covers; the caller must hold the body to that claim as it streams (the S3 front does), or
    verify each aws-chunked chunk from the returned key."""
    identity, parts, secret = _verify(req, keys, now, expect, streaming=True)
    scope = f"{parts.date}/{parts.region}/{parts.service}/aws4_request"
    key = _signing_key(secret, parts.date, parts.region, parts.service)
    return identity, StreamKey(key, parts.amz_date.partition("|")[0], scope, parts.signature)


def _verify(
    req: SignedRequest, keys: KeyLookup, now: datetime, expect: Signing | None, *, streaming: bool
) -> tuple[Identity, _AuthParts, str]:
    parts = _parse_auth(req)
    _check_scope(req, parts, expect)
    token = req.headers.get("x-amz-security-token") or dict(req.query).get("X-Amz-Security-Token")
    secret, caller = keys(parts.access_key_id, token)
    _check_time(parts, now)
    claimed = req.headers.get("x-amz-content-sha256")
    _check_payload_claim(claimed, parts.service, streaming)
    if claimed and not claimed.startswith(UNSIGNED_CONTENT) and claimed != req.body_sha256:
        # The signature covers the claimed digest; the body must match it.
        raise InvalidSignature("The provided 'x-amz-content-sha256' header does not match what was computed.")
    expected = signature(req, parts, secret)
    if not hmac.compare_digest(expected, parts.signature):
        raise InvalidSignature(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details."
        )
    return Identity(parts.access_key_id, parts.region, parts.service, caller), parts, secret


def _check_scope(req: SignedRequest, parts: _AuthParts, expect: Signing | None) -> None:
    if expect is not None and parts.service != expect.name:
        # AWS's own wording, so that tools which recognise it explain it.
        raise InvalidSignature(
            f"Credential should be scoped to correct service: '{expect.name}'. "
            f"The request was signed for '{parts.service}'."
        )
    if parts.presigned and (expect is None or not expect.presigned(req.method, req.raw_path)):
        where = f"the {expect.name} service" if expect else "this resource"
        raise InvalidSignature(
            f"Presigned (query-string) authentication is not accepted by {where} for "
            f"{req.method} {req.raw_path}: sign the request with an Authorization header."
        )


def _check_payload_claim(claimed: str | None, service: str, streaming: bool) -> None:
    if not claimed or not claimed.startswith(UNSIGNED_CONTENT):
        return
    if service != "s3":
        raise InvalidSignature(
            f"x-amz-content-sha256 '{claimed}' is accepted only by Amazon S3; requests to "
            f"{service} must sign the SHA-256 of their body."
        )
    if claimed.startswith(STREAMING) and not streaming:
        # Each chunk of an aws-chunked body carries a signature of its own, chained to this
        # one: only the S3 front (verify_head, then buckets/chunked.py) verifies them; anywhere
        # else such a body would be unauthenticated.
        raise InvalidSignature(
            f"x-amz-content-sha256 '{claimed}' (chunked payload signing) is not supported by "
            "this server: sign the SHA-256 of the body or use UNSIGNED-PAYLOAD."
        )


def signing_scope(req: SignedRequest) -> tuple[str, str] | None:
    """(region, service) named by the credential scope, without verifying; None if unsigned."""
    try:
        parts = _parse_auth(req)
    except Exception:
        return None
    return parts.region, parts.service


def _parse_auth(req: SignedRequest) -> _AuthParts:
    header = req.headers.get("authorization")
    if header is not None:
        return _parse_header(header, req)
    query = dict(req.query)
    if query.get("X-Amz-Algorithm") == ALGORITHM:
        return _parse_query(query)
    raise MissingAuthenticationToken("Missing Authentication Token")


def _parse_header(header: str, req: SignedRequest) -> _AuthParts:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise InvalidSignature(f"Unsupported authorization algorithm: {algorithm or 'none'}")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            fields[key] = value
    try:
        credential = fields["Credential"]
        signed_headers = fields["SignedHeaders"]
        sig = fields["Signature"]
    except KeyError as missing:
        raise InvalidSignature(f"Authorization header requires '{missing.args[0]}' parameter.") from None
    amz_date = req.headers.get("x-amz-date") or ""
    if not amz_date:
        raise InvalidSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    return _auth_parts(credential, signed_headers, sig, amz_date, presigned=False)


def _parse_query(query: dict[str, str]) -> _AuthParts:
    try:
        return _auth_parts(
            query["X-Amz-Credential"],
            query["X-Amz-SignedHeaders"],
            query["X-Amz-Signature"],
            query["X-Amz-Date"],
            presigned=True,
            expires=query.get("X-Amz-Expires"),
        )
    except KeyError as missing:
        raise InvalidSignature(f"Query-string authentication requires '{missing.args[0]}'.") from None


def _auth_parts(
    credential: str,
    signed_headers: str,
    sig: str,
    amz_date: str,
    *,
    presigned: bool,
    expires: str | None = None,
) -> _AuthParts:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
        raise UnrecognizedClient("The security token included in the request is invalid.")
    key, date, region, service, _ = scope
    if presigned and expires is not None:
        amz_date = amz_date + "|" + expires
    return _AuthParts(key, date, region, service, tuple(signed_headers.split(";")), sig, amz_date, presigned)


def _check_time(parts: _AuthParts, now: datetime) -> None:
    stamp, _, expires = parts.amz_date.partition("|")
    when = _parse_amz_date(stamp)
    if stamp[:8] != parts.date:
        raise InvalidSignature("Credential date does not match X-Amz-Date.")
    if parts.presigned and expires:
        try:
            limit = timedelta(seconds=int(expires))
        except ValueError:
            raise InvalidSignature("X-Amz-Expires must be a whole number of seconds.") from None
        if limit > MAX_PRESIGN or limit.total_seconds() < 1:
            raise InvalidSignature("X-Amz-Expires must be between 1 and 604800 seconds.")
        if when - now > MAX_SKEW:
            raise InvalidSignature("The presigned request is dated in the future.")
        if now > when + limit:
            raise InvalidSignature("Signature expired: the presigned request has expired.")
        return
    if abs(now - when) > MAX_SKEW:
        raise InvalidSignature(
            f"Signature expired: {stamp} is now earlier or later than the allowed 15 minutes "
            f"of {now.strftime('%Y%m%dT%H%M%SZ')}."
        )


def _parse_amz_date(stamp: str) -> datetime:
    # strptime is slow enough to show in a warm invoke's profile; the format is fixed.
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
        raise InvalidSignature(f"Invalid X-Amz-Date: {stamp!r}")
    try:
        return datetime(
            int(stamp[0:4]),
            int(stamp[4:6]),
            int(stamp[6:8]),
            int(stamp[9:11]),
            int(stamp[11:13]),
            int(stamp[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        raise InvalidSignature(f"Invalid X-Amz-Date: {stamp!r}") from None


def signature(req: SignedRequest, parts: _AuthParts, secret: str) -> str:
    creq = canonical_request(req, parts.signed_headers, parts.service, parts.presigned)
    scope = f"{parts.date}/{parts.region}/{parts.service}/aws4_request"
    stamp = parts.amz_date.partition("|")[0]
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(creq.encode()).hexdigest()])
    key = _signing_key(secret, parts.date, parts.region, parts.service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def canonical_request(
    req: SignedRequest, signed_headers: tuple[str, ...], service: str, presigned: bool
) -> str:
    headers = []
    for name in signed_headers:
        value = req.headers.get(name, "")
        headers.append(f"{name}:{' '.join(value.split())}\n")
    query = [(k, v) for k, v in req.query if not (presigned and k == "X-Amz-Signature")]
    payload = req.body_sha256
    if service == "s3":
        # S3 alone lets the client state the payload hash (or UNSIGNED-PAYLOAD); for every
        # other service the body itself is hashed, as botocore signs it.
        payload = UNSIGNED_PAYLOAD if presigned else req.headers.get("x-amz-content-sha256") or payload
    return "\n".join(
        [
            req.method,
            canonical_uri(req.raw_path, service),
            canonical_query(query),
            "".join(headers),
            ";".join(signed_headers),
            payload,
        ]
    )


def canonical_uri(raw_path: str, service: str) -> str:
    """S3 signs the path as sent; every other service signs it percent-encoded once more."""
    path = raw_path or "/"
    if service == "s3":
        return quote(unquote(path), safe="/~")
    return quote(path, safe="/~")


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
