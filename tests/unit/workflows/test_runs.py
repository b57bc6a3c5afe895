"""Pieces of an execution's walk (workflows/interpreter.py, workflows/context.py): task tokens
name their execution and their deadlines are the earlier of the timeout and the next
heartbeat; the context object `$$` as Step Functions fills it; an inline Map runs at most 40
iterations at once (MaxConcurrency 0, missing or above 40 means 40), shown with a fake
function that counts itself in flight and an event that holds every call until the test has
seen the count (no timing)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from stratus.workflows.context import iso, state_context
from stratus.workflows.definition import parse_definition
from stratus.workflows.errors import StatesError
from stratus.workflows.history import EventLog
from stratus.workflows.interpreter import (
    INLINE_MAP_CONCURRENCY,
    Lane,
    Run,
    inline_concurrency,
    new_token,
    token_due,
    token_execution,
)
from stratus.workflows.model import Execution
from stratus.workflows.tasks import Call, Called

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"


def record(definition: str = "{}", input_text: str = '{"k": 1}') -> Execution:
    return Execution(
        arn=EXECUTION,
        machine_arn=MACHINE,
        name="run-1",
        region="us-east-1",
        type="STANDARD",
        status="RUNNING",
        input=input_text,
        role_arn="arn:aws:iam::123456789012:role/r",
        definition=definition,
        start_ms=1_700_000_000_000,
    )


# -- tokens ----------------------------------------------------------------------------------------


def test_a_token_names_its_execution_and_is_unique() -> None:
    first, second = new_token(EXECUTION), new_token(EXECUTION)
    assert first != second
    assert token_execution(first) == EXECUTION
    assert "=" not in first and "/" not in first and "+" not in first  # URL-safe, unpadded


@pytest.mark.parametrize("token", ["", "not-a-token", "e30", "W10", "eyJlIjogMX0"])
def test_what_is_not_a_token_names_no_execution(token: str) -> None:
    # e30 is {}, W10 is [], eyJlIjogMX0 is {"e": 1}
    assert token_execution(token) is None


@pytest.mark.parametrize(
    ("timeout_ms", "heartbeat", "now", "due"),
    [
        (None, None, 1000, None),  # no deadline: it waits for an answer alone
        (5000, None, 1000, 5000),
        (None, 2.0, 1000, 3000),  # the next heartbeat is due two seconds from now
        (5000, 2.0, 1000, 3000),
        (5000, 2.0, 4000, 5000),  # the timeout comes before the next heartbeat
        (5000, 0.5, 1000, 1500),
    ],
)
def test_token_deadlines(timeout_ms: int | None, heartbeat: float | None, now: int, due: int | None) -> None:
    assert token_due(timeout_ms, heartbeat, now) == due


# -- the context object ----------------------------------------------------------------------------


def test_iso_is_utc_with_milliseconds() -> None:
    assert iso(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert iso(0) == "1970-01-01T00:00:00.000Z"


def test_the_context_object() -> None:
    context = state_context(record(), {"k": 1}, "Call", 1_700_000_000_500, 2)
    assert context == {
        "Execution": {
            "Id": EXECUTION,
            "Input": {"k": 1},
            "Name": "run-1",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "StartTime": "2023-11-14T22:13:20.000Z",
            "RedriveCount": 0,
        },
        "State": {"EnteredTime": "2023-11-14T22:13:20.500Z", "Name": "Call", "RetryCount": 2},
        "StateMachine": {"Id": MACHINE, "Name": "orders"},
    }


def test_the_context_object_of_a_token_task_and_a_map_iteration() -> None:
    context = state_context(record(), {}, "S", 0, token="tok", item=(3, {"v": 1}))
    assert context["Task"] == {"Token": "tok"}
    assert context["Map"] == {"Item": {"Index": 3, "Value": {"v": 1}}}
    plain = state_context(record(), {}, "S", 0)
    assert "Task" not in plain and "Map" not in plain


# -- inline Map concurrency ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "items", "limit"),
    [
        (None, 1000, 40),
        (0, 1000, 40),
        (1, 1000, 1),
        (10, 1000, 10),
        (40, 1000, 40),
        (41, 1000, 40),
        (5000, 1000, 40),
        (None, 3, 3),  # never more workers than items
        (None, 0, 1),
        ("junk", 100, 40),
    ],
)
def test_inline_concurrency(asked: Any, items: int, limit: int) -> None:
    assert INLINE_MAP_CONCURRENCY == 40
    assert inline_concurrency(asked, items) == limit


class CountingFunctions:
    """A fake of `Functions` whose calls wait on `release`: the test sees how many are in
    flight at once before letting them finish."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.in_flight = 0
        self.peak = 0
        self.calls = 0
        self.release = asyncio.Event()
        self.fail_on = fail_on

    async def call(self, call: Call, *, region: str, role_arn: str, session: str) -> Called:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        if call.payload == self.fail_on:
            raise StatesError("Lambda.TooManyRequestsException", "Rate Exceeded.")
        return Called(call.payload, "$LATEST", "req")


def map_definition(**fields: Any) -> str:
    return json.dumps(
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "ItemProcessor": {
                        "StartAt": "T",
                        "States": {
                            "T": {
                                "Type": "Task",
                                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                                "End": True,
                            }
                        },
                    },
                    "End": True,
                    **fields,
                }
            },
        }
    )


async def run_map(definition: str, items: list[Any], functions: CountingFunctions) -> tuple[Any, int]:
    """Run the Map until no more calls start, note the calls in flight, then let them finish."""
    execution = record(definition, json.dumps(items))

    async def nothing(cp: Any, due: int | None) -> None:
        return None

    run = Run(
        execution,
        parse_definition(definition),
        functions,  # type: ignore[arg-type]
        durable=False,
        log=EventLog(1),
        write=nothing,
        token_waits={},
    )
    walking = asyncio.ensure_future(run.walk(run.definition, items, Lane(0), top=False))
    while True:  # let the loop settle: every call that can start has started
        before = functions.calls
        for _ in range(20):
            await asyncio.sleep(0)
        if functions.calls == before:
            break
    waiting_at_once = functions.in_flight
    functions.release.set()
    return await walking, waiting_at_once


@pytest.mark.parametrize(
    ("fields", "at_once"),
    [({}, 40), ({"MaxConcurrency": 0}, 40), ({"MaxConcurrency": 500}, 40), ({"MaxConcurrency": 7}, 7)],
)
def test_a_map_of_1000_items_runs_at_most_its_limit_at_once(fields: dict[str, Any], at_once: int) -> None:
    functions = CountingFunctions()
    items = list(range(1000))
    output, waiting = asyncio.run(run_map(map_definition(**fields), items, functions))
    assert waiting == at_once
    assert functions.peak == at_once
    assert functions.calls == 1000
    assert output == items  # in the items' order


def test_a_failed_iteration_fails_the_map_with_its_error() -> None:
    functions = CountingFunctions(fail_on=3)
    with pytest.raises(StatesError) as raised:
        asyncio.run(run_map(map_definition(), list(range(100)), functions))
    assert raised.value.error == "Lambda.TooManyRequestsException"
    assert functions.peak <= 40


class YieldingFunctions(CountingFunctions):
    """Each call also yields to the loop once released, so that an iteration's failure that
    wrongly ended the Map's other iterations would cancel calls still to come."""

    async def call(self, call: Call, *, region: str, role_arn: str, session: str) -> Called:
        await asyncio.sleep(0)
        return await super().call(call, region=region, role_arn=role_arn, session=session)


@pytest.mark.parametrize("fields", [{"ToleratedFailureCount": 1}, {"ToleratedFailurePercentage": 1}])
def test_a_tolerated_failure_leaves_the_map_running(fields: dict[str, Any]) -> None:
    functions = YieldingFunctions(fail_on=3)
    items = list(range(100))
    output, _ = asyncio.run(run_map(map_definition(**fields), items, functions))
    assert functions.calls == 100  # the failure ended no other iteration
    assert output[:3] == items[:3] and output[4:] == items[4:]


@pytest.mark.parametrize("fields", [{"ToleratedFailureCount": 0}, {"ToleratedFailurePercentage": 0.5}])
def test_a_failure_past_the_tolerance_fails_the_map_with_the_threshold_error(fields: dict[str, Any]) -> None:
    functions = CountingFunctions(fail_on=3)
    with pytest.raises(StatesError) as raised:
        asyncio.run(run_map(map_definition(**fields), list(range(100)), functions))
    assert raised.value.error == "States.ExceedToleratedFailureThreshold"
