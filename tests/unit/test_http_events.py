from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from stratus.httpapi.events import (
    HttpRequest,
    Target,
    encoded_body,
    is_text,
    query_pairs,
    request_time,
    v1_event,
    v2_event,
)

ACCOUNT = "000000000000"
TIME_MS = 1583348638390  # 2020-03-04T19:03:58.390Z


def make_request(
    *,
    method: str = "GET",
    raw_path: str = "/",
    raw_query: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    source_ip: str = "203.0.113.7",
    protocol: str = "HTTP/1.1",
    time_ms: int = TIME_MS,
) -> HttpRequest:
    return HttpRequest(
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=headers,
        body=body,
        source_ip=source_ip,
        protocol=protocol,
        time_ms=time_ms,
    )


def make_target(**overrides: Any) -> Target:
    values: dict[str, Any] = {
        "account_id": ACCOUNT,
        "api_id": "abc123",
        "domain_name": "abc123.execute-api.localhost",
        "request_id": "req-1",
    }
    values.update(overrides)
    return Target(**values)


# -- HttpRequest -----------------------------------------------------------------------------


def test_header_returns_first_matching_value() -> None:
    request = make_request(headers=(("x-a", "1"), ("x-b", "2"), ("x-a", "3")))
    assert request.header("x-a") == "1"
    assert request.header("x-b") == "2"
    assert request.header("x-missing") is None


def test_time_ms_defaults_to_now() -> None:
    request = HttpRequest("GET", "/", "", (), b"", "127.0.0.1")
    assert isinstance(request.time_ms, int)
    assert request.time_ms > TIME_MS
    assert request.protocol == "HTTP/1.1"


# -- is_text / encoded_body ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/html; charset=utf-8",
        "text/csv",
        "TEXT/PLAIN",
        "application/json",
        "application/json; charset=UTF-8",
        "Application/JSON",
        "application/xml",
        "application/javascript",
        "application/vnd.api+json",
        "application/ld+json; charset=utf-8",
        "application/atom+xml",
        "image/svg+xml",
    ],
)
def test_is_text_true(content_type: str) -> None:
    assert is_text(content_type) is True


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "image/png",
        "application/pdf",
        "application/jsonp-not-really",
    ],
)
def test_is_text_false(content_type: str | None) -> None:
    assert is_text(content_type) is False


def test_encoded_body_empty_is_none() -> None:
    assert encoded_body(make_request(headers=(("content-type", "text/plain"),))) == (None, False)
    assert encoded_body(make_request()) == (None, False)


def test_encoded_body_text_is_passed_as_text() -> None:
    request = make_request(headers=(("content-type", "application/json"),), body='{"k": "é"}'.encode())
    assert encoded_body(request) == ('{"k": "é"}', False)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ((("content-type", "application/octet-stream"),), b"\x00\x01\x02\xff"),
        ((("content-type", "application/x-www-form-urlencoded"),), b"a=1&b=2"),
        ((), b"no content type at all"),
        ((("content-type", "text/plain"),), b"\xff\xfe not utf-8 \x80"),
        ((("content-type", "application/json"),), b'{"a": "\xe9"}'),
    ],
)
def test_encoded_body_binary_is_base64(headers: tuple[tuple[str, str], ...], body: bytes) -> None:
    text, is_base64 = encoded_body(make_request(headers=headers, body=body))
    assert is_base64 is True
    assert text is not None
    assert base64.b64decode(text) == body


# -- query_pairs / request_time --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", []),
        ("a=1", [("a", "1")]),
        ("a=1&b=2", [("a", "1"), ("b", "2")]),
        ("a=1&a=2", [("a", "1"), ("a", "2")]),
        ("q=hello+world", [("q", "hello world")]),
        ("q=hello%20world%21", [("q", "hello world!")]),
        ("q=a%2Bb", [("q", "a+b")]),
        ("my+key=v", [("my key", "v")]),
        ("flag", [("flag", "")]),
        ("a=1&&b=2&", [("a", "1"), ("b", "2")]),
        ("e=x=y", [("e", "x=y")]),
        ("u=%E2%82%AC", [("u", "€")]),
    ],
)
def test_query_pairs(raw: str, expected: list[tuple[str, str]]) -> None:
    assert query_pairs(raw) == expected


@pytest.mark.parametrize(
    ("time_ms", "expected"),
    [
        (0, "01/Jan/1970:00:00:00 +0000"),
        (TIME_MS, "04/Mar/2020:19:03:58 +0000"),
        (1703980799999, "30/Dec/2023:23:59:59 +0000"),
    ],
)
def test_request_time(time_ms: int, expected: str) -> None:
    assert request_time(time_ms) == expected


# -- format 2.0 ------------------------------------------------------------------------------


def test_v2_event_full_shape() -> None:
    request = make_request(
        method="POST",
        raw_path="/my/path",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=(
            ("header1", "value1"),
            ("header2", "value1"),
            ("header2", "value2"),
            ("user-agent", "agent/1.0"),
            ("cookie", "cookie1=v1; cookie2=v2"),
            ("content-type", "application/json"),
        ),
        body=b'{"hello": "world"}',
        protocol="HTTP/1.1",
    )
    target = make_target(
        route_key="POST /my/path",
        stage="prod",
        path_parameters={"parameter1": "value1"},
        stage_variables={"stageVariable1": "value1"},
        authorizer={"jwt": {"claims": {"sub": "me"}}},
    )
    event = v2_event(request, target)
    assert event == {
        "version": "2.0",
        "routeKey": "POST /my/path",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1=v1", "cookie2=v2"],
        "headers": {
            "header1": "value1",
            "header2": "value1,value2",
            "user-agent": "agent/1.0",
            "content-type": "application/json",
        },
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "authorizer": {"jwt": {"claims": {"sub": "me"}}},
            "domainName": "abc123.execute-api.localhost",
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "agent/1.0",
            },
            "requestId": "req-1",
            "routeKey": "POST /my/path",
            "stage": "prod",
            "time": "04/Mar/2020:19:03:58 +0000",
            "timeEpoch": TIME_MS,
        },
        "body": '{"hello": "world"}',
        "pathParameters": {"parameter1": "value1"},
        "isBase64Encoded": False,
        "stageVariables": {"stageVariable1": "value1"},
    }
    json.dumps(event)  # the event must be serialisable as the invoke payload


def test_v2_event_minimal_request_omits_optional_keys() -> None:
    event = v2_event(make_request(), make_target())
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/"
    assert event["rawQueryString"] == ""
    assert "cookies" not in event
    assert "queryStringParameters" not in event
    assert "body" not in event
    assert event["headers"] == {}
    assert event["isBase64Encoded"] is False
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    context = event["requestContext"]
    # AWS omits both when no mutual TLS and no authorizer ran (serverless-wsgi reads them with
    # .get() and fails on null).
    assert "authentication" not in context
    assert "authorizer" not in context
    assert context["stage"] == "$default"
    assert context["routeKey"] == "$default"
    assert context["http"]["userAgent"] == ""
    assert isinstance(context["timeEpoch"], int)


def test_v2_cookie_header_becomes_cookies_list_and_leaves_headers() -> None:
    request = make_request(
        headers=(("cookie", "a=1;b=2 ;  c=3"), ("accept", "*/*"), ("cookie", "d=4")),
    )
    event = v2_event(request, make_target())
    assert event["cookies"] == ["a=1", "b=2", "c=3", "d=4"]
    assert "cookie" not in event["headers"]
    assert event["headers"] == {"accept": "*/*"}


def test_v2_empty_cookie_header_gives_no_cookies_key() -> None:
    event = v2_event(make_request(headers=(("cookie", " ; "),)), make_target())
    assert "cookies" not in event
    assert "cookie" not in event["headers"]


def test_v2_repeated_headers_are_comma_joined_in_order() -> None:
    request = make_request(headers=(("x-multi", "a"), ("x-multi", "b"), ("x-multi", "c")))
    assert v2_event(request, make_target())["headers"] == {"x-multi": "a,b,c"}


def test_v2_query_values_are_decoded_and_repeated_keys_joined() -> None:
    request = make_request(raw_query="q=hello+world&tag=a%2Cb&tag=c&empty=")
    event = v2_event(request, make_target())
    assert event["rawQueryString"] == "q=hello+world&tag=a%2Cb&tag=c&empty="
    assert event["queryStringParameters"] == {"q": "hello world", "tag": "a,b,c", "empty": ""}


def test_v2_http_path_is_decoded_raw_path_is_not() -> None:
    request = make_request(raw_path="/files/my%20doc%2Bv2.txt")
    event = v2_event(request, make_target())
    assert event["rawPath"] == "/files/my%20doc%2Bv2.txt"
    assert event["requestContext"]["http"]["path"] == "/files/my doc+v2.txt"


def test_v2_plus_in_path_is_not_a_space() -> None:
    event = v2_event(make_request(raw_path="/a+b"), make_target())
    assert event["requestContext"]["http"]["path"] == "/a+b"


@pytest.mark.parametrize(
    ("domain", "prefix"),
    [
        ("abc123.lambda-url.us-east-1.on.aws", "abc123"),
        ("api.example.com", "api"),
        ("localhost", "localhost"),
    ],
)
def test_v2_domain_prefix_is_first_label(domain: str, prefix: str) -> None:
    context = v2_event(make_request(), make_target(domain_name=domain))["requestContext"]
    assert context["domainName"] == domain
    assert context["domainPrefix"] == prefix


def test_v2_user_agent_and_source_ip() -> None:
    request = make_request(headers=(("user-agent", "curl/8.0"),), source_ip="10.1.2.3", protocol="HTTP/2.0")
    http = v2_event(request, make_target())["requestContext"]["http"]
    assert http["userAgent"] == "curl/8.0"
    assert http["sourceIp"] == "10.1.2.3"
    assert http["protocol"] == "HTTP/2.0"


def test_v2_text_body_is_text() -> None:
    request = make_request(
        method="POST", headers=(("content-type", "text/plain; charset=utf-8"),), body="héllo".encode()
    )
    event = v2_event(request, make_target())
    assert event["body"] == "héllo"
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", bytes(range(256))),
        ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("application/x-www-form-urlencoded", b"name=a+b&x=%20"),
        (None, b"plain bytes without a type"),
        ("text/plain", b"\xc3\x28 invalid utf-8"),
    ],
)
def test_v2_binary_body_round_trips_through_base64(content_type: str | None, body: bytes) -> None:
    headers = (("content-type", content_type),) if content_type else ()
    event = v2_event(make_request(method="POST", headers=headers, body=body), make_target())
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"], validate=True) == body


def test_v2_header_names_stay_lower_case() -> None:
    request = make_request(headers=(("content-type", "application/json"), ("x-custom-header", "v")))
    headers = v2_event(request, make_target())["headers"]
    assert all(name == name.lower() for name in headers)


# -- format 1.0 ------------------------------------------------------------------------------


def test_v1_event_full_shape() -> None:
    request = make_request(
        method="PUT",
        raw_path="/items/a%20b",
        raw_query="k=1&k=2&other=x+y",
        headers=(
            ("x-h", "first"),
            ("x-h", "second"),
            ("user-agent", "agent/2.0"),
            ("content-type", "application/json"),
            ("cookie", "a=1; b=2"),
        ),
        body=b'{"n": 1}',
    )
    target = make_target(
        route_key="PUT /items/{id}",
        stage="dev",
        resource_path="/items/{id}",
        path_parameters={"id": "a b"},
        stage_variables={"v": "1"},
    )
    event = v1_event(request, target)
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/a b"
    assert event["httpMethod"] == "PUT"
    assert event["headers"] == {
        "x-h": "second",
        "user-agent": "agent/2.0",
        "content-type": "application/json",
        "cookie": "a=1; b=2",
    }
    assert event["multiValueHeaders"] == {
        "x-h": ["first", "second"],
        "user-agent": ["agent/2.0"],
        "content-type": ["application/json"],
        "cookie": ["a=1; b=2"],
    }
    assert event["queryStringParameters"] == {"k": "2", "other": "x y"}
    assert event["multiValueQueryStringParameters"] == {"k": ["1", "2"], "other": ["x y"]}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["stageVariables"] == {"v": "1"}
    assert event["body"] == '{"n": 1}'
    assert event["isBase64Encoded"] is False

    context = event["requestContext"]
    assert context["accountId"] == ACCOUNT
    assert context["apiId"] == "abc123"
    assert context["domainName"] == "abc123.execute-api.localhost"
    assert context["domainPrefix"] == "abc123"
    assert context["httpMethod"] == "PUT"
    assert context["path"] == "/items/a b"
    assert context["protocol"] == "HTTP/1.1"
    assert context["requestId"] == "req-1"
    assert context["requestTime"] == "04/Mar/2020:19:03:58 +0000"
    assert context["requestTimeEpoch"] == TIME_MS
    assert context["resourcePath"] == "/items/{id}"
    assert context["stage"] == "dev"
    assert context["identity"]["sourceIp"] == "203.0.113.7"
    assert context["identity"]["userAgent"] == "agent/2.0"
    json.dumps(event)


def test_v1_event_minimal_request() -> None:
    event = v1_event(make_request(), make_target())
    assert event["version"] == "1.0"
    assert event["resource"] == "$default"
    assert event["path"] == "/"
    assert event["httpMethod"] == "GET"
    assert event["headers"] == {}
    assert event["multiValueHeaders"] == {}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert "authorizer" not in event["requestContext"]  # none ran: AWS leaves it out
    assert event["requestContext"]["identity"]["userAgent"] == ""
    assert "cookies" not in event


def test_v1_last_header_value_wins_and_multi_keeps_order() -> None:
    request = make_request(headers=(("accept", "a"), ("accept", "b"), ("accept", "c")))
    event = v1_event(request, make_target())
    assert event["headers"]["accept"] == "c"
    assert event["multiValueHeaders"]["accept"] == ["a", "b", "c"]


def test_v1_last_query_value_wins_and_multi_keeps_order() -> None:
    event = v1_event(make_request(raw_query="a=3&a=1&a=2&b=+"), make_target())
    assert event["queryStringParameters"] == {"a": "2", "b": " "}
    assert event["multiValueQueryStringParameters"] == {"a": ["3", "1", "2"], "b": [" "]}


def test_v1_binary_body_round_trips_through_base64() -> None:
    body = bytes(range(255, -1, -1))
    request = make_request(method="POST", headers=(("content-type", "application/octet-stream"),), body=body)
    event = v1_event(request, make_target())
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"], validate=True) == body


def test_v1_and_v2_agree_on_body_encoding() -> None:
    for headers, body in [
        ((("content-type", "application/xml"),), b"<a/>"),
        ((("content-type", "application/pdf"),), b"%PDF-1.4"),
    ]:
        request = make_request(method="POST", headers=headers, body=body)
        v1, v2 = v1_event(request, make_target()), v2_event(request, make_target())
        assert (v1["body"], v1["isBase64Encoded"]) == (v2["body"], v2["isBase64Encoded"])
