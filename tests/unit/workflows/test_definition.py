"""parse_definition: every state type builds, and what Step Functions refuses at creation is
refused with its InvalidDefinition wording (code, message, location)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratus.workflows.definition import Catcher, Retrier, parse_definition
from stratus.workflows.errors import InvalidDefinition

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:f"


def machine(states: dict[str, Any], start: str = "A", **top: Any) -> str:
    return json.dumps({"StartAt": start, "States": states, **top})


def refused(text: str) -> str:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text)
    message = caught.value.message
    assert message.startswith("Invalid State Machine Definition: '") and message.endswith("'")
    return message


def test_every_state_type_builds() -> None:
    d = parse_definition(
        machine(
            {
                "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "Next": "T"},
                "T": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "TimeoutSeconds": 30,
                    "HeartbeatSeconds": 10,
                    "Retry": [
                        {"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 0},
                        {
                            "ErrorEquals": ["States.ALL"],
                            "IntervalSeconds": 2,
                            "BackoffRate": 1.5,
                            "MaxDelaySeconds": 10,
                            "JitterStrategy": "FULL",
                        },
                    ],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": None}],
                    "Next": "C",
                },
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "W"},
                        {
                            "And": [
                                {"Variable": "$.s", "IsPresent": True},
                                {"Not": {"Variable": "$.s", "StringEquals": "x"}},
                            ],
                            "Next": "P",
                        },
                    ],
                    "Default": "S",
                },
                "W": {"Type": "Wait", "Seconds": 1, "Next": "M"},
                "P": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}}],
                    "Next": "M",
                },
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 2,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "I",
                        "States": {"I": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                },
                "S": {"Type": "Succeed"},
                "F": {"Type": "Fail", "Error": "E", "Cause": "c"},
            },
            TimeoutSeconds=60,
            Comment="all of them",
        )
    )
    assert d.start_at == "A" and d.timeout_seconds == 60 and d.comment == "all of them"
    assert {s.type for s in d.states.values()} == {
        "Pass",
        "Task",
        "Choice",
        "Wait",
        "Parallel",
        "Map",
        "Succeed",
        "Fail",
    }
    task = d.states["T"]
    assert (
        task.next == "C" and not task.end and task.timeout_seconds == 30.0 and task.heartbeat_seconds == 10.0
    )
    assert task.retry == (
        Retrier(("Lambda.ServiceException",), max_attempts=0),
        Retrier(("States.ALL",), 2.0, 3, 1.5, 10.0, "FULL"),
    )
    assert task.catch == (Catcher(("States.ALL",), "F", None),)
    assert d.states["P"].branches[0].states["B1"].end
    processor = d.states["M"].processor
    assert processor is not None and processor.start_at == "I"
    assert d.states["M"].end and d.states["M"].next is None
    assert d.states["C"].next is None


def test_the_older_iterator_is_a_processor() -> None:
    d = parse_definition(
        machine(
            {
                "A": {
                    "Type": "Map",
                    "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                    "End": True,
                }
            }
        )
    )
    assert d.states["A"].processor is not None


def test_catcher_result_path_defaults_to_dollar() -> None:
    d = parse_definition(
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Catch": [{"ErrorEquals": ["X"], "Next": "B"}],
                    "End": True,
                },
                "B": {"Type": "Succeed"},
            }
        )
    )
    assert d.states["A"].catch[0].result_path == "$"


REFUSED = [
    # (why, definition, the exact diagnostic AWS words)
    (
        "a Next naming no state, and then no terminal state",
        machine({"A": {"Type": "Pass", "Next": "NOPE"}}),
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: NOPE at /States/A/Next, "
        "MISSING_END_STATE: Workflow has no terminal state at null",
    ),
    (
        "an unreachable state (AWS words it MISSING_TRANSITION_TARGET, not UNREACHABLE_STATE)",
        machine({"A": {"Type": "Pass", "End": True}, "B": {"Type": "Pass", "End": True}}),
        'MISSING_TRANSITION_TARGET: State "B" is not reachable. at /States/B',
    ),
    (
        "a loop without an end: only MISSING_END_STATE, the reachability walk is suppressed",
        machine(
            {
                "A": {"Type": "Pass", "Next": "B"},
                "B": {"Type": "Pass", "Next": "A"},
                "X": {"Type": "Pass", "Next": "A"},
            }
        ),
        "MISSING_END_STATE: Workflow has no terminal state at null",
    ),
    (
        "a Choice's rule target, Default and a Catch target are each reported at their place",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Catch": [{"ErrorEquals": ["X"], "Next": "Q1"}],
                    "Next": "C",
                },
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "Q2"}],
                    "Default": "Q3",
                },
                "S": {"Type": "Succeed"},
            }
        ),
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Q1 at /States/A/Catch[0]/Next",
    ),
    (
        "StartAt naming no state",
        machine({"A": {"Type": "Succeed"}}, start="Z"),
        "Missing 'Next' target: Z at /StartAt",
    ),
    (
        "no StartAt",
        json.dumps({"States": {"A": {"Type": "Succeed"}}}),
        "SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /",
    ),
    (
        "an unknown top-level field",
        machine({"A": {"Type": "Succeed"}}, Coment="x"),
        "SCHEMA_VALIDATION_FAILED: Field 'Coment' is not supported at /",
    ),
    (
        "an unknown state field",
        machine({"A": {"Type": "Pass", "End": True, "Foo": 1}}),
        "Field 'Foo' is not supported at /States/A",
    ),
    (
        "TimeoutSeconds on a Map (Task only)",
        machine({"A": {"Type": "Pass", "End": True, "TimeoutSeconds": 3}}),
        "Field 'TimeoutSeconds' is not supported at /States/A",
    ),
    (
        "Retry on a Pass",
        machine({"A": {"Type": "Pass", "End": True, "Retry": []}}),
        "Field 'Retry' is not supported at /States/A",
    ),
    (
        "no Type",
        machine({"A": {"End": True}}),
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at /States/A",
    ),
    (
        "an unknown Type",
        machine({"A": {"Type": "Nope", "End": True}}),
        "The value for the field 'Type' must be one of",
    ),
    (
        "neither Next nor End",
        machine({"A": {"Type": "Pass"}, "B": {"Type": "Succeed"}}),
        "There should be exactly one of the following fields: [End, Next] at /States/A",
    ),
    (
        "both Next and End",
        machine({"A": {"Type": "Pass", "Next": "B", "End": True}, "B": {"Type": "Succeed"}}),
        "There should only be one of the following fields: [End, Next] at /States/A",
    ),
    (
        "Next on a Succeed",
        machine({"A": {"Type": "Succeed", "Next": "A"}}),
        "Field 'Next' is not supported at /States/A",
    ),
    (
        "a bad InputPath",
        machine({"A": {"Type": "Pass", "End": True, "InputPath": "a.b"}}),
        "The value for the field 'InputPath' must be a valid JSONPath at /States/A/InputPath",
    ),
    (
        "a wildcard in ResultPath",
        machine({"A": {"Type": "Pass", "End": True, "ResultPath": "$.a[*]"}}),
        "The value for the field 'ResultPath' must be a valid ReferencePath at /States/A/ResultPath",
    ),
    (
        "the context object in ResultPath",
        machine({"A": {"Type": "Pass", "End": True, "ResultPath": "$$.Execution"}}),
        "must be a valid ReferencePath",
    ),
    (
        "a .$ key that is neither a path nor a call",
        machine({"A": {"Type": "Pass", "End": True, "Parameters": {"x": {"y.$": "nope"}}}}),
        "The value for the field 'y.$' must be a valid JSONPath or a valid intrinsic function call"
        " at /States/A/Parameters/x",
    ),
    (
        "an unknown intrinsic",
        machine({"A": {"Type": "Pass", "End": True, "Parameters": {"y.$": "States.Nope(1)"}}}),
        "The value for the field 'y.$' must be a valid JSONPath or a valid intrinsic function call",
    ),
    (
        "an intrinsic with the wrong arity",
        machine({"A": {"Type": "Pass", "End": True, "Parameters": {"y.$": "States.ArrayLength(1, 2)"}}}),
        "'y.$' must be a valid JSONPath or a valid intrinsic",
    ),
    (
        "a Choice without Choices",
        machine({"A": {"Type": "Choice", "Default": "B"}, "B": {"Type": "Succeed"}}),
        "SCHEMA_VALIDATION_FAILED: These fields are required: [Choices] at /States/A",
    ),
    (
        "a top-level Choice rule without Next",
        machine(
            {
                "A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": True}], "Default": "B"},
                "B": {"Type": "Succeed"},
            }
        ),
        "These fields are required: [Next] at /States/A/Choices[0]",
    ),
    (
        "a nested Choice rule with Next",
        machine(
            {
                "A": {
                    "Type": "Choice",
                    "Choices": [{"Not": {"Variable": "$.a", "IsNull": True, "Next": "B"}, "Next": "B"}],
                },
                "B": {"Type": "Succeed"},
            }
        ),
        "Field 'Next' is not supported at /States/A/Choices[0]/Not",
    ),
    (
        "a rule with two operators",
        machine(
            {
                "A": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "IsNull": True, "IsString": True, "Next": "B"}],
                },
                "B": {"Type": "Succeed"},
            }
        ),
        "A Choice Rule must have exactly one comparison operator at /States/A/Choices[0]",
    ),
    (
        "a NumericEquals with a string",
        machine(
            {
                "A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "NumericEquals": "1", "Next": "B"}]},
                "B": {"Type": "Succeed"},
            }
        ),
        "The value for the field 'NumericEquals' must be a NUMBER at /States/A/Choices[0]/NumericEquals",
    ),
    (
        "a TimestampEquals without a zone",
        machine(
            {
                "A": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.a", "TimestampEquals": "2016-03-14T01:59:00", "Next": "B"}],
                },
                "B": {"Type": "Succeed"},
            }
        ),
        "must be a valid timestamp",
    ),
    (
        "a Wait with two times",
        machine({"A": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}}),
        "There should be exactly one of the following fields:"
        " [Seconds, Timestamp, SecondsPath, TimestampPath] at /States/A",
    ),
    (
        "a Wait with a negative time",
        machine({"A": {"Type": "Wait", "Seconds": -1, "End": True}}),
        "Minimum value is 0 at /States/A/Seconds",
    ),
    (
        "a Fail with Error and ErrorPath",
        machine({"A": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}),
        "There should only be one of the following fields: [Error, ErrorPath] at /States/A",
    ),
    (
        "a CausePath with an intrinsic that returns no string",
        machine({"A": {"Type": "Fail", "CausePath": "States.ArrayLength($.a)"}}),
        "The value for the field 'CausePath' must be a valid ReferencePath or a valid intrinsic function"
        " call at /States/A/CausePath",
    ),
    (
        "a Map without ItemProcessor",
        machine({"A": {"Type": "Map", "End": True}}),
        "These fields are required: [ItemProcessor] at /States/A",
    ),
    (
        "a Task without Resource",
        machine({"A": {"Type": "Task", "End": True}}),
        "These fields are required: [Resource] at /States/A",
    ),
    (
        "TimeoutSeconds 0",
        machine({"A": {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": 0, "End": True}}),
        "Minimum value is 1 at /States/A/TimeoutSeconds",
    ),
    (
        "TimeoutSeconds and its Path",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "TimeoutSeconds": 3,
                    "TimeoutSecondsPath": "$.t",
                    "End": True,
                }
            }
        ),
        "There should only be one of the following fields: [TimeoutSeconds, TimeoutSecondsPath]",
    ),
    (
        "a Map count path into the context object is still a Reference Path",
        machine(
            {
                "A": {
                    "Type": "Map",
                    "MaxConcurrencyPath": "$.a[*]",
                    "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                    "End": True,
                }
            }
        ),
        "Value is not a Reference Path at /States/A/MaxConcurrencyPath",
    ),
    (
        "ToleratedFailurePercentage above 100",
        machine(
            {
                "A": {
                    "Type": "Map",
                    "ToleratedFailurePercentage": 101,
                    "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                    "End": True,
                }
            }
        ),
        "Maximum value is 100.0 at /States/A/ToleratedFailurePercentage",
    ),
    (
        "MaxAttempts below 0",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}],
                    "End": True,
                }
            }
        ),
        "Minimum value is 0 at /States/A/Retry[0]/MaxAttempts",
    ),
    (
        "IntervalSeconds 0",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}],
                    "End": True,
                }
            }
        ),
        "Minimum value is 1 at /States/A/Retry[0]/IntervalSeconds",
    ),
    (
        "BackoffRate below 1",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}],
                    "End": True,
                }
            }
        ),
        "Minimum value is 1.0 at /States/A/Retry[0]/BackoffRate",
    ),
    (
        "MaxDelaySeconds too large",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 31622401}],
                    "End": True,
                }
            }
        ),
        "Maximum value is 31622400 at /States/A/Retry[0]/MaxDelaySeconds",
    ),
    (
        "an unknown JitterStrategy",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}],
                    "End": True,
                }
            }
        ),
        "'JitterStrategy' must be one of [FULL, NONE]",
    ),
    (
        "States.ALL not alone",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Retry": [{"ErrorEquals": ["States.ALL", "X"]}],
                    "End": True,
                }
            }
        ),
        "Error name 'States.ALL' must appear alone in ErrorEquals at /States/A/Retry[0]/ErrorEquals",
    ),
    (
        "States.ALL not last",
        machine(
            {
                "A": {
                    "Type": "Task",
                    "Resource": LAMBDA,
                    "Catch": [
                        {"ErrorEquals": ["States.ALL"], "Next": "B"},
                        {"ErrorEquals": ["X"], "Next": "B"},
                    ],
                    "End": True,
                },
                "B": {"Type": "Succeed"},
            }
        ),
        "A Catcher with 'States.ALL' must be the last Catcher at /States/A/Catch[0]/ErrorEquals",
    ),
    (
        "an empty ErrorEquals",
        machine({"A": {"Type": "Task", "Resource": LAMBDA, "Retry": [{"ErrorEquals": []}], "End": True}}),
        "'ErrorEquals' must be a non-empty ARRAY of STRINGs at /States/A/Retry[0]/ErrorEquals",
    ),
    (
        "a Catch without Next",
        machine({"A": {"Type": "Task", "Resource": LAMBDA, "Catch": [{"ErrorEquals": ["X"]}], "End": True}}),
        "These fields are required: [Next] at /States/A/Catch[0]",
    ),
    (
        "a branch is validated as a machine of its own: its states cannot go outside it",
        machine(
            {
                "P": {
                    "Type": "Parallel",
                    "End": True,
                    "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "P"}}}],
                }
            },
            start="P",
        ),
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: P at /States/P/Branches[0]/States/X/Next",
    ),
    (
        "a processor's unreachable state",
        machine(
            {
                "M": {
                    "Type": "Map",
                    "End": True,
                    "ItemProcessor": {
                        "StartAt": "I",
                        "States": {"I": {"Type": "Succeed"}, "J": {"Type": "Succeed"}},
                    },
                }
            },
            start="M",
        ),
        'MISSING_TRANSITION_TARGET: State "J" is not reachable. at /States/M/ItemProcessor/States/J',
    ),
    (
        "state names are unique across the whole machine",
        machine(
            {
                "M": {
                    "Type": "Map",
                    "Next": "I",
                    "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}},
                },
                "I": {"Type": "Succeed"},
            },
            start="M",
        ),
        "DUPLICATE_STATE_NAME: Duplicate State name: I at /States/I",
    ),
    (
        "JSONata, which Stratus does not run",
        machine({"A": {"Type": "Succeed"}}, QueryLanguage="JSONata"),
        "The QueryLanguage 'JSONata' is not supported by Stratus",
    ),
    ("text that is not JSON", "{nope", "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: "),
]


@pytest.mark.parametrize(("why", "text", "expected"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_with_aws_wording(why: str, text: str, expected: str) -> None:
    assert expected in refused(text)


def test_several_problems_are_listed_in_one_message() -> None:
    message = refused(machine({"A": {"Type": "Pass", "End": True, "Foo": 1, "Bar": 2}}))
    assert message == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Field 'Foo' is not supported at "
        "/States/A, SCHEMA_VALIDATION_FAILED: Field 'Bar' is not supported at /States/A'"
    )


ACCEPTED = [
    (
        "paths AWS documents",
        {
            "Type": "Pass",
            "InputPath": "$.a['b c'][0]",
            "OutputPath": "$..x",
            "ResultPath": "$.r[1].s",
            "End": True,
        },
    ),
    ("null paths", {"Type": "Pass", "InputPath": None, "OutputPath": None, "ResultPath": None, "End": True}),
    ("a filter in InputPath", {"Type": "Pass", "InputPath": "$.items[?(@.price > 10)]", "End": True}),
    (
        "context paths and nested intrinsics in Parameters",
        {
            "Type": "Pass",
            "Parameters": {
                "id.$": "$$.Execution.Id",
                "l": [{"m.$": "States.Format('{}-{}', $.a, States.UUID())"}],
            },
            "End": True,
        },
    ),
    ("End false beside Next is Next", {"Type": "Pass", "End": False, "Next": "S"}),
    (
        "a Fail whose ErrorPath is an intrinsic that returns a string",
        {"Type": "Fail", "ErrorPath": "States.Format('E{}', $.n)", "CausePath": "$$.Execution.Input.cause"},
    ),
    (
        "a TimestampPath into the context",
        {"Type": "Wait", "TimestampPath": "$$.Execution.Input.t", "End": True},
    ),
    (
        "a Timestamp with an offset and fractions",
        {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00.123+05:30", "End": True},
    ),
]


@pytest.mark.parametrize(("why", "state"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(why: str, state: dict[str, Any]) -> None:
    parse_definition(
        machine({"A": state, "S": {"Type": "Succeed"}} if state.get("Next") == "S" else {"A": state})
    )
