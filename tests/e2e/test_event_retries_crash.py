"""EventBridge target retries survive SIGKILL (issue 19): a retry waiting out its backoff when
the server dies is made after the restart, at its due time, with its attempts counted.

The retryable failure is a real one the server produces: the function's durable async queue
refuses the event because its disk is full. The data dir keeps its space while the async queue's
file (`events.db`) lives on a small tmpfs of its own (a symlink, as an operator may put the
queue on another volume), which the test fills: the queue refuses (INTERNAL_ERROR, retried by
EventBridge's policy) while the metadata store, where the retry waits, still writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.service_policies import queue_arn, service_policy
from tests.e2e.test_async import Collector, collector  # noqa: F401  (fixture)
from tests.e2e.test_event_buses import EVENTS, entry, function_target, unique
from tests.e2e.test_full_disk import fill

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")

QUEUE_DISK_MB = 2
PAD = "x" * 60_000  # an event the full queue cannot take in whatever its files have spare


@pytest.fixture
def queue_disk(tmp_path: Path) -> Iterator[tuple[Path, Path, list[Server]]]:
    """(the data dir, the tmpfs its events.db lives on, the servers the test starts); the
    servers are killed before the tmpfs is unmounted."""
    mount = tmp_path / "queue-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={QUEUE_DISK_MB}m", "tmpfs", str(mount)], check=True)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "events.db").symlink_to(mount / "events.db")
    servers: list[Server] = []
    try:
        yield data, mount, servers
    finally:
        for srv in servers:
            if srv.proc is not None and srv.proc.poll() is None:
                with contextlib.suppress(Exception):
                    srv.stop(signal.SIGKILL)
        subprocess.run(["umount", "-l", str(mount)], check=False)


def attempts_logged(srv: Server, target: str) -> list[int]:
    """The failed attempts to `target` this server logged, each once its retry was stored."""
    pattern = re.compile(rf"attempt (\d+) to deliver to {re.escape(target)} failed \(INTERNAL_ERROR")
    return [int(n) for n in pattern.findall(srv.output())]


def wait_for_attempt(srv: Server, target: str, timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = attempts_logged(srv, target)
        if seen:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"no failed attempt to {target} logged:\n{srv.output()[-3000:]}")


def rule_to_function(srv: Server, c: Collector, **target: Any) -> tuple[str, str, str]:
    """A rule on the default bus for source `com.crash.<id>` whose target is a function that
    posts what it gets to the collector: (rule name, source, function ARN)."""
    events, lam = srv.client("events"), srv.client("lambda")
    rule, source = unique("crash"), unique("com.crash")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    fn_arn = function_target(lam, c, rule_arn)
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": fn_arn, **target}])
    return rule_arn, source, fn_arn


def test_a_retry_waiting_when_the_server_is_killed_is_made_after_the_restart(
    queue_disk: tuple[Path, Path, list[Server]],
    collector: Collector,  # noqa: F811
) -> None:
    data, disk, servers = queue_disk
    srv = Server(data)
    servers.append(srv.start())
    _, source, fn_arn = rule_to_function(srv, collector)
    fill(disk / "ballast")
    ident = unique("kept")
    put = srv.client("events").put_events(Entries=[entry("default", ident, source=source, pad=PAD)])
    assert put["FailedEntryCount"] == 0  # accepted: EventBridge owns its delivery from here
    assert wait_for_attempt(srv, fn_arn)[0] == 1  # the queue refused it; a retry is waiting
    srv.stop(signal.SIGKILL)
    assert ident not in collector.ids()

    (disk / "ballast").unlink()  # the queue's disk has space again
    again = Server(data, port=srv.port)
    servers.append(again.start())
    seen = collector.wait_for({ident}, timeout=120)
    assert seen[ident] >= 1, again.output()[-3000:]
    [event] = [item["event"] for item in list(collector.seen) if item["id"] == ident]
    assert event["id"] == put["Entries"][0]["EventId"] and event["source"] == source
    assert event["detail"]["pad"] == PAD
    assert attempts_logged(again, fn_arn) == []  # the first retry after the restart delivered it


def test_retries_exhausted_after_a_restart_count_the_attempts_made_before_it(
    queue_disk: tuple[Path, Path, list[Server]],
    collector: Collector,  # noqa: F811
) -> None:
    """The disk stays full across the crash: the retries go on where they were and the event
    reaches the dead-letter queue with RETRY_ATTEMPTS counting those made before the kill."""
    data, disk, servers = queue_disk
    srv = Server(data)
    servers.append(srv.start())
    sqs = srv.client("sqs")
    dlq_url = sqs.create_queue(QueueName=unique("crash-dlq"))["QueueUrl"]
    dlq = queue_arn(sqs, dlq_url)
    policy = {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}
    rule_arn, source, fn_arn = rule_to_function(
        srv, collector, RetryPolicy=policy, DeadLetterConfig={"Arn": dlq}
    )
    sqs.set_queue_attributes(
        QueueUrl=dlq_url, Attributes={"Policy": service_policy(dlq, "sqs:SendMessage", (EVENTS, rule_arn))}
    )
    fill(disk / "ballast")
    ident = unique("spent")
    put = srv.client("events").put_events(Entries=[entry("default", ident, source=source, pad=PAD)])
    wait_for_attempt(srv, fn_arn)
    srv.stop(signal.SIGKILL)
    before = attempts_logged(srv, fn_arn)
    # Killed during the retries (4 of them, whose backoffs average about 7 s in all).
    assert before == list(range(1, len(before) + 1)) and len(before) < 4, before

    again = Server(data, port=srv.port)
    servers.append(again.start())
    sqs = again.client("sqs")
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while not got and time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
    assert len(got) == 1, again.output()[-3000:]
    attributes = {k: v["StringValue"] for k, v in got[0]["MessageAttributes"].items()}
    assert attributes["RETRY_ATTEMPTS"] == "4"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert (attributes["RULE_ARN"], attributes["TARGET_ARN"]) == (rule_arn, fn_arn)
    assert attributes["ERROR_CODE"] == "INTERNAL_ERROR" and "disk is full" in attributes["ERROR_MESSAGE"]
    assert json.loads(got[0]["Body"])["id"] == put["Entries"][0]["EventId"]
    # The restarted server went on from the count the crash left, not from the first attempt.
    assert attempts_logged(again, fn_arn) == list(range(len(before) + 1, 5))
    assert ident not in collector.ids()
