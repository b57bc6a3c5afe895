"""IAM's role operations: CreateRole, GetRole, ListRoles, UpdateRole, UpdateRoleDescription,
UpdateAssumeRolePolicy, DeleteRole and the role's tags. The model has already checked names,
paths, lengths and MaxSessionDuration's range; the directory checks the rest (existence,
conflicts, the trust policy's grammar and size)."""

from __future__ import annotations

from typing import Any

from stratus.identity.iam_entities import merge_tags
from stratus.identity.iam_shapes import (
    IamContext,
    page,
    path_prefixed,
    role_shape,
    tags_in,
    tags_out,
    unsupported,
)
from stratus.wire.service import Handler


async def create_role(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    unsupported(params, "PermissionsBoundary")
    role = ctx.directory.create_role(
        params["RoleName"],
        params.get("Path") or "/",
        params["AssumeRolePolicyDocument"],
        description=params.get("Description"),
        max_session_duration=int(params.get("MaxSessionDuration") or 3600),
        tags=merge_tags((), params.get("Tags") or []),
    )
    return {"Role": role_shape(role)}


async def get_role(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {"Role": role_shape(ctx.directory.require_role(params["RoleName"]))}


async def list_roles(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    roles = path_prefixed(ctx.directory.roles(), params.get("PathPrefix"), lambda r: r.path)
    return page(roles, lambda r: r.name.lower(), params, "Roles", lambda r: role_shape(r, listed=True))


async def update_role(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.update_role(
        params["RoleName"],
        description=params.get("Description"),
        max_session_duration=params.get("MaxSessionDuration"),
    )
    return {}


async def update_role_description(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    role = ctx.directory.update_role(params["RoleName"], description=params["Description"])
    return {"Role": role_shape(role)}


async def update_assume_role_policy(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.update_trust(params["RoleName"], params["PolicyDocument"])
    return {}


async def delete_role(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.delete_role(params["RoleName"])
    return {}


async def tag_role(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    tags_in(params)  # duplicate keys in one request are refused before anything changes
    ctx.directory.tag("role", params["RoleName"], params["Tags"])
    return {}


async def untag_role(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.untag("role", params["RoleName"], params["TagKeys"])
    return {}


async def list_role_tags(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    role = ctx.directory.require_role(params["RoleName"])
    tags = list(role.tags)
    # Tags keep the order they were added in; the marker is the position of the next one.
    return page(
        [(f"{i:08d}", t) for i, t in enumerate(tags)],
        lambda item: item[0],
        params,
        "Tags",
        lambda item: tags_out((item[1],))[0],
    )


async def list_instance_profiles_for_role(
    ctx: IamContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    # Stratus has no EC2 instance profiles, so a role is in none; Terraform asks before it
    # deletes a role.
    ctx.directory.require_role(params["RoleName"])
    return {"InstanceProfiles": [], "IsTruncated": False}


HANDLERS: dict[str, Handler[IamContext]] = {
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "UpdateRole": update_role,
    "UpdateRoleDescription": update_role_description,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "DeleteRole": delete_role,
    "TagRole": tag_role,
    "UntagRole": untag_role,
    "ListRoleTags": list_role_tags,
    "ListInstanceProfilesForRole": list_instance_profiles_for_role,
}
