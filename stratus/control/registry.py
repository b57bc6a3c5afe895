"""The registry: the only writer of function metadata.

It serves every read from memory (the invoke path never touches SQLite) and performs each write
as one transaction on the event loop, checked against `RevisionId`, before it swaps the new
record in. Its methods do not await between reading and writing a record, so on one event loop
each write is atomic without a lock. Listeners hear about every change after it is durable; the
invoke service uses this to retire environments of a configuration that no longer exists.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from stratus.control.codestore import StoredCode
from stratus.control.keys import FunctionKey
from stratus.control.models import (
    LATEST,
    Alias,
    EventInvokeConfig,
    FunctionConfig,
    FunctionRecord,
    FunctionUrl,
    ProvisionedConcurrency,
)
from stratus.errors import (
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from stratus.store.sqlite import Store

# Hears the key of every function that changed (created, updated or deleted).
ChangeListener = Callable[[FunctionKey], None]


def now_iso() -> str:
    """Lambda's LastModified format: 2024-01-31T12:00:00.000+0000."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


class Registry:
    def __init__(self, store: Store) -> None:
        self._store = store
        # Each region is its own namespace of functions: the store keeps every record under its
        # region and name, and a record's `home_region` says the same.
        self._functions: dict[FunctionKey, FunctionRecord] = {
            FunctionKey(region, name): FunctionRecord.from_dict(data)
            for (region, name), data in store.load_functions().items()
        }
        self._listeners: list[ChangeListener] = []
        # url id -> (function, qualifier): the data path finds a function URL in one lookup. Ids
        # are unique across regions; each belongs to one region's function.
        self._url_index: dict[str, tuple[FunctionKey, str]] = {}
        # function -> (the record's policy map, its document): rebuilt only when the map changes.
        self._policy_texts: dict[FunctionKey, tuple[object, str]] = {}
        for key in self._functions:
            self._index_urls(key)

    # -- reads -----------------------------------------------------------------------------

    def subscribe(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def names(self, region: str) -> list[str]:
        """The names of the region's functions, sorted."""
        return sorted(key.name for key in self._functions if key.region == region)

    def keys(self) -> list[FunctionKey]:
        return sorted(self._functions)

    def records(self) -> Iterable[FunctionRecord]:
        return self._functions.values()

    def get(self, key: FunctionKey) -> FunctionRecord:
        record = self._functions.get(key)
        if record is None:
            raise ResourceNotFound(f"Function not found: {key.name}")
        return record

    def find(self, key: FunctionKey) -> FunctionRecord | None:
        return self._functions.get(key)

    def version(self, key: FunctionKey, qualifier: str | None) -> FunctionConfig:
        """The configuration a qualifier names: `$LATEST`, a version number, or an alias's
        primary version."""
        record = self.get(key)
        if qualifier in (None, "", LATEST):
            return record.latest
        assert qualifier is not None
        if qualifier in record.versions:
            return record.versions[qualifier]
        alias = record.aliases.get(qualifier)
        if alias is not None:
            return self.version(key, alias.function_version)
        raise ResourceNotFound(f"Function not found: {key.name}:{qualifier}")

    # -- functions -------------------------------------------------------------------------

    def create_function(
        self, config: FunctionConfig, *, tags: dict[str, str], publish: bool, code_signing: str = ""
    ) -> FunctionConfig:
        if not config.home_region:
            raise ValueError("a function is created in a region")  # a programming error
        if config.key in self._functions:
            raise ResourceConflict(f"Function already exist: {config.name}")
        record = FunctionRecord(
            latest=config.replace(**tag_settings(tags)), tags=tags, code_signing_config=code_signing
        )
        if publish:
            record, _ = _published(record, description=config.description)
        self._commit(record)
        return record.versions[str(record.last_version)] if publish else record.latest

    def update_code(
        self, key: FunctionKey, code: StoredCode, *, revision_id: str | None, publish: bool
    ) -> FunctionConfig:
        record = self.get(key)
        _check_revision(record.latest.revision_id, revision_id)
        latest = record.latest.replace(
            code_sha256=code.sha256_b64,
            code_size=code.size,
            code_key=code.key,
            revision_id=new_revision(),
            last_modified=now_iso(),
        )
        record = record.replace(latest=latest)
        published = None
        if publish:
            record, published = _published(record, description="")
        self._commit(record)
        return published or record.latest

    def update_config(
        self, key: FunctionKey, changes: dict[str, Any], *, revision_id: str | None
    ) -> FunctionConfig:
        record = self.get(key)
        _check_revision(record.latest.revision_id, revision_id)
        latest = record.latest.replace(**changes, revision_id=new_revision(), last_modified=now_iso())
        self._commit(record.replace(latest=latest))
        return latest

    def delete_function(self, key: FunctionKey, qualifier: str | None) -> None:
        record = self.get(key)
        if qualifier in (None, ""):
            self._store.delete_function(key.region, key.name)
            del self._functions[key]
            self._index_urls(key)
            self._notify(key)
            return
        assert qualifier is not None
        if qualifier == LATEST:
            raise InvalidParameterValue("$LATEST version cannot be deleted without deleting the function.")
        if qualifier not in record.versions:
            raise ResourceNotFound(f"Function not found: {key.name}:{qualifier}")
        for alias in record.aliases.values():
            if alias.function_version == qualifier or qualifier in alias.routing:
                raise ResourceConflict(
                    f"Unable to delete version because the following aliases reference it: [{alias.name}]"
                )
        versions = {k: v for k, v in record.versions.items() if k != qualifier}
        provisioned = {k: v for k, v in record.provisioned.items() if k != qualifier}
        self._commit(record.replace(versions=versions, provisioned=provisioned))

    def publish_version(
        self, key: FunctionKey, *, code_sha256: str | None, description: str, revision_id: str | None
    ) -> FunctionConfig:
        record = self.get(key)
        _check_revision(record.latest.revision_id, revision_id)
        if code_sha256 and code_sha256 != record.latest.code_sha256:
            raise InvalidParameterValue(
                f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in "
                f"$LATEST ({record.latest.code_sha256}). Please try again with the "
                "CodeSHA256 in $LATEST."
            )
        if record.last_version:
            last = record.versions.get(str(record.last_version))
            unchanged = (
                record.published_content == record.latest.content_digest()
                if record.published_content
                else last is not None and _same_content(last, record.latest)
            )
            if last is not None and unchanged:
                return last
        record, published = _published(record, description=description)
        self._commit(record)
        return published

    def set_code_signing(self, key: FunctionKey, arn: str) -> None:
        """The code signing configuration (ARN) the function's new code is held to; "" for none."""
        self._commit(self.get(key).replace(code_signing_config=arn))

    def put_reserved_concurrency(self, key: FunctionKey, value: int | None) -> None:
        self._commit(self.get(key).replace(reserved_concurrency=value))

    def tag(self, key: FunctionKey, tags: dict[str, str]) -> None:
        record = self.get(key)
        self._commit(_with_tags(record, {**record.tags, **tags}))

    def untag(self, key: FunctionKey, keys: Iterable[str]) -> None:
        record = self.get(key)
        drop = set(keys)
        self._commit(_with_tags(record, {k: v for k, v in record.tags.items() if k not in drop}))

    # -- asynchronous invocation settings ---------------------------------------------------------

    def put_event_invoke(self, key: FunctionKey, config: EventInvokeConfig) -> EventInvokeConfig:
        record = self.get(key)
        qualifier = config.qualifier
        if qualifier != LATEST and qualifier not in record.versions and qualifier not in record.aliases:
            raise ResourceNotFound(f"Function not found: {key.name}:{qualifier}")
        self._commit(record.replace(event_invoke={**record.event_invoke, qualifier: config}))
        return config

    def delete_event_invoke(self, key: FunctionKey, qualifier: str) -> None:
        record = self.get(key)
        if qualifier not in record.event_invoke:
            raise ResourceNotFound(
                f"The function {key.name} doesn't have an EventInvokeConfig for qualifier {qualifier}"
            )
        self._commit(
            record.replace(event_invoke={k: v for k, v in record.event_invoke.items() if k != qualifier})
        )

    # -- provisioned concurrency ------------------------------------------------------------------

    def put_provisioned(
        self, key: FunctionKey, qualifier: str, requested: int, region: str
    ) -> ProvisionedConcurrency:
        record = self.get(key)
        if qualifier == LATEST:
            raise InvalidParameterValue(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
            )
        if qualifier not in record.versions and qualifier not in record.aliases:
            raise ResourceNotFound(f"Function not found: {key.name}:{qualifier}")
        version = record.aliases[qualifier].function_version if qualifier in record.aliases else qualifier
        for other in record.provisioned:
            other_version = record.aliases[other].function_version if other in record.aliases else other
            if other != qualifier and other_version == version:
                raise ResourceConflict(
                    f"Alias and version {version} both have a provisioned concurrency configuration "
                    f"({other}); only one may."
                )
        created = ProvisionedConcurrency(qualifier, requested, region, now_iso())
        self._commit(record.replace(provisioned={**record.provisioned, qualifier: created}))
        return created

    def delete_provisioned(self, key: FunctionKey, qualifier: str) -> None:
        record = self.get(key)
        if qualifier not in record.provisioned:
            return
        self._commit(
            record.replace(provisioned={k: v for k, v in record.provisioned.items() if k != qualifier})
        )

    # -- aliases ---------------------------------------------------------------------------

    def get_alias(self, key: FunctionKey, alias: str) -> Alias:
        record = self.get(key)
        found = record.aliases.get(alias)
        if found is None:
            raise ResourceNotFound(f"Alias not found: {key.name}:{alias}")
        return found

    def create_alias(
        self, key: FunctionKey, alias: str, version: str, description: str, routing: dict[str, float]
    ) -> Alias:
        record = self.get(key)
        if alias in record.aliases:
            raise ResourceConflict(f"Alias already exists: {alias}")
        _check_alias_target(record, version, routing)
        created = Alias(alias, version, new_revision(), description, routing)
        self._commit(record.replace(aliases={**record.aliases, alias: created}))
        return created

    def update_alias(
        self,
        key: FunctionKey,
        alias: str,
        *,
        version: str | None,
        description: str | None,
        routing: dict[str, float] | None,
        revision_id: str | None,
    ) -> Alias:
        record = self.get(key)
        current = self.get_alias(key, alias)
        _check_revision(current.revision_id, revision_id)
        target = version if version is not None else current.function_version
        weights = routing if routing is not None else current.routing
        _check_alias_target(record, target, weights)
        updated = Alias(
            alias,
            target,
            new_revision(),
            description if description is not None else current.description,
            weights,
        )
        self._commit(record.replace(aliases={**record.aliases, alias: updated}))
        return updated

    def delete_alias(self, key: FunctionKey, alias: str) -> None:
        record = self.get(key)
        if alias not in record.aliases:
            return  # DeleteAlias is idempotent in Lambda
        self._commit(
            record.replace(
                aliases={k: v for k, v in record.aliases.items() if k != alias},
                urls={k: v for k, v in record.urls.items() if k != alias},
            )
        )

    # -- function URLs ---------------------------------------------------------------------

    def url_target(self, url_id: str) -> tuple[FunctionKey, FunctionUrl] | None:
        """The function and URL configuration behind a URL id, if there is one."""
        found = self._url_index.get(url_id)
        if found is None:
            return None
        key, qualifier = found
        return key, self._functions[key].urls[qualifier]

    def put_url(self, key: FunctionKey, url: FunctionUrl) -> FunctionUrl:
        record = self.get(key)
        if url.qualifier != LATEST and url.qualifier not in record.aliases:
            raise ResourceNotFound(f"Function not found: {key.name}:{url.qualifier}")
        self._commit(record.replace(urls={**record.urls, url.qualifier: url}))
        return url

    def delete_url(self, key: FunctionKey, qualifier: str) -> None:
        record = self.get(key)
        if qualifier not in record.urls:
            raise ResourceNotFound("The resource you requested does not exist.")
        self._commit(record.replace(urls={k: v for k, v in record.urls.items() if k != qualifier}))

    # -- resource-based policy --------------------------------------------------------------

    def put_policy(self, key: FunctionKey, qualifier: str, statements: tuple[dict[str, Any], ...]) -> None:
        record = self.get(key)
        policy = {k: v for k, v in record.policy.items() if k != qualifier}
        if statements:
            policy[qualifier] = statements
        self._commit(record.replace(policy=policy))

    def policy_document(self, key: FunctionKey) -> str | None:
        """The function's resource-based policy as one document (every qualifier's statements:
        each names its own resource), or None when it has none or does not exist."""
        record = self._functions.get(key)
        if record is None or not record.policy:
            return None
        cached = self._policy_texts.get(key)
        if cached is not None and cached[0] is record.policy:
            return cached[1]
        statements = [s for qualifier in sorted(record.policy) for s in record.policy[qualifier]]
        text = json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements})
        self._policy_texts[key] = (record.policy, text)
        return text

    def _index_urls(self, key: FunctionKey) -> None:
        for url_id in [u for u, (k, _) in self._url_index.items() if k == key]:
            del self._url_index[url_id]
        record = self._functions.get(key)
        if record is not None:
            for qualifier, url in record.urls.items():
                self._url_index[url.url_id] = (key, qualifier)

    # -- internals -------------------------------------------------------------------------

    def _commit(self, record: FunctionRecord) -> None:
        key = record.key
        self._store.put_function(key.region, key.name, record.to_dict())
        self._functions[key] = record
        self._index_urls(key)
        self._notify(key)

    def _notify(self, key: FunctionKey) -> None:
        for listener in self._listeners:
            listener(key)


NETWORK_TAG = "stratus:network"
NETWORKS = ("default", "none")


def network_setting(tags: dict[str, str]) -> str:
    value = tags.get(NETWORK_TAG, "default")
    if value not in NETWORKS:
        raise InvalidParameterValue(f"The {NETWORK_TAG} tag must be one of: {', '.join(NETWORKS)}.")
    return value


SNAPSTART_TAG = "stratus:snapstart"


def tag_settings(tags: dict[str, str]) -> dict[str, Any]:
    """Stratus's own settings, carried by tags so that every Lambda client can set them."""
    snap = tags.get(SNAPSTART_TAG, "published")
    if snap not in ("published", "latest"):
        raise InvalidParameterValue(f"The {SNAPSTART_TAG} tag must be 'latest' or 'published'.")
    return {"network": network_setting(tags), "snap_latest": snap == "latest"}


def _with_tags(record: FunctionRecord, tags: dict[str, str]) -> FunctionRecord:
    """New tags; the settings they carry apply to $LATEST (versions keep theirs)."""
    settings = tag_settings(tags)
    latest = record.latest
    if any(getattr(latest, k) != v for k, v in settings.items()):
        latest = latest.replace(**settings, revision_id=new_revision(), last_modified=now_iso())
    return record.replace(tags=tags, latest=latest)


def _check_revision(current: str, given: str | None) -> None:
    if given and given != current:
        raise PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )


def _same_content(a: FunctionConfig, b: FunctionConfig) -> bool:
    """For records kept before `published_content`: a version against $LATEST, the description
    aside (the version may carry PublishVersion's own)."""
    ignore = {"version", "revision_id", "last_modified", "description"}
    da = {k: v for k, v in a.to_dict().items() if k not in ignore}
    db = {k: v for k, v in b.to_dict().items() if k not in ignore}
    return da == db


def _published(record: FunctionRecord, *, description: str) -> tuple[FunctionRecord, FunctionConfig]:
    number = str(record.last_version + 1)
    published = record.latest.replace(
        version=number,
        revision_id=new_revision(),
        last_modified=now_iso(),
        description=description or record.latest.description,
    )
    record = record.replace(
        versions={**record.versions, number: published},
        last_version=record.last_version + 1,
        published_content=record.latest.content_digest(),
    )
    return record, published


def _check_alias_target(record: FunctionRecord, version: str, routing: dict[str, float]) -> None:
    if version != LATEST and version not in record.versions:
        raise ResourceNotFound(f"Function not found: {record.name}:{version}")
    if not routing:
        return
    if len(routing) > 1:
        raise InvalidParameterValue("Number of items in AdditionalVersionWeights cannot exceed 1")
    if version == LATEST:
        raise InvalidParameterValue("$LATEST is not supported for an alias pointing to more than 1 version")
    for extra, weight in routing.items():
        if extra == version:
            raise InvalidParameterValue(
                "Primary version and additional version in RoutingConfig cannot be the same."
            )
        if extra not in record.versions:
            raise InvalidParameterValue(f"Version {extra} in AdditionalVersionWeights does not exist.")
        if not (0.0 <= weight <= 1.0):
            raise InvalidParameterValue("Additional version weight must be between 0.0 and 1.0.")
