"""How the directory's entities are written to the store and read back (pure): one JSON record
per role, user, group or managed policy, with the policies it holds as the documents given
(parsed again when read), and AWS's managed policies as the directory describes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stratus.identity import managed
from stratus.identity.iam_entities import (
    AccessKey,
    Group,
    ManagedPolicy,
    PolicyVersion,
    Role,
    Tags,
    User,
    entity_arn,
)
from stratus.identity.policy import Kind as PolicyKind
from stratus.identity.policy import MalformedPolicy, Policy, parse

log = logging.getLogger("stratus.identity")

# When AWS's managed policies "were created", as IAM reports it (they predate any account).
AWS_MANAGED_DATE = datetime(2015, 2, 6, 18, 39, 46, tzinfo=UTC)


@dataclass(frozen=True)
class Holdings:
    """What a role, user or group holds: inline policies by name, attached policies' ARNs."""

    inline: Mapping[str, Policy] = field(default_factory=dict)
    attached: tuple[str, ...] = ()


def _stamp(value: datetime) -> float:
    return value.timestamp()


def _date(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _tags(pairs: Iterable[list[str]]) -> Tags:
    return tuple((str(k), str(v)) for k, v in pairs)


def restore(text: str, kind: PolicyKind, what: str) -> Policy:
    """A stored document, parsed again at start. One that no longer parses (a stricter parser
    since) grants nothing rather than stopping the server."""
    try:
        return parse(text, kind)
    except MalformedPolicy as e:
        log.warning("iam: the stored policy of %s no longer parses (%s); it grants nothing", what, e)
        return Policy(version="2012-10-17", statements=(), text=text)


def _holdings_out(held: Holdings) -> dict[str, Any]:
    return {"inline": {n: p.text for n, p in held.inline.items()}, "attached": list(held.attached)}


def _holdings_in(record: Mapping[str, Any], arn: str) -> Holdings:
    inline = {n: restore(t, "identity", f"{arn} ({n})") for n, t in record.get("inline", {}).items()}
    return Holdings(inline, tuple(record.get("attached", ())))


def encode_role(role: Role, held: Holdings) -> str:
    record = {
        "name": role.name,
        "path": role.path,
        "id": role.role_id,
        "created": _stamp(role.create_date),
        "trust": role.trust.text,
        "max_session": role.max_session_duration,
        "description": role.description,
        "tags": [list(t) for t in role.tags],
        **_holdings_out(held),
    }
    return json.dumps(record)


def decode_role(raw: str, account_id: str) -> tuple[Role, Holdings]:
    r = json.loads(raw)
    arn = entity_arn(account_id, "role", r["path"], r["name"])
    role = Role(
        name=r["name"],
        path=r["path"],
        arn=arn,
        role_id=r["id"],
        create_date=_date(r["created"]),
        trust=restore(r["trust"], "trust", arn),
        max_session_duration=int(r["max_session"]),
        description=r.get("description"),
        tags=_tags(r.get("tags", [])),
    )
    return role, _holdings_in(r, arn)


def encode_user(user: User, keys: Iterable[AccessKey], held: Holdings) -> str:
    record = {
        "name": user.name,
        "path": user.path,
        "id": user.user_id,
        "created": _stamp(user.create_date),
        "tags": [list(t) for t in user.tags],
        # The secrets are kept (the data dir is private, 0600): SigV4 needs them to verify.
        "keys": [
            {"id": k.access_key_id, "secret": k.secret, "status": k.status, "created": _stamp(k.create_date)}
            for k in keys
        ],
        **_holdings_out(held),
    }
    return json.dumps(record)


def decode_user(raw: str, account_id: str) -> tuple[User, list[AccessKey], Holdings]:
    r = json.loads(raw)
    arn = entity_arn(account_id, "user", r["path"], r["name"])
    user = User(
        name=r["name"],
        path=r["path"],
        arn=arn,
        user_id=r["id"],
        create_date=_date(r["created"]),
        tags=_tags(r.get("tags", [])),
    )
    keys = [
        AccessKey(k["id"], k["secret"], r["name"], k["status"], _date(k["created"]))
        for k in r.get("keys", [])
    ]
    return user, keys, _holdings_in(r, arn)


def encode_group(group: Group, held: Holdings) -> str:
    record = {
        "name": group.name,
        "path": group.path,
        "id": group.group_id,
        "created": _stamp(group.create_date),
        "members": list(group.members),
        **_holdings_out(held),
    }
    return json.dumps(record)


def decode_group(raw: str, account_id: str) -> tuple[Group, Holdings]:
    r = json.loads(raw)
    arn = entity_arn(account_id, "group", r["path"], r["name"])
    group = Group(
        name=r["name"],
        path=r["path"],
        arn=arn,
        group_id=r["id"],
        create_date=_date(r["created"]),
        members=tuple(r.get("members", [])),
    )
    return group, _holdings_in(r, arn)


def encode_policy(policy: ManagedPolicy, next_version: int) -> str:
    record = {
        "name": policy.name,
        "path": policy.path,
        "id": policy.policy_id,
        "created": _stamp(policy.create_date),
        "updated": _stamp(policy.update_date),
        "description": policy.description,
        "tags": [list(t) for t in policy.tags],
        "default": policy.default_version_id,
        # Version numbers are never reused (as in IAM), so the next one is kept with the policy.
        "next": next_version,
        "versions": [
            {"id": v.version_id, "text": v.document.text, "created": _stamp(v.create_date)}
            for v in policy.versions
        ],
    }
    return json.dumps(record)


def decode_policy(raw: str, account_id: str) -> tuple[ManagedPolicy, int]:
    r = json.loads(raw)
    arn = entity_arn(account_id, "policy", r["path"], r["name"])
    policy = ManagedPolicy(
        name=r["name"],
        path=r["path"],
        arn=arn,
        policy_id=r["id"],
        default_version_id=r["default"],
        versions=tuple(
            PolicyVersion(v["id"], restore(v["text"], "identity", f"{arn} {v['id']}"), _date(v["created"]))
            for v in r["versions"]
        ),
        create_date=_date(r["created"]),
        update_date=_date(r["updated"]),
        description=r.get("description"),
        tags=_tags(r.get("tags", [])),
    )
    return policy, int(r["next"])


def aws_managed(held: managed.ManagedPolicy, document: Policy) -> ManagedPolicy:
    """One of AWS's managed policies (`managed.MANAGED`), as IAM describes it: with AWS's own
    id and dates where `managed` has them."""
    created = _iso(held.created) or AWS_MANAGED_DATE
    updated = _iso(held.updated) or created
    return ManagedPolicy(
        name=held.name,
        path=held.path,
        arn=held.arn,
        policy_id=held.policy_id or aws_policy_id(held.arn),
        default_version_id=held.version_id,
        versions=(PolicyVersion(held.version_id, document, updated),),
        create_date=created,
        update_date=updated,
        description=held.description,
        aws_managed=True,
    )


def _iso(text: str) -> datetime | None:
    if not text:
        return None
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def aws_policy_id(arn: str) -> str:
    """A stable id for an AWS managed policy (the same at every start)."""
    digest = hashlib.sha256(arn.encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "ANPA" + "".join(alphabet[b % 32] for b in digest[:17])
