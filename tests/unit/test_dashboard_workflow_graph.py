"""What the dashboard draws for Step Functions (`dashboard/workflow_graph.py`): a definition as
nodes and labelled edges, and an execution's path read from histories the real executor wrote
(Pass, Choice, Parallel, Map, Fail and Catch need no function) or, for a running task, written
out as the executor writes them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from stratus.dashboard.workflow_graph import execution_path, graph, rule_label
from stratus.workflows.definition import parse_definition
from stratus.workflows.executor import Executions
from stratus.workflows.model import RUNNING, StateMachine, machine_arn
from stratus.workflows.store import WorkflowStore
from stratus.workflows.tasks import Functions

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/states"

BRANCHING: dict[str, Any] = {
    "StartAt": "Pick",
    "States": {
        "Pick": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.kind", "StringEquals": "left", "Next": "Left"},
                {
                    "And": [
                        {"Variable": "$.n", "NumericGreaterThanEquals": 10},
                        {"Not": {"Variable": "$.x", "IsPresent": True}},
                    ],
                    "Next": "Right",
                },
            ],
            "Default": "Nope",
        },
        "Left": {"Type": "Pass", "Next": "Both"},
        "Right": {"Type": "Pass", "Next": "Both"},
        "Nope": {"Type": "Fail", "Error": "NoKind"},
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A1", "States": {"A1": {"Type": "Pass", "End": True}}},
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Result": [1, 2, 3], "End": True}}},
            ],
            "ResultPath": "$.both",
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "One", "States": {"One": {"Type": "Pass", "End": True}}},
            "ResultPath": "$.each",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Nope"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}

CAUGHT: dict[str, Any] = {
    "StartAt": "Try",
    "States": {
        "Try": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}},
                {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Bad", "Cause": "boom"}}},
            ],
            "Catch": [{"ErrorEquals": ["Bad"], "ResultPath": "$.error", "Next": "Recover"}],
            "End": True,
        },
        "Recover": {"Type": "Pass", "End": True},
    },
}


def test_a_definition_becomes_nodes_with_labelled_edges_and_nested_scopes() -> None:
    drawn = graph(parse_definition(json.dumps(BRANCHING))).to_json()
    assert drawn["startAt"] == "Pick"
    states = {s["name"]: s for s in drawn["states"]}
    assert list(states) == ["Pick", "Left", "Right", "Nope", "Both", "Each", "Done"]
    assert states["Pick"]["edges"] == [
        {"to": "Left", "kind": "choice", "label": '$.kind == "left"'},
        {"to": "Right", "kind": "choice", "label": "$.n >= 10 and not ($.x is present)"},
        {"to": "Nope", "kind": "default", "label": "Default"},
    ]
    assert states["Left"]["edges"] == [{"to": "Both", "kind": "next", "label": ""}]
    assert states["Each"]["edges"] == [
        {"to": "Done", "kind": "next", "label": ""},
        {"to": "Nope", "kind": "catch", "label": "States.ALL"},
    ]
    assert [b["startAt"] for b in states["Both"]["branches"]] == ["A1", "B1"]
    assert states["Each"]["processor"]["states"][0]["name"] == "One"
    assert states["Done"]["end"] and states["Nope"]["end"] and not states["Left"]["end"]
    assert states["Left"]["processor"] is None and states["Left"]["branches"] == []


def test_rule_labels_read_as_comparisons() -> None:
    assert rule_label({"Variable": "$.a", "NumericLessThanPath": "$.b", "Next": "X"}) == "$.a < $.b"
    assert rule_label({"Variable": "$.t", "IsNull": False, "Next": "X"}) == "$.t is not null"
    assert (
        rule_label({"Variable": "$.s", "StringMatches": "log-*.txt", "Next": "X"})
        == '$.s matches "log-*.txt"'
    )
    assert (
        rule_label(
            {"Or": [{"Variable": "$.b", "BooleanEquals": True}, {"Variable": "$.c", "IsString": True}]}
        )
        == "$.b == true or $.c is string"
    )
    long = rule_label({"Variable": "$.v", "StringEquals": "x" * 500})
    assert len(long) == 120 and long.endswith("…")


def run_to_end(tmp: Path, definition: dict[str, Any], given: Any) -> tuple[str, list[dict[str, Any]]]:
    """(status, history) of a Standard execution the real executor runs to its end."""

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no function is called here")

    async def main() -> tuple[str, list[dict[str, Any]]]:
        store = WorkflowStore(tmp / "workflows.db", owner="test")
        executions = Executions(store, Functions(refuse, lambda *a: True, ACCOUNT), ACCOUNT)
        runner = asyncio.create_task(executions.run())
        try:
            arn = machine_arn("us-east-1", ACCOUNT, "m")
            text = json.dumps(definition)
            await executions.put_machine(StateMachine(arn, "m", "us-east-1", "STANDARD", text, ROLE, 0))
            await asyncio.sleep(0)  # the runner's task group is open
            record = await executions.start(arn, "e", json.dumps(given))
            while (record := await executions.describe(record.arn)).status == RUNNING:
                await asyncio.sleep(0.01)
            return record.status, await store.history(record.arn)
        finally:
            runner.cancel()
            await asyncio.wait([runner])
            store.close()

    return asyncio.run(main())


def test_the_path_marks_the_branch_taken_and_not_the_others(tmp_path: Path) -> None:
    status, events = run_to_end(tmp_path, BRANCHING, {"kind": "left", "items": [1, 2, 3]})
    assert status == "SUCCEEDED"
    path = execution_path(events, status).to_json()
    states = path["states"]
    assert set(states) == {"Pick", "Left", "Both", "A1", "B1", "Each", "One", "Done"}  # not Right, Nope
    assert all(run["status"] == "succeeded" for run in states.values())
    assert states["One"] == {"status": "succeeded", "entered": 3, "succeeded": 3, "failed": 0}
    taken = {tuple(t) for t in path["transitions"]}
    assert taken == {("Pick", "Left"), ("Left", "Both"), ("Both", "Each"), ("Each", "Done")}


def test_a_failed_branch_and_its_catch(tmp_path: Path) -> None:
    status, events = run_to_end(tmp_path, CAUGHT, {})
    assert status == "SUCCEEDED"
    path = execution_path(events, status).to_json()
    runs = {name: run["status"] for name, run in path["states"].items()}
    # The Fail state failed, the Parallel it ran in was caught (failed), the Catch's target ran.
    assert runs == {"Try": "failed", "Ok": "succeeded", "Boom": "failed", "Recover": "succeeded"}
    assert [tuple(t) for t in path["transitions"]] == [("Try", "Recover")]


def test_an_execution_that_failed_at_the_default(tmp_path: Path) -> None:
    status, events = run_to_end(tmp_path, BRANCHING, {"kind": "neither", "n": 1})
    assert status == "FAILED"
    runs = {n: r["status"] for n, r in execution_path(events, status).to_json()["states"].items()}
    assert runs == {"Pick": "succeeded", "Nope": "failed"}


def entered(eid: int, prev: int, kind: str, name: str) -> dict[str, Any]:
    return {
        "id": eid,
        "previousEventId": prev,
        "type": f"{kind}StateEntered",
        "stateEnteredEventDetails": {"name": name},
    }


def exited(eid: int, prev: int, kind: str, name: str) -> dict[str, Any]:
    return {
        "id": eid,
        "previousEventId": prev,
        "type": f"{kind}StateExited",
        "stateExitedEventDetails": {"name": name},
    }


def test_a_task_still_in_flight_or_retrying_is_running() -> None:
    events = [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted"},
        entered(2, 1, "Pass", "First"),
        exited(3, 2, "Pass", "First"),
        entered(4, 3, "Task", "Call"),
        {"id": 5, "previousEventId": 4, "type": "TaskScheduled"},
        {"id": 6, "previousEventId": 5, "type": "TaskFailed", "taskFailedEventDetails": {"error": "E"}},
        {"id": 7, "previousEventId": 6, "type": "TaskScheduled"},  # its retry
    ]
    path = execution_path(events, "RUNNING")
    assert {n: r.status for n, r in path.states.items()} == {"First": "succeeded", "Call": "running"}
    assert path.transitions == (("First", "Call"),)
    # The same history after StopExecution: what was in flight did not finish.
    stopped = execution_path(
        [*events, {"id": 8, "previousEventId": 7, "type": "ExecutionAborted"}], "ABORTED"
    )
    assert stopped.states["Call"].status == "failed"
