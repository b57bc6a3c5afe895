"""`python -m bench.coldstart_bench`: cold starts as issue 21 counts them: the first invoke of a
function sent right after its CreateFunction answered (no pause between them), over HTTP signed
before the clock starts (no boto3 on the clock), isolation on. Each function has code of its
own, so nothing is shared but the runtime.

    python -m bench.coldstart_bench                      # python3.11, 100 cold starts
    python -m bench.coldstart_bench --runtime nodejs20.x
    python -m bench.coldstart_bench --rev HEAD~3         # that revision's server, alternated
                                                         # with the working tree's

With --rev, two servers run side by side and the cold starts alternate between them, so a slow
moment of the machine falls on both. Prints p50 / p90 / p99 and the server's Init Duration
(from the REPORT line) for each.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import time
import uuid
from contextlib import ExitStack
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


class Side:
    """One server and what its cold starts measured."""

    def __init__(self, label: str, running: Any, runtime: str) -> None:
        self.label = label
        self.running = running
        self.lam = running.client()
        self.runtime = runtime
        self.latencies: list[float] = []
        self.inits: list[float] = []

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
        self.lam.delete_function(FunctionName=name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100, help="cold starts per side")
    parser.add_argument("--runtime", choices=sorted(CODE), default="python3.11")
    parser.add_argument("--rev", help="also run this revision's server, alternating with the working tree's")
    args = parser.parse_args()
    with ExitStack() as stack:
        sides = [Side("working tree", stack.enter_context(stratus_server()), args.runtime)]
        if args.rev:
            tree = stack.enter_context(exported(args.rev))
            before = stack.enter_context(stratus_server(PYTHONPATH=os.pathsep.join([str(tree)])))
            sides.insert(0, Side(args.rev, before, args.runtime))
        for side in sides:  # each runtime's zygote is up before the clock runs
            side.cold_start(-1)
            side.latencies.clear()
            side.inits.clear()
        for i in range(args.n):
            for side in sides if i % 2 == 0 else list(reversed(sides)):
                side.cold_start(i)
    print(f"machine: {machine()}; {args.runtime}; {args.n} cold starts per side, right after CreateFunction")
    for side in sides:
        print(f"{side.label:14s} first invoke {Stats.of(side.latencies).row()}")
        if side.inits:
            print(f"{'':14s} Init Duration {Stats.of(side.inits).row()}")


if __name__ == "__main__":
    main()
