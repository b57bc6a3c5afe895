"""A task token's answer is durable before it is acknowledged (workflows/executor.py,
workflows/interpreter.py, workflows/progress.py): on a real SQLite store, an execution waits on
a token, SendTaskSuccess/Failure answers, and then the server "crashes" at the worst moment:
the store takes no write after the answer (each later write hangs) and the runner is
cancelled. A second `Executions` on the same database file, as a restart makes it, goes on from
the recorded answer without waiting for another, refuses the spent token, and the history
holds the task's events once. The same for a Map iteration's token, and for the deadline a
heartbeat moved. The clock is a fake one: nothing here waits for time to pass."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from stratus.workflows.executor import Executions
from stratus.workflows.faults import TaskDoesNotExist
from stratus.workflows.model import RUNNING, StateMachine
from stratus.workflows.store import WorkflowStore
from stratus.workflows.tasks import Call, Called

ACCOUNT = "123456789012"
MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:approvals"
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:ask"
ASK = {
    "Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "Parameters": {"FunctionName": FN, "Payload": {"token.$": "$$.Task.Token"}},
    "HeartbeatSeconds": 60,
    "ResultPath": "$.answer",
    "Next": "After",
}
AFTER = {"Type": "Pass", "Parameters": {"got.$": "$.answer"}, "End": True}
TOP = {"StartAt": "Ask", "States": {"Ask": ASK, "After": AFTER}}
IN_MAP = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Ask", "States": {"Ask": ASK, "After": AFTER}},
            "End": True,
        }
    },
}


class Functions:
    """The token task's function: it records the payload (the token is in it) and returns."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def call(self, call: Call, *, region: str, role_arn: str, session: str) -> Called:
        self.tokens.append(str(call.payload["token"]))
        return Called({}, "$LATEST", "req")


class CrashingStore(WorkflowStore):
    """A store that takes no write from `crash()` on: the process died before they reached it
    (the writer is cancelled, as the dead process's tasks end)."""

    crashed = False

    def crash(self) -> None:
        self.crashed = True

    async def advance(self, arn: str, events: Sequence[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        if self.crashed:
            raise asyncio.CancelledError
        await super().advance(arn, events, *args, **kwargs)

    async def progress(
        self,
        arn: str,
        events: Sequence[dict[str, Any]],
        frames: Mapping[str, tuple[dict[str, Any], int | None]],
    ) -> None:
        if self.crashed:
            raise asyncio.CancelledError
        await super().progress(arn, events, frames)


class Server:
    """One life of the server: a store on the database file and the executions' runner."""

    def __init__(self, path: Path, clock: list[float]) -> None:
        self.store = CrashingStore(path, owner="test")
        self.functions = Functions()
        self.executions = Executions(self.store, self.functions, ACCOUNT, clock=lambda: clock[0])  # type: ignore[arg-type]
        self.runner: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Server:
        self.runner = asyncio.create_task(self.executions.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        """The crash: no write after this point, the runner and its drivers cancelled."""
        self.store.crash()
        assert self.runner is not None
        self.runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.runner
        self.store.close()


async def until(check: Callable[[], Awaitable[Any]]) -> Any:
    """The check's first true answer (the store's writes run on a thread: yield real turns)."""
    for _ in range(2000):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.005)
    raise AssertionError("never got there")


async def machine(server: Server, definition: Mapping[str, Any]) -> None:
    await server.executions.put_machine(
        StateMachine(
            arn=MACHINE,
            name="approvals",
            region="us-east-1",
            type="STANDARD",
            definition=json.dumps(definition),
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/r",
            created_ms=0,
        )
    )


async def waiting_token(server: Server, arn: str, frames: bool) -> str:
    """The token, once the wait on it is recorded (the row's checkpoint or a lane's frame)."""

    async def recorded() -> str | None:
        if not server.functions.tokens:
            return None
        token = server.functions.tokens[-1]
        raw = await server.store._db.read(
            lambda c: c.execute(
                "SELECT body FROM wf_frames WHERE execution_arn = ?"
                if frames
                else "SELECT checkpoint FROM wf_executions WHERE arn = ?",
                (arn,),
            ).fetchall()
        )
        held = [json.loads(r[0]) for r in raw if r[0]]
        cps = [h.get("cp", {}) for h in held] if frames else held
        return token if any(cp.get("phase") == "token" and cp.get("token") == token for cp in cps) else None

    return str(await until(recorded))


async def closed(server: Server, arn: str) -> Any:
    async def done() -> Any:
        record = await server.executions.describe(arn)
        return record if record.status != RUNNING else None

    return await until(done)


def kinds(history: list[dict[str, Any]]) -> list[str]:
    ids = [int(e["id"]) for e in history]
    assert ids == sorted(set(ids)), "an event id twice or out of order"
    return [str(e["type"]) for e in history]


@pytest.mark.parametrize(("definition", "frames"), [(TOP, False), (IN_MAP, True)], ids=["top", "map"])
@pytest.mark.parametrize("ok", [True, False], ids=["success", "failure"])
def test_an_answer_acknowledged_before_a_crash_is_used_after_it(
    tmp_path: Path, definition: dict[str, Any], frames: bool, ok: bool
) -> None:
    async def scenario() -> None:
        path, clock = tmp_path / "workflows.db", [1_700_000_000.0]
        async with Server(path, clock) as first:
            await machine(first, definition)
            started = await first.executions.start(MACHINE, "run-1", json.dumps({"items": [{"i": 0}]}))
            token = await waiting_token(first, started.arn, frames)
            if ok:
                await first.executions.send_task_outcome(token, True, {"approved": 1})
            else:
                await first.executions.send_task_outcome(token, False, {"error": "No", "cause": "refused"})
            with pytest.raises(TaskDoesNotExist):  # spent at once
                await first.executions.send_task_outcome(token, True, {})
            # The crash comes right after the acknowledgement: the execution moves no further.

        async with Server(path, clock) as second:
            with pytest.raises(TaskDoesNotExist):  # still spent after the restart
                await second.executions.send_task_outcome(token, True, {})
            done = await closed(second, started.arn)
            assert second.functions.tokens == []  # the token task's function was not run again
            history = kinds(await second.store.history(started.arn))

        if ok:
            assert done.status == "SUCCEEDED", (done.error, done.cause)
            got = {"got": {"approved": 1}}
            assert json.loads(done.output) == ([got] if frames else got)
            assert history.count("TaskSucceeded") == 1
        else:
            assert (done.status, done.error, done.cause) == ("FAILED", "No", "refused")
            assert history.count("TaskFailed") == 1
        assert history.count("TaskScheduled") == 1 and history.count("TaskStateEntered") == 1

    asyncio.run(scenario())


@pytest.mark.parametrize(("definition", "frames"), [(TOP, False), (IN_MAP, True)], ids=["top", "map"])
def test_a_heartbeat_moves_the_recorded_deadline_before_it_answers(
    tmp_path: Path, definition: dict[str, Any], frames: bool
) -> None:
    async def scenario() -> None:
        path, clock = tmp_path / "workflows.db", [1_700_000_000.0]
        async with Server(path, clock) as first:
            await machine(first, definition)
            started = await first.executions.start(MACHINE, "run-1", json.dumps({"items": [{"i": 0}]}))
            token = await waiting_token(first, started.arn, frames)
            clock[0] += 30  # half of HeartbeatSeconds gone
            await first.executions.heartbeat(token)

        # Only what was written before the heartbeat answered: the deadline is 60 s from it.
        reopened = WorkflowStore(path, owner="test")
        try:
            (resumable,) = reopened.load_running()
        finally:
            reopened.close()
        beat_ms = int(clock[0] * 1000)
        if frames:
            (frame,) = resumable.frames.values()
            assert frame["cp"]["due_ms"] == beat_ms + 60_000
        else:
            assert resumable.due_ms == beat_ms + 60_000

        async with Server(path, clock) as second:  # and the wait goes on with the same token
            await second.executions.send_task_outcome(token, True, {"late": True})
            done = await closed(second, started.arn)
        assert done.status == "SUCCEEDED", (done.error, done.cause)

    asyncio.run(scenario())


class AnsweringFunctions(Functions):
    """A token task's function that answers its own token, then is still running when the
    server dies (the lane has written nothing since its TaskStarted)."""

    def __init__(self, executions: Executions) -> None:
        super().__init__()
        self.executions = executions
        self.answered = asyncio.Event()

    async def call(self, call: Call, *, region: str, role_arn: str, session: str) -> Called:
        await super().call(call, region=region, role_arn=role_arn, session=session)
        await self.executions.send_task_outcome(self.tokens[-1], True, {"from": "inside"})
        self.answered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def test_an_iteration_answered_while_its_function_runs_resumes_from_the_answer(tmp_path: Path) -> None:
    async def scenario() -> None:
        path, clock = tmp_path / "workflows.db", [1_700_000_000.0]
        async with Server(path, clock) as first:
            inside = AnsweringFunctions(first.executions)
            first.executions.functions = inside  # type: ignore[assignment]
            await machine(first, IN_MAP)
            started = await first.executions.start(MACHINE, "run-1", json.dumps({"items": [{"i": 0}]}))
            await inside.answered.wait()  # acknowledged: the function has not returned

        async with Server(path, clock) as second:
            with pytest.raises(TaskDoesNotExist):
                await second.executions.send_task_outcome(inside.tokens[0], True, {})
            done = await closed(second, started.arn)
            assert second.functions.tokens == []  # not invoked again: the answer stands
            history = kinds(await second.store.history(started.arn))
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        assert json.loads(done.output) == [{"got": {"from": "inside"}}]
        for kind in ("MapIterationStarted", "TaskScheduled", "TaskStarted", "TaskSucceeded"):
            assert history.count(kind) == 1, (kind, history)

    asyncio.run(scenario())
