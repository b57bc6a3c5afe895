"""Delivering a rule's event to its targets: a function (the durable asynchronous invoke queue,
as any Event invoke), a queue or a topic (`MessageTargets`), a state machine (an injected
`start_execution`). Failures are sorted as EventBridge sorts them: a target that does not
exist or may not be reached (NO_RESOURCE, NO_PERMISSIONS, INVALID_PARAMETER) goes to the
target's dead-letter queue at once; anything else is retried with exponential backoff and
jitter until the target's RetryPolicy (MaximumRetryAttempts, MaximumEventAgeInSeconds) is
spent, and then goes to the dead-letter queue. The dead-letter message is the event, with the
message attributes EventBridge gives it: RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
EXHAUSTED_RETRY_CONDITION (when retries ran out) and RETRY_ATTEMPTS.

What is durable: the first attempt is made before PutEvents answers, so an event a function or
a queue accepted is on disk when the caller hears of it (the async queue's and SQS's own
writes); a topic's publication is as durable as the topic's (its outbox); a state machine's
start as durable as its executor makes it. A retry that waits is a row in the metadata store
(`Pending`, `retries.py`), written before the put returns: the rule's ARN, the target as it
was configured, the event, the attempts made, the first attempt's time and the next due time.
The runner (`run`, a task of the scheduler's TaskGroup) leases due rows, makes the attempt and
deletes the row when it was delivered or dead-lettered, or writes the next due time. After a
crash the retries resume at their due times with their counts, MaximumEventAgeInSeconds still
counting from the first attempt; a retry that was being made when the server died is made
again (at least once, as EventBridge promises). Only when the store refuses the row (a full
data disk) does a retry wait in memory, until the runner can store it.

The decisions are pure (`next_step`, `exhausted`, `expired`, `backoff`): which failures are
retried, how long to wait, when to give up.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from stratus.control.arns import destination_function, message_target
from stratus.errors import DiskFull, StratusError
from stratus.events.rules import Target

log = logging.getLogger(__name__)

SERVICE = "events.amazonaws.com"
DEFAULT_RETRIES = 185
DEFAULT_AGE_S = 86400
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 60.0
LEASE_MS = 300_000  # a claimed retry's lease: far longer than any attempt takes
BATCH = 64  # retries claimed (and made concurrently) at once
UNSAVED_POLL_S = 5.0  # how often retries held in memory try the store again
STATE_MACHINE = re.compile(
    r"^arn:aws[a-zA-Z-]*:states:([a-z0-9-]+):(\d{12}):stateMachine:[A-Za-z0-9_.-]{1,80}$"
)

# AsyncInvoker.accept: (function, qualifier, payload, region) -> request id.
Accept = Callable[[str, str | None, bytes, str], Awaitable[str]]
# MessageTargets.send: (arn, body, attributes, region) -> None.
SendMessage = Callable[[str, bytes, Mapping[str, Mapping[str, str]], str], Awaitable[None]]
# (function name, function ARN, rule ARN, region) -> whether its resource policy allows EventBridge.
MayInvoke = Callable[[str, str, str, str], bool]
# (queue or topic ARN, rule ARN) -> whether its access policy lets EventBridge send.
MaySend = Callable[[str, str], bool]
# (state machine ARN, input JSON, region).
StartExecution = Callable[[str, str, str], Awaitable[None]]
# (role ARN, action, resource, region) -> whether the role allows it.
RoleMay = Callable[[str, str, str, str], bool]


def target_kind(arn: str) -> str | None:
    """The kind of target an ARN names: "lambda", "sqs", "sns" or "states"; None when unreachable."""
    if destination_function(arn) is not None:
        return "lambda"
    kind = message_target(arn)
    if kind is not None:
        return kind[0]
    if STATE_MACHINE.match(arn):
        return "states"
    return None


class Failed(Exception):
    def __init__(self, code: str, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retriable = retriable


@dataclass(frozen=True)
class Job:
    """One event for one target of one rule."""

    rule_arn: str
    target: Target
    event: Mapping[str, Any]
    payload: bytes
    first_ms: int  # when EventBridge took the event
    retries: int = 0  # retries made so far


@dataclass(frozen=True)
class Waiting:
    """A stored retry, as the runner claims it: `job.retries` is the retry's number (the
    attempts made before it), and the last failure is kept for a dead-letter message."""

    id: str
    job: Job
    due_ms: int
    error_code: str
    error_message: str


class Pending(Protocol):
    """Where retries wait (`retries.RetryRows`, in the metadata store)."""

    def add(self, job: Job, due_ms: int, code: str, message: str) -> str: ...
    def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[Waiting]: ...
    def done(self, ident: str) -> bool: ...
    def reschedule(self, ident: str, attempts: int, due_ms: int, code: str, message: str) -> bool: ...
    def release_dead_owners(self) -> int: ...
    def next_due_ms(self, now_ms: int) -> int | None: ...


@dataclass(frozen=True)
class Step:
    """What follows a failed attempt: a retry in `retry_in_s` seconds, or the dead-letter queue
    (`condition`: the RetryPolicy limit that was reached, None for a failure never retried)."""

    retry_in_s: float | None
    condition: str | None = None

    def due_ms(self, now: float) -> int:
        assert self.retry_in_s is not None
        return int((now + self.retry_in_s) * 1000)


def next_step(job: Job, error: Failed, now: float, rand: random.Random) -> Step:
    """After `job`'s attempt failed with `error` at `now`: retry when, or give up. Pure."""
    if not error.retriable:
        return Step(None)
    condition = exhausted(job.target, job.retries, now - job.first_ms / 1000)
    if condition is not None:
        return Step(None, condition)
    return Step(backoff(job.retries, rand))


def expired(target: Target, age_s: float) -> bool:
    """Whether an event is too old for its next retry to be made at all. Pure."""
    return age_s >= (DEFAULT_AGE_S if target.max_age_s is None else target.max_age_s)


def exhausted(target: Target, retries: int, age_s: float) -> str | None:
    """Which limit of the target's RetryPolicy stops further retries, or None. Pure."""
    limit = DEFAULT_RETRIES if target.max_retries is None else target.max_retries
    if retries >= limit:
        return "MaximumRetryAttempts"
    if expired(target, age_s):
        return "MaximumEventAgeInSeconds"
    return None


def backoff(retries: int, rand: random.Random) -> float:
    """Exponential backoff with full jitter. Pure (the randomness is passed in)."""
    return rand.uniform(0, min(MAX_DELAY_S, FIRST_DELAY_S * 2**retries))


def dead_letter_attributes(
    job: Job, code: str, message: str, condition: str | None
) -> dict[str, dict[str, str]]:
    values = {
        "RULE_ARN": job.rule_arn,
        "TARGET_ARN": job.target.arn,
        "ERROR_CODE": code,
        "ERROR_MESSAGE": message[:1000] or code,
        "RETRY_ATTEMPTS": str(job.retries),
    }
    if condition is not None:
        values["EXHAUSTED_RETRY_CONDITION"] = condition
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


class Deliveries:
    def __init__(
        self,
        *,
        pending: Pending,
        accept: Accept,
        send_message: SendMessage,
        function_exists: Callable[[str], bool],
        may_invoke: MayInvoke,
        may_send: MaySend,
        message_target_exists: Callable[[str], bool],
        start_execution: StartExecution | None = None,
        role_may: RoleMay | None = None,
        clock: Callable[[], float] = time.time,
        rand: random.Random | None = None,
    ) -> None:
        self._pending = pending
        self._accept = accept
        self._send = send_message
        self._function_exists = function_exists
        self._may_invoke = may_invoke
        self._may_send = may_send
        self._message_target_exists = message_target_exists
        self.start_execution = start_execution  # bound by app.py once the executor exists
        self._role_may = role_may
        self._clock = clock
        self._rand = rand or random.Random()
        # Retries the store refused (a full disk): stored by the runner once it can, meanwhile
        # held here, so that they wait rather than vanish.
        self._unsaved: list[tuple[Job, int, str, str]] = []
        self._wake = asyncio.Event()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    @property
    def unsaved(self) -> int:
        return len(self._unsaved)

    async def deliver(self, job: Job) -> None:
        """The first attempt; a failure is stored as a retry or dead-lettered, never raised."""
        try:
            await self._attempt(job)
        except Failed as e:
            step = next_step(job, e, self._clock(), self._rand)
            if step.retry_in_s is None:
                await self._dead_letter(job, e, step.condition)
                return
            self._store(replace(job, retries=job.retries + 1), step.due_ms(self._clock()), e)
            self._log_retry(job, e, step.retry_in_s)

    def _store(self, job: Job, due_ms: int, error: Failed) -> None:
        """The retry is a row before the failed attempt is reported as one (the put returns)."""
        try:
            self._pending.add(job, due_ms, error.code, error.message)
        except DiskFull:
            log.warning(
                "rule %s: the retry to %s waits in memory until the disk has space",
                job.rule_arn,
                job.target.arn,
            )
            self._unsaved.append((job, due_ms, error.code, error.message))
        self._wake.set()

    async def run(self) -> None:
        """Forever: make each stored retry when it is due. Cancelled at shutdown: retries being
        made keep their lease (freed at the next start) and are made again."""
        try:
            freed = self._pending.release_dead_owners()
        except DiskFull:  # a full disk must not stop the server starting: the leases lapse
            log.warning("EventBridge retries of an earlier server wait for their leases to lapse")
            freed = 0
        if freed:
            log.info("EventBridge retries of an earlier server to be made again: %d", freed)
        while True:
            try:
                await self.retry_due()
            except DiskFull:
                # A lease is a write: due retries wait in the store until space returns.
                log.warning("EventBridge retries wait: the data disk is full")
                await asyncio.sleep(UNSAVED_POLL_S)
                continue
            self._wake.clear()
            now_ms = self._now_ms()
            due = self._pending.next_due_ms(now_ms)
            wait = None if due is None else max(0.0, (due - now_ms) / 1000)
            if self._unsaved:
                wait = UNSAVED_POLL_S if wait is None else min(wait, UNSAVED_POLL_S)
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass

    async def retry_due(self) -> int:
        """Make every retry that is due now, a batch at a time; how many were claimed."""
        self._store_unsaved()
        made = 0
        while True:
            claimed = self._pending.claim(self._now_ms(), LEASE_MS, BATCH)
            if not claimed:
                return made
            made += len(claimed)
            async with asyncio.TaskGroup() as tasks:
                for waiting in claimed:
                    tasks.create_task(self._retry(waiting))

    def _store_unsaved(self) -> None:
        unsaved, self._unsaved = self._unsaved, []
        for i, (job, due_ms, code, message) in enumerate(unsaved):
            try:
                self._pending.add(job, due_ms, code, message)
            except DiskFull:
                self._unsaved = unsaved[i:]
                return

    async def _retry(self, waiting: Waiting) -> None:
        job, ident = waiting.job, waiting.id
        if expired(job.target, self._clock() - job.first_ms / 1000):
            # Too old to be tried again (the server was down past the event's age): dead-
            # lettered with the last failure and the retries that were made.
            error = Failed(waiting.error_code, waiting.error_message, retriable=True)
            await self._dead_letter(replace(job, retries=job.retries - 1), error, "MaximumEventAgeInSeconds")
            self._settle(ident, functools.partial(self._pending.done, ident))
            return
        try:
            await self._attempt(job)
        except Failed as e:
            step = next_step(job, e, self._clock(), self._rand)
            if step.retry_in_s is None:
                await self._dead_letter(job, e, step.condition)
                self._settle(ident, functools.partial(self._pending.done, ident))
                return
            due_ms = step.due_ms(self._clock())
            attempts = job.retries + 1
            self._settle(
                ident, functools.partial(self._pending.reschedule, ident, attempts, due_ms, e.code, e.message)
            )
            self._log_retry(job, e, step.retry_in_s)
            return
        self._settle(ident, functools.partial(self._pending.done, ident))

    @staticmethod
    def _settle(ident: str, write: Callable[[], bool]) -> None:
        """The row's outcome; when the store refuses it (a full disk), the row keeps its lease
        and is made again once that lapses (at least once)."""
        try:
            if not write():
                log.warning("EventBridge retry %s: its lease had passed to another runner", ident)
        except DiskFull:
            log.warning("EventBridge retry %s: its outcome was not stored; it will be made again", ident)

    @staticmethod
    def _log_retry(job: Job, error: Failed, delay_s: float) -> None:
        # One line per failed attempt, numbered from 1, written once the retry is stored: what
        # an operator (and the crash test) reads to follow a target's retries.
        log.warning(
            "rule %s: attempt %d to deliver to %s failed (%s: %s); retrying in %.1f s",
            job.rule_arn,
            job.retries + 1,
            job.target.arn,
            error.code,
            error.message,
            delay_s,
        )

    async def _dead_letter(self, job: Job, error: Failed, condition: str | None) -> None:
        dlq = job.target.dead_letter_arn
        log.warning(
            "rule %s could not deliver to %s (%s: %s)%s",
            job.rule_arn,
            job.target.arn,
            error.code,
            error.message,
            f"; sent to {dlq}" if dlq else "; dropped (no dead-letter queue)",
        )
        if not dlq:
            return
        if not self._message_target_exists(dlq) or not self._may_send(dlq, job.rule_arn):
            log.error("rule %s: dead-letter queue %s is gone or refuses EventBridge", job.rule_arn, dlq)
            return
        body = json.dumps(job.event).encode()
        attributes = dead_letter_attributes(job, error.code, error.message, condition)
        region = dlq.split(":")[3]
        try:
            await self._send(dlq, body, attributes, region)
        except Exception:
            log.exception("rule %s: sending to dead-letter queue %s failed", job.rule_arn, dlq)

    async def _attempt(self, job: Job) -> None:
        arn = job.target.arn
        region = arn.split(":")[3] if arn.count(":") >= 5 else ""
        kind = target_kind(arn)
        if kind == "lambda":
            function = destination_function(arn)
            assert function is not None
            if not self._function_exists(arn):
                raise Failed("NO_RESOURCE", f"Function not found: {arn}", retriable=False)
            if not self._may_invoke(function[0], arn, job.rule_arn, region):
                raise Failed(
                    "NO_PERMISSIONS",
                    f"Lambda function {arn} does not allow {SERVICE} to invoke it for {job.rule_arn}",
                    retriable=False,
                )
            await self._call(self._accept(function[0], function[1], job.payload, region))
        elif kind in ("sqs", "sns"):
            if not self._message_target_exists(arn):
                raise Failed("NO_RESOURCE", f"{arn} does not exist", retriable=False)
            if not self._may_send(arn, job.rule_arn):
                action = "sqs:SendMessage" if kind == "sqs" else "sns:Publish"
                raise Failed(
                    "NO_PERMISSIONS", f"{arn}'s policy does not allow {SERVICE} to {action}", retriable=False
                )
            await self._call(self._send(arn, job.payload, {}, region))
        elif kind == "states":
            if self.start_execution is None:
                raise Failed("NO_RESOURCE", f"State machine {arn} cannot be reached here", retriable=False)
            role = job.target.role_arn or ""
            if self._role_may is not None and not self._role_may(role, "states:StartExecution", arn, region):
                raise Failed(
                    "NO_PERMISSIONS",
                    f"Role {role or '(none)'} does not allow states:StartExecution on {arn}",
                    retriable=False,
                )
            await self._call(self.start_execution(arn, job.payload.decode("utf-8", "replace"), region))
        else:
            raise Failed("INVALID_PARAMETER", f"{arn} is not a target this server can reach", retriable=False)

    @staticmethod
    async def _call(call: Awaitable[Any]) -> None:
        try:
            await call
        except StratusError as e:
            if e.sender_fault:
                not_found = e.status == 404 or "NotFound" in e.code or "DoesNotExist" in e.code
                raise Failed(
                    "NO_RESOURCE" if not_found else "INVALID_PARAMETER", e.message, retriable=False
                ) from e
            raise Failed("INTERNAL_ERROR", e.message, retriable=True) from e
        except (OSError, RuntimeError) as e:
            raise Failed("INTERNAL_ERROR", str(e), retriable=True) from e
