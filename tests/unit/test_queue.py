"""The durable async queue: leases, not deletes on read."""

from pathlib import Path

from stratus.store.queue import EventQueue, NewEvent


def event(n: int) -> NewEvent:
    return NewEvent(f"r{n}", "fn", None, "us-east-1", b"{}", 1000 + n)


def test_claims_lease_and_only_the_owner_settles(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    queue.enqueue([event(1), event(2)], now_ms=1000)
    claimed = queue.claim("a:1:x", now_ms=2000, lease_ms=500, limit=10)
    assert [e.request_id for e in claimed] == ["r1", "r2"]
    assert queue.claim("b:2:y", now_ms=2100, lease_ms=500, limit=10) == []  # leased
    assert not queue.complete(claimed[0].id, "b:2:y")  # not its lease
    assert queue.complete(claimed[0].id, "a:1:x")
    # The second lease expires: another owner takes it, and the first can no longer settle it.
    again = queue.claim("b:2:y", now_ms=2600, lease_ms=500, limit=10)
    assert [e.request_id for e in again] == ["r2"]
    assert not queue.retry(claimed[1].id, "a:1:x", due_ms=9999, attempts=1, backoffs=0)
    assert queue.retry(again[0].id, "b:2:y", due_ms=5000, attempts=1, backoffs=0)
    assert queue.claim("b:2:y", now_ms=4000, lease_ms=500, limit=10) == []  # not due yet
    due = queue.claim("b:2:y", now_ms=5000, lease_ms=500, limit=10)
    assert [(e.request_id, e.attempts) for e in due] == [("r2", 1)]
    queue.close()


def test_events_survive_reopening(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    queue.enqueue([event(1)], now_ms=1000)
    queue.close()
    reopened = EventQueue(tmp_path / "q.db")
    assert reopened.depth() == 1
    assert reopened.next_due_ms() == 1000
    reopened.close()


def test_leases_of_dead_servers_are_freed(tmp_path: Path) -> None:
    import os

    queue = EventQueue(tmp_path / "q.db")
    queue.enqueue([event(1)], now_ms=1000)
    dead = f"{os.uname().nodename}:999999999:gone"
    assert len(queue.claim(dead, now_ms=1000, lease_ms=10**9, limit=1)) == 1
    me = f"{os.uname().nodename}:{os.getpid()}:me"
    assert queue.release_dead_owners(me) == 1
    assert len(queue.claim(me, now_ms=1000, lease_ms=1000, limit=1)) == 1
    queue.close()
