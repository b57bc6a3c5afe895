"""rest-json against botocore's own client, for every operation of Lambda and API Gateway v2:
botocore's serializer makes the request, RestJsonProtocol finds the operation and reads the
params back; RestJsonProtocol answers, botocore's parser reads the result back; and every
modeled error of both services reaches botocore with its code, message and fields."""

from __future__ import annotations

import json

import pytest

from stratus.wire.models import service_model
from stratus.wire.rest_json import RestJsonProtocol
from stratus.wire.rest_routes import NoRoute
from stratus.wire.samples import sample
from stratus.wire.types import BadRequest, WireError, WireRequest
from tests.unit.wire.rest_roundtrip import (
    client_parse,
    client_request,
    expected_params,
    readable,
    sample_result,
)

SERVICES = ("lambda", "apigatewayv2")
PROTOCOL = RestJsonProtocol()
CASES = [(s, op) for s in SERVICES for op in service_model(s).operation_names]
ERRORS = [(s, e.name) for s in SERVICES for e in service_model(s).error_shapes]


@pytest.mark.parametrize(("service", "name"), CASES)
def test_request_round_trip(service: str, name: str) -> None:
    model = service_model(service)
    operation = model.operation_model(name)
    params = sample(operation.input_shape, seed=name) if operation.input_shape is not None else {}
    request = client_request("rest-json", operation, params)
    found, labels = PROTOCOL.operation(model, request)
    assert found.name == name
    assert PROTOCOL.parse(found, request, labels) == expected_params(operation, params)


@pytest.mark.parametrize(("service", "name"), CASES)
def test_response_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    result = sample_result(operation)
    answer = PROTOCOL.serialize(operation, result, "req-1")
    parsed = client_parse("rest-json", operation, answer)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    got, want = readable(operation, parsed, result)
    assert got == want


@pytest.mark.parametrize(("service", "code"), ERRORS)
def test_error_reaches_botocore(service: str, code: str) -> None:
    model = service_model(service)
    shape = next(e for e in model.error_shapes if e.name == code)
    fields = {k: v for k, v in sample(shape, seed=code).items() if k.lower() != "message"}
    status = shape.metadata.get("error", {}).get("httpStatusCode", 400)
    answer = PROTOCOL.error(model, WireError(code, f"{code} happened", status, fields=fields), "req-2")
    assert answer.status == status
    operation = model.operation_model(model.operation_names[0])
    parsed = client_parse("rest-json", operation, answer, None)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == f"{code} happened"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-2"
    # The modeled fields, as botocore's client reads them for the exception it raises.
    modeled = client_parse("rest-json", operation, answer, shape)
    assert {k: v for k, v in modeled.items() if k.lower() != "message"} == fields


def test_lambda_error_body_is_lambdas() -> None:
    """Lambda spells the message `Message` and adds `Type`, as its own answers do."""
    answer = PROTOCOL.error(
        service_model("lambda"),
        WireError("ResourceNotFoundException", "Function not found: x", 404, fields={"Type": "User"}),
        "r",
    )
    assert json.loads(answer.body) == {"Type": "User", "Message": "Function not found: x"}
    assert ("x-amzn-ErrorType", "ResourceNotFoundException") in answer.headers


def test_invoke_answer() -> None:
    """Invoke: the payload is the raw body, the function error and log tail are headers."""
    operation = service_model("lambda").operation_model("Invoke")
    answer = PROTOCOL.serialize(
        operation, {"StatusCode": 200, "Payload": b'{"ok":1}', "FunctionError": "Unhandled"}, "r"
    )
    assert answer.status == 200
    assert answer.body == b'{"ok":1}'
    assert ("X-Amz-Function-Error", "Unhandled") in answer.headers


def test_response_code_from_model() -> None:
    model = service_model("lambda")
    assert PROTOCOL.serialize(model.operation_model("CreateFunction"), {}, "r").status == 201
    assert PROTOCOL.serialize(model.operation_model("DeleteAlias"), {}, "r").status == 204


def test_malformed_json_is_bad_request() -> None:
    model = service_model("lambda")
    request = WireRequest("POST", "/2015-03-31/functions", body=b"{not json")
    operation, labels = PROTOCOL.operation(model, request)
    with pytest.raises(BadRequest) as caught:
        PROTOCOL.parse(operation, request, labels)
    assert caught.value.code == "SerializationException"


def test_unknown_route_code_is_the_services() -> None:
    protocol = RestJsonProtocol(no_route=NoRoute("UnknownOperationException", 404))
    with pytest.raises(BadRequest) as caught:
        protocol.operation(service_model("lambda"), WireRequest("GET", "/2015-03-31/nothing-here"))
    assert (caught.value.code, caught.value.status) == ("UnknownOperationException", 404)
