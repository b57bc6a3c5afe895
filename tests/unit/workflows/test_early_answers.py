"""A task token is valid from the moment its task is scheduled (workflows/interpreter.py): an
answer that comes while the token task's function still runs (the function sends it itself) is
taken at the top level of a Standard execution as it is inside a Map, recorded in the
execution's row before it is acknowledged, and used once the function returns. The answer
closes the task: a function error after it does not undo it. On a real SQLite store with a fake
clock (test_answers.py's harness: a crash is a store that takes no more writes and a cancelled
runner, a restart is a second `Executions` on the same file)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from stratus.workflows.errors import StatesError
from stratus.workflows.executor import Executions
from stratus.workflows.faults import TaskDoesNotExist
from stratus.workflows.store import WorkflowStore
from stratus.workflows.tasks import Call, Called
from tests.unit.workflows.test_answers import IN_MAP, MACHINE, TOP, Functions, Server, closed, kinds, machine


class SelfAnswering(Functions):
    """A token task's function that answers its own token, then returns `{"own": "result"}`
    (ignored: a .waitForTaskToken task's output is the answer), raises `then_raise`, or never
    returns (`hang`: the server dies while it still runs)."""

    def __init__(
        self, executions: Executions, ok: bool = True, then_raise: bool = False, hang: bool = False
    ) -> None:
        super().__init__()
        self.executions = executions
        self.ok, self.then_raise, self.hang = ok, then_raise, hang
        self.answered = asyncio.Event()
        self.second: Exception | None = None

    async def call(self, call: Call, *, region: str, role_arn: str, session: str) -> Called:
        await super().call(call, region=region, role_arn=role_arn, session=session)
        token = self.tokens[-1]
        if self.ok:
            await self.executions.send_task_outcome(token, True, {"from": "inside"})
        else:
            await self.executions.send_task_outcome(token, False, {"error": "Refused", "cause": "no"})
        try:  # spent from the first answer on, while the function still runs
            await self.executions.send_task_outcome(token, True, {"second": True})
        except TaskDoesNotExist as e:
            self.second = e
        self.answered.set()
        if self.hang:
            await asyncio.Event().wait()
        if self.then_raise:
            raise StatesError("Lambda.Unknown", "the function failed after it answered")
        return Called({"own": "result"}, "$LATEST", "req")


async def row_checkpoint(store: WorkflowStore, arn: str) -> dict[str, Any]:
    raw = await store._db.read(
        lambda c: c.execute("SELECT checkpoint FROM wf_executions WHERE arn = ?", (arn,)).fetchone()
    )
    return dict(json.loads(raw[0])) if raw and raw[0] else {}


@pytest.mark.parametrize("then_raise", [False, True], ids=["returns", "raises-after"])
@pytest.mark.parametrize(("definition", "frames"), [(TOP, False), (IN_MAP, True)], ids=["top", "map"])
def test_a_function_answering_its_own_token_goes_on_with_the_answer(
    tmp_path: Path, definition: dict[str, Any], frames: bool, then_raise: bool
) -> None:
    async def scenario() -> None:
        path, clock = tmp_path / "workflows.db", [1_700_000_000.0]
        async with Server(path, clock) as server:
            inside = SelfAnswering(server.executions, then_raise=then_raise)
            server.executions.functions = inside  # type: ignore[assignment]
            await machine(server, definition)
            started = await server.executions.start(MACHINE, "run-1", json.dumps({"items": [{"i": 0}]}))
            done = await closed(server, started.arn)
            history = kinds(await server.store.history(started.arn))
            with pytest.raises(TaskDoesNotExist):  # and after the task went on
                await server.executions.send_task_outcome(inside.tokens[0], True, {})
        assert isinstance(inside.second, TaskDoesNotExist)
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        got = {"got": {"from": "inside"}}
        assert json.loads(done.output) == ([got] if frames else got)
        assert len(inside.tokens) == 1
        assert history.count("TaskSucceeded") == 1, history
        assert "TaskFailed" not in history  # the answer closed the task before the error
        assert history.count("TaskScheduled") == 1 and history.count("TaskStarted") == 1

    asyncio.run(scenario())


def test_a_failure_sent_by_the_function_itself_fails_the_top_level_task(tmp_path: Path) -> None:
    async def scenario() -> None:
        path, clock = tmp_path / "workflows.db", [1_700_000_000.0]
        async with Server(path, clock) as server:
            inside = SelfAnswering(server.executions, ok=False)
            server.executions.functions = inside  # type: ignore[assignment]
            await machine(server, TOP)
            started = await server.executions.start(MACHINE, "run-1", "{}")
            done = await closed(server, started.arn)
            history = kinds(await server.store.history(started.arn))
        assert (done.status, done.error, done.cause) == ("FAILED", "Refused", "no")
        assert history.count("TaskFailed") == 1 and "TaskSucceeded" not in history

    asyncio.run(scenario())


def test_a_top_level_answer_taken_while_the_function_runs_is_in_the_row_and_survives_a_crash(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        path, clock = tmp_path / "workflows.db", [1_700_000_000.0]
        async with Server(path, clock) as first:
            inside = SelfAnswering(first.executions, hang=True)
            first.executions.functions = inside  # type: ignore[assignment]
            await machine(first, TOP)
            started = await first.executions.start(MACHINE, "run-1", "{}")
            await inside.answered.wait()  # acknowledged: the function has not returned
            # What the acknowledgement stands on: the row says the task's outcome.
            cp = await row_checkpoint(first.store, started.arn)
            assert (cp.get("phase"), cp.get("ok"), cp.get("value")) == ("outcome", True, {"from": "inside"})
            assert "TaskStarted" in kinds(await first.store.history(started.arn))

        async with Server(path, clock) as second:
            with pytest.raises(TaskDoesNotExist):  # still spent after the restart
                await second.executions.send_task_outcome(inside.tokens[0], True, {})
            done = await closed(second, started.arn)
            assert second.functions.tokens == []  # the function was not invoked again
            history = kinds(await second.store.history(started.arn))
        assert done.status == "SUCCEEDED", (done.error, done.cause)
        assert json.loads(done.output) == {"got": {"from": "inside"}}
        for kind in ("TaskScheduled", "TaskStarted", "TaskSucceeded"):
            assert history.count(kind) == 1, (kind, history)

    asyncio.run(scenario())
