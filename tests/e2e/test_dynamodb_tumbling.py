"""Tumbling windows of a DynamoDB stream mapping against the real server: a real Python function
sums an attribute of its records into the window's state (counting its invocations in it too)
and, on the window's final invocation, writes the total to another table; each invocation also
reports what it got and returned to a sink queue. The totals written equal the sums of the
records each window holds by their creation time (read back independently through boto3's
`dynamodbstreams`), every invocation got the state the previous one of its window returned, and
the final one had isFinalInvokeForWindow and no records. The API reports and updates
TumblingWindowInSeconds, refuses it out of range, and refuses it for an SQS mapping."""

from __future__ import annotations

import itertools
import signal
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create, error_code
from tests.e2e.test_dynamodb_streams import ROLE, drain, make_queue, make_table, name, setup_role, wait_for

WINDOW_S = 3

HANDLER = """
import json, os, boto3
sqs = boto3.client("sqs")
ddb = boto3.client("dynamodb")
def handler(event, context):
    state = dict(event["state"])
    got = dict(state)
    amounts = [int(r["dynamodb"]["NewImage"]["amount"]["N"]) for r in event["Records"]]
    state["sum"] = state.get("sum", 0) + sum(amounts)
    state["calls"] = state.get("calls", 0) + 1
    if event["isFinalInvokeForWindow"]:
        ddb.put_item(
            TableName=os.environ["TOTALS"],
            Item={"pk": {"S": event["window"]["start"]}, "total": {"N": str(got.get("sum", 0))}},
        )
    report = {
        "window": event["window"],
        "got": got,
        "returned": state,
        "final": event["isFinalInvokeForWindow"],
        "early": event["isWindowTerminatedEarly"],
        "records": len(event["Records"]),
        "shardId": event["shardId"],
        "eventSourceARN": event["eventSourceARN"],
    }
    url = sqs.get_queue_url(QueueName=os.environ["SINK"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(report))
    return {"state": state}
"""


@pytest.fixture(scope="module")
def env(server: Server) -> Server:
    setup_role(server)
    return server


def window_start(moment: datetime) -> str:
    seconds = int(moment.timestamp())
    start = seconds - seconds % WINDOW_S
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_window_sums_into_its_state_and_the_final_invocation_writes_the_total(env: Server) -> None:
    ddb, sqs, lam, streams = (env.client(s) for s in ("dynamodb", "sqs", "lambda", "dynamodbstreams"))
    table, arn = make_table(ddb)
    totals, _ = make_table(ddb)
    sink, _ = make_queue(sqs, "sink")
    fn = name("window-fn")
    variables = {"SINK": sink.rsplit("/", 1)[1], "TOTALS": totals}
    create(lam, fn, {"app.py": HANDLER}, Role=ROLE, Environment={"Variables": variables})
    mapping = lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,  # several invocations per window, so state must pass between them
        TumblingWindowInSeconds=WINDOW_S,
    )
    assert mapping["TumblingWindowInSeconds"] == WINDOW_S
    for n in range(8):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{n}"}, "amount": {"N": str(n + 1)}})
        time.sleep(0.25)

    # What each window holds, read independently through the Streams API.
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert len(records) == 8
    expected: dict[str, int] = defaultdict(int)
    for record in records:
        expected[window_start(record["dynamodb"]["ApproximateCreationDateTime"])] += int(
            record["dynamodb"]["NewImage"]["amount"]["N"]
        )

    def written() -> dict[str, int]:
        items = ddb.scan(TableName=totals, ConsistentRead=True)["Items"]
        return {i["pk"]["S"]: int(i["total"]["N"]) for i in items}

    wait_for(lambda: set(written()) == set(expected), seconds=90)
    assert written() == expected

    reports = drain(sqs, sink, 8 + len(expected), seconds=60)
    by_window: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for report in reports:
        assert report["shardId"] == shard and report["eventSourceARN"] == arn
        assert not report["early"]
        by_window[report["window"]["start"]].append(report)
    assert set(by_window) == set(expected)
    for start, got in by_window.items():
        got.sort(key=lambda r: r["got"].get("calls", 0))
        # Each invocation got exactly the state the one before it returned ({} at the start).
        assert got[0]["got"] == {}
        for before, after in itertools.pairwise(got):
            assert after["got"] == before["returned"]
        *batches, final = got
        assert final["final"] and final["records"] == 0
        assert all(not b["final"] and b["records"] == 1 for b in batches)
        assert len(batches) >= 1 and final["got"]["sum"] == expected[start]
        end = datetime.strptime(final["window"]["end"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        begin = datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert (end - begin).total_seconds() == WINDOW_S


def test_the_api_reports_updates_and_bounds_the_window(env: Server) -> None:
    ddb, sqs, lam = env.client("dynamodb"), env.client("sqs"), env.client("lambda")
    _, arn = make_table(ddb)
    sink, queue_arn = make_queue(sqs, "src")
    fn = name("window-api")
    create(
        lam, fn, {"app.py": HANDLER}, Role=ROLE, Environment={"Variables": {"SINK": sink.rsplit("/", 1)[1]}}
    )

    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(
            FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST", TumblingWindowInSeconds=901
        )
    assert error_code(e) == "ValidationException"  # the model bounds it to 0..900, as Lambda does
    plain = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST")
    assert plain["TumblingWindowInSeconds"] == 0  # off unless asked
    uuid = plain["UUID"]
    lam.update_event_source_mapping(UUID=uuid, TumblingWindowInSeconds=120)
    assert lam.get_event_source_mapping(UUID=uuid)["TumblingWindowInSeconds"] == 120
    listed = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["TumblingWindowInSeconds"] for m in listed] == [120]
    lam.update_event_source_mapping(UUID=uuid, TumblingWindowInSeconds=0)
    assert lam.get_event_source_mapping(UUID=uuid)["TumblingWindowInSeconds"] == 0

    # Tumbling windows are for Kinesis and DynamoDB streams: an SQS mapping refuses them, on
    # create and on update (Terraform sends the attribute on update when it changes).
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=queue_arn, TumblingWindowInSeconds=60)
    assert error_code(e) == "InvalidParameterValueException"
    assert "TumblingWindowInSeconds" in e.value.response["Error"]["Message"]
    queued = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=queue_arn)
    assert "TumblingWindowInSeconds" not in queued
    with pytest.raises(ClientError) as e:
        lam.update_event_source_mapping(UUID=queued["UUID"], TumblingWindowInSeconds=60)
    assert error_code(e) == "InvalidParameterValueException"
    assert "TumblingWindowInSeconds" in e.value.response["Error"]["Message"]
    assert "TumblingWindowInSeconds" not in lam.get_event_source_mapping(UUID=queued["UUID"])


def test_a_sigkill_mid_window_replays_the_window_and_its_total_covers_every_record(fresh_server: Any) -> None:
    """State is memory only: the checkpoint waits for a window's final invocation, so a crash
    replays the open window from its first record with a fresh state (at least once)."""
    window_s = 12
    first = fresh_server()
    setup_role(first)
    ddb, sqs, lam = first.client("dynamodb"), first.client("sqs"), first.client("lambda")
    table, arn = make_table(ddb)
    totals, _ = make_table(ddb)
    sink, _ = make_queue(sqs, "sink")
    fn = name("window-kill")
    variables = {"SINK": sink.rsplit("/", 1)[1], "TOTALS": totals}
    create(lam, fn, {"app.py": HANDLER}, Role=ROLE, Environment={"Variables": variables})
    lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        TumblingWindowInSeconds=window_s,
    )
    # Start writing just after a window opens, so that the kill comes well before it closes.
    wait_for(lambda: 0.2 < time.time() % window_s < 1.0, seconds=window_s + 1)
    opened = time.time()
    for n in (1, 2, 4):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{n}"}, "amount": {"N": str(n)}})
    before = drain(sqs, sink, 3, seconds=window_s)
    assert len(before) == 3 and not any(r["final"] for r in before)
    assert time.time() - opened < window_s - 2, "too slow to kill inside the window"
    first.stop(signal.SIGKILL)

    again = Server(first.data_dir).start()
    try:
        ddb, sqs = again.client("dynamodb"), again.client("sqs")
        start = window_start(datetime.fromtimestamp(opened, UTC))

        def written() -> dict[str, int]:
            items = ddb.scan(TableName=totals, ConsistentRead=True)["Items"]
            return {i["pk"]["S"]: int(i["total"]["N"]) for i in items}

        wait_for(lambda: written(), seconds=90)
        # The window's records all reached the function again after the restart, with a
        # fresh state, so the final total is the whole window's.
        assert written() == {start: 7}
        after = drain(sqs, sink, 4, seconds=30)
        batches = sorted((r for r in after if not r["final"]), key=lambda r: r["got"].get("calls", 0))
        assert [b["got"].get("sum", 0) for b in batches] == [0, 1, 3]
        assert [r["got"]["sum"] for r in after if r["final"]] == [7]
    finally:
        again.stop()
