"""Session tokens (identity/sessions.py): what they seal, and every way one is refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stratus.errors import ExpiredToken, UnrecognizedClient
from stratus.identity.sessions import Sessions, load_key

KEY = b"k" * 32
ROLE = "arn:aws:iam::000000000000:role/app"


def issue(sessions: Sessions, now: float = 1000.0, duration: int = 900):  # type: ignore[no-untyped-def]
    return sessions.issue("assumed-role", ROLE, "AROAEXAMPLE", "probe", duration, now)


def test_a_token_opens_to_what_it_sealed() -> None:
    sessions = Sessions(KEY)
    creds = issue(sessions)
    assert creds.access_key_id.startswith("ASIA") and len(creds.access_key_id) == 20
    assert creds.secret_access_key == sessions.secret(creds.access_key_id)
    session = sessions.open(creds.access_key_id, creds.session_token, 1500.0)
    assert (session.holder, session.subject_arn, session.subject_id, session.session_name) == (
        "assumed-role",
        ROLE,
        "AROAEXAMPLE",
        "probe",
    )
    assert (session.issued, session.expires) == (1000, 1900)
    assert creds.expiration.timestamp() == 1900


def test_expired_at_its_expiry() -> None:
    sessions = Sessions(KEY)
    creds = issue(sessions)
    sessions.open(creds.access_key_id, creds.session_token, 1899.0)
    with pytest.raises(ExpiredToken):
        sessions.open(creds.access_key_id, creds.session_token, 1900.0)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the seal
        lambda token: token.replace(".", ".e", 1),  # the claims
        lambda token: "S0" + token[2:],  # the format
        lambda token: "",
        lambda token: "not a token",
    ],
)
def test_tampered_tokens_are_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    sessions = Sessions(KEY)
    creds = issue(sessions)
    with pytest.raises(UnrecognizedClient):
        sessions.open(creds.access_key_id, mangle(creds.session_token), 1000.0)


def test_a_token_belongs_to_its_own_key_id_and_server() -> None:
    sessions = Sessions(KEY)
    one, two = issue(sessions), issue(sessions)
    with pytest.raises(UnrecognizedClient):
        sessions.open(one.access_key_id, two.session_token, 1000.0)
    with pytest.raises(UnrecognizedClient):
        sessions.open(one.access_key_id, None, 1000.0)
    with pytest.raises(UnrecognizedClient):
        Sessions(b"x" * 32).open(one.access_key_id, one.session_token, 1000.0)
    assert Sessions(b"x" * 32).secret(one.access_key_id) != one.secret_access_key


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        Sessions(b"short")


def test_the_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(tmp_path / "identity.key").st_mode) == 0o600
    assert load_key(tmp_path) == key
