"""Fidelity fixes met applying a messaging application with Terraform (tests/e2e/
test_terraform_messaging.py): event source mappings keep their tags (in the mapping's record,
so across a reopening, and records written before tags existed still load), and SNS takes the
delivery status logging attributes with SNS's rule for the sample rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stratus.eventsources.mappings import Mappings
from stratus.eventsources.model import MappingConfig
from stratus.store.sqlite import Store
from stratus.topics.errors import InvalidParameter
from stratus.topics.model import TOPIC_SETTABLE, check_feedback_attribute

ARN = "arn:aws:sqs:us-east-1:123456789012:q"


def test_mapping_tags_change_and_survive_a_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path / "stratus.db")
    mappings = Mappings(store, "123456789012")
    uuid = mappings.create("us-east-1", "f", None, ARN, MappingConfig(), True, tags={"a": "1"}).uuid
    mappings.tag(uuid, {"b": "2", "a": "3"})
    mappings.untag(uuid, ["b", "absent"])
    assert mappings.get(uuid).tags == {"a": "3"}
    store.close()
    store = Store(tmp_path / "stratus.db")
    try:
        assert Mappings(store, "123456789012").get(uuid).tags == {"a": "3"}
    finally:
        store.close()


def test_a_mapping_recorded_before_tags_existed_loads_untagged(tmp_path: Path) -> None:
    store = Store(tmp_path / "stratus.db")
    uuid = Mappings(store, "123456789012").create("us-east-1", "f", None, ARN, MappingConfig(), True).uuid
    with store.transaction() as conn:
        (record,) = conn.execute("SELECT record FROM event_source_mappings").fetchone()
        old = {k: v for k, v in json.loads(record).items() if k != "tags"}
        conn.execute("UPDATE event_source_mappings SET record = ?", (json.dumps(old),))
    try:
        assert Mappings(store, "123456789012").get(uuid).tags == {}
    finally:
        store.close()


def test_delivery_status_attributes_are_settable_for_each_protocol() -> None:
    for protocol in ("HTTP", "Firehose", "Lambda", "Application", "SQS"):
        for setting in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn"):
            assert f"{protocol}{setting}" in TOPIC_SETTABLE
    assert "EmailSuccessFeedbackSampleRate" not in TOPIC_SETTABLE


@pytest.mark.parametrize("value", ["0", "42", "100"])
def test_a_sample_rate_is_a_percentage(value: str) -> None:
    check_feedback_attribute("LambdaSuccessFeedbackSampleRate", value)


@pytest.mark.parametrize("value", ["101", "-1", "1.5", "", "half"])
def test_a_sample_rate_outside_0_to_100_is_refused(value: str) -> None:
    with pytest.raises(InvalidParameter):
        check_feedback_attribute("SQSSuccessFeedbackSampleRate", value)
    check_feedback_attribute("SQSSuccessFeedbackRoleArn", value)  # role ARNs are not percentages
