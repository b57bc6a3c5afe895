"""SQS's CloudWatch metrics, in the `AWS/SQS` namespace with the `QueueName` dimension, as SQS
reports them: what was sent (NumberOfMessagesSent, SentMessageSize), received
(NumberOfMessagesReceived, NumberOfEmptyReceives) and deleted (NumberOfMessagesDeleted) as they
happen, and once a minute each queue's depth (ApproximateNumberOfMessagesVisible, ...NotVisible,
...Delayed) and ApproximateAgeOfOldestMessage. They are recorded into the store that keeps the
metrics code publishes (`observe/custom_metrics.py`, on the loop, flushed each second), so
CloudWatch's GetMetricStatistics, GetMetricData and ListMetrics read them as any other."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from stratus.observe.custom_metrics import Datum, StatSet
from stratus.queues.model import Depth, Queue

NAMESPACE = "AWS/SQS"
Record = Callable[[str, Sequence[Datum]], None]  # (region, data): each queue's own region


class QueueMetrics:
    def __init__(self, record: Record, clock: Callable[[], float] = time.time) -> None:
        self._record = record
        self._clock = clock

    def _datum(
        self, queue: Queue, name: str, unit: str, values: Sequence[float], *, samples: bool = False
    ) -> Datum:
        stats = StatSet()
        stats.add(len(values), sum(values), min(values), max(values), values if samples else ())
        minute = int(self._clock()) // 60 * 60
        return Datum(NAMESPACE, name, {"QueueName": queue.name}, minute, unit, stats)

    def sent(self, queue: Queue, sizes: Sequence[int]) -> None:
        self._record(
            queue.region,
            [
                self._datum(queue, "NumberOfMessagesSent", "Count", [float(len(sizes))]),
                self._datum(queue, "SentMessageSize", "Bytes", [float(s) for s in sizes], samples=True),
            ],
        )

    def received(self, queue: Queue, count: int) -> None:
        if count:
            self._record(
                queue.region, [self._datum(queue, "NumberOfMessagesReceived", "Count", [float(count)])]
            )
        else:
            self._record(queue.region, [self._datum(queue, "NumberOfEmptyReceives", "Count", [1.0])])

    def deleted(self, queue: Queue, count: int) -> None:
        self._record(queue.region, [self._datum(queue, "NumberOfMessagesDeleted", "Count", [float(count)])])

    def gauges(self, queue: Queue, depth: Depth, oldest_age_s: float | None) -> None:
        data = [
            self._datum(queue, "ApproximateNumberOfMessagesVisible", "Count", [float(depth.visible)]),
            self._datum(queue, "ApproximateNumberOfMessagesNotVisible", "Count", [float(depth.in_flight)]),
            self._datum(queue, "ApproximateNumberOfMessagesDelayed", "Count", [float(depth.delayed)]),
        ]
        if oldest_age_s is not None:
            data.append(self._datum(queue, "ApproximateAgeOfOldestMessage", "Seconds", [oldest_age_s]))
        self._record(queue.region, data)
