"""`python -m bench.events_bench`: the delay from PutEvents to the start of the function a
patterned rule on a custom bus targets (the issue's target: p50 under 20 ms). The function
sends (its event's key, its start time) to a stamps queue; each sample is that start time
minus the time just before the PutEvents request was sent, one event at a time, on a warm
environment."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bench.common import Running, Stats, machine, stamp_function, stamp_of, stratus_server

STAMP = """
import json, os, time
import boto3
sqs = boto3.client("sqs")

def handler(event, context):
    started = time.time()
    sqs.send_message(QueueUrl=os.environ["STAMPS"], MessageBody=json.dumps([event["detail"]["key"], started]))
"""


def put_events_delay(srv: Running, n: int) -> dict[str, Any]:
    sqs, lam, events = srv.client("sqs"), srv.client("lambda"), srv.client("events")
    stamps = sqs.create_queue(QueueName="events-stamps")["QueueUrl"]
    arn = stamp_function(srv, "events-stamp", STAMP, ["sqs:*"], "*", stamps)
    events.create_event_bus(Name="bench")
    pattern = {"source": [{"prefix": "bench."}], "detail": {"n": [{"numeric": [">=", 0]}]}}
    rule_arn = events.put_rule(Name="to-fn", EventBusName="bench", EventPattern=json.dumps(pattern))[
        "RuleArn"
    ]
    lam.add_permission(
        FunctionName="events-stamp",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    events.put_targets(Rule="to-fn", EventBusName="bench", Targets=[{"Id": "fn", "Arn": arn}])

    def put(key: str, i: int) -> tuple[float, float]:
        sent = time.time()
        events.put_events(
            Entries=[
                {
                    "EventBusName": "bench",
                    "Source": "bench.events",
                    "DetailType": "Tick",
                    "Detail": json.dumps({"key": key, "n": i}),
                }
            ]
        )
        return sent, time.time()

    put("warm", 0)
    stamp_of(sqs, stamps, "warm")
    from_send, from_answer = [], []
    for i in range(n):
        sent, answered = put(f"e{i}", i)
        started = stamp_of(sqs, stamps, f"e{i}")
        from_send.append((started - sent) * 1000)
        from_answer.append((started - answered) * 1000)
    a, b = Stats.of(from_send), Stats.of(from_answer)
    return {
        "n": a.n,
        "from_request_p50_ms": a.p50,
        "from_request_p99_ms": a.p99,
        "from_answer_p50_ms": b.p50,
        "from_answer_p99_ms": b.p99,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=50)
    args = parser.parse_args()
    with stratus_server() as srv:
        result = put_events_delay(srv, args.n)
    print(f"machine: {machine()}")
    print(
        f"PutEvents -> function start (n={result['n']}): from the request p50 "
        f"{result['from_request_p50_ms']:.2f} ms, p99 {result['from_request_p99_ms']:.2f} ms; "
        f"from PutEvents' answer p50 {result['from_answer_p50_ms']:.2f} ms, "
        f"p99 {result['from_answer_p99_ms']:.2f} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
