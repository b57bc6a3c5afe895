"""The JSON protocol against botocore's own client: every operation of the JSON services (and
CloudWatch, whose model also lists json) round-trips its input and its output, and errors
reach botocore's parser with their code and message."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from stratus.wire.json_protocol import JsonProtocol
from stratus.wire.models import service_model
from stratus.wire.samples import sample
from stratus.wire.types import BadRequest, WireError, WireRequest
from tests.unit.wire.roundtrip import (
    REQUEST_ID,
    botocore_reads,
    handmade_service,
    operations,
    request_round_trip,
    wire_request,
)

SERVICES = ("logs", "events", "cloudwatch", "sqs", "dynamodb", "stepfunctions")
OPERATIONS = operations(SERVICES)
WIRE = JsonProtocol()


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[f"{s}-{o}" for s, o in OPERATIONS])
def test_request_round_trip(service: str, name: str) -> None:
    model = service_model(service)
    operation = model.operation_model(name)
    params = sample(operation.input_shape, seed=name) if operation.input_shape else {}
    assert request_round_trip(WIRE, "json", model, operation, params) == params


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[f"{s}-{o}" for s, o in OPERATIONS])
def test_response_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    shape = operation.output_shape
    if shape is not None and shape.event_stream_name:
        pytest.skip("event-stream output: not carried by the JSON protocol's body")
    result = sample(shape, seed=f"out-{name}") if shape is not None else {}
    response = WIRE.serialize(operation, result, REQUEST_ID)
    assert response.status == 200
    parsed = botocore_reads("json", response, operation)
    assert parsed.pop("ResponseMetadata")["RequestId"] == REQUEST_ID
    assert parsed == result


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "error",
    [
        WireError("ResourceNotFoundException", 'The group <g> & "h" does not exist.', 400),
        WireError("ServiceUnavailable", "Try again.", 503, sender_fault=False),
    ],
)
def test_error_round_trip(service: str, error: WireError) -> None:
    model = service_model(service)
    operation = model.operation_model(model.operation_names[0])
    response = WIRE.error(model, error, REQUEST_ID)
    assert response.status == error.status
    assert dict(response.headers)["x-amzn-ErrorType"] == error.code
    parsed = botocore_reads("json", response, operation)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID
    if model.is_query_compatible:
        assert parsed["Error"]["Type"] == ("Sender" if error.sender_fault else "Receiver")
        assert parsed["Error"]["QueryErrorCode"] == error.code


def test_error_fields_join_the_body() -> None:
    model = service_model("logs")
    error = WireError("InvalidParameterException", "bad", 400, fields={"Type": "User"})
    body = json.loads(WIRE.error(model, error, REQUEST_ID).body)
    assert body == {"__type": "InvalidParameterException", "message": "bad", "Type": "User"}


def test_content_type_follows_the_json_version() -> None:
    for service, version in (("logs", "1.1"), ("dynamodb", "1.0")):
        model = service_model(service)
        operation = model.operation_model(model.operation_names[0])
        headers = dict(WIRE.serialize(operation, {}, REQUEST_ID).headers)
        assert headers["Content-Type"] == f"application/x-amz-json-{version}"
        assert headers["x-amzn-RequestId"] == REQUEST_ID


def _request(target: str | None, body: bytes = b"{}") -> WireRequest:
    headers = {} if target is None else {"x-amz-target": target}
    return WireRequest("POST", "/", (), headers, body)


@pytest.mark.parametrize(
    "target", [None, "", "Logs_20140328.NoSuchThing", "Other.CreateLogGroup", "CreateLogGroup"]
)
def test_unknown_target_is_unknown_operation(target: str | None) -> None:
    with pytest.raises(BadRequest) as caught:
        WIRE.operation(service_model("logs"), _request(target))
    assert caught.value.code == "UnknownOperationException"
    assert caught.value.status == 400


@pytest.mark.parametrize("body", [b"{", b"[1]", b'"text"', b"\xff\xfe", b'{"logGroupName": 5}'])
def test_malformed_body_is_serialization_exception(body: bytes) -> None:
    model = service_model("logs")
    operation, labels = WIRE.operation(model, _request("Logs_20140328.CreateLogGroup"))
    with pytest.raises(BadRequest) as caught:
        WIRE.parse(operation, _request("Logs_20140328.CreateLogGroup", body), labels)
    assert caught.value.code == "SerializationException"


def test_empty_body_is_an_empty_input() -> None:
    model = service_model("logs")
    operation, labels = WIRE.operation(model, _request("Logs_20140328.DescribeLogGroups"))
    assert WIRE.parse(operation, _request("Logs_20140328.DescribeLogGroups", b""), labels) == {}


def test_timestamps_read_from_epoch_numbers_and_iso_text() -> None:
    model = service_model("cloudwatch")
    operation = model.operation_model("GetMetricStatistics")
    target = "GraniteServiceVersion20100801.GetMetricStatistics"
    body = b'{"StartTime": 1614834367.25, "EndTime": "2021-03-04T05:06:07Z"}'
    params = WIRE.parse(operation, _request(target, body), {})
    assert params["StartTime"] == dt.datetime(2021, 3, 4, 5, 6, 7, 250000, tzinfo=dt.UTC)
    assert params["EndTime"] == dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def test_results_may_carry_epoch_numbers_and_text_blobs() -> None:
    model = service_model("logs")
    operation = model.operation_model("DescribeLogGroups")
    result = {"logGroups": [{"logGroupName": "g", "creationTime": 5, "unknownMember": 1}]}
    body = json.loads(WIRE.serialize(operation, result, REQUEST_ID).body)
    assert body == {"logGroups": [{"logGroupName": "g", "creationTime": 5}]}


def test_location_names_round_trip() -> None:
    # No JSON model of the tested services renames a member; this one does.
    model = handmade_service()
    operation = model.operation_model("Echo")
    params = sample(operation.input_shape, seed="names")
    request = wire_request("json", params, operation)
    assert b'"wireName"' in request.body
    assert request_round_trip(WIRE, "json", model, operation, params) == params
    response = WIRE.serialize(operation, params, REQUEST_ID)
    assert b'"wireName"' in response.body
    parsed = botocore_reads("json", response, operation)
    parsed.pop("ResponseMetadata")
    assert parsed == params
