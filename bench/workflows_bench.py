"""Step Functions benchmark (issue 19), against a real `stratus serve` (STRATUS_IAM=off):

- a Standard execution of a 100-state Pass chain: transitions per second, and the cost of one
  durable transition (each is one group-committed write), from the execution's own
  ExecutionStarted/ExecutionSucceeded timestamps; alone and 20 at once;
- a Map of 1,000 items over a no-op function (MaxConcurrency 1, and none: at most 40 at once,
  as AWS runs an inline Map) against a plain Python loop invoking the same function through
  boto3 in the same run (the ratio);
- an Express execution of 10 Pass states through StartSyncExecution: the server's own
  start-to-stop time and the client's round trip.

    .venv/bin/python -m bench.workflows_bench [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from botocore.config import Config

from bench.common import NOOP, ROLE, Running, stratus_server, zip_of


def chain(n: int) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(n):
        states[f"S{i}"] = {"Type": "Pass", **({"Next": f"S{i + 1}"} if i < n - 1 else {"End": True})}
    return {"StartAt": "S0", "States": states}


def finished(sfn: Any, arn: str) -> dict[str, Any]:
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return dict(d)
        time.sleep(0.02)


def server_seconds(sfn: Any, arn: str) -> float:
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return float((events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 3 if args.quick else 10
    items = 200 if args.quick else 1000
    with stratus_server(STRATUS_IAM="off") as running:
        report(running, runs, items)


def report(running: Running, runs: int, items: int) -> None:
    sfn = running.client("stepfunctions")
    lam = running.client("lambda")
    arn = lam.create_function(
        FunctionName="noop",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_of(NOOP)},
    )["FunctionArn"]
    lam.invoke(FunctionName="noop", Payload=b"{}")  # warm

    # 100-state Pass chain, Standard.
    machine = sfn.create_state_machine(name="chain", definition=json.dumps(chain(100)), roleArn=ROLE)[
        "stateMachineArn"
    ]
    alone = []
    for _ in range(runs):
        e = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        finished(sfn, e)
        alone.append(server_seconds(sfn, e))
    p50 = statistics.median(alone)
    print(
        f"standard 100-Pass chain, alone: p50 {p50 * 1000:.1f} ms -> {100 / p50:.0f} transitions/s, "
        f"{p50 * 10:.2f} ms per durable transition"
    )
    t0 = time.perf_counter()
    started = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(20)]
    for e in started:
        finished(sfn, e)
    wall = time.perf_counter() - t0
    print(
        f"standard 100-Pass chain, 20 at once: {2000 / wall:.0f} transitions/s "
        f"over {wall:.2f} s (wall, incl. polling)"
    )

    # Map of items over the no-op function vs a plain loop through boto3.
    loop_client = running.client("lambda")
    t0 = time.perf_counter()
    for i in range(items):
        loop_client.invoke(FunctionName="noop", Payload=json.dumps({"i": i}).encode())
    loop = time.perf_counter() - t0
    print(f"plain boto3 loop, {items} invokes: {loop:.2f} s ({items / loop:.0f}/s)")
    payload = json.dumps([{"i": i} for i in range(items)])
    for limit in (1, 0):
        definition = {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "MaxConcurrency": limit,
                    "ItemProcessor": {
                        "StartAt": "T",
                        "States": {"T": {"Type": "Task", "Resource": arn, "End": True}},
                    },
                    "End": True,
                }
            },
        }
        m = sfn.create_state_machine(name=f"map{limit}", definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
        e = sfn.start_execution(stateMachineArn=m, input=payload)["executionArn"]
        done = finished(sfn, e)
        took = (done["stopDate"] - done["startDate"]).total_seconds()
        label = "MaxConcurrency 1" if limit == 1 else "no MaxConcurrency: 40 at once"
        print(
            f"Map of {items} ({label}): {took:.2f} s ({items / took:.0f} items/s), "
            f"{took / loop:.2f}x the plain loop [{done['status']}]"
        )

    # Express, 10 Pass states.
    import boto3

    from bench.common import ACCESS_KEY, REGION, SECRET_KEY

    express = boto3.client(
        "stepfunctions",
        endpoint_url=running.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
    )
    x = express.create_state_machine(
        name="express10", definition=json.dumps(chain(10)), roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    server_ms, client_ms = [], []
    for _ in range(runs * 20):
        t0 = time.perf_counter()
        out = express.start_sync_execution(stateMachineArn=x, input="{}")
        client_ms.append((time.perf_counter() - t0) * 1000)
        server_ms.append((out["stopDate"] - out["startDate"]).total_seconds() * 1000)
    print(
        f"express 10 Pass states: server start->stop p50 {statistics.median(server_ms):.1f} ms "
        f"(millisecond timestamps), client round trip p50 {statistics.median(client_ms):.2f} ms"
    )


if __name__ == "__main__":
    main()
