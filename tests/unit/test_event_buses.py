"""EventBridge's pure parts and its delivery decisions: input transformation, PutEvents' entry
checks and sizes, retries and dead-lettering with a clock of the test's own, and the move of
rules stored before they were regional."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from stratus.errors import DiskFull, ValidationError
from stratus.events.delivery import Deliveries, Job, backoff, exhausted
from stratus.events.entries import Refused, check_entry, entry_size
from stratus.events.errors import InvalidEventPattern
from stratus.events.retries import RetryRows
from stratus.events.rules import Rule, Rules, Target, compile_rule_pattern, rule_arn
from stratus.events.transform import check_path, check_transformer, render, target_input
from stratus.store.sqlite import Store

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "e-1",
    "detail-type": "Order Placed",
    "source": "com.shop",
    "account": "123456789012",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["r"],
    "detail": {"id": "o-1", "n": 3, "who": {"name": 'A "B"'}, "items": [{"sku": "x"}, {"sku": "y"}]},
}


def transformed(paths: dict[str, str], template: str) -> str:
    return target_input(
        EVENT,
        input=None,
        input_path=None,
        paths=paths,
        template=template,
        rule_name="r1",
        rule_arn="arn:aws:events:us-east-1:123456789012:rule/r1",
        ingestion_time="2026-01-01T00:00:01Z",
    ).decode()


def test_json_templates_quote_values_outside_strings_and_escape_them_inside() -> None:
    out = transformed(
        {"id": "$.detail.id", "n": "$.detail.n", "who": "$.detail.who.name", "none": "$.detail.nope"},
        '{"id": <id>, "n": <n>, "line": "<id> x<n> by <who>", "none": <none>, '
        '"rule": "<aws.events.rule-name>"}',
    )
    assert json.loads(out) == {"id": "o-1", "n": 3, "line": 'o-1 x3 by A "B"', "none": None, "rule": "r1"}


def test_an_escaped_quote_does_not_end_a_string_of_a_json_template() -> None:
    # <who> stands inside the string: written escaped (a text template would break the JSON).
    out = transformed({"who": "$.detail.who.name", "n": "$.detail.n"}, '{"a": "5\\" <who>", "n": <n>}')
    assert json.loads(out) == {"a": '5" A "B"', "n": 3}


def test_string_and_text_templates() -> None:
    assert json.loads(transformed({"id": "$.detail.id"}, '"order <id> placed"')) == "order o-1 placed"
    assert transformed({"id": "$.detail.id"}, "order <id> placed") == "order o-1 placed"


def test_predefined_event_variables() -> None:
    out = json.loads(transformed({}, '{"e": <aws.events.event>, "full": <aws.events.event.json>}'))
    assert out["full"] == EVENT
    assert out["e"] == {k: v for k, v in EVENT.items() if k != "detail"}


def test_paths_with_indexes_and_wildcards_and_input_path() -> None:
    out = json.loads(
        transformed(
            {"first": "$.detail.items[0].sku", "all": "$.detail.items[*].sku"}, '{"a": <first>, "b": <all>}'
        )
    )
    assert out == {"a": "x", "b": ["x", "y"]}
    names = json.loads(transformed({"all": "$.detail.who.*"}, '{"b": <all>}'))
    assert names == {"b": ['A "B"']}
    selected = target_input(
        EVENT, input=None, input_path="$.detail.who", paths=None, template=None,
        rule_name="r", rule_arn="a", ingestion_time="t",
    )  # fmt: skip
    assert json.loads(selected) == {"name": 'A "B"'}


def test_bad_paths_and_reserved_variables_are_refused() -> None:
    for path in ("detail", "$..x", "$.a[", "$.a b"):
        with pytest.raises(ValidationError):
            check_path(path)
    with pytest.raises(ValidationError):
        check_transformer({"aws.events.rule-name": "$.x"}, "<x>")


def test_a_variable_that_is_not_defined_is_left_as_written() -> None:
    assert render("<unknown> <x>", {"x": "1"}) == "<unknown> 1"


def test_entry_checks_and_size() -> None:
    good = {"Source": "s", "DetailType": "d", "Detail": '{"a":1}'}
    assert check_entry(good) == {"a": 1}
    assert check_entry({**good, "Detail": "[]"}) == Refused("MalformedDetail", "Detail is malformed.")
    assert check_entry({**good, "Detail": "{"}) == Refused("MalformedDetail", "Detail is malformed.")
    assert isinstance(check_entry({**good, "Source": "aws.s3"}), Refused)
    assert check_entry({**good, "Source": "aws.s3"}, caller_is_service=True) == {"a": 1}
    missing = check_entry({"Source": "s", "Detail": "{}"})
    assert isinstance(missing, Refused) and missing.code == "InvalidArgument"
    assert entry_size({**good, "Time": object(), "Resources": ["ab", "é"]}) == 14 + 1 + 1 + 7 + 2 + 2


def test_patterns_are_checked_with_the_reason() -> None:
    with pytest.raises(InvalidEventPattern, match="numeric"):
        compile_rule_pattern('{"n": [{"numeric": ["<>", 1]}]}')
    with pytest.raises(InvalidEventPattern):
        compile_rule_pattern("[1]")


def test_retry_policy_limits() -> None:
    target = Target("t", "arn", max_retries=2, max_age_s=60)
    assert exhausted(target, 1, 10) is None
    assert exhausted(target, 2, 10) == "MaximumRetryAttempts"
    assert exhausted(target, 0, 60) == "MaximumEventAgeInSeconds"
    assert exhausted(Target("t", "arn"), 184, 86399) is None
    rand = random.Random(1)
    assert all(0 <= backoff(n, rand) <= 60 for n in range(30))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_failing_target_is_retried_then_dead_lettered_with_awss_attributes(tmp_path: Path) -> None:
    clock = Clock()
    rows = RetryRows(Store(tmp_path / "s.db"))
    sent: list[tuple[str, bytes, Any]] = []
    attempts = 0

    async def accept(name: str, qualifier: str | None, payload: bytes, region: str) -> str:
        nonlocal attempts
        attempts += 1
        raise DiskFull("no space")  # a platform fault: retriable

    async def send(arn: str, body: bytes, attributes: Any, region: str) -> None:
        sent.append((arn, body, attributes))

    deliveries = Deliveries(
        pending=rows,
        accept=accept,
        send_message=send,
        function_exists=lambda arn: True,
        may_invoke=lambda *a: True,
        may_send=lambda arn, source: True,
        message_target_exists=lambda arn: True,
        clock=clock,
        rand=random.Random(0),
    )
    fn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    dlq = "arn:aws:sqs:us-east-1:123456789012:dlq"
    target = Target("t", fn, max_retries=2, max_age_s=3600, dead_letter_arn=dlq)
    job = Job("arn:aws:events:us-east-1:123456789012:rule/r", target, EVENT, b"{}", int(clock.now * 1000))

    async def scenario() -> None:
        await deliveries.deliver(job)
        for _ in range(2):
            assert rows.count() == 1 and not sent
            clock.now += 61
            assert await deliveries.retry_due() == 1

    asyncio.run(scenario())
    assert attempts == 3 and rows.count() == 0
    [(arn, body, attributes)] = sent
    assert arn == dlq and json.loads(body) == EVENT
    values = {k: v["StringValue"] for k, v in attributes.items()}
    assert values == {
        "RULE_ARN": job.rule_arn,
        "TARGET_ARN": fn,
        "ERROR_CODE": "INTERNAL_ERROR",
        "ERROR_MESSAGE": "no space",
        "RETRY_ATTEMPTS": "2",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
    }


def test_rules_are_regional_and_old_rows_move_to_their_region(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    old = Rule("nightly", "rate(1 day)", "eu-west-1", 1)
    store.put_rule("nightly", old.to_json())  # as stored before rules were regional
    rules = Rules(store)
    assert rules.get("eu-west-1", "default", "nightly").schedule == "rate(1 day)"
    assert set(store.load_rules()) == {"eu-west-1|default|nightly"}
    rules.put("nightly", None, "ENABLED", "", "us-east-1", 2, bus="orders", pattern='{"source": ["a"]}')
    assert len(rules.all()) == 2
    assert rules.matching("us-east-1", "orders", {"source": "a"})[0].bus == "orders"
    assert rules.matching("eu-west-1", "orders", {"source": "a"}) == []
    with pytest.raises(ValidationError):  # schedules only on the default bus
        rules.put("s", "rate(1 hour)", "ENABLED", "", "us-east-1", 3, bus="orders")
    assert rule_arn("us-east-1", "1", "n", "orders") == "arn:aws:events:us-east-1:1:rule/orders/n"
    assert Rules(store).get("us-east-1", "orders", "nightly").pattern == '{"source": ["a"]}'
    store.close()
