from __future__ import annotations

from typing import Any

import pytest

from stratus.httpapi.cors import (
    MAX_AGE_LIMIT,
    Cors,
    apply,
    is_preflight,
    preflight_headers,
    response_headers,
    validate,
)

ORIGIN = "https://app.example.com"


def as_dict(headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> dict[str, str]:
    out = dict(headers)
    assert len(out) == len(headers), "duplicate header names"
    return out


# -- from_pascal ------------------------------------------------------------------------------


def test_from_pascal_none_or_empty() -> None:
    assert Cors.from_pascal(None) is None
    assert Cors.from_pascal({}) is None


def test_from_pascal_normalises() -> None:
    cors = Cors.from_pascal(
        {
            "AllowOrigins": ["https://A.example.com", "*"],
            "AllowMethods": ["get", "Post"],
            "AllowHeaders": ["Content-Type", "X-Api-Key"],
            "ExposeHeaders": ["X-Request-Id"],
            "MaxAge": 300,
            "AllowCredentials": True,
        }
    )
    assert cors == Cors(
        allow_origins=("https://A.example.com", "*"),
        allow_methods=("GET", "POST"),
        allow_headers=("content-type", "x-api-key"),
        expose_headers=("x-request-id",),
        max_age=300,
        allow_credentials=True,
    )


def test_from_pascal_defaults() -> None:
    cors = Cors.from_pascal({"AllowOrigins": [ORIGIN]})
    assert cors == Cors(allow_origins=(ORIGIN,))
    assert cors is not None
    assert cors.max_age is None
    assert cors.allow_credentials is False


# -- allows / origin_header -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "origin", "expected"),
    [
        (("https://app.example.com",), "https://app.example.com", True),
        (("https://app.example.com",), "HTTPS://APP.EXAMPLE.COM", True),
        (("https://APP.example.com",), "https://app.example.com", True),
        (("https://app.example.com",), "http://app.example.com", False),
        (("https://app.example.com",), "https://app.example.com:8443", False),
        (("https://app.example.com",), "https://evil.example.com", False),
        (("https://app.example.com",), "https://app.example.com.evil.com", False),
        (("*",), "https://anything.test", True),
        (("*",), "null", True),
        (("https://*.example.com",), "https://api.example.com", True),
        (("https://*.example.com",), "https://a.b.example.com", True),
        (("https://*.example.com",), "https://API.Example.com", True),
        (("https://*.example.com",), "https://example.com", False),
        (("https://*.example.com",), "http://api.example.com", False),
        (("https://*.example.com",), "https://api.example.org", False),
        (("https://*.example.com",), "https://example.com.evil.org", False),
        (("http://localhost:*",), "http://localhost:3000", True),
        (("https://a.test", "https://b.test"), "https://b.test", True),
        ((), ORIGIN, False),
    ],
)
def test_allows(allowed: tuple[str, ...], origin: str, expected: bool) -> None:
    assert Cors(allow_origins=allowed).allows(origin) is expected


def test_origin_header_wildcard_without_credentials_is_star() -> None:
    assert Cors(allow_origins=("*",)).origin_header(ORIGIN) == "*"


def test_origin_header_wildcard_with_credentials_echoes() -> None:
    assert Cors(allow_origins=("*",), allow_credentials=True).origin_header(ORIGIN) == ORIGIN


def test_origin_header_listed_origin_echoes() -> None:
    assert Cors(allow_origins=(ORIGIN,)).origin_header(ORIGIN) == ORIGIN
    assert Cors(allow_origins=("https://*.example.com",)).origin_header(ORIGIN) == ORIGIN


# -- is_preflight -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "origin", "request_method", "expected"),
    [
        ("OPTIONS", ORIGIN, "POST", True),
        ("OPTIONS", ORIGIN, None, False),
        ("OPTIONS", None, "POST", False),
        ("OPTIONS", None, None, False),
        ("GET", ORIGIN, "POST", False),
        ("POST", ORIGIN, "POST", False),
    ],
)
def test_is_preflight(method: str, origin: str | None, request_method: str | None, expected: bool) -> None:
    assert is_preflight(method, origin, request_method) is expected


# -- preflight_headers ------------------------------------------------------------------------


def test_preflight_headers_full() -> None:
    cors = Cors(
        allow_origins=(ORIGIN,),
        allow_methods=("GET", "POST", "DELETE"),
        allow_headers=("content-type", "x-api-key"),
        expose_headers=("x-id",),
        max_age=600,
        allow_credentials=True,
    )
    headers = as_dict(preflight_headers(cors, ORIGIN))
    assert headers == {
        "access-control-allow-origin": ORIGIN,
        "access-control-allow-methods": "GET,POST,DELETE",
        "access-control-allow-headers": "content-type,x-api-key",
        "access-control-max-age": "600",
        "access-control-allow-credentials": "true",
    }


def test_preflight_headers_minimal_wildcard() -> None:
    headers = as_dict(preflight_headers(Cors(allow_origins=("*",)), ORIGIN))
    assert headers == {"access-control-allow-origin": "*"}


def test_preflight_max_age_zero_is_sent() -> None:
    headers = as_dict(preflight_headers(Cors(allow_origins=("*",), max_age=0), ORIGIN))
    assert headers["access-control-max-age"] == "0"


def test_preflight_no_credentials_header_when_false() -> None:
    headers = as_dict(preflight_headers(Cors(allow_origins=("*",), allow_methods=("*",)), ORIGIN))
    assert "access-control-allow-credentials" not in headers
    assert headers["access-control-allow-methods"] == "*"


def test_preflight_disallowed_origin_gets_nothing() -> None:
    cors = Cors(allow_origins=("https://other.test",), allow_methods=("GET",), max_age=10)
    assert preflight_headers(cors, ORIGIN) == []


def test_preflight_wildcard_with_credentials_echoes_origin() -> None:
    cors = Cors(allow_origins=("*",), allow_credentials=True)
    headers = as_dict(preflight_headers(cors, ORIGIN))
    assert headers["access-control-allow-origin"] == ORIGIN
    assert headers["access-control-allow-credentials"] == "true"


# -- response_headers -------------------------------------------------------------------------


def test_response_headers_full() -> None:
    cors = Cors(
        allow_origins=(ORIGIN,),
        allow_methods=("GET",),
        allow_headers=("x-a",),
        expose_headers=("x-request-id", "x-total"),
        max_age=5,
        allow_credentials=True,
    )
    headers = as_dict(response_headers(cors, ORIGIN))
    assert headers == {
        "access-control-allow-origin": ORIGIN,
        "access-control-expose-headers": "x-request-id,x-total",
        "access-control-allow-credentials": "true",
        "vary": "Origin",
    }


def test_response_headers_minimal() -> None:
    headers = response_headers(Cors(allow_origins=("*",)), ORIGIN)
    assert headers == [("access-control-allow-origin", "*"), ("vary", "Origin")]


def test_response_headers_disallowed() -> None:
    assert response_headers(Cors(allow_origins=("https://x.test",)), ORIGIN) == []


# -- apply ------------------------------------------------------------------------------------

FUNCTION_HEADERS = (
    ("content-type", "text/plain"),
    ("Access-Control-Allow-Origin", "https://from-function.test"),
    ("access-control-expose-headers", "x-secret"),
    ("ACCESS-CONTROL-ALLOW-CREDENTIALS", "true"),
    ("x-custom", "1"),
)


def test_apply_replaces_function_cors_headers() -> None:
    cors = Cors(allow_origins=(ORIGIN,), expose_headers=("x-id",))
    result = apply(cors, ORIGIN, FUNCTION_HEADERS)
    assert result == (
        ("content-type", "text/plain"),
        ("x-custom", "1"),
        ("access-control-allow-origin", ORIGIN),
        ("access-control-expose-headers", "x-id"),
        ("vary", "Origin"),
    )


def test_apply_wildcard_sets_star_and_vary() -> None:
    result = apply(Cors(allow_origins=("*",)), ORIGIN, (("content-type", "application/json"),))
    assert as_dict(result) == {
        "content-type": "application/json",
        "access-control-allow-origin": "*",
        "vary": "Origin",
    }


@pytest.mark.parametrize(
    ("cors", "origin"),
    [
        (None, ORIGIN),
        (Cors(allow_origins=(ORIGIN,)), None),
        (None, None),
        (Cors(allow_origins=("https://other.test",)), ORIGIN),
        (Cors(), ORIGIN),
    ],
)
def test_apply_leaves_headers_untouched(cors: Cors | None, origin: str | None) -> None:
    assert apply(cors, origin, FUNCTION_HEADERS) == FUNCTION_HEADERS


def test_apply_keeps_non_cors_headers_in_order() -> None:
    headers = (("a", "1"), ("access-control-max-age", "9"), ("b", "2"), ("set-cookie", "x=1"))
    result = apply(Cors(allow_origins=("*",)), ORIGIN, headers)
    assert result[:3] == (("a", "1"), ("b", "2"), ("set-cookie", "x=1"))
    assert ("access-control-max-age", "9") not in result


# -- validate ----------------------------------------------------------------------


def test_validate_pascal_accepts_full_config() -> None:
    data = {
        "AllowCredentials": True,
        "AllowHeaders": ["content-type"],
        "AllowMethods": ["GET", "post", "*"],
        "AllowOrigins": ["*"],
        "ExposeHeaders": ["x-id"],
        "MaxAge": 86400,
    }
    assert validate(data, camel=False) == data


def test_validate_empty_object() -> None:
    assert validate({}, camel=False) == {}
    assert validate({}, camel=True) == {}


def test_validate_camel_maps_to_pascal() -> None:
    data = {
        "allowOrigins": ["https://a.test"],
        "allowMethods": ["GET"],
        "allowHeaders": ["x-a"],
        "exposeHeaders": ["x-b"],
        "maxAge": 0,
        "allowCredentials": False,
    }
    assert validate(data, camel=True) == {
        "AllowOrigins": ["https://a.test"],
        "AllowMethods": ["GET"],
        "AllowHeaders": ["x-a"],
        "ExposeHeaders": ["x-b"],
        "MaxAge": 0,
        "AllowCredentials": False,
    }


def test_validate_pascal_mode_rejects_camel_names() -> None:
    with pytest.raises(ValueError, match="allowOrigins"):
        validate({"allowOrigins": ["*"]}, camel=False)



def test_validated_config_builds_cors() -> None:
    pascal = validate({"allowOrigins": [ORIGIN], "allowMethods": ["get"], "maxAge": 60}, camel=True)
    cors = Cors.from_pascal(pascal)
    assert cors is not None
    assert cors.allow_methods == ("GET",)
    assert as_dict(preflight_headers(cors, ORIGIN))["access-control-max-age"] == "60"


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "AllowOrigins",
        {"Unknown": 1},
        {"AllowOrigin": ["*"]},
        {"AllowOrigins": "*"},
        {"AllowOrigins": [""]},
        {"AllowOrigins": ["*", ""]},
        {"AllowOrigins": [1]},
        {"AllowHeaders": "content-type"},
        {"ExposeHeaders": [None]},
        {"AllowMethods": ["FETCH"]},
        {"AllowMethods": ["GET", "CONNECT"]},
        {"AllowMethods": "GET"},
        {"MaxAge": -1},
        {"MaxAge": MAX_AGE_LIMIT + 1},
        {"MaxAge": True},
        {"MaxAge": "60"},
        {"MaxAge": 1.5},
        {"AllowCredentials": "true"},
        {"AllowCredentials": 1},
    ],
)
def test_validate_rejects(data: Any) -> None:
    with pytest.raises(ValueError):
        validate(data, camel=False)


@pytest.mark.parametrize(
    "data",
    [
        {"allowOrigins": "*"},
        {"maxAge": 86401},
        {"allowCredentials": "yes"},
        {"allowMethods": ["BREW"]},
        {"bogus": True},
    ],
)
def test_validate_camel_rejects(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        validate(data, camel=True)


@pytest.mark.parametrize("camel", [True, False])
def test_validate_empty_field_name_is_a_value_error(camel: bool) -> None:
    # The callers turn ValueError into a 400; anything else would escape as a 500.
    with pytest.raises(ValueError, match="Unknown CORS field"):
        validate({"": ["*"]}, camel=camel)


@pytest.mark.parametrize("max_age", [0, 1, MAX_AGE_LIMIT])
def test_validate_max_age_bounds(max_age: int) -> None:
    assert validate({"MaxAge": max_age}, camel=False) == {"MaxAge": max_age}
