"""History events (workflows/history.py): every event type botocore's `stepfunctions` model
names gets a details member that its HistoryEvent shape has (or none, for the events AWS
records bare); EventLog numbers events and hands over the unwritten ones once; to_wire drops
execution data when asked; the CLI's timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stratus.wire.models import service_model
from stratus.workflows.history import EventLog, as_json, details_member, timeline, to_wire

MODEL = service_model("stepfunctions")
EVENT_TYPES = list(MODEL.shape_for("HistoryEventType").enum)
MEMBERS = set(MODEL.shape_for("HistoryEvent").members)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_has_a_member_the_model_knows(event_type: str) -> None:
    member = details_member(event_type)
    assert member is None or member in MEMBERS, member


def test_every_details_member_of_the_model_is_reached_by_some_type() -> None:
    reached = {details_member(t) for t in EVENT_TYPES}
    assert {m for m in MEMBERS if m.endswith("EventDetails")} <= reached


@pytest.mark.parametrize(
    ("event_type", "member"),
    [
        ("ExecutionStarted", "executionStartedEventDetails"),
        ("ExecutionSucceeded", "executionSucceededEventDetails"),
        ("TaskStateEntered", "stateEnteredEventDetails"),
        ("MapStateEntered", "stateEnteredEventDetails"),
        ("PassStateExited", "stateExitedEventDetails"),
        ("MapStateStarted", "mapStateStartedEventDetails"),
        ("MapIterationFailed", "mapIterationFailedEventDetails"),
        ("LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails"),
        ("LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails"),
        ("TaskScheduled", "taskScheduledEventDetails"),
        ("TaskTimedOut", "taskTimedOutEventDetails"),
        ("LambdaFunctionStarted", None),
        ("ParallelStateStarted", None),
        ("MapStateSucceeded", None),
        ("WaitStateAborted", None),
        ("TaskStateAborted", None),
    ],
)
def test_members_of_familiar_types(event_type: str, member: str | None) -> None:
    assert details_member(event_type) == member


def test_event_log_numbers_chains_and_hands_over_pending_events_once() -> None:
    log = EventLog(4)
    first = log.add("TaskStateEntered", 1000, 3, {"name": "T", "input": "{}"})
    second = log.add("LambdaFunctionStarted", 1001, first, {"ignored": True})
    assert (first, second, log.next_id) == (4, 5, 6)
    taken = log.take()
    assert taken == [
        {
            "id": 4,
            "previousEventId": 3,
            "timestamp": 1000,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "T", "input": "{}"},
        },
        {"id": 5, "previousEventId": 4, "timestamp": 1001, "type": "LambdaFunctionStarted"},
    ]
    assert log.take() == []
    assert log.add("TaskStateExited", 1002, 5) == 6  # no details given: no member


def test_to_wire_gives_an_aware_timestamp_and_can_drop_execution_data() -> None:
    event = {
        "id": 1,
        "previousEventId": 0,
        "timestamp": 1_700_000_000_123,
        "type": "ExecutionStarted",
        "executionStartedEventDetails": {
            "input": '{"a":1}',
            "inputDetails": {"truncated": False},
            "roleArn": "arn:aws:iam::123456789012:role/r",
        },
    }
    wire = to_wire(event)
    assert wire["timestamp"] == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert wire["executionStartedEventDetails"]["input"] == '{"a":1}'
    bare = to_wire(event, include_data=False)
    assert bare["executionStartedEventDetails"] == {
        "inputDetails": {"truncated": False},
        "roleArn": "arn:aws:iam::123456789012:role/r",
    }
    assert event["executionStartedEventDetails"]["input"] == '{"a":1}'  # the stored event is untouched


def test_as_json_is_compact_and_keeps_unicode() -> None:
    assert as_json({"a": [1, "é"]}) == '{"a":[1,"é"]}'


def test_timeline_lines() -> None:
    events = [
        {"id": 1, "timestamp": 1000, "type": "ExecutionStarted", "executionStartedEventDetails": {}},
        {
            "id": 2,
            "timestamp": 1250,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "Call"},
        },
        {
            "id": 3,
            "timestamp": 2500,
            "type": "TaskFailed",
            "taskFailedEventDetails": {"resource": "invoke", "error": "Boom", "cause": "bad"},
        },
    ]
    lines = timeline(events)
    assert [line.split()[:3] for line in lines] == [
        ["0.000s", "1", "ExecutionStarted"],
        ["0.250s", "2", "TaskStateEntered"],
        ["1.500s", "3", "TaskFailed"],
    ]
    assert lines[1].endswith("Call")
    assert lines[2].endswith("invoke Boom: bad")
    assert timeline([]) == []
