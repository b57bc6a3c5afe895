"""Lambda's function metrics through boto3's CloudWatch client: ListMetrics,
GetMetricStatistics and GetMetricData, by function, version and alias."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, AWS_V2, REGION, SECRET_KEY, Server, create
from tests.e2e.vendored import vendored_zip

APP: dict[str, str | bytes] = {
    "app.py": """
        import time
        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            if event.get("fail"):
                raise ValueError("counted")
            return 1
        """
}


def window() -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    # A start with seconds of its own: CloudWatch rounds it down to the minute, and so must we.
    start = (now - dt.timedelta(minutes=10)).replace(second=37, microsecond=0)
    return {"StartTime": start, "EndTime": now + dt.timedelta(minutes=2)}


def test_function_metrics(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)
    for event in ({"sleep": 0.05}, {}, {"fail": True}):
        lam.invoke(FunctionName=fn_name, Payload=json.dumps(event).encode())
    lam.invoke(FunctionName=fn_name, Qualifier="live", Payload=b"{}")
    cw = server.client("cloudwatch")
    fn = [{"Name": "FunctionName", "Value": fn_name}]

    def stats(metric: str, dims: list[dict[str, str]], **kw: Any) -> list[dict[str, Any]]:
        out = cw.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims, Period=3600, **window(), **kw
        )
        return out["Datapoints"]  # type: ignore[no-any-return]

    invocations = stats("Invocations", fn, Statistics=["Sum"])
    assert sum(p["Sum"] for p in invocations) == 4  # $LATEST and version 1, not the alias again
    errors = stats("Errors", fn, Statistics=["Sum", "SampleCount"])
    assert sum(p["Sum"] for p in errors) == 1 and sum(p["SampleCount"] for p in errors) == 4
    duration = stats("Duration", fn, Statistics=["Maximum", "Average"], ExtendedStatistics=["p50", "p99"])
    assert duration and duration[0]["Unit"] == "Milliseconds"
    assert (
        duration[0]["Maximum"] >= 50
        and duration[0]["ExtendedStatistics"]["p99"] >= duration[0]["ExtendedStatistics"]["p50"]
    )
    cold = stats("ColdStarts", fn, Statistics=["Sum"])
    assert sum(p["Sum"] for p in cold) >= 2  # $LATEST and version 1 each started an environment
    alias = [{"Name": "FunctionName", "Value": fn_name}, {"Name": "Resource", "Value": f"{fn_name}:live"}]
    assert sum(p["Sum"] for p in stats("Invocations", alias, Statistics=["Sum"])) == 1

    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "inv",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations", "Dimensions": fn},
                    "Period": 60,
                    "Stat": "Sum",
                },
            },
            {
                "Id": "p90",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Duration", "Dimensions": fn},
                    "Period": 60,
                    "Stat": "p90",
                },
            },
        ],
        **window(),
    )
    results = {r["Id"]: r for r in data["MetricDataResults"]}
    assert sum(results["inv"]["Values"]) == 4 and results["inv"]["StatusCode"] == "Complete"
    assert len(results["inv"]["Timestamps"]) == len(results["inv"]["Values"])
    assert all(stamp.second == 0 for stamp in results["inv"]["Timestamps"])  # periods on whole minutes
    assert all(p["Timestamp"].second == 0 for p in invocations)
    assert results["p90"]["Values"]

    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[{"Name": "FunctionName", "Value": fn_name}])
    names = {m["MetricName"] for m in listed["Metrics"]}
    assert {"Invocations", "Errors", "Throttles", "Duration"} <= names
    assert any(
        d["Name"] == "Resource" and d["Value"] == f"{fn_name}:live"
        for m in listed["Metrics"]
        for d in m["Dimensions"]
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        (
            {"Namespace": "AWS/Lambda", "MetricName": "Invocations", "Period": 61, "Statistics": ["Sum"]},
            "InvalidParameterValue",
        ),
        ({"Namespace": "AWS/Lambda", "MetricName": "Invocations", "Period": 60}, "MissingParameter"),
        (
            {
                "Namespace": "AWS/Lambda",
                "MetricName": "Duration",
                "Period": 60,
                "ExtendedStatistics": ["p200"],
            },
            "InvalidParameterValue",
        ),
    ],
)
def test_bad_metric_requests(server: Server, kwargs: dict[str, Any], code: str) -> None:
    cw = server.client("cloudwatch")
    with pytest.raises(ClientError) as err:
        cw.get_metric_statistics(**kwargs, **window())
    assert err.value.response["Error"]["Code"] == code


def test_time_window_out_of_range(server: Server) -> None:
    cw = server.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(ClientError) as err:
        cw.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Period=60,
            Statistics=["Sum"],
            StartTime=now,
            EndTime=now - dt.timedelta(hours=1),
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        cw.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Period=60,
            Statistics=["Sum"],
            StartTime=now - dt.timedelta(days=30),
            EndTime=now,
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "exceeds the limit" in err.value.response["Error"]["Message"]


def peak(cw: Any, metric: str, dims: list[dict[str, str]], stat: str = "Maximum") -> float:
    points = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims, Period=3600, Statistics=[stat], **window()
    )["Datapoints"]
    return max((p[stat] for p in points), default=0.0)


def test_concurrency_gauges(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    payload = json.dumps({"sleep": 0.5}).encode()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: lam.invoke(FunctionName=fn_name, Payload=payload), range(4)))
    cw = server.client("cloudwatch")
    fn = [{"Name": "FunctionName", "Value": fn_name}]
    assert peak(cw, "ConcurrentExecutions", fn) == 4
    assert peak(cw, "ConcurrentExecutions", []) >= 4  # the account's, shared with other tests
    assert peak(cw, "UnreservedConcurrentExecutions", []) >= 4
    assert peak(cw, "UnreservedConcurrentExecutions", fn) == 0  # published for the account only
    listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=fn)["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {"ConcurrentExecutions", "AsyncEventAge", "DestinationDeliveryFailures"} <= names
    assert "UnreservedConcurrentExecutions" not in names


def test_reserved_functions_are_not_unreserved(fresh_server: Any, fn_name: str) -> None:
    srv: Server = fresh_server()
    lam = srv.client()
    create(lam, fn_name, APP)
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=5)
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: lam.invoke(FunctionName=fn_name, Payload=b'{"sleep": 0.4}'), range(3)))
    cw = srv.client("cloudwatch")
    assert peak(cw, "ConcurrentExecutions", []) == 3
    assert peak(cw, "UnreservedConcurrentExecutions", []) == 0


def test_provisioned_concurrency_metrics(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(
        FunctionName=fn_name, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    deadline = time.monotonic() + 20
    while lam.get_provisioned_concurrency_config(FunctionName=fn_name, Qualifier="live")["Status"] != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    slow = json.dumps({"sleep": 0.5}).encode()
    with ThreadPoolExecutor(3) as pool:  # two on provisioned environments, one spills over
        list(pool.map(lambda _: lam.invoke(FunctionName=fn_name, Qualifier="live", Payload=slow), range(3)))
    cw = server.client("cloudwatch")
    fn = [{"Name": "FunctionName", "Value": fn_name}]
    on_version = [*fn, {"Name": "Resource", "Value": f"{fn_name}:{version}"}]
    assert peak(cw, "ProvisionedConcurrencyInvocations", fn, "Sum") == 2
    assert peak(cw, "ProvisionedConcurrencySpilloverInvocations", fn, "Sum") == 1
    assert peak(cw, "ProvisionedConcurrentExecutions", on_version) == 2
    assert peak(cw, "ProvisionedConcurrencyUtilization", on_version) == 1.0
    lam.delete_provisioned_concurrency_config(FunctionName=fn_name, Qualifier="live")


def test_async_metrics(fresh_server: Any, fn_name: str) -> None:
    srv: Server = fresh_server(STRATUS_ASYNC_RETRY_DELAY="0.1")
    lam = srv.client()
    create(lam, fn_name, APP)
    create(lam, fn_name + "-dest", APP)
    arn = lam.get_function(FunctionName=fn_name + "-dest")["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=fn_name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    lam.delete_function(FunctionName=fn_name + "-dest")  # its deliveries now fail
    for event in ({}, {"fail": True}, {"fail": True}):
        assert (
            lam.invoke(FunctionName=fn_name, InvocationType="Event", Payload=json.dumps(event).encode())[
                "StatusCode"
            ]
            == 202
        )
    cw = srv.client("cloudwatch")
    fn = [{"Name": "FunctionName", "Value": fn_name}]
    deadline = time.monotonic() + 20
    while peak(cw, "DestinationDeliveryFailures", fn, "Sum") < 2:
        assert time.monotonic() < deadline, "the failed events never reached their destination"
        time.sleep(0.3)
    assert peak(cw, "AsyncEventsReceived", fn, "Sum") == 3
    assert peak(cw, "AsyncEventsDropped", fn, "Sum") == 2  # no retries allowed
    assert peak(cw, "AsyncEventAge", fn, "SampleCount") == 3  # one attempt each
    assert 0 <= peak(cw, "AsyncEventAge", fn) < 20_000
    assert peak(cw, "Invocations", fn, "Sum") == 3


def aws_v2(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """CloudWatch through the AWS CLI v2, which speaks its query protocol."""
    return server.aws("--output", "json", "cloudwatch", *args, check=False, cli=AWS_V2)


def test_the_query_protocol_through_the_aws_cli_v2(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    for event in ({}, {}, {"fail": True}):
        lam.invoke(FunctionName=fn_name, Payload=json.dumps(event).encode())
    span = window()
    times = ["--start-time", span["StartTime"].isoformat(), "--end-time", span["EndTime"].isoformat()]
    dims = ["--dimensions", f"Name=FunctionName,Value={fn_name}"]

    def statistics(metric: str, *wanted: str) -> subprocess.CompletedProcess[str]:
        return aws_v2(
            server,
            "get-metric-statistics",
            "--namespace",
            "AWS/Lambda",
            "--metric-name",
            metric,
            *dims,
            *times,
            "--period",
            "3600",
            *wanted,
        )

    out = statistics("Errors", "--statistics", "Sum", "SampleCount")
    assert out.returncode == 0, out.stderr
    (point,) = json.loads(out.stdout)["Datapoints"]
    assert (point["Sum"], point["SampleCount"], point["Unit"]) == (1.0, 3.0, "Count")
    out = statistics("Duration", "--extended-statistics", "p50", "p99")
    assert out.returncode == 0, out.stderr
    (point,) = json.loads(out.stdout)["Datapoints"]
    assert point["ExtendedStatistics"]["p99"] >= point["ExtendedStatistics"]["p50"] > 0
    query = json.dumps(
        [
            {
                "Id": "inv",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Invocations",
                        "Dimensions": [{"Name": "FunctionName", "Value": fn_name}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ]
    )
    out = aws_v2(server, "get-metric-data", *times, "--metric-data-queries", query)
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)["MetricDataResults"]
    assert (
        result["Id"] == "inv"
        and sum(result["Values"]) == 3
        and len(result["Timestamps"]) == len(result["Values"])
    )
    out = aws_v2(server, "list-metrics", "--namespace", "AWS/Lambda", *dims)
    assert out.returncode == 0, out.stderr
    assert "Invocations" in {m["MetricName"] for m in json.loads(out.stdout)["Metrics"]}
    out = aws_v2(
        server,
        "get-metric-statistics",
        "--namespace",
        "AWS/Lambda",
        "--metric-name",
        "Invocations",
        *times,
        "--period",
        "45",
        "--statistics",
        "Sum",
    )
    assert out.returncode != 0 and "InvalidParameterValue" in out.stderr and "Period" in out.stderr


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ("Action=DeleteAlarms&Version=2010-08-01", "InvalidAction"),
        ("Version=2010-08-01", "InvalidAction"),
        ("Action=ListMetrics&Dimensions.member.x.Name=FunctionName", "InvalidQueryParameter"),
        ("Action=GetMetricStatistics&Period=sixty", "InvalidQueryParameter"),
        ("Action=GetMetricStatistics&Namespace=AWS/Lambda&MetricName=Invocations", "MissingParameter"),
    ],
)
def test_malformed_query_requests_get_xml_errors(server: Server, form: str, code: str) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "monitoring", REGION).add_auth(request)
    sent = urllib.request.Request(
        request.url, data=form.encode(), headers=dict(request.headers), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(sent, timeout=30)
    assert err.value.code == 400
    root = ET.fromstring(err.value.read())
    # AWS qualifies the answer with the service's XML namespace, as botocore's parser allows.
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    assert root.tag == f"{ns}ErrorResponse" and root.findtext(f"{ns}Error/{ns}Code") == code
    assert root.findtext(f"{ns}Error/{ns}Type") == "Sender" and root.findtext(f"{ns}RequestId")


def test_published_metrics_in_a_namespace_of_ones_own(server: Server) -> None:
    """PutMetricData (values, statistic sets, value lists) into a custom namespace, read back
    by GetMetricStatistics, GetMetricData and ListMetrics; AWS's namespaces are refused."""
    cw = server.client("cloudwatch")
    namespace = f"App/{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "Service", "Value": "checkout"}]
    now = dt.datetime.now(dt.UTC)
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Value": 10.0, "Unit": "Milliseconds"},
            {"MetricName": "Latency", "Dimensions": dims, "Values": [20.0, 30.0], "Counts": [1, 2]},
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "StatisticValues": {"SampleCount": 2, "Sum": 9.0, "Minimum": 4.0, "Maximum": 5.0},
                "Unit": "Milliseconds",
            },
            {"MetricName": "Orders", "Dimensions": dims, "Value": 3, "Unit": "Count", "Timestamp": now},
        ],
    )
    points = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Latency",
        Dimensions=dims,
        Period=3600,
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
    )["Datapoints"]
    assert len(points) == 1
    point = points[0]
    assert (point["SampleCount"], point["Sum"], point["Minimum"], point["Maximum"]) == (6.0, 99.0, 4.0, 30.0)
    assert point["Average"] == 99.0 / 6
    data = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "orders",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": "Orders", "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
    )["MetricDataResults"][0]
    assert data["Values"] == [3.0]
    listed = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert {(m["MetricName"], tuple(d["Value"] for d in m["Dimensions"])) for m in listed} == {
        ("Latency", ("checkout",)),
        ("Orders", ("checkout",)),
    }
    # Other dimensions are another series: nothing there.
    other = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="Latency",
        Dimensions=[{"Name": "Service", "Value": "search"}],
        Period=60,
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
        Statistics=["Sum"],
    )["Datapoints"]
    assert other == []
    # A namespace nothing publishes to answers no data, as CloudWatch does.
    empty = cw.get_metric_statistics(
        Namespace="AWS/EC2",
        MetricName="CPUUtilization",
        Period=60,
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now,
        Statistics=["Sum"],
    )
    assert empty["Datapoints"] == []
    for bad, code in (
        (
            {"Namespace": "AWS/Lambda", "MetricData": [{"MetricName": "X", "Value": 1.0}]},
            "InvalidParameterValue",
        ),
        ({"Namespace": namespace, "MetricData": [{"MetricName": "X"}]}, "MissingParameter"),
        (
            {
                "Namespace": namespace,
                "MetricData": [{"MetricName": "X", "Value": 1.0, "Timestamp": now - dt.timedelta(days=30)}],
            },
            "InvalidParameterValue",
        ),
    ):
        with pytest.raises(ClientError) as refused:
            cw.put_metric_data(**bad)
        assert refused.value.response["Error"]["Code"] == code


EMF_APP = """
import json, time

def handler(event, context):
    print(json.dumps({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": event["namespace"],
                "Dimensions": [["service"], []],
                "Metrics": [
                    {"Name": "ProcessedItems", "Unit": "Count"},
                    {"Name": "Latency", "Unit": "Milliseconds"},
                ],
            }],
        },
        "service": "orders",
        "ProcessedItems": event["items"],
        "Latency": [12.5, 7.5],
        "requestId": context.aws_request_id,
    }))
    print('{"_aws": "not a metric line"}')
    return "ok"
"""


def test_embedded_metric_format_lines_become_metrics(server: Server, lam: Any, fn_name: str) -> None:
    """A function printing CloudWatch's embedded metric format (as Powertools' Metrics does)
    publishes those metrics, per dimension set; the line stays in its log too."""
    namespace = f"Emf/{uuid.uuid4().hex[:8]}"
    create(lam, fn_name, {"app.py": EMF_APP})
    for items in (3, 4):
        answer = lam.invoke(
            FunctionName=fn_name, Payload=json.dumps({"namespace": namespace, "items": items})
        )
        assert "FunctionError" not in answer, answer["Payload"].read()
    cw = server.client("cloudwatch")
    now = dt.datetime.now(dt.UTC)
    span = {
        "StartTime": now - dt.timedelta(minutes=5),
        "EndTime": now + dt.timedelta(minutes=5),
        "Period": 3600,
    }

    def points(name: str, dims: list[dict[str, str]]) -> list[dict[str, Any]]:
        out = cw.get_metric_statistics(
            Namespace=namespace, MetricName=name, Dimensions=dims, Statistics=["Sum", "SampleCount"], **span
        )
        return out["Datapoints"]  # type: ignore[no-any-return]

    by_service = points("ProcessedItems", [{"Name": "service", "Value": "orders"}])
    assert [(p["Sum"], p["SampleCount"], p["Unit"]) for p in by_service] == [(7.0, 2.0, "Count")]
    assert [p["Sum"] for p in points("ProcessedItems", [])] == [7.0]  # the empty dimension set
    assert [(p["Sum"], p["SampleCount"]) for p in points("Latency", [])] == [(40.0, 4.0)]
    names = {m["MetricName"] for m in cw.list_metrics(Namespace=namespace)["Metrics"]}
    assert names == {"ProcessedItems", "Latency"}


POWERTOOLS_APP = """
import os
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace=os.environ["NAMESPACE"], service="orders")


@metrics.log_metrics
def handler(event, context):
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=event["n"])
    return "ok"
"""


@pytest.fixture(scope="module")
def powertools_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return vendored_zip(tmp_path_factory.mktemp("powertools"), POWERTOOLS_APP, "aws-lambda-powertools")


def test_powertools_metrics_become_metrics(
    server: Server, lam: Any, fn_name: str, powertools_zip: bytes
) -> None:
    """Powertools' Metrics (vendored from PyPI, unchanged) prints EMF at the end of each
    invocation; its metrics are served by CloudWatch's API, with the `service` dimension."""
    namespace = f"Shop/{uuid.uuid4().hex[:8]}"
    create(
        lam,
        fn_name,
        {},
        Code={"ZipFile": powertools_zip},
        Environment={"Variables": {"NAMESPACE": namespace}},
    )
    for n in (2, 5):
        answer = lam.invoke(FunctionName=fn_name, Payload=json.dumps({"n": n}))
        assert "FunctionError" not in answer, answer["Payload"].read()
    now = dt.datetime.now(dt.UTC)
    points = server.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName="OrdersPlaced",
        Dimensions=[{"Name": "service", "Value": "orders"}],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    assert [(p["Sum"], p["SampleCount"], p["Unit"]) for p in points] == [(7.0, 2.0, "Count")]
