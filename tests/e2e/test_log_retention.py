"""CloudWatch Logs retention: PutRetentionPolicy / DeleteRetentionPolicy through boto3 and the
AWS CLI, shown by DescribeLogGroups, with AWS's errors for bad values and unknown groups."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create


def wait_for_group(logs: Any, group: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(
            g["logGroupName"] == group
            for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        ):
            return
        time.sleep(0.1)
    raise AssertionError(f"{group} never appeared")


def test_retention_policy_roundtrip(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": "def handler(e, c):\n    print('hello')\n    return 1\n"})
    lam.invoke(FunctionName=fn_name, Payload=b"{}")
    logs = server.client("logs")
    group = f"/aws/lambda/{fn_name}"
    wait_for_group(logs, group)

    logs.put_retention_policy(logGroupName=group, retentionInDays=14)
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert described["retentionInDays"] == 14
    server.aws("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "3")
    out = server.aws("logs", "describe-log-groups", "--log-group-name-prefix", group)
    assert json.loads(out.stdout)["logGroups"][0]["retentionInDays"] == 3
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    # The logs are still there.
    assert logs.filter_log_events(logGroupName=group, filterPattern="hello")["events"]


@pytest.mark.parametrize("days", [0, 2, 10, 100000, -1])
def test_bad_retention_values(server: Server, lam: Any, fn_name: str, days: int) -> None:
    create(lam, fn_name, {"app.py": "def handler(e, c):\n    return 1\n"})
    lam.invoke(FunctionName=fn_name, Payload=b"{}")
    logs = server.client("logs")
    group = f"/aws/lambda/{fn_name}"
    wait_for_group(logs, group)
    with pytest.raises(ClientError) as err:
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_retention_on_an_unknown_group(server: Server) -> None:
    logs = server.client("logs")
    for call in (
        lambda: logs.put_retention_policy(logGroupName="/aws/lambda/never-ran", retentionInDays=7),
        lambda: logs.delete_retention_policy(logGroupName="/aws/lambda/never-ran"),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
