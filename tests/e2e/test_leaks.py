"""The leak/stress scenario of `bench/stress.py` at a small size: a random mix of normal invokes,
handler exceptions, crashes, segfaults, timeouts and out-of-memory kills, each of which must end
as the kind it asked for; then idle reaping, SIGTERM, and nothing left behind."""

from __future__ import annotations

from typing import Any

from bench.scenario import (
    MIX_SMALL,
    Summary,
    baseline,
    check_leaks,
    deploy,
    drive,
    fd_growth,
    plan,
    steady_fds,
    wait_for_no_environments,
    wait_for_zygotes,
)

INVOKES = 300
CONCURRENCY = 4


def test_mixed_failures_leave_nothing_behind(fresh_server: Any) -> None:
    before = baseline()
    srv = fresh_server(STRATUS_IDLE_TIMEOUT="1")
    assert srv.proc is not None
    pid = srv.proc.pid
    deploy(srv.client("lambda"))
    wait_for_zygotes(pid, srv.output().count(": ok\n"))
    fds_before = steady_fds(pid)

    outcomes = drive(lambda: srv.client("lambda"), plan(INVOKES, MIX_SMALL, seed=7), CONCURRENCY)
    summary = Summary(outcomes, 1.0)
    assert not summary.mismatches, "\n".join(summary.lines())
    assert set(summary.actual) == set(MIX_SMALL), summary.actual  # every kind happened

    waited, left = wait_for_no_environments(pid, timeout=20)
    assert left == 0, f"{left} environments still running {waited:.1f} s after the last invoke"
    fds_after = steady_fds(pid)
    assert not fd_growth(fds_before, fds_after), (fds_before, fds_after)

    assert srv.stop() == 0, srv.output()
    report = check_leaks(srv.data_dir, pid, before)
    assert not report.leaks, "\n".join(report.lines())
    assert "Traceback" not in srv.output(), srv.output()
