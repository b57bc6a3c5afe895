"""EventBridge beyond schedules, on the real server through boto3: custom buses, rules with
event patterns, PutEvents to functions, queues and dead-letter queues, input transformers,
regions, S3's EventBridge notifications and TestEventPattern."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY, Server, create, error_code
from tests.e2e.service_policies import queue_arn, service_policy
from tests.e2e.test_async import Collector, collector  # noqa: F401  (fixture)
from tests.e2e.test_schedules import allow

ACCOUNT = "000000000000"
EVENTS = "events.amazonaws.com"

# Posts every event it gets to the collector, under the id the event names.
APP = """
import json, os, urllib.request

def handler(event, context):
    ident = event.get("detail", {}).get("id") if isinstance(event.get("detail"), dict) else None
    body = json.dumps({"id": ident or event.get("order") or "other", "event": event}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["COLLECTOR"], data=body), timeout=5).read()
    return "ok"
"""

PATTERN = {
    "source": [{"prefix": "com.shop"}],
    "detail": {
        "amount": [{"numeric": [">", 10, "<=", 100]}],
        "status": [{"anything-but": ["test", "void"]}],
    },
    "$or": [{"detail-type": ["Order Placed"]}, {"detail": {"vip": [True]}}],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def entry(
    bus: str, ident: str, *, source: str = "com.shop.orders", kind: str = "Order Placed", **detail: Any
) -> dict[str, Any]:
    return {
        "EventBusName": bus,
        "Source": source,
        "DetailType": kind,
        "Detail": json.dumps({"id": ident, **detail}),
        "Resources": ["arn:aws:shop:::order/1"],
    }


def function_target(lam: Any, c: Collector, rule_arn: str) -> str:
    name = unique("evfn")
    arn = str(
        create(lam, name, {"app.py": APP}, Environment={"Variables": {"COLLECTOR": c.url}})["FunctionArn"]
    )
    allow(lam, name, rule_arn)
    return arn


def events_of(c: Collector, ident: str) -> list[dict[str, Any]]:
    return [item["event"] for item in list(c.seen) if item["id"] == ident]


def test_a_patterned_rule_on_a_custom_bus_delivers_matching_events_as_aws_shapes_them(
    server: Server,
    lam: Any,
    collector: Collector,  # noqa: F811
) -> None:
    events = server.client("events")
    bus = unique("orders")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    assert bus_arn == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{bus}"
    rule_arn = events.put_rule(Name="big-orders", EventBusName=bus, EventPattern=json.dumps(PATTERN))[
        "RuleArn"
    ]
    assert rule_arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{bus}/big-orders"
    fn_arn = function_target(lam, collector, rule_arn)
    events.put_targets(Rule="big-orders", EventBusName=bus, Targets=[{"Id": "fn", "Arn": fn_arn}])
    assert events.describe_rule(Name="big-orders", EventBusName=bus)["EventPattern"] == json.dumps(PATTERN)

    misses = [
        entry(bus, "cheap", amount=5, status="new"),  # numeric range
        entry(bus, "test", amount=50, status="test"),  # anything-but
        entry(bus, "elsewhere", source="org.other", amount=50, status="new"),  # prefix
        entry(bus, "neither", kind="Order Shipped", amount=50, status="new"),  # $or: neither branch
    ]
    answer = events.put_events(Entries=misses)
    assert answer["FailedEntryCount"] == 0
    hit = events.put_events(Entries=[entry(bus, "hit", amount=100, status="new")])
    vip = events.put_events(
        Entries=[entry(bus, "vip", kind="Order Shipped", amount=11, status="new", vip=True)]
    )
    seen = collector.wait_for({"hit", "vip"})
    assert {"hit", "vip"} <= set(seen)
    [event] = events_of(collector, "hit")
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["id"] == hit["Entries"][0]["EventId"]
    assert (event["version"], event["detail-type"], event["source"]) == (
        "0",
        "Order Placed",
        "com.shop.orders",
    )
    assert (event["account"], event["region"]) == (ACCOUNT, "us-east-1")
    assert event["resources"] == ["arn:aws:shop:::order/1"]
    assert event["detail"] == {"id": "hit", "amount": 100, "status": "new"}
    assert time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert events_of(collector, "vip")[0]["id"] == vip["Entries"][0]["EventId"]
    # The misses were put before the hits, each delivery made before PutEvents answered.
    assert not set(seen) & {"cheap", "test", "elsewhere", "neither"}


def test_an_input_transformer_output_reaches_the_function_exactly(
    server: Server,
    lam: Any,
    collector: Collector,  # noqa: F811
) -> None:
    events = server.client("events")
    rule = unique("transform")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["com.transform"]}))["RuleArn"]
    fn_arn = function_target(lam, collector, rule_arn)
    template = (
        '{"order": <id>, "text": "order <id> costs <amount> for <who>", "amount": <amount>, '
        '"missing": <nothing>, "rule": "<aws.events.rule-name>", "tags": <tags>}'
    )
    transformer = {
        "InputPathsMap": {
            "id": "$.detail.id",
            "amount": "$.detail.amount",
            "who": "$.detail.customer.name",
            "nothing": "$.detail.absent",
            "tags": "$.detail.tags",
        },
        "InputTemplate": template,
    }
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": fn_arn, "InputTransformer": transformer}])
    assert events.list_targets_by_rule(Rule=rule)["Targets"][0]["InputTransformer"] == transformer
    detail = {"id": "t-1", "amount": 42.5, "customer": {"name": 'Ann "A"'}, "tags": ["x", "y"]}
    events.put_events(Entries=[{"Source": "com.transform", "DetailType": "T", "Detail": json.dumps(detail)}])
    collector.wait_for({"t-1"})
    [got] = events_of(collector, "t-1")
    assert got == {
        "order": "t-1",
        "text": 'order t-1 costs 42.5 for Ann "A"',
        "amount": 42.5,
        "missing": None,
        "rule": rule,
        "tags": ["x", "y"],
    }


def test_a_queue_target_receives_the_event(server: Server) -> None:
    events, sqs = server.client("events"), server.client("sqs")
    rule = unique("to-queue")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"detail-type": ["Queued"]}))["RuleArn"]
    url = sqs.create_queue(QueueName=unique("evq"))["QueueUrl"]
    arn = queue_arn(sqs, url)
    policy = service_policy(arn, "sqs:SendMessage", (EVENTS, rule_arn))
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    put = events.put_events(Entries=[{"Source": "com.q", "DetailType": "Queued", "Detail": '{"n": 1}'}])
    # The message is in the queue once PutEvents has answered.
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    body = json.loads(messages[0]["Body"])
    assert body["id"] == put["Entries"][0]["EventId"]
    assert (body["detail-type"], body["detail"]) == ("Queued", {"n": 1})


def test_failed_deliveries_land_in_the_dead_letter_queue_with_awss_attributes(
    server: Server,
    lam: Any,
    collector: Collector,  # noqa: F811
) -> None:
    """A target that no longer exists (NO_RESOURCE) and a queue whose policy refuses
    EventBridge (NO_PERMISSIONS) are not retried, as EventBridge does not retry them: the event
    goes to the target's dead-letter queue at once, with the attributes AWS sets."""
    events, sqs = server.client("events"), server.client("sqs")
    rule = unique("failing")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["com.fail"]}))["RuleArn"]
    dlq_url = sqs.create_queue(QueueName=unique("evdlq"))["QueueUrl"]
    dlq = queue_arn(sqs, dlq_url)
    sqs.set_queue_attributes(
        QueueUrl=dlq_url, Attributes={"Policy": service_policy(dlq, "sqs:SendMessage", (EVENTS, rule_arn))}
    )
    closed = queue_arn(sqs, sqs.create_queue(QueueName=unique("closed"))["QueueUrl"])  # no policy
    fn_arn = function_target(lam, collector, rule_arn)
    policy = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60}
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "fn", "Arn": fn_arn, "RetryPolicy": policy, "DeadLetterConfig": {"Arn": dlq}},
            {"Id": "q", "Arn": closed, "DeadLetterConfig": {"Arn": dlq}},
        ],
    )
    lam.delete_function(FunctionName=fn_arn)
    put = events.put_events(Entries=[{"Source": "com.fail", "DetailType": "F", "Detail": '{"id": "gone"}'}])
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < deadline:
        got += sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
    by_target = {m["MessageAttributes"]["TARGET_ARN"]["StringValue"]: m for m in got}
    assert set(by_target) == {fn_arn, closed}
    for target, code in ((fn_arn, "NO_RESOURCE"), (closed, "NO_PERMISSIONS")):
        message = by_target[target]
        attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
        assert attributes["RULE_ARN"] == rule_arn
        assert attributes["ERROR_CODE"] == code
        assert attributes["ERROR_MESSAGE"]
        assert attributes["RETRY_ATTEMPTS"] == "0"
        assert "EXHAUSTED_RETRY_CONDITION" not in attributes
        assert json.loads(message["Body"])["id"] == put["Entries"][0]["EventId"]


def test_put_events_limits_and_per_entry_errors(server: Server) -> None:
    events = server.client("events")
    good = {"Source": "com.limits", "DetailType": "D", "Detail": "{}"}
    with pytest.raises(ClientError) as err:
        events.put_events(Entries=[good] * 11)
    assert error_code(err) == "ValidationException"
    big = {**good, "Detail": json.dumps({"x": "a" * (256 * 1024)})}
    with pytest.raises(ClientError) as err:
        events.put_events(Entries=[big])
    assert error_code(err) == "ValidationException"
    # Exactly 256 KB as EventBridge counts it (Source + DetailType + Detail + resources) is allowed.
    room = 256 * 1024 - len("com.limits") - len("D") - len('{"x":""}')
    assert (
        events.put_events(Entries=[{**good, "Detail": '{"x":"' + "a" * room + '"}'}])["FailedEntryCount"] == 0
    )
    answer = events.put_events(
        Entries=[
            good,
            {"Source": "com.limits", "DetailType": "D"},
            {**good, "Detail": "{not json"},
            {**good, "Detail": "[1, 2]"},
            {**good, "Source": "aws.s3"},
            {**good, "EventBusName": "no-such-bus"},
            {**good, "EventBusName": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"},
        ]
    )
    results = answer["Entries"]
    assert answer["FailedEntryCount"] == 5
    assert "EventId" in results[0] and "EventId" in results[6]
    assert [r.get("ErrorCode") for r in results[1:6]] == [
        "InvalidArgument",
        "MalformedDetail",
        "MalformedDetail",
        "NotAuthorizedForSourceException",
        "ResourceNotFoundException",
    ]
    assert (
        results[1]["ErrorMessage"] == "Parameter Detail is not valid. Reason: Detail is a required argument."
    )


def test_bus_api_and_regions_keep_buses_and_rules_apart(server: Server) -> None:
    east = server.client("events")
    west = boto3.client(
        "events",
        endpoint_url=server.endpoint,
        region_name="us-west-2",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    name = unique("regional")
    west.create_event_bus(Name=name, Description="west only", Tags=[{"Key": "team", "Value": "a"}])
    with pytest.raises(ClientError) as err:
        east.describe_event_bus(Name=name)
    assert error_code(err) == "ResourceNotFoundException"
    described = west.describe_event_bus(Name=name)
    assert described["Arn"] == f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/{name}"
    assert described["Description"] == "west only"
    with pytest.raises(ClientError) as err:
        west.create_event_bus(Name=name)
    assert error_code(err) == "ResourceAlreadyExistsException"
    assert west.list_tags_for_resource(ResourceARN=described["Arn"])["Tags"] == [
        {"Key": "team", "Value": "a"}
    ]
    east_names = {b["Name"] for b in east.list_event_buses()["EventBuses"]}
    assert "default" in east_names and name not in east_names
    west.create_event_bus(Name=f"{name}-2")
    first = west.list_event_buses(NamePrefix=name, Limit=1)
    second = west.list_event_buses(NamePrefix=name, Limit=1, NextToken=first["NextToken"])
    assert [b["Name"] for b in first["EventBuses"] + second["EventBuses"]] == [name, f"{name}-2"]
    # One rule name in two regions: two rules.
    rule = unique("same-name")
    pattern = json.dumps({"source": ["x"]})
    a = east.put_rule(Name=rule, EventPattern=pattern)["RuleArn"]
    b = west.put_rule(Name=rule, EventPattern=pattern, State="DISABLED")["RuleArn"]
    assert a.split(":")[3] == "us-east-1" and b.split(":")[3] == "us-west-2"
    assert east.describe_rule(Name=rule)["State"] == "ENABLED"
    assert west.describe_rule(Name=rule)["State"] == "DISABLED"
    # A bus with rules is not deleted (its rules are not deleted silently); the default never.
    west.put_rule(Name="on-bus", EventBusName=name, EventPattern=pattern)
    with pytest.raises(ClientError) as err:
        west.delete_event_bus(Name=name)
    assert error_code(err) == "ValidationException"
    west.delete_rule(Name="on-bus", EventBusName=name)
    west.delete_event_bus(Name=name)
    with pytest.raises(ClientError) as err:
        west.describe_event_bus(Name=name)
    assert error_code(err) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        west.delete_event_bus(Name="default")
    assert error_code(err) == "ValidationException"
    # Schedules only on the default bus; a rule needs a pattern or a schedule; patterns are checked.
    with pytest.raises(ClientError) as err:
        west.put_rule(Name="sched", EventBusName=f"{name}-2", ScheduleExpression="rate(1 hour)")
    assert error_code(err) == "ValidationException"
    with pytest.raises(ClientError) as err:
        east.put_rule(Name="bad", EventPattern=json.dumps({"detail": {"n": [{"numeric": ["<>", 1]}]}}))
    assert error_code(err) == "InvalidEventPatternException"
    assert "numeric" in err.value.response["Error"]["Message"]


def test_s3_eventbridge_notifications_reach_a_rules_function(
    server: Server,
    lam: Any,
    collector: Collector,  # noqa: F811
) -> None:
    events, s3 = server.client("events"), server.client("s3")
    bucket = unique("evbucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)
    rule = unique("s3-created")
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}},
    }
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
    fn_arn = function_target(lam, collector, rule_arn)
    events.put_targets(
        Rule=rule,
        Targets=[{"Id": "fn", "Arn": fn_arn, "InputTransformer": {
            "InputPathsMap": {"key": "$.detail.object.key"},
            "InputTemplate": '{"order": "s3", "event": <aws.events.event.json>, "key": <key>}',
        }}],
    )  # fmt: skip
    s3.put_object(Bucket=bucket, Key="photos/a.jpg", Body=b"12345")
    collector.wait_for({"s3"})
    [got] = events_of(collector, "s3")
    assert got["key"] == "photos/a.jpg"
    event = got["event"]
    assert (event["source"], event["detail-type"], event["region"]) == (
        "aws.s3",
        "Object Created",
        "us-east-1",
    )
    assert event["resources"] == [f"arn:aws:s3:::{bucket}"]
    detail = event["detail"]
    assert detail["bucket"] == {"name": bucket}
    assert (detail["object"]["key"], detail["object"]["size"]) == ("photos/a.jpg", 5)
    assert detail["reason"] == "PutObject" and detail["version"] == "0"


def test_test_event_pattern(server: Server) -> None:
    events = server.client("events")
    event = {
        "id": "1", "account": ACCOUNT, "source": "com.shop", "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1", "resources": [], "detail-type": "Order Placed",
        "detail": {"amount": 50, "email": "A@Example.com"},
    }  # fmt: skip
    yes = {"source": [{"prefix": "com."}], "detail": {"email": [{"equals-ignore-case": "a@example.com"}]}}
    no = {"detail": {"amount": [{"numeric": ["<", 10]}]}}
    assert events.test_event_pattern(EventPattern=json.dumps(yes), Event=json.dumps(event))["Result"] is True
    assert events.test_event_pattern(EventPattern=json.dumps(no), Event=json.dumps(event))["Result"] is False
    with pytest.raises(ClientError) as err:
        events.test_event_pattern(EventPattern='{"source": "not-an-array"}', Event=json.dumps(event))
    assert error_code(err) == "InvalidEventPatternException"
