"""The lean route table: the switchboard and aiohttp's middleware route from the same claims."""

from __future__ import annotations

import pytest

from stratus.http_types import HttpReply, Incoming
from stratus.lean_routes import Claim, Operation, RouteTable


async def front(request: Incoming) -> HttpReply:
    return HttpReply(200, (), b"front")


async def invoke(request: Incoming) -> HttpReply:
    return HttpReply(200, (), b"invoke")


async def sqs(request: Incoming) -> HttpReply:
    return HttpReply(200, (), b"sqs")


TABLE = RouteTable(
    claims=(Claim(front, ("/_stratus/url/", "/_stratus/api/"), (".lambda-url.", ".execute-api.")),),
    operations=(Operation(invoke, lambda method, path: method == "POST" and path.endswith("/invocations")),),
    targets={"AmazonSQS": sqs},
)


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/_stratus/url/abc/", "127.0.0.1:9000"),
        ("/_stratus/api/abc/items", "localhost"),
        ("/", "abc.lambda-url.us-east-1.localhost:9000"),
        ("/2015-03-31/functions/f/invocations", "abc.execute-api.eu-west-1.localhost"),
    ],
)
def test_claims_route_the_same_on_both_servers(path: str, host: str) -> None:
    assert TABLE.claimed(path, host) is front
    assert TABLE.route("POST", path, host) is front


def test_operations_are_the_switchboards_only() -> None:
    path = "/2015-03-31/functions/f/invocations"
    assert TABLE.route("POST", path, "127.0.0.1:9000") is invoke
    assert TABLE.claimed(path, "127.0.0.1:9000") is None  # aiohttp's router serves it there
    assert TABLE.route("GET", path, "127.0.0.1:9000") is None


@pytest.mark.parametrize(
    ("method", "path", "host"),
    [
        ("POST", "/", "127.0.0.1:9000"),
        ("GET", "/_stratus/health", "localhost"),
        ("GET", "/_stratus/urlx", "localhost"),
        ("GET", "/2015-03-31/functions", "lambda.localhost"),
    ],
)
def test_everything_else_goes_to_aiohttp(method: str, path: str, host: str) -> None:
    assert TABLE.route(method, path, host) is None
    assert TABLE.claimed(path, host) is None


def test_json_services_route_by_their_target_prefix_on_post_slash_only() -> None:
    assert TABLE.route("POST", "/", "localhost", "AmazonSQS.SendMessage") is sqs
    assert TABLE.route("POST", "/", "localhost", "AmazonSQS") is sqs  # the service answers the bad target
    assert TABLE.route("POST", "/", "localhost", "Logs_20140328.PutLogEvents") is None  # not declared
    assert TABLE.route("GET", "/", "localhost", "AmazonSQS.SendMessage") is None
    assert TABLE.route("POST", "/x", "localhost", "AmazonSQS.SendMessage") is None
    assert TABLE.route("POST", "/", "localhost", None) is None
    # A function URL's request keeps its claim whatever target it carries.
    assert TABLE.route("POST", "/_stratus/url/abc/", "localhost", "AmazonSQS.SendMessage") is front
