"""IAM's entities as the directory hands them out (frozen snapshots), IAM's error codes, and
the identifiers and ARNs IAM gives its entities. Pure: no state here (the directory owns it).

IAM is global: its ARNs carry no region (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from stratus.errors import ClientError
from stratus.identity.policy import Policy

Tags = tuple[tuple[str, str], ...]
Kind = Literal["role", "user", "group"]
KINDS: tuple[Kind, ...] = ("role", "user", "group")


# IAM's own error codes (botocore maps each to its exception class: NoSuchEntityException...).
class NoSuchEntity(ClientError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(ClientError):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflict(ClientError):
    code = "DeleteConflict"
    status = 409


class LimitExceeded(ClientError):
    code = "LimitExceeded"
    status = 409


class InvalidInput(ClientError):
    code = "InvalidInput"


class IamValidationError(ClientError):
    code = "ValidationError"


class IamAccessDenied(ClientError):
    code = "AccessDenied"
    status = 403


@dataclass(frozen=True)
class Role:
    name: str
    path: str
    arn: str
    role_id: str  # "AROA..."
    create_date: datetime
    trust: Policy  # the parsed AssumeRolePolicyDocument; `trust.text` is the document as given
    max_session_duration: int = 3600
    description: str | None = None
    tags: Tags = ()


@dataclass(frozen=True)
class User:
    name: str
    path: str
    arn: str
    user_id: str  # "AIDA..."
    create_date: datetime
    tags: Tags = ()


@dataclass(frozen=True)
class Group:
    name: str
    path: str
    arn: str
    group_id: str  # "AGPA..."
    create_date: datetime
    members: tuple[str, ...] = ()  # user names, in the order they were added


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str  # "AKIA..."
    secret: str
    user_name: str
    status: str  # "Active" | "Inactive"
    create_date: datetime


@dataclass(frozen=True)
class PolicyVersion:
    version_id: str  # "v1", "v2"...
    document: Policy
    create_date: datetime


@dataclass(frozen=True)
class ManagedPolicy:
    """A managed policy as IAM describes it: the account's own, or one of AWS's (read-only)."""

    name: str
    path: str
    arn: str
    policy_id: str  # "ANPA..."
    default_version_id: str
    versions: tuple[PolicyVersion, ...]  # oldest first
    create_date: datetime
    update_date: datetime
    description: str | None = None
    tags: Tags = ()
    aws_managed: bool = False

    @property
    def default(self) -> PolicyVersion:
        return next(v for v in self.versions if v.version_id == self.default_version_id)

    def version(self, version_id: str) -> PolicyVersion | None:
        return next((v for v in self.versions if v.version_id == version_id), None)


# -- identifiers and ARNs ---------------------------------------------------------------------

_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
ID_PREFIXES = {"role": "AROA", "user": "AIDA", "group": "AGPA", "policy": "ANPA"}


def new_id(prefix: str, length: int = 17) -> str:
    """A unique id as IAM makes them: a type prefix and upper-case letters and digits."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_access_key() -> tuple[str, str]:
    """(access key id "AKIA" + 16, secret of 40 characters)."""
    return new_id("AKIA", 16), "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def entity_arn(account_id: str, kind: str, path: str, name: str) -> str:
    """arn:aws:iam::ACCOUNT:KIND/PATH/NAME (the path "/" leaves just KIND/NAME)."""
    return f"arn:aws:iam::{account_id}:{kind}{path}{name}"


def name_of_arn(arn: str) -> str:
    return arn.rpartition("/")[2]


def merge_tags(current: Tags, added: list[dict[str, str]]) -> Tags:
    """Tags after TagRole/TagUser: an existing key (compared case-insensitively, as IAM does)
    takes the new value in its place; new keys are appended."""
    check_tag_keys(added)
    result = list(current)
    for tag in added:
        key, value = tag["Key"], tag.get("Value", "")
        at = next((i for i, (k, _) in enumerate(result) if k.lower() == key.lower()), None)
        if at is None:
            result.append((key, value))
        else:
            result[at] = (key, value)
    if len(result) > 50:
        raise LimitExceeded("Cannot exceed quota for TagsPerEntity: 50.")
    return tuple(result)


def check_tag_keys(tags: list[dict[str, str]]) -> None:
    keys = [t["Key"].lower() for t in tags]
    if len(keys) != len(set(keys)):
        raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")


def drop_tags(current: Tags, keys: list[str]) -> Tags:
    gone = {k.lower() for k in keys}
    return tuple((k, v) for k, v in current if k.lower() not in gone)
