"""Fires scheduled rules: each firing sends every target its event through the durable async
queue, so a firing that was accepted is never lost.

Runs missed while the server was down are run once at start, not once per missed time: each
rule's next time is computed from its last firing, and a rule that is overdue at start fires
once, now, and then continues on its schedule from there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stratus.control.arns import destination_function
from stratus.events.rules import Rule, Rules, Target
from stratus.events.schedule import next_fire, parse
from stratus.invoke.async_queue import AsyncInvoker

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


def rule_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:rule/{name}"


def target_payload(target: Target, event: dict[str, Any]) -> bytes:
    """A target's `Input` replaces the event; `InputPath` selects part of it ($ or $.a.b)."""
    if target.input is not None:
        return target.input.encode()
    if target.input_path:
        value: Any = event
        for key in target.input_path.removeprefix("$").strip(".").split("."):
            if key:
                value = value.get(key) if isinstance(value, dict) else None
        return json.dumps(value).encode()
    return json.dumps(event).encode()


# (function name, function ARN as the target names it, the rule's ARN, region) -> allowed.
MayInvoke = Callable[[str, str, str, str], bool]


class Scheduler:
    def __init__(
        self,
        rules: Rules,
        async_invoker: AsyncInvoker,
        account_id: str,
        *,
        changed: asyncio.Event | None = None,
        speedup: float = 1.0,
        clock: Callable[[], float] = time.time,
        may_invoke: MayInvoke | None = None,
    ) -> None:
        """`changed` is the event the rules set when they change (their `on_change`);
        `may_invoke` whether EventBridge may invoke a function for a rule (its resource policy;
        None: always)."""
        self._may_invoke = may_invoke
        self._rules = rules
        self._async = async_invoker
        self._account = account_id
        self._speedup = speedup
        self._clock = clock
        self._wake = changed if changed is not None else asyncio.Event()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def due(self, rule: Rule, now: datetime) -> datetime | None:
        base_ms = rule.last_fired_ms if rule.last_fired_ms is not None else rule.created_ms
        base = datetime.fromtimestamp(base_ms / 1000, UTC)
        return next_fire(parse(rule.schedule), base, self._speedup)

    async def run(self) -> None:
        await self._catch_up()
        while True:
            now = self._now()
            wait = POLL_S
            for rule in self._rules.all():
                if rule.state != "ENABLED" or not rule.targets:
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
        for target in rule.targets:
            function = destination_function(target.arn)
            if function is None:
                continue
            source = rule_arn(rule.region, self._account, rule.name)
            if self._may_invoke is not None and not self._may_invoke(
                function[0], target.arn, source, rule.region
            ):
                # As EventBridge's invocation fails on AWS (a FailedInvocations datapoint there).
                log.warning(
                    "rule %s may not invoke %s: its resource policy does not allow events.amazonaws.com",
                    rule.name,
                    target.arn,
                )
                continue
            try:
                await self._async.accept(function[0], function[1], target_payload(target, event), rule.region)
            except Exception:
                log.exception("rule %s could not send to %s", rule.name, target.arn)
        self._rules.fired(rule.name, int(due.timestamp() * 1000))
