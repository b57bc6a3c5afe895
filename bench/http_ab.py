"""Before/after in one run: the same function URL on two servers, one running an earlier
revision of Stratus's source, driven by wrk in alternating rounds.

    python -m bench.http_ab --rev HEAD~1            # that revision against the working tree
    python -m bench.http_ab --before /path/to/tree  # a source tree (with stratus/ in it)
    python -m bench.http_ab --rev HEAD --after /path/to/tree  # that tree instead of the working
                                                    # tree (others' uncommitted edits left out)

For each round: requests per second, and CPU per request of the server process, of its
environments (every process below it: zygotes and environments) and of the whole machine (load
generator included), from /proc. The server of the earlier revision imports it through
PYTHONPATH, ahead of the working tree the venv points at.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from bench.common import ROLE, machine, stratus_server, zip_of
from bench.http_bench import HANDLER, machine_busy_s, process_cpu_s, server_pid
from bench.load import drive


def tree_cpu_s(pid: int) -> float:
    """CPU time of every process below `pid` (not `pid` itself), as far as they still live."""
    total, todo = 0.0, [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            todo.append(child)
            try:
                total += process_cpu_s(child)
            except (OSError, IndexError):
                pass
    return total


@contextmanager
def exported(rev: str) -> Iterator[Path]:
    """The source tree of `rev`, exported with git archive (the repository is not touched)."""
    root = Path(__file__).resolve().parent.parent
    # Not under /tmp: each environment gets a tmpfs of its own there, and runtime files under
    # /tmp are bound back into it one by one, a cost the working tree's environments do not pay.
    where = Path(tempfile.mkdtemp(prefix="stratus-ab-", dir="/var/tmp"))
    try:
        archive = subprocess.run(
            ["git", "archive", rev, "stratus"], cwd=root, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
        # Compiled as the working tree's modules are by its runs: an environment cannot write
        # bytecode into its read-only root, so without it each would compile what it imports.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(where)], check=True)
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


class Served(NamedTuple):
    """A no-op function on a running server: its URL, the server's pid, the endpoint, its name."""

    url: str
    pid: int
    endpoint: str
    name: str


def served_function(stack: ExitStack, runtime: str = "python3.11", **env: str) -> Served:
    srv = stack.enter_context(stratus_server(**env))
    lam = srv.client()
    name = f"ab-{uuid.uuid4().hex[:6]}"
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": HANDLER})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    pid = server_pid(int(srv.endpoint.rsplit(":", 1)[1]))
    assert pid is not None
    return Served(str(url), pid, srv.endpoint, name)


def function_url(stack: ExitStack, runtime: str = "python3.11", **env: str) -> tuple[str, int]:
    served = served_function(stack, runtime, **env)
    return served.url, served.pid


def one_round(url: str, pid: int, concurrency: int, duration: float) -> dict[str, float]:
    drive(url, {}, b"", concurrency, 1.0, method="GET")
    server, envs, whole = process_cpu_s(pid), tree_cpu_s(pid), machine_busy_s()
    load = drive(url, {}, b"", concurrency, duration, method="GET")
    n = load.requests or int(load.rate * duration) or 1
    return {
        "rate": load.rate,
        "server": (process_cpu_s(pid) - server) * 1e6 / n,
        "envs": (tree_cpu_s(pid) - envs) * 1e6 / n,
        "machine": (machine_busy_s() - whole) * 1e6 / n,
        "errors": load.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--rev", help="a git revision to compare the working tree with")
    which.add_argument("--before", type=Path, help="a source tree to compare the working tree with")
    parser.add_argument("--after", type=Path, help="a source tree to run as 'after' (default: working tree)")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 8, 32, 64])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--runtime", default="python3.11", help="the function's runtime")
    args = parser.parse_args()
    with ExitStack() as stack:
        before = args.before or stack.enter_context(exported(args.rev))
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(before), os.environ.get("PYTHONPATH")]))}
        after_env = {}
        if args.after:
            paths = [str(args.after), os.environ.get("PYTHONPATH")]
            after_env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
        targets = {
            "before": function_url(stack, args.runtime, **env),
            "after": function_url(stack, args.runtime, **after_env),
        }
        rows: dict[str, list[dict[str, float]]] = {}
        for c in args.concurrency:
            for r in range(args.rounds):
                order = list(targets) if r % 2 == 0 else list(reversed(targets))
                for name in order:
                    url, pid = targets[name]
                    row = one_round(url, pid, c, args.duration)
                    rows.setdefault(f"{name} c{c}", []).append(row)
                    print(f"  c{c} round {r + 1} {name}: {row['rate']} req/s", flush=True)
    print(
        f"machine: {machine()}; load {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.duration:.0f} s"
    )
    print(
        "| concurrency | before req/s | after req/s | after / before | server CPU us/req before -> after "
        "| environments | machine |"
    )
    print("|---|---|---|---|---|---|---|")
    for c in args.concurrency:
        b, a = (_median(rows[f"{n} c{c}"]) for n in ("before", "after"))
        print(
            f"| {c} | {b['rate']:,.0f} | {a['rate']:,.0f} | {a['rate'] / b['rate']:.2f} "
            f"| {b['server']:.0f} -> {a['server']:.0f} | {b['envs']:.0f} -> {a['envs']:.0f} "
            f"| {b['machine']:.0f} -> {a['machine']:.0f} |"
        )
    errors = {k: sum(r["errors"] for r in v) for k, v in rows.items() if any(r["errors"] for r in v)}
    if errors:
        print(f"non-2xx answers: {errors}")


def _median(rows: list[dict[str, float]]) -> dict[str, Any]:
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


if __name__ == "__main__":
    main()
