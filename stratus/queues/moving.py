"""Message move tasks (StartMessageMoveTask): messages of a dead-letter queue moved back to the
queue each came from, or to a destination, at most MaxNumberOfMessagesPerSecond. Tasks are
kept in memory (ListMessageMoveTasks shows this run's); the messages they move are durable."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING

from stratus.queues.errors import InvalidParameterValue, ResourceNotFound, UnsupportedOperation
from stratus.queues.model import MoveTask

if TYPE_CHECKING:
    from stratus.queues.queues import Queues

UNTHROTTLED = 500  # messages per step when no rate is given
MAX_RATE = 500


class MoveTasks:
    def __init__(self, queues: Queues) -> None:
        self._queues = queues
        self._tasks: list[MoveTask] = []  # newest last
        self._started = asyncio.Event()

    def start(self, source_arn: str, destination_arn: str | None, rate: int | None) -> MoveTask:
        queues = self._queues
        source = queues.find(source_arn)
        if source is None:
            raise ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        if not queues.dead_letter_sources(source_arn):
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is not None and queues.find(destination_arn) is None:
            raise ResourceNotFound(
                "The resource that you specified for the DestinationArn parameter doesn't exist."
            )
        if rate is not None and not 1 <= rate <= MAX_RATE:
            raise InvalidParameterValue(
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be "
                "between 1 and 500."
            )
        if any(t.source_arn == source_arn and t.status == "RUNNING" for t in self._tasks):
            raise UnsupportedOperation(
                "There is already a task running. Only one active task is allowed for each source queue "
                "ARN at a given time."
            )
        handle = base64.b64encode(
            json.dumps({"taskId": secrets.token_hex(16), "sourceArn": source_arn}).encode()
        ).decode()
        task = MoveTask(handle, source_arn, destination_arn, rate, queues.now_ms(), to_move=0)
        self._tasks.append(task)
        self._started.set()
        return task

    def listed(self, source_arn: str, limit: int) -> list[MoveTask]:
        if self._queues.find(source_arn) is None:
            raise ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        return [t for t in reversed(self._tasks) if t.source_arn == source_arn][:limit]

    def cancel(self, handle: str) -> MoveTask:
        for i, task in enumerate(self._tasks):
            if task.handle == handle:
                if task.status != "RUNNING":
                    raise UnsupportedOperation("Only active tasks can be cancelled.")
                self._tasks[i] = replace(task, status="CANCELLED")
                return self._tasks[i]
        raise ResourceNotFound("Task does not exist.")

    def _update(self, handle: str, **changes: object) -> MoveTask | None:
        for i, task in enumerate(self._tasks):
            if task.handle == handle:
                if task.status != "RUNNING":
                    return None  # cancelled meanwhile
                self._tasks[i] = replace(task, **changes)  # type: ignore[arg-type]
                return self._tasks[i]
        return None

    async def run(self) -> None:
        """Steps every running task, one batch each per second (or as fast as it may when the
        task has no rate)."""
        while True:
            running = [t for t in self._tasks if t.status == "RUNNING"]
            if not running:
                self._started.clear()
                await self._started.wait()
                continue
            for task in running:
                await self._step(task)
            if all(t.rate is not None for t in running):
                await asyncio.sleep(1.0)
            else:
                await asyncio.sleep(0)

    async def _step(self, task: MoveTask) -> None:
        queues = self._queues
        if queues.find(task.source_arn) is None:
            self._update(task.handle, status="FAILED", failure="AWS.SimpleQueueService.NonExistentQueue")
            return
        if task.to_move == 0 and task.moved == 0:
            total = await queues.count(task.source_arn)
            if self._update(task.handle, to_move=total) is None:
                return
        moved, stuck = await queues.move_batch(
            task.source_arn, task.destination_arn, task.rate or UNTHROTTLED
        )
        current = next((t for t in self._tasks if t.handle == task.handle), task)
        if current.status != "RUNNING":
            return
        if stuck:
            self._update(
                task.handle,
                moved=current.moved + moved,
                status="FAILED",
                failure="A message has no source queue to return to; give a DestinationArn.",
            )
        elif moved == 0:
            self._update(task.handle, status="COMPLETED")
        else:
            self._update(task.handle, moved=current.moved + moved)
