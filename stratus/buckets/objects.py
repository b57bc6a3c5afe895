"""`Buckets`: the one owner of buckets, objects, multipart uploads, notification
configurations and the notification outbox.

Its rows live in `DATA_DIR/buckets.db` (SQL in `catalog`), its bytes in a `Blobs` store. Rules
that keep a crash harmless:
- an object's bytes are committed (fsynced, renamed into place) before the row that names
  them, so a row never names a missing blob; a blob whose row never committed is removed by
  the sweep at the next start;
- every change is one transaction holding the object row, the sequencer's step and the outbox
  rows of the notifications it causes, so an acknowledged change is never missing its events
  and an event never announces a change that did not happen; `wake()` follows the commit;
- blobs a change made unreachable (an overwritten object, replaced or unused parts) are
  deleted after the commit; a crash before that only leaves garbage for the sweep.

All database work runs on one worker thread (the connection's only user), so the event loop
never waits on an fsync and changes are applied in one order. Bucket names and notification
configurations are also held in memory, updated by that thread right after each commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple, TypeVar

from stratus.buckets import catalog
from stratus.buckets.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
)
from stratus.buckets.model import (
    BucketInfo,
    Delivery,
    ObjectChange,
    ObjectInfo,
    PartInfo,
    Segment,
    UploadInfo,
)
from stratus.buckets.names import check_bucket_name, check_key
from stratus.buckets.receiving import MAX_OBJECT, receive
from stratus.store.blobs import Blobs, MissingBlob
from stratus.store.committer import Committer
from stratus.store.diskfull import writing

log = logging.getLogger("stratus.buckets")
T = TypeVar("T")


class OpenSpan(NamedTuple):
    """An open file of an object's bytes, and the run of it that belongs to one answer."""

    file: BinaryIO
    offset: int
    length: int


# (the bucket's notification configuration JSON, the change) -> the deliveries it causes.
Route = Callable[[str | None, ObjectChange], list[Delivery]]
Requester = tuple[str, str, str]  # (principal id, source IP, request id), for event records
STRATUS: Requester = ("AWS:stratus", "127.0.0.1", "")
MIN_PART = 5 * 1024**2  # every part but the last
MAX_PART_NUMBER = 10_000
DEFAULT_TYPE = "binary/octet-stream"  # what S3 stores when a PUT names no Content-Type


class Buckets:
    def __init__(
        self,
        path: Path,
        blobs: Blobs,
        *,
        route: Route,
        wake: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._blobs = blobs
        self._route = route
        self._wake = wake
        self._clock = clock
        self._db = Committer(path, "buckets")
        with writing():
            catalog.create(self._db.conn)
        self._buckets = {b.name: b for b in catalog.load_buckets(self._db.conn)}
        self._notifications = catalog.load_notifications(self._db.conn)
        # Before any writer runs: what a crash left half-written or never named goes.
        live = set(catalog.live_blobs(self._db.conn))
        removed = blobs.sweep(live.__contains__)
        if removed:
            log.info("buckets: removed %d blob file(s) an earlier run left unfinished", removed)

    def close(self) -> None:
        self._db.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._db.read(fn)

    async def _change(self, fn: Callable[[sqlite3.Connection], T], new_blobs: Sequence[str] = ()) -> T:
        """Run `fn` as one change (group-committed: committer.py). If it fails, the blobs written
        for it are deleted (nothing names them). If the caller is cancelled meanwhile, its
        change's fate is unknown here, so they are left for the sweep."""
        try:
            return await self._db.change(fn)
        except asyncio.CancelledError:
            raise
        except BaseException:
            await self._forget(new_blobs)
            raise

    async def _settled(self, notify: bool, unused: Sequence[str]) -> None:
        """After a change committed: the relay woken for its events, the blobs it left unnamed
        (an overwritten object's, parts not completed) freed."""
        if notify:
            self._wake()
        await self._forget(unused)

    async def _forget(self, blobs: Sequence[str]) -> None:
        """Delete blobs nothing names any more; a failure only leaves them to the next sweep."""
        if not blobs:
            return
        try:
            await self._blobs.delete(blobs)
        except Exception:
            log.warning("buckets: %d unused blob(s) stay until the next start", len(blobs), exc_info=True)

    def _announce(
        self,
        conn: sqlite3.Connection,
        event: str,
        bucket: str,
        key: str,
        size: int,
        etag: str,
        sequencer: str,
        now_ms: int,
        requester: Requester,
    ) -> bool:
        """Inside a change's transaction: its deliveries into the outbox. Whether there were any."""
        principal, source_ip, request_id = requester
        change = ObjectChange(
            event=event,
            bucket=bucket,
            bucket_region=self._buckets[bucket].region if bucket in self._buckets else "",
            key=key,
            size=size,
            etag=etag,
            sequencer=sequencer,
            time=catalog.when(now_ms),
            principal=principal,
            source_ip=source_ip,
            request_id=request_id,
        )
        deliveries = self._route(self._notifications.get(bucket), change)
        catalog.add_deliveries(conn, deliveries)
        return bool(deliveries)

    # -- buckets --------------------------------------------------------------------------------

    async def create_bucket(self, name: str, region: str) -> BucketInfo:
        check_bucket_name(name)
        info = BucketInfo(name, region, catalog.when(self._now_ms()))

        def change(conn: sqlite3.Connection) -> None:
            if not catalog.insert_bucket(conn, info):
                raise BucketAlreadyOwnedByYou(
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    BucketName=name,
                )

        await self._change(change)
        self._buckets[name] = info
        return info

    def bucket(self, name: str) -> BucketInfo:
        info = self._buckets.get(name)
        if info is None:
            raise NoSuchBucket("The specified bucket does not exist", BucketName=name)
        return info

    def list_buckets(self) -> list[BucketInfo]:
        return sorted(self._buckets.values(), key=lambda b: b.name)

    async def delete_bucket(self, name: str) -> None:
        self.bucket(name)

        def change(conn: sqlite3.Connection) -> None:
            if not catalog.bucket_exists(conn, name):
                raise NoSuchBucket("The specified bucket does not exist", BucketName=name)
            if catalog.bucket_holds_anything(conn, name):
                raise BucketNotEmpty("The bucket you tried to delete is not empty", BucketName=name)
            catalog.delete_bucket(conn, name)

        await self._change(change)
        self._buckets.pop(name, None)
        self._notifications.pop(name, None)

    def _bucket_in(self, conn: sqlite3.Connection, name: str) -> None:
        """Inside a transaction: the bucket still exists (it may have gone while a body streamed)."""
        if not catalog.bucket_exists(conn, name):
            raise NoSuchBucket("The specified bucket does not exist", BucketName=name)

    # -- objects --------------------------------------------------------------------------------

    async def _store(
        self,
        bucket: str,
        key: str,
        blob: str,
        size: int,
        etag: str,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        headers: Mapping[str, str],
        checksums: Mapping[str, str],
        event: str,
        requester: Requester,
    ) -> ObjectInfo:
        """The row of a single-blob object, its sequencer and its notifications: one change."""
        now = self._now_ms()

        def change(conn: sqlite3.Connection) -> tuple[ObjectInfo, ObjectInfo | None, bool]:
            self._bucket_in(conn, bucket)
            sequencer = catalog.sequencer(catalog.next_values(conn, catalog.SEQUENCER))
            old = catalog.get_object(conn, bucket, key)
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=size,
                etag=etag,
                last_modified=catalog.when(now),
                content_type=content_type or DEFAULT_TYPE,
                metadata=dict(metadata),
                headers=dict(headers),
                checksums=dict(checksums),
                segments=(Segment(blob, size),),
                sequencer=sequencer,
            )
            catalog.put_object(conn, info)
            notify = self._announce(conn, event, bucket, key, size, etag, sequencer, now, requester)
            return info, old, notify

        info, old, notify = await self._change(change, [blob])
        await self._settled(notify, [s.blob for s in old.segments] if old else [])
        return info

    async def put_object(
        self,
        bucket: str,
        key: str,
        body: AsyncIterator[bytes],
        *,
        content_type: str,
        metadata: Mapping[str, str],
        headers: Mapping[str, str],
        checksums: Mapping[str, str],
        content_md5: bytes | None,
        expected_size: int | None,
        event: str = "ObjectCreated:Put",
        requester: Requester = STRATUS,
    ) -> ObjectInfo:
        self.bucket(bucket)
        check_key(key)
        blob, size, etag = await receive(
            self._blobs, body, content_md5=content_md5, expected_size=expected_size
        )
        return await self._store(
            bucket,
            key,
            blob,
            size,
            etag,
            content_type=content_type,
            metadata=metadata,
            headers=headers,
            checksums=checksums,
            event=event,
            requester=requester,
        )

    async def get_object(self, bucket: str, key: str) -> ObjectInfo:
        self.bucket(bucket)
        check_key(key)
        info = await self._read(lambda conn: catalog.get_object(conn, bucket, key))
        if info is None:
            raise NoSuchKey("The specified key does not exist.", Key=key)
        return info

    async def read(self, info: ObjectInfo, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end) of an object, across its segments, in chunks of at most 1 MiB."""
        offset = 0
        for segment in info.segments:
            low, high = max(start, offset), min(end, offset + segment.size)
            if low < high:
                async for chunk in self._blobs.read(segment.blob, low - offset, high - offset):
                    yield chunk
            offset += segment.size
            if offset >= end:
                break

    async def open(self, info: ObjectInfo, start: int, end: int) -> list[OpenSpan] | None:
        """The files holding bytes [start, end) of an object, opened, each with the offset and
        count to send from it (for sendfile); None when the blob store has no local files. Once
        open, a concurrent overwrite or delete does not cut the answer; a blob already gone (an
        overwrite since `get_object`) is MissingBlob, and the caller asks again."""
        spans: list[tuple[Path, int, int]] = []
        offset = 0
        for segment in info.segments:
            low, high = max(start, offset), min(end, offset + segment.size)
            if low < high:
                path = self._blobs.path(segment.blob)
                if path is None:
                    return None
                spans.append((path, low - offset, high - low))
            offset += segment.size
            if offset >= end:
                break

        def open_all() -> list[OpenSpan]:
            opened: list[OpenSpan] = []
            try:
                for path, low, length in spans:
                    opened.append(OpenSpan(open(path, "rb"), low, length))  # noqa: SIM115 (closed by the caller)
            except FileNotFoundError:
                for span in opened:
                    span.file.close()
                raise MissingBlob("The object changed while it was being read.") from None
            return opened

        return await asyncio.to_thread(open_all)

    async def delete_object(
        self, bucket: str, key: str, *, requester: Requester = STRATUS
    ) -> ObjectInfo | None:
        self.bucket(bucket)
        check_key(key)
        now = self._now_ms()

        def change(conn: sqlite3.Connection) -> tuple[ObjectInfo | None, bool]:
            self._bucket_in(conn, bucket)
            old = catalog.get_object(conn, bucket, key)
            if old is None:  # nothing changed: no sequencer step, no event
                return None, False
            sequencer = catalog.sequencer(catalog.next_values(conn, catalog.SEQUENCER))
            catalog.delete_object(conn, bucket, key)
            event = "ObjectRemoved:Delete"
            return old, self._announce(conn, event, bucket, key, 0, "", sequencer, now, requester)

        old, notify = await self._change(change)
        await self._settled(notify, [s.blob for s in old.segments] if old else [])
        return old

    async def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        bucket: str,
        key: str,
        *,
        replace_metadata: bool,
        content_type: str | None,
        metadata: Mapping[str, str],
        headers: Mapping[str, str],
        requester: Requester = STRATUS,
    ) -> ObjectInfo:
        self.bucket(bucket)
        check_key(key)
        source = await self.get_object(src_bucket, src_key)
        if (src_bucket, src_key) == (bucket, key) and not replace_metadata:
            raise InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without "
                "changing the object's metadata, storage class, website redirect location or encryption "
                "attributes."
            )
        if source.size > MAX_OBJECT:
            raise InvalidRequest(
                "The specified copy source is larger than the maximum allowable size for a copy source: "
                f"{MAX_OBJECT}"
            )
        blob, size, etag = await receive(
            self._blobs, self.read(source, 0, source.size), content_md5=None, expected_size=source.size
        )
        return await self._store(
            bucket,
            key,
            blob,
            size,
            etag,
            content_type=(content_type or DEFAULT_TYPE) if replace_metadata else source.content_type,
            metadata=metadata if replace_metadata else source.metadata,
            headers=headers if replace_metadata else source.headers,
            checksums=source.checksums,  # the bytes are the same, so are their checksums
            event="ObjectCreated:Copy",
            requester=requester,
        )

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        max_keys: int = 1000,
    ) -> tuple[list[ObjectInfo], list[str], bool, str | None]:
        """(contents, common prefixes, truncated, the last key or prefix returned: resuming with
        it as `start_after` gives the next page)."""
        self.bucket(bucket)
        return await self._read(
            lambda conn: catalog.list_objects(
                conn,
                bucket,
                prefix=prefix,
                delimiter=delimiter,
                start_after=start_after,
                max_keys=max(0, max_keys),
            )
        )

    # -- multipart uploads ----------------------------------------------------------------------

    @staticmethod
    def _upload_in(conn: sqlite3.Connection, bucket: str, key: str, upload_id: str) -> UploadInfo:
        upload = catalog.get_upload(conn, upload_id)
        if upload is None or (upload.bucket, upload.key) != (bucket, key):
            raise NoSuchUpload(
                "The specified upload does not exist. The upload ID may be invalid, or the upload may "
                "have been aborted or completed.",
                UploadId=upload_id,
            )
        return upload

    async def create_upload(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        headers: Mapping[str, str],
    ) -> UploadInfo:
        self.bucket(bucket)
        check_key(key)
        upload = UploadInfo(
            bucket=bucket,
            key=key,
            upload_id=secrets.token_hex(24),
            initiated=catalog.when(self._now_ms()),
            content_type=content_type or DEFAULT_TYPE,
            metadata=dict(metadata),
            headers=dict(headers),
        )

        def change(conn: sqlite3.Connection) -> None:
            self._bucket_in(conn, bucket)
            catalog.insert_upload(conn, upload)

        await self._change(change)
        return upload

    async def put_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        body: AsyncIterator[bytes],
        *,
        content_md5: bytes | None,
        expected_size: int | None,
    ) -> PartInfo:
        self.bucket(bucket)
        if not 1 <= number <= MAX_PART_NUMBER:
            raise InvalidArgument(
                f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
                ArgumentName="partNumber",
                ArgumentValue=str(number),
            )
        # Before the body is read: a part for no upload is refused without storing it.
        await self._read(lambda conn: self._upload_in(conn, bucket, key, upload_id))
        blob, size, etag = await receive(
            self._blobs, body, content_md5=content_md5, expected_size=expected_size
        )
        part = PartInfo(number, size, etag, catalog.when(self._now_ms()), blob)

        def change(conn: sqlite3.Connection) -> str | None:
            self._upload_in(conn, bucket, key, upload_id)  # it may have been aborted meanwhile
            return catalog.put_part(conn, upload_id, part)

        replaced = await self._change(change, [blob])
        if replaced is not None:
            await self._forget([replaced])
        return part

    async def complete_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        requester: Requester = STRATUS,
    ) -> ObjectInfo:
        self.bucket(bucket)
        if not parts:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        numbers = [number for number, _ in parts]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise InvalidPartOrder(
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
                UploadId=upload_id,
            )
        now = self._now_ms()

        def change(conn: sqlite3.Connection) -> tuple[ObjectInfo, list[str], bool]:
            self._bucket_in(conn, bucket)
            upload = self._upload_in(conn, bucket, key, upload_id)
            stored = catalog.all_parts(conn, upload_id)
            chosen = [_named_part(stored, number, etag) for number, etag in parts]
            for part in chosen[:-1]:
                if part.size < MIN_PART:
                    raise EntityTooSmall(
                        "Your proposed upload is smaller than the minimum allowed object size.",
                        PartNumber=str(part.number),
                        ProposedSize=str(part.size),
                        MinSizeAllowed=str(MIN_PART),
                    )
            etag = multipart_etag([p.etag for p in chosen])
            size = sum(p.size for p in chosen)
            sequencer = catalog.sequencer(catalog.next_values(conn, catalog.SEQUENCER))
            old = catalog.get_object(conn, bucket, key)
            info = ObjectInfo(
                bucket=bucket,
                key=key,
                size=size,
                etag=etag,
                last_modified=catalog.when(now),
                content_type=upload.content_type,
                metadata=upload.metadata,
                headers=upload.headers,
                checksums={},
                segments=tuple(Segment(p.blob, p.size) for p in chosen),
                sequencer=sequencer,
                parts_count=len(chosen),
            )
            catalog.put_object(conn, info)
            used = {p.blob for p in chosen}
            unused = [blob for blob in catalog.delete_upload(conn, upload_id) if blob not in used]
            if old is not None:
                unused += [s.blob for s in old.segments]
            event = "ObjectCreated:CompleteMultipartUpload"
            notify = self._announce(conn, event, bucket, key, size, etag, sequencer, now, requester)
            return info, unused, notify

        info, unused, notify = await self._change(change)
        await self._settled(notify, unused)
        return info

    async def abort_upload(self, bucket: str, key: str, upload_id: str) -> None:
        self.bucket(bucket)

        def change(conn: sqlite3.Connection) -> list[str]:
            self._upload_in(conn, bucket, key, upload_id)
            return catalog.delete_upload(conn, upload_id)

        await self._forget(await self._change(change))

    async def list_parts(
        self, bucket: str, key: str, upload_id: str, *, marker: int = 0, max_parts: int = 1000
    ) -> tuple[UploadInfo, list[PartInfo], bool]:
        self.bucket(bucket)
        limit = max(0, max_parts)

        def read(conn: sqlite3.Connection) -> tuple[UploadInfo, list[PartInfo]]:
            upload = self._upload_in(conn, bucket, key, upload_id)
            return upload, catalog.list_parts(conn, upload_id, marker=marker, limit=limit + 1)

        upload, found = await self._read(read)
        return upload, found[:limit], len(found) > limit

    async def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> tuple[list[UploadInfo], bool]:
        self.bucket(bucket)
        limit = max(0, max_uploads)
        found = await self._read(
            lambda conn: catalog.list_uploads(
                conn,
                bucket,
                prefix=prefix,
                key_marker=key_marker,
                upload_id_marker=upload_id_marker,
                limit=limit + 1,
            )
        )
        return found[:limit], len(found) > limit

    # -- notifications --------------------------------------------------------------------------

    async def put_notification(self, bucket: str, config_json: str | None) -> None:
        self.bucket(bucket)

        def change(conn: sqlite3.Connection) -> None:
            self._bucket_in(conn, bucket)
            catalog.put_notification(conn, bucket, config_json or None)

        await self._change(change)
        # Set on the loop after the commit; changes already on the worker thread have routed
        # with the configuration they were made under.
        if config_json:
            self._notifications[bucket] = config_json
        else:
            self._notifications.pop(bucket, None)

    def notification(self, bucket: str) -> str | None:
        self.bucket(bucket)
        return self._notifications.get(bucket)

    async def pending(self, limit: int = 100) -> list[tuple[int, Delivery]]:
        return await self._read(lambda conn: catalog.pending(conn, limit))

    async def delivered(self, ids: Sequence[int]) -> None:
        if ids:
            await self._change(lambda conn: catalog.delivered(conn, ids))


def multipart_etag(part_etags: Sequence[str]) -> str:
    """S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, then "-N"."""
    joined = b"".join(bytes.fromhex(etag) for etag in part_etags)
    return f"{hashlib.md5(joined).hexdigest()}-{len(part_etags)}"


def _named_part(stored: Mapping[int, PartInfo], number: int, etag: str) -> PartInfo:
    part = stored.get(number)
    if part is None or part.etag != etag.strip().strip('"').lower():
        raise InvalidPart(
            "One or more of the specified parts could not be found. The part may not have been "
            "uploaded, or the specified entity tag may not have matched the part's entity tag.",
            PartNumber=str(number),
            ETag=etag,
        )
    return part


__all__ = ["STRATUS", "Buckets", "Requester", "Route", "multipart_etag"]
