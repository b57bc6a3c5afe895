"""The event source mappings' owner: their records (one row each in the metadata store, one
transaction per change, written on the loop as the registry writes) and their states.

A change answers with the state Lambda answers (Creating, Enabling, Disabling, Updating,
Deleting); the pollers settle it (`settle`) once they have started or stopped reading, so the
next Get shows Enabled, Disabled, or no mapping. After a restart a mapping is in the state its
last change was heading to. Mappings outlive their function, as on Lambda (DeleteFunction's
documentation: "To delete Lambda event source mappings that invoke a function, use
DeleteEventSourceMapping"); their pollers leave the messages alone while it is missing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid as uuids
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from stratus.errors import ResourceConflict, ResourceNotFound
from stratus.eventsources.errors import ResourceInUse
from stratus.eventsources.model import (
    CREATING,
    DELETING,
    DISABLED,
    DISABLING,
    ENABLED,
    ENABLING,
    NO_RECORDS,
    UPDATING,
    EventSourceMapping,
    MappingConfig,
)
from stratus.store.sqlite import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS event_source_mappings (
    uuid TEXT PRIMARY KEY,
    record TEXT NOT NULL
)
"""

# Where each passing state settles, once the pollers have done their part.
_SETTLES = {CREATING: None, ENABLING: ENABLED, DISABLING: DISABLED, UPDATING: None}


class Mappings:
    def __init__(self, store: Store, account_id: str, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._account_id = account_id
        self._clock = clock
        # Set on every change; the pollers wait on it.
        self.changed = asyncio.Event()
        # Lambda's LastProcessingResult, kept in memory (it describes the running pollers).
        self._results: dict[str, str] = {}
        with store.transaction() as conn:
            conn.execute(SCHEMA)
            rows = conn.execute("SELECT record FROM event_source_mappings").fetchall()
        self._mappings: dict[str, EventSourceMapping] = {}
        for (record,) in rows:
            mapping = EventSourceMapping.from_dict(json.loads(record))
            if mapping.state == DELETING:
                self._delete_row(mapping.uuid)
                continue
            self._mappings[mapping.uuid] = dataclasses.replace(mapping, state=self._resting(mapping))

    @property
    def account_id(self) -> str:
        return self._account_id

    # -- reads (memory) ---------------------------------------------------------------------------

    def all(self) -> list[EventSourceMapping]:
        return sorted(self._mappings.values(), key=lambda m: (m.created, m.uuid))

    def find(self, uuid: str) -> EventSourceMapping | None:
        return self._mappings.get(uuid)

    def get(self, uuid: str) -> EventSourceMapping:
        mapping = self._mappings.get(uuid)
        if mapping is None:
            raise ResourceNotFound(
                f"The resource you requested does not exist. (Service: Lambda, UUID: {uuid})"
            )
        return mapping

    def listed(self, function_name: str | None, source_arn: str | None) -> list[EventSourceMapping]:
        return [
            m
            for m in self.all()
            if (function_name is None or m.function_name == function_name)
            and (source_arn is None or m.source_arn == source_arn)
        ]

    def last_result(self, uuid: str) -> str:
        return self._results.get(uuid, NO_RECORDS)

    def note_result(self, uuid: str, result: str) -> None:
        if uuid in self._mappings:
            self._results[uuid] = result

    # -- changes ----------------------------------------------------------------------------------

    def create(
        self,
        region: str,
        function_name: str,
        qualifier: str | None,
        source_arn: str,
        config: MappingConfig,
        enabled: bool,
        tags: Mapping[str, str] | None = None,
    ) -> EventSourceMapping:
        for other in self._mappings.values():
            if (
                other.source_arn == source_arn
                and other.function_name == function_name
                and other.qualifier == qualifier
                and other.state != DELETING
            ):
                raise ResourceConflict(
                    f'An event source mapping with {other.source_service.upper()} arn (" {source_arn} ") '
                    f'and function (" {function_name} ") already exists. Please update or delete '
                    f"the existing mapping with UUID {other.uuid}"
                )
        now = self._clock()
        mapping = EventSourceMapping(
            uuid=str(uuids.uuid4()),
            region=region,
            account_id=self._account_id,
            function_name=function_name,
            qualifier=qualifier,
            source_arn=source_arn,
            config=config,
            enabled=enabled,
            state=CREATING,
            reason="USER_INITIATED",
            last_modified=now,
            created=now,
            tags=dict(tags or {}),
        )
        return self._put(mapping)

    def tag(self, uuid: str, tags: Mapping[str, str]) -> None:
        """Tags change no state and wake no poller: the mapping keeps reading as it was."""
        current = self.get(uuid)
        self._put(dataclasses.replace(current, tags={**current.tags, **tags}), notify=False)

    def untag(self, uuid: str, keys: Iterable[str]) -> None:
        current = self.get(uuid)
        drop = set(keys)
        kept = {k: v for k, v in current.tags.items() if k not in drop}
        self._put(dataclasses.replace(current, tags=kept), notify=False)

    def update(
        self,
        uuid: str,
        *,
        config: MappingConfig | None = None,
        enabled: bool | None = None,
        function: tuple[str, str | None] | None = None,
    ) -> EventSourceMapping:
        current = self.get(uuid)
        if current.state in (CREATING, UPDATING, DELETING, ENABLING, DISABLING):
            raise ResourceInUse(
                f"Cannot update the event source mapping because it is in use (state {current.state})."
            )
        changes: dict[str, Any] = {"last_modified": self._clock(), "reason": "USER_INITIATED"}
        if config is not None:
            changes["config"] = config
        if function is not None:
            changes["function_name"], changes["qualifier"] = function
        now_enabled = current.enabled if enabled is None else enabled
        changes["enabled"] = now_enabled
        if now_enabled != current.enabled:
            changes["state"] = ENABLING if now_enabled else DISABLING
        else:
            changes["state"] = UPDATING
        return self._put(dataclasses.replace(current, **changes))

    def delete(self, uuid: str) -> EventSourceMapping:
        current = self.get(uuid)
        if current.state in (CREATING, UPDATING, DELETING):
            raise ResourceInUse(
                f"Cannot delete the event source mapping because it is in use (state {current.state})."
            )
        return self._put(dataclasses.replace(current, state=DELETING, last_modified=self._clock()))

    def settle(self, uuid: str) -> None:
        """The pollers have caught up with the mapping's last change: a passing state becomes
        the one it was heading to, and a deleted mapping goes."""
        mapping = self._mappings.get(uuid)
        if mapping is None:
            return
        if mapping.state == DELETING:
            self._delete_row(uuid)
            del self._mappings[uuid]
            self._results.pop(uuid, None)
            return
        resting = self._resting(mapping)
        if resting != mapping.state:
            self._put(dataclasses.replace(mapping, state=resting), notify=False)

    # -- internals --------------------------------------------------------------------------------

    @staticmethod
    def _resting(mapping: EventSourceMapping) -> str:
        if mapping.state in (ENABLED, DISABLED, DELETING):
            return mapping.state
        settles = _SETTLES.get(mapping.state)
        return settles or (ENABLED if mapping.enabled else DISABLED)

    def _put(self, mapping: EventSourceMapping, *, notify: bool = True) -> EventSourceMapping:
        record = json.dumps(mapping.to_dict(), separators=(",", ":"))
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO event_source_mappings(uuid, record) VALUES (?, ?) "
                "ON CONFLICT(uuid) DO UPDATE SET record = excluded.record",
                (mapping.uuid, record),
            )
        self._mappings[mapping.uuid] = mapping
        if notify:
            self.changed.set()
        return mapping

    def _delete_row(self, uuid: str) -> None:
        with self._store.transaction() as conn:
            conn.execute("DELETE FROM event_source_mappings WHERE uuid = ?", (uuid,))
