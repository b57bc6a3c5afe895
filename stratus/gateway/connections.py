"""Slow clients: the deadlines of client connections and the cap on how many are open.

A client that connects and then sends its request a byte at a time (or not at all), uploads a
body it never finishes, or never reads its answer holds a descriptor for as long as the server
lets it. Unbounded, a few thousand such connections used every descriptor the process had and
new clients were reset before anything could be served. So:

- every connection is in one phase (`Phase`) and each phase has a deadline (`verdict`): the
  headers must be complete within the header timeout of the connection or of the request's
  first byte (bytes dribbled in do not extend it); a body must make progress within the body
  timeout; a keep-alive connection may stay idle for the idle timeout; an answer the client
  does not read (writing paused) may stall for the body timeout;
- at most `max_connections` are open. When a new one would pass the cap, the connections that
  have waited on their client the longest (idle ones, half-open ones, stalled uploads) are
  closed down to seven eighths of it, so the listening socket keeps accepting and a
  well-behaved client that sends its request at once is served. A connection whose answer is
  being computed is never chosen: its client is waiting on us.

The decisions are pure functions over snapshots; `Connections` owns the set of open
connections and one sweeper task applies the deadlines.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import resource
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from stratus.config import Config

# What a server needs besides client connections: stores, logs, listeners, zygotes, pipes.
RESERVED_FDS = 256
# What one environment costs the server: its output pipes, private channel, pidfd, Runtime API
# listener and its connections, and cgroup files opened while it starts.
FDS_PER_ENVIRONMENT = 8
# Beyond this many, memory rather than descriptors is what runs out (a few kB per connection).
MAX_DEFAULT_CONNECTIONS = 65536
MIN_CONNECTIONS = 64
# Once the cap is passed, connections are closed down to this fraction of it, so that an
# attack arriving one connection at a time is not answered by a scan of all of them each time.
LOW_WATER = 7 / 8


class Phase(enum.Enum):
    FRESH = "fresh"  # connected, nothing received yet
    HEADERS = "headers"  # a request's line and headers are arriving
    BODY = "body"  # its body is arriving
    BUSY = "busy"  # every request received; answers are being computed or written
    IDLE = "idle"  # keep-alive, between requests


class Verdict(enum.Enum):
    HEADER_TIMEOUT = "header timeout"
    BODY_TIMEOUT = "body timeout"
    IDLE_TIMEOUT = "idle timeout"
    SEND_STALLED = "client not reading"


@dataclass(frozen=True)
class Limits:
    header_timeout: float
    idle_timeout: float
    body_timeout: float
    max_connections: int

    @property
    def sweep_interval(self) -> float:
        """Deadlines are checked this often: late by at most a quarter of the shortest one."""
        shortest = min(self.header_timeout, self.idle_timeout, self.body_timeout)
        return min(1.0, max(0.05, shortest / 4))


@dataclass(frozen=True)
class Snapshot:
    phase: Phase
    # FRESH: when it connected; HEADERS: the request's first byte (the connection's, for its
    # first request); BODY: the last body byte; BUSY: when answering began; IDLE: since when.
    since: float
    # When the transport stopped taking writes because the client does not read; None if it takes them.
    writes_paused_at: float | None = None


def verdict(snapshot: Snapshot, now: float, limits: Limits) -> Verdict | None:
    """Whether a connection has outlived its phase's deadline."""
    paused = snapshot.writes_paused_at
    if paused is not None and now - paused >= limits.body_timeout:
        return Verdict.SEND_STALLED
    waited = now - snapshot.since
    phase = snapshot.phase
    if phase in (Phase.FRESH, Phase.HEADERS):
        return Verdict.HEADER_TIMEOUT if waited >= limits.header_timeout else None
    if phase is Phase.BODY:
        return Verdict.BODY_TIMEOUT if waited >= limits.body_timeout else None
    if phase is Phase.IDLE:
        return Verdict.IDLE_TIMEOUT if waited >= limits.idle_timeout else None
    return None


def waiting_on_client_since(snapshot: Snapshot) -> float | None:
    """Since when a connection has waited on its client; None if its client waits on us."""
    if snapshot.writes_paused_at is not None:
        return snapshot.writes_paused_at
    if snapshot.phase is Phase.BUSY:
        return None
    return snapshot.since


def victims(snapshots: list[Snapshot], count: int) -> list[int]:
    """The indexes of at most `count` connections to close for room: those that have waited
    on their client the longest (the oldest idle, the slowest half-open), never one whose
    answer is being computed."""
    waiting = [
        (since, i) for i, s in enumerate(snapshots) if (since := waiting_on_client_since(s)) is not None
    ]
    return [i for _, i in heapq.nsmallest(count, waiting)]


def default_max_connections(fd_limit: int, concurrency_limit: int) -> int:
    """The cap that leaves room under the descriptor limit for every environment and the stores."""
    spare = fd_limit - RESERVED_FDS - FDS_PER_ENVIRONMENT * concurrency_limit
    return max(MIN_CONNECTIONS, min(MAX_DEFAULT_CONNECTIONS, spare))


def raise_fd_limit() -> int:
    """Raise the soft descriptor limit to the hard one (no privilege needed); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # above the kernel's nr_open: keep what we have
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class Tracked(Protocol):
    """One client connection, as the table sees it (gateway/switchboard.py)."""

    def snapshot(self) -> Snapshot: ...

    def expire(self, why: Verdict) -> None: ...

    def evict(self) -> None: ...

    def answering(self, delta: int) -> None: ...

    def close(self) -> None: ...


class Connections:
    """The open client connections of one listening socket: admits each one under the cap and
    closes those past their deadlines."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._open: dict[Tracked, None] = {}  # insertion-ordered: oldest first
        self._by_transport: dict[object, Tracked] = {}  # those aiohttp serves, for its middleware
        self.evicted = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[Tracked]:
        return iter(list(self._open))

    def add(self, connection: Tracked) -> None:
        self._open[connection] = None
        if len(self._open) > self.limits.max_connections:
            self._make_room()

    def discard(self, connection: Tracked) -> None:
        self._open.pop(connection, None)

    def bind(self, transport: object, connection: Tracked) -> None:
        self._by_transport[transport] = connection

    def unbind(self, transport: object) -> None:
        self._by_transport.pop(transport, None)

    def of(self, transport: object) -> Tracked | None:
        return self._by_transport.get(transport)

    def _make_room(self) -> None:
        keep = max(1, int(self.limits.max_connections * LOW_WATER))
        opened = list(self._open)
        chosen = victims([c.snapshot() for c in opened], len(opened) - keep)
        for i in chosen:
            self.discard(opened[i])
            opened[i].evict()
        self.evicted += len(chosen)

    def sweep(self, now: float) -> None:
        for connection in list(self._open):
            why = verdict(connection.snapshot(), now, self.limits)
            if why is not None:  # the connection leaves the table when its transport is gone
                self.expired += 1
                connection.expire(why)

    async def run(self) -> None:
        """The sweeper: applies the deadlines until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.limits.sweep_interval)
            self.sweep(loop.time())


CONNECTIONS = web.AppKey("connections", Connections)


@web.middleware
async def track_answers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Outermost: tells a connection aiohttp serves that an answer is being computed, so that
    it is neither idle nor a candidate for eviction meanwhile."""
    table = request.app.get(CONNECTIONS)
    connection = table.of(request.transport) if table is not None else None
    if connection is None:
        return await handler(request)
    connection.answering(1)
    try:
        return await handler(request)
    finally:
        connection.answering(-1)


def for_config(config: Config) -> Connections:
    """The connection table of a server: deadlines from its settings; the cap as set, or sized
    from the descriptor limit, raised first to the hard limit."""
    cap = config.max_connections
    if cap is None:
        cap = default_max_connections(raise_fd_limit(), config.concurrency_limit)
    return Connections(
        Limits(
            header_timeout=config.header_timeout,
            idle_timeout=config.idle_connection_timeout,
            body_timeout=config.body_timeout,
            max_connections=cap,
        )
    )
