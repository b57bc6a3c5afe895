"""CloudWatch Logs' writing side, as Terraform's aws_cloudwatch_log_group and logging agents use
it: groups and streams made through the API, events written into them and read back, KMS key,
class, retention and tags round-tripped."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_created_groups_streams_and_events(server: Server) -> None:
    logs = server.client("logs")
    group = f"/app/{uuid.uuid4().hex[:8]}"
    kms = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    logs.create_log_group(logGroupName=group, kmsKeyId=kms, tags={"team": "a"}, logGroupClass="STANDARD")
    with pytest.raises(ClientError) as again:
        logs.create_log_group(logGroupName=group)
    assert _code(again) == "ResourceAlreadyExistsException"
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)

    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["logGroupName"] == group
    assert (described["kmsKeyId"], described["retentionInDays"]) == (kms, 7)
    assert described["logGroupClass"] == "STANDARD"
    assert described["arn"].endswith(f":log-group:{group}:*")

    with pytest.raises(ClientError) as no_stream:
        logs.put_log_events(
            logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": 1, "message": "x"}]
        )
    assert _code(no_stream) == "ResourceNotFoundException"
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    with pytest.raises(ClientError) as dup_stream:
        logs.create_log_stream(logGroupName=group, logStreamName="s1")
    assert _code(dup_stream) == "ResourceAlreadyExistsException"
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["logStreamName"] == "s1" and "firstEventTimestamp" not in stream

    now = int(time.time() * 1000)
    old = now - 30 * 24 * 3600 * 1000
    answer = logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now - 10, "message": "first"},
            {"timestamp": now, "message": "second"},
        ],
    )
    assert answer["nextSequenceToken"]
    rejected = logs.put_log_events(
        logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": old, "message": "ancient"}]
    )
    assert rejected["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}
    events = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["first", "second"]
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["lastEventTimestamp"] == now

    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    with pytest.raises(ClientError) as gone:
        logs.create_log_stream(logGroupName=group, logStreamName="s2")
    assert _code(gone) == "ResourceNotFoundException"


def test_tags_both_ways_and_kms_association(server: Server) -> None:
    logs = server.client("logs")
    group = f"/tags/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group, tags={"a": "1"})
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    assert not arn.endswith(":*")
    logs.tag_resource(resourceArn=arn, tags={"b": "2"})
    logs.tag_log_group(logGroupName=group, tags={"c": "3"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2", "c": "3"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    logs.untag_log_group(logGroupName=group, tags=["c"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"b": "2"}
    with pytest.raises(ClientError) as missing:
        logs.list_tags_for_resource(resourceArn=arn + "-nope")
    assert _code(missing) == "ResourceNotFoundException"

    key = "arn:aws:kms:us-east-1:000000000000:key/abcd"
    logs.associate_kms_key(logGroupName=group, kmsKeyId=key)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["kmsKeyId"] == key
    logs.disassociate_kms_key(logGroupName=group)
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    logs.delete_log_group(logGroupName=group)


def test_describe_log_groups_pages(server: Server) -> None:
    logs = server.client("logs")
    prefix = f"/page/{uuid.uuid4().hex[:8]}/"
    names = [f"{prefix}{i:02d}" for i in range(5)]
    for name in names:
        logs.create_log_group(logGroupName=name)
    seen = []
    for page in logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 2}
    ):
        assert len(page["logGroups"]) <= 2
        seen += [g["logGroupName"] for g in page["logGroups"]]
    assert seen == names
    for name in names:
        logs.delete_log_group(logGroupName=name)
