"""The data disk filling up: recognising it, the error a client hears, and quiet warnings.

A full filesystem (ENOSPC), an exhausted quota (EDQUOT) and SQLite's SQLITE_FULL all mean the
same thing here: the write was not made, nothing already stored was harmed, and the same write
will succeed once space returns. So API writes answer `errors.DiskFull` (a 5xx naming the disk,
never an incident with a traceback), telemetry drops what it cannot store, and nothing that
only reads (invokes, listings, log reads) depends on free space.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from stratus.errors import DiskFull

SQLITE_FULL = 13  # the primary result code; extended codes keep it in the low byte
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from or during, means "no space left"."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if (isinstance(code, int) and code & 0xFF == SQLITE_FULL) or "disk is full" in str(exc):
                return True
        exc = exc.__cause__ or exc.__context__
    return False


def reason(exc: BaseException | None) -> str:
    """The system's words for what ran out: space, or the quota."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.EDQUOT:
            return os.strerror(errno.EDQUOT)
        exc = exc.__cause__ or exc.__context__
    return os.strerror(errno.ENOSPC)


def disk_full_error(exc: BaseException | None = None) -> DiskFull:
    if isinstance(exc, DiskFull):
        return exc
    # Named as "the data dir", not by its path: the client need not learn the server's layout.
    return DiskFull(
        f"Stratus's data disk is full ({reason(exc)}) under the data dir: the write was not made."
    )


@contextmanager
def writing() -> Iterator[None]:
    """Around a write to the data dir: a full disk becomes `DiskFull`, anything else passes."""
    try:
        yield
    except DiskFull:
        raise
    except (OSError, sqlite3.Error) as e:
        if is_disk_full(e):
            raise disk_full_error(e) from e
        raise


def warning_due(last_warned: float | None, now: float, interval: float) -> bool:
    """Rate limit for the warnings a full disk causes: the first one, then one per interval.
    The log itself may live on that disk, so it must not be flooded."""
    return last_warned is None or now - last_warned >= interval
