"""SNS state across restarts of the real server on the same data dir: a FIFO topic's
deduplication ids still hold inside their 5-minute window, and a notification acknowledged to
an HTTP subscriber whose endpoint is down survives SIGKILL and is delivered after restart."""

from __future__ import annotations

import json
import signal
import uuid
from typing import Any

from tests.e2e.conftest import Server
from tests.e2e.test_sns_delivery import drain, queue
from tests.e2e.test_sns_topics import Endpoint, confirmed_http, topic


def test_fifo_deduplication_ids_outlive_a_restart(fresh_server: Any) -> None:
    srv: Server = fresh_server()
    sns, sqs = srv.client("sns"), srv.client("sqs")
    arn = sns.create_topic(Name=f"f-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoTopic": "true"})[
        "TopicArn"
    ]
    # A standard queue does no deduplication of its own: what reaches it is what SNS sent.
    url, qarn = queue(sqs, topics=(arn,))  # the policy is an attribute: kept across the restart
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    first = sns.publish(TopicArn=arn, Message="once", MessageGroupId="g", MessageDeduplicationId="same")
    assert [m["Body"] for m in drain(sqs, url, 1)] == ["once"]
    srv.stop()

    again = Server(srv.data_dir, port=srv.port, extra_env=srv.extra_env).start()
    try:
        sns, sqs = again.client("sns"), again.client("sqs")
        duplicate = sns.publish(
            TopicArn=arn, Message="twice?", MessageGroupId="g", MessageDeduplicationId="same"
        )
        assert duplicate["MessageId"] == first["MessageId"]
        fresh = sns.publish(TopicArn=arn, Message="new", MessageGroupId="g", MessageDeduplicationId="other")
        assert int(fresh["SequenceNumber"]) > int(first["SequenceNumber"])  # numbering continues
        assert [m["Body"] for m in drain(sqs, url, 2, timeout=5)] == ["new"]
    finally:
        again.stop()


def test_notification_to_a_down_endpoint_survives_sigkill(fresh_server: Any) -> None:
    srv: Server = fresh_server(STRATUS_SNS_ALLOW_LOOPBACK="1")  # the endpoint is on loopback
    sns = srv.client("sns")
    arn = topic(sns)
    ep = Endpoint()
    port = ep.httpd.server_address[1]
    policy = json.dumps({"healthyRetryPolicy": {"numRetries": 100, "minDelayTarget": 1, "maxDelayTarget": 1}})
    confirmed_http(sns, arn, ep, DeliveryPolicy=policy)
    ep.close()  # the endpoint is down: connections are refused
    message_id = sns.publish(TopicArn=arn, Message="kept")["MessageId"]
    srv.stop(signal.SIGKILL)

    again = Server(srv.data_dir, port=srv.port, extra_env=srv.extra_env).start()
    back = Endpoint(port=port)  # the same endpoint, up again
    try:
        headers, body = back.wait(1, timeout=60)[0]
        assert headers["x-amz-sns-message-id"] == message_id
        assert json.loads(body)["Message"] == "kept"
    finally:
        back.close()
        again.stop()
