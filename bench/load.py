"""Closed-loop HTTP load, the same generator for the platform and for the bare "hello" floor, so
their ratio compares like with like. It uses wrk (Debian's `wrk`) where present, since a Python
client saturates long before the server does; otherwise an asyncio client."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import aiohttp
import uvloop


@dataclass(frozen=True)
class Load:
    rate: int  # requests per second
    p50: float  # ms
    p99: float
    errors: int
    tool: str
    requests: int = 0  # answered in the run (wrk's count; rate x time for the Python client)


def drive(
    url: str,
    headers: dict[str, str],
    body: bytes,
    concurrency: int,
    duration: float = 5.0,
    method: str = "POST",
) -> Load:
    if shutil.which("wrk"):
        return _wrk(url, headers, body, concurrency, duration, method)
    return uvloop.run(_asyncio(url, headers, body, concurrency, duration, method))


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk(
    url: str, headers: dict[str, str], body: bytes, concurrency: int, duration: float, method: str
) -> Load:
    lines = [f"wrk.method = {_lua_string(method)}", f"wrk.body = {_lua_string(body.decode())}"]
    for key, value in headers.items():
        if key.lower() not in ("content-length", "host"):
            lines.append(f"wrk.headers[{_lua_string(key)}] = {_lua_string(value)}")
    lines.append("function response(status) if status ~= 200 then errors_seen = true end end")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write("\n".join(lines) + "\n")
        script.flush()
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(min(2, concurrency)),
                "-c",
                str(concurrency),
                "-d",
                f"{duration:.0f}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return Load(
        int(rate),
        _pct(out, "50%"),
        _pct(out, "99%"),
        int(non2xx.group(1)) if non2xx else 0,
        "wrk",
        int(total.group(1)) if total else 0,
    )


def _pct(out: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def _asyncio(
    url: str, headers: dict[str, str], body: bytes, concurrency: int, duration: float, method: str
) -> Load:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                async with session.request(method, url, data=body, headers=headers) as response:
                    await response.read()
                    errors += response.status != 200
                latencies.append((time.perf_counter() - t0) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    return Load(int(len(latencies) / elapsed), pick(0.5), pick(0.99), errors, "python", len(latencies))
