"""IAM through the AWS CLI v2 (Debian's /usr/bin/aws), which speaks IAM's query protocol as
every IAM client does: documents from files, listings, attachments, access keys, and IAM's
errors as the CLI prints them."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import AWS_V2, LAMBDA_TRUST, Server

BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

pytestmark = pytest.mark.skipif(not Path(AWS_V2).exists(), reason=f"the AWS CLI v2 is not at {AWS_V2}")


def iam(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return server.aws("--output", "json", "iam", *args, check=False, cli=AWS_V2)


def ok(server: Server, *args: str) -> Any:
    done = iam(server, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_roles_policies_and_keys_through_the_cli(server: Server, tmp_path: Path) -> None:
    role, user, policy_name = (f"{p}-{uuid.uuid4().hex[:8]}" for p in ("cli-role", "cli-user", "cli-pol"))
    trust = tmp_path / "trust.json"
    trust.write_text(LAMBDA_TRUST)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(document))

    created = ok(
        server,
        "create-role",
        "--role-name",
        role,
        "--assume-role-policy-document",
        f"file://{trust}",
        "--description",
        "from the cli",
    )["Role"]
    assert created["RoleName"] == role and created["RoleId"].startswith("AROA")
    assert created["AssumeRolePolicyDocument"] == json.loads(LAMBDA_TRUST)
    assert role in [r["RoleName"] for r in ok(server, "list-roles")["Roles"]]

    policy = ok(
        server, "create-policy", "--policy-name", policy_name, "--policy-document", f"file://{policy_file}"
    )
    arn = policy["Policy"]["Arn"]
    ok(server, "attach-role-policy", "--role-name", role, "--policy-arn", arn)
    ok(server, "attach-role-policy", "--role-name", role, "--policy-arn", BASIC)
    attached = ok(server, "list-attached-role-policies", "--role-name", role)["AttachedPolicies"]
    assert {p["PolicyArn"] for p in attached} == {arn, BASIC}
    version = ok(server, "get-policy-version", "--policy-arn", arn, "--version-id", "v1")["PolicyVersion"]
    assert version["Document"] == document
    ok(
        server,
        "put-role-policy",
        "--role-name",
        role,
        "--policy-name",
        "inline",
        "--policy-document",
        f"file://{policy_file}",
    )
    assert (
        ok(server, "get-role-policy", "--role-name", role, "--policy-name", "inline")["PolicyDocument"]
        == document
    )

    refused = iam(server, "delete-role", "--role-name", role)
    assert refused.returncode != 0
    assert "(DeleteConflict)" in refused.stderr and "must delete policies first" in refused.stderr

    ok(server, "create-user", "--user-name", user)
    key = ok(server, "create-access-key", "--user-name", user)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    listed = ok(server, "list-access-keys", "--user-name", user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    ok(
        server,
        "update-access-key",
        "--user-name",
        user,
        "--access-key-id",
        key["AccessKeyId"],
        "--status",
        "Inactive",
    )
    listed = ok(server, "list-access-keys", "--user-name", user)["AccessKeyMetadata"]
    assert listed[0]["Status"] == "Inactive"

    # Clean up, in the order IAM requires.
    ok(server, "delete-access-key", "--user-name", user, "--access-key-id", key["AccessKeyId"])
    ok(server, "delete-user", "--user-name", user)
    ok(server, "delete-role-policy", "--role-name", role, "--policy-name", "inline")
    for each in (arn, BASIC):
        ok(server, "detach-role-policy", "--role-name", role, "--policy-arn", each)
    ok(server, "delete-role", "--role-name", role)
    ok(server, "delete-policy", "--policy-arn", arn)
    gone = iam(server, "get-role", "--role-name", role)
    assert gone.returncode != 0 and "(NoSuchEntity)" in gone.stderr


def test_cli_errors(server: Server, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"')
    done = iam(
        server,
        "create-role",
        "--role-name",
        "cli-malformed",
        "--assume-role-policy-document",
        f"file://{bad}",
    )
    assert done.returncode != 0 and "(MalformedPolicyDocument)" in done.stderr
    unknown = "arn:aws:iam::000000000000:policy/cli-no-such-policy"
    done = iam(server, "attach-role-policy", "--role-name", "test-role", "--policy-arn", unknown)
    assert done.returncode != 0
    assert (
        "(NoSuchEntity)" in done.stderr
        and f"Policy {unknown} does not exist or is not attachable." in done.stderr
    )
    # Scope AWS lists AWS's managed policies under their own ARNs.
    aws = ok(server, "list-policies", "--scope", "AWS")["Policies"]
    assert BASIC in [p["Arn"] for p in aws]
