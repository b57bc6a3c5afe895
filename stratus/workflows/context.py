"""The context object (`$$`) of a state, as Step Functions fills it in. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stratus.workflows.model import Execution


def iso(ms: int) -> str:
    """Step Functions' timestamp form: ISO 8601 in UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def state_context(
    record: Execution,
    input_value: Any,
    state_name: str,
    entered_ms: int,
    retry_count: int = 0,
    *,
    token: str | None = None,
    item: tuple[int, Any] | None = None,
) -> dict[str, Any]:
    machine_name = record.machine_arn.rpartition(":")[2]
    context: dict[str, Any] = {
        "Execution": {
            "Id": record.arn,
            "Input": input_value,
            "Name": record.name,
            "RoleArn": record.role_arn,
            "StartTime": iso(record.start_ms),
            "RedriveCount": 0,
        },
        "State": {"EnteredTime": iso(entered_ms), "Name": state_name, "RetryCount": retry_count},
        "StateMachine": {"Id": record.machine_arn, "Name": machine_name},
    }
    if token is not None:
        context["Task"] = {"Token": token}
    if item is not None:
        context["Map"] = {"Item": {"Index": item[0], "Value": item[1]}}
    return context
