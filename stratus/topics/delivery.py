"""Making the deliveries a publish planned (fanout.py): a function's event into the durable
async queue, a queue's message through `send_to_queue`, an endpoint's POST from the durable
outbox with the delivery policy's retries and backoff. A delivery that cannot be made (SNS may
not invoke the function, the queue is gone, the endpoint's retries ran out) goes to the
subscription's dead-letter queue (redrive.py), else is dropped with a warning, as SNS drops it.

The Topics owner holds one `Deliverer`; its SQL runs on the owner's worker thread (`sql`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp

from stratus.control.arns import arn_function
from stratus.topics import guard, messages, outbox, redrive
from stratus.topics.fanout import ToFunction, ToQueue
from stratus.topics.model import Subscription

log = logging.getLogger("stratus.topics")
T = TypeVar("T")

InvokeAsync = Callable[[str, str | None, bytes, str], Awaitable[str]]
SendToQueue = Callable[..., Awaitable[object]]
Sql = Callable[[Callable[[sqlite3.Connection], T]], Awaitable[T]]
LEASE_MS = 60_000
HTTP_TIMEOUT_S = 15
# HTTP deliveries in flight at once: each holds its message (up to 256 KiB) until its POST
# ends, so the outbox is claimed only as fast as they end, however much of it is due (a tenant
# may publish many large messages to an endpoint that never answers).
MAX_IN_FLIGHT = 64


class Deliverer:
    def __init__(
        self,
        sql: Sql[Any],
        subscription: Callable[[str], Subscription | None],
        *,
        invoke_async: InvokeAsync,
        send_to_queue: SendToQueue | None,
        may_invoke: Callable[[str, str, str], bool],
        clock: Callable[[], float],
        may_send: Callable[[str, str], bool] = lambda queue_arn, topic_arn: True,
        allow_loopback: bool = False,
    ) -> None:
        self._sql = sql
        self._allow_loopback = allow_loopback  # STRATUS_SNS_ALLOW_LOOPBACK (endpoints.py)
        self._subscription = subscription
        self._invoke_async = invoke_async
        self._send_to_queue = send_to_queue
        self._may_invoke = may_invoke
        # Whether a queue's access policy lets SNS send to it for a topic (queue ARN, topic ARN):
        # else whoever may subscribe could inject into any queue.
        self._may_send = may_send
        self._clock = clock
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self.in_flight = 0  # HTTP deliveries claimed and not yet ended

    async def to_function(
        self, d: ToFunction, topic_arn: str, region: str, group_id: str | None, dedup_id: str | None
    ) -> None:
        target = arn_function(d.sub.endpoint)  # the function of the endpoint ARN's region
        if target is None or not self._may_invoke(d.sub.endpoint, topic_arn, region):
            # A client-side error: not retried; the dead-letter queue gets the message.
            await self.dead_letter(
                d.sub.arn, d.dead_letter, {}, group_id, dedup_id, *redrive.FUNCTION_REFUSED
            )
            return
        await self._invoke_async(target[0].name, target[1], d.payload, target[0].region)

    async def to_queue(self, d: ToQueue, group_id: str | None, dedup_id: str | None) -> None:
        if self._send_to_queue is None:
            log.warning("no queues: delivery to %s dropped", d.sub.endpoint)
            return
        if not self._may_send(d.sub.endpoint, d.sub.topic_arn):
            # SQS refuses SNS (a client-side error): not retried; the dead-letter queue gets it.
            refused = redrive.QUEUE_REFUSED
            await self.dead_letter(d.sub.arn, d.body, d.attributes, group_id, dedup_id, *refused)
            return
        try:
            await self._send_to_queue(
                d.sub.endpoint,
                d.body,
                message_attributes=d.attributes or None,
                group_id=d.group_id,
                dedup_id=d.dedup_id,
            )
        except Exception as e:
            if not getattr(e, "sender_fault", False):
                raise
            # The queue is gone or refuses the message: a client-side error, not retried.
            code, text = (
                redrive.QUEUE_GONE
                if getattr(e, "code", "") == "QueueDoesNotExist"
                else (str(getattr(e, "code", type(e).__name__)), str(e))
            )
            await self.dead_letter(d.sub.arn, d.body, d.attributes, group_id, dedup_id, code, text)

    async def dead_letter(
        self,
        sub_arn: str,
        body: str,
        carried: Mapping[str, Mapping[str, Any]],
        group_id: str | None,
        dedup_id: str | None,
        code: str,
        text: str,
    ) -> None:
        """Send an undeliverable message to the subscription's dead-letter queue, if any."""
        sub = self._subscription(sub_arn)
        target = redrive.target(sub.attributes) if sub is not None else None
        if target is None or self._send_to_queue is None:
            log.warning(
                "SNS delivery for %s failed (%s: %s); no dead-letter queue: dropped", sub_arn, code, text
            )
            return
        if sub is not None and not self._may_send(target, sub.topic_arn):
            log.warning(
                "SNS may not send to %s, the dead-letter queue of %s (its access policy does not allow "
                "sns.amazonaws.com sqs:SendMessage for the topic): dropped",
                target,
                sub_arn,
            )
            return
        fifo = target.endswith(".fifo")
        try:
            await self._send_to_queue(
                target,
                body,
                message_attributes=redrive.attributes(str(uuid.uuid4()), code, text, carried),
                group_id=(group_id or "sns-dead-letter") if fifo else None,
                dedup_id=dedup_id if fifo else None,
            )
        except Exception as e:
            if not getattr(e, "sender_fault", False):
                raise
            log.warning(
                "SNS could not move a message for %s to its dead-letter queue %s: %s", sub_arn, target, e
            )

    # -- the outbox of HTTP deliveries --

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Make HTTP deliveries from the outbox until cancelled: each claimed one is POSTed;
        success or a final failure deletes it, else it is due again after its backoff."""
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        # Every name is resolved afresh for each delivery (no DNS cache) and checked by the
        # resolver that gives the address connected to; no proxies from the environment.
        connector = aiohttp.TCPConnector(
            resolver=guard.GuardedResolver(self._allow_loopback), use_dns_cache=False
        )
        async with (
            aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False) as session,
            asyncio.TaskGroup() as tasks,
        ):
            while True:
                self._wake.clear()
                free = MAX_IN_FLIGHT - self.in_flight
                if free <= 0:
                    await self._wake.wait()  # set as each delivery ends
                    continue
                now_ms = int(self._clock() * 1000)
                claimed: list[outbox.Leased] = await self._sql(
                    functools.partial(
                        outbox.claim,
                        owner=self._owner,
                        now_ms=now_ms,
                        lease_ms=LEASE_MS,
                        limit=min(32, free),
                    )
                )
                for leased in claimed:
                    self.in_flight += 1
                    tasks.create_task(self._post_counted(session, leased))
                if claimed:
                    continue
                due: int | None = await self._sql(outbox.next_due)
                wait = 3600.0 if due is None else max(0.0, (due - int(self._clock() * 1000)) / 1000)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, wait))

    async def _post_counted(self, session: aiohttp.ClientSession, leased: outbox.Leased) -> None:
        try:
            await self._post(session, leased)
        finally:
            self.in_flight -= 1
            self._wake.set()

    async def _post(self, session: aiohttp.ClientSession, leased: outbox.Leased) -> None:
        d = leased.delivery
        failure: tuple[str, str] | None = None
        try:
            guard.check_literal(d.url, self._allow_loopback)
            # A redirect is not followed: it could point anywhere, past the checks.
            async with session.post(
                d.url, data=d.body.encode(), headers=d.headers, allow_redirects=False
            ) as reply:
                # The body is not read: an endpoint's answer could be any size (the connection
                # is closed rather than kept when it has one).
                if not 200 <= reply.status < 300:
                    failure = (
                        str(reply.status),
                        f"The endpoint answered HTTP {reply.status} {reply.reason or ''}".strip(),
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            failure = (type(e).__name__, f"The endpoint could not be reached: {e}")
        if failure is not None:
            log.info("SNS delivery to %s failed: %s", d.url, failure[1])
        attempts = leased.attempts + 1
        if failure is None or attempts >= d.max_attempts:
            if failure is not None and d.headers.get("x-amz-sns-message-type") == "Notification":
                log.warning("SNS delivery to %s given up after %d attempts", d.url, attempts)
                carried = messages.from_event_attributes(d.attributes)
                try:
                    await self.dead_letter(d.subscription_arn, d.body, carried, None, None, *failure)
                except Exception as e:  # the store failed (a full disk): kept, tried again later
                    log.warning("SNS could not dead-letter a delivery to %s, kept: %s", d.url, e)
                    due = int(self._clock() * 1000) + d.max_delay_ms
                    await self._sql(lambda c: outbox.retry(c, leased.id, self._owner, leased.attempts, due))
                    return
            await self._sql(lambda c: outbox.done(c, leased.id, self._owner))
        else:
            due = int(self._clock() * 1000) + outbox.backoff_ms(attempts, d.min_delay_ms, d.max_delay_ms)
            await self._sql(lambda c: outbox.retry(c, leased.id, self._owner, attempts, due))
        self._wake.set()
