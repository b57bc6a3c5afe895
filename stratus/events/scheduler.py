"""Fires scheduled rules: each firing sends every target its event the way any rule's events
go (`EventBuses.jobs` and `Deliveries`: a function's through the durable async queue, a
queue's as a message), so a firing that was accepted is never lost. The scheduler's task also
runs the deliveries' runner of the targets' stored retries (`Deliveries.run`), in its TaskGroup.

Runs missed while the server was down are run once at start, not once per missed time: each
rule's next time is computed from its last firing, and a rule that is overdue at start fires
once, now, and then continues on its schedule from there.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stratus.events.buses import EventBuses
from stratus.events.entries import event_time
from stratus.events.rules import Rule, Rules, rule_arn
from stratus.events.schedule import next_fire, parse

log = logging.getLogger("stratus.scheduler")
POLL_S = 1.0


def scheduled_event(rule: Rule, account: str, fired: datetime) -> dict[str, Any]:
    """EventBridge's "Scheduled Event"."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": fired.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region,
        "resources": [rule_arn(rule.region, account, rule.name)],
        "detail": {},
    }


class Scheduler:
    def __init__(
        self,
        rules: Rules,
        buses: EventBuses,
        account_id: str,
        *,
        changed: asyncio.Event | None = None,
        speedup: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`changed` is the event the rules set when they change (their `on_change`)."""
        self._rules = rules
        self._buses = buses
        self._account = account_id
        self._speedup = speedup
        self._clock = clock
        self._wake = changed if changed is not None else asyncio.Event()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def due(self, rule: Rule, now: datetime) -> datetime | None:
        if not rule.schedule:
            return None
        base_ms = rule.last_fired_ms if rule.last_fired_ms is not None else rule.created_ms
        base = datetime.fromtimestamp(base_ms / 1000, UTC)
        return next_fire(parse(rule.schedule), base, self._speedup)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._buses.deliveries.run())
            await self._schedules()

    async def _schedules(self) -> None:
        await self._catch_up()
        while True:
            now = self._now()
            wait = POLL_S
            for rule in self._rules.all():
                if rule.state != "ENABLED" or not rule.targets or not rule.schedule:
                    continue
                due = self.due(rule, now)
                if due is None:
                    continue
                if due <= now:
                    await self._fire(rule, due)
                    wait = 0.0
                else:
                    wait = min(wait, (due - now).total_seconds())
            self._wake.clear()
            if wait > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass

    async def _catch_up(self) -> None:
        now = self._now()
        for rule in self._rules.all():
            if rule.state != "ENABLED" or not rule.targets or rule.last_fired_ms is None:
                continue
            due = self.due(rule, now)
            if due is not None and due <= now:
                log.info("rule %s missed its runs while stopped: running it once now", rule.name)
                await self._fire(rule, now)

    async def _fire(self, rule: Rule, due: datetime) -> None:
        event = scheduled_event(rule, self._account, due)
        now_ms = int(self._clock() * 1000)
        jobs = self._buses.jobs(rule, event, now_ms, event_time(self._now()))
        async with asyncio.TaskGroup() as tasks:
            for job in jobs:
                tasks.create_task(self._buses.deliveries.deliver(job))
        self._rules.fired(rule.key, int(due.timestamp() * 1000))
