"""Standard executions survive a SIGKILL of the server: after a restart on the same data dir a
Wait keeps its deadline, a task that was in flight runs again (at least once), and a task
waiting for its token still takes SendTaskSuccess (issue 19). The same holds inside a Map's
iterations and a Parallel's branches (nested ones too): those that finished are not run again,
a waiting one ends at its deadline, a token handed out before the crash is still answered, and
the history holds each event once. A token answered just before the SIGKILL (top level and a
Map iteration's) is not waited for again: the execution goes on from the recorded answer and
the token stays spent."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server
from tests.e2e.stepfunctions_helpers import (
    ECHO,
    assert_counts,
    calls,
    counter,
    events,
    finished,
    function,
    machine,
    states_role,
    succeeded,
    task_token,
    token_in,
    types,
    wait_for,
)

SLOW = "import time\ndef handler(event, context):\n    time.sleep(4)\n    return {'slept': True, **event}\n"


@pytest.fixture
def restartable(fresh_server: Any) -> Iterator[list[Server]]:
    servers: list[Server] = [fresh_server()]
    yield servers
    for srv in servers[1:]:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop(signal.SIGKILL)


def kill_and_restart(servers: list[Server]) -> Server:
    old = servers[-1]
    old.stop(signal.SIGKILL)
    new = Server(old.data_dir, port=old.port).start()
    servers.append(new)
    return new


def test_a_wait_keeps_its_deadline_and_a_task_in_flight_runs_again(restartable: list[Server]) -> None:
    srv = restartable[0]
    sfn = srv.client("stepfunctions")
    role = states_role(srv, "sfn-durable-role")
    slow = function(srv, SLOW, Timeout=30)
    waiting = machine(
        sfn,
        {
            "StartAt": "W",
            "States": {
                "W": {"Type": "Wait", "Seconds": 3, "Next": "P"},
                "P": {"Type": "Pass", "Result": "after", "ResultPath": "$.p", "End": True},
            },
        },
        role,
    )
    working = machine(
        sfn, {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": slow, "End": True}}}, role
    )
    waited = sfn.start_execution(stateMachineArn=waiting, input='{"a": 1}')["executionArn"]
    worked = sfn.start_execution(stateMachineArn=working, input='{"b": 2}')["executionArn"]
    wait_for(lambda: "WaitStateEntered" in types(sfn, waited))
    wait_for(lambda: "LambdaFunctionScheduled" in types(sfn, worked))
    time.sleep(0.5)  # the function is running when the server dies

    srv = kill_and_restart(restartable)
    sfn = srv.client("stepfunctions")
    done = succeeded(sfn, waited)
    assert json.loads(done["output"]) == {"a": 1, "p": "after"}
    history = events(sfn, waited)
    kinds = [e["type"] for e in history]
    assert kinds.count("WaitStateEntered") == 1 and kinds.count("WaitStateExited") == 1
    entered = next(e for e in history if e["type"] == "WaitStateEntered")["timestamp"]
    exited = next(e for e in history if e["type"] == "WaitStateExited")["timestamp"]
    assert (exited - entered).total_seconds() >= 3  # the deadline held across the restart

    done = succeeded(sfn, worked)
    assert json.loads(done["output"]) == {"slept": True, "b": 2}
    kinds = types(sfn, worked)
    assert kinds.count("TaskStateEntered") == 1
    assert kinds.count("LambdaFunctionScheduled") == 2  # run again after the restart
    assert kinds[-1] == "ExecutionSucceeded"


def test_a_task_token_wait_survives_a_restart(restartable: list[Server]) -> None:
    srv = restartable[0]
    sfn = srv.client("stepfunctions")
    role = states_role(srv, "sfn-durable-role")
    echo = function(srv, ECHO)
    arn = machine(
        sfn,
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": echo, "Payload": {"token.$": "$$.Task.Token"}},
                    "End": True,
                }
            },
        },
        role,
    )
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]

    the_token = task_token(sfn, run)
    time.sleep(0.5)  # the wait is written
    srv = kill_and_restart(restartable)
    sfn = srv.client("stepfunctions")
    assert sfn.describe_execution(executionArn=run)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=the_token, output='{"ok": 1}')
    done = finished(sfn, run)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"ok": 1})


# -- Parallel branches and Map iterations ----------------------------------------------------------

WAIT_SECONDS = 4


def processor(fn: str, tag: str = "") -> dict[str, Any]:
    """An iteration by its item's kind: a quick count, a Wait, or a task token (state names
    end in `tag`: names are unique in a whole state machine)."""
    return {
        "StartAt": f"Kind{tag}",
        "States": {
            f"Kind{tag}": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.kind", "StringEquals": "wait", "Next": f"Hold{tag}"},
                    {"Variable": "$.kind", "StringEquals": "token", "Next": f"Ask{tag}"},
                ],
                "Default": f"Count{tag}",
            },
            f"Count{tag}": {"Type": "Task", "Resource": fn, "End": True},
            f"Hold{tag}": {"Type": "Wait", "Seconds": WAIT_SECONDS, "Next": f"Held{tag}"},
            f"Held{tag}": {"Type": "Pass", "Parameters": {"i.$": "$.i", "waited": True}, "End": True},
            f"Ask{tag}": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": fn, "Payload": {"i.$": "$.i", "token.$": "$$.Task.Token"}},
                "End": True,
            },
        },
    }


def check_history(history: list[dict[str, Any]]) -> list[str]:
    """The history's ids run 1.. with no id twice, and the Waits ended at their deadlines."""
    ids = [int(e["id"]) for e in history]
    assert ids == sorted(set(ids)), "an event id twice or out of order"
    entered = sorted(e["timestamp"] for e in history if e["type"] == "WaitStateEntered")
    exited = sorted(e["timestamp"] for e in history if e["type"] == "WaitStateExited")
    assert len(entered) == len(exited)
    for start, end in zip(entered, exited, strict=True):
        assert (end - start).total_seconds() >= WAIT_SECONDS  # the deadline held across the restart
    return [e["type"] for e in history]


def test_a_map_resumes_its_finished_waiting_and_token_iterations_after_sigkill(
    restartable: list[Server],
) -> None:
    srv = restartable[0]
    sfn = srv.client("stepfunctions")
    fn, table = counter(srv)
    items = [{"i": i, "kind": "count"} for i in range(3)]
    items += [{"i": 3, "kind": "wait"}, {"i": 4, "kind": "token"}]
    arn = machine(
        sfn,
        {
            "StartAt": "Each",
            "States": {
                "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor(fn), "End": True}
            },
        },
        states_role(srv, "sfn-durable-role"),
    )
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": items}))["executionArn"]

    def ready() -> str | None:  # what the history shows is written: kill once all of it is
        history = events(sfn, run)
        kinds = [e["type"] for e in history]
        if kinds.count("MapIterationSucceeded") < 3 or "WaitStateEntered" not in kinds:
            return None
        return token_in(history)

    the_token = wait_for(ready)
    assert "WaitStateExited" not in types(sfn, run)  # killed during the Wait
    srv = kill_and_restart(restartable)
    sfn = srv.client("stepfunctions")
    assert sfn.describe_execution(executionArn=run)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=the_token, output='{"answered": 4}')

    done = succeeded(sfn, run)
    assert json.loads(done["output"]) == [
        {"i": 0, "n": 1},
        {"i": 1, "n": 1},
        {"i": 2, "n": 1},
        {"i": 3, "waited": True},
        {"answered": 4},
    ]
    assert calls(srv, table) == {0: 1, 1: 1, 2: 1, 4: 1}  # nothing invoked twice
    kinds = check_history(events(sfn, run))
    assert_counts(
        kinds,
        {
            "MapStateEntered": 1,
            "MapStateStarted": 1,
            "MapIterationStarted": 5,
            "MapIterationSucceeded": 5,
            "LambdaFunctionScheduled": 3,
            "TaskScheduled": 1,
            "WaitStateEntered": 1,
            "MapStateExited": 1,
        },
    )
    assert kinds[-1] == "ExecutionSucceeded"


def test_a_parallel_resumes_its_branches_and_a_nested_map_after_sigkill(restartable: list[Server]) -> None:
    srv = restartable[0]
    sfn = srv.client("stepfunctions")
    fn, table = counter(srv)
    arn = machine(
        sfn,
        {
            "StartAt": "Fan",
            "States": {
                "Fan": {
                    "Type": "Parallel",
                    "End": True,
                    "Branches": [
                        {
                            "StartAt": "Quick",
                            "States": {
                                "Quick": {
                                    "Type": "Task",
                                    "Resource": fn,
                                    "Parameters": {"i": 10},
                                    "End": True,
                                }
                            },
                        },
                        {
                            "StartAt": "Pause",
                            "States": {
                                "Pause": {"Type": "Wait", "Seconds": WAIT_SECONDS, "Next": "Paused"},
                                "Paused": {"Type": "Pass", "Result": {"waited": 11}, "End": True},
                            },
                        },
                        {"StartAt": "Kind", "States": processor(fn)["States"]},
                        {
                            "StartAt": "Inner",
                            "States": {
                                "Inner": {
                                    "Type": "Map",
                                    "ItemsPath": "$.inner",
                                    "ItemProcessor": processor(fn, "Inner"),
                                    "End": True,
                                }
                            },
                        },
                    ],
                }
            },
        },
        states_role(srv, "sfn-durable-role"),
    )
    given = {"i": 12, "kind": "token", "inner": [{"i": 13, "kind": "count"}, {"i": 14, "kind": "wait"}]}
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps(given))["executionArn"]

    def ready() -> str | None:
        history = events(sfn, run)
        kinds = [e["type"] for e in history]
        if kinds.count("LambdaFunctionSucceeded") < 2 or kinds.count("WaitStateEntered") < 2:
            return None
        return token_in(history)

    the_token = wait_for(ready)
    assert "WaitStateExited" not in types(sfn, run)
    srv = kill_and_restart(restartable)
    sfn = srv.client("stepfunctions")
    sfn.send_task_success(taskToken=the_token, output='{"answered": 12}')

    done = succeeded(sfn, run)
    assert json.loads(done["output"]) == [
        {"i": 10, "n": 1},
        {"waited": 11},
        {"answered": 12},
        [{"i": 13, "n": 1}, {"i": 14, "waited": True}],
    ]
    assert calls(srv, table) == {10: 1, 12: 1, 13: 1}
    kinds = check_history(events(sfn, run))
    assert_counts(
        kinds,
        {
            "ParallelStateEntered": 1,
            "ParallelStateStarted": 1,
            "MapStateStarted": 1,
            "MapIterationStarted": 2,
            "LambdaFunctionScheduled": 2,
            "TaskScheduled": 1,
            "WaitStateEntered": 2,
            "ParallelStateExited": 1,
        },
    )
    assert kinds[-1] == "ExecutionSucceeded"


# -- an answered token is not waited for again ------------------------------------------------------

# A ResultSelector that keeps the engine computing for a while after an answer (each field parses
# and prints the answer's rows): the server is killed inside that time, before the execution can
# write its next step, so only an answer recorded before SendTaskSuccess answered survives.
HEAVY_FIELDS = 300
ROWS = [{"k": k, "v": "x" * 40} for k in range(2000)]


def heavy_selector() -> dict[str, str]:
    selector = {"value.$": "$.value"}
    for n in range(HEAVY_FIELDS):
        selector[f"n{n}.$"] = "States.ArrayLength(States.StringToJson(States.JsonToString($.rows)))"
    return selector


def spent(sfn: Any, token: str) -> str:
    """What a second answer to the token gets."""
    try:
        sfn.send_task_success(taskToken=token, output='{"again": true}')
    except ClientError as e:
        return str(e.response["Error"]["Code"])
    return "accepted"


def test_a_top_level_answer_survives_a_sigkill_right_after_it(restartable: list[Server]) -> None:
    srv = restartable[0]
    sfn = srv.client("stepfunctions")
    fn, table = counter(srv)
    arn = machine(
        sfn,
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": fn, "Payload": {"i": 30, "token.$": "$$.Task.Token"}},
                    "ResultSelector": heavy_selector(),
                    "ResultPath": "$.r",
                    "Next": "Hold",
                },
                "Hold": {"Type": "Wait", "Seconds": WAIT_SECONDS, "Next": "Done"},
                "Done": {
                    "Type": "Pass",
                    "Parameters": {"value.$": "$.r.value", "rows.$": "$.r.n0"},
                    "End": True,
                },
            },
        },
        states_role(srv, "sfn-durable-role"),
    )
    run = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"]
    the_token = task_token(sfn, run)  # TaskStarted is written with the wait
    sfn.send_task_success(taskToken=the_token, output=json.dumps({"value": 7, "rows": ROWS}))
    srv = kill_and_restart(restartable)  # at once: the execution has not moved on yet
    sfn = srv.client("stepfunctions")

    assert spent(sfn, the_token) == "TaskDoesNotExist"  # the answer was kept: the token is spent
    done = succeeded(sfn, run)  # and the execution goes on without another SendTaskSuccess
    assert json.loads(done["output"]) == {"value": 7, "rows": len(ROWS)}
    assert calls(srv, table) == {30: 1}  # the token task's function ran once
    kinds = check_history(events(sfn, run))
    assert_counts(
        kinds,
        {
            "TaskStateEntered": 1,
            "TaskScheduled": 1,
            "TaskStarted": 1,
            "TaskSucceeded": 1,
            "TaskStateExited": 1,
            "WaitStateEntered": 1,
        },
    )
    assert kinds[-1] == "ExecutionSucceeded"


def test_a_map_iterations_answer_survives_a_sigkill_right_after_it(restartable: list[Server]) -> None:
    srv = restartable[0]
    sfn = srv.client("stepfunctions")
    fn, table = counter(srv)
    slow = function(srv, SLOW, Timeout=30)
    # After the answer the iteration calls a function that takes seconds: nothing of the
    # iteration is written until it returns, and the server is killed before that.
    arn = machine(
        sfn,
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "End": True,
                    "ItemProcessor": {
                        "StartAt": "Ask",
                        "States": {
                            "Ask": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                                "Parameters": {
                                    "FunctionName": fn,
                                    "Payload": {"i.$": "$.i", "token.$": "$$.Task.Token"},
                                },
                                "Next": "Slow",
                            },
                            "Slow": {"Type": "Task", "Resource": slow, "End": True},
                        },
                    },
                }
            },
        },
        states_role(srv, "sfn-durable-role"),
    )
    run = sfn.start_execution(stateMachineArn=arn, input='{"items": [{"i": 40}]}')["executionArn"]
    the_token = task_token(sfn, run)  # the iteration's wait is written
    sfn.send_task_success(taskToken=the_token, output='{"answered": 40}')
    srv = kill_and_restart(restartable)  # while Slow runs: the iteration wrote nothing since
    sfn = srv.client("stepfunctions")

    assert spent(sfn, the_token) == "TaskDoesNotExist"
    done = succeeded(sfn, run)
    assert json.loads(done["output"]) == [{"slept": True, "answered": 40}]
    assert calls(srv, table) == {40: 1}
    kinds = check_history(events(sfn, run))
    assert_counts(
        kinds,
        {
            "MapIterationStarted": 1,
            "TaskScheduled": 1,
            "TaskSucceeded": 1,
            "MapIterationSucceeded": 1,
            "MapStateExited": 1,
        },
    )
    assert kinds[-1] == "ExecutionSucceeded"
