"""SQS's AWS/SQS metrics as recorded: one datum per event or gauge, in the minute it happened,
with the QueueName dimension and SQS's units; sizes keep samples (percentiles), counts do not."""

from __future__ import annotations

from collections.abc import Sequence

from stratus.observe.custom_metrics import Datum
from stratus.queues.metrics import QueueMetrics
from stratus.queues.model import Depth, Queue


def _queue() -> Queue:
    return Queue(
        region="eu-west-1", name="orders", account_id="123456789012", attributes={}, tags={}, created_ms=0
    )


def test_events_and_gauges_are_recorded_per_minute() -> None:
    got: list[Datum] = []
    regions: set[str] = set()

    def record(region: str, data: Sequence[Datum]) -> None:
        regions.add(region)
        got.extend(data)

    metrics = QueueMetrics(record, clock=lambda: 1_700_000_059.5)
    q = _queue()
    metrics.sent(q, [10, 30])
    metrics.received(q, 2)
    metrics.received(q, 0)
    metrics.deleted(q, 1)
    metrics.gauges(q, Depth(visible=4, in_flight=1, delayed=2), 12.5)
    metrics.gauges(q, Depth(visible=0, in_flight=0, delayed=0), None)
    assert regions == {"eu-west-1"}  # the queue's region, where its metrics are read
    by_name: dict[str, list[Datum]] = {}
    for d in got:
        by_name.setdefault(d.name, []).append(d)
        assert d.namespace == "AWS/SQS" and d.dimensions == {"QueueName": "orders"}
        assert d.minute == 1_700_000_040
    [sent] = by_name["NumberOfMessagesSent"]
    assert (sent.stats.count, sent.stats.total, sent.stats.samples) == (1, 2, [])
    [size] = by_name["SentMessageSize"]
    assert (size.unit, size.stats.total, size.stats.low, size.stats.high, size.stats.samples) == (
        "Bytes",
        40,
        10,
        30,
        [10.0, 30.0],
    )
    assert by_name["NumberOfMessagesReceived"][0].stats.total == 2
    assert by_name["NumberOfEmptyReceives"][0].stats.total == 1
    assert by_name["NumberOfMessagesDeleted"][0].stats.total == 1
    assert [d.stats.total for d in by_name["ApproximateNumberOfMessagesVisible"]] == [4, 0]
    assert by_name["ApproximateNumberOfMessagesNotVisible"][0].stats.total == 1
    assert by_name["ApproximateNumberOfMessagesDelayed"][0].stats.total == 2
    # No message, no age: SQS reports none rather than zero.
    [age] = by_name["ApproximateAgeOfOldestMessage"]
    assert (age.unit, age.stats.total) == ("Seconds", 12.5)
