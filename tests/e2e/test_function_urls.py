"""Function URLs end to end: the URL configuration API driven by boto3, and the data path driven
by real HTTP clients (http.client, urllib, curl and raw sockets) against the real server."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, create, error_code, make_zip
from tests.e2e.http_client import Reply, call, curl, curl_post_file, event_of

# One handler whose behaviour the request's `mode` query parameter picks.
APP = """
import base64, hashlib, json, time

def handler(event, context):
    query = event.get("queryStringParameters") or {}
    mode = query.get("mode", "echo")
    if mode == "echo":
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": json.dumps(event)}
    if mode == "cookies":
        return {"statusCode": 201, "headers": {"content-type": "text/plain", "x-one": "1"},
                "cookies": ["a=1; Path=/", "b=2; HttpOnly"], "body": "made"}
    if mode == "multi":
        return {"statusCode": 200, "headers": {"x-single": "s"},
                "multiValueHeaders": {"x-multi": ["p", "q"]}, "body": "m"}
    if mode == "string":
        return "hello"
    if mode == "dict":
        return {"a": 1, "b": [1, 2]}
    if mode == "binary":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "badstatus":
        return {"statusCode": "abc"}
    if mode == "badbody":
        return {"statusCode": 200, "body": {"a": 1}}
    if mode == "sleep":
        time.sleep(float(query["s"]))
        return {"slept": query["s"]}
    if mode == "remap":
        return {"statusCode": 200, "body": "abc", "headers": {
            "Content-Length": "999", "Connection": "keep-alive", "Server": "mine", "x-own": "kept"}}
    if mode == "crlf":
        return {"statusCode": 200, "headers": {"x-i": "a\\r\\nInjected: yes"}, "body": "c"}
    if mode == "badname":
        return {"statusCode": 200, "headers": {"bad name": "v"}, "body": "c"}
    if mode == "cookiecrlf":
        return {"statusCode": 200, "cookies": ["a=1\\r\\nX-Evil: 1"], "body": "c"}
    if mode == "informational":
        return {"statusCode": 101, "body": "c"}
    if mode == "digest":
        body = event.get("body") or ""
        data = base64.b64decode(body) if event["isBase64Encoded"] else body.encode()
        return {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return {"statusCode": 400, "body": "unknown mode " + mode}
"""

VERSIONED = """
def handler(event, context):
    return {"statusCode": 200, "body": "%s"}
"""

# Fails if a CORS preflight ever reaches it.
CORS_APP = """
def handler(event, context):
    if event["requestContext"]["http"]["method"] == "OPTIONS":
        raise RuntimeError("the preflight reached the function")
    return {"statusCode": 200, "body": "cors-ok"}
"""

ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""

MAX_BODY = 6 * 1024 * 1024
CLIENT_ERROR = re.compile(rb"^HTTP/1\.[01] 4\d\d ")


# -- HTTP helpers ----------------------------------------------------------------------------------


def raw_exchange(server: Server, data: bytes) -> bytes:
    """Send raw bytes and read whatever comes back until the server closes (or goes quiet)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def url_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def still_serves(url: str) -> None:
    event = event_of(url + "after?mode=echo")
    assert event["rawPath"] == "/after"


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_url(mlam: Any) -> Iterator[str]:
    """The shared function (Timeout=1) behind a NONE function URL."""
    name = f"furl-app-{time.monotonic_ns()}"
    create(mlam, name, {"app.py": APP}, Timeout=1)
    url = str(mlam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"])
    yield url
    mlam.delete_function(FunctionName=name)


# -- the configuration API -------------------------------------------------------------------------


def test_url_config_crud(lam: Any, fn_name: str, server: Server) -> None:
    arn = create(lam, fn_name, {"app.py": ECHO})["FunctionArn"]
    cors = {"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET"], "MaxAge": 60}
    created = lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE", Cors=cors)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    assert url.startswith(f"{server.endpoint}/_stratus/url/") and url.endswith("/")
    assert len(url_id(url)) == 32 and url_id(url).isalnum() and url_id(url).islower()
    assert created["FunctionArn"] == arn
    assert created["AuthType"] == "NONE"
    assert created["InvokeMode"] == "BUFFERED"
    assert created["Cors"] == cors
    assert created["CreationTime"]
    assert "LastModifiedTime" not in created

    got = lam.get_function_url_config(FunctionName=fn_name)
    assert got["FunctionUrl"] == url
    assert got["CreationTime"] == created["CreationTime"]
    assert got["LastModifiedTime"] == created["CreationTime"]
    assert got["Cors"] == cors

    time.sleep(0.01)
    new_cors = {"AllowOrigins": ["*"], "AllowHeaders": ["x-a"]}
    updated = lam.update_function_url_config(FunctionName=fn_name, AuthType="AWS_IAM", Cors=new_cors)
    assert updated["FunctionUrl"] == url, "updating keeps the URL"
    assert updated["AuthType"] == "AWS_IAM"
    assert updated["Cors"] == new_cors
    assert updated["CreationTime"] == created["CreationTime"]
    assert updated["LastModifiedTime"] > got["LastModifiedTime"]
    again = lam.get_function_url_config(FunctionName=fn_name)
    assert again["AuthType"] == "AWS_IAM" and again["LastModifiedTime"] == updated["LastModifiedTime"]

    with pytest.raises(ClientError) as err:
        lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE")
    assert error_code(err) == "ResourceConflictException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    lam.delete_function_url_config(FunctionName=fn_name)
    with pytest.raises(ClientError) as err:
        lam.get_function_url_config(FunctionName=fn_name)
    assert error_code(err) == "ResourceNotFoundException"
    assert call(url).status == 403, "a deleted URL no longer answers"
    with pytest.raises(ClientError) as err:
        lam.delete_function_url_config(FunctionName=fn_name)
    assert error_code(err) == "ResourceNotFoundException"


def test_list_url_configs_paginates(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": ECHO})
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)
    urls = {
        lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE")["FunctionUrl"],
        lam.create_function_url_config(FunctionName=fn_name, Qualifier="live", AuthType="NONE")[
            "FunctionUrl"
        ],
    }
    assert len(urls) == 2
    everything = lam.list_function_url_configs(FunctionName=fn_name)
    assert {c["FunctionUrl"] for c in everything["FunctionUrlConfigs"]} == urls
    assert "NextMarker" not in everything
    assert all("LastModifiedTime" in c for c in everything["FunctionUrlConfigs"])

    first = lam.list_function_url_configs(FunctionName=fn_name, MaxItems=1)
    assert len(first["FunctionUrlConfigs"]) == 1
    assert first["NextMarker"]
    second = lam.list_function_url_configs(FunctionName=fn_name, MaxItems=1, Marker=first["NextMarker"])
    assert len(second["FunctionUrlConfigs"]) == 1
    assert "NextMarker" not in second
    seen = {first["FunctionUrlConfigs"][0]["FunctionUrl"], second["FunctionUrlConfigs"][0]["FunctionUrl"]}
    assert seen == urls
    arns = {c["FunctionArn"] for c in everything["FunctionUrlConfigs"]}
    assert any(a.endswith(f":function:{fn_name}") for a in arns)
    assert any(a.endswith(f":function:{fn_name}:live") for a in arns)


def test_alias_url_runs_the_alias_version(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": VERSIONED % "v1"})
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)
    alias = lam.create_function_url_config(FunctionName=fn_name, Qualifier="live", AuthType="NONE")
    latest = lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE")
    assert alias["FunctionUrl"] != latest["FunctionUrl"]
    assert alias["FunctionArn"].endswith(f":function:{fn_name}:live")
    assert (
        lam.get_function_url_config(FunctionName=fn_name, Qualifier="live")["FunctionUrl"]
        == (alias["FunctionUrl"])
    )

    lam.update_function_code(FunctionName=fn_name, ZipFile=make_zip({"app.py": VERSIONED % "v2"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    assert call(latest["FunctionUrl"]).body == b"v2"
    assert call(alias["FunctionUrl"]).body == b"v1"

    # Deleting the alias takes its URL with it; the function's own stays.
    lam.delete_alias(FunctionName=fn_name, Name="live")
    assert call(alias["FunctionUrl"]).status == 403
    assert call(latest["FunctionUrl"]).body == b"v2"


def test_url_config_validation(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": ECHO})
    with pytest.raises(ClientError) as err:
        lam.create_function_url_config(FunctionName=fn_name, AuthType="PUBLIC")
    assert error_code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE", InvokeMode="STREAMY")
    assert error_code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE", Cors={"MaxAge": 999999})
    assert error_code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        lam.create_function_url_config(FunctionName=f"{fn_name}-missing", AuthType="NONE")
    assert error_code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        lam.create_function_url_config(FunctionName=fn_name, Qualifier="nosuchalias", AuthType="NONE")
    assert error_code(err) == "ResourceNotFoundException"
    # None of the failures left a configuration behind.
    assert lam.list_function_url_configs(FunctionName=fn_name)["FunctionUrlConfigs"] == []
    lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE")
    with pytest.raises(ClientError) as err:
        lam.update_function_url_config(FunctionName=fn_name, AuthType="BOGUS")
    assert error_code(err) == "ValidationException"
    assert lam.get_function_url_config(FunctionName=fn_name)["AuthType"] == "NONE"


def test_deleting_the_function_retires_its_url(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": ECHO})
    url = lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE")["FunctionUrl"]
    assert call(url).status == 200
    lam.delete_function(FunctionName=fn_name)
    gone = call(url)
    assert gone.status == 403
    assert gone.json() == {"Message": "Forbidden"}
    # A new function of the same name does not inherit the old URL.
    create(lam, fn_name, {"app.py": ECHO})
    assert call(url).status == 403
    with pytest.raises(ClientError) as err:
        lam.get_function_url_config(FunctionName=fn_name)
    assert error_code(err) == "ResourceNotFoundException"


# -- the event -------------------------------------------------------------------------------------


def test_event_fields(app_url: str) -> None:
    body = json.dumps({"hello": "world"}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("X-Rep", "one"),
        ("X-Rep", "two"),
        ("Cookie", "c1=v1; c2=v2"),
        ("User-Agent", "stratus-e2e/1.0"),
    ]
    before = time.time()
    reply = call(app_url + "a/b?mode=echo&x=1&x=2&e=%20sp", "POST", body, headers)
    assert reply.status == 200, reply.body
    event = reply.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/a/b"
    assert event["rawQueryString"] == "mode=echo&x=1&x=2&e=%20sp"
    assert event["queryStringParameters"] == {"mode": "echo", "x": "1,2", "e": " sp"}
    assert event["headers"]["x-rep"] == "one,two"
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["user-agent"] == "stratus-e2e/1.0"
    assert all(k == k.lower() for k in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "POST"
    assert ctx["http"]["path"] == "/a/b"
    assert ctx["http"]["sourceIp"] == "127.0.0.1"
    assert ctx["http"]["userAgent"] == "stratus-e2e/1.0"
    assert ctx["apiId"] == url_id(app_url)
    assert ctx["requestId"] == reply.headers["x-amzn-RequestId"]
    assert "authorizer" not in ctx and "authentication" not in ctx  # AWS omits both here
    assert before - 5 <= ctx["timeEpoch"] / 1000 <= time.time() + 5
    assert event["body"] == body.decode()
    assert event["isBase64Encoded"] is False


def test_binary_request_body_is_base64(app_url: str) -> None:
    blob = bytes(range(256))
    reply = call(app_url + "bin?mode=echo", "PUT", blob, {"Content-Type": "application/octet-stream"})
    assert reply.status == 200
    event = reply.json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == blob
    assert event["requestContext"]["http"]["method"] == "PUT"


def test_any_method_and_path(app_url: str) -> None:
    for method in ("GET", "PATCH", "DELETE", "OPTIONS"):
        reply = call(app_url + "deep/er/path%2Fx?mode=echo", method)
        assert reply.status == 200, (method, reply.body)
        event = reply.json()
        assert event["requestContext"]["http"]["method"] == method
        assert event["rawPath"] == "/deep/er/path%2Fx"
        assert event["requestContext"]["http"]["path"] == "/deep/er/path/x"
        assert "body" not in event and event["isBase64Encoded"] is False
    # The bare URL (with and without its trailing slash) is the root path.
    assert event_of(app_url + "?mode=echo")["rawPath"] == "/"
    assert event_of(app_url.rstrip("/") + "?mode=echo")["rawPath"] == "/"
    head = call(app_url + "?mode=echo", "HEAD")
    assert head.status == 200 and head.body == b""


def test_host_style_request(app_url: str, server: Server) -> None:
    host = f"{url_id(app_url)}.lambda-url.{REGION}.localhost"
    reply = call(f"{server.endpoint}/some/path?mode=echo&k=v", headers={"Host": host})
    assert reply.status == 200, reply.body
    event = reply.json()
    assert event["rawPath"] == "/some/path"
    assert event["queryStringParameters"] == {"mode": "echo", "k": "v"}
    assert event["requestContext"]["domainName"] == host
    assert event["requestContext"]["domainPrefix"] == url_id(app_url)
    assert event["headers"]["host"] == host
    # The same by curl, resolving the name to this server.
    done = curl("--resolve", f"{host}:{server.port}:127.0.0.1", f"http://{host}:{server.port}/c?mode=echo")
    assert json.loads(done.stdout)["rawPath"] == "/c"
    # An unknown id in host form is refused like one in path form.
    other = f"{'0' * 32}.lambda-url.{REGION}.localhost"
    assert call(f"{server.endpoint}/x", headers={"Host": other}).status == 403


# -- the response ----------------------------------------------------------------------------------


def test_response_mapping_with_curl(app_url: str, tmp_path: Path) -> None:
    done = curl("-i", app_url + "?mode=cookies")
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].split()[1] == "201"
    set_cookies = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("set-cookie:")]
    assert set_cookies == ["a=1; Path=/", "b=2; HttpOnly"]
    assert any(line.lower() == "x-one: 1" for line in lines)
    assert any(line.lower() == "content-type: text/plain" for line in lines)
    assert body == b"made"

    out = tmp_path / "blob"
    done = curl("-o", str(out), "-w", "%{http_code} %{content_type}", app_url + "?mode=binary")
    assert done.stdout.decode() == "200 application/octet-stream"
    assert out.read_bytes() == bytes(range(256))


def test_response_mapping(app_url: str) -> None:
    multi = call(app_url + "?mode=multi")
    assert multi.status == 200
    assert multi.headers.get_all("x-multi") == ["p", "q"]
    assert multi.headers["x-single"] == "s"
    assert multi.body == b"m"
    assert multi.headers["content-type"] == "application/json"

    text = call(app_url + "?mode=string")
    assert text.status == 200
    assert text.headers["content-type"] == "application/json"
    assert text.body == b'"hello"'

    obj = call(app_url + "?mode=dict")
    assert obj.status == 200
    assert obj.headers["content-type"] == "application/json"
    assert obj.json() == {"a": 1, "b": [1, 2]}

    blob = call(app_url + "?mode=binary")
    assert blob.status == 200 and blob.body == bytes(range(256))
    assert blob.headers["x-amzn-RequestId"]


# -- errors ----------------------------------------------------------------------------------------


def test_reserved_response_headers_are_remapped(app_url: str) -> None:
    reply = call(app_url + "?mode=remap")
    assert reply.status == 200
    assert reply.body == b"abc"
    assert reply.headers["content-length"] == "3"
    assert reply.headers["x-amzn-Remapped-Content-Length"] == "999"
    assert reply.headers["x-amzn-Remapped-Connection"] == "keep-alive"
    assert reply.headers["x-amzn-Remapped-Server"] == "mine"
    assert reply.headers["x-own"] == "kept"


@pytest.mark.parametrize(
    "mode", ["raise", "badstatus", "badbody", "crlf", "badname", "cookiecrlf", "informational"]
)
def test_function_faults_are_502(app_url: str, mode: str) -> None:
    reply = call(app_url + f"?mode={mode}")
    assert reply.status == 502, reply.body
    assert reply.json() == {"Message": "Internal Server Error"}
    assert b"Traceback" not in reply.body and b"boom" not in reply.body
    still_serves(app_url)


def test_timeout_is_502(app_url: str) -> None:
    reply = call(app_url + "?mode=sleep&s=3")
    assert reply.status == 502, reply.body
    still_serves(app_url)


def test_throttled_is_429(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": APP}, Timeout=5)
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=1)
    url = lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE")["FunctionUrl"]
    assert call(url + "?mode=sleep&s=0").status == 200  # warm
    statuses: list[int] = []

    def slow() -> None:
        statuses.append(call(url + "?mode=sleep&s=1.5").status)

    first = threading.Thread(target=slow)
    first.start()
    time.sleep(0.4)
    second = call(url + "?mode=sleep&s=0")
    first.join()
    assert statuses == [200]
    assert second.status == 429, second.body
    assert second.json() == {"Message": "Too Many Requests"}
    assert call(url + "?mode=sleep&s=0").status == 200, "served again once the first finished"


# -- AWS_IAM ---------------------------------------------------------------------------------------


def signed_call(url: str, secret: str, method: str = "GET", body: bytes = b"") -> Reply:
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, secret), "lambda", REGION).add_auth(request)
    return call(url, method, body or None, dict(request.headers.items()))


def test_aws_iam_auth(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": ECHO})
    url = lam.create_function_url_config(FunctionName=fn_name, AuthType="AWS_IAM")["FunctionUrl"]
    unsigned = call(url + "x")
    assert unsigned.status == 403
    assert unsigned.json() == {"Message": "Forbidden"}

    ok = signed_call(url + "signed/path?b=2&a=1", SECRET_KEY, "POST", b'{"k": "v"}')
    assert ok.status == 200, ok.body
    event = ok.json()
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == ACCESS_KEY
    assert event["rawPath"] == "/signed/path"
    assert event["body"] == '{"k": "v"}'
    assert event["requestContext"]["http"]["method"] == "POST"
    assert signed_call(url, SECRET_KEY).status == 200

    assert signed_call(url, SECRET_KEY + "x").status == 403
    # A signed request whose body was changed on the way is refused too.
    request = AWSRequest(method="POST", url=url, data=b"original")
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
    assert call(url, "POST", b"tampered", dict(request.headers.items())).status == 403

    # Switching to NONE opens it.
    lam.update_function_url_config(FunctionName=fn_name, AuthType="NONE")
    assert call(url + "x").status == 200


# -- CORS ------------------------------------------------------------------------------------------


def test_cors(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": CORS_APP})
    cors = {
        "AllowOrigins": ["https://example.com"],
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"],
        "MaxAge": 300,
    }
    url = lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE", Cors=cors)["FunctionUrl"]
    preflight = call(
        url + "p",
        "OPTIONS",
        headers={
            "Origin": "https://example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-custom",
        },
    )
    assert preflight.status == 200, preflight.body
    assert preflight.headers["access-control-allow-origin"] == "https://example.com"
    assert set(preflight.headers["access-control-allow-methods"].split(",")) == {"GET", "POST"}
    assert preflight.headers["access-control-allow-headers"] == "x-custom"
    assert preflight.headers["access-control-max-age"] == "300"

    allowed = call(url, headers={"Origin": "https://example.com"})
    assert allowed.status == 200 and allowed.body == b"cors-ok"
    assert allowed.headers["access-control-allow-origin"] == "https://example.com"

    denied = call(url, headers={"Origin": "https://evil.example"})
    assert denied.status == 200 and denied.body == b"cors-ok"
    assert denied.headers["access-control-allow-origin"] is None
    denied_preflight = call(
        url, "OPTIONS", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert denied_preflight.headers["access-control-allow-origin"] is None
    assert denied_preflight.status != 502, "a preflight never reaches the function"

    # An OPTIONS that is not a preflight does reach the function.
    assert call(url, "OPTIONS").status == 502


# -- bad input -------------------------------------------------------------------------------------


def test_oversized_body_is_413(app_url: str, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * (MAX_BODY + 1))
    for extra in ([], ["-H", "Transfer-Encoding: chunked"]):
        status = curl_post_file(app_url + "?mode=echo", big, tmp_path / "out", *extra)
        assert status == b"413", extra
        assert b"6291456" in (tmp_path / "out").read_bytes()
        still_serves(app_url)


def test_large_bodies_arrive_whole(app_url: str) -> None:
    """Events of several MB reach the function whole, every time (not only when the environment
    happens to drain its channel fast enough)."""
    blob = os.urandom(4_000_000)  # 5.3 MB once base64-encoded into the event
    want = {"length": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
    for _ in range(3):
        reply = call(app_url + "?mode=digest", "POST", blob, {"Content-Type": "application/octet-stream"})
        assert reply.status == 200, reply.body
        assert reply.json() == want
    text = "t" * (1024 * 1024)
    fits = call(app_url + "?mode=echo", "POST", text.encode(), {"Content-Type": "text/plain"})
    assert fits.status == 200, fits.body
    assert fits.json()["body"] == text


def test_malformed_requests(app_url: str, server: Server) -> None:
    answer = raw_exchange(server, b"GARBAGE\r\n\r\n")
    assert answer == b"" or CLIENT_ERROR.match(answer), answer[:200]
    still_serves(app_url)

    path = urlsplit(app_url).path
    answer = raw_exchange(server, f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Bad: ".encode() + b"\x00\x01\r\n\r\n")
    assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer[:200]
    still_serves(app_url)

    answer = raw_exchange(server, f"GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".encode())
    assert answer == b"" or CLIENT_ERROR.match(answer), answer[:200]
    still_serves(app_url)


def test_non_utf8_request_header(app_url: str, server: Server) -> None:
    """A header value that is not UTF-8 (here Latin-1 "café") is a client's doing: the answer is
    the function's (with the value passed on as best it can be) or a 400, never a 500."""
    path = urlsplit(app_url).path
    answer = raw_exchange(
        server,
        f"GET {path}?mode=echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: ".encode()
        + b"caf\xe9\r\n\r\n",
    )
    assert answer.startswith((b"HTTP/1.1 200", b"HTTP/1.1 400", b"HTTP/1.0 400")), answer[:300]
    still_serves(app_url)


def test_unknown_url_id_is_403(app_url: str, server: Server) -> None:
    for missing in ("0" * 32, "nope", ""):
        reply = call(f"{server.endpoint}/_stratus/url/{missing}/x")
        assert reply.status == 403, missing
        assert reply.json() == {"Message": "Forbidden"}
    # A URL id in the wrong case is another id.
    assert call(app_url.replace(url_id(app_url), url_id(app_url).upper())).status == 403


def test_urlopen_error_statuses(app_url: str) -> None:
    """urllib sees the same statuses as the other clients."""
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(app_url + "?mode=raise", timeout=30)
    assert err.value.code == 502
    assert json.loads(err.value.read()) == {"Message": "Internal Server Error"}
