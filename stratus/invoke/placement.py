"""Pure decisions of the invoke path: which version an alias sends to, which warm environment
takes an invoke, and which idle environments to stop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class IdleView:
    sandbox_id: str
    idle_since: float  # monotonic seconds


def pick_version(primary: str, weights: dict[str, float], draw: float) -> str:
    """Weighted alias routing. `draw` is uniform in [0, 1)."""
    acc = 0.0
    for version, weight in sorted(weights.items()):
        acc += weight
        if draw < acc:
            return version
    return primary


def choose_idle(idle: Sequence[IdleView]) -> str | None:
    """The most recently used idle environment: it is the warmest, and preferring it lets the
    others age out and be reaped when load falls."""
    if not idle:
        return None
    return max(idle, key=lambda v: v.idle_since).sandbox_id


def select_expired(idle: Sequence[IdleView], now: float, idle_timeout: float) -> list[str]:
    return [v.sandbox_id for v in idle if now - v.idle_since >= idle_timeout]
