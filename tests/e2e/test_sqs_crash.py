"""SQS durability: a message acknowledged by SendMessage survives SIGKILL of the server, and a
message received but not deleted before the kill reappears once its visibility timeout ends."""

from __future__ import annotations

import signal
from typing import Any

from tests.e2e.conftest import Server


def test_acknowledged_and_leased_messages_survive_sigkill(fresh_server: Any) -> None:
    srv: Server = fresh_server()
    sqs = srv.client("sqs")
    url = sqs.create_queue(QueueName="durable")["QueueUrl"]
    leased = sqs.create_queue(QueueName="leased")["QueueUrl"]
    sent = {sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"] for i in range(20)}
    sqs.send_message(QueueUrl=leased, MessageBody="in flight")
    (taken,) = sqs.receive_message(QueueUrl=leased, VisibilityTimeout=3)["Messages"]
    srv.stop(signal.SIGKILL)

    again = Server(srv.data_dir, port=srv.port, extra_env=srv.extra_env).start()
    try:
        sqs = again.client("sqs")
        got: dict[str, str] = {}
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            if not batch:
                break
            got.update({m["MessageId"]: m["Body"] for m in batch})
        assert set(got) == sent
        # The receive was durable too: the message comes back as received once before.
        (back,) = sqs.receive_message(
            QueueUrl=leased, WaitTimeSeconds=20, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        )["Messages"]
        assert back["MessageId"] == taken["MessageId"] and back["Body"] == "in flight"
        assert back["Attributes"]["ApproximateReceiveCount"] == "2"
    finally:
        again.stop()
