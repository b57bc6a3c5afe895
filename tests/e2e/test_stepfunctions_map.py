"""Inline Map concurrency against the real server (issue 19): a Map with no MaxConcurrency runs
at most 40 iterations at once, as AWS's Inline mode does, so a Map of more items than the
account's concurrency succeeds instead of failing on throttled invocations; a throttled task
fails with Lambda.TooManyRequestsException, the name a Retry matches.

The function counts itself in flight in a DynamoDB item (an atomic ADD before and after its
work) and keeps the highest count it saw (a conditional SET): the test reads that count, not
a timing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Server, create
from tests.e2e.stepfunctions_helpers import (
    all_types,
    counter_role,
    finished,
    machine,
    states_role,
    succeeded,
    types,
)

# boto3 is imported by the handler, not at init: 40 environments start at once, and under a
# loaded machine importing it in each of them can outlast Lambda's 10 s init limit (which no
# function setting raises), while the handler runs under the function's own generous Timeout.
COUNTING = """
import os, time
TABLE = os.environ["TABLE"]
KEY = {"pk": {"S": "count"}}
ddb = None

def add(n):
    answer = ddb.update_item(
        TableName=TABLE, Key=KEY, UpdateExpression="ADD inflight :n",
        ExpressionAttributeValues={":n": {"N": str(n)}}, ReturnValues="UPDATED_NEW",
    )
    return int(answer["Attributes"]["inflight"]["N"])

def handler(event, context):
    global ddb
    if ddb is None:
        import boto3
        ddb = boto3.client("dynamodb")
    now = add(1)
    try:
        ddb.update_item(
            TableName=TABLE, Key=KEY, UpdateExpression="SET peak = :n",
            ConditionExpression="attribute_not_exists(peak) OR peak < :n",
            ExpressionAttributeValues={":n": {"N": str(now)}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        pass
    time.sleep(0.2)
    add(-1)
    return {"i": event["i"]}
"""


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return server.client("stepfunctions")


@pytest.fixture(scope="module")
def role(server: Server) -> str:
    return states_role(server, "sfn-map-role")


def map_of(function: str, **fields: Any) -> dict[str, Any]:
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "T",
                    "States": {
                        "T": {
                            "Type": "Task",
                            "Resource": function,
                            # An environment whose start outlasted the 10 s init limit on a
                            # loaded machine (its handler never ran, so the counts hold): again.
                            "Retry": [{"ErrorEquals": ["Sandbox.Timedout"], "IntervalSeconds": 1}],
                            "End": True,
                        }
                    },
                },
                "End": True,
                **fields,
            }
        },
    }


@pytest.fixture(scope="module")
def counting(server: Server) -> tuple[str, str]:
    """A function that counts itself in flight, and its table."""
    ddb = server.client("dynamodb")
    table = f"map-count-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    fn = create(
        server.client("lambda"),
        f"sfn-count-{uuid.uuid4().hex[:8]}",
        {"app.py": COUNTING},
        Role=counter_role(server),
        Timeout=900,  # Lambda's maximum: load slows the work, it must not fail it
        Environment={"Variables": {"TABLE": table}},
    )["FunctionArn"]
    return str(fn), table


def counts(server: Server, table: str) -> tuple[int, int]:
    """(in flight now, the most ever in flight at once) since the last reset."""
    ddb = server.client("dynamodb")
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "count"}}, ConsistentRead=True)["Item"]
    ddb.delete_item(TableName=table, Key={"pk": {"S": "count"}})
    return int(item["inflight"]["N"]), int(item["peak"]["N"])


def test_a_map_of_200_without_max_concurrency_runs_at_most_40_at_once(
    server: Server, sfn: Any, role: str, counting: tuple[str, str]
) -> None:
    fn, table = counting
    arn = machine(sfn, map_of(fn), role)
    items = [{"i": i} for i in range(200)]
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps(items))["executionArn"]
    done = succeeded(sfn, run, timeout=600)
    assert json.loads(done["output"]) == items
    inflight, peak = counts(server, table)
    assert inflight == 0
    # Never more than AWS's 40 at once, and more than one: iterations did run side by side.
    assert 1 < peak <= 40, peak
    assert all_types(sfn, run).count("MapIterationSucceeded") == 200


def test_max_concurrency_above_40_is_held_to_40(
    server: Server, sfn: Any, role: str, counting: tuple[str, str]
) -> None:
    fn, table = counting
    arn = machine(sfn, map_of(fn, MaxConcurrency=500), role)
    items = [{"i": i} for i in range(120)]
    run = sfn.start_execution(stateMachineArn=arn, input=json.dumps(items))["executionArn"]
    succeeded(sfn, run, timeout=600)
    inflight, peak = counts(server, table)
    assert inflight == 0 and 1 < peak <= 40, peak


def test_a_throttled_task_fails_with_lambda_too_many_requests_which_a_retry_matches(
    server: Server, sfn: Any, role: str
) -> None:
    lam = server.client("lambda")
    name = f"sfn-throttled-{uuid.uuid4().hex[:8]}"
    fn = create(lam, name, {"app.py": "def handler(event, context):\n    return event\n"})["FunctionArn"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)  # every invoke throttled
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": fn,
                "Retry": [
                    {
                        "ErrorEquals": ["Lambda.TooManyRequestsException"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 2,
                        "BackoffRate": 1,
                    }
                ],
                "End": True,
            }
        },
    }
    arn = machine(sfn, definition, role)
    run = sfn.start_execution(stateMachineArn=arn, input='{"a": 1}')["executionArn"]
    done = finished(sfn, run)
    assert (done["status"], done["error"]) == ("FAILED", "Lambda.TooManyRequestsException")
    assert "TooManyRequestsException" in done["cause"] and "Rate Exceeded." in done["cause"]
    kinds = types(sfn, run)
    assert kinds.count("LambdaFunctionFailed") == 3  # the first attempt and the retrier's two
