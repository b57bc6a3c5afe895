"""EventBridge rules with schedules, and their targets: the owner of their state.

Rules live in the metadata store (one row each) and in memory; each write is one transaction.
The scheduler is told about every change so that it can re-plan at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from stratus.errors import DiskFull, ResourceNotFound, ValidationError
from stratus.events.schedule import parse
from stratus.store.sqlite import Store

RULE_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}$")
MAX_TAGS = 50  # EventBridge's limit per resource


@dataclass(frozen=True)
class Target:
    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    schedule: str
    region: str
    created_ms: int
    state: str = "ENABLED"
    description: str = ""
    targets: tuple[Target, ...] = ()
    last_fired_ms: int | None = None  # the due time of the last firing
    tags: tuple[tuple[str, str], ...] = ()  # sorted by key

    def to_json(self) -> str:
        data = asdict(self)
        data["targets"] = [asdict(t) for t in self.targets]
        data["tags"] = dict(self.tags)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Rule:
        data = json.loads(text)
        data["targets"] = tuple(Target(**t) for t in data["targets"])
        data["tags"] = tuple(sorted(data.get("tags", {}).items()))  # rules stored before tags had none
        return cls(**data)


@dataclass
class Rules:
    store: Store
    on_change: Callable[[], None] = lambda: None
    _rules: dict[str, Rule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rules = {name: Rule.from_json(text) for name, text in self.store.load_rules().items()}

    def all(self) -> list[Rule]:
        return sorted(self._rules.values(), key=lambda r: r.name)

    def get(self, name: str) -> Rule:
        rule = self._rules.get(name)
        if rule is None:
            raise ResourceNotFound(f"Rule {name} does not exist on EventBus default.")
        return rule

    def put(self, name: Any, schedule: Any, state: str, description: str, region: str, now_ms: int) -> Rule:
        if not isinstance(name, str) or not RULE_NAME.match(name):
            raise ValidationError(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
                r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+"
            )
        if not isinstance(schedule, str) or not schedule:
            raise ValidationError(
                "Parameter ScheduleExpression is required (event patterns are not supported)."
            )
        parse(schedule)  # raises a ValidationError that names the expression
        if state not in ("ENABLED", "DISABLED"):
            raise ValidationError("State must be ENABLED or DISABLED.")
        current = self._rules.get(name)
        if current is None:
            rule = Rule(name, schedule, region, now_ms, state, description)
        else:
            rule = replace(current, schedule=schedule, state=state, description=description)
        return self._save(rule)

    def tag(self, name: str, tags: dict[str, str]) -> Rule:
        rule = self.get(name)
        merged = {**dict(rule.tags), **tags}
        if len(merged) > MAX_TAGS:
            raise ValidationError(f"A rule can have at most {MAX_TAGS} tags.")
        return self._save(replace(rule, tags=tuple(sorted(merged.items()))), notify=False)

    def untag(self, name: str, keys: list[str]) -> Rule:
        rule = self.get(name)
        kept = tuple((k, v) for k, v in rule.tags if k not in keys)
        return self._save(replace(rule, tags=kept), notify=False)

    def set_state(self, name: str, state: str) -> Rule:
        return self._save(replace(self.get(name), state=state))

    def delete(self, name: str) -> None:
        rule = self.get(name)
        if rule.targets:
            raise ValidationError("Rule can't be deleted since it has targets.")
        self.store.delete_rule(name)
        del self._rules[name]
        self.on_change()

    def put_targets(self, name: str, targets: list[Target]) -> Rule:
        rule = self.get(name)
        kept = {t.id: t for t in rule.targets}
        kept.update({t.id: t for t in targets})
        if len(kept) > 5:
            raise ValidationError("A rule can have at most 5 targets.")
        return self._save(replace(rule, targets=tuple(kept.values())))

    def remove_targets(self, name: str, ids: list[str]) -> Rule:
        rule = self.get(name)
        return self._save(replace(rule, targets=tuple(t for t in rule.targets if t.id not in ids)))

    def fired(self, name: str, due_ms: int) -> None:
        rule = self._rules.get(name)
        if rule is not None:
            try:
                self._save(replace(rule, last_fired_ms=due_ms), notify=False)
            except DiskFull:
                # Kept in memory all the same, or the scheduler would fire the rule again at
                # once, forever; the store catches up at its next firing with space.
                self._rules[name] = replace(rule, last_fired_ms=due_ms)

    def _save(self, rule: Rule, notify: bool = True) -> Rule:
        self.store.put_rule(rule.name, rule.to_json())
        self._rules[rule.name] = rule
        if notify:
            self.on_change()
        return rule
