"""The S3 event record (stratus/buckets/records.py): AWS's documented structure, version 2.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote_plus

from stratus.buckets.model import ObjectChange
from stratus.buckets.records import event_key, event_record


def change(event: str, key: str = "in/a b+c.jpg", when: datetime | None = None) -> ObjectChange:
    removed = event.startswith("ObjectRemoved")
    return ObjectChange(
        event=event,
        bucket="photos",
        bucket_region="eu-west-1",
        key=key,
        size=0 if removed else 1234,
        etag="" if removed else "0123456789abcdef0123456789abcdef",
        sequencer="00000000000000A1",
        time=when or datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        principal="AWS:AIDAEXAMPLE",
        source_ip="10.1.2.3",
        request_id="REQ123",
    )


def test_created_record_has_the_documented_fields() -> None:
    r = event_record(change("ObjectCreated:Put"), "cfg", "123456789012")
    assert r["eventVersion"] == "2.1"
    assert r["eventSource"] == "aws:s3"
    assert r["awsRegion"] == "eu-west-1"
    assert r["eventTime"] == "2026-01-02T03:04:05.678Z"
    assert r["eventName"] == "ObjectCreated:Put"
    assert r["userIdentity"] == {"principalId": "AWS:AIDAEXAMPLE"}
    assert r["requestParameters"] == {"sourceIPAddress": "10.1.2.3"}
    assert r["responseElements"]["x-amz-request-id"] == "REQ123"
    assert r["responseElements"]["x-amz-id-2"]
    s3 = r["s3"]
    assert s3["s3SchemaVersion"] == "1.0"
    assert s3["configurationId"] == "cfg"
    assert s3["bucket"] == {
        "name": "photos",
        "ownerIdentity": {"principalId": "123456789012"},
        "arn": "arn:aws:s3:::photos",
    }
    assert s3["object"] == {
        "key": "in/a+b%2Bc.jpg",
        "size": 1234,
        "eTag": "0123456789abcdef0123456789abcdef",
        "sequencer": "00000000000000A1",
    }


def test_removal_has_no_size_or_etag() -> None:
    r = event_record(change("ObjectRemoved:Delete"), "cfg", "123456789012")
    assert r["eventName"] == "ObjectRemoved:Delete"
    assert r["s3"]["object"] == {"key": "in/a+b%2Bc.jpg", "sequencer": "00000000000000A1"}


def test_event_time_is_utc_whatever_the_zone() -> None:
    local = datetime(2026, 1, 2, 5, 4, 5, 1000, tzinfo=timezone(timedelta(hours=2)))
    assert (
        event_record(change("ObjectCreated:Put", when=local), "c", "1")["eventTime"]
        == "2026-01-02T03:04:05.001Z"
    )


def test_keys_round_trip_through_unquote_plus() -> None:
    for key in ["a b", "x+y", "ünï/cødé", "q?=&%", "deep/dir/file.txt", "sp  ace"]:
        assert unquote_plus(event_key(key)) == key
    assert event_key("a/b c") == "a/b+c"
