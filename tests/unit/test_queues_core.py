"""The queue service's pure parts: SQS's digests, which messages a receive takes (FIFO groups,
redrive, retention), queue names and attribute rules."""

from __future__ import annotations

import hashlib
import json

import pytest

from stratus.queues import attributes as attrs
from stratus.queues.choosing import Candidate, next_visible, plan
from stratus.queues.digest import content_dedup_id, md5_of_attributes, md5_of_body
from stratus.queues.errors import InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue
from stratus.queues.messages import check_attributes, check_body, check_size
from stratus.queues.names import check_name, parse_url

NOW = 1_000_000


def row(i: int, group: str | None = None, visible: int = 0, count: int = 0, sent: int = NOW) -> Candidate:
    return Candidate(id=i, group_id=group, visible_ms=NOW + visible, receive_count=count, sent_ms=sent)


def test_md5_of_attributes_matches_the_value_sqs_answers() -> None:
    # The digest SQS itself returned for this attribute (a value SDKs' and emulators' test
    # suites pin); any change to the encoding (order, lengths, transport byte) changes it.
    attributes = {"timestamp": {"StringValue": "1493147359900", "DataType": "Number"}}
    assert md5_of_attributes(attributes) == "235c5c510d26fb653d073faed50ae77c"


def test_md5_of_attributes_orders_names_and_marks_binary() -> None:
    a = {"b": {"DataType": "String", "StringValue": "x"}, "a": {"DataType": "Binary", "BinaryValue": b"x"}}
    reordered = dict(reversed(list(a.items())))
    assert md5_of_attributes(a) == md5_of_attributes(reordered)
    as_string = {"a": {"DataType": "String", "StringValue": "x"}, "b": a["b"]}
    assert md5_of_attributes(a) != md5_of_attributes(as_string)  # the transport byte differs
    assert md5_of_attributes({}) is None


def test_body_digests() -> None:
    assert md5_of_body("hi") == hashlib.md5(b"hi").hexdigest()
    assert content_dedup_id("hi") == hashlib.sha256(b"hi").hexdigest()


def test_standard_receive_takes_the_oldest_visible() -> None:
    rows = [row(1), row(2), row(3)]
    assert plan(rows, 2, NOW, fifo=False, retention_s=60, max_receive=None).deliver == (1, 2)


def test_fifo_receive_skips_a_group_with_a_message_in_flight() -> None:
    rows = [row(1, "a", visible=5000, count=1), row(2, "a"), row(3, "b"), row(4, "b")]
    chosen = plan(rows, 10, NOW, fifo=True, retention_s=60, max_receive=None)
    assert chosen.deliver == (3, 4)


def test_fifo_receive_fills_from_one_group_before_the_next() -> None:
    rows = [row(1, "a"), row(2, "b"), row(3, "a"), row(4, "b")]
    assert plan(rows, 3, NOW, fifo=True, retention_s=60, max_receive=None).deliver == (1, 3, 2)


def test_redrive_moves_a_message_past_max_receive_count() -> None:
    rows = [row(1, count=3), row(2, count=2)]
    chosen = plan(rows, 10, NOW, fifo=False, retention_s=60, max_receive=3)
    assert chosen.to_dead_letter == (1,) and chosen.deliver == (2,)


def test_fifo_redrive_lets_the_group_continue() -> None:
    rows = [row(1, "a", count=2), row(2, "a")]
    chosen = plan(rows, 10, NOW, fifo=True, retention_s=60, max_receive=2)
    assert chosen.to_dead_letter == (1,) and chosen.deliver == (2,)


def test_expired_messages_are_dropped_by_their_original_send_time() -> None:
    rows = [row(1, sent=NOW - 61_000), row(2, sent=NOW - 59_000)]
    chosen = plan(rows, 10, NOW, fifo=False, retention_s=60, max_receive=None)
    assert chosen.expired == (1,) and chosen.deliver == (2,)


def test_next_visible_is_the_earliest_hidden_message() -> None:
    assert next_visible([row(1, visible=900), row(2, visible=300), row(3)], NOW) == NOW + 300
    assert next_visible([row(1)], NOW) is None


@pytest.mark.parametrize(
    ("name", "fifo", "ok"),
    [
        ("orders", False, True),
        ("a" * 80, False, True),
        ("a" * 81, False, False),
        ("has space", False, False),
        ("orders.fifo", True, True),
        ("a" * 75 + ".fifo", True, True),
        ("a" * 76 + ".fifo", True, False),
        ("orders", True, False),
        ("orders.fifo", False, False),
    ],
)
def test_queue_names(name: str, fifo: bool, ok: bool) -> None:
    if ok:
        check_name(name, fifo)
    else:
        with pytest.raises(InvalidParameterValue):
            check_name(name, fifo)


def test_queue_url_names_account_and_queue_whatever_the_host() -> None:
    assert parse_url("http://localhost:4566/000000000000/q") == ("000000000000", "q")
    assert parse_url("https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo") == ("123456789012", "q.fifo")


def test_attribute_ranges_and_names() -> None:
    assert attrs.checked({"VisibilityTimeout": "60"}, False, creating=True) == {"VisibilityTimeout": "60"}
    with pytest.raises(InvalidAttributeValue):
        attrs.checked({"VisibilityTimeout": "43201"}, False, creating=True)
    with pytest.raises(InvalidAttributeValue):
        attrs.checked({"MaximumMessageSize": "1048577"}, False, creating=True)
    with pytest.raises(InvalidAttributeName):
        attrs.checked({"Colour": "blue"}, False, creating=True)
    with pytest.raises(InvalidAttributeName):  # FIFO-only on a standard queue
        attrs.checked({"ContentBasedDeduplication": "true"}, False, creating=True)
    assert attrs.defaults(False)["MaximumMessageSize"] == "1048576"


def test_redrive_policy_is_kept_compact_with_a_numeric_count() -> None:
    text = '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq", "maxReceiveCount": "3"}'
    kept = attrs.redrive_policy(text)
    assert json.loads(kept) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq",
        "maxReceiveCount": 3,
    }
    with pytest.raises(InvalidAttributeValue):
        attrs.redrive_policy(
            '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:0:dlq", "maxReceiveCount": 1001}'
        )


def test_redrive_allow_policy() -> None:
    by_queue = attrs.redrive_allow_policy(
        '{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:r:1:a"]}'
    )
    assert attrs.allows_source(by_queue, "arn:aws:sqs:r:1:a")
    assert not attrs.allows_source(by_queue, "arn:aws:sqs:r:1:b")
    assert not attrs.allows_source('{"redrivePermission":"denyAll"}', "arn:aws:sqs:r:1:a")


def test_message_checks() -> None:
    with pytest.raises(InvalidParameterValue):
        check_attributes({"AWS.reserved": {"DataType": "String", "StringValue": "x"}})
    with pytest.raises(InvalidParameterValue):
        check_attributes({"n": {"DataType": "Number", "StringValue": "not a number"}})
    with pytest.raises(InvalidParameterValue):
        check_attributes({"t": {"DataType": "Date", "StringValue": "x"}})
    check_attributes({"n": {"DataType": "Number.float", "StringValue": "1.5"}})
    with pytest.raises(InvalidParameterValue):
        check_size("x" * 1000, {"k": {"DataType": "String", "StringValue": "y" * 30}}, 1024)
    from stratus.queues.errors import InvalidMessageContents

    with pytest.raises(InvalidMessageContents):
        check_body("bad \x01 char")
