"""A body into a new blob: counted, hashed (MD5) and written as it arrives, and held to what the
request said of it (Content-Length, Content-MD5, S3's 5 GiB)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator

from stratus.buckets.errors import BadDigest, EntityTooLarge, IncompleteBody
from stratus.store.blobs import Blobs

MAX_OBJECT = 5 * 1024**3  # S3's largest single PUT, part, and copy source
BATCH = 1024 * 1024  # a body is hashed and written in runs of this many bytes
INLINE_HASH = 64 * 1024  # shorter runs are hashed on the loop


def too_large() -> EntityTooLarge:
    return EntityTooLarge(
        "Your proposed upload exceeds the maximum allowed size", MaxSizeAllowed=str(MAX_OBJECT)
    )


async def receive(
    blobs: Blobs,
    body: AsyncIterator[bytes],
    *,
    content_md5: bytes | None,
    expected_size: int | None,
) -> tuple[str, int, str]:
    """Stream a body into a new blob, counting its size and MD5: (blob, size, hex MD5). On
    any failure the blob is aborted.

    The body is taken in runs of `BATCH` bytes; each run is hashed and written by worker
    threads side by side (hashlib lets go of the GIL) while the next run arrives, so the
    network, the MD5 and the disk overlap and the loop does none of the heavy work. At most
    one run is in flight, and it is always awaited, failure or not."""
    if expected_size is not None and expected_size > MAX_OBJECT:
        raise too_large()
    writer = blobs.writer()
    digest = hashlib.md5()
    batch: list[bytes] = []
    batched = received = 0
    step: asyncio.Future[None] | None = None

    async def absorb(data: bytes) -> None:
        if len(data) < INLINE_HASH:  # a thread hop would cost more than the hash
            digest.update(data)
            await writer.write(data)
            return
        done = await asyncio.gather(
            asyncio.to_thread(digest.update, data), writer.write(data), return_exceptions=True
        )
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome

    try:
        async for chunk in body:
            received += len(chunk)
            if received > MAX_OBJECT:
                raise too_large()
            batch.append(chunk)
            batched += len(chunk)
            if batched >= BATCH:
                if step is not None:
                    await step
                step = asyncio.ensure_future(absorb(b"".join(batch)))
                batch, batched = [], 0
        if step is not None:
            await step
            step = None
        await absorb(b"".join(batch))
        if expected_size is not None and writer.size != expected_size:
            raise IncompleteBody(
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            )
        if content_md5 is not None and digest.digest() != content_md5:
            raise BadDigest("The Content-MD5 you specified did not match what we received.")
        return await writer.commit(), writer.size, digest.hexdigest()
    except BaseException:
        if step is not None:  # let the run in flight finish before its file is removed
            with contextlib.suppress(BaseException):
                await step
        await writer.abort()
        raise
