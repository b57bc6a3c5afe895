"""`python -m bench.messaging_bench [--quick]`: queues and topics against their floors, in one run.

- SendMessage (batch 1) and SendMessageBatch (batch 10) throughput at concurrency 32, signed
  JSON requests as boto3 sends them (signed once per body and reused, so the client's signing
  stays out of the measurement), against a bare aiohttp + uvloop server answering the same
  requests at the same concurrency (the same client drives both);
- receive+delete throughput at batch 1 (ReceiveMessage of 1, DeleteMessage) and 10
  (ReceiveMessage of up to 10, DeleteMessageBatch), 8 workers;
- the store's floor: raw SQLite (WAL, synchronous=FULL, in the server's data dir's filesystem)
  inserting and deleting the same rows, one commit per message (batch 1) and per 10 messages;
- queue -> function delay: from SendMessage's acknowledgement to the start of the function an
  event source mapping invokes (its handler's time.time(), sent back on a second queue), idle
  poller, p50/p99, one message at a time;
- topic -> function delay: from Publish's acknowledgement to the start of a Lambda subscriber.
Results in bench/results/messaging.json. ElasticMQ (a JVM jar from Maven or GitHub) and
LocalStack (needs Docker) cannot run on this machine, so no peer is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.common import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    Running,
    Stats,
    hello_floor,
    machine,
    stamp_function,
    stamp_of,
    stratus_server,
)

CONCURRENCY = 32
BODY = "x" * 200  # a small message, as most are

STAMP = """
import json, os, time
import boto3
sqs = boto3.client("sqs")

def handler(event, context):
    started = time.time()
    for record in event["Records"]:
        key = record.get("body") if "body" in record else record["Sns"]["Message"]
        sqs.send_message(QueueUrl=os.environ["STAMPS"], MessageBody=json.dumps([key, started]))
"""


def signed(endpoint: str, operation: str, params: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(params).encode()
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"X-Amz-Target": f"AmazonSQS.{operation}", "Content-Type": "application/x-amz-json-1.0"},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "sqs", REGION).add_auth(request)
    return body, dict(request.headers)


async def hammer(url: str, body: bytes, headers: dict[str, str], concurrency: int, duration: float) -> float:
    """Requests per second, `concurrency` workers each posting the same request back to back."""
    done = 0
    stop = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"answered {r.status}: {(await r.text())[:200]}")
                done += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - t0)


def sends(srv: Running, duration: float, rounds: int) -> dict[str, Any]:
    sqs = srv.client("sqs")
    url = sqs.create_queue(QueueName="bench-send")["QueueUrl"]
    one = signed(srv.endpoint, "SendMessage", {"QueueUrl": url, "MessageBody": BODY})
    ten = signed(
        srv.endpoint,
        "SendMessageBatch",
        {"QueueUrl": url, "Entries": [{"Id": str(i), "MessageBody": BODY} for i in range(10)]},
    )
    out: dict[str, list[float]] = {"send_1": [], "send_10_msgs": [], "floor": []}
    with hello_floor() as hello:
        for _ in range(rounds):  # interleaved, so that both see the same machine weather
            out["send_1"].append(uvloop.run(hammer(srv.endpoint + "/", *one, CONCURRENCY, duration)))
            out["send_10_msgs"].append(
                10 * uvloop.run(hammer(srv.endpoint + "/", *ten, CONCURRENCY, duration))
            )
            out["floor"].append(uvloop.run(hammer(f"http://{hello}/", one[0], one[1], CONCURRENCY, duration)))
    result: dict[str, Any] = {k: statistics.median(v) for k, v in out.items()}
    result["send_1_vs_floor"] = result["send_1"] / result["floor"]
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    result["queued"] = int(depth["Attributes"]["ApproximateNumberOfMessages"])
    return result


async def drain(endpoint: str, url: str, workers: int, limit: int, batch: int) -> float:
    """Messages received and deleted per second until `limit` are gone: ReceiveMessage of up to
    `batch`, then DeleteMessage (batch 1) or DeleteMessageBatch."""
    receive = signed(endpoint, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": batch})
    gone = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=workers)) as session:

        async def worker() -> None:
            nonlocal gone
            while gone < limit:
                async with session.post(endpoint + "/", data=receive[0], headers=receive[1]) as r:
                    messages = (await r.json(content_type=None)).get("Messages", [])
                if not messages:
                    return
                entries = [
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                ]
                body, headers = signed(endpoint, "DeleteMessageBatch", {"QueueUrl": url, "Entries": entries})
                async with session.post(endpoint + "/", data=body, headers=headers) as r:
                    await r.read()
                gone += len(messages)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        return gone / (time.perf_counter() - t0)


def sqlite_floor(directory: Path, n: int) -> dict[str, float]:
    """Rows per second, raw SQLite as a durable queue would write them (WAL, synchronous=FULL):
    insert then delete `n` rows, committing every message (batch 1) or every 10."""
    out: dict[str, float] = {}
    for batch in (1, 10):
        path = directory / f"floor-{batch}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE m (id TEXT PRIMARY KEY, body TEXT, sent INTEGER, visible INTEGER)")
        ids = [uuid.uuid4().hex for _ in range(n)]
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO m VALUES (?,?,?,?)", [(x, BODY, 0, 0) for x in ids[i : i + batch]])
            conn.execute("COMMIT")
        out[f"insert_{batch}"] = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            conn.execute("BEGIN")
            conn.executemany("DELETE FROM m WHERE id = ?", [(x,) for x in ids[i : i + batch]])
            conn.execute("COMMIT")
        out[f"delete_{batch}"] = n / (time.perf_counter() - t0)
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return out


def _stamper(srv: Running, name: str) -> tuple[str, str]:
    """A function that sends (its event's key, its start time) to a stamps queue: its ARN and
    that queue's URL."""
    stamps = srv.client("sqs").create_queue(QueueName=f"{name}-stamps")["QueueUrl"]
    return stamp_function(srv, name, STAMP, ["sqs:*"], "*", stamps), stamps


def queue_delay(srv: Running, n: int) -> dict[str, Any]:
    sqs, lam = srv.client("sqs"), srv.client("lambda")
    arn, stamps = _stamper(srv, "queue-stamp")
    url = sqs.create_queue(QueueName="delay-in", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName=arn, EventSourceArn=queue_arn, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="warm")
    stamp_of(sqs, stamps, "warm")
    delays = []
    for i in range(n):
        time.sleep(0.05)  # the poller idle again
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
        acked = time.time()
        delays.append((stamp_of(sqs, stamps, f"m{i}") - acked) * 1000)
    s = Stats.of(delays)
    return {"n": s.n, "p50_ms": s.p50, "p99_ms": s.p99, "mean_ms": s.mean}


def topic_delay(srv: Running, n: int) -> dict[str, Any]:
    sqs, sns, lam = srv.client("sqs"), srv.client("sns"), srv.client("lambda")
    arn, stamps = _stamper(srv, "topic-stamp")
    topic = sns.create_topic(Name="delay-topic")["TopicArn"]
    lam.add_permission(
        FunctionName="topic-stamp",
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="warm")
    stamp_of(sqs, stamps, "warm")
    delays = []
    for i in range(n):
        sns.publish(TopicArn=topic, Message=f"p{i}")
        acked = time.time()
        delays.append((stamp_of(sqs, stamps, f"p{i}") - acked) * 1000)
    s = Stats.of(delays)
    return {"n": s.n, "p50_ms": s.p50, "p99_ms": s.p99, "mean_ms": s.mean}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples")
    args = parser.parse_args()
    rounds, duration = (2, 2.0) if args.quick else (3, 4.0)
    results: dict[str, Any] = {"machine": machine(), "region": REGION}
    with stratus_server() as srv:
        results["send"] = sends(srv, duration, rounds)
        url = srv.client("sqs").get_queue_url(QueueName="bench-send")["QueueUrl"]
        limit = min(results["send"]["queued"] // 2, 10000)
        results["receive_delete_1_per_s"] = uvloop.run(drain(srv.endpoint, url, 8, limit, 1))
        results["receive_delete_10_per_s"] = uvloop.run(drain(srv.endpoint, url, 8, limit, 10))
        floor_dir = Path(tempfile.mkdtemp(dir=srv.data_dir, prefix="floor-"))
        results["sqlite"] = sqlite_floor(floor_dir, 2000 if args.quick else 5000)
        results["queue_delay"] = queue_delay(srv, 50 if args.quick else 200)
        results["topic_delay"] = topic_delay(srv, 50 if args.quick else 200)
    s, q = results["send"], results["sqlite"]
    print(f"machine: {results['machine']}")
    print(
        f"SendMessage c={CONCURRENCY}: {s['send_1']:.0f} msg/s ({100 * s['send_1_vs_floor']:.0f}% of bare "
        f"aiohttp {s['floor']:.0f} req/s; raw SQLite commit per message {q['insert_1']:.0f}/s)"
    )
    print(
        f"SendMessageBatch of 10 c={CONCURRENCY}: {s['send_10_msgs']:.0f} msg/s "
        f"(raw SQLite per 10: {q['insert_10']:.0f}/s)"
    )
    print(
        f"receive+delete, batch 1: {results['receive_delete_1_per_s']:.0f} msg/s (raw SQLite deletes "
        f"per message {q['delete_1']:.0f}/s); batch 10: {results['receive_delete_10_per_s']:.0f} msg/s "
        f"(per 10 {q['delete_10']:.0f}/s)"
    )
    for key, label in (("queue_delay", "queue -> function"), ("topic_delay", "topic -> function")):
        d = results[key]
        print(
            f"{label} (ack -> handler start): p50 {d['p50_ms']:.1f} ms, p99 {d['p99_ms']:.1f} ms (n={d['n']})"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "messaging.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
