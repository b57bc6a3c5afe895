"""`python -m bench.scale`: scale-out and the memory of idle environments.

- scale-out: one function, 100 first invokes at once (100 threads, each with its own boto3 client
  made beforehand, released together by a barrier). Reported: the time until all answered, the
  p50/p99 of the individual latencies, and how many distinct environments served them (the
  handler returns a module-level uuid). The runtime's zygote is warmed first by another
  function, so this measures environments, not the zygote's own start. A no-op returns so fast
  that early environments are reused by later requests of the burst (one client process on few
  cores cannot send 100 requests at once), so the burst is repeated with each invoke holding its
  environment for 3 s: then every request needs an environment of its own.
- idle memory: 10 environments of a no-op function, warm and idle; each one's PSS (from
  /proc/<pid>/smaps_rollup, found as the processes of an environment uid whose parent is the
  server's zygote), with RSS, USS and its memory cgroup's usage for context.
Results go to stdout and bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import ROLE, Stats, machine, zip_of
from bench.http_bench import machine_busy_s
from bench.scenario import (
    OwnServer,
    environment_pids,
    in_uid_range,
    own_server,
    processes,
    wait_for_no_environments,
    zygote_pids,
)

APP = """\
import time
import uuid

ENV_ID = uuid.uuid4().hex


def handler(event, context):
    if event.get("hold"):
        time.sleep(event["hold"])
    return ENV_ID
"""
HOLD_S = 3.0


def create(lam: Any, name: str, timeout: int = 3) -> None:
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_of({"app.py": APP + f"# {name}\n"})}, Timeout=timeout)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


def burst(srv: OwnServer, name: str, n: int, payload: bytes = b"{}") -> dict[str, Any]:
    """n invokes released at once; each thread has its own client, made before the start."""
    clients = [srv.running.client() for _ in range(n)]
    barrier = threading.Barrier(n + 1)
    results: list[tuple[float, float, str] | None] = [None] * n

    def one(i: int) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        try:
            resp = clients[i].invoke(FunctionName=name, Payload=payload)
            body = resp["Payload"].read().decode()
            answer = f"error: {body[:200]}" if resp.get("FunctionError") else json.loads(body)
        except Exception as e:  # reported with the results
            answer = f"error: {type(e).__name__}: {str(e)[:200]}"
        results[i] = (t0, time.perf_counter(), answer)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    busy, own = machine_busy_s(), time.process_time()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    # Every process's CPU but this client's (100 boto3 threads), over the burst: what the
    # platform spent to answer it (with a hold, the environments sleep through most of it).
    platform_cpu_s = (machine_busy_s() - busy) - (time.process_time() - own)
    done = [r for r in results if r is not None]
    errors = [r[2] for r in done if r[2].startswith("error: ")]
    return {
        "wall_ms": (max(r[1] for r in done) - start) * 1000,
        "latencies_ms": [(r[1] - r[0]) * 1000 for r in done],
        "environments": len({r[2] for r in done if not r[2].startswith("error: ")}),
        "errors": errors,
        "platform_cpu_ms": platform_cpu_s * 1000,
    }


def smaps_rollup(pid: int) -> dict[str, int]:
    """kB values of /proc/<pid>/smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0])
    return values


def cgroup_memory(pid: int) -> int | None:
    """Bytes charged to the process's memory cgroup (v1 or v2), if it can be read."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            candidate = Path("/sys/fs/cgroup") / path.lstrip("/") / "memory.current"
        elif "memory" in controllers.split(","):
            candidate = Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.usage_in_bytes"
        else:
            continue
        try:
            return int(candidate.read_text())
        except (OSError, ValueError):
            continue
    return None


def idle_memory(srv: OwnServer, n: int) -> dict[str, Any]:
    lam = srv.running.client()
    name = f"idle-{uuid.uuid4().hex[:6]}"
    create(lam, name)
    # Held long enough that all n overlap, so there are n environments; then they go idle.
    warm = burst(srv, name, n, json.dumps({"hold": 1.0}).encode())
    time.sleep(2.0)
    table = processes()
    zygotes = set(zygote_pids(srv.pid, table))
    envs = sorted(p.pid for p in table.values() if in_uid_range(p.uid) and p.ppid in zygotes)
    rollups = {pid: smaps_rollup(pid) for pid in envs}
    pss = [r["Pss"] / 1024 for r in rollups.values()]
    rss = [r["Rss"] / 1024 for r in rollups.values()]
    uss = [(r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)) / 1024 for r in rollups.values()]
    charged = [c / 2**20 for c in (cgroup_memory(pid) for pid in envs) if c is not None]
    zygote_pss = [smaps_rollup(pid)["Pss"] / 1024 for pid in zygotes]
    return {
        "environments_warmed": warm["environments"],
        "warm_errors": warm["errors"],
        "environments_measured": len(envs),
        "pss_mean_mb": statistics.fmean(pss) if pss else 0.0,
        "pss_max_mb": max(pss, default=0.0),
        "rss_mean_mb": statistics.fmean(rss) if rss else 0.0,
        "uss_mean_mb": statistics.fmean(uss) if uss else 0.0,
        "cgroup_mean_mb": statistics.fmean(charged) if charged else 0.0,
        "zygote_pss_mb": sum(zygote_pss),
        "zygotes": len(zygotes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=100, help="concurrent first invokes")
    parser.add_argument("--idle", type=int, default=10, help="idle environments to measure")
    args = parser.parse_args()
    with own_server(STRATUS_CONCURRENCY_LIMIT=str(max(1000, 2 * args.burst))) as srv:
        lam = srv.running.client()
        warmup = f"warmup-{uuid.uuid4().hex[:6]}"
        create(lam, warmup)
        lam.invoke(FunctionName=warmup, Payload=b"{}")  # the zygote is up and has forked once

        name = f"scale-{uuid.uuid4().hex[:6]}"
        create(lam, name)
        scale = burst(srv, name, args.burst)
        envs_after = len(environment_pids(srv.pid))
        # The same, but each invoke holds its environment for HOLD_S, so none can be reused and
        # every one of the burst needs an environment of its own.
        held = f"held-{uuid.uuid4().hex[:6]}"
        create(lam, held, timeout=30)
        hold = burst(srv, held, args.burst, json.dumps({"hold": HOLD_S}).encode())

        # Only the idle function's environments are to be measured: the others go first.
        for fn in (name, held, warmup):
            lam.delete_function(FunctionName=fn)
        waited, left = wait_for_no_environments(srv.pid, 30)
        if left:
            raise SystemExit(f"{left} environments still running {waited:.0f} s after their function "
                             "was deleted")
        memory = idle_memory(srv, args.idle)
        code = srv.stop()

    latency = Stats.of(scale["latencies_ms"])
    print(f"machine: {machine()}")
    print(f"{'scale_out_first':20s} {latency.row()}")
    print(f"{'scale_out_wall':20s} {scale['wall_ms']:.0f} ms until all {args.burst} answered; "
          f"{scale['environments']} distinct environments ({envs_after} running after); "
          f"{len(scale['errors'])} errors")
    for error in scale["errors"][:5]:
        print(f"  {error}")
    held_latency = Stats.of([ms - HOLD_S * 1000 for ms in hold["latencies_ms"]])
    print(f"{'scale_out_held':20s} {held_latency.row()}, less the {HOLD_S:.0f} s hold")
    print(f"{'scale_out_held_wall':20s} {hold['wall_ms']:.0f} ms until all {args.burst} answered "
          f"(each held {HOLD_S:.0f} s); {hold['environments']} distinct environments; "
          f"{len(hold['errors'])} errors")
    for error in hold["errors"][:5]:
        print(f"  {error}")
    per_env = hold["platform_cpu_ms"] / max(1, hold["environments"])
    cores = os.cpu_count() or 1
    print(f"{'scale_out_cpu':20s} {hold['platform_cpu_ms']:.0f} ms of CPU outside the client for the held "
          f"burst, {per_env:.1f} ms per environment: {args.burst} need at least "
          f"{per_env * args.burst / cores:.0f} ms on {cores} cores")
    print(f"{'idle_env_pss':20s} mean {memory['pss_mean_mb']:.1f} MB, max {memory['pss_max_mb']:.1f} MB "
          f"(n={memory['environments_measured']}; RSS mean {memory['rss_mean_mb']:.1f} MB, "
          f"USS mean {memory['uss_mean_mb']:.1f} MB, memory cgroup mean {memory['cgroup_mean_mb']:.1f} MB)")
    print(f"{'zygote_pss':20s} {memory['zygote_pss_mb']:.1f} MB over {memory['zygotes']} zygotes")
    print(f"deleted functions' environments gone after {waited:.1f} s; server exit code {code}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "scale.json").write_text(json.dumps({
        "machine": machine(),
        "scale_out_first": vars(latency),
        "scale_out": {
            "concurrent": args.burst,
            "wall_ms": scale["wall_ms"],
            "environments": scale["environments"],
            "running_after": envs_after,
            "errors": len(scale["errors"]),
        },
        "scale_out_held_first_less_hold": vars(held_latency),
        "scale_out_held": {
            "concurrent": args.burst,
            "hold_s": HOLD_S,
            "wall_ms": hold["wall_ms"],
            "environments": hold["environments"],
            "errors": len(hold["errors"]),
        },
        "idle_memory": {k: v for k, v in memory.items() if k != "warm_errors"},
    }, indent=2))


if __name__ == "__main__":
    main()
