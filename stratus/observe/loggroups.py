"""Log groups and streams made through the Logs API (CreateLogGroup, CreateLogStream), with
what CloudWatch Logs keeps of them besides lines: creation time, KMS key, class and tags.

A function's log group exists as soon as it has lines (observe/logstore.py); one made by
CreateLogGroup exists before any, and carries the settings Terraform's aws_cloudwatch_log_group
writes and reads back. Records go through the metadata store, one document each, written
before memory changes. Group names cannot hold ':' (the model's pattern), so `group:stream`
names a stream's document unambiguously.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from stratus.errors import ClientError, ResourceNotFound
from stratus.store.sqlite import Store

GROUP_KIND = "logs.group"
STREAM_KIND = "logs.stream"
MAX_TAGS = 50  # CloudWatch Logs' limit per resource


class ResourceAlreadyExists(ClientError):
    code = "ResourceAlreadyExistsException"


class TooManyTags(ClientError):
    code = "TooManyTagsException"


@dataclass(frozen=True)
class GroupRecord:
    name: str
    created_ms: int
    kms_key_id: str | None = None
    group_class: str = "STANDARD"
    tags: dict[str, str] = field(default_factory=dict)


class LogGroups:
    """The one owner of created log groups' and streams' records."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._groups = {
            name: GroupRecord(**json.loads(text)) for name, text in store.load_documents(GROUP_KIND).items()
        }
        self._streams: dict[str, int] = {
            name: int(json.loads(text)["created_ms"])
            for name, text in store.load_documents(STREAM_KIND).items()
        }

    def get(self, name: str) -> GroupRecord | None:
        return self._groups.get(name)

    def all(self) -> list[GroupRecord]:
        return list(self._groups.values())

    def create(self, record: GroupRecord) -> None:
        if record.name in self._groups:
            raise ResourceAlreadyExists("The specified log group already exists")
        _check_tags(record.tags)
        self._save(record)

    def ensure(self, name: str, now_ms: int) -> GroupRecord:
        """The record of a group that exists by its lines alone (a function's), made on first
        need (tagging it, say)."""
        return self._groups.get(name) or GroupRecord(name, now_ms)

    def tag(self, record: GroupRecord, tags: dict[str, str]) -> None:
        merged = {**record.tags, **tags}
        _check_tags(merged)
        self._save(replace(record, tags=merged))

    def untag(self, record: GroupRecord, keys: list[str]) -> None:
        self._save(replace(record, tags={k: v for k, v in record.tags.items() if k not in keys}))

    def set_kms_key(self, record: GroupRecord, key: str | None) -> None:
        self._save(replace(record, kms_key_id=key))

    def delete(self, name: str) -> None:
        """Forget the group and its created streams (its lines are the log store's)."""
        for key in [k for k in self._streams if k.split(":", 1)[0] == name]:
            self._store.delete_document(STREAM_KIND, key)
            del self._streams[key]
        if name in self._groups:
            self._store.delete_document(GROUP_KIND, name)
            del self._groups[name]

    def create_stream(self, group: str, stream: str, now_ms: int) -> None:
        key = f"{group}:{stream}"
        if key in self._streams:
            raise ResourceAlreadyExists("The specified log stream already exists")
        self._store.put_document(STREAM_KIND, key, json.dumps({"created_ms": now_ms}))
        self._streams[key] = now_ms

    def streams(self, group: str) -> dict[str, int]:
        """Created streams of a group: name -> creation time."""
        return {k.split(":", 1)[1]: v for k, v in self._streams.items() if k.split(":", 1)[0] == group}

    def _save(self, record: GroupRecord) -> None:
        self._store.put_document(GROUP_KIND, record.name, json.dumps(asdict(record)))
        self._groups[record.name] = record


def _check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise TooManyTags(f"A resource can have no more than {MAX_TAGS} tags.")


def missing_group() -> ResourceNotFound:
    return ResourceNotFound("The specified log group does not exist.")
