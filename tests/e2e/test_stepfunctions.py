"""Step Functions end to end: boto3's `stepfunctions` against the real server, with real Python
functions as tasks (issue 19)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server
from tests.e2e.stepfunctions_helpers import (
    ECHO,
    events,
    finished,
    function,
    machine,
    states_role,
    succeeded,
    task_token,
    types,
    wait_for,
)

DOUBLE = "def handler(event, context):\n    return {'n': event['n'] * 2}\n"
FAIL = "def handler(event, context):\n    raise ValueError('no good: ' + str(event))\n"


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return server.client("stepfunctions")


@pytest.fixture(scope="module")
def role(server: Server) -> str:
    return states_role(server, "sfn-test-role")


@pytest.fixture(scope="module")
def double(server: Server) -> str:
    return function(server, DOUBLE)


def test_a_chain_of_task_choice_and_pass_succeeds_with_its_output_and_history(
    sfn: Any, role: str, double: str
) -> None:
    definition = {
        "StartAt": "Double",
        "States": {
            "Double": {"Type": "Task", "Resource": double, "Next": "Size"},
            "Size": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.size", "End": True},
        },
    }
    arn = machine(sfn, definition, role)
    big = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 4}))["executionArn"]
    small = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 2}))["executionArn"]
    assert json.loads(finished(sfn, big)["output"]) == {"n": 8, "size": "big"}
    assert json.loads(finished(sfn, small)["output"]) == {"n": 4, "size": "small"}
    assert types(sfn, big) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    history = events(sfn, big)
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    assert all(e["previousEventId"] == e["id"] - 1 for e in history)
    assert history[4]["lambdaFunctionSucceededEventDetails"]["output"] == '{"n":8}'
    reverse = sfn.get_execution_history(executionArn=big, reverseOrder=True, maxResults=2)
    assert [e["type"] for e in reverse["events"]] == ["ExecutionSucceeded", "PassStateExited"]
    assert reverse["nextToken"]
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    assert {e["executionArn"] for e in listed} == {big, small}
    assert sfn.describe_state_machine_for_execution(executionArn=big)["definition"] == json.dumps(definition)


def test_retry_then_catch_on_a_failing_function(server: Server, sfn: Any, role: str) -> None:
    fail = function(server, FAIL)
    definition = {
        "StartAt": "Try",
        "States": {
            "Try": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fail, "Payload.$": "$"},
                "Retry": [
                    {"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    arn = machine(sfn, definition, role)
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"x": 1}))["executionArn"]
    done = succeeded(sfn, run)
    output = json.loads(done["output"])
    assert output["x"] == 1
    assert output["caught"]["Error"] == "ValueError"
    assert json.loads(output["caught"]["Cause"])["errorMessage"] == "no good: {'x': 1}"
    kinds = types(sfn, run)
    assert kinds.count("TaskScheduled") == 3  # the first attempt and two retries
    assert kinds.count("TaskFailed") == 3
    assert kinds[-3:] == ["PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def test_lambda_invoke_output_shape(sfn: Any, role: str, double: str) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": double, "Payload": {"n.$": "$.n"}},
                "End": True,
            }
        },
    }
    arn = machine(sfn, definition, role)
    run = sfn.start_execution(stateMachineArn=arn, input='{"n": 21}')["executionArn"]
    output = json.loads(finished(sfn, run)["output"])
    assert output["Payload"] == {"n": 42}
    assert output["StatusCode"] == 200
    assert output["ExecutedVersion"] == "$LATEST"
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert output["SdkResponseMetadata"]["RequestId"]


def test_parallel_and_map_results(sfn: Any, role: str, double: str) -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": double, "End": True}}},
                    {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"n": -1}, "End": True}}},
                ],
                "ResultPath": "$.parallel",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "StartAt": "D2",
                    "States": {"D2": {"Type": "Task", "Resource": double, "End": True}},
                },
                "ResultPath": "$.mapped",
                "End": True,
            },
        },
    }
    arn = machine(sfn, definition, role)
    items = [{"n": i} for i in range(1, 6)]
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": 10, "items": items}))[
        "executionArn"
    ]
    output = json.loads(finished(sfn, run)["output"])
    assert output["parallel"] == [{"n": 20}, {"n": -1}]
    assert output["mapped"] == [{"n": 2 * i} for i in range(1, 6)]
    kinds = types(sfn, run)
    assert kinds.count("MapIterationStarted") == 5 and kinds.count("MapIterationSucceeded") == 5
    assert "ParallelStateStarted" in kinds and "MapStateStarted" in kinds
    started = next(e for e in events(sfn, run) if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"] == {"length": 5}


def test_a_failing_map_iteration_fails_the_state(server: Server, sfn: Any, role: str) -> None:
    fail = function(server, FAIL)
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "F",
                    "States": {"F": {"Type": "Task", "Resource": fail, "End": True}},
                },
                "End": True,
            }
        },
    }
    arn = machine(sfn, definition, role)
    run = sfn.start_execution(stateMachineArn=arn, input="[1, 2]")["executionArn"]
    done = finished(sfn, run)
    assert done["status"] == "FAILED"
    assert done["error"] == "ValueError"
    assert "MapStateFailed" in types(sfn, run)


def test_wait_for_task_token_success_and_failure(server: Server, sfn: Any, role: str) -> None:
    echo = function(server, ECHO)
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": echo, "Payload": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    arn = machine(sfn, definition, role)
    ok = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = task_token(sfn, ok)
    time.sleep(0.5)
    assert sfn.describe_execution(executionArn=ok)["status"] == "RUNNING"  # it waits for the token
    sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
    assert json.loads(finished(sfn, ok)["output"]) == {"approved": True}
    with pytest.raises(ClientError) as again:
        sfn.send_task_success(taskToken=token, output="{}")
    assert again.value.response["Error"]["Code"] == "TaskDoesNotExist"

    bad = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = task_token(sfn, bad)
    sfn.send_task_failure(taskToken=token, error="Rejected", cause="by the test")
    done = finished(sfn, bad)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Rejected", "by the test")
    with pytest.raises(ClientError) as invalid:
        sfn.send_task_success(taskToken="not-a-token", output="{}")
    assert invalid.value.response["Error"]["Code"] in ("InvalidToken", "TaskDoesNotExist")


def test_stop_execution_aborts_a_waiting_execution(sfn: Any, role: str) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn = machine(sfn, definition, role)
    run = sfn.start_execution(stateMachineArn=arn, name="to-stop")["executionArn"]
    wait_for(lambda: "WaitStateEntered" in types(sfn, run))
    sfn.stop_execution(executionArn=run, error="Halt", cause="enough")
    done = sfn.describe_execution(executionArn=run)
    assert (done["status"], done["error"], done["cause"]) == ("ABORTED", "Halt", "enough")
    assert types(sfn, run)[-1] == "ExecutionAborted"
    with pytest.raises(ClientError) as taken:
        sfn.start_execution(stateMachineArn=arn, name="to-stop")
    assert taken.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


def test_starting_the_same_name_and_input_twice_is_one_execution(sfn: Any, role: str) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn = machine(sfn, definition, role)
    first = sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 1}')
    second = sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 1}')
    assert first["executionArn"] == second["executionArn"]
    with pytest.raises(ClientError) as other:
        sfn.start_execution(stateMachineArn=arn, name="once", input='{"a": 2}')
    assert other.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    sfn.stop_execution(executionArn=first["executionArn"])


def test_bad_input_gets_aws_error_codes(sfn: Any, role: str) -> None:
    def code(call: Callable[[], Any]) -> tuple[str, str]:
        with pytest.raises(ClientError) as e:
            call()
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    missing_next = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    c, message = code(
        lambda: sfn.create_state_machine(name="bad-def", definition=json.dumps(missing_next), roleArn=role)
    )
    assert c == "InvalidDefinition"
    assert message.startswith("Invalid State Machine Definition: '") and "Nowhere" in message
    c, _ = code(lambda: sfn.create_state_machine(name="bad-json", definition="{not json", roleArn=role))
    assert c == "InvalidDefinition"
    good = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    assert (
        code(lambda: sfn.create_state_machine(name="bad name", definition=json.dumps(good), roleArn=role))[0]
        == "InvalidName"
    )
    assert (
        code(lambda: sfn.create_state_machine(name="badrole", definition=json.dumps(good), roleArn="nope"))[0]
        == "InvalidArn"
    )
    arn = machine(sfn, good, role)
    name = arn.rpartition(":")[2]
    assert (
        sfn.create_state_machine(name=name, definition=json.dumps(good), roleArn=role)["stateMachineArn"]
        == arn
    )
    other = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}
    taken = code(lambda: sfn.create_state_machine(name=name, definition=json.dumps(other), roleArn=role))
    assert taken[0] == "StateMachineAlreadyExists"
    gone = arn + "-gone"
    assert code(lambda: sfn.describe_state_machine(stateMachineArn=gone))[0] == "StateMachineDoesNotExist"
    assert code(lambda: sfn.start_execution(stateMachineArn=gone))[0] == "StateMachineDoesNotExist"
    assert code(lambda: sfn.describe_state_machine(stateMachineArn="arn:nope"))[0] == "InvalidArn"
    assert code(lambda: sfn.start_execution(stateMachineArn=arn, input="{oops"))[0] == "InvalidExecutionInput"
    missing = arn.replace(":stateMachine:", ":execution:") + ":nobody"
    assert code(lambda: sfn.describe_execution(executionArn=missing))[0] == "ExecutionDoesNotExist"
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "a"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "a"}]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_start_sync_execution_of_an_express_machine(server: Server, role: str, double: str) -> None:
    # botocore sends StartSyncExecution to the "sync-" host prefix; against an IP endpoint the
    # prefix is turned off in the client's config, as an SDK user does for a local endpoint.
    sync = server.client("stepfunctions", inject_host_prefix=False)
    definition = {
        "StartAt": "Double",
        "States": {
            "Double": {"Type": "Task", "Resource": double, "Next": "Done"},
            "Done": {"Type": "Pass", "Parameters": {"doubled.$": "$.n"}, "End": True},
        },
    }
    arn = machine(sync, definition, role, type="EXPRESS")
    out = sync.start_sync_execution(stateMachineArn=arn, input='{"n": 5}')
    assert out["status"] == "SUCCEEDED"
    assert json.loads(out["output"]) == {"doubled": 10}
    assert ":express:" in out["executionArn"]
    failing = machine(
        sync,
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "c"}}},
        role,
        type="EXPRESS",
    )
    out = sync.start_sync_execution(stateMachineArn=failing)
    assert (out["status"], out["error"], out["cause"]) == ("FAILED", "Nope", "c")
    standard = machine(sync, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, role)
    with pytest.raises(ClientError) as e:
        sync.start_sync_execution(stateMachineArn=standard)
    assert e.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"


def test_a_role_without_lambda_invoke_fails_the_task(server: Server, sfn: Any, double: str) -> None:
    weak = states_role(server, "sfn-weak-role", policy=None)
    arn = machine(
        sfn, {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": double, "End": True}}}, weak
    )
    run = sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    done = finished(sfn, run)
    assert done["status"] == "FAILED"
    assert done["error"] == "Lambda.AWSLambdaException"
    assert "is not authorized to perform: lambda:InvokeFunction" in done["cause"]
    assert "AccessDeniedException" in done["cause"]


def test_an_iam_user_without_start_execution_is_refused(server: Server, sfn: Any, role: str) -> None:
    arn = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, role)
    iam = server.client("iam")
    user = f"sfn-reader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "states:Describe*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    import boto3
    from botocore.config import Config

    reader = boto3.client(
        "stepfunctions",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )
    assert reader.describe_state_machine(stateMachineArn=arn)["name"] == arn.rpartition(":")[2]
    with pytest.raises(ClientError) as refused:
        reader.start_execution(stateMachineArn=arn)
    assert refused.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied")
    assert "states:StartExecution" in refused.value.response["Error"]["Message"]
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_the_cli_runs_describes_and_shows_a_timeline(
    server: Server, sfn: Any, role: str, double: str
) -> None:
    arn = machine(
        sfn, {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": double, "End": True}}}, role
    )
    ran = server.cli("sfn", "run", arn.rpartition(":")[2], "--input", '{"n": 3}')
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"n": 6}
    execution = sfn.list_executions(stateMachineArn=arn)["executions"][0]["executionArn"]
    described = server.cli("sfn", "describe", execution)
    assert json.loads(described.stdout)["status"] == "SUCCEEDED"
    timeline = server.cli("sfn", "history", execution).stdout.splitlines()
    assert [line.split()[2] for line in timeline] == types(sfn, execution)
    bad = server.cli("sfn", "run", arn.rpartition(":")[2], "--input", "{nope")
    assert bad.returncode != 0 and "not valid JSON" in bad.stderr
