"""The example web backend (examples/items-api), deployed with the CLI as a user would and
driven over HTTP: through its function URL and through an HTTP API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, allow_api_gateway

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "items-api"


def call(
    method: str, url: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, payload = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        status, headers, payload = e.code, dict(e.headers), e.read()
    return status, {k.lower(): v for k, v in headers.items()}, json.loads(payload) if payload else None


@pytest.fixture(scope="module")
def items_api(server: Server) -> str:
    name = f"items-{uuid.uuid4().hex[:8]}"
    deployed = server.cli("deploy", str(EXAMPLE), "--name", name)
    assert deployed.returncode == 0, deployed.stderr
    server.client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    return name


@pytest.fixture(scope="module")
def base_url(server: Server, items_api: str) -> str:
    exposed = server.cli("url", items_api)
    assert exposed.returncode == 0, exposed.stderr
    url = exposed.stdout.strip()
    assert url.startswith(server.endpoint) and url.endswith("/"), url
    return url


def test_crud_over_the_function_url(base_url: str) -> None:
    status, _, health = call("GET", base_url + "health")
    assert status == 200 and health["ok"] is True

    status, headers, lamp = call("POST", base_url + "items", {"name": "lamp", "price": 30, "tags": ["home"]})
    assert status == 201, lamp
    assert headers["location"] == f"/items/{lamp['id']}"
    status, _, desk = call("POST", base_url + "items", {"name": "desk", "price": 120})
    assert status == 201

    status, _, listing = call("GET", base_url + "items")
    assert status == 200
    assert [item["name"] for item in listing["items"]] == ["desk", "lamp"]
    status, _, tagged = call("GET", base_url + "items?tag=home")
    assert [item["id"] for item in tagged["items"]] == [lamp["id"]]

    status, _, got = call("GET", base_url + f"items/{lamp['id']}")
    assert status == 200 and got == lamp
    status, _, patched = call("PATCH", base_url + f"items/{lamp['id']}", {"price": 25})
    assert status == 200 and patched["price"] == 25 and patched["name"] == "lamp"
    status, _, replaced = call("PUT", base_url + f"items/{desk['id']}", {"name": "table"})
    assert status == 200 and replaced == {"id": desk["id"], "name": "table", "price": 0, "tags": []}

    status, _, gone = call("DELETE", base_url + f"items/{desk['id']}")
    assert status == 204 and gone is None
    status, _, missing = call("GET", base_url + f"items/{desk['id']}")
    assert status == 404 and desk["id"] in missing["error"]
    status, _, listing = call("GET", base_url + "items")
    assert listing["count"] == 1


def test_bad_requests_get_the_handlers_own_errors(base_url: str) -> None:
    status, _, error = call("POST", base_url + "items", raw=b"{not json")
    assert status == 400 and "JSON object" in error["error"]
    status, _, error = call("POST", base_url + "items", {"price": 3})
    assert status == 400 and error["error"] == "name is required"
    status, _, error = call("POST", base_url + "items", {"name": "x", "colour": "red"})
    assert status == 400 and "colour" in error["error"]
    status, headers, error = call("DELETE", base_url + "items")
    assert status == 405 and headers["allow"] == "GET, POST"
    status, _, error = call("GET", base_url + "nowhere")
    assert status == 404 and "GET /nowhere" in error["error"]


def test_the_same_handler_behind_an_http_api(server: Server, items_api: str) -> None:
    arn = server.client("lambda").get_function(FunctionName=items_api)["Configuration"]["FunctionArn"]
    gateway = server.client("apigatewayv2")
    allow_api_gateway(server.client("lambda"), items_api)
    api = gateway.create_api(Name="items", ProtocolType="HTTP", Target=arn)
    gateway.create_stage(ApiId=api["ApiId"], StageName="prod", AutoDeploy=True)
    try:
        for root in (api["ApiEndpoint"], api["ApiEndpoint"] + "/prod"):
            status, _, created = call("POST", root + "/items", {"name": f"via {root[-4:]}"})
            assert status == 201, created
            status, _, got = call("GET", root + f"/items/{created['id']}")
            assert status == 200 and got["name"] == created["name"]
    finally:
        gateway.delete_api(ApiId=api["ApiId"])
