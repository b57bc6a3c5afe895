"""`python -m bench.recording_bench`: what keeping recent invocations for replay (issue 20)
costs on the hot path. One server, two no-op functions behind function URLs: one recorded (the
default), one tagged `stratus:record=off`; wrk drives them in alternating rounds, so a slow
moment of the machine falls on both. Prints requests per second and the server's CPU per
request (recordings are noted on the invoke path and written by a flusher in the same process).
"""

from __future__ import annotations

import argparse
import statistics
import uuid

from bench.common import ROLE, machine, stratus_server, zip_of
from bench.http_bench import HANDLER, process_cpu_s, server_pid
from bench.load import drive


def function_url(lam: object, record: bool) -> str:
    name = f"rec-{uuid.uuid4().hex[:6]}"
    tags = {} if record else {"stratus:record": "off"}
    lam.create_function(  # type: ignore[attr-defined]
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_of({"app.py": HANDLER})},
        Tags=tags,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)  # type: ignore[attr-defined]
    return str(lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"])  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[8, 32])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=3.0)
    args = parser.parse_args()
    with stratus_server() as srv:
        lam = srv.client()
        pid = server_pid(int(srv.endpoint.rsplit(":", 1)[1]))
        assert pid is not None
        urls = {"recorded": function_url(lam, True), "stratus:record=off": function_url(lam, False)}
        rows: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for c in args.concurrency:
            for r in range(args.rounds):
                order = list(urls) if r % 2 == 0 else list(reversed(urls))
                for label in order:
                    drive(urls[label], {}, b"", c, 1.0, method="GET")
                    before = process_cpu_s(pid)
                    load = drive(urls[label], {}, b"", c, args.duration, method="GET")
                    n = load.requests or int(load.rate * args.duration) or 1
                    rows.setdefault((label, c), []).append(
                        (load.rate, (process_cpu_s(pid) - before) * 1e6 / n)
                    )
                    print(f"  c{c} round {r + 1} {label}: {load.rate:,.0f} req/s", flush=True)
    print(f"machine: {machine()}; {args.rounds} rounds of {args.duration:.0f} s, medians")
    print("| concurrency | recorded req/s | off req/s | recorded / off | server µs/request recorded | off |")
    print("|---|---|---|---|---|---|")
    for c in args.concurrency:
        on, off = rows[("recorded", c)], rows[("stratus:record=off", c)]
        rate_on, rate_off = statistics.median(x[0] for x in on), statistics.median(x[0] for x in off)
        cpu_on, cpu_off = statistics.median(x[1] for x in on), statistics.median(x[1] for x in off)
        ratio = rate_on / rate_off
        print(f"| {c} | {rate_on:,.0f} | {rate_off:,.0f} | {ratio:.2f} | {cpu_on:.0f} | {cpu_off:.0f} |")


if __name__ == "__main__":
    main()
