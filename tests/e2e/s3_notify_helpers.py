"""What the bucket-notification tests share: a function that records each S3 event it gets
(reading the object with unchanged boto3 and its role's credentials) into a results bucket,
roles for it, and waiting for results."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from stratus.identity.environments import LAMBDA_TRUST
from tests.e2e.conftest import REGION, Server, create

ACCOUNT = "000000000000"

# Records every record of its event as results/<eventName>/<key>/<sequencer>.json, with the
# object's bytes as it read them (created events) or the error its role met.
RECORDER = """
import json, os, time
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3")

def handler(event, context):
    started = time.time()
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        out = {"record": record, "started": started}
        if record["eventName"].startswith("ObjectCreated") and os.environ.get("READ", "1") == "1":
            try:
                out["body"] = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            except ClientError as e:
                out["error"] = e.response["Error"]["Code"]
        name = "/".join([record["eventName"], key, record["s3"]["object"]["sequencer"]])
        s3.put_object(Bucket=os.environ["RESULTS"], Key=name + ".json", Body=json.dumps(out))
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def s3_role(server: Server, *, read: str | None, write: str) -> str:
    """A role Lambda may assume, allowed s3:GetObject on bucket `read` (None: not at all) and
    s3:PutObject on bucket `write`."""
    iam = server.client("iam")
    name = unique("s3role")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"])
    statements = [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{write}/*"}]
    if read:
        statements.append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{read}/*"})
    iam.put_role_policy(RoleName=name, PolicyName="s3", PolicyDocument=policy(*statements))
    return arn


def recorder(server: Server, source: str, results: str, *, read: bool = True, can_read: bool = True) -> str:
    """A recording function for events of bucket `source`, allowed to be invoked by S3 for it;
    its ARN."""
    lam = server.client("lambda")
    name = unique("rec")
    role = s3_role(server, read=source if can_read else None, write=results)
    env = {"RESULTS": results, "READ": "1" if read else "0"}
    # A new role's first session may need a moment to be usable: CreateFunction checks it.
    arn = str(
        create(lam, name, {"app.py": RECORDER}, Role=role, Timeout=30, Environment={"Variables": env})[
            "FunctionArn"
        ]
    )
    lam.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{source}",
        SourceAccount=ACCOUNT,
    )
    return arn


def results(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            out[item["Key"]] = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return out


def wait_for(s3: Any, bucket: str, count: int, timeout: float = 90) -> dict[str, dict[str, Any]]:
    """The results bucket once it holds at least `count` results (a deadline, not a timing
    assertion: delivery is asynchronous)."""
    deadline = time.monotonic() + timeout
    got: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        try:
            got = results(s3, bucket)
        except ClientError:
            got = {}
        if len(got) >= count:
            return got
        time.sleep(0.2)
    raise AssertionError(f"expected {count} results in {bucket}, got {sorted(got)}")


def lambda_config(
    arn: str, events: list[str], prefix: str = "", suffix: str = "", id: str = ""
) -> dict[str, Any]:
    c: dict[str, Any] = {"LambdaFunctionArn": arn, "Events": events}
    if id:
        c["Id"] = id
    rules = []
    if prefix:
        rules.append({"Name": "prefix", "Value": prefix})
    if suffix:
        rules.append({"Name": "suffix", "Value": suffix})
    if rules:
        c["Filter"] = {"Key": {"FilterRules": rules}}
    return c


__all__ = ["ACCOUNT", "REGION"]
