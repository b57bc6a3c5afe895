"""Log groups and streams made through the Logs API (CreateLogGroup, CreateLogStream), with
what CloudWatch Logs keeps of them besides lines: creation time, KMS key, class and tags.

A function's log group exists as soon as it has lines (observe/logstore.py); one made by
CreateLogGroup exists before any, and carries the settings Terraform's aws_cloudwatch_log_group
writes and reads back. Records go through the metadata store, one document each, written
before memory changes. Groups are regional, as on AWS: the same name in two regions is two
groups. Neither group nor stream names can hold ':' (the model's patterns), so `region:group`
and `region:group:stream` name documents unambiguously. Documents of before regions (kinds
`logs.group` and `logs.stream`, keyed without a region) move into a region at start
(`place_regions`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

from stratus.control.keys import DEFAULT_REGION
from stratus.errors import ClientError, ResourceNotFound
from stratus.store.sqlite import Store

GROUP_KIND = "logs.regional_group"
STREAM_KIND = "logs.regional_stream"
OLD_GROUP_KIND = "logs.group"  # one namespace, keyed `group`
OLD_STREAM_KIND = "logs.stream"  # keyed `group:stream`
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
    region: str = DEFAULT_REGION

    @property
    def key(self) -> tuple[str, str]:
        return (self.region, self.name)


class LogGroups:
    """The one owner of created log groups' and streams' records."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._groups: dict[tuple[str, str], GroupRecord] = {}
        for text in store.load_documents(GROUP_KIND).values():
            record = GroupRecord(**json.loads(text))
            self._groups[record.key] = record
        # (region, group, stream) -> creation time
        self._streams: dict[tuple[str, str, str], int] = {}
        for name, text in store.load_documents(STREAM_KIND).items():
            region, group, stream = name.split(":", 2)
            self._streams[(region, group, stream)] = int(json.loads(text)["created_ms"])

    def get(self, region: str, name: str) -> GroupRecord | None:
        return self._groups.get((region, name))

    def all(self, region: str) -> list[GroupRecord]:
        return [r for r in self._groups.values() if r.region == region]

    def create(self, record: GroupRecord) -> None:
        if record.key in self._groups:
            raise ResourceAlreadyExists("The specified log group already exists")
        _check_tags(record.tags)
        self._save(record)

    def ensure(self, region: str, name: str, now_ms: int) -> GroupRecord:
        """The record of a group that exists by its lines alone (a function's), made on first
        need (tagging it, say)."""
        return self._groups.get((region, name)) or GroupRecord(name, now_ms, region=region)

    def tag(self, record: GroupRecord, tags: dict[str, str]) -> None:
        merged = {**record.tags, **tags}
        _check_tags(merged)
        self._save(replace(record, tags=merged))

    def untag(self, record: GroupRecord, keys: list[str]) -> None:
        self._save(replace(record, tags={k: v for k, v in record.tags.items() if k not in keys}))

    def set_kms_key(self, record: GroupRecord, key: str | None) -> None:
        self._save(replace(record, kms_key_id=key))

    def delete(self, region: str, name: str) -> None:
        """Forget the group and its created streams (its lines are the log store's)."""
        for key in [k for k in self._streams if k[:2] == (region, name)]:
            self._store.delete_document(STREAM_KIND, ":".join(key))
            del self._streams[key]
        if (region, name) in self._groups:
            self._store.delete_document(GROUP_KIND, f"{region}:{name}")
            del self._groups[(region, name)]

    def create_stream(self, region: str, group: str, stream: str, now_ms: int) -> None:
        key = (region, group, stream)
        if key in self._streams:
            raise ResourceAlreadyExists("The specified log stream already exists")
        self._store.put_document(STREAM_KIND, ":".join(key), json.dumps({"created_ms": now_ms}))
        self._streams[key] = now_ms

    def streams(self, region: str, group: str) -> dict[str, int]:
        """Created streams of a group: name -> creation time."""
        return {k[2]: v for k, v in self._streams.items() if k[:2] == (region, group)}

    def unplaced(self) -> list[str]:
        """The groups whose documents were written before log groups were regional."""
        names = set(self._store.load_documents(OLD_GROUP_KIND))
        names.update(key.split(":", 1)[0] for key in self._store.load_documents(OLD_STREAM_KIND))
        return sorted(names)

    def place_regions(self, regions: Mapping[str, str]) -> None:
        """Move the documents of before regions into the region `regions` gives each group
        (the log store's lines move with the same mapping). Each is written anew before the old
        one goes: a crash between leaves the old one, placed again at the next start."""
        for name, text in self._store.load_documents(OLD_GROUP_KIND).items():
            fields = json.loads(text)
            fields["region"] = regions.get(name, DEFAULT_REGION)
            self._save(GroupRecord(**fields))
            self._store.delete_document(OLD_GROUP_KIND, name)
        for key, text in self._store.load_documents(OLD_STREAM_KIND).items():
            group, stream = key.split(":", 1)
            placed = (regions.get(group, DEFAULT_REGION), group, stream)
            self._store.put_document(STREAM_KIND, ":".join(placed), text)
            self._streams[placed] = int(json.loads(text)["created_ms"])
            self._store.delete_document(OLD_STREAM_KIND, key)

    def _save(self, record: GroupRecord) -> None:
        self._store.put_document(GROUP_KIND, f"{record.region}:{record.name}", json.dumps(asdict(record)))
        self._groups[record.key] = record


def _check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise TooManyTags(f"A resource can have no more than {MAX_TAGS} tags.")


def missing_group() -> ResourceNotFound:
    return ResourceNotFound("The specified log group does not exist.")
