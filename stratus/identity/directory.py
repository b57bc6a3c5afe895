"""The IAM directory: the one owner of roles, users, groups, their access keys, inline policies
and attachments, and the account's managed policies.

Every change is one method here: it checks, writes the changed entity's record to the store
(one row per entity in `documents`: kinds "iam.role", "iam.user", "iam.group", "iam.policy",
keyed by the lower-cased name, since IAM names are unique regardless of case; records are
`iam_records`'), and only then updates memory and `revision`, so a failed write changes
nothing. Readers (the keyring, the authorizer, STS, the IAM API's handlers) get frozen
snapshots from memory; the authorizer caches parsed policies by `revision`.

Policies are parsed when written (a malformed one is refused with IAM's error) and kept
parsed. AWS's managed policies (`managed.MANAGED`) are read from there, never stored: only
their attachments are.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from stratus.identity import iam_records as records
from stratus.identity.iam_entities import (
    ID_PREFIXES,
    AccessKey,
    DeleteConflict,
    EntityAlreadyExists,
    Group,
    Kind,
    LimitExceeded,
    ManagedPolicy,
    NoSuchEntity,
    PolicyVersion,
    Role,
    Tags,
    User,
    drop_tags,
    entity_arn,
    merge_tags,
    new_access_key,
    new_id,
)
from stratus.identity.iam_managed import ManagedPolicies, version_of
from stratus.identity.iam_records import Holdings
from stratus.identity.policy import Policy, parse
from stratus.store.sqlite import Store

__all__ = ["AccessKey", "Directory", "Group", "ManagedPolicy", "PolicyVersion", "Role", "User"]

# IAM's quotas (its defaults).
MAX_KEYS_PER_USER = 2
MAX_VERSIONS = 5
MAX_ATTACHED = 10  # managed policies per role, user or group
TRUST_SIZE = 2048  # characters of a trust policy, white space not counted (as IAM counts)
MANAGED_SIZE = 6144
INLINE_SIZE = {"role": 10240, "user": 2048, "group": 5120}  # all inline policies of one entity
_QUOTA_NAMES = {"role": "PoliciesPerRole", "user": "PoliciesPerUser", "group": "PoliciesPerGroup"}


def _now() -> datetime:
    return datetime.fromtimestamp(int(time.time()), UTC)


def _size(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


class Directory:
    """Contract (contracts.md): the lookups `role`, `role_by_arn`, `user`, `access_key`,
    `role_policies`, `user_policies`, and `revision`, which grows on every change. The IAM
    API's handlers change state only through the methods below."""

    def __init__(self, store: Store, account_id: str) -> None:
        self._store = store
        self.account_id = account_id
        self.revision = 0
        self._roles: dict[str, Role] = {}  # by lower-cased name, as are the next two
        self._users: dict[str, User] = {}
        self._groups: dict[str, Group] = {}
        self._keys: dict[str, AccessKey] = {}  # by access key id
        self._held: dict[tuple[Kind, str], Holdings] = {}  # by (kind, lower-cased name)
        self._managed = ManagedPolicies(store, account_id)
        self._load()

    # -- lookups (the contract) ---------------------------------------------------------------

    def role(self, name: str) -> Role | None:
        return self._roles.get(name.lower())

    def role_by_arn(self, arn: str) -> Role | None:
        role = self._roles.get(arn.rpartition("/")[2].lower())
        return role if role is not None and role.arn == arn else None

    def user(self, name: str) -> User | None:
        return self._users.get(name.lower())

    def group(self, name: str) -> Group | None:
        return self._groups.get(name.lower())

    def access_key(self, access_key_id: str) -> AccessKey | None:
        return self._keys.get(access_key_id)

    def role_policies(self, role_name: str) -> tuple[Policy, ...]:
        """A role's inline policies and the default versions of those attached to it."""
        return self._policies_of("role", role_name)

    def user_policies(self, user_name: str) -> tuple[Policy, ...]:
        """A user's inline and attached policies, and those of every group it belongs to."""
        if user_name.lower() not in self._users:
            return ()
        groups = self.groups_of(user_name)
        return self._policies_of("user", user_name) + tuple(
            p for g in groups for p in self._policies_of("group", g.name)
        )

    def _policies_of(self, kind: Kind, name: str) -> tuple[Policy, ...]:
        held = self._holdings(kind, name)
        attached = (self.managed(arn) for arn in held.attached)
        return tuple(held.inline.values()) + tuple(p.default.document for p in attached if p is not None)

    def _holdings(self, kind: Kind, name: str) -> Holdings:
        return self._held.get((kind, name.lower()), Holdings())

    # -- roles --------------------------------------------------------------------------------

    def roles(self) -> list[Role]:
        return [self._roles[k] for k in sorted(self._roles)]

    def require_role(self, name: str) -> Role:
        role = self.role(name)
        if role is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role

    def create_role(
        self,
        name: str,
        path: str,
        trust: str,
        *,
        description: str | None = None,
        max_session_duration: int = 3600,
        tags: Tags = (),
    ) -> Role:
        if name.lower() in self._roles:
            raise EntityAlreadyExists(f"Role with name {name} already exists.")
        role = Role(
            name=name,
            path=path,
            arn=entity_arn(self.account_id, "role", path, name),
            role_id=new_id(ID_PREFIXES["role"]),
            create_date=_now(),
            trust=self._trust(trust),
            max_session_duration=max_session_duration,
            description=description,
            tags=tags,
        )
        self._commit_role(role)
        return role

    def update_role(
        self, name: str, *, description: str | None = None, max_session_duration: int | None = None
    ) -> Role:
        role = self.require_role(name)
        changed = replace(
            role,
            description=role.description if description is None else description,
            max_session_duration=max_session_duration or role.max_session_duration,
        )
        self._commit_role(changed)
        return changed

    def update_trust(self, name: str, trust: str) -> Role:
        role = replace(self.require_role(name), trust=self._trust(trust))
        self._commit_role(role)
        return role

    def delete_role(self, name: str) -> None:
        role = self.require_role(name)
        self._no_policies("role", role.name)
        self._delete("role", role.name)

    @staticmethod
    def _trust(text: str) -> Policy:
        policy = parse(text, "trust")
        if _size(text) > TRUST_SIZE:
            raise LimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_SIZE}")
        return policy

    # -- users and their keys -----------------------------------------------------------------

    def users(self) -> list[User]:
        return [self._users[k] for k in sorted(self._users)]

    def require_user(self, name: str) -> User:
        user = self.user(name)
        if user is None:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return user

    def create_user(self, name: str, path: str, *, tags: Tags = ()) -> User:
        if name.lower() in self._users:
            raise EntityAlreadyExists(f"User with name {name} already exists.")
        user = User(
            name=name,
            path=path,
            arn=entity_arn(self.account_id, "user", path, name),
            user_id=new_id(ID_PREFIXES["user"]),
            create_date=_now(),
            tags=tags,
        )
        self._commit_user(user)
        return user

    def update_user(self, name: str, *, new_name: str | None = None, new_path: str | None = None) -> User:
        """A new name or path; the user keeps its id, keys, policies and groups."""
        user = self.require_user(name)
        new_name, new_path = new_name or user.name, new_path or user.path
        if new_name.lower() != user.name.lower() and new_name.lower() in self._users:
            raise EntityAlreadyExists(f"User with name {new_name} already exists.")
        changed = replace(
            user, name=new_name, path=new_path, arn=entity_arn(self.account_id, "user", new_path, new_name)
        )
        groups = self.groups_of(user.name)
        keys = [replace(k, user_name=new_name) for k in self.access_keys(user.name)]
        self._commit_user(changed, keys=keys, held=self._holdings("user", user.name), previous=user)
        for group in groups:
            members = tuple(new_name if m.lower() == user.name.lower() else m for m in group.members)
            self._commit_group(replace(group, members=members))
        return changed

    def delete_user(self, name: str) -> None:
        user = self.require_user(name)
        if self.access_keys(user.name):
            raise DeleteConflict("Cannot delete entity, must delete access keys first.")
        self._no_policies("user", user.name)
        if self.groups_of(user.name):
            raise DeleteConflict("Cannot delete entity, must remove users from group first.")
        self._delete("user", user.name)

    def access_keys(self, user_name: str) -> list[AccessKey]:
        key = user_name.lower()
        return sorted(
            (k for k in self._keys.values() if k.user_name.lower() == key), key=lambda k: k.create_date
        )

    def create_access_key(self, user_name: str) -> AccessKey:
        user = self.require_user(user_name)
        keys = self.access_keys(user.name)
        if len(keys) >= MAX_KEYS_PER_USER:
            raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}")
        key_id, secret = new_access_key()
        key = AccessKey(key_id, secret, user.name, "Active", _now())
        self._commit_user(user, keys=[*keys, key])
        return key

    def require_key(self, user_name: str, access_key_id: str) -> AccessKey:
        key = self._keys.get(access_key_id)
        if key is None or key.user_name.lower() != user_name.lower():
            raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
        return key

    def update_access_key(self, user_name: str, access_key_id: str, status: str) -> None:
        key = self.require_key(user_name, access_key_id)
        keys = [replace(k, status=status) if k == key else k for k in self.access_keys(key.user_name)]
        self._commit_user(self.require_user(key.user_name), keys=keys)

    def delete_access_key(self, user_name: str, access_key_id: str) -> None:
        key = self.require_key(user_name, access_key_id)
        keys = [k for k in self.access_keys(key.user_name) if k != key]
        self._commit_user(self.require_user(key.user_name), keys=keys)

    # -- groups -------------------------------------------------------------------------------

    def groups(self) -> list[Group]:
        return [self._groups[k] for k in sorted(self._groups)]

    def require_group(self, name: str) -> Group:
        group = self.group(name)
        if group is None:
            raise NoSuchEntity(f"The group with name {name} cannot be found.")
        return group

    def groups_of(self, user_name: str) -> list[Group]:
        key = user_name.lower()
        return [g for g in self.groups() if any(m.lower() == key for m in g.members)]

    def create_group(self, name: str, path: str) -> Group:
        if name.lower() in self._groups:
            raise EntityAlreadyExists(f"Group with name {name} already exists.")
        group = Group(
            name=name,
            path=path,
            arn=entity_arn(self.account_id, "group", path, name),
            group_id=new_id(ID_PREFIXES["group"]),
            create_date=_now(),
        )
        self._commit_group(group)
        return group

    def add_to_group(self, group_name: str, user_name: str) -> None:
        group = self.require_group(group_name)
        user = self.require_user(user_name)
        if any(m.lower() == user.name.lower() for m in group.members):
            return  # IAM answers success for a member already there
        self._commit_group(replace(group, members=(*group.members, user.name)))

    def remove_from_group(self, group_name: str, user_name: str) -> None:
        group = self.require_group(group_name)
        user = self.require_user(user_name)
        key = user.name.lower()
        if not any(m.lower() == key for m in group.members):
            raise NoSuchEntity(f"The user with name {user_name} cannot be found.")
        self._commit_group(replace(group, members=tuple(m for m in group.members if m.lower() != key)))

    def delete_group(self, name: str) -> None:
        group = self.require_group(name)
        if group.members:
            raise DeleteConflict("Cannot delete entity, must remove users from group first.")
        self._no_policies("group", group.name)
        self._delete("group", group.name)

    # -- tags of roles and users ---------------------------------------------------------------

    def tag(self, kind: Kind, name: str, tags: list[dict[str, str]]) -> None:
        if kind == "role":
            role = self.require_role(name)
            self._commit_role(replace(role, tags=merge_tags(role.tags, tags)))
        else:
            user = self.require_user(name)
            self._commit_user(replace(user, tags=merge_tags(user.tags, tags)))

    def untag(self, kind: Kind, name: str, keys: list[str]) -> None:
        if kind == "role":
            role = self.require_role(name)
            self._commit_role(replace(role, tags=drop_tags(role.tags, keys)))
        else:
            user = self.require_user(name)
            self._commit_user(replace(user, tags=drop_tags(user.tags, keys)))

    # -- inline policies and attachments of roles, users and groups --------------------------

    def entity_name(self, kind: Kind, name: str) -> str:
        """The entity's name as it was created (NoSuchEntity if there is none)."""
        if kind == "role":
            return self.require_role(name).name
        if kind == "user":
            return self.require_user(name).name
        return self.require_group(name).name

    def inline(self, kind: Kind, name: str) -> dict[str, Policy]:
        return dict(self._holdings(kind, self.entity_name(kind, name)).inline)

    def inline_policy(self, kind: Kind, name: str, policy_name: str) -> Policy:
        policy = self.inline(kind, name).get(policy_name)
        if policy is None:
            raise NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")
        return policy

    def put_inline(self, kind: Kind, name: str, policy_name: str, text: str) -> None:
        entity = self.entity_name(kind, name)
        policies = {**self.inline(kind, entity), policy_name: parse(text, "identity")}
        if sum(_size(p.text) for p in policies.values()) > INLINE_SIZE[kind]:
            raise LimitExceeded(
                f"Maximum policy size of {INLINE_SIZE[kind]} bytes exceeded for {kind} {entity}"
            )
        self._hold(kind, entity, replace(self._holdings(kind, entity), inline=policies))

    def delete_inline(self, kind: Kind, name: str, policy_name: str) -> None:
        self.inline_policy(kind, name, policy_name)
        entity = self.entity_name(kind, name)
        policies = {k: v for k, v in self.inline(kind, entity).items() if k != policy_name}
        self._hold(kind, entity, replace(self._holdings(kind, entity), inline=policies))

    def attached(self, kind: Kind, name: str) -> list[ManagedPolicy]:
        arns = self._holdings(kind, self.entity_name(kind, name)).attached
        return [p for p in (self.managed(a) for a in arns) if p is not None]

    def attach(self, kind: Kind, name: str, policy_arn: str) -> None:
        entity = self.entity_name(kind, name)
        if self.managed(policy_arn) is None:
            raise NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")
        held = self._holdings(kind, entity)
        if policy_arn in held.attached:
            return  # attaching twice changes nothing, as in IAM
        if len(held.attached) >= MAX_ATTACHED:
            raise LimitExceeded(f"Cannot exceed quota for {_QUOTA_NAMES[kind]}: {MAX_ATTACHED}")
        self._hold(kind, entity, replace(held, attached=(*held.attached, policy_arn)))

    def detach(self, kind: Kind, name: str, policy_arn: str) -> None:
        entity = self.entity_name(kind, name)
        held = self._holdings(kind, entity)
        if policy_arn not in held.attached:
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")
        self._hold(kind, entity, replace(held, attached=tuple(a for a in held.attached if a != policy_arn)))

    def _no_policies(self, kind: Kind, name: str) -> None:
        held = self._holdings(kind, name)
        if held.inline:
            raise DeleteConflict("Cannot delete entity, must delete policies first.")
        if held.attached:
            raise DeleteConflict("Cannot delete entity, must detach all policies first.")

    def _hold(self, kind: Kind, name: str, held: Holdings) -> None:
        """Replace what an entity holds: written with the entity's record."""
        if kind == "role":
            self._commit_role(self.require_role(name), held=held)
        elif kind == "user":
            self._commit_user(self.require_user(name), held=held)
        else:
            self._commit_group(self.require_group(name), held=held)

    # -- managed policies (held by `iam_managed.ManagedPolicies`) -------------------------------

    def managed(self, arn: str) -> ManagedPolicy | None:
        """A managed policy by ARN: the account's own, or one of AWS's."""
        return self._managed.get(arn)

    def require_managed(self, arn: str) -> ManagedPolicy:
        return self._managed.require(arn)

    def managed_policies(self, *, local: bool = True, aws: bool = True) -> list[ManagedPolicy]:
        return self._managed.listed(local=local, aws=aws)

    def attachment_counts(self) -> Counter[str]:
        return Counter(arn for held in self._held.values() for arn in held.attached)

    def entities_of(self, arn: str) -> list[tuple[Kind, str]]:
        """The (kind, name) of every role, user and group a managed policy is attached to."""
        return [
            (kind, self.entity_name(kind, key))
            for (kind, key), held in sorted(self._held.items())
            if arn in held.attached
        ]

    def create_policy(
        self, name: str, path: str, text: str, *, description: str | None = None, tags: Tags = ()
    ) -> ManagedPolicy:
        policy = self._managed.create(name, path, text, description=description, tags=tags)
        self.revision += 1
        return policy

    def create_policy_version(self, arn: str, text: str, *, set_as_default: bool = False) -> PolicyVersion:
        version = self._managed.create_version(arn, text, set_as_default=set_as_default)
        self.revision += 1
        return version

    def set_default_version(self, arn: str, version_id: str) -> None:
        self._managed.set_default(arn, version_id)
        self.revision += 1

    def delete_policy_version(self, arn: str, version_id: str) -> None:
        self._managed.delete_version(arn, version_id)
        self.revision += 1

    def delete_policy(self, arn: str) -> None:
        self._managed.own(arn)
        if self.attachment_counts()[arn]:
            raise DeleteConflict("Cannot delete a policy attached to entities.")
        self._managed.delete(arn)
        self.revision += 1

    @staticmethod
    def policy_version(policy: ManagedPolicy, version_id: str) -> PolicyVersion:
        return version_of(policy, version_id)

    # -- persistence: write first, then memory ------------------------------------------------

    def _commit_role(self, role: Role, *, held: Holdings | None = None) -> None:
        key = role.name.lower()
        held = self._holdings("role", key) if held is None else held
        self._store.put_document("iam.role", key, records.encode_role(role, held))
        self._roles[key] = role
        self._held[("role", key)] = held
        self.revision += 1

    def _commit_user(
        self,
        user: User,
        *,
        keys: Iterable[AccessKey] | None = None,
        held: Holdings | None = None,
        previous: User | None = None,
    ) -> None:
        """Write a user with its keys and holdings (under a new name, `previous` is the user as
        it was: its record goes)."""
        old = (previous or user).name.lower()
        key = user.name.lower()
        keys = list(self.access_keys(old) if keys is None else keys)
        held = self._holdings("user", old) if held is None else held
        self._store.put_document("iam.user", key, records.encode_user(user, keys, held))
        if old != key:
            self._store.delete_document("iam.user", old)
            self._users.pop(old, None)
            self._held.pop(("user", old), None)
        for stale in self.access_keys(old):
            del self._keys[stale.access_key_id]
        self._keys.update((k.access_key_id, k) for k in keys)
        self._users[key] = user
        self._held[("user", key)] = held
        self.revision += 1

    def _commit_group(self, group: Group, *, held: Holdings | None = None) -> None:
        key = group.name.lower()
        held = self._holdings("group", key) if held is None else held
        self._store.put_document("iam.group", key, records.encode_group(group, held))
        self._groups[key] = group
        self._held[("group", key)] = held
        self.revision += 1

    def _delete(self, kind: Kind, name: str) -> None:
        key = name.lower()
        self._store.delete_document(f"iam.{kind}", key)
        owners: dict[str, dict[str, Any]] = {"role": self._roles, "user": self._users, "group": self._groups}
        del owners[kind][key]
        self._held.pop((kind, key), None)
        self.revision += 1

    def _load(self) -> None:
        for key, raw in self._store.load_documents("iam.role").items():
            self._roles[key], self._held[("role", key)] = records.decode_role(raw, self.account_id)
        for key, raw in self._store.load_documents("iam.user").items():
            user, keys, self._held[("user", key)] = records.decode_user(raw, self.account_id)
            self._users[key] = user
            self._keys.update((k.access_key_id, k) for k in keys)
        for key, raw in self._store.load_documents("iam.group").items():
            self._groups[key], self._held[("group", key)] = records.decode_group(raw, self.account_id)
