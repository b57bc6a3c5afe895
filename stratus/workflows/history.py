"""History events as GetExecutionHistory answers them: `{id, previousEventId, timestamp, type,
<detailsMember>: {...}}`, with the details member botocore's HistoryEvent shape names for each
type. `EventLog` numbers an execution's events and holds those not yet written; the executor
writes them with the transition that made them. Pure (the time is passed in)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

# Events whose details member is not the event type's own name.
_DETAILS = {
    "StateEntered": "stateEnteredEventDetails",
    "StateExited": "stateExitedEventDetails",
}
# Members that carry execution data (dropped when includeExecutionData is false), with the
# `*Details` member that says whether they were truncated.
_DATA = {"input": "inputDetails", "output": "outputDetails"}
# Events AWS records with no details member.
_BARE = frozenset(
    {
        "ParallelStateStarted",
        "ParallelStateSucceeded",
        "ParallelStateFailed",
        "ParallelStateAborted",
        "MapStateSucceeded",
        "MapStateFailed",
        "MapStateAborted",
        "WaitStateAborted",
        "TaskStateAborted",
        "LambdaFunctionStarted",
        "MapRunAborted",
        "MapRunSucceeded",
    }
)


def details_member(event_type: str) -> str | None:
    if event_type in _BARE:
        return None
    for suffix, member in _DETAILS.items():
        if event_type.endswith(suffix) and event_type != "Execution" + suffix:
            return member
    if event_type.startswith("MapIteration"):
        return f"{event_type[0].lower()}{event_type[1:]}EventDetails"
    return f"{event_type[0].lower()}{event_type[1:]}EventDetails"


def as_json(value: Any) -> str:
    """A value as the history and the API carry it: compact JSON text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class EventLog:
    """One execution's event numbering and the events made since the last write."""

    def __init__(self, next_id: int = 1) -> None:
        self.next_id = next_id
        self.pending: list[dict[str, Any]] = []

    def add(
        self, event_type: str, now_ms: int, previous: int, details: Mapping[str, Any] | None = None
    ) -> int:
        event: dict[str, Any] = {
            "id": self.next_id,
            "previousEventId": previous,
            "timestamp": now_ms,
            "type": event_type,
        }
        member = details_member(event_type)
        if member is not None and details is not None:
            event[member] = dict(details)
        self.pending.append(event)
        self.next_id += 1
        return int(event["id"])

    def take(self) -> list[dict[str, Any]]:
        taken, self.pending = self.pending, []
        return taken


def data_details(text: str) -> dict[str, Any]:
    return {"truncated": False}


def to_wire(event: Mapping[str, Any], include_data: bool = True) -> dict[str, Any]:
    """A stored event as boto3 returns it (timestamp as an aware datetime)."""
    out = dict(event)
    out["timestamp"] = datetime.fromtimestamp(int(event["timestamp"]) / 1000, tz=UTC)
    if not include_data:
        for key, value in list(out.items()):
            if key.endswith("EventDetails") and isinstance(value, dict):
                out[key] = {k: v for k, v in value.items() if k not in _DATA}
    return out


def timeline(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """Readable lines of a history (the CLI's `stratus sfn history`): time, id, type, the
    state's name and the error where there is one."""
    lines = []
    start = int(events[0]["timestamp"]) if events else 0
    for e in events:
        detail = next((v for k, v in e.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
        what = detail.get("name") or detail.get("resource") or ""
        if "error" in detail:
            what = f"{what} {detail['error']}: {detail.get('cause', '')}".strip()
        elapsed = (int(e["timestamp"]) - start) / 1000
        lines.append(f"{elapsed:>9.3f}s  {e['id']:>4}  {e['type']:<32} {what}".rstrip())
    return lines
