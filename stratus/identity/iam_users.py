"""IAM's user, access key and group operations. GetUser, CreateAccessKey and the other key
operations default to the caller when UserName is left out, as IAM does (`caller_user_name`);
GetUser without a name by root answers the account's root user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stratus.identity.iam_entities import IamAccessDenied, merge_tags
from stratus.identity.iam_shapes import (
    IamContext,
    caller,
    caller_user_name,
    group_shape,
    page,
    path_prefixed,
    tags_in,
    tags_out,
    unsupported,
    user_shape,
)
from stratus.wire.service import Handler

# When the root user "was created", as GetUser reports it (Stratus does not know the account's age).
ROOT_CREATED = datetime(2015, 1, 1, tzinfo=UTC)


async def create_user(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    unsupported(params, "PermissionsBoundary")
    user = ctx.directory.create_user(
        params["UserName"], params.get("Path") or "/", tags=merge_tags((), params.get("Tags") or [])
    )
    return {"User": user_shape(user)}


async def get_user(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    who = caller()
    if not params.get("UserName") and who is not None and who.is_root:
        # The account's root user, as IAM describes it (it has no name or path).
        return {"User": {"UserId": ctx.account_id, "Arn": who.principal.arn, "CreateDate": ROOT_CREATED}}
    return {"User": user_shape(ctx.directory.require_user(caller_user_name(ctx, params)))}


async def list_users(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    users = path_prefixed(ctx.directory.users(), params.get("PathPrefix"), lambda u: u.path)
    return page(users, lambda u: u.name.lower(), params, "Users", lambda u: user_shape(u, listed=True))


async def update_user(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.update_user(
        params["UserName"], new_name=params.get("NewUserName"), new_path=params.get("NewPath")
    )
    return {}


async def delete_user(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.delete_user(params["UserName"])
    return {}


async def tag_user(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    tags_in(params)
    ctx.directory.tag("user", params["UserName"], params["Tags"])
    return {}


async def untag_user(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.untag("user", params["UserName"], params["TagKeys"])
    return {}


async def list_user_tags(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    user = ctx.directory.require_user(params["UserName"])
    return page(
        [(f"{i:08d}", t) for i, t in enumerate(user.tags)],
        lambda item: item[0],
        params,
        "Tags",
        lambda item: tags_out((item[1],))[0],
    )


# -- access keys -------------------------------------------------------------------------------


async def create_access_key(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key = ctx.directory.create_access_key(caller_user_name(ctx, params))
    return {
        "AccessKey": {
            "UserName": key.user_name,
            "AccessKeyId": key.access_key_id,
            "Status": key.status,
            "SecretAccessKey": key.secret,
            "CreateDate": key.create_date,
        }
    }


async def list_access_keys(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    user = ctx.directory.require_user(caller_user_name(ctx, params))
    return page(
        ctx.directory.access_keys(user.name),
        lambda k: k.access_key_id,
        params,
        "AccessKeyMetadata",
        lambda k: {
            "UserName": k.user_name,
            "AccessKeyId": k.access_key_id,
            "Status": k.status,
            "CreateDate": k.create_date,
        },
    )


async def update_access_key(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.update_access_key(caller_user_name(ctx, params), params["AccessKeyId"], params["Status"])
    return {}


async def delete_access_key(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.delete_access_key(caller_user_name(ctx, params), params["AccessKeyId"])
    return {}


async def get_access_key_last_used(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key = ctx.directory.access_key(params["AccessKeyId"])
    if key is None:
        # IAM does not say whether a key it will not describe exists.
        raise IamAccessDenied("The access key does not exist or is not yours to describe.")
    # Stratus does not record when a key was last used: IAM's answer for a key never used.
    return {"UserName": key.user_name, "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}}


# -- groups ------------------------------------------------------------------------------------


async def create_group(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = ctx.directory.create_group(params["GroupName"], params.get("Path") or "/")
    return {"Group": group_shape(group)}


async def get_group(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = ctx.directory.require_group(params["GroupName"])
    members = [u for u in (ctx.directory.user(m) for m in group.members) if u is not None]
    result = page(members, lambda u: u.name.lower(), params, "Users", lambda u: user_shape(u, listed=True))
    return {"Group": group_shape(group), **result}


async def list_groups(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    groups = path_prefixed(ctx.directory.groups(), params.get("PathPrefix"), lambda g: g.path)
    return page(groups, lambda g: g.name.lower(), params, "Groups", group_shape)


async def list_groups_for_user(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    user = ctx.directory.require_user(params["UserName"])
    return page(ctx.directory.groups_of(user.name), lambda g: g.name.lower(), params, "Groups", group_shape)


async def add_user_to_group(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.add_to_group(params["GroupName"], params["UserName"])
    return {}


async def remove_user_from_group(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.remove_from_group(params["GroupName"], params["UserName"])
    return {}


async def delete_group(ctx: IamContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.directory.delete_group(params["GroupName"])
    return {}


HANDLERS: dict[str, Handler[IamContext]] = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "UpdateUser": update_user,
    "DeleteUser": delete_user,
    "TagUser": tag_user,
    "UntagUser": untag_user,
    "ListUserTags": list_user_tags,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "GetAccessKeyLastUsed": get_access_key_last_used,
    "CreateGroup": create_group,
    "GetGroup": get_group,
    "ListGroups": list_groups,
    "ListGroupsForUser": list_groups_for_user,
    "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group,
    "DeleteGroup": delete_group,
}
