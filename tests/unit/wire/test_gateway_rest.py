"""The gateway serving declared REST services: boto3's own clients, signed as they sign, reach a
declared service's handlers under its signing declaration's path prefixes through the real
gateway app (SigV4 check, wire.dispatch, the REST protocol), and hear each outcome as botocore
reads it: the result (with the model's status code), the service's own no-route error under its
prefix, its validation code, an operation it does not implement, a handler's error."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import boto3
import pytest
from aiohttp.test_utils import TestServer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from stratus.errors import NotFound, UnrecognizedClient
from stratus.frontend.context import ApiContext, request_host
from stratus.gateway.server import Bound, build_app
from stratus.identity.keyring import root_caller
from stratus.wire.rest_routes import NoRoute
from stratus.wire.service import Service
from stratus.wire.signing import Signing

KEY, SECRET, REGION = "AKIDGATEWAYREST01", "gateway-rest-secret", "eu-west-3"
calls: list[tuple[str, dict[str, Any], str]] = []


# The gateway's own context: only its signature check reads it here (its keyring, with the one
# root pair: root callers are never evaluated, so no authorizer is consulted).
ROOT = root_caller("000000000000", KEY)


def _resolve(access_key_id: str, token: str | None) -> tuple[str, object]:
    if access_key_id != KEY:
        raise UnrecognizedClient("The security token included in the request is invalid.")
    return SECRET, ROOT


GATEWAY = cast(ApiContext, SimpleNamespace(keyring=SimpleNamespace(resolve=_resolve), authorizer=None))


@dataclass(frozen=True)
class Hosted:
    """What these handlers read: the configured host, for `request_host`."""

    configured_host: str


CONTEXT = Hosted("configured.invalid:1")


async def get_apis(context: Hosted, params: dict[str, Any], region: str) -> dict[str, Any]:
    calls.append(("GetApis", params, region))
    api = {"ApiId": "a1", "Name": "n", "ProtocolType": "HTTP", "ApiEndpoint": request_host(context)}
    return {"Items": [api]}


async def create_api(context: Hosted, params: dict[str, Any], region: str) -> dict[str, Any]:
    calls.append(("CreateApi", params, region))
    return {"ApiId": "a2", "Name": params["Name"], "ProtocolType": params["ProtocolType"]}


async def get_api(context: Hosted, params: dict[str, Any], region: str) -> dict[str, Any]:
    calls.append(("GetApi", params, region))
    raise NotFound(f"Invalid API identifier specified {params['ApiId']}")


async def list_functions(context: Hosted, params: dict[str, Any], region: str) -> dict[str, Any]:
    calls.append(("ListFunctions", params, region))
    return {"Functions": []}


APIGW = Service[Hosted](
    model="apigatewayv2",
    signing=Signing("apigateway", paths=("/v2/",)),
    handlers={"GetApis": get_apis, "CreateApi": create_api, "GetApi": get_api},
    validation_error="BadRequestException",
    protocols=("rest-json",),
    no_route=NoRoute("NotFoundException", 404, "No such resource: {method} {path}"),
)
# A second REST service under its own prefixes, with the protocol's default no-route answer.
LAMBDA = Service[Hosted](
    model="lambda",
    signing=Signing("lambda", paths=("/2015-03-31/",)),
    handlers={"ListFunctions": list_functions},
    protocols=("rest-json",),
)


def served(test: Callable[[str], Awaitable[None]]) -> None:
    """Run `test(endpoint)` against the gateway app with the two services declared."""

    async def run() -> None:
        services = (Bound(APIGW, CONTEXT), Bound(LAMBDA, CONTEXT))
        server = TestServer(build_app(GATEWAY, [], services), host="127.0.0.1")
        await server.start_server()
        try:
            await test(f"http://127.0.0.1:{server.port}")
        finally:
            await server.close()

    calls.clear()
    asyncio.run(run())


def client(name: str, endpoint: str, validate: bool = True) -> Any:
    return boto3.client(
        name,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=BotoConfig(parameter_validation=validate, retries={"max_attempts": 1}),
    )


def signed(method: str, url: str, service: str) -> tuple[str, dict[str, str]]:
    request = AWSRequest(method=method, url=url, data=b"")
    SigV4Auth(BotoCredentials(KEY, SECRET), service, REGION).add_auth(request)
    return url, dict(request.headers.items())


async def raw(method: str, url: str, service: str) -> tuple[int, dict[str, str], bytes]:
    import urllib.request

    target, headers = signed(method, url, service)

    def send() -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(target, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req) as reply:
                return reply.status, dict(reply.headers.items()), reply.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers.items()), e.read()

    return await asyncio.to_thread(send)


def error_of(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with pytest.raises(ClientError) as err:
            call()
        return err.value.response

    return run


def test_a_rest_operation_reaches_its_handler_and_botocore_reads_the_answer() -> None:
    async def test(endpoint: str) -> None:
        gw = client("apigatewayv2", endpoint)
        page = await asyncio.to_thread(gw.get_apis, MaxResults="5")
        assert page["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert page["Items"][0]["ApiId"] == "a1"
        # The handler heard the Host the client used, not the configured one.
        assert page["Items"][0]["ApiEndpoint"] == endpoint.removeprefix("http://")
        assert calls == [("GetApis", {"MaxResults": "5"}, REGION)]

    served(test)


def test_the_status_comes_from_the_model() -> None:
    async def test(endpoint: str) -> None:
        created = await asyncio.to_thread(
            client("apigatewayv2", endpoint).create_api, Name="x", ProtocolType="HTTP"
        )
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert (created["ApiId"], created["Name"]) == ("a2", "x")

    served(test)


def test_an_unknown_route_under_a_prefix_is_that_services_no_route_error() -> None:
    async def test(endpoint: str) -> None:
        status, headers, body = await raw("GET", endpoint + "/v2/nothing/here", "apigateway")
        assert (status, headers["x-amzn-ErrorType"]) == (404, "NotFoundException")
        assert b"No such resource: GET /v2/nothing/here" in body
        status, headers, _ = await raw("PATCH", endpoint + "/v2/apis", "apigateway")
        assert (status, headers["x-amzn-ErrorType"]) == (404, "NotFoundException")
        # Lambda's prefix: the protocol's default, Lambda's own.
        status, headers, _ = await raw("GET", endpoint + "/2015-03-31/nothing", "lambda")
        assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
        assert calls == []

    served(test)


def test_each_prefix_reaches_its_own_service() -> None:
    async def test(endpoint: str) -> None:
        listed = await asyncio.to_thread(client("lambda", endpoint).list_functions)
        assert listed["Functions"] == []
        assert [c[0] for c in calls] == ["ListFunctions"]

    served(test)


def test_refusals_are_the_services_own_errors() -> None:
    async def test(endpoint: str) -> None:
        loose = client("apigatewayv2", endpoint, validate=False)
        # Input the model refuses: API Gateway's validation code, before any handler.
        refused = await asyncio.to_thread(error_of(lambda: loose.create_api(Name="x")))
        assert refused["Error"]["Code"] == "BadRequestException"
        assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
        # A modeled operation without a handler.
        missing = await asyncio.to_thread(error_of(lambda: loose.get_routes(ApiId="a1")))
        assert missing["Error"]["Code"] == "UnknownOperationException"
        # A handler's error, with its code and status.
        gone = await asyncio.to_thread(error_of(lambda: loose.get_api(ApiId="zz")))
        assert (gone["Error"]["Code"], gone["Error"]["Message"]) == (
            "NotFoundException",
            "Invalid API identifier specified zz",
        )
        assert gone["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert [c[0] for c in calls] == ["GetApi"]

    served(test)


def test_a_signature_for_another_service_is_refused_under_a_prefix() -> None:
    async def test(endpoint: str) -> None:
        status, _, body = await raw("GET", endpoint + "/v2/apis", "lambda")
        assert status == 403, body
        assert calls == []

    served(test)


# -- API Gateway v2's own declaration, served the same way ---------------------------------------

ARN = "arn:aws:lambda:eu-west-3:123456789012:function:f"


def served_apigatewayv2(tmp_path: Any, test: Callable[[str], Awaitable[None]]) -> None:
    from stratus.httpapi.apis import HttpApis
    from stratus.services import apigatewayv2
    from stratus.store.sqlite import Store

    store = Store(tmp_path / "db")
    context = apigatewayv2.ApiGatewayContext(apis=HttpApis(store), configured_host=CONTEXT.configured_host)

    async def run() -> None:
        server = TestServer(build_app(GATEWAY, [], (Bound(apigatewayv2.SERVICE, context),)), host="127.0.0.1")
        await server.start_server()
        try:
            await test(f"http://127.0.0.1:{server.port}")
        finally:
            await server.close()

    try:
        asyncio.run(run())
    finally:
        store.close()


def test_apigatewayv2_answers_as_boto3_expects(tmp_path: Any) -> None:
    async def test(endpoint: str) -> None:
        gw = client("apigatewayv2", endpoint)
        api = await asyncio.to_thread(gw.create_api, Name="n", ProtocolType="HTTP", Target=ARN)
        assert api["ResponseMetadata"]["HTTPStatusCode"] == 201
        host = endpoint.removeprefix("http://")
        assert api["ApiEndpoint"] == f"http://{host}/_stratus/api/{api['ApiId']}"
        assert api["CreatedDate"].tzinfo is not None  # a timestamp, as botocore reads one
        stages = await asyncio.to_thread(gw.get_stages, ApiId=api["ApiId"])
        assert [(s["StageName"], s["AutoDeploy"]) for s in stages["Items"]] == [("$default", True)]
        routes = await asyncio.to_thread(gw.get_routes, ApiId=api["ApiId"])
        integ = routes["Items"][0]["Target"].removeprefix("integrations/")
        updated = await asyncio.to_thread(
            gw.update_integration, ApiId=api["ApiId"], IntegrationId=integ, TimeoutInMillis=1000
        )
        assert (updated["TimeoutInMillis"], updated["PayloadFormatVersion"]) == (1000, "2.0")
        deleted = await asyncio.to_thread(gw.delete_api, ApiId=api["ApiId"])
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204

    served_apigatewayv2(tmp_path, test)


def test_apigatewayv2_refusals(tmp_path: Any) -> None:
    async def test(endpoint: str) -> None:
        loose = client("apigatewayv2", endpoint, validate=False)
        api = await asyncio.to_thread(loose.create_api, Name="n", ProtocolType="HTTP")
        # The model's range (50..30000) and enum, refused at the edge with API Gateway's code.
        for bad in ({"TimeoutInMillis": 40000}, {"IntegrationType": "SOAP"}):
            args = {"IntegrationType": "AWS_PROXY", "IntegrationUri": ARN, "PayloadFormatVersion": "2.0"}
            args.update(bad)
            call = lambda a=args: loose.create_integration(ApiId=api["ApiId"], **a)  # noqa: E731
            refused = await asyncio.to_thread(error_of(call))
            assert refused["Error"]["Code"] == "BadRequestException", bad
        # What the model allows but this API does not: the handler's own refusals.
        ws = await asyncio.to_thread(error_of(lambda: loose.create_api(Name="w", ProtocolType="WEBSOCKET")))
        assert ws["Error"]["Code"] == "BadRequestException"
        page = await asyncio.to_thread(error_of(lambda: loose.get_apis(MaxResults="many")))
        assert page["Error"]["Code"] == "BadRequestException"
        gone = await asyncio.to_thread(error_of(lambda: loose.get_route(ApiId=api["ApiId"], RouteId="r1")))
        assert gone["Error"]["Code"] == "NotFoundException"
        assert gone["ResponseMetadata"]["HTTPStatusCode"] == 404
        status, headers, _ = await raw("GET", endpoint + "/v2/nowhere", "apigateway")
        assert (status, headers["x-amzn-ErrorType"]) == (404, "NotFoundException")

    served_apigatewayv2(tmp_path, test)


def test_apigatewayv2_iam_actions_and_resources_follow_its_http_bindings() -> None:
    from stratus.services.apigatewayv2 import SERVICE

    params = {"ApiId": "a1", "RouteId": "r1"}
    assert SERVICE.action("UpdateRoute", params, "eu-west-1", "1") == (
        "apigateway:PATCH",
        "arn:aws:apigateway:eu-west-1::/apis/a1/routes/r1",
    )
    listed = SERVICE.action("GetApis", {}, "us-east-1", "1")
    assert listed == ("apigateway:GET", "arn:aws:apigateway:us-east-1::/apis")
    assert SERVICE.action("CreateStage", {"ApiId": "a1", "StageName": "p"}, "r", "1") == (
        "apigateway:POST",
        "arn:aws:apigateway:r::/apis/a1/stages",
    )
