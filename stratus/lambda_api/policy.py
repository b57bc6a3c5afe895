"""Lambda REST API: a function's resource-based policy (AddPermission, RemovePermission,
GetPolicy).

Statements are stored and returned as Lambda shapes them, so SAM, Terraform and scripts that
grant `lambda:InvokeFunctionUrl` or an API Gateway's `lambda:InvokeFunction` work unchanged.
The statements are enforced as Lambda enforces them: the gateway's authorization evaluates them
with the caller's own policies (`Registry.policy_document`, identity/guard.py), and services
invoking a function need one that allows them (schedules).
"""

from __future__ import annotations

import json
import re
from typing import Any

from stratus.control.arns import function_arn
from stratus.control.models import LATEST
from stratus.control.registry import new_revision
from stratus.errors import PreconditionFailed, ResourceConflict, ResourceNotFound
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import function_ref

_SERVICE = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")


def _principal(value: str) -> Any:
    if value == "*":
        return "*"
    if _SERVICE.match(value):
        return {"Service": value}
    if value.isdigit():
        return {"AWS": f"arn:aws:iam::{value}:root"}
    return {"AWS": value}


def _condition(data: dict[str, Any]) -> dict[str, Any]:
    condition: dict[str, dict[str, str]] = {}
    if data.get("SourceArn"):
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = str(data["SourceArn"])
    if data.get("SourceAccount"):
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = str(data["SourceAccount"])
    if data.get("PrincipalOrgID"):
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = str(data["PrincipalOrgID"])
    if data.get("FunctionUrlAuthType"):
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = data["FunctionUrlAuthType"]
    return condition


async def add_permission(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    # The model requires these and checks their patterns (Lambda's codes: see lambda_api.service).
    sid, action = params["StatementId"], params["Action"]
    record = context.registry.get(key)
    slot = qualifier or ""
    if (
        qualifier
        and qualifier != LATEST
        and qualifier not in record.versions
        and qualifier not in record.aliases
    ):
        raise ResourceNotFound(f"Function not found: {key.name}:{qualifier}")
    statements = record.policy.get(slot, ())
    if params.get("RevisionId") and params["RevisionId"] != record.latest.revision_id:
        raise PreconditionFailed("The Revision Id provided does not match the latest Revision Id.")
    if any(s["Sid"] == sid for s in statements):
        raise ResourceConflict(
            f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
            "or remove the existing statement."
        )
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": _principal(params["Principal"]),
        "Action": action,
        "Resource": function_arn(region, context.account_id, key.name, qualifier),
    }
    condition = _condition(params)
    if condition:
        statement["Condition"] = condition
    context.registry.put_policy(key, slot, (*statements, statement))
    return {"Statement": json.dumps(statement)}


async def get_policy(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    record = context.registry.get(key)
    statements = record.policy.get(qualifier or "", ())
    if not statements:
        raise ResourceNotFound("The resource you requested does not exist.")
    policy = {"Version": "2012-10-17", "Id": "default", "Statement": list(statements)}
    return {"Policy": json.dumps(policy), "RevisionId": new_revision()}


async def remove_permission(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    sid = params["StatementId"]
    record = context.registry.get(key)
    statements = record.policy.get(qualifier or "", ())
    kept = tuple(s for s in statements if s["Sid"] != sid)
    if len(kept) == len(statements):
        raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
    context.registry.put_policy(key, qualifier or "", kept)
    return {}
