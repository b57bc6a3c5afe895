"""An environment's output (stdout and stderr) cut into log events, within bounds.

A function can print without limit; the platform must not follow it. Three bounds apply:
- **Line size.** A line longer than CloudWatch's largest event (256 KB) is cut there, as
  Lambda's log events are, and the rest of it up to the next newline is dropped. Memory held
  for an unfinished line never exceeds that size.
- **Rate.** Each environment may log `RATE_BYTES` per second, with a burst of `BURST_BYTES`.
  Beyond that, output is read and discarded, and one line says how much was dropped, as
  Lambda's `platform.logsDropped` does. The log store and the disk stay bounded.
- **Read size.** `Sandbox` reads at most `READ_BUDGET` bytes per wake-up of the event loop,
  so a flooding function costs other functions' invokes a slice of the loop, not all of it.

`OutputCutter` is pure (bytes and a clock in, lines out); the sandbox owns one per environment.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_EVENT_BYTES = 256 * 1024 - 26  # CloudWatch's event limit, less its per-event overhead
RATE_BYTES = 4 * 1024 * 1024
BURST_BYTES = 16 * 1024 * 1024
READ_BUDGET = 256 * 1024


class OutputCutter:
    def __init__(
        self,
        clock: Callable[[], float],
        rate: float = RATE_BYTES,
        burst: float = BURST_BYTES,
        max_event: int = MAX_EVENT_BYTES,
    ) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._max_event = max_event
        self._tokens = burst
        self._refilled = clock()
        self._partial = bytearray()
        self._skipping = False  # inside an overlong line, after its first max_event bytes
        self.dropped_bytes = 0  # dropped for rate since the last note
        self._starved = False  # the budget ran out during the current read

    def feed(self, data: bytes) -> list[str]:
        """The complete lines in `data` (with what came before), bounded as above."""
        out: list[str] = []
        self._starved = False
        start = 0
        while start < len(data):
            if self._starved and not self._partial and not self._skipping:
                # Out of budget: every complete line left in this read is dropped at once, so
                # a flood costs one search per read, not a pass over each of its lines.
                last = data.rfind(b"\n", start)
                if last >= 0:
                    self.dropped_bytes += last + 1 - start
                    start = last + 1
                    continue
            newline = data.find(b"\n", start)
            end = len(data) if newline < 0 else newline
            piece = data[start:end]
            if self._skipping:
                pass  # the tail of an overlong line: dropped
            elif len(self._partial) + len(piece) > self._max_event:
                room = self._max_event - len(self._partial)
                self._partial += piece[:room]
                self._emit(out)
                self._skipping = True
            else:
                self._partial += piece
            if newline < 0:
                break
            if not self._skipping:
                self._emit(out)
            self._skipping = False
            start = newline + 1
        return out

    def flush(self) -> list[str]:
        """A note of what the rate limit dropped, if anything; called when the invocation
        ends, so the note lands in that invocation's log."""
        if not self.dropped_bytes:
            return []
        note = (
            f"[stratus] {self.dropped_bytes} bytes of log output were dropped: this environment "
            f"wrote more than {self._rate / 1048576:.0f} MB/s (burst {self._burst / 1048576:.0f} MB)"
        )
        self.dropped_bytes = 0
        return [note]

    def _emit(self, out: list[str]) -> None:
        raw = bytes(self._partial)
        self._partial.clear()
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if self._spend(len(raw) + 1):
            out.append(raw.decode("utf-8", "replace"))
        else:
            self.dropped_bytes += len(raw) + 1
            self._starved = True

    def _spend(self, size: int) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        if self._tokens < size:
            return False
        self._tokens -= size
        return True
