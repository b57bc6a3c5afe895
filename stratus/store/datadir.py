"""The data dir is private to the server's user: 0700, and its state files 0600.

The databases hold functions' environment variables (secrets, often) and the credentials file
holds the root key, so no other user of the machine may read them. The directory's own mode is
what keeps everyone out: a file under a 0700 directory cannot be opened by another user
whatever its own mode. State files are made 0600 as well, in case the directory is ever opened
up by hand.

What stays readable on purpose: extracted code trees, merged layers and Java archives are 0444
files in 0755 directories, because environments run under uids of their own and read them
where the isolation backend binds them (as root) at /var/task, /opt and /var/runtime/app. A
bind mount shows the bound directory itself, so the 0700 directories above it do not stand in
the way; on the host side they keep other users out of the code as well.

An existing data dir, made by an earlier version with the default umask, is tightened at start,
and what was changed is logged.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path, PurePosixPath

log = logging.getLogger("stratus")
DIR_MODE = 0o700
FILE_MODE = 0o600
# Directories of the data dir that only the server itself walks through.
PRIVATE_DIRS = ("code", "run", "code/zips")
# Files below these may be read by environments (see above): their modes are left alone.
SHARED_TREES = ("code/trees", "code/opt", "code/artifacts", "run")


def wanted_mode(relative: PurePosixPath, mode: int) -> int | None:
    """The mode an entry of the data dir should have, or None if it is fine as it is. Pure:
    `relative` is the entry's path inside the data dir ("." for the dir), `mode` its st_mode."""
    permissions = stat.S_IMODE(mode)
    text = relative.as_posix()
    if stat.S_ISDIR(mode):
        if text == "." or text in PRIVATE_DIRS:
            return DIR_MODE if permissions & 0o077 else None
        return None
    if not stat.S_ISREG(mode):
        return None
    if any(text == tree or text.startswith(tree + "/") for tree in SHARED_TREES):
        return None
    return (permissions & FILE_MODE) if permissions & 0o077 else None


def prepare(data_dir: Path) -> list[str]:
    """Create the data dir private, or tighten an existing one. Returns what was tightened
    (also logged). Walks everything but the shared trees, whose files are left as they are."""
    data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for name in PRIVATE_DIRS:  # made here first, so that nobody creates them more open later
        (data_dir / name).mkdir(mode=DIR_MODE, exist_ok=True)
    tightened: list[str] = []
    for path in _entries(data_dir):
        relative = PurePosixPath(path.relative_to(data_dir).as_posix() or ".")
        try:
            mode = path.lstat().st_mode
            new = wanted_mode(relative, mode)
            if new is None:
                continue
            os.chmod(path, new)
        except FileNotFoundError:  # gone meanwhile (a WAL checkpointed away): nothing to hide
            continue
        tightened.append(f"{relative} {stat.S_IMODE(mode):04o} -> {new:04o}")
    if tightened:
        log.warning(
            "the data dir was readable by other users; tightened %d entr%s: %s",
            len(tightened),
            "y" if len(tightened) == 1 else "ies",
            ", ".join(tightened[:20]) + (", ..." if len(tightened) > 20 else ""),
        )
    return tightened


def _entries(data_dir: Path) -> list[Path]:
    """The data dir, and what lies below it except the shared trees (not followed: symlinks)."""
    found = [data_dir]
    for dirpath, dirnames, filenames in os.walk(data_dir):
        here = Path(dirpath)
        relative = here.relative_to(data_dir).as_posix()
        found.extend(here / d for d in dirnames)
        found.extend(here / f for f in filenames)
        # Trees of code are many files and none needs tightening: do not walk into them.
        dirnames[:] = [
            d for d in dirnames if (f"{relative}/{d}" if relative != "." else d) not in SHARED_TREES
        ]
    return found
