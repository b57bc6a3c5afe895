"""Libraries a Lambda user installs from PyPI, unchanged, against the real server: Powertools for
AWS Lambda (Python)'s Logger, read back through CloudWatch Logs, and its event handler routing
behind an HTTP API; numpy and pydantic v2 from a layer, imported by a function whose own zip
holds only its handler."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create
from tests.e2e.frameworks import deploy, http_api
from tests.e2e.http_client import call
from tests.e2e.vendored import PYTHON_RUNTIME, layer_zip, site_packages, zip_folder

POWERTOOLS = "aws-lambda-powertools>=3,<4"

LOGGER_APP = """
from aws_lambda_powertools import Logger

logger = Logger(service="checkout")


@logger.inject_lambda_context
def handler(event, context):
    logger.info("order placed", extra={"order_id": event["order"]})
    return {"order": event["order"]}
"""


def log_lines(server: Server, group: str, pattern: str, count: int) -> list[dict[str, Any]]:
    """The JSON log lines matching `pattern`, once `count` of them are there (the group and its
    lines are written after the invoke answers)."""
    logs = server.client("logs")
    deadline = time.monotonic() + 20
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            events = []
        lines = [json.loads(e["message"]) for e in events]
        if len(lines) >= count:
            break
        time.sleep(0.2)
    return lines


def test_powertools_logger_lines_carry_the_functions_context(server: Server, lam: Any, fn_name: str) -> None:
    """Logger's inject_lambda_context reads the context object (name, ARN, memory, request id)
    and its own cold-start flag; each line, read back with FilterLogEvents, says which invoke
    wrote it."""
    package = zip_folder({"app.py": LOGGER_APP}, site_packages(POWERTOOLS))
    arn = deploy(server, fn_name, package, MemorySize=256)
    request_ids = []
    for order in (1, 2):
        answer = lam.invoke(FunctionName=fn_name, Payload=json.dumps({"order": order}))
        assert "FunctionError" not in answer, answer["Payload"].read()
        assert json.loads(answer["Payload"].read()) == {"order": order}
        request_ids.append(answer["ResponseMetadata"]["RequestId"])

    lines = log_lines(server, f"/aws/lambda/{fn_name}", '{ $.message = "order placed" }', 2)
    lines.sort(key=lambda line: line["order_id"])
    assert [line["order_id"] for line in lines] == [1, 2], lines
    for line, request_id, cold in zip(lines, request_ids, (True, False), strict=True):
        assert line["level"] == "INFO"
        assert line["service"] == "checkout"
        assert line["function_name"] == fn_name
        assert line["function_arn"] == arn
        assert int(line["function_memory_size"]) == 256
        assert line["function_request_id"] == request_id
        assert line["cold_start"] is cold


RESOLVER_APP = """
import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths

logger = Logger(service="orders")
app = APIGatewayHttpResolver()


@app.get("/orders/<order_id>")
def get_order(order_id):
    if order_id == "404":
        raise NotFoundError(f"no order {order_id}")
    event = app.current_event
    logger.info("order read", extra={"order_id": order_id})
    return {
        "order_id": order_id,
        "expand": event.get_query_string_value("expand"),
        "client": event.headers.get("x-client"),
        "cookies": event.cookies,
        "route": event.route_key,
    }


@app.post("/orders")
def create_order():
    body = app.current_event.json_body
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"created": body["item"], "quantity": body["quantity"]}),
        headers={"Location": f"/orders/{body['item']}"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event, context):
    return app.resolve(event, context)
"""


def test_powertools_event_handler_routes_an_http_api(server: Server, fn_name: str) -> None:
    """APIGatewayHttpResolver reads the payload 2.0 event (path, method, query string, headers,
    cookies, JSON body) and routes it; what each route answered reaches the client. Logger's
    correlation id, read from the event's requestContext.requestId, is the request id the
    client was answered with."""
    package = zip_folder({"app.py": RESOLVER_APP}, site_packages(POWERTOOLS))
    arn = deploy(server, fn_name, package)
    with http_api(server, fn_name, arn, "2.0", ("GET /orders/{proxy+}", "POST /orders")) as base:
        got = call(base + "/orders/17?expand=lines", headers=[("X-Client", "e2e"), ("Cookie", "a=1; b=2")])
        assert got.status == 200, got.body
        assert got.json() == {
            "order_id": "17",
            "expand": "lines",
            "client": "e2e",
            "cookies": ["a=1", "b=2"],
            "route": "GET /orders/{proxy+}",
        }
        (line,) = log_lines(server, f"/aws/lambda/{fn_name}", '{ $.message = "order read" }', 1)
        assert line["order_id"] == "17"
        assert line["correlation_id"] == got.headers["x-amzn-RequestId"]
        missing = call(base + "/orders/404")
        assert missing.status == 404, missing.body
        assert missing.json() == {"statusCode": 404, "message": "no order 404"}
        # A path the gateway routes but the resolver does not: the resolver's own 404.
        unrouted = call(base + "/orders/1/lines")
        assert (unrouted.status, unrouted.json()) == (404, {"statusCode": 404, "message": "Not found"})

        made = call(
            base + "/orders", "POST", b'{"item": "tea", "quantity": 2}', {"Content-Type": "application/json"}
        )
        assert made.status == 201, made.body
        assert made.json() == {"created": "tea", "quantity": 2}
        assert made.headers["Location"] == "/orders/tea"


SCIENCE = ("numpy>=2,<3", "pydantic>=2,<3")

LAYER_USER = """
import numpy as np
import pydantic
from pydantic import BaseModel, ValidationError, field_validator


class Sample(BaseModel):
    values: list[float]

    @field_validator("values")
    @classmethod
    def not_empty(cls, values):
        if not values:
            raise ValueError("no values")
        return values


def handler(event, context):
    try:
        sample = Sample.model_validate(event)
    except ValidationError as e:
        return {"errors": [(list(err["loc"]), err["msg"]) for err in e.errors()]}
    values = np.array(sample.values)
    square = np.arange(4).reshape(2, 2)
    return {
        "mean": float(values.mean()),
        "var": float(values.var()),
        "matmul": (square @ square).tolist(),
        "numpy": [np.__version__, np.__file__],
        "pydantic": [pydantic.VERSION, pydantic.__file__],
        "dumped": sample.model_dump(),
    }
"""


@pytest.fixture(scope="module")
def science_layer() -> bytes:
    return layer_zip(*SCIENCE)


def test_numpy_and_pydantic_from_a_layer(lam: Any, fn_name: str, science_layer: bytes) -> None:
    """A layer with the wheels under python/ (PublishLayerVersion), and a function whose zip is
    only its handler: without the layer the import fails, with it numpy computes and pydantic
    v2 validates (its compiled core included), both loaded from /opt/python."""
    layer = lam.publish_layer_version(
        LayerName=f"{fn_name}-science",
        Content={"ZipFile": science_layer},
        CompatibleRuntimes=[PYTHON_RUNTIME],
    )
    create(lam, fn_name, {"app.py": LAYER_USER}, Runtime=PYTHON_RUNTIME, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=fn_name)
    bare = lam.invoke(FunctionName=fn_name, Payload=b"{}")
    assert bare.get("FunctionError") == "Unhandled"
    failure = json.loads(bare["Payload"].read())
    assert failure["errorType"] == "Runtime.ImportModuleError", failure
    assert "numpy" in failure["errorMessage"]

    lam.update_function_configuration(FunctionName=fn_name, Layers=[layer["LayerVersionArn"]])
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    _computes_and_validates(lam, fn_name, "/opt/python/")


def test_numpy_and_pydantic_in_the_functions_zip(server: Server, lam: Any, fn_name: str) -> None:
    """The same handler with the wheels vendored beside it in its own zip, loaded from
    /var/task."""
    deploy(server, fn_name, zip_folder({"app.py": LAYER_USER}, site_packages(*SCIENCE)))
    _computes_and_validates(lam, fn_name, "/var/task/")


def _computes_and_validates(lam: Any, fn_name: str, home: str) -> None:
    answer = lam.invoke(FunctionName=fn_name, Payload=json.dumps({"values": [1, 2, 3, 4]}))
    assert "FunctionError" not in answer, answer["Payload"].read()
    out = json.loads(answer["Payload"].read())
    assert out["mean"] == 2.5 and out["var"] == 1.25
    assert out["matmul"] == [[2, 3], [6, 11]]
    assert out["dumped"] == {"values": [1.0, 2.0, 3.0, 4.0]}
    assert out["numpy"][0].startswith("2.") and out["numpy"][1].startswith(home + "numpy/")
    assert out["pydantic"][0].startswith("2.") and out["pydantic"][1].startswith(home + "pydantic/")

    refused = json.loads(lam.invoke(FunctionName=fn_name, Payload=b'{"values": []}')["Payload"].read())
    assert refused == {"errors": [[["values"], "Value error, no values"]]}
    refused = json.loads(lam.invoke(FunctionName=fn_name, Payload=b'{"values": ["x"]}')["Payload"].read())
    assert refused == {
        "errors": [[["values", 0], "Input should be a valid number, unable to parse string as a number"]]
    }
