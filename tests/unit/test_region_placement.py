"""The pure decisions of regions as namespaces (issue 15): where data of one namespace goes
(`placing.place`, a legacy layer split by region, the function store's migration, created log
groups' documents), and `check_region`'s refusal of another region's ARN."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from stratus.control.keys import check_region
from stratus.control.layers import Layer, LayerVersion, split_by_region
from stratus.errors import ResourceNotFound
from stratus.observe.loggroups import LogGroups
from stratus.observe.placing import place
from stratus.store.sqlite import Store


def test_place_gives_each_name_its_functions_region_else_us_east_1() -> None:
    homes = [("/aws/lambda/w", "eu-west-1"), ("/shared", "us-west-2"), ("/shared", "ap-south-1")]
    assert place(["/aws/lambda/w", "/made", "/shared"], homes) == {
        "/aws/lambda/w": "eu-west-1",
        "/made": "us-east-1",
        "/shared": "ap-south-1",  # several claim it: the first in order, the same at every start
    }
    assert place([], homes) == {}


def test_check_region_refuses_only_another_region() -> None:
    check_region(None, "eu-west-1")  # a bare name: the request's region
    check_region("eu-west-1", "eu-west-1")
    with pytest.raises(
        ResourceNotFound, match="'us-east-1' are not reachable in this region \\('eu-west-1'\\)"
    ):
        check_region("us-east-1", "eu-west-1")


def _version(n: int, region: str) -> LayerVersion:
    return LayerVersion("lib", n, f"k{n}", f"s{n}", 10, "2024-01-01", region)


def test_split_by_region_keeps_numbers_and_continues_each_region_from_its_own() -> None:
    legacy = Layer(
        "", "lib", 4, {1: _version(1, "us-east-1"), 2: _version(2, "eu-west-1"), 3: _version(3, "us-east-1")}
    )
    split = {layer.region: layer for layer in split_by_region(legacy)}
    assert set(split) == {"eu-west-1", "us-east-1"}
    assert sorted(split["us-east-1"].versions) == [1, 3] and split["us-east-1"].last_version == 3
    assert sorted(split["eu-west-1"].versions) == [2] and split["eu-west-1"].last_version == 2


def test_the_function_store_migrates_old_rows_into_their_home_region(tmp_path: Path) -> None:
    db = tmp_path / "stratus.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE functions (name TEXT PRIMARY KEY, record TEXT NOT NULL)")
        for name, home in (("west", "eu-west-1"), ("old", "")):
            record = {"latest": {"name": name, "home_region": home}, "versions": {"1": {"name": name}}}
            conn.execute("INSERT INTO functions VALUES (?, ?)", (name, json.dumps(record)))
    store = Store(db)
    loaded = store.load_functions()
    assert set(loaded) == {("eu-west-1", "west"), ("us-east-1", "old")}
    assert loaded[("us-east-1", "old")]["latest"]["home_region"] == "us-east-1"
    assert loaded[("us-east-1", "old")]["versions"]["1"]["home_region"] == "us-east-1"
    store.close()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM functions").fetchone()[0] == 0
    again = Store(db)  # nothing left to migrate: the same rows
    assert set(again.load_functions()) == {("eu-west-1", "west"), ("us-east-1", "old")}
    again.close()


def test_created_log_groups_of_one_namespace_are_placed_with_their_streams(tmp_path: Path) -> None:
    store = Store(tmp_path / "stratus.db")
    old = {
        "name": "/made",
        "created_ms": 5,
        "kms_key_id": None,
        "group_class": "STANDARD",
        "tags": {"k": "v"},
    }
    store.put_document("logs.group", "/made", json.dumps(old))
    store.put_document("logs.stream", "/aws/lambda/w:s1", json.dumps({"created_ms": 6}))
    groups = LogGroups(store)
    assert groups.unplaced() == ["/aws/lambda/w", "/made"]
    groups.place_regions({"/aws/lambda/w": "eu-west-1", "/made": "us-east-1"})
    assert groups.unplaced() == []
    made = groups.get("us-east-1", "/made")
    assert made is not None and made.tags == {"k": "v"} and groups.get("eu-west-1", "/made") is None
    assert groups.streams("eu-west-1", "/aws/lambda/w") == {"s1": 6}
    assert groups.streams("us-east-1", "/aws/lambda/w") == {}
    reopened = LogGroups(store)  # what was placed is what a restart reads
    assert reopened.get("us-east-1", "/made") == made
    assert reopened.streams("eu-west-1", "/aws/lambda/w") == {"s1": 6}
    store.close()
