"""A task token is valid from the moment its task is scheduled (issue 19): a top-level
`lambda:invoke.waitForTaskToken` task whose real Python function calls SendTaskSuccess (or
SendTaskFailure) with its own token, through boto3 inside its sandbox and its role's
credentials, before it returns. The answer is taken (not TaskDoesNotExist), the execution goes
on with it once the function returns, and an error the function raises after answering does
not undo the answer. Before the fix the function's SendTaskSuccess was refused and the
execution waited on a token nobody would send again."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from stratus.identity.environments import LAMBDA_TRUST
from tests.e2e.conftest import Server, create
from tests.e2e.stepfunctions_helpers import (
    allowing,
    finished,
    iam_role,
    machine,
    states_role,
    succeeded,
    types,
)

ANSWER_ROLE = "sfn-self-answer"

# The function answers its own token, says in its log what the answer got (None: taken), tries
# a second answer (which must be refused: the token is spent), then returns or raises.
SELF_ANSWERING = """
import json, boto3, botocore.exceptions
sfn = boto3.client("stepfunctions")

def code_of(call):
    try:
        call()
        return None
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]

def handler(event, context):
    token = event["token"]
    if event["how"] == "fail":
        first = code_of(lambda: sfn.send_task_failure(taskToken=token, error="Refused", cause="by itself"))
    else:
        output = json.dumps({"from": "inside", "n": event["n"]})
        first = code_of(lambda: sfn.send_task_success(taskToken=token, output=output))
    second = code_of(lambda: sfn.send_task_success(taskToken=token, output="{}"))
    print(json.dumps({"first": first, "second": second}))
    if first is not None or second != "TaskDoesNotExist":
        raise RuntimeError(f"answers: first {first}, second {second}")
    if event["how"] == "raise":
        raise RuntimeError("failed after answering")
    return {"ignored": "a waitForTaskToken task's result is its answer"}
"""


def answering_role(server: Server) -> str:
    """A function role that may answer task tokens (and nothing else)."""
    policy = allowing("states:SendTaskSuccess", "states:SendTaskFailure")
    return iam_role(server, ANSWER_ROLE, LAMBDA_TRUST, "answer", policy)


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return server.client("stepfunctions")


@pytest.fixture(scope="module")
def self_answering_machine(server: Server, sfn: Any) -> str:
    fn = create(
        server.client("lambda"),
        f"sfn-self-answer-{uuid.uuid4().hex[:8]}",
        {"app.py": SELF_ANSWERING},
        Role=answering_role(server),
        Timeout=120,
    )["FunctionArn"]
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": fn,
                    "Payload": {"token.$": "$$.Task.Token", "how.$": "$.how", "n.$": "$.n"},
                },
                "ResultPath": "$.answer",
                "Next": "After",
            },
            "After": {"Type": "Pass", "Parameters": {"got.$": "$.answer", "n.$": "$.n"}, "End": True},
        },
    }
    return machine(sfn, definition, states_role(server, "sfn-self-answer-states"))


@pytest.mark.parametrize("how", ["return", "raise"])
def test_a_function_that_answers_its_own_token_goes_on_with_the_answer(
    sfn: Any, self_answering_machine: str, how: str
) -> None:
    run = sfn.start_execution(stateMachineArn=self_answering_machine, input=json.dumps({"how": how, "n": 3}))
    done = succeeded(sfn, run["executionArn"], timeout=180)
    assert json.loads(done["output"]) == {"got": {"from": "inside", "n": 3}, "n": 3}
    kinds = types(sfn, run["executionArn"])
    assert kinds.count("TaskSucceeded") == 1, kinds
    assert "TaskFailed" not in kinds  # the answer closed the task before the function's error
    assert kinds[-1] == "ExecutionSucceeded"


def test_a_function_that_fails_its_own_token_fails_the_execution(
    sfn: Any, self_answering_machine: str
) -> None:
    run = sfn.start_execution(
        stateMachineArn=self_answering_machine, input=json.dumps({"how": "fail", "n": 1})
    )
    done = finished(sfn, run["executionArn"], timeout=180)
    assert (done["status"], done.get("error"), done.get("cause")) == ("FAILED", "Refused", "by itself")
    kinds = types(sfn, run["executionArn"])
    assert kinds.count("TaskFailed") == 1 and "TaskSucceeded" not in kinds, kinds
