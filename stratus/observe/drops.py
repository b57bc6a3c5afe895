"""Telemetry that could not be stored, counted instead of crashing the server.

Logs and metrics are written behind the invoke path by background writers. When the data disk
is full, a failed write must not end the writer (its task group is the server's), and keeping
the batch would only grow memory while the disk stays full; so the batch is dropped, counted
per kind (`stratus_telemetry_dropped_total{kind=...}` on /_stratus/metrics), and a warning is
logged at most once a minute. The next write that succeeds says so in the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from stratus.store.diskfull import warning_due

log = logging.getLogger("stratus.observe")
WARN_INTERVAL_S = 60.0


class Drops:
    """One writer's dropped telemetry: `kind` is "logs" (lines) or "metrics" (minute buckets).
    Called from the writer's thread; the counter is a plain int read by the scrape."""

    def __init__(self, kind: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self.total = 0
        self._clock = clock
        self._warned: float | None = None
        self._since_warning = 0
        self._failing = False

    def dropped(self, count: int, error: BaseException) -> None:
        self.total += count
        self._since_warning += count
        self._failing = True
        now = self._clock()
        if warning_due(self._warned, now, WARN_INTERVAL_S):
            log.warning(
                "%s: dropped %d item(s) that could not be stored, the data disk is full (%s); "
                "%d dropped since start",
                self.kind,
                self._since_warning,
                error,
                self.total,
            )
            self._warned = now
            self._since_warning = 0

    def stored(self) -> None:
        """A write succeeded: after drops, say once that writing resumed."""
        if self._failing:
            self._failing = False
            log.warning(
                "%s: stored again after the disk was full (%d dropped since start)", self.kind, self.total
            )


class DropsCollector(Collector):
    """The Prometheus counter of every writer's drops."""

    def __init__(self, *drops: Drops) -> None:
        self._drops = drops

    def collect(self) -> Iterator[Any]:
        family = CounterMetricFamily(
            "stratus_telemetry_dropped",
            "Telemetry items dropped because they could not be stored (a full data disk)",
            labels=["kind"],
        )
        for drops in self._drops:
            family.add_metric([drops.kind], drops.total)
        yield family
