"""One execution's walk through its states: input/output processing, Retry and Catch (the
States Language's pure modules decide), the history events each state makes, and the points
where a Standard execution's progress is written durably.

On the top level of a Standard execution those points are every transition ("enter"), a task
about to run ("task"), and the waits (`Suspend`: a Wait, a retry's interval, a task token), after
which the execution is only its row with a due time. A Parallel or Map state writes a
checkpoint when it starts ("branches", with the id of its Parallel/MapStateStarted event), and
each of its branches and iterations is a lane with a frame of its own (progress.py says what a
frame holds), nested Parallel and Map states included:
- a lane that finished records its output (or its error); after a restart it is not run again;
- a lane that waits records its checkpoint and due time before waiting: after SIGKILL and a
  restart, a Wait ends at its original deadline, a retry's interval keeps its time and its
  counts, and a task token handed out before the crash is still answered by SendTaskSuccess/
  Failure/Heartbeat (the token task's function is not invoked again);
- an answer to a lane's token is recorded in its frame (phase "outcome", with the lane's
  events so far: `keeper`) before SendTaskSuccess/Failure answers, also when it comes while
  the token task's function still runs; a heartbeat's new deadline too (`wait_token`);
- a top-level token answered while its function still runs is recorded in the execution's row
  (phase "outcome", due now: `top_keeper`) before it is acknowledged; the driver goes on from
  it once the function returns. An answer closes its task (AWS: the task waits until its token
  comes back, then the workflow goes on): a function error or TimeoutSeconds after it is not
  the task's outcome, the answer is;
- a lane's events are written with its frame, so the history holds each event once: what ran
  between a lane's last frame and the crash (a task in flight, states after a finished Wait)
  runs again, at least once per task as AWS promises for Standard, with fresh event ids (ids
  handed out to events that were never written leave gaps).
While a Parallel or Map state waits, its driver task holds the waits in memory (an asyncio sleep,
a `TokenWait`) as well as its frames; the execution's TimeoutSeconds still counts from its
start. Express executions are not durable at all: nothing is written."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from stratus.workflows import choice, handling, io
from stratus.workflows.context import state_context
from stratus.workflows.definition import Definition, State
from stratus.workflows.errors import StatesError
from stratus.workflows.history import EventLog, as_json
from stratus.workflows.model import Execution
from stratus.workflows.progress import (
    Frame,
    KeepOutcome,
    Lane,
    Progress,
    TokenWait,
    TokenWaits,
    WriteFrames,
    frame_key,
)
from stratus.workflows.tasks import Call, Functions, invoke_call, invoke_output

# A checkpoint: {"state", "input", "phase": enter|task|retry|waited|token|outcome, "attempts", "n",
# "token", "timeout_ms", "heartbeat_s", "entered_ms", and for an answered token "ok" and "value"}.
Checkpoint = dict[str, Any]


class Suspend(Exception):
    """The execution waits durably from here: where it stands and when it is next due."""

    def __init__(self, checkpoint: Checkpoint, due_ms: int | None) -> None:
        super().__init__(checkpoint.get("phase"))
        self.checkpoint = checkpoint
        self.due_ms = due_ms


def new_token(execution_arn: str) -> str:
    """An opaque task token that names its execution, so that SendTask* finds it durably."""
    raw = json.dumps({"e": execution_arn, "n": secrets.token_hex(16)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def token_execution(token: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        arn = json.loads(raw)["e"]
    except (ValueError, KeyError, TypeError):
        return None
    return arn if isinstance(arn, str) else None


class Run:
    def __init__(
        self,
        record: Execution,
        definition: Definition,
        functions: Functions,
        *,
        durable: bool,
        log: EventLog,
        write: Callable[[Checkpoint, int | None], Awaitable[None]],
        token_waits: TokenWaits,
        clock: Callable[[], float] = time.time,
        rand: random.Random | None = None,
        frames: Mapping[str, Frame] | None = None,
        write_frames: WriteFrames | None = None,
    ) -> None:
        self.record = record
        self.definition = definition
        self.functions = functions
        self.durable = durable
        self.log = log
        self._write = write
        self._tokens = token_waits
        self._clock = clock
        self._rand = rand or random.Random()
        self.input_value: Any = json.loads(record.input)
        # Branches' and iterations' frames: durable only in a durable run given a writer.
        self.progress = Progress(log, write_frames if durable else None, frames or {})

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def event(self, lane: Lane, event_type: str, details: dict[str, Any] | None = None) -> int:
        lane.last = self.log.add(event_type, self.now_ms(), lane.last, details)
        if lane.pending is not None:  # a durable lane holds its events until its next frame
            lane.pending.append(self.log.pending.pop())
        return lane.last

    async def sleep_until(self, due_ms: int) -> None:
        # The loop's timers may fire a little early against the wall clock the due is in.
        while (left := due_ms - self.now_ms()) > 0:
            await asyncio.sleep(left / 1000)

    async def checkpoint(self, checkpoint: Checkpoint, due_ms: int | None = None) -> None:
        if self.durable:
            checkpoint["n"] = self.log.next_id
            await self._write(checkpoint, due_ms)
        else:
            self.log.take()

    # -- walking -----------------------------------------------------------------------------

    async def walk(
        self,
        definition: Definition,
        value: Any,
        lane: Lane,
        *,
        top: bool,
        start: str | None = None,
        resume: Checkpoint | None = None,
        item: tuple[int, Any] | None = None,
    ) -> Any:
        name = start or definition.start_at
        while True:
            state = definition.states[name]
            nxt, value = await self.state(
                state, value, lane, top=top and self.durable, resume=resume, item=item
            )
            resume = None
            if nxt is None:
                return value
            name = nxt
            if top:
                await self.checkpoint({"state": name, "input": value, "phase": "enter"})

    async def state(
        self,
        state: State,
        raw: Any,
        lane: Lane,
        *,
        top: bool,
        resume: Checkpoint | None,
        item: tuple[int, Any] | None,
    ) -> tuple[str | None, Any]:
        """Run one state: (the next state's name or None at an end, its output)."""
        phase = resume["phase"] if resume else "enter"
        entered = int(resume.get("entered_ms", self.now_ms())) if resume else self.now_ms()
        if phase == "enter":
            self.event(
                lane,
                f"{state.type}StateEntered",
                {"name": state.name, "input": as_json(raw), "inputDetails": {"truncated": False}},
            )
        context = state_context(self.record, self.input_value, state.name, entered, item=item)
        try:
            if state.type == "Pass":
                effective = io.effective_input(state, raw, context)
                result = state.raw.get("Result", effective)
                output = io.state_output(state, raw, result, context)
            elif state.type == "Task":
                output = await self.task(state, raw, lane, top=top, resume=resume, entered=entered, item=item)
            elif state.type == "Choice":
                effective = io.effective_input(state, raw, context)
                nxt = choice.choose(state, effective)
                output = io.state_output(state, raw, effective, context)
                self.exited(state, lane, output)
                return nxt, output
            elif state.type == "Wait":
                if resume is not None and phase == "wait":  # a lane resumed in its Wait: same deadline
                    await self.sleep_until(int(resume["due_ms"]))
                elif phase != "waited":
                    until = io.wait_until(state, raw, _utc(self.now_ms()))
                    due = int(until.timestamp() * 1000)
                    waited = {"state": state.name, "input": raw, "phase": "waited", "entered_ms": entered}
                    if top:
                        raise Suspend(waited, due)
                    if lane.key is not None:
                        cp = {**waited, "phase": "wait", "due_ms": due, "last": lane.last}
                        await self.progress.hold(lane, {"cp": cp}, due)
                    await self.sleep_until(due)
                output = io.state_output(state, raw, io.effective_input(state, raw, context), context)
            elif state.type == "Succeed":
                output = io.state_output(state, raw, io.effective_input(state, raw, context), context)
                self.exited(state, lane, output)
                return None, output
            elif state.type == "Fail":
                raise io.fail_error(state, raw, context)
            elif state.type == "Parallel":
                output = await self.parallel(
                    state, raw, lane, context, top=top, resume=resume, entered=entered
                )
            elif state.type == "Map":
                output = await self.map(state, raw, lane, context, top=top, resume=resume, entered=entered)
            else:
                raise StatesError("States.Runtime", f"Unsupported state type {state.type}")
        except StatesError as error:
            if state.type == "Fail":
                raise
            catcher = handling.catcher_for(state.catch, error) if state.catch else None
            if catcher is None:
                raise
            return catcher.next, io.catch_output(catcher, raw, error)
        self.exited(state, lane, output)
        return (None if state.end else state.next), output

    def exited(self, state: State, lane: Lane, output: Any) -> None:
        self.event(
            lane,
            f"{state.type}StateExited",
            {"name": state.name, "output": as_json(output), "outputDetails": {"truncated": False}},
        )

    # -- tasks --------------------------------------------------------------------------------

    async def task(
        self,
        state: State,
        raw: Any,
        lane: Lane,
        *,
        top: bool,
        resume: Checkpoint | None,
        entered: int,
        item: tuple[int, Any] | None,
    ) -> Any:
        attempts: dict[int, int] = {int(k): int(v) for k, v in (resume or {}).get("attempts", {}).items()}
        outcome: tuple[bool, Any] | None = None
        if resume is not None and resume["phase"] == "outcome":
            outcome = (bool(resume["ok"]), resume["value"])
        elif resume is not None and resume["phase"] == "retry" and "due_ms" in resume:
            await self.sleep_until(int(resume["due_ms"]))  # a lane resumed in a retry's interval
        elif resume is not None and resume["phase"] == "token":  # a lane resumed waiting for its token
            waiting = {k: v for k, v in resume.items() if k not in ("due_ms", "last")}
            outcome = await self.wait_token(
                str(resume["token"]),
                resume.get("timeout_ms"),
                resume.get("heartbeat_s"),
                lane=lane,
                cp=waiting,
                due=resume.get("due_ms"),
            )
        while True:
            retries = sum(attempts.values())
            context = state_context(self.record, self.input_value, state.name, entered, retries, item=item)
            try:
                if outcome is not None:
                    result = self.token_outcome(state, lane, outcome)
                    outcome = None
                else:
                    base = {"state": state.name, "input": raw, "attempts": attempts, "entered_ms": entered}
                    result = await self.attempt(state, raw, lane, context, top=top, base=base)
                return io.state_output(state, raw, result, context)
            except StatesError as error:
                decided = handling.retry_delay(state.retry, error, attempts, self._rand)
                if decided is None:
                    raise
                index, delay = decided
                attempts = {**attempts, index: attempts.get(index, 0) + 1}
                due = self.now_ms() + int(delay * 1000)
                retrying = {
                    "state": state.name,
                    "input": raw,
                    "phase": "retry",
                    "attempts": attempts,
                    "entered_ms": entered,
                }
                if top:
                    raise Suspend(retrying, due) from None
                if lane.key is not None:
                    await self.progress.hold(
                        lane, {"cp": {**retrying, "due_ms": due, "last": lane.last}}, due
                    )
                await self.sleep_until(due)

    async def attempt(
        self, state: State, raw: Any, lane: Lane, context: dict[str, Any], *, top: bool, base: Checkpoint
    ) -> Any:
        resource = io.task_resource(state)
        timeout, heartbeat = io.task_timeouts(state, raw)
        token = new_token(self.record.arn) if resource.pattern == "waitForTaskToken" else None
        if token is not None:
            context["Task"] = {"Token": token}
        effective = io.effective_input(state, raw, context)
        if resource.kind == "lambda-arn":
            details: dict[str, Any] = {
                "resource": resource.arn,
                "input": as_json(effective),
                "inputDetails": {"truncated": False},
            }
            if timeout is not None:
                details["timeoutInSeconds"] = int(timeout)
            self.event(lane, "LambdaFunctionScheduled", details)
            if top:  # a task in flight at a crash runs again from here
                await self.checkpoint({**base, "phase": "task"})
            self.event(lane, "LambdaFunctionStarted")
            try:
                async with asyncio.timeout(timeout):
                    called = await self.functions.call(
                        Call(resource.arn, None, effective),
                        region=self.record.region,
                        role_arn=self.record.role_arn,
                        session=self.record.name,
                    )
            except TimeoutError:
                self.event(lane, "LambdaFunctionTimedOut", {"error": "States.Timeout", "cause": ""})
                raise StatesError("States.Timeout", "") from None
            except StatesError as error:
                self.event(lane, "LambdaFunctionFailed", {"error": error.error, "cause": error.cause})
                raise
            self.event(
                lane,
                "LambdaFunctionSucceeded",
                {"output": as_json(called.payload), "outputDetails": {"truncated": False}},
            )
            return called.payload
        if resource.kind != "lambda-invoke":
            raise StatesError("States.Runtime", f"The resource {resource.arn} is not supported by Stratus.")
        name = "invoke.waitForTaskToken" if token is not None else "invoke"
        details = {
            "resourceType": "lambda",
            "resource": name,
            "region": self.record.region,
            "parameters": as_json(effective),
        }
        if timeout is not None:
            details["timeoutInSeconds"] = int(timeout)
        if heartbeat is not None:
            details["heartbeatInSeconds"] = int(heartbeat)
        self.event(lane, "TaskScheduled", details)
        if top:
            await self.checkpoint({**base, "phase": "task"})
        self.event(lane, "TaskStarted", {"resourceType": "lambda", "resource": name})
        started = self.now_ms()
        timeout_ms = started + int(timeout * 1000) if timeout is not None else None
        waiting = {
            **base,
            "phase": "token",
            "token": token,
            "timeout_ms": timeout_ms,
            "heartbeat_s": heartbeat,
        }
        early: TokenWait | None = None
        if token is not None:  # valid from now on: an answer sent while the function runs is taken
            early = self._tokens.setdefault(token, TokenWait(self.record.arn))
            if top:  # and recorded before it is acknowledged, in the execution's row
                early.keep = self.top_keeper(waiting)
            elif lane.key is not None and self.progress.durable:  # or in the lane's frame
                early.keep = self.keeper(lane, waiting)
        try:
            async with asyncio.timeout(timeout):
                called = await self.functions.call(
                    invoke_call(effective),
                    region=self.record.region,
                    role_arn=self.record.role_arn,
                    session=self.record.name,
                )
        except TimeoutError:
            # An answer taken before the task timed out closed the task: it stands.
            answered = await self.answered_early(early)
            self._forget(token)
            if answered is not None:
                return self.token_outcome(state, lane, answered)
            self.event(
                lane,
                "TaskTimedOut",
                {"resourceType": "lambda", "resource": name, "error": "States.Timeout", "cause": ""},
            )
            raise StatesError("States.Timeout", "") from None
        except StatesError as error:
            # The same for the function's own error after it answered its token.
            answered = await self.answered_early(early)
            self._forget(token)
            if answered is not None:
                return self.token_outcome(state, lane, answered)
            self.event(
                lane,
                "TaskFailed",
                {"resourceType": "lambda", "resource": name, "error": error.error, "cause": error.cause},
            )
            raise
        except BaseException:
            self._forget(token)
            raise
        if token is None:
            output = invoke_output(called)
            self.event(
                lane,
                "TaskSucceeded",
                {
                    "resourceType": "lambda",
                    "resource": name,
                    "output": as_json(output),
                    "outputDetails": {"truncated": False},
                },
            )
            return output
        assert early is not None
        if top:
            answered = await self.answered_early(early)
            # From here (no await until the executor holds the wait) SendTaskSuccess/Failure
            # finds the wait in the executor's hold, and records its answer there.
            self._forget(token)
            if answered is not None:  # recorded in the row already: go on from it
                return self.token_outcome(state, lane, answered)
            raise Suspend(waiting, token_due(timeout_ms, heartbeat, self.now_ms()))
        due = token_due(timeout_ms, heartbeat, self.now_ms())
        # Armed before its frame is written: a heartbeat or an answer that comes once the wait
        # is in the history is recorded (its write follows the frame's).
        self.arm(early, timeout_ms, heartbeat, lane=lane, cp=waiting, due=due)
        # An answer taken while the function ran has recorded the lane's frame already.
        if lane.key is not None and not early.spent:
            try:
                await self.progress.hold(lane, {"cp": {**waiting, "due_ms": due, "last": lane.last}}, due)
            except BaseException:
                self._forget(token)
                raise
        outcome = await self.wait_token(token, timeout_ms, heartbeat, lane=lane, cp=waiting, due=due)
        return self.token_outcome(state, lane, outcome)

    def keeper(self, lane: Lane, waiting: Checkpoint) -> KeepOutcome:
        """How an answer to the token of a durable lane is recorded before SendTaskSuccess/
        Failure answers: the lane's frame says the task's outcome (a restart goes on from it,
        the token is spent), written with the lane's events so far. The TaskSucceeded/Failed
        event is the lane's own, written with its next frame."""

        async def keep(ok: bool, value: Any) -> None:
            cp = {**waiting, "phase": "outcome", "ok": ok, "value": value, "last": lane.last}
            await self.progress.hold(lane, {"cp": cp})

        return keep

    def top_keeper(self, waiting: Checkpoint) -> KeepOutcome:
        """How an answer that comes while a top-level token task's function still runs is
        recorded before SendTaskSuccess/Failure answers: the execution's row says the task's
        outcome (due now: a restart goes on from it without invoking the function again, and the
        token is spent), written with the events so far (TaskStarted; the top lane is blocked in
        the function's call, so nothing else writes them). The driver takes the answer when the
        function returns; its TaskSucceeded/Failed event goes with the next step's write."""

        async def keep(ok: bool, value: Any) -> None:
            await self.checkpoint({**waiting, "phase": "outcome", "ok": ok, "value": value}, 0)

        return keep

    async def answered_early(self, early: TokenWait | None) -> tuple[bool, Any] | None:
        """The answer taken while the token task's function ran, once it is recorded; None when
        none came (or its write failed: then the task goes on as if it had not come)."""
        if early is None:
            return None
        while early.spent and early.outcome is None:
            early.changed.clear()
            await early.changed.wait()
        return early.outcome

    def _forget(self, token: str | None) -> None:
        if token is not None:
            self._tokens.pop(token, None)

    async def wait_token(
        self,
        token: str,
        timeout_ms: int | None,
        heartbeat: float | None,
        *,
        lane: Lane | None = None,
        cp: Checkpoint | None = None,
        due: int | None = None,
    ) -> tuple[bool, Any]:
        """An in-memory wait for SendTaskSuccess/Failure (or the deadlines). In a durable lane
        an answer is recorded in the lane's frame before it is acknowledged (`keeper`), and a
        heartbeat's new deadline too before SendTaskHeartbeat answers, so that a restart keeps
        both."""
        waiting = self._tokens.setdefault(token, TokenWait(self.record.arn))
        if waiting.renew is None:  # a lane resumed waiting, or an Express execution's
            self.arm(waiting, timeout_ms, heartbeat, lane=lane, cp=cp, due=due)
        try:
            while waiting.outcome is None:
                waiting.changed.clear()
                # An answer being recorded is waited for, even past the deadline: it was taken.
                left = None if waiting.due is None or waiting.spent else waiting.due - self.now_ms()
                try:
                    async with asyncio.timeout(None if left is None else max(0.0, left / 1000)):
                        await waiting.changed.wait()
                except TimeoutError:
                    if waiting.outcome is None and not waiting.spent:
                        return (False, {"error": "States.Timeout", "cause": "", "timeout": True})
            return waiting.outcome
        finally:
            self._tokens.pop(token, None)

    def arm(
        self,
        waiting: TokenWait,
        timeout_ms: int | None,
        heartbeat: float | None,
        *,
        lane: Lane | None,
        cp: Checkpoint | None,
        due: int | None,
    ) -> None:
        """The wait's deadline, and in a durable lane how an answer (`keeper`) and a heartbeat's
        new deadline are recorded in the lane's frame before they are acknowledged."""
        frame: tuple[Lane, Checkpoint] | None = None
        if lane is not None and lane.key is not None and cp is not None and self.progress.durable:
            frame = (lane, cp)
            waiting.keep = self.keeper(lane, cp)

        async def renew() -> None:
            next_due = token_due(timeout_ms, heartbeat, self.now_ms())
            if frame is not None:
                held, waited = frame
                renewed = {**waited, "due_ms": next_due, "last": held.last}
                await self.progress.hold(held, {"cp": renewed}, next_due)
            waiting.due = next_due
            waiting.changed.set()

        waiting.renew = renew
        waiting.due = token_due(timeout_ms, heartbeat, self.now_ms()) if due is None else due

    def token_outcome(self, state: State, lane: Lane, outcome: tuple[bool, Any]) -> Any:
        ok, value = outcome
        resource = "invoke.waitForTaskToken"
        if ok:
            self.event(
                lane,
                "TaskSucceeded",
                {
                    "resourceType": "lambda",
                    "resource": resource,
                    "output": as_json(value),
                    "outputDetails": {"truncated": False},
                },
            )
            return value
        error = StatesError(str(value.get("error") or ""), str(value.get("cause") or ""))
        kind = "TaskTimedOut" if value.get("timeout") else "TaskFailed"
        self.event(
            lane,
            kind,
            {"resourceType": "lambda", "resource": resource, "error": error.error, "cause": error.cause},
        )
        raise error

    # -- Parallel and Map ----------------------------------------------------------------------

    async def started(
        self,
        state: State,
        raw: Any,
        lane: Lane,
        details: dict[str, Any] | None,
        *,
        top: bool,
        resume: Checkpoint | None,
        entered: int,
    ) -> int:
        """The id of the state's Parallel/MapStateStarted event, the root of its lanes' frame
        keys: made and written now (with a checkpoint saying the state runs its branches), or
        the one recorded before a restart."""
        if resume is not None and resume.get("phase") == "branches":
            lane.last = int(resume["started"])
            return lane.last
        self.event(lane, f"{state.type}StateStarted", details)
        cp = {
            "state": state.name,
            "input": raw,
            "phase": "branches",
            "entered_ms": entered,
            "started": lane.last,
        }
        if top:
            await self.checkpoint(cp)
        elif lane.key is not None:
            await self.progress.hold(lane, {"cp": {**cp, "last": lane.last}})
        return lane.last

    def recorded(self, key: str | None) -> Frame | None:
        """What a branch or iteration had recorded before a restart (each is taken once)."""
        return self.progress.loaded.pop(key, None) if key is not None and self.progress.loaded else None

    async def walk_lane(
        self,
        definition: Definition,
        value: Any,
        lane: Lane,
        cp: Checkpoint | None,
        item: tuple[int, Any] | None,
    ) -> Any:
        if cp is None:
            return await self.walk(definition, value, lane, top=False, item=item)
        return await self.walk(
            definition, cp["input"], lane, top=False, start=cp["state"], resume=cp, item=item
        )

    def settle(self, lane: Lane, frame: Frame) -> None:
        """A branch or iteration ended: its frame (and events) queued for the flusher."""
        if lane.key is not None:
            self.progress.queue(lane, frame)

    async def run_lane(self, lanes: Lanes, index: int, definition: Definition, value: Any) -> None:
        """A Parallel state's branch or a Map state's iteration `index`, as a lane: what it
        recorded before a restart when it ended then, else walked (from its checkpoint, if any)
        and its outcome settled in its frame. Its output goes to `lanes.results[index]`, its error
        to `lanes.failures`, and the error is raised (ending the other lanes) only when
        `lanes.fatal()` says the state fails with it. An iteration's events include its
        MapIterationStarted/Failed/Succeeded, and its walk sees the item (`$$.Map.Item`)."""
        key = frame_key(lanes.started, index) if lanes.durable else None
        frame = self.recorded(key)
        if frame is not None and "done" in frame:
            lanes.results[index] = frame["done"]
            return
        if frame is not None and "failed" in frame:
            lanes.failures.append(StatesError(frame["failed"]["error"], frame["failed"]["cause"]))
            if lanes.fatal():
                raise lanes.failures[-1]
            return
        cp = frame.get("cp") if frame is not None else None
        lane = Lane(int(cp["last"]) if cp else lanes.started, key)

        def mark(outcome: str) -> None:
            if lanes.iteration_of is not None:
                self.event(lane, f"MapIteration{outcome}", {"name": lanes.iteration_of, "index": index})

        if cp is None:
            mark("Started")
        item = (index, value) if lanes.iteration_of is not None else None
        try:
            lanes.results[index] = await self.walk_lane(definition, value, lane, cp, item)
        except StatesError as error:
            mark("Failed")
            self.settle(lane, {"failed": {"error": error.error, "cause": error.cause}})
            lanes.failures.append(error)
            if lanes.fatal():
                raise
            return
        except BaseException:
            self.progress.release(lane)
            raise
        mark("Succeeded")
        self.settle(lane, {"done": lanes.results[index]})

    async def concurrently(self, durable: bool, jobs: list[Coroutine[Any, Any, None]]) -> None:
        """The jobs in a task group (a StatesError of one cancels the others and comes out in an
        exception group), beside the flusher of their frames when their lanes are durable."""
        stop = asyncio.Event()

        async def all_jobs() -> None:
            try:
                async with asyncio.TaskGroup() as group:
                    for job in jobs:
                        group.create_task(job)
            finally:
                self.progress.stop(stop)

        if not durable:
            await all_jobs()
            return
        async with asyncio.TaskGroup() as outer:
            outer.create_task(self.progress.flusher(stop))
            outer.create_task(all_jobs())

    async def parallel(
        self,
        state: State,
        raw: Any,
        lane: Lane,
        context: dict[str, Any],
        *,
        top: bool,
        resume: Checkpoint | None,
        entered: int,
    ) -> Any:
        effective = io.effective_input(state, raw, context)
        started = await self.started(state, raw, lane, None, top=top, resume=resume, entered=entered)
        durable = top or lane.key is not None
        results: list[Any] = [None] * len(state.branches)
        failures: list[StatesError] = []
        # Any branch's error fails the state (and ends the other branches).
        lanes = Lanes(started, durable, results, failures, fatal=lambda: True)
        try:
            await self.concurrently(
                durable, [self.run_lane(lanes, i, d, effective) for i, d in enumerate(state.branches)]
            )
        except* StatesError:
            pass
        if failures:
            self.event(lane, "ParallelStateFailed")
            raise failures[0]
        self.event(lane, "ParallelStateSucceeded")
        return io.state_output(state, raw, results, context)

    async def map(
        self,
        state: State,
        raw: Any,
        lane: Lane,
        context: dict[str, Any],
        *,
        top: bool,
        resume: Checkpoint | None,
        entered: int,
    ) -> Any:
        items = io.map_items(state, raw, context)
        started = await self.started(
            state, raw, lane, {"length": len(items)}, top=top, resume=resume, entered=entered
        )
        durable = top or lane.key is not None
        processor = state.processor
        assert processor is not None
        limit = inline_concurrency(state.raw.get("MaxConcurrency"), len(items))
        tolerated_count = state.raw.get("ToleratedFailureCount")
        tolerated_pct = state.raw.get("ToleratedFailurePercentage")
        tolerates = tolerated_count is not None or tolerated_pct is not None
        results: list[Any] = [None] * len(items)
        failures: list[StatesError] = []

        def too_many() -> bool:
            if not tolerates:
                return bool(failures)
            count = len(failures)
            if tolerated_count is not None and count > int(tolerated_count):
                return True
            return (
                tolerated_pct is not None and bool(items) and count * 100 / len(items) > float(tolerated_pct)
            )

        lanes = Lanes(started, durable, results, failures, fatal=too_many, iteration_of=state.name)

        # `limit` workers take the items in order: never more iterations in flight than that,
        # and no task per waiting item.
        pending = iter(enumerate(items))

        async def worker() -> None:
            for index, value in pending:
                await self.run_lane(lanes, index, processor, value)

        try:
            await self.concurrently(durable, [worker() for _ in range(limit)])
        except* StatesError:
            pass
        if too_many():
            self.event(lane, "MapStateFailed")
            if tolerates:
                raise StatesError(
                    "States.ExceedToleratedFailureThreshold",
                    "The specified tolerated failure threshold was exceeded",
                )
            raise failures[0]
        self.event(lane, "MapStateSucceeded")
        return io.state_output(state, raw, results, context)


@dataclass(frozen=True)
class Lanes:
    """What the lanes of one Parallel or Map state share: the id of its started event (the root
    of their frame keys), whether they are durable, where their outputs and errors go, when an
    error fails the state (`fatal`), and for a Map the state's name (`iteration_of`)."""

    started: int
    durable: bool
    results: list[Any]
    failures: list[StatesError]
    fatal: Callable[[], bool]
    iteration_of: str | None = None


# An inline Map runs at most this many iterations at once (AWS's documented limit of the
# Inline mode): MaxConcurrency 0 (no limit asked for) or above it means this many.
INLINE_MAP_CONCURRENCY = 40


def inline_concurrency(max_concurrency: Any, items: int) -> int:
    """How many iterations of an inline Map run at once: MaxConcurrency within 1..40, 40 for 0,
    none asked or more than 40; never more than there are items (at least one worker)."""
    try:
        asked = int(max_concurrency or 0)
    except (TypeError, ValueError):
        asked = 0
    limit = asked if 0 < asked <= INLINE_MAP_CONCURRENCY else INLINE_MAP_CONCURRENCY
    return max(1, min(limit, items))


def token_due(timeout_ms: int | None, heartbeat: float | None, now_ms: int) -> int | None:
    """When a token wait ends unless a heartbeat or an answer comes: the earlier of its timeout
    and its next heartbeat deadline."""
    dues = [
        d
        for d in (timeout_ms, now_ms + int(heartbeat * 1000) if heartbeat is not None else None)
        if d is not None
    ]
    return min(dues) if dues else None


def _utc(ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC)
