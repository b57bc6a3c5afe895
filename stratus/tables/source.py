"""DynamoDB Streams as an event source: the SourceKind the event source mapping machine reads
stream ARNs with (stream semantics: in order per shard, checkpointed), and the DynamoDB stream
event Lambda hands a function: Records[] of eventID, eventName, eventVersion "1.1",
eventSource "aws:dynamodb", awsRegion, dynamodb {ApproximateCreationDateTime, Keys, NewImage,
OldImage, SequenceNumber, SizeBytes, StreamViewType}, eventSourceARN (and userIdentity for
deletions by TTL)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stratus.errors import InvalidParameterValue
from stratus.eventsources.model import EventSourceMapping, MappingConfig
from stratus.eventsources.source import Reader, Record, Semantics
from stratus.eventsources.streaming import StreamItem
from stratus.tables.streams import StreamInfo, StreamRow, Streams, lambda_record, sequence_number

STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
MAX_BATCH = 10_000
MAX_PARALLEL = 10


def to_item(stream: StreamInfo, row: StreamRow) -> StreamItem:
    event = lambda_record(stream, row)
    hash_key = next((name for name, kind in stream.key_schema if kind == "HASH"), None)
    partition = json.dumps(row.keys.get(hash_key) if hash_key else row.keys, sort_keys=True)
    record = Record(
        key=sequence_number(row.sequence),
        item_id=sequence_number(row.sequence),
        event=event,
        size=len(json.dumps(event, separators=(",", ":"))),
        view=event,  # FilterCriteria match the record as the function gets it
        sent_ms=row.created_ms,
    )
    return StreamItem(row.sequence, partition, record)


class DynamoStreamReader:
    """One mapping's reads of one stream (its one shard)."""

    def __init__(self, streams: Streams, arn: str) -> None:
        self._streams = streams
        self._arn = arn

    async def shards(self) -> list[str]:
        stream = self._streams.find(self._arn)
        return [stream.shard_id] if stream is not None else []

    async def start(self, shard: str, mapping: EventSourceMapping) -> int:
        stream = self._streams.get(self._arn)
        config = mapping.config
        if config.starting_position == "AT_TIMESTAMP" and config.starting_position_ts is not None:
            return await self._streams.before_time(stream, int(config.starting_position_ts * 1000))
        if config.starting_position == "LATEST":
            # What was written after the mapping was made: records written before its pollers
            # first started are not skipped.
            return await self._streams.before_time(stream, int(mapping.created * 1000))
        return -1  # TRIM_HORIZON: the oldest record kept

    async def read(self, shard: str, after: int, limit: int, wait_s: float) -> list[StreamItem]:
        stream = self._streams.find(self._arn)
        if stream is None or shard != stream.shard_id:
            await self._streams.wait(wait_s)
            return []
        rows = await self._streams.read_after(stream, after, limit)
        if not rows:
            await self._streams.wait(wait_s)
            rows = await self._streams.read_after(stream, after, limit)
        return [to_item(stream, row) for row in rows]


class DynamoDBStreamSource:
    prefix: str = "dynamodb"
    semantics: Semantics = "stream"
    permissions: tuple[str, ...] = (
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    )

    def __init__(self, streams: Streams) -> None:
        self._streams = streams

    def exists(self, arn: str) -> bool:
        return self._streams.find(arn) is not None

    def check(self, arn: str, config: MappingConfig, function_timeout_s: int) -> None:
        if "/stream/" not in arn:
            raise InvalidParameterValue(
                "Unrecognized event source, must be kinesis, dynamodb stream or sqs. "
                f"Unsupported source arn : {arn}"
            )
        if self._streams.find(arn) is None:
            raise InvalidParameterValue(f"Stream not found: {arn}")
        if config.starting_position not in STARTING_POSITIONS:
            raise InvalidParameterValue(
                f"Unsupported starting position {config.starting_position} for a DynamoDB stream: "
                "TRIM_HORIZON, LATEST or AT_TIMESTAMP."
            )
        if config.starting_position == "AT_TIMESTAMP" and config.starting_position_ts is None:
            raise InvalidParameterValue("StartingPositionTimestamp is required with AT_TIMESTAMP.")
        if config.batch_size > MAX_BATCH:
            raise InvalidParameterValue(f"BatchSize must be less than or equal to {MAX_BATCH}.")
        if not 1 <= config.parallelization <= MAX_PARALLEL:
            raise InvalidParameterValue(f"ParallelizationFactor must be between 1 and {MAX_PARALLEL}.")
        if config.on_failure is not None:
            parts = config.on_failure.split(":")
            if len(parts) < 6 or parts[2] not in ("sqs", "sns"):
                raise InvalidParameterValue(
                    "The destination ARN is not supported for stream event sources: "
                    f"{config.on_failure}. Use an Amazon SQS queue or an Amazon SNS topic."
                )

    def open(self, mapping: EventSourceMapping) -> Reader:
        raise InvalidParameterValue("A DynamoDB stream is read with open_stream.")

    def open_stream(self, mapping: EventSourceMapping) -> DynamoStreamReader:
        return DynamoStreamReader(self._streams, mapping.source_arn)

    def payload(self, records: Sequence[Record]) -> dict[str, Any]:
        return {"Records": [dict(r.event) for r in records]}
