"""X-Ray trace headers: parsing what callers send and the header a function runs under."""

from __future__ import annotations

import pytest

from stratus.observe import tracing

ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def test_a_full_header_is_parsed() -> None:
    header = tracing.parse(f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0")
    assert header == tracing.TraceHeader(ROOT, "53995c3f42cd8ad8", "1", "a87bd80c:0")


def test_spaces_case_and_field_order_do_not_matter() -> None:
    header = tracing.parse(f"Sampled=0; Parent=53995C3F42CD8AD8 ; Root={ROOT.upper()}")
    assert header == tracing.TraceHeader(ROOT, "53995c3f42cd8ad8", "0")


@pytest.mark.parametrize(
    "value",
    [None, "", "garbage", "Root=", "Root=1-xyz-abc", f"Root={ROOT}0", "Parent=53995c3f42cd8ad8", "x" * 300],
)
def test_an_unusable_header_is_ignored(value: str | None) -> None:
    assert tracing.parse(value) is None


def test_unusable_parent_and_sampled_fields_are_dropped_not_fatal() -> None:
    assert tracing.parse(f"Root={ROOT};Parent=nothex;Sampled=maybe") == tracing.TraceHeader(ROOT)


def test_the_function_continues_the_callers_trace_under_a_new_segment() -> None:
    incoming = tracing.TraceHeader(ROOT, "53995c3f42cd8ad8", "1", "a87bd80c:0")
    out = tracing.for_function(incoming, active=False)
    assert out.root == ROOT and out.sampled == "1" and out.lineage == "a87bd80c:0"
    assert out.parent is not None and out.parent != incoming.parent and len(out.parent) == 16
    assert out.caller == "53995c3f42cd8ad8"
    assert out.render() == f"Root={ROOT};Parent={out.parent};Sampled=1;Lineage=a87bd80c:0"


@pytest.mark.parametrize(
    ("sampled", "active", "expected"),
    [
        ("0", True, "0"),
        ("1", False, "1"),
        ("?", True, "1"),
        ("?", False, "0"),
        (None, True, "1"),
    ],
)
def test_the_callers_sampling_decision_wins_unless_deferred(
    sampled: str | None, active: bool, expected: str
) -> None:
    out = tracing.for_function(tracing.TraceHeader(ROOT, None, sampled), active)
    assert out.sampled == expected


def test_without_a_caller_a_new_trace_is_sampled_only_when_active() -> None:
    passive, active = tracing.for_function(None, False), tracing.for_function(None, True)
    assert passive.sampled == "0" and active.sampled == "1"
    assert passive.root != active.root
    for header in (passive, active):
        assert tracing.parse(header.render()) == tracing.TraceHeader(
            header.root, header.parent, header.sampled
        )
        assert header.caller is None


def test_the_otel_trace_id_joins_the_roots_two_hex_parts() -> None:
    assert tracing.TraceHeader(ROOT).otel_trace_id == int("5759e988bd862e3fe1be46a994272793", 16)
