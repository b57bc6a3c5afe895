"""Durable progress inside Parallel and Map states of a Standard execution.

The top level of an execution is one lane whose checkpoint lives in its execution row. Each
branch of a Parallel and each iteration of a Map is a lane of its own, with a *frame* row keyed
by `<the id of its Parallel/MapStateStarted event>/<branch or item index>` (event ids are
unique within an execution, so the keys of nested states never collide and carry no path):
- `{"done": output}`: the lane finished; after a restart its output is used, it is not run;
- `{"failed": {"error", "cause"}}`: it failed (a Map's tolerated failures count it);
- `{"cp": checkpoint}`: it waits (a Wait, a retry's interval, a task token) or runs a nested
  Parallel or Map, with the due time of the wait beside it; after a restart it resumes there.
  A token's answer turns its checkpoint's phase into "outcome" (with `ok` and the output or
  {error, cause}) before SendTaskSuccess/Failure answers: a restart goes on from it.
A lane's events are held by the lane until it reaches one of those points, then written
together with its frame in one change, so the history holds exactly the work recorded.

Waits write their frame before they start (awaited: waits are rare and slow anyway). A lane
that finishes only queues its frame: a flusher task per running Parallel or Map writes what is
queued, one change at most every FLUSH_GATHER_S, so a Map of many quick iterations costs a
few writes a second, not one per iteration (an iteration that finished just before a crash
may run again: the at-least-once Standard promises). Frames of a state are deleted by the next write of the
top-level lane (the state has exited by then) and when the execution closes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from stratus.workflows.history import EventLog

Frame = dict[str, Any]
# How long the flusher gathers finished lanes' frames between its writes.
FLUSH_GATHER_S = 0.05
Frames = dict[str, tuple[Frame, int | None]]  # key -> (frame, due_ms)
WriteFrames = Callable[[list[dict[str, Any]], Frames], Awaitable[None]]


def frame_key(started: int, index: int) -> str:
    return f"{started}/{index}"


class Lane:
    """The chain of events one branch makes (previousEventId follows it). A durable lane (a
    branch or iteration of a Standard execution) has a frame key and holds its own events
    until its next durable point."""

    def __init__(self, last: int, key: str | None = None) -> None:
        self.last = last
        self.key = key
        self.pending: list[dict[str, Any]] | None = [] if key is not None else None


class TokenWait:
    """A task token waited for in memory (inside branches, in Express executions, and at the
    top level while the token task's function runs): its answer once SendTaskSuccess/Failure
    came, and an event set by an answer or a heartbeat.
    After a restart the waits of resumed branches are registered before their lanes run, so
    that an answer arriving first is kept.

    In a Standard execution the answer is recorded before SendTaskSuccess/Failure answers:
    `keep` writes the lane's frame (at the top level, the execution's row) as the task's
    outcome (the lane's pending events with it),
    `spent` refuses a second answer from then on, and only once written is `outcome` set (the
    lane goes on; a wait that times out meanwhile waits for the write instead). `renew` is a
    heartbeat's: the new deadline recorded in the frame before SendTaskHeartbeat answers."""

    def __init__(self, execution_arn: str) -> None:
        self.execution_arn = execution_arn
        self.outcome: tuple[bool, Any] | None = None
        self.changed = asyncio.Event()
        self.spent = False  # an answer was taken (being recorded, or recorded)
        self.due: int | None = None  # the wait's deadline, as the last heartbeat moved it
        self.keep: KeepOutcome | None = None
        self.renew: Callable[[], Awaitable[None]] | None = None

    def answer(self, ok: bool, value: Any) -> None:
        if self.outcome is None:
            self.outcome = (ok, value)
        self.spent = True
        self.changed.set()

    async def settle(self, ok: bool, value: Any) -> bool:
        """SendTaskSuccess/Failure: the answer recorded (durable lanes), then given to the lane.
        False when the token was answered before."""
        if self.spent or self.outcome is not None:
            return False
        self.spent = True
        try:
            if self.keep is not None:
                await self.keep(ok, value)
        except BaseException:
            self.spent = False  # not recorded: the task still waits, and may be answered again
            self.changed.set()
            raise
        self.answer(ok, value)
        return True

    def beat(self) -> None:
        self.changed.set()


KeepOutcome = Callable[[bool, Any], Awaitable[None]]
TokenWaits = dict[str, TokenWait]


class Progress:
    """One run's frames: those loaded at a restart, and those queued for the next write."""

    def __init__(self, log: EventLog, write: WriteFrames | None, loaded: Mapping[str, Frame]) -> None:
        self._log = log  # its pending events are what the next write (of any lane) takes
        self._write = write
        self.loaded = dict(loaded)
        self._queued: Frames = {}
        self._dirty = asyncio.Event()
        # Frames of this execution may be in the store: the top lane's next write deletes them.
        self.touched = bool(loaded)

    @property
    def durable(self) -> bool:
        return self._write is not None

    def queue(self, lane: Lane, frame: Frame, due_ms: int | None = None) -> None:
        """The lane's events so far and its frame, for the next write."""
        assert lane.key is not None and lane.pending is not None
        self._log.pending.extend(lane.pending)
        lane.pending.clear()
        self._queued[lane.key] = (frame, due_ms)
        self.touched = True
        self._dirty.set()

    def cleared(self) -> None:
        """The top lane's write deletes the execution's frames: none is queued or loaded now."""
        self._queued.clear()
        self.loaded.clear()
        self.touched = False

    def release(self, lane: Lane) -> None:
        """A lane cancelled or failed without a frame: its events go with the next write."""
        if lane.pending:
            self._log.pending.extend(lane.pending)
            lane.pending.clear()

    async def hold(self, lane: Lane, frame: Frame, due_ms: int | None = None) -> None:
        """The lane's frame written now (it is about to wait)."""
        self.queue(lane, frame, due_ms)
        await self.flush()

    async def flush(self) -> None:
        if self._write is None:
            return
        if not self._log.pending and not self._queued:
            return
        events = self._log.take()
        queued, self._queued = self._queued, {}
        await self._write(events, queued)

    async def flusher(self, stop: asyncio.Event) -> None:
        """Write what lanes queue, one change at a time, until `stop` (what is left goes with
        the next write of its lane's parent)."""
        while True:
            await self._dirty.wait()
            if stop.is_set():
                return
            self._dirty.clear()
            await self.flush()
            # Then gather a while: a Map of quick iterations costs a few writes a second, not
            # one per iteration (an iteration that finished in the gap may run again).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_GATHER_S):
                    await stop.wait()

    def stop(self, stop: asyncio.Event) -> None:
        stop.set()
        self._dirty.set()
