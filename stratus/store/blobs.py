"""Object bytes, behind a small interface so that a cluster can later keep them in an external
S3-compatible store without touching the code that uses them.

`FileBlobs` (the default) keeps each blob as one file under `root/ab/<id>`, named by a
random id: keys never become paths. A blob is written to `root/tmp/` first, then fsynced,
renamed into place and its directory fsynced, so a committed blob survives a crash and a
crash mid-write leaves only a temp file, which `sweep` removes at the next start. Who names a
blob (the bucket catalog's rows) commits its row after the blob; a crash between the two
leaves a blob no row names, which `sweep` removes too.

All file I/O runs in worker threads: the event loop never waits on a disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from stratus.errors import ServiceError
from stratus.store.diskfull import writing

CHUNK = 1024 * 1024  # reads yield at most this much; writes reach the disk in runs this big
_BLOB_ID = re.compile(r"[0-9a-f]{32}")


class BlobWriter(Protocol):
    size: int  # bytes written so far

    async def write(self, chunk: bytes) -> None: ...

    async def commit(self) -> str: ...

    async def abort(self) -> None: ...


class Blobs(Protocol):
    def writer(self) -> BlobWriter: ...

    def read(self, blob: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]: ...

    def path(self, blob: str) -> Path | None: ...

    async def delete(self, blobs: Sequence[str]) -> None: ...

    def sweep(self, live: Callable[[str], bool]) -> int: ...


class MissingBlob(ServiceError):
    """A row names a blob that is not there (removed by hand, or a bug): the platform's fault."""

    code = "InternalError"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileWriter:
    """One blob being written. Chunks are gathered up to `CHUNK` bytes and written by a worker
    thread, so a stream of small chunks costs one thread hop per MiB, not one per chunk."""

    def __init__(self, blobs: FileBlobs) -> None:
        self._blobs = blobs
        self.size = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._file: BinaryIO | None = None
        self._tmp: Path | None = None
        self._done = False

    async def write(self, chunk: bytes) -> None:
        if self._done:
            raise ValueError("the blob writer is finished")
        if not chunk:
            return
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        self.size += len(chunk)
        if self._pending_size >= CHUNK:
            data = b"".join(self._pending)
            self._pending, self._pending_size = [], 0
            await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        with writing():
            if self._file is None:
                self._tmp = self._blobs.tmp / uuid.uuid4().hex
                # Private like the rest of the data dir; kept open across calls.
                fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                self._file = os.fdopen(fd, "wb", buffering=0)
            view = memoryview(data)
            while view:  # an unbuffered write may take only part of what it is given
                written = self._file.write(view)
                view = view[written or 0 :]

    async def commit(self) -> str:
        if self._done:
            raise ValueError("the blob writer is finished")
        data = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        try:
            blob = await asyncio.to_thread(self._commit, data)
        except BaseException:
            await self.abort()
            raise
        self._done = True
        return blob

    def _commit(self, data: bytes) -> str:
        self._write(data)  # also creates the file of an empty blob
        assert self._file is not None and self._tmp is not None
        blob = uuid.uuid4().hex
        with writing():
            os.fsync(self._file.fileno())
            self._file.close()
            target = self._blobs.file(blob)
            os.rename(self._tmp, target)
            _fsync_dir(target.parent)
        self._file, self._tmp = None, None
        return blob

    async def abort(self) -> None:
        self._done = True
        self._pending, self._pending_size = [], 0
        if self._file is not None or self._tmp is not None:
            await asyncio.to_thread(self._discard)

    def _discard(self) -> None:
        file, tmp = self._file, self._tmp
        self._file, self._tmp = None, None
        if file is not None:
            file.close()
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


class FileBlobs:
    """Blobs as files under `root` (DATA_DIR/blobs by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The 256 directories blobs live in (`root/ab/<id>`), made once and durably here, so a
        # commit neither creates a directory nor checks for one: a PUT's only directory fsync is
        # the one that makes its own name durable. 256 keep a million objects at ~4,000 a
        # directory, which ext4's hashed directories look up in constant time.
        missing = [d for d in (root / f"{i:02x}" for i in range(256)) if not d.is_dir()]
        for directory in missing:
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=0o700)
        if missing:
            with writing():
                _fsync_dir(root)

    def file(self, blob: str) -> Path:
        if not _BLOB_ID.fullmatch(blob):  # ids come from our own rows; anything else is a bug
            raise ValueError(f"not a blob id: {blob!r}")
        return self.root / blob[:2] / blob

    def writer(self) -> FileWriter:
        return FileWriter(self)

    def path(self, blob: str) -> Path | None:
        return self.file(blob)

    async def read(self, blob: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of a blob, in chunks of at most 1 MiB, read by a worker thread.
        The file is opened at the first step: once open, a concurrent delete does not cut it."""
        path = self.file(blob)
        try:
            file = await asyncio.to_thread(open, path, "rb", buffering=0)
        except FileNotFoundError:
            raise MissingBlob("The object's data is missing from the store.") from None
        try:
            position = start
            if start:
                await asyncio.to_thread(file.seek, start)
            while end is None or position < end:
                want = CHUNK if end is None else min(CHUNK, end - position)
                chunk = await asyncio.to_thread(file.read, want)
                if not chunk:
                    break
                position += len(chunk)
                yield chunk
        finally:
            file.close()

    async def delete(self, blobs: Sequence[str]) -> None:
        if blobs:
            await asyncio.to_thread(self._delete, list(blobs))

    def _delete(self, blobs: list[str]) -> None:
        for blob in blobs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.file(blob))

    def sweep(self, live: Callable[[str], bool]) -> int:
        """At start, before any writer runs: remove temp files (writes a crash cut short) and
        blobs for which `live` is false (committed, but their row never was); anything else
        found there is left alone. Returns how many files were removed."""
        removed = 0
        for entry in os.scandir(self.tmp):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
        for first in os.scandir(self.root):
            if first.name == "tmp" or not first.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(first.path):
                ours = _BLOB_ID.fullmatch(entry.name) and not entry.is_dir(follow_symlinks=False)
                if not ours or live(entry.name):
                    continue  # a named blob, or something that is not ours to judge
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
        return removed
