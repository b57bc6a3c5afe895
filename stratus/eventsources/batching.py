"""When a batch is complete (pure). A poller gathers records until the batch holds BatchSize
of them, the batching window has passed, or the next record would push the payload past
Lambda's 6 MB synchronous limit; with no window it invokes with whatever one read returned."""

from __future__ import annotations

# Lambda's synchronous payload limit, and what {"Records": [...]} adds around the records.
MAX_PAYLOAD = 6 * 1024 * 1024
ENVELOPE = 16
# One read returns at most this many (SQS's ReceiveMessage limit).
PER_READ = 10
# An idle poller long-polls this long before it looks again (SQS's maximum wait).
IDLE_WAIT_S = 20.0


def fits(batch_bytes: int, count: int, record_bytes: int) -> bool:
    """Whether one more record fits the payload limit (records are joined by commas). A batch
    always takes its first record; one too large on its own is the source's to refuse."""
    if count == 0:
        return True
    return batch_bytes + record_bytes + count + ENVELOPE <= MAX_PAYLOAD


def complete(count: int, batch_size: int, started: float, now: float, window_s: float) -> bool:
    """Whether the batch is ready to invoke with."""
    if count >= batch_size:
        return True
    return count > 0 and now >= started + window_s


def read_size(count: int, batch_size: int) -> int:
    """How many records the next read asks for."""
    return max(0, min(PER_READ, batch_size - count))


def read_wait(count: int, started: float, now: float, window_s: float) -> float:
    """How long the next read may wait: an empty batch waits for its first record as long as
    a long poll does; a started one only for what is left of the window."""
    if count == 0:
        return IDLE_WAIT_S
    return max(0.0, started + window_s - now)
