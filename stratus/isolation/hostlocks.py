"""Host-wide claims by lock file: a number (a uid, a network slot) belongs to the instance
holding an advisory lock on its file, and the kernel drops the lock if that instance dies, so
instances side by side never share one and a crash frees what it held."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def try_lock(path: Path) -> int | None:
    """The descriptor holding `path`'s lock, or None if another holder has it. Closing the
    descriptor releases the claim."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
