"""HTTP request -> Lambda event, in API Gateway's payload formats 2.0 (also function URLs') and 1.0.

Pure functions over a frozen request snapshot, so the shapes are unit-tested field by field.
Stratus's own cookies (the dashboard's session) never reach a function, whichever port or
path they arrived on: `own_cookies_removed` takes them out of both formats.
"""

from __future__ import annotations

import base64
import functools
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

from stratus.http_types import DASHBOARD_COOKIE

# Bodies of these types reach the function as text; everything else is base64-encoded, as
# Lambda does for function URLs and API Gateway for HTTP APIs.
TEXT_TYPES = (
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-yaml",
    "application/yaml",
    "application/graphql",
)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str  # as received, percent-encoding intact, without any Stratus mount prefix
    raw_query: str
    headers: tuple[tuple[str, str], ...]  # lower-cased names, in the order received
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"
    time_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True)
class Target:
    """Where the request landed: what the event's requestContext says about the endpoint."""

    account_id: str
    api_id: str
    domain_name: str
    request_id: str
    route_key: str = "$default"
    stage: str = "$default"
    resource_path: str = "$default"  # the route's path, for format 1.0's `resource`
    path_parameters: dict[str, str] | None = None
    stage_variables: dict[str, str] | None = None
    authorizer: dict[str, Any] | None = None


# Cookies of Stratus itself, which a browser may send to a function URL on the same host.
OWN_COOKIES = frozenset({DASHBOARD_COOKIE})


def own_cookies_removed(value: str) -> list[str]:
    """The `name=value` pairs of a Cookie header, without Stratus's own."""
    pairs = (pair.strip() for pair in value.split(";"))
    return [pair for pair in pairs if pair and pair.partition("=")[0].strip() not in OWN_COOKIES]


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media.startswith("text/") or media in TEXT_TYPES or media.endswith("+json") or media.endswith("+xml")
    )


def encoded_body(request: HttpRequest) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): text bodies as text, the rest base64."""
    if not request.body:
        return None, False
    if is_text(request.header("content-type")):
        try:
            return request.body.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def request_time(time_ms: int) -> str:
    """API Gateway's CLF timestamp: 12/Mar/2020:19:03:58 +0000."""
    return _clf_second(time_ms // 1000)


@functools.lru_cache(maxsize=4)
def _clf_second(second: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))


def v2_event(request: HttpRequest, target: Target) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        if name == "cookie":
            cookies.extend(own_cookies_removed(value))
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for key, value in query_pairs(request.raw_query):
        query[key] = f"{query[key]},{value}" if key in query else value
    body, is_base64 = encoded_body(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": target.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    # No "authentication" (mutual TLS only) and no "authorizer" unless one ran: AWS omits them,
    # and libraries read them with `.get(...)` on what they take for an object.
    context: dict[str, Any] = {"accountId": target.account_id, "apiId": target.api_id}
    if target.authorizer is not None:
        context["authorizer"] = target.authorizer
    event["requestContext"] = {
        **context,
        "domainName": target.domain_name,
        "domainPrefix": target.domain_name.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": unquote(request.raw_path),
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": target.request_id,
        "routeKey": target.route_key,
        "stage": target.stage,
        "time": request_time(request.time_ms),
        "timeEpoch": request.time_ms,
    }
    if body is not None:
        event["body"] = body
    event["pathParameters"] = target.path_parameters
    event["isBase64Encoded"] = is_base64
    event["stageVariables"] = target.stage_variables
    return event


def v1_event(request: HttpRequest, target: Target) -> dict[str, Any]:
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        if name == "cookie":
            kept = own_cookies_removed(value)
            if len(kept) != len([pair for pair in value.split(";") if pair.strip()]):
                value = "; ".join(kept)  # rewritten only when one of Stratus's was taken out
            if not value.strip():
                continue
        headers[name] = value  # format 1.0 keeps the last value here, all of them below
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in query_pairs(request.raw_query):
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    body, is_base64 = encoded_body(request)
    path = unquote(request.raw_path)
    return {
        "version": "1.0",
        "resource": target.resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "accountId": target.account_id,
            "apiId": target.api_id,
            **({"authorizer": target.authorizer} if target.authorizer is not None else {}),
            "domainName": target.domain_name,
            "domainPrefix": target.domain_name.split(".", 1)[0],
            "extendedRequestId": target.request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": headers.get("user-agent", ""),
                "userArn": None,
            },
            "path": path,
            "protocol": request.protocol,
            "requestId": target.request_id,
            "requestTime": request_time(request.time_ms),
            "requestTimeEpoch": request.time_ms,
            "resourceId": target.route_key,
            "resourcePath": target.resource_path,
            "stage": target.stage,
        },
        "pathParameters": target.path_parameters,
        "stageVariables": target.stage_variables,
        "body": body,
        "isBase64Encoded": is_base64,
    }
