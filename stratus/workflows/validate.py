"""The checks Step Functions makes on a definition at creation, as a list of problems.

Each problem is (code, message, location) and AWS joins them into one InvalidDefinition
message, "<code>: <message> at <location>" each, separated by ", ". The wording follows what
AWS answers where it is known (Field 'X' is not supported; These fields are required: [...];
There should only be one of the following fields: [...]; Minimum value is N; Missing 'Next'
target: X; State "X" is not reachable.; Workflow has no terminal state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stratus.workflows import intrinsics, paths
from stratus.workflows.timestamps import parse_timestamp

SCHEMA = "SCHEMA_VALIDATION_FAILED"
TARGET = "MISSING_TRANSITION_TARGET"
NO_END = "MISSING_END_STATE"
DUPLICATE = "DUPLICATE_STATE_NAME"

STATE_TYPES = ("Choice", "Fail", "Map", "Parallel", "Pass", "Succeed", "Task", "Wait")

_COMMON = {"Type", "Comment", "QueryLanguage"}
_IO = {"InputPath", "OutputPath"}
_FLOW = {"Next", "End"}
_FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | _FLOW | {"Parameters", "Result", "ResultPath"},
    "Task": _COMMON
    | _IO
    | _FLOW
    | {
        "Resource",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON
    | _IO
    | _FLOW
    | {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"},
    "Map": _COMMON
    | _IO
    | _FLOW
    | {
        "ItemProcessor",
        "Iterator",
        "ItemsPath",
        "ItemSelector",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
        "Label",
    },
}
_MACHINE_FIELDS = {"StartAt", "States", "Comment", "TimeoutSeconds", "Version", "QueryLanguage"}
_BRANCH_FIELDS = {"StartAt", "States", "Comment"}
_PROCESSOR_FIELDS = {"StartAt", "States", "Comment", "ProcessorConfig"}
_RETRIER_FIELDS = {
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
}
_CATCHER_FIELDS = {"ErrorEquals", "Next", "ResultPath", "Comment"}

# Choice comparison operators and the JSON type each compares with.
_OPERATORS: dict[str, str] = {
    **{
        f"String{op}": "string"
        for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    },
    "StringMatches": "string",
    **{
        f"Numeric{op}": "number"
        for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    },
    "BooleanEquals": "boolean",
    **{
        f"Timestamp{op}": "timestamp"
        for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    },
    **{
        f"{kind}{op}Path": "path"
        for kind in ("String", "Numeric", "Timestamp")
        for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    },
    "BooleanEqualsPath": "path",
    **{f"Is{kind}": "boolean" for kind in ("Null", "Present", "Numeric", "String", "Boolean", "Timestamp")},
}
# Intrinsics AWS allows in a Fail state's ErrorPath and CausePath (they return strings).
FAIL_PATH_INTRINSICS = frozenset(
    {
        "States.Format",
        "States.JsonToString",
        "States.ArrayGetItem",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.UUID",
    }
)
_MAX_INT = 99999999


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    location: str | None

    def text(self) -> str:
        return f"{self.code}: {self.message} at {self.location if self.location is not None else 'null'}"


def problems(document: Any) -> list[Problem]:
    checker = _Checker()
    if not isinstance(document, dict):
        checker.schema("The definition must be a JSON object", "/")
        return checker.found
    checker.machine(document, "", _MACHINE_FIELDS)
    return checker.found


class _Checker:
    def __init__(self) -> None:
        self.found: list[Problem] = []
        self.names: set[str] = set()

    def schema(self, message: str, location: str) -> None:
        self.found.append(Problem(SCHEMA, message, location or "/"))

    # ---- a machine, a branch, a processor --------------------------------------------------

    def machine(self, doc: Mapping[str, Any], scope: str, allowed: set[str]) -> None:
        where = scope or "/"
        self.unknown(doc, allowed, where)
        missing = [f for f in ("StartAt", "States") if f not in doc]
        if missing:
            self.schema(f"These fields are required: [{', '.join(missing)}]", where)
        if "Comment" in doc and not isinstance(doc["Comment"], str):
            self.schema("The value for the field 'Comment' must be a STRING", f"{scope}/Comment")
        if "TimeoutSeconds" in doc:
            self.integer(doc, "TimeoutSeconds", scope, minimum=1)
        if "Version" in doc and doc["Version"] != "1.0":
            self.schema("The value for the field 'Version' must be '1.0'", f"{scope}/Version")
        self.query_language(doc, scope)
        if "ProcessorConfig" in doc:
            self.processor_config(doc["ProcessorConfig"], f"{scope}/ProcessorConfig")
        states = doc.get("States")
        if "States" in doc and (not isinstance(states, dict) or not states):
            self.schema("The value for the field 'States' must be a non-empty OBJECT", f"{scope}/States")
            return
        start = doc.get("StartAt")
        if "StartAt" in doc and not isinstance(start, str):
            self.schema("The value for the field 'StartAt' must be a STRING", f"{scope}/StartAt")
        if not isinstance(states, dict):
            return
        for name, raw in states.items():
            self.state(name, raw, f"{scope}/States/{name}")
        self.transitions(start, states, scope)

    def query_language(self, doc: Mapping[str, Any], scope: str) -> None:
        value = doc.get("QueryLanguage", "JSONPath")
        if value == "JSONata":
            self.schema(
                "The QueryLanguage 'JSONata' is not supported by Stratus; use 'JSONPath'",
                f"{scope}/QueryLanguage",
            )
        elif value != "JSONPath":
            self.schema(
                "The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]",
                f"{scope}/QueryLanguage",
            )

    def processor_config(self, config: Any, where: str) -> None:
        if not isinstance(config, dict):
            self.schema("The value for the field 'ProcessorConfig' must be an OBJECT", where)
            return
        self.unknown(config, {"Mode", "ExecutionType"}, where)
        if config.get("Mode", "INLINE") != "INLINE":
            self.schema(
                "Only the INLINE Mode of a Map's ItemProcessor is supported by Stratus", f"{where}/Mode"
            )

    def transitions(self, start: Any, states: Mapping[str, Any], scope: str) -> None:
        edges: dict[str, list[str]] = {}
        for name, raw in states.items():
            if not isinstance(raw, dict):
                continue
            targets: list[tuple[str, Any]] = [
                (f"{scope}/States/{name}/Next", raw.get("Next")),
                (f"{scope}/States/{name}/Default", raw.get("Default")),
            ]
            choices = raw.get("Choices") if raw.get("Type") == "Choice" else None
            for i, rule in enumerate(choices if isinstance(choices, list) else []):
                if isinstance(rule, dict):
                    targets.append((f"{scope}/States/{name}/Choices[{i}]/Next", rule.get("Next")))
            catches = raw.get("Catch")
            for i, catcher in enumerate(catches if isinstance(catches, list) else []):
                if isinstance(catcher, dict):
                    targets.append((f"{scope}/States/{name}/Catch[{i}]/Next", catcher.get("Next")))
            edges[name] = []
            for where, target in targets:
                if not isinstance(target, str):
                    continue
                if target in states:
                    edges[name].append(target)
                else:
                    self.found.append(Problem(TARGET, f"Missing 'Next' target: {target}", where))
        if isinstance(start, str) and start not in states:
            self.found.append(Problem(TARGET, f"Missing 'Next' target: {start}", f"{scope}/StartAt"))
        if not any(_terminal(raw) for raw in states.values()):
            # AWS reports this alone: a machine without an end suppresses the reachability walk.
            self.found.append(Problem(NO_END, "Workflow has no terminal state", None))
            return
        reached: set[str] = set()
        pending = [start] if isinstance(start, str) and start in states else []
        while pending:
            name = pending.pop()
            if name not in reached:
                reached.add(name)
                pending.extend(edges.get(name, ()))
        for name in states:
            if name not in reached:
                self.found.append(
                    Problem(TARGET, f'State "{name}" is not reachable.', f"{scope}/States/{name}")
                )

    # ---- one state -------------------------------------------------------------------------

    def state(self, name: str, raw: Any, loc: str) -> None:
        if len(name) > 80:
            self.schema("State names must be at most 80 characters long", loc)
        if name in self.names:
            self.found.append(Problem(DUPLICATE, f"Duplicate State name: {name}", loc))
        self.names.add(name)
        if not isinstance(raw, dict):
            self.schema("The value for the state must be an OBJECT", loc)
            return
        kind = raw.get("Type")
        if kind is None:
            self.schema("These fields are required: [Type]", loc)
            return
        if kind not in STATE_TYPES:
            self.schema(
                f"The value for the field 'Type' must be one of [{', '.join(STATE_TYPES)}]", f"{loc}/Type"
            )
            return
        self.unknown(raw, _FIELDS[kind], loc)
        self.query_language(raw, loc)
        if "Comment" in raw and not isinstance(raw["Comment"], str):
            self.schema("The value for the field 'Comment' must be a STRING", f"{loc}/Comment")
        if kind not in ("Choice", "Succeed", "Fail"):
            self.flow(raw, loc)
        for key in ("InputPath", "OutputPath"):
            if key in raw and raw[key] is not None and not paths.is_path(raw[key]):
                self.schema(f"The value for the field '{key}' must be a valid JSONPath", f"{loc}/{key}")
        if (
            "ResultPath" in raw
            and raw["ResultPath"] is not None
            and not paths.is_reference_path(raw["ResultPath"])
        ):
            self.schema(
                "The value for the field 'ResultPath' must be a valid ReferencePath", f"{loc}/ResultPath"
            )
        for key in ("Parameters", "ItemSelector", "ResultSelector"):
            if key in raw:
                if not isinstance(raw[key], dict):
                    self.schema(f"The value for the field '{key}' must be an OBJECT", f"{loc}/{key}")
                else:
                    self.template(raw[key], f"{loc}/{key}")
        for key in ("Retry", "Catch"):
            if key in raw:
                self.handlers(raw[key], key, f"{loc}/{key}")
        getattr(self, f"state_{kind.lower()}")(raw, loc)

    def flow(self, raw: Mapping[str, Any], loc: str) -> None:
        has_next, has_end = "Next" in raw, raw.get("End") is True
        if "End" in raw and not isinstance(raw["End"], bool):
            self.schema("The value for the field 'End' must be a BOOLEAN", f"{loc}/End")
        if has_next and has_end:
            self.schema("There should only be one of the following fields: [End, Next]", loc)
        elif not has_next and not has_end:
            self.schema("There should be exactly one of the following fields: [End, Next]", loc)
        if has_next and not isinstance(raw["Next"], str):
            self.schema("The value for the field 'Next' must be a STRING", f"{loc}/Next")

    def state_pass(self, raw: Mapping[str, Any], loc: str) -> None:
        pass

    def state_succeed(self, raw: Mapping[str, Any], loc: str) -> None:
        pass

    def state_task(self, raw: Mapping[str, Any], loc: str) -> None:
        resource = raw.get("Resource")
        if resource is None:
            self.schema("These fields are required: [Resource]", loc)
        elif not isinstance(resource, str) or not resource.startswith("arn:"):
            self.schema("The value for the field 'Resource' must be a valid ARN", f"{loc}/Resource")
        for key in ("TimeoutSeconds", "HeartbeatSeconds"):
            self.exclusive(raw, (key, f"{key}Path"), loc)
            if key in raw:
                self.integer(raw, key, loc, minimum=1)
            if f"{key}Path" in raw:
                self.reference(raw, f"{key}Path", loc)
        timeout, heartbeat = raw.get("TimeoutSeconds"), raw.get("HeartbeatSeconds")
        if (
            isinstance(timeout, int)
            and isinstance(heartbeat, int)
            and heartbeat >= timeout
            and not isinstance(timeout, bool)
        ):
            self.schema("HeartbeatSeconds must be smaller than TimeoutSeconds", f"{loc}/HeartbeatSeconds")

    def state_choice(self, raw: Mapping[str, Any], loc: str) -> None:
        choices = raw.get("Choices")
        if choices is None:
            self.schema("These fields are required: [Choices]", loc)
        elif not isinstance(choices, list) or not choices:
            self.schema("The value for the field 'Choices' must be a non-empty ARRAY", f"{loc}/Choices")
        else:
            for i, rule in enumerate(choices):
                self.rule(rule, f"{loc}/Choices[{i}]", top=True)
        if "Default" in raw and not isinstance(raw["Default"], str):
            self.schema("The value for the field 'Default' must be a STRING", f"{loc}/Default")

    def rule(self, rule: Any, loc: str, *, top: bool) -> None:
        if not isinstance(rule, dict):
            self.schema("A Choice Rule must be an OBJECT", loc)
            return
        if top and "Next" not in rule:
            self.schema("These fields are required: [Next]", loc)
        if not top and "Next" in rule:
            self.schema("Field 'Next' is not supported", loc)
        combinators = [k for k in ("And", "Or", "Not") if k in rule]
        operators = [k for k in rule if k in _OPERATORS]
        if combinators:
            self.unknown(rule, {"And", "Or", "Not", "Next", "Comment"}, loc)
            if len(combinators) + len(operators) > 1:
                self.schema(
                    "A Choice Rule must have exactly one comparison operator or one of And, Or, Not", loc
                )
                return
            key = combinators[0]
            value = rule[key]
            if key == "Not":
                self.rule(value, f"{loc}/Not", top=False)
            elif not isinstance(value, list) or not value:
                self.schema(f"The value for the field '{key}' must be a non-empty ARRAY", f"{loc}/{key}")
            else:
                for i, sub in enumerate(value):
                    self.rule(sub, f"{loc}/{key}[{i}]", top=False)
            return
        self.unknown(rule, set(_OPERATORS) | {"Variable", "Next", "Comment"}, loc)
        if "Variable" not in rule:
            self.schema("These fields are required: [Variable]", loc)
        elif not paths.is_path(rule["Variable"]):
            self.schema("The value for the field 'Variable' must be a valid JSONPath", f"{loc}/Variable")
        if len(operators) != 1:
            self.schema("A Choice Rule must have exactly one comparison operator", loc)
            return
        op = operators[0]
        self.operand(op, rule[op], f"{loc}/{op}")

    def operand(self, op: str, value: Any, where: str) -> None:
        kind = _OPERATORS[op]
        ok = {
            "string": isinstance(value, str),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "timestamp": isinstance(value, str) and _timestamp_ok(value),
            "path": isinstance(value, str) and paths.is_path(value),
        }[kind]
        if not ok:
            label = {
                "string": "a STRING",
                "number": "a NUMBER",
                "boolean": "a BOOLEAN",
                "timestamp": "a valid timestamp",
                "path": "a valid JSONPath",
            }[kind]
            self.schema(f"The value for the field '{op}' must be {label}", where)

    def state_wait(self, raw: Mapping[str, Any], loc: str) -> None:
        given = [k for k in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if k in raw]
        if len(given) != 1:
            self.schema(
                "There should be exactly one of the following fields: "
                "[Seconds, Timestamp, SecondsPath, TimestampPath]",
                loc,
            )
        if "Seconds" in raw:
            self.integer(raw, "Seconds", loc, minimum=0)
        if "Timestamp" in raw and not (isinstance(raw["Timestamp"], str) and _timestamp_ok(raw["Timestamp"])):
            self.schema("The value for the field 'Timestamp' must be a valid timestamp", f"{loc}/Timestamp")
        for key in ("SecondsPath", "TimestampPath"):
            if key in raw:
                self.reference(raw, key, loc)

    def state_fail(self, raw: Mapping[str, Any], loc: str) -> None:
        for key in ("Error", "Cause"):
            self.exclusive(raw, (key, f"{key}Path"), loc)
            if key in raw and not isinstance(raw[key], str):
                self.schema(f"The value for the field '{key}' must be a STRING", f"{loc}/{key}")
            path = raw.get(f"{key}Path")
            if f"{key}Path" in raw and not (
                paths.is_reference_path(path, context=True) or _fail_intrinsic_ok(path)
            ):
                self.schema(
                    f"The value for the field '{key}Path' must be a valid ReferencePath or a "
                    "valid intrinsic function call",
                    f"{loc}/{key}Path",
                )

    def state_parallel(self, raw: Mapping[str, Any], loc: str) -> None:
        branches = raw.get("Branches")
        if branches is None:
            self.schema("These fields are required: [Branches]", loc)
        elif not isinstance(branches, list) or not branches:
            self.schema("The value for the field 'Branches' must be a non-empty ARRAY", f"{loc}/Branches")
        else:
            for i, branch in enumerate(branches):
                where = f"{loc}/Branches[{i}]"
                if isinstance(branch, dict):
                    self.machine(branch, where, _BRANCH_FIELDS)
                else:
                    self.schema("A branch must be an OBJECT", where)

    def state_map(self, raw: Mapping[str, Any], loc: str) -> None:
        given = [k for k in ("ItemProcessor", "Iterator") if k in raw]
        if not given:
            self.schema("These fields are required: [ItemProcessor]", loc)
        elif len(given) > 1:
            self.schema("There should only be one of the following fields: [ItemProcessor, Iterator]", loc)
        else:
            processor = raw[given[0]]
            if isinstance(processor, dict):
                self.machine(
                    processor,
                    f"{loc}/{given[0]}",
                    _PROCESSOR_FIELDS if given[0] == "ItemProcessor" else _BRANCH_FIELDS,
                )
            else:
                self.schema(f"The value for the field '{given[0]}' must be an OBJECT", f"{loc}/{given[0]}")
        self.exclusive(raw, ("ItemSelector", "Parameters"), loc)
        if "ItemsPath" in raw and not paths.is_reference_path(raw["ItemsPath"], context=True):
            self.schema(
                "The value for the field 'ItemsPath' must be a valid ReferencePath", f"{loc}/ItemsPath"
            )
        for key, minimum, maximum in (
            ("MaxConcurrency", 0, None),
            ("ToleratedFailureCount", 0, None),
            ("ToleratedFailurePercentage", 0, 100),
        ):
            self.exclusive(raw, (key, f"{key}Path"), loc)
            if key in raw:
                if key == "ToleratedFailurePercentage":
                    self.number(raw, key, loc, float(minimum), float(maximum or 0))
                else:
                    self.integer(raw, key, loc, minimum=minimum)
            if f"{key}Path" in raw:
                self.reference(raw, f"{key}Path", loc)
        if "Label" in raw and not isinstance(raw["Label"], str):
            self.schema("The value for the field 'Label' must be a STRING", f"{loc}/Label")

    # ---- shared pieces ---------------------------------------------------------------------

    def unknown(self, raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in raw:
            if key not in allowed:
                self.schema(f"Field '{key}' is not supported", where or "/")

    def exclusive(self, raw: Mapping[str, Any], keys: tuple[str, str], loc: str) -> None:
        if all(k in raw for k in keys):
            self.schema(f"There should only be one of the following fields: [{', '.join(keys)}]", loc)

    def integer(self, raw: Mapping[str, Any], key: str, loc: str, *, minimum: int) -> None:
        value = raw[key]
        where = f"{loc}/{key}"
        if not isinstance(value, int) or isinstance(value, bool):
            self.schema(f"The value for the field '{key}' must be an INTEGER", where)
        elif value < minimum:
            self.schema(f"Minimum value is {minimum}", where)
        elif value > _MAX_INT:
            self.schema(f"Maximum value is {_MAX_INT}", where)

    def number(self, raw: Mapping[str, Any], key: str, loc: str, minimum: float, maximum: float) -> None:
        value = raw[key]
        where = f"{loc}/{key}"
        if not isinstance(value, int | float) or isinstance(value, bool):
            self.schema(f"The value for the field '{key}' must be a NUMBER", where)
        elif value < minimum:
            self.schema(f"Minimum value is {minimum}", where)
        elif value > maximum:
            self.schema(f"Maximum value is {maximum}", where)

    def reference(self, raw: Mapping[str, Any], key: str, loc: str) -> None:
        if not paths.is_reference_path(raw[key], context=True):
            self.schema("Value is not a Reference Path", f"{loc}/{key}")

    def template(self, template: Any, where: str) -> None:
        """A payload template: each `.$` key's value a path or an intrinsic function call."""
        if isinstance(template, list):
            for item in template:
                self.template(item, where)
            return
        if not isinstance(template, dict):
            return
        for key, value in template.items():
            if key.endswith(".$"):
                if not (isinstance(value, str) and (paths.is_path(value) or intrinsics.is_call(value))):
                    self.schema(
                        f"The value for the field '{key}' must be a valid JSONPath or a valid "
                        "intrinsic function call",
                        where,
                    )
            else:
                self.template(value, f"{where}/{key}")

    def handlers(self, value: Any, key: str, where: str) -> None:
        if not isinstance(value, list):
            self.schema(f"The value for the field '{key}' must be an ARRAY", where)
            return
        for i, item in enumerate(value):
            loc = f"{where}[{i}]"
            if not isinstance(item, dict):
                self.schema(f"The value for the field '{key}' must be an ARRAY of OBJECTs", loc)
                continue
            self.unknown(item, _RETRIER_FIELDS if key == "Retry" else _CATCHER_FIELDS, loc)
            errors = item.get("ErrorEquals")
            if errors is None:
                self.schema("These fields are required: [ErrorEquals]", loc)
            elif not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
                self.schema(
                    "The value for the field 'ErrorEquals' must be a non-empty ARRAY of STRINGs",
                    f"{loc}/ErrorEquals",
                )
            elif "States.ALL" in errors:
                if len(errors) > 1:
                    self.schema(
                        "Error name 'States.ALL' must appear alone in ErrorEquals", f"{loc}/ErrorEquals"
                    )
                if i != len(value) - 1:
                    kind = "Retrier" if key == "Retry" else "Catcher"
                    self.schema(f"A {kind} with 'States.ALL' must be the last {kind}", f"{loc}/ErrorEquals")
            if key == "Retry":
                self.retrier(item, loc)
            else:
                if "Next" not in item:
                    self.schema("These fields are required: [Next]", loc)
                elif not isinstance(item["Next"], str):
                    self.schema("The value for the field 'Next' must be a STRING", f"{loc}/Next")
                result_path = item.get("ResultPath", "$")
                if result_path is not None and not paths.is_reference_path(result_path):
                    self.schema(
                        "The value for the field 'ResultPath' must be a valid ReferencePath",
                        f"{loc}/ResultPath",
                    )

    def retrier(self, item: Mapping[str, Any], loc: str) -> None:
        if "IntervalSeconds" in item:
            self.integer(item, "IntervalSeconds", loc, minimum=1)
        if "MaxAttempts" in item:
            self.integer(item, "MaxAttempts", loc, minimum=0)
        if "MaxDelaySeconds" in item:
            self.integer(item, "MaxDelaySeconds", loc, minimum=1)
            if isinstance(item["MaxDelaySeconds"], int) and item["MaxDelaySeconds"] > 31622400:
                self.schema("Maximum value is 31622400", f"{loc}/MaxDelaySeconds")
        if "BackoffRate" in item:
            self.number(item, "BackoffRate", loc, 1.0, float(_MAX_INT))
        if "JitterStrategy" in item and item["JitterStrategy"] not in ("FULL", "NONE"):
            self.schema(
                "The value for the field 'JitterStrategy' must be one of [FULL, NONE]",
                f"{loc}/JitterStrategy",
            )


def _terminal(raw: Any) -> bool:
    return isinstance(raw, dict) and (raw.get("End") is True or raw.get("Type") in ("Succeed", "Fail"))


def _timestamp_ok(text: str) -> bool:
    return parse_timestamp(text) is not None


def _fail_intrinsic_ok(value: Any) -> bool:
    if not isinstance(value, str) or not intrinsics.is_call(value):
        return False
    return intrinsics.parse_call(value).name in FAIL_PATH_INTRINSICS
