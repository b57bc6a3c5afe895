"""Web frameworks behind function URLs and HTTP APIs, with their own Lambda adapters vendored
from PyPI as a user would: Flask through serverless-wsgi, which reads the event's
requestContext with `.get()` and so fails on a key AWS omits but the event carries as null."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server, allow_api_gateway, create
from tests.e2e.http_client import call
from tests.e2e.vendored import vendored_zip

APP = """
import serverless_wsgi
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/hello/<name>", methods=["GET", "POST"])
def hello(name):
    return jsonify(greeting=f"hello {name}", query=request.args.get("q"), body=request.get_data(as_text=True))


def handler(event, context):
    return serverless_wsgi.handle_request(app, event, context)
"""


@pytest.fixture(scope="module")
def flask_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return vendored_zip(tmp_path_factory.mktemp("wsgi"), APP, "serverless-wsgi==3.1.0", "Flask")


def _deploy(server: Server, name: str, package: bytes) -> str:
    lam = server.client("lambda")
    arn = create(lam, name, {}, Code={"ZipFile": package}, Timeout=30)["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return str(arn)


def _check(url: str) -> None:
    reply = call(url + "/hello/world?q=1", "POST", b"posted", {"Content-Type": "text/plain"})
    assert reply.status == 200, reply.body
    assert reply.json() == {"greeting": "hello world", "query": "1", "body": "posted"}


def test_flask_through_serverless_wsgi_behind_a_function_url(
    server: Server, flask_zip: bytes, fn_name: str
) -> None:
    _deploy(server, fn_name, flask_zip)
    lam = server.client("lambda")
    url = lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE")["FunctionUrl"]
    _check(url.rstrip("/"))


@pytest.mark.parametrize("payload", ["2.0", "1.0"])
def test_flask_through_serverless_wsgi_behind_an_http_api(
    server: Server, flask_zip: bytes, fn_name: str, payload: str
) -> None:
    name = f"{fn_name}-{payload[0]}"
    arn = _deploy(server, name, flask_zip)
    allow_api_gateway(server.client("lambda"), name)
    gw = server.client("apigatewayv2")
    api = gw.create_api(Name=name, ProtocolType="HTTP")
    try:
        integration = gw.create_integration(
            ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion=payload
        )["IntegrationId"]
        gw.create_route(
            ApiId=api["ApiId"], RouteKey="ANY /hello/{name}", Target=f"integrations/{integration}"
        )
        gw.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
        _check(api["ApiEndpoint"])
    finally:
        gw.delete_api(ApiId=api["ApiId"])
