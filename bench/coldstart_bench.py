"""`python -m bench.coldstart_bench`: cold starts as issue 21 counts them: the first invoke of a
function sent right after its CreateFunction answered (no pause between them), over HTTP signed
before the clock starts (no boto3 on the clock), isolation on. Each function has code of its
own, so nothing is shared but the runtime; 0.2 s pass between one cold start and the next
function's creation.

    python -m bench.coldstart_bench                      # python3.11, 100 cold starts
    python -m bench.coldstart_bench --runtime nodejs20.x
    python -m bench.coldstart_bench --rev HEAD~3         # that revision's server, alternated
                                                         # with the working tree's

With --rev, the two servers take turns in blocks (one server at a time: two side by side slowed
the one started first by half), so a slow stretch of the machine falls on both. Prints p50 / p90
/ p99 and the server's Init Duration (from the REPORT line) for each.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import re
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.common import ACCESS_KEY, REGION, ROLE, SECRET_KEY, Stats, machine, stratus_server, zip_of
from bench.http_ab import exported

CODE = {
    "python3.11": ({"app.py": "def handler(event, context):\n    return {}\n"}, "app.handler"),
    "nodejs20.x": ({"index.mjs": "export const handler = async () => ({});\n"}, "index.handler"),
}
INIT = re.compile(rb"Init Duration: ([\d.]+) ms")
SETTLE_S = 5.0
GAP_S = 0.2
BLOCKS = 4  # with --rev: each side's cold starts in this many blocks, alternating


class Side:
    """One server and what its cold starts measured."""

    def __init__(self, label: str, tree: Path | None, runtime: str) -> None:
        self.label = label
        self.tree = tree  # the source tree its server runs (None: the working tree)
        self.runtime = runtime
        self.latencies: list[float] = []
        self.inits: list[float] = []
        self.running: Any = None
        self.lam: Any = None

    def series(self, first: int, n: int) -> None:
        """n cold starts on a server of its own, started for them (its runtime's zygote warmed
        by one cold start that is not counted)."""
        env = {"PYTHONPATH": str(self.tree)} if self.tree else {}
        with stratus_server(**env) as running:
            self.running, self.lam = running, running.client()
            kept = len(self.latencies), len(self.inits)
            self.cold_start(-first - 1)
            del self.latencies[kept[0] :], self.inits[kept[1] :]
            # A new server spends its first seconds starting every Python runtime's zygote and
            # filling their pools of blank environments; cold starts are measured after that.
            time.sleep(SETTLE_S)
            for i in range(first, first + n):
                self.cold_start(i)

    def cold_start(self, i: int) -> None:
        files, handler = CODE[self.runtime]
        name = f"cold-{i}-{uuid.uuid4().hex[:6]}"
        comment = "\n// " if self.runtime.startswith("nodejs") else "\n# "
        self.lam.create_function(
            FunctionName=name,
            Runtime=self.runtime,
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": zip_of({path: text + comment + name for path, text in files.items()})},
        )
        url = f"{self.running.endpoint}/2015-03-31/functions/{name}/invocations"
        request = AWSRequest(method="POST", url=url, data=b"{}", headers={"X-Amz-Log-Type": "Tail"})
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.netloc)
        try:
            t0 = time.perf_counter()
            connection.request("POST", parts.path, body=b"{}", headers=dict(request.headers))
            response = connection.getresponse()
            response.read()
            self.latencies.append((time.perf_counter() - t0) * 1000)
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"invoke failed: {response.status}")
        found = INIT.search(base64.b64decode(response.getheader("X-Amz-Log-Result") or ""))
        if found:
            self.inits.append(float(found.group(1)))
        # Between two cold starts the server refills its pool of blank environments, as it does
        # between deploys; back to back, a series measures how fast that pool refills instead.
        time.sleep(GAP_S)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100, help="cold starts per side")
    parser.add_argument("--runtime", choices=sorted(CODE), default="python3.11")
    parser.add_argument("--rev", help="also run this revision's server, alternating with the working tree's")
    args = parser.parse_args()
    with ExitStack() as stack:
        sides = [Side("working tree", None, args.runtime)]
        if args.rev:
            sides.insert(0, Side(args.rev, stack.enter_context(exported(args.rev)), args.runtime))
        # One server at a time (two side by side slow each other's cold starts unevenly), in
        # alternating blocks, so a slow stretch of the machine falls on both.
        blocks = BLOCKS if args.rev else 1
        for block in range(blocks):
            for side in sides if block % 2 == 0 else list(reversed(sides)):
                share = args.n // blocks + (1 if block < args.n % blocks else 0)
                side.series(block * 10_000, share)
    print(f"machine: {machine()}; {args.runtime}; {args.n} cold starts per side, right after CreateFunction")
    for side in sides:
        print(f"{side.label:14s} first invoke {Stats.of(side.latencies).row()}")
        if side.inits:
            print(f"{'':14s} Init Duration {Stats.of(side.inits).row()}")


if __name__ == "__main__":
    main()
