"""`Executions`: the one owner of state machines and executions. Standard executions are driven
by tasks of one runner (a TaskGroup this object owns) and write each transition through the
store; an execution that waits (a Wait, a retry interval, a task token) is only its row with a
due time (`due_ms`), held in memory as a heap entry, and the runner starts a driver for it
when it falls due. At start, every RUNNING execution is taken back from its last durable
checkpoint: a task that was in flight runs again (at least once, as AWS promises for Standard).
A running Parallel or Map state is resumed with its branches' and iterations' frames: those
that finished are not run again, waiting ones keep their deadlines and task tokens
(interpreter.py and progress.py say exactly what is durable).
SendTaskSuccess/Failure answer only once the outcome is written (group-committed): in the
execution's row for a top-level task (checkpoint phase "outcome", due now), in the lane's frame
for a branch's or an iteration's; from the moment an answer is taken the token is spent (a
second answer is TaskDoesNotExist, before and after a restart), and a restart goes on from the
recorded outcome instead of waiting again. A token is valid from the moment its task is
scheduled: an answer that comes while the token task's function still runs (the function sends
it itself, or hands the token to something that answers at once) is recorded the same way and
used once the function returns; it closes the task, so an error or timeout of the function
after it does not undo it. SendTaskHeartbeat answers once the wait's new deadline is written the
same way. The TaskSucceeded/TaskFailed event is made by the run that
goes on from the outcome and written with its next step, so the history holds it once.
Express executions run in memory, write nothing, and are not resumed."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from stratus.workflows.definition import Definition, parse_definition
from stratus.workflows.errors import StatesError
from stratus.workflows.faults import (
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    InvalidExecutionInput,
    InvalidToken,
    StateMachineDoesNotExist,
    TaskDoesNotExist,
    TaskTimedOut,
)
from stratus.workflows.history import EventLog, as_json
from stratus.workflows.interpreter import Checkpoint, Run, Suspend, token_due, token_execution
from stratus.workflows.model import (
    ABORTED,
    EXPRESS,
    FAILED,
    NAME_REUSE_MS,
    RUNNING,
    SUCCEEDED,
    TIMED_OUT,
    Execution,
    StateMachine,
    execution_arn,
)
from stratus.workflows.progress import Frame, Frames, KeepOutcome, Lane, TokenWait, TokenWaits
from stratus.workflows.store import WorkflowStore
from stratus.workflows.tasks import Functions

log = logging.getLogger("stratus.workflows")
MAX_INPUT = 256 * 1024


class Publish(Protocol):
    def __call__(
        self,
        region: str,
        *,
        source: str,
        detail_type: str,
        detail: Mapping[str, Any],
        resources: Sequence[str] = (),
        bus: str = "default",
    ) -> Awaitable[None]: ...


class Executions:
    def __init__(
        self,
        store: WorkflowStore,
        functions: Functions,
        account_id: str,
        *,
        publish: Publish | None = None,
        clock: Callable[[], float] = time.time,
        rand: random.Random | None = None,
    ) -> None:
        self.store = store
        self.functions = functions
        self.account_id = account_id
        self.publish = publish
        self._clock = clock
        self._rand = rand or random.Random()
        self.machines: dict[str, StateMachine] = {m.arn: m for m in store.load_machines()}
        self._parsed: dict[str, Definition] = {}
        # Waiting Standard executions: arn -> (record, checkpoint, due); the heap orders dues.
        self._waiting: dict[str, tuple[Execution, Checkpoint, int | None]] = {}
        self._heap: list[tuple[int, str]] = []
        self._active: dict[str, tuple[asyncio.Task[None], Run]] = {}
        self._tokens: TokenWaits = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._wake = asyncio.Event()
        # Frames of the branches and iterations of executions resumed at start, until driven.
        self._frames: dict[str, dict[str, Frame]] = {}
        # Top-level answers being recorded: StopExecution waits for them (execution ARN -> done).
        self._answering: dict[str, asyncio.Event] = {}
        for resumable in store.load_running():
            if resumable.frames:
                self._frames[resumable.record.arn] = dict(resumable.frames)
                for key, frame in resumable.frames.items():
                    cp = frame.get("cp") or {}
                    if cp.get("phase") == "token":  # SendTaskSuccess may come before its lane resumes
                        waiting = TokenWait(resumable.record.arn)
                        waiting.keep = self._frame_keeper(resumable.record.arn, key, cp)
                        self._tokens[str(cp["token"])] = waiting
            cp = dict(resumable.checkpoint)
            cp.setdefault("n", resumable.next_event_id)
            cp["n"] = max(int(cp["n"]), resumable.next_event_id)
            due = resumable.due_ms
            if cp.get("phase") in ("enter", "task", None) or (due is None and cp.get("phase") != "token"):
                due = 0  # it was being driven when the server stopped: drive it again now
            self._hold(resumable.record, cp, due)

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _frame_keeper(self, arn: str, key: str, cp: Checkpoint) -> KeepOutcome:
        """How an answer to a resumed lane's token is recorded before its lane runs again: its
        frame says the task's outcome (the lane, once it runs, records its own)."""

        async def keep(ok: bool, value: Any) -> None:
            outcome = {k: v for k, v in cp.items() if k != "due_ms"}
            await self.store.progress(
                arn, [], {key: ({"cp": {**outcome, "phase": "outcome", "ok": ok, "value": value}}, None)}
            )

        return keep

    # -- the runner --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start each waiting execution's driver when it falls due, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            try:
                while True:
                    self._wake.clear()
                    now = self.now_ms()
                    while self._heap and self._heap[0][0] <= now:
                        due, arn = heapq.heappop(self._heap)
                        held = self._waiting.get(arn)
                        if held is None or held[2] != due:
                            continue  # answered, stopped or re-timed since
                        del self._waiting[arn]
                        record, cp, _ = held
                        self._drive(record, cp, due_fired=True)
                    wait = (self._heap[0][0] - now) / 1000 if self._heap else None
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._wake.wait()
            finally:
                self._tasks = None
                for task, _ in list(self._active.values()):
                    task.cancel()  # their last checkpoint stands; the next start resumes them

    def _hold(self, record: Execution, cp: Checkpoint, due: int | None) -> None:
        if record.deadline_ms is not None:
            due = record.deadline_ms if due is None else min(due, record.deadline_ms)
        self._waiting[record.arn] = (record, cp, due)
        if due is not None:
            heapq.heappush(self._heap, (due, record.arn))
            self._wake.set()

    def _definition(self, record: Execution) -> Definition:
        parsed = self._parsed.get(record.definition)
        if parsed is None:
            parsed = parse_definition(record.definition)
            if len(self._parsed) > 256:
                self._parsed.clear()
            self._parsed[record.definition] = parsed
        return parsed

    def _run(self, record: Execution, next_id: int, durable: bool) -> Run:
        async def write(cp: Checkpoint, due: int | None) -> None:
            await self.store.advance(record.arn, run.log.take(), cp, due, clear_frames=_cleared(run))

        async def write_frames(events: list[dict[str, Any]], frames: Frames) -> None:
            await self.store.progress(record.arn, events, frames)

        run = Run(
            record,
            self._definition(record),
            self.functions,
            durable=durable,
            log=EventLog(next_id),
            write=write,
            token_waits=self._tokens,
            clock=self._clock,
            rand=self._rand,
            frames=self._frames.pop(record.arn, None) if durable else None,
            write_frames=write_frames,
        )
        return run

    def _drive(self, record: Execution, cp: Checkpoint, *, due_fired: bool = False) -> None:
        if self._tasks is None:
            self._hold(record, cp, 0)  # not running yet: the runner takes it at start
            return
        run = self._run(record, int(cp.get("n", 1)), durable=True)
        task = self._tasks.create_task(self._drive_standard(run, cp, due_fired))
        self._active[record.arn] = (task, run)

    async def _drive_standard(self, run: Run, cp: Checkpoint, due_fired: bool) -> None:
        record = run.record
        lane = Lane(run.log.next_id - 1)
        try:
            if record.deadline_ms is not None and self.now_ms() >= record.deadline_ms:
                await self._close(run, lane, TIMED_OUT, error="States.Timeout", cause="")
                return
            resume = dict(cp)
            if resume.get("phase") == "token":
                if not due_fired:
                    return
                resume = {
                    **resume,
                    "phase": "outcome",
                    "ok": False,
                    "value": {"error": "States.Timeout", "cause": "", "timeout": True},
                }
            if resume.get("phase") == "retry" or resume.get("phase") == "task":
                resume = {**resume, "phase": "again"}
            output = await self._walk(run, lane, resume)
        except Suspend as s:
            cp = {**s.checkpoint, "n": run.log.next_id}
            # Held before the write is queued, in the same step: a token answered the moment
            # its wait is in the history finds it (its own write commits after this one).
            self._hold(record, cp, s.due_ms)
            await self.store.advance(record.arn, run.log.take(), cp, s.due_ms, clear_frames=_cleared(run))
            return
        except StatesError as error:
            await self._close(run, lane, FAILED, error=error.error, cause=error.cause)
            return
        except TimeoutError:
            await self._close(run, lane, TIMED_OUT, error="States.Timeout", cause="")
            return
        except Exception as e:  # a fault of ours must not take the runner down
            log.exception("execution %s failed in the engine", record.arn)
            await self._close(run, lane, FAILED, error="States.Runtime", cause=f"Internal error: {e}")
            return
        finally:
            active = self._active.get(record.arn)
            if active is not None and active[1] is run:
                del self._active[record.arn]
        await self._close(run, lane, SUCCEEDED, output=output)

    async def _walk(self, run: Run, lane: Lane, resume: Checkpoint) -> Any:
        record = run.record
        remaining = None if record.deadline_ms is None else (record.deadline_ms - self.now_ms()) / 1000
        phase = resume.get("phase", "enter")
        async with asyncio.timeout(remaining):
            if phase in ("waited", "again", "outcome", "branches"):
                return await run.walk(
                    run.definition,
                    resume["input"],
                    lane,
                    top=True,
                    start=resume["state"],
                    resume=_resumed(resume),
                )
            return await run.walk(
                run.definition, resume.get("input"), lane, top=True, start=resume.get("state")
            )

    async def _close(
        self,
        run: Run,
        lane: Lane,
        status: str,
        *,
        output: Any = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> Execution:
        record = run.record
        if status == SUCCEEDED:
            run.event(
                lane, "ExecutionSucceeded", {"output": as_json(output), "outputDetails": {"truncated": False}}
            )
        elif status == FAILED:
            run.event(lane, "ExecutionFailed", {"error": error or "", "cause": cause or ""})
        elif status == TIMED_OUT:
            run.event(lane, "ExecutionTimedOut", {"error": error or "States.Timeout", "cause": cause or ""})
        elif status == ABORTED:
            run.event(lane, "ExecutionAborted", {"error": error or "", "cause": cause or ""})
        closed = replace(
            record,
            status=status,
            stop_ms=self.now_ms(),
            output=as_json(output) if status == SUCCEEDED else None,
            error=error,
            cause=cause,
        )
        if run.durable:
            await self.store.advance(record.arn, run.log.take(), None, None, closed, clear_frames=True)
        else:
            run.log.take()
        for token in [t for t, w in self._tokens.items() if w.execution_arn == record.arn]:
            del self._tokens[token]  # waits of resumed lanes that never ran again
        await self._status_changed(closed)
        return closed

    async def _status_changed(self, record: Execution) -> None:
        """The execution's status change on the default bus, as AWS puts it there."""
        if self.publish is None:
            return
        detail = {
            "executionArn": record.arn,
            "stateMachineArn": record.machine_arn,
            "name": record.name,
            "status": record.status,
            "startDate": record.start_ms,
            "stopDate": record.stop_ms,
            "input": record.input,
            "output": record.output,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if record.output is not None else None,
            "error": record.error,
            "cause": record.cause,
        }
        try:
            await self.publish(
                record.region,
                source="aws.states",
                detail_type="Step Functions Execution Status Change",
                detail=detail,
                resources=[record.arn],
            )
        except Exception:
            log.exception("could not publish the status change of %s", record.arn)

    # -- starting ------------------------------------------------------------------------------

    def _record(
        self, machine: StateMachine, name: str | None, input_text: str | None, express: bool
    ) -> Execution:
        text = "{}" if input_text is None else input_text
        if len(text.encode()) > MAX_INPUT:
            raise InvalidExecutionInput("The input exceeds the maximum size of 262144 bytes.")
        try:
            json.loads(text)
        except ValueError as e:
            raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{e}'") from None
        name = name or str(uuid.uuid4())
        arn = execution_arn(machine.arn, name, express_id=str(uuid.uuid4()) if express else None)
        now = self.now_ms()
        timeout = self._definition_of(machine).timeout_seconds
        return Execution(
            arn=arn,
            machine_arn=machine.arn,
            name=name,
            region=machine.region,
            type=machine.type,
            status=RUNNING,
            input=text,
            role_arn=machine.role_arn,
            definition=machine.definition,
            start_ms=now,
            deadline_ms=now + int(timeout) * 1000 if timeout else None,
        )

    def _definition_of(self, machine: StateMachine) -> Definition:
        parsed = self._parsed.get(machine.definition)
        if parsed is None:
            parsed = parse_definition(machine.definition)
            self._parsed[machine.definition] = parsed
        return parsed

    async def put_machine(self, machine: StateMachine) -> None:
        await self.store.put_machine(machine)
        self.machines[machine.arn] = machine

    async def delete_machine(self, arn: str) -> None:
        await self.store.delete_machine(arn)
        self.machines.pop(arn, None)

    def machine(self, arn: str) -> StateMachine:
        machine = self.machines.get(arn)
        if machine is None:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return machine

    async def start(self, machine_arn: str, name: str | None, input_text: str | None) -> Execution:
        """StartExecution: a Standard execution recorded and driven, or an Express one run in
        memory. The same name with the same input while it runs is the same execution."""
        machine = self.machine(machine_arn)
        record = self._record(machine, name, input_text, machine.type == EXPRESS)
        if machine.type == EXPRESS:
            run = self._run(record, 1, durable=False)
            if self._tasks is None:
                raise StateMachineDoesNotExist("The server is not running executions yet.")
            self._tasks.create_task(self._drive_express(run))
            return record
        definition = self._definition_of(machine)
        log_ = EventLog(1)
        log_.add(
            "ExecutionStarted",
            record.start_ms,
            0,
            {"input": record.input, "inputDetails": {"truncated": False}, "roleArn": record.role_arn},
        )
        cp: Checkpoint = {
            "state": definition.start_at,
            "input": json.loads(record.input),
            "phase": "enter",
            "n": log_.next_id,
        }
        existing = await self.store.start(record, cp, log_.take(), self.now_ms() - NAME_REUSE_MS)
        if existing is not None:
            if existing.status == RUNNING and _same_json(existing.input, record.input):
                return existing
            raise ExecutionAlreadyExists(f"Execution Already Exists: '{existing.arn}'")
        await self._status_changed(record)
        self._drive(record, cp)
        return record

    async def start_from_event(self, machine_arn: str, input_text: str, region: str) -> None:
        """An EventBridge target's start (E's Step Functions target kind)."""
        await self.start(machine_arn, None, input_text)

    async def _drive_express(self, run: Run) -> Execution:
        lane = Lane(0)
        run.event(lane, "ExecutionStarted", {"input": run.record.input, "roleArn": run.record.role_arn})
        record = run.record
        remaining = None if record.deadline_ms is None else (record.deadline_ms - self.now_ms()) / 1000
        try:
            async with asyncio.timeout(remaining):
                output = await run.walk(run.definition, run.input_value, lane, top=False)
        except StatesError as error:
            return await self._close(run, lane, FAILED, error=error.error, cause=error.cause)
        except TimeoutError:
            return await self._close(run, lane, TIMED_OUT, error="States.Timeout", cause="")
        return await self._close(run, lane, SUCCEEDED, output=output)

    async def start_sync(self, machine_arn: str, name: str | None, input_text: str | None) -> Execution:
        """StartSyncExecution: an Express execution run to its end within the request."""
        machine = self.machine(machine_arn)
        record = self._record(machine, name, input_text, express=True)
        return await self._drive_express(self._run(record, 1, durable=False))

    # -- reading -------------------------------------------------------------------------------

    async def describe(self, arn: str) -> Execution:
        record = await self.store.execution(arn)
        if record is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return record

    # -- stopping and task tokens --------------------------------------------------------------

    async def stop(self, arn: str, error: str | None, cause: str | None) -> Execution:
        answering = self._answering.get(arn)
        if answering is not None:  # a recorded answer goes first: the driver it starts is stopped
            await answering.wait()
        record = await self.describe(arn)
        if record.status != RUNNING:
            return record
        active = self._active.pop(arn, None)
        if active is not None:
            self._waiting.pop(arn, None)  # a driver that has just held its wait
            task, run = active
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            run.log.take()  # what the cancelled step made was never written
            # Past every id the run handed out: a frame write still committing has its own.
            next_id = max(await self._next_id(arn), run.log.next_id)
        else:
            held = self._waiting.pop(arn, None)
            next_id = int(held[1].get("n", 1)) if held is not None else await self._next_id(arn)
        run = self._run(record, next_id, durable=True)
        return await self._close(run, Lane(next_id - 1), ABORTED, error=error, cause=cause)

    async def _next_id(self, arn: str) -> int:
        events = await self.store.history(arn)
        return int(events[-1]["id"]) + 1 if events else 1

    def _token_holder(self, token: str) -> tuple[Execution, Checkpoint]:
        arn = token_execution(token)
        if arn is None:
            raise InvalidToken("Invalid Token: 'Invalid token'")
        held = self._waiting.get(arn)
        if held is None or held[1].get("phase") != "token" or held[1].get("token") != token:
            raise TaskDoesNotExist("Task Does Not Exist: 'Provided task does not exist anymore'")
        return held[0], held[1]

    async def send_task_outcome(self, token: str, ok: bool, value: Any) -> None:
        """SendTaskSuccess (ok, the output) or SendTaskFailure (not ok, {error, cause}),
        answered once the outcome is durable: in the execution's row for a top-level task (its
        checkpoint says "outcome", due now), in the lane's frame for a branch's or an
        iteration's. A restart goes on from it without waiting again, and the token is spent:
        a second answer, before or after a restart, is TaskDoesNotExist."""
        waiting = self._tokens.get(token)
        if waiting is not None:
            if not await waiting.settle(ok, value):
                raise TaskDoesNotExist("Task Does Not Exist: 'Provided task does not exist anymore'")
            return
        record, cp = self._token_holder(token)
        held = self._waiting.pop(record.arn)  # spent from here: a second answer finds no wait
        answered = {**cp, "phase": "outcome", "ok": ok, "value": value}
        done = self._answering[record.arn] = asyncio.Event()
        try:
            await self.store.advance(record.arn, [], answered, 0)
        except BaseException:
            if record.arn not in self._waiting:  # not recorded: the task still waits
                self._hold(*held)
            raise
        finally:
            del self._answering[record.arn]
            done.set()
        self._drive(record, answered)

    async def heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat: the wait's next deadline, recorded before it answers."""
        waiting = self._tokens.get(token)
        if waiting is not None:
            if waiting.spent:
                raise TaskDoesNotExist("Task Does Not Exist: 'Provided task does not exist anymore'")
            if waiting.renew is not None:
                await waiting.renew()
            else:  # its function still runs: the deadline starts when it returns
                waiting.beat()
            return
        record, cp = self._token_holder(token)
        due = token_due(cp.get("timeout_ms"), cp.get("heartbeat_s"), self.now_ms())
        if due is not None and due <= self.now_ms():
            raise TaskTimedOut("Task Timed Out: 'Provided task has timed out'")
        await self.store.advance(record.arn, [], cp, due)
        current = self._waiting.get(record.arn)
        if current is not None and current[1] is cp:  # not answered meanwhile
            self._hold(record, cp, due)


def _resumed(cp: Checkpoint) -> Checkpoint:
    """The checkpoint as `Run.state` reads it: a retry or a re-run task attempts again without
    entering the state anew; a Parallel or Map goes on with its branches' frames."""
    phase = cp["phase"]
    return {**cp, "phase": phase if phase in ("outcome", "waited", "branches") else "again"}


def _cleared(run: Run) -> bool:
    """Whether the top lane's write deletes the execution's frames: a Parallel or Map of it has
    ended since (or was resumed at start), and no lane is running."""
    touched = run.progress.touched
    if touched:
        run.progress.cleared()
    return touched


def _same_json(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b
