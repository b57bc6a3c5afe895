"""Choice rules: every comparison operator and its Path form, And/Or/Not, Default, the
no-match failure, and AWS's documented examples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratus.workflows.choice import choose, string_matches
from stratus.workflows.definition import State, parse_definition
from stratus.workflows.errors import StatesError


def choice_state(rules: list[dict[str, Any]], default: str | None = "Default") -> State:
    states: dict[str, Any] = {"C": {"Type": "Choice", "Choices": rules}, "Yes": {"Type": "Succeed"}}
    if default is not None:
        states["C"]["Default"] = default
        states["Default"] = {"Type": "Succeed"}
    return parse_definition(json.dumps({"StartAt": "C", "States": states})).states["C"]


def holds(rule: dict[str, Any], data: Any) -> bool:
    return choose(choice_state([{**rule, "Next": "Yes"}]), data) == "Yes"


DATA = {
    "s": "banana",
    "n": 15,
    "f": 2.5,
    "b": True,
    "t": "2016-03-14T01:59:00Z",
    "t2": "2016-03-14T03:59:00+02:00",
    "z": None,
    "other": {"s": "banana", "n": 20, "t": "2017-01-01T00:00:00Z", "b": True},
}

CASES = [
    ({"Variable": "$.s", "StringEquals": "banana"}, True),
    ({"Variable": "$.s", "StringEquals": "Banana"}, False),
    ({"Variable": "$.s", "StringLessThan": "cherry"}, True),
    ({"Variable": "$.s", "StringGreaterThan": "apple"}, True),
    ({"Variable": "$.s", "StringLessThanEquals": "banana"}, True),
    ({"Variable": "$.s", "StringGreaterThanEquals": "bananas"}, False),
    ({"Variable": "$.n", "StringEquals": "15"}, False),  # the wrong type never matches
    ({"Variable": "$.n", "NumericEquals": 15}, True),
    ({"Variable": "$.n", "NumericEquals": 15.0}, True),
    ({"Variable": "$.n", "NumericLessThan": 20}, True),
    ({"Variable": "$.n", "NumericGreaterThan": 20}, False),
    ({"Variable": "$.f", "NumericLessThanEquals": 2.5}, True),
    ({"Variable": "$.f", "NumericGreaterThanEquals": 3}, False),
    ({"Variable": "$.s", "NumericEquals": 1}, False),
    ({"Variable": "$.b", "NumericEquals": 1}, False),  # a boolean is not a number
    ({"Variable": "$.b", "BooleanEquals": True}, True),
    ({"Variable": "$.n", "BooleanEquals": True}, False),
    ({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}, True),
    ({"Variable": "$.t2", "TimestampEquals": "2016-03-14T01:59:00Z"}, True),  # the same instant
    ({"Variable": "$.t", "TimestampLessThan": "2016-03-14T02:00:00Z"}, True),
    ({"Variable": "$.t", "TimestampGreaterThan": "2016-03-14T02:00:00Z"}, False),
    ({"Variable": "$.t", "TimestampLessThanEquals": "2016-03-14T01:59:00.000Z"}, True),
    ({"Variable": "$.t", "TimestampGreaterThanEquals": "2016-03-15T00:00:00Z"}, False),
    ({"Variable": "$.s", "TimestampEquals": "2016-03-14T01:59:00Z"}, False),
    ({"Variable": "$.s", "StringEqualsPath": "$.other.s"}, True),
    ({"Variable": "$.n", "NumericLessThanPath": "$.other.n"}, True),
    ({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.other.n"}, False),
    ({"Variable": "$.t", "TimestampLessThanPath": "$.other.t"}, True),
    ({"Variable": "$.b", "BooleanEqualsPath": "$.other.b"}, True),
    ({"Variable": "$.s", "StringMatches": "ba*na"}, True),
    ({"Variable": "$.s", "StringMatches": "*nan*"}, True),
    ({"Variable": "$.s", "StringMatches": "b*x"}, False),
    ({"Variable": "$.z", "IsNull": True}, True),
    ({"Variable": "$.s", "IsNull": True}, False),
    ({"Variable": "$.s", "IsPresent": True}, True),
    ({"Variable": "$.nope", "IsPresent": True}, False),
    ({"Variable": "$.nope", "IsPresent": False}, True),
    ({"Variable": "$.nope", "IsNull": False}, False),
    ({"Variable": "$.n", "IsNumeric": True}, True),
    ({"Variable": "$.b", "IsNumeric": True}, False),
    ({"Variable": "$.s", "IsString": True}, True),
    ({"Variable": "$.b", "IsBoolean": True}, True),
    ({"Variable": "$.t", "IsTimestamp": True}, True),
    ({"Variable": "$.s", "IsTimestamp": False}, True),
    (
        {"And": [{"Variable": "$.n", "NumericGreaterThan": 10}, {"Variable": "$.n", "NumericLessThan": 20}]},
        True,
    ),
    (
        {"And": [{"Variable": "$.n", "NumericGreaterThan": 10}, {"Variable": "$.n", "NumericLessThan": 12}]},
        False,
    ),
    ({"Or": [{"Variable": "$.s", "StringEquals": "x"}, {"Variable": "$.b", "BooleanEquals": True}]}, True),
    ({"Not": {"Variable": "$.s", "StringEquals": "x"}}, True),
    (
        {
            "Not": {
                "And": [
                    {"Variable": "$.b", "BooleanEquals": True},
                    {"Not": {"Variable": "$.z", "IsNull": True}},
                ]
            }
        },
        True,
    ),
]


@pytest.mark.parametrize(("rule", "expected"), CASES, ids=[json.dumps(c[0])[:70] for c in CASES])
def test_rules(rule: dict[str, Any], expected: bool) -> None:
    assert holds(rule, DATA) is expected


def test_the_first_matching_rule_wins_and_default_catches_the_rest() -> None:
    state = choice_state(
        [
            {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Yes"},
            {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Default"},
        ]
    )
    assert choose(state, {"n": 5}) == "Yes"
    assert choose(state, {"n": 1}) == "Default"
    assert choose(state, {"n": 0}) == "Default"


def test_no_match_and_no_default_fails_with_states_runtime() -> None:
    state = choice_state([{"Variable": "$.n", "NumericEquals": 1, "Next": "Yes"}], default=None)
    with pytest.raises(StatesError) as caught:
        choose(state, {"n": 2})
    assert caught.value.error == "States.Runtime"
    assert caught.value.cause == "An error occurred while executing the state 'C'. No Matches!"


def test_a_missing_variable_is_a_runtime_error() -> None:
    state = choice_state([{"Variable": "$.missing", "StringEquals": "x", "Next": "Yes"}])
    with pytest.raises(StatesError) as caught:
        choose(state, {})
    assert caught.value.error == "States.Runtime"
    assert caught.value.cause.endswith(
        "Invalid path '$.missing': The choice state's condition path references an invalid value."
    )


def test_a_context_variable() -> None:
    state = choice_state([{"Variable": "$$.Execution.Name", "StringEquals": "run-1", "Next": "Yes"}])
    assert choose(state, {}, {"Execution": {"Name": "run-1"}}) == "Yes"


def test_aws_documented_example() -> None:
    # The Choice state of AWS's "Choice workflow state" page, with its inputs.
    state = parse_definition(
        json.dumps(
            {
                "StartAt": "ChoiceStateX",
                "States": {
                    "ChoiceStateX": {
                        "Type": "Choice",
                        "Choices": [
                            {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                            {
                                "Variable": "$.value",
                                "NumericEquals": 0,
                                "Next": "ValueIsZero",
                            },
                            {
                                "And": [
                                    {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                                    {"Variable": "$.value", "NumericLessThan": 30},
                                ],
                                "Next": "ValueInTwenties",
                            },
                        ],
                        "Default": "DefaultState",
                    },
                    "Public": {"Type": "Succeed"},
                    "ValueIsZero": {"Type": "Succeed"},
                    "ValueInTwenties": {"Type": "Succeed"},
                    "DefaultState": {"Type": "Fail", "Cause": "No Matches!"},
                },
            }
        )
    ).states["ChoiceStateX"]
    assert choose(state, {"type": "Public", "value": 0}) == "Public"
    assert choose(state, {"type": "Private", "value": 0}) == "ValueIsZero"
    assert choose(state, {"type": "Private", "value": 25}) == "ValueInTwenties"
    assert choose(state, {"type": "Private", "value": 35}) == "DefaultState"


MATCHES = [
    ("log-2020.txt", "log-*.txt", True),
    ("log-.txt", "log-*.txt", True),
    ("log-2020.csv", "log-*.txt", False),
    ("anything", "*", True),
    ("", "*", True),
    ("", "", True),
    ("a", "", False),
    ("a*b", "a\\*b", True),
    ("axb", "a\\*b", False),
    ("a\\b", "a\\\\b", True),
    ("abcabc", "*abc", True),
    ("abab", "a*b*b", True),
    ("ab", "a*b*b", False),
    ("exact", "exact", True),
]


@pytest.mark.parametrize(("value", "pattern", "expected"), MATCHES)
def test_string_matches(value: str, pattern: str, expected: bool) -> None:
    assert string_matches(value, pattern) is expected
