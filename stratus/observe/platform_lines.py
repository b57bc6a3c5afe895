"""The platform's own log lines for each invocation (START, END, REPORT), in the function's
LoggingConfig format: Lambda's classic text lines, or, under LogFormat JSON, one JSON object
per event (`platform.start`, `platform.report`, and at DEBUG `platform.runtimeDone`) filtered by
SystemLogLevel. Pure: the environment decides when, this decides what.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

# SystemLogLevel: DEBUG shows everything, WARN none of the per-invoke events (all are INFO or
# DEBUG), as Lambda filters them.
LEVEL_RANK = {"DEBUG": 0, "INFO": 1, "WARN": 2}


@dataclass(frozen=True)
class Report:
    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None
    status: str  # "success", "error" or "timeout"


@dataclass(frozen=True)
class PlatformLines:
    json: bool = False
    system_level: str = "INFO"

    def _shows(self, level: str) -> bool:
        return LEVEL_RANK[level] >= LEVEL_RANK[self.system_level]

    def start(self, request_id: str, version: str) -> list[str]:
        if not self.json:
            return [f"START RequestId: {request_id} Version: {version}"]
        if not self._shows("INFO"):
            return []
        return [_event("platform.start", {"requestId": request_id, "version": version})]

    def finish(self, report: Report) -> list[str]:
        """END and REPORT in text; runtimeDone (DEBUG) and report (INFO) in JSON."""
        if not self.json:
            line = (
                f"REPORT RequestId: {report.request_id}\tDuration: {report.duration_ms:.2f} ms\t"
                f"Billed Duration: {report.billed_ms} ms\t"
                f"Memory Size: {report.memory_mb} MB\tMax Memory Used: {report.max_memory_mb} MB\t"
            )
            if report.init_ms is not None:
                line += f"Init Duration: {report.init_ms:.2f} ms\t"
            return [f"END RequestId: {report.request_id}", line]
        lines = []
        if self._shows("DEBUG"):
            lines.append(
                _event("platform.runtimeDone", {"requestId": report.request_id, "status": report.status})
            )
        if self._shows("INFO"):
            metrics: dict[str, float | int] = {
                "durationMs": round(report.duration_ms, 2),
                "billedDurationMs": report.billed_ms,
                "memorySizeMB": report.memory_mb,
                "maxMemoryUsedMB": report.max_memory_mb,
            }
            if report.init_ms is not None:
                metrics["initDurationMs"] = round(report.init_ms, 2)
            record = {"requestId": report.request_id, "metrics": metrics, "status": report.status}
            lines.append(_event("platform.report", record))
        return lines


def _event(kind: str, record: Mapping[str, object]) -> str:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    return orjson.dumps({"time": stamp, "type": kind, "record": record}).decode()
