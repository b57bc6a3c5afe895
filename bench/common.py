"""Shared pieces of the benchmarks: a real server on a free port, statistics, floors."""

from __future__ import annotations

import http.client
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from stratus.identity.environments import LAMBDA_TRUST

ACCESS_KEY = "AKSTBENCHKEY00000001"
SECRET_KEY = "bench-secret-key-0123456789abcdefghijkl"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/bench"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Running:
    endpoint: str
    data_dir: Path

    def client(self, service: str = "lambda") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}, read_timeout=300, max_pool_connections=128),
        )

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STRATUS_ACCESS_KEY_ID": ACCESS_KEY,
            "STRATUS_SECRET_ACCESS_KEY": SECRET_KEY,
            "STRATUS_ENDPOINT": self.endpoint,
        }


@contextmanager
def stratus_server(**env: str) -> Iterator[Running]:
    data_dir = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    port = free_port()
    running = Running(f"http://127.0.0.1:{port}", data_dir)
    proc = subprocess.Popen(
        [str(BIN / "stratus"), "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**running.env(), **env},
    )
    try:
        wait_http(f"{running.endpoint}/_stratus/health")
        create_role(running, ROLE.rpartition("/")[2])
        yield running
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)


def create_role(running: Running, name: str, policy: str | None = None) -> str:
    """A role Lambda may assume (CreateFunction checks), with `policy` inline if given."""
    iam = running.client("iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"])
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy)
    return arn


def ensure_role(client: Any, name: str) -> None:
    """The role CreateFunction needs, made with the credentials and endpoint of `client` (any
    boto3 client of the server) unless it exists."""
    creds = client._request_signer._credentials.get_frozen_credentials()
    iam = boto3.client(
        "iam",
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
    )
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)
    except iam.exceptions.EntityAlreadyExistsException:
        pass


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, source in files.items():
            zf.writestr(name, source)
    return buf.getvalue()


def stamp_function(
    running: Running, name: str, source: str, actions: list[str], resource: str, stamps: str
) -> str:
    """A Python function (`source` as app.py) whose role allows `actions` on `resource`, told
    where to leave its start times (env STAMPS): the benches' delay probes. Its ARN."""
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}
    )
    role = create_role(running, f"{name}-role", policy)
    return str(
        running.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": zip_of({"app.py": source})},
            Environment={"Variables": {"STAMPS": stamps}},
            Timeout=10,
        )["FunctionArn"]
    )


def stamp_of(sqs: Any, stamps: str, key: str) -> float:
    """The start time a stamp function left for `key` in its stamps queue (others are dropped)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=stamps, WaitTimeSeconds=5).get("Messages", []):
            sqs.delete_message(QueueUrl=stamps, ReceiptHandle=m["ReceiptHandle"])
            got, started = json.loads(m["Body"])
            if got == key:
                return float(started)
    raise TimeoutError(f"no stamp for {key}")


NOOP = {"app.py": "def handler(event, context):\n    return event\n"}


@dataclass(frozen=True)
class Stats:
    n: int
    p50: float
    p90: float
    p99: float
    mean: float

    @classmethod
    def of(cls, samples_ms: list[float]) -> Stats:
        s = sorted(samples_ms)
        pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
        return cls(len(s), pick(0.50), pick(0.90), pick(0.99), statistics.fmean(s))

    def row(self) -> str:
        return f"p50 {self.p50:.2f} ms, p90 {self.p90:.2f} ms, p99 {self.p99:.2f} ms (n={self.n})"


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {system}, Python {platform.python_version()}"


@contextmanager
def hello_floor() -> Iterator[str]:
    """A bare aiohttp + uvloop "hello" server in its own process: the HTTP floor."""
    port = free_port()
    code = (
        "import uvloop\nfrom aiohttp import web\n"
        "async def hello(request):\n    return web.Response(text='hello')\n"
        "app = web.Application()\napp.router.add_route('*', '/{tail:.*}', hello)\n"
        f"uvloop.install()\nweb.run_app(app, host='127.0.0.1', port={port}, print=None, access_log=None)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def http_get_loop(hostport: str, n: int, path: str = "/") -> list[float]:
    host, port = hostport.split(":")
    conn = http.client.HTTPConnection(host, int(port))

    def once() -> None:
        conn.request("POST", path, body=b"{}")
        conn.getresponse().read()

    once()
    return timed(once, n)


def python_pass_floor(n: int) -> list[float]:
    """`python3 -c pass` with the real interpreter binary (no shim), as the cold-start floor."""
    from stratus.runtimes.python import find_interpreter

    python = find_interpreter("python3.11") or Path(sys.executable)
    return timed(lambda: subprocess.run([str(python), "-c", "pass"], check=True), n)
