"""Metering and metrics: every invocation is metered exactly (the cost report adds up to the
REPORT lines) and counted for Prometheus."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from typing import Any

from tests.e2e.conftest import Server, create

APP: dict[str, str | bytes] = {
    "app.py": """
        import time
        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            if event.get("fail"):
                raise ValueError("metered failure")
            return {"ok": True}
        """
}


def report_billing(log: str) -> tuple[int, int]:
    """(billed ms, memory MB) from an invocation's REPORT line."""
    line = next(line for line in log.splitlines() if line.startswith("REPORT"))
    billed = int(re.search(r"Billed Duration: (\d+) ms", line).group(1))  # type: ignore[union-attr]
    memory = int(re.search(r"Memory Size: (\d+) MB", line).group(1))  # type: ignore[union-attr]
    return billed, memory


def signed_get(server: Server, path: str) -> Any:
    return json.loads(signed_text(server, path))


def signed_text(server: Server, path: str) -> str:
    """The body of a SigV4-signed GET (the Prometheus scrape wants one unless set otherwise)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY

    request = AWSRequest(method="GET", url=server.endpoint + path)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(request.url, headers=dict(request.headers))) as r:
        return str(r.read().decode())


def test_cost_report_adds_up_to_the_report_lines(fresh_server: Any, fn_name: str) -> None:
    srv: Server = fresh_server()
    lam = srv.client()
    since = int(time.time()) - 60
    create(lam, fn_name, APP, MemorySize=256)
    other = f"{fn_name}-b"
    create(lam, other, APP, MemorySize=1024)
    billed: dict[str, int] = {fn_name: 0, other: 0}
    gb_seconds: dict[str, float] = {fn_name: 0.0, other: 0.0}
    events = [{"sleep": 0.05}, {}, {"fail": True}, {"sleep": 0.02}]
    for name in (fn_name, other):
        for event in events:
            out = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
            ms, memory = report_billing(base64.b64decode(out["LogResult"]).decode())
            billed[name] += ms
            gb_seconds[name] += ms / 1000 * memory / 1024
    report = signed_get(srv, f"/_stratus/cost?since={since}&by=function")
    rows = {row["function"]: row for row in report["rows"]}
    for name in (fn_name, other):
        assert rows[name]["requests"] == len(events)
        assert rows[name]["billedMs"] == billed[name]  # exact: the sum of the REPORT lines
        assert abs(rows[name]["gbSeconds"] - gb_seconds[name]) < 1e-9
        expected = len(events) / 1e6 * 0.20 + gb_seconds[name] * 0.0000166667
        assert abs(rows[name]["cost"] - expected) < 1e-9
    by_day = signed_get(srv, f"/_stratus/cost?since={since}&by=day")
    assert sum(row["requests"] for row in by_day["rows"]) == 2 * len(events)
    assert abs(by_day["totalCost"] - report["totalCost"]) < 1e-9

    metrics = signed_text(srv, "/_stratus/metrics")
    assert f'stratus_invocations_total{{function="{fn_name}"}} 4.0' in metrics
    assert f'stratus_errors_total{{function="{fn_name}"}} 1.0' in metrics
    assert f'stratus_billed_milliseconds_total{{function="{fn_name}"}} {float(billed[fn_name])}' in metrics


def test_cost_rejects_bad_parameters_and_unsigned_requests(server: Server) -> None:
    import urllib.error

    for query in ("by=week", "since=abc", "since=-5"):
        try:
            signed_get(server, f"/_stratus/cost?{query}")
        except urllib.error.HTTPError as e:
            assert e.code == 400
            assert json.loads(e.read())["__type"] == "InvalidParameterValueException"
        else:
            raise AssertionError(f"{query} was accepted")
    try:
        urllib.request.urlopen(server.endpoint + "/_stratus/cost")
    except urllib.error.HTTPError as e:
        assert e.code == 403
    else:
        raise AssertionError("an unsigned cost request was answered")


def test_stratus_cost_cli(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    lam.invoke(FunctionName=fn_name, Payload=b"{}")
    by_function = server.cli("cost", "--since", "1h")
    assert by_function.returncode == 0, by_function.stderr
    assert fn_name in by_function.stdout and "total" in by_function.stdout
    by_day = server.cli("cost", "--since", "2020-01-01", "--by", "day")
    assert by_day.returncode == 0, by_day.stderr
    assert time.strftime("%Y-%m-%d", time.gmtime()) in by_day.stdout
    bad = server.cli("cost", "--since", "yesterday-ish")
    assert bad.returncode != 0 and "Invalid value for '--since'" in bad.stderr


def test_prometheus_gauges_follow_what_runs_now(server: Server, lam: Any, fn_name: str) -> None:
    import threading

    create(lam, fn_name, APP)
    scrape = "/_stratus/metrics"
    running = f'stratus_concurrent_executions{{function="{fn_name}"}} 2.0'
    threads = [
        threading.Thread(target=lam.invoke, kwargs={"FunctionName": fn_name, "Payload": b'{"sleep": 1.5}'})
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while running not in signed_text(server, scrape):
        assert time.monotonic() < deadline, "the two running invocations were never seen"
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    after = signed_text(server, scrape)
    assert f'stratus_concurrent_executions{{function="{fn_name}"}}' not in after
    assert f'stratus_environments{{function="{fn_name}"}} 2.0' in after  # both stay warm


def test_max_memory_used_counts_what_the_runtime_holds(lam: Any, fn_name: str) -> None:
    """Pages an environment shares with the zygote it was forked from are charged to the
    zygote's cgroup, yet the function uses them: the report counts its resident peak too."""
    create(
        lam,
        fn_name,
        {"app.py": "def handler(event, context):\n    b = bytearray(event['mb'] << 20)\n    return len(b)\n"},
    )

    def used(mb: int) -> int:
        out = lam.invoke(FunctionName=fn_name, Payload=json.dumps({"mb": mb}).encode(), LogType="Tail")
        line = next(
            x for x in base64.b64decode(out["LogResult"]).decode().splitlines() if x.startswith("REPORT")
        )
        return int(re.search(r"Max Memory Used: (\d+) MB", line).group(1))  # type: ignore[union-attr]

    idle = used(0)
    assert idle >= 10  # a Python interpreter with awslambdaric loaded, not only its own new pages
    assert used(60) >= idle + 55  # 60 MB more, less what the runtime had touched before
