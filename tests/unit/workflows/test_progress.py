"""Durable progress inside Map and Parallel states (workflows/progress.py, the frames of
workflows/store.py): a run is cut off while iterations wait, and a second run given only what
the first one wrote (its events, frames and top-level checkpoint) finishes the state without
calling a function again or writing an event twice. The clock is a fake one, so a one-hour Wait
ends when the test moves the clock, not after a sleep."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from stratus.workflows.definition import parse_definition
from stratus.workflows.history import EventLog
from stratus.workflows.interpreter import Run
from stratus.workflows.model import Execution
from stratus.workflows.progress import Frames, Lane, TokenWait, TokenWaits
from stratus.workflows.store import WorkflowStore
from stratus.workflows.tasks import Call, Called

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"
FN = "arn:aws:lambda:us-east-1:123456789012:function:f"
DEFINITION = json.dumps(
    {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "End": True,
                "ItemProcessor": {
                    "StartAt": "Kind",
                    "States": {
                        "Kind": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.kind", "StringEquals": "wait", "Next": "Hold"},
                                {"Variable": "$.kind", "StringEquals": "token", "Next": "Ask"},
                            ],
                            "Default": "Count",
                        },
                        "Count": {"Type": "Task", "Resource": FN, "End": True},
                        "Hold": {"Type": "Wait", "Seconds": 3600, "Next": "Held"},
                        "Held": {"Type": "Pass", "Parameters": {"i.$": "$.i", "waited": True}, "End": True},
                        "Ask": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                            "Parameters": {"FunctionName": FN, "Payload": {"token.$": "$$.Task.Token"}},
                            "End": True,
                        },
                    },
                },
            }
        },
    }
)
ITEMS = [
    {"i": 0, "kind": "count"},
    {"i": 1, "kind": "count"},
    {"i": 2, "kind": "wait"},
    {"i": 3, "kind": "token"},
]


def record(express: bool = False) -> Execution:
    return Execution(
        arn=EXECUTION,
        machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:orders",
        name="run-1",
        region="us-east-1",
        type="EXPRESS" if express else "STANDARD",
        status="RUNNING",
        input=json.dumps(ITEMS),
        role_arn="arn:aws:iam::123456789012:role/r",
        definition=DEFINITION,
        start_ms=1_700_000_000_000,
    )


class Functions:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    async def call(self, call: Call, *, region: str, role_arn: str, session: str) -> Called:
        self.calls.append(call.payload)
        return Called(call.payload, "$LATEST", "req")


class Store:
    """What a run wrote: its events by id, its frames and its top-level checkpoint."""

    def __init__(self) -> None:
        self.events: dict[int, dict[str, Any]] = {}
        self.frames: dict[str, dict[str, Any]] = {}
        self.checkpoint: dict[str, Any] | None = None
        self.writes = 0

    def append(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            assert event["id"] not in self.events, f"event {event['id']} written twice"
            self.events[event["id"]] = event

    def run(
        self, functions: Functions, clock: list[float], tokens: TokenWaits, *, durable: bool = True
    ) -> Run:
        async def write(cp: dict[str, Any], due: int | None) -> None:
            self.append(run.log.take())
            self.checkpoint = json.loads(json.dumps(cp))
            self.writes += 1

        async def write_frames(events: list[dict[str, Any]], frames: Frames) -> None:
            self.append(events)
            self.frames.update({k: json.loads(json.dumps(f)) for k, (f, _) in frames.items()})
            self.writes += 1

        run = Run(
            record(express=not durable),
            parse_definition(DEFINITION),
            functions,  # type: ignore[arg-type]
            durable=durable,
            log=EventLog(max(self.events, default=0) + 1),
            write=write,
            token_waits=tokens,
            clock=lambda: clock[0],
            frames=dict(self.frames),
            write_frames=write_frames,
        )
        return run


async def settle(check: Any) -> None:
    for _ in range(10_000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("the run never got there")


def test_a_map_cut_off_while_iterations_wait_resumes_from_its_frames() -> None:
    async def scenario() -> None:
        store, clock, functions = Store(), [1_700_000_000.0], Functions()
        first = store.run(functions, clock, {})
        walking = asyncio.ensure_future(first.walk(first.definition, ITEMS, Lane(0), top=True))
        # Finished iterations are done frames; the Wait and the token wait are checkpoints.
        await settle(
            lambda: all(
                store.frames.get(f"2/{i}", {}).get(kind) is not None
                for i, kind in ((0, "done"), (1, "done"), (2, "cp"), (3, "cp"))
            )
        )
        walking.cancel()  # the crash: only what was written counts from here
        with contextlib.suppress(asyncio.CancelledError):
            await walking
        assert store.checkpoint is not None and store.checkpoint["phase"] == "branches"
        assert store.frames["2/2"]["cp"]["phase"] == "wait"
        due = store.frames["2/2"]["cp"]["due_ms"]
        token = store.frames["2/3"]["cp"]["token"]
        called_before = list(functions.calls)
        assert len(called_before) == 3  # two counts and the token task's function

        # The restart: an answer for the old token may come before its lane runs again.
        tokens: TokenWaits = {token: TokenWait(EXECUTION)}
        tokens[token].answer(True, {"answered": 3})
        clock[0] += 7200  # past the Wait's deadline
        second = store.run(functions, clock, tokens)
        cp = store.checkpoint
        output = await second.walk(
            second.definition,
            cp["input"],
            Lane(second.log.next_id - 1),
            top=True,
            start=cp["state"],
            resume=cp,
        )
        store.append(second.log.take())
        assert output == [
            {"i": 0, "kind": "count"},
            {"i": 1, "kind": "count"},
            {"i": 2, "waited": True},
            {"answered": 3},
        ]
        assert functions.calls == called_before  # nothing called again
        kinds = [store.events[i]["type"] for i in sorted(store.events)]
        for kind, count in {
            "MapStateEntered": 1,
            "MapStateStarted": 1,
            "MapIterationStarted": 4,
            "MapIterationSucceeded": 4,
            "LambdaFunctionScheduled": 2,
            "TaskScheduled": 1,
            "TaskSucceeded": 1,
            "WaitStateEntered": 1,
            "WaitStateExited": 1,
            "MapStateExited": 1,
        }.items():
            assert kinds.count(kind) == count, (kind, kinds)
        exited = next(e for e in store.events.values() if e["type"] == "WaitStateExited")
        assert exited["timestamp"] >= due
        assert not tokens  # the answered wait is gone

    asyncio.run(scenario())


def test_an_express_map_writes_no_frames() -> None:
    async def scenario() -> None:
        store, functions = Store(), Functions()
        items = [{"i": i, "kind": "count"} for i in range(50)]
        run = store.run(functions, [1_700_000_000.0], {}, durable=False)
        output = await run.walk(run.definition, items, Lane(0), top=False)
        assert output == items
        assert store.writes == 0 and not store.frames

    asyncio.run(scenario())


def test_the_store_keeps_frames_until_the_state_ends_or_the_execution_closes(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = WorkflowStore(tmp_path / "workflows.db", owner="test")
        try:
            start = {"state": "M", "input": ITEMS, "phase": "enter", "n": 2}
            assert await store.start(record(), start, [_event(1)], 0) is None
            await store.progress(EXECUTION, [_event(2), _event(3)], {"2/0": ({"done": 1}, None)})
            await store.progress(
                EXECUTION, [_event(4)], {"2/0": ({"done": 2}, None), "2/1": ({"cp": {}}, 99)}
            )
            loaded = store.load_running()[0]
            assert loaded.frames == {"2/0": {"done": 2}, "2/1": {"cp": {}}}  # the last frame of a lane
            assert loaded.next_event_id == 5
            await store.advance(EXECUTION, [_event(5)], {"state": "N", "phase": "enter"}, None)
            assert store.load_running()[0].frames  # only a write that says so clears them
            await store.advance(
                EXECUTION, [_event(6)], {"state": "N", "phase": "enter"}, None, clear_frames=True
            )
            assert store.load_running()[0].frames == {}
            await store.progress(EXECUTION, [_event(7)], {"9/0": ({"done": 0}, None)})
            closed = Execution(**{**record().to_row(), "status": "SUCCEEDED"})
            await store.advance(EXECUTION, [_event(8)], None, None, closed, clear_frames=True)
            await store.progress(EXECUTION, [_event(9)], {"9/1": ({"done": 0}, None)})  # too late: ignored
            assert [e["id"] for e in await store.history(EXECUTION)] == list(range(1, 9))
            left = await store._db.read(lambda c: c.execute("SELECT COUNT(*) FROM wf_frames").fetchone()[0])
            assert left == 0
        finally:
            store.close()

    asyncio.run(scenario())


def _event(n: int) -> dict[str, Any]:
    return {"id": n, "previousEventId": n - 1, "timestamp": n, "type": "PassStateEntered"}
