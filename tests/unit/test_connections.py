"""Slow clients' deadlines and the connection cap (gateway/connections.py), and where pipelined
requests begin (gateway/switchboard.message_end): pure decisions, no sockets."""

from __future__ import annotations

import pytest

from stratus.gateway.connections import (
    MAX_DEFAULT_CONNECTIONS,
    MIN_CONNECTIONS,
    Connections,
    Limits,
    Phase,
    Snapshot,
    Verdict,
    default_max_connections,
    verdict,
    victims,
)
from stratus.gateway.switchboard import message_end

LIMITS = Limits(header_timeout=10, idle_timeout=60, body_timeout=30, max_connections=8)


@pytest.mark.parametrize(
    ("phase", "waited", "expected"),
    [
        (Phase.FRESH, 9.9, None),
        (Phase.FRESH, 10, Verdict.HEADER_TIMEOUT),
        (Phase.HEADERS, 10, Verdict.HEADER_TIMEOUT),
        (Phase.HEADERS, 59, Verdict.HEADER_TIMEOUT),
        (Phase.BODY, 29, None),
        (Phase.BODY, 30, Verdict.BODY_TIMEOUT),
        (Phase.IDLE, 59, None),
        (Phase.IDLE, 60, Verdict.IDLE_TIMEOUT),
        (Phase.BUSY, 10_000, None),  # an answer being computed has the function's own timeout
    ],
)
def test_each_phase_has_its_deadline(phase: Phase, waited: float, expected: Verdict | None) -> None:
    assert verdict(Snapshot(phase, since=100.0), 100.0 + waited, LIMITS) is expected


def test_an_answer_the_client_does_not_read_stalls_out_in_any_phase() -> None:
    stalled = Snapshot(Phase.BUSY, since=0.0, writes_paused_at=50.0)
    assert verdict(stalled, 79.0, LIMITS) is None
    assert verdict(stalled, 80.0, LIMITS) is Verdict.SEND_STALLED


def test_victims_are_those_waiting_on_their_client_longest_never_busy_ones() -> None:
    snapshots = [
        Snapshot(Phase.BUSY, since=0.0),  # oldest of all, but its client waits on us
        Snapshot(Phase.IDLE, since=5.0),
        Snapshot(Phase.HEADERS, since=3.0),  # a half-open request that began earliest
        Snapshot(Phase.FRESH, since=9.0),  # the newest connection: a client about to send
        Snapshot(Phase.BUSY, since=1.0, writes_paused_at=4.0),  # its client stopped reading
        Snapshot(Phase.BODY, since=8.0),  # an upload still making progress
    ]
    assert victims(snapshots, 3) == [2, 4, 1]
    assert victims(snapshots, 10) == [2, 4, 1, 5, 3]


def test_default_cap_leaves_room_for_environments_and_is_bounded() -> None:
    assert default_max_connections(20_000, 1000) == 20_000 - 256 - 8 * 1000
    assert default_max_connections(1024, 1000) == MIN_CONNECTIONS
    assert default_max_connections(10_000_000, 10) == MAX_DEFAULT_CONNECTIONS


def test_sweep_interval_follows_the_shortest_deadline() -> None:
    assert LIMITS.sweep_interval == 1.0
    assert Limits(2, 60, 60, 10).sweep_interval == 0.5
    assert Limits(0.01, 60, 60, 10).sweep_interval == 0.05


class _Fake:
    def __init__(self, snapshot: Snapshot) -> None:
        self.state = snapshot
        self.evicted = False
        self.expired: Verdict | None = None

    def snapshot(self) -> Snapshot:
        return self.state

    def expire(self, why: Verdict) -> None:
        self.expired = why

    def evict(self) -> None:
        self.evicted = True

    def answering(self, delta: int) -> None:
        pass

    def close(self) -> None:
        pass


def test_passing_the_cap_closes_the_longest_waiting_down_to_the_low_water_mark() -> None:
    table = Connections(LIMITS)
    stalled = [_Fake(Snapshot(Phase.HEADERS, since=float(i))) for i in range(7)]
    busy = _Fake(Snapshot(Phase.BUSY, since=-1.0))
    for c in [busy, *stalled]:
        table.add(c)
    assert len(table) == 8 and not any(c.evicted for c in stalled), "at the cap, nobody is closed"
    newcomer = _Fake(Snapshot(Phase.FRESH, since=100.0))
    table.add(newcomer)
    assert len(table) == 7  # seven eighths of 8
    assert [c.evicted for c in stalled] == [True, True] + [False] * 5
    assert not busy.evicted and not newcomer.evicted


def test_sweep_expires_only_connections_past_their_deadline() -> None:
    table = Connections(LIMITS)
    late = _Fake(Snapshot(Phase.HEADERS, since=0.0))
    fine = _Fake(Snapshot(Phase.IDLE, since=0.0))
    table.add(late)
    table.add(fine)
    table.sweep(now=15.0)
    assert late.expired is Verdict.HEADER_TIMEOUT and fine.expired is None


GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"


@pytest.mark.parametrize("first", [GET, POST, CHUNKED])
@pytest.mark.parametrize("second", [GET, POST, CHUNKED])
def test_message_end_finds_where_the_next_request_begins(first: bytes, second: bytes) -> None:
    partial_third = b"GET /partial HTTP/1.1\r\nHo"
    stream = first + second + partial_third
    assert message_end(stream, 1) == len(first)
    assert message_end(bytearray(stream), 2) == len(first) + len(second)
