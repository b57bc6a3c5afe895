"""What the CloudWatch Logs handlers read, and the checks they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stratus.errors import InvalidParameterValue
from stratus.observe.loggroups import LogGroups, missing_group
from stratus.observe.logstore import LogStore


def _no_home(group: str) -> str | None:
    return None


@dataclass(frozen=True)
class LogsContext:
    """The log store (lines), the created groups and streams, and the account their ARNs name;
    and, for authorization, the home region of a function's log group
    (`Registry.log_group_home`)."""

    logs: LogStore
    groups: LogGroups
    account_id: str
    group_home: Callable[[str], str | None] = _no_home

    def exists(self, group: str) -> bool:
        return self.groups.get(group) is not None or bool(self.logs.streams(group))


def group_arn(region: str, account: str, group: str) -> str:
    """A log group's ARN with the trailing `:*` (DescribeLogGroups' `arn`)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:*"


def require_group(context: LogsContext, params: dict[str, Any]) -> str:
    # Required by the model for some operations only: others also take a logGroupIdentifier,
    # which Stratus does not serve, so the name is checked here.
    group = params.get("logGroupName")
    if not isinstance(group, str) or not group:
        raise InvalidParameterValue("logGroupName is required.")
    if not context.exists(group):
        raise missing_group()
    return group
