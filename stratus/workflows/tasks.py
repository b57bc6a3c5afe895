"""Task states' Lambda calls: a function ARN as the resource, or `arn:aws:states:::lambda:invoke`
with FunctionName/Payload/Qualifier. Functions run through the invoke service's one entry
point (`InvokeService.invoke_target`), as event source mappings call it, after the state
machine's role is checked for lambda:InvokeFunction (`Authorizer.role_may`; always allowed with
STRATUS_IAM=off). Failures become the StatesError Step Functions raises for them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stratus.control.arns import function_arn, parse_function_ref
from stratus.errors import StratusError
from stratus.identity.keyring import assumed_role_arn
from stratus.invoke.target import Invoked, Target
from stratus.workflows.errors import StatesError

InvokeTarget = Callable[..., Awaitable[Invoked]]
# (role ARN, session name, function ARN, region) -> whether the role may invoke it.
RoleMay = Callable[[str, str, str, str], bool]


@dataclass(frozen=True)
class Call:
    """One function call of a task: the function as the state names it, and its payload."""

    function: str
    qualifier: str | None
    payload: Any


@dataclass(frozen=True)
class Called:
    payload: Any  # the function's result, parsed
    executed_version: str
    request_id: str
    status_code: int = 200


def invoke_call(parameters: Any) -> Call:
    """lambda:invoke's parameters (after Parameters were applied) as a call."""
    if not isinstance(parameters, Mapping) or not isinstance(parameters.get("FunctionName"), str):
        raise StatesError(
            "States.Runtime",
            "The field 'FunctionName' is required by the lambda:invoke integration but was not provided.",
        )
    qualifier = parameters.get("Qualifier")
    return Call(
        str(parameters["FunctionName"]), str(qualifier) if qualifier else None, parameters.get("Payload")
    )


def invoke_output(called: Called) -> dict[str, Any]:
    """lambda:invoke's result as Step Functions shapes it (the SDK response's members)."""
    headers = {
        "Connection": "keep-alive",
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": called.executed_version,
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": called.request_id,
    }
    return {
        "ExecutedVersion": called.executed_version,
        "Payload": called.payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": called.status_code,
        },
        "SdkResponseMetadata": {"RequestId": called.request_id},
        "StatusCode": called.status_code,
    }


def _service_cause(message: str, status: int, code: str, request_id: str) -> str:
    return (
        f"{message} (Service: AWSLambda; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {request_id}; Proxy: null)"
    )


def function_error(payload: bytes, error_type: str | None) -> StatesError:
    """A function's error as the state's error: its errorType, or Lambda.Unknown for what has
    none of its own (timeouts, crashes, out of memory), with the error document as the cause."""
    text = payload.decode("utf-8", "replace")
    name = error_type
    try:
        document = json.loads(text)
        if isinstance(document, dict) and isinstance(document.get("errorType"), str):
            name = document["errorType"]
    except ValueError:
        pass
    if not name or name.startswith(("Sandbox.", "Runtime.", "Function.")):
        name = "Lambda.Unknown"
    return StatesError(name, text)


class Functions:
    """Calls functions for tasks, as the state machine's role."""

    def __init__(self, invoke_target: InvokeTarget, role_may: RoleMay, account_id: str) -> None:
        self._invoke = invoke_target
        self._role_may = role_may
        self.account_id = account_id

    async def call(self, call: Call, *, region: str, role_arn: str, session: str) -> Called:
        try:
            ref = parse_function_ref(call.function, self.account_id)
        except StratusError as e:
            raise StatesError("Lambda.InvalidParameterValueException", e.message) from None
        qualifier = call.qualifier or ref.qualifier
        target_region = _region_of(call.function) or region
        arn = function_arn(target_region, self.account_id, ref.name, qualifier)
        request_id = str(uuid.uuid4())
        if not self._role_may(role_arn, session, arn, target_region):
            role_name = role_arn.rpartition("/")[2]
            who = assumed_role_arn(self.account_id, role_name, session)
            raise StatesError(
                "Lambda.AWSLambdaException",
                _service_cause(
                    f"User: {who} is not authorized to perform: lambda:InvokeFunction on resource: "
                    f"{arn} because no identity-based policy allows the lambda:InvokeFunction action",
                    403,
                    "AccessDeniedException",
                    request_id,
                ),
            )
        payload = json.dumps(call.payload, separators=(",", ":")).encode()
        try:
            invoked = await self._invoke(
                Target(ref.name, qualifier, target_region, self.account_id), payload, request_id=request_id
            )
        except StratusError as e:
            raise StatesError(
                f"Lambda.{e.code}", _service_cause(e.message, e.status, e.code, request_id)
            ) from None
        result = invoked.result
        if result.function_error is not None:
            raise function_error(result.payload, result.error_type)
        text = result.payload.decode("utf-8", "replace")
        try:
            value: Any = json.loads(text) if text.strip() else None
        except ValueError:
            value = text
        return Called(value, result.executed_version, request_id)


def _region_of(function: str) -> str | None:
    parts = function.split(":")
    return parts[3] if function.startswith("arn:") and len(parts) > 3 and parts[3] else None
