"""The official awslambdaric, unchanged (its native client over the HTTP Runtime API), in each way
Stratus can run it: the fully isolated backend without the private channel, and the process
backend. The default path (the private channel) is what every other end-to-end test drives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import create

APP = """
import os, time, ctypes

def handler(event, context):
    action = event.get("action")
    if action == "raise":
        raise ValueError("boom")
    if action == "exit":
        os._exit(3)
    if action == "sleep":
        time.sleep(5)
    return {"echo": event, "remaining": context.get_remaining_time_in_millis(),
            "api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
"""


@pytest.mark.parametrize(
    "settings",
    [{"STRATUS_FAST_CHANNEL": "0"}, {"STRATUS_ISOLATION": "process"}],
    ids=["linux-http", "process"],
)
def test_awslambdaric_over_http(fresh_server: Any, fn_name: str, settings: dict[str, str]) -> None:
    srv = fresh_server(**settings)
    lam = srv.client()
    create(lam, fn_name, {"app.py": APP}, Timeout=1)

    out = lam.invoke(FunctionName=fn_name, Payload=b'{"x": 1}')
    assert "FunctionError" not in out
    body = json.loads(out["Payload"].read())
    assert body["echo"] == {"x": 1} and 0 < body["remaining"] <= 1000

    err = lam.invoke(FunctionName=fn_name, Payload=b'{"action": "raise"}')
    assert err["FunctionError"] == "Unhandled"
    assert json.loads(err["Payload"].read())["errorType"] == "ValueError"

    crash = lam.invoke(FunctionName=fn_name, Payload=b'{"action": "exit"}')
    assert json.loads(crash["Payload"].read())["errorType"] == "Runtime.ExitError"

    slow = lam.invoke(FunctionName=fn_name, Payload=b'{"action": "sleep"}')
    assert json.loads(slow["Payload"].read())["errorType"] == "Sandbox.Timedout"

    again = lam.invoke(FunctionName=fn_name, Payload=b"{}")
    assert "FunctionError" not in again
    isolation = "process" if settings.get("STRATUS_ISOLATION") == "process" else "linux"
    assert f"isolation:         {isolation}" in srv.output()
