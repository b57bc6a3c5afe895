"""Where the server's CPU goes per function URL request: py-spy samples the server process under
wrk and each sample is charged to the stage of its innermost Stratus frame.

    python -m bench.profile_url --concurrency 8 --duration 10
    python -m bench.profile_url --rev HEAD~3          # an earlier revision's server (git archive)

Prints the server's CPU per request (from /proc) and its split by stage, in µs per request, from
the proportions of the samples (py-spy at --rate Hz, non-blocking). Samples outside any Stratus
frame (the event loop's own Python, aiohttp's imports) are "loop and other".
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench.common import BIN
from bench.http_ab import exported, served_function
from bench.http_bench import process_cpu_s
from bench.load import drive
from bench.signed_http import SignedInvoker

# (path fragment, function names or None for all) -> stage; the innermost matching frame wins.
STAGES: list[tuple[str, frozenset[str] | None, str]] = [
    (
        "gateway/switchboard.py",
        frozenset({"encode", "_date", "_serve", "encode_head"}),
        "answer encode + TCP write",
    ),
    ("gateway/switchboard.py", None, "HTTP parse (switchboard)"),
    ("lean_routes.py", None, "HTTP parse (switchboard)"),
    ("http_types.py", None, "HTTP parse (switchboard)"),
    ("httpapi/replies.py", None, "reply mapping"),
    ("httpapi/", None, "front: URL lookup, CORS, request id, event build"),
    ("control/registry.py", None, "front: URL lookup, CORS, request id, event build"),
    ("observe/platform_lines.py", None, "sandbox: START/END/REPORT, timer, memory, output"),
    ("observe/logstore.py", None, "sandbox: START/END/REPORT, timer, memory, output"),
    ("observe/output.py", None, "sandbox: START/END/REPORT, timer, memory, output"),
    ("invoke/envlog.py", None, "sandbox: START/END/REPORT, timer, memory, output"),
    ("isolation/", None, "sandbox: START/END/REPORT, timer, memory, output"),
    ("invoke/channel.py", None, "channel send/recv and frames"),
    ("pyboot/stratus_channel.py", None, "channel send/recv and frames"),
    ("invoke/runtime_api.py", frozenset({"event_headers"}), "channel send/recv and frames"),
    ("invoke/sandbox.py", None, "sandbox: START/END/REPORT, timer, memory, output"),
    ("observe/metrics.py", None, "invoke service: resolve, trace, limiter, pool, metrics"),
    ("observe/tracing.py", None, "invoke service: resolve, trace, limiter, pool, metrics"),
    ("invoke/", None, "invoke service: resolve, trace, limiter, pool, metrics"),
    ("control/keys.py", None, "invoke service: resolve, trace, limiter, pool, metrics"),
    ("control/models.py", None, "invoke service: resolve, trace, limiter, pool, metrics"),
]


def stage_of(stack: list[str]) -> str:
    """The stage of one sample: `stack` is root-first frames as py-spy prints them."""
    for frame in reversed(stack):
        name, _, where = frame.partition(" (")
        name = name.rpartition(".")[2]  # py-spy names methods Class.method
        path = where.rsplit(":", 1)[0]
        if "stratus/" not in path:
            continue
        for fragment, names, stage in STAGES:
            if fragment in path and (names is None or name in names):
                return stage
    return "loop and other"


def summarise(raw: str) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of(stack.split(";"))] += int(count)
    return counts


def innermost(raw: str) -> collections.Counter[str]:
    """Samples by their innermost Stratus frame (function and line): where inside a stage."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [f for f in stack.split(";") if "stratus/" in f]
            where = frames[-1].replace(str(Path(__file__).parent.parent) + "/", "") if frames else "-"
            counts[where] += int(count)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rev", help="profile this revision's server instead of the working tree")
    parser.add_argument("--tree", type=Path, help="profile the server of this source tree (stratus/ in it)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--top", type=int, default=0, help="also the N busiest innermost frames")
    parser.add_argument(
        "--invoke", action="store_true", help="profile a signed Invoke (POST, SigV4) instead of the URL's GET"
    )
    args = parser.parse_args()
    with ExitStack() as stack:
        env = {}
        tree = stack.enter_context(exported(args.rev)) if args.rev else args.tree
        if tree:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
        served = served_function(stack, **env)
        url, pid, method, headers, body = served.url, served.pid, "GET", {}, b""
        if args.invoke:
            url = f"{served.endpoint}/2015-03-31/functions/{served.name}/invocations"
            method, body = "POST", b"{}"
            headers = SignedInvoker(served.endpoint, served.name).headers(body)
        drive(url, headers, body, args.concurrency, 2.0, method=method)
        out = Path(tempfile.mkdtemp(prefix="stratus-prof-")) / "server.txt"
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(args.rate),
                "--nonblocking",
                "--format",
                "raw",
                "--duration",
                str(args.duration + 1),
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        before = process_cpu_s(pid)
        load = drive(url, headers, body, args.concurrency, float(args.duration), method=method)
        used = process_cpu_s(pid) - before
        spy.wait()
        n = load.requests or int(load.rate * args.duration) or 1
        per_request = used * 1e6 / n
        raw = out.read_text()
        counts = summarise(raw)
    total = sum(counts.values()) or 1
    print(
        f"c={args.concurrency}: {load.rate:,} req/s, server CPU {per_request:.0f} µs/request, {total} samples"
    )
    print("| stage | share | µs/request |")
    print("|---|---|---|")
    for stage, count in counts.most_common():
        print(f"| {stage} | {count / total:.0%} | {per_request * count / total:.0f} |")
    for where, count in innermost(raw).most_common(args.top):
        print(f"{count / total:6.1%}  {where}")


if __name__ == "__main__":
    main()
