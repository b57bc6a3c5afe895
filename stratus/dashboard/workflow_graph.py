"""What the dashboard draws for a state machine, pure: its definition as a graph (states with
their type, the transitions between them with Choice rules and Catch errors as labels, Parallel
branches and Map processors nested), and what an execution's history says about each state
(succeeded, failed, running; absent: not reached) and which transitions it took.

The drawing itself (layout and SVG) is the page's (`static/workflows.js`); this module decides
only what there is to draw, so that the decisions are tested without a browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stratus.workflows.definition import Definition, State

SUCCEEDED, FAILED, RUNNING = "succeeded", "failed", "running"
# A Choice rule's label is cut here; the page shortens it further and keeps it whole in a tooltip.
LABEL_CHARS = 120

# Choice comparison operators as a reader writes them (the `...Path` forms compare with a path).
_OPERATORS = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "Matches": "matches",
}
_KINDS = ("String", "Numeric", "Boolean", "Timestamp")
_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")


@dataclass(frozen=True)
class Edge:
    to: str
    kind: str  # "next" | "choice" | "default" | "catch"
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"to": self.to, "kind": self.kind, "label": self.label}


@dataclass(frozen=True)
class Node:
    name: str
    type: str
    end: bool
    edges: tuple[Edge, ...]
    branches: tuple[Graph, ...] = ()  # Parallel
    processor: Graph | None = None  # Map
    comment: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "end": self.end,
            "edges": [e.to_json() for e in self.edges],
            "branches": [b.to_json() for b in self.branches],
            "processor": self.processor.to_json() if self.processor is not None else None,
            "comment": self.comment,
        }


@dataclass(frozen=True)
class Graph:
    start_at: str
    nodes: tuple[Node, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"startAt": self.start_at, "states": [n.to_json() for n in self.nodes]}


def graph(definition: Definition) -> Graph:
    """A definition (or a branch, or a processor) as the nodes and edges the page draws, in the
    order the definition lists its states."""
    return Graph(definition.start_at, tuple(_node(state) for state in definition.states.values()))


def _node(state: State) -> Node:
    edges: list[Edge] = []
    if state.type == "Choice":
        for rule in state.raw.get("Choices", ()):
            if isinstance(rule, Mapping) and isinstance(rule.get("Next"), str):
                edges.append(Edge(rule["Next"], "choice", rule_label(rule)))
        default = state.raw.get("Default")
        if isinstance(default, str):
            edges.append(Edge(default, "default", "Default"))
    elif state.next is not None:
        edges.append(Edge(state.next, "next"))
    for catcher in state.catch:
        edges.append(Edge(catcher.next, "catch", ", ".join(catcher.error_equals)))
    comment = state.raw.get("Comment", "")
    return Node(
        name=state.name,
        type=state.type,
        end=state.end or state.type in ("Succeed", "Fail"),
        edges=tuple(edges),
        branches=tuple(graph(b) for b in state.branches),
        processor=graph(state.processor) if state.processor is not None else None,
        comment=comment if isinstance(comment, str) else "",
    )


def rule_label(rule: Mapping[str, Any]) -> str:
    """A Choice rule as one readable line: `$.kind == "a"`, `$.n >= 10 and not ($.x is null)`."""
    text = _rule(rule, top=True)
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _rule(rule: Any, *, top: bool = False) -> str:
    if not isinstance(rule, Mapping):
        return "?"
    for joiner in ("And", "Or"):
        parts = rule.get(joiner)
        if isinstance(parts, list):
            text = f" {joiner.lower()} ".join(_rule(p) for p in parts)
            return text if top else f"({text})"
    if "Not" in rule:
        return f"not ({_rule(rule['Not'], top=True)})"
    variable = str(rule.get("Variable", "$"))
    for key, value in rule.items():
        if key in _TESTS:
            words = key[2:].lower()
            return f"{variable} is {'' if value else 'not '}{'present' if words == 'present' else words}"
        path = key.endswith("Path")
        base = key[:-4] if path else key
        for kind in _KINDS:
            if base.startswith(kind) and base[len(kind) :] in _OPERATORS:
                shown = str(value) if path else json.dumps(value, ensure_ascii=False)
                return f"{variable} {_OPERATORS[base[len(kind) :]]} {shown}"
    return variable


# -- an execution's path -------------------------------------------------------------------------

# Events after which a lane's next events belong to a nested scope (a branch, an iteration).
_NESTING = frozenset({"ParallelStateStarted", "MapIterationStarted"})


@dataclass
class _Visit:
    """One entry into a state, followed along its lane (`previousEventId`)."""

    name: str
    parent: int | None  # the visit of the Parallel or Map this one runs inside
    exited: bool = False
    left: bool = False  # the lane went on to another state without an exit: a Catch took it
    status: str = ""


@dataclass(frozen=True)
class StateRun:
    """What an execution did in one state: its status and how many times it was entered,
    exited and failed (a Map's processor states run once per item, a loop runs a state again)."""

    status: str  # SUCCEEDED | FAILED | RUNNING
    entered: int
    succeeded: int
    failed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "entered": self.entered,
            "succeeded": self.succeeded,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class Path:
    states: Mapping[str, StateRun]
    transitions: tuple[tuple[str, str], ...]  # (from, to) as taken, each once, in first-taken order

    def to_json(self) -> dict[str, Any]:
        return {
            "states": {name: run.to_json() for name, run in self.states.items()},
            "transitions": [list(t) for t in self.transitions],
        }


def _event_name(event: Mapping[str, Any]) -> str | None:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            name = value.get("name")
            return name if isinstance(name, str) else None
    return None


def execution_path(events: Sequence[Mapping[str, Any]], execution_status: str) -> Path:
    """Each entered state's status and the transitions taken, from an execution's history.

    A visit is followed along its lane: an exit closes it (succeeded); another state entered
    from it with no exit means a Catch moved on (failed); a visit inside a Parallel or Map that
    closed without it, or in an execution that ended, failed (or was cut short); otherwise it
    is still running. A state entered more than once is running if any visit is, failed if any
    failed, else succeeded."""
    kinds: dict[int, str] = {}
    open_after: dict[int, int | None] = {}  # event id -> the visit open in its lane after it
    scope_after: dict[int, int | None] = {}  # event id -> the visit its lane runs inside
    closed_by: dict[int, int] = {}  # an exit event's id -> the visit it closed
    visits: dict[int, _Visit] = {}
    transitions: dict[tuple[str, str], None] = {}
    for event in events:
        eid, kind = int(event["id"]), str(event["type"])
        prev = int(event.get("previousEventId") or 0)
        kinds[eid] = kind
        lane_visit, scope = open_after.get(prev), scope_after.get(prev)
        name = _event_name(event)
        if kind.endswith("StateEntered") and name is not None:
            if kinds.get(prev) in _NESTING:
                scope = lane_visit
            else:
                source = lane_visit if lane_visit is not None else closed_by.get(prev)
                if lane_visit is not None:
                    visits[lane_visit].left = True
                if source is not None:
                    transitions[(visits[source].name, name)] = None
            visits[eid] = _Visit(name, scope)
            open_after[eid], scope_after[eid] = eid, scope
            continue
        if kind.endswith("StateExited") and lane_visit is not None and visits[lane_visit].name == name:
            visits[lane_visit].exited = True
            closed_by[eid] = lane_visit
            open_after[eid], scope_after[eid] = None, scope
            continue
        open_after[eid], scope_after[eid] = lane_visit, scope
    ended = execution_status != "RUNNING"
    for visit in visits.values():  # in id order: a parent is decided before what runs inside it
        parent = visits[visit.parent].status if visit.parent is not None else RUNNING
        if visit.exited:
            visit.status = SUCCEEDED
        elif visit.left or ended or parent != RUNNING:
            visit.status = FAILED
        else:
            visit.status = RUNNING
    return Path(_by_name(visits.values()), tuple(transitions))


def _by_name(visits: Iterable[_Visit]) -> dict[str, StateRun]:
    counts: dict[str, list[int]] = {}
    for visit in visits:
        entered, succeeded, failed, running = counts.setdefault(visit.name, [0, 0, 0, 0])
        counts[visit.name] = [
            entered + 1,
            succeeded + (visit.status == SUCCEEDED),
            failed + (visit.status == FAILED),
            running + (visit.status == RUNNING),
        ]
    return {
        name: StateRun(RUNNING if running else FAILED if failed else SUCCEEDED, entered, succeeded, failed)
        for name, (entered, succeeded, failed, running) in counts.items()
    }
