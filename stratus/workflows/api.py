"""Step Functions' declaration: its handlers (boto3's input in, boto3's result out) over
`Executions`, and each operation's IAM action (`states:<Operation>`) on the state machine's or
the execution's ARN. JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Operation>`."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing
from stratus.workflows import history, validate
from stratus.workflows.definition import parse_definition
from stratus.workflows.errors import InvalidDefinition
from stratus.workflows.executor import Executions
from stratus.workflows.faults import (
    ExecutionDoesNotExist,
    InvalidArn,
    InvalidDefinitionFault,
    InvalidExecutionInput,
    InvalidOutput,
    InvalidToken,
    ResourceNotFound,
    StateMachineAlreadyExists,
    StateMachineTypeNotSupported,
    TooManyTags,
    Validation,
)
from stratus.workflows.model import (
    EXPRESS,
    STANDARD,
    StateMachine,
    check_name,
    machine_arn,
    machine_of_execution,
    parse_execution_arn,
    parse_machine_arn,
)

TARGET_PREFIX = "AWSStepFunctions"
MAX_TAGS = 50
_ROLE = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}


@dataclass(frozen=True)
class SfnContext:
    executions: Executions
    account_id: str


def _when(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def _machine(ctx: SfnContext, arn: str) -> StateMachine:
    parse_machine_arn(arn)
    return ctx.executions.machine(arn)


def _check_definition(text: str) -> None:
    try:
        parse_definition(text)
    except InvalidDefinition as e:
        raise InvalidDefinitionFault(e.message) from None


def _check_role(role: str) -> None:
    if not _ROLE.match(role):
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {role}'")


def _tags(params: Mapping[str, Any]) -> dict[str, str]:
    tags = {str(t["key"]): str(t.get("value", "")) for t in params.get("tags") or []}
    if len(tags) > MAX_TAGS:
        raise TooManyTags(
            f"Too many tags: the limit is {MAX_TAGS}.", resourceName=str(params.get("name", ""))
        )
    return tags


def _page(params: Mapping[str, Any], default: int = 100, most: int = 1000) -> tuple[int, int]:
    limit = int(params.get("maxResults") or default)
    limit = min(max(limit, 1), most)
    token = params.get("nextToken")
    if not token:
        return 0, limit
    try:
        offset = int(base64.b64decode(str(token), validate=True).decode())
    except (binascii.Error, ValueError, UnicodeError):
        raise InvalidToken("Invalid Token: 'Invalid pagination token'") from None
    return max(offset, 0), limit


def _token(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


# -- state machines ----------------------------------------------------------------------------


async def create_state_machine(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name = check_name(str(params["name"]))
    kind = str(params.get("type") or STANDARD)
    definition = str(params["definition"])
    role = str(params["roleArn"])
    _check_role(role)
    _check_definition(definition)
    logging = dict(params.get("loggingConfiguration") or DEFAULT_LOGGING)
    arn = machine_arn(region, ctx.account_id, name)
    existing = ctx.executions.machines.get(arn)
    if existing is not None:
        if (existing.definition, existing.role_arn, existing.type) == (definition, role, kind):
            return {"stateMachineArn": arn, "creationDate": _when(existing.created_ms)}
        raise StateMachineAlreadyExists(f"State Machine Already Exists: '{arn}'")
    machine = StateMachine(
        arn=arn,
        name=name,
        region=region,
        type=kind,
        definition=definition,
        role_arn=role,
        created_ms=ctx.executions.now_ms(),
        logging=logging,
        tracing=dict(params.get("tracingConfiguration") or {"enabled": False}),
        description=str(params.get("versionDescription") or ""),
        revision_id=str(uuid.uuid4()),
        tags=_tags(params),
    )
    await ctx.executions.put_machine(machine)
    return {"stateMachineArn": arn, "creationDate": _when(machine.created_ms)}


async def describe_state_machine(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    m = _machine(ctx, str(params["stateMachineArn"]))
    return {
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": m.definition,
        "roleArn": m.role_arn,
        "type": m.type,
        "creationDate": _when(m.created_ms),
        "loggingConfiguration": m.logging or DEFAULT_LOGGING,
        "tracingConfiguration": m.tracing or {"enabled": False},
        "revisionId": m.revision_id,
    }


async def update_state_machine(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    m = _machine(ctx, str(params["stateMachineArn"]))
    changes: dict[str, Any] = {}
    if params.get("definition") is not None:
        _check_definition(str(params["definition"]))
        changes["definition"] = str(params["definition"])
    if params.get("roleArn") is not None:
        _check_role(str(params["roleArn"]))
        changes["role_arn"] = str(params["roleArn"])
    if params.get("loggingConfiguration") is not None:
        changes["logging"] = dict(params["loggingConfiguration"])
    if params.get("tracingConfiguration") is not None:
        changes["tracing"] = dict(params["tracingConfiguration"])
    if not changes:
        raise Validation(
            "Either the definition, the role ARN, the LoggingConfiguration, "
            "or the TracingConfiguration must be specified"
        )
    updated = replace(m, **changes, revision_id=str(uuid.uuid4()), updated_ms=ctx.executions.now_ms())
    await ctx.executions.put_machine(updated)
    return {"updateDate": _when(updated.updated_ms), "revisionId": updated.revision_id}


async def list_state_machines(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    offset, limit = _page(params)
    machines = sorted(
        (m for m in ctx.executions.machines.values() if m.region == region), key=lambda m: m.name
    )
    page = machines[offset : offset + limit]
    out: dict[str, Any] = {
        "stateMachines": [
            {"stateMachineArn": m.arn, "name": m.name, "type": m.type, "creationDate": _when(m.created_ms)}
            for m in page
        ]
    }
    if offset + limit < len(machines):
        out["nextToken"] = _token(offset + limit)
    return out


async def delete_state_machine(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    arn = str(params["stateMachineArn"])
    parse_machine_arn(arn)
    if arn in ctx.executions.machines:
        await ctx.executions.delete_machine(arn)
    return {}


async def describe_state_machine_for_execution(
    ctx: SfnContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    record = await _execution(ctx, str(params["executionArn"]))
    m = ctx.executions.machines.get(record.machine_arn)
    return {
        "stateMachineArn": record.machine_arn,
        "name": record.machine_arn.rpartition(":")[2],
        "definition": record.definition,
        "roleArn": record.role_arn,
        "updateDate": _when((m.updated_ms or m.created_ms) if m else record.start_ms),
        "loggingConfiguration": (m.logging if m else None) or DEFAULT_LOGGING,
        "tracingConfiguration": (m.tracing if m else None) or {"enabled": False},
        **({"revisionId": m.revision_id} if m else {}),
    }


# -- executions --------------------------------------------------------------------------------


async def start_execution(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    machine = _machine(ctx, str(params["stateMachineArn"]))
    name = params.get("name")
    if name is not None:
        check_name(str(name))
    record = await ctx.executions.start(machine.arn, name, params.get("input"))
    return {"executionArn": record.arn, "startDate": _when(record.start_ms)}


async def start_sync_execution(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    machine = _machine(ctx, str(params["stateMachineArn"]))
    if machine.type != EXPRESS:
        raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
    name = params.get("name")
    if name is not None:
        check_name(str(name))
    r = await ctx.executions.start_sync(machine.arn, name, params.get("input"))
    out: dict[str, Any] = {
        "executionArn": r.arn,
        "stateMachineArn": r.machine_arn,
        "name": r.name,
        "startDate": _when(r.start_ms),
        "stopDate": _when(r.stop_ms),
        "status": r.status,
        "input": r.input,
        "inputDetails": {"included": True},
        "billingDetails": {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": max(
                100, -(-((r.stop_ms or r.start_ms) - r.start_ms) // 100) * 100
            ),
        },
    }
    if r.output is not None:
        out.update(output=r.output, outputDetails={"included": True})
    if r.error is not None:
        out["error"] = r.error
    if r.cause is not None:
        out["cause"] = r.cause
    return out


async def _execution(ctx: SfnContext, arn: str) -> Any:
    _, _, _, _ = parse_execution_arn(arn)
    if ":express:" in arn:
        raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
    return await ctx.executions.describe(arn)


async def describe_execution(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    r = await _execution(ctx, str(params["executionArn"]))
    out: dict[str, Any] = {
        "executionArn": r.arn,
        "stateMachineArn": r.machine_arn,
        "name": r.name,
        "status": r.status,
        "startDate": _when(r.start_ms),
        "input": r.input,
        "inputDetails": {"included": True},
        "redriveCount": 0,
        "redriveStatus": "NOT_REDRIVABLE",
    }
    if r.stop_ms is not None:
        out["stopDate"] = _when(r.stop_ms)
    if r.output is not None:
        out.update(output=r.output, outputDetails={"included": True})
    if r.error is not None:
        out["error"] = r.error
    if r.cause is not None:
        out["cause"] = r.cause
    return out


async def list_executions(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    arn = params.get("stateMachineArn")
    if not arn:
        raise Validation("Must provide a StateMachine ARN or MapRun ARN")
    machine = _machine(ctx, str(arn))
    if machine.type == EXPRESS:
        raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
    offset, limit = _page(params)
    found = await ctx.executions.store.executions(machine.arn, params.get("statusFilter"), offset, limit + 1)
    out: dict[str, Any] = {
        "executions": [
            {
                "executionArn": r.arn,
                "stateMachineArn": r.machine_arn,
                "name": r.name,
                "status": r.status,
                "startDate": _when(r.start_ms),
                **({"stopDate": _when(r.stop_ms)} if r.stop_ms is not None else {}),
                "redriveCount": 0,
            }
            for r in found[:limit]
        ]
    }
    if len(found) > limit:
        out["nextToken"] = _token(offset + limit)
    return out


async def stop_execution(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    await _execution(ctx, str(params["executionArn"]))
    r = await ctx.executions.stop(str(params["executionArn"]), params.get("error"), params.get("cause"))
    return {"stopDate": _when(r.stop_ms or ctx.executions.now_ms())}


async def get_execution_history(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    arn = str(params["executionArn"])
    await _execution(ctx, arn)
    events = await ctx.executions.store.history(arn)
    if params.get("reverseOrder"):
        events.reverse()
    offset, limit = _page(params)
    include = params.get("includeExecutionData", True) is not False
    page = events[offset : offset + limit]
    out: dict[str, Any] = {"events": [history.to_wire(e, include) for e in page]}
    if offset + limit < len(events):
        out["nextToken"] = _token(offset + limit)
    return out


# -- task tokens -------------------------------------------------------------------------------


async def send_task_success(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    text = str(params["output"])
    try:
        output = json.loads(text)
    except ValueError as e:
        raise InvalidOutput(f"Invalid Output: '{e}'") from None
    await ctx.executions.send_task_outcome(str(params["taskToken"]), True, output)
    return {}


async def send_task_failure(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    value = {"error": params.get("error") or "", "cause": params.get("cause") or ""}
    await ctx.executions.send_task_outcome(str(params["taskToken"]), False, value)
    return {}


async def send_task_heartbeat(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.executions.heartbeat(str(params["taskToken"]))
    return {}


# -- tags --------------------------------------------------------------------------------------


def _tagged(ctx: SfnContext, arn: str) -> StateMachine:
    machine = ctx.executions.machines.get(arn)
    if machine is None:
        raise ResourceNotFound(f"Resource not found: '{arn}'", resourceName=arn)
    return machine


async def tag_resource(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    machine = _tagged(ctx, str(params["resourceArn"]))
    tags = {**machine.tags, **_tags(params)}
    if len(tags) > MAX_TAGS:
        raise TooManyTags(f"Too many tags: the limit is {MAX_TAGS}.", resourceName=machine.arn)
    await ctx.executions.put_machine(replace(machine, tags=tags))
    return {}


async def untag_resource(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    machine = _tagged(ctx, str(params["resourceArn"]))
    gone = set(params.get("tagKeys") or [])
    await ctx.executions.put_machine(
        replace(machine, tags={k: v for k, v in machine.tags.items() if k not in gone})
    )
    return {}


async def list_tags_for_resource(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    machine = _tagged(ctx, str(params["resourceArn"]))
    return {"tags": [{"key": k, "value": v} for k, v in machine.tags.items()]}


async def validate_state_machine_definition(
    ctx: SfnContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    """ValidateStateMachineDefinition (Terraform's aws_sfn_state_machine calls it before
    creating): what CreateStateMachine would refuse, as diagnostics. Every check Stratus makes is
    an ERROR, so the severity asked for changes nothing; maxResults 0 or none means 100."""
    text = str(params.get("definition", ""))
    try:
        document = json.loads(text)
    except ValueError as e:
        found = [validate.Problem("INVALID_JSON_DESCRIPTION", str(e), None)]
    else:
        found = validate.problems(document)
    most = int(params.get("maxResults") or 100)
    diagnostics = [
        {
            "severity": "ERROR",
            "code": p.code,
            "message": p.message,
            **({"location": p.location} if p.location is not None else {}),
        }
        for p in found[:most]
    ]
    return {"result": "FAIL" if found else "OK", "diagnostics": diagnostics, "truncated": len(found) > most}


async def list_state_machine_versions(ctx: SfnContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    """ListStateMachineVersions: Stratus publishes no versions of state machines (CreateStateMachine's
    `publish` is ignored), so an existing machine has none."""
    _machine(ctx, str(params["stateMachineArn"]))
    return {"stateMachineVersions": []}


HANDLERS: dict[str, Handler[SfnContext]] = {
    "CreateStateMachine": create_state_machine,
    "DescribeStateMachine": describe_state_machine,
    "UpdateStateMachine": update_state_machine,
    "ListStateMachines": list_state_machines,
    "DeleteStateMachine": delete_state_machine,
    "DescribeStateMachineForExecution": describe_state_machine_for_execution,
    "StartExecution": start_execution,
    "StartSyncExecution": start_sync_execution,
    "DescribeExecution": describe_execution,
    "ListExecutions": list_executions,
    "StopExecution": stop_execution,
    "GetExecutionHistory": get_execution_history,
    "SendTaskSuccess": send_task_success,
    "SendTaskFailure": send_task_failure,
    "SendTaskHeartbeat": send_task_heartbeat,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "ValidateStateMachineDefinition": validate_state_machine_definition,
    "ListStateMachineVersions": list_state_machine_versions,
}


def _on(operation: str, member: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"states:{operation}", str(params.get(member) or "*")

    return authorize


def _on_new_machine(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "states:CreateStateMachine", machine_arn(region, account, str(params.get("name", "")))


def _pass_role(params: Mapping[str, Any], region: str, account: str) -> tuple[tuple[str, str], ...]:
    role = params.get("roleArn")
    return (("iam:PassRole", str(role)),) if role else ()


AUTHORIZATION: dict[str, Authorization] = {
    "CreateStateMachine": _on_new_machine,
    **{
        op: _on(op, "stateMachineArn")
        for op in (
            "DescribeStateMachine",
            "UpdateStateMachine",
            "DeleteStateMachine",
            "StartExecution",
            "StartSyncExecution",
            "ListExecutions",
            "ListStateMachineVersions",
        )
    },
    **{
        op: _on(op, "executionArn")
        for op in (
            "DescribeExecution",
            "StopExecution",
            "GetExecutionHistory",
            "DescribeStateMachineForExecution",
        )
    },
    **{op: _on(op, "resourceArn") for op in ("TagResource", "UntagResource", "ListTagsForResource")},
    # It names no resource: authorized on "*", as AWS does.
    "ValidateStateMachineDefinition": _on("ValidateStateMachineDefinition", "-"),
}

SERVICE = Service[SfnContext](
    model="stepfunctions",
    signing=Signing("states", targets=(TARGET_PREFIX,)),
    handlers=HANDLERS,
    validation_error="ValidationException",
    authorization=AUTHORIZATION,
    also_requires={"CreateStateMachine": _pass_role, "UpdateStateMachine": _pass_role},
)

__all__ = ["SERVICE", "ExecutionDoesNotExist", "InvalidExecutionInput", "SfnContext", "machine_of_execution"]
