"""How many batches a queue mapping processes at once (pure), as Lambda scales SQS pollers:
five concurrent batches to start; while batches keep coming full (the queue has a backlog), up
to 300 more per minute; back towards five when traffic is low, and down to two when no
MaximumConcurrency is set; never past MaximumConcurrency (2-1000, else 1,000) nor the
function's reserved concurrency or the account's limit. Throttles take concurrency back."""

from __future__ import annotations

from dataclasses import dataclass

START = 5
LOW = 2  # the fewest, without MaximumConcurrency
MOST = 1000
PER_MINUTE = 300


@dataclass(frozen=True)
class Recent:
    """What the mapping's batches did since the last decision."""

    full: int = 0  # batches that came full (BatchSize reached, or the payload limit)
    partial: int = 0  # batches with fewer records
    empty: int = 0  # reads that waited and found nothing
    throttled: int = 0  # invokes refused for concurrency
    backlog: int = 0  # records waiting in the source


def ceiling(max_concurrency: int | None, function_limit: int | None) -> int:
    cap = max_concurrency if max_concurrency is not None else MOST
    if function_limit is not None:
        cap = min(cap, function_limit)
    return max(1, cap)


def floor(max_concurrency: int | None, cap: int) -> int:
    return min(cap, START if max_concurrency is not None else LOW)


def initial(max_concurrency: int | None, function_limit: int | None) -> int:
    return min(START, ceiling(max_concurrency, function_limit))


def target(
    current: int,
    recent: Recent,
    interval_s: float,
    max_concurrency: int | None,
    function_limit: int | None,
) -> int:
    """The number of pollers to run for the next interval."""
    cap = ceiling(max_concurrency, function_limit)
    low = floor(max_concurrency, cap)
    if recent.throttled:
        # The function cannot take more: give back a quarter, at least one.
        return max(low, min(cap, current - max(1, current // 4)))
    if recent.full and (recent.backlog > 0 or not recent.empty):
        step = max(1, int(PER_MINUTE * interval_s / 60))
        wanted = current + step
        if recent.backlog > 0:
            # No point in more pollers than there are batches waiting.
            wanted = min(wanted, current + recent.backlog)
        return max(low, min(cap, wanted))
    if recent.empty and not recent.full:
        quiet = START if current > START else low
        return max(low, min(cap, max(quiet, current - max(1, current // 2))))
    return max(low, min(cap, current))
