"""Stratus's own cookies never reach a function's event (stratus/httpapi/events.py)."""

from __future__ import annotations

from stratus.httpapi.events import HttpRequest, Target, own_cookies_removed, v1_event, v2_event

TARGET = Target(account_id="000000000000", api_id="abc", domain_name="abc.example", request_id="r")


def request(*cookies: str) -> HttpRequest:
    headers = (*(("cookie", c) for c in cookies), ("x-other", "1"))
    return HttpRequest("GET", "/", "", headers, b"", "127.0.0.1")


def test_the_dashboard_cookie_is_taken_out_of_a_cookie_header() -> None:
    assert own_cookies_removed("a=1; stratus_dashboard=s3cret; b=2") == ["a=1", "b=2"]
    assert own_cookies_removed(" stratus_dashboard =s3cret") == []
    assert own_cookies_removed("stratus_dashboard2=x; xstratus_dashboard=y") == [
        "stratus_dashboard2=x",
        "xstratus_dashboard=y",
    ]


def test_payload_2_events_carry_other_cookies_only() -> None:
    event = v2_event(request("a=1; stratus_dashboard=s3cret", "stratus_dashboard=again; b=2"), TARGET)
    assert event["cookies"] == ["a=1", "b=2"]
    assert "s3cret" not in str(event) and "again" not in str(event)
    assert "cookies" not in v2_event(request("stratus_dashboard=s3cret"), TARGET)


def test_payload_1_events_carry_other_cookies_only() -> None:
    event = v1_event(request("a=1; stratus_dashboard=s3cret; b=2"), TARGET)
    assert event["headers"]["cookie"] == "a=1; b=2"
    assert event["multiValueHeaders"]["cookie"] == ["a=1; b=2"]
    assert "s3cret" not in str(event)
    alone = v1_event(request("stratus_dashboard=s3cret"), TARGET)
    assert "cookie" not in alone["headers"] and "cookie" not in alone["multiValueHeaders"]
    untouched = v1_event(request("a=1;b=2"), TARGET)  # nothing of Stratus's: kept as sent
    assert untouched["headers"]["cookie"] == "a=1;b=2"
