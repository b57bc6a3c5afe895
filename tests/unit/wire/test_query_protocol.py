"""The query protocol against botocore's own client: every operation of SNS, IAM, STS and
CloudWatch round-trips its input (form) and its output (XML), and errors reach botocore's
parser with their code and message."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from botocore.exceptions import ClientError

from stratus.wire.json_protocol import JsonProtocol
from stratus.wire.models import protocol_model, service_model
from stratus.wire.query_protocol import MAX_DEPTH, QueryProtocol
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

SERVICES = ("sns", "iam", "sts", "cloudwatch")
OPERATIONS = operations(SERVICES)
EXTRA = operations(("sdb", "sqs", "elasticache"))
WIRE = QueryProtocol()


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[f"{s}-{o}" for s, o in OPERATIONS])
def test_request_round_trip(service: str, name: str) -> None:
    model = service_model(service)
    operation = model.operation_model(name)
    params = sample(operation.input_shape, seed=name) if operation.input_shape else {}
    assert request_round_trip(WIRE, "query", model, operation, params) == params


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[f"{s}-{o}" for s, o in OPERATIONS])
def test_response_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    shape = operation.output_shape
    result = sample(shape, seed=f"out-{name}") if shape is not None else {}
    response = WIRE.serialize(operation, result, REQUEST_ID)
    assert response.status == 200
    parsed = botocore_reads("query", response, operation)
    assert parsed.pop("ResponseMetadata")["RequestId"] == REQUEST_ID
    assert parsed == result


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "error",
    [
        WireError("NoSuchEntity", 'The role <r> & "s" cannot be found.', 404),
        WireError("InternalFailure", "Try again.", 500, sender_fault=False),
    ],
)
def test_error_round_trip(service: str, error: WireError) -> None:
    model = service_model(service)
    operation = model.operation_model(model.operation_names[0])
    response = WIRE.error(model, error, REQUEST_ID)
    assert response.status == error.status
    parsed = botocore_reads("query", response, operation)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["Error"]["Type"] == ("Sender" if error.sender_fault else "Receiver")
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


def _form(pairs: list[tuple[str, str]], *, get: bool = False) -> WireRequest:
    if get:
        return WireRequest("GET", "/", tuple(pairs), {}, b"")
    return WireRequest("POST", "/", (), {}, urlencode(pairs).encode())


@pytest.mark.parametrize("action", [None, "", "NoSuchAction", "getcalleridentity"])
def test_unknown_action_is_invalid_action(action: str | None) -> None:
    pairs = [("Version", "2011-06-15")] + ([] if action is None else [("Action", action)])
    with pytest.raises(BadRequest) as caught:
        WIRE.operation(service_model("sts"), _form(pairs))
    assert caught.value.code == "InvalidAction"
    assert caught.value.status == 400


def test_a_get_carries_the_form_in_its_query_string() -> None:
    model = service_model("cloudwatch")
    request = _form(
        [("Action", "ListMetrics"), ("Namespace", "N"), ("Dimensions.member.1.Name", "d")], get=True
    )
    operation, labels = WIRE.operation(model, request)
    assert WIRE.parse(operation, request, labels) == {"Namespace": "N", "Dimensions": [{"Name": "d"}]}


def test_list_items_may_be_capitalised_member_and_come_in_any_order() -> None:
    model = service_model("cloudwatch")
    operation = model.operation_model("ListMetrics")
    pairs = [("Dimensions.Member.2.Name", "b"), ("Dimensions.Member.1.Name", "a")]
    assert WIRE.parse(operation, _form(pairs), {}) == {"Dimensions": [{"Name": "a"}, {"Name": "b"}]}


def test_empty_list() -> None:
    operation = service_model("sns").operation_model("TagResource")
    params = WIRE.parse(operation, _form([("ResourceArn", "arn"), ("Tags", "")]), {})
    assert params == {"ResourceArn": "arn", "Tags": []}


def test_names_nested_too_deeply_are_refused() -> None:
    operation = service_model("cloudwatch").operation_model("ListMetrics")
    ok = ".".join(["Namespace"] * MAX_DEPTH)
    too_deep = ".".join(["Namespace"] * (MAX_DEPTH + 1))
    with pytest.raises(BadRequest) as caught:
        WIRE.parse(operation, _form([(too_deep, "x")]), {})
    assert caught.value.code == "InvalidQueryParameter"
    assert "nested too deeply" in caught.value.message
    with pytest.raises(BadRequest) as caught:  # within the bound, but not the model's shape
        WIRE.parse(operation, _form([(ok, "x")]), {})
    assert "nested too deeply" not in caught.value.message


@pytest.mark.parametrize(
    "pairs",
    [
        [("Period", "sixty")],
        [("StartTime", "yesterday")],
        [("Dimensions.member.x.Name", "d")],
        [("Dimensions..Name", "d")],
        [("Namespace", "a"), ("Namespace", "b")],
        [("Namespace", "a"), ("Namespace.b", "b")],
    ],
)
def test_unreadable_forms(pairs: list[tuple[str, str]]) -> None:
    operation = service_model("cloudwatch").operation_model("GetMetricStatistics")
    with pytest.raises(BadRequest) as caught:
        WIRE.parse(operation, _form(pairs), {})
    assert caught.value.code == "InvalidQueryParameter"


def test_response_is_wrapped_in_the_namespace_and_result() -> None:
    operation = service_model("sts").operation_model("GetCallerIdentity")
    body = WIRE.serialize(operation, {"Account": "123456789012"}, REQUEST_ID).body.decode()
    assert body == (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult><Account>123456789012</Account></GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{REQUEST_ID}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


@pytest.mark.parametrize(("service", "name"), EXTRA, ids=[f"{s}-{o}" for s, o in EXTRA])
def test_naming_traits_of_other_query_models(service: str, name: str) -> None:
    """SimpleDB, SQS's older query side and ElastiCache name list items, flatten lists and maps:
    traits the four services above barely use."""
    test_request_round_trip(service, name)
    test_response_round_trip(service, name)


def test_location_names_round_trip() -> None:
    model = handmade_service()
    operation = model.operation_model("Echo")
    params = sample(operation.input_shape, seed="names")
    form = wire_request("query", params, operation).body.decode()
    for part in (
        "wireName=",
        "Items.Item.1=",
        "Flat.1=",
        "One.1=",
        "Pairs.entry.1.Name=",
        "FlatPairs.1.key=",
    ):
        assert part in form
    assert request_round_trip(WIRE, "query", model, operation, params) == params
    response = WIRE.serialize(operation, params, REQUEST_ID)
    for part in (b"<wireName>", b"<Items><Item>", b"<One>", b"<Pairs><entry><Name>", b"<FlatPairs><key>"):
        assert part in response.body
    parsed = botocore_reads("query", response, operation)
    parsed.pop("ResponseMetadata")
    assert parsed == params


SQS_QUERY = operations(("sqs",))


@pytest.mark.parametrize("name", [o for _, o in SQS_QUERY])
def test_sqs_query_era_names_round_trip(name: str) -> None:
    """SQS's query side, served from the JSON model with the query-era names laid over it
    (wire/legacy_query.py): botocore's query client reads and writes every operation."""
    model = protocol_model("sqs", "query")
    operation = model.operation_model(name)
    params = sample(operation.input_shape, seed=name) if operation.input_shape else {}
    assert request_round_trip(WIRE, "query", model, operation, params) == params
    shape = operation.output_shape
    result = sample(shape, seed=f"out-{name}") if shape is not None else {}
    parsed = botocore_reads("query", WIRE.serialize(operation, result, REQUEST_ID), operation)
    parsed.pop("ResponseMetadata")
    assert parsed == result


def test_sqs_query_era_element_names() -> None:
    """The names a query-era client sends, not the JSON model's member names."""
    operation = protocol_model("sqs", "query").operation_model("SendMessage")
    params = {
        "QueueUrl": "http://h/123456789012/q",
        "MessageBody": "b",
        "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
    }
    form = wire_request("query", params, operation).body.decode()
    assert "MessageAttribute.1.Name=k" in form
    assert "MessageAttribute.1.Value.StringValue=v" in form
    received = protocol_model("sqs", "query").operation_model("ReceiveMessage")
    xml = WIRE.serialize(
        received, {"Messages": [{"MessageId": "m", "Attributes": {"SenderId": "s"}}]}, REQUEST_ID
    ).body.decode()
    assert (
        "<Message><MessageId>m</MessageId><Attribute><Name>SenderId</Name><Value>s</Value></Attribute>" in xml
    )


def test_sqs_errors_carry_their_query_era_codes() -> None:
    """A handler raises QueueDoesNotExist; query-era clients hear AWS.SimpleQueueService.
    NonExistentQueue, and JSON clients the shape name with the old code in x-amzn-query-error,
    which botocore answers as Error.Code while still raising QueueDoesNotExist."""
    error = WireError("QueueDoesNotExist", "The specified queue does not exist.", 400)
    query_model = protocol_model("sqs", "query")
    operation = query_model.operation_model("GetQueueUrl")
    parsed = botocore_reads("query", WIRE.error(query_model, error, REQUEST_ID), operation)
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    json_model = service_model("sqs")
    answer = JsonProtocol().error(json_model, error, REQUEST_ID)
    assert dict(answer.headers)["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    stubbed = _respond(client, answer)
    with pytest.raises(client.exceptions.QueueDoesNotExist) as caught:
        stubbed.get_queue_url(QueueName="q")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_sqs_json_access_denied_reads_as_access_denied() -> None:
    """The JSON protocol's AccessDeniedException is SQS's AccessDenied to a JSON client too:
    the header carries the query-era code, which boto3 reports as Error.Code."""
    error = WireError("AccessDeniedException", "not allowed", 403)
    answer = JsonProtocol().error(service_model("sqs"), error, REQUEST_ID)
    assert dict(answer.headers)["x-amzn-query-error"] == "AccessDenied;Sender"
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with pytest.raises(ClientError) as caught:
        _respond(client, answer).get_queue_url(QueueName="q")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"


def _respond(client: Any, answer: Any) -> Any:
    """`client`, answering every request with `answer` (botocore's own HTTP layer bypassed
    at its `before-send` hook, so its parser and error handlers all run)."""
    from botocore.awsrequest import AWSResponse

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_: Any) -> Any:
            yield self._body

    def send(**_: Any) -> AWSResponse:
        return AWSResponse("http://h/", answer.status, dict(answer.headers), _Raw(answer.body))

    client.meta.events.register("before-send", send)
    return client
