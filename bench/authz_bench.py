"""What policy evaluation costs Invoke: warm no-op invokes per second signed by root (never
evaluated) against the same invokes signed by an IAM user and by an assumed-role session, each
held to five policies, in the same run and interleaved round by round so that drift on the
machine hits all three alike. Target (issue 14): authorized at most 5% below root."""

from __future__ import annotations

import argparse
import json
import statistics
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.common import ACCESS_KEY, NOOP, REGION, ROLE, SECRET_KEY, machine, stratus_server, zip_of
from bench.load import drive

ACCOUNT = "000000000000"


def signed_headers(url: str, key: str, secret: str, token: str | None = None) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=b"{}")
    SigV4Auth(Credentials(key, secret, token), "lambda", REGION).add_auth(request)
    return dict(request.headers)


def statements(fn_arn: str) -> list[str]:
    """Five policies of the shape real roles carry: the allowing one among four that do not
    match Invoke on this function (other services, other functions, a Deny elsewhere)."""

    def doc(*stmts: dict[str, Any]) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(stmts)})

    return [
        doc(
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ),
        doc(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::bucket/*",
            },
            {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:*:table/orders"},
        ),
        doc({"Effect": "Deny", "Action": "lambda:DeleteFunction", "Resource": "*"}),
        doc(
            {
                "Effect": "Allow",
                "Action": "lambda:GetFunction",
                "Resource": "arn:aws:lambda:*:*:function:other-*",
            },
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": REGION}},
            },
        ),
        doc(
            {"Effect": "Allow", "Action": ["lambda:InvokeFunction", "lambda:GetFunction"], "Resource": fn_arn}
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter rounds")
    args = parser.parse_args()
    duration, rounds = (2.0, 3) if args.quick else (3.0, 12)
    with stratus_server() as srv:
        lam, iam = srv.client(), srv.client("iam")
        name = f"authz-{uuid.uuid4().hex[:6]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_of(NOOP)},
        )
        fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        url = f"{srv.endpoint}/2015-03-31/functions/{name}/invocations"
        iam.create_user(UserName="bench-user")
        for i, text in enumerate(statements(fn_arn)):
            iam.put_user_policy(UserName="bench-user", PolicyName=f"p{i}", PolicyDocument=text)
        key = iam.create_access_key(UserName="bench-user")["AccessKey"]
        user_arn = f"arn:aws:iam::{ACCOUNT}:user/bench-user"
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}
                ],
            }
        )
        role_arn = str(
            iam.create_role(RoleName="bench-session", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        )
        for i, text in enumerate(statements(fn_arn)):
            iam.put_role_policy(RoleName="bench-session", PolicyName=f"p{i}", PolicyDocument=text)
        sts = boto3.client(
            "sts",
            endpoint_url=srv.endpoint,
            region_name=REGION,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="bench")["Credentials"]
        callers = {
            "root": signed_headers(url, ACCESS_KEY, SECRET_KEY),
            "user": signed_headers(url, key["AccessKeyId"], key["SecretAccessKey"]),
            "session": signed_headers(
                url, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
            ),
        }
        results: dict[str, dict[str, Any]] = {}
        for concurrency in (1, 8):
            drive(url, callers["root"], b"{}", concurrency, 2.0)  # warm the environments
            rates: dict[str, list[float]] = {k: [] for k in callers}
            errors: dict[str, int] = {k: 0 for k in callers}
            order = list(callers)
            for _ in range(rounds):
                order = order[1:] + order[:1]  # each caller takes each place in turn
                for who in order:
                    headers = callers[who]
                    load = drive(url, headers, b"{}", concurrency, duration)
                    rates[who].append(load.rate)
                    errors[who] += load.errors
            root = statistics.median(rates["root"])
            results[f"c{concurrency}"] = {
                who: {
                    "median_per_s": statistics.median(r),
                    "rounds": r,
                    "errors": errors[who],
                    "vs_root": statistics.median(r) / root,
                }
                for who, r in rates.items()
            }
    print(f"machine: {machine()}")
    for level, row in results.items():
        for who, data in row.items():
            print(
                f"{level:3s} {who:8s} {data['median_per_s']:8.0f} invokes/s (median of {len(data['rounds'])} "
                f"rounds) = {100 * data['vs_root']:5.1f}% of root; errors {data['errors']}; "
                f"rounds {min(data['rounds'])}..{max(data['rounds'])}"
            )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "authz.json").write_text(json.dumps({"machine": machine(), **results}, indent=2))


if __name__ == "__main__":
    main()
