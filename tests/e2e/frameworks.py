"""Deploying a packaged function behind the two HTTP endpoints a web framework's Lambda adapter
serves from: a function URL (AuthType NONE) and an HTTP API with one proxy integration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.e2e.conftest import Server, allow_api_gateway, create
from tests.e2e.vendored import PYTHON_RUNTIME


def deploy(server: Server, name: str, package: bytes, **settings: Any) -> str:
    """A function from a zip (app.handler on the Python its vendored wheels are for, unless
    `settings` say otherwise), active; its ARN."""
    lam = server.client("lambda")
    settings = {"Runtime": PYTHON_RUNTIME, "Timeout": 30, **settings}
    arn = create(lam, name, {}, Code={"ZipFile": package}, **settings)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return str(arn)


def function_url(server: Server, name: str) -> str:
    """The function's URL (AuthType NONE), without its trailing slash."""
    url = server.client("lambda").create_function_url_config(FunctionName=name, AuthType="NONE")
    return str(url["FunctionUrl"]).rstrip("/")


@contextmanager
def http_api(
    server: Server, name: str, arn: str, payload: str = "2.0", routes: tuple[str, ...] = ("$default",)
) -> Iterator[str]:
    """An HTTP API whose `routes` proxy to the function with payload format `payload`, served
    by an auto-deployed $default stage; its endpoint. Deleted afterwards."""
    allow_api_gateway(server.client("lambda"), name)
    gw = server.client("apigatewayv2")
    api = gw.create_api(Name=name, ProtocolType="HTTP")
    try:
        integration = gw.create_integration(
            ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion=payload
        )["IntegrationId"]
        for route in routes:
            gw.create_route(ApiId=api["ApiId"], RouteKey=route, Target=f"integrations/{integration}")
        gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
        yield str(api["ApiEndpoint"])
    finally:
        gw.delete_api(ApiId=api["ApiId"])
