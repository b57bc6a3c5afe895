"""Queue attributes as SQS reads, checks and answers them (pure): the settable ones with their
ranges and defaults, the FIFO-only ones, RedrivePolicy and RedriveAllowPolicy as JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stratus.queues.errors import InvalidAttributeName, InvalidAttributeValue
from stratus.queues.model import split_arn

# name -> (lowest, highest, default) of the integer attributes.
RANGES: dict[str, tuple[int, int, int]] = {
    "DelaySeconds": (0, 900, 0),
    "MaximumMessageSize": (1024, 1_048_576, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600, 345_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20, 0),
    "VisibilityTimeout": (0, 43_200, 30),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400, 300),
}
# Kept as given (server-side encryption and access policy are accepted, not enforced).
FREE_TEXT = ("Policy", "KmsMasterKeyId")
BOOLEANS = ("SqsManagedSseEnabled",)
FIFO_ONLY = ("ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
REDRIVE = ("RedrivePolicy", "RedriveAllowPolicy")
SETTABLE = frozenset({*RANGES, *FREE_TEXT, *BOOLEANS, *FIFO_ONLY, *REDRIVE, "FifoQueue"})
# What GetQueueAttributes computes on each call.
COMPUTED = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
READABLE = frozenset({*SETTABLE, *COMPUTED})
MAX_RECEIVE_COUNT = 1000


def defaults(fifo: bool) -> dict[str, str]:
    """The attributes a new queue has before the caller's are applied."""
    out = {
        name: str(default)
        for name, (_, _, default) in RANGES.items()
        if name != "KmsDataKeyReusePeriodSeconds"
    }
    out["SqsManagedSseEnabled"] = "true"
    if fifo:
        out.update(
            FifoQueue="true",
            ContentBasedDeduplication="false",
            DeduplicationScope="queue",
            FifoThroughputLimit="perQueue",
        )
    return out


def _invalid(name: str, reason: str = "") -> InvalidAttributeValue:
    return InvalidAttributeValue(
        f"Invalid value for the parameter {name}.{' Reason: ' + reason if reason else ''}"
    )


def _boolean(name: str, value: str) -> str:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise _invalid(name)
    return lowered


def redrive_policy(text: str) -> str:
    """A RedrivePolicy as SQS keeps it (compact JSON, maxReceiveCount a number), or "" to
    remove it."""
    if text.strip() in ("", "{}"):
        return ""
    try:
        policy = json.loads(text)
    except ValueError:
        raise _invalid("RedrivePolicy", "Redrive policy is not a valid JSON map.") from None
    if not isinstance(policy, dict):
        raise _invalid("RedrivePolicy", "Redrive policy is not a valid JSON map.")
    target, count = policy.get("deadLetterTargetArn"), policy.get("maxReceiveCount")
    if not isinstance(target, str) or split_arn(target) is None:
        raise _invalid("RedrivePolicy", "Invalid value for deadLetterTargetArn.")
    try:
        number = int(str(count))
    except ValueError:
        raise _invalid("RedrivePolicy", "Invalid value for maxReceiveCount.") from None
    if not 1 <= number <= MAX_RECEIVE_COUNT:
        raise _invalid(
            "RedrivePolicy",
            f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both inclusive.",
        )
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": number}, separators=(",", ":"))


def redrive_allow_policy(text: str) -> str:
    if text.strip() in ("", "{}"):
        return ""
    try:
        policy = json.loads(text)
    except ValueError:
        raise _invalid("RedriveAllowPolicy", "Redrive allow policy is not a valid JSON map.") from None
    if not isinstance(policy, dict) or policy.get("redrivePermission") not in (
        "allowAll",
        "denyAll",
        "byQueue",
    ):
        raise _invalid("RedriveAllowPolicy", "Invalid value for redrivePermission.")
    sources = policy.get("sourceQueueArns")
    if policy["redrivePermission"] == "byQueue":
        if (
            not isinstance(sources, list)
            or not 1 <= len(sources) <= 10
            or not all(isinstance(s, str) and split_arn(s) for s in sources)
        ):
            raise _invalid("RedriveAllowPolicy", "sourceQueueArns must name 1 to 10 queue ARNs for byQueue.")
    elif sources is not None:
        raise _invalid("RedriveAllowPolicy", "sourceQueueArns is allowed only with byQueue.")
    return json.dumps(policy, separators=(",", ":"))


def allows_source(allow_policy: str | None, source_arn: str) -> bool:
    """Whether a dead-letter queue's RedriveAllowPolicy lets `source_arn` name it."""
    if not allow_policy:
        return True
    policy: dict[str, Any] = json.loads(allow_policy)
    permission = policy.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in policy.get("sourceQueueArns", [])
    return True


def checked(given: Mapping[str, str], fifo: bool, *, creating: bool) -> dict[str, str]:
    """The caller's attributes, checked and in SQS's spelling of their values."""
    out: dict[str, str] = {}
    for name, raw in given.items():
        value = str(raw)
        if name not in SETTABLE:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        if name in RANGES:
            low, high, _ = RANGES[name]
            try:
                number = int(value.strip())
            except ValueError:
                raise _invalid(name) from None
            if not low <= number <= high:
                raise _invalid(name)
            out[name] = str(number)
        elif name == "FifoQueue":
            if not creating:
                raise InvalidAttributeName(f"Unknown Attribute {name}.")  # set only at creation
            if _boolean(name, value) != ("true" if fifo else "false"):
                raise _invalid(name)
            if fifo:
                out[name] = "true"
        elif name in FIFO_ONLY:
            if not fifo:
                raise InvalidAttributeName(f"Unknown Attribute {name}.")
            if name == "ContentBasedDeduplication":
                out[name] = _boolean(name, value)
            elif name == "DeduplicationScope":
                if value not in ("queue", "messageGroup"):
                    raise _invalid(name)
                out[name] = value
            else:
                if value not in ("perQueue", "perMessageGroupId"):
                    raise _invalid(name)
                out[name] = value
        elif name in BOOLEANS:
            out[name] = _boolean(name, value)
        elif name == "RedrivePolicy":
            out[name] = redrive_policy(value)
        elif name == "RedriveAllowPolicy":
            out[name] = redrive_allow_policy(value)
        else:
            out[name] = value
    return out


def apply(current: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    """`current` with `changes`; an empty policy removes it."""
    out = dict(current)
    for name, value in changes.items():
        if value == "" and name in (*REDRIVE, *FREE_TEXT):
            out.pop(name, None)
        else:
            out[name] = value
    return out


def same(current: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """CreateQueue of an existing name: the same queue when every attribute asked for has the
    value the queue has (an idempotent create), else QueueNameExists."""
    return all(current.get(name, "") == value for name, value in wanted.items())
