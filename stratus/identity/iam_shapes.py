"""What the IAM API's handlers share: their context, the wire shapes of IAM's entities (as
botocore's "iam" model names their members), pagination and the caller.

IAM returns policy documents URL-encoded (`quoted`); botocore decodes them back, so boto3 and
the AWS CLI get a dict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from stratus.identity.directory import Directory
from stratus.identity.guard import CALLER
from stratus.identity.iam_entities import (
    Group,
    IamValidationError,
    InvalidInput,
    ManagedPolicy,
    PolicyVersion,
    Role,
    Tags,
    User,
    check_tag_keys,
)
from stratus.identity.keyring import Caller

T = TypeVar("T")
DEFAULT_MAX_ITEMS = 100


@dataclass(frozen=True)
class IamContext:
    """What the IAM handlers read and change: the directory (the one owner of IAM state)."""

    directory: Directory
    account_id: str


def caller() -> Caller | None:
    """The signer of the request being served (None outside one). The gateway sets it for
    every dispatch; operations that default to the caller (GetUser, CreateAccessKey without
    UserName) read it here."""
    return CALLER.get()


def caller_user_name(ctx: IamContext, params: dict[str, Any]) -> str:
    """`UserName`, or the calling IAM user's own name where the operation allows leaving it out
    (IAM answers non-user callers with a ValidationError)."""
    name = params.get("UserName")
    if name:
        return str(name)
    who = caller()
    if who is not None and who.user_name is not None:
        return who.user_name
    raise IamValidationError("Must specify userName when calling with non-User credentials")


def quoted(text: str) -> str:
    return quote(text, safe="")


def tags_in(params: dict[str, Any]) -> Tags:
    given = params.get("Tags") or []
    check_tag_keys(given)
    return tuple((t["Key"], t.get("Value", "")) for t in given)


def tags_out(tags: Tags) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


def unsupported(params: dict[str, Any], *names: str) -> None:
    for name in names:
        if params.get(name) is not None:
            raise InvalidInput(f"{name} is not supported by Stratus.")


def role_shape(role: Role, *, listed: bool = False) -> dict[str, Any]:
    """A Role as GetRole answers it; ListRoles leaves out tags and RoleLastUsed, as IAM does."""
    shape: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.create_date,
        "AssumeRolePolicyDocument": quoted(role.trust.text),
        "MaxSessionDuration": role.max_session_duration,
    }
    if role.description is not None:
        shape["Description"] = role.description
    if not listed:
        if role.tags:
            shape["Tags"] = tags_out(role.tags)
        shape["RoleLastUsed"] = {}
    return shape


def user_shape(user: User, *, listed: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.user_id,
        "Arn": user.arn,
        "CreateDate": user.create_date,
    }
    if user.tags and not listed:
        shape["Tags"] = tags_out(user.tags)
    return shape


def group_shape(group: Group) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.group_id,
        "Arn": group.arn,
        "CreateDate": group.create_date,
    }


def policy_shape(policy: ManagedPolicy, attachments: int, *, listed: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.policy_id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version_id,
        "AttachmentCount": attachments,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": policy.create_date,
        "UpdateDate": policy.update_date,
    }
    if policy.description and not listed:  # ListPolicies leaves descriptions out, as IAM does
        shape["Description"] = policy.description
    if policy.tags and not listed:
        shape["Tags"] = tags_out(policy.tags)
    return shape


def version_shape(version: PolicyVersion, default_id: str, *, document: bool = True) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == default_id,
        "CreateDate": version.create_date,
    }
    if document:
        shape["Document"] = quoted(version.document.text)
    return shape


def path_prefixed(items: Sequence[T], prefix: str | None, path: Callable[[T], str]) -> list[T]:
    return [i for i in items if prefix is None or path(i).startswith(prefix)]


def page(
    items: Sequence[T],
    key: Callable[[T], str],
    params: dict[str, Any],
    member: str,
    shape: Callable[[T], Any],
) -> dict[str, Any]:
    """One page of a listing in `key` order, as IAM pages: MaxItems (100 by default) from the
    opaque Marker of the page before, with IsTruncated and the next Marker. The marker is the
    key of the first item not yet returned."""
    ordered = sorted(items, key=key)
    marker = params.get("Marker")
    if marker is not None:
        ordered = [i for i in ordered if key(i) >= marker]
    most = int(params.get("MaxItems") or DEFAULT_MAX_ITEMS)
    shown, rest = ordered[:most], ordered[most:]
    result: dict[str, Any] = {member: [shape(i) for i in shown], "IsTruncated": bool(rest)}
    if rest:
        result["Marker"] = key(rest[0])
    return result
