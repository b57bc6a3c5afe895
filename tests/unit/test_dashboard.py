"""The dashboard's pure parts: chart series from stored minutes, and the session owner."""

from __future__ import annotations

import pytest

from stratus.config import Credentials
from stratus.dashboard import api, series
from stratus.dashboard.auth import Sessions
from stratus.observe.logstore import LogEvent
from stratus.observe.metrics import Bucket


def bucket(durations: list[float], errors: int = 0, cold: int = 0, throttles: int = 0) -> Bucket:
    b = Bucket()
    for i, ms in enumerate(durations):
        b.add(ms, int(ms) + 1, 1024, 5.0 if i < cold else None, i < errors)
    b.throttles = throttles
    return b


def gauge(peak: int) -> Bucket:
    """A bucket with the concurrency peak that newer metrics record (older ones have none)."""
    b = Bucket()
    b.concurrent_max = peak  # type: ignore[attr-defined,unused-ignore]
    return b


def test_windows_end_with_the_slot_holding_now() -> None:
    win = series.window("1h", 7265.0)  # 2:01:05
    assert (win.start, win.end, win.step, win.slots) == (3720, 7320, 60, 60)
    assert win.slot(7260) == 59 and win.slot(3720) == 0 and win.slot(7320) is None
    day = series.window("24h", 86400 * 3 + 10)
    assert day.step == 900 and day.slots == 96 and day.end % 900 == 0
    with pytest.raises(KeyError):
        series.window("7y", 0)


def test_series_are_zero_filled_and_durations_empty_where_nothing_ran() -> None:
    win = series.Window(start=0, end=600, step=60)
    data = series.chart_series([("f", "$LATEST", 120, bucket([10.0, 20.0, 30.0], errors=1, cold=1))], win)
    assert data["t"] == [0, 60, 120, 180, 240, 300, 360, 420, 480, 540]
    assert data["invocations"] == [0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
    assert data["errors"][2] == 1 and data["coldStarts"][2] == 1 and data["initAvg"][2] == 5.0
    assert data["p50"][2] == 20.0 and data["p99"][2] == 30.0 and data["max"][2] == 30.0
    assert data["p50"][0] is None and data["avg"][9] is None and data["initAvg"][0] is None
    assert data["concurrency"] == [0] * 10  # minutes stored before the gauge existed
    totals = data["totals"]
    assert (totals["invocations"], totals["errors"], totals["avg"]) == (3, 1, 20.0)
    assert totals["billedMs"] == 11 + 21 + 31 and totals["gbSeconds"] == pytest.approx(0.063)


def test_aliases_are_not_counted_twice_and_slots_merge_minutes() -> None:
    win = series.Window(start=0, end=1800, step=900)
    rows: list[series.Row] = [
        ("f", "1", 60, bucket([10.0, 10.0])),
        ("f", "alias:live", 60, bucket([10.0, 10.0])),  # the same two invocations again
        ("f", "$LATEST", 120, bucket([50.0], throttles=4)),
        ("g", "$LATEST", 960, bucket([1.0])),
        ("g", "$LATEST", 5000, bucket([1.0])),  # outside the window
    ]
    data = series.chart_series(rows, win)
    assert data["invocations"] == [3, 1] and data["throttles"] == [4, 0]
    assert data["max"] == [50.0, 1.0] and data["totals"]["invocations"] == 4


def test_concurrency_is_a_peak_per_function_and_summed_across_functions() -> None:
    win = series.Window(start=0, end=120, step=120)
    rows: list[series.Row] = [
        ("f", "$LATEST", 0, gauge(3)),
        ("f", "1", 0, gauge(3)),  # the same function-wide count, seen on another dimension
        ("g", "$LATEST", 0, gauge(2)),
        ("f", "$LATEST", 60, gauge(1)),
    ]
    assert series.chart_series(rows, win)["concurrency"] == [5]
    # Where the account's own gauge is stored, it is the truth for all functions.
    assert series.chart_series(rows, win, [("", "account", 60, gauge(4))])["concurrency"] == [4]


CREDS = Credentials("AKID", "secret")


def test_sessions_check_credentials_and_the_start_token() -> None:
    sessions = Sessions(CREDS)
    assert sessions.key_matches("AKID", "secret")
    assert not sessions.key_matches("AKID", "secreT") and not sessions.key_matches("AKIX", "secret")
    assert len(sessions.start_token) >= 32 and sessions.token_matches(sessions.start_token)
    assert not sessions.token_matches("") and Sessions(CREDS).start_token != sessions.start_token


def test_sessions_end_when_idle_too_old_or_closed() -> None:
    now = [1000.0]
    sessions = Sessions(CREDS, clock=lambda: now[0], idle_s=60, max_age_s=300)
    session = sessions.open()
    assert sessions.check(session) and not sessions.check("guess") and not sessions.check(None)
    for _ in range(4):  # kept alive by use...
        now[0] += 50
        assert sessions.check(session)
    now[0] += 101  # ...but not past its maximum age
    assert not sessions.check(session) and len(sessions) == 0
    idle = sessions.open()
    now[0] += 61
    assert not sessions.check(idle)
    closed = sessions.open()
    sessions.close(closed)
    assert not sessions.check(closed)


def test_sessions_are_bounded_oldest_first() -> None:
    sessions = Sessions(CREDS, max_sessions=3)
    opened = [sessions.open() for _ in range(4)]
    assert len(sessions) == 3
    assert not sessions.check(opened[0]) and all(sessions.check(s) for s in opened[1:])


def events(*ids: int) -> list[LogEvent]:
    return [LogEvent(i, "/aws/lambda/f", "s", i, i, f"line {i}") for i in ids]


def test_the_tail_starts_with_the_latest_lines_then_skips_none() -> None:
    first, cursor = api.merge_tail([("f", events(*range(1, 151))), ("g", events(500))], 0)
    assert len(first) == api.TAIL_FIRST and first[-1][0].event_id == 500 and cursor == 500
    assert first[-2] == (events(150)[0], "f")
    # After a cursor: f filled its batch (odd ids 1001 to 1999), so g's 2500 waits; and at most
    # TAIL_MAX lines go, the oldest, so f's 1999 comes next time.
    f = events(*range(1001, 1001 + 2 * api.TAIL_MAX, 2))
    lines, cursor = api.merge_tail([("f", f), ("g", events(1002, 2500))], 1000)
    sent = [e.event_id for e, _ in lines]
    assert len(sent) == api.TAIL_MAX and sent[:3] == [1001, 1002, 1003] and cursor == 1997
    lines, cursor = api.merge_tail([("f", events(1999)), ("g", events(2500))], cursor)
    assert [(e.event_id, label) for e, label in lines] == [(1999, "f"), (2500, "g")] and cursor == 2500
    assert api.merge_tail([("f", []), ("g", [])], 1000) == ([], 1000)


def test_only_loopback_peers_count_as_this_machine() -> None:
    from stratus.dashboard.login import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.1") and is_loopback("::1")
    assert not is_loopback("192.0.2.2") and not is_loopback("fd00::2")
    assert not is_loopback(None) and not is_loopback("not an address")
