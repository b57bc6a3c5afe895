"""`python -m bench.snapshot`: cold starts of a function with a 300 ms init phase, forked from an
initialized environment (SnapStart on a published version), against on-demand cold starts of
the same code ($LATEST) in the same run. New environments are forced by idle reaping."""

from __future__ import annotations

import argparse
import base64
import json
import re
import time
from pathlib import Path
from typing import Any

from bench.common import ROLE, Stats, machine, stratus_server, zip_of

SLOW_INIT = {"app.py": "import time\ntime.sleep(0.3)\ndef handler(event, context):\n    return {}\n"}


def cold_series(lam: Any, name: str, qualifier: str, n: int) -> tuple[list[float], list[float]]:
    latencies, inits = [], []
    for _ in range(n):
        time.sleep(1.6)  # the idle timeout reaps the previous environment
        t0 = time.perf_counter()
        resp = lam.invoke(FunctionName=name, Qualifier=qualifier, LogType="Tail")
        latencies.append((time.perf_counter() - t0) * 1000)
        log = base64.b64decode(resp["LogResult"]).decode()
        match = re.search(r"Init Duration: ([\d.]+) ms", log)
        if match is None:
            raise RuntimeError(f"not a cold start:\n{log}")
        inits.append(float(match.group(1)))
    return latencies, inits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    with stratus_server(STRATUS_IDLE_TIMEOUT="0.5") as srv:
        lam = srv.client()
        lam.create_function(
            FunctionName="slow",
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_of(SLOW_INIT)},
            SnapStart={"ApplyOn": "PublishedVersions"},
        )
        version = lam.publish_version(FunctionName="slow")["Version"]
        lam.invoke(FunctionName="slow", Qualifier=version)  # the template exists from here on
        snap, snap_init = cold_series(lam, "slow", version, args.n)
        plain, plain_init = cold_series(lam, "slow", "$LATEST", max(5, args.n // 4))
    results = {
        "snapshot_cold": Stats.of(snap),
        "snapshot_init": Stats.of(snap_init),
        "on_demand_cold": Stats.of(plain),
        "on_demand_init": Stats.of(plain_init),
    }
    print(f"machine: {machine()}")
    for key, stats in results.items():
        print(f"{key:16s} {stats.row()}")
    ratio = results["snapshot_cold"].p50 / results["on_demand_cold"].p50
    print(f"snapshot / on-demand cold start (p50): {ratio:.3f}x")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "snapshot.json").write_text(
        json.dumps({"machine": machine(), **{k: vars(v) for k, v in results.items()}}, indent=2)
    )


if __name__ == "__main__":
    main()
