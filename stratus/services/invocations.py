"""Stratus's own read endpoints for recorded invocations (`stratus invocations`, `stratus
replay`), signed with SigV4 like every API request, as `/_stratus/cost` is:

- `GET /_stratus/invocations?function=NAME[&failed=1][&limit=N]`: the function's recent
  invocations in the region the request was signed for, newest first, without payloads;
- `GET /_stratus/invocations/{request_id}`: one recording, with its payload, client context
  and result (what a replay needs).

Recorded payloads may hold secrets, so they are read as the function's code and configuration
are: a caller other than root needs `lambda:GetFunction` on the function (the same right that
shows its environment variables and code). Replaying then needs `lambda:InvokeFunction`, which
the Invoke API checks as for any invoke.
"""

from __future__ import annotations

from aiohttp import web

from stratus.control.arns import function_arn
from stratus.errors import AccessDenied, InvalidParameterValue, ResourceNotFound
from stratus.frontend.context import ctx
from stratus.frontend.responses import json_response
from stratus.identity.keyring import Caller
from stratus.observe.recordings import Recordings

READ_ACTION = "lambda:GetFunction"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 20


def parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        raise InvalidParameterValue("limit must be a whole number.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterValue(f"limit must be from 1 to {MAX_LIMIT}.")
    return limit


def _recordings(request: web.Request) -> Recordings:
    recordings = ctx(request).invoker.recordings
    if recordings is None:
        raise ResourceNotFound("This server records no invocations.")
    return recordings


def _may_read(request: web.Request, region: str, function: str) -> None:
    caller = request.get("caller")
    if not isinstance(caller, Caller):
        raise AccessDenied("The request was not signed.")
    context = ctx(request)
    context.authorizer.check(
        caller, READ_ACTION, function_arn(region, context.account_id, function), region=region
    )


async def recent(request: web.Request) -> web.StreamResponse:
    name = request.query.get("function", "")
    if not name:
        raise InvalidParameterValue("function is required: the name of a function.")
    failed = request.query.get("failed", "") in ("1", "true")
    limit = parse_limit(request.query.get("limit"))
    region = str(request.get("region", "us-east-1"))
    _may_read(request, region, name)
    found = _recordings(request).recent(region, name, failed=failed, limit=limit)
    return json_response({"invocations": [r.to_json(with_payload=False) for r in found]})


async def one(request: web.Request) -> web.StreamResponse:
    request_id = request.match_info["request_id"]
    recording = _recordings(request).get(request_id)
    if recording is None:
        raise ResourceNotFound(
            f"No recorded invocation has request id {request_id} (unknown, or past the retention)."
        )
    _may_read(request, recording.region, recording.function)
    return json_response({"invocation": recording.to_json(with_payload=True)})


def register(app: web.Application) -> None:
    app.router.add_get("/_stratus/invocations", recent)
    app.router.add_get("/_stratus/invocations/{request_id}", one)
