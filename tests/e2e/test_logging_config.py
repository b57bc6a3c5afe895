"""LoggingConfig end to end: LogFormat Text or JSON, ApplicationLogLevel and SystemLogLevel as
Lambda applies them (Python's official runtime client, Stratus's Node client, the platform's own
lines), a custom LogGroup, and AWS's errors for bad settings."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create

PYTHON_APP: dict[str, str | bytes] = {
    "app.py": """
        import logging
        logger = logging.getLogger()
        def handler(event, context):
            logger.debug("debug line")
            logger.info("info line")
            logger.warning("warning line")
            logger.error("error line")
            print("a plain print")
            return "ok"
        """
}
NODE_APP: dict[str, str | bytes] = {
    "index.js": """
        exports.handler = async () => {
            console.debug("debug line");
            console.info("info line");
            console.warn("warning line");
            console.error(new TypeError("error line"));
            return "ok";
        };
        """
}


def tail(lam: Any, name: str) -> list[str]:
    out = lam.invoke(FunctionName=name, LogType="Tail", Payload=b"{}")
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    return base64.b64decode(out["LogResult"]).decode().splitlines()


def as_json(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_json_format_with_levels_for_python(lam: Any, fn_name: str) -> None:
    create(
        lam,
        fn_name,
        PYTHON_APP,
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO"},
    )
    config = lam.get_function_configuration(FunctionName=fn_name)["LoggingConfig"]
    assert config == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "WARN",
        "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{fn_name}",
    }
    lines = tail(lam, fn_name)
    events = as_json(lines)
    application = [e for e in events if "level" in e]
    # Python's level names, as the official runtime client writes them
    assert [(e["level"], e["message"]) for e in application] == [
        ("WARNING", "warning line"),
        ("ERROR", "error line"),
    ]
    assert all(e["requestId"] for e in application)
    assert "a plain print" in lines  # stdout is not structured, as on Lambda
    platform = {e["type"]: e["record"] for e in events if "type" in e}
    assert set(platform) == {"platform.start", "platform.report"}
    report = platform["platform.report"]
    assert report["status"] == "success" and report["metrics"]["billedDurationMs"] >= 1
    assert report["metrics"]["memorySizeMB"] == 128
    assert not any(line.startswith(("START", "END", "REPORT")) for line in lines)


def test_system_log_level_filters_the_platform_lines(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, PYTHON_APP, LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    events = as_json(tail(lam, fn_name))
    assert not [e for e in events if "type" in e]
    assert {e["level"] for e in events} == {"INFO", "WARNING", "ERROR"}  # ApplicationLogLevel INFO
    lam.update_function_configuration(
        FunctionName=fn_name, LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "DEBUG"}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    types = [e["type"] for e in as_json(tail(lam, fn_name)) if "type" in e]
    assert types == ["platform.start", "platform.runtimeDone", "platform.report"]


def test_json_format_with_levels_for_node(lam: Any, fn_name: str) -> None:
    create(
        lam,
        fn_name,
        NODE_APP,
        Runtime="nodejs20.x",
        Handler="index.handler",
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
    )
    application = [e for e in as_json(tail(lam, fn_name)) if "level" in e]
    assert [(e["level"], e["message"].splitlines()[0]) for e in application] == [
        ("WARN", "warning line"),
        ("ERROR", "TypeError: error line"),
    ]
    assert application[1]["errorType"] == "TypeError" and application[1]["errorMessage"] == "error line"


def test_back_to_text_clears_the_levels(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, PYTHON_APP, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "ERROR"})
    lam.update_function_configuration(FunctionName=fn_name, LoggingConfig={"LogFormat": "Text"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    config = lam.get_function_configuration(FunctionName=fn_name)["LoggingConfig"]
    assert config == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fn_name}"}
    lines = tail(lam, fn_name)
    assert lines[0].startswith("START RequestId:") and lines[-1].startswith("REPORT RequestId:")
    # ERROR no longer filters: Python's own default (WARNING) applies, as on Lambda's Text format
    assert any("warning line" in line and not line.startswith("{") for line in lines)


def test_a_custom_log_group_receives_the_logs(server: Server, lam: Any, fn_name: str) -> None:
    group = f"/custom/{fn_name}"
    create(lam, fn_name, PYTHON_APP, LoggingConfig={"LogGroup": group})
    assert lam.get_function_configuration(FunctionName=fn_name)["LoggingConfig"]["LogGroup"] == group
    lam.invoke(FunctionName=fn_name, Payload=b"{}")
    logs = server.client("logs")
    deadline = time.monotonic() + 10
    while True:
        events = logs.filter_log_events(logGroupName=group, filterPattern="warning")["events"]
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert events and "warning line" in events[0]["message"]
    printed = server.cli("logs", fn_name)  # the CLI reads the function's own group
    assert printed.returncode == 0 and "warning line" in printed.stdout, printed.stderr


@pytest.mark.parametrize(
    ("logging_config", "code"),
    [
        ({"LogFormat": "XML"}, "ValidationException"),
        ({"LogFormat": "JSON", "ApplicationLogLevel": "LOUD"}, "ValidationException"),
        ({"LogFormat": "JSON", "SystemLogLevel": "ERROR"}, "ValidationException"),
        ({"ApplicationLogLevel": "DEBUG"}, "InvalidParameterValueException"),
        ({"LogFormat": "Text", "SystemLogLevel": "WARN"}, "InvalidParameterValueException"),
        ({"LogGroup": "has spaces"}, "ValidationException"),
        ({"LogGroup": "x" * 513}, "ValidationException"),
    ],
)
def test_bad_logging_configs_are_refused(
    lam: Any, fn_name: str, logging_config: dict[str, str], code: str
) -> None:
    create(lam, fn_name, PYTHON_APP)
    with pytest.raises(ClientError) as err:
        lam.update_function_configuration(FunctionName=fn_name, LoggingConfig=logging_config)
    assert err.value.response["Error"]["Code"] == code
    assert lam.get_function_configuration(FunctionName=fn_name)["LoggingConfig"]["LogFormat"] == "Text"
