"""One shard's open tumbling window while a stream runner delivers it: the window, the state
the function returned last, whether the function has seen the window, and whether the state
outgrew Lambda's limit. The stream runner owns one per shard (on its one windowed lane) and
asks it how to wrap an event and how to read an answer; the decisions are `windows`' (pure).

The state lives in memory only. The shard's durable checkpoint is held at the window's first
record until the window's final invocation succeeds, so after a crash the open window is read
again from its first record with a fresh state: every record still reaches the function at
least once, and the final invocation's state covers the whole window (some records may have
been aggregated twice before the crash, in state the function never saw finished).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus.eventsources import windows
from stratus.eventsources.retrying import Outcome
from stratus.eventsources.windows import Window


class Session:
    def __init__(self, window: Window, shard: str, source_arn: str) -> None:
        self.window = window
        self._shard = shard
        self._source_arn = source_arn
        self.state: dict[str, Any] = {}
        self.invoked = False  # a batch of this window reached the function and was answered
        self.early = False  # the state outgrew 1 MB: the window ends early after this batch

    def wrap(self, payload: Mapping[str, Any], *, final: bool = False) -> dict[str, Any]:
        """The event for a batch of this window (final: its closing invocation, no records)."""
        state = windows.final_state(self.state) if final else self.state
        return windows.event(
            payload,
            self.window,
            state,
            self._shard,
            self._source_arn,
            final=final,
            early=final and self.early,
        )

    def judge(self, outcome: Outcome) -> Outcome:
        """An answer without a state is a failed invocation, as on Lambda."""
        if outcome.kind == "ok" and windows.answered_state(outcome.payload) is None:
            return Outcome("error", outcome.payload)
        return outcome

    def accept(self, payload: bytes) -> None:
        """Keeps the state of an answer that moved the shard on (a success, or a partial batch
        response: the records before the failure are in it, so the retry carries it on)."""
        state = windows.answered_state(payload)
        if state is None:
            return
        self.state = state
        self.invoked = True
        self.early = windows.too_big(state)

    def restart(self) -> None:
        """After an early end: the same window goes on with a fresh state."""
        self.state = {}
        self.invoked = False
        self.early = False
