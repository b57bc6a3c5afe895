"""The bucket store's owner against real SQLite and real files (tmp_path)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from stratus.buckets import catalog
from stratus.buckets.errors import (
    BadDigest,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooSmall,
    IncompleteBody,
    InvalidArgument,
    InvalidBucketName,
    InvalidPart,
    InvalidPartOrder,
    KeyTooLong,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
)
from stratus.buckets.model import Delivery, ObjectChange
from stratus.buckets.objects import MIN_PART, Buckets, multipart_etag
from stratus.store.blobs import FileBlobs

T = TypeVar("T")


class Harness:
    """A store with a route that records every change and delivers to the function the
    bucket's configuration names (a JSON {"function": ARN}), and a wake counter."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.changes: list[ObjectChange] = []
        self.wakes = 0
        self.store = self.open()

    def open(self) -> Buckets:
        return Buckets(
            self.root / "buckets.db", FileBlobs(self.root / "blobs"), route=self.route, wake=self.wake
        )

    def route(self, config: str | None, change: ObjectChange) -> list[Delivery]:
        self.changes.append(change)
        if config is None:
            return []
        payload = json.dumps({"event": change.event, "key": change.key, "seq": change.sequencer})
        return [Delivery(json.loads(config)["function"], change.bucket_region, payload.encode())]

    def wake(self) -> None:
        self.wakes += 1

    def blob_files(self) -> list[Path]:
        return sorted(p for p in (self.root / "blobs").rglob("*") if p.is_file())


def run(make: Callable[[Harness], Awaitable[T]], root: Path) -> T:
    harness = Harness(root)
    try:
        return asyncio.run(make(harness))
    finally:
        harness.store.close()


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def put(store: Buckets, bucket: str, key: str, data: bytes, **kw: Any) -> Any:
    args: dict[str, Any] = dict(
        content_type="text/plain", metadata={}, headers={}, checksums={}, content_md5=None, expected_size=None
    )
    args.update(kw)
    return await store.put_object(bucket, key, body(data), **args)


async def read_all(store: Buckets, bucket: str, key: str, start: int = 0, end: int | None = None) -> bytes:
    info = await store.get_object(bucket, key)
    return b"".join([c async for c in store.read(info, start, info.size if end is None else end)])


def test_buckets_create_list_delete_and_survive_a_restart(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("zeta", "eu-west-1")
        info = await s.create_bucket("alpha", "us-east-1")
        assert info.name == "alpha" and info.region == "us-east-1"
        with pytest.raises(BucketAlreadyOwnedByYou):
            await s.create_bucket("alpha", "us-east-1")
        with pytest.raises(InvalidBucketName):
            await s.create_bucket("Bad_Name", "us-east-1")
        assert [b.name for b in s.list_buckets()] == ["alpha", "zeta"]
        await put(s, "alpha", "k", b"v")
        with pytest.raises(BucketNotEmpty):
            await s.delete_bucket("alpha")
        await s.delete_object("alpha", "k")
        await s.delete_bucket("alpha")
        with pytest.raises(NoSuchBucket):
            s.bucket("alpha")
        with pytest.raises(NoSuchBucket):
            await s.delete_bucket("alpha")
        s.close()
        h.store = h.open()
        assert [(b.name, b.region) for b in h.store.list_buckets()] == [("zeta", "eu-west-1")]

    run(scenario, tmp_path)


def test_put_get_range_metadata_and_etag(tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 17)

    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("bk1", "us-east-1")
        info = await s.put_object(
            "bk1",
            "dir/ünï.bin",
            body(data[:1000], data[1000:]),
            content_type="application/x-test",
            metadata={"color": "blue"},
            headers={"CacheControl": "no-cache"},
            checksums={"ChecksumCRC32": "AAAAAA=="},
            content_md5=hashlib.md5(data).digest(),
            expected_size=len(data),
        )
        assert info.etag == hashlib.md5(data).hexdigest() and info.size == len(data)
        got = await s.get_object("bk1", "dir/ünï.bin")
        assert got == info
        assert got.metadata == {"color": "blue"} and got.headers == {"CacheControl": "no-cache"}
        assert got.checksums == {"ChecksumCRC32": "AAAAAA=="} and got.content_type == "application/x-test"
        assert await read_all(s, "bk1", "dir/ünï.bin") == data
        assert await read_all(s, "bk1", "dir/ünï.bin", 5, 1024 * 1024 + 9) == data[5 : 1024 * 1024 + 9]
        empty = await put(s, "bk1", "empty", b"", content_type="")
        assert empty.etag == hashlib.md5(b"").hexdigest() and empty.content_type == "binary/octet-stream"
        assert await read_all(s, "bk1", "empty") == b""
        with pytest.raises(NoSuchKey):
            await s.get_object("bk1", "missing")
        with pytest.raises(NoSuchBucket):
            await s.get_object("nope", "k")

    run(scenario, tmp_path)


def test_bad_bodies_store_nothing(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("bk1", "us-east-1")
        await put(s, "bk1", "k", b"original")
        before = h.blob_files()
        with pytest.raises(BadDigest):
            await put(s, "bk1", "k", b"changed", content_md5=hashlib.md5(b"other").digest())
        with pytest.raises(IncompleteBody):
            await put(s, "bk1", "k", b"changed", expected_size=100)
        with pytest.raises(KeyTooLong):
            await put(s, "bk1", "x" * 1025, b"data")
        with pytest.raises(InvalidArgument):
            await put(s, "bk1", "a/../b", b"data")
        with pytest.raises(NoSuchBucket):
            await put(s, "nope", "k", b"data")

        async def failing() -> AsyncIterator[bytes]:
            yield b"x" * (3 * 1024 * 1024)  # reaches the temp file
            raise ConnectionResetError("client went away")

        with pytest.raises(ConnectionResetError):
            await s.put_object(
                "bk1",
                "k",
                failing(),
                content_type="",
                metadata={},
                headers={},
                checksums={},
                content_md5=None,
                expected_size=None,
            )
        assert await read_all(s, "bk1", "k") == b"original"
        assert h.blob_files() == before  # no temp file, no new blob
        assert [c.event for c in h.changes] == ["ObjectCreated:Put"]

    run(scenario, tmp_path)


def test_overwrite_and_delete_free_old_blobs_and_sequencers_increase(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("bk1", "us-east-1")
        first = await put(s, "bk1", "k", b"one")
        assert len(h.blob_files()) == 1
        second = await put(s, "bk1", "k", b"two")
        assert len(h.blob_files()) == 1 and h.blob_files()[0].read_bytes() == b"two"
        assert second.sequencer > first.sequencer and len(second.sequencer) == 16
        other = await put(s, "bk1", "other", b"x")
        assert other.sequencer > second.sequencer
        removed = await s.delete_object("bk1", "k")
        assert removed is not None and removed.etag == second.etag
        assert await s.delete_object("bk1", "k") is None  # missing: no error, no event
        assert [c.event for c in h.changes] == ["ObjectCreated:Put"] * 3 + ["ObjectRemoved:Delete"]
        sequencers = [c.sequencer for c in h.changes]
        assert sequencers == sorted(sequencers) and len(set(sequencers)) == 4
        assert h.blob_files() == [p for p in h.blob_files() if p.read_bytes() == b"x"]

    run(scenario, tmp_path)


def test_copy_object(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("src", "us-east-1")
        await s.create_bucket("dst", "us-east-1")
        await put(s, "src", "a", b"payload", metadata={"m": "1"})
        kept = await s.copy_object(
            "src", "a", "dst", "b", replace_metadata=False, content_type=None, metadata={}, headers={}
        )
        assert kept.metadata == {"m": "1"} and kept.content_type == "text/plain"
        assert kept.etag == hashlib.md5(b"payload").hexdigest()
        replaced = await s.copy_object(
            "src",
            "a",
            "dst",
            "c",
            replace_metadata=True,
            content_type="image/png",
            metadata={"n": "2"},
            headers={},
        )
        assert replaced.metadata == {"n": "2"} and replaced.content_type == "image/png"
        await s.delete_object("src", "a")
        assert await read_all(s, "dst", "b") == b"payload"  # its own bytes, not the source's
        assert h.changes[1].event == "ObjectCreated:Copy"
        with pytest.raises(NoSuchKey):
            await s.copy_object(
                "src", "a", "dst", "d", replace_metadata=False, content_type=None, metadata={}, headers={}
            )

    run(scenario, tmp_path)


def _keys() -> list[str]:
    keys = [f"file{i:03d}" for i in range(60)]
    keys += [f"photos/{y}/{i:02d}.jpg" for y in (2023, 2024) for i in range(40)]
    keys += [f"docs/日本語/{i:02d}.txt" for i in range(30)]
    keys += [f"docs/ümlaut-{i:02d}" for i in range(25)]
    keys += [f"docs/{chr(0x1F600 + i)}.emoji" for i in range(20)]
    keys += ["docs/", "a/b/c", "a/b", "a", "zz/\U0010ffff/x", "é/x", "e/x", "docs/ü"]
    return keys


async def _fill(s: Buckets, keys: Iterable[str]) -> None:
    await s.create_bucket("list", "us-east-1")
    for key in keys:
        await put(s, "list", key, b"")


def _expected(keys: list[str], prefix: str, delimiter: str) -> list[str]:
    """What a listing must give, computed the obvious way: every key, by UTF-8 bytes."""
    out: list[str] = []
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        item = key[: cut + len(delimiter)] if cut >= 0 else key
        if item not in out:
            out.append(item)
    return out


@pytest.mark.parametrize(
    ("prefix", "delimiter", "page"),
    [
        ("", "", 7),
        ("", "", 1000),
        ("", "/", 3),
        ("docs/", "/", 4),
        ("photos/", "/", 1),
        ("docs/", "", 9),
        ("photos/2024/", "/", 10),
        ("", "x", 5),
        ("do", "/", 2),
        ("nothing", "/", 5),
        ("a", "/", 1),
    ],
)
def test_list_objects_pages_match_a_full_sort(tmp_path: Path, prefix: str, delimiter: str, page: int) -> None:
    keys = _keys()

    async def scenario(h: Harness) -> list[str]:
        await _fill(h.store, keys)
        seen: list[str] = []
        start = ""
        while True:
            contents, prefixes, truncated, last = await h.store.list_objects(
                "list", prefix=prefix, delimiter=delimiter, start_after=start, max_keys=page
            )
            assert len(contents) + len(prefixes) <= page
            items = sorted([o.key for o in contents] + prefixes, key=lambda k: k.encode())
            seen += items
            if items:
                assert last == items[-1]
            if not truncated:
                return seen
            assert last is not None
            start = last

    assert run(scenario, tmp_path) == _expected(keys, prefix, delimiter)


def test_list_objects_start_after_and_counts(tmp_path: Path) -> None:
    keys = _keys()

    async def scenario(h: Harness) -> None:
        s = h.store
        await _fill(s, keys)
        contents, prefixes, truncated, _ = await s.list_objects("list", start_after="photos/2024/38.jpg")
        assert [o.key for o in contents] == ["photos/2024/39.jpg", "zz/\U0010ffff/x", "é/x"]
        assert prefixes == [] and not truncated
        contents, prefixes, truncated, _ = await s.list_objects("list", delimiter="/", max_keys=1000)
        assert not truncated and prefixes == ["a/", "docs/", "e/", "photos/", "zz/", "é/"]
        assert [o.key for o in contents] == ["a"] + [f"file{i:03d}" for i in range(60)]
        _, _, truncated, _ = await s.list_objects("list", max_keys=len(keys))
        assert not truncated
        _, _, truncated, _ = await s.list_objects("list", max_keys=len(keys) - 1)
        assert truncated

    run(scenario, tmp_path)


def test_after_prefix() -> None:
    assert catalog.after_prefix("a/") == "a0"
    assert catalog.after_prefix("a\ud7ff") == "a\ue000"
    assert catalog.after_prefix("a\U0010ffff") == "b"
    assert catalog.after_prefix("\U0010ffff") is None


async def _upload_parts(s: Buckets, key: str, sizes: list[int]) -> tuple[str, list[tuple[int, str]], bytes]:
    upload = await s.create_upload("mpu", key, content_type="video/mp4", metadata={"a": "b"}, headers={})
    parts, data = [], b""
    for number, size in enumerate(sizes, start=1):
        chunk = os.urandom(size)
        part = await s.put_part(
            "mpu",
            key,
            upload.upload_id,
            number,
            body(chunk),
            content_md5=hashlib.md5(chunk).digest(),
            expected_size=size,
        )
        assert part.etag == hashlib.md5(chunk).hexdigest()
        parts.append((number, f'"{part.etag}"'))
        data += chunk
    return upload.upload_id, parts, data


def test_multipart_complete_reads_across_parts_without_copying(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("mpu", "us-east-1")
        upload_id, parts, data = await _upload_parts(s, "movie", [MIN_PART, MIN_PART, 1000])
        # An extra part that is not named: deleted on completion.
        extra = await s.put_part(
            "mpu", "movie", upload_id, 7, body(b"unused"), content_md5=None, expected_size=None
        )
        uploads, truncated = await s.list_uploads("mpu")
        assert [u.upload_id for u in uploads] == [upload_id] and not truncated
        upload, listed, truncated = await s.list_parts("mpu", "movie", upload_id, max_parts=2)
        assert [p.number for p in listed] == [1, 2] and truncated and upload.content_type == "video/mp4"
        _, listed, truncated = await s.list_parts("mpu", "movie", upload_id, marker=2)
        assert [p.number for p in listed] == [3, 7] and not truncated
        files_before = h.blob_files()
        info = await s.complete_upload("mpu", "movie", upload_id, parts)
        assert info.etag == multipart_etag([p.strip('"') for _, p in parts]) and info.etag.endswith("-3")
        assert info.parts_count == 3 and info.size == len(data) and len(info.segments) == 3
        assert info.metadata == {"a": "b"} and info.content_type == "video/mp4"
        # The parts' files are the object's: nothing copied, only the unnamed part gone.
        path = FileBlobs(tmp_path / "blobs").path(extra.blob)
        assert sorted(h.blob_files()) == sorted(p for p in files_before if p != path)
        assert await read_all(s, "mpu", "movie") == data
        start, end = MIN_PART - 10, 2 * MIN_PART + 10  # spans all three segments
        assert await read_all(s, "mpu", "movie", start, end) == data[start:end]
        assert h.changes[-1].event == "ObjectCreated:CompleteMultipartUpload"
        assert (await s.list_uploads("mpu"))[0] == []
        with pytest.raises(NoSuchUpload):
            await s.complete_upload("mpu", "movie", upload_id, parts)

    run(scenario, tmp_path)


def test_multipart_refusals(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("mpu", "us-east-1")
        upload_id, parts, _ = await _upload_parts(s, "k", [1000, 2000])
        with pytest.raises(InvalidPart):
            await s.complete_upload("mpu", "k", upload_id, [(1, parts[0][1]), (2, '"' + "0" * 32 + '"')])
        with pytest.raises(InvalidPart):
            await s.complete_upload("mpu", "k", upload_id, [(1, parts[0][1]), (3, parts[1][1])])
        with pytest.raises(InvalidPartOrder):
            await s.complete_upload("mpu", "k", upload_id, [parts[1], parts[0]])
        with pytest.raises(EntityTooSmall):
            await s.complete_upload("mpu", "k", upload_id, parts)
        with pytest.raises(NoSuchUpload):
            await s.complete_upload("mpu", "other-key", upload_id, parts)
        with pytest.raises(NoSuchUpload):
            await s.put_part("mpu", "k", "nope", 1, body(b"x"), content_md5=None, expected_size=None)
        with pytest.raises(InvalidArgument):
            await s.put_part("mpu", "k", upload_id, 10001, body(b"x"), content_md5=None, expected_size=None)
        with pytest.raises(BucketNotEmpty):  # an upload in progress keeps the bucket
            await s.delete_bucket("mpu")
        # A single part under 5 MiB is fine (it is the last one).
        info = await s.complete_upload("mpu", "k", upload_id, parts[:1])
        assert info.size == 1000 and len(h.blob_files()) == 1
        upload_id, _, _ = await _upload_parts(s, "k2", [10, 20])
        await s.abort_upload("mpu", "k2", upload_id)
        assert len(h.blob_files()) == 1
        with pytest.raises(NoSuchUpload):
            await s.abort_upload("mpu", "k2", upload_id)

    run(scenario, tmp_path)


def test_outbox_is_written_with_the_change_and_drained(tmp_path: Path) -> None:
    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("bk1", "eu-west-1")
        await put(s, "bk1", "quiet", b"x")
        assert h.wakes == 0 and await s.pending() == []
        await s.put_notification("bk1", json.dumps({"function": "arn:f"}))
        assert json.loads(s.notification("bk1") or "") == {"function": "arn:f"}
        await put(s, "bk1", "k1", b"x")
        await s.delete_object("bk1", "k1")
        assert h.wakes == 2
        pending = await s.pending()
        assert [json.loads(d.payload)["event"] for _, d in pending] == [
            "ObjectCreated:Put",
            "ObjectRemoved:Delete",
        ]
        assert all(d.target_arn == "arn:f" and d.region == "eu-west-1" for _, d in pending)
        ids = [i for i, _ in pending]
        assert ids == sorted(ids)
        # A failed change writes no delivery.
        with pytest.raises(BadDigest):
            await put(s, "bk1", "k2", b"x", content_md5=b"0" * 16)
        assert len(await s.pending()) == 2
        s.close()
        h.store = s = h.open()  # the outbox is durable
        assert [i for i, _ in await s.pending()] == ids
        await s.delivered(ids[:1])
        assert [i for i, _ in await s.pending()] == ids[1:]
        await s.put_notification("bk1", None)
        assert s.notification("bk1") is None

    run(scenario, tmp_path)


def test_crash_between_blob_and_row_and_mid_write_are_swept_at_open(tmp_path: Path) -> None:
    """A blob committed whose row never was (crash between the two), and a writer abandoned
    mid-write (crash during an upload): neither is a visible object, and the next open removes
    both files while keeping the objects' and parts' blobs."""

    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("bk1", "us-east-1")
        await put(s, "bk1", "kept", b"kept")
        upload = await s.create_upload("bk1", "big", content_type="", metadata={}, headers={})
        await s.put_part(
            "bk1", "big", upload.upload_id, 1, body(b"part"), content_md5=None, expected_size=None
        )
        blobs = FileBlobs(tmp_path / "blobs")
        orphan = blobs.writer()
        await orphan.write(b"committed, row never written")
        await orphan.commit()
        abandoned = blobs.writer()
        await abandoned.write(os.urandom(2 * 1024 * 1024))
        assert len(h.blob_files()) == 4
        contents, _, _, _ = await s.list_objects("bk1")
        assert [o.key for o in contents] == ["kept"]
        s.close()
        h.store = s = h.open()
        assert len(h.blob_files()) == 2
        assert await read_all(s, "bk1", "kept") == b"kept"
        assert (await s.list_parts("bk1", "big", upload.upload_id))[1][0].size == 4

    run(scenario, tmp_path)


def test_base64_md5_round_trip_helper() -> None:
    # Content-MD5 arrives base64-encoded; the store takes the raw 16 bytes.
    raw = base64.b64decode(base64.b64encode(hashlib.md5(b"x").digest()))
    assert len(raw) == 16


def test_an_opened_object_survives_an_overwrite_and_a_stale_one_is_missing(tmp_path: Path) -> None:
    """GetObject opens an object's files before it answers: an overwrite after that does not
    cut the answer; one between reading the row and opening is MissingBlob (asked again)."""
    from stratus.store.blobs import MissingBlob

    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("open-bucket", "us-east-1")
        old = await put(s, "open-bucket", "k", b"old bytes")
        opened = await s.open(old, 4, 9)
        assert opened is not None
        await put(s, "open-bucket", "k", b"new bytes!")  # frees the old blob
        (piece,) = opened
        assert os.pread(piece.file.fileno(), piece.length, piece.offset) == b"bytes"
        piece.file.close()
        with pytest.raises(MissingBlob):
            await s.open(old, 0, old.size)
        new = await s.get_object("open-bucket", "k")
        again = await s.open(new, 0, new.size)
        assert again is not None and os.pread(again[0].file.fileno(), 10, 0) == b"new bytes!"
        again[0].file.close()

    run(scenario, tmp_path)


def test_changes_committed_together_fail_alone(tmp_path: Path) -> None:
    """Concurrent changes share one transaction (group commit), each in a savepoint: one that
    is refused inside it leaves the others committed, and they survive a reopen."""

    async def scenario(h: Harness) -> None:
        s = h.store
        await s.create_bucket("group", "us-east-1")
        await put(s, "group", "first", b"1")
        outcomes = await asyncio.gather(
            *(put(s, "group", f"k{i}", b"x" * i) for i in range(8)),
            s.delete_bucket("group"),  # refused inside the batch: the bucket holds objects
            *(put(s, "group", f"j{i}", b"y") for i in range(8)),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(refused) == 1 and isinstance(refused[0], BucketNotEmpty)
        contents, _, _, _ = await s.list_objects("group")
        assert len(contents) == 17

    run(scenario, tmp_path)
    reopened = Harness(tmp_path)
    try:
        contents, _, _, _ = asyncio.run(reopened.store.list_objects("group"))
        assert len(contents) == 17
    finally:
        reopened.store.close()
