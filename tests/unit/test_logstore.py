"""The log store: lines kept in chunks per stream, read back as CloudWatch events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stratus.observe.logstore import CHUNK_LINES, LogStore

R = "us-east-1"


def fill(store: LogStore) -> None:
    """Two streams, three flushes: lines of one stream land in one chunk per flush."""
    store.append(R, "/aws/lambda/f", "s1", 1000, "a1")
    store.append(R, "/aws/lambda/f", "s2", 1001, "b1")
    store.append(R, "/aws/lambda/f", "s1", 1002, "a2")
    store.flush()
    store.append(R, "/aws/lambda/f", "s1", 2000, "a3")
    store.append(R, "/aws/lambda/g", "s9", 2001, "other group")
    store.flush()
    store.append(R, "/aws/lambda/f", "s2", 3000, "b2")


def messages(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.message for e in events]


def test_lines_come_back_in_order_per_group(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    fill(store)
    events = store.events(R, "/aws/lambda/f")
    assert sorted(messages(events)) == ["a1", "a2", "a3", "b1", "b2"]
    assert [e.event_id for e in events] == sorted(e.event_id for e in events)
    assert messages(store.events(R, "/aws/lambda/f", streams=["s1"])) == ["a1", "a2", "a3"]
    assert messages(store.events(R, "/aws/lambda/g")) == ["other group"]
    assert [e.timestamp for e in store.events(R, "/aws/lambda/f", streams=["s1"])] == [1000, 1002, 2000]


def test_pagination_forward_and_backward_visits_every_line_once(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    for i in range(50):
        store.append(R, "/g", "s", 10_000 + i, f"line {i}")
        if i % 7 == 0:
            store.flush()
    seen, after = [], 0
    while True:
        page = store.events(R, "/g", after_id=after, limit=6)
        if not page:
            break
        seen.extend(messages(page))
        after = page[-1].event_id
    assert seen == [f"line {i}" for i in range(50)]
    back, before = [], 0
    while True:
        page = store.events(R, "/g", after_id=before, limit=9, descending=True)
        if not page:
            break
        back.extend(messages(page))
        before = page[-1].event_id
    assert back == [f"line {i}" for i in reversed(range(50))]


def test_time_window_filters_lines_inside_a_chunk(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    for ts in (100, 200, 300, 400):
        store.append(R, "/g", "s", ts, f"t{ts}")
    assert messages(store.events(R, "/g", start=200, end=400)) == ["t200", "t300"]
    assert messages(store.events(R, "/g", start=401)) == []
    assert messages(store.events(R, "/g", end=101)) == ["t100"]


def test_streams_groups_and_delete(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    fill(store)
    info = {s.stream: s for s in store.streams(R, "/aws/lambda/f")}
    assert set(info) == {"s1", "s2"}
    assert (info["s1"].first_ts, info["s1"].last_ts) == (1000, 2000)
    assert info["s1"].stored_bytes == len("a1a2a3")
    groups = {name: stored for name, _, stored in store.groups(R, "/aws/lambda/")}
    assert groups == {"/aws/lambda/f": 10, "/aws/lambda/g": len("other group")}
    assert store.delete_group(R, "/aws/lambda/f") > 0
    assert store.events(R, "/aws/lambda/f") == []
    assert messages(store.events(R, "/aws/lambda/g")) == ["other group"]


def test_a_huge_flush_is_split_into_chunks_with_distinct_ids(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    total = CHUNK_LINES + 10
    for i in range(total):
        store.append(R, "/g", "s", i, str(i))
    events = store.events(R, "/g", limit=total)
    assert len(events) == total
    assert len({e.event_id for e in events}) == total
    assert events[-1].message == str(total - 1)


def test_text_that_is_not_valid_unicode_is_kept(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    store.append(R, "/g", "s", 1, "bad \udce9 byte")
    store.append(R, "/g", "s", 2, "fine é")
    assert messages(store.events(R, "/g")) == ["bad \udce9 byte", "fine é"]


def test_a_store_of_one_row_per_line_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, log_group TEXT, stream TEXT,"
        " ts INTEGER, ingested INTEGER, message TEXT);"
        "INSERT INTO events(log_group, stream, ts, ingested, message) VALUES"
        " ('/g', 's', 5, 5, 'old one'), ('/g', 's', 6, 6, 'old two');"
    )
    conn.commit()
    conn.close()
    store = LogStore(path)
    assert store.unplaced() == ["/g"]  # lines of before regions, placed at start
    store.place_regions({"/g": R})
    assert store.unplaced() == []
    store.append(R, "/g", "s", 7, "new")
    assert messages(store.events(R, "/g")) == ["old one", "old two", "new"]


def test_retention_removes_old_chunks_of_that_group_only(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    day = 86_400_000
    now = 100 * day
    store.append(R, "/kept", "s", now - 10 * day, "old but no policy")
    store.append(R, "/short", "s", now - 2 * day, "two days old")
    store.flush()
    store.append(R, "/short", "s", now - 1000, "fresh")
    store.put_retention(R, "/short", 1)
    assert store.retention(R) == {"/short": 1}
    assert store.enforce(now) == 1
    assert messages(store.events(R, "/short")) == ["fresh"]
    assert messages(store.events(R, "/kept")) == ["old but no policy"]
    store.delete_retention(R, "/short")
    assert store.retention(R) == {}
    store.put_retention(R, "/kept", 7)
    store.delete_group(R, "/kept")
    assert store.retention(R) == {}  # deleting a group drops its policy too


def test_size_cap_drops_the_oldest_chunks_first(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db", max_bytes=300)
    for i in range(5):
        store.append(R, "/g", "s", i, f"{i}" * 100)
        store.flush()  # one chunk per line
    assert store.enforce(10) == 2  # 500 bytes stored; the two oldest go
    assert [m[0] for m in messages(store.events(R, "/g"))] == ["2", "3", "4"]
    assert sum(s.stored_bytes for s in store.streams(R, "/g")) == 300


def test_one_group_name_in_two_regions_is_two_groups(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    store.append("us-east-1", "/aws/lambda/f", "s", 1, "east")
    store.append("eu-west-1", "/aws/lambda/f", "s", 2, "west")
    assert messages(store.events("us-east-1", "/aws/lambda/f")) == ["east"]
    assert messages(store.events("eu-west-1", "/aws/lambda/f")) == ["west"]
    assert [g for g, _, _ in store.groups("eu-west-1")] == ["/aws/lambda/f"]
    assert store.groups("ap-south-1") == []
    store.put_retention("eu-west-1", "/aws/lambda/f", 3)
    assert store.retention("us-east-1") == {}
    store.delete_group("us-east-1", "/aws/lambda/f")
    assert messages(store.events("eu-west-1", "/aws/lambda/f")) == ["west"]
    assert store.retention("eu-west-1") == {"/aws/lambda/f": 3}


def test_a_store_of_before_regions_is_placed_group_by_group(tmp_path: Path) -> None:
    """A logs.db of one namespace (no region column, a `retention` table keyed by group) opens,
    and each group, with its retention, goes to the region it is given."""
    path = tmp_path / "logs.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, log_group TEXT NOT NULL,"
        " stream TEXT NOT NULL, first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL,"
        " ingested INTEGER NOT NULL, bytes INTEGER NOT NULL, lines TEXT NOT NULL);"
        "CREATE INDEX chunks_group_ts ON chunks(log_group, last_ts);"
        "CREATE TABLE retention (log_group TEXT PRIMARY KEY, days INTEGER NOT NULL);"
        "INSERT INTO chunks(log_group, stream, first_ts, last_ts, ingested, bytes, lines) VALUES"
        " ('/aws/lambda/west', 's', 5, 5, 5, 4, '[[5, \"west\"]]'),"
        " ('/made', 's', 6, 6, 6, 4, '[[6, \"made\"]]');"
        "INSERT INTO retention VALUES ('/aws/lambda/west', 7), ('/empty', 14);"
    )
    conn.commit()
    conn.close()
    store = LogStore(path)
    assert store.unplaced() == ["/aws/lambda/west", "/empty", "/made"]
    store.place_regions({"/aws/lambda/west": "eu-west-1", "/made": "us-east-1", "/empty": "us-east-1"})
    assert store.unplaced() == []
    assert messages(store.events("eu-west-1", "/aws/lambda/west")) == ["west"]
    assert messages(store.events("us-east-1", "/aws/lambda/west")) == []
    assert messages(store.events("us-east-1", "/made")) == ["made"]
    assert store.retention("eu-west-1") == {"/aws/lambda/west": 7}
    assert store.retention("us-east-1") == {"/empty": 14}
    store.close()
    again = LogStore(path)  # placed once: the next start finds nothing to place
    assert again.unplaced() == []
    assert messages(again.events("eu-west-1", "/aws/lambda/west")) == ["west"]
