"""`python -m bench.async_bench`: asynchronous invocation throughput for a no-op function.

- accepted: InvocationType=Event requests answered 202 per second (each one durably committed),
  driven by wrk with pre-signed requests at concurrency 8 and 64;
- end to end: from the first accepted event to the queue being empty, in events per second.
The floor is the same run's synchronous warm throughput at the same concurrency.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bench.common import ACCESS_KEY, NOOP, REGION, ROLE, SECRET_KEY, machine, stratus_server, zip_of
from bench.load import drive


def signed_headers(url: str, invocation_type: str) -> dict[str, str]:
    request = AWSRequest(
        method="POST", url=url, data=b"{}", headers={"X-Amz-Invocation-Type": invocation_type}
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
    return dict(request.headers)


def queue_depth(endpoint: str) -> int:
    """The server's stratus_async_queue_depth gauge, from a signed Prometheus scrape (the
    server holds its databases in exclusive locking mode, so they are not read from outside)."""
    url = f"{endpoint}/_stratus/metrics"
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers))) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("stratus_async_queue_depth "):
                return int(float(line.split()[1]))
    raise RuntimeError("no stratus_async_queue_depth in the scrape")


def main() -> None:
    results: dict[str, Any] = {}
    with stratus_server() as srv:
        lam = srv.client()
        lam.create_function(
            FunctionName="noop",
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_of(NOOP)},
        )
        url = f"{srv.endpoint}/2015-03-31/functions/noop/invocations"
        for concurrency in (8, 64):
            sync = drive(url, signed_headers(url, "RequestResponse"), b"{}", concurrency, 3.0)
            while queue_depth(srv.endpoint):
                time.sleep(0.2)
            started = time.perf_counter()
            accepted = drive(url, signed_headers(url, "Event"), b"{}", concurrency, 3.0)
            total = accepted.rate * 3
            while queue_depth(srv.endpoint):
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            results[f"c{concurrency}"] = {
                "accepted_per_s": accepted.rate,
                "accept_p50_ms": accepted.p50,
                "accept_p99_ms": accepted.p99,
                "end_to_end_per_s": int(total / elapsed),
                "sync_per_s": sync.rate,
                "errors": accepted.errors,
            }
    print(f"machine: {machine()}")
    for key, row in results.items():
        print(
            f"async {key}: accepted {row['accepted_per_s']}/s (p50 {row['accept_p50_ms']:.2f} ms, "
            f"p99 {row['accept_p99_ms']:.2f} ms), end to end {row['end_to_end_per_s']} events/s; "
            f"synchronous at the same concurrency {row['sync_per_s']}/s; errors {row['errors']}"
        )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "async.json").write_text(json.dumps({"machine": machine(), **results}, indent=2))


if __name__ == "__main__":
    main()
