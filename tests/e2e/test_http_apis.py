"""HTTP APIs (API Gateway v2) end to end: the control API driven by boto3's apigatewayv2 client,
and requests to the APIs' endpoints by real HTTP clients (http.client, urllib, curl, aiohttp)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server, allow_api_gateway, create, error_code, make_zip
from tests.e2e.http_client import call, curl, curl_post_file, event_of

# One handler whose behaviour the request's `mode` query parameter picks (echo by default).
APP = """
import json, time

def handler(event, context):
    query = event.get("queryStringParameters") or {}
    mode = query.get("mode", "echo")
    if mode == "echo":
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": json.dumps(event)}
    if mode == "v1":
        return {"statusCode": 202, "headers": {"x-single": "s", "content-type": "application/json"},
                "multiValueHeaders": {"x-multi": ["a", "b"]}, "body": json.dumps(event)}
    if mode == "nostatus":
        return {"body": "no status"}
    if mode == "plain":
        return {"hello": "world"}
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "badstatus":
        return {"statusCode": "abc"}
    if mode == "badbody":
        return {"statusCode": 200, "body": {"a": 1}}
    if mode == "crlf":
        return {"statusCode": 200, "headers": {"x-i": "a\\r\\nInjected: yes"}, "body": "c"}
    if mode == "informational":
        return {"statusCode": 100}
    if mode == "sleep":
        time.sleep(float(query["s"]))
        return {"slept": query["s"]}
    return {"statusCode": 400, "body": "unknown mode " + mode}
"""

OTHER = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"fn": "other", "routeKey": event["routeKey"],
            "pathParameters": event.get("pathParameters"), "body": event.get("body")})}
"""


# -- helpers ---------------------------------------------------------------------------------------


def not_found(url: str, method: str = "GET") -> None:
    reply = call(url, method)
    assert reply.status == 404, (url, reply.status, reply.body)
    assert reply.json() == {"message": "Not Found"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def integration(gw: Any, api_id: str, arn: str, **kwargs: Any) -> str:
    params = {"IntegrationType": "AWS_PROXY", "IntegrationUri": arn, "PayloadFormatVersion": "2.0"}
    params.update(kwargs)
    return str(gw.create_integration(ApiId=api_id, **params)["IntegrationId"])


def route(gw: Any, api_id: str, key: str, integration_id: str) -> str:
    made = gw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration_id}")
    assert made["RouteKey"] == key
    return str(made["RouteId"])


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gw(server: Server) -> Any:
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def app_arn(mlam: Any) -> Iterator[str]:
    name = unique("hapi-app")
    arn = str(create(mlam, name, {"app.py": APP}, Timeout=5)["FunctionArn"])
    allow_api_gateway(mlam, name)
    yield arn
    mlam.delete_function(FunctionName=name)


@pytest.fixture(scope="module")
def other_arn(mlam: Any) -> Iterator[str]:
    name = unique("hapi-other")
    arn = str(create(mlam, name, {"app.py": OTHER})["FunctionArn"])
    allow_api_gateway(mlam, name)
    yield arn
    mlam.delete_function(FunctionName=name)


@pytest.fixture(scope="module")
def quick(gw: Any, app_arn: str) -> Iterator[dict[str, Any]]:
    """A quick-created API in front of the shared function."""
    api = gw.create_api(Name=unique("quick"), ProtocolType="HTTP", Target=app_arn)
    yield api
    gw.delete_api(ApiId=api["ApiId"])


# -- quick create ----------------------------------------------------------------------------------


def test_quick_create(gw: Any, quick: dict[str, Any], server: Server) -> None:
    api_id, endpoint = quick["ApiId"], quick["ApiEndpoint"]
    assert quick["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert quick["ProtocolType"] == "HTTP"
    assert endpoint == f"{server.endpoint}/_stratus/api/{api_id}"
    routes = gw.get_routes(ApiId=api_id)["Items"]
    assert [r["RouteKey"] for r in routes] == ["$default"]
    stages = gw.get_stages(ApiId=api_id)["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]

    for path in ("/", "/any/path", "/deeper/still/x"):
        event = event_of(f"{endpoint}{path}?q=1")
        assert event["version"] == "2.0"
        assert event["routeKey"] == "$default"
        assert event["rawPath"] == path
        assert event["queryStringParameters"] == {"q": "1"}
        assert event["requestContext"]["stage"] == "$default"
        assert event["requestContext"]["apiId"] == api_id
        assert event["pathParameters"] is None
    # The endpoint itself, without a trailing slash, is the root.
    assert event_of(endpoint)["rawPath"] == "/"
    with urllib.request.urlopen(endpoint + "/p?mode=plain", data=b"x", timeout=30) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"hello": "world"}
        assert resp.headers["content-type"] == "application/json"
        request_id = resp.headers["x-amzn-RequestId"]
    assert request_id

    # Host-style, as on AWS.
    host = f"{api_id}.execute-api.{REGION}.localhost"
    reply = call(f"{server.endpoint}/via/host?x=y", headers={"Host": host})
    assert reply.status == 200, reply.body
    event = reply.json()
    assert event["rawPath"] == "/via/host"
    assert event["requestContext"]["domainName"] == host
    assert event["requestContext"]["domainPrefix"] == api_id


def test_unknown_api_is_404(server: Server) -> None:
    not_found(f"{server.endpoint}/_stratus/api/nosuchapi1/x")
    not_found(f"{server.endpoint}/_stratus/api/")


# -- routes ----------------------------------------------------------------------------------------


def test_routes(gw: Any, app_arn: str, other_arn: str) -> None:
    api = gw.create_api(Name=unique("routes"), ProtocolType="HTTP")
    api_id, endpoint = api["ApiId"], api["ApiEndpoint"]
    try:
        app = integration(gw, api_id, app_arn)
        other = integration(gw, api_id, other_arn)
        route(gw, api_id, "GET /items", app)
        route(gw, api_id, "GET /items/{id}", app)
        route(gw, api_id, "POST /items", other)
        not_found(endpoint + "/items")  # no stage yet: nothing is served
        gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

        event = event_of(endpoint + "/items")
        assert event["routeKey"] == "GET /items"
        assert event["requestContext"]["routeKey"] == "GET /items"
        assert event["pathParameters"] is None
        event = event_of(endpoint + "/items/7")
        assert event["routeKey"] == "GET /items/{id}"
        assert event["pathParameters"] == {"id": "7"}
        event = event_of(endpoint + "/items/caf%C3%A9")
        assert event["pathParameters"] == {"id": "café"}
        assert event["rawPath"] == "/items/caf%C3%A9"
        posted = event_of(endpoint + "/items", "POST", b"new item", {"Content-Type": "text/plain"})
        assert posted == {
            "fn": "other",
            "routeKey": "POST /items",
            "pathParameters": None,
            "body": "new item",
        }

        # Nothing matches, and there is no catch-all yet.
        not_found(endpoint + "/nothing")
        not_found(endpoint + "/items", "PUT")
        not_found(endpoint + "/items/7/extra")
        not_found(endpoint + "/")

        route(gw, api_id, "ANY /{proxy+}", app)
        event = event_of(endpoint + "/other/x", "DELETE")
        assert event["routeKey"] == "ANY /{proxy+}"
        assert event["pathParameters"] == {"proxy": "other/x"}
        assert event["requestContext"]["http"]["method"] == "DELETE"
        # More specific routes still win over the greedy one.
        assert event_of(endpoint + "/items/7")["routeKey"] == "GET /items/{id}"
        assert event_of(endpoint + "/items")["routeKey"] == "GET /items"
        event = event_of(endpoint + "/items", "PUT")
        assert (event["routeKey"], event["pathParameters"]) == ("ANY /{proxy+}", {"proxy": "items"})
        event = event_of(endpoint + "/items/7/extra")
        assert event["pathParameters"] == {"proxy": "items/7/extra"}
        not_found(endpoint + "/")  # a greedy variable needs at least one segment

        # $default takes what no other route does.
        route(gw, api_id, "$default", other)
        assert event_of(endpoint + "/")["routeKey"] == "$default"
        assert event_of(endpoint + "/other/x")["routeKey"] == "ANY /{proxy+}"
    finally:
        gw.delete_api(ApiId=api_id)
    not_found(endpoint + "/items")


def test_concurrent_requests_get_their_own_events(quick: dict[str, Any]) -> None:
    """Many requests at once through aiohttp, each answered with its own event."""
    endpoint = quick["ApiEndpoint"]

    async def run() -> list[tuple[int, str, Any]]:
        async with aiohttp.ClientSession() as session:

            async def one(i: int) -> tuple[int, str, Any]:
                async with session.post(f"{endpoint}/n/{i}", data=f"body-{i}".encode()) as resp:
                    return resp.status, resp.headers["x-amzn-RequestId"], await resp.json()

            return await asyncio.gather(*(one(i) for i in range(24)))

    results = asyncio.run(run())
    assert len({request_id for _, request_id, _ in results}) == 24
    for i, (status, request_id, event) in enumerate(results):
        assert status == 200
        assert event["rawPath"] == f"/n/{i}"
        assert event["requestContext"]["requestId"] == request_id
        assert event["isBase64Encoded"] is True  # no content type: the body is binary


def test_named_stage(gw: Any, app_arn: str) -> None:
    api = gw.create_api(Name=unique("staged"), ProtocolType="HTTP")
    api_id, endpoint = api["ApiId"], api["ApiEndpoint"]
    try:
        route(gw, api_id, "GET /items/{id}", integration(gw, api_id, app_arn))
        stage = gw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "blue"})
        assert stage["StageName"] == "prod" and stage["StageVariables"] == {"color": "blue"}
        not_found(endpoint + "/prod/items/1")  # no deployment yet: the stage serves nothing
        gw.create_deployment(ApiId=api_id, StageName="prod")

        event = event_of(endpoint + "/prod/items/1")
        assert event["routeKey"] == "GET /items/{id}"
        assert event["pathParameters"] == {"id": "1"}
        assert event["requestContext"]["stage"] == "prod"
        assert event["stageVariables"] == {"color": "blue"}
        assert event["rawPath"] == "/prod/items/1"

        not_found(endpoint + "/items/1")  # no $default stage
        not_found(endpoint + "/staging/items/1")
        not_found(endpoint + "/prod/other")

        gw.update_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "green"})
        assert event_of(endpoint + "/prod/items/2")["stageVariables"] == {"color": "green"}

        gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        event = event_of(endpoint + "/items/3")
        assert event["requestContext"]["stage"] == "$default"
        assert event["stageVariables"] is None
        assert event_of(endpoint + "/prod/items/4")["requestContext"]["stage"] == "prod"

        gw.delete_stage(ApiId=api_id, StageName="prod")
        not_found(endpoint + "/prod/items/5")
        assert event_of(endpoint + "/items/5")["pathParameters"] == {"id": "5"}
    finally:
        gw.delete_api(ApiId=api_id)


def test_a_stage_serves_its_deployment(gw: Any, app_arn: str) -> None:
    """As on API Gateway: a stage without autoDeploy serves what its last deployment captured,
    whatever the routes became since; one with autoDeploy gets a new deployment at each change;
    a deployment of an API without routes is refused."""
    api = gw.create_api(Name=unique("deployed"), ProtocolType="HTTP")
    api_id, endpoint = api["ApiId"], api["ApiEndpoint"]
    try:
        with pytest.raises(ClientError) as empty:
            gw.create_deployment(ApiId=api_id)
        assert error_code(empty) == "BadRequestException"
        integ = integration(gw, api_id, app_arn)
        first = route(gw, api_id, "GET /one", integ)
        gw.create_stage(ApiId=api_id, StageName="manual")
        gw.create_stage(ApiId=api_id, StageName="auto", AutoDeploy=True)
        not_found(endpoint + "/manual/one")  # never deployed
        assert event_of(endpoint + "/auto/one")["routeKey"] == "GET /one"

        deployed = gw.create_deployment(ApiId=api_id, StageName="manual", Description="v1")["DeploymentId"]
        assert gw.get_stage(ApiId=api_id, StageName="manual")["DeploymentId"] == deployed
        assert event_of(endpoint + "/manual/one")["routeKey"] == "GET /one"

        gw.delete_route(ApiId=api_id, RouteId=first)
        route(gw, api_id, "GET /two", integ)
        # The manual stage still serves its deployment; the automatic one follows the change.
        assert event_of(endpoint + "/manual/one")["routeKey"] == "GET /one"
        not_found(endpoint + "/manual/two")
        assert event_of(endpoint + "/auto/two")["routeKey"] == "GET /two"
        not_found(endpoint + "/auto/one")
        auto = gw.get_stage(ApiId=api_id, StageName="auto")["DeploymentId"]
        listed = {d["DeploymentId"]: d for d in gw.get_deployments(ApiId=api_id)["Items"]}
        assert listed[auto]["AutoDeployed"] is True and listed[deployed]["AutoDeployed"] is False

        gw.update_stage(ApiId=api_id, StageName="manual", DeploymentId=auto)
        assert event_of(endpoint + "/manual/two")["routeKey"] == "GET /two"
        with pytest.raises(ClientError) as unknown:
            gw.update_stage(ApiId=api_id, StageName="manual", DeploymentId="nope12")
        assert error_code(unknown) == "NotFoundException"
    finally:
        gw.delete_api(ApiId=api_id)


def test_integration_to_an_alias_by_invocation_arn(gw: Any, mlam: Any) -> None:
    """IntegrationUri in API Gateway's own form, naming an alias: the alias's version runs."""
    name = unique("hapi-alias")
    code = "def handler(event, context):\n    return {'statusCode': 200, 'body': '%s'}\n"
    arn = create(mlam, name, {"app.py": code % "v1"})["FunctionArn"]
    version = mlam.publish_version(FunctionName=name)["Version"]
    mlam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    allow_api_gateway(mlam, name)
    allow_api_gateway(mlam, name, "live")
    mlam.update_function_code(FunctionName=name, ZipFile=make_zip({"app.py": code % "v2"}))
    mlam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    uri = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}:live/invocations"
    api = gw.create_api(Name=unique("alias"), ProtocolType="HTTP")
    api_id, endpoint = api["ApiId"], api["ApiEndpoint"]
    try:
        route(gw, api_id, "GET /live", integration(gw, api_id, uri))
        route(gw, api_id, "GET /latest", integration(gw, api_id, arn))
        gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        assert call(endpoint + "/live").body == b"v1"
        assert call(endpoint + "/latest").body == b"v2"
    finally:
        gw.delete_api(ApiId=api_id)
        mlam.delete_function(FunctionName=name)


# -- payload format 1.0 ----------------------------------------------------------------------------


def test_payload_format_1(gw: Any, app_arn: str) -> None:
    api = gw.create_api(Name=unique("v1"), ProtocolType="HTTP")
    api_id, endpoint = api["ApiId"], api["ApiEndpoint"]
    try:
        v1 = integration(gw, api_id, app_arn, PayloadFormatVersion="1.0")
        route(gw, api_id, "ANY /v1/{rest+}", v1)
        gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        headers = [("X-Rep", "one"), ("X-Rep", "two"), ("Content-Type", "application/json")]
        reply = call(endpoint + "/v1/a/b?mode=v1&m=1&m=2", "PUT", b'{"k":1}', headers)
        assert reply.status == 202, reply.body
        assert reply.headers["x-single"] == "s"
        assert reply.headers.get_all("x-multi") == ["a", "b"]
        event = reply.json()
        assert event["version"] == "1.0"
        assert event["httpMethod"] == "PUT"
        assert event["path"] == "/v1/a/b"
        assert event["resource"] == "/v1/{rest+}"
        assert event["pathParameters"] == {"rest": "a/b"}
        assert event["queryStringParameters"] == {"mode": "v1", "m": "2"}
        assert event["multiValueQueryStringParameters"] == {"mode": ["v1"], "m": ["1", "2"]}
        assert event["multiValueHeaders"]["x-rep"] == ["one", "two"]
        assert event["headers"]["x-rep"] == "two"
        assert event["body"] == '{"k":1}' and event["isBase64Encoded"] is False
        assert event["requestContext"]["httpMethod"] == "PUT"
        assert event["requestContext"]["stage"] == "$default"
        assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
        assert event["requestContext"]["requestId"] == reply.headers["x-amzn-RequestId"]

        # Format 1.0 needs statusCode; a bare object is not a response.
        for mode in ("nostatus", "plain"):
            reply = call(endpoint + f"/v1/x?mode={mode}")
            assert reply.status == 500, (mode, reply.body)
            assert reply.json() == {"message": "Internal Server Error"}
        assert call(endpoint + "/v1/x?mode=v1").status == 202
    finally:
        gw.delete_api(ApiId=api_id)


# -- the control API -------------------------------------------------------------------------------


def test_control_api(gw: Any, app_arn: str) -> None:
    name = unique("ctl")
    api = gw.create_api(Name=name, ProtocolType="HTTP", Description="first", Tags={"team": "a"})
    api_id = api["ApiId"]
    try:
        assert api_id in {a["ApiId"] for a in gw.get_apis()["Items"]}
        got = gw.get_api(ApiId=api_id)
        assert got["Name"] == name and got["Description"] == "first"
        assert got["ApiEndpoint"] == api["ApiEndpoint"]
        assert got["Tags"] == {"team": "a"}
        assert got["RouteSelectionExpression"] == "$request.method $request.path"

        integ = gw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=app_arn, PayloadFormatVersion="2.0"
        )
        integ_id = integ["IntegrationId"]
        assert integ["IntegrationType"] == "AWS_PROXY" and integ["IntegrationUri"] == app_arn
        assert integ["TimeoutInMillis"] == 30000
        assert [i["IntegrationId"] for i in gw.get_integrations(ApiId=api_id)["Items"]] == [integ_id]
        assert gw.get_integration(ApiId=api_id, IntegrationId=integ_id)["PayloadFormatVersion"] == "2.0"
        updated_integ = gw.update_integration(ApiId=api_id, IntegrationId=integ_id, TimeoutInMillis=5000)
        assert updated_integ["TimeoutInMillis"] == 5000

        route_id = route(gw, api_id, "GET /a", integ_id)
        assert [r["RouteId"] for r in gw.get_routes(ApiId=api_id)["Items"]] == [route_id]
        assert gw.get_route(ApiId=api_id, RouteId=route_id)["Target"] == f"integrations/{integ_id}"
        moved = gw.update_route(ApiId=api_id, RouteId=route_id, RouteKey="GET /b")
        assert moved["RouteKey"] == "GET /b" and moved["Target"] == f"integrations/{integ_id}"
        assert gw.get_route(ApiId=api_id, RouteId=route_id)["RouteKey"] == "GET /b"

        cors = {"AllowOrigins": ["https://x.example"], "AllowMethods": ["GET"], "MaxAge": 10}
        changed = gw.update_api(ApiId=api_id, Description="second", CorsConfiguration=cors)
        assert changed["Description"] == "second"
        assert changed["CorsConfiguration"] == cors
        assert gw.get_api(ApiId=api_id)["CorsConfiguration"] == cors

        stage = gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        assert stage["StageName"] == "$default"
        assert [s["StageName"] for s in gw.get_stages(ApiId=api_id)["Items"]] == ["$default"]
        gw.update_stage(ApiId=api_id, StageName="$default", Description="the stage")
        assert gw.get_stage(ApiId=api_id, StageName="$default")["Description"] == "the stage"
        assert event_of(api["ApiEndpoint"] + "/b")["routeKey"] == "GET /b"
        not_found(api["ApiEndpoint"] + "/a")
        gw.update_api(ApiId=api_id, DisableExecuteApiEndpoint=True)
        not_found(api["ApiEndpoint"] + "/b")
        gw.update_api(ApiId=api_id, DisableExecuteApiEndpoint=False)
        assert event_of(api["ApiEndpoint"] + "/b")["routeKey"] == "GET /b"

        page = gw.get_apis(MaxResults="1")
        assert len(page["Items"]) == 1 and page["NextToken"]
        seen = {page["Items"][0]["ApiId"]}
        while "NextToken" in page:
            page = gw.get_apis(MaxResults="1", NextToken=page["NextToken"])
            seen.update(a["ApiId"] for a in page["Items"])
        assert seen == {a["ApiId"] for a in gw.get_apis()["Items"]}

        deployment = gw.create_deployment(ApiId=api_id, StageName="$default", Description="d1")
        assert deployment["DeploymentId"]
        assert (
            gw.get_stage(ApiId=api_id, StageName="$default")["DeploymentId"] == (deployment["DeploymentId"])
        )
        listed = gw.get_deployments(ApiId=api_id)["Items"]
        assert deployment["DeploymentId"] in {d["DeploymentId"] for d in listed}

        with pytest.raises(ClientError) as err:
            gw.delete_integration(ApiId=api_id, IntegrationId=integ_id)
        assert error_code(err) == "ConflictException"
        gw.get_integration(ApiId=api_id, IntegrationId=integ_id)  # still there

        gw.delete_route(ApiId=api_id, RouteId=route_id)
        with pytest.raises(ClientError) as err:
            gw.get_route(ApiId=api_id, RouteId=route_id)
        assert error_code(err) == "NotFoundException"
        not_found(api["ApiEndpoint"] + "/b")
        gw.delete_integration(ApiId=api_id, IntegrationId=integ_id)
        assert gw.get_integrations(ApiId=api_id)["Items"] == []

        gw.delete_stage(ApiId=api_id, StageName="$default")
        with pytest.raises(ClientError) as err:
            gw.get_stage(ApiId=api_id, StageName="$default")
        assert error_code(err) == "NotFoundException"
    finally:
        gw.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as err:
        gw.get_api(ApiId=api_id)
    assert error_code(err) == "NotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert api_id not in {a["ApiId"] for a in gw.get_apis()["Items"]}
    with pytest.raises(ClientError) as err:
        gw.delete_api(ApiId=api_id)
    assert error_code(err) == "NotFoundException"


def test_control_api_rejects_bad_input(gw: Any, app_arn: str) -> None:
    api_id = gw.create_api(Name=unique("bad"), ProtocolType="HTTP")["ApiId"]
    try:
        integ = integration(gw, api_id, app_arn)
        route(gw, api_id, "GET /items/{id}", integ)
        with pytest.raises(ClientError) as err:
            route(gw, api_id, "GET /items/{name}", integ)
        assert error_code(err) == "ConflictException"
        for bad in ("FETCH /x", "GET items", "GET /a//b", "GET /{proxy+}/x", "GET"):
            with pytest.raises(ClientError) as err:
                gw.create_route(ApiId=api_id, RouteKey=bad, Target=f"integrations/{integ}")
            assert error_code(err) == "BadRequestException", bad
        with pytest.raises(ClientError) as err:
            gw.create_route(ApiId=api_id, RouteKey="GET /z", Target="integrations/nosuch1")
        assert error_code(err) == "BadRequestException"
        with pytest.raises(ClientError) as err:
            gw.create_integration(
                ApiId=api_id,
                IntegrationType="HTTP_PROXY",
                IntegrationUri="https://example.com",
                PayloadFormatVersion="1.0",
                IntegrationMethod="GET",
            )
        assert error_code(err) == "BadRequestException"
        with pytest.raises(ClientError) as err:
            integration(gw, api_id, app_arn, TimeoutInMillis=40000)
        assert error_code(err) == "BadRequestException"
        with pytest.raises(ClientError) as err:
            integration(gw, api_id, app_arn, PayloadFormatVersion="3.0")
        assert error_code(err) == "BadRequestException"
        with pytest.raises(ClientError) as err:
            gw.create_stage(ApiId=api_id, StageName="bad stage!")
        assert error_code(err) == "BadRequestException"
        gw.create_stage(ApiId=api_id, StageName="prod")
        with pytest.raises(ClientError) as err:
            gw.create_stage(ApiId=api_id, StageName="prod")
        assert error_code(err) == "ConflictException"
        # Nothing the refusals touched changed.
        assert [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]] == ["GET /items/{id}"]
        assert len(gw.get_integrations(ApiId=api_id)["Items"]) == 1
        with pytest.raises(ClientError) as err:
            gw.get_route(ApiId=api_id, RouteId="nosuch1")
        assert error_code(err) == "NotFoundException"
    finally:
        gw.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as err:
        gw.create_api(Name=unique("ws"), ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.a")
    assert error_code(err) == "BadRequestException"
    with pytest.raises(ClientError) as err:
        gw.create_api(Name=unique("qc"), ProtocolType="HTTP", Target="arn:aws:sqs:us-east-1:000000000000:q")
    assert error_code(err) == "BadRequestException"
    with pytest.raises(ClientError) as err:
        gw.create_route(ApiId="nosuchapi1", RouteKey="GET /x")
    assert error_code(err) == "NotFoundException"


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["raise", "badstatus", "badbody", "crlf", "informational"])
def test_function_faults_are_500(quick: dict[str, Any], mode: str) -> None:
    reply = call(quick["ApiEndpoint"] + f"/f?mode={mode}")
    assert reply.status == 500, reply.body
    assert reply.json() == {"message": "Internal Server Error"}
    assert b"boom" not in reply.body
    assert event_of(quick["ApiEndpoint"] + "/after")["rawPath"] == "/after"


def test_deleted_function_is_500(gw: Any, mlam: Any) -> None:
    name = unique("hapi-gone")
    arn = create(mlam, name, {"app.py": OTHER})["FunctionArn"]
    allow_api_gateway(mlam, name)
    api = gw.create_api(Name=unique("gone"), ProtocolType="HTTP", Target=arn)
    try:
        assert event_of(api["ApiEndpoint"] + "/x")["fn"] == "other"
        mlam.delete_function(FunctionName=name)
        reply = call(api["ApiEndpoint"] + "/x")
        assert reply.status == 500
        assert reply.json() == {"message": "Internal Server Error"}
    finally:
        gw.delete_api(ApiId=api["ApiId"])


def test_integration_timeout_is_503(gw: Any, app_arn: str) -> None:
    api = gw.create_api(Name=unique("slow"), ProtocolType="HTTP")
    api_id, endpoint = api["ApiId"], api["ApiEndpoint"]
    try:
        route(gw, api_id, "$default", integration(gw, api_id, app_arn, TimeoutInMillis=1000))
        gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        assert call(endpoint + "/warm?mode=sleep&s=0").status == 200
        started = time.monotonic()
        reply = call(endpoint + "/x?mode=sleep&s=3")
        elapsed = time.monotonic() - started
        assert reply.status == 503, reply.body
        assert reply.json() == {"message": "Service Unavailable"}
        assert elapsed < 2.8
        assert event_of(endpoint + "/after")["rawPath"] == "/after"
    finally:
        gw.delete_api(ApiId=api_id)


def test_oversized_body_is_413(quick: dict[str, Any], tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * (6 * 1024 * 1024 + 1))
    status = curl_post_file(quick["ApiEndpoint"] + "/big", big, tmp_path / "out")
    assert status == b"413"
    assert json.loads((tmp_path / "out").read_bytes()) == {"message": "Request Entity Too Large"}
    assert event_of(quick["ApiEndpoint"] + "/after")["rawPath"] == "/after"


# -- CORS ------------------------------------------------------------------------------------------


def test_cors(gw: Any, app_arn: str) -> None:
    cors = {"AllowOrigins": ["*"], "AllowMethods": ["GET", "POST"], "MaxAge": 100}
    api = gw.create_api(Name=unique("cors"), ProtocolType="HTTP", Target=app_arn, CorsConfiguration=cors)
    endpoint = api["ApiEndpoint"]
    try:
        assert api["CorsConfiguration"] == cors
        done = curl(
            "-i",
            "-X",
            "OPTIONS",
            "-H",
            "Origin: https://site.example",
            "-H",
            "Access-Control-Request-Method: POST",
            endpoint + "/anything?mode=raise",
        )
        head = done.stdout.split(b"\r\n\r\n", 1)[0].decode().lower().split("\r\n")
        assert head[0].split()[1] == "204", head
        assert "access-control-allow-origin: *" in head
        assert "access-control-max-age: 100" in head
        methods = next(line for line in head if line.startswith("access-control-allow-methods:"))
        assert set(methods.split(":", 1)[1].strip().split(",")) == {"get", "post"}  # lower-cased above

        reply = call(endpoint + "/x", headers={"Origin": "https://site.example"})
        assert reply.status == 200
        assert reply.headers["access-control-allow-origin"] == "*"
        assert call(endpoint + "/x").headers["access-control-allow-origin"] is None
    finally:
        gw.delete_api(ApiId=api["ApiId"])


# -- restarts --------------------------------------------------------------------------------------


def test_endpoints_survive_a_restart(fresh_server: Any) -> None:
    first: Server = fresh_server()
    lam, apis = first.client("lambda"), first.client("apigatewayv2")
    name = unique("restart")
    arn = create(lam, name, {"app.py": APP})["FunctionArn"]
    allow_api_gateway(lam, name)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    api = apis.create_api(Name=unique("restart"), ProtocolType="HTTP", Target=arn)
    assert event_of(url + "before")["rawPath"] == "/before"
    assert event_of(api["ApiEndpoint"] + "/before")["rawPath"] == "/before"
    assert first.stop() == 0

    second = Server(first.data_dir, port=first.port).start()
    try:
        event = event_of(url + "after")
        assert event["rawPath"] == "/after"
        assert event["requestContext"]["apiId"] == url.rstrip("/").rsplit("/", 1)[1]
        event = event_of(api["ApiEndpoint"] + "/after")
        assert event["rawPath"] == "/after" and event["routeKey"] == "$default"
        lam2, apis2 = second.client("lambda"), second.client("apigatewayv2")
        assert lam2.get_function_url_config(FunctionName=name)["FunctionUrl"] == url
        assert apis2.get_api(ApiId=api["ApiId"])["ApiEndpoint"] == api["ApiEndpoint"]
        assert [r["RouteKey"] for r in apis2.get_routes(ApiId=api["ApiId"])["Items"]] == ["$default"]
    finally:
        second.stop()
