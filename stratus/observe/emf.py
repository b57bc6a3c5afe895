"""CloudWatch's embedded metric format: a JSON log line whose `_aws.CloudWatchMetrics` declares
metrics (namespace, dimension sets, names, units) whose values are the line's own members, as
Powertools' Metrics and every EMF writer print them. Pure: a line in, the datums it declares
out; anything that is not a well-formed EMF line declares nothing (it stays a log line)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from stratus.observe.custom_metrics import Datum, StatSet

MARK = '"_aws"'  # a cheap test before any JSON is parsed
MAX_DIMENSION_SETS = 30
MAX_VALUES = 100  # values of one metric in one line (EMF allows arrays)


def datums(line: str, now_ms: int) -> list[Datum]:
    """The metrics an EMF line declares, one datum per metric and dimension set."""
    if MARK not in line:
        return []
    try:
        doc = json.loads(line)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    meta = doc.get("_aws")
    if not isinstance(meta, dict) or not isinstance(meta.get("CloudWatchMetrics"), list):
        return []
    stamp = meta.get("Timestamp")
    ts_ms = int(stamp) if isinstance(stamp, int | float) and math.isfinite(stamp) else now_ms
    minute = ts_ms // 1000 // 60 * 60
    out: list[Datum] = []
    for directive in meta["CloudWatchMetrics"]:
        out.extend(_directive(directive, doc, minute))
    return out


def _directive(directive: Any, doc: Mapping[str, Any], minute: int) -> list[Datum]:
    if not isinstance(directive, dict):
        return []
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not namespace or namespace.startswith("AWS/"):
        return []
    sets = directive.get("Dimensions") or [[]]
    if not isinstance(sets, list) or len(sets) > MAX_DIMENSION_SETS:
        return []
    dimension_sets = []
    for names in sets:
        if not isinstance(names, list) or not all(
            isinstance(n, str) and isinstance(doc.get(n), str) for n in names
        ):
            return []  # a dimension without a string value: CloudWatch rejects the line
        dimension_sets.append({n: str(doc[n]) for n in names})
    out = []
    for metric in directive.get("Metrics") or []:
        if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
            continue
        stats = _values(doc.get(metric["Name"]))
        if stats is None:
            continue
        unit = metric.get("Unit") if isinstance(metric.get("Unit"), str) else "None"
        for dims in dimension_sets:
            out.append(Datum(namespace, metric["Name"], dims, minute, unit or "None", stats))
    return out


def _values(raw: Any) -> StatSet | None:
    values = raw if isinstance(raw, list) else [raw]
    numbers = [
        float(v) for v in values[:MAX_VALUES] if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    numbers = [n for n in numbers if math.isfinite(n)]
    if not numbers:
        return None
    stats = StatSet()
    stats.add(len(numbers), sum(numbers), min(numbers), max(numbers), numbers)
    return stats
