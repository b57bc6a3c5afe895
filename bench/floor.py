"""The two-process floor: the least any design with the function in another process can do.

An aiohttp + uvloop front hands each request, as a small JSON event, over a socketpair to one
of two worker processes running a no-op handler, and answers with the handler's result. Like a
Lambda environment, a worker has one event at a time (`--depth 1`, the default): the front
queues the rest and hands the next over as a result comes back. There is no isolation, no other
Lambda semantics (no deadlines, no request ids) and no logs or metrics: whatever Stratus spends
above this is the price of what it does on top. `--depth N` lets a worker take N events back to
back (it then reads and answers several per wake-up), a floor no Lambda-like design can reach.

Frames both ways are a 4-byte big-endian length and a JSON document. The worker is plain
Python with the standard library, as a function's interpreter would be (or, with `--worker
node`, plain Node.js, the floor for Node functions); the front uses orjson, as Stratus's
server does.

Run alone: `python -m bench.floor --port 8123`; benches use `two_process_floor()`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import uvloop
from aiohttp import web

WORKERS = 2

# The worker: read frames, run the handler on each event, write the results (all the results
# of one read in one write, as a runtime that reads what is there would).
WORKER = """
import json, socket, sys
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
sock = socket.socket(fileno=int(sys.argv[1]))
buf = b""
while True:
    data = sock.recv(1 << 16)
    if not data:
        break
    buf += data
    out = []
    while len(buf) >= 4:
        size = int.from_bytes(buf[:4], "big")
        if len(buf) < 4 + size:
            break
        event = json.loads(buf[4 : 4 + size])
        buf = buf[4 + size :]
        result = json.dumps(handler(event, None)).encode()
        out.append(len(result).to_bytes(4, "big") + result)
    if out:
        sock.sendall(b"".join(out))
"""

# The same worker in Node.js (the floor for Node functions): frames in, a no-op async handler
# awaited per event, the results of one read in one write.
NODE_WORKER = """
const net = require("net");
const handler = async (event, context) => ({ statusCode: 200, body: "ok" });
const sock = new net.Socket({ fd: Number(process.argv[1]), readable: true, writable: true });
let buf = Buffer.alloc(0);
sock.on("data", async (data) => {
  buf = buf.length ? Buffer.concat([buf, data]) : data;
  const events = [];
  while (buf.length >= 4) {
    const size = buf.readUInt32BE(0);
    if (buf.length < 4 + size) break;
    events.push(JSON.parse(buf.subarray(4, 4 + size).toString()));
    buf = buf.subarray(4 + size);
  }
  const out = [];
  for (const event of events) {
    const result = Buffer.from(JSON.stringify(await handler(event, null)));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(result.length, 0);
    out.push(head, result);
  }
  if (out.length) sock.write(Buffer.concat(out));
});
sock.on("end", () => process.exit(0));
"""
WORKER_ARGV = {"python": [sys.executable, "-c", WORKER], "node": ["node", "-e", NODE_WORKER]}


class Worker(asyncio.Protocol):
    """The front's end of one worker's socketpair: results come back in the order sent."""

    def __init__(self, front: Front) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self._buf = b""
        self._front = front

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data
        while len(buf) >= 4:
            size = int.from_bytes(buf[:4], "big")
            if len(buf) < 4 + size:
                break
            result = orjson.loads(buf[4 : 4 + size])
            buf = buf[4 + size :]
            self.waiting.popleft().set_result(result)
            self._front.freed(self)
        self._buf = buf

    def connection_lost(self, exc: Exception | None) -> None:
        while self.waiting:
            self.waiting.popleft().set_exception(ConnectionError("worker gone"))

    def send(self, event: dict[str, Any], future: asyncio.Future[Any]) -> None:
        assert self.transport is not None
        self.waiting.append(future)
        body = orjson.dumps(event)
        self.transport.write(len(body).to_bytes(4, "big") + body)


class Front:
    def __init__(self, depth: int, worker: str = "python") -> None:
        self.depth = depth
        self.worker_argv = WORKER_ARGV[worker]
        self.workers: list[Worker] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.queued: deque[tuple[dict[str, Any], asyncio.Future[Any]]] = deque()

    def freed(self, worker: Worker) -> None:
        if self.queued and len(worker.waiting) < self.depth:
            worker.send(*self.queued.popleft())

    async def start(self, app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(WORKERS):
            mine, theirs = socket.socketpair()
            proc = subprocess.Popen([*self.worker_argv, str(theirs.fileno())], pass_fds=(theirs.fileno(),))
            theirs.close()
            _, worker = await loop.create_unix_connection(lambda: Worker(self), sock=mine)
            self.workers.append(worker)
            self.procs.append(proc)

    async def stop(self, app: web.Application) -> None:
        for worker in self.workers:
            if worker.transport is not None:
                worker.transport.close()  # the worker reads EOF and exits
        for proc in self.procs:
            while proc.poll() is None:  # the close happens on the loop: do not block it
                await asyncio.sleep(0.01)

    async def handle(self, request: web.Request) -> web.Response:
        event = {
            "rawPath": request.path,
            "rawQueryString": request.query_string,
            "requestContext": {"http": {"method": request.method, "sourceIp": request.remote}},
            "body": (await request.read()).decode("utf-8", "replace"),
        }
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker = min(self.workers, key=lambda w: len(w.waiting))
        if len(worker.waiting) < self.depth:
            worker.send(event, future)
        else:
            self.queued.append((event, future))
        result = await future
        return web.Response(status=result["statusCode"], text=result["body"])


def serve(port: int, depth: int = 1, worker: str = "python") -> None:
    front = Front(depth, worker)
    app = web.Application()
    app.on_startup.append(front.start)
    app.on_cleanup.append(front.stop)
    app.router.add_route("*", "/{tail:.*}", front.handle)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@contextmanager
def two_process_floor(depth: int = 1, worker: str = "python") -> Iterator[tuple[str, int]]:
    """The floor in its own process group: (host:port, the front's pid); `worker` is "python"
    or "node", the workers' language."""
    from bench.common import free_port, wait_http

    port = free_port()
    argv = [sys.executable, "-m", "bench.floor", "--port", str(port), "--depth", str(depth)]
    argv += ["--worker", worker]
    proc = subprocess.Popen(argv, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        yield f"127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--depth", type=int, default=1, help="events a worker may hold at once")
    parser.add_argument(
        "--worker", choices=sorted(WORKER_ARGV), default="python", help="the workers' language"
    )
    args = parser.parse_args()
    serve(args.port, args.depth, args.worker)


if __name__ == "__main__":
    main()
