"""Scheduled rules (EventBridge's API on the one endpoint) with Lambda targets."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create
from tests.e2e.test_async import Collector, collector, queue_depth  # noqa: F401  (fixture)

APP = """
import json, os, urllib.request

def handler(event, context):
    body = json.dumps({"id": "fired", "event": event}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["COLLECTOR"], data=body), timeout=5).read()
    return "ok"
"""


def allow(lam: Any, function: str, rule_arn: str) -> None:
    """The statement that lets a rule invoke a function, as on AWS (Terraform's
    aws_lambda_permission, SAM's Events: Schedule)."""
    lam.add_permission(
        FunctionName=function,
        StatementId=f"rule-{rule_arn.rpartition('/')[2]}",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )


def fired(c: Collector) -> list[dict[str, Any]]:
    return [item["event"] for item in list(c.seen) if item["id"] == "fired"]


def wait_fired(c: Collector, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while len(fired(c)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return fired(c)


def test_rule_api(server: Server, lam: Any, fn_name: str) -> None:
    events = server.client("events")
    arn = create(
        lam, fn_name, {"app.py": APP}, Environment={"Variables": {"COLLECTOR": "http://127.0.0.1:9/"}}
    )["FunctionArn"]
    rule = f"r-{fn_name}"
    rule_arn = events.put_rule(Name=rule, ScheduleExpression="cron(0 12 * * ? *)", State="DISABLED")[
        "RuleArn"
    ]
    assert rule_arn == f"arn:aws:events:us-east-1:000000000000:rule/{rule}"
    described = events.describe_rule(Name=rule)
    assert (described["ScheduleExpression"], described["State"]) == ("cron(0 12 * * ? *)", "DISABLED")
    assert any(r["Name"] == rule for r in events.list_rules(NamePrefix="r-")["Rules"])
    assert (
        events.put_targets(Rule=rule, Targets=[{"Id": "t1", "Arn": arn, "Input": '{"a": 1}'}])[
            "FailedEntryCount"
        ]
        == 0
    )
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == [
        {"Id": "t1", "Arn": arn, "Input": '{"a": 1}'}
    ]
    events.enable_rule(Name=rule)
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    with pytest.raises(ClientError) as err:
        events.delete_rule(Name=rule)
    assert err.value.response["Error"]["Code"] == "ValidationException"  # it still has targets
    events.remove_targets(Rule=rule, Ids=["t1"])
    events.delete_rule(Name=rule)
    with pytest.raises(ClientError) as err:
        events.describe_rule(Name=rule)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(5 weeks)",
        "every 5 minutes",
        "cron(0 12 * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(0 12 * *)",
        "cron(61 12 * * ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 1W ? * *)",
    ],
)
def test_malformed_schedules_are_refused(server: Server, expression: str) -> None:
    events = server.client("events")
    with pytest.raises(ClientError) as err:
        events.put_rule(Name="bad-schedule", ScheduleExpression=expression)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_a_target_that_does_not_exist_is_refused(server: Server) -> None:
    events = server.client("events")
    events.put_rule(Name="no-target", ScheduleExpression="rate(1 hour)")
    with pytest.raises(ClientError) as err:
        events.put_targets(
            Rule="no-target",
            Targets=[{"Id": "x", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:does-not-exist"}],
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert events.list_targets_by_rule(Rule="no-target")["Targets"] == []
    events.delete_rule(Name="no-target")


def test_rate_schedule_fires_the_scheduled_event(
    fresh_server: Any,
    fn_name: str,
    collector: Collector,  # noqa: F811
) -> None:
    srv = fresh_server(STRATUS_SCHEDULE_SPEEDUP="60")  # rate(1 minute) fires every second
    lam, events = srv.client(), srv.client("events")
    arn = create(lam, fn_name, {"app.py": APP}, Environment={"Variables": {"COLLECTOR": collector.url}})[
        "FunctionArn"
    ]
    rule_arn = events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")["RuleArn"]
    allow(lam, fn_name, rule_arn)
    events.put_targets(Rule="tick", Targets=[{"Id": "fn", "Arn": arn}])
    seen = wait_fired(collector, 2)
    assert len(seen) >= 2, seen
    event = seen[0]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [rule_arn] and event["detail"] == {}
    assert event["account"] == "000000000000" and event["time"].endswith("Z")
    events.disable_rule(Name="tick")
    time.sleep(0.5)
    count = len(fired(collector))
    time.sleep(2.5)
    assert len(fired(collector)) == count  # disabled: no more firings


def test_missed_runs_fire_once_after_a_restart(
    fresh_server: Any,
    fn_name: str,
    collector: Collector,  # noqa: F811
) -> None:
    srv = fresh_server(STRATUS_SCHEDULE_SPEEDUP="30")  # rate(1 minute) every 2 s
    lam, events = srv.client(), srv.client("events")
    arn = create(lam, fn_name, {"app.py": APP}, Environment={"Variables": {"COLLECTOR": collector.url}})[
        "FunctionArn"
    ]
    allow(lam, fn_name, events.put_rule(Name="daily", ScheduleExpression="rate(1 minute)")["RuleArn"])
    events.put_targets(
        Rule="daily", Targets=[{"Id": "fn", "Arn": arn, "Input": json.dumps({"custom": True})}]
    )
    first = wait_fired(collector, 1)
    assert first and first[0] == {"custom": True}  # a target's Input replaces the event
    # Stop only once that run is settled: an event still leased at a stop runs again after the
    # restart (at least once), which would count as a second catch-up below.
    deadline = time.monotonic() + 20
    while queue_depth(srv) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.stop() == 0
    before = len(fired(collector))
    time.sleep(7)  # three runs are missed while the server is down
    again = Server(data_dir=srv.data_dir, extra_env={"STRATUS_SCHEDULE_SPEEDUP": "30"}).start()
    try:
        time.sleep(1.2)  # the catch-up runs at once; the next regular run is 2 s later
        assert len(fired(collector)) - before == 1, fired(collector)
    finally:
        again.stop()


def test_schedule_cli(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": APP}, Environment={"Variables": {"COLLECTOR": "http://127.0.0.1:9/"}})
    rule = f"cli-{fn_name}"
    added = server.cli("schedule", "add", rule, "cron(0 6 ? * MON *)", "--function", fn_name, "--input", "{}")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().endswith(f":rule/{rule}")
    # It let the rule invoke the function, as the console does (Lambda requires it).
    statements = json.loads(lam.get_policy(FunctionName=fn_name)["Policy"])["Statement"]
    assert any(
        st["Principal"] == {"Service": "events.amazonaws.com"}
        and st["Condition"]["ArnLike"]["AWS:SourceArn"] == added.stdout.strip()
        for st in statements
    ), statements
    listed = server.cli("schedule", "ls")
    assert listed.returncode == 0 and rule in listed.stdout
    bad = server.cli("schedule", "add", "x", "rate(often)", "--function", fn_name)
    assert bad.returncode != 0 and "ValidationException" in bad.stderr and "Traceback" not in bad.stderr
    removed = server.cli("schedule", "rm", rule)
    assert removed.returncode == 0, removed.stderr
    assert rule not in server.cli("schedule", "ls").stdout


def test_rule_tags_and_rules_by_target(server: Server, lam: Any, fn_name: str) -> None:
    """What Terraform's aws_cloudwatch_event_rule reads after creating a rule (its tags), and
    ListRuleNamesByTarget: tags round-trip, and an unknown rule's ARN
    is ResourceNotFoundException."""
    events = server.client("events")
    arn = create(lam, fn_name, {"app.py": APP})["FunctionArn"]
    rule = f"t-{fn_name}"
    rule_arn = events.put_rule(
        Name=rule, ScheduleExpression="rate(1 day)", Tags=[{"Key": "team", "Value": "a"}]
    )["RuleArn"]
    events.tag_resource(
        ResourceARN=rule_arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}]
    )
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [
        {"Key": "env", "Value": "dev"},
        {"Key": "team", "Value": "b"},
    ]
    events.untag_resource(ResourceARN=rule_arn, TagKeys=["env"])
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [{"Key": "team", "Value": "b"}]
    with pytest.raises(ClientError) as missing:
        events.list_tags_for_resource(ResourceARN=rule_arn + "-gone")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"

    assert rule not in events.list_rule_names_by_target(TargetArn=arn)["RuleNames"]
    events.put_targets(Rule=rule, Targets=[{"Id": "1", "Arn": arn}])
    assert rule in events.list_rule_names_by_target(TargetArn=arn)["RuleNames"]
    events.remove_targets(Rule=rule, Ids=["1"])
    events.delete_rule(Name=rule)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(30 6 ? * 6L 2030-2035)",
        "cron(0 0,12 1,15 JAN,JUL ? *)",
        "cron(0 8 ? * WED#2 *)",
        "cron(0 9 15W * ? *)",
    ],
)
def test_eventbridge_cron_syntax_is_accepted(server: Server, expression: str) -> None:
    """EventBridge's own cron: L, W and # and month and day names (which hold L and W)."""
    events = server.client("events")
    name = f"c-{abs(hash(expression)) % 10**8}"
    events.put_rule(Name=name, ScheduleExpression=expression, State="DISABLED")
    assert events.describe_rule(Name=name)["ScheduleExpression"] == expression
    events.delete_rule(Name=name)
