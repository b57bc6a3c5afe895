"""`python -m bench.tables_bench [--quick]`: the table store against its floors and moto, in one run.

- PutItem and GetItem of a ~250-byte item at concurrency 32, signed JSON requests as boto3 sends
  them (signed once per body and reused, so the client's signing stays out of the measurement;
  each worker cycles over 16 keys of its own): throughput and p50/p99 latency, against a bare
  aiohttp + uvloop server answering the same requests, and against moto's server (its
  ThreadedMotoServer, in a process of its own), the same client driving all three, rounds
  interleaved so that all see the same machine weather;
- the store's floor: raw SQLite as Stratus opens it (WAL, synchronous=FULL, exclusive locking,
  in the server's data dir's filesystem), the same row shape (key BLOBs, the item's JSON):
  INSERT OR REPLACE committed per row and per 32 rows (the most group commit can gather at
  concurrency 32), and primary key SELECTs;
- Query: 100,000 items as 1,000 partition keys x 100 sort keys, loaded by BatchWriteItem at
  concurrency 32; a Query of one partition key (exactly 100 items) p50/p99, one client; and one
  partition key with 100,000 sort keys, a Query of `sk >= :s` with Limit 100 from random starts;
  against raw SQLite's equivalent range SELECT and against moto (loaded the same way, within a
  time budget: if it runs out, fewer items and the output says how many; a tenth of the
  samples, since moto takes about a second per Query at 100,000 items);
- stream delay: from PutItem's acknowledgement to the start of the function a stream event
  source mapping (LATEST, BatchSize 1) invokes (its handler's time.time(), sent back on a
  queue), one write at a time, 50 ms apart.
Results in bench/results/tables.json. DynamoDB Local is a JVM jar that cannot be fetched here,
so moto is the peer measured.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib.util
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    free_port,
    hello_floor,
    machine,
    stamp_function,
    stratus_server,
)
from stratus.store.sqlite import connect, transaction

CONCURRENCY = 32
KEYS_PER_WORKER = 16
PARTITIONS, PER_PARTITION = 1000, 100  # the Query table: 100,000 items
WIDE = 100_000  # the one-partition table's sort keys
Signed = tuple[bytes, dict[str, str]]

STAMP = """
import json, os, time
import boto3
sqs = boto3.client("sqs")

def handler(event, context):
    started = time.time()
    for record in event["Records"]:
        key = record["dynamodb"]["Keys"]["pk"]["S"]
        sqs.send_message(QueueUrl=os.environ["STAMPS"], MessageBody=json.dumps([key, started]))
"""


def signed(endpoint: str, operation: str, params: dict[str, Any]) -> Signed:
    body = json.dumps(params).encode()
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={
            "X-Amz-Target": f"DynamoDB_20120810.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "dynamodb", REGION).add_auth(request)
    return body, dict(request.headers)


def item_of(pk: str, sk: str | None = None, n: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": pk},
        "name": {"S": "A. N. Example"},
        "visits": {"N": str(n)},
        "active": {"BOOL": True},
        "tags": {"SS": ["blue", "green"]},
        "bio": {"S": "x" * 120},
    }
    if sk is not None:
        item["sk"] = {"S": sk}
    return item


def create_table(client: Any, name: str, *, ranged: bool, stream: bool = False) -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if ranged:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    client.create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST", **extra
    )
    deadline = time.monotonic() + 60
    while client.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} not ACTIVE")
        time.sleep(0.1)


# -- the peer -------------------------------------------------------------------------------


@contextmanager
def moto_server() -> Iterator[str | None]:
    """moto's ThreadedMotoServer in a process of its own (so that it does not share the
    client's interpreter), or None when moto is not installed."""
    if importlib.util.find_spec("moto") is None:
        yield None
        return
    port = free_port()
    code = (
        "import threading\nfrom moto.server import ThreadedMotoServer\n"
        f"ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False).start()\n"
        "threading.Event().wait()\n"
    )
    quiet = subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=quiet, stderr=quiet)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto's server did not come up") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- Put/Get at concurrency 32 -----------------------------------------------------------------


async def hammer(url: str, pools: list[list[Signed]], duration: float) -> dict[str, float]:
    """Requests per second and latency percentiles, one worker per pool, each posting its
    pool's requests in turn, back to back."""
    latencies: list[float] = []
    stop = time.perf_counter() + duration
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=len(pools))) as session:

        async def worker(pool: list[Signed]) -> None:
            i = 0
            while time.perf_counter() < stop:
                body, headers = pool[i % len(pool)]
                i += 1
                t0 = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"answered {r.status}: {(await r.text())[:200]}")
                latencies.append((time.perf_counter() - t0) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(pool) for pool in pools))
        elapsed = time.perf_counter() - t0
    s = Stats.of(latencies)
    return {"per_s": len(latencies) / elapsed, "p50_ms": s.p50, "p99_ms": s.p99}


def put_get_pools(endpoint: str, table: str) -> tuple[list[list[Signed]], list[list[Signed]]]:
    puts, gets = [], []
    for w in range(CONCURRENCY):
        keys = [f"user#{w:02d}-{i:02d}" for i in range(KEYS_PER_WORKER)]
        puts.append([signed(endpoint, "PutItem", {"TableName": table, "Item": item_of(k)}) for k in keys])
        gets.append(
            [signed(endpoint, "GetItem", {"TableName": table, "Key": {"pk": {"S": k}}}) for k in keys]
        )
    return puts, gets


def check_get(endpoint: str, request: Signed) -> None:
    """The GetItem measured finds its item (a miss would be cheaper than a hit)."""
    conn = _connection(endpoint)
    conn.request("POST", "/", body=request[0], headers=request[1])
    answer = json.loads(conn.getresponse().read())
    conn.close()
    if "Item" not in answer:
        raise RuntimeError(f"GetItem found nothing at {endpoint}: {answer}")


def put_get(targets: dict[str, str], rounds: int, duration: float) -> dict[str, Any]:
    """`targets`: name -> endpoint with a table `kv`; the floor is added here."""
    pools = {name: put_get_pools(endpoint, "kv") for name, endpoint in targets.items()}
    samples: dict[str, list[dict[str, float]]] = {}
    with hello_floor() as hello:
        floor_pools = put_get_pools(f"http://{hello}", "kv")
        for name, endpoint in targets.items():  # the items exist before they are read
            uvloop.run(hammer(endpoint + "/", pools[name][0], 0.2))
            check_get(endpoint, pools[name][1][0][0])
        for _ in range(rounds):
            for name, endpoint in [*targets.items(), ("floor", f"http://{hello}")]:
                put_pool, get_pool = floor_pools if name == "floor" else pools[name]
                for op, pool in (("put", put_pool), ("get", get_pool)):
                    measured = uvloop.run(hammer(endpoint + "/", pool, duration))
                    samples.setdefault(f"{name}_{op}", []).append(measured)
    # Each figure's median over the rounds.
    return {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in samples.items()}


# -- loading and Query -------------------------------------------------------------------------


async def load(
    endpoint: str, table: str, batches: list[list[dict[str, Any]]], budget: float
) -> tuple[set[int], float]:
    """BatchWriteItem of each batch at concurrency 32 until done or `budget` seconds have
    passed (no new batch is sent after that): the indexes of the batches written, and the time."""
    done: set[int] = set()
    todo = iter(enumerate(batches))
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def worker() -> None:
            for index, items in todo:
                if time.perf_counter() - t0 > budget:
                    return
                requests = {table: [{"PutRequest": {"Item": it}} for it in items]}
                while requests:
                    body, headers = signed(endpoint, "BatchWriteItem", {"RequestItems": requests})
                    async with session.post(endpoint + "/", data=body, headers=headers) as r:
                        answer = await r.json(content_type=None)
                        if r.status != 200:
                            raise RuntimeError(f"BatchWriteItem answered {r.status}: {answer}")
                    requests = answer.get("UnprocessedItems") or {}
                done.add(index)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done, time.perf_counter() - t0


def _chunks(items: list[dict[str, Any]], size: int = 25) -> list[list[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def partition_batches() -> list[list[dict[str, Any]]]:
    """1,000 partitions x 100 items, in partition order (4 batches per partition)."""
    items = [item_of(f"p{p:04d}", f"{s:06d}", s) for p in range(PARTITIONS) for s in range(PER_PARTITION)]
    return _chunks(items)


def wide_batches() -> list[list[dict[str, Any]]]:
    return _chunks([item_of("wide", f"{s:06d}", s) for s in range(WIDE)])


def _connection(endpoint: str) -> http.client.HTTPConnection:
    """A new connection (a server closes one left idle, as during loading)."""
    parts = urlsplit(endpoint)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)


def query_latencies(endpoint: str, requests: list[Signed]) -> tuple[list[float], int]:
    """Each query's time on one kept-alive connection (ms), and the first answer's Count."""
    conn = _connection(endpoint)
    samples, count = [], -1
    for body, headers in requests:
        t0 = time.perf_counter()
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        samples.append((time.perf_counter() - t0) * 1000)
        if response.status != 200:
            raise RuntimeError(f"Query answered {response.status}: {answer[:200]!r}")
        if count < 0:
            count = int(json.loads(answer)["Count"])
    conn.close()
    if count != PER_PARTITION:  # a page of another size would not be the page measured
        raise RuntimeError(f"a Query at {endpoint} answered {count} items, not {PER_PARTITION}")
    return samples, count


def queries(endpoint: str, n: int, partitions: list[int], wide_loaded: int, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    warm = min(20, max(2, n // 5))  # the first queries warm the connection and caches
    by_partition = (
        []
        if not partitions
        else [
            signed(
                endpoint,
                "Query",
                {
                    "TableName": "parts",
                    "KeyConditionExpression": "pk = :p",
                    "ExpressionAttributeValues": {":p": {"S": f"p{rng.choice(partitions):04d}"}},
                },
            )
            for _ in range(n + warm)
        ]
    )
    out: dict[str, Any] = {}
    if partitions:
        samples, count = query_latencies(endpoint, by_partition)
        s = Stats.of(samples[warm:])
        out["partition"] = {"n": s.n, "p50_ms": s.p50, "p99_ms": s.p99, "count": count}
    if wide_loaded >= 2 * PER_PARTITION:
        wide = [
            signed(
                endpoint,
                "Query",
                {
                    "TableName": "wide",
                    "KeyConditionExpression": "pk = :p AND sk >= :s",
                    "ExpressionAttributeValues": {
                        ":p": {"S": "wide"},
                        ":s": {"S": f"{rng.randrange(wide_loaded - PER_PARTITION):06d}"},
                    },
                    "Limit": PER_PARTITION,
                },
            )
            for _ in range(n + warm)
        ]
        samples, count = query_latencies(endpoint, wide)
        s = Stats.of(samples[warm:])
        out["wide"] = {"n": s.n, "p50_ms": s.p50, "p99_ms": s.p99, "count": count, "items": wide_loaded}
    return out


def load_and_query(endpoint: str, client: Any, n: int, budget: float) -> dict[str, Any]:
    create_table(client, "parts", ranged=True)
    create_table(client, "wide", ranged=True)
    done, seconds = uvloop.run(load(endpoint, "parts", partition_batches(), budget))
    per = PER_PARTITION // 25
    partitions = [p for p in range(PARTITIONS) if all(p * per + b in done for b in range(per))]
    out: dict[str, Any] = {
        "parts_items": 25 * len(done),
        "parts_full_partitions": len(partitions),
        "load_items_per_s": 25 * len(done) / seconds,
    }
    done, _ = uvloop.run(load(endpoint, "wide", wide_batches(), budget))
    prefix = next((i for i in range(len(done) + 1) if i not in done), 0)  # sort keys loaded without gaps
    out.update(queries(endpoint, n, partitions, 25 * prefix))
    return out


# -- raw SQLite ----------------------------------------------------------------------------------

ROWS = """
CREATE TABLE items (
    table_id INTEGER NOT NULL, pk BLOB NOT NULL, sk BLOB NOT NULL, hash INTEGER NOT NULL,
    item TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (table_id, pk, sk)
);
"""


def _row(table_id: int, pk: str, sk: str, n: int) -> tuple[Any, ...]:
    text = json.dumps(item_of(pk, sk or None, n))
    return (table_id, pk.encode(), sk.encode(), hash(pk) & 0xFFFF, text, len(text))


def sqlite_floor(directory: Path, n: int, queries_n: int) -> dict[str, Any]:
    """Raw SQLite opened as Stratus opens its stores: puts committed one per row and 32 per
    commit, primary key gets, and the Query's range SELECTs over 100,000 + 100,000 rows."""
    out: dict[str, Any] = {}
    conn = connect(directory / "floor.db")
    conn.executescript(ROWS)
    upsert = "INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?)"
    rows = [_row(1, f"user#{i:05d}", "", i) for i in range(n)]
    for batch in (1, CONCURRENCY):
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            with transaction(conn):
                conn.executemany(upsert, rows[i : i + batch])
        out[f"put_{batch}_per_s"] = n / (time.perf_counter() - t0)
    rng = random.Random(2)
    picks = [rows[rng.randrange(n)][1] for _ in range(20 * n)]
    t0 = time.perf_counter()
    for pk in picks:
        conn.execute("SELECT item FROM items WHERE table_id = 1 AND pk = ? AND sk = ?", (pk, b"")).fetchone()
    out["get_per_s"] = len(picks) / (time.perf_counter() - t0)
    with transaction(conn):
        conn.executemany(
            upsert,
            (_row(2, f"p{p:04d}", f"{s:06d}", s) for p in range(PARTITIONS) for s in range(PER_PARTITION)),
        )
        conn.executemany(upsert, (_row(3, "wide", f"{s:06d}", s) for s in range(WIDE)))
    part = "SELECT item FROM items WHERE table_id = 2 AND pk = ? ORDER BY sk LIMIT 100"
    wide = "SELECT item FROM items WHERE table_id = 3 AND pk = ? AND sk >= ? ORDER BY sk LIMIT 100"
    for name, sql, args in (
        ("partition", part, lambda: (f"p{rng.randrange(PARTITIONS):04d}".encode(),)),
        ("wide", wide, lambda: (b"wide", f"{rng.randrange(WIDE - PER_PARTITION):06d}".encode())),
    ):
        samples = []
        for _ in range(queries_n):
            bound = args()
            t0 = time.perf_counter()
            got = conn.execute(sql, bound).fetchall()
            samples.append((time.perf_counter() - t0) * 1000)
            assert len(got) == PER_PARTITION
        s = Stats.of(samples)
        out[f"query_{name}"] = {"n": s.n, "p50_ms": s.p50, "p99_ms": s.p99}
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{directory / 'floor.db'}{suffix}").unlink(missing_ok=True)
    return out


# -- stream delay ----------------------------------------------------------------------------------


def _stamp_of(sqs: Any, stamps: str, key: str, timeout: float = 60) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=stamps, WaitTimeSeconds=1, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=stamps, ReceiptHandle=m["ReceiptHandle"])
            got, started = json.loads(m["Body"])
            if got == key:
                return float(started)
    return None


def stream_delay(srv: Running, n: int) -> dict[str, Any]:
    ddb, sqs, lam = srv.client("dynamodb"), srv.client("sqs"), srv.client("lambda")
    create_table(ddb, "streamed", ranged=False, stream=True)
    stream_arn = ddb.describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
    stamps = sqs.create_queue(QueueName="stream-stamps")["QueueUrl"]
    arn = stamp_function(srv, "stream-stamp", STAMP, ["sqs:*", "dynamodb:*"], "*", stamps)
    lam.create_event_source_mapping(
        FunctionName=arn, EventSourceArn=stream_arn, StartingPosition="LATEST", BatchSize=1
    )
    # LATEST starts where the mapping's reader first looks: write until a write is seen (and
    # the function's environment is warm).
    for w in range(30):
        ddb.put_item(TableName="streamed", Item={"pk": {"S": f"warm{w}"}})
        if _stamp_of(sqs, stamps, f"warm{w}", timeout=5) is not None:
            break
    else:
        raise TimeoutError("the stream mapping delivered none of 30 writes")
    from_ack, from_send = [], []
    for i in range(n):
        time.sleep(0.05)  # the reader idle again
        sent = time.time()
        ddb.put_item(TableName="streamed", Item=item_of(f"s{i}"))
        acked = time.time()
        started = _stamp_of(sqs, stamps, f"s{i}")
        if started is None:
            raise TimeoutError(f"no stamp for s{i}")
        from_ack.append((started - acked) * 1000)
        from_send.append((started - sent) * 1000)
    a, s = Stats.of(from_ack), Stats.of(from_send)
    return {"n": a.n, "p50_ms": a.p50, "p99_ms": a.p99, "from_send_p50_ms": s.p50, "from_send_p99_ms": s.p99}


# -- the run ----------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> None:
    pg, sq = results["put_get"], results["sqlite"]
    moto = results.get("moto")
    print(f"machine: {results['machine']}")
    rows: list[tuple[str, str, str, str]] = []

    def mark(ok: bool) -> str:
        return "yes" if ok else "NO"

    for op in ("put", "get"):
        s, floor = pg[f"stratus_{op}"], pg[f"floor_{op}"]
        name = "PutItem" if op == "put" else "GetItem"
        ratio = s["per_s"] / floor["per_s"]
        rows.append(
            (
                f"{name} c={CONCURRENCY}",
                f"{s['per_s']:.0f}/s p50 {s['p50_ms']:.1f} p99 {s['p99_ms']:.1f} ms; bare aiohttp "
                f"{floor['per_s']:.0f}/s: {ratio:.2f}",
                ">= 0.33",
                mark(ratio >= 0.33),
            )
        )
        raw = (
            f"raw SQLite commit per row {sq['put_1_per_s']:.0f}/s ({s['per_s'] / sq['put_1_per_s']:.2f}x), "
            f"per 32 rows {sq['put_32_per_s']:.0f}/s ({s['per_s'] / sq['put_32_per_s']:.2f}x)"
            if op == "put"
            else f"raw SQLite primary key SELECT {sq['get_per_s']:.0f}/s "
            f"({s['per_s'] / sq['get_per_s']:.3f}x)"
        )
        rows.append((f"{name} vs raw SQLite", raw, "(ratio)", "-"))
        if moto is None:
            rows.append((f"{name} vs moto", "moto: not installed", "> 1", "-"))
        else:
            m = pg[f"moto_{op}"]
            rows.append(
                (
                    f"{name} vs moto",
                    f"moto {m['per_s']:.0f}/s p50 {m['p50_ms']:.1f} p99 {m['p99_ms']:.1f} ms: "
                    f"{s['per_s'] / m['per_s']:.2f}x",
                    "> 1",
                    mark(s["per_s"] > m["per_s"]),
                )
            )
    q = results["query"]
    shapes = (("partition", "Query 100 of 100k (1,000 pk x 100)"), ("wide", "Query 100 of 1 pk x 100k"))
    for shape, label in shapes:
        if shape not in q:
            continue
        s = q[shape]
        raw = sq[f"query_{shape}"]
        text = f"p50 {s['p50_ms']:.2f} p99 {s['p99_ms']:.2f} ms (n={s['n']}); "
        text += f"raw SQLite p50 {raw['p50_ms']:.3f} ms"
        if moto is None:
            text += "; moto: not installed"
        elif shape in moto:
            mq = moto[shape]
            sized = f", {mq['items']} items" if shape == "wide" else f", {moto['parts_items']} items"
            text += f"; moto p50 {mq['p50_ms']:.2f} p99 {mq['p99_ms']:.2f} ms (n={mq['n']}{sized})"
        rows.append((label, text, "p50 < 5 ms", mark(s["p50_ms"] < 5)))
    rows.append(
        (
            "loading by BatchWriteItem",
            f"{q['load_items_per_s']:.0f} items/s"
            + ("" if moto is None else f"; moto {moto['load_items_per_s']:.0f} items/s"),
            "-",
            "-",
        )
    )
    if moto is not None and moto["parts_items"] < PARTITIONS * PER_PARTITION:
        print(
            f"NOTE: moto loaded {moto['parts_items']} of {PARTITIONS * PER_PARTITION} items of the Query "
            f"table within its time budget; its Query figures are over that many"
        )
    d = results["stream_delay"]
    rows.append(
        (
            "stream delay (ack -> handler start)",
            f"p50 {d['p50_ms']:.1f} p99 {d['p99_ms']:.1f} ms (n={d['n']}; "
            f"from send p50 {d['from_send_p50_ms']:.1f})",
            "p50 < 50 ms",
            mark(d["p50_ms"] < 50),
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in [("measure", "result", "target", "met"), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and samples, shorter moto budgets")
    args = parser.parse_args()
    rounds, duration = (2, 2.0) if args.quick else (3, 4.0)
    samples = 200 if args.quick else 1000
    budget = 60.0 if args.quick else 300.0  # moto's time to load each Query table
    results: dict[str, Any] = {"machine": machine(), "region": REGION, "quick": args.quick}
    with stratus_server() as srv, moto_server() as moto:
        targets = {"stratus": srv.endpoint}
        create_table(srv.client("dynamodb"), "kv", ranged=False)
        if moto is None:
            print("moto: not installed")
        else:
            peer = Running(moto, srv.data_dir)
            create_table(peer.client("dynamodb"), "kv", ranged=False)
            targets["moto"] = moto
        results["put_get"] = put_get(targets, rounds, duration)
        floor_dir = Path(tempfile.mkdtemp(dir=srv.data_dir, prefix="floor-"))
        results["sqlite"] = sqlite_floor(floor_dir, 1000 if args.quick else 3000, samples)
        # Stratus has no budget: all 100,000 + 100,000 items, however long it takes.
        results["query"] = load_and_query(srv.endpoint, srv.client("dynamodb"), samples, float("inf"))
        if moto is not None:
            peer_client = Running(moto, srv.data_dir).client("dynamodb")
            # moto scans a table for each Query (about a second here at 100,000 items): fewer
            # samples, said in the output.
            results["moto"] = load_and_query(moto, peer_client, samples // 10, budget)
        results["stream_delay"] = stream_delay(srv, 50 if args.quick else 200)
    report(results)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "tables.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
