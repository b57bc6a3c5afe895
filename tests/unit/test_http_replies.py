from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from stratus.http_types import HttpReply, json_reply
from stratus.httpapi.replies import MalformedResponse, from_v1, from_v2

JSON = ("content-type", "application/json")


def dump(value: Any) -> bytes:
    return json.dumps(value).encode()


def header_values(reply: HttpReply, name: str) -> list[str]:
    return [v for k, v in reply.headers if k.lower() == name.lower()]


# -- json_reply ------------------------------------------------------------------------------


def test_json_reply() -> None:
    reply = json_reply(404, {"message": "Not Found"}, ("x-amzn-errortype", "NotFound"))
    assert reply.status == 404
    assert reply.headers == (JSON, ("x-amzn-errortype", "NotFound"))
    assert json.loads(reply.body) == {"message": "Not Found"}


def test_json_reply_without_extra_headers() -> None:
    reply = json_reply(200, {})
    assert reply == HttpReply(200, (JSON,), b"{}")


def test_malformed_response_is_a_value_error() -> None:
    assert issubclass(MalformedResponse, ValueError)


# -- format 2.0: inferred responses ----------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b'"hello"',
        b'{"message": "hi"}',
        b'{"status": 404, "body": "x"}',
        b"42",
        b"3.5",
        b"[1, 2, 3]",
        b"true",
        b"null",
        b'  {"spaced":   true}  ',
        '"héllo"'.encode(),
    ],
)
def test_v2_non_structured_json_is_the_body(payload: bytes) -> None:
    reply = from_v2(payload)
    assert reply.status == 200
    assert reply.headers == (JSON,)
    assert reply.body == payload


# -- format 2.0: structured responses --------------------------------------------------------


def test_v2_structured_full() -> None:
    reply = from_v2(
        dump(
            {
                "statusCode": 201,
                "headers": {"Content-Type": "text/plain", "X-Count": 3, "X-Ratio": 0.5, "X-On": True},
                "multiValueHeaders": {"X-Multi": ["a", "b"]},
                "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
                "body": "created",
            }
        )
    )
    assert reply.status == 201
    assert reply.body == b"created"
    assert header_values(reply, "content-type") == ["text/plain"]
    assert header_values(reply, "x-count") == ["3"]
    assert header_values(reply, "x-ratio") == ["0.5"]
    assert header_values(reply, "x-on") == ["true"]
    assert header_values(reply, "x-multi") == ["a", "b"]
    assert header_values(reply, "set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]


def test_v2_status_only() -> None:
    reply = from_v2(b'{"statusCode": 204}')
    assert reply == HttpReply(204, (JSON,), b"")


def test_v2_content_type_defaults_to_json_only_when_unset() -> None:
    assert header_values(from_v2(dump({"statusCode": 200, "body": "{}"})), "content-type") == [
        "application/json"
    ]
    reply = from_v2(dump({"statusCode": 200, "headers": {"CONTENT-TYPE": "text/html"}, "body": "<p>"}))
    assert header_values(reply, "content-type") == ["text/html"]
    multi = from_v2(dump({"statusCode": 200, "multiValueHeaders": {"content-type": ["text/csv"]}}))
    assert header_values(multi, "content-type") == ["text/csv"]


@pytest.mark.parametrize(("value", "expected"), [(True, "true"), (False, "false"), (0, "0"), (-7, "-7")])
def test_v2_header_scalars_are_stringified(value: Any, expected: str) -> None:
    reply = from_v2(dump({"statusCode": 200, "headers": {"x-v": value}}))
    assert header_values(reply, "x-v") == [expected]


def test_v2_multi_value_headers_each_value_its_own_header() -> None:
    reply = from_v2(dump({"statusCode": 200, "multiValueHeaders": {"x-a": ["1", 2, False], "x-b": []}}))
    assert header_values(reply, "x-a") == ["1", "2", "false"]
    assert header_values(reply, "x-b") == []


def test_v2_multi_value_headers_override_single_of_same_name() -> None:
    reply = from_v2(
        dump(
            {
                "statusCode": 200,
                "headers": {"X-Dup": "single", "x-other": "o"},
                "multiValueHeaders": {"x-dup": ["m1", "m2"]},
            }
        )
    )
    assert header_values(reply, "x-dup") == ["m1", "m2"]
    assert header_values(reply, "x-other") == ["o"]


def test_v2_each_cookie_is_a_set_cookie_header() -> None:
    reply = from_v2(dump({"statusCode": 200, "cookies": ["c1=1", "c2=2", "c3=3"]}))
    assert [(k, v) for k, v in reply.headers if k == "set-cookie"] == [
        ("set-cookie", "c1=1"),
        ("set-cookie", "c2=2"),
        ("set-cookie", "c3=3"),
    ]


def test_v2_empty_and_null_optional_fields() -> None:
    reply = from_v2(
        dump({"statusCode": 200, "headers": None, "multiValueHeaders": None, "cookies": None, "body": None})
    )
    assert reply == HttpReply(200, (JSON,), b"")
    assert from_v2(dump({"statusCode": 200, "cookies": [], "headers": {}})) == HttpReply(200, (JSON,), b"")


def test_v2_body_is_utf8_encoded() -> None:
    reply = from_v2(dump({"statusCode": 200, "body": "héllo €"}))
    assert reply.body == "héllo €".encode()


@pytest.mark.parametrize("flag", [True, "true"])
def test_v2_base64_body_is_decoded(flag: Any) -> None:
    raw = bytes(range(256))
    reply = from_v2(
        dump({"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": flag})
    )
    assert reply.body == raw


@pytest.mark.parametrize("flag", [False, "false"])
def test_v2_base64_flag_false_keeps_body(flag: Any) -> None:
    reply = from_v2(dump({"statusCode": 200, "body": "aGVsbG8=", "isBase64Encoded": flag}))
    assert reply.body == b"aGVsbG8="


@pytest.mark.parametrize(("status", "expected"), [(200, 200), (204, 204), (599, 599), ("201", 201)])
def test_v2_valid_status_codes(status: Any, expected: int) -> None:
    assert from_v2(dump({"statusCode": status})).status == expected


# -- malformed --------------------------------------------------------------------------------


MALFORMED: list[tuple[str, bytes]] = [
    ("not json", b"hello"),
    ("empty payload", b""),
    ("truncated json", b'{"statusCode": 200'),
    ("not utf-8", b'"\xff\xfe"'),
    ("status too low", dump({"statusCode": 99})),
    ("status informational", dump({"statusCode": 100})),
    ("status switching protocols", dump({"statusCode": 101})),
    ("status informational string", dump({"statusCode": "199"})),
    ("header name with a space", dump({"statusCode": 200, "headers": {"a b": "v"}})),
    ("empty header name", dump({"statusCode": 200, "headers": {"": "v"}})),
    ("header name with CRLF", dump({"statusCode": 200, "headers": {"x\r\nInjected": "v"}})),
    ("header value with CRLF", dump({"statusCode": 200, "headers": {"x-a": "v\r\nInjected: 1"}})),
    ("header value with LF", dump({"statusCode": 200, "multiValueHeaders": {"x-a": ["ok", "v\nx"]}})),
    ("header value with NUL", dump({"statusCode": 200, "headers": {"x-a": "v\u0000"}})),
    ("cookie with CRLF", dump({"statusCode": 200, "cookies": ["a=1\r\nX-Evil: 1"]})),
    ("status too high", dump({"statusCode": 600})),
    ("negative status", dump({"statusCode": -200})),
    ("status non-digit string", dump({"statusCode": "OK"})),
    ("status padded string", dump({"statusCode": " 200"})),
    ("status out-of-range string", dump({"statusCode": "999"})),
    ("status float", dump({"statusCode": 200.5})),
    ("status bool", dump({"statusCode": True})),
    ("status null", dump({"statusCode": None})),
    ("status list", dump({"statusCode": [200]})),
    ("headers list", dump({"statusCode": 200, "headers": ["a", "b"]})),
    ("headers string", dump({"statusCode": 200, "headers": "x-a: 1"})),
    ("header value object", dump({"statusCode": 200, "headers": {"x-a": {"k": "v"}}})),
    ("header value list", dump({"statusCode": 200, "headers": {"x-a": ["v"]}})),
    ("multiValueHeaders list", dump({"statusCode": 200, "multiValueHeaders": ["a"]})),
    ("multiValueHeaders value not list", dump({"statusCode": 200, "multiValueHeaders": {"x-a": "v"}})),
    ("multiValueHeaders item object", dump({"statusCode": 200, "multiValueHeaders": {"x-a": [{}]}})),
    ("cookies string", dump({"statusCode": 200, "cookies": "a=1"})),
    ("cookies with non-string", dump({"statusCode": 200, "cookies": ["a=1", 2]})),
    ("cookies object", dump({"statusCode": 200, "cookies": {"a": "1"}})),
    ("body object", dump({"statusCode": 200, "body": {"a": 1}})),
    ("body number", dump({"statusCode": 200, "body": 12})),
    ("body list", dump({"statusCode": 200, "body": ["x"]})),
    ("body bool", dump({"statusCode": 200, "body": False})),
    ("invalid base64", dump({"statusCode": 200, "body": "not base64!!", "isBase64Encoded": True})),
    ("bad base64 padding", dump({"statusCode": 200, "body": "abc", "isBase64Encoded": True})),
    ("isBase64Encoded not bool", dump({"statusCode": 200, "body": "aGk=", "isBase64Encoded": "yes"})),
]


@pytest.mark.parametrize(("label", "payload"), MALFORMED, ids=[label for label, _ in MALFORMED])
def test_v2_malformed(label: str, payload: bytes) -> None:
    with pytest.raises(MalformedResponse):
        from_v2(payload)


@pytest.mark.parametrize("status", ["²", "١٠٠٠"])
def test_v2_unicode_digit_status_is_malformed_not_a_crash(status: str) -> None:
    # str.isdigit() is true for these, but int() either fails ("²") or is out of range.
    with pytest.raises(MalformedResponse):
        from_v2(dump({"statusCode": status}))


@pytest.mark.parametrize(
    "value",
    [
        {"statusCode": 200, "headers": []},
        {"statusCode": 200, "multiValueHeaders": []},
        {"statusCode": 200, "cookies": {}},
    ],
    ids=["headers-empty-list", "multiValueHeaders-empty-list", "cookies-empty-object"],
)
def test_v2_empty_containers_of_the_wrong_type_are_malformed(value: dict[str, Any]) -> None:
    # Only null means "absent"; an empty list is still not an object (and {} not a list).
    with pytest.raises(MalformedResponse):
        from_v2(dump(value))


# -- format 1.0 ------------------------------------------------------------------------------


def test_v1_structured() -> None:
    reply = from_v1(
        dump(
            {
                "statusCode": 302,
                "headers": {"Location": "/elsewhere", "X-N": 1},
                "multiValueHeaders": {"X-M": ["a", "b"]},
                "body": "",
            }
        )
    )
    assert reply.status == 302
    assert header_values(reply, "location") == ["/elsewhere"]
    assert header_values(reply, "x-n") == ["1"]
    assert header_values(reply, "x-m") == ["a", "b"]
    assert header_values(reply, "content-type") == ["application/json"]
    assert reply.body == b""


def test_v1_base64_body() -> None:
    reply = from_v1(dump({"statusCode": 200, "body": "AAEC/w==", "isBase64Encoded": True}))
    assert reply.body == b"\x00\x01\x02\xff"


def test_v1_digit_string_status() -> None:
    assert from_v1(dump({"statusCode": "418"})).status == 418


def test_v1_cookies_field_is_not_mapped() -> None:
    reply = from_v1(dump({"statusCode": 200, "cookies": ["a=1"], "body": "x"}))
    assert header_values(reply, "set-cookie") == []
    # Not validated either: format 1.0 has no such field.
    assert from_v1(dump({"statusCode": 200, "cookies": "not-a-list"})).status == 200


def test_v1_set_cookie_via_multi_value_headers() -> None:
    reply = from_v1(dump({"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}}))
    assert header_values(reply, "set-cookie") == ["a=1", "b=2"]


@pytest.mark.parametrize(
    "payload",
    [
        b'"hello"',
        b"42",
        b"[1]",
        b"null",
        b'{"body": "no status"}',
        b"{}",
        b"not json",
    ],
)
def test_v1_requires_status_code(payload: bytes) -> None:
    with pytest.raises(MalformedResponse):
        from_v1(payload)


@pytest.mark.parametrize(
    "value",
    [
        {"statusCode": 0},
        {"statusCode": False},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    ],
)
def test_v1_malformed_structured(value: dict[str, Any]) -> None:
    with pytest.raises(MalformedResponse):
        from_v1(dump(value))


@pytest.mark.parametrize("mapper", [from_v1, from_v2])
def test_both_formats_map_a_structured_response_alike(mapper: Callable[[bytes], HttpReply]) -> None:
    reply = mapper(dump({"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "ok"}))
    assert reply == HttpReply(200, (("content-type", "text/plain"),), b"ok")


def test_stratus_own_cookies_are_never_set_by_a_function() -> None:
    payload = json.dumps(
        {
            "statusCode": 200,
            "cookies": ["stratus_dashboard=x; Path=/_stratus/ui/", "a=1"],
            "multiValueHeaders": {"set-cookie": ["stratus_dashboard =y", "b=2"]},
        }
    ).encode()
    reply = from_v2(payload)
    assert [v for n, v in reply.headers if n.lower() == "set-cookie"] == ["b=2", "a=1"]
