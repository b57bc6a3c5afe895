"""Tumbling windows of stream mappings (TumblingWindowInSeconds), the pure part: which window a
record belongs to, when a window has closed, the event fields Lambda adds, and how the
function's answer carries the window's state.

Windows are aligned to wall-clock multiples of their length and a record belongs to the one its
ApproximateCreationDateTime (the stream record's `created_ms`) falls in, as Lambda decides by
the time a record was written to the stream. A window closes when the next record waiting
belongs to a later window, or when the reader has been caught up since SETTLE_MS past the
window's end (a write stamped before the end may commit a little after it). Windows never go
back: a record stamped in a window already closed joins the next one open.

The function must answer `{"state": {...}}` (with `batchItemFailures` beside it when the mapping
reports them); an answer without an object `state` is a failed invocation. A state over 1 MB
ends the window early: a final invocation with `isWindowTerminatedEarly`, then the same window
goes on with a fresh state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stratus.eventsources.batching import MAX_PAYLOAD

MAX_STATE = 1024 * 1024  # Lambda's limit on a window's state, per shard
SETTLE_MS = 500  # how long past a window's end a write stamped inside it may still commit
ENVELOPE = 1024  # room the event's other fields take beside Records and state


@dataclass(frozen=True)
class Window:
    start_ms: int
    end_ms: int

    def wire(self) -> dict[str, str]:
        """The event's `window`: ISO-8601 UTC instants, as Lambda writes them."""
        return {"start": _iso(self.start_ms), "end": _iso(self.end_ms)}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_for(created_ms: int, size_s: int, not_before_ms: int = 0) -> Window:
    """The window of a record stamped `created_ms`; `not_before_ms` is the end of the last
    window closed (a late record joins the window starting there)."""
    size = size_s * 1000
    start = max(created_ms - created_ms % size, not_before_ms)
    return Window(start, start + size)


def closed(window: Window, head: Window | None, quiet_ms: int | None) -> bool:
    """Whether `window` has closed: `head` is the window of the next record waiting (None when
    none waits), `quiet_ms` when the latest read that found nothing new began."""
    if head is not None:
        return head.start_ms >= window.end_ms
    return quiet_ms is not None and quiet_ms >= window.end_ms + SETTLE_MS


def event(
    payload: Mapping[str, Any],
    window: Window,
    state: Mapping[str, Any],
    shard: str,
    source_arn: str,
    *,
    final: bool = False,
    early: bool = False,
) -> dict[str, Any]:
    """The source's event (`{"Records": [...]}`) with the window's fields."""
    return {
        **payload,
        "window": window.wire(),
        "state": dict(state),
        "shardId": shard,
        "eventSourceARN": source_arn,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": early,
    }


def answered_state(payload: bytes) -> dict[str, Any] | None:
    """The `state` object a function's answer carries; None when it has none (a failure)."""
    try:
        answer = json.loads(payload or b"null")
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    state = answer.get("state")
    return state if isinstance(state, dict) else None


def state_size(state: Mapping[str, Any]) -> int:
    return len(json.dumps(state, separators=(",", ":")).encode())


def too_big(state: Mapping[str, Any]) -> bool:
    """Whether a state ends its window early."""
    return state_size(state) > MAX_STATE


def final_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state a final invocation carries: an oversized one too (the function flushes it),
    unless it could not fit Lambda's payload limit, when the final invocation carries {}."""
    return dict(state) if state_size(state) + ENVELOPE <= MAX_PAYLOAD else {}
