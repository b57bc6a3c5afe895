"""Policy evaluation for one account, as AWS's evaluation logic describes it. Pure and fast: the
gateway calls `evaluate` on every request of a caller other than root, with policies parsed
(and their patterns compiled) beforehand by `policy.parse`.

- An explicit Deny in any policy that applies wins.
- Otherwise the request is allowed if an identity-based policy allows it, or if the resource's
  policy allows this principal by name: its ARN, its role's ARN when it is a session of that
  role, its service, or anyone ("*"). A resource statement that names only the account
  ("123456789012", arn:aws:iam::ACCT:root) delegates to the account's own policies: it grants
  nothing by itself in that account (across accounts it is what the other account trusts).
- Across accounts both sides must allow.
- Otherwise the request is implicitly denied.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from stratus.identity.policy import Policy, Principals, Statement

PrincipalKind = Literal["root", "user", "assumed-role", "service"]


@dataclass(frozen=True)
class Principal:
    # arn:aws:iam::ACCT:root | arn:aws:iam::ACCT:user/PATH/NAME |
    # arn:aws:sts::ACCT:assumed-role/ROLE/SESSION | "lambda.amazonaws.com"
    arn: str
    kind: PrincipalKind
    account: str | None  # None for a service principal
    role_arn: str | None = None  # for "assumed-role": arn:aws:iam::ACCT:role/PATH/NAME


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: str  # "lambda:InvokeFunction" (matched case-insensitively)
    resource: str  # an ARN, or "*"
    context: Mapping[str, tuple[str, ...]]  # condition keys, lower-cased ("aws:sourcearn")


# How a statement's Principal element names a principal.
_NOT_NAMED = 0
_ACCOUNT = 1  # only through its account
_NAMED = 2  # itself (its ARN, its role, its service, or anyone)


def _named(principals: Principals, who: Principal) -> int:
    if principals.anyone:
        return _NAMED
    if who.kind == "service":
        return _NAMED if who.arn.lower() in principals.services else _NOT_NAMED
    if who.arn in principals.arns or (who.role_arn is not None and who.role_arn in principals.arns):
        return _NAMED
    if who.account is not None and who.account in principals.accounts:
        return _NAMED if who.kind == "root" else _ACCOUNT
    return _NOT_NAMED


def _excluded(principals: Principals, who: Principal) -> bool:
    """Whether a NotPrincipal element leaves `who` out. AWS checks each identity a request
    carries (the account, then the role, then the session), so the exception holds only when
    the account and the principal itself (or its role) are both listed."""
    if principals.anyone:
        return True
    if who.kind == "service":
        return who.arn.lower() in principals.services
    if who.account is None or who.account not in principals.accounts:
        return False
    if who.kind == "root":
        return True
    return who.arn in principals.arns or (who.role_arn is not None and who.role_arn in principals.arns)


def _level(statement: Statement, who: Principal) -> int:
    principals = statement.principals
    if principals is None:
        return _NOT_NAMED
    if statement.not_principal:
        return _NOT_NAMED if _excluded(principals, who) else _NAMED
    return _named(principals, who)


def evaluate(
    request: Request,
    identity: Sequence[Policy],
    resource: Policy | None = None,
    *,
    resource_account: str | None = None,
    resource_must_allow: bool = False,
) -> Decision:
    """The decision for one request. `resource_must_allow` is for the resources whose own
    policy must allow the principal (by name, or through its account) whatever the identity
    policies say: IAM roles, whose trust policy is that resource policy for sts:AssumeRole."""
    action = request.action.lower()
    service = action.partition(":")[0]
    target = request.resource
    context = request.context
    allowed = False
    for policy in identity:
        for statement in policy.for_service(service):
            if statement.applies(action, target, context):
                if not statement.allow:
                    return Decision.EXPLICIT_DENY
                allowed = True
    who = request.principal
    granted = False  # the resource policy names the principal
    trusted = False  # ... or only its account
    if resource is not None:
        for statement in resource.for_service(service):
            level = _level(statement, who)
            if level == _NOT_NAMED or not statement.applies(action, target, context):
                continue
            if not statement.allow:
                return Decision.EXPLICIT_DENY
            if level == _NAMED:
                granted = True
            else:
                trusted = True
    if resource_must_allow and not (granted or trusted):
        return Decision.IMPLICIT_DENY
    if who.account is None or resource_account is None or who.account == resource_account:
        return Decision.ALLOW if allowed or granted else Decision.IMPLICIT_DENY
    return Decision.ALLOW if allowed and (granted or trusted) else Decision.IMPLICIT_DENY


def trusts(
    trust: Policy,
    principal: Principal,
    context: Mapping[str, tuple[str, ...]],
    action: str = "sts:AssumeRole",
) -> bool:
    """Whether a role's trust policy lets `principal` assume the role (an explicit Deny wins).
    A statement naming the principal's account counts: for such a principal the caller's own
    policies must also allow the action, which is `evaluate`'s part, not this one's. (A role is
    one of the resources whose policy must allow: an identity policy alone never suffices.)"""
    lowered = action.lower()
    allowed = False
    for statement in trust.for_service(lowered.partition(":")[0]):
        if _level(statement, principal) == _NOT_NAMED or not statement.applies(lowered, "*", context):
            continue
        if not statement.allow:
            return False
        allowed = True
    return allowed
