"""A function that floods its output is bounded: overlong lines are cut at CloudWatch's event
size, output past the per-environment rate is dropped with a note, the invocation still
finishes, and other functions keep being served meanwhile."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.e2e.conftest import Server, create

FLOOD: dict[str, str | bytes] = {
    "app.py": """
        import sys, time
        LINE = "x" * 1023 + "\\n"
        def handler(event, context):
            if event.get("long_line"):
                sys.stdout.write("y" * 1_000_000 + "\\n")
                sys.stdout.flush()
                return "long"
            block = LINE * 1024  # 1 MB
            written, start = 0, time.time()
            while written < event["mb"] and time.time() - start < event["seconds"]:
                sys.stdout.write(block)
                written += 1
            sys.stdout.flush()
            return written
        """
}
QUIET: dict[str, str | bytes] = {"app.py": "def handler(event, context):\n    return 'quiet'\n"}


def log_events(logs: Any, group: str, pattern: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        if events or time.monotonic() > deadline:
            return events  # type: ignore[no-any-return]
        time.sleep(0.3)


def test_a_line_longer_than_an_event_is_cut(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, FLOOD)
    out = lam.invoke(FunctionName=fn_name, Payload=b'{"long_line": true}', LogType="Tail")
    assert json.loads(out["Payload"].read()) == "long"
    events = log_events(server.client("logs"), f"/aws/lambda/{fn_name}", "yyyyyyyyyy")
    assert [len(e["message"]) for e in events] == [256 * 1024 - 26]


def test_a_flood_is_bounded_and_others_are_served(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, FLOOD, Timeout=60, MemorySize=256)
    create(lam, fn_name + "-quiet", QUIET)
    lam.invoke(FunctionName=fn_name + "-quiet", Payload=b"{}")  # warm
    flood_done = threading.Event()
    result: dict[str, Any] = {}

    def flood() -> None:
        out = lam.invoke(FunctionName=fn_name, Payload=json.dumps({"mb": 100, "seconds": 8}).encode())
        result["written"] = json.loads(out["Payload"].read())
        result["error"] = out.get("FunctionError")
        flood_done.set()

    thread = threading.Thread(target=flood)
    thread.start()
    served_during_flood = 0
    while not flood_done.is_set():
        out = lam.invoke(FunctionName=fn_name + "-quiet", Payload=b"{}")
        assert json.loads(out["Payload"].read()) == "quiet"
        served_during_flood += not flood_done.is_set()
    thread.join()
    assert result["error"] is None and result["written"] > 0
    assert served_during_flood >= 5  # the quiet function kept answering while the flood ran
    logs = server.client("logs")
    (note,) = log_events(logs, f"/aws/lambda/{fn_name}", '"log output were dropped"')
    dropped = int(note["message"].split()[1])
    assert dropped > 0
    # What was kept is the burst plus the rate over the flood's duration, not the 100 MB.
    kept_mb = result["written"] - dropped / 1048576
    assert kept_mb < 16 + 4 * 10
