"""The messaging services against a hostile tenant: a function whose role allows one narrow
thing (sqs:SendMessage on one queue, sns:Publish on one topic) cannot do anything else with it
(receive, purge, delete, grant itself more, subscribe to siphon, publish elsewhere), and nothing
changes when it tries; a queue policy with "Principal": "*" grants exactly what it says; and a
client cannot exhaust the server with long polls, oversized batches or attributes, or with
notifications piling up for an HTTP endpoint that never answers."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import LAMBDA_TRUST, REGION, Server, create, error_code
from tests.e2e.test_sns_delivery import drain, queue
from tests.e2e.test_sns_ssrf import CALLER, run_calls
from tests.e2e.test_sns_topics import topic

ACCOUNT = "000000000000"
MIB = 1024 * 1024
# What the server may grow by (peak RSS) while 200 long polls wait and oversized batches are
# refused: their bytes must not be held, and a waiting poll costs a few kilobytes.
GROWTH_LIMIT = 64 * MIB
# SQS refuses with AccessDenied (its query-era code, which AWS's JSON answers carry in
# x-amzn-query-error for boto3 to report); Stratus's JSON answers carry AccessDeniedException
# there for now (reported to the wire layer's owner). Either way: refused, nothing done.
SQS_DENIED = ("AccessDenied", "AccessDeniedException")


def narrow_role(server: Server, action: str, resource: str) -> str:
    iam = server.client("iam")
    name = f"narrow-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    iam.put_role_policy(
        RoleName=name,
        PolicyName="narrow",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    return str(arn)


def count(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def sqs_call(op: str, **args: Any) -> dict[str, Any]:
    return {"service": "sqs", "op": op, "args": args}


def sns_call(op: str, **args: Any) -> dict[str, Any]:
    return {"service": "sns", "op": op, "args": args}


# -- 2. a narrow role stays narrow -----------------------------------------------------------


def test_a_role_that_may_only_send_to_a_queue_can_do_nothing_else(server: Server) -> None:
    lam, sqs = server.client("lambda"), server.client("sqs")
    url_a, arn_a = queue(sqs)
    url_b, _ = queue(sqs)
    sqs.send_message(QueueUrl=url_a, MessageBody="already there")
    name = f"sender-{uuid.uuid4().hex[:8]}"
    role = narrow_role(server, "sqs:SendMessage", arn_a)
    create(lam, name, {"app.py": CALLER}, Role=role, Timeout=60)
    grab = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": role}, "Action": "sqs:*", "Resource": arn_a}],
    }
    refused = [
        sqs_call("receive_message", QueueUrl=url_a, MaxNumberOfMessages=10),
        sqs_call("send_message", QueueUrl=url_b, MessageBody="to B"),
        sqs_call("send_message_batch", QueueUrl=url_b, Entries=[{"Id": "1", "MessageBody": "to B"}]),
        sqs_call("purge_queue", QueueUrl=url_a),
        sqs_call("delete_queue", QueueUrl=url_a),
        sqs_call("set_queue_attributes", QueueUrl=url_a, Attributes={"Policy": json.dumps(grab)}),
        sqs_call("set_queue_attributes", QueueUrl=url_a, Attributes={"VisibilityTimeout": "0"}),
        sqs_call("get_queue_attributes", QueueUrl=url_a, AttributeNames=["All"]),
        sqs_call("tag_queue", QueueUrl=url_a, Tags={"owner": "me"}),
        sqs_call("create_queue", QueueName=f"mine-{uuid.uuid4().hex[:8]}"),
    ]
    # The send it may make comes first and last: the refusals in between changed nothing, and
    # the Policy it tried to set did not take (the last receive is still refused).
    calls = [
        sqs_call("send_message", QueueUrl=url_a, MessageBody="allowed"),
        *refused,
        sqs_call("receive_message", QueueUrl=url_a, MaxNumberOfMessages=10),
    ]
    outcomes = run_calls(lam, name, calls)
    assert "MessageId" in outcomes[0]["ok"], outcomes[0]
    for call, outcome in zip([*refused, calls[-1]], outcomes[1:], strict=True):
        assert outcome.get("error") in SQS_DENIED, (call["op"], outcome)
    # Nothing changed: A holds both messages (none leased), no policy, no tag, default
    # visibility; B is empty; no queue was created.
    assert count(sqs, url_a) == (2, 0)
    attrs = sqs.get_queue_attributes(QueueUrl=url_a, AttributeNames=["All"])["Attributes"]
    assert "Policy" not in attrs and attrs["VisibilityTimeout"] == "30"
    assert sqs.list_queue_tags(QueueUrl=url_a).get("Tags", {}) == {}
    assert count(sqs, url_b) == (0, 0)
    assert not [u for u in sqs.list_queues(QueueNamePrefix="mine-").get("QueueUrls", [])]
    assert sorted(m["Body"] for m in drain(sqs, url_a, 2)) == ["allowed", "already there"]


def test_a_role_that_may_only_publish_to_a_topic_cannot_subscribe_or_publish_elsewhere(
    server: Server,
) -> None:
    lam, sns, sqs = server.client("lambda"), server.client("sns"), server.client("sqs")
    topic_a, topic_b = topic(sns), topic(sns)
    url_a, arn_qa = queue(sqs, topics=(topic_a,))  # the topics' legitimate subscribers
    url_b, arn_qb = queue(sqs, topics=(topic_b,))
    # Where the attacker would like A's messages: its policy would let SNS deliver them, so
    # only the refused Subscribe keeps them out.
    siphon_url, siphon = queue(sqs, topics=(topic_a,))
    for t, q in ((topic_a, arn_qa), (topic_b, arn_qb)):
        sns.subscribe(TopicArn=t, Protocol="sqs", Endpoint=q, Attributes={"RawMessageDelivery": "true"})
    name = f"publisher-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": CALLER}, Role=narrow_role(server, "sns:Publish", topic_a), Timeout=60)
    grab = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:*", "Resource": topic_a}],
    }
    refused = [
        sns_call("subscribe", TopicArn=topic_a, Protocol="sqs", Endpoint=siphon),
        sns_call("publish", TopicArn=topic_b, Message="to B"),
        sns_call("publish_batch", TopicArn=topic_b, PublishBatchRequestEntries=[{"Id": "1", "Message": "x"}]),
        sns_call(
            "set_topic_attributes", TopicArn=topic_a, AttributeName="Policy", AttributeValue=json.dumps(grab)
        ),
        sns_call("delete_topic", TopicArn=topic_a),
        sns_call("list_subscriptions_by_topic", TopicArn=topic_a),
    ]
    outcomes = run_calls(lam, name, [sns_call("publish", TopicArn=topic_a, Message="allowed"), *refused])
    assert "MessageId" in outcomes[0]["ok"], outcomes[0]
    for call, outcome in zip(refused, outcomes[1:], strict=True):
        assert outcome.get("error") == "AuthorizationError", (call["op"], outcome)
    # Nothing changed: A still has its one subscriber, which got the allowed message; B's
    # subscriber gets only what root publishes after the attempts; the siphon got nothing.
    subs = sns.list_subscriptions_by_topic(TopicArn=topic_a)["Subscriptions"]
    assert [s["Endpoint"] for s in subs] == [arn_qa]
    assert (
        "Policy" not in sns.get_topic_attributes(TopicArn=topic_a)["Attributes"]
        or json.loads(sns.get_topic_attributes(TopicArn=topic_a)["Attributes"]["Policy"]) != grab
    )
    assert [m["Body"] for m in drain(sqs, url_a, 1)] == ["allowed"]
    sns.publish(TopicArn=topic_b, Message="after")
    assert [m["Body"] for m in drain(sqs, url_b, 1)] == ["after"]
    assert count(sqs, url_b) == (0, 0)
    assert count(sqs, siphon_url) == (0, 0)


# -- 3. a queue's policy --------------------------------------------------------------------


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
def test_a_queue_policy_for_everyone_grants_send_on_that_queue_only(server: Server, principal: Any) -> None:
    sqs, iam = server.client("sqs"), server.client("iam")
    url_a, arn_a = queue(sqs)
    url_b, _ = queue(sqs)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", "Resource": arn_a}
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url_a, Attributes={"Policy": json.dumps(policy)})
    user = f"nobody-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)  # no policies of its own
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs: Any = boto3.client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )
    assert theirs.send_message(QueueUrl=url_a, MessageBody="by the queue's leave")["MessageId"]
    for call in (
        lambda: theirs.send_message(QueueUrl=url_b, MessageBody="no"),
        lambda: theirs.receive_message(QueueUrl=url_a),
        lambda: theirs.purge_queue(QueueUrl=url_a),
        lambda: theirs.set_queue_attributes(QueueUrl=url_a, Attributes={"Policy": ""}),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert error_code(err) in SQS_DENIED
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert count(sqs, url_a) == (1, 0) and count(sqs, url_b) == (0, 0)
    assert (
        json.loads(
            sqs.get_queue_attributes(QueueUrl=url_a, AttributeNames=["Policy"])["Attributes"]["Policy"]
        )
        == policy
    )


# -- 4. resource exhaustion -----------------------------------------------------------------


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@contextlib.contextmanager
def bounded_growth(server: Server) -> Iterator[None]:
    """The server's peak RSS during the block stays within GROWTH_LIMIT of its RSS before it
    (the peak, VmHWM, is reset first so that memory held only for a moment counts too)."""
    assert server.proc is not None
    pid = server.proc.pid
    before = _status_kib(pid, "VmRSS") * 1024
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    yield
    peak = _status_kib(pid, "VmHWM") * 1024
    assert peak - before <= GROWTH_LIMIT, f"server grew from {before >> 20} MiB to a peak of {peak >> 20} MiB"


def established(port: int) -> int:
    """How many TCP connections to 127.0.0.1:`port` the server has accepted or is accepting."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "01")


def test_200_long_polls_do_not_starve_other_clients(fresh_server: Any) -> None:
    """200 ReceiveMessage long polls (WaitTimeSeconds 20) wait on an empty queue; meanwhile a
    SendMessage to another queue and a Lambda ListFunctions are answered. No timing is asserted:
    the probes must answer while every poll is still waiting (a starved server would answer
    them only once the polls end, 20 s later; a prompt one in well under a second), and the
    clients' read timeouts (120 s) only guard against a server that never answers."""
    server: Server = fresh_server()
    polls = 200
    pollers = server.client("sqs", max_pool_connections=polls + 10)  # read timeout 120 s
    sqs, lam = server.client("sqs"), server.client("lambda")
    empty_url, _ = queue(sqs)
    other_url, _ = queue(sqs)
    results: list[Any] = []
    lock = threading.Lock()
    started = threading.Barrier(polls + 1)

    def poll() -> None:
        started.wait()
        try:
            got: Any = pollers.receive_message(QueueUrl=empty_url, WaitTimeSeconds=20).get("Messages", [])
        except Exception as e:
            got = e
        with lock:
            results.append(got)

    with bounded_growth(server):
        threads = [threading.Thread(target=poll) for _ in range(polls)]
        for t in threads:
            t.start()
        started.wait()  # every poller is about to send its request
        # ...and has connected: the server's end of 200 connections is established (a guard of
        # 60 s; this takes about a second).
        deadline = time.monotonic() + 60
        while established(server.port) < polls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert established(server.port) >= polls
        assert sqs.send_message(QueueUrl=other_url, MessageBody="still served")["MessageId"]
        assert isinstance(lam.list_functions()["Functions"], list)
        with lock:
            finished_before_probes = len(results)
        for t in threads:
            t.join(timeout=90)
    assert finished_before_probes == 0  # the probes were answered while the polls waited
    assert len(results) == polls and all(r == [] for r in results), [r for r in results if r != []][:3]
    assert count(sqs, other_url) == (1, 0)


def test_oversized_batches_and_attributes_are_refused_and_not_stored(fresh_server: Any) -> None:
    server: Server = fresh_server()
    sqs = server.client("sqs")
    url, _ = queue(sqs)
    with bounded_growth(server):
        # 10 x 1 MiB: past the batch limit (1 MiB in all) and past the largest request the
        # server reads at all (6 MiB, the Lambda payload limit), where it stops reading.
        with pytest.raises(ClientError) as err:
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * MIB} for i in range(10)]
            )
        assert error_code(err) in ("AWS.SimpleQueueService.BatchRequestTooLong", "RequestTooLargeException")
        # 10 x 200 KiB: a request the server reads, refused whole by SQS's batch limit.
        with pytest.raises(ClientError) as err:
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "y" * (200 * 1024)} for i in range(10)]
            )
        assert err.value.response["Error"].get("QueryErrorCode") == "BatchRequestTooLong", err.value.response
        with pytest.raises(ClientError) as err:
            sqs.send_message(QueueUrl=url, MessageBody="z" * (MIB + 1))
        assert error_code(err) == "InvalidParameterValue"
    value = {"DataType": "String", "StringValue": "v"}
    for attributes in (
        {f"a{i}": value for i in range(11)},  # more than 10
        {"n" * 257: value},  # a name longer than 256
        {"AWS.reserved": value},
    ):
        with pytest.raises(ClientError) as err:
            sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes=attributes)
        assert error_code(err) == "InvalidParameterValue"
        answer = sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "b", "MessageAttributes": attributes}]
        )
        assert not answer.get("Successful")  # a batch answers the entry's failure
        assert [(f["Id"], f["Code"], f["SenderFault"]) for f in answer["Failed"]] == [
            ("1", "InvalidParameterValue", True)
        ]
    assert count(sqs, url) == (0, 0)  # nothing of any of it was stored


class HangingEndpoint:
    """An HTTP subscriber on loopback that answers the subscription's confirmation and then
    holds every notification unanswered until released, counting how many it holds at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.held = self.most_held = 0
        self.message_ids: set[str] = set()
        self.confirm_url: list[str] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                if body["Type"] == "SubscriptionConfirmation":
                    outer.confirm_url.append(body["SubscribeURL"])
                else:
                    with lock:
                        outer.held += 1
                        outer.most_held = max(outer.most_held, outer.held)
                    outer.release.wait(120)
                    with lock:
                        outer.held -= 1
                        outer.message_ids.add(body["MessageId"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.request_queue_size = 256
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_an_endpoint_that_never_answers_holds_a_bounded_number_of_deliveries(fresh_server: Any) -> None:
    """Many notifications due at once to an endpoint that never answers: the server makes at
    most 64 of them at a time (each holds its message in memory until its POST ends), not as
    many as are due; once the endpoint answers, every one is delivered."""
    server: Server = fresh_server(STRATUS_SNS_ALLOW_LOOPBACK="1")
    sns = server.client("sns")
    arn = topic(sns)
    ep = HangingEndpoint()
    try:
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=ep.url)
        deadline = time.monotonic() + 30
        while not ep.confirm_url and time.monotonic() < deadline:
            time.sleep(0.05)
        with urllib.request.urlopen(ep.confirm_url[0], timeout=10) as reply:
            assert reply.status == 200
        published = 150
        for i in range(published):
            sns.publish(TopicArn=arn, Message=f"m{i}")
        # Wait (60 s at most, as a guard) for the held count to stop growing for a second: the
        # server has then made every request it is going to make while none ends.
        deadline, last, steady_since = time.monotonic() + 60, -1, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - steady_since < 1.0:
            if ep.held != last:
                last, steady_since = ep.held, time.monotonic()
            time.sleep(0.05)
        assert 0 < ep.most_held <= 64, ep.most_held
        ep.release.set()
        deadline = time.monotonic() + 120
        while len(ep.message_ids) < published and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(ep.message_ids) == published
    finally:
        ep.close()
