"""The pure parts of DynamoDB Streams: sequence numbers, shard ids, shard iterators, the record
shapes (Lambda's event and GetRecords'), and Lambda's invocation record for given-up records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stratus.eventsources.model import EventSourceMapping, MappingConfig
from stratus.eventsources.source import Record
from stratus.eventsources.stream_runner import failure_record, retry_delay
from stratus.eventsources.streaming import StreamItem
from stratus.invoke.records import InvocationResult
from stratus.invoke.target import Invoked
from stratus.observe.tracing import TraceHeader
from stratus.tables.stream_errors import ValidationException
from stratus.tables.streams import (
    ITERATOR_LIFE_MS,
    SERVICE_IDENTITY,
    Position,
    StreamInfo,
    StreamRow,
    api_record,
    decode_iterator,
    encode_iterator,
    event_id,
    expired,
    lambda_record,
    sequence_number,
    sequence_value,
    shard_id,
    to_wire,
)

ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000"
STREAM = StreamInfo(
    arn=ARN,
    table_name="orders",
    table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
    label="2024-01-01T00:00:00.000",
    view_type="NEW_AND_OLD_IMAGES",
    key_schema=(("pk", "HASH"),),
    created_ms=1_700_000_000_000,
)


def test_sequence_numbers_are_21_digits_that_sort_as_their_values() -> None:
    assert sequence_number(7) == "000000000000000000007"
    assert len(sequence_number(10**20)) == 21
    numbers = [sequence_number(n) for n in (3, 20, 100, 9)]
    assert sorted(numbers) == [sequence_number(n) for n in (3, 9, 20, 100)]
    assert sequence_value("000000000000000000042") == 42


@pytest.mark.parametrize("text", ["", "12a", "-1", "１２"])
def test_a_sequence_number_that_is_not_digits_is_refused(text: str) -> None:
    with pytest.raises(ValidationException):
        sequence_value(text)


def test_shard_ids_have_dynamodbs_form_and_are_stable() -> None:
    shard = shard_id(ARN, 1_700_000_000_000)
    assert shard.startswith("shardId-00000001700000000000-")
    assert len(shard) == len("shardId-00000001700000000000-") + 8
    assert shard == STREAM.shard_id
    assert 28 <= len(shard) <= 65  # the model's bounds


def test_iterators_round_trip_and_name_their_stream() -> None:
    position = Position(ARN, STREAM.shard_id, 41, 1_000 + ITERATOR_LIFE_MS)
    text = encode_iterator(position)
    assert text.startswith(ARN + "|")
    assert len(text) <= 2048
    assert decode_iterator(text) == position
    assert not expired(position, 1_000)
    assert expired(position, 1_000 + ITERATOR_LIFE_MS)


@pytest.mark.parametrize("text", ["garbage", f"{ARN}|1|not-base64!", f"{ARN}|2|e30=", "x|1|WyJhIiwxLDJd"])
def test_malformed_iterators_are_a_validation_error(text: str) -> None:
    with pytest.raises(ValidationException):
        decode_iterator(text)


ROW = StreamRow(
    sequence=5,
    event_name="MODIFY",
    keys={"pk": {"S": "a"}},
    new_image={"pk": {"S": "a"}, "b": {"B": "AAE="}, "m": {"M": {"bs": {"BS": ["AQ=="]}}}},
    old_image={"pk": {"S": "a"}, "n": {"N": "1"}},
    created_ms=1_700_000_123_456,
)


def test_the_lambda_record_is_the_documented_dynamodb_event_record() -> None:
    record = lambda_record(STREAM, ROW)
    assert list(record) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    ]
    assert record["eventID"] == event_id(ARN, 5) and len(record["eventID"]) == 32
    assert record["eventName"] == "MODIFY"
    assert record["eventVersion"] == "1.1"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["awsRegion"] == "eu-west-1"
    assert record["eventSourceARN"] == ARN
    body = record["dynamodb"]
    assert body["ApproximateCreationDateTime"] == 1_700_000_123
    assert body["Keys"] == {"pk": {"S": "a"}}
    assert body["NewImage"]["b"] == {"B": "AAE="}  # binary stays base64 in the event
    assert body["OldImage"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert body["SequenceNumber"] == "000000000000000000005"
    assert body["SizeBytes"] > 0
    assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_a_ttl_deletion_carries_the_service_identity() -> None:
    row = StreamRow(6, "REMOVE", {"pk": {"S": "a"}}, None, {"pk": {"S": "a"}}, 0, dict(SERVICE_IDENTITY))
    assert lambda_record(STREAM, row)["userIdentity"] == {
        "type": "Service",
        "principalId": "dynamodb.amazonaws.com",
    }
    assert "NewImage" not in lambda_record(STREAM, row)["dynamodb"]
    assert api_record(STREAM, row)["userIdentity"] == {
        "PrincipalId": "dynamodb.amazonaws.com",
        "Type": "Service",
    }


def test_the_api_record_has_binary_as_bytes_and_a_datetime() -> None:
    record = api_record(STREAM, ROW)
    body = record["dynamodb"]
    assert body["NewImage"]["b"] == {"B": b"\x00\x01"}
    assert body["NewImage"]["m"] == {"M": {"bs": {"BS": [b"\x01"]}}}
    assert body["ApproximateCreationDateTime"] == datetime.fromtimestamp(1_700_000_123, UTC)
    assert "eventSourceARN" not in record
    assert to_wire({"L": [{"B": "AQ=="}, {"S": "x"}]}) == {"L": [{"B": b"\x01"}, {"S": "x"}]}


def test_the_failure_record_names_the_shard_and_the_sequence_range() -> None:
    mapping = EventSourceMapping(
        "u", "eu-west-1", "123456789012", "f", None, ARN, MappingConfig(), True, "Enabled", "", 0.0
    )
    items = [
        StreamItem(
            n, "a", Record(sequence_number(n), sequence_number(n), {}, 2, {}, 1_700_000_000_000 + n * 1000)
        )
        for n in (3, 4)
    ]
    invoked = Invoked(InvocationResult(b"{}", "$LATEST", function_error="Unhandled"), TraceHeader("1-0-0"))
    record = failure_record(
        mapping, "shardId-1", items, "RetryAttemptsExhausted", 3, invoked, 1_700_000_100.5
    )
    assert record["requestContext"]["functionArn"] == "arn:aws:lambda:eu-west-1:123456789012:function:f"
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0"
    assert record["timestamp"] == "2023-11-14T22:15:00.500Z"
    assert record["DDBStreamBatchInfo"] == {
        "shardId": "shardId-1",
        "startSequenceNumber": "000000000000000000003",
        "endSequenceNumber": "000000000000000000004",
        "approximateArrivalOfFirstRecord": "2023-11-14T22:13:23Z",
        "approximateArrivalOfLastRecord": "2023-11-14T22:13:24Z",
        "batchSize": 2,
        "streamArn": ARN,
    }


def test_retry_pauses_grow_and_are_bounded() -> None:
    assert retry_delay(0) < retry_delay(1) < retry_delay(3)
    assert retry_delay(50) == 5.0
