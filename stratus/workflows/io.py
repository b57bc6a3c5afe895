"""Input and output processing of a state, as Step Functions does it for JSONPath states:
InputPath -> Parameters (or a Map's ItemsPath and ItemSelector) -> the work -> ResultSelector
-> ResultPath -> OutputPath, with the `.$` payload templates, the context object `$$` and
intrinsic functions; plus the smaller decisions that read a state's input (a Wait's end, a Fail's
error, a Task's resource and timeouts).

Pure: the clock comes in as `now`, randomness as an `Entropy`. A path or function that fails
raises StateRuntimeError (States.Runtime) naming the state, as AWS reports these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from stratus.workflows import intrinsics, paths
from stratus.workflows.definition import Catcher, State
from stratus.workflows.errors import RUNTIME, PathError, StateRuntimeError, StatesError
from stratus.workflows.intrinsics import Entropy
from stratus.workflows.timestamps import parse_timestamp

LAMBDA_INVOKE = "lambda:invoke"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _select(state: State, field: str, data: Any, context: Mapping[str, Any]) -> Any:
    """InputPath/OutputPath: null gives {} (the data is discarded), a path what it selects."""
    if field not in state.raw:
        return data
    text = state.raw[field]
    if text is None:
        return {}
    try:
        return paths.read(text, data, context)
    except PathError as exc:
        raise StateRuntimeError(state.name, f"Invalid path '{text}' : {exc.detail}") from None


def apply_template(
    template: Any,
    data: Any,
    context: Mapping[str, Any],
    state: str,
    entropy: Entropy | None = None,
) -> Any:
    """A payload template (Parameters, ItemSelector, ResultSelector) over `data`: each key
    ending in `.$` takes the value of its path or intrinsic call and loses the suffix."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                out[key[:-2]] = _dynamic(key, value, data, context, state, entropy)
            else:
                out[key] = apply_template(value, data, context, state, entropy)
        return out
    if isinstance(template, list):
        return [apply_template(v, data, context, state, entropy) for v in template]
    return template


def _dynamic(
    key: str, text: str, data: Any, context: Mapping[str, Any], state: str, entropy: Entropy | None
) -> Any:
    if text.startswith("States."):
        try:
            return intrinsics.evaluate(text, data, context, entropy or Entropy())
        except PathError as exc:
            raise StateRuntimeError(state, exc.detail) from None
    try:
        return paths.read(text, data, context)
    except PathError:
        where = "context object" if text.startswith("$$") else "input"
        shown = _json(context if text.startswith("$$") else data)
        raise StateRuntimeError(
            state,
            f"The JSONPath '{text}' specified for the field '{key}' could not be found in the {where} "
            f"'{shown}'",
        ) from None


def effective_input(
    state: State, raw_input: Any, context: Mapping[str, Any], *, entropy: Entropy | None = None
) -> Any:
    """The input the state works on: InputPath, then Parameters (Task, Pass, Parallel). A Map's
    Parameters is its ItemSelector (the older name), applied per item by `map_items`."""
    value = _select(state, "InputPath", raw_input, context)
    if "Parameters" in state.raw and state.type != "Map":
        value = apply_template(state.raw["Parameters"], value, context, state.name, entropy)
    return value


def map_items(
    state: State, raw_input: Any, context: Mapping[str, Any], *, entropy: Entropy | None = None
) -> list[Any]:
    """A Map's iterations' inputs: InputPath over the state's input, ItemsPath (default `$`)
    selecting the array, then ItemSelector (or Parameters) per item, where `$$.Map.Item`
    holds {"Index", "Value"} of the item and `$` the Map's input."""
    value = _select(state, "InputPath", raw_input, context)
    items_path = state.raw.get("ItemsPath", "$")
    try:
        items = paths.read(items_path, value, context)
    except PathError as exc:
        raise StateRuntimeError(state.name, f"Invalid path '{items_path}' : {exc.detail}") from None
    if not isinstance(items, list):
        raise StateRuntimeError(
            state.name,
            f"Invalid path '{items_path}' : the ItemsPath must select a JSON array, not {_json(items)}",
        )
    selector = state.raw.get("ItemSelector", state.raw.get("Parameters"))
    if selector is None:
        return list(items)
    out = []
    for index, item in enumerate(items):
        item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
        out.append(apply_template(selector, value, item_context, state.name, entropy))
    return out


def state_output(
    state: State, raw_input: Any, result: Any, context: Mapping[str, Any], *, entropy: Entropy | None = None
) -> Any:
    """The state's output: ResultSelector over the result (Task, Parallel, Map), ResultPath
    placing it into the state's raw input (null: the input passes on), then OutputPath."""
    if "ResultSelector" in state.raw:
        result = apply_template(state.raw["ResultSelector"], result, context, state.name, entropy)
    combined = _place(state.name, state.raw.get("ResultPath", "$"), raw_input, result)
    return _select(state, "OutputPath", combined, context)


def _place(state: str, result_path: str | None, raw_input: Any, result: Any) -> Any:
    if result_path is None:
        return raw_input
    try:
        return paths.put(raw_input, result_path, result)
    except PathError as exc:
        raise StateRuntimeError(state, exc.detail) from None


def catch_output(catcher: Catcher, raw_input: Any, error: StatesError) -> Any:
    """What a catcher passes to its Next: the error output {"Error", "Cause"} placed into the
    state's raw input at the catcher's ResultPath (default `$`: the error output alone)."""
    error_output = {"Error": error.error, "Cause": error.cause}
    if catcher.result_path is None:
        return raw_input
    try:
        return paths.put(raw_input, catcher.result_path, error_output)
    except PathError as exc:
        # The catcher cannot hand the error on: the state fails with States.Runtime instead.
        raise StatesError(RUNTIME, exc.detail) from None


def wait_until(
    state: State, raw_input: Any, now: datetime, context: Mapping[str, Any] | None = None
) -> datetime:
    """When a Wait state ends: Seconds or SecondsPath after `now`, or the Timestamp(Path)."""
    raw = state.raw
    ctx = context or {}
    if "Seconds" in raw:
        return now + timedelta(seconds=raw["Seconds"])
    if "Timestamp" in raw:
        when = parse_timestamp(raw["Timestamp"])
        assert when is not None  # validated at creation
        return when
    value = _select(state, "InputPath", raw_input, ctx)
    if "SecondsPath" in raw:
        seconds = _reference(state, raw["SecondsPath"], value, ctx)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise StateRuntimeError(
                state.name,
                f"The SecondsPath parameter does not reference a valid integer value: {_json(seconds)}",
            )
        return now + timedelta(seconds=seconds)
    text = _reference(state, raw["TimestampPath"], value, ctx)
    when = parse_timestamp(text) if isinstance(text, str) else None
    if when is None:
        raise StateRuntimeError(
            state.name,
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
            f"format string: {raw['TimestampPath']} == {_json(text)}",
        )
    return when


def _reference(state: State, text: str, data: Any, context: Mapping[str, Any]) -> Any:
    try:
        return paths.read(text, data, context)
    except PathError as exc:
        raise StateRuntimeError(state.name, f"Invalid path '{text}' : {exc.detail}") from None


def fail_error(
    state: State, raw_input: Any, context: Mapping[str, Any], *, entropy: Entropy | None = None
) -> StatesError:
    """A Fail state's error: Error/Cause, or ErrorPath/CausePath (a reference path or an
    intrinsic function returning a string) over the state's input."""
    return StatesError(
        _fail_text(state, "Error", raw_input, context, entropy),
        _fail_text(state, "Cause", raw_input, context, entropy),
    )


def _fail_text(
    state: State, field: str, raw_input: Any, context: Mapping[str, Any], entropy: Entropy | None
) -> str:
    if field in state.raw:
        return str(state.raw[field])
    path = state.raw.get(f"{field}Path")
    if path is None:
        return ""
    value = _dynamic(f"{field}Path", path, raw_input, context, state.name, entropy)
    if not isinstance(value, str):
        raise StateRuntimeError(
            state.name, f"The {field}Path '{path}' must select a string, not {_json(value)}"
        )
    return value


@dataclass(frozen=True)
class TaskResource:
    kind: str  # "lambda-arn" | "lambda-invoke" | "unsupported"
    pattern: str  # "request" | "waitForTaskToken" | "sync"
    arn: str  # the function's ARN, or the integration's ARN without its pattern suffix


def task_resource(state: State) -> TaskResource:
    """What a Task's Resource names: a function by its ARN, the optimized Lambda integration
    `arn:aws:states:::lambda:invoke` (with `.waitForTaskToken`), or something Stratus does
    not run."""
    resource = str(state.raw.get("Resource", ""))
    parts = resource.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return TaskResource("lambda-arn", "request", resource)
    if len(parts) >= 6 and parts[2] == "states" and parts[3] == "" and parts[4] == "":
        service = ":".join(parts[5:])
        pattern = "request"
        for suffix in ("waitForTaskToken", "sync"):
            if service.endswith("." + suffix):
                service, pattern = service[: -len(suffix) - 1], suffix
        base = ":".join([*parts[:5], service])
        if service == LAMBDA_INVOKE and pattern != "sync":
            return TaskResource("lambda-invoke", pattern, base)
        return TaskResource("unsupported", pattern, base)
    return TaskResource("unsupported", "request", resource)


def task_timeouts(
    state: State, raw_input: Any, context: Mapping[str, Any] | None = None
) -> tuple[float | None, float | None]:
    """(TimeoutSeconds, HeartbeatSeconds) of a Task, the Path forms read from its input;
    None where the state sets none."""
    ctx = context or {}
    out: list[float | None] = []
    for field in ("TimeoutSeconds", "HeartbeatSeconds"):
        if field in state.raw:
            out.append(float(state.raw[field]))
        elif f"{field}Path" in state.raw:
            path = state.raw[f"{field}Path"]
            value = _reference(state, path, _select(state, "InputPath", raw_input, ctx), ctx)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise StateRuntimeError(
                    state.name,
                    f"The {field}Path parameter does not reference a positive integer: {_json(value)}",
                )
            out.append(float(value))
        else:
            out.append(None)
    return out[0], out[1]
