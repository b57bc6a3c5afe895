"""Snapshot-style scale-out (Lambda's SnapStart model): new environments of a version fork from
one whose init has already run, each still isolated from the others."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create

APP = """
import os, random, time
INIT_AT = time.time()
time.sleep(0.3)  # a slow init phase
SEED = random.random()

def handler(event, context):
    if event.get("write"):
        with open("/tmp/mine", "w") as f:
            f.write(context.log_stream_name)
    time.sleep(event.get("sleep", 0))
    return {
        "init_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "init_at": INIT_AT,
        "uid": os.getuid(),
        "pid": os.getpid(),
        "random": random.random(),
        "tmp": sorted(os.listdir("/tmp")),
        "stream": context.log_stream_name,
        "region": os.environ["AWS_REGION"],
    }
"""


def linux_only(server: Server) -> None:
    if "isolation:         linux" not in server.output():
        pytest.skip("snapshots need full isolation")


def report(resp: dict[str, Any]) -> str:
    return base64.b64decode(resp["LogResult"]).decode().strip().splitlines()[-1]


def test_published_version_forks_from_an_initialized_environment(server: Server, lam: Any) -> None:
    linux_only(server)
    name = f"snap-{uuid.uuid4().hex[:8]}"
    created = create(lam, name, {"app.py": APP}, SnapStart={"ApplyOn": "PublishedVersions"})
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    published = lam.publish_version(FunctionName=name)
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    version = published["Version"]

    first = lam.invoke(FunctionName=name, Qualifier=version, LogType="Tail", Payload=b'{"write": true}')
    one = json.loads(first["Payload"].read())
    assert one["init_type"] == "snap-start"

    # Two more at once force two more environments, forked from the same template.
    results: list[dict[str, Any]] = []
    reports: list[str] = []
    clients = [server.client() for _ in range(2)]

    def call(client: Any) -> None:
        resp = client.invoke(FunctionName=name, Qualifier=version, LogType="Tail", Payload=b'{"sleep": 1}')
        results.append(json.loads(resp["Payload"].read()))
        reports.append(report(resp))

    threads = [threading.Thread(target=call, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    envs = {r["stream"] for r in results} | {one["stream"]}
    assert len(envs) >= 2, results
    for r in results:
        assert r["init_at"] == one["init_at"]  # init ran once, in the template
        assert r["init_type"] == "snap-start"
        assert r["pid"] == 1  # each environment has its own PID namespace
    forked = [r for r in results if r["stream"] != one["stream"]]
    assert forked, results
    for r in forked:
        assert "mine" not in r["tmp"]  # its own /tmp: not the first environment's file
        assert r["uid"] != one["uid"]  # its own uid
        assert r["random"] != one["random"]  # reseeded after the fork
    # The forked environments skipped the 300 ms init: their Init Duration is the fork's.
    for line in reports:
        match = re.search(r"Init Duration: ([\d.]+) ms", line)
        if match:
            assert float(match.group(1)) < 300, line


def test_latest_uses_snapshots_only_with_the_stratus_tag(server: Server, lam: Any) -> None:
    linux_only(server)
    name = f"snap-latest-{uuid.uuid4().hex[:8]}"
    arn = create(lam, name, {"app.py": APP}, SnapStart={"ApplyOn": "PublishedVersions"})["FunctionArn"]
    plain = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert plain["init_type"] == "on-demand"
    lam.tag_resource(Resource=arn, Tags={"stratus:snapstart": "latest"})
    assert lam.get_function_configuration(FunctionName=name)["SnapStart"]["OptimizationStatus"] == "On"
    tagged = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert tagged["init_type"] == "snap-start"
    with pytest.raises(ClientError) as err:
        lam.tag_resource(Resource=arn, Tags={"stratus:snapstart": "always"})
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_snapshot_init_error_is_reported(server: Server, lam: Any) -> None:
    linux_only(server)
    name = f"snap-broken-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": "raise RuntimeError('no init for you')\n"},
           SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=name)["Version"]
    time.sleep(0.2)
    resp = lam.invoke(FunctionName=name, Qualifier=version)
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert "no init for you" in body["errorMessage"], body


def test_bad_snapstart_value(lam: Any, fn_name: str) -> None:
    with pytest.raises(ClientError) as err:
        create(lam, fn_name, {"app.py": APP}, SnapStart={"ApplyOn": "Always"})
    assert err.value.response["Error"]["Code"] in ("InvalidParameterValueException", "ValidationException")


HOOKS_APP = """
from snapshot_restore_py import register_after_restore, register_before_snapshot

STATE = {"restored": 0}

@register_after_restore
def after_restore():
    STATE["restored"] += 1

def handler(event, context):
    return STATE
"""


def test_after_restore_hooks_run_in_each_environment(server: Server, lam: Any) -> None:
    linux_only(server)
    name = f"snap-hooks-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": HOOKS_APP}, SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=name)["Version"]
    out = json.loads(lam.invoke(FunctionName=name, Qualifier=version)["Payload"].read())
    assert out == {"restored": 1}, out


FAILING_HOOK_APP = """
from snapshot_restore_py import register_after_restore

@register_after_restore
def after_restore():
    raise ValueError("cannot restore here")

def handler(event, context):
    return "ran"
"""


def test_a_failing_after_restore_hook_fails_the_invoke_with_its_error(server: Server, lam: Any) -> None:
    linux_only(server)
    name = f"snap-hookfail-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": FAILING_HOOK_APP}, SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=name)["Version"]
    resp = lam.invoke(FunctionName=name, Qualifier=version, LogType="Tail")
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "ValueError" and "cannot restore here" in body["errorMessage"], body


def test_template_init_output_reaches_the_log_group(server: Server, lam: Any) -> None:
    linux_only(server)
    name = f"snap-logs-{uuid.uuid4().hex[:8]}"
    marker = uuid.uuid4().hex
    source = f"print('init says {marker}')\ndef handler(event, context):\n    return 1\n"
    create(lam, name, {"app.py": source}, SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.invoke(FunctionName=name, Qualifier=version)
    logs = server.client("logs")
    deadline = time.monotonic() + 10
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern=marker)["events"]
        except logs.exceptions.ResourceNotFoundException:
            pass  # no line of the group is stored yet
        time.sleep(0.2)
    assert found, "the template's init output is not in the log group"
    assert "template-" in found[0]["logStreamName"]


MEMORY_TOLERANCE_MB = 5  # what two environments of one handler may differ by


def max_memory_used(resp: dict[str, Any]) -> int:
    found = re.search(r"Max Memory Used: (\d+) MB", report(resp))
    assert found is not None, report(resp)
    return int(found.group(1))


def test_snapstart_max_memory_used_counts_what_it_shares_with_its_template(
    server: Server, lam: Any
) -> None:
    """A forked environment's pages shared with its template are charged to the template's
    cgroup; its REPORT counts them anyway, as an on-demand environment's counts its zygote's."""
    linux_only(server)
    name = f"snapmem-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": APP}, SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=name)["Version"]
    on_demand = lam.invoke(FunctionName=name, LogType="Tail", Payload=b"{}")  # $LATEST: no snapshot
    assert json.loads(on_demand["Payload"].read())["init_type"] == "on-demand"
    snap = lam.invoke(FunctionName=name, Qualifier=version, LogType="Tail", Payload=b"{}")
    assert json.loads(snap["Payload"].read())["init_type"] == "snap-start"
    assert max_memory_used(snap) >= max_memory_used(on_demand) - MEMORY_TOLERANCE_MB, (
        report(on_demand),
        report(snap),
    )
