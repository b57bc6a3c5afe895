"""The dashboard's recorded invocations (observe/recordings.py): the recent ones of a function
(or of every function) and a Replay that runs one's event again through the API's own Invoke
operation, answered with the recorded and the new result side by side.

Both sit behind `login.guarded` (a dashboard session is the root's: it sees every function);
the replay is a change, so it goes through `change_request`'s CSRF checks as the Invoke form
does.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from aiohttp import web

from stratus.dashboard.api import LAMBDA
from stratus.dashboard.login import change_request
from stratus.errors import InvalidRequestContent, ResourceNotFound
from stratus.frontend.context import ctx
from stratus.frontend.responses import json_response
from stratus.lambda_api.invoke import run_invoke
from stratus.observe.recordings import Recording, Recordings

PER_FUNCTION = 20  # recordings listed per function
LISTED = 50  # at most, every function's together
RESULT_CHARS = 8192  # longer results are cut for the page


def _recordings(request: web.Request) -> Recordings:
    recordings = ctx(request).invoker.recordings
    if recordings is None:
        raise ResourceNotFound("This server records no invocations (STRATUS_TELEMETRY=0).")
    return recordings


def newest(groups: list[list[Recording]], limit: int) -> list[Recording]:
    """Several functions' recordings (each newest first) -> the `limit` newest of all."""
    merged = [r for group in groups for r in group]
    merged.sort(key=lambda r: (r.time_ms, r.request_id), reverse=True)
    return merged[:limit]


async def recent(request: web.Request) -> web.StreamResponse:
    """Every region's recordings of the named function (by name, as the dashboard shows its
    functions), or of every function without a name."""
    context = ctx(request)
    recordings = _recordings(request)
    name = request.query.get("function", "")
    failed = request.query.get("failed", "") == "1"
    keys = {r.key for r in context.registry.records() if not name or r.name == name}
    groups = [recordings.recent(k.region, k.name, failed=failed, limit=PER_FUNCTION) for k in sorted(keys)]
    found = newest(groups, LISTED)
    return json_response({"function": name, "invocations": [r.to_json(with_payload=False) for r in found]})


def _side(recording: Recording) -> dict[str, Any]:
    result = recording.result.decode(errors="replace") if recording.result is not None else None
    return {
        "requestId": recording.request_id,
        "version": recording.version,
        "functionError": "Unhandled" if recording.failed else None,
        "error": recording.error_type,
        "errorMessage": recording.error_message,
        "durationMs": round(recording.duration_ms, 3),
        "payload": (result or "")[:RESULT_CHARS],
        "note": None if result is not None else "result not recorded: too large",
    }


async def replay(request: web.Request) -> web.StreamResponse:
    """Run a recording's event again, synchronously, on its function and qualifier."""
    params = await change_request(request)
    request_id = params.get("requestId")
    if not isinstance(request_id, str) or not request_id:
        raise InvalidRequestContent("requestId must be a recorded invocation's request id.")
    recording = _recordings(request).get(request_id)
    if recording is None:
        raise ResourceNotFound(f"No recorded invocation has request id {request_id}.")
    if recording.payload is None:
        raise InvalidRequestContent(
            f"{request_id} cannot be replayed: its payload was not recorded (too large)."
        )
    headers = {"x-amz-log-type": "None", "x-amz-invocation-type": "RequestResponse"}
    if recording.client_context:
        headers["x-amz-client-context"] = base64.b64encode(recording.client_context.encode()).decode()
    started = time.perf_counter()
    reply = await run_invoke(
        request.app[LAMBDA],
        recording.function,
        recording.qualifier,
        lambda key: headers.get(key.lower()),
        recording.payload,
        recording.region,
    )
    took_ms = (time.perf_counter() - started) * 1000
    answer = {key.lower(): value for key, value in reply.headers}
    new = {
        "requestId": answer.get("x-amzn-requestid"),
        "version": answer.get("x-amz-executed-version"),
        "functionError": answer.get("x-amz-function-error"),
        "statusCode": reply.status,
        "tookMs": round(took_ms, 1),
        "payload": reply.body.decode(errors="replace")[:RESULT_CHARS],
    }
    return json_response({"function": recording.function, "recorded": _side(recording), "replay": new})
