"""One execution's walk through its states: input/output processing, Retry and Catch (the
States Language's pure modules decide), the history events each state makes, and the points
where a Standard execution stops being driven and waits durably (`Suspend`: a Wait, a retry's
interval, a task token). Those points exist only on the top level of a Standard execution.

Inside a Parallel branch or a Map iteration (and everywhere in Express executions, which are
not durable at all) a Wait, a retry's interval and a .waitForTaskToken are held by the driving
task: an asyncio sleep or an in-memory future (`TokenWaits`), and nothing is written until the
Parallel or Map state exits, whose events are written with the next top-level checkpoint. The
last durable checkpoint during such a state is therefore "enter" of the Parallel or Map state
itself, and a crash (SIGKILL, power loss) while it runs means, after the restart:
- the whole state runs again from its input: every branch and iteration, including tasks that
  had already succeeded (at least once per task, as AWS promises for Standard; none is lost);
- the history holds none of the branches' events from before the crash (a fresh
  Parallel/MapStateEntered follows the previous state's exit, with no gap in the ids);
- a Wait with Seconds/SecondsPath waits its full time again from the re-run; a Timestamp or
  TimestampPath wait still ends at its instant;
- retry counts start again at zero (MaxAttempts counts from the re-run);
- a task token handed out before the crash is dead: SendTaskSuccess/Failure/Heartbeat with it
  answer TaskDoesNotExist, and the task's function is invoked again with a new token;
- the execution's own TimeoutSeconds still counts from its start.
A plain restart (SIGTERM) behaves the same: the driver is cancelled and resumed from "enter".
While such a state waits, the execution holds its driver's task, not only its row's lease."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from stratus.workflows import choice, handling, io
from stratus.workflows.context import state_context
from stratus.workflows.definition import Definition, State
from stratus.workflows.errors import StatesError
from stratus.workflows.history import EventLog, as_json
from stratus.workflows.model import Execution
from stratus.workflows.tasks import Call, Functions, invoke_call, invoke_output

# A checkpoint: {"state", "input", "phase": enter|task|retry|waited|token, "attempts", "n",
# "token", "timeout_ms", "heartbeat_s", "entered_ms"}.
Checkpoint = dict[str, Any]


class Suspend(Exception):
    """The execution waits durably from here: where it stands and when it is next due."""

    def __init__(self, checkpoint: Checkpoint, due_ms: int | None) -> None:
        super().__init__(checkpoint.get("phase"))
        self.checkpoint = checkpoint
        self.due_ms = due_ms


class Lane:
    """The chain of events one branch makes (previousEventId follows it)."""

    def __init__(self, last: int) -> None:
        self.last = last


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


# In-memory token waits (Express, branches): token -> (future of the outcome, heartbeat event).
TokenWaits = dict[str, tuple["asyncio.Future[tuple[bool, Any]]", asyncio.Event]]


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

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def event(self, lane: Lane, event_type: str, details: dict[str, Any] | None = None) -> int:
        lane.last = self.log.add(event_type, self.now_ms(), lane.last, details)
        return lane.last

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
                if phase != "waited":
                    until = io.wait_until(state, raw, _utc(self.now_ms()))
                    due = int(until.timestamp() * 1000)
                    if top:
                        raise Suspend(
                            {"state": state.name, "input": raw, "phase": "waited", "entered_ms": entered}, due
                        )
                    await asyncio.sleep(max(0.0, (due - self.now_ms()) / 1000))
                output = io.state_output(state, raw, io.effective_input(state, raw, context), context)
            elif state.type == "Succeed":
                output = io.state_output(state, raw, io.effective_input(state, raw, context), context)
                self.exited(state, lane, output)
                return None, output
            elif state.type == "Fail":
                raise io.fail_error(state, raw, context)
            elif state.type == "Parallel":
                output = await self.parallel(state, raw, lane, context)
            elif state.type == "Map":
                output = await self.map(state, raw, lane, context)
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
                if top:
                    due = self.now_ms() + int(delay * 1000)
                    raise Suspend(
                        {
                            "state": state.name,
                            "input": raw,
                            "phase": "retry",
                            "attempts": attempts,
                            "entered_ms": entered,
                        },
                        due,
                    ) from None
                await asyncio.sleep(delay)

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
        try:
            async with asyncio.timeout(timeout):
                called = await self.functions.call(
                    invoke_call(effective),
                    region=self.record.region,
                    role_arn=self.record.role_arn,
                    session=self.record.name,
                )
        except TimeoutError:
            self.event(
                lane,
                "TaskTimedOut",
                {"resourceType": "lambda", "resource": name, "error": "States.Timeout", "cause": ""},
            )
            raise StatesError("States.Timeout", "") from None
        except StatesError as error:
            self.event(
                lane,
                "TaskFailed",
                {"resourceType": "lambda", "resource": name, "error": error.error, "cause": error.cause},
            )
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
        timeout_ms = started + int(timeout * 1000) if timeout is not None else None
        if top:
            waiting = {
                **base,
                "phase": "token",
                "token": token,
                "timeout_ms": timeout_ms,
                "heartbeat_s": heartbeat,
            }
            raise Suspend(waiting, token_due(timeout_ms, heartbeat, self.now_ms()))
        return self.token_outcome(state, lane, await self.wait_token(token, timeout_ms, heartbeat))

    async def wait_token(
        self, token: str, timeout_ms: int | None, heartbeat: float | None
    ) -> tuple[bool, Any]:
        """An in-memory wait for SendTaskSuccess/Failure (or the deadlines)."""
        future: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        beat = asyncio.Event()
        self._tokens[token] = (future, beat)
        try:
            while True:
                due = token_due(timeout_ms, heartbeat, self.now_ms())
                wait = None if due is None else max(0.0, (due - self.now_ms()) / 1000)
                beat.clear()
                beaten: asyncio.Future[Any] = asyncio.ensure_future(beat.wait())
                waited: list[asyncio.Future[Any]] = [future, beaten]
                try:
                    await asyncio.wait(waited, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    beaten.cancel()
                if future.done():
                    return future.result()
                if not beat.is_set():
                    return (False, {"error": "States.Timeout", "cause": "", "timeout": True})
        finally:
            self._tokens.pop(token, None)

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

    async def parallel(self, state: State, raw: Any, lane: Lane, context: dict[str, Any]) -> Any:
        effective = io.effective_input(state, raw, context)
        self.event(lane, "ParallelStateStarted")
        started = lane.last
        results: list[Any] = [None] * len(state.branches)
        failures: list[StatesError] = []

        async def branch(index: int, definition: Definition) -> None:
            try:
                results[index] = await self.walk(definition, effective, Lane(started), top=False)
            except StatesError as error:
                failures.append(error)
                raise

        try:
            async with asyncio.TaskGroup() as group:
                for i, definition in enumerate(state.branches):
                    group.create_task(branch(i, definition))
        except* StatesError:
            pass
        if failures:
            self.event(lane, "ParallelStateFailed")
            raise failures[0]
        self.event(lane, "ParallelStateSucceeded")
        return io.state_output(state, raw, results, context)

    async def map(self, state: State, raw: Any, lane: Lane, context: dict[str, Any]) -> Any:
        items = io.map_items(state, raw, context)
        self.event(lane, "MapStateStarted", {"length": len(items)})
        started = lane.last
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

        async def iteration(index: int, value: Any) -> None:
            ilane = Lane(started)
            self.event(ilane, "MapIterationStarted", {"name": state.name, "index": index})
            try:
                results[index] = await self.walk(processor, value, ilane, top=False, item=(index, value))
            except StatesError as error:
                self.event(ilane, "MapIterationFailed", {"name": state.name, "index": index})
                failures.append(error)
                if too_many():
                    raise
                return
            self.event(ilane, "MapIterationSucceeded", {"name": state.name, "index": index})

        # `limit` workers take the items in order: never more iterations in flight than that,
        # and no task per waiting item.
        pending = iter(enumerate(items))

        async def worker() -> None:
            for index, value in pending:
                await iteration(index, value)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(limit):
                    group.create_task(worker())
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
