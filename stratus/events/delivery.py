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
start as durable as its executor makes it. Retries wait in memory: a crash during a retry's
backoff loses that retry (and its dead-lettering), as an in-flight retry is lost nowhere else.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from stratus.control.arns import destination_function, message_target
from stratus.errors import StratusError
from stratus.events.rules import Target

log = logging.getLogger(__name__)

SERVICE = "events.amazonaws.com"
DEFAULT_RETRIES = 185
DEFAULT_AGE_S = 86400
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 60.0
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


def exhausted(target: Target, retries: int, age_s: float) -> str | None:
    """Which limit of the target's RetryPolicy stops further retries, or None. Pure."""
    limit = DEFAULT_RETRIES if target.max_retries is None else target.max_retries
    if retries >= limit:
        return "MaximumRetryAttempts"
    if age_s >= (DEFAULT_AGE_S if target.max_age_s is None else target.max_age_s):
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
        self._waiting: list[tuple[float, int, Job]] = []  # (due, tie-breaker, job): a heap
        self._order = itertools.count()
        self._wake = asyncio.Event()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def deliver(self, job: Job) -> None:
        """One attempt; a failure is retried later or dead-lettered, never raised."""
        try:
            await self._attempt(job)
        except Failed as e:
            await self._failed(job, e)

    async def run(self) -> None:
        """Forever: make each retry when it is due. Cancelled at shutdown."""
        while True:
            now = self._clock()
            while self._waiting and self._waiting[0][0] <= now:
                _, _, job = heapq.heappop(self._waiting)
                await self.deliver(job)
            self._wake.clear()
            wait = self._waiting[0][0] - now if self._waiting else None
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                pass

    async def retry_due(self) -> int:
        """Make every retry due now (for tests with a clock of their own); how many."""
        now, made = self._clock(), 0
        while self._waiting and self._waiting[0][0] <= now:
            _, _, job = heapq.heappop(self._waiting)
            await self.deliver(job)
            made += 1
        return made

    async def _failed(self, job: Job, error: Failed) -> None:
        condition: str | None = None
        if error.retriable:
            age = self._clock() - job.first_ms / 1000
            condition = exhausted(job.target, job.retries, age)
            if condition is None:
                due = self._clock() + backoff(job.retries, self._rand)
                heapq.heappush(self._waiting, (due, next(self._order), replace(job, retries=job.retries + 1)))
                self._wake.set()
                return
        await self._dead_letter(job, error, condition)

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
