"""The platform's per-invocation log lines in both LoggingConfig formats."""

from __future__ import annotations

import json

from stratus.observe.platform_lines import PlatformLines, Report

REPORT = Report("req-1", 12.345, 13, 128, 40, 5.5, "timeout")


def test_text_lines_are_lambdas_classic_ones() -> None:
    text = PlatformLines()
    assert text.start("req-1", "$LATEST") == ["START RequestId: req-1 Version: $LATEST"]
    assert text.finish(REPORT) == [
        "END RequestId: req-1",
        "REPORT RequestId: req-1\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 40 MB\tInit Duration: 5.50 ms\t",
    ]
    assert PlatformLines(system_level="WARN").start("r", "1")  # levels never filter Text


def test_json_lines_carry_the_report_record() -> None:
    (line,) = PlatformLines(json=True).finish(REPORT)
    event = json.loads(line)
    assert event["type"] == "platform.report" and event["time"].endswith("Z")
    assert event["record"] == {
        "requestId": "req-1",
        "status": "timeout",
        "metrics": {
            "durationMs": 12.35,
            "billedDurationMs": 13,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 40,
            "initDurationMs": 5.5,
        },
    }


def test_system_levels_filter_json_lines() -> None:
    def kinds(level: str) -> list[str]:
        lines = PlatformLines(True, level)
        return [json.loads(x)["type"] for x in lines.start("r", "1") + lines.finish(REPORT)]

    assert kinds("DEBUG") == ["platform.start", "platform.runtimeDone", "platform.report"]
    assert kinds("INFO") == ["platform.start", "platform.report"]
    assert kinds("WARN") == []
