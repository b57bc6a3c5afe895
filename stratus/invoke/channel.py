"""The server's end of an environment's private channel (Python and Node.js environments of the
Linux backend; the runtime's end is `runtimes/pyboot/stratus_channel.py`, and the Channel class
of `runtimes/nodeboot/index.mjs`).

Contract:
1. A `RuntimeChannel` owns the socket's reader and writer callbacks on the event loop, the
   frames still to be written, and the decoder of what the runtime wrote; its `Sandbox` owns
   the environment and is told what the runtime asked for through `ChannelPeer`.
2. Writes never block and never lose the end of a frame: what the socket does not take now is
   written as the environment reads.
3. Frames are judged by the sizes they declare: an answer past Lambda's limit is refused
   before its body is read (`ChannelPeer.refuse_too_large`), so the server never holds more
   than the limit of it; a frame that cannot be decoded stops the environment.
4. At most CHANNEL_READ_BUDGET is read per wake-up: a runtime that keeps writing gets a slice
   of the loop at a time.
5. After `close` the channel sends and reads nothing; the environment's exit settles the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Protocol

from stratus.invoke.result_limit import RESULT_LIMIT
from stratus.invoke.runtime_api import RuntimeApiError
from stratus.runtimes.pyboot import stratus_channel as channel

# At most this much is read from an environment's channel per wake-up: a whole answer at the
# limit fits, and a runtime that keeps writing gets a slice of the loop at a time.
CHANNEL_READ_BUDGET = RESULT_LIMIT + (2 << 20)
# What every channel reads into (they are all read on the event loop's thread, and each read is
# copied into its channel's decoder at once): `recv(n)` would allocate n bytes per read.
_INBOX = memoryview(bytearray(256 << 10))


class ChannelPeer(Protocol):
    """What the channel needs of its sandbox."""

    def channel_next(self) -> None: ...

    def post_response(self, request_id: str, body: bytes) -> None: ...

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None: ...

    def refuse_too_large(self) -> None: ...

    def stop(self) -> None: ...


class RuntimeChannel:
    def __init__(self, sock: socket.socket, peer: ChannelPeer) -> None:
        self._sock: socket.socket | None = sock
        self._peer = peer
        # Frames are judged by the sizes they declare: an answer past Lambda's limit is refused
        # before its body is read, so the server never holds more than the limit of it.
        self._decoder = channel.Decoder(body_limit=RESULT_LIMIT)
        # What is still to be written to the (non-blocking) channel: a large event does not fit
        # in the socket buffer at once, so the rest goes out as the environment reads.
        self._outbox = bytearray()
        self._writing = False
        self.waiting = False  # the runtime asked for its next event and has not had it
        # Kept: on Python 3.11 every asyncio.get_running_loop() is a getpid() syscall.
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def send_event(self, header: dict[str, str], body: bytes) -> None:
        """Hand the waiting runtime its next event."""
        self.waiting = False
        self._send(channel.EVENT, header, body)

    def close(self) -> None:
        """Stop reading and writing (the environment has exited)."""
        sock = self._sock
        if sock is None:
            return
        loop = self._loop
        with contextlib.suppress(Exception):
            loop.remove_reader(sock.fileno())
        if self._writing:
            with contextlib.suppress(Exception):
                loop.remove_writer(sock.fileno())
            self._writing = False
        self._outbox.clear()
        self._sock = None

    def _send(self, kind: int, header: dict[str, str], body: bytes = b"") -> None:
        sock = self._sock
        if sock is None:
            return
        frame = channel.encode(kind, header, body)
        if not self._outbox:
            # The usual case: nothing waits to be written and the socket takes the whole frame,
            # with no copy into the outbox.
            try:
                sent = sock.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                return  # the environment is going; its exit settles the invoke
            if sent == len(frame):
                return
            frame = frame[sent:]
        self._outbox += frame
        self._flush()

    def _flush(self) -> None:
        """Write what the socket takes now; wait for it to be writable for the rest (`sendall`
        on a non-blocking socket would give up part-way and lose the end of the frame)."""
        sock = self._sock
        while sock is not None and self._outbox:
            try:
                sent = sock.send(self._outbox)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._outbox.clear()  # the environment is going; its exit settles the invoke
                break
            del self._outbox[:sent]
        if sock is None:
            self._outbox.clear()
            return
        loop = self._loop
        if self._outbox and not self._writing:
            loop.add_writer(sock.fileno(), self._flush)
            self._writing = True
        elif not self._outbox and self._writing:
            loop.remove_writer(sock.fileno())
            self._writing = False

    def _on_readable(self) -> None:
        """Take frames after every read, so at most one read past a frame within the limit is
        ever held, and read at most CHANNEL_READ_BUDGET per wake-up (the reader fires again)."""
        sock = self._sock
        budget = CHANNEL_READ_BUDGET
        size = len(_INBOX)
        # A read shorter than the buffer took all there was: the next read would only find
        # nothing (a wasted syscall per answer); the reader fires again when more comes.
        while sock is not None and sock is self._sock and budget > 0 and size == len(_INBOX):
            try:
                size = sock.recv_into(_INBOX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                size = 0
            if not size:
                self._loop.remove_reader(sock.fileno())
                return
            budget -= size
            self._decoder.feed(_INBOX[:size])
            while True:
                try:
                    frames = self._decoder.frames()
                except channel.FrameTooLarge:
                    self._stop_reading(sock)
                    self._peer.refuse_too_large()
                    return
                except ValueError:  # a frame that cannot be decoded: the runtime is broken
                    self._stop_reading(sock)
                    self._peer.stop()
                    return
                if not frames:
                    break
                for kind, header, body in frames:
                    self._on_frame(kind, header, body)

    def _on_frame(self, kind: int, header: dict[str, object], body: bytes) -> None:
        try:
            if kind == channel.NEXT:
                self.waiting = True
                self._peer.channel_next()
            elif kind == channel.RESPONSE:
                self._peer.post_response(str(header.get("id")), body)
            elif kind == channel.ERROR:
                error_type = header.get("type")
                self._peer.post_error(str(header.get("id")), body, str(error_type) if error_type else None)
        except RuntimeApiError:
            pass  # a stale or foreign request id: ignored, as the HTTP endpoint refuses it

    def _stop_reading(self, sock: socket.socket) -> None:
        """Read nothing more from this channel (its exit finishes the bookkeeping)."""
        with contextlib.suppress(Exception):
            self._loop.remove_reader(sock.fileno())
        self._decoder.clear()
