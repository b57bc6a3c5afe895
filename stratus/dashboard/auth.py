"""Who may see the dashboard: the access key, or the token printed when the server starts.

`Sessions` is the one owner of the dashboard's logins. Its contract:

1. Only the event loop calls it, and no method awaits, so it needs no lock.
2. A login opens a session: a random token that the browser keeps in an HttpOnly,
   SameSite=Strict cookie. The server keeps them in memory only; a restart logs everyone out.
   Logins are throttled (`throttle`, dashboard/throttle.py): repeated failures make the next
   attempt wait, for the client's address and for everyone.
3. A session ends after `idle_s` without use, `max_age_s` after login, on logout, or when
   `max_sessions` newer ones push it out (the oldest goes first).
4. The start token is new at every start and is never written anywhere but the start-up
   banner; secrets are compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from stratus.config import Credentials
from stratus.dashboard.throttle import LoginThrottle
from stratus.http_types import DASHBOARD_COOKIE

COOKIE = DASHBOARD_COOKIE
IDLE_S = 12 * 3600.0
MAX_AGE_S = 7 * 86400.0
MAX_SESSIONS = 256


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (hmac.compare_digest) of two strings."""
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class _Session:
    opened: float
    last_used: float


class Sessions:
    def __init__(
        self,
        credentials: Credentials,
        *,
        start_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        idle_s: float = IDLE_S,
        max_age_s: float = MAX_AGE_S,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._credentials = credentials
        self.start_token = start_token or secrets.token_urlsafe(24)
        self._clock = clock
        self._idle_s = idle_s
        self._max_age_s = max_age_s
        self._max_sessions = max_sessions
        self._open: dict[str, _Session] = {}  # insertion order is login order
        self.throttle = LoginThrottle(clock)

    # -- logging in ------------------------------------------------------------------------

    def key_matches(self, access_key_id: str, secret_access_key: str) -> bool:
        creds = self._credentials
        # Both halves are compared, so the time taken does not tell which one was wrong.
        key_ok = same_secret(access_key_id, creds.access_key_id)
        secret_ok = same_secret(secret_access_key, creds.secret_access_key)
        return key_ok and secret_ok

    def token_matches(self, token: str) -> bool:
        return same_secret(token, self.start_token)

    def open(self) -> str:
        """A new session's token (call only after a credential matched)."""
        now = self._clock()
        self._expire(now)
        while len(self._open) >= self._max_sessions:
            del self._open[next(iter(self._open))]
        session = secrets.token_urlsafe(32)
        self._open[session] = _Session(opened=now, last_used=now)
        return session

    # -- using and ending ------------------------------------------------------------------

    def check(self, session: str | None) -> bool:
        """Whether a session is open; using it keeps it alive."""
        if not session:
            return False
        entry = self._open.get(session)
        if entry is None:
            return False
        now = self._clock()
        if self._ended(entry, now):
            del self._open[session]
            return False
        entry.last_used = now
        return True

    def close(self, session: str | None) -> None:
        if session:
            self._open.pop(session, None)

    def __len__(self) -> int:
        return len(self._open)

    def _ended(self, entry: _Session, now: float) -> bool:
        return now - entry.last_used > self._idle_s or now - entry.opened > self._max_age_s

    def _expire(self, now: float) -> None:
        for session in [s for s, entry in self._open.items() if self._ended(entry, now)]:
            del self._open[session]
