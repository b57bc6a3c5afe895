"""State machines and executions as the store keeps them (frozen records), their ARNs, and
the names Step Functions accepts. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stratus.workflows.faults import InvalidArn, InvalidName

STANDARD = "STANDARD"
EXPRESS = "EXPRESS"
RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED = "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"
STATUSES = (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)
# Standard executions' names stay taken this long after they close, as on AWS.
NAME_REUSE_MS = 90 * 86400 * 1000

# Step Functions' name rule: 1-80 characters, no whitespace, brackets, wildcards, these
# punctuation marks or control characters.
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def check_name(name: str) -> str:
    if not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise InvalidName(f"Invalid Name: '{name}'")
    return name


def machine_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:stateMachine:{name}"


def execution_arn(machine: str, name: str, *, express_id: str | None = None) -> str:
    """A Standard execution's ARN, or an Express one's (which AWS gives a kind of its own and a
    unique id, since Express names are not kept)."""
    head, _, machine_name = machine.rpartition(":stateMachine:")
    if express_id is not None:
        return f"{head}:express:{machine_name}:{name}:{express_id}"
    return f"{head}:execution:{machine_name}:{name}"


_MACHINE = re.compile(r"^arn:aws[\w-]*:states:([a-z0-9-]+):(\d{12}):stateMachine:([^:]+)$")
_EXECUTION = re.compile(
    r"^arn:aws[\w-]*:states:([a-z0-9-]+):(\d{12}):(execution|express):([^:]+):([^:]+)(?::[^:]+)?$"
)


def parse_machine_arn(arn: str) -> tuple[str, str, str]:
    """(region, account, name) of a state machine ARN; InvalidArn otherwise."""
    m = _MACHINE.match(arn)
    if m is None:
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
    return m.group(1), m.group(2), m.group(3)


def parse_execution_arn(arn: str) -> tuple[str, str, str, str]:
    """(region, account, state machine name, execution name) of an execution ARN."""
    m = _EXECUTION.match(arn)
    if m is None:
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
    return m.group(1), m.group(2), m.group(4), m.group(5)


def machine_of_execution(arn: str) -> str:
    region, account, machine, _ = parse_execution_arn(arn)
    return machine_arn(region, account, machine)


@dataclass(frozen=True)
class StateMachine:
    arn: str
    name: str
    region: str
    type: str
    definition: str
    role_arn: str
    created_ms: int
    logging: dict[str, Any] = field(default_factory=dict)
    tracing: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    revision_id: str = ""
    updated_ms: int | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "name": self.name,
            "region": self.region,
            "type": self.type,
            "definition": self.definition,
            "role_arn": self.role_arn,
            "created_ms": self.created_ms,
            "logging": self.logging,
            "tracing": self.tracing,
            "description": self.description,
            "revision_id": self.revision_id,
            "updated_ms": self.updated_ms,
            "tags": self.tags,
        }

    @staticmethod
    def from_row(row: dict[str, Any]) -> StateMachine:
        return StateMachine(**row)


@dataclass(frozen=True)
class Execution:
    """An execution's record: what DescribeExecution answers (the history is separate)."""

    arn: str
    machine_arn: str
    name: str
    region: str
    type: str
    status: str
    input: str
    role_arn: str
    definition: str  # the definition it runs (DescribeStateMachineForExecution)
    start_ms: int
    stop_ms: int | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    deadline_ms: int | None = None  # the state machine's TimeoutSeconds, from the start
    trace_header: str | None = None

    def to_row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @staticmethod
    def from_row(row: dict[str, Any]) -> Execution:
        return Execution(**row)
