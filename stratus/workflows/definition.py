"""A state machine definition, parsed and validated as Step Functions does at creation.

`parse_definition` returns frozen values the executor walks, or raises InvalidDefinition with
AWS's message: "Invalid State Machine Definition: '<CODE>: <message> at <location>, ...'",
every problem found listed in one message as AWS lists them (SCHEMA_VALIDATION_FAILED for
shape, MISSING_TRANSITION_TARGET for a target that does not exist and for a state nothing
reaches, MISSING_END_STATE for a machine without a terminal state). Parallel branches and Map
processors are definitions of their own, validated the same way, each a scope of its own:
a state there may only go to states of the same branch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stratus.workflows.errors import InvalidDefinition
from stratus.workflows.validate import problems as definition_problems


@dataclass(frozen=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter: str = "NONE"  # "NONE" | "FULL"


@dataclass(frozen=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: str | None = "$"  # None: ResultPath null (the state's input passes on)


@dataclass(frozen=True)
class State:
    name: str
    type: str  # "Task" | "Pass" | "Choice" | "Wait" | "Succeed" | "Fail" | "Parallel" | "Map"
    raw: Mapping[str, Any] = field(repr=False)
    next: str | None  # None for End states, Choice, Succeed, Fail
    end: bool
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()
    branches: tuple[Definition, ...] = ()  # Parallel
    processor: Definition | None = None  # Map's ItemProcessor (or the older Iterator)
    timeout_seconds: float | None = None  # Task's TimeoutSeconds (TimeoutSecondsPath: io.task_timeouts)
    heartbeat_seconds: float | None = None


@dataclass(frozen=True)
class Definition:
    start_at: str
    states: Mapping[str, State]
    timeout_seconds: int | None = None
    comment: str = ""


def parse_definition(text: str) -> Definition:
    """The definition `text` describes, or InvalidDefinition with AWS's message."""
    try:
        document = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise InvalidDefinition(
            f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {exc}'"
        ) from None
    problems = definition_problems(document)
    if problems:
        raise InvalidDefinition(
            "Invalid State Machine Definition: '" + ", ".join(p.text() for p in problems) + "'"
        )
    return build(document)


def build(document: Mapping[str, Any]) -> Definition:
    """A validated definition document as frozen values."""
    states = {name: _state(name, raw) for name, raw in document["States"].items()}
    timeout = document.get("TimeoutSeconds")
    return Definition(
        start_at=document["StartAt"],
        states=states,
        timeout_seconds=int(timeout) if timeout is not None else None,
        comment=document.get("Comment", ""),
    )


def _state(name: str, raw: Mapping[str, Any]) -> State:
    kind = raw["Type"]
    processor = raw.get("ItemProcessor", raw.get("Iterator"))
    return State(
        name=name,
        type=kind,
        raw=raw,
        next=raw.get("Next"),
        end=bool(raw.get("End", False)),
        retry=tuple(_retrier(r) for r in raw.get("Retry", ())),
        catch=tuple(_catcher(c) for c in raw.get("Catch", ())),
        branches=tuple(build(b) for b in raw.get("Branches", ())),
        processor=build(processor) if kind == "Map" and processor is not None else None,
        timeout_seconds=_number(raw.get("TimeoutSeconds")),
        heartbeat_seconds=_number(raw.get("HeartbeatSeconds")),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _retrier(raw: Mapping[str, Any]) -> Retrier:
    return Retrier(
        error_equals=tuple(raw["ErrorEquals"]),
        interval_seconds=float(raw.get("IntervalSeconds", 1)),
        max_attempts=int(raw.get("MaxAttempts", 3)),
        backoff_rate=float(raw.get("BackoffRate", 2.0)),
        max_delay_seconds=_number(raw.get("MaxDelaySeconds")),
        jitter=raw.get("JitterStrategy", "NONE"),
    )


def _catcher(raw: Mapping[str, Any]) -> Catcher:
    return Catcher(
        error_equals=tuple(raw["ErrorEquals"]),
        next=raw["Next"],
        result_path=raw.get("ResultPath", "$"),
    )
