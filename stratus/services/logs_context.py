"""What the CloudWatch Logs handlers read, and the checks they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stratus.errors import InvalidParameterValue
from stratus.observe.loggroups import LogGroups, missing_group
from stratus.observe.logstore import LogStore


@dataclass(frozen=True)
class LogsContext:
    """The log store (lines), the created groups and streams, and the account their ARNs name.
    Groups are regional: each handler reads and writes the groups of the request's region."""

    logs: LogStore
    groups: LogGroups
    account_id: str

    def exists(self, region: str, group: str) -> bool:
        return self.groups.get(region, group) is not None or bool(self.logs.streams(region, group))


def group_arn(region: str, account: str, group: str) -> str:
    """A log group's ARN with the trailing `:*` (DescribeLogGroups' `arn`)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:*"


def require_group(context: LogsContext, params: dict[str, Any], region: str) -> str:
    # Required by the model for some operations only: others also take a logGroupIdentifier,
    # which Stratus does not serve, so the name is checked here.
    group = params.get("logGroupName")
    if not isinstance(group, str) or not group:
        raise InvalidParameterValue("logGroupName is required.")
    if not context.exists(region, group):
        raise missing_group()
    return group
