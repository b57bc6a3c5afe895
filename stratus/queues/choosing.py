"""Which messages a receive takes (pure, over a snapshot of the queue's rows): expired ones
are dropped, those received too often go to the dead-letter queue, and of the rest a standard
queue gives the oldest visible ones, a FIFO queue whole runs of a message group in order, never
from a group that still has a message in flight (or delayed) ahead of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """A message row as a receive sees it, in send order."""

    id: int
    group_id: str | None
    visible_ms: int
    receive_count: int
    sent_ms: int


@dataclass(frozen=True)
class Plan:
    deliver: tuple[int, ...]
    to_dead_letter: tuple[int, ...]
    expired: tuple[int, ...]


def is_expired(row: Candidate, now_ms: int, retention_s: int) -> bool:
    """Past the queue's MessageRetentionPeriod, counted from the original send (a message in a
    dead-letter queue keeps its age)."""
    return now_ms - row.sent_ms >= retention_s * 1000


def redriven(row: Candidate, max_receive: int | None) -> bool:
    """Whether this receive would be one more than maxReceiveCount: SQS then moves the message
    to the dead-letter queue instead of returning it."""
    return max_receive is not None and row.receive_count + 1 > max_receive


def plan(
    rows: Sequence[Candidate],
    max_messages: int,
    now_ms: int,
    *,
    fifo: bool,
    retention_s: int,
    max_receive: int | None,
) -> Plan:
    deliver: list[int] = []
    dead: list[int] = []
    expired: list[int] = []
    live: list[Candidate] = []
    for row in rows:
        if is_expired(row, now_ms, retention_s):
            expired.append(row.id)
        else:
            live.append(row)
    if not fifo:
        for row in live:
            if len(deliver) >= max_messages:
                break
            if row.visible_ms > now_ms:
                continue
            if redriven(row, max_receive):
                dead.append(row.id)
            else:
                deliver.append(row.id)
        return Plan(tuple(deliver), tuple(dead), tuple(expired))
    # FIFO: groups in the order of their oldest message; a group with any message not visible
    # (in flight, or delayed) gives nothing, so that its order holds.
    blocked = {row.group_id for row in live if row.visible_ms > now_ms}
    groups: dict[str | None, list[Candidate]] = {}
    for row in live:
        if row.group_id not in blocked:
            groups.setdefault(row.group_id, []).append(row)
    for members in groups.values():
        for row in members:
            if len(deliver) >= max_messages:
                return Plan(tuple(deliver), tuple(dead), tuple(expired))
            if redriven(row, max_receive):
                dead.append(row.id)
            else:
                deliver.append(row.id)
    return Plan(tuple(deliver), tuple(dead), tuple(expired))


def next_visible(rows: Sequence[Candidate], now_ms: int) -> int | None:
    """When the earliest message not yet visible becomes visible: a long poll's timer."""
    later = [row.visible_ms for row in rows if row.visible_ms > now_ms]
    return min(later) if later else None
