"""Standard executions survive a SIGKILL of the server: after a restart on the same data dir a
Wait keeps its deadline, a task that was in flight runs again (at least once), and a task
waiting for its token still takes SendTaskSuccess (issue 19)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_stepfunctions import (
    ECHO,
    events,
    finished,
    function,
    machine,
    states_role,
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
    done = finished(sfn, waited)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"a": 1, "p": "after"}
    history = events(sfn, waited)
    kinds = [e["type"] for e in history]
    assert kinds.count("WaitStateEntered") == 1 and kinds.count("WaitStateExited") == 1
    entered = next(e for e in history if e["type"] == "WaitStateEntered")["timestamp"]
    exited = next(e for e in history if e["type"] == "WaitStateExited")["timestamp"]
    assert (exited - entered).total_seconds() >= 3  # the deadline held across the restart

    done = finished(sfn, worked)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
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

    def token() -> str | None:
        history = events(sfn, run)
        if "TaskStarted" not in [e["type"] for e in history] or "TaskScheduled" not in [
            e["type"] for e in history
        ]:
            return None
        scheduled = next(e for e in history if e["type"] == "TaskScheduled")
        return str(json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Payload"]["token"])

    wait_for(lambda: "TaskStarted" in types(sfn, run) or None)
    the_token = wait_for(token)
    time.sleep(0.5)  # the wait is written
    srv = kill_and_restart(restartable)
    sfn = srv.client("stepfunctions")
    assert sfn.describe_execution(executionArn=run)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=the_token, output='{"ok": 1}')
    done = finished(sfn, run)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"ok": 1})
