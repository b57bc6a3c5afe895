"""Bad input end to end: each mistake gets AWS's error code, HTTP status and a clear message;
the server keeps serving, and what it had stored is untouched. No error body ever carries a
traceback."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, REGION, ROLE, SECRET_KEY, Server, create, make_zip

APP: dict[str, str | bytes] = {
    "app.py": "def handler(event, context):\n    return {'ok': True, 'event': event}\n"
}
TRACEBACK_MARKERS = ("Traceback", 'File "', "most recent call last")


def assert_no_traceback(body: bytes | str) -> None:
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, text


# -- clients ---------------------------------------------------------------------------------------


@pytest.fixture
def error_bodies() -> list[bytes]:
    return []


def recording_client(server: Server, bodies: list[bytes], **config: Any) -> Any:
    """A Lambda client that keeps the raw body of every error response it receives."""
    client = server.client("lambda", **config)

    def record(response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict["status_code"] >= 400:
            bodies.append(response_dict["body"])

    client.meta.events.register("before-parse.lambda", record)
    return client


@pytest.fixture
def lam(server: Server, error_bodies: list[bytes]) -> Iterator[Any]:
    yield recording_client(server, error_bodies)
    for body in error_bodies:
        assert_no_traceback(body)


@pytest.fixture
def lam_unvalidated(server: Server, error_bodies: list[bytes]) -> Any:
    """A client that sends what it is given, without botocore's own parameter checks."""
    return recording_client(server, error_bodies, parameter_validation=False)


@pytest.fixture
def existing(lam: Any) -> dict[str, Any]:
    """A function that works; tests check it still does after they have sent bad input."""
    name = f"ok-{uuid.uuid4().hex[:10]}"
    return create(lam, name, APP)


def expect_error(call: Callable[[], Any], code: str, status: int) -> str:
    """Run `call`, which must fail with AWS error `code` and HTTP `status`; return the message."""
    with pytest.raises(ClientError) as exc:
        call()
    err = exc.value.response
    assert err["Error"]["Code"] == code, err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == status, err
    assert err["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype", code).split(":")[0] == code
    message = str(err["Error"].get("Message", ""))
    assert message.strip(), err
    assert_no_traceback(message)
    return message


def still_serving(lam: Any) -> None:
    assert lam.get_account_settings()["ResponseMetadata"]["HTTPStatusCode"] == 200


def still_intact(lam: Any, fn: dict[str, Any]) -> None:
    """The function answers as it did, with the same code and configuration."""
    cfg = lam.get_function_configuration(FunctionName=fn["FunctionName"])
    for key in ("CodeSha256", "CodeSize", "RevisionId", "Timeout", "MemorySize", "Runtime", "Handler"):
        assert cfg[key] == fn[key], key
    resp = lam.invoke(FunctionName=fn["FunctionName"], Payload=b'{"still": "here"}')
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert json.loads(resp["Payload"].read()) == {"ok": True, "event": {"still": "here"}}


# -- raw HTTP ----------------------------------------------------------------------------------------


class SignedAt(SigV4Auth):  # type: ignore[misc]
    """SigV4 with a chosen signing time instead of the clock's."""

    def __init__(self, credentials: Credentials, service: str, region: str, when: datetime) -> None:
        super().__init__(credentials, service, region)
        self._when = when

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._when.strftime("%Y%m%dT%H%M%SZ")
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


def raw_request(
    server: Server,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    sign: bool = True,
    access_key: str = ACCESS_KEY,
    secret: str = SECRET_KEY,
    when: datetime | None = None,
    send_body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send one request with http.client, SigV4-signed by botocore unless `sign` is False.
    `send_body` replaces the body after signing (a tampered request)."""
    request = AWSRequest(
        method=method,
        url=server.endpoint + path,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    if sign:
        creds = Credentials(access_key, secret)
        signer = SignedAt(creds, "lambda", REGION, when) if when else SigV4Auth(creds, "lambda", REGION)
        signer.add_auth(request)
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        target = url.path + (f"?{url.query}" if url.query else "")
        payload = send_body if send_body is not None else (prepared.body or b"")
        conn.request(method, target, body=payload, headers=dict(prepared.headers.items()))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def error_code(headers: dict[str, str], body: bytes) -> str:
    header = headers.get("x-amzn-errortype", "").split(":")[0]
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = {}
    from_body = str(parsed.get("__type") or parsed.get("code") or "").split("#")[-1]
    assert not header or not from_body or header == from_body, (header, from_body)
    return header or from_body


def message_of(body: bytes) -> str:
    parsed = json.loads(body)
    return str(parsed.get("message") or parsed.get("Message") or "")


# -- malformed request bodies -----------------------------------------------------------------------


def test_bad_json_body_on_create(server: Server, lam: Any) -> None:
    status, headers, body = raw_request(server, "POST", "/2015-03-31/functions", b"{not json")
    assert status == 400
    assert error_code(headers, body) == "InvalidRequestContentException"
    assert "json" in message_of(body).lower()
    assert_no_traceback(body)
    still_serving(lam)


@pytest.mark.parametrize(
    "payload",
    [b"[1, 2]", b'"a string"', b"null", b"\xff\xfe{", b'{"FunctionName": '],
    ids=["array", "string", "null", "not-utf8", "truncated"],
)
def test_body_that_is_not_a_json_object(server: Server, lam: Any, payload: bytes) -> None:
    status, headers, body = raw_request(server, "POST", "/2015-03-31/functions", payload)
    assert status == 400, body
    # Not JSON at all is InvalidRequestContentException; JSON that is not an object may also be
    # reported as missing parameters.
    allowed = {"InvalidRequestContentException"}
    if payload in (b"null", b"[1, 2]", b'"a string"'):
        allowed.add("ValidationException")
    assert error_code(headers, body) in allowed, body
    assert message_of(body)
    assert_no_traceback(body)
    still_serving(lam)


def test_bad_json_body_on_update_leaves_function_intact(
    server: Server, lam: Any, existing: dict[str, Any]
) -> None:
    name = existing["FunctionName"]
    status, headers, body = raw_request(
        server, "PUT", f"/2015-03-31/functions/{name}/configuration", b'{"Timeout": 10,'
    )
    assert status == 400
    assert error_code(headers, body) == "InvalidRequestContentException"
    assert_no_traceback(body)
    still_intact(lam, existing)


def test_invalid_json_invoke_payload(lam: Any, existing: dict[str, Any]) -> None:
    message = expect_error(
        lambda: lam.invoke(FunctionName=existing["FunctionName"], Payload=b"{not json"),
        "InvalidRequestContentException",
        400,
    )
    assert "json" in message.lower()
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=existing["FunctionName"], Payload=b"\xff\xfe")
    still_intact(lam, existing)


# -- unknown resources ------------------------------------------------------------------------------


UNKNOWN_FUNCTION_CALLS: dict[str, Callable[[Any, str], Any]] = {
    "GetFunction": lambda lam, n: lam.get_function(FunctionName=n),
    "GetFunctionConfiguration": lambda lam, n: lam.get_function_configuration(FunctionName=n),
    "Invoke": lambda lam, n: lam.invoke(FunctionName=n, Payload=b"{}"),
    "UpdateFunctionCode": lambda lam, n: lam.update_function_code(FunctionName=n, ZipFile=make_zip(APP)),
    "UpdateFunctionConfiguration": lambda lam, n: lam.update_function_configuration(
        FunctionName=n, Timeout=5
    ),
    "DeleteFunction": lambda lam, n: lam.delete_function(FunctionName=n),
    "PublishVersion": lambda lam, n: lam.publish_version(FunctionName=n),
    "ListVersionsByFunction": lambda lam, n: lam.list_versions_by_function(FunctionName=n),
    "CreateAlias": lambda lam, n: lam.create_alias(FunctionName=n, Name="live", FunctionVersion="1"),
    "ListAliases": lambda lam, n: lam.list_aliases(FunctionName=n),
    "GetAlias": lambda lam, n: lam.get_alias(FunctionName=n, Name="live"),
    "PutFunctionConcurrency": lambda lam, n: lam.put_function_concurrency(
        FunctionName=n, ReservedConcurrentExecutions=1
    ),
    "GetFunctionConcurrency": lambda lam, n: lam.get_function_concurrency(FunctionName=n),
    "DeleteFunctionConcurrency": lambda lam, n: lam.delete_function_concurrency(FunctionName=n),
    "ListTags": lambda lam, n: lam.list_tags(Resource=f"arn:aws:lambda:{REGION}:000000000000:function:{n}"),
    "TagResource": lambda lam, n: lam.tag_resource(
        Resource=f"arn:aws:lambda:{REGION}:000000000000:function:{n}", Tags={"a": "b"}
    ),
}


@pytest.mark.parametrize("operation", sorted(UNKNOWN_FUNCTION_CALLS))
def test_unknown_function(lam: Any, error_bodies: list[bytes], operation: str) -> None:
    name = f"missing-{uuid.uuid4().hex[:10]}"
    message = expect_error(
        lambda: UNKNOWN_FUNCTION_CALLS[operation](lam, name), "ResourceNotFoundException", 404
    )
    assert name in message
    assert error_bodies and name.encode() in error_bodies[-1]  # the raw bodies are being checked
    still_serving(lam)


def test_unknown_version(lam: Any, existing: dict[str, Any]) -> None:
    name = existing["FunctionName"]
    for call in (
        lambda: lam.get_function(FunctionName=name, Qualifier="42"),
        lambda: lam.get_function_configuration(FunctionName=name, Qualifier="42"),
        lambda: lam.invoke(FunctionName=name, Qualifier="42", Payload=b"{}"),
        lambda: lam.invoke(FunctionName=f"{name}:42", Payload=b"{}"),
        lambda: lam.delete_function(FunctionName=name, Qualifier="42"),
        lambda: lam.create_alias(FunctionName=name, Name="to-nowhere", FunctionVersion="42"),
    ):
        message = expect_error(call, "ResourceNotFoundException", 404)
        assert name in message
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=name, Name="to-nowhere")
    still_intact(lam, existing)


def test_unknown_alias(lam: Any, existing: dict[str, Any]) -> None:
    name = existing["FunctionName"]
    for call in (
        lambda: lam.get_alias(FunctionName=name, Name="nope"),
        lambda: lam.update_alias(FunctionName=name, Name="nope", Description="x"),
        lambda: lam.get_function(FunctionName=name, Qualifier="nope"),
        lambda: lam.invoke(FunctionName=name, Qualifier="nope", Payload=b"{}"),
    ):
        message = expect_error(call, "ResourceNotFoundException", 404)
        assert "nope" in message or name in message
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=name, Name="nope")
    still_intact(lam, existing)


# -- invalid parameters -----------------------------------------------------------------------------


BAD_NAMES = {
    "space-bang": "bad name!",
    "65-chars": "a" * 65,
    "non-ascii": "caf\u00e9",
    "semicolon": "semi;colon",
}


@pytest.mark.parametrize("bad", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_invalid_function_name(lam: Any, bad: str) -> None:
    message = expect_error(lambda: create(lam, bad, APP), "ValidationException", 400)
    assert "functionName" in message or "FunctionName" in message
    expect_error(lambda: lam.get_function(FunctionName=bad), "ValidationException", 400)
    expect_error(lambda: lam.invoke(FunctionName=bad, Payload=b"{}"), "ValidationException", 400)
    still_serving(lam)


def test_function_name_with_dots_cannot_be_created(lam: Any) -> None:
    # CreateFunction's FunctionName pattern has no dots. (Reads take a NamespacedFunctionName,
    # whose pattern allows dots, so for those a 404 is as right as a 400.)
    bad = f"dots.{uuid.uuid4().hex[:8]}"
    expect_error(lambda: create(lam, bad, APP), "ValidationException", 400)
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=bad)
    assert exc.value.response["Error"]["Code"] in ("ValidationException", "ResourceNotFoundException")
    still_serving(lam)


def test_sixty_four_character_name_is_fine(lam: Any) -> None:
    name = "a" * 54 + uuid.uuid4().hex[:10]
    assert len(name) == 64
    assert create(lam, name, APP)["FunctionName"] == name
    lam.delete_function(FunctionName=name)


@pytest.mark.parametrize(
    ("field", "value", "member"),
    [
        ("MemorySize", 20000, "memorySize"),
        ("MemorySize", 64, "memorySize"),
        ("MemorySize", 10241, "memorySize"),
        ("Timeout", 0, "timeout"),
        ("Timeout", 901, "timeout"),
        ("Timeout", -5, "timeout"),
    ],
)
def test_invalid_memory_size_and_timeout(
    lam: Any,
    lam_unvalidated: Any,
    existing: dict[str, Any],
    fn_name: str,
    field: str,
    value: int,
    member: str,
) -> None:
    message = expect_error(
        lambda: create(lam_unvalidated, fn_name, APP, **{field: value}), "ValidationException", 400
    )
    assert member in message and str(value) in message
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fn_name)  # nothing was created
    expect_error(
        lambda: lam_unvalidated.update_function_configuration(
            FunctionName=existing["FunctionName"], **{field: value}
        ),
        "ValidationException",
        400,
    )
    still_intact(lam, existing)


@pytest.mark.parametrize("runtime", ["python2.7", "cobol", "python3.99"])
def test_runtime_that_does_not_exist(lam: Any, existing: dict[str, Any], fn_name: str, runtime: str) -> None:
    client = lam  # botocore does not check enums client-side: the server sees the value
    message = expect_error(
        lambda: create(client, fn_name, APP, Runtime=runtime), "InvalidParameterValueException", 400
    )
    assert "runtime" in message.lower()
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fn_name)
    expect_error(
        lambda: client.update_function_configuration(FunctionName=existing["FunctionName"], Runtime=runtime),
        "InvalidParameterValueException",
        400,
    )
    still_intact(lam, existing)


def test_create_function_that_exists(lam: Any, existing: dict[str, Any]) -> None:
    other: dict[str, str | bytes] = {"app.py": "def handler(event, context):\n    return 'replaced'\n"}
    message = expect_error(
        lambda: create(lam, existing["FunctionName"], other, MemorySize=512),
        "ResourceConflictException",
        409,
    )
    assert existing["FunctionName"] in message
    with pytest.raises(lam.exceptions.ResourceConflictException):
        create(lam, existing["FunctionName"], APP)
    still_intact(lam, existing)


# -- bad deployment packages ------------------------------------------------------------------------


def raw_zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def symlink_entry(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix, so external_attr carries a mode
    info.external_attr = 0o120777 << 16
    return info


def no_trace_of(server: Server, token: str, zip_bytes: bytes) -> None:
    """Nothing named after `token` exists anywhere near the data dir, no symlink was written into
    the code store, and the refused package was not stored."""
    root = server.data_dir.parent
    escaped = [p for p in root.rglob("*") if token in p.name]
    assert escaped == [], escaped
    code_dir = server.data_dir / "code"
    assert [p for p in code_dir.rglob("*") if p.is_symlink()] == []
    key = hashlib.sha256(zip_bytes).hexdigest()
    assert not (code_dir / "zips" / f"{key}.zip").exists()
    assert not (code_dir / "trees" / key).exists()
    leftovers = [p.name for p in (code_dir / "trees").iterdir() if p.name.startswith(".")]
    leftovers += [p.name for p in (code_dir / "zips").iterdir() if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize(
    "junk",
    [b"this is not a zip file", b"PK\x03\x04" + b"\x00" * 40, b""],
    ids=["text", "bad-header", "empty"],
)
def test_zip_that_is_not_a_zip(lam: Any, existing: dict[str, Any], fn_name: str, junk: bytes) -> None:
    message = expect_error(
        lambda: lam.create_function(
            FunctionName=fn_name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": junk},
        ),
        "InvalidParameterValueException",
        400,
    )
    assert "zip" in message.lower()
    expect_error(
        lambda: lam.update_function_code(FunctionName=existing["FunctionName"], ZipFile=junk),
        "InvalidParameterValueException",
        400,
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fn_name)
    still_intact(lam, existing)


def test_truncated_zip(lam: Any, existing: dict[str, Any]) -> None:
    good = make_zip(APP)
    expect_error(
        lambda: lam.update_function_code(
            FunctionName=existing["FunctionName"], ZipFile=good[: len(good) // 2]
        ),
        "InvalidParameterValueException",
        400,
    )
    still_intact(lam, existing)


def make_zip_source() -> bytes:
    source = APP["app.py"]
    return source.encode() if isinstance(source, str) else source


def escaping_zips(tmp_path: Path, token: str) -> dict[str, bytes]:
    app = ("app.py", make_zip_source())
    return {
        "dotdot": raw_zip([app, (f"../{token}.py", b"print('escaped')")]),
        "deep-dotdot": raw_zip([app, (f"../../../../{token}.py", b"print('escaped')")]),
        "nested-dotdot": raw_zip([app, (f"lib/../../{token}.py", b"print('escaped')")]),
        "absolute-etc": raw_zip([app, (f"/etc/{token}", b"escaped")]),
        "absolute-tmp": raw_zip([app, (f"{tmp_path}/{token}.py", b"escaped")]),
        "symlink": raw_zip([app, (symlink_entry(f"{token}-link", "/etc/passwd"), b"/etc/passwd")]),
        "symlink-dir": raw_zip(
            [app, (symlink_entry(f"{token}-dir", "../../.."), b"../../.."), (f"{token}-dir/{token}.py", b"x")]
        ),
    }


@pytest.mark.parametrize(
    "kind",
    ["dotdot", "deep-dotdot", "nested-dotdot", "absolute-etc", "absolute-tmp", "symlink", "symlink-dir"],
)
def test_zip_entries_that_escape(
    server: Server, lam: Any, existing: dict[str, Any], fn_name: str, tmp_path: Path, kind: str
) -> None:
    token = f"evil-{uuid.uuid4().hex[:12]}"
    bad = escaping_zips(tmp_path, token)[kind]
    # The entry really is in the zip as written (zipfile does not sanitise on write or read).
    assert any(token in n for n in zipfile.ZipFile(io.BytesIO(bad)).namelist())

    message = expect_error(
        lambda: lam.create_function(
            FunctionName=fn_name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": bad},
        ),
        "InvalidParameterValueException",
        400,
    )
    assert token in message or "zip" in message.lower()
    expect_error(
        lambda: lam.update_function_code(FunctionName=existing["FunctionName"], ZipFile=bad),
        "InvalidParameterValueException",
        400,
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fn_name)
    no_trace_of(server, token, bad)
    assert not Path(f"/etc/{token}").exists()
    assert not (tmp_path / f"{token}.py").exists()
    assert not Path(f"/tmp/{token}.py").exists()
    still_intact(lam, existing)


# -- function faults ---------------------------------------------------------------------------------


def test_handler_module_that_does_not_exist(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP, Handler="missing_module.handler")
    resp = lam.invoke(FunctionName=fn_name, Payload=b"{}")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "missing_module" in body["errorMessage"]
    # The fault is the function's: it is repeatable and the server is fine.
    again = lam.invoke(FunctionName=fn_name, Payload=b"{}")
    assert again["FunctionError"] == "Unhandled"
    assert json.loads(again["Payload"].read())["errorType"] == "Runtime.ImportModuleError"
    # Fixing the handler fixes the function.
    lam.update_function_configuration(FunctionName=fn_name, Handler="app.handler")
    fixed = lam.invoke(FunctionName=fn_name, Payload=b"{}")
    assert "FunctionError" not in fixed
    assert json.loads(fixed["Payload"].read())["ok"] is True


def test_handler_function_that_does_not_exist(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP, Handler="app.nope")
    resp = lam.invoke(FunctionName=fn_name, Payload=b"{}")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read())["errorType"] == "Runtime.HandlerNotFound"
    still_serving(lam)


# -- oversized payloads -------------------------------------------------------------------------------


def test_invoke_payload_over_six_megabytes(lam: Any, existing: dict[str, Any]) -> None:
    size = 6 * 1024 * 1024 + 1
    payload = b'"' + b"a" * (size - 2) + b'"'
    assert len(payload) == size
    json.loads(payload)  # valid JSON: only the size is wrong
    message = expect_error(
        lambda: lam.invoke(FunctionName=existing["FunctionName"], Payload=payload),
        "RequestTooLargeException",
        413,
    )
    assert str(6 * 1024 * 1024) in message or "6" in message
    still_intact(lam, existing)


# -- authentication -----------------------------------------------------------------------------------


def test_request_without_signature(server: Server, lam: Any) -> None:
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{server.endpoint}/2015-03-31/functions", timeout=30)
    assert exc.value.code == 403
    body = exc.value.read()
    code = error_code({k.lower(): v for k, v in exc.value.headers.items()}, body)
    assert code in (
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
        "AccessDeniedException",
    )
    assert exc.value.headers.get("x-amzn-ErrorType", "").split(":")[0] == code
    assert message_of(body)
    assert_no_traceback(body)
    still_serving(lam)


def test_unsigned_write_changes_nothing(server: Server, lam: Any, existing: dict[str, Any]) -> None:
    name = existing["FunctionName"]
    status, _, body = raw_request(server, "DELETE", f"/2015-03-31/functions/{name}", sign=False)
    assert status == 403
    assert_no_traceback(body)
    status, _, body = raw_request(
        server, "PUT", f"/2015-03-31/functions/{name}/configuration", b'{"Timeout": 99}', sign=False
    )
    assert status == 403
    still_intact(lam, existing)


def test_wrong_secret_key(server: Server, lam: Any, existing: dict[str, Any]) -> None:
    bodies: list[bytes] = []
    wrong = boto3.client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="not-the-secret-" + "x" * 25,
        config=Config(retries={"max_attempts": 1}),
    )
    wrong.meta.events.register(
        "before-parse.lambda", lambda response_dict, **_: bodies.append(response_dict["body"])
    )
    message = expect_error(lambda: wrong.list_functions(), "InvalidSignatureException", 403)
    assert "signature" in message.lower()
    # A write with a bad signature must not happen.
    expect_error(
        lambda: wrong.delete_function(FunctionName=existing["FunctionName"]), "InvalidSignatureException", 403
    )
    expect_error(
        lambda: wrong.update_function_configuration(FunctionName=existing["FunctionName"], Timeout=99),
        "InvalidSignatureException",
        403,
    )
    for body in bodies:
        assert_no_traceback(body)
    still_intact(lam, existing)


def test_unknown_access_key(server: Server, lam: Any, existing: dict[str, Any]) -> None:
    stranger = boto3.client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id="AKSTUNKNOWN000000000",
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )
    expect_error(lambda: stranger.list_functions(), "UnrecognizedClientException", 403)
    expect_error(
        lambda: stranger.delete_function(FunctionName=existing["FunctionName"]),
        "UnrecognizedClientException",
        403,
    )
    still_intact(lam, existing)


@pytest.mark.parametrize("minutes", [-20, 20], ids=["20-minutes-old", "20-minutes-ahead"])
def test_signature_outside_the_time_window(server: Server, lam: Any, minutes: int) -> None:
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    status, headers, body = raw_request(server, "GET", "/2015-03-31/functions", when=when)
    assert status == 403, body
    assert error_code(headers, body) == "InvalidSignatureException"
    assert "expired" in message_of(body).lower() or "time" in message_of(body).lower()
    assert_no_traceback(body)
    # The same request signed now goes through: only the time was wrong.
    status, _, body = raw_request(server, "GET", "/2015-03-31/functions")
    assert status == 200, body
    assert "Functions" in json.loads(body)
    still_serving(lam)


def test_signature_slightly_old_is_accepted(server: Server) -> None:
    status, _, body = raw_request(
        server, "GET", "/2015-03-31/functions", when=datetime.now(UTC) - timedelta(minutes=5)
    )
    assert status == 200, body


def test_body_changed_after_signing(server: Server, lam: Any, existing: dict[str, Any]) -> None:
    name = existing["FunctionName"]
    status, headers, body = raw_request(
        server,
        "PUT",
        f"/2015-03-31/functions/{name}/configuration",
        b'{"Timeout": 5}',
        send_body=b'{"Timeout": 9}',
    )
    assert status == 403, body
    assert error_code(headers, body) == "InvalidSignatureException"
    assert_no_traceback(body)
    still_intact(lam, existing)


# -- nothing ever leaks a traceback -------------------------------------------------------------------


def fn_path(name: str, suffix: str = "") -> str:
    return f"/2015-03-31/functions/{name}{suffix}"


CREATE_BASE = {"FunctionName": "odd", "Role": ROLE, "Runtime": "python3.11", "Handler": "a.b"}
ODD_REQUESTS: dict[str, tuple[str, str, bytes]] = {
    "max-items-not-a-number": ("GET", "/2015-03-31/functions?MaxItems=abc", b""),
    "max-items-zero": ("GET", "/2015-03-31/functions?MaxItems=0", b""),
    "garbage-marker": ("GET", "/2015-03-31/functions?Marker=%21%21not-a-marker", b""),
    "unknown-path": ("GET", "/2015-03-31/nothing-here", b""),
    "unsupported-method": ("PATCH", "/2015-03-31/functions", b"{}"),
    "create-empty-object": ("POST", "/2015-03-31/functions", b"{}"),
    "create-name-not-a-string": ("POST", "/2015-03-31/functions", b'{"FunctionName": 5}'),
    "create-role-not-a-string": ("POST", "/2015-03-31/functions", b'{"FunctionName": "odd", "Role": 5}'),
    "create-zipfile-a-number": (
        "POST",
        "/2015-03-31/functions",
        json.dumps({**CREATE_BASE, "Code": {"ZipFile": 123}}).encode(),
    ),
    "create-zipfile-not-base64": (
        "POST",
        "/2015-03-31/functions",
        json.dumps({**CREATE_BASE, "Code": {"ZipFile": "%%%not"}}).encode(),
    ),
    "create-code-a-string": (
        "POST",
        "/2015-03-31/functions",
        json.dumps({**CREATE_BASE, "Code": "zip"}).encode(),
    ),
    "create-tags-a-list": (
        "POST",
        "/2015-03-31/functions",
        json.dumps(
            {**CREATE_BASE, "Code": {"ZipFile": base64.b64encode(make_zip(APP)).decode()}, "Tags": ["a"]}
        ).encode(),
    ),
}


@pytest.mark.parametrize(("method", "path", "body"), list(ODD_REQUESTS.values()), ids=list(ODD_REQUESTS))
def test_odd_requests_get_a_clean_client_error(
    server: Server, lam: Any, method: str, path: str, body: bytes
) -> None:
    status, headers, resp = raw_request(server, method, path, body)
    assert 400 <= status < 500, (status, resp)
    assert error_code(headers, resp), (headers, resp)
    assert message_of(resp)
    assert_no_traceback(resp)
    still_serving(lam)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="odd")


CONFIG_BODIES: list[dict[str, Any]] = [
    {"Timeout": "ten"},
    {"Timeout": 3.5},
    {"MemorySize": True},
    {"Environment": "GREETING=hi"},
    {"Environment": {"Variables": {"GREETING": 5}}},
    {"Environment": {"Variables": ["GREETING"]}},
    {"Environment": {"Variables": {"AWS_REGION": "x"}}},
    {"Environment": {"Variables": {"1BAD": "x"}}},
    {"TracingConfig": "Active"},
    {"TracingConfig": {"Mode": "Sometimes"}},
    {"LoggingConfig": "JSON"},
    {"EphemeralStorage": 1024},
    {"EphemeralStorage": {"Size": 100}},
    {"Description": 5},
    {"Description": "x" * 257},
    {"Handler": "has space.handler"},
    {"Role": "not-a-role"},
]


@pytest.mark.parametrize(
    "params", CONFIG_BODIES, ids=[json.dumps(b)[:40].replace(" ", "") for b in CONFIG_BODIES]
)
def test_bad_configuration_values(
    server: Server, lam: Any, existing: dict[str, Any], params: dict[str, Any]
) -> None:
    """Wrong types and values in UpdateFunctionConfiguration: a 400 with Lambda's error codes,
    never a 500, and the function is untouched."""
    status, headers, body = raw_request(
        server, "PUT", fn_path(existing["FunctionName"], "/configuration"), json.dumps(params).encode()
    )
    assert status == 400, (status, body)
    assert error_code(headers, body) in (
        "InvalidParameterValueException",
        "ValidationException",
        "InvalidRequestContentException",
        "SerializationException",
    ), body
    assert message_of(body)
    assert_no_traceback(body)
    still_intact(lam, existing)


ALIAS_BODIES: dict[str, dict[str, Any]] = {
    "version-not-a-string": {"Name": "live", "FunctionVersion": 1},
    "numeric-name": {"Name": "123", "FunctionVersion": "$LATEST"},
    "name-not-a-string": {"Name": 5, "FunctionVersion": "$LATEST"},
    "routing-not-an-object": {"Name": "live", "FunctionVersion": "$LATEST", "RoutingConfig": "half"},
    "weights-a-list": {
        "Name": "live",
        "FunctionVersion": "$LATEST",
        "RoutingConfig": {"AdditionalVersionWeights": ["1"]},
    },
    "weight-a-string": {
        "Name": "live",
        "FunctionVersion": "$LATEST",
        "RoutingConfig": {"AdditionalVersionWeights": {"1": "0.5"}},
    },
    "weight-to-missing-version": {
        "Name": "live",
        "FunctionVersion": "$LATEST",
        "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}},
    },
}


@pytest.mark.parametrize("params", list(ALIAS_BODIES.values()), ids=list(ALIAS_BODIES))
def test_bad_alias_values(server: Server, lam: Any, existing: dict[str, Any], params: dict[str, Any]) -> None:
    status, headers, body = raw_request(
        server, "POST", fn_path(existing["FunctionName"], "/aliases"), json.dumps(params).encode()
    )
    assert 400 <= status < 500, (status, body)
    assert error_code(headers, body) in (
        "InvalidParameterValueException",
        "ValidationException",
        "InvalidRequestContentException",
        "SerializationException",
        "ResourceNotFoundException",
    ), body
    assert_no_traceback(body)
    assert lam.list_aliases(FunctionName=existing["FunctionName"])["Aliases"] == []
    still_intact(lam, existing)


def test_base64_check_of_code_is_not_bypassed(server: Server, lam: Any, fn_name: str) -> None:
    """A ZipFile that is valid base64 of a non-zip is refused like any other non-zip."""
    params = {
        "FunctionName": fn_name,
        "Role": ROLE,
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Code": {"ZipFile": base64.b64encode(b"plain text").decode()},
    }
    status, headers, body = raw_request(server, "POST", "/2015-03-31/functions", json.dumps(params).encode())
    assert status == 400
    assert error_code(headers, body) == "InvalidParameterValueException"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fn_name)
