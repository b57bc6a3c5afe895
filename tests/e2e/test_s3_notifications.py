"""Bucket notifications end to end: a bucket's notification configuration (real boto3) makes
object changes invoke a Python function with S3's documented event, through the durable async
queue; the function reads the object with unchanged boto3 and its role's credentials and
writes what it saw into a results bucket, which the test reads."""

from __future__ import annotations

import hashlib
import signal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server, error_code
from tests.e2e.s3_notify_helpers import ACCOUNT, lambda_config, recorder, unique, wait_for


def buckets(s3: Any, *names: str) -> None:
    for name in names:
        s3.create_bucket(Bucket=name)


def test_events_for_put_copy_multipart_and_delete(server: Server) -> None:
    s3 = server.client("s3")
    source, out = unique("src"), unique("out")
    buckets(s3, source, out)
    fn = recorder(server, source, out)
    s3.put_bucket_notification_configuration(
        Bucket=source,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                lambda_config(fn, ["s3:ObjectCreated:*"], prefix="in/", suffix=".txt", id="created"),
                lambda_config(fn, ["s3:ObjectRemoved:*"], prefix="in/", id="removed"),
            ]
        },
    )
    stored = s3.get_bucket_notification_configuration(Bucket=source)["LambdaFunctionConfigurations"]
    assert [c["Id"] for c in stored] == ["created", "removed"]
    assert stored[0]["Filter"]["Key"]["FilterRules"] == [
        {"Name": "Prefix", "Value": "in/"},
        {"Name": "Suffix", "Value": ".txt"},
    ]

    # Filtered out: wrong prefix, wrong suffix. Nothing may arrive for them.
    s3.put_object(Bucket=source, Key="out/x.txt", Body=b"no")
    s3.put_object(Bucket=source, Key="in/x.bin", Body=b"no")
    # A key the function reads back; the same key (with a space) twice and then removed (its
    # sequencers must increase; it may be gone by the time the function runs, as on S3); a
    # copy; a multipart upload.
    kept = s3.put_object(Bucket=source, Key="in/kept.txt", Body=b"kept")
    first = s3.put_object(Bucket=source, Key="in/a b.txt", Body=b"one")
    second = s3.put_object(Bucket=source, Key="in/a b.txt", Body=b"two!")
    s3.copy_object(Bucket=source, Key="in/copy.txt", CopySource={"Bucket": source, "Key": "in/a b.txt"})
    upload = s3.create_multipart_upload(Bucket=source, Key="in/multi.txt")["UploadId"]
    part = s3.upload_part(Bucket=source, Key="in/multi.txt", UploadId=upload, PartNumber=1, Body=b"parts")
    s3.complete_multipart_upload(
        Bucket=source,
        Key="in/multi.txt",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    s3.delete_object(Bucket=source, Key="in/a b.txt")

    got = wait_for(s3, out, 6)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for result in got.values():
        by_event.setdefault(result["record"]["eventName"], []).append(result)
    assert not [k for k in got if "out/x.txt" in k or "in/x.bin" in k]

    [kept_result] = [
        r for r in by_event["ObjectCreated:Put"] if r["record"]["s3"]["object"]["key"] == "in/kept.txt"
    ]
    assert kept_result["body"] == "kept"  # read with unchanged boto3 and the role's credentials
    assert kept_result["record"]["s3"]["object"]["eTag"] == kept["ETag"].strip('"')
    puts = sorted(
        (r for r in by_event["ObjectCreated:Put"] if r is not kept_result),
        key=lambda r: r["record"]["s3"]["object"]["sequencer"],
    )
    record = puts[0]["record"]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == REGION
    assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == len("1970-01-01T00:00:00.000Z")
    assert record["s3"]["s3SchemaVersion"] == "1.0"
    assert record["s3"]["configurationId"] == "created"
    assert record["s3"]["bucket"]["name"] == source
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{source}"
    assert record["s3"]["object"]["key"] == "in/a+b.txt"  # URL-encoded as S3 does
    assert record["s3"]["object"]["size"] == 3
    assert record["s3"]["object"]["eTag"] == first["ETag"].strip('"') == hashlib.md5(b"one").hexdigest()
    assert puts[1]["record"]["s3"]["object"]["eTag"] == second["ETag"].strip('"')
    assert record["responseElements"]["x-amz-request-id"]

    [copy] = by_event["ObjectCreated:Copy"]
    assert (
        copy["body"] == "two!"
        and copy["record"]["s3"]["object"]["size"] == 4
        and copy["record"]["s3"]["object"]["key"] == "in/copy.txt"
    )
    [multi] = by_event["ObjectCreated:CompleteMultipartUpload"]
    assert multi["body"] == "parts"
    assert multi["record"]["s3"]["object"]["eTag"].endswith("-1")
    [removed] = by_event["ObjectRemoved:Delete"]
    assert removed["record"]["s3"]["configurationId"] == "removed"
    assert "size" not in removed["record"]["s3"]["object"]

    # Sequencers order the events of one key: put < put < delete.
    same_key = [p["record"]["s3"]["object"]["sequencer"] for p in puts]
    same_key.append(removed["record"]["s3"]["object"]["sequencer"])
    assert same_key == sorted(same_key) and len(set(same_key)) == 3


def test_a_role_without_get_object_is_denied(server: Server) -> None:
    s3 = server.client("s3")
    source, out = unique("src"), unique("out")
    buckets(s3, source, out)
    fn = recorder(server, source, out, can_read=False)
    s3.put_bucket_notification_configuration(
        Bucket=source,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [lambda_config(fn, ["s3:ObjectCreated:*"])]
        },
    )
    s3.put_object(Bucket=source, Key="secret.txt", Body=b"hidden")
    [result] = wait_for(s3, out, 1).values()
    assert result["error"] == "AccessDenied"
    assert "body" not in result


def test_overlaps_and_missing_or_unpermitted_targets_are_refused(server: Server) -> None:
    s3 = server.client("s3")
    source, out = unique("src"), unique("out")
    buckets(s3, source, out)
    fn = recorder(server, source, out)

    def put(*configs: dict[str, Any]) -> pytest.ExceptionInfo[ClientError]:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(
                Bucket=source, NotificationConfiguration={"LambdaFunctionConfigurations": list(configs)}
            )
        assert error_code(e) == "InvalidArgument"
        return e

    e = put(lambda_config(fn, ["s3:ObjectCreated:*"]), lambda_config(fn, ["s3:ObjectCreated:Put"]))
    assert "Configurations overlap" in e.value.response["Error"]["Message"]
    e = put(
        lambda_config(fn, ["s3:ObjectCreated:*"], prefix="a/"),
        lambda_config(fn, ["s3:ObjectCreated:*"], prefix="a/b"),
    )
    assert "overlapping" in e.value.response["Error"]["Message"]
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{unique('nope')}"
    e = put(lambda_config(missing, ["s3:ObjectCreated:*"]))
    assert (
        e.value.response["Error"]["Message"] == "Unable to validate the following destination configurations"
    )
    # A function whose policy does not let S3 invoke it for this bucket (its permission names
    # another bucket) is refused the same way.
    other = recorder(server, unique("elsewhere"), out)
    e = put(lambda_config(other, ["s3:ObjectCreated:*"]))
    assert (
        e.value.response["Error"]["Message"] == "Unable to validate the following destination configurations"
    )
    e = put(lambda_config(fn, ["s3:ObjectRestore:*"]))
    assert e.value.response["Error"]["Message"] == "The event is not supported for notifications"
    with pytest.raises(ClientError) as err:
        s3.put_bucket_notification_configuration(
            Bucket=source,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    assert error_code(err) == "InvalidArgument"
    # Nothing refused was stored.
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=source)


def test_delivered_after_a_kill_right_after_the_put(fresh_server: Any) -> None:
    srv = fresh_server()
    s3 = srv.client("s3")
    source, out = unique("src"), unique("out")
    buckets(s3, source, out)
    fn = recorder(srv, source, out)
    s3.put_bucket_notification_configuration(
        Bucket=source,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [lambda_config(fn, ["s3:ObjectCreated:*"])]
        },
    )
    s3.put_object(Bucket=source, Key="survives.txt", Body=b"kept")
    srv.stop(signal.SIGKILL)  # the PUT was acknowledged; the event may be anywhere on its way
    again = Server(srv.data_dir, port=srv.port, extra_env=srv.extra_env).start()
    try:
        s3 = again.client("s3")
        results = wait_for(s3, out, 1)
        assert {r["body"] for r in results.values()} == {"kept"}
        assert all(r["record"]["s3"]["object"]["key"] == "survives.txt" for r in results.values())
    finally:
        again.stop()
