"""SigV4 attacks against the real server: bodies swapped under a signature that left them out,
presigned URLs for operations that take only an Authorization header, and signatures made for
another service. Each request is signed by botocore's own signers and sent over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, create
from tests.e2e.http_client import Reply, call

CREDS = Credentials(ACCESS_KEY, SECRET_KEY)
ECHO = """
def handler(event, context):
    return {"got": event}
"""


def signed(
    method: str,
    url: str,
    service: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    presign: bool = False,
) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    if presign:
        SigV4QueryAuth(CREDS, service, REGION, expires=300).add_auth(request)
    else:
        SigV4Auth(CREDS, service, REGION).add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> Reply:
    """Send a signed request, with its own body or (a replay) another one."""
    prepared = request.prepare()
    data = prepared.body if body is None else body
    if isinstance(data, str):
        data = data.encode()
    # Content-Length is not signed by botocore; the replay sends its own body's length.
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
    return call(prepared.url, prepared.method, data or None, headers)


def refused(reply: Reply, match: str) -> None:
    assert reply.status == 403, (reply.status, reply.body)
    error = reply.json()
    assert error.get("__type", "InvalidSignatureException") == "InvalidSignatureException", error
    assert match in (error.get("message") or ""), error


@pytest.fixture(scope="module")
def echo(server: Server) -> str:
    lam = server.client("lambda")
    name = "sigv4-attacks-echo"
    create(lam, name, {"app.py": ECHO}, Description="original")
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def invoke_url(server: Server, name: str) -> str:
    return f"{server.endpoint}/2015-03-31/functions/{name}/invocations"


# -- (a) the body is always signed outside S3 -------------------------------------------------


def test_unsigned_payload_invoke_cannot_be_replayed_with_another_body(server: Server, echo: str) -> None:
    headers = {"Content-Type": "application/json", "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    request = signed("POST", invoke_url(server, echo), "lambda", b'{"n": 1}', headers)
    refused(send(request), "accepted only by Amazon S3")
    refused(send(request, b'{"n": "replayed"}'), "accepted only by Amazon S3")


def test_streaming_payload_claim_is_refused_outside_s3(server: Server, echo: str) -> None:
    claim = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    headers = {"Content-Type": "application/json", "X-Amz-Content-SHA256": claim}
    request = signed("POST", invoke_url(server, echo), "lambda", b'{"n": 1}', headers)
    refused(send(request, b'{"n": "replayed"}'), "accepted only by Amazon S3")


def test_a_captured_invoke_signature_does_not_carry_another_body(server: Server, echo: str) -> None:
    request = signed(
        "POST", invoke_url(server, echo), "lambda", b'{"n": 1}', {"Content-Type": "application/json"}
    )
    ok = send(request)
    assert ok.status == 200, ok.body  # the signature itself is good
    assert ok.json() == {"got": {"n": 1}}
    refused(send(request, b'{"n": 2}'), "signature we calculated does not match")


def test_unsigned_payload_on_the_management_api_changes_nothing(server: Server, echo: str) -> None:
    lam = server.client("lambda")
    url = f"{server.endpoint}/2015-03-31/functions/{echo}/configuration"
    headers = {"Content-Type": "application/json", "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    request = signed("PUT", url, "lambda", json.dumps({"Timeout": 5}).encode(), headers)
    evil = json.dumps({"Description": "pwned", "Environment": {"Variables": {"X": "1"}}}).encode()
    refused(send(request, evil), "accepted only by Amazon S3")
    config = lam.get_function_configuration(FunctionName=echo)
    assert config["Description"] == "original"
    assert "Environment" not in config


# -- (b) presigned URLs only where a service declares them ----------------------------------


def test_presigned_lambda_api_urls_are_refused(server: Server, echo: str) -> None:
    lam = server.client("lambda")
    url = lam.generate_presigned_url("get_function", Params={"FunctionName": echo}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            pytest.fail(f"a presigned GetFunction answered {reply.status}")
    except urllib.error.HTTPError as e:
        assert e.code == 403
        error = json.loads(e.read())
    assert error["__type"] == "InvalidSignatureException"
    assert "Presigned" in error["message"] and "lambda" in error["message"]


def test_presigned_invoke_is_refused(server: Server, echo: str) -> None:
    body = b'{"n": "presigned"}'
    request = signed("POST", invoke_url(server, echo), "lambda", body, presign=True)
    refused(send(request), "Presigned")


def test_presigned_json_protocol_request_is_refused(server: Server) -> None:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
    }
    request = signed("POST", server.endpoint + "/", "logs", b"{}", headers, presign=True)
    refused(send(request), "Presigned")


def test_presigned_function_url_works_and_binds_its_body(server: Server, echo: str) -> None:
    # Lambda takes query-string SigV4 on AWS_IAM function URLs; what it signs still includes
    # the body's digest (here of an empty body), so a body cannot be added to the link.
    lam = server.client("lambda")
    url = lam.create_function_url_config(FunctionName=echo, AuthType="AWS_IAM")["FunctionUrl"]
    try:
        request = signed("POST", url + "p?a=1", "lambda", presign=True)
        ok = send(request)
        assert ok.status == 200, ok.body
        assert ok.json()["got"]["queryStringParameters"]["a"] == "1"
        replay = send(request, b'{"k": "added"}')
        assert replay.status == 403
        assert replay.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
        assert "signature we calculated does not match" in replay.json()["message"]
    finally:
        lam.delete_function_url_config(FunctionName=echo)


# -- (c) the credential scope must name the service reached ---------------------------------


def scoped(reply: Reply, service: str) -> None:
    refused(reply, f"Credential should be scoped to correct service: '{service}'")


def test_lambda_api_refuses_signatures_for_other_services(server: Server, echo: str) -> None:
    for wrong in ("s3", "logs", "execute-api"):
        scoped(send(signed("GET", server.endpoint + "/2015-03-31/functions/", wrong)), "lambda")
        scoped(send(signed("GET", f"{server.endpoint}/2015-03-31/functions/{echo}", wrong)), "lambda")
        request = signed("POST", invoke_url(server, echo), wrong, b"{}", {"Content-Type": "application/json"})
        scoped(send(request), "lambda")
    assert send(signed("GET", server.endpoint + "/2015-03-31/functions/", "lambda")).status == 200


@pytest.mark.parametrize(
    ("target", "service", "wrong"),
    [
        ("Logs_20140328.DescribeLogGroups", "logs", "events"),
        ("AWSEvents.ListRules", "events", "logs"),
        ("GraniteServiceVersion20100801.ListMetrics", "monitoring", "s3"),
    ],
)
def test_json_services_refuse_signatures_for_other_services(
    server: Server, target: str, service: str, wrong: str
) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    scoped(send(signed("POST", server.endpoint + "/", wrong, b"{}", headers)), service)
    right = send(signed("POST", server.endpoint + "/", service, b"{}", headers))
    assert right.status == 200, right.body


def test_apigateway_refuses_signatures_for_other_services(server: Server) -> None:
    scoped(send(signed("GET", server.endpoint + "/v2/apis", "lambda")), "apigateway")
    assert send(signed("GET", server.endpoint + "/v2/apis", "apigateway")).status == 200


def test_aws_iam_function_url_refuses_a_signature_for_s3(server: Server, echo: str) -> None:
    lam = server.client("lambda")
    url = lam.create_function_url_config(FunctionName=echo, AuthType="AWS_IAM")["FunctionUrl"]
    try:
        wrong = send(signed("GET", url, "s3"))
        assert wrong.status == 403
        assert wrong.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
        assert "Credential should be scoped to correct service: 'lambda'" in wrong.json()["message"]
        assert send(signed("GET", url, "lambda")).status == 200
        unsigned = call(url)
        assert unsigned.status == 403 and unsigned.json() == {"Message": "Forbidden"}
    finally:
        lam.delete_function_url_config(FunctionName=echo)


def test_the_server_still_serves_boto3(server: Server) -> None:
    # After every refusal above: the ordinary clients of each service still work.
    assert "Functions" in server.client("lambda").list_functions()
    assert "logGroups" in server.client("logs").describe_log_groups()
    assert "Rules" in server.client("events").list_rules()
    assert "Metrics" in server.client("cloudwatch").list_metrics()
    assert "Items" in server.client("apigatewayv2").get_apis()
