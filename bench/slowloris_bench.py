"""A slowloris attack on a real server, and what a well-behaved client sees meanwhile.

The attacker (a process of its own, loopback only, bounded in connections and time) keeps
ATTACK connections open, each with a request line and part of a header, and dribbles a byte
into each every few seconds; whenever the server closes one, it opens another. The server runs
with a cap of CAP connections, below ATTACK, and its other settings at their defaults. A boto3
client alternates ListFunctions and Invoke, alone and then during the attack, and the bench
prints its latency in both, with what the attacker saw.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid

from bench.common import NOOP, ROLE, Stats, machine, stratus_server, zip_of

ATTACK = 3000  # connections the attacker keeps open (well past the cap)
CAP = 1000
SECONDS = 20.0  # how long the attack lasts
CALLS = 200  # well-behaved calls measured alone


async def attack(port: int, count: int, seconds: float) -> dict[str, int]:
    stop = time.monotonic() + seconds
    stats = {"opened": 0, "closed_by_server": 0, "refused": 0}

    async def one() -> None:
        while time.monotonic() < stop:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                stats["refused"] += 1
                await asyncio.sleep(0.1)
                continue
            stats["opened"] += 1
            try:
                writer.write(b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ")
                while time.monotonic() < stop:
                    try:
                        if await asyncio.wait_for(reader.read(1024), timeout=3.0) == b"":
                            stats["closed_by_server"] += 1
                            break
                    except TimeoutError:
                        writer.write(b"a")  # dribble
                    except ConnectionError:
                        stats["closed_by_server"] += 1
                        break
            finally:
                writer.close()

    await asyncio.gather(*(one() for _ in range(count)))
    return stats


def measure(lam: object, name: str, until: float | None, calls: int) -> list[float]:
    samples: list[float] = []
    i = 0
    while (until is None and i < calls) or (until is not None and time.monotonic() < until):
        t0 = time.perf_counter()
        if i % 2:
            lam.invoke(FunctionName=name, Payload=b"{}")  # type: ignore[attr-defined]
        else:
            lam.list_functions(MaxItems=1)  # type: ignore[attr-defined]
        samples.append((time.perf_counter() - t0) * 1000)
        i += 1
    return samples


def main() -> None:
    with stratus_server(STRATUS_MAX_CONNECTIONS=str(CAP)) as srv:
        lam = srv.client()
        name = f"loris-{uuid.uuid4().hex[:6]}"
        lam.create_function(
            FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": zip_of(NOOP)},
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        measure(lam, name, None, 20)  # warm
        alone = Stats.of(measure(lam, name, None, CALLS))
        port = srv.endpoint.rsplit(":", 1)[1]
        attacker = subprocess.Popen(
            [sys.executable, "-m", "bench.slowloris_bench", "--attack", port, str(ATTACK), str(SECONDS)],
            stdout=subprocess.PIPE, text=True,
        )
        time.sleep(SECONDS / 4)  # let the attacker fill the cap
        during = Stats.of(measure(lam, name, time.monotonic() + SECONDS / 2, 0))
        out, _ = attacker.communicate(timeout=SECONDS + 60)
        seen = json.loads(out.strip().splitlines()[-1])
        after = Stats.of(measure(lam, name, None, 20))
    print(f"slowloris bench on {machine()}")
    print(f"attack: {ATTACK} dribbling half-open connections for {SECONDS:.0f} s, server cap {CAP}")
    print(f"attacker: {seen}")
    print(f"well-behaved (ListFunctions/Invoke) alone:         {alone.row()}")
    print(f"well-behaved (ListFunctions/Invoke) under attack:  {during.row()}")
    print(f"well-behaved after the attack:                     {after.row()}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--attack"]:
        port, count, seconds = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        print(json.dumps(asyncio.run(attack(port, count, seconds))))
    else:
        main()
