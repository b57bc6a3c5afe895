"""`python -m bench.schedule_bench`: the delay from a schedule's due time to the start of the
function it invokes. A rate(1 minute) rule runs at 60x speed (every second) for N firings; the
function reports when it started, and due times follow from the rule's creation time."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.common import ROLE, Stats, machine, stratus_server, zip_of

APP = """
import json, os, time, urllib.request

def handler(event, context):
    body = json.dumps({"started": time.time()}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["COLLECTOR"], data=body), timeout=5).read()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    starts: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            starts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["started"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    collector = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{collector.server_address[1]}/"
    with stratus_server(STRATUS_SCHEDULE_SPEEDUP="60") as srv:
        lam, events = srv.client(), srv.client("events")
        arn = lam.create_function(
            FunctionName="tick",
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_of({"app.py": APP})},
            Environment={"Variables": {"COLLECTOR": url}},
        )["FunctionArn"]
        before = time.time()
        events.put_rule(Name="tick", ScheduleExpression="rate(1 minute)")
        after = time.time()
        events.put_targets(Rule="tick", Targets=[{"Id": "fn", "Arn": arn}])
        while len(starts) < args.n:
            time.sleep(0.1)
        events.disable_rule(Name="tick")
    collector.shutdown()
    created = (before + after) / 2  # the rule's creation time, within the call's duration
    delays = [(s - (created + k + 1)) * 1000 for k, s in enumerate(sorted(starts)[: args.n])]
    stats = Stats.of(delays[1:])  # the first firing includes the function's cold start
    print(f"machine: {machine()}")
    print(f"first firing (cold start included): {delays[0]:.1f} ms after its due time")
    print(
        f"schedule delay, due time to handler start: {stats.row()} "
        f"(put_rule call took {(after - before) * 1000:.1f} ms, the bound on this error)"
    )


if __name__ == "__main__":
    main()
