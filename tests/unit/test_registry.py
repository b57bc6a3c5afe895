"""The registry over a real SQLite store on a temporary file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stratus.control.codestore import StoredCode
from stratus.control.keys import FunctionKey
from stratus.control.models import LATEST, FunctionConfig
from stratus.control.registry import Registry, new_revision, now_iso
from stratus.errors import (
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from stratus.store.sqlite import Store

ROLE = "arn:aws:iam::000000000000:role/test-role"


REGION = "us-east-1"


def K(name: str, region: str = REGION) -> FunctionKey:
    return FunctionKey(region, name)


def config(name: str = "f", **changes: object) -> FunctionConfig:
    base = FunctionConfig(
        name=name,
        runtime="python3.11",
        handler="app.handler",
        role=ROLE,
        code_sha256="c2hhLWE=",
        code_size=100,
        code_key="a" * 64,
        revision_id=new_revision(),
        last_modified=now_iso(),
        environment={"STAGE": "dev"},
        home_region=REGION,
    )
    return base.replace(**changes)


def code(letter: str) -> StoredCode:
    return StoredCode(key=letter * 64, sha256_b64=f"sha-{letter}=", size=len(letter) * 10, root=Path("/x"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "stratus.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = Store(db)
    yield s
    s.close()


@pytest.fixture
def registry(store: Store) -> Registry:
    return Registry(store)


# -- functions -------------------------------------------------------------------------------


def test_create_and_get(registry: Registry) -> None:
    cfg = config()
    assert registry.create_function(cfg, tags={"team": "a"}, publish=False) == cfg
    record = registry.get(K("f"))
    assert record.latest == cfg
    assert record.tags == {"team": "a"}
    assert record.versions == {}
    assert registry.version(K("f"), None) == cfg
    assert registry.version(K("f"), LATEST) == cfg
    assert registry.find(K("f")) is record
    assert registry.names(REGION) == ["f"]


def test_get_missing(registry: Registry) -> None:
    with pytest.raises(ResourceNotFound):
        registry.get(K("nope"))
    assert registry.find(K("nope")) is None
    registry.create_function(config(), tags={}, publish=False)
    with pytest.raises(ResourceNotFound):
        registry.version(K("f"), "1")
    with pytest.raises(ResourceNotFound):
        registry.version(K("f"), "prod")


def test_create_twice_conflicts(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=False)
    with pytest.raises(ResourceConflict):
        registry.create_function(config(), tags={}, publish=False)


def test_create_with_publish(registry: Registry) -> None:
    published = registry.create_function(config(description="first"), tags={}, publish=True)
    assert published.version == "1"
    assert published.description == "first"
    record = registry.get(K("f"))
    assert record.last_version == 1
    assert record.versions["1"] == published
    assert record.latest.version == LATEST
    assert registry.version(K("f"), "1") == published


def test_update_code(registry: Registry) -> None:
    created = registry.create_function(config(), tags={}, publish=False)
    updated = registry.update_code(K("f"), code("b"), revision_id=created.revision_id, publish=False)
    assert (updated.code_key, updated.code_sha256, updated.code_size) == ("b" * 64, "sha-b=", 10)
    assert updated.revision_id != created.revision_id
    assert updated.version == LATEST
    assert registry.get(K("f")).latest == updated
    assert registry.get(K("f")).versions == {}


def test_update_code_with_publish(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=False)
    published = registry.update_code(K("f"), code("b"), revision_id=None, publish=True)
    assert published.version == "1"
    assert published.code_key == "b" * 64
    assert registry.get(K("f")).latest.code_key == "b" * 64


def test_update_code_revision_mismatch(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=False)
    with pytest.raises(PreconditionFailed):
        registry.update_code(K("f"), code("b"), revision_id="stale", publish=False)
    assert registry.get(K("f")).latest.code_key == "a" * 64


def test_update_config(registry: Registry) -> None:
    created = registry.create_function(config(), tags={}, publish=False)
    updated = registry.update_config(
        K("f"), {"memory_size": 512, "timeout": 30}, revision_id=created.revision_id
    )
    assert (updated.memory_size, updated.timeout) == (512, 30)
    assert updated.revision_id != created.revision_id
    assert updated.code_key == created.code_key
    assert registry.get(K("f")).latest == updated


def test_update_config_revision_mismatch(registry: Registry) -> None:
    created = registry.create_function(config(), tags={}, publish=False)
    registry.update_config(K("f"), {"timeout": 10}, revision_id=created.revision_id)
    with pytest.raises(PreconditionFailed):
        registry.update_config(K("f"), {"timeout": 20}, revision_id=created.revision_id)
    assert registry.get(K("f")).latest.timeout == 10


def test_update_missing_function(registry: Registry) -> None:
    with pytest.raises(ResourceNotFound):
        registry.update_config(K("nope"), {"timeout": 5}, revision_id=None)
    with pytest.raises(ResourceNotFound):
        registry.update_code(K("nope"), code("b"), revision_id=None, publish=False)


# -- versions --------------------------------------------------------------------------------


def test_publish_same_content_returns_same_version(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=False)
    v1 = registry.publish_version(K("f"), code_sha256=None, description="one", revision_id=None)
    again = registry.publish_version(K("f"), code_sha256=None, description="other", revision_id=None)
    assert v1.version == again.version == "1"
    assert again == v1
    assert registry.get(K("f")).last_version == 1


def test_publish_after_change_is_a_new_version(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=False)
    v1 = registry.publish_version(K("f"), code_sha256=None, description="", revision_id=None)
    registry.update_config(K("f"), {"memory_size": 256}, revision_id=None)
    v2 = registry.publish_version(K("f"), code_sha256=None, description="bigger", revision_id=None)
    assert (v1.version, v2.version) == ("1", "2")
    assert (v1.memory_size, v2.memory_size) == (128, 256)
    assert v2.description == "bigger"
    assert registry.version(K("f"), "1").memory_size == 128  # published versions are immutable


def test_publish_checks_code_sha_and_revision(registry: Registry) -> None:
    created = registry.create_function(config(), tags={}, publish=False)
    with pytest.raises(InvalidParameterValue):
        registry.publish_version(K("f"), code_sha256="other=", description="", revision_id=None)
    with pytest.raises(PreconditionFailed):
        registry.publish_version(K("f"), code_sha256=None, description="", revision_id="stale")
    v1 = registry.publish_version(
        K("f"), code_sha256=created.code_sha256, description="", revision_id=created.revision_id
    )
    assert v1.version == "1"


def test_version_numbers_are_not_reused(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=True)
    registry.update_config(K("f"), {"timeout": 5}, revision_id=None)
    registry.publish_version(K("f"), code_sha256=None, description="", revision_id=None)
    registry.delete_function(K("f"), "2")
    registry.update_config(K("f"), {"timeout": 6}, revision_id=None)
    v = registry.publish_version(K("f"), code_sha256=None, description="", revision_id=None)
    assert v.version == "3"
    assert sorted(registry.get(K("f")).versions) == ["1", "3"]


def test_delete_version(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=True)
    registry.delete_function(K("f"), "1")
    assert registry.get(K("f")).versions == {}
    with pytest.raises(ResourceNotFound):
        registry.delete_function(K("f"), "1")
    with pytest.raises(InvalidParameterValue):
        registry.delete_function(K("f"), LATEST)


# -- aliases ---------------------------------------------------------------------------------


def _two_versions(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=True)
    registry.update_config(K("f"), {"memory_size": 256}, revision_id=None)
    registry.publish_version(K("f"), code_sha256=None, description="", revision_id=None)


def test_alias_lifecycle(registry: Registry) -> None:
    _two_versions(registry)
    alias = registry.create_alias(K("f"), "prod", "1", "production", {})
    assert registry.get_alias(K("f"), "prod") == alias
    assert registry.version(K("f"), "prod") == registry.version(K("f"), "1")

    with pytest.raises(ResourceConflict):
        registry.create_alias(K("f"), "prod", "2", "", {})
    with pytest.raises(PreconditionFailed):
        registry.update_alias(
            K("f"), "prod", version="2", description=None, routing=None, revision_id="stale"
        )
    moved = registry.update_alias(
        K("f"), "prod", version="2", description=None, routing=None, revision_id=alias.revision_id
    )
    assert moved.function_version == "2"
    assert moved.description == "production"
    assert moved.revision_id != alias.revision_id
    assert registry.version(K("f"), "prod").memory_size == 256

    registry.delete_alias(K("f"), "prod")
    registry.delete_alias(K("f"), "prod")  # idempotent
    with pytest.raises(ResourceNotFound):
        registry.get_alias(K("f"), "prod")


def test_alias_to_latest(registry: Registry) -> None:
    registry.create_function(config(), tags={}, publish=False)
    registry.create_alias(K("f"), "dev", LATEST, "", {})
    assert registry.version(K("f"), "dev") == registry.get(K("f")).latest


def test_alias_targets_are_checked(registry: Registry) -> None:
    _two_versions(registry)
    with pytest.raises(ResourceNotFound):
        registry.create_alias(K("f"), "a", "9", "", {})
    with pytest.raises(InvalidParameterValue):
        registry.create_alias(K("f"), "a", "1", "", {"9": 0.5})
    with pytest.raises(InvalidParameterValue):
        registry.create_alias(K("f"), "a", "1", "", {"1": 0.5})
    with pytest.raises(InvalidParameterValue):
        registry.create_alias(K("f"), "a", "1", "", {"2": 1.5})
    with pytest.raises(InvalidParameterValue):
        registry.create_alias(K("f"), "a", LATEST, "", {"2": 0.5})
    assert registry.get(K("f")).aliases == {}
    weighted = registry.create_alias(K("f"), "a", "1", "", {"2": 0.3})
    assert weighted.routing == {"2": 0.3}


def test_delete_version_referenced_by_alias(registry: Registry) -> None:
    _two_versions(registry)
    registry.create_alias(K("f"), "prod", "1", "", {"2": 0.1})
    with pytest.raises(ResourceConflict):
        registry.delete_function(K("f"), "1")
    with pytest.raises(ResourceConflict):
        registry.delete_function(K("f"), "2")  # referenced by the routing config
    assert sorted(registry.get(K("f")).versions) == ["1", "2"]
    registry.update_alias(K("f"), "prod", version=None, description=None, routing={}, revision_id=None)
    registry.delete_function(K("f"), "2")
    assert sorted(registry.get(K("f")).versions) == ["1"]


# -- other writes ----------------------------------------------------------------------------


def test_reserved_concurrency_and_tags(registry: Registry) -> None:
    registry.create_function(config(), tags={"a": "1"}, publish=False)
    registry.put_reserved_concurrency(K("f"), 5)
    registry.tag(K("f"), {"b": "2", "a": "3"})
    registry.untag(K("f"), ["b", "missing"])
    record = registry.get(K("f"))
    assert record.reserved_concurrency == 5
    assert record.tags == {"a": "3"}
    registry.put_reserved_concurrency(K("f"), None)
    assert registry.get(K("f")).reserved_concurrency is None


def test_delete_function(registry: Registry, store: Store) -> None:
    registry.create_function(config(), tags={}, publish=False)
    registry.create_function(config("g"), tags={}, publish=False)
    registry.delete_function(K("f"), None)
    with pytest.raises(ResourceNotFound):
        registry.get(K("f"))
    assert registry.names(REGION) == ["g"]
    assert sorted(store.load_functions()) == [(REGION, "g")]


# -- durability ------------------------------------------------------------------------------


def test_everything_persists_across_reopen(db: Path) -> None:
    store = Store(db)
    registry = Registry(store)
    registry.create_function(config(), tags={"team": "x"}, publish=True)
    registry.update_code(K("f"), code("b"), revision_id=None, publish=False)
    registry.update_config(K("f"), {"environment": {"A": "1", "B": "2"}, "timeout": 9}, revision_id=None)
    registry.publish_version(K("f"), code_sha256=None, description="v2", revision_id=None)
    registry.create_alias(K("f"), "prod", "2", "desc", {"1": 0.25})
    registry.put_reserved_concurrency(K("f"), 3)
    registry.create_function(config("g", architectures=("arm64",)), tags={}, publish=False)
    registry.create_function(config("gone"), tags={}, publish=False)
    registry.delete_function(K("gone"), None)
    before = {name: registry.get(K(name)) for name in registry.names(REGION)}
    store.close()

    reopened_store = Store(db)
    try:
        reopened = Registry(reopened_store)
        assert reopened.names(REGION) == ["f", "g"]
        for name, record in before.items():
            assert reopened.get(K(name)) == record
        f = reopened.get(K("f"))
        assert f.last_version == 2
        assert f.latest.environment == {"A": "1", "B": "2"}
        assert f.aliases["prod"].routing == {"1": 0.25}
        assert f.reserved_concurrency == 3
        assert reopened.get(K("g")).latest.architectures == ("arm64",)
        assert reopened.version(K("f"), "prod").description == "v2"
        # Writes continue from the persisted state.
        same = reopened.publish_version(K("f"), code_sha256=None, description="", revision_id=None)
        assert same.version == "2"
    finally:
        reopened_store.close()


# -- listeners -------------------------------------------------------------------------------


def test_listeners_hear_every_committed_change(registry: Registry, store: Store) -> None:
    heard: list[FunctionKey] = []
    durable: list[bool] = []

    def listener(name: FunctionKey) -> None:
        # By the time a listener runs, the change is in the store and in memory alike.
        heard.append(name)
        stored = store.load_functions().get((name.region, name.name))
        record = registry.find(name)
        durable.append(stored == (record.to_dict() if record is not None else None))

    registry.subscribe(listener)
    created = registry.create_function(config(), tags={}, publish=False)
    registry.update_config(K("f"), {"timeout": 4}, revision_id=None)
    registry.update_code(K("f"), code("c"), revision_id=None, publish=False)
    registry.publish_version(K("f"), code_sha256=None, description="", revision_id=None)
    registry.create_alias(K("f"), "prod", "1", "", {})
    registry.put_reserved_concurrency(K("f"), 1)
    registry.tag(K("f"), {"k": "v"})
    registry.create_function(config("g"), tags={}, publish=False)
    registry.delete_function(K("g"), None)
    assert heard == [K("f")] * 7 + [K("g"), K("g")]
    assert durable == [True] * len(heard)

    # A refused write changes nothing and notifies nobody.
    heard.clear()
    with pytest.raises(PreconditionFailed):
        registry.update_config(K("f"), {"timeout": 5}, revision_id=created.revision_id)
    with pytest.raises(ResourceConflict):
        registry.create_function(config(), tags={}, publish=False)
    assert heard == []


def test_listener_sees_the_new_record(registry: Registry) -> None:
    timeouts: list[int] = []
    registry.create_function(config(), tags={}, publish=False)
    registry.subscribe(lambda key: timeouts.append(registry.get(key).latest.timeout))
    registry.update_config(K("f"), {"timeout": 42}, revision_id=None)
    assert timeouts == [42]
