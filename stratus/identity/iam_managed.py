"""The account's managed policies and their versions, and AWS's managed policies (read from
`managed.MANAGED`, never stored), held for the directory (`Directory`), which owns them through
this: it checks attachments and counts revisions; this checks and writes the policies themselves
(one "iam.policy" row each, keyed by the lower-cased name: names are unique in an account).
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from stratus.identity import iam_records as records
from stratus.identity import managed
from stratus.identity.iam_entities import (
    ID_PREFIXES,
    DeleteConflict,
    EntityAlreadyExists,
    IamAccessDenied,
    LimitExceeded,
    ManagedPolicy,
    NoSuchEntity,
    PolicyVersion,
    Tags,
    entity_arn,
    new_id,
)
from stratus.identity.policy import Policy, parse
from stratus.store.sqlite import Store

MAX_VERSIONS = 5
MANAGED_SIZE = 6144  # characters, white space not counted (as IAM counts)


def now() -> datetime:
    return datetime.fromtimestamp(int(time.time()), UTC)


def size(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


class ManagedPolicies:
    """Contract: `get` any managed policy by ARN; the changes write first, then memory."""

    def __init__(self, store: Store, account_id: str) -> None:
        self._store = store
        self.account_id = account_id
        self._policies: dict[str, ManagedPolicy] = {}  # the account's own, by lower-cased name
        self._next_version: dict[str, int] = {}  # of each: version ids are never reused, as in IAM
        self._aws_parsed: dict[str, Policy] = {}
        for key, raw in store.load_documents("iam.policy").items():
            self._policies[key], self._next_version[key] = records.decode_policy(raw, account_id)

    def get(self, arn: str) -> ManagedPolicy | None:
        """A managed policy by ARN: the account's own, or one of AWS's."""
        local = self._policies.get(arn.rpartition("/")[2].lower())
        if local is not None and local.arn == arn:
            return local
        held = managed.MANAGED.get(arn)
        if held is None:
            return None
        document = self._aws_parsed.get(arn)
        if document is None:
            document = self._aws_parsed[arn] = parse(held.document, "identity")
        return records.aws_managed(held, document)

    def require(self, arn: str) -> ManagedPolicy:
        policy = self.get(arn)
        if policy is None:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        return policy

    def listed(self, *, local: bool = True, aws: bool = True) -> list[ManagedPolicy]:
        found = list(self._policies.values()) if local else []
        if aws:
            found += [p for p in (self.get(a) for a in managed.MANAGED) if p is not None]
        return sorted(found, key=lambda p: (p.name.lower(), p.arn))

    def create(
        self, name: str, path: str, text: str, *, description: str | None = None, tags: Tags = ()
    ) -> ManagedPolicy:
        if name.lower() in self._policies:
            raise EntityAlreadyExists(
                f"A policy called {name} already exists. Duplicate names are not allowed."
            )
        created = now()
        policy = ManagedPolicy(
            name=name,
            path=path,
            arn=entity_arn(self.account_id, "policy", path, name),
            policy_id=new_id(ID_PREFIXES["policy"]),
            default_version_id="v1",
            versions=(PolicyVersion("v1", document(text), created),),
            create_date=created,
            update_date=created,
            description=description,
            tags=tags,
        )
        self._commit(policy, next_version=2)
        return policy

    def create_version(self, arn: str, text: str, *, set_as_default: bool = False) -> PolicyVersion:
        policy = self.own(arn)
        if len(policy.versions) >= MAX_VERSIONS:
            raise LimitExceeded(
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new "
                "version, you must delete an existing version."
            )
        number = self._next_version[policy.name.lower()]
        version = PolicyVersion(f"v{number}", document(text), now())
        changed = replace(
            policy,
            versions=(*policy.versions, version),
            default_version_id=version.version_id if set_as_default else policy.default_version_id,
            update_date=version.create_date if set_as_default else policy.update_date,
        )
        self._commit(changed, next_version=number + 1)
        return version

    def set_default(self, arn: str, version_id: str) -> None:
        policy = self.own(arn)
        version_of(policy, version_id)
        self._commit(replace(policy, default_version_id=version_id, update_date=now()))

    def delete_version(self, arn: str, version_id: str) -> None:
        policy = self.own(arn)
        version_of(policy, version_id)
        if version_id == policy.default_version_id:
            raise DeleteConflict("Cannot delete the default version of a policy.")
        kept = tuple(v for v in policy.versions if v.version_id != version_id)
        self._commit(replace(policy, versions=kept))

    def delete(self, arn: str) -> None:
        """Delete one of the account's policies (the directory has checked it is not attached)."""
        policy = self.own(arn)
        if len(policy.versions) > 1:
            raise DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must delete "
                "the policy's versions. The default version is deleted with the policy."
            )
        key = policy.name.lower()
        self._store.delete_document("iam.policy", key)
        del self._policies[key]
        del self._next_version[key]

    def own(self, arn: str) -> ManagedPolicy:
        """One of the account's policies (AWS's may be read and attached, not changed)."""
        policy = self.require(arn)
        if policy.aws_managed:
            raise IamAccessDenied(f"Policy {arn} is managed by AWS: it cannot be changed or deleted.")
        return policy

    def _commit(self, policy: ManagedPolicy, next_version: int | None = None) -> None:
        key = policy.name.lower()
        number = self._next_version[key] if next_version is None else next_version
        self._store.put_document("iam.policy", key, records.encode_policy(policy, number))
        self._policies[key] = policy
        self._next_version[key] = number


def version_of(policy: ManagedPolicy, version_id: str) -> PolicyVersion:
    version = policy.version(version_id)
    if version is None:
        raise NoSuchEntity(f"Policy {policy.arn} version {version_id} does not exist or is not attachable.")
    return version


def document(text: str) -> Policy:
    policy = parse(text, "identity")
    if size(text) > MANAGED_SIZE:
        raise LimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_SIZE}")
    return policy
