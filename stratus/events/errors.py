"""EventBridge's own errors, with the codes EventBridge answers (botocore raises the same
classes as against AWS). All are `StratusError`s, mapped to the wire in the one place."""

from __future__ import annotations

from stratus.errors import ClientError


class InvalidEventPattern(ClientError):
    """A rule's or TestEventPattern's EventPattern that is not a valid pattern."""

    code = "InvalidEventPatternException"


class ResourceAlreadyExists(ClientError):
    code = "ResourceAlreadyExistsException"


class LimitExceeded(ClientError):
    code = "LimitExceededException"


class ManagedRule(ClientError):
    code = "ManagedRuleException"
