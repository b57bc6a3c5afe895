"""A streamed response on its way from an environment to the caller who asked for it.

Contract:
1. One `ResponseStream` per streaming invocation (InvokeWithResponseStream, a function URL in
   RESPONSE_STREAM mode). The caller makes it and hands it to `InvokeService.invoke_target`;
   the sandbox running the invocation is its one producer, the caller its one consumer.
2. The stream exists before the runtime decides how to answer: it `begin`s only when the
   runtime posts a streaming response (`Lambda-Runtime-Function-Response-Mode: streaming`). A
   runtime that answers the ordinary way never begins it, and the caller sends the invocation's
   result as one chunk (Python and Java, and plain Node handlers, as on Lambda).
3. Bytes pass through as they are written: `write` hands a chunk to the reader at once. It
   waits while the reader is more than HIGH_WATER bytes behind, so a slow client slows the
   runtime's upload rather than growing the server's memory; a reader that has gone
   (`abandon`) takes nothing more and holds nobody up.
4. At most `limit` bytes pass (Lambda's 20 MiB for a streamed response): `write` reports the
   overflow and keeps nothing past the limit; the sandbox then ends the invocation with
   `Function.ResponseSizeTooLarge`.
5. `close` ends the bytes; how the invocation ended (an error, a timeout) is its result's.
6. Everything runs on the event loop; nothing here blocks or spawns tasks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from stratus.invoke.target import Invoked

# Lambda's limit for a streamed response (the brief's figure; AWS has since raised its default).
STREAM_LIMIT = 20 * 1024 * 1024
# How far the reader may fall behind before the writer waits.
HIGH_WATER = 1 << 20
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class ResponseStream:
    def __init__(self, limit: int = STREAM_LIMIT, high_water: int = HIGH_WATER) -> None:
        self.limit = limit
        self._high_water = high_water
        loop = asyncio.get_running_loop()
        self.began: asyncio.Future[None] = loop.create_future()
        self.content_type = DEFAULT_CONTENT_TYPE
        self.executed_version = ""
        self.written = 0  # bytes accepted so far
        self._chunks: deque[bytes] = deque()
        self._queued = 0
        self._closed = False
        self._abandoned = False
        self._readable = asyncio.Event()  # set while a chunk or the end is waiting
        self._drained = asyncio.Event()  # set while the reader is within HIGH_WATER
        self._drained.set()

    # -- the producer's side (the sandbox) ----------------------------------------------------

    @property
    def started(self) -> bool:
        return self.began.done()

    @property
    def closed(self) -> bool:
        return self._closed

    def begin(self, content_type: str | None, executed_version: str) -> None:
        """The runtime answers in streaming mode, with this content type."""
        if self.began.done():
            return
        if content_type:
            self.content_type = content_type
        self.executed_version = executed_version
        self.began.set_result(None)

    def room(self) -> int:
        """How many more bytes may pass."""
        return max(0, self.limit - self.written)

    def write(self, data: bytes) -> bool:
        """Hand `data` to the reader; False if it passes the limit (what fits is kept)."""
        if self._closed or not data:
            return not self._closed
        fits = data[: self.room()]
        self.written += len(fits)
        if fits and not self._abandoned:
            self._chunks.append(fits)
            self._queued += len(fits)
            self._readable.set()
            if self._queued > self._high_water:
                self._drained.clear()
        return len(fits) == len(data)

    async def drained(self) -> None:
        """Wait until the reader is within HIGH_WATER bytes (or gone)."""
        await self._drained.wait()

    def close(self) -> None:
        """No more bytes: the invocation is over (or its stream is)."""
        self._closed = True
        self._readable.set()
        self._drained.set()

    # -- the consumer's side (the caller) -----------------------------------------------------

    async def read(self) -> bytes:
        """The next chunk as written, or b"" once the stream is closed and read to the end."""
        while not self._chunks:
            if self._closed:
                return b""
            self._readable.clear()
            await self._readable.wait()
        chunk = self._chunks.popleft()
        self._queued -= len(chunk)
        if self._queued <= self._high_water:
            self._drained.set()
        return chunk

    def abandon(self) -> None:
        """The reader has gone: drop what is queued and every later write."""
        self._abandoned = True
        self._chunks.clear()
        self._queued = 0
        self._drained.set()


class StreamedInvoke:
    """One streaming invocation as its caller sees it: started with `start`, which returns once
    the runtime begins streaming or the invocation is over (whichever is first), read with
    `read`, settled with `close`, which the caller runs whatever happens (a client that goes
    leaves the function running to its end, as on Lambda, and nothing behind)."""

    # Invocations whose caller was cancelled before it could take them: held until they end.
    _left: set[asyncio.Task[Invoked]] = set()

    def __init__(self, stream: ResponseStream, task: asyncio.Task[Invoked]) -> None:
        self.stream = stream
        self._task = task

    @classmethod
    async def start(cls, run: Callable[[ResponseStream], Awaitable[Invoked]]) -> StreamedInvoke:
        """Run `run(stream)` (an `invoke_target` with that stream). Raises what it raised if it
        failed before streaming began (a throttle, a missing function)."""
        stream = ResponseStream()
        task = asyncio.ensure_future(run(stream))
        try:
            waits: list[asyncio.Future[Any]] = [task, stream.began]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            stream.abandon()
            cls._left.add(task)
            task.add_done_callback(_settled)
            raise
        if task.done() and not stream.started:
            task.result()  # raises the refusal, if that is how it ended
        return cls(stream, task)

    @property
    def streaming(self) -> bool:
        """Whether the runtime answers in streaming mode (else the result comes whole)."""
        return self.stream.started

    async def read(self) -> bytes:
        """The next chunk the function wrote; b"" at the end."""
        return await self.stream.read() if self.stream.started else b""

    async def result(self) -> Invoked:
        """How the invocation ended (raises StratusError if the platform failed it)."""
        return await self._task

    async def close(self) -> None:
        """Stop reading; wait for the invocation to end (it is never cancelled: its environment
        is running it)."""
        if not self._task.done():
            self.stream.abandon()
        await asyncio.wait([self._task])
        _settled(self._task)


def _settled(task: asyncio.Task[Invoked]) -> None:
    StreamedInvoke._left.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: its caller has gone or has read its result
