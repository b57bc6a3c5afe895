"""Step Functions and EventBridge together, on the real server through boto3 (issue 19): an
execution's status changes reach a rule's function on the default bus as AWS's "Step Functions
Execution Status Change" events; a rule's Step Functions target starts an execution whose
input is the event, as its role (which must allow states:StartExecution: a role that does not
sends the event to the target's dead-letter queue)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Server, create
from tests.e2e.service_policies import queue_arn, service_policy
from tests.e2e.stepfunctions_helpers import (
    allowing,
    finished,
    iam_role,
    machine,
    states_role,
    succeeded,
    wait_for,
)
from tests.e2e.test_async import Collector, collector  # noqa: F401  (fixture)
from tests.e2e.test_schedules import allow

EVENTS = "events.amazonaws.com"
EVENTS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": EVENTS}, "Action": "sts:AssumeRole"}],
    }
)

# Posts every event it gets to the collector under "<execution name>:<status>".
APP = """
import json, os, urllib.request

def handler(event, context):
    detail = event.get("detail") or {}
    ident = f"{detail.get('name')}:{detail.get('status')}"
    body = json.dumps({"id": ident, "event": event}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["COLLECTOR"], data=body), timeout=5).read()
    return "ok"
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def events_role(server: Server, name: str, actions: list[str]) -> str:
    return iam_role(server, name, EVENTS_TRUST, "targets", allowing(*actions))


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return server.client("stepfunctions")


@pytest.fixture(scope="module")
def role(server: Server) -> str:
    return states_role(server, "sfn-events-role")


def test_a_succeeded_execution_reaches_a_rules_function_on_the_default_bus(
    server: Server,
    sfn: Any,
    role: str,
    collector: Collector,  # noqa: F811
) -> None:
    events, lam = server.client("events"), server.client("lambda")
    arn = machine(
        sfn,
        {
            "StartAt": "Branch",
            "States": {
                "Branch": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "No"}],
                    "Default": "Yes",
                },
                "Yes": {"Type": "Pass", "Result": {"done": True}, "End": True},
                "No": {"Type": "Fail", "Error": "Refused", "Cause": "asked to"},
            },
        },
        role,
    )
    rule = unique("sfn-succeeded")
    pattern = {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["SUCCEEDED"], "stateMachineArn": [arn]},
    }
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
    name = unique("sfn-watch")
    fn = create(lam, name, {"app.py": APP}, Environment={"Variables": {"COLLECTOR": collector.url}})
    allow(lam, name, rule_arn)
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": fn["FunctionArn"]}])

    failing = sfn.start_execution(stateMachineArn=arn, name=unique("bad"), input='{"fail": true}')
    assert finished(sfn, failing["executionArn"])["status"] == "FAILED"
    good_name = unique("good")
    good = sfn.start_execution(stateMachineArn=arn, name=good_name, input='{"fail": false}')
    done = succeeded(sfn, good["executionArn"])

    seen = collector.wait_for({f"{good_name}:SUCCEEDED"})
    assert f"{good_name}:SUCCEEDED" in seen
    [event] = [item["event"] for item in list(collector.seen) if item["id"] == f"{good_name}:SUCCEEDED"]
    assert (event["source"], event["detail-type"]) == ("aws.states", "Step Functions Execution Status Change")
    assert (event["account"], event["region"]) == ("000000000000", "us-east-1")
    assert event["resources"] == [good["executionArn"]]
    detail = event["detail"]
    assert detail["executionArn"] == good["executionArn"]
    assert detail["stateMachineArn"] == arn
    assert detail["name"] == good_name
    assert detail["status"] == "SUCCEEDED"
    assert detail["startDate"] == int(done["startDate"].timestamp() * 1000)
    assert detail["stopDate"] == int(done["stopDate"].timestamp() * 1000)
    assert json.loads(detail["input"]) == {"fail": False}
    assert json.loads(detail["output"]) == {"done": True}
    # The pattern let through neither the RUNNING changes nor the FAILED execution.
    assert {item["id"].rpartition(":")[2] for item in list(collector.seen)} == {"SUCCEEDED"}


def test_a_step_functions_target_starts_an_execution_with_the_event_as_input(
    server: Server, sfn: Any, role: str
) -> None:
    events = server.client("events")
    arn = machine(
        sfn,
        {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "InputPath": "$.detail", "End": True}}},
        role,
    )
    starter = events_role(server, "events-start-sfn", ["states:StartExecution"])
    rule = unique("to-sfn")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["com.orders"]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "sm", "Arn": arn, "RoleArn": starter}])
    put = events.put_events(
        Entries=[{"Source": "com.orders", "DetailType": "Order Placed", "Detail": json.dumps({"order": 7})}]
    )
    assert put["FailedEntryCount"] == 0

    def started() -> list[dict[str, Any]]:
        return list(sfn.list_executions(stateMachineArn=arn)["executions"])

    [execution] = wait_for(started)
    done = succeeded(sfn, execution["executionArn"])
    event = json.loads(done["input"])
    assert event["id"] == put["Entries"][0]["EventId"]
    assert (event["source"], event["detail-type"]) == ("com.orders", "Order Placed")
    assert event["detail"] == {"order": 7}
    assert json.loads(done["output"]) == {"order": 7}


def test_a_target_role_without_start_execution_sends_the_event_to_the_dlq(
    server: Server, sfn: Any, role: str
) -> None:
    events, sqs = server.client("events"), server.client("sqs")
    arn = machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, role)
    weak = events_role(server, "events-no-sfn", ["sqs:SendMessage"])
    rule = unique("to-sfn-refused")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["com.refused"]}))["RuleArn"]
    dlq_url = sqs.create_queue(QueueName=unique("sfn-dlq"))["QueueUrl"]
    dlq = queue_arn(sqs, dlq_url)
    sqs.set_queue_attributes(
        QueueUrl=dlq_url, Attributes={"Policy": service_policy(dlq, "sqs:SendMessage", (EVENTS, rule_arn))}
    )
    events.put_targets(
        Rule=rule, Targets=[{"Id": "sm", "Arn": arn, "RoleArn": weak, "DeadLetterConfig": {"Arn": dlq}}]
    )
    put = events.put_events(Entries=[{"Source": "com.refused", "DetailType": "X", "Detail": "{}"}])
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
    assert len(got) == 1
    attributes = {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}
    assert attributes["TARGET_ARN"] == arn
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert "states:StartExecution" in attributes["ERROR_MESSAGE"]
    assert json.loads(got[0]["Body"])["id"] == put["Entries"][0]["EventId"]
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
