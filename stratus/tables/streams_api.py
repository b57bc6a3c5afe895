"""The DynamoDB Streams API (model "dynamodbstreams", JSON 1.0, X-Amz-Target
DynamoDBStreams_20120810, signed as "dynamodb" like DynamoDB itself): ListStreams,
DescribeStream, GetShardIterator and GetRecords over `streams.Streams`. Each is authorized as
`dynamodb:<Action>` on the stream's ARN (GetRecords on the stream its iterator names)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stratus.tables.stream_errors import ResourceNotFoundException, ValidationException
from stratus.tables.streams import (
    MAX_LIMIT,
    StreamInfo,
    Streams,
    api_record,
    decode_iterator,
    sequence_number,
)
from stratus.wire.service import Service
from stratus.wire.signing import Signing

TARGET_PREFIX = "DynamoDBStreams_20120810"
DEFAULT_LIST = 100


@dataclass(frozen=True)
class StreamsContext:
    streams: Streams
    account_id: str


def _mine(context: StreamsContext, arn: str, region: str) -> bool:
    parts = arn.split(":")
    return len(parts) > 4 and parts[3] == region and parts[4] == context.account_id


def _stream(context: StreamsContext, arn: str, region: str) -> StreamInfo:
    """The stream, if it is of the caller's region and account (else not found, as AWS)."""
    if not _mine(context, arn, region):
        raise ResourceNotFoundException(f"Requested resource not found: Stream: {arn} not found")
    return context.streams.get(arn)


async def list_streams(context: StreamsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    table = params.get("TableName")
    streams = [
        s
        for s in context.streams.all()
        if _mine(context, s.arn, region) and (table is None or s.table_name == table)
    ]
    start = params.get("ExclusiveStartStreamArn")
    if start:
        arns = [s.arn for s in streams]
        streams = streams[arns.index(start) + 1 :] if start in arns else []
    limit = int(params.get("Limit") or DEFAULT_LIST)
    page = streams[:limit]
    result: dict[str, Any] = {
        "Streams": [{"StreamArn": s.arn, "TableName": s.table_name, "StreamLabel": s.label} for s in page]
    }
    if len(streams) > limit:
        result["LastEvaluatedStreamArn"] = page[-1].arn
    return result


async def describe_stream(context: StreamsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    streams = context.streams
    stream = _stream(context, params["StreamArn"], region)
    low, high = await streams.bounds(stream)
    if low is None:
        # An empty shard starts where its first record will be.
        low = high = await streams.latest(stream) + 1
    numbers: dict[str, str] = {"StartingSequenceNumber": sequence_number(low)}
    if stream.ended_ms is not None:
        numbers["EndingSequenceNumber"] = sequence_number(high if high is not None else low)
    shards: list[dict[str, Any]] = [{"ShardId": stream.shard_id, "SequenceNumberRange": numbers}]
    if params.get("ExclusiveStartShardId") == stream.shard_id:
        shards = []
    description: dict[str, Any] = {
        "StreamArn": stream.arn,
        "StreamLabel": stream.label,
        "StreamStatus": stream.status,
        "StreamViewType": stream.view_type,
        "CreationRequestDateTime": datetime.fromtimestamp(stream.created_ms / 1000, UTC),
        "TableName": stream.table_name,
        "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in stream.key_schema],
        "Shards": shards,
    }
    return {"StreamDescription": description}


async def get_shard_iterator(context: StreamsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    stream = _stream(context, params["StreamArn"], region)
    iterator = await context.streams.iterator(
        stream,
        params["ShardId"],
        params["ShardIteratorType"],
        params.get("SequenceNumber"),
        params.get("Timestamp"),
    )
    return {"ShardIterator": iterator}


async def get_records(context: StreamsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    limit = int(params.get("Limit") or MAX_LIMIT)
    if limit > MAX_LIMIT:
        raise ValidationException(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_LIMIT}"
        )
    _stream(context, decode_iterator(params["ShardIterator"]).stream_arn, region)
    stream, rows, following = await context.streams.get_records(params["ShardIterator"], limit)
    result: dict[str, Any] = {"Records": [api_record(stream, row) for row in rows]}
    if following is not None:
        result["NextShardIterator"] = following
    return result


def _on_stream(action: str, member: str) -> Any:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"dynamodb:{action}", str(params.get(member) or "*")

    return authorize


def _list_resource(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    table = params.get("TableName")
    if table:
        return "dynamodb:ListStreams", f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/*"
    return "dynamodb:ListStreams", "*"


def _records_resource(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    try:
        return "dynamodb:GetRecords", decode_iterator(str(params.get("ShardIterator", ""))).stream_arn
    except ValidationException:
        return "dynamodb:GetRecords", "*"  # the handler refuses it


STREAMS_SERVICE = Service[StreamsContext](
    model="dynamodbstreams",
    signing=Signing("dynamodb", targets=(TARGET_PREFIX,)),
    handlers={
        "ListStreams": list_streams,
        "DescribeStream": describe_stream,
        "GetShardIterator": get_shard_iterator,
        "GetRecords": get_records,
    },
    authorization={
        "ListStreams": _list_resource,
        "DescribeStream": _on_stream("DescribeStream", "StreamArn"),
        "GetShardIterator": _on_stream("GetShardIterator", "StreamArn"),
        "GetRecords": _records_resource,
    },
)

__all__ = ["STREAMS_SERVICE", "StreamsContext"]
