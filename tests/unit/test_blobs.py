from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from stratus.store.blobs import CHUNK, FileBlobs, MissingBlob


async def _collect(blobs: FileBlobs, blob: str, start: int = 0, end: int | None = None) -> list[bytes]:
    return [chunk async for chunk in blobs.read(blob, start, end)]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_write_commit_read_back(tmp_path: Path) -> None:
    blobs = FileBlobs(tmp_path / "blobs")
    data = os.urandom(3 * CHUNK + 12345)

    async def run() -> None:
        writer = blobs.writer()
        for i in range(0, len(data), 7000):  # small chunks, as a network gives them
            await writer.write(data[i : i + 7000])
        assert writer.size == len(data)
        blob = await writer.commit()
        path = blobs.path(blob)
        assert path is not None and path.read_bytes() == data
        # Stored at root/ab/<id>, nothing left in tmp/.
        assert path == tmp_path / "blobs" / blob[:2] / blob
        assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
        chunks = await _collect(blobs, blob)
        assert b"".join(chunks) == data
        assert all(len(c) <= CHUNK for c in chunks)
        assert b"".join(await _collect(blobs, blob, 5, CHUNK + 10)) == data[5 : CHUNK + 10]
        assert b"".join(await _collect(blobs, blob, len(data) - 3)) == data[-3:]
        assert await _collect(blobs, blob, 10, 10) == []

    asyncio.run(run())


def test_empty_blob(tmp_path: Path) -> None:
    blobs = FileBlobs(tmp_path)

    async def run() -> None:
        writer = blobs.writer()
        blob = await writer.commit()
        assert await _collect(blobs, blob) == []
        path = blobs.path(blob)
        assert path is not None and path.is_file() and path.stat().st_mode & 0o077 == 0

    asyncio.run(run())


def test_abort_leaves_nothing_and_is_idempotent(tmp_path: Path) -> None:
    blobs = FileBlobs(tmp_path)

    async def run() -> None:
        writer = blobs.writer()
        await writer.write(os.urandom(2 * CHUNK))  # reaches the temp file
        assert len(_files(tmp_path)) == 1
        await writer.abort()
        await writer.abort()
        assert _files(tmp_path) == []
        with pytest.raises(ValueError):
            await writer.commit()

    asyncio.run(run())


def test_delete_ignores_missing_and_read_of_missing_blob_is_a_service_error(tmp_path: Path) -> None:
    blobs = FileBlobs(tmp_path)

    async def run() -> None:
        writer = blobs.writer()
        await writer.write(b"x")
        blob = await writer.commit()
        await blobs.delete([blob, "0" * 32])
        assert _files(tmp_path) == []
        with pytest.raises(MissingBlob):
            await _collect(blobs, blob)

    asyncio.run(run())


def test_blob_ids_are_never_paths(tmp_path: Path) -> None:
    blobs = FileBlobs(tmp_path)
    for bad in ["../../etc/passwd", "", "ABCDEF" * 6, "a" * 31]:
        with pytest.raises(ValueError):
            blobs.path(bad)


def test_abandoned_writer_is_swept_and_orphan_blobs_removed(tmp_path: Path) -> None:
    """A crash mid-write (a writer never committed nor aborted) leaves only a temp file; a crash
    after a blob's commit but before its row leaves a blob no row names: sweep removes both and
    keeps the blobs that are named."""
    blobs = FileBlobs(tmp_path)

    async def run() -> tuple[str, str]:
        abandoned = blobs.writer()
        await abandoned.write(os.urandom(CHUNK + 1))
        kept, orphan = blobs.writer(), blobs.writer()
        await kept.write(b"kept")
        await orphan.write(b"orphan")
        return await kept.commit(), await orphan.commit()

    kept, _orphan = asyncio.run(run())
    assert len(list((tmp_path / "tmp").iterdir())) == 1
    reopened = FileBlobs(tmp_path)  # the next start
    assert reopened.sweep(lambda blob: blob == kept) == 2
    assert list((tmp_path / "tmp").iterdir()) == []
    assert _files(tmp_path) == [reopened.path(kept)]
    assert reopened.sweep(lambda blob: blob == kept) == 0


def test_blob_directories_are_made_once_and_foreign_files_are_left(tmp_path: Path) -> None:
    """The 256 directories exist from the start (a commit makes none); the sweep removes only
    what is ours (blob-named files no row names, temp files), never anything else."""
    root = tmp_path / "blobs"
    FileBlobs(root)
    assert sorted(d.name for d in root.iterdir() if d.name != "tmp") == [f"{i:02x}" for i in range(256)]
    stray = root / "ab" / "notes.txt"
    stray.write_text("someone else's")
    orphan = root / "ab" / ("ab" + "0" * 30)
    orphan.write_bytes(b"x")
    assert FileBlobs(root).sweep(lambda blob: False) == 1
    assert stray.exists() and not orphan.exists()
