"""Lambda REST API: a function's resource-based policy (AddPermission, RemovePermission,
GetPolicy).

Statements are stored and returned as Lambda shapes them, so SAM, Terraform and scripts that
grant `lambda:InvokeFunctionUrl` or an API Gateway's `lambda:InvokeFunction` work unchanged.
Stratus has one root identity, so no statement is enforced.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from stratus.control.models import LATEST
from stratus.control.registry import new_revision
from stratus.errors import InvalidParameterValue, PreconditionFailed, ResourceConflict, ResourceNotFound
from stratus.gateway.responses import empty_response, json_response
from stratus.gateway.server import ctx, json_body, region
from stratus.lambda_api.arns import function_arn
from stratus.lambda_api.functions import function_ref

_STATEMENT_ID = re.compile(r"^[a-zA-Z0-9-_.]{1,100}$")
_ACTION = re.compile(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$")
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
        auth = data["FunctionUrlAuthType"]
        if auth not in ("NONE", "AWS_IAM"):
            raise InvalidParameterValue("FunctionUrlAuthType must be NONE or AWS_IAM.")
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = auth
    return condition


async def add_permission(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    data = json_body(request)
    for key in ("StatementId", "Action", "Principal"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise InvalidParameterValue(f"{key} is required.")
    sid, action = data["StatementId"], data["Action"]
    if not _STATEMENT_ID.match(sid):
        raise InvalidParameterValue(f"Statement id {sid} must match [a-zA-Z0-9-_.]{{1,100}}.")
    if not _ACTION.match(action):
        raise InvalidParameterValue(f"Action {action} must be a lambda: action or *.")
    record = context.registry.get(name)
    key = qualifier or ""
    if (
        qualifier
        and qualifier != LATEST
        and qualifier not in record.versions
        and qualifier not in record.aliases
    ):
        raise ResourceNotFound(f"Function not found: {name}:{qualifier}")
    statements = record.policy.get(key, ())
    if data.get("RevisionId") and data["RevisionId"] != record.latest.revision_id:
        raise PreconditionFailed("The Revision Id provided does not match the latest Revision Id.")
    if any(s["Sid"] == sid for s in statements):
        raise ResourceConflict(
            f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
            "or remove the existing statement."
        )
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": _principal(data["Principal"]),
        "Action": action,
        "Resource": function_arn(region(request), context.account_id, name, qualifier),
    }
    condition = _condition(data)
    if condition:
        statement["Condition"] = condition
    context.registry.put_policy(name, key, (*statements, statement))
    return json_response({"Statement": json.dumps(statement)}, status=201)


async def get_policy(request: web.Request) -> web.StreamResponse:
    name, qualifier = function_ref(request)
    record = ctx(request).registry.get(name)
    statements = record.policy.get(qualifier or "", ())
    if not statements:
        raise ResourceNotFound("The resource you requested does not exist.")
    policy = {"Version": "2012-10-17", "Id": "default", "Statement": list(statements)}
    return json_response({"Policy": json.dumps(policy), "RevisionId": new_revision()})


async def remove_permission(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    sid = request.match_info["sid"]
    record = context.registry.get(name)
    statements = record.policy.get(qualifier or "", ())
    kept = tuple(s for s in statements if s["Sid"] != sid)
    if len(kept) == len(statements):
        raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
    context.registry.put_policy(name, qualifier or "", kept)
    return empty_response(204)
