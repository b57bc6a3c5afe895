"""`python -m bench.stress`: a leak and stress run.

A real server (idle timeout 2 s) gets N invokes (default 10,000) from a thread pool: a random mix
of normal invokes, handler exceptions, crashes (`os._exit(1)`), segfaults, timeouts and
out-of-memory kills. Every result must be of the kind its invoke asked for. Then the run waits
for idle reaping to stop every environment, compares the server's descriptors with those it had
before the invokes, stops the server with SIGTERM and checks what it left behind: processes,
cgroups, mounts, files in the data dir, uid locks. It exits non-zero on any mismatch or leak.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.common import machine
from bench.scenario import (
    MIX_FULL,
    Summary,
    baseline,
    blank_pids,
    check_leaks,
    deploy,
    drive,
    environment_pids,
    fd_growth,
    own_server,
    plan,
    steady_fds,
    wait_for_no_environments,
    wait_for_zygotes,
    zygote_pids,
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invokes", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--idle-wait", type=float, default=30.0, help="seconds to wait for idle reaping")
    args = parser.parse_args()

    calls = plan(args.invokes, MIX_FULL, args.seed)
    before = baseline()
    problems: list[str] = []
    print(f"machine: {machine()}")
    with own_server(STRATUS_IDLE_TIMEOUT="2") as srv:
        pid = srv.pid
        print(f"server pid {pid}, data dir {srv.running.data_dir}, log {srv.log_path}")
        deploy(srv.running.client())
        wait_for_zygotes(srv.pid, srv.output().count(": ok\n"))
        fds_before, rss_before = steady_fds(pid), rss_mb(pid)
        step = max(1, args.invokes // 10)

        def progress(done: int) -> None:
            if done % step == 0:
                print(f"  {done}/{args.invokes} invokes, {time.perf_counter() - t0:.0f} s", flush=True)

        t0 = time.perf_counter()
        outcomes = drive(srv.running.client, calls, args.concurrency, progress)
        summary = Summary(outcomes, time.perf_counter() - t0)
        peak_envs = len(environment_pids(pid))
        waited, left = wait_for_no_environments(pid, args.idle_wait)
        fds_after, rss_after = steady_fds(pid), rss_mb(pid)
        zygotes, blanks = zygote_pids(pid), blank_pids(pid)
        stopped_early = "stratus: stopping" in srv.output()  # a signal from someone else
        code = srv.stop()
        output = srv.output()
        report = check_leaks(srv.running.data_dir, pid, before)

        print()
        for line in summary.lines():
            print(line)
        print(f"environments right after the last invoke: {peak_envs}; "
              f"after idle reaping: {left} (waited {waited:.1f} s); zygotes: {len(zygotes)}, "
              f"blank environments kept ready: {len(blanks)}")
        grown = fd_growth(fds_before, fds_after)
        print(f"(f) server descriptors before the invokes: {dict(sorted(fds_before.items()))}; after idle "
              f"reaping: {dict(sorted(fds_after.items()))}; grown: {', '.join(grown) or 'none'}")
        print(f"server RSS before the invokes {rss_before:.1f} MB, after idle reaping {rss_after:.1f} MB")
        print(f"server exit code after SIGTERM: {code}")
        for line in report.lines():
            print(line)

        if summary.mismatches:
            problems.append(f"{len(summary.mismatches)} results of the wrong kind")
        if left:
            problems.append(f"{left} environments still running {waited:.0f} s after the last invoke")
        if stopped_early:
            problems.append("the server was told to stop (SIGTERM/SIGINT) by someone else during the run")
        if code != 0:
            problems.append(f"server exit code {code}")
        if "Traceback" in output:
            problems.append("tracebacks in the server log")
        problems += report.leaks
        problems += [f"server descriptors grew: {g}" for g in grown]
        if problems:
            srv.keep_log = True
            print(f"FAILED ({len(problems)} problems); server log kept at {srv.log_path}:")
            for problem in problems[:50]:
                print(f"  {problem}")
            lines = output.splitlines()
            tracebacks = [i for i, line in enumerate(lines) if "Traceback" in line]
            if tracebacks:
                print("first traceback in the server log:")
                print("\n".join(lines[tracebacks[0]:tracebacks[0] + 30]))
        else:
            print("OK: every result of the expected kind, no leaks")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
