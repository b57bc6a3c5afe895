"""What the Step Functions end-to-end tests share: roles, functions and state machines made for
a test, waiting until an execution ends (or until its history shows something), reading its
history and counting its events, and a function that counts its own invocations per item (what
ran again after a restart shows in its table, not in timings)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from stratus.identity.environments import LAMBDA_TRUST
from tests.e2e.conftest import Server, create

STATES_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
INVOKE_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}],
    }
)
ECHO = "def handler(event, context):\n    return event\n"


# -- roles, functions, state machines --------------------------------------------------------------


def iam_role(server: Server, name: str, trust: str, policy_name: str, policy: str | None) -> str:
    """The role `name` (made, or the one a module's earlier test made) with its inline policy."""
    iam = server.client("iam")
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    except ClientError:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=policy)
    return str(arn)


def allowing(*actions: str) -> str:
    """A policy that allows the actions on every resource."""
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def states_role(server: Server, name: str, policy: str | None = INVOKE_ALL) -> str:
    return iam_role(server, name, STATES_TRUST, "invoke", policy)


def function(server: Server, source: str, **kwargs: Any) -> str:
    name = f"sfn-{uuid.uuid4().hex[:10]}"
    return str(create(server.client("lambda"), name, {"app.py": source}, **kwargs)["FunctionArn"])


def machine(sfn: Any, definition: dict[str, Any], role: str, **kwargs: Any) -> str:
    name = f"sm-{uuid.uuid4().hex[:10]}"
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role, **kwargs)[
            "stateMachineArn"
        ]
    )


# -- waiting ---------------------------------------------------------------------------------------


def wait_for(check: Callable[[], Any], timeout: float = 60) -> Any:
    """What `check` returns once it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("condition not met")


def finished(sfn: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    """The execution described once it is no longer RUNNING."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.1)
    raise AssertionError(f"{arn} still running")


def succeeded(sfn: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    """`finished`, which must have SUCCEEDED (else the error and cause show)."""
    done = finished(sfn, arn, timeout)
    assert done["status"] == "SUCCEEDED", (done.get("error"), done.get("cause"))
    return done


# -- history ---------------------------------------------------------------------------------------


def events(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


def types(sfn: Any, arn: str) -> list[str]:
    return [e["type"] for e in events(sfn, arn)]


def all_types(sfn: Any, arn: str) -> list[str]:
    """Every event's type, through the history's pages."""
    kinds: list[str] = []
    page = sfn.get_execution_history(executionArn=arn, maxResults=1000)
    while True:
        kinds += [e["type"] for e in page["events"]]
        if not page.get("nextToken"):
            return kinds
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, nextToken=page["nextToken"])


def assert_counts(kinds: list[str], expected: Mapping[str, int]) -> None:
    """Each event type occurs in `kinds` as often as `expected` says."""
    for kind, count in expected.items():
        assert kinds.count(kind) == count, (kind, kinds)


def token_in(history: list[dict[str, Any]]) -> str | None:
    """The task token the first TaskScheduled passed its function, once the task has started."""
    scheduled = [e for e in history if e["type"] == "TaskScheduled"]
    if not scheduled or "TaskStarted" not in [e["type"] for e in history]:
        return None
    return str(json.loads(scheduled[0]["taskScheduledEventDetails"]["parameters"])["Payload"]["token"])


def task_token(sfn: Any, arn: str) -> str:
    """`token_in` the execution's history, once it is there."""
    return str(wait_for(lambda: token_in(events(sfn, arn))))


# -- counting invocations --------------------------------------------------------------------------

COUNTER_ROLE = "sfn-map-counter"
# Counts its own invocations per item in a DynamoDB item and answers with the count.
COUNT = """
import os, boto3
ddb = boto3.client("dynamodb")

def handler(event, context):
    answer = ddb.update_item(
        TableName=os.environ["TABLE"], Key={"pk": {"S": str(event["i"])}},
        UpdateExpression="ADD calls :one", ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return {"i": event["i"], "n": int(answer["Attributes"]["calls"]["N"])}
"""


def counter_role(server: Server) -> str:
    """A function role that may use DynamoDB (the counting functions' tables)."""
    return iam_role(server, COUNTER_ROLE, LAMBDA_TRUST, "ddb", allowing("dynamodb:*"))


def counter(server: Server) -> tuple[str, str]:
    """The function that counts its invocations per item (`COUNT`), and its table."""
    table = f"sfn-calls-{uuid.uuid4().hex[:8]}"
    server.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    fn = function(
        server, COUNT, Role=counter_role(server), Timeout=30, Environment={"Variables": {"TABLE": table}}
    )
    return fn, table


def calls(server: Server, table: str) -> dict[int, int]:
    """How often the counter ran, by item."""
    items = server.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {int(i["pk"]["S"]): int(i["calls"]["N"]) for i in items}
