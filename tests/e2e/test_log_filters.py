"""FilterLogEvents with JSON filter patterns, through boto3, and AWS's error for a bad one."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create

APP: dict[str, str | bytes] = {
    "app.py": """
        import json
        def handler(event, context):
            print(json.dumps({"level": "ERROR", "latency": 250, "user": {"id": 7}}))
            print(json.dumps({"level": "INFO", "latency": 12, "user": {"id": 8}}))
            print("plain text ERROR line")
            return 1
        """
}


def filtered(logs: Any, group: str, pattern: str) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException" or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        return [e["message"].strip() for e in events]


def test_json_filter_patterns(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    lam.invoke(FunctionName=fn_name, Payload=b"{}")
    logs = server.client("logs")
    group = f"/aws/lambda/{fn_name}"
    errors = filtered(logs, group, '{ $.level = "ERROR" }')
    assert len(errors) == 1 and '"latency": 250' in errors[0]
    slow = filtered(logs, group, "{ $.latency > 100 && $.user.id = 7 }")
    assert len(slow) == 1
    either = filtered(logs, group, '{ $.level = "INFO" || $.latency > 200 }')
    assert len(either) == 2
    assert len(filtered(logs, group, "ERROR")) == 2  # a term matches the text line too
    assert filtered(logs, group, "plain -ERROR") == []


@pytest.mark.parametrize("pattern", ['{ $.level = "ERROR"', "{ $.latency > }", '"unterminated'])
def test_malformed_pattern_is_invalid_parameter(server: Server, lam: Any, fn_name: str, pattern: str) -> None:
    create(lam, fn_name, APP)
    lam.invoke(FunctionName=fn_name, Payload=b"{}")
    logs = server.client("logs")
    filtered(logs, f"/aws/lambda/{fn_name}", "")  # the group exists
    with pytest.raises(ClientError) as err:
        logs.filter_log_events(logGroupName=f"/aws/lambda/{fn_name}", filterPattern=pattern)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "Invalid filter pattern" in err.value.response["Error"]["Message"]
