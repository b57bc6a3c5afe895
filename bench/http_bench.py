"""HTTP triggers: request -> function -> response through a function URL and an HTTP API, for a
no-op handler (`GET`, as the issue's table), at concurrency 1, 8, 32 and 64, against three
targets measured in the same run, in alternating rounds (each round drives every target once,
in an order that rotates, so a slow moment of the shared machine falls on all of them):

- the peer: serverless-offline 13 (with serverless 3) serving the same Python handler over
  HTTP. It is installed with npm into a cache folder outside the project on first use; without
  npm the peer is skipped and the output says so;
- the two-process floor (bench/floor.py): an aiohttp + uvloop front handing a JSON event over a
  socketpair to one of two worker processes, the least any design with the function in another
  process can do;
- the bare aiohttp + uvloop "hello" server.

Rates are the median of the rounds. "Machine CPU" is all the machine's busy CPU time (every
process, the load generator included) over a round, read from /proc/stat, per request; the
Stratus server's and the floor front's own CPU per request are read from /proc/<pid>/stat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ROLE, free_port, hello_floor, machine, stratus_server, wait_http, zip_of
from bench.floor import two_process_floor
from bench.load import Load, drive
from bench.signed_http import SignedInvoker

HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'
NODE_HANDLER = 'export const handler = async (event, context) => ({ statusCode: 200, body: "ok" });\n'
NODE_PEER_HANDLER = 'exports.handler = async (event, context) => ({ statusCode: 200, body: "ok" });\n'
# A function's files, handler and the floor's worker language, by the runtime benched.
RUNTIMES = {
    "python3.11": ({"app.py": HANDLER}, "app.handler", "python"),
    "nodejs20.x": ({"index.mjs": NODE_HANDLER}, "index.handler", "node"),
}
PEER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stratus" / "bench" / "sls"
PEER_PACKAGES = ("serverless@3", "serverless-offline@13")


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(port: int) -> int | None:
    out = subprocess.run(["pgrep", "-f", f"stratus serve --port {port} "], capture_output=True, text=True)
    pids = out.stdout.split()
    return int(pids[0]) if pids else None


def machine_busy_s() -> float:
    """All CPUs' busy time so far (user, nice, system, irq, softirq, steal), in seconds."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + (fields[7] if len(fields) > 7 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Request:
    """What a target is sent, the same every time: a GET, or a signed Invoke's POST (signed
    once: the signature stays valid for minutes, so the client's signing is not measured)."""

    url: str
    pid: int | None = None  # the serving process whose own CPU is read
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def measure(request: Request, concurrency: int, duration: float, warm: float = 1.0) -> dict[str, Any]:
    url, pid, method, headers, body = request.url, request.pid, request.method, request.headers, request.body
    drive(url, headers, body, concurrency, warm, method=method)  # environments started, connections open
    before, machine_before = (process_cpu_s(pid) if pid else 0.0), machine_busy_s()
    load: Load = drive(url, headers, body, concurrency, duration, method=method)
    machine_s = machine_busy_s() - machine_before
    answered = load.requests or int(load.rate * duration)
    row: dict[str, Any] = {"rate": load.rate, "p50": load.p50, "p99": load.p99, "errors": load.errors}
    if answered:
        row["machine_cpu_us_per_req"] = machine_s * 1e6 / answered
        if pid:
            row["server_cpu_us_per_req"] = (process_cpu_s(pid) - before) * 1e6 / answered
    return row


@contextmanager
def serverless_offline(runtime: str = "python3.11") -> Iterator[str | None]:
    """The peer's URL for the same handler, or None when it cannot be installed here."""
    npm = shutil.which("npm")
    binary = PEER_CACHE / "node_modules" / ".bin" / "serverless"
    if not binary.exists() and npm:
        PEER_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "init", "-y"], cwd=PEER_CACHE, capture_output=True)
        subprocess.run([npm, "install", *PEER_PACKAGES], cwd=PEER_CACHE, capture_output=True)
    if not binary.exists():
        yield None
        return
    service = Path(tempfile.mkdtemp(prefix="sls-bench-"))
    port, lambda_port = free_port(), free_port()
    if runtime.startswith("nodejs"):
        (service / "handler.js").write_text(NODE_PEER_HANDLER)
    else:
        (service / "handler.py").write_text(HANDLER)
    (service / "serverless.yml").write_text(
        textwrap.dedent("""\
        service: bench
        frameworkVersion: '3'
        provider:
          name: aws
          runtime: {runtime}
        plugins:
          - serverless-offline
        custom:
          serverless-offline:
            noPrependStageInUrl: true
        functions:
          noop:
            handler: handler.handler
            events:
              - httpApi: '*'
        """).replace("{runtime}", runtime)
    )
    (service / "node_modules").symlink_to(PEER_CACHE / "node_modules")
    env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}
    proc = subprocess.Popen(
        [str(binary), "offline", "--httpPort", str(port), "--lambdaPort", str(lambda_port)],
        cwd=service,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/noop", timeout=60)
        yield f"http://127.0.0.1:{port}/noop"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(service, ignore_errors=True)


TARGETS = ("function URL", "HTTP API", "signed Invoke", "serverless-offline", "two-process floor", "hello")


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds (rates, latencies and CPU alike)."""
    keys = {k for row in rows for k in row}
    return {k: statistics.median(row[k] for row in rows if k in row) for k in sorted(keys)} | {"rounds": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, one round")
    parser.add_argument("--no-peer", action="store_true", help="skip serverless-offline")
    parser.add_argument("--rounds", type=int, help="rounds per concurrency (default 3, 1 with --quick)")
    parser.add_argument("--duration", type=float, help="seconds per measurement (default 3, 2 with --quick)")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 8, 32, 64])
    parser.add_argument("--only", nargs="*", choices=TARGETS, help="drive only these targets")
    parser.add_argument(
        "--runtime",
        choices=sorted(RUNTIMES),
        default="python3.11",
        help="the function's runtime; the floor's workers and the peer's handler are of the same language",
    )
    args = parser.parse_args()
    files, handler, worker = RUNTIMES[args.runtime]
    duration = args.duration or (2.0 if args.quick else 3.0)
    rounds = args.rounds or (1 if args.quick else 3)
    concurrencies = tuple(args.concurrency)
    wanted = [t for t in TARGETS if not args.only or t in args.only]
    rows: dict[str, list[dict[str, Any]]] = {}
    peer_note = "serverless-offline: skipped (--no-peer)"
    with ExitStack() as stack:
        urls: dict[str, Request] = {}
        if {"function URL", "HTTP API", "signed Invoke"} & set(wanted):
            srv = stack.enter_context(stratus_server())
            lam = srv.client()
            name = f"http-{uuid.uuid4().hex[:6]}"
            lam.create_function(
                FunctionName=name,
                Runtime=args.runtime,
                Role=ROLE,
                Handler=handler,
                Code={"ZipFile": zip_of(files)},
            )
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
            function_url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
            lam.add_permission(
                FunctionName=name,
                StatementId="apigateway",
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
            )
            api = srv.client("apigatewayv2").create_api(Name="bench", ProtocolType="HTTP", Target=arn)
            pid = server_pid(int(srv.endpoint.rsplit(":", 1)[1]))
            urls["function URL"] = Request(function_url, pid)
            urls["HTTP API"] = Request(api["ApiEndpoint"] + "/", pid)
            invoke_url = f"{srv.endpoint}/2015-03-31/functions/{name}/invocations"
            signed = SignedInvoker(srv.endpoint, name).headers(b"{}")
            urls["signed Invoke"] = Request(invoke_url, pid, "POST", signed, b"{}")
        if "two-process floor" in wanted:
            floor, floor_pid = stack.enter_context(two_process_floor(worker=worker))
            urls["two-process floor"] = Request(f"http://{floor}/", floor_pid)
        if "hello" in wanted:
            urls["hello"] = Request(f"http://{stack.enter_context(hello_floor())}/")
        if "serverless-offline" in wanted and not args.no_peer:
            peer = stack.enter_context(serverless_offline(args.runtime))
            if peer is None:
                peer_note = "serverless-offline: not available (npm missing or install failed)"
            else:
                peer_note = f"serverless-offline 13 + serverless 3, {args.runtime} handler"
                urls["serverless-offline"] = Request(peer)
        order = [t for t in wanted if t in urls]
        for c in concurrencies:
            for r in range(rounds):
                shift = r % len(order)
                for target in order[shift:] + order[:shift]:
                    row = measure(urls[target], c, duration, warm=2.0 if r == 0 else 1.0)
                    rows.setdefault(f"{target} c{c}", []).append(row)
                    print(f"  c{c} round {r + 1} {target}: {row['rate']} req/s", flush=True)
        time.sleep(0.5)
    results = {key: median_row(value) for key, value in rows.items()}
    print(
        f"machine: {machine()}; {args.runtime}; {rounds} round(s) of {duration:.0f} s per target and "
        f"concurrency; load: {os.getloadavg()[0]:.2f}"
    )
    print(peer_note)
    print(table(results, order, concurrencies))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "http.json").write_text(json.dumps({"machine": machine(), "peer": peer_note, **results}, indent=2))


def table(results: dict[str, dict[str, Any]], order: list[str], concurrencies: tuple[int, ...]) -> str:
    """The issue's table (req/s, median of the rounds), the ratios, and CPU per request."""

    def get(target: str, c: int, key: str) -> float | None:
        row = results.get(f"{target} c{c}")
        return None if row is None or key not in row else float(row[key])

    def ratio(a: str, b: str, c: int) -> str:
        x, y = get(a, c, "rate"), get(b, c, "rate")
        return f"{x / y:.2f}" if x and y else "-"

    lines = [
        "| concurrency | "
        + " | ".join(order)
        + " | URL / floor | API / floor | URL / peer | API / peer | Invoke / URL |",
        "|---" * (len(order) + 6) + "|",
    ]
    for c in concurrencies:
        cells = [f"{get(t, c, 'rate') or 0:,.0f}" for t in order]
        ratios = [
            ratio("function URL", "two-process floor", c),
            ratio("HTTP API", "two-process floor", c),
            ratio("function URL", "serverless-offline", c),
            ratio("HTTP API", "serverless-offline", c),
            ratio("signed Invoke", "function URL", c),
        ]
        lines.append(f"| {c} | " + " | ".join(cells + ratios) + " |")
    lines += [
        "",
        "Latency p50 / p99 (ms):",
        "",
        "| concurrency | " + " | ".join(order) + " |",
        "|---" * (len(order) + 1) + "|",
    ]
    for c in concurrencies:
        cells = [f"{get(t, c, 'p50') or 0:.2f} / {get(t, c, 'p99') or 0:.2f}" for t in order]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Machine CPU per request, all processes, load generator included (us); in brackets the",
        "Stratus server's or the floor front's own:",
        "",
        "| concurrency | " + " | ".join(order) + " | URL / floor |",
        "|---" * (len(order) + 2) + "|",
    ]
    for c in concurrencies:
        cells = []
        for t in order:
            own = get(t, c, "server_cpu_us_per_req")
            cells.append(f"{get(t, c, 'machine_cpu_us_per_req') or 0:.0f}" + (f" ({own:.0f})" if own else ""))
        url, floor = (
            get("function URL", c, "machine_cpu_us_per_req"),
            get("two-process floor", c, "machine_cpu_us_per_req"),
        )
        lines.append(
            f"| {c} | " + " | ".join(cells) + f" | {url / floor:.2f} |"
            if url and floor
            else f"| {c} | " + " | ".join(cells) + " | - |"
        )
    errors = {k: v["errors"] for k, v in results.items() if v.get("errors")}
    if errors:
        lines += ["", f"non-2xx answers: {errors}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
