"""SQS's query protocol, as query-era clients speak it: an older boto3 (installed from PyPI into
a directory of its own: botocore 1.29, whose SQS model is still the query one) drives the real
server end to end, with its own MD5 checks of bodies and attributes; and a form posted to the
queue's URL without a QueueUrl, as the AWS SDK for Java 1.x sends it."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY

OLD_BOTO3 = ("boto3==1.26.165", "botocore==1.29.165")

SCRIPT = r"""
import json, sys
import boto3, botocore
assert botocore.__version__ == "1.29.165", botocore.__version__
endpoint, key, secret, region, name = sys.argv[1:6]
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region,
                   aws_access_key_id=key, aws_secret_access_key=secret)
assert sqs.meta.service_model.protocol == "query"
out = {}
url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"},
                       tags={"team": "q"})["QueueUrl"]
out["url"] = url
out["got_url"] = sqs.get_queue_url(QueueName=name)["QueueUrl"]
out["attrs"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
out["tags"] = sqs.list_queue_tags(QueueUrl=url).get("Tags")
sent = sqs.send_message(QueueUrl=url, MessageBody="héllo <query> & co",
    MessageAttributes={"colour": {"DataType": "String", "StringValue": "blue"},
                       "n": {"DataType": "Number", "StringValue": "42"},
                       "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
out["sent"] = {k: sent[k] for k in ("MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes")}
batch = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two", "DelaySeconds": 0}])
out["batch_ok"] = sorted(e["Id"] for e in batch.get("Successful", []))
got = []
for _ in range(5):
    r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                            AttributeNames=["All"], MessageAttributeNames=["All"])
    got.extend(r.get("Messages", []))
    if len(got) >= 3:
        break
out["received"] = [{
    "Body": m["Body"], "Attributes": m.get("Attributes", {}),
    "MessageAttributes": {k: {kk: (vv.hex() if isinstance(vv, bytes) else vv) for kk, vv in v.items()}
                          for k, v in m.get("MessageAttributes", {}).items()},
} for m in got]
first = got[0]
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0)
deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
    {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got[1:])])
out["deleted"] = sorted(e["Id"] for e in deleted.get("Successful", []))
out["listed"] = url in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
try:
    sqs.get_queue_url(QueueName=name + "-missing")
except sqs.exceptions.QueueDoesNotExist as e:
    out["missing"] = e.response["Error"]["Code"]
try:
    sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "9"})
except botocore.exceptions.ClientError as e:
    out["exists"] = e.response["Error"]["Code"]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def old_boto3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("old-boto3")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--target", str(target), *OLD_BOTO3, "s3transfer==0.6.2", "jmespath==1.0.1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if installed.returncode != 0:
        pytest.skip(f"an older boto3 could not be installed from PyPI: {installed.stderr[-400:]}")
    return target


def test_an_older_boto3_speaks_query_to_sqs(server: Any, old_boto3: Path, tmp_path: Path) -> None:
    name = f"query-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "old_client.py"
    script.write_text(SCRIPT)
    ran = subprocess.run(
        [sys.executable, "-s", str(script), server.endpoint, ACCESS_KEY, SECRET_KEY, REGION, name],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(old_boto3), "PATH": "/usr/bin:/bin"},
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    out = json.loads(ran.stdout)
    assert out["url"].endswith(f"/{name}") and out["got_url"] == out["url"]
    assert out["attrs"]["VisibilityTimeout"] == "7"
    assert out["attrs"]["QueueArn"].endswith(f":{name}")
    assert out["tags"] == {"team": "q"}
    # The old client checked both MD5s itself (it raises on a mismatch).
    assert len(out["sent"]["MD5OfMessageBody"]) == 32 and len(out["sent"]["MD5OfMessageAttributes"]) == 32
    assert out["batch_ok"] == ["a", "b"]
    bodies = sorted(m["Body"] for m in out["received"])
    assert bodies == sorted(["héllo <query> & co", "one", "two"])
    attributed = next(m for m in out["received"] if m["Body"].startswith("héllo"))
    assert attributed["MessageAttributes"]["colour"] == {"StringValue": "blue", "DataType": "String"}
    assert attributed["MessageAttributes"]["n"] == {"StringValue": "42", "DataType": "Number"}
    assert attributed["MessageAttributes"]["raw"] == {"BinaryValue": "0001", "DataType": "Binary"}
    assert attributed["Attributes"]["ApproximateReceiveCount"] == "1"
    assert out["deleted"] == ["d0", "d1"]
    assert out["listed"] is True
    assert out["missing"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert out["exists"] == "QueueAlreadyExists"


def _signed_form(url: str, pairs: list[tuple[str, str]]) -> requests.Response:
    body = urlencode(pairs)
    request = AWSRequest(
        "POST", url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "sqs", REGION).add_auth(request)
    return requests.post(url, data=body, headers=dict(request.headers), timeout=30)


def test_a_form_posted_to_the_queue_url_names_that_queue(server: Any) -> None:
    sqs = server.client("sqs")
    name = f"path-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sent = _signed_form(
        url, [("Action", "SendMessage"), ("Version", "2012-11-05"), ("MessageBody", "by path")]
    )
    assert sent.status_code == 200, sent.text
    assert "<SendMessageResponse" in sent.text and "<MessageId>" in sent.text
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in got] == ["by path"]
    # A queue that does not exist answers the query-era code, in XML.
    missing = _signed_form(
        url + "-nope",
        [("Action", "GetQueueAttributes"), ("Version", "2012-11-05"), ("AttributeName.1", "All")],
    )
    assert missing.status_code == 400
    assert "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in missing.text
    # The same path signed for S3 is still S3's (a bucket may be named like an account).
    unsigned = requests.post(url, data=b"x", timeout=30)
    assert unsigned.status_code == 403 and "AccessDenied" in unsigned.text
