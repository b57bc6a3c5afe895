"""Asynchronous invocation: accepted durably (202), run at least once, retried as Lambda does."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import LAMBDA_TRUST, OUTSIDE_HOST, OutsideWorld, Server, create

# The function reports each attempt to a collector the test runs, then behaves as asked.
APP = """
import json, time, urllib.request

def handler(event, context):
    body = json.dumps({"id": event.get("id"), "request": context.aws_request_id}).encode()
    urllib.request.urlopen(urllib.request.Request(event["collector"], data=body), timeout=5).read()
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return "ok"
"""


class Collector:
    """Records what functions POST to it. It listens in the outside world's namespace: an
    environment cannot reach the host's own addresses."""

    def __init__(self, world: OutsideWorld) -> None:
        self.seen: list[dict[str, Any]] = []
        lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    collector.seen.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((OUTSIDE_HOST, 0), Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = world.listen()
        self.url = f"http://{OUTSIDE_HOST}:{self.server.socket.getsockname()[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> Counter[str]:
        return Counter(str(item["id"]) for item in list(self.seen))

    def wait_for(self, wanted: set[str], timeout: float = 30) -> Counter[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.ids()
            if wanted <= set(seen):
                return seen
            time.sleep(0.05)
        return self.ids()


@pytest.fixture
def collector(outside_world: OutsideWorld) -> Iterator[Collector]:
    c = Collector(outside_world)
    yield c
    c.server.shutdown()


def send(lam: Any, name: str, event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    resp: dict[str, Any] = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps(event).encode(), **kwargs
    )
    return resp


def test_event_invocations_are_accepted_and_run(lam: Any, fn_name: str, collector: Collector) -> None:
    create(lam, fn_name, {"app.py": APP})
    ids = {f"e{i}" for i in range(20)}
    for event_id in sorted(ids):
        resp = send(lam, fn_name, {"id": event_id, "collector": collector.url})
        assert resp["StatusCode"] == 202
        assert resp["Payload"].read() == b""
    seen = collector.wait_for(ids)
    assert set(seen) == ids, seen


def test_function_errors_are_retried_twice(fresh_server: Any, fn_name: str, collector: Collector) -> None:
    srv = fresh_server(STRATUS_ASYNC_RETRY_DELAY="0.2")
    lam = srv.client()
    create(lam, fn_name, {"app.py": APP})
    send(lam, fn_name, {"id": "failing", "collector": collector.url, "fail": True})
    collector.wait_for({"failing"})
    deadline = time.monotonic() + 10
    while collector.ids()["failing"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # a fourth attempt would come within the doubled delay
    assert collector.ids()["failing"] == 3  # the attempt and Lambda's default two retries
    requests = {item["request"] for item in collector.seen}
    assert len(requests) == 1  # every attempt of one event has its request id


def test_throttled_events_are_kept_until_they_can_run(
    fresh_server: Any, fn_name: str, collector: Collector
) -> None:
    srv = fresh_server(STRATUS_ASYNC_BACKOFF="0.1")
    lam = srv.client()
    create(lam, fn_name, {"app.py": APP})
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=0)
    for i in range(3):
        assert send(lam, fn_name, {"id": f"t{i}", "collector": collector.url})["StatusCode"] == 202
    time.sleep(1.5)
    assert collector.ids() == Counter()  # throttled: none ran, none was dropped
    lam.delete_function_concurrency(FunctionName=fn_name)
    seen = collector.wait_for({"t0", "t1", "t2"})
    assert set(seen) == {"t0", "t1", "t2"}, seen


def test_accepted_events_survive_a_crash(fresh_server: Any, fn_name: str, collector: Collector) -> None:
    srv: Server = fresh_server()
    lam = srv.client()
    create(lam, fn_name, {"app.py": APP})
    accepted: set[str] = set()
    for i in range(40):
        event_id = f"k{i}"
        send(lam, fn_name, {"id": event_id, "collector": collector.url, "sleep": 0.05})
        accepted.add(event_id)
        if i == 25:
            assert srv.proc is not None
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait(timeout=10)
            break
    again = Server(data_dir=srv.data_dir).start()
    try:
        seen = collector.wait_for(accepted, timeout=60)
        assert accepted <= set(seen), sorted(accepted - set(seen))
        duplicates = sum(n - 1 for n in seen.values())
        print(f"accepted {len(accepted)}, ran {len(seen)}, duplicates {duplicates}")
        assert duplicates <= 8, seen  # at least once; repeats only for events in flight at the kill
    finally:
        again.stop()


def test_async_payload_limit_and_bad_json(lam: Any, fn_name: str, collector: Collector) -> None:
    create(lam, fn_name, {"app.py": APP})
    big = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=fn_name, InvocationType="Event", Payload=big)
    assert err.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=fn_name, InvocationType="Event", Payload=b"{not json")
    assert err.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=f"missing-{uuid.uuid4().hex[:6]}", InvocationType="Event", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


# -- FunctionEventInvokeConfig and destinations -------------------------------------------------

RECORDER = """
import json, urllib.request

def handler(event, context):
    body = json.dumps({"id": "record", "record": event}).encode()
    urllib.request.urlopen(urllib.request.Request(event["requestPayload"]["collector"], data=body),
                           timeout=5).read()
    return "recorded"
"""


def test_event_invoke_config_crud(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": APP})
    put = lam.put_function_event_invoke_config(
        FunctionName=fn_name, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120
    )
    assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 120
    assert put["FunctionArn"].endswith(f":function:{fn_name}:$LATEST")
    updated = lam.update_function_event_invoke_config(FunctionName=fn_name, MaximumRetryAttempts=0)
    assert updated["MaximumRetryAttempts"] == 0 and updated["MaximumEventAgeInSeconds"] == 120
    got = lam.get_function_event_invoke_config(FunctionName=fn_name)
    assert got["MaximumRetryAttempts"] == 0
    listed = lam.list_function_event_invoke_configs(FunctionName=fn_name)["FunctionEventInvokeConfigs"]
    assert len(listed) == 1
    lam.delete_function_event_invoke_config(FunctionName=fn_name)
    with pytest.raises(ClientError) as err:
        lam.get_function_event_invoke_config(FunctionName=fn_name)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "params",
    [
        {"MaximumRetryAttempts": 3},
        {"MaximumEventAgeInSeconds": 59},
        {"MaximumEventAgeInSeconds": 21601},
        {
            "DestinationConfig": {
                "OnFailure": {"Destination": "arn:aws:lambda:us-east-1:000000000000:function:nope"}
            }
        },
        {"DestinationConfig": {"OnSuccess": {"Destination": "not-an-arn"}}},
    ],
    ids=["retries", "age-low", "age-high", "missing-destination", "bad-arn"],
)
def test_event_invoke_config_bad_input(server: Server, fn_name: str, params: dict[str, Any]) -> None:
    lam = server.client(parameter_validation=False)  # the server's own checks, not botocore's
    create(lam, fn_name, {"app.py": APP})
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(FunctionName=fn_name, **params)
    assert err.value.response["Error"]["Code"] in ("InvalidParameterValueException", "ValidationException")
    with pytest.raises(ClientError):
        lam.get_function_event_invoke_config(FunctionName=fn_name)  # nothing was stored


def test_destinations_receive_the_invocation_record(
    fresh_server: Any, fn_name: str, collector: Collector
) -> None:
    srv = fresh_server(STRATUS_ASYNC_RETRY_DELAY="0.1")
    lam = srv.client()
    recorder = f"{fn_name}-rec"
    recorder_arn = create(lam, recorder, {"app.py": RECORDER})["FunctionArn"]
    create(lam, fn_name, {"app.py": APP}, Role=invoking_role(srv))
    lam.put_function_event_invoke_config(
        FunctionName=fn_name,
        MaximumRetryAttempts=1,
        DestinationConfig={
            "OnSuccess": {"Destination": recorder_arn},
            "OnFailure": {"Destination": recorder_arn},
        },
    )
    send(lam, fn_name, {"id": "good", "collector": collector.url})
    send(lam, fn_name, {"id": "bad", "collector": collector.url, "fail": True})
    deadline = time.monotonic() + 20
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(records) < 2:
        records = [item["record"] for item in list(collector.seen) if item["id"] == "record"]
        time.sleep(0.05)
    by_id = {r["requestPayload"]["id"]: r for r in records}
    assert set(by_id) == {"good", "bad"}, records
    good, bad = by_id["good"], by_id["bad"]
    assert good["version"] == "1.0" and good["timestamp"].endswith("Z")
    assert good["requestContext"]["condition"] == "Success"
    assert good["requestContext"]["functionArn"].endswith(f":function:{fn_name}:$LATEST")
    assert good["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert good["responsePayload"] == "ok"
    assert bad["requestContext"]["condition"] == "RetriesExhausted"
    assert bad["requestContext"]["approximateInvokeCount"] == 2  # the attempt and one retry
    assert bad["responseContext"]["functionError"] == "Unhandled"
    assert bad["responsePayload"]["errorMessage"] == "asked to fail"
    assert collector.ids()["bad"] == 2


def invoking_role(srv: Server, resource: str = "*") -> str:
    """A role that Lambda may assume and that may invoke `resource`: what a function needs to
    send to a destination function (Lambda uses the function's execution role for it)."""
    iam = srv.client("iam")
    name = f"invoker-{uuid.uuid4().hex[:8]}"
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"])
    allow = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": resource}
    iam.put_role_policy(
        RoleName=name,
        PolicyName="invoke",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    return arn


def test_a_destination_the_role_may_not_invoke_gets_nothing(
    fresh_server: Any, fn_name: str, collector: Collector
) -> None:
    srv = fresh_server()
    lam = srv.client()
    recorder = f"{fn_name}-rec"
    recorder_arn = create(lam, recorder, {"app.py": RECORDER})["FunctionArn"]
    elsewhere = f"arn:aws:lambda:us-east-1:000000000000:function:{fn_name}-other"
    create(lam, fn_name, {"app.py": APP}, Role=invoking_role(srv, elsewhere))
    lam.put_function_event_invoke_config(
        FunctionName=fn_name, DestinationConfig={"OnSuccess": {"Destination": recorder_arn}}
    )
    send(lam, fn_name, {"id": "good", "collector": collector.url})
    deadline = time.monotonic() + 20
    while "may not invoke its destination" not in srv.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "may not invoke its destination" in srv.output()
    assert collector.ids()["good"] == 1  # the function itself ran
    assert collector.ids()["record"] == 0


LOOP = """
import json, urllib.request

def handler(event, context):
    while "collector" not in event:  # a destination's record wraps the event before it
        event = event["requestPayload"]
    body = json.dumps({"id": "loop", "request": context.aws_request_id}).encode()
    urllib.request.urlopen(urllib.request.Request(event["collector"], data=body), timeout=5).read()
    return "again"
"""


def test_a_function_that_is_its_own_destination_is_stopped(
    fresh_server: Any, fn_name: str, collector: Collector
) -> None:
    srv = fresh_server()
    lam = srv.client()
    arn = create(lam, fn_name, {"app.py": LOOP}, Role=invoking_role(srv))["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=fn_name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    send(lam, fn_name, {"collector": collector.url})
    deadline = time.monotonic() + 30
    while collector.ids()["loop"] < 16 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # a 17th would have come by now
    assert collector.ids()["loop"] == 16  # Lambda's recursive loop detection stops at 16
    assert "recursive loop detected" in srv.output()


def test_a_dead_letter_queue_that_does_not_exist_is_refused_clearly(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": APP})
    with pytest.raises(ClientError) as err:
        lam.update_function_configuration(
            FunctionName=fn_name,
            DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:000000000000:no-such-dlq"},
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "does not exist" in err.value.response["Error"]["Message"]


def queue_depth(server: Server) -> int:
    from tests.e2e.test_metering import signed_text

    text = signed_text(server, "/_stratus/metrics")
    line = next(line for line in text.splitlines() if line.startswith("stratus_async_queue_depth "))
    return int(float(line.split()[1]))


def test_queue_depth_gauge_follows_the_queue(fresh_server: Any, fn_name: str) -> None:
    """Prometheus shows the events accepted and not yet settled (the databases are the server's
    alone, so this is how anyone outside sees the queue)."""
    server = fresh_server()
    lam = server.client()
    create(lam, fn_name, {"app.py": "import time\ndef handler(event, context):\n    time.sleep(1)\n"})
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=1)
    for _ in range(3):
        assert send(lam, fn_name, {})["StatusCode"] == 202
    assert queue_depth(server) >= 1  # one runs, the others wait for the reserved environment
    deadline = time.monotonic() + 60
    while queue_depth(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queue_depth(server) == 0
