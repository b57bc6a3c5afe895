"""AWS STS (query protocol, signed for "sts"), declared as `SERVICE`: who the caller is, and
temporary credentials (a role's session, or a session of the caller's own).

Whether a caller may assume a role is decided by the gateway's one check, like every other
authorization: the action is sts:AssumeRole on the role's ARN, and the role's trust policy is
the resource policy it is evaluated with (`_trust_policy`), so a trust policy that names the
caller allows by itself and one that names the account delegates to the caller's own policies,
as on AWS. Root may assume any role (root is allowed everything here; AWS refuses root
AssumeRole calls altogether).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stratus.errors import AccessDenied, ValidationError
from stratus.identity.directory import Directory
from stratus.identity.evaluate import trusts
from stratus.identity.guard import current_caller
from stratus.identity.keyring import assumed_role_arn
from stratus.identity.sessions import Holder, Sessions, TemporaryCredentials
from stratus.wire.service import Service
from stratus.wire.signing import Signing

DEFAULT_ROLE_SESSION_S = 3600
# A role session that assumes another role gets at most an hour (AWS's role chaining limit).
CHAINED_MAX_S = 3600
MIN_SESSION_S = 900
DEFAULT_USER_SESSION_S = 43200
MAX_USER_SESSION_S = 129600
ROOT_MAX_SESSION_S = 3600


@dataclass(frozen=True)
class StsContext:
    directory: Directory
    sessions: Sessions
    account_id: str
    # STRATUS_IAM=off: no trust policy is consulted either.
    enforce: bool = True
    clock: Callable[[], float] = time.time


def _credentials(issued: TemporaryCredentials) -> dict[str, Any]:
    return {
        "AccessKeyId": issued.access_key_id,
        "SecretAccessKey": issued.secret_access_key,
        "SessionToken": issued.session_token,
        "Expiration": issued.expiration,
    }


async def get_caller_identity(ctx: StsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    caller = current_caller()
    return {"UserId": caller.user_id, "Account": ctx.account_id, "Arn": caller.principal.arn}


async def assume_role(ctx: StsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    caller = current_caller()
    role_arn = params["RoleArn"]
    role = ctx.directory.role_by_arn(role_arn)
    if role is None:
        # AWS does not tell a caller whether a role it may not assume exists.
        raise AccessDenied(
            f"User: {caller.principal.arn} is not authorized to perform: sts:AssumeRole "
            f"on resource: {role_arn}"
        )
    if ctx.enforce and not caller.is_root and not trusts(role.trust, caller.principal, {}):
        # The trust policy must name the caller (or its account, which the gateway's check
        # already held to the caller's own policies): an identity policy alone never suffices.
        raise AccessDenied(
            f"User: {caller.principal.arn} is not authorized to perform: sts:AssumeRole "
            f"on resource: {role_arn}"
        )
    for unsupported in (
        "Policy",
        "PolicyArns",
        "Tags",
        "TransitiveTagKeys",
        "SerialNumber",
        "ProvidedContexts",
    ):
        if params.get(unsupported):
            raise ValidationError(f"{unsupported} is not supported by Stratus's AssumeRole.")
    most = CHAINED_MAX_S if caller.principal.kind == "assumed-role" else role.max_session_duration
    duration = int(params.get("DurationSeconds", min(DEFAULT_ROLE_SESSION_S, most)))
    if duration > most:
        if caller.principal.kind == "assumed-role":
            raise ValidationError(
                "The requested DurationSeconds exceeds the 1 hour session limit "
                "for roles assumed by role chaining."
            )
        raise ValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    session_name = params["RoleSessionName"]
    issued = ctx.sessions.issue("assumed-role", role.arn, role.role_id, session_name, duration, ctx.clock())
    result: dict[str, Any] = {
        "Credentials": _credentials(issued),
        "AssumedRoleUser": {
            "AssumedRoleId": f"{role.role_id}:{session_name}",
            "Arn": assumed_role_arn(ctx.account_id, role.name, session_name),
        },
    }
    if params.get("SourceIdentity"):
        result["SourceIdentity"] = params["SourceIdentity"]
    return result


async def get_session_token(ctx: StsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    caller = current_caller()
    if caller.principal.kind == "assumed-role" or caller.session is not None:
        raise AccessDenied("Cannot call GetSessionToken with session credentials")
    holder: Holder = "root" if caller.is_root else "user"
    most = ROOT_MAX_SESSION_S if caller.is_root else MAX_USER_SESSION_S
    arn, subject_id = caller.principal.arn, caller.user_id
    duration = int(params.get("DurationSeconds", min(DEFAULT_USER_SESSION_S, most)))
    if duration > most:
        raise ValidationError(
            f"The requested DurationSeconds exceeds the {most} seconds allowed for a session of this caller."
        )
    name = caller.user_name or "root"
    issued = ctx.sessions.issue(holder, arn, subject_id, name, duration, ctx.clock())
    return {"Credentials": _credentials(issued)}


def _assume_role_resource(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "sts:AssumeRole", str(params.get("RoleArn", "*"))


def _trust_policy(ctx: StsContext, resource: str) -> str | None:
    role = ctx.directory.role_by_arn(resource)
    return role.trust.text if role is not None else None


SERVICE = Service[StsContext](
    model="sts",
    signing=Signing("sts", query_protocol=True),
    handlers={
        "GetCallerIdentity": get_caller_identity,
        "AssumeRole": assume_role,
        "GetSessionToken": get_session_token,
    },
    validation_error="ValidationError",
    protocols=("query",),
    authorization={"AssumeRole": _assume_role_resource},
    resource_policy=_trust_policy,
    # AWS requires no permission for these: any valid credentials may ask.
    public_operations=frozenset({"GetCallerIdentity", "GetSessionToken"}),
)
