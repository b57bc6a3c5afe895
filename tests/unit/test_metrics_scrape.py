"""Who may scrape /_stratus/metrics (stratus/services/metering.py), and the token setting."""

from __future__ import annotations

import pytest

from stratus.config import metrics_token_setting
from stratus.services.metering import scrape_access

TOKEN = "prometheus-token-0123456789"


def test_public_scrapes_need_nothing() -> None:
    assert scrape_access(True, None, None) == "open"
    assert scrape_access(True, TOKEN, "Bearer wrong") == "open"


def test_a_bearer_token_must_be_the_configured_one() -> None:
    assert scrape_access(False, TOKEN, f"Bearer {TOKEN}") == "bearer"
    assert scrape_access(False, TOKEN, f"bearer  {TOKEN} ") == "bearer"
    assert scrape_access(False, TOKEN, "Bearer wrong") == "wrong-bearer"
    assert scrape_access(False, TOKEN, "Bearer ") == "wrong-bearer"
    assert scrape_access(False, None, f"Bearer {TOKEN}") == "no-token-set"


def test_anything_else_must_be_signed() -> None:
    assert scrape_access(False, TOKEN, None) == "sigv4"
    assert scrape_access(False, None, "AWS4-HMAC-SHA256 Credential=...") == "sigv4"
    assert scrape_access(False, TOKEN, "Basic dXNlcjpwYXNz") == "sigv4"


def test_the_token_setting_refuses_short_or_odd_tokens() -> None:
    assert metrics_token_setting(TOKEN) == TOKEN
    for bad in ("short", "has a space in it, long", "tab\there-0123456789", "ünïcode-0123456789ab"):
        with pytest.raises(ValueError, match="STRATUS_METRICS_TOKEN"):
            metrics_token_setting(bad)
