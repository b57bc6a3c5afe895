"""SigV4 verification against signatures made by botocore itself."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stratus.errors import InvalidSignature, MissingAuthenticationToken, UnrecognizedClient
from stratus.wire.signing import Signing, always, reached
from stratus.wire.sigv4 import Identity, SignedRequest, fixed_keys, signing_scope, verify

KEY = "AKSTTESTKEY000000001"
SECRET = "test-secret-key-0123456789abcdefghijklmn"
SECRETS = {KEY: SECRET}
REGION = "us-east-1"
ENDPOINT = "http://127.0.0.1:9000"
INVOKE_PATH = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/invocations"


def snapshot(request: AWSRequest) -> SignedRequest:
    """What the gateway builds from the request as it arrives on the wire."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers.setdefault("host", url.netloc)  # the HTTP client adds Host
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return SignedRequest(
        method=prepared.method,
        raw_path=url.path,
        query=tuple(parse_qsl(url.query, keep_blank_values=True)),
        headers=headers,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


def signed_at(req: SignedRequest) -> datetime:
    stamp = req.headers.get("x-amz-date") or dict(req.query)["X-Amz-Date"]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def sign(
    method: str,
    path: str,
    *,
    service: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    region: str = REGION,
    key: str = KEY,
    secret: str = SECRET,
) -> SignedRequest:
    request = AWSRequest(method=method, url=ENDPOINT + path, data=body, headers=headers or {})
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials(key, secret), service, region).add_auth(request)
    return snapshot(request)


def presign(path: str, *, service: str = "s3", expires: int = 60, method: str = "GET") -> SignedRequest:
    request = AWSRequest(method=method, url=ENDPOINT + path)
    signer = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
    signer(Credentials(KEY, SECRET), service, REGION, expires=expires).add_auth(request)
    return snapshot(request)


def lambda_invoke(body: bytes = b'{"x": 1}', **kw: str) -> SignedRequest:
    return sign(
        "POST",
        INVOKE_PATH + "?Qualifier=%24LATEST",
        service="lambda",
        body=body,
        headers={"Content-Type": "application/json"},
        **kw,
    )


def logs_request(body: bytes | None = None) -> SignedRequest:
    body = body or json.dumps({"logGroupNamePrefix": "/aws/lambda/"}).encode()
    return sign(
        "POST",
        "/",
        service="logs",
        body=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
        },
        region="eu-west-1",
    )


def s3_put(body: bytes = b"hello world") -> SignedRequest:
    return sign("PUT", "/bucket/dir/a%20b%2Bc%21.txt", service="s3", body=body)


# Declarations as services make them: S3 objects may be presigned, the others may not.
DECLARED = {
    "lambda": Signing("lambda"),
    "logs": Signing("logs"),
    "s3": Signing("s3", presigned=lambda method, path: method in ("GET", "PUT", "HEAD")),
}


def check(req: SignedRequest, now: datetime | None = None, expect: Signing | None = None) -> Identity:
    """Verify `req` as the service it was signed for would (or as `expect`)."""
    if expect is None:
        scope = signing_scope(req)
        expect = DECLARED[scope[1]] if scope else None
    return verify(req, fixed_keys(SECRETS), now or signed_at(req), expect=expect)


# -- accepted --------------------------------------------------------------------------------


def test_lambda_request_with_encoded_path_and_query() -> None:
    req = lambda_invoke()
    assert req.raw_path == INVOKE_PATH
    assert req.query == (("Qualifier", "$LATEST"),)
    assert check(req) == Identity(KEY, REGION, "lambda", KEY)


def test_lambda_get_without_body() -> None:
    req = sign("GET", "/2015-03-31/functions/my-fn", service="lambda")
    assert check(req) == Identity(KEY, REGION, "lambda", KEY)


def test_lambda_query_with_several_parameters() -> None:
    req = sign("GET", "/2015-03-31/functions/?MaxItems=5&Marker=a%2Fb%20c", service="lambda")
    assert dict(req.query) == {"MaxItems": "5", "Marker": "a/b c"}
    assert check(req).service == "lambda"


def test_logs_json_post() -> None:
    assert check(logs_request()) == Identity(KEY, "eu-west-1", "logs", KEY)


def test_s3_path_is_not_encoded_twice() -> None:
    req = s3_put()
    assert req.raw_path == "/bucket/dir/a%20b%2Bc%21.txt"
    assert "x-amz-content-sha256" in req.headers
    assert check(req) == Identity(KEY, REGION, "s3", KEY)


def test_s3_presigned_url() -> None:
    req = presign("/bucket/dir/a%20b%2Bc.txt", expires=60)
    assert "authorization" not in req.headers
    assert check(req) == Identity(KEY, REGION, "s3", KEY)


def test_presigned_url_where_the_service_declares_it() -> None:
    # Lambda accepts presigned SigV4 on AWS_IAM function URLs; the body's digest is signed.
    req = presign("/_stratus/url/abc/", service="lambda", expires=300)
    assert check(req, expect=Signing("lambda", presigned=always)) == Identity(KEY, REGION, "lambda", KEY)


def test_verify_against_several_known_keys() -> None:
    req = lambda_invoke(key="AKOTHER", secret="other-secret")
    found = verify(
        req, fixed_keys({**SECRETS, "AKOTHER": "other-secret"}), signed_at(req), expect=DECLARED["lambda"]
    )
    assert found.access_key_id == "AKOTHER"


def test_signing_scope_without_verifying() -> None:
    assert signing_scope(logs_request()) == ("eu-west-1", "logs")
    unsigned = dataclasses.replace(lambda_invoke(), headers={"host": "x"})
    assert signing_scope(unsigned) is None


def test_skew_within_15_minutes_is_accepted() -> None:
    req = lambda_invoke()
    at = signed_at(req)
    assert check(req, at + timedelta(minutes=14, seconds=59)).service == "lambda"
    assert check(req, at - timedelta(minutes=14, seconds=59)).service == "lambda"


# -- refused ---------------------------------------------------------------------------------


def test_wrong_secret() -> None:
    with pytest.raises(InvalidSignature):
        check(lambda_invoke(secret="not-the-secret"))


def test_unknown_access_key() -> None:
    with pytest.raises(UnrecognizedClient):
        check(lambda_invoke(key="AKUNKNOWN"))


def test_missing_authorization() -> None:
    req = lambda_invoke()
    headers = {k: v for k, v in req.headers.items() if k != "authorization"}
    with pytest.raises(MissingAuthenticationToken):
        check(dataclasses.replace(req, headers=headers))


def test_unsupported_algorithm() -> None:
    req = lambda_invoke()
    headers = {**req.headers, "authorization": "AWS AKID:abc"}
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, headers=headers))


def test_malformed_credential_scope() -> None:
    req = lambda_invoke()
    auth = req.headers["authorization"].replace("/aws4_request", "/aws5_request")
    with pytest.raises(UnrecognizedClient):
        check(dataclasses.replace(req, headers={**req.headers, "authorization": auth}))


def test_missing_x_amz_date() -> None:
    req = lambda_invoke()
    headers = {k: v for k, v in req.headers.items() if k != "x-amz-date"}
    with pytest.raises(InvalidSignature):
        verify(
            dataclasses.replace(req, headers=headers),
            fixed_keys(SECRETS),
            signed_at(req),
            expect=DECLARED["lambda"],
        )


@pytest.mark.parametrize("skew", [timedelta(minutes=15, seconds=1), -timedelta(minutes=15, seconds=1)])
def test_date_skew_over_15_minutes(skew: timedelta) -> None:
    req = lambda_invoke()
    with pytest.raises(InvalidSignature, match="Signature expired"):
        check(req, signed_at(req) + skew)


@pytest.mark.parametrize("make", [lambda_invoke, logs_request, s3_put], ids=["lambda", "logs", "s3"])
def test_tampered_body(make: Callable[[], SignedRequest]) -> None:
    # For s3 the payload hash travels in the signed x-amz-content-sha256 header; the body that
    # arrived must still be checked against it.
    req = make()
    tampered = dataclasses.replace(req, body_sha256=hashlib.sha256(b'{"x": 2}').hexdigest())
    with pytest.raises(InvalidSignature):
        check(tampered)


def test_content_sha256_header_must_match_the_body() -> None:
    body = b'{"x": 1}'
    req = sign(
        "POST",
        INVOKE_PATH,
        service="lambda",
        body=body,
        headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()},
    )
    assert check(req).service == "lambda"
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, body_sha256=hashlib.sha256(b"something else").hexdigest()))


def test_tampered_path() -> None:
    req = lambda_invoke()
    tampered = dataclasses.replace(req, raw_path=INVOKE_PATH.replace("function%3Af", "function%3Ag"))
    with pytest.raises(InvalidSignature):
        check(tampered)


def test_path_decoded_by_a_proxy_does_not_verify() -> None:
    req = lambda_invoke()
    decoded = dataclasses.replace(req, raw_path=INVOKE_PATH.replace("%3A", ":"))
    with pytest.raises(InvalidSignature):
        check(decoded)


def test_tampered_query() -> None:
    req = lambda_invoke()
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, query=(("Qualifier", "1"),)))


def test_tampered_method() -> None:
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(lambda_invoke(), method="PUT"))


def test_tampered_signed_header() -> None:
    req = lambda_invoke()
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, headers={**req.headers, "content-type": "text/plain"}))


def test_tampered_target_header() -> None:
    req = logs_request()
    headers = {**req.headers, "x-amz-target": "Logs_20140328.DeleteLogGroup"}
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, headers=headers))


def test_unsigned_header_may_change() -> None:
    req = lambda_invoke()
    assert check(dataclasses.replace(req, headers={**req.headers, "user-agent": "other"})).service == "lambda"


def test_region_in_scope_is_signed() -> None:
    req = lambda_invoke()
    auth = req.headers["authorization"].replace("/us-east-1/", "/us-west-2/")
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, headers={**req.headers, "authorization": auth}))


def test_presigned_url_expiry() -> None:
    req = presign("/bucket/key.txt", expires=60)
    at = signed_at(req)
    assert check(req, at + timedelta(seconds=60)).service == "s3"
    with pytest.raises(InvalidSignature, match="expired"):
        check(req, at + timedelta(seconds=61))


def test_presigned_url_valid_past_15_minutes_when_expires_allows() -> None:
    req = presign("/bucket/key.txt", expires=3600)
    assert check(req, signed_at(req) + timedelta(minutes=59)).service == "s3"


def test_presigned_expires_is_signed() -> None:
    req = presign("/bucket/key.txt", expires=60)
    query = tuple((k, "3600" if k == "X-Amz-Expires" else v) for k, v in req.query)
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, query=query), signed_at(req) + timedelta(seconds=30))


def test_presigned_wrong_signature() -> None:
    req = presign("/bucket/key.txt")
    query = tuple((k, "0" * 64 if k == "X-Amz-Signature" else v) for k, v in req.query)
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, query=query))


def test_presigned_missing_parameter() -> None:
    req = presign("/bucket/key.txt")
    query = tuple((k, v) for k, v in req.query if k != "X-Amz-Signature")
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, query=query))


def test_presigned_tampered_path() -> None:
    req = presign("/bucket/key.txt")
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(req, raw_path="/bucket/other.txt"))


# -- held to the service the request reaches ---------------------------------------------------


@pytest.mark.parametrize(
    ("make", "reached"),
    [
        (lambda: sign("GET", "/2015-03-31/functions/f", service="s3"), "lambda"),
        (lambda: sign("GET", "/2015-03-31/functions/f", service="logs"), "lambda"),
        (logs_request, "events"),
        (lambda_invoke, "monitoring"),
    ],
    ids=["s3-to-lambda", "logs-to-lambda", "logs-to-events", "lambda-to-monitoring"],
)
def test_a_signature_for_another_service_is_refused(make: Callable[[], SignedRequest], reached: str) -> None:
    req = make()
    scoped = f"Credential should be scoped to correct service: '{reached}'"
    with pytest.raises(InvalidSignature, match=scoped):
        check(req, expect=Signing(reached))


def test_no_declaration_checks_only_the_signature() -> None:
    req = sign("GET", "/_stratus/cost", service="logs")
    assert verify(req, fixed_keys(SECRETS), signed_at(req), expect=None).service == "logs"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/2015-03-31/functions/f", "lambda"),
        (INVOKE_PATH, "lambda"),
        ("/", "logs"),
        ("/v2/apis", "apigateway"),
    ],
)
def test_presigned_requests_are_refused_where_not_declared(path: str, service: str) -> None:
    req = presign(path, service=service, expires=300, method="POST")
    with pytest.raises(InvalidSignature, match="Presigned"):
        check(req, expect=Signing(service))
    with pytest.raises(InvalidSignature, match="Presigned"):
        verify(req, fixed_keys(SECRETS), signed_at(req), expect=None)


def test_s3_declaration_decides_which_requests_may_be_presigned() -> None:
    assert check(presign("/bucket/key.txt", method="PUT")).service == "s3"
    with pytest.raises(InvalidSignature, match="Presigned"):
        check(presign("/bucket/key.txt", method="DELETE"))


def unsigned_payload(
    service: str, body: bytes, claim: str = "UNSIGNED-PAYLOAD", path: str = INVOKE_PATH
) -> SignedRequest:
    """Signed the way a replay attacker would want: the body's digest left out (botocore's
    plain signer keeps the header it is given; its S3 signer would replace it)."""
    request = AWSRequest(
        method="POST",
        url=ENDPOINT + path,
        data=body,
        headers={"Content-Type": "application/json", "X-Amz-Content-SHA256": claim},
    )
    SigV4Auth(Credentials(KEY, SECRET), service, REGION).add_auth(request)
    return snapshot(request)


@pytest.mark.parametrize("claim", ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
@pytest.mark.parametrize("service", ["lambda", "logs"])
def test_unsigned_payload_is_refused_outside_s3(service: str, claim: str) -> None:
    req = unsigned_payload(service, b'{"x": 1}', claim)
    with pytest.raises(InvalidSignature, match="accepted only by Amazon S3"):
        check(req, expect=Signing(service))
    # Replayed with another body: refused as well, whatever the header says.
    replay = dataclasses.replace(req, body_sha256=hashlib.sha256(b'{"x": 2}').hexdigest())
    with pytest.raises(InvalidSignature):
        check(replay, expect=Signing(service))


def test_without_the_header_the_body_is_signed() -> None:
    # The header left out entirely (botocore's default outside S3): the body's digest is in
    # the canonical request, so another body breaks the signature.
    req = lambda_invoke(b'{"x": 1}')
    assert "x-amz-content-sha256" not in req.headers
    replay = dataclasses.replace(req, body_sha256=hashlib.sha256(b'{"x": 2}').hexdigest())
    with pytest.raises(InvalidSignature, match="signature we calculated does not match"):
        check(replay)


def test_s3_may_leave_its_payload_unsigned() -> None:
    req = unsigned_payload("s3", b"abc", path="/bucket/key")
    assert req.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert check(req).service == "s3"
    other = dataclasses.replace(req, body_sha256=hashlib.sha256(b"other").hexdigest())
    assert check(other).service == "s3"  # S3's choice, as on AWS


def test_s3_chunked_payload_signing_is_refused_until_chunks_are_verified() -> None:
    req = unsigned_payload("s3", b"abc", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", path="/bucket/key")
    with pytest.raises(InvalidSignature, match="chunked"):
        check(req)


def test_declaration_reached_by_path_target_or_form() -> None:
    lam = Signing("lambda", paths=("/2015-03-31/",))
    logs = Signing("logs", targets=("Logs_20140328",))
    cw = Signing("monitoring", targets=("GraniteServiceVersion20100801",), query_protocol=True)
    declared = (lam, logs, cw)
    assert reached(declared, "/2015-03-31/functions/f", None, False, "s3") is lam
    # A path route wins over a target header, as the gateway's router does.
    assert reached(declared, "/2015-03-31/functions/f", "Logs_20140328.X", False, "logs") is lam
    assert reached(declared, "/", "Logs_20140328.DescribeLogGroups", False, "lambda") is logs
    assert reached(declared, "/", "GraniteServiceVersion20100801.GetMetricData", True, "s3") is cw
    assert reached(declared, "/", None, True, "monitoring") is cw
    assert reached(declared, "/", None, True, "s3") is None  # answered InvalidAction
    assert reached(declared, "/", "Unknown.Op", False, "logs") is None
    assert reached(declared, "/_stratus/cost", None, False, "lambda") is None
    assert reached(declared, "/other", "Logs_20140328.X", False, "logs") is None
