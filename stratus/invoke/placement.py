"""Pure decisions of the invoke path: which version an alias sends to and which idle
environments to stop. (Which warm environment takes an invoke is the pool's release order.)"""

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


def select_expired(idle: Sequence[IdleView], now: float, idle_timeout: float) -> list[str]:
    return [v.sandbox_id for v in idle if now - v.idle_since >= idle_timeout]
