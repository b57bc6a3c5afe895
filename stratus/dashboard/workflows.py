"""The dashboard's Step Functions JSON: state machines by region, one machine's graph and its
executions, and one execution's graph with the path it took and its history. Read from
`Executions` (the owner of machines and executions) and its store, as the Step Functions API
reads them. Every handler sits behind `login.guarded` (`pages.register` puts it there).

Names here are the user's (state names, execution names, error causes): they go out as JSON
strings and the page puts them in as text, never as markup."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from stratus.dashboard.workflow_graph import execution_path, graph
from stratus.errors import InvalidParameterValue
from stratus.frontend.responses import json_response
from stratus.workflows.definition import parse_definition
from stratus.workflows.executor import Executions
from stratus.workflows.faults import ExecutionDoesNotExist, StateMachineDoesNotExist
from stratus.workflows.model import EXPRESS, Execution, StateMachine, parse_execution_arn, parse_machine_arn

WORKFLOWS = web.AppKey("workflows", Executions)
EXECUTIONS_SHOWN = 100  # a machine's newest executions listed on its page
HISTORY_SHOWN = 5000  # an execution's first history events shown (AWS keeps at most 25,000)
DETAIL_CHARS = 2000  # an event's details are cut here for the table


def _executions(request: web.Request) -> Executions:
    return request.app[WORKFLOWS]


def _arn(request: web.Request) -> str:
    arn = request.query.get("arn", "")
    if not arn:
        raise InvalidParameterValue("arn must name a state machine or an execution.")
    return arn


def _machine_json(machine: StateMachine) -> dict[str, Any]:
    return {
        "arn": machine.arn,
        "name": machine.name,
        "region": machine.region,
        "type": machine.type,
        "createdMs": machine.created_ms,
        "updatedMs": machine.updated_ms,
        "description": machine.description,
        "roleArn": machine.role_arn,
    }


def _execution_json(record: Execution) -> dict[str, Any]:
    return {
        "arn": record.arn,
        "name": record.name,
        "status": record.status,
        "stateMachineArn": record.machine_arn,
        "region": record.region,
        "startMs": record.start_ms,
        "stopMs": record.stop_ms,
        "durationMs": record.stop_ms - record.start_ms if record.stop_ms is not None else None,
        "error": record.error,
        "cause": record.cause,
    }


async def state_machines(request: web.Request) -> web.StreamResponse:
    """Every region's state machines, by region then name."""
    machines = sorted(_executions(request).machines.values(), key=lambda m: (m.region, m.name))
    return json_response({"stateMachines": [_machine_json(m) for m in machines]})


async def state_machine(request: web.Request) -> web.StreamResponse:
    """One state machine: what it is, its definition as a graph, its newest executions."""
    executions = _executions(request)
    arn = _arn(request)
    parse_machine_arn(arn)  # InvalidArn for anything else
    machine = executions.machines.get(arn)
    if machine is None:
        raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
    recorded = machine.type != EXPRESS  # Express executions are not kept, as on AWS
    found = await executions.store.executions(arn, None, 0, EXECUTIONS_SHOWN) if recorded else []
    return json_response(
        {
            "stateMachine": _machine_json(machine),
            "graph": graph(parse_definition(machine.definition)).to_json(),
            "executionsRecorded": recorded,
            "executions": [_execution_json(r) for r in found],
        }
    )


def _history_row(event: dict[str, Any]) -> dict[str, Any]:
    details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
    shown = {k: v for k, v in details.items() if not k.endswith("Details")}
    text = " ".join(
        f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in shown.items() if k != "name"
    )
    return {
        "id": event["id"],
        "previousEventId": event.get("previousEventId", 0),
        "timestampMs": event["timestamp"],
        "type": event["type"],
        "state": details.get("name") if isinstance(details.get("name"), str) else None,
        "detail": text[:DETAIL_CHARS],
    }


async def execution(request: web.Request) -> web.StreamResponse:
    """One Standard execution: its record, the graph of the definition it runs, each state's
    status and the transitions taken, and its history."""
    executions = _executions(request)
    arn = _arn(request)
    parse_execution_arn(arn)  # InvalidArn for anything else
    record = await executions.store.execution(arn)
    if record is None:
        raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
    events = await executions.store.history(arn)
    machine = executions.machines.get(record.machine_arn)
    return json_response(
        {
            "execution": _execution_json(record),
            "stateMachine": {
                "arn": record.machine_arn,
                "name": machine.name if machine is not None else parse_execution_arn(arn)[2],
                "exists": machine is not None,
            },
            "graph": graph(parse_definition(record.definition)).to_json(),
            "path": execution_path(events, record.status).to_json(),
            "history": [_history_row(e) for e in events[:HISTORY_SHOWN]],
            "historyTotal": len(events),
        }
    )
