"""The embedded metric format, pure: what a line declares, and lines that declare nothing."""

from __future__ import annotations

import json

from stratus.observe.emf import datums

NOW_MS = 1_800_000_030_000


def line(**root: object) -> str:
    doc = {
        "_aws": {
            "Timestamp": NOW_MS - 60_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "App",
                    "Dimensions": [["svc"], ["svc", "op"]],
                    "Metrics": [{"Name": "n", "Unit": "Count"}],
                }
            ],
        },
        "svc": "a",
        "op": "b",
        "n": 2,
    }
    doc.update(root)
    return json.dumps(doc)


def test_one_datum_per_metric_and_dimension_set() -> None:
    found = datums(line(), NOW_MS)
    assert [(d.namespace, d.name, dict(d.dimensions), d.unit, d.stats.total) for d in found] == [
        ("App", "n", {"svc": "a"}, "Count", 2.0),
        ("App", "n", {"svc": "a", "op": "b"}, "Count", 2.0),
    ]
    assert found[0].minute == (NOW_MS - 60_000) // 1000 // 60 * 60  # the line's own timestamp


def test_value_arrays_are_samples() -> None:
    (first, _) = datums(line(n=[1, 2, 3]), NOW_MS)
    assert (first.stats.count, first.stats.total, first.stats.low, first.stats.high) == (3, 6.0, 1.0, 3.0)


def test_lines_that_declare_nothing() -> None:
    assert datums("plain text", NOW_MS) == []
    assert datums('{"_aws": 1}', NOW_MS) == []
    assert datums('{"_aws": {"CloudWatchMetrics": "x"}}', NOW_MS) == []
    assert datums("{not json _aws", NOW_MS) == []
    assert datums(line(n="many"), NOW_MS) == []  # no number: no datum
    assert datums(line(svc=5), NOW_MS) == []  # a dimension must be a string
    aws = json.loads(line())
    aws["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "AWS/Lambda"
    assert datums(json.dumps(aws), NOW_MS) == []  # AWS's namespaces are not for publishing
