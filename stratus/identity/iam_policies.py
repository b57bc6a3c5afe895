"""IAM's policy operations: managed policies and their versions (the account's own; AWS's are
readable and attachable, never changed), inline policies of roles, users and groups, and the
attachments of managed policies to them. The inline and attachment operations are the same
for the three kinds of entity, so they are made once per kind (`_inline_handlers`,
`_attachment_handlers`)."""

from __future__ import annotations

from typing import Any

from stratus.identity.iam_entities import KINDS, Kind, ManagedPolicy, merge_tags
from stratus.identity.iam_shapes import (
    IamContext,
    page,
    path_prefixed,
    policy_shape,
    quoted,
    version_shape,
)
from stratus.wire.service import Handler

_NAME_MEMBER: dict[Kind, str] = {"role": "RoleName", "user": "UserName", "group": "GroupName"}
_TITLE: dict[Kind, str] = {"role": "Role", "user": "User", "group": "Group"}


def _policy_key(policy: ManagedPolicy) -> str:
    return f"{policy.name.lower()} {policy.arn}"


async def create_policy(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    policy = ctx.directory.create_policy(
        params["PolicyName"],
        params.get("Path") or "/",
        params["PolicyDocument"],
        description=params.get("Description"),
        tags=merge_tags((), params.get("Tags") or []),
    )
    return {"Policy": policy_shape(policy, 0)}


async def get_policy(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    arn = params["PolicyArn"]
    policy = ctx.directory.require_managed(arn)
    return {"Policy": policy_shape(policy, ctx.directory.attachment_counts()[arn])}


async def list_policies(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    scope = params.get("Scope") or "All"
    found = ctx.directory.managed_policies(local=scope != "AWS", aws=scope != "Local")
    counts = ctx.directory.attachment_counts()
    if params.get("OnlyAttached"):
        found = [p for p in found if counts[p.arn]]
    found = path_prefixed(found, params.get("PathPrefix"), lambda p: p.path)
    return page(found, _policy_key, params, "Policies", lambda p: policy_shape(p, counts[p.arn], listed=True))


async def delete_policy(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.delete_policy(params["PolicyArn"])
    return {}


async def get_policy_version(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    policy = ctx.directory.require_managed(params["PolicyArn"])
    version = ctx.directory.policy_version(policy, params["VersionId"])
    return {"PolicyVersion": version_shape(version, policy.default_version_id)}


async def create_policy_version(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    arn = params["PolicyArn"]
    version = ctx.directory.create_policy_version(
        arn, params["PolicyDocument"], set_as_default=bool(params.get("SetAsDefault"))
    )
    default = ctx.directory.require_managed(arn).default_version_id
    return {"PolicyVersion": version_shape(version, default, document=False)}


async def list_policy_versions(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    policy = ctx.directory.require_managed(params["PolicyArn"])
    # Newest first, as IAM lists them; the key orders by version number, descending.
    return page(
        list(policy.versions),
        lambda v: f"{10**9 - int(v.version_id[1:].split('.')[0]):010d}",
        params,
        "Versions",
        lambda v: version_shape(v, policy.default_version_id, document=False),
    )


async def delete_policy_version(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.delete_policy_version(params["PolicyArn"], params["VersionId"])
    return {}


async def set_default_policy_version(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.set_default_version(params["PolicyArn"], params["VersionId"])
    return {}


async def list_entities_for_policy(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    arn = params["PolicyArn"]
    ctx.directory.require_managed(arn)
    wanted = params.get("EntityFilter")
    result: dict[str, Any] = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": [], "IsTruncated": False}
    for kind, name in ctx.directory.entities_of(arn):
        if wanted not in (None, _TITLE[kind]):
            continue
        if kind == "role":
            role = ctx.directory.require_role(name)
            result["PolicyRoles"].append({"RoleName": role.name, "RoleId": role.role_id})
        elif kind == "user":
            user = ctx.directory.require_user(name)
            result["PolicyUsers"].append({"UserName": user.name, "UserId": user.user_id})
        else:
            group = ctx.directory.require_group(name)
            result["PolicyGroups"].append({"GroupName": group.name, "GroupId": group.group_id})
    return result


def _inline_handlers(kind: Kind) -> dict[str, Handler[IamContext]]:
    member, title = _NAME_MEMBER[kind], _TITLE[kind]

    async def put(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
        ctx.directory.put_inline(kind, params[member], params["PolicyName"], params["PolicyDocument"])
        return {}

    async def get(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
        name = ctx.directory.entity_name(kind, params[member])
        policy = ctx.directory.inline_policy(kind, name, params["PolicyName"])
        return {member: name, "PolicyName": params["PolicyName"], "PolicyDocument": quoted(policy.text)}

    async def delete(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
        ctx.directory.delete_inline(kind, params[member], params["PolicyName"])
        return {}

    async def listed(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
        names = list(ctx.directory.inline(kind, params[member]))
        return page(names, lambda n: n, params, "PolicyNames", lambda n: n)

    return {
        f"Put{title}Policy": put,
        f"Get{title}Policy": get,
        f"Delete{title}Policy": delete,
        f"List{title}Policies": listed,
    }


def _attachment_handlers(kind: Kind) -> dict[str, Handler[IamContext]]:
    member, title = _NAME_MEMBER[kind], _TITLE[kind]

    async def attach(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
        ctx.directory.attach(kind, params[member], params["PolicyArn"])
        return {}

    async def detach(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
        ctx.directory.detach(kind, params[member], params["PolicyArn"])
        return {}

    async def listed(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
        attached = path_prefixed(
            ctx.directory.attached(kind, params[member]), params.get("PathPrefix"), lambda p: p.path
        )
        return page(
            attached,
            _policy_key,
            params,
            "AttachedPolicies",
            lambda p: {"PolicyName": p.name, "PolicyArn": p.arn},
        )

    return {
        f"Attach{title}Policy": attach,
        f"Detach{title}Policy": detach,
        f"ListAttached{title}Policies": listed,
    }


HANDLERS: dict[str, Handler[IamContext]] = {
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "ListPolicies": list_policies,
    "DeletePolicy": delete_policy,
    "GetPolicyVersion": get_policy_version,
    "CreatePolicyVersion": create_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "ListEntitiesForPolicy": list_entities_for_policy,
    **{op: h for kind in KINDS for op, h in _inline_handlers(kind).items()},
    **{op: h for kind in KINDS for op, h in _attachment_handlers(kind).items()},
}
