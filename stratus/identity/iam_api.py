"""AWS IAM (query protocol, signed for "iam"), declared as `SERVICE`: roles, users, groups,
access keys, inline and managed policies. The handlers live by subject in `iam_roles`,
`iam_users` and `iam_policies`; all of them change state only through the directory.

Each operation is authorized as `iam:<Operation>` on the entity it names (IAM's resource
types): the role, user or group of RoleName / GroupName / UserName (the caller itself where
UserName may be left out), or the policy of PolicyArn. Entities are named by their path-less
ARN from the request (`role/NAME`), except CreateX, which names its Path, and a user acting on
itself, whose ARN is known; a policy that grants on `role/PATH/NAME` of a role with a path
does not match the other operations on it (a limit of Stratus's declared authorization, which
does not read the directory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus.identity import iam_policies, iam_roles, iam_users
from stratus.identity.iam_entities import entity_arn
from stratus.identity.iam_shapes import IamContext, caller
from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing

__all__ = ["SERVICE", "IamContext"]

HANDLERS: dict[str, Handler[IamContext]] = {
    **iam_roles.HANDLERS,
    **iam_users.HANDLERS,
    **iam_policies.HANDLERS,
}

# Operations that act on the caller when UserName is left out.
_SELF_OPERATIONS = frozenset(
    {"GetUser", "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey"}
)


def _resource(operation: str, params: Mapping[str, Any], account: str) -> str:
    creating = operation.startswith("Create")
    path = str(params.get("Path") or "/") if creating else "/"
    if "RoleName" in params:
        return entity_arn(account, "role", path, str(params["RoleName"]))
    if "GroupName" in params:
        return entity_arn(account, "group", path, str(params["GroupName"]))
    if "UserName" in params or operation in _SELF_OPERATIONS:
        who = caller()
        name = params.get("UserName")
        if who is not None and who.user_name is not None and (name is None or name == who.user_name):
            return who.principal.arn  # the caller's own ARN, path included
        return entity_arn(account, "user", path, str(name)) if name else "*"
    if "PolicyArn" in params:
        return str(params["PolicyArn"])
    if operation == "CreatePolicy":
        return entity_arn(account, "policy", path, str(params.get("PolicyName", "")))
    return "*"


def _canonical(context: IamContext, resource: str) -> str:
    """The named role, user or group's own ARN (its path, its name as created): IAM names are
    unique whatever their case, so a policy must not be dodged by `VICTIM` for `victim`, nor a
    Deny on `role/admins/*` by naming the role without its path. Creations keep the ARN asked
    for; an entity that does not exist keeps it too (the handler then answers NoSuchEntity)."""
    prefix = f"arn:aws:iam::{context.account_id}:"
    if not resource.startswith(prefix):
        return resource
    kind, _, rest = resource[len(prefix) :].partition("/")
    name = rest.rpartition("/")[2]
    lookup = {
        "role": context.directory.role,
        "user": context.directory.user,
        "group": context.directory.group,
    }
    found = lookup[kind](name) if kind in lookup and name else None
    return found.arn if found is not None else resource


def _authorization(operation: str) -> Authorization:
    def resolve(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"iam:{operation}", _resource(operation, params, account)

    return resolve


SERVICE = Service[IamContext](
    model="iam",
    signing=Signing("iam", query_protocol=True),
    handlers=HANDLERS,
    validation_error="ValidationError",
    protocols=("query",),
    authorization={operation: _authorization(operation) for operation in HANDLERS},
    canonical_resource=_canonical,
)
