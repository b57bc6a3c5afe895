"""HTTP triggers: request -> function -> response through a function URL and an HTTP API, for a
no-op handler, at several concurrencies, against two baselines measured in the same run:

- the floor: a bare aiohttp + uvloop "hello" server;
- the peer: serverless-offline 13 (with serverless 3) serving the same Python handler over
  HTTP. It is installed with npm into a cache folder outside the project on first use; without
  npm the peer is skipped and the output says so.

Also reports the server's CPU time per request, read from /proc, which is steadier than rates on
a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import ROLE, free_port, hello_floor, machine, stratus_server, wait_http, zip_of
from bench.load import Load, drive

HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'
PEER_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stratus" / "bench" / "sls"
PEER_PACKAGES = ("serverless@3", "serverless-offline@13")


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(port: int) -> int | None:
    out = subprocess.run(["pgrep", "-f", f"stratus serve --port {port} "], capture_output=True, text=True)
    pids = out.stdout.split()
    return int(pids[0]) if pids else None


def measure(url: str, concurrency: int, duration: float, pid: int | None = None) -> dict[str, Any]:
    drive(url, {}, b"{}", concurrency, 2.0)  # warm up: environments started, connections open
    before = process_cpu_s(pid) if pid else 0.0
    load: Load = drive(url, {}, b"{}", concurrency, duration)
    row: dict[str, Any] = {"rate": load.rate, "p50": load.p50, "p99": load.p99, "errors": load.errors}
    if pid and load.rate:
        row["server_cpu_us_per_req"] = (process_cpu_s(pid) - before) * 1e6 / (load.rate * duration)
    return row


@contextmanager
def serverless_offline() -> Iterator[str | None]:
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
    (service / "handler.py").write_text(HANDLER)
    (service / "serverless.yml").write_text(textwrap.dedent("""\
        service: bench
        frameworkVersion: '3'
        provider:
          name: aws
          runtime: python3.11
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
        """))
    (service / "node_modules").symlink_to(PEER_CACHE / "node_modules")
    env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}
    proc = subprocess.Popen(
        [str(binary), "offline", "--httpPort", str(port), "--lambdaPort", str(lambda_port)],
        cwd=service, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/noop", timeout=60)
        yield f"http://127.0.0.1:{port}/noop"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(service, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--no-peer", action="store_true", help="skip serverless-offline")
    args = parser.parse_args()
    duration = 3.0 if args.quick else 5.0
    concurrencies = (1, 8, 32, 64)
    results: dict[str, dict[str, Any]] = {}
    with stratus_server() as srv:
        lam = srv.client()
        name = f"http-{uuid.uuid4().hex[:6]}"
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_of({"app.py": HANDLER})})
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        function_url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        lam.add_permission(FunctionName=name, StatementId="apigateway", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com")
        api = srv.client("apigatewayv2").create_api(Name="bench", ProtocolType="HTTP", Target=arn)
        pid = server_pid(int(srv.endpoint.rsplit(":", 1)[1]))
        with hello_floor() as hello:
            for c in concurrencies:
                results[f"hello c{c}"] = measure(f"http://{hello}/", c, duration)
                results[f"function URL c{c}"] = measure(function_url, c, duration, pid)
                results[f"HTTP API c{c}"] = measure(api["ApiEndpoint"] + "/", c, duration, pid)
        time.sleep(0.5)
    peer_note = "serverless-offline: skipped (--no-peer)"
    if not args.no_peer:
        with serverless_offline() as peer:
            if peer is None:
                peer_note = "serverless-offline: not available (npm missing or install failed)"
            else:
                peer_note = "serverless-offline 13 + serverless 3, python3.11 handler"
                for c in concurrencies:
                    results[f"serverless-offline c{c}"] = measure(peer, c, duration)
    print(f"machine: {machine()}")
    print(peer_note)
    for key, row in results.items():
        cpu = ""
        if "server_cpu_us_per_req" in row:
            cpu = f", server CPU {row['server_cpu_us_per_req']:.0f} us/req"
        print(f"{key:24s} {row['rate']:7d} req/s  p50 {row['p50']:7.2f} ms  p99 {row['p99']:7.2f} ms"
              f"  errors {row['errors']}{cpu}")
    for c in concurrencies:
        hello_rate, url_row = results[f"hello c{c}"]["rate"], results[f"function URL c{c}"]
        line = (f"c{c}: function URL = {100 * url_row['rate'] / hello_rate:.0f}% of hello; "
                f"added p50 {url_row['p50'] - results[f'hello c{c}']['p50']:.2f} ms")
        peer_row = results.get(f"serverless-offline c{c}")
        if peer_row and peer_row["rate"]:
            line += f"; {url_row['rate'] / peer_row['rate']:.2f}x serverless-offline"
        print(line)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "http.json").write_text(json.dumps({"machine": machine(), "peer": peer_note, **results}, indent=2))


if __name__ == "__main__":
    main()
