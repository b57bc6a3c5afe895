"""The IAM directory against a real SQLite store: what it keeps across a restart, its conflicts
and quotas as IAM words them, and `revision`, which the authorizer's cache depends on."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from stratus.identity.directory import Directory
from stratus.identity.iam_entities import (
    DeleteConflict,
    EntityAlreadyExists,
    IamAccessDenied,
    LimitExceeded,
    NoSuchEntity,
)
from stratus.identity.policy import MalformedPolicy
from stratus.store.sqlite import Store

ACCOUNT = "123456789012"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def allow(action: str, resource: str = "*") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "stratus.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = Store(db)
    yield s
    s.close()


def reopened(store: Store, db: Path) -> Directory:
    """A new directory on the same database, as after a restart."""
    store.close()
    return Directory(Store(db), ACCOUNT)


def test_a_role_with_its_policies_survives_a_restart(store: Store, db: Path) -> None:
    d = Directory(store, ACCOUNT)
    role = d.create_role("Worker", "/app/", TRUST, description="runs things", max_session_duration=7200)
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", role.role_id)
    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/app/Worker"
    custom = d.create_policy("ReadLogs", "/", allow("logs:Get*"))
    d.put_inline("role", "Worker", "invoke", allow("lambda:InvokeFunction"))
    d.attach("role", "Worker", custom.arn)
    d.attach("role", "Worker", BASIC)

    after = reopened(store, db)
    again = after.role_by_arn(role.arn)
    assert again is not None
    assert (again.role_id, again.trust.text, again.description) == (role.role_id, TRUST, "runs things")
    assert again.max_session_duration == 7200
    assert after.role_by_arn(f"arn:aws:iam::{ACCOUNT}:role/Worker") is None  # the path is part of it
    texts = {p.text for p in after.role_policies("worker")}
    assert texts == {
        allow("lambda:InvokeFunction"),
        allow("logs:Get*"),
        after.require_managed(BASIC).default.document.text,
    }
    assert [p.arn for p in after.attached("role", "Worker")] == [custom.arn, BASIC]
    assert after.attachment_counts()[custom.arn] == 1


def test_revision_grows_on_each_change_and_not_on_a_refused_one(store: Store) -> None:
    d = Directory(store, ACCOUNT)
    seen = [d.revision]
    d.create_role("r", "/", TRUST)
    seen.append(d.revision)
    d.put_inline("role", "r", "p", allow("s3:GetObject"))
    seen.append(d.revision)
    d.create_user("u", "/")
    seen.append(d.revision)
    d.create_access_key("u")
    seen.append(d.revision)
    arn = d.create_policy("P", "/", allow("sqs:*")).arn
    seen.append(d.revision)
    d.create_policy_version(arn, allow("sqs:SendMessage"), set_as_default=True)
    seen.append(d.revision)
    assert seen == sorted(set(seen)), seen
    before = d.revision
    with pytest.raises(EntityAlreadyExists):
        d.create_role("R", "/", TRUST)  # names are unique whatever their case
    with pytest.raises(MalformedPolicy):
        d.put_inline("role", "r", "bad", "{not json")
    assert d.revision == before


def test_a_failed_write_changes_nothing(store: Store) -> None:
    d = Directory(store, ACCOUNT)
    d.create_role("kept", "/", TRUST)
    revision = d.revision
    store.close()  # every write now fails, as a store that refuses it would
    with pytest.raises(sqlite3.ProgrammingError):
        d.create_role("lost", "/", TRUST)
    with pytest.raises(sqlite3.ProgrammingError):
        d.put_inline("role", "kept", "p", allow("s3:*"))
    assert d.role("lost") is None
    assert d.inline("role", "kept") == {}
    assert d.revision == revision


def test_deleting_what_still_holds_something_conflicts(store: Store) -> None:
    d = Directory(store, ACCOUNT)
    d.create_role("r", "/", TRUST)
    d.put_inline("role", "r", "p", allow("s3:*"))
    d.attach("role", "r", BASIC)
    with pytest.raises(DeleteConflict, match=r"^Cannot delete entity, must delete policies first\.$"):
        d.delete_role("r")
    d.delete_inline("role", "r", "p")
    with pytest.raises(DeleteConflict, match=r"^Cannot delete entity, must detach all policies first\.$"):
        d.delete_role("r")
    d.detach("role", "r", BASIC)
    d.delete_role("r")
    with pytest.raises(NoSuchEntity, match=r"^The role with name r cannot be found\.$"):
        d.delete_role("r")

    d.create_user("u", "/")
    key = d.create_access_key("u")
    with pytest.raises(DeleteConflict, match="must delete access keys first"):
        d.delete_user("u")
    d.delete_access_key("u", key.access_key_id)
    d.create_group("g", "/")
    d.add_to_group("g", "u")
    with pytest.raises(DeleteConflict, match="must remove users from group first"):
        d.delete_user("u")
    with pytest.raises(DeleteConflict, match="must remove users from group first"):
        d.delete_group("g")
    d.remove_from_group("g", "u")
    d.delete_user("u")
    d.delete_group("g")


def test_access_keys_two_at_most_and_kept_with_their_status(store: Store, db: Path) -> None:
    d = Directory(store, ACCOUNT)
    d.create_user("alice", "/team/")
    first = d.create_access_key("alice")
    second = d.create_access_key("alice")
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", first.access_key_id)
    assert len(first.secret) == 40 and first.secret != second.secret
    with pytest.raises(LimitExceeded, match="AccessKeysPerUser: 2"):
        d.create_access_key("alice")
    d.update_access_key("alice", first.access_key_id, "Inactive")
    with pytest.raises(NoSuchEntity):
        d.update_access_key("someone-else", first.access_key_id, "Active")

    after = reopened(store, db)
    kept = after.access_key(first.access_key_id)
    assert kept is not None and (kept.secret, kept.status, kept.user_name) == (
        first.secret,
        "Inactive",
        "alice",
    )
    assert after.access_key(second.access_key_id) is not None


def test_user_policies_include_their_groups(store: Store) -> None:
    d = Directory(store, ACCOUNT)
    d.create_user("bob", "/")
    d.put_inline("user", "bob", "own", allow("lambda:GetFunction"))
    d.create_group("devs", "/")
    d.put_inline("group", "devs", "shared", allow("lambda:ListFunctions"))
    assert {p.text for p in d.user_policies("bob")} == {allow("lambda:GetFunction")}
    d.add_to_group("devs", "bob")
    assert {p.text for p in d.user_policies("BOB")} == {
        allow("lambda:GetFunction"),
        allow("lambda:ListFunctions"),
    }
    assert d.user_policies("nobody") == ()


def test_renaming_a_user_keeps_its_keys_policies_and_groups(store: Store, db: Path) -> None:
    d = Directory(store, ACCOUNT)
    user = d.create_user("old", "/")
    key = d.create_access_key("old")
    d.put_inline("user", "old", "p", allow("s3:*"))
    d.create_group("g", "/")
    d.add_to_group("g", "old")
    d.update_user("old", new_name="new", new_path="/moved/")
    after = reopened(store, db)
    renamed = after.require_user("new")
    assert (renamed.user_id, renamed.arn) == (user.user_id, f"arn:aws:iam::{ACCOUNT}:user/moved/new")
    assert after.user("old") is None
    moved = after.access_key(key.access_key_id)
    assert moved is not None and moved.user_name == "new"
    assert list(after.inline("user", "new")) == ["p"]
    assert [g.name for g in after.groups_of("new")] == ["g"]


def test_managed_policy_versions(store: Store, db: Path) -> None:
    d = Directory(store, ACCOUNT)
    policy = d.create_policy("Ops", "/", allow("lambda:*"), description="ops")
    assert re.fullmatch(r"ANPA[A-Z0-9]{17}", policy.policy_id)
    for n in range(2, 6):
        d.create_policy_version(policy.arn, allow(f"lambda:Get{n}"))
    with pytest.raises(LimitExceeded, match="up to 5 versions"):
        d.create_policy_version(policy.arn, allow("lambda:Get6"))
    with pytest.raises(DeleteConflict, match=r"^Cannot delete the default version of a policy\.$"):
        d.delete_policy_version(policy.arn, "v1")
    d.delete_policy_version(policy.arn, "v5")
    d.set_default_version(policy.arn, "v4")
    d.create_role("r", "/", TRUST)
    d.attach("role", "r", policy.arn)
    assert [p.text for p in d.role_policies("r")] == [allow("lambda:Get4")]
    with pytest.raises(DeleteConflict, match="attached to entities"):
        d.delete_policy(policy.arn)
    d.detach("role", "r", policy.arn)
    with pytest.raises(DeleteConflict, match="more than one version"):
        d.delete_policy(policy.arn)

    after = reopened(store, db)
    # Version ids are never reused: v5 was deleted, the next one is v6.
    assert after.create_policy_version(policy.arn, allow("lambda:Get7")).version_id == "v6"
    assert after.require_managed(policy.arn).default_version_id == "v4"
    for version in ("v1", "v2", "v3", "v6"):
        after.delete_policy_version(policy.arn, version)
    after.delete_policy(policy.arn)
    assert after.managed(policy.arn) is None


def test_aws_managed_policies_are_attachable_not_changeable(store: Store) -> None:
    d = Directory(store, ACCOUNT)
    basic = d.require_managed(BASIC)
    assert basic.aws_managed and basic.default.document.text
    assert d.require_managed(BASIC).policy_id == basic.policy_id  # stable
    with pytest.raises(IamAccessDenied):
        d.create_policy_version(BASIC, allow("s3:*"))
    with pytest.raises(IamAccessDenied):
        d.delete_policy(BASIC)
    d.create_role("r", "/", TRUST)
    unknown = f"arn:aws:iam::{ACCOUNT}:policy/Nope"
    with pytest.raises(NoSuchEntity, match=f"^Policy {unknown} does not exist or is not attachable.$"):
        d.attach("role", "r", unknown)
    with pytest.raises(NoSuchEntity, match="was not found"):
        d.detach("role", "r", BASIC)


def test_documents_are_checked_for_their_kind(store: Store) -> None:
    d = Directory(store, ACCOUNT)
    with pytest.raises(MalformedPolicy):
        d.create_role("r", "/", allow("s3:*"))  # a trust policy names a principal
    with pytest.raises(MalformedPolicy):
        d.create_policy("p", "/", TRUST)  # an identity policy does not
    d.create_user("u", "/")
    with pytest.raises(LimitExceeded, match="2048 bytes exceeded for user u"):
        d.put_inline("user", "u", "big", allow("s3:GetObject", "arn:aws:s3:::" + "b" * 2100))
    assert d.role("r") is None and d.inline("user", "u") == {}
