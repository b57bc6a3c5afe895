"""The query protocol's forms and XML answers (pure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from stratus.gateway import query_protocol as query

NS = "http://monitoring.amazonaws.com/doc/2010-08-01/"


def test_a_form_becomes_the_json_protocols_parameters() -> None:
    action, params = query.parse_form(
        [
            ("Action", "GetMetricStatistics"),
            ("Version", "2010-08-01"),
            ("Dimensions.member.2.Name", "Resource"),
            ("Dimensions.member.1.Name", "FunctionName"),
            ("Dimensions.member.1.Value", "f"),
            ("Dimensions.member.2.Value", "f:live"),
            ("StartTime", "2026-11-28T05:00:00Z"),
            ("EndTime", "2026-11-28T05:10:00.500+00:00"),
            ("Period", "60"),
            ("Statistics.member.1", "Sum"),
            ("Statistics.member.10", "Maximum"),
            ("Statistics.member.2", "Average"),
        ]
    )
    assert action == "GetMetricStatistics"
    assert params == {
        "Dimensions": [{"Name": "FunctionName", "Value": "f"}, {"Name": "Resource", "Value": "f:live"}],
        "StartTime": 1795842000.0,
        "EndTime": 1795842600.5,
        "Period": 60,
        "Statistics": ["Sum", "Average", "Maximum"],  # by index, not by text
    }


def test_nested_lists_parse() -> None:
    _, params = query.parse_form(
        [
            ("MetricDataQueries.member.1.Id", "a"),
            ("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name", "FunctionName"),
            ("MetricDataQueries.member.1.MetricStat.Period", "300"),
        ]
    )
    assert params == {
        "MetricDataQueries": [
            {"Id": "a", "MetricStat": {"Metric": {"Dimensions": [{"Name": "FunctionName"}]}, "Period": 300}}
        ]
    }


@pytest.mark.parametrize(
    "pairs",
    [
        [("Period", "sixty")],
        [("StartTime", "yesterday")],
        [("Dimensions.member.first.Name", "x")],
        [("Dimensions..Name", "x")],
        [("Namespace", "a"), ("Namespace.member.1", "b")],
        [("a" + ".member.1" * 5000, "deep")],
    ],
)
def test_malformed_forms_are_refused(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(query.QueryError):
        query.parse_form(pairs)


def test_results_become_xml_with_timestamps_lists_and_maps() -> None:
    result = {
        "Label": "Duration <ms>",
        "Datapoints": [{"Timestamp": 1795842000, "Sum": 2.5, "ExtendedStatistics": {"p99": 1.0}}],
        "Timestamps": [1795842060],
        "Values": [3.0],
        "Empty": [],
        "Skipped": None,
    }
    root = ET.fromstring(query.to_xml("GetMetricStatistics", NS, result, "req-1"))
    assert root.tag == f"{{{NS}}}GetMetricStatisticsResponse"
    body = root.find(f"{{{NS}}}GetMetricStatisticsResult")
    assert body is not None
    text = {el.tag.removeprefix(f"{{{NS}}}"): el for el in body}
    assert text["Label"].text == "Duration <ms>"
    point = text["Datapoints"][0]
    assert [el.text for el in point] == ["2026-11-28T05:00:00Z", "2.5", None]
    entry = point[2][0]
    assert [el.text for el in entry] == ["p99", "1.0"]
    assert text["Timestamps"][0].text == "2026-11-28T05:01:00Z"
    assert "Skipped" not in text and len(text["Empty"]) == 0
    assert root.find(f"{{{NS}}}ResponseMetadata/{{{NS}}}RequestId").text == "req-1"  # type: ignore[union-attr]


def test_errors_are_xml_with_escaped_messages() -> None:
    root = ET.fromstring(query.error_xml("InvalidParameterValue", "a < b & c", True, "r"))
    assert [el.text for el in root[0]] == ["Sender", "InvalidParameterValue", "a < b & c"]
