"""Content-based filtering (events/patterns.py): EventBridge/Lambda patterns and SNS filter policies."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.events.patterns import compile_pattern, parse_pattern

EVENT: dict[str, Any] = {
    "source": "aws.ec2",
    "detail-type": "EC2 Instance State-change Notification",
    "detail": {
        "state": "running",
        "count": 5,
        "price": 10.5,
        "flag": True,
        "none": None,
        "tags": ["blue", "green"],
        "ip": "10.0.0.7",
        "name": "Image-Photo.PNG",
        "items": [{"kind": "a", "n": 1}, {"kind": "b", "n": 2}],
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({}, True),
        ({"source": ["aws.ec2"]}, True),
        ({"source": ["aws.s3"]}, False),
        ({"source": ["aws.s3", "aws.ec2"]}, True),
        ({"detail": {"state": ["running"]}}, True),
        ({"detail": {"state": ["stopped"]}}, False),
        ({"detail": {"count": [5]}}, True),
        ({"detail": {"count": [5.0]}}, True),
        ({"detail": {"count": ["5"]}}, False),
        ({"detail": {"flag": [True]}}, True),
        ({"detail": {"flag": ["true"]}}, False),
        ({"detail": {"none": [None]}}, True),
        ({"detail": {"missing": [None]}}, False),
        ({"detail": {"tags": ["green"]}}, True),
        ({"detail": {"tags": ["red"]}}, False),
        ({"detail": {"state": [{"prefix": "run"}]}}, True),
        ({"detail": {"state": [{"prefix": "stop"}]}}, False),
        ({"detail": {"name": [{"suffix": ".PNG"}]}}, True),
        ({"detail": {"name": [{"suffix": ".png"}]}}, False),
        ({"detail": {"name": [{"suffix": {"equals-ignore-case": ".png"}}]}}, True),
        ({"detail": {"name": [{"prefix": {"equals-ignore-case": "image"}}]}}, True),
        ({"detail": {"state": [{"equals-ignore-case": "RUNNING"}]}}, True),
        ({"detail": {"state": [{"anything-but": "stopped"}]}}, True),
        ({"detail": {"state": [{"anything-but": ["running", "x"]}]}}, False),
        ({"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}, False),
        ({"detail": {"state": [{"anything-but": {"suffix": "ing"}}]}}, False),
        ({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["RUNNING"]}}]}}, False),
        ({"detail": {"count": [{"anything-but": [1, 2]}]}}, True),
        ({"detail": {"count": [{"anything-but": [5]}]}}, False),
        ({"detail": {"missing": [{"anything-but": "x"}]}}, False),
        ({"detail": {"count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
        ({"detail": {"count": [{"numeric": [">", 5]}]}}, False),
        ({"detail": {"price": [{"numeric": ["=", 10.5]}]}}, True),
        ({"detail": {"state": [{"numeric": [">", 0]}]}}, False),
        ({"detail": {"state": [{"exists": True}]}}, True),
        ({"detail": {"state": [{"exists": False}]}}, False),
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"missing": [{"exists": True}]}}, False),
        ({"nowhere": {"deep": [{"exists": False}]}}, True),
        ({"detail": {"items": [{"exists": True}]}}, True),
        ({"detail": {"name": [{"wildcard": "Image-*.PNG"}]}}, True),
        ({"detail": {"name": [{"wildcard": "*.png"}]}}, False),
        ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, True),
        ({"detail": {"ip": [{"cidr": "10.0.1.0/24"}]}}, False),
        ({"detail": {"items": {"kind": ["b"]}}}, True),
        ({"detail": {"items": {"kind": ["c"]}}}, False),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"count": [5]}}]}, True),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"count": [6]}}]}, False),
        ({"source": ["aws.ec2"], "detail": {"$or": [{"state": ["x"]}, {"tags": ["blue"]}]}}, True),
    ],
)
def test_eventbridge_matching(pattern: dict[str, Any], expected: bool) -> None:
    assert compile_pattern(pattern).matches(EVENT) is expected


def test_a_non_object_event_never_matches() -> None:
    assert not compile_pattern({"a": ["b"]}).matches(["b"])
    assert not compile_pattern({}).matches("text")


def test_wildcard_escapes() -> None:
    p = compile_pattern({"k": [{"wildcard": "a\\*b*"}]})
    assert p.matches({"k": "a*bcd"})
    assert not p.matches({"k": "axbcd"})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({"source": "aws.ec2"}, "must be an object or an array"),
        ({"source": []}, "empty arrays"),
        ({"source": [["a"]]}, "match values"),
        ({"source": [{"prefix": 1}]}, "prefix match pattern must be a string"),
        ({"source": [{"bogus": "x"}]}, "unrecognized match type bogus"),
        ({"source": [{"prefix": "a", "suffix": "b"}]}, "exactly one key"),
        ({"n": [{"numeric": [">", "x"]}]}, "must be a number"),
        ({"n": [{"numeric": ["<", 5, ">", 1]}]}, "bad numeric range"),
        ({"n": [{"numeric": [">", 5, "<", 1]}]}, "bad numeric range"),
        ({"n": [{"numeric": ["!", 5]}]}, "unrecognized numeric range operator"),
        ({"n": [{"exists": "yes"}]}, "exists match pattern"),
        ({"n": [{"wildcard": "a**b"}]}, "consecutive wildcard"),
        ({"n": [{"cidr": "10.0.0.0/99"}]}, "not a valid CIDR"),
        ({"n": [{"anything-but": [{"prefix": "a"}]}]}, "anything-but values"),
        ({"$or": [{"a": ["b"]}]}, "at least two objects"),
    ],
)
def test_bad_patterns_say_why(pattern: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        compile_pattern(pattern)


def test_parse_pattern_refuses_bad_json_and_non_objects() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_pattern("{nope")
    with pytest.raises(ValueError, match="JSON object"):
        parse_pattern("[1]")
    assert parse_pattern('{"a": ["b"]}').matches({"a": "b"})


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="dialect"):
        compile_pattern({}, dialect="xml")
