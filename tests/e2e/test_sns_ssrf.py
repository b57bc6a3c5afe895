"""SNS HTTP subscriptions cannot make the server reach into its host. The server POSTs to
http(s) endpoints itself, from the host's network namespace; a function whose role allows
sns:* must not be able to aim it at the host's loopback services, the server's own port, cloud
metadata or link-local addresses. Refused at Subscribe, and again at each delivery after the
name is resolved (a name may come to resolve to loopback after it was subscribed)."""

from __future__ import annotations

import json
import signal
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import LAMBDA_TRUST, Server, create, error_code
from tests.e2e.test_sns_delivery import drain, queue
from tests.e2e.test_sns_topics import Endpoint, confirmed_http, topic

SETTING = "STRATUS_SNS_ALLOW_LOOPBACK"

# A function that makes the SDK calls it is given with its execution role's credentials
# (boto3 inside the sandbox, AWS_ENDPOINT_URL pointing at Stratus) and reports each outcome.
CALLER = """
import json
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

def handler(event, context):
    out = []
    for call in event["calls"]:
        client = boto3.client(call["service"], config=Config(retries={"max_attempts": 1}))
        try:
            result = getattr(client, call["op"])(**call.get("args", {}))
            result.pop("ResponseMetadata", None)
            out.append({"ok": json.loads(json.dumps(result, default=str))})
        except ClientError as e:
            error = e.response["Error"]
            out.append({"error": error["Code"], "message": error.get("Message", "")})
    return out
"""


class Listener:
    """A host-only service on 127.0.0.1: records every request of any method."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def record(self) -> None:
                outer.requests.append((self.command, self.path))
                self.send_response(200)
                self.end_headers()

            do_GET = do_POST = do_PUT = record

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    srv = Listener()
    yield srv
    srv.close()


def role(server: Server, actions: list[str], resource: str = "*") -> str:
    iam = server.client("iam")
    name = f"ssrf-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
    }
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return str(arn)


def run_calls(lam: Any, name: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reply = lam.invoke(FunctionName=name, Payload=json.dumps({"calls": calls}))
    body = json.loads(reply["Payload"].read())
    assert "FunctionError" not in reply, body
    return list(body)


def test_a_function_cannot_subscribe_host_only_endpoints(server: Server, listener: Listener) -> None:
    lam, sns, sqs = server.client("lambda"), server.client("sns"), server.client("sqs")
    arn = topic(sns)
    # The positive control: a queue subscribed to the same topic gets the message, so the
    # publish fanned out to every subscription the topic has.
    url, qarn = queue(sqs, topics=(arn,))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    name = f"ssrf-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": CALLER}, Role=role(server, ["sns:*"]), Timeout=60)
    targets = [
        f"http://127.0.0.1:{listener.port}/hook",
        f"http://localhost:{listener.port}/hook",  # a name resolving to 127.0.0.1
        f"http://[::1]:{listener.port}/hook",
        f"http://[::ffff:127.0.0.1]:{listener.port}/hook",
        f"http://2130706433:{listener.port}/hook",  # 127.0.0.1 as one number
        f"http://0.0.0.0:{listener.port}/hook",
        f"http://127.0.0.1:{server.port}/2015-03-31/functions",  # the server's own port
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fe80::1]/",
    ]
    calls: list[dict[str, Any]] = [
        {"service": "sns", "op": "subscribe", "args": {"TopicArn": arn, "Protocol": "http", "Endpoint": t}}
        for t in targets
    ]
    calls.append(
        {
            "service": "sns",
            "op": "subscribe",
            "args": {"TopicArn": arn, "Protocol": "https", "Endpoint": f"https://127.0.0.1:{listener.port}/"},
        }
    )
    calls.append({"service": "sns", "op": "publish", "args": {"TopicArn": arn, "Message": "to everyone"}})
    outcomes = run_calls(lam, name, calls)
    for target, outcome in zip([*targets, "https"], outcomes[:-1], strict=True):
        assert outcome.get("error") == "InvalidParameter", (target, outcome)
        assert SETTING in outcome["message"], outcome
    assert "MessageId" in outcomes[-1]["ok"]  # the role may publish: only the endpoints are refused
    assert [m["Body"] for m in drain(sqs, url, 1)] == ["to everyone"]
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["Protocol"] for s in subs] == ["sqs"]  # no HTTP subscription was made
    assert listener.requests == []  # no confirmation, no notification


def test_an_endpoint_that_turned_host_only_is_not_delivered(fresh_server: Any) -> None:
    """Subscribed while loopback was allowed, then the setting is gone: the same endpoints (a
    literal address and a name resolving to it, as a name would after its DNS changed) are
    refused at delivery, each a failed attempt that ends in the dead-letter queue."""
    allowed: Server = fresh_server(**{SETTING: "1"})
    sns, sqs = allowed.client("sns"), allowed.client("sqs")
    # Even with the setting, metadata addresses stay out of reach.
    with pytest.raises(ClientError) as err:
        sns.subscribe(TopicArn=topic(sns), Protocol="http", Endpoint="http://169.254.169.254/")
    assert error_code(err) == "InvalidParameter" and "metadata" in err.value.response["Error"]["Message"]
    arn = topic(sns)
    dlq_url, dlq = queue(sqs, topics=(arn,))
    endpoints = [Endpoint(), Endpoint()]
    # The second is reached by name.
    endpoints[1].url = endpoints[1].url.replace("127.0.0.1", "localhost")
    policy = json.dumps({"healthyRetryPolicy": {"numRetries": 0, "minDelayTarget": 0, "maxDelayTarget": 0}})
    try:
        for ep in endpoints:
            confirmed_http(sns, arn, ep, DeliveryPolicy=policy)
        subs = [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]]
        for sub in subs:
            sns.set_subscription_attributes(
                SubscriptionArn=sub,
                AttributeName="RedrivePolicy",
                AttributeValue=json.dumps({"deadLetterTargetArn": dlq}),
            )
        sns.publish(TopicArn=arn, Message="while allowed")
        for ep in endpoints:  # the positive control: both are delivered while allowed
            assert json.loads(ep.wait(1)[0][1])["Message"] == "while allowed"
            ep.received.clear()
        allowed.stop(signal.SIGTERM)

        strict = Server(allowed.data_dir, port=allowed.port).start()  # without the setting
        try:
            sns, sqs = strict.client("sns"), strict.client("sqs")
            sns.publish(TopicArn=arn, Message="after")
            dead = drain(sqs, dlq_url, 2)
            assert [json.loads(m["Body"])["Message"] for m in dead] == ["after", "after"]
            for m in dead:
                assert "loopback" in m["MessageAttributes"]["ErrorMessage"]["StringValue"], m
            # Given up on (dead-lettered) without a request reaching either endpoint.
            assert [ep.received for ep in endpoints] == [[], []]
            assert [ep.attempts for ep in endpoints] == [2, 2]  # the confirmation, "while allowed"
        finally:
            strict.stop()
    finally:
        for ep in endpoints:
            ep.close()
