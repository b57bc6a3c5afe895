"""Temporary credentials (STS sessions), kept in no table.

A session's access key id, its holder and its expiry travel in the session token itself,
sealed with a key only the server holds (`identity.key` in the data dir, mode 0600); its
secret is derived from that key and the access key id. So issuing a session is a few HMACs
(one per function environment started), verifying one needs no lookup, and sessions survive
a restart without a write. What cannot be sealed in a token is checked where it is opened:
the expiry against the clock, and (by the keyring) that the role or user still exists as the
same entity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from stratus.config import write_private
from stratus.errors import ExpiredToken, UnrecognizedClient

KEY_FILE = "identity.key"
ACCESS_KEY_PREFIX = "ASIA"
# The token's format, so that a later change of its fields can refuse older tokens plainly.
FORMAT = "S1"
_ID_ALPHABET = string.ascii_uppercase + "234567"

Holder = Literal["assumed-role", "user", "root"]


@dataclass(frozen=True)
class Session:
    """What a session token says: who holds the session and until when."""

    access_key_id: str
    holder: Holder
    # The role (assumed-role) or user (user) whose permissions the session has; the account's
    # root ARN for a root session.
    subject_arn: str
    # The role's or user's unique id (AROA..., AIDA...), so that a session of a deleted role is
    # not taken for one of a new role of the same name.
    subject_id: str
    session_name: str
    issued: int  # epoch seconds
    expires: int


@dataclass(frozen=True)
class TemporaryCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


class Sessions:
    """Issues and opens session tokens under one key. Stateless: safe to share."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the session key must be at least 32 bytes")
        self._mac_key = hmac.new(key, b"stratus session token", hashlib.sha256).digest()
        self._secret_key = hmac.new(key, b"stratus session secret", hashlib.sha256).digest()

    def issue(
        self,
        holder: Holder,
        subject_arn: str,
        subject_id: str,
        session_name: str,
        duration_s: int,
        now: float,
    ) -> TemporaryCredentials:
        access_key_id = ACCESS_KEY_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
        issued = int(now)
        claims = {
            "k": access_key_id,
            "h": holder,
            "a": subject_arn,
            "i": subject_id,
            "n": session_name,
            "t": issued,
            "e": issued + duration_s,
        }
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        token = f"{FORMAT}.{body}.{self._seal(body)}"
        return TemporaryCredentials(
            access_key_id,
            self.secret(access_key_id),
            token,
            datetime.fromtimestamp(issued + duration_s, UTC),
        )

    def secret(self, access_key_id: str) -> str:
        digest = hmac.new(self._secret_key, access_key_id.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()[:40]

    def open(self, access_key_id: str, token: str | None, now: float) -> Session:
        """The session `token` seals, if it is one of ours for `access_key_id` and unexpired;
        raises UnrecognizedClient or ExpiredToken as AWS answers."""
        if not token:
            # A session's key id without its token: AWS cannot tell whose key it is either.
            raise UnrecognizedClient("The security token included in the request is invalid.")
        fmt, _, rest = token.partition(".")
        body, _, seal = rest.partition(".")
        if fmt != FORMAT or not hmac.compare_digest(seal, self._seal(body)):
            raise UnrecognizedClient("The security token included in the request is invalid.")
        try:
            claims = json.loads(_unb64(body))
            session = Session(
                access_key_id=str(claims["k"]),
                holder=claims["h"],
                subject_arn=str(claims["a"]),
                subject_id=str(claims["i"]),
                session_name=str(claims["n"]),
                issued=int(claims["t"]),
                expires=int(claims["e"]),
            )
        except (ValueError, KeyError, TypeError):  # sealed by us, so only a format change
            raise UnrecognizedClient("The security token included in the request is invalid.") from None
        if session.access_key_id != access_key_id:
            raise UnrecognizedClient("The security token included in the request is invalid.")
        if now >= session.expires:
            raise ExpiredToken("The security token included in the request is expired")
        return session

    def _seal(self, body: str) -> str:
        return _b64(hmac.new(self._mac_key, body.encode(), hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(data_dir: Path) -> bytes:
    """The data dir's session key: read, or made once (0600, written whole or not at all)."""
    path = data_dir / KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    write_private(path, key)
    return key
