"""`make bench`: the core numbers, each against a floor measured in the same run.

- deploy: `stratus deploy` of a small function (CLI process included) and CreateFunction+waiter.
- cold start: first invoke after CreateFunction, against `python3 -c pass`.
- warm invoke: 1,000 sequential boto3 invokes; and the same through one kept-alive HTTP
  connection, against a bare aiohttp "hello" server.
Results go to stdout and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import (
    BIN,
    NOOP,
    ROLE,
    Stats,
    hello_floor,
    http_get_loop,
    machine,
    python_pass_floor,
    stratus_server,
    timed,
    zip_of,
)
from bench.load import drive
from bench.signed_http import SignedInvoker


def bench_deploy(srv: Any, n: int) -> dict[str, Stats]:
    src = Path(tempfile.mkdtemp(prefix="bench-fn-"))
    (src / "app.py").write_text(NOOP["app.py"])
    names = iter(f"deploy-{uuid.uuid4().hex[:8]}" for _ in range(n))
    cli = timed(lambda: subprocess.run(
        [str(BIN / "stratus"), "deploy", str(src), "--name", next(names)],
        check=True, env=srv.env(), capture_output=True), n)
    lam = srv.client()
    code = zip_of(NOOP)

    def api_deploy() -> None:
        name = f"api-{uuid.uuid4().hex[:8]}"
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                            Handler="app.handler", Code={"ZipFile": code})
        lam.get_waiter("function_active_v2").wait(FunctionName=name)

    return {"deploy_cli": Stats.of(cli), "deploy_api": Stats.of(timed(api_deploy, n))}


def bench_cold(srv: Any, n: int) -> dict[str, Stats]:
    """First invokes after CreateFunction, half through boto3 and half over signed HTTP (the
    platform's part without boto3's client-side cost)."""
    lam = srv.client()
    boto, raw = [], []
    for i in range(n):
        name = f"cold-{i}-{uuid.uuid4().hex[:6]}"
        # Distinct code per function, so nothing is shared but the runtime itself.
        code = zip_of({"app.py": NOOP["app.py"] + f"# {name}\n"})
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                            Handler="app.handler", Code={"ZipFile": code})
        time.sleep(0.05)  # a deploy is not followed by an invoke within microseconds
        if i % 2 == 0:
            t0 = time.perf_counter()
            lam.invoke(FunctionName=name, Payload=b"{}")
            boto.append((time.perf_counter() - t0) * 1000)
        else:
            signed = SignedInvoker(srv.endpoint, name)
            signed.headers(b"{}")
            t0 = time.perf_counter()
            signed.invoke()
            raw.append((time.perf_counter() - t0) * 1000)
    return {
        "cold_start": Stats.of(boto),
        "cold_start_http": Stats.of(raw),
        "floor_python_pass": Stats.of(python_pass_floor(n)),
    }


def bench_warm(srv: Any, n: int) -> dict[str, Stats]:
    lam = srv.client()
    name = f"warm-{uuid.uuid4().hex[:6]}"
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": zip_of(NOOP)})
    for _ in range(20):
        lam.invoke(FunctionName=name, Payload=b"{}")
    boto = timed(lambda: lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read(), n)
    signed = SignedInvoker(srv.endpoint, name)
    raw = timed(signed.invoke, n)
    with hello_floor() as hostport:
        floor = http_get_loop(hostport, n)
    return {
        "warm_boto3": Stats.of(boto),
        "warm_http": Stats.of(raw),
        "floor_hello_http": Stats.of(floor),
    }


def bench_throughput(srv: Any, duration: float) -> dict[str, Any]:
    """Warm no-op invokes per second at concurrency 1, 8 and 64, each against the hello floor."""
    lam = srv.client()
    name = f"tput-{uuid.uuid4().hex[:6]}"
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": zip_of(NOOP)})
    signed = SignedInvoker(srv.endpoint, name)
    url = f"{srv.endpoint}/2015-03-31/functions/{name}/invocations"
    headers = signed.headers(b"{}")
    results: dict[str, Any] = {}
    with hello_floor() as hostport:
        for concurrency in (1, 8, 64):
            drive(url, headers, b"{}", concurrency, 2.0)  # warm up: start the environments
            load = drive(url, headers, b"{}", concurrency, duration)
            floor = drive(f"http://{hostport}/", {}, b"{}", concurrency, duration)
            results[f"c{concurrency}"] = {
                "invokes_per_s": load.rate, "floor_per_s": floor.rate, "ratio": load.rate / floor.rate,
                "p50": load.p50, "p99": load.p99, "floor_p50": floor.p50, "floor_p99": floor.p99,
                "errors": load.errors, "tool": load.tool,
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    n_warm, n_cold, n_deploy = (200, 10, 3) if args.quick else (1000, 100, 10)
    duration = 2.0 if args.quick else 5.0
    results: dict[str, Stats] = {}
    with stratus_server() as srv:
        results.update(bench_deploy(srv, n_deploy))
        results.update(bench_cold(srv, n_cold))
        results.update(bench_warm(srv, n_warm))
        throughput = bench_throughput(srv, duration)
    print(f"machine: {machine()}")
    for key, stats in results.items():
        print(f"{key:20s} {stats.row()}")
    cold, floor = results["cold_start"], results["floor_python_pass"]
    warm, hello = results["warm_http"], results["floor_hello_http"]
    print(f"cold start / python -c pass (p50): {cold.p50 / floor.p50:.2f}x")
    print(f"warm invoke over HTTP / hello floor (p50): {warm.p50 / hello.p50:.2f}x; "
          f"added p50 {warm.p50 - hello.p50:.2f} ms")
    for key, row in throughput.items():
        print(f"throughput {key:4s} {row['invokes_per_s']:6d} invokes/s vs hello {row['floor_per_s']:6d}/s "
              f"= {100 * row['ratio']:.0f}%; p50 {row['p50']:.2f} ms (hello {row['floor_p50']:.2f}), "
              f"p99 {row['p99']:.2f} ms; errors {row['errors']} [{row['tool']}]")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(
        {"machine": machine(), **{k: vars(v) for k, v in results.items()}, "throughput": throughput},
        indent=2))


if __name__ == "__main__":
    main()
