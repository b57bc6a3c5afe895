"""Input and output processing: InputPath, Parameters, ResultSelector, ResultPath, OutputPath
with the examples of AWS's input/output processing pages, Map's ItemsPath and ItemSelector,
Catch's ResultPath, Wait's end, Fail's error, Task resources and timeouts, and the
States.Runtime failures of paths that select nothing."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from stratus.workflows import io
from stratus.workflows.definition import Catcher, State, parse_definition
from stratus.workflows.errors import StateRuntimeError, StatesError
from stratus.workflows.intrinsics import Entropy

CONTEXT: dict[str, Any] = {
    "Execution": {
        "Id": "arn:aws:states:us-east-1:123456789012:execution:m:e1",
        "Name": "e1",
        "Input": {"k": 1},
    },
    "State": {"Name": "S", "EnteredTime": "2024-01-01T00:00:00.000Z", "RetryCount": 0},
    "StateMachine": {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:m", "Name": "m"},
}


def state(fields: dict[str, Any], kind: str = "Pass") -> State:
    body = {"Type": kind, **fields}
    if kind not in ("Choice", "Succeed", "Fail"):
        body.setdefault("End", True)
    if kind == "Task":
        body.setdefault("Resource", "arn:aws:lambda:us-east-1:123456789012:function:f")
    if kind == "Map":
        body.setdefault("ItemProcessor", {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}})
    return parse_definition(json.dumps({"StartAt": "S", "States": {"S": body}})).states["S"]


def test_aws_parameters_example() -> None:
    raw = {
        "comment": "Example for Parameters.",
        "product": {
            "details": {"color": "blue", "size": "small", "material": "cotton"},
            "availability": "in stock",
            "sku": "2317",
            "cost": "$23",
        },
    }
    s = state(
        {
            "Parameters": {
                "comment": "Selecting what I care about.",
                "MyDetails": {
                    "size.$": "$.product.details.size",
                    "exists.$": "$.product.availability",
                    "StaticValue": "foo",
                },
            }
        },
        "Task",
    )
    assert io.effective_input(s, raw, CONTEXT) == {
        "comment": "Selecting what I care about.",
        "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
    }


def test_aws_result_path_example() -> None:
    raw = {
        "comment": "This is a test of the input and output of a Task state.",
        "details": "Default example",
        "who": "AWS Step Functions",
    }
    s = state({"ResultPath": "$.taskresult"}, "Task")
    assert io.state_output(s, raw, "Hello, AWS Step Functions!", CONTEXT) == {
        **raw,
        "taskresult": "Hello, AWS Step Functions!",
    }
    assert raw.get("taskresult") is None  # the input itself is not changed


def test_aws_result_selector_example() -> None:
    result = {
        "resourceType": "elasticmapreduce",
        "resource": "createCluster.sync",
        "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"},
    }
    s = state(
        {
            "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
            "ResultPath": "$.EMROutput",
        },
        "Task",
    )
    assert io.state_output(s, {"a": 1}, result, CONTEXT) == {
        "a": 1,
        "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"},
    }


def test_input_path_result_path_output_path_together() -> None:
    # AWS's "InputPath, ResultPath and OutputPath" example: a Lambda adding two numbers.
    raw = {
        "comment": "An input comment.",
        "data": {"val1": 23, "val2": 17},
        "extra": "foo",
        "lambda": {"who": "AWS Step Functions"},
    }
    s = state({"InputPath": "$.lambda", "ResultPath": "$.data.lambdaresult", "OutputPath": "$.data"}, "Task")
    assert io.effective_input(s, raw, CONTEXT) == {"who": "AWS Step Functions"}
    assert io.state_output(s, raw, "Hello, AWS Step Functions!", CONTEXT) == {
        "val1": 23,
        "val2": 17,
        "lambdaresult": "Hello, AWS Step Functions!",
    }


def test_null_paths() -> None:
    s = state({"InputPath": None, "ResultPath": None, "OutputPath": "$"}, "Task")
    assert io.effective_input(s, {"a": 1}, CONTEXT) == {}
    assert io.state_output(s, {"a": 1}, "ignored", CONTEXT) == {"a": 1}
    assert io.state_output(state({"OutputPath": None}), {"a": 1}, {"r": 1}, CONTEXT) == {}


def test_context_object_and_intrinsics_in_parameters() -> None:
    s = state(
        {
            "Parameters": {
                "execution.$": "$$.Execution.Id",
                "greeting.$": "States.Format('Hello {} from {}', $.name, $$.StateMachine.Name)",
                "list": [{"id.$": "States.UUID()"}, "plain", {"n.$": "States.MathAdd($.n, 1)"}],
                "whole.$": "$",
            }
        }
    )
    entropy = Entropy(random.Random(1), uuid_source=lambda: "u-1")
    out = io.effective_input(s, {"name": "Ann", "n": 41}, CONTEXT, entropy=entropy)
    assert out == {
        "execution": CONTEXT["Execution"]["Id"],
        "greeting": "Hello Ann from m",
        "list": [{"id": "u-1"}, "plain", {"n": 42}],
        "whole": {"name": "Ann", "n": 41},
    }


RUNTIME_FAILURES = [
    ({"InputPath": "$.missing"}, {"a": 1}, "Invalid path '$.missing' : No results for path: $['missing']"),
    ({"OutputPath": "$.a.b"}, {"a": 1}, "Invalid path '$.a.b' : No results for path: $['a']['b']"),
    (
        {"Parameters": {"x.$": "$.nope"}},
        {"a": 1},
        "The JSONPath '$.nope' specified for the field 'x.$' could not be found in the input '{\"a\":1}'",
    ),
    ({"ResultPath": "$.a.b"}, {"a": "text"}, 'Unable to apply ReferencePath $.a.b to input "text"'),
    (
        {"Parameters": {"x.$": "States.ArrayGetItem($.l, 3)"}},
        {"l": [1]},
        "The index provided is out of bounds",
    ),
]


@pytest.mark.parametrize(
    ("fields", "raw", "detail"), RUNTIME_FAILURES, ids=[json.dumps(f[0])[:50] for f in RUNTIME_FAILURES]
)
def test_paths_that_fail_raise_states_runtime(fields: dict[str, Any], raw: Any, detail: str) -> None:
    s = state(fields)
    with pytest.raises(StateRuntimeError) as caught:
        io.state_output(s, raw, io.effective_input(s, raw, CONTEXT), CONTEXT)
    error = caught.value
    assert error.error == "States.Runtime" and detail in error.detail
    assert error.cause == f"An error occurred while executing the state 'S'. {error.detail}"
    assert (
        error.at_event(4).cause
        == f"An error occurred while executing the state 'S' (entered at the event id #4). {error.detail}"
    )


def test_map_items_with_items_path_and_item_selector() -> None:
    # AWS's ItemSelector example: each item with its index and a value of the Map's input.
    raw = {
        "detail": {
            "delivery-partner": "UQS",
            "shipped": [{"prod": "R31", "dest-code": 9511}, {"prod": "S39", "dest-code": 9511}],
        }
    }
    s = state(
        {
            "ItemsPath": "$.detail.shipped",
            "ItemSelector": {
                "parcel.$": "$$.Map.Item.Value",
                "index.$": "$$.Map.Item.Index",
                "courier.$": "$.detail.delivery-partner",
            },
        },
        "Map",
    )
    assert io.map_items(s, raw, CONTEXT) == [
        {"parcel": {"prod": "R31", "dest-code": 9511}, "index": 0, "courier": "UQS"},
        {"parcel": {"prod": "S39", "dest-code": 9511}, "index": 1, "courier": "UQS"},
    ]


def test_map_items_plain_and_through_input_path_and_parameters() -> None:
    assert io.map_items(state({}, "Map"), [1, 2], CONTEXT) == [1, 2]
    s = state(
        {"InputPath": "$.in", "ItemsPath": "$.xs", "Parameters": {"v.$": "$$.Map.Item.Value", "k.$": "$.k"}},
        "Map",
    )
    assert io.map_items(s, {"in": {"xs": ["a"], "k": 7}}, CONTEXT) == [{"v": "a", "k": 7}]


def test_map_items_need_an_array() -> None:
    with pytest.raises(StateRuntimeError) as caught:
        io.map_items(state({"ItemsPath": "$.x"}, "Map"), {"x": {"not": "a list"}}, CONTEXT)
    assert "must select a JSON array" in caught.value.detail
    with pytest.raises(StateRuntimeError):
        io.map_items(state({"ItemsPath": "$.x"}, "Map"), {}, CONTEXT)


def test_map_output_is_the_results_through_result_selector_and_result_path() -> None:
    s = state({"ResultSelector": {"all.$": "$"}, "ResultPath": "$.out"}, "Map")
    assert io.state_output(s, {"in": 1}, [1, 2], CONTEXT) == {"in": 1, "out": {"all": [1, 2]}}


def test_catch_output() -> None:
    error = StatesError("States.TaskFailed", "boom")
    raw = {"a": 1}
    assert io.catch_output(Catcher(("States.ALL",), "N"), raw, error) == {
        "Error": "States.TaskFailed",
        "Cause": "boom",
    }
    assert io.catch_output(Catcher(("States.ALL",), "N", "$.error-info"), raw, error) == {
        "a": 1,
        "error-info": {"Error": "States.TaskFailed", "Cause": "boom"},
    }
    assert io.catch_output(Catcher(("States.ALL",), "N", None), raw, error) == raw
    with pytest.raises(StatesError) as caught:
        io.catch_output(Catcher(("States.ALL",), "N", "$.a.b"), raw, error)
    assert caught.value.error == "States.Runtime"


NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)

WAITS = [
    ({"Seconds": 10}, {}, NOW + timedelta(seconds=10)),
    ({"Timestamp": "2024-02-01T00:00:00Z"}, {}, datetime(2024, 2, 1, tzinfo=UTC)),
    ({"SecondsPath": "$.s"}, {"s": 5}, NOW + timedelta(seconds=5)),
    ({"TimestampPath": "$.t"}, {"t": "2024-01-01T14:00:00+02:00"}, NOW),
    (
        {"TimestampPath": "$.t"},
        {"t": "2024-01-01T12:00:00.250-05:30"},
        datetime(2024, 1, 1, 12, 0, 0, 250000, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
    ),
    ({"InputPath": "$.w", "SecondsPath": "$.s"}, {"w": {"s": 1}}, NOW + timedelta(seconds=1)),
]


@pytest.mark.parametrize(("fields", "raw", "expected"), WAITS, ids=[json.dumps(w[0]) for w in WAITS])
def test_wait_until(fields: dict[str, Any], raw: Any, expected: datetime) -> None:
    assert io.wait_until(state(fields, "Wait"), raw, NOW) == expected


@pytest.mark.parametrize(
    ("fields", "raw", "detail"),
    [
        (
            {"SecondsPath": "$.s"},
            {"s": "ten"},
            "The SecondsPath parameter does not reference a valid integer value",
        ),
        ({"SecondsPath": "$.s"}, {"s": -1}, "does not reference a valid integer value"),
        ({"SecondsPath": "$.s"}, {}, "Invalid path '$.s' : No results for path: $['s']"),
        (
            {"TimestampPath": "$.t"},
            {"t": "2024-01-01 12:00:00"},
            "does not reference a valid ISO-8601 extended offset",
        ),
        (
            {"TimestampPath": "$.t"},
            {"t": "2024-01-01T12:00:00"},
            "does not reference a valid ISO-8601 extended offset",
        ),
    ],
)
def test_wait_paths_that_fail(fields: dict[str, Any], raw: Any, detail: str) -> None:
    with pytest.raises(StateRuntimeError) as caught:
        io.wait_until(state(fields, "Wait"), raw, NOW)
    assert detail in caught.value.detail


FAILS = [
    ({"Error": "E", "Cause": "C"}, {}, ("E", "C")),
    ({}, {}, ("", "")),
    ({"ErrorPath": "$.e", "CausePath": "$.c"}, {"e": "Bad", "c": "why"}, ("Bad", "why")),
    ({"ErrorPath": "$$.Execution.Name", "CausePath": "States.Format('n={}', $.n)"}, {"n": 3}, ("e1", "n=3")),
    ({"CausePath": "States.JsonToString($.o)"}, {"o": {"a": [1]}}, ("", '{"a":[1]}')),
]


@pytest.mark.parametrize(("fields", "raw", "expected"), FAILS, ids=[json.dumps(f[0])[:50] for f in FAILS])
def test_fail_error(fields: dict[str, Any], raw: Any, expected: tuple[str, str]) -> None:
    error = io.fail_error(state(fields, "Fail"), raw, CONTEXT)
    assert (error.error, error.cause) == expected


def test_fail_error_path_must_select_a_string() -> None:
    with pytest.raises(StateRuntimeError) as caught:
        io.fail_error(state({"ErrorPath": "$.e"}, "Fail"), {"e": 1}, CONTEXT)
    assert "must select a string" in caught.value.detail


RESOURCES = [
    (
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        ("lambda-arn", "request", "arn:aws:lambda:us-east-1:123456789012:function:f"),
    ),
    (
        "arn:aws:lambda:us-east-1:123456789012:function:f:prod",
        ("lambda-arn", "request", "arn:aws:lambda:us-east-1:123456789012:function:f:prod"),
    ),
    ("arn:aws:states:::lambda:invoke", ("lambda-invoke", "request", "arn:aws:states:::lambda:invoke")),
    (
        "arn:aws:states:::lambda:invoke.waitForTaskToken",
        ("lambda-invoke", "waitForTaskToken", "arn:aws:states:::lambda:invoke"),
    ),
    ("arn:aws:states:::sqs:sendMessage", ("unsupported", "request", "arn:aws:states:::sqs:sendMessage")),
    (
        "arn:aws:states:::states:startExecution.sync",
        ("unsupported", "sync", "arn:aws:states:::states:startExecution"),
    ),
    (
        "arn:aws:states:us-east-1:123456789012:activity:a",
        ("unsupported", "request", "arn:aws:states:us-east-1:123456789012:activity:a"),
    ),
]


@pytest.mark.parametrize(("resource", "expected"), RESOURCES, ids=[r[0] for r in RESOURCES])
def test_task_resource(resource: str, expected: tuple[str, str, str]) -> None:
    r = io.task_resource(state({"Resource": resource}, "Task"))
    assert (r.kind, r.pattern, r.arn) == expected


def test_task_timeouts() -> None:
    assert io.task_timeouts(state({}, "Task"), {}) == (None, None)
    assert io.task_timeouts(state({"TimeoutSeconds": 30, "HeartbeatSeconds": 5}, "Task"), {}) == (30.0, 5.0)
    s = state({"TimeoutSecondsPath": "$.t", "HeartbeatSecondsPath": "$.h"}, "Task")
    assert io.task_timeouts(s, {"t": 60, "h": 10}) == (60.0, 10.0)
    with pytest.raises(StateRuntimeError):
        io.task_timeouts(s, {"t": 0, "h": 10})
    with pytest.raises(StateRuntimeError):
        io.task_timeouts(s, {"h": 10})
