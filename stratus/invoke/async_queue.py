"""Asynchronous invocation: accepted durably, run at least once, retried as Lambda does.

Contract:
1. `accept` returns only after the event is committed to the queue's SQLite file with a full
   sync; concurrent accepts share one commit (group commit).
2. The dispatcher leases due events and runs each through the invoke service, the same path as a
   synchronous invoke, so limits and environments are shared.
3. Each attempt is settled by `retries.decide`: done, retried later, or dropped. A settle counts
   only while this server still holds the event's lease.
4. After a crash, the events a dead server held are freed at start and run again: at least once.
5. All database work runs on one worker thread owned by this object; the loop never blocks on
   an fsync.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from stratus.control.arns import arn_function, message_target
from stratus.control.keys import FunctionKey
from stratus.control.models import LATEST, EventInvokeConfig
from stratus.control.registry import Registry
from stratus.errors import ResourceNotFound, StratusError, TooManyRequests
from stratus.invoke.records import InvocationResult
from stratus.invoke.retries import Action, Outcome, RetryPolicy, decide
from stratus.invoke.service import InvokeService
from stratus.invoke.target import Target
from stratus.observe import tracing
from stratus.store.diskfull import disk_full_error, is_disk_full, warning_due
from stratus.store.queue import EventQueue, NewEvent, QueuedEvent

log = logging.getLogger("stratus.async")
T = TypeVar("T")
LEASE_MS = 16 * 60 * 1000  # longer than the longest function timeout
IDLE_POLL_S = 1.0
# (source function, destination ARN, region) -> whether the source's role may send to it
# (lambda:InvokeFunction on a function, sqs:SendMessage on a queue, sns:Publish on a topic).
MaySend = Callable[[str, str, str], bool]


class SendMessage(Protocol):
    """Puts a message on a queue or publishes it to a topic (by ARN), durably when it returns,
    or raises: the message body, its message attributes in boto3's shape, the region, and the
    Subject a publication to a topic carries."""

    def __call__(
        self,
        arn: str,
        body: bytes,
        attributes: Mapping[str, Mapping[str, str]],
        region: str,
        *,
        subject: str | None = None,
    ) -> Awaitable[None]: ...


ERROR_MESSAGE_LIMIT = 1024  # a dead-letter message's ErrorMessage attribute, as Lambda trims it
MAX_CHAIN = 16  # invocations in one chain of destinations before it is treated as a loop
DISK_FULL_WARN_S = 60.0  # at most one warning a minute while the disk stays full


class AsyncInvoker:
    def __init__(
        self,
        queue: EventQueue,
        invoker: InvokeService,
        registry: Registry,
        account_id: str,
        policy: RetryPolicy,
        *,
        concurrency: int = 64,
        clock: Callable[[], float] = time.time,
        may_send: MaySend | None = None,
        send_message: SendMessage | None = None,
    ) -> None:
        self._queue = queue
        # Where destinations and dead-letter targets that are queues or topics are sent
        # (None: no queues or topics here, and such targets count as failed deliveries).
        self._send_message = send_message
        # Whether a function's execution role may invoke a destination (None: always).
        self._may_send = may_send
        self._invoker = invoker
        self._registry = registry
        self._account_id = account_id
        self.policy = policy
        self._clock = clock
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="async-queue")
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._capacity = concurrency
        self._pending: list[tuple[NewEvent, asyncio.Future[None]]] = []
        self._accepted = asyncio.Event()
        self._wake = asyncio.Event()
        self._running = 0
        self._disk_full_warned: float | None = None

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _on_db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    # -- accepting ----------------------------------------------------------------------------

    async def accept(
        self,
        function: str,
        qualifier: str | None,
        payload: bytes,
        region: str,
        *,
        chain: int = 0,
        trace: str | None = None,
    ) -> str:
        event = NewEvent(
            str(uuid.uuid4()), function, qualifier, region, payload, self._now_ms(), chain, trace
        )
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, done))
        self._accepted.set()
        await done
        if self._invoker.metrics is not None:
            self._invoker.metrics.async_received(FunctionKey(region, function))
        return event.request_id

    async def _write_loop(self) -> None:
        while True:
            await self._accepted.wait()
            self._accepted.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                await self._on_db(self._queue.enqueue, [e for e, _ in batch], self._now_ms())
            except Exception as e:  # nothing was stored: every caller hears so
                error = (
                    disk_full_error(e)
                    if is_disk_full(e)
                    else StratusError(f"The event could not be stored: {e}")
                )
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
            self._wake.set()

    # -- dispatching --------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            freed = await self._on_db(self._queue.release_dead_owners, self.owner)
        except Exception as e:
            if not is_disk_full(e):
                raise
            # Their leases expire by themselves; a full disk must not stop the server starting.
            self._warn_disk_full("earlier servers' leases stay until they expire")
            freed = 0
        if freed:
            log.info("%d queued event(s) of an earlier server will run again", freed)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._write_loop())
                while True:
                    try:
                        await self._dispatch_once(tasks)
                    except Exception as e:
                        if not is_disk_full(e):
                            raise
                        # A lease is a write: due events wait in the queue until space returns.
                        self._warn_disk_full("queued events wait until space returns")
                        await asyncio.sleep(IDLE_POLL_S)
        finally:
            self._db.shutdown(wait=True)

    def _warn_disk_full(self, consequence: str) -> None:
        now = time.monotonic()
        if warning_due(self._disk_full_warned, now, DISK_FULL_WARN_S):
            self._disk_full_warned = now
            log.warning("async queue: the data disk is full; %s", consequence)

    async def _dispatch_once(self, tasks: asyncio.TaskGroup) -> None:
        free = self._capacity - self._running
        claimed: list[QueuedEvent] = []
        if free > 0:
            claimed = await self._on_db(self._queue.claim, self.owner, self._now_ms(), LEASE_MS, free)
        for event in claimed:
            self._running += 1
            tasks.create_task(self._run(event))
        if claimed:
            return
        next_due = await self._on_db(self._queue.next_due_ms)
        wait = IDLE_POLL_S if next_due is None else max(0.0, (next_due - self._now_ms()) / 1000)
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), min(wait, IDLE_POLL_S))
        except TimeoutError:
            pass

    async def _run(self, event: QueuedEvent) -> None:
        try:
            outcome, result = await self._attempt(event)
            await self._settle(event, outcome, result)
        except Exception as e:
            if is_disk_full(e):  # not a bug: the settle was a write
                self._warn_disk_full(
                    "events that ran could not be settled and run again when their lease expires"
                )
            else:
                log.exception("async event %s could not be settled; its lease will expire", event.request_id)
        finally:
            self._running -= 1
            self._wake.set()

    async def _attempt(self, event: QueuedEvent) -> tuple[Outcome | None, InvocationResult | None]:
        """Run the event once; the outcome is None when its function no longer exists."""
        if self._invoker.metrics is not None:
            age_ms = self._now_ms() - event.received_ms
            self._invoker.metrics.async_dequeued(FunctionKey(event.region, event.function), age_ms)
        try:
            invoked = await self._invoker.invoke_target(
                Target(event.function, event.qualifier, event.region, self._account_id),
                event.payload,
                request_id=event.request_id,  # retries keep the event's request id, as in Lambda
                caller_trace=tracing.parse(event.trace),
            )
        except ResourceNotFound:
            return None, None
        except TooManyRequests:
            return Outcome.THROTTLED, None
        except StratusError:
            return Outcome.SYSTEM_ERROR, None
        result = invoked.result
        return (Outcome.FUNCTION_ERROR if result.function_error else Outcome.SUCCESS), result

    def _settings(self, event: QueuedEvent) -> tuple[RetryPolicy, EventInvokeConfig | None]:
        """The event's policy: the server's, with the qualifier's EventInvokeConfig applied."""
        record = self._registry.find(FunctionKey(event.region, event.function))
        config = record.event_invoke.get(event.qualifier or LATEST) if record else None
        if config is None:
            return self.policy, None
        policy = dataclasses.replace(
            self.policy,
            max_retries=self.policy.max_retries if config.max_retries is None else config.max_retries,
            max_age_s=self.policy.max_age_s if config.max_age_s is None else config.max_age_s,
        )
        return policy, config

    async def _settle(
        self, event: QueuedEvent, outcome: Outcome | None, result: InvocationResult | None
    ) -> None:
        metrics = self._invoker.metrics
        now_ms = self._now_ms()
        age_s = (now_ms - event.received_ms) / 1000
        if outcome is None:
            if metrics is not None:
                metrics.async_dropped(FunctionKey(event.region, event.function))
            await self._on_db(self._queue.complete, event.id, self.owner)
            return
        policy, config = self._settings(event)
        decision = decide(outcome, event.attempts, event.backoffs, age_s, policy)
        if decision.action is Action.DONE:
            if config is not None and config.on_success:
                await self._deliver(config.on_success, event, "Success", decision.attempts, result)
            await self._on_db(self._queue.complete, event.id, self.owner)
        elif decision.action is Action.DROP:
            if metrics is not None:
                metrics.async_dropped(FunctionKey(event.region, event.function))
            log.info("async event %s dropped: %s", event.request_id, decision.reason)
            if config is not None and config.on_failure:
                await self._deliver(config.on_failure, event, decision.reason, decision.attempts, result)
            await self._dead_letter(event, decision.reason, result)
            await self._on_db(self._queue.complete, event.id, self.owner)
        else:
            backoffs = event.backoffs + (outcome in (Outcome.THROTTLED, Outcome.SYSTEM_ERROR))
            due = now_ms + int(decision.delay_s * 1000)
            await self._on_db(self._queue.retry, event.id, self.owner, due, decision.attempts, backoffs)

    async def _deliver(
        self,
        destination: str,
        event: QueuedEvent,
        condition: str,
        attempts: int,
        result: InvocationResult | None,
    ) -> None:
        """Send the invocation record to a destination: a function (itself asynchronously), a
        queue or a topic."""
        target = arn_function(destination)  # a function of the ARN's region
        record = invocation_record(event, condition, attempts, result, self._arn(event), self._now_ms())
        if target is None and message_target(destination) is not None:
            sent = await self._send(event, destination, json.dumps(record).encode(), {})
            if not sent and self._invoker.metrics is not None:
                self._invoker.metrics.destination_failed(FunctionKey(event.region, event.function))
            return
        if target is None or self._registry.find(target[0]) is None:
            if self._invoker.metrics is not None:
                self._invoker.metrics.destination_failed(FunctionKey(event.region, event.function))
            log.warning("destination %s of %s is gone", destination, event.function)
            return
        if self._may_send is not None and not self._may_send(event.function, destination, event.region):
            # As on AWS: the execution role needs lambda:InvokeFunction on the destination.
            if self._invoker.metrics is not None:
                self._invoker.metrics.destination_failed(FunctionKey(event.region, event.function))
            log.warning("%s's execution role may not invoke its destination %s", event.function, destination)
            return
        if event.chain + 1 >= MAX_CHAIN:
            # Lambda's recursive loop detection stops a chain after 16 invocations.
            if self._invoker.metrics is not None:
                self._invoker.metrics.recursion_stopped(FunctionKey(event.region, event.function))
            log.warning(
                "recursive loop detected: %s -> %s stopped after %d invocations",
                event.function,
                target[0].name,
                event.chain + 1,
            )
            return
        await self.accept(
            target[0].name,
            target[1],
            json.dumps(record).encode(),
            target[0].region,
            chain=event.chain + 1,
            trace=event.trace,  # a destination continues the same trace
        )

    async def _dead_letter(self, event: QueuedEvent, reason: str, result: InvocationResult | None) -> None:
        """The event, as it was, to the function's DeadLetterConfig target once its retries are
        spent, with Lambda's RequestID, ErrorCode and ErrorMessage attributes."""
        try:
            key = FunctionKey(event.region, event.function)
            target = self._registry.version(key, event.qualifier).dead_letter_arn
        except ResourceNotFound:
            return
        if not target:
            return
        status, message = _failure(reason, result)
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": event.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": str(status)},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:ERROR_MESSAGE_LIMIT] or reason},
        }
        sent = await self._send(event, target, event.payload, attributes)
        if not sent and self._invoker.metrics is not None:
            self._invoker.metrics.dead_letter_failed(FunctionKey(event.region, event.function))

    async def _send(
        self, event: QueuedEvent, target: str, body: bytes, attributes: Mapping[str, Mapping[str, str]]
    ) -> bool:
        """A message to a queue or topic on behalf of the event's function: whether it went."""
        if self._send_message is None:
            log.warning("%s of %s: queues and topics are not available", target, event.function)
            return False
        if self._may_send is not None and not self._may_send(event.function, target, event.region):
            log.warning("%s's execution role may not send to %s", event.function, target)
            return False
        try:
            await self._send_message(target, body, attributes, event.region)
        except StratusError as e:
            log.warning("%s of %s could not be sent: %s", target, event.function, e.message)
            return False
        return True

    def _arn(self, event: QueuedEvent) -> str:
        return Target(event.function, event.qualifier or LATEST, event.region, self._account_id).arn

    async def depth(self) -> int:
        """Events accepted and not yet settled (queued, leased or waiting for a retry)."""
        return await self._on_db(self._queue.depth)


def invocation_record(
    event: QueuedEvent,
    condition: str,
    attempts: int,
    result: InvocationResult | None,
    function_arn: str,
    now_ms: int,
) -> dict[str, Any]:
    """The record a destination receives, in Lambda's documented shape."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms / 1000)) + f".{now_ms % 1000:03d}Z"
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": stamp,
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": max(1, attempts),
        },
        "requestPayload": _json_or_text(event.payload),
        "responseContext": {"statusCode": 200, "executedVersion": LATEST},
    }
    if result is not None:
        record["responseContext"]["executedVersion"] = result.executed_version
        if result.function_error:
            record["responseContext"]["functionError"] = result.function_error
        record["responsePayload"] = _json_or_text(result.payload)
    return record


def _failure(reason: str, result: InvocationResult | None) -> tuple[int, str]:
    """The status code and message a dead-letter message carries: the function's own error
    (200, as Lambda's Invoke answers it, with its errorMessage), or the platform's reason for
    dropping the event (an error of Lambda's own: 500)."""
    if result is not None and result.function_error:
        body = _json_or_text(result.payload)
        message = body.get("errorMessage") if isinstance(body, dict) else None
        return 200, str(message or result.function_error)
    return 500, reason


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")
