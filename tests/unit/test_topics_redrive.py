"""The pure parts of SNS delivery: RedrivePolicy checks and dead letters (topics/redrive.py),
FIFO ids (messages.fifo_ids), per-subscription planning (topics/fanout.py); and the Topics owner
with a virtual clock: FIFO deduplication ids held for 5 minutes across a reopening, then pruned."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from stratus.topics import fanout, messages, outbox, redrive
from stratus.topics.errors import InvalidParameter
from stratus.topics.model import Subscription
from stratus.topics.topics import Topics

TOPIC = "arn:aws:sns:us-east-1:000000000000:t"
DLQ = "arn:aws:sqs:us-east-1:000000000000:dlq"


def policy(arn: str, **more: Any) -> str:
    return json.dumps({"deadLetterTargetArn": arn, **more})


def check(text: str, *, fifo: bool = False, exists: bool = True) -> None:
    redrive.check(text, topic_arn=TOPIC, fifo_topic=fifo, queue_exists=lambda arn: exists)


def test_redrive_policy_checks() -> None:
    check("")  # removes the dead-letter queue
    check(policy(DLQ))
    check(policy(DLQ + ".fifo"), fifo=True)
    for text, kwargs in [
        ("{", {}),
        ("[]", {}),
        ("{}", {}),
        (policy(DLQ, maxReceiveCount=3), {}),
        (policy("arn:aws:sns:us-east-1:000000000000:t"), {}),
        (policy("arn:aws:sqs:eu-west-1:000000000000:dlq"), {}),
        (policy("arn:aws:sqs:us-east-1:111111111111:dlq"), {}),
        (policy(DLQ), {"fifo": True}),
        (policy(DLQ + ".fifo"), {}),
        (policy(DLQ), {"exists": False}),
    ]:
        with pytest.raises(InvalidParameter):
            check(text, **kwargs)


def test_dead_letter_target_and_attributes() -> None:
    assert redrive.target({}) is None
    assert redrive.target({"RedrivePolicy": ""}) is None
    assert redrive.target({"RedrivePolicy": policy(DLQ)}) == DLQ
    carried = {f"a{i}": {"DataType": "String", "StringValue": str(i)} for i in range(10)}
    out = redrive.attributes("r", "E", "why", carried)
    assert len(out) == redrive.MAX_QUEUE_ATTRIBUTES  # SQS's limit: the reasons come first
    assert out["ErrorCode"] == {"DataType": "String", "StringValue": "E"}
    assert out["RequestID"]["StringValue"] == "r" and out["ErrorMessage"]["StringValue"] == "why"


def test_fifo_ids() -> None:
    assert messages.fifo_ids(False, False, "m", None, None) == (None, None)
    with pytest.raises(InvalidParameter):
        messages.fifo_ids(False, False, "m", "g", None)
    with pytest.raises(InvalidParameter):
        messages.fifo_ids(True, True, "m", None, "d")
    with pytest.raises(InvalidParameter):
        messages.fifo_ids(True, False, "m", "g", None)
    group, dedup = messages.fifo_ids(True, True, "m", "g", None)
    assert group == "g" and dedup == messages.fifo_ids(True, True, "m", "g", None)[1] != "m"
    assert messages.fifo_ids(True, False, "m", "g", "d") == ("g", "d")


def sub(protocol: str, endpoint: str, **attributes: str) -> Subscription:
    return Subscription(f"{TOPIC}:{endpoint[-4:]}", TOPIC, protocol, endpoint, "o", attributes, True, "t", 0)


def test_plan_per_protocol() -> None:
    published = fanout.Published(
        "m-1",
        TOPIC,
        {},
        '{"default": "d", "sqs": "q"}',
        None,
        {"default": "d", "sqs": "q"},
        {"k": {"DataType": "String", "StringValue": "v"}},
        "T",
        "00000000000000000001",
        "g",
        "dd",
    )
    subs = [
        sub("sqs", "arn:aws:sqs:us-east-1:000000000000:std", RawMessageDelivery="true"),
        sub("sqs", "arn:aws:sqs:us-east-1:000000000000:q.fifo"),
        sub("lambda", "arn:aws:lambda:us-east-1:000000000000:function:f"),
        sub("http", "http://127.0.0.1:9/h", RawMessageDelivery="true"),
        Subscription(f"{TOPIC}:pend", TOPIC, "http", "http://x/", "o", {}, False, "t", 0),  # unconfirmed
    ]
    plan = fanout.plan(published, subs, lambda signed: "sig", fanout.Urls("cert", lambda arn: f"u/{arn}"))
    raw, wrapped, fn, http = plan
    assert isinstance(raw, fanout.ToQueue) and raw.body == "q" and raw.group_id is None
    assert raw.attributes == {"k": {"DataType": "String", "StringValue": "v"}}
    assert isinstance(wrapped, fanout.ToQueue) and (wrapped.group_id, wrapped.dedup_id) == ("g", "dd")
    assert '"Message": "q"' in wrapped.body and wrapped.attributes == {}
    assert isinstance(fn, fanout.ToFunction) and b'"Message": "d"' in fn.payload
    assert isinstance(http, outbox.Delivery) and http.body == "d"
    assert http.attributes == {"k": {"Type": "String", "Value": "v"}}
    assert messages.from_event_attributes(http.attributes) == raw.attributes


def test_fifo_dedup_window_outlives_a_reopening_then_is_pruned(tmp_path: Path) -> None:
    now = [1_000_000.0]
    sent: list[Any] = []

    async def send(arn: str, body: str, **kwargs: Any) -> None:
        sent.append(body)

    async def invoke(*args: Any) -> str:
        return "r"

    def make() -> Topics:
        return Topics(
            tmp_path / "topics.db",
            "000000000000",
            invoke_async=invoke,
            send_to_queue=send,
            may_invoke=lambda *a: True,
            endpoint="http://x",
            clock=lambda: now[0],
        )

    async def scenario() -> None:
        topics = make()
        topic = await topics.create_topic("us-east-1", "f.fifo", {"FifoTopic": "true"}, {})
        await topics.subscribe(topic.arn, "sqs", "arn:aws:sqs:us-east-1:000000000000:q.fifo", {})
        first = await topics.publish(topic.arn, "a", group_id="g", dedup_id="d")
        topics.close()
        now[0] += 299
        topics = make()
        assert await topics.publish(topic.arn, "b", group_id="g", dedup_id="d") == first
        now[0] += 2  # the window has passed
        assert await topics.publish(topic.arn, "c", group_id="g", dedup_id="d") != first
        await topics.publish(topic.arn, "e", group_id="g", dedup_id="other")
        topics.close()

    asyncio.run(scenario())
    assert sent and [s.split('"Message": ')[1][:3] for s in sent] == ['"a"', '"c"', '"e"']
    with sqlite3.connect(tmp_path / "topics.db") as conn:
        rows = conn.execute("SELECT dedup_id FROM sns_dedup ORDER BY dedup_id").fetchall()
    assert rows == [("d",), ("other",)]  # the first "d" pruned, its successor kept
