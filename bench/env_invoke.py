"""The Python environment's per-invoke CPU, alone: one environment process running the runtime
client over a private channel (a socketpair, no server, no isolation), driven by this process
as fast as it answers. The environment's CPU comes from /proc/<pid>/schedstat (nanoseconds on
CPU, user and kernel together), so a few thousand invokes give a steady number.

    python -m bench.env_invoke                    # the working tree's pyboot
    python -m bench.env_invoke --boot OLD --boot NEW  # pyboot directories side by side, alternating

This is the environment's half of what `bench.http_ab` reports as "environments" per request,
without the server's scheduling noise around it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stratus.config import default_runtime_cache
from stratus.runtimes.pyboot import stratus_channel as channel
from stratus.runtimes.python import BOOT_DIR, client_dir

HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'

# A function URL's GET event, as the front builds it (sizes and shape, not the exact values).
EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/",
    "rawQueryString": "",
    "headers": {
        "host": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
        "user-agent": "wrk",
        "x-amzn-trace-id": "Root=1-65f0a1b2-0123456789abcdef01234567",
        "x-forwarded-proto": "http",
        "x-forwarded-port": "9000",
        "x-forwarded-for": "127.0.0.1",
    },
    "requestContext": {
        "accountId": "anonymous",
        "apiId": "abcdefghijklmnopqrstuvwxyz012345",
        "domainName": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws",
        "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
        "http": {
            "method": "GET",
            "path": "/",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "wrk",
        },
        "requestId": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "routeKey": "$default",
        "stage": "$default",
        "time": "04/Dec/2026:15:00:00 +0000",
        "timeEpoch": 1796396400000,
    },
    "isBase64Encoded": False,
}

ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/04/[$LATEST]0123456789abcdef",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "AWS_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "/var/task",
    "TZ": ":UTC",
    "PATH": "/usr/local/bin:/usr/bin/:/bin",
}

# What the child runs: the runtime client over the channel, as the zygote's children do.
CHILD = """
import importlib, os, sys
import awslambdaric.lambda_runtime_client
import stratus_channel
sys.modules["runtime_client"] = stratus_channel.RuntimeClient(int(sys.argv[1]))
importlib.reload(awslambdaric.lambda_runtime_client)
import stratus_isolate
stratus_isolate.run_client(sys.argv[2])
"""


def schedstat_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


class Environment:
    """One environment process on a socketpair, driven from here."""

    def __init__(self, boot: Path, python: str, trace: bool) -> None:
        code = Path(tempfile.mkdtemp(prefix="stratus-envbench-"))
        (code / "app.py").write_text(HANDLER)
        self._sock, theirs = socket.socketpair()
        version = _version(python)
        env = {
            **ENV,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
            "PYTHONPATH": os.pathsep.join(
                [str(code), str(boot), str(client_dir(default_runtime_cache(), f"python{version}"))]
            ),
        }
        self.process = subprocess.Popen(
            [python, "-S", "-c", CHILD, str(theirs.fileno()), "app.handler"],
            env=env,
            cwd=code,
            pass_fds=[theirs.fileno()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # its exit when the channel closes is expected
        )
        theirs.close()
        self._decoder = channel.Decoder()
        self._body = json.dumps(EVENT).encode()
        self._trace = trace
        self._wait_next()

    def invoke(self, n: int) -> None:
        trace_id = "Root=1-65f0a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0"
        header = {
            "Lambda-Runtime-Aws-Request-Id": f"0f1e2d3c-4b5a-6978-8796-{n:012d}",
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 3000),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:bench",
            "Lambda-Runtime-Trace-Id": f"{trace_id[:-12]}{n:012d}" if self._trace else "",
            "Content-Type": "application/json",
        }
        self._sock.sendall(channel.encode(channel.EVENT, header, self._body))
        self._wait_next()

    def _wait_next(self) -> None:
        while True:
            for kind, _header, _body in self._decoder.frames():
                if kind == channel.NEXT:
                    return
            data = self._sock.recv(1 << 16)
            if not data:
                raise RuntimeError("the environment exited")
            self._decoder.feed(data)

    def round(self, invokes: int) -> float:
        """CPU microseconds per invoke over `invokes` invokes."""
        start = schedstat_ns(self.process.pid)
        for n in range(invokes):
            self.invoke(n)
        return (schedstat_ns(self.process.pid) - start) / invokes / 1000

    def close(self) -> None:
        self._sock.close()
        self.process.wait(timeout=10)


def _version(python: str) -> str:
    query = "import sys; print(*sys.version_info[:2], sep='.')"
    out = subprocess.run([python, "-c", query], capture_output=True)
    return out.stdout.decode().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boot", type=Path, action="append", help="pyboot directories (default: this tree)")
    parser.add_argument("--invokes", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--no-trace", action="store_true", help="an empty Trace-Id header")
    args = parser.parse_args()
    boots = args.boot or [BOOT_DIR]
    envs = [Environment(boot.resolve(), args.python, not args.no_trace) for boot in boots]
    rows: list[list[float]] = [[] for _ in envs]
    try:
        for env in envs:  # warm-up
            env.round(2000)
        for r in range(args.rounds):  # alternating, so that the machine's moods hit all alike
            order = list(range(len(envs))) if r % 2 == 0 else list(reversed(range(len(envs))))
            for i in order:
                rows[i].append(envs[i].round(args.invokes))
    finally:
        for env in envs:
            env.close()
    for boot, row in zip(boots, rows, strict=True):
        print(
            f"{boot}: environment CPU per invoke, median {statistics.median(row):.1f} us "
            f"(rounds: {', '.join(f'{r:.1f}' for r in row)})"
        )


if __name__ == "__main__":
    main()
