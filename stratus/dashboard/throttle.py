"""Back-off for the dashboard's logins: a wrong secret costs the guesser time.

A login is checked against two counts of recent failures, one for the client's address and one
for all clients together (so that guesses spread over many addresses slow down as well). Below
`free` failures an attempt is checked at once; from then on each failure doubles the wait before
the next attempt is checked at all, up to `cap_s`. While a wait runs every attempt, right or
wrong, is refused with 429 and Retry-After without looking at the secret, so that refused
attempts tell nothing and do not count. A success clears its address's count (not the global
one); a count is forgotten `forget_s` after its last failure.

The decisions (`wait_s`, `after_failure`) are pure functions over a snapshot, tested on a virtual
clock; `LoginThrottle` holds the counts, is called only from the event loop, and never awaits.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    free: int  # failures checked without any wait
    base_s: float  # the wait after the `free`-th failure; it doubles with each further one
    cap_s: float
    forget_s: float  # a count whose last failure is this old starts again from zero


@dataclass(frozen=True)
class Failures:
    count: int
    last: float  # when the latest failure was seen (the throttle's clock)


# One client: five tries, then 1 s, 2 s, 4 s ... up to five minutes.
PER_CLIENT = Backoff(free=5, base_s=1.0, cap_s=300.0, forget_s=3600.0)
# Everyone together: a wide allowance, and a short cap, since a flood from elsewhere locks out
# the owner as well for as long as this wait.
GLOBAL = Backoff(free=50, base_s=1.0, cap_s=60.0, forget_s=600.0)
# Addresses remembered at most; the oldest are dropped first (the global count still holds).
MAX_CLIENTS = 4096


def current(failures: Failures | None, now: float, policy: Backoff) -> Failures | None:
    """The count as it stands at `now`: None once forgotten."""
    if failures is None or now - failures.last >= policy.forget_s:
        return None
    return failures


def wait_s(failures: Failures | None, now: float, policy: Backoff) -> float:
    """Seconds until an attempt may be checked; 0.0 when it may be checked now."""
    failures = current(failures, now, policy)
    if failures is None or failures.count < policy.free:
        return 0.0
    doublings = min(failures.count - policy.free, 32)  # 2**32 s is past any cap
    delay = min(policy.cap_s, policy.base_s * 2.0**doublings)
    return max(0.0, failures.last + delay - now)


def after_failure(failures: Failures | None, now: float, policy: Backoff) -> Failures:
    failures = current(failures, now, policy)
    return Failures(1 if failures is None else failures.count + 1, now)


def client_key(address: str | None) -> str:
    """What a client is counted by: its IPv4 address, or its IPv6 /64 (one host usually holds a
    whole /64, so counting single IPv6 addresses would give it billions of fresh counts)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "?"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, rounded up so that a client that waits that long is let in."""
    return str(max(1, math.ceil(seconds)))


class LoginThrottle:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        per_client: Backoff = PER_CLIENT,
        everyone: Backoff = GLOBAL,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self._clock = clock
        self._per_client = per_client
        self._everyone = everyone
        self._max_clients = max_clients
        self._clients: dict[str, Failures] = {}  # insertion order is the order last failed
        self._global: Failures | None = None

    def wait_s(self, address: str | None) -> float:
        """How long this client must wait before its next attempt is checked (0.0: check it)."""
        now = self._clock()
        mine = self._clients.get(client_key(address))
        return max(wait_s(mine, now, self._per_client), wait_s(self._global, now, self._everyone))

    def failed(self, address: str | None) -> None:
        now = self._clock()
        key = client_key(address)
        updated = after_failure(self._clients.pop(key, None), now, self._per_client)
        self._clients[key] = updated
        while len(self._clients) > self._max_clients:
            del self._clients[next(iter(self._clients))]
        self._global = after_failure(self._global, now, self._everyone)

    def succeeded(self, address: str | None) -> None:
        self._clients.pop(client_key(address), None)
