"""Webhook ingestion end to end: S3 event records POSTed in MinIO's webhook body format (MinIO
itself is not on this machine) to /_stratus/webhooks/s3 with the bearer token invoke the
function subscribed by the same-named Stratus bucket's notification configuration."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from stratus.buckets.webhook import TOKEN_FILE
from tests.e2e.conftest import Server
from tests.e2e.s3_notify_helpers import lambda_config, recorder, unique, wait_for


def minio_body(bucket: str, key: str, event: str = "s3:ObjectCreated:Put") -> dict[str, Any]:
    """What MinIO's webhook target POSTs for one event (its record uses the "s3:" event name
    prefix and its own eventSource)."""
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2026-01-02T03:04:05.678Z",
        "eventName": event,
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "10.0.0.9"},
        "responseElements": {
            "x-amz-request-id": "17A0B3C4D5E6F708",
            "x-minio-origin-endpoint": "http://m:9000",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "minioadmin"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": key,
                "size": 5,
                "eTag": "5d41402abc4b2a76b9719d911017c592",
                "contentType": "text/plain",
                "userMetadata": {"content-type": "text/plain"},
                "sequencer": "17A0B3C4D5E6F708",
            },
        },
        "source": {"host": "10.0.0.9", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7"},
    }
    return {"EventName": event, "Key": f"{bucket}/{key}", "Records": [record]}


def post(server: Server, body: bytes, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{server.endpoint}/_stratus/webhooks/s3", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def token_of(server: Server) -> str:
    # Generated once into the data dir, readable by whoever may read the data dir.
    path = server.data_dir / TOKEN_FILE
    assert path.stat().st_mode & 0o077 == 0
    return path.read_text().strip()


def test_minio_event_invokes_the_subscribed_function(server: Server) -> None:
    s3 = server.client("s3")
    bucket, out = unique("minio"), unique("out")
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=out)
    fn = recorder(server, bucket, out, read=False)  # the object lives in MinIO, not here
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                lambda_config(fn, ["s3:ObjectCreated:*"], suffix=".jpg", id="from-minio")
            ]
        },
    )
    token = token_of(server)
    status, answer = post(server, json.dumps(minio_body(bucket, "in/my+cat.jpg")).encode(), token)
    assert (status, answer) == (200, {"Records": 1, "Queued": 1})
    # Not subscribed: another suffix, an event nobody subscribed to, a bucket unknown here.
    for body in (
        minio_body(bucket, "in/cat.png"),
        minio_body(bucket, "in/cat.jpg", "s3:ObjectAccessed:Get"),
        minio_body(unique("unknown"), "cat.jpg"),
    ):
        status, answer = post(server, json.dumps(body).encode(), token)
        assert (status, answer) == (200, {"Records": 1, "Queued": 0})

    [result] = wait_for(s3, out, 1).values()
    record = result["record"]
    assert record["eventSource"] == "minio:s3"  # passed on as MinIO sent it
    assert record["eventName"] == "s3:ObjectCreated:Put"
    assert record["s3"]["configurationId"] == "from-minio"
    assert record["s3"]["object"]["key"] == "in/my+cat.jpg"
    assert record["s3"]["bucket"]["name"] == bucket


def test_webhook_refuses_bad_tokens_and_bodies(server: Server) -> None:
    token = token_of(server)
    body = json.dumps(minio_body("whatever", "k")).encode()
    assert post(server, body, None)[0] == 403
    assert post(server, body, token + "x")[0] == 403
    assert post(server, body, "")[0] == 403
    status, answer = post(server, b"{not json", token)
    assert status == 400 and answer["Code"] == "MalformedJSON"
    assert post(server, json.dumps({"Records": "no"}).encode(), token)[0] == 400
    assert post(server, json.dumps({"Records": [{"s3": {}}]}).encode(), token)[0] == 400


def test_configured_token_wins(fresh_server: Any) -> None:
    srv = fresh_server(STRATUS_S3_WEBHOOK_TOKEN="configured-token-0123456789")
    body = json.dumps(minio_body(unique("b"), "k")).encode()
    assert post(srv, body, "configured-token-0123456789")[0] == 200
    assert post(srv, body, "configured-token-012345678")[0] == 403
    assert not (srv.data_dir / TOKEN_FILE).exists()  # none generated when one is configured
