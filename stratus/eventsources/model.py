"""An event source mapping as its owner holds it (frozen), with the settings of queue and stream
sources side by side: one machine reads both, and each source kind says which settings apply."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# States as Lambda names them. Creating, Enabling, Disabling and Updating are passed through on
# the way to Enabled or Disabled; Deleting ends with the mapping gone.
CREATING = "Creating"
ENABLING = "Enabling"
ENABLED = "Enabled"
DISABLING = "Disabling"
DISABLED = "Disabled"
UPDATING = "Updating"
DELETING = "Deleting"
TRANSITIONAL = (CREATING, ENABLING, DISABLING, UPDATING)

NO_RECORDS = "No records processed"
OK = "OK"


@dataclass(frozen=True)
class MappingConfig:
    """What CreateEventSourceMapping and UpdateEventSourceMapping set."""

    batch_size: int = 10
    window_s: int = 0  # MaximumBatchingWindowInSeconds
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency (queues)
    report_failures: bool = False  # FunctionResponseTypes ["ReportBatchItemFailures"]
    filters: tuple[str, ...] = ()  # FilterCriteria's patterns, as the caller wrote them
    # Streams only (DynamoDB Streams, Kinesis): refused for queues by the API.
    starting_position: str | None = None
    starting_position_ts: float | None = None
    max_retries: int = -1  # -1: until the record expires
    bisect: bool = False
    max_record_age_s: int = -1
    parallelization: int = 1
    tumbling_window_s: int = 0
    on_failure: str | None = None  # DestinationConfig.OnFailure.Destination

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["filters"] = list(self.filters)
        return values

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MappingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["filters"] = tuple(values.get("filters", ()))
        return cls(**values)


@dataclass(frozen=True)
class EventSourceMapping:
    uuid: str
    region: str
    account_id: str
    function_name: str
    qualifier: str | None  # as FunctionName named it: a version, an alias, or none
    source_arn: str
    config: MappingConfig
    enabled: bool
    state: str
    reason: str  # StateTransitionReason: "USER_INITIATED" and the like
    last_modified: float
    created: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)  # Lambda tags mappings as it does functions

    @property
    def function_arn(self) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"
        return f"{arn}:{self.qualifier}" if self.qualifier else arn

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:event-source-mapping:{self.uuid}"

    @property
    def source_service(self) -> str:
        parts = self.source_arn.split(":")
        return parts[2] if len(parts) > 2 else ""

    @property
    def wants_pollers(self) -> bool:
        """Whether pollers should be reading for it (its state settles once they are)."""
        return self.enabled and self.state != DELETING

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["config"] = self.config.to_dict()
        values["tags"] = dict(self.tags)
        return values

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventSourceMapping:
        values = dict(data)
        values["config"] = MappingConfig.from_dict(values["config"])
        return cls(**values)
