"""The JSON the dashboard page reads, from the owners that hold it: the registry (functions),
the metrics (charts, cost), the log store (the live tail) and the Invoke operation (the form).

Every handler here sits behind `login.guarded`; `pages.register` puts it there.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from aiohttp import web

from stratus.control.models import FunctionRecord
from stratus.dashboard import series
from stratus.dashboard.login import change_request
from stratus.errors import InvalidParameterValue, InvalidRequestContent
from stratus.frontend.context import ApiContext, ctx
from stratus.frontend.responses import json_response
from stratus.invoke.service import DEFAULT_REGION
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.invoke import run_invoke
from stratus.observe.logstore import LogEvent
from stratus.services.metering import cost_report

TAIL_FIRST = 100  # lines shown when the tail starts
TAIL_MAX = 500  # lines sent per poll at most
MESSAGE_CHARS = 8192  # longer log lines are cut for the page
Labelled = tuple[LogEvent, str]  # a log line and the name it is shown with
# What the form's Invoke runs with: the Lambda API's own context, as its Invoke operation has.
LAMBDA = web.AppKey("lambda", LambdaContext)


def _function_param(request: web.Request) -> str | None:
    """The `function` filter: a function's name, or None for all of them."""
    name = request.query.get("function", "")
    return name or None


def _window(request: web.Request) -> series.Window:
    name = request.query.get("window", series.DEFAULT_WINDOW)
    try:
        return series.window(name, time.time())
    except KeyError:
        raise InvalidParameterValue(f"window must be one of {', '.join(series.WINDOWS)}.") from None


def _describe(context: ApiContext, record: FunctionRecord) -> dict[str, Any]:
    latest = record.latest
    return {
        "name": latest.name,
        "runtime": latest.runtime,
        "handler": latest.handler,
        "memoryMb": latest.memory_size,
        "timeoutS": latest.timeout,
        "architecture": latest.architectures[0] if latest.architectures else "",
        "codeSize": latest.code_size,
        "description": latest.description,
        "lastModified": latest.last_modified,
        "state": latest.state,
        "versions": sorted(record.versions, key=int),
        "aliases": [{"name": n, "version": a.function_version} for n, a in sorted(record.aliases.items())],
        "reservedConcurrency": record.reserved_concurrency,
        "warmEnvironments": context.invoker.environment_count(latest.name),
    }


async def functions(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    records = sorted(context.registry.records(), key=lambda r: r.name)
    return json_response({"functions": [_describe(context, r) for r in records]})


async def metrics(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    function = _function_param(request)
    win = _window(request)
    # Every region's (the dashboard is the account's, as its function list is).
    rows = context.metrics.minutes(None, function, None, win.start, win.end)
    # The account-wide gauges, where the metrics keep them (function "", dimension "account").
    account = [] if function else context.metrics.minutes(None, "", "account", win.start, win.end)
    data = series.chart_series(rows, win, account)
    data.update(function=function, window=request.query.get("window", series.DEFAULT_WINDOW), step=win.step)
    return json_response(data)


async def cost(request: web.Request) -> web.StreamResponse:
    win = _window(request)
    report = cost_report(ctx(request), win.start, "function")
    function = _function_param(request)
    if function:
        report["rows"] = [row for row in report["rows"] if row["function"] == function]
        report["totalCost"] = round(sum(row["cost"] for row in report["rows"]), 10)
    return json_response(report)


def _cursor(request: web.Request) -> int:
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise InvalidParameterValue("after must be an event id.") from None
    if after < 0:
        raise InvalidParameterValue("after must be an event id.")
    return after


def _log_groups(context: ApiContext, function: str | None) -> dict[tuple[str, str], str]:
    """The log groups to tail, as (region, group) -> the name their lines are shown with: the
    function's, or the group's own where functions share it (LoggingConfig.LogGroup). Log
    groups are regional: each function's lines are read from its own region's group."""
    if function:
        # By name: the dashboard shows every region's functions.
        records = [r for r in context.registry.records() if r.name == function]
    else:
        records = list(context.registry.records())
    groups: dict[tuple[str, str], str] = {}
    for record in records:
        for config in (record.latest, *record.versions.values()):
            group = (record.key.region, config.log_group_name)
            groups[group] = record.name if groups.get(group, record.name) == record.name else group[1]
    return groups


def merge_tail(batches: list[tuple[str, list[LogEvent]]], after: int) -> tuple[list[Labelled], int]:
    """Each group's (label, events) read for a poll -> the lines to show, in id order, and the
    next cursor. After a cursor the oldest lines come first, and a group that filled its
    `TAIL_MAX` sets a horizon past which nothing is sent yet, so no line is ever skipped."""
    found = sorted(
        ((event, label) for label, events in batches for event in events), key=lambda pair: pair[0].event_id
    )
    if after:
        full = [events[-1].event_id for _, events in batches if len(events) >= TAIL_MAX]
        horizon = min(full, default=None)
        found = [pair for pair in found if horizon is None or pair[0].event_id <= horizon][:TAIL_MAX]
    else:
        found = found[-TAIL_FIRST:]
    return found, max([after, *(event.event_id for event, _ in found)])


async def logs(request: web.Request) -> web.StreamResponse:
    """Log lines after the `after` cursor (event ids only grow), or the latest ones without it."""
    context = ctx(request)
    after = _cursor(request)
    batches = []
    for (region, group), label in _log_groups(context, _function_param(request)).items():
        if after:
            events = context.logs.events(region, group, after_id=after, limit=TAIL_MAX)
        else:
            events = context.logs.events(region, group, limit=TAIL_FIRST, descending=True)
        batches.append((label, events))
    found, cursor = merge_tail(batches, after)
    lines = [
        {
            "id": event.event_id,
            "ts": event.timestamp,
            "function": label,
            "stream": event.stream,
            "message": event.message[:MESSAGE_CHARS].rstrip("\n"),
        }
        for event, label in found
    ]
    return json_response({"events": lines, "cursor": cursor})


async def invoke(request: web.Request) -> web.StreamResponse:
    """A synchronous invoke through the API's own Invoke operation, with the log tail."""
    context = request.app[LAMBDA]
    params = await change_request(request)
    name = params.get("function")
    if not isinstance(name, str) or not name:
        raise InvalidRequestContent("Choose a function to invoke.")
    qualifier = params.get("qualifier") or None
    if qualifier is not None and not isinstance(qualifier, str):
        raise InvalidRequestContent("qualifier must be a string.")
    text = params.get("payload", "")
    if not isinstance(text, str):
        raise InvalidRequestContent("payload must be the event's JSON text.")
    try:
        json.loads(text or "{}")
    except ValueError as e:
        raise InvalidRequestContent(f"The payload is not valid JSON: {e}.") from None
    headers = {"x-amz-log-type": "Tail", "x-amz-invocation-type": "RequestResponse"}
    started = time.perf_counter()
    reply = await run_invoke(
        context, name, qualifier, lambda key: headers.get(key.lower()), text.encode(), DEFAULT_REGION
    )
    took_ms = (time.perf_counter() - started) * 1000
    answer = {key.lower(): value for key, value in reply.headers}
    tail = answer.get("x-amz-log-result", "")
    return json_response(
        {
            "statusCode": reply.status,
            "requestId": answer.get("x-amzn-requestid"),
            "executedVersion": answer.get("x-amz-executed-version"),
            "functionError": answer.get("x-amz-function-error"),
            "payload": reply.body.decode(errors="replace"),
            "log": base64.b64decode(tail).decode(errors="replace") if tail else "",
            "tookMs": round(took_ms, 1),
        }
    )
