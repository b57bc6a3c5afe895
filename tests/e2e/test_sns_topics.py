"""SNS-compatible topics against the real server with boto3: topics, subscriptions, filter
policies, HTTP delivery with confirmation, signatures and retries, Lambda subscriptions, and
SNS's error codes."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stratus.topics.signing import verify
from tests.e2e.conftest import REGION, Server, create, error_code

ACCOUNT = "000000000000"


class Endpoint:
    """An HTTP subscriber on loopback: records each POST; fails the first `fail` of them."""

    def __init__(self, fail: int = 0, port: int = 0) -> None:
        self.received: list[tuple[dict[str, str], str]] = []
        self.fail = fail
        self.attempts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                outer.attempts += 1
                if outer.attempts <= outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 30) -> list[tuple[dict[str, str], str]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, self.received
        return self.received

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's own server: its HTTP subscribers (Endpoint) listen on loopback, where SNS
    delivers only with STRATUS_SNS_ALLOW_LOOPBACK=1 (test_sns_ssrf.py shows the default)."""
    srv = Server(
        tmp_path_factory.mktemp("sns") / "data", extra_env={"STRATUS_SNS_ALLOW_LOOPBACK": "1"}
    ).start()
    yield srv
    srv.stop()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    yield ep
    ep.close()


def topic(sns: Any, **kwargs: Any) -> str:
    return str(sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}", **kwargs)["TopicArn"])


def confirmed_http(sns: Any, arn: str, ep: Endpoint, **attributes: str) -> str:
    """Subscribe `ep`, confirm through the SubscribeURL it was sent, and return the ARN."""
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=ep.url, Attributes=attributes)
    headers, body = ep.wait(1)[0]
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    confirmation = json.loads(body)
    assert confirmation["Type"] == "SubscriptionConfirmation" and confirmation["TopicArn"] == arn
    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as reply:  # unsigned, as on AWS
        assert reply.status == 200 and b"SubscriptionArn" in reply.read()
    ep.received.clear()
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    return str(next(s["SubscriptionArn"] for s in subs if s["Endpoint"] == ep.url))


def test_topic_lifecycle_and_attributes(server: Server) -> None:
    sns = server.client("sns")
    name = f"life-{uuid.uuid4().hex[:8]}"
    arn = sns.create_topic(Name=name, Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn  # idempotent
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Owner"] == ACCOUNT
    assert attrs["SubscriptionsConfirmed"] == "0" and "Policy" in attrs
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Life")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Life"
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    fifo = sns.create_topic(Name=f"{name}.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    assert sns.get_topic_attributes(TopicArn=fifo)["Attributes"]["FifoTopic"] == "true"
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(ClientError) as err:
        sns.get_topic_attributes(TopicArn=arn)
    assert error_code(err) == "NotFound"


def test_bad_input_answers_sns_codes(server: Server) -> None:
    sns = server.client("sns")
    arn = topic(sns)
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"
    cases = [
        (lambda: sns.publish(TopicArn=missing, Message="x"), "NotFound"),
        (lambda: sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.com"), "InvalidParameter"),
        (lambda: sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint="not-an-arn"), "InvalidParameter"),
        (lambda: sns.create_topic(Name="bad name!"), "InvalidParameter"),
        (lambda: sns.publish(TopicArn=arn, Message="x" * (256 * 1024 + 1)), "InvalidParameter"),
        (lambda: sns.publish(TopicArn=arn, Message="{}", MessageStructure="json"), "InvalidParameter"),
        (
            lambda: sns.subscribe(
                TopicArn=arn,
                Protocol="http",
                Endpoint="http://127.0.0.1:9/x",
                Attributes={"FilterPolicy": json.dumps({f"k{i}": ["v"] for i in range(6)})},
            ),
            "InvalidParameter",
        ),
        (lambda: sns.confirm_subscription(TopicArn=arn, Token="nope"), "InvalidParameter"),
        (lambda: sns.unsubscribe(SubscriptionArn=f"{arn}:{uuid.uuid4()}"), "NotFound"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as err:
            call()
        assert error_code(err) == code, err.value.response


def test_http_subscription_is_confirmed_and_gets_signed_notifications(
    server: Server, endpoint: Endpoint
) -> None:
    sns = server.client("sns")
    arn = topic(sns)
    sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint.url)
    assert sub["SubscriptionArn"] == "pending confirmation"
    # Pending: nothing is delivered to it yet.
    sub_arn = confirmed_http(sns, arn, endpoint)
    assert (
        sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]["PendingConfirmation"]
        == "false"
    )
    message_id = sns.publish(
        TopicArn=arn,
        Message="hello",
        Subject="greeting",
        MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}},
    )["MessageId"]
    headers, body = endpoint.wait(1)[0]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == message_id
    assert headers["x-amz-sns-topic-arn"] == arn
    assert headers["x-amz-sns-subscription-arn"] == sub_arn
    envelope = json.loads(body)
    assert envelope["Message"] == "hello" and envelope["Subject"] == "greeting"
    assert envelope["MessageAttributes"] == {"color": {"Type": "String", "Value": "blue"}}
    assert envelope["SignatureVersion"] == "1"
    with urllib.request.urlopen(envelope["SigningCertURL"], timeout=10) as reply:
        cert = reply.read()
    assert verify(cert, envelope)
    assert not verify(cert, {**envelope, "Message": "tampered"})
    # The UnsubscribeURL ends the subscription.
    with urllib.request.urlopen(envelope["UnsubscribeURL"], timeout=10) as reply:
        assert reply.status == 200
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_failing_endpoint_is_retried(server: Server) -> None:
    sns = server.client("sns")
    arn = topic(sns)
    policy = json.dumps({"healthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 1}})
    ep = Endpoint()
    try:
        confirmed_http(sns, arn, ep, DeliveryPolicy=policy)
        ep.fail, ep.attempts = 2, 0  # the next two POSTs answer 500
        sns.publish(TopicArn=arn, Message="persist")
        _, body = ep.wait(1)[0]
        assert json.loads(body)["Message"] == "persist"
        assert ep.attempts == 3
    finally:
        ep.close()


def test_filter_policies_on_attributes_and_body(server: Server) -> None:
    sns = server.client("sns")
    arn = topic(sns)
    by_attr, by_body = Endpoint(), Endpoint()
    try:
        confirmed_http(
            sns,
            arn,
            by_attr,
            FilterPolicy=json.dumps({"color": ["blue"], "size": [{"numeric": [">", 10]}]}),
        )
        confirmed_http(
            sns,
            arn,
            by_body,
            FilterPolicy=json.dumps({"order": {"state": [{"prefix": "pa"}]}}),
            FilterPolicyScope="MessageBody",
            RawMessageDelivery="true",
        )

        def attrs(color: str, size: int) -> dict[str, Any]:
            return {
                "color": {"DataType": "String", "StringValue": color},
                "size": {"DataType": "Number", "StringValue": str(size)},
            }

        sns.publish(
            TopicArn=arn, Message=json.dumps({"order": {"state": "open"}}), MessageAttributes=attrs("red", 20)
        )
        sns.publish(
            TopicArn=arn, Message=json.dumps({"order": {"state": "open"}}), MessageAttributes=attrs("blue", 5)
        )
        sns.publish(
            TopicArn=arn,
            Message=json.dumps({"order": {"state": "paid"}}),
            MessageAttributes=attrs("blue", 50),
        )
        ((_, got_attr),) = by_attr.wait(1)
        ((headers, got_body),) = by_body.wait(1)
        # Only the third message matches either policy; it was published last, so the two
        # before it had been filtered by the time it arrived (deliveries go out in order).
        assert json.loads(json.loads(got_attr)["Message"]) == {"order": {"state": "paid"}}
        assert json.loads(got_body) == {"order": {"state": "paid"}}  # raw delivery: the message itself
        assert headers.get("x-amz-sns-rawdelivery") == "true"
    finally:
        by_attr.close()
        by_body.close()


RECORDER = """
import json
def handler(event, context):
    print("SNS-EVENT " + json.dumps(event))
"""


def test_lambda_subscription_gets_the_documented_event(server: Server, lam: Any, fn_name: str) -> None:
    sns = server.client("sns")
    arn = topic(sns)
    fn_arn = create(lam, fn_name, {"app.py": RECORDER})["FunctionArn"]
    lam.add_permission(
        FunctionName=fn_name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=arn,
    )
    sub_arn = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=fn_arn)["SubscriptionArn"]
    assert sub_arn.startswith(arn + ":")
    message_id = sns.publish(
        TopicArn=arn, Message="to-fn", MessageAttributes={"n": {"DataType": "Number", "StringValue": "7"}}
    )["MessageId"]
    logs = server.client("logs")
    deadline = time.monotonic() + 60
    event: dict[str, Any] | None = None
    while event is None and time.monotonic() < deadline:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{fn_name}", filterPattern="SNS-EVENT")
        except ClientError:
            found = {"events": []}
        for line in found["events"]:
            event = json.loads(line["message"].split("SNS-EVENT ", 1)[1])
        time.sleep(0.2)
    assert event is not None
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == sub_arn
    sns_part = record["Sns"]
    assert sns_part["Type"] == "Notification" and sns_part["MessageId"] == message_id
    assert sns_part["TopicArn"] == arn and sns_part["Message"] == "to-fn" and sns_part["Subject"] is None
    assert sns_part["MessageAttributes"] == {"n": {"Type": "Number", "Value": "7"}}
    assert sns_part["SignatureVersion"] == "1" and sns_part["SigningCertUrl"] and sns_part["UnsubscribeUrl"]
    with urllib.request.urlopen(sns_part["SigningCertUrl"], timeout=10) as reply:
        cert = reply.read()
    signed = {k: v for k, v in sns_part.items() if isinstance(v, str)}
    assert verify(cert, signed)


def test_iam_user_may_publish_to_one_topic_only(server: Server) -> None:
    sns = server.client("sns")
    allowed, other = topic(sns), topic(sns)
    iam = server.client("iam")
    user = f"pub-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="publish-one",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": allowed}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = boto3.client(
        "sns",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    assert as_user.publish(TopicArn=allowed, Message="ok")["MessageId"]
    with pytest.raises(ClientError) as err:
        as_user.publish(TopicArn=other, Message="no")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error_code(err) == "AuthorizationError"
