"""`python -m bench.s3_bench [--quick]`: the bucket store against its floors, in one run.

- throughput: PUT and GET of 1 MiB and 64 MiB objects in MB/s (presigned URLs, so the client
  hashes nothing; one connection, bodies streamed), against writing the same bytes to a file
  with fsync and reading it back, in the server's data dir's filesystem;
- small objects: 4 KiB PUT+GET pairs per second at concurrency 16, against a bare aiohttp +
  uvloop server answering the same requests (the same client drives both);
- notification delay: from a PUT's acknowledgement to the start of the function it triggers
  (the handler's time.time(), written into an object), p50/p99, one PUT at a time, warm.
Results in bench/results/s3.json.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import uvloop
from botocore.config import Config

from bench.common import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    Running,
    Stats,
    hello_floor,
    machine,
    stamp_function,
    stratus_server,
)

MiB = 1024 * 1024

STAMP = """
import os, time
import boto3
s3 = boto3.client("s3")

def handler(event, context):
    started = time.time()
    for record in event["Records"]:
        key = record["s3"]["object"]["key"]
        s3.put_object(Bucket=os.environ["STAMPS"], Key=key, Body=repr(started).encode())
"""


def s3_client(srv: Running) -> Any:
    # SigV4 presigning (botocore presigns S3 with SigV2 unless told otherwise).
    return boto3.client(
        "s3",
        endpoint_url=srv.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )


def presign(s3: Any, method: str, bucket: str, key: str) -> str:
    return str(s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600))


_CONNECTIONS: dict[tuple[str, int], http.client.HTTPConnection] = {}


def _conn(url: str) -> tuple[http.client.HTTPConnection, str]:
    """A kept-alive connection to the URL's server (one per server, as a client would keep),
    and the request target."""
    parts = urllib.parse.urlsplit(url)
    where = (parts.hostname or "127.0.0.1", parts.port or 80)
    if where not in _CONNECTIONS:
        _CONNECTIONS[where] = http.client.HTTPConnection(*where)
    return _CONNECTIONS[where], f"{parts.path}?{parts.query}"


def put_url(url: str, body: bytes) -> None:
    conn, path = _conn(url)
    conn.request("PUT", path, body=body, headers={"Content-Length": str(len(body))})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"PUT answered {response.status}")


def get_url(url: str) -> int:
    conn, path = _conn(url)
    conn.request("GET", path)
    response = conn.getresponse()
    total = 0
    while chunk := response.read(MiB):
        total += len(chunk)
    if response.status != 200:
        raise RuntimeError(f"GET answered {response.status}")
    return total


def file_floor(directory: Path, body: bytes, count: int) -> tuple[float, float]:
    """MB/s writing `count` files of `body` (write, fsync, rename, as a durable store must)
    and reading them back, in `directory`."""
    paths = [directory / f"floor-{i}" for i in range(count)]
    t0 = time.perf_counter()
    for p in paths:
        tmp = p.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
        dir_fd = os.open(directory, os.O_RDONLY)
        os.fsync(dir_fd)
        os.close(dir_fd)
    write = len(body) * count / MiB / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for p in paths:
        with open(p, "rb") as f:
            while f.read(MiB):
                pass
    read = len(body) * count / MiB / (time.perf_counter() - t0)
    for p in paths:
        p.unlink()
    return write, read


def throughput(srv: Running, size: int, count: int, rounds: int) -> dict[str, float]:
    s3 = s3_client(srv)
    bucket = f"tp-{size // MiB}m"
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(size)
    keys = [f"obj-{i}" for i in range(count)]
    puts = [presign(s3, "put_object", bucket, k) for k in keys]
    gets = [presign(s3, "get_object", bucket, k) for k in keys]
    floor_dir = Path(tempfile.mkdtemp(dir=srv.data_dir, prefix="floor-"))
    samples: dict[str, list[float]] = {"put": [], "get": [], "file_write": [], "file_read": []}
    for _ in range(rounds):  # interleaved, so that both see the same disk and cache weather
        t0 = time.perf_counter()
        for url in puts:
            put_url(url, body)
        samples["put"].append(size * count / MiB / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for url in gets:
            assert get_url(url) == size
        samples["get"].append(size * count / MiB / (time.perf_counter() - t0))
        write, read = file_floor(floor_dir, body, count)
        samples["file_write"].append(write)
        samples["file_read"].append(read)
    floor_dir.rmdir()
    out = {k: statistics.median(v) for k, v in samples.items()}
    out["put_vs_file"] = out["put"] / out["file_write"]
    out["get_vs_file"] = out["get"] / out["file_read"]
    return out


async def pairs(put: str, get: str, concurrency: int, duration: float, body: bytes) -> float:
    """PUT+GET pairs per second, `concurrency` workers, each on its own key."""
    done = 0
    stop = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(i: int) -> None:
            nonlocal done
            put_i, get_i = put.format(i=i), get.format(i=i)
            while time.perf_counter() < stop:
                async with session.put(put_i, data=body) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"PUT answered {r.status}")
                async with session.get(get_i) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"GET answered {r.status}")
                done += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return done / (time.perf_counter() - t0)


def small_objects(srv: Running, concurrency: int, duration: float, rounds: int) -> dict[str, float]:
    s3 = s3_client(srv)
    s3.create_bucket(Bucket="small")
    body = os.urandom(4096)
    # Presigned per worker (a URL names its key); `{i}` is filled in by the worker.
    put_urls = {i: presign(s3, "put_object", "small", f"k{i}") for i in range(concurrency)}
    get_urls = {i: presign(s3, "get_object", "small", f"k{i}") for i in range(concurrency)}
    for i in range(concurrency):
        put_url(put_urls[i], body)

    async def stratus_round() -> float:
        done = 0.0
        results = await asyncio.gather(
            *(pairs(put_urls[i], get_urls[i], 1, duration, body) for i in range(concurrency))
        )
        done = sum(results)
        return done

    store, floor = [], []
    with hello_floor() as hello:
        for _ in range(rounds):
            store.append(uvloop.run(stratus_round()))
            floor.append(
                uvloop.run(
                    pairs(f"http://{hello}/k{{i}}", f"http://{hello}/k{{i}}", concurrency, duration, body)
                )
            )
    out = {"pairs_per_s": statistics.median(store), "floor_pairs_per_s": statistics.median(floor)}
    out["vs_floor"] = out["pairs_per_s"] / out["floor_pairs_per_s"]
    return out


def notification_delay(srv: Running, n: int) -> dict[str, Any]:
    s3, lam = s3_client(srv), srv.client("lambda")
    s3.create_bucket(Bucket="uploads")
    s3.create_bucket(Bucket="stamps")
    arn = stamp_function(srv, "stamp", STAMP, ["s3:PutObject"], "arn:aws:s3:::stamps/*", "stamps")
    lam.add_permission(
        FunctionName="stamp",
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::uploads",
    )
    s3.put_bucket_notification_configuration(
        Bucket="uploads",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    def stamp_of(key: str, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return float(s3.get_object(Bucket="stamps", Key=key)["Body"].read())
            except s3.exceptions.NoSuchKey:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.002)

    put = presign(s3, "put_object", "uploads", "warm")
    put_url(put, b"warm")
    stamp_of("warm")  # the environment is warm from here on
    delays = []
    for i in range(n):
        url = presign(s3, "put_object", "uploads", f"o{i}")
        put_url(url, b"x")
        acked = time.time()
        delays.append((stamp_of(f"o{i}") - acked) * 1000)
    stats = Stats.of(delays)
    return {"n": stats.n, "p50_ms": stats.p50, "p99_ms": stats.p99, "mean_ms": stats.mean}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples")
    args = parser.parse_args()
    rounds = 2 if args.quick else 3
    results: dict[str, Any] = {"machine": machine(), "region": REGION}
    with stratus_server() as srv:
        results["1MiB"] = throughput(srv, MiB, 32, rounds)
        results["64MiB"] = throughput(srv, 64 * MiB, 2 if args.quick else 4, rounds)
        results["4KiB"] = small_objects(srv, 16, 2.0 if args.quick else 3.0, rounds)
        results["notification"] = notification_delay(srv, 50 if args.quick else 200)
    print(f"machine: {results['machine']}")
    for size in ("1MiB", "64MiB"):
        r = results[size]
        print(
            f"{size:6s} PUT {r['put']:8.1f} MB/s ({100 * r['put_vs_file']:.0f}% of file write+fsync "
            f"{r['file_write']:.1f})  GET {r['get']:8.1f} MB/s ({100 * r['get_vs_file']:.0f}% of file "
            f"read {r['file_read']:.1f})"
        )
    s = results["4KiB"]
    print(
        f"4KiB   PUT+GET {s['pairs_per_s']:.0f} pairs/s, bare aiohttp {s['floor_pairs_per_s']:.0f} "
        f"pairs/s: {100 * s['vs_floor']:.0f}%"
    )
    n = results["notification"]
    print(
        f"notification delay (PUT ack -> handler start): p50 {n['p50_ms']:.1f} ms, "
        f"p99 {n['p99_ms']:.1f} ms (n={n['n']})"
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "s3.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
