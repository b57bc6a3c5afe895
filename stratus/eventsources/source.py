"""What a source kind gives the machine: how one service (SQS now, DynamoDB Streams later) is
checked, read and acknowledged. The machine (batching, retries, filters, scaling, pollers) is
the same for every kind; `semantics` says which retry rules apply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from stratus.eventsources.model import EventSourceMapping, MappingConfig

Semantics = Literal["queue", "stream"]


@dataclass(frozen=True)
class Record:
    """One message or stream record, read and held for one mapping."""

    key: str  # what the reader acknowledges it by (a receipt handle; a sequence number)
    item_id: str  # what a partial batch response names it by (messageId; a sequence number)
    event: Mapping[str, Any]  # the record as the function receives it in Records[]
    size: int  # bytes of `event` as JSON: the 6 MB payload limit counts these
    view: Mapping[str, Any]  # what FilterCriteria are matched against
    sent_ms: int  # when the source accepted it (for the age of the oldest record)


class Reader(Protocol):
    """Reads batches for one mapping. A queue's reader leases messages (ack deletes them,
    release leaves them to come back after the visibility timeout); a stream's checkpoints."""

    @property
    def hold_s(self) -> float:
        """How long records read stay this reader's (a queue's visibility timeout)."""
        ...

    async def read(self, max_records: int, wait_s: float) -> list[Record]:
        """Up to `max_records`, waiting up to `wait_s` for the first; returns as soon as any."""
        ...

    async def ack(self, records: Sequence[Record]) -> None: ...

    async def release(self, records: Sequence[Record]) -> None: ...

    async def backlog(self) -> int:
        """Records waiting to be read (a queue's visible messages)."""
        ...


class SourceKind(Protocol):
    prefix: str  # the service part of its ARNs: "sqs", "dynamodb"
    semantics: Semantics
    # The actions the function's execution role needs on the source (checked with IAM on).
    permissions: tuple[str, ...]

    def exists(self, arn: str) -> bool: ...

    def check(self, arn: str, config: MappingConfig, function_timeout_s: int) -> None:
        """Refuse (InvalidParameterValue) what this source cannot take, e.g. a queue whose
        visibility timeout is shorter than the function's timeout."""
        ...

    def open(self, mapping: EventSourceMapping) -> Reader: ...

    def payload(self, records: Sequence[Record]) -> dict[str, Any]:
        """The function's event for a batch (`{"Records": [...]}` for SQS)."""
        ...
