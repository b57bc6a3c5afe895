"""An environment's log: its stream in the log store, its output cut into lines, and the
bounded tail of the invocation in flight.

Contract:
1. Every line goes to the environment's stream (`log_group`, `log_stream`, in the function's
   region: log groups are regional) at once, stamped
   with the wall clock; the platform's lines (START, END, REPORT, ...) are lines like any other.
2. `read_output` reads at most READ_BUDGET bytes per call: a function that floods its output
   gets a slice of the loop at a time (the reader fires again). Lines are cut as
   `observe/output.py` says.
3. A `Tail` keeps an invocation's last lines for LogType=Tail (which returns 4 KB): bounded,
   since a function may print without limit, but never fewer than its last line.
"""

from __future__ import annotations

import os
import time
from collections import deque
from datetime import UTC, datetime

from stratus.invoke.records import TAIL_BYTES
from stratus.observe import emf
from stratus.observe.custom_metrics import CustomMetrics
from stratus.observe.logstore import LogStore
from stratus.observe.output import READ_BUDGET, OutputCutter

TAIL_CHARS = 4 * TAIL_BYTES  # characters kept for the tail: enough for 4 KB of any UTF-8


class Tail:
    def __init__(self) -> None:
        self._lines: deque[str] = deque()
        self._chars = 0

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._chars += len(line) + 1
        while self._chars > TAIL_CHARS and len(self._lines) > 1:
            self._chars -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


class EnvironmentLog:
    def __init__(
        self,
        logs: LogStore,
        region: str,
        log_group: str,
        log_stream: str,
        published: CustomMetrics | None = None,
    ) -> None:
        self.region = region
        self.log_group = log_group
        self.log_stream = log_stream
        self._logs = logs
        self._published = published
        self._output = OutputCutter(time.monotonic)

    def line(self, line: str, tail: Tail | None) -> None:
        """Log one line, and keep it in the tail of the invocation in flight, if any. A line in
        CloudWatch's embedded metric format also publishes the metrics it declares, as Lambda's
        logs do on AWS (it stays a log line too)."""
        now_ms = int(time.time() * 1000)
        self._logs.append(self.region, self.log_group, self.log_stream, now_ms, line)
        if self._published is not None and emf.MARK in line:
            self._published.record(self.region, emf.datums(line, now_ms))  # the function's region
        if tail is not None:
            tail.add(line)

    def platform_lines(self, lines: list[str], tail: Tail | None) -> None:
        """Log the platform's own lines (START, END and REPORT: never embedded metrics), with one
        stamp and one append to the store for them all."""
        if lines:
            self._logs.append_lines(
                self.region, self.log_group, self.log_stream, int(time.time() * 1000), lines
            )
            if tail is not None:
                for line in lines:
                    tail.add(line)

    def read_output(self, fd: int, tail: Tail | None) -> None:
        """Log what the environment wrote to `fd`, at most READ_BUDGET bytes."""
        budget = READ_BUDGET
        while budget > 0:
            try:
                chunk = os.read(fd, min(65536, budget))
            except OSError:  # EAGAIN (nothing more for now), or the pipe is gone
                break
            if not chunk:
                break
            budget -= len(chunk)
            for line in self._output.feed(chunk):
                self.line(line, tail)

    def flush_output(self, tail: Tail | None) -> None:
        """Log a last partial line (the invocation ends: what it printed so far is its)."""
        if not self._output.dropped_bytes:
            return  # nothing to note (the usual case: no list is made)
        for line in self._output.flush():
            self.line(line, tail)


def stamp() -> str:
    """Now, as the runtime stamps its own log lines (UTC, milliseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
