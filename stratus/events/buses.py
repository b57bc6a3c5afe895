"""Event buses, regional, and putting events on them: the owner of the buses' records, and the
one way an event reaches rules (PutEvents' entries, and services' own events through
`publish`).

Each region has its default bus without creating it; custom buses are one store document each
(`events-bus`, keyed `REGION|NAME`). An event is matched against the enabled patterned rules of
its bus (compiled once, `Rules.matching`), and each matching rule's targets get it through
`Deliveries` before the put returns, so what was accepted is already with the targets that
store it (see delivery.py for what is durable).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from stratus.errors import ResourceNotFound, ValidationError
from stratus.events.delivery import Deliveries, Job
from stratus.events.entries import Refused, build_event, event_time
from stratus.events.errors import ResourceAlreadyExists
from stratus.events.rules import DEFAULT_BUS, MAX_TAGS, Rule, Rules, rule_arn
from stratus.events.transform import target_input
from stratus.store.sqlite import Store

KIND = "events-bus"
BUS_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,256}$")


@dataclass(frozen=True)
class Bus:
    name: str
    region: str
    created_ms: int
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()  # sorted by key

    def arn(self, account: str) -> str:
        return bus_arn(self.region, account, self.name)


def bus_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


class EventBuses:
    def __init__(
        self,
        store: Store,
        rules: Rules,
        deliveries: Deliveries,
        account_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.rules = rules
        self.deliveries = deliveries
        self._account = account_id
        self._clock = clock
        self._buses: dict[tuple[str, str], Bus] = {}
        for key, text in store.load_documents(KIND).items():
            data = json.loads(text)
            data["tags"] = tuple(sorted(data.get("tags", {}).items()))
            bus = Bus(**data)
            self._buses[(bus.region, bus.name)] = bus
            del key

    # -- buses ---------------------------------------------------------------------------------

    def get(self, region: str, name: str) -> Bus:
        if name == DEFAULT_BUS:
            return self._buses.get((region, name)) or Bus(DEFAULT_BUS, region, 0)
        bus = self._buses.get((region, name))
        if bus is None:
            raise ResourceNotFound(f"Event bus {name} does not exist.")
        return bus

    def exists(self, region: str, name: str) -> bool:
        return name == DEFAULT_BUS or (region, name) in self._buses

    def all(self, region: str) -> list[Bus]:
        buses = {b.name: b for b in self._buses.values() if b.region == region}
        buses.setdefault(DEFAULT_BUS, Bus(DEFAULT_BUS, region, 0))
        return sorted(buses.values(), key=lambda b: b.name)

    def create(self, region: str, name: str, description: str, tags: Mapping[str, str]) -> Bus:
        if not BUS_NAME.match(name) or name.startswith("aws."):
            raise ValidationError(
                f"Event bus name {name} is not valid: use letters, digits, '.', '-' and '_' "
                "(names starting with aws. are reserved)."
            )
        if self.exists(region, name):
            raise ResourceAlreadyExists(f"Event bus {name} already exists.")
        if len(tags) > MAX_TAGS:
            raise ValidationError(f"An event bus can have at most {MAX_TAGS} tags.")
        bus = Bus(name, region, int(self._clock() * 1000), description, tuple(sorted(tags.items())))
        return self._save(bus)

    def delete(self, region: str, name: str) -> None:
        """EventBridge's DeleteEventBus: never the default bus; a bus whose rules remain is
        refused (its API reference: "All rules associated with this event bus need to be
        deleted"), so nothing is deleted silently. A bus that does not exist: nothing to do."""
        if name == DEFAULT_BUS:
            raise ValidationError("Cannot delete event bus default.")
        if (region, name) not in self._buses:
            return
        if self.rules.all(region, name):
            raise ValidationError(
                f"Cannot delete event bus {name}: it still has rules. Delete its rules first."
            )
        self._store.delete_document(KIND, f"{region}|{name}")
        del self._buses[(region, name)]

    def tag(self, region: str, name: str, tags: Mapping[str, str]) -> None:
        bus = self.get(region, name)
        merged = {**dict(bus.tags), **tags}
        if len(merged) > MAX_TAGS:
            raise ValidationError(f"An event bus can have at most {MAX_TAGS} tags.")
        self._save(replace(bus, tags=tuple(sorted(merged.items()))))

    def untag(self, region: str, name: str, keys: Sequence[str]) -> None:
        bus = self.get(region, name)
        self._save(replace(bus, tags=tuple((k, v) for k, v in bus.tags if k not in keys)))

    def _save(self, bus: Bus) -> Bus:
        data = asdict(bus)
        data["tags"] = dict(bus.tags)
        self._store.put_document(KIND, f"{bus.region}|{bus.name}", json.dumps(data))
        self._buses[(bus.region, bus.name)] = bus
        return bus

    # -- events --------------------------------------------------------------------------------

    async def publish(
        self,
        region: str,
        *,
        source: str,
        detail_type: str,
        detail: Mapping[str, Any],
        resources: Sequence[str] = (),
        bus: str = DEFAULT_BUS,
    ) -> None:
        """What a service puts on a bus (S3's "Object Created", Step Functions' status
        changes): built and delivered exactly as PutEvents' entries are."""
        if not self.exists(region, bus):
            return  # as a service's events to a bus that is gone: dropped
        now = datetime.fromtimestamp(self._clock(), UTC)
        event = build_event(
            source=source,
            detail_type=detail_type,
            detail=detail,
            account=self._account,
            region=region,
            when=now,
            resources=resources,
        )
        await self.put(region, bus, event)

    async def put(self, region: str, bus: str, event: dict[str, Any]) -> str:
        """Deliver one built event to the targets of every rule of the bus it matches; its id."""
        rules = self.rules.matching(region, bus, event)
        if rules:
            now_ms = int(self._clock() * 1000)
            ingestion = event_time(datetime.fromtimestamp(now_ms / 1000, UTC))
            async with asyncio.TaskGroup() as tasks:
                for rule in rules:
                    for job in self.jobs(rule, event, now_ms, ingestion):
                        tasks.create_task(self.deliveries.deliver(job))
        return str(event["id"])

    def jobs(self, rule: Rule, event: Mapping[str, Any], now_ms: int, ingestion: str) -> list[Job]:
        arn = rule_arn(rule.region, self._account, rule.name, rule.bus)
        out = []
        for target in rule.targets:
            payload = target_input(
                event,
                input=target.input,
                input_path=target.input_path,
                paths=dict(target.input_paths) if target.input_paths is not None else None,
                template=target.input_template,
                rule_name=rule.name,
                rule_arn=arn,
                ingestion_time=ingestion,
            )
            out.append(Job(arn, target, event, payload, now_ms))
        return out

    async def put_entries(
        self, region: str, entries: Sequence[tuple[str, dict[str, Any] | Refused]]
    ) -> list[dict[str, str]]:
        """PutEvents' checked entries, (bus name, event or why it failed), in order: each
        result as PutEvents answers it."""
        results: list[dict[str, str]] = []
        pending: list[tuple[int, str, dict[str, Any]]] = []
        for bus, item in entries:
            if isinstance(item, Refused):
                results.append({"ErrorCode": item.code, "ErrorMessage": item.message})
            elif not self.exists(region, bus):
                message = f"Event bus {bus} does not exist."
                results.append({"ErrorCode": "ResourceNotFoundException", "ErrorMessage": message})
            else:
                results.append({"EventId": str(item["id"])})
                pending.append((len(results) - 1, bus, item))
        async with asyncio.TaskGroup() as tasks:
            for _, bus, event in pending:
                tasks.create_task(self.put(region, bus, event))
        return results
