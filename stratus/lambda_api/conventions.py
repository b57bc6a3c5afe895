"""How Lambda's REST API differs from plain rest-json, in one place.

botocore's `lambda` model reads every request and writes every answer (routes, labels, query
and header members, status codes such as 201/202/204, Invoke's header-bound output); the
handlers receive checked input and return results as boto3 returns them. What is Lambda's own:

- **Errors** carry `Type` (`User` or `Service`) beside `Message`, as every error shape of the
  model has it, and a body that cannot be read is InvalidRequestContentException, not the
  generic SerializationException (`LambdaRestJson`).
- **Validation codes.** Model failures are ValidationException, except where Lambda answers
  InvalidParameterValueException for a member the model constrains (an unknown runtime, a bad
  statement id or action, a layer ARN): `LambdaService.invalid`.
- **Response metadata.** Invoke's answer carries the invocation's own request id (the one the
  function saw) and the trace header it ran under; a handler may return them as boto3 shows
  them, in `ResponseMetadata` (`RequestId`, `HTTPHeaders`), and `LambdaRestJson` sends them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from botocore.model import OperationModel, ServiceModel

from stratus.lambda_api.context import LambdaContext
from stratus.wire.rest_json import RestJsonProtocol
from stratus.wire.service import Service
from stratus.wire.types import BadRequest, WireError, WireRequest, WireResponse

# The caller's X-Amzn-Trace-Id: a transport header (the SDKs add it), not a member of Invoke's
# model, so the protocol hands it over beside the parameters: set while an Invoke request is
# read, and read by the handler, which dispatch runs next in the same task.
CALLER_TRACE: ContextVar[str | None] = ContextVar("caller_trace", default=None)

_PATH = re.compile(r"at '([^']*)'")
# Members the model constrains but for which Lambda answers InvalidParameterValueException (its
# enum of runtimes, statement ids and actions, layer ARNs), with a note Lambda adds, if any.
PARAMETER_VALUE_MEMBERS: Mapping[str, str] = {
    "runtime": "",
    "statementId": "",
    "action": "",
    "layers": "Invalid layer version ARN. ",
}


def _member(problem: str) -> str:
    """The top member a validator finding is about (`layers.1.member` -> `layers`)."""
    found = _PATH.search(problem)
    return found.group(1).split(".")[0] if found else ""


def invalid(problems: list[str], message: str) -> WireError:
    """Lambda's error for input the model refuses."""
    members = {_member(p) for p in problems}
    if members and members <= PARAMETER_VALUE_MEMBERS.keys():
        note = "".join(sorted({PARAMETER_VALUE_MEMBERS[m] for m in members}))
        return WireError("InvalidParameterValueException", note + message, 400)
    return WireError("ValidationException", message, 400)


@dataclass(frozen=True)
class LambdaService(Service[LambdaContext]):
    def invalid(self, problems: list[str], message: str) -> WireError:
        return invalid(problems, message)


@dataclass(frozen=True)
class LambdaRestJson(RestJsonProtocol):
    """rest-json with Lambda's error conventions and response metadata (see the module doc)."""

    def parse(
        self, operation: OperationModel, request: WireRequest, labels: dict[str, str]
    ) -> dict[str, Any]:
        if operation.name == "Invoke":
            CALLER_TRACE.set(request.header("x-amzn-trace-id"))
        try:
            return super().parse(operation, request, labels)
        except BadRequest as e:
            if e.code != "SerializationException":
                raise
            raise BadRequest(
                "InvalidRequestContentException",
                f"Could not parse request body into json: {e.message}",
                e.status,
            ) from e

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> WireResponse:
        meta = result.get("ResponseMetadata") or {}
        answer = super().serialize(operation, result, str(meta.get("RequestId") or request_id))
        extra: Mapping[str, str] = meta.get("HTTPHeaders") or {}
        if not extra:
            return answer
        replaced = {k.lower() for k in extra}
        kept = tuple((k, v) for k, v in answer.headers if k.lower() not in replaced)
        return WireResponse(answer.status, kept + tuple(extra.items()), answer.body)

    def error(self, service: ServiceModel, error: WireError, request_id: str) -> WireResponse:
        if "Type" not in error.fields:
            fields = {**error.fields, "Type": "User" if error.sender_fault else "Service"}
            error = WireError(error.code, error.message, error.status, error.sender_fault, fields)
        return super().error(service, error, request_id)


PROTOCOL = LambdaRestJson()
