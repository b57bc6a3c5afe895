"""Bucket notification configurations: what S3 accepts and refuses, and which changes go to
which function (stratus/buckets/notifications.py, pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from stratus.buckets.errors import InvalidArgument
from stratus.buckets.model import ObjectChange
from stratus.buckets.notifications import route, route_record, validate

ACCOUNT = "123456789012"
REGION = "us-east-1"
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"


def check(config: dict[str, Any], *, exists: set[str] | None = None, allowed: set[str] | None = None) -> str:
    names = exists if exists is not None else {"a", "b", "c"}
    may = allowed if allowed is not None else names
    return validate(
        config,
        region=REGION,
        account_id=ACCOUNT,
        function_exists=lambda arn: arn.split(":")[6] in names,
        s3_may_invoke=lambda arn, bucket_arn, region: (
            arn.split(":")[6] in may and bucket_arn == "arn:aws:s3:::bkt" and region == REGION
        ),
        s3_may_send=lambda arn, bucket: arn.rsplit(":", 1)[1] in names,
        bucket="bkt",
    )


def conf(
    fn: str, events: list[str], prefix: str | None = None, suffix: str | None = None, **kw: Any
) -> dict[str, Any]:
    c: dict[str, Any] = {"LambdaFunctionArn": FN + fn, "Events": events, **kw}
    rules = []
    if prefix is not None:
        rules.append({"Name": "prefix", "Value": prefix})
    if suffix is not None:
        rules.append({"Name": "Suffix", "Value": suffix})
    if rules:
        c["Filter"] = {"Key": {"FilterRules": rules}}
    return c


def change(event: str, key: str, seq: int = 1) -> ObjectChange:
    removed = event.startswith("ObjectRemoved")
    return ObjectChange(
        event=event,
        bucket="bkt",
        bucket_region=REGION,
        key=key,
        size=0 if removed else 5,
        etag="" if removed else "abc",
        sequencer=f"{seq:016X}",
        time=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        request_id="REQ",
    )


def test_accepted_config_is_normalised_with_ids() -> None:
    text = check(
        {
            "LambdaFunctionConfigurations": [
                conf("a", ["s3:ObjectCreated:*"], "in/", ".jpg", Id="mine"),
                conf("b", ["s3:ObjectRemoved:Delete"]),
            ]
        }
    )
    stored = json.loads(text)["LambdaFunctionConfigurations"]
    assert stored[0]["Id"] == "mine"
    assert stored[0]["Filter"]["Key"]["FilterRules"] == [
        {"Name": "Prefix", "Value": "in/"},
        {"Name": "Suffix", "Value": ".jpg"},
    ]
    assert stored[1]["Id"] and stored[1]["Id"] != "mine"
    assert "Filter" not in stored[1]


def test_empty_config_means_none() -> None:
    assert check({}) == ""
    assert check({"LambdaFunctionConfigurations": []}) == ""


def test_eventbridge_delivery_goes_to_the_default_bus() -> None:
    """`EventBridgeConfiguration: {}` is stored as given, and every change (beside the other
    configurations' deliveries) becomes one delivery to the region's default bus holding S3's
    "Object Created" / "Object Deleted" event."""
    text = check({"EventBridgeConfiguration": {}})
    assert json.loads(text) == {"EventBridgeConfiguration": {}}
    created = ObjectChange(
        "ObjectCreated:Put", "bkt", REGION, "a b.txt", 5, "abc", "0000000000000001",
        datetime(2026, 1, 1, tzinfo=UTC), request_id="req-1",
    )  # fmt: skip
    [delivery] = route(text, created, account_id=ACCOUNT)
    assert delivery.target_arn == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    event = json.loads(delivery.payload)
    assert (event["source"], event["detail-type"]) == ("aws.s3", "Object Created")
    assert event["resources"] == ["arn:aws:s3:::bkt"]
    assert event["detail"] == {
        "version": "0",
        "bucket": {"name": "bkt"},
        "object": {"key": "a b.txt", "size": 5, "etag": "abc", "sequencer": "0000000000000001"},
        "request-id": "req-1",
        "requester": ACCOUNT,
        "source-ip-address": "127.0.0.1",
        "reason": "PutObject",
    }
    removed = ObjectChange(
        "ObjectRemoved:Delete",
        "bkt",
        REGION,
        "k",
        0,
        "",
        "0000000000000002",
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    [delivery] = route(text, removed, account_id=ACCOUNT)
    event = json.loads(delivery.payload)
    assert event["detail-type"] == "Object Deleted"
    assert event["detail"]["deletion-type"] == "Permanently Deleted"
    assert "size" not in event["detail"]["object"]


QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:"


def test_queue_and_topic_configurations_are_stored_and_routed() -> None:
    text = check(
        {
            "QueueConfigurations": [{"QueueArn": QUEUE + "a", "Events": ["s3:ObjectCreated:*"]}],
            "TopicConfigurations": [{"Id": "t", "TopicArn": TOPIC + "b", "Events": ["s3:ObjectRemoved:*"]}],
        }
    )
    stored = json.loads(text)
    assert stored["QueueConfigurations"][0]["QueueArn"] == QUEUE + "a"
    assert stored["TopicConfigurations"] == [
        {"Id": "t", "TopicArn": TOPIC + "b", "Events": ["s3:ObjectRemoved:*"]}
    ]
    [made] = route(text, change("ObjectCreated:Put", "k"), account_id=ACCOUNT)
    assert made.target_arn == QUEUE + "a" and made.region == REGION
    [gone] = route(text, change("ObjectRemoved:Delete", "k"), account_id=ACCOUNT)
    assert gone.target_arn == TOPIC + "b"
    assert json.loads(gone.payload)["Records"][0]["s3"]["configurationId"] == "t"


def test_queue_and_topic_targets_are_checked_as_s3_checks_them() -> None:
    with pytest.raises(InvalidArgument) as caught:
        check({"QueueConfigurations": [{"QueueArn": QUEUE + "nope", "Events": ["s3:ObjectCreated:*"]}]})
    assert caught.value.extra["ArgumentValue1"].startswith("Permissions on the destination queue")
    with pytest.raises(InvalidArgument, match="region is not valid"):
        check(
            {
                "TopicConfigurations": [
                    {"TopicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:a", "Events": ["s3:ObjectCreated:*"]}
                ]
            }
        )
    with pytest.raises(InvalidArgument, match="not well formed"):
        check({"QueueConfigurations": [{"QueueArn": "arn:aws:s3:::a", "Events": ["s3:ObjectCreated:*"]}]})


def test_overlap_is_judged_across_kinds() -> None:
    with pytest.raises(InvalidArgument, match="Configurations overlap"):
        check(
            {
                "LambdaFunctionConfigurations": [conf("a", ["s3:ObjectCreated:*"])],
                "QueueConfigurations": [{"QueueArn": QUEUE + "a", "Events": ["s3:ObjectCreated:Put"]}],
            }
        )


@pytest.mark.parametrize(
    "event", ["s3:ObjectRestore:*", "s3:Replication:*", "s3:ObjectCreated:Nope", "ObjectCreated:Put"]
)
def test_unsupported_events_are_refused(event: str) -> None:
    with pytest.raises(InvalidArgument, match="The event is not supported for notifications"):
        check({"LambdaFunctionConfigurations": [conf("a", [event])]})


def test_filter_rules_at_most_one_each_and_known_names() -> None:
    two = conf("a", ["s3:ObjectCreated:*"])
    two["Filter"] = {
        "Key": {"FilterRules": [{"Name": "PREFIX", "Value": "a"}, {"Name": "prefix", "Value": "b"}]}
    }
    with pytest.raises(InvalidArgument, match="more than one prefix"):
        check({"LambdaFunctionConfigurations": [two]})
    two["Filter"] = {
        "Key": {"FilterRules": [{"Name": "suffix", "Value": "a"}, {"Name": "SUFFIX", "Value": "b"}]}
    }
    with pytest.raises(InvalidArgument, match="more than one suffix"):
        check({"LambdaFunctionConfigurations": [two]})
    two["Filter"] = {"Key": {"FilterRules": [{"Name": "middle", "Value": "a"}]}}
    with pytest.raises(InvalidArgument, match="prefix or suffix"):
        check({"LambdaFunctionConfigurations": [two]})


def test_overlapping_configurations_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="Configurations overlap") as e:
        check(
            {
                "LambdaFunctionConfigurations": [
                    conf("a", ["s3:ObjectCreated:*"]),
                    conf("b", ["s3:ObjectCreated:Put"]),
                ]
            }
        )
    assert e.value.extra["ArgumentName"] == "Event"
    with pytest.raises(InvalidArgument, match="ambiguously defined"):
        check(
            {
                "LambdaFunctionConfigurations": [
                    conf("a", ["s3:ObjectCreated:*"], "in/"),
                    conf("b", ["s3:ObjectCreated:Put"], "in/sub/"),
                ]
            }
        )
    with pytest.raises(InvalidArgument, match="ambiguously defined"):
        check(
            {
                "LambdaFunctionConfigurations": [
                    conf("a", ["s3:ObjectCreated:*"], suffix=".jpg"),
                    conf("b", ["s3:ObjectCreated:*"], suffix="x.jpg"),
                ]
            }
        )


def test_disjoint_configurations_are_accepted() -> None:
    # Different prefixes, different suffixes, or different event types do not overlap.
    check(
        {
            "LambdaFunctionConfigurations": [
                conf("a", ["s3:ObjectCreated:*"], "in/"),
                conf("b", ["s3:ObjectCreated:*"], "out/"),
            ]
        }
    )
    check(
        {
            "LambdaFunctionConfigurations": [
                conf("a", ["s3:ObjectCreated:*"], suffix=".jpg"),
                conf("b", ["s3:ObjectCreated:*"], suffix=".png"),
            ]
        }
    )
    check(
        {
            "LambdaFunctionConfigurations": [
                conf("a", ["s3:ObjectCreated:*"]),
                conf("b", ["s3:ObjectRemoved:*"]),
            ]
        }
    )
    check(
        {
            "LambdaFunctionConfigurations": [
                conf("a", ["s3:ObjectCreated:Put"]),
                conf("b", ["s3:ObjectCreated:Copy"]),
            ]
        }
    )


def test_missing_or_unauthorized_targets_are_refused() -> None:
    with pytest.raises(
        InvalidArgument, match="Unable to validate the following destination configurations"
    ) as e:
        check({"LambdaFunctionConfigurations": [conf("nope", ["s3:ObjectCreated:*"])]})
    assert e.value.extra == {
        "ArgumentName1": f"{FN}nope, null",
        "ArgumentValue1": f"Not authorized to invoke function [{FN}nope]",
    }
    with pytest.raises(InvalidArgument, match="Unable to validate") as e:
        check({"LambdaFunctionConfigurations": [conf("a", ["s3:ObjectCreated:*"])]}, allowed=set())
    other = conf("a", ["s3:ObjectCreated:*"])
    other["LambdaFunctionArn"] = f"arn:aws:lambda:{REGION}:999999999999:function:a"
    with pytest.raises(InvalidArgument, match="Unable to validate"):
        check({"LambdaFunctionConfigurations": [other]})


def test_bad_arns_and_other_regions_are_refused() -> None:
    bad = conf("a", ["s3:ObjectCreated:*"])
    bad["LambdaFunctionArn"] = "not-an-arn"
    with pytest.raises(InvalidArgument, match="not well formed"):
        check({"LambdaFunctionConfigurations": [bad]})
    bad["LambdaFunctionArn"] = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:a"
    with pytest.raises(InvalidArgument, match="region is not valid"):
        check({"LambdaFunctionConfigurations": [bad]})


def test_route_matches_events_and_raw_key_filters() -> None:
    text = check(
        {
            "LambdaFunctionConfigurations": [
                conf("a", ["s3:ObjectCreated:*"], "in/", ".jpg", Id="thumbs"),
                conf("b", ["s3:ObjectRemoved:*"], "in/", Id="gone"),
                conf("c", ["s3:ObjectCreated:Copy"], "copies/", Id="copies"),
            ]
        }
    )
    [d] = route(text, change("ObjectCreated:Put", "in/my photo.jpg"), account_id=ACCOUNT)
    assert d.target_arn == FN + "a" and d.region == REGION
    record = json.loads(d.payload)["Records"][0]
    assert record["s3"]["configurationId"] == "thumbs"
    assert record["s3"]["object"]["key"] == "in/my+photo.jpg"
    assert (
        route(text, change("ObjectCreated:CompleteMultipartUpload", "in/x.jpg"), account_id=ACCOUNT)[
            0
        ].target_arn
        == FN + "a"
    )
    assert route(text, change("ObjectCreated:Put", "in/x.png"), account_id=ACCOUNT) == []
    assert route(text, change("ObjectCreated:Put", "out/x.jpg"), account_id=ACCOUNT) == []
    [gone] = route(text, change("ObjectRemoved:Delete", "in/x.png"), account_id=ACCOUNT)
    assert gone.target_arn == FN + "b"
    assert route(text, change("ObjectCreated:Put", "copies/x"), account_id=ACCOUNT) == []
    assert route(text, change("ObjectCreated:Copy", "copies/x"), account_id=ACCOUNT)[0].target_arn == FN + "c"
    assert route(None, change("ObjectCreated:Put", "in/x.jpg"), account_id=ACCOUNT) == []
    assert route("", change("ObjectCreated:Put", "in/x.jpg"), account_id=ACCOUNT) == []


def minio_record(event: str, key: str) -> dict[str, Any]:
    # As MinIO's webhook target sends it: eventName with the "s3:" prefix, the key encoded.
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventName": event,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": "bkt", "arn": "arn:aws:s3:::bkt"},
            "object": {"key": key, "size": 3, "eTag": "e", "sequencer": "17A"},
        },
    }


def test_route_record_forwards_external_records_to_subscribers() -> None:
    text = check(
        {
            "LambdaFunctionConfigurations": [
                conf("a", ["s3:ObjectCreated:*"], "in/", ".jpg", Id="thumbs"),
                conf("b", ["s3:ObjectRemoved:Delete"], Id="gone"),
            ]
        }
    )
    [d] = route_record(text, minio_record("s3:ObjectCreated:Put", "in/my+photo.jpg"))
    assert d.target_arn == FN + "a" and d.region == REGION
    forwarded = json.loads(d.payload)["Records"][0]
    assert forwarded["s3"]["configurationId"] == "thumbs"
    assert forwarded["s3"]["object"]["key"] == "in/my+photo.jpg"  # passed on as it came
    assert forwarded["eventSource"] == "minio:s3"
    [g] = route_record(text, minio_record("ObjectRemoved:Delete", "x"))
    assert g.target_arn == FN + "b"
    assert route_record(text, minio_record("s3:ObjectCreated:Put", "in/x.png")) == []
    assert route_record(text, minio_record("s3:ObjectAccessed:Get", "in/x.jpg")) == []
    assert route_record(None, minio_record("s3:ObjectCreated:Put", "in/x.jpg")) == []
