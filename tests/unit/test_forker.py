"""A Forker's requests when its control socket is full (isolation/forker.py, contract 2): they
wait in line and go out in order as the parent reads, none is lost or refused, and one whose
caller gave up is never sent. The parent here is the test itself, at the other end of a real
SOCK_SEQPACKET socketpair, answering each request with a made-up pid."""

from __future__ import annotations

import asyncio
import json
import os
import socket

from stratus.isolation.forker import Forker


class Client(Forker):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._listen(sock)

    def _on_data(self, data: bytes) -> None:
        message = json.loads(data)
        self._forked(int(message["id"]), int(message["pid"]), None)

    def _unreachable(self, error: OSError) -> Exception:
        return RuntimeError(f"unreachable: {error}")

    def _died(self) -> Exception:
        return RuntimeError("died")

    async def fork(self, payload: bytes, fds: list[int]) -> int:
        return await self._fork(
            lambda request_id: json.dumps({"id": request_id, "pad": payload.decode()}).encode(), fds
        )


def test_requests_past_a_full_socket_wait_their_turn_and_all_go_out_in_order() -> None:
    async def scenario() -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        client = Client(ours)
        loop = asyncio.get_running_loop()
        passed = os.open(os.devnull, os.O_RDONLY)
        pad = b"x" * 2000  # a few requests fill the socket's buffer
        forks = [asyncio.create_task(client.fork(pad, [passed])) for _ in range(60)]
        await asyncio.sleep(0.05)
        assert client._outbox, "the socket's buffer never filled: the test shows nothing"
        abandoned = forks[40]
        abandoned.cancel()
        # The parent reads every request now, in order, and answers each with a pid.
        seen: list[int] = []
        theirs.setblocking(False)
        while len(seen) < 59:
            try:
                data, fds, _flags, _addr = socket.recv_fds(theirs, 1 << 16, 4)
            except BlockingIOError:
                await asyncio.sleep(0.005)
                continue
            for fd in fds:
                os.close(fd)
            request_id = json.loads(data)["id"]
            seen.append(request_id)
            theirs.send(json.dumps({"id": request_id, "pid": 1000 + request_id}).encode())
        pids = await asyncio.gather(*(f for f in forks if f is not abandoned))
        assert seen == sorted(seen) and len(seen) == 59
        assert 41 not in seen  # the abandoned request (the 41st) was never sent
        assert pids == [1000 + request_id for request_id in seen]
        assert not client._outbox
        await asyncio.sleep(0.02)
        theirs.setblocking(False)
        try:
            leftover = theirs.recv(1 << 16)
        except BlockingIOError:
            leftover = b""
        assert leftover == b""
        loop.remove_reader(ours.fileno())
        os.close(passed)
        ours.close()
        theirs.close()

    asyncio.run(scenario())
