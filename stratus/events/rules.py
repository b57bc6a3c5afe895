"""EventBridge rules and their targets, regional: the owner of their state.

A rule is named uniquely within its region and event bus (`Key`). Rules live in the metadata
store (one row each, keyed `REGION|BUS|NAME`) and in memory; each write is one transaction.
Rules stored before buses existed (keyed by name alone) are moved to the region they record,
on the default bus, when the store is opened. The scheduler is told about every change so
that it can re-plan at once. A rule's EventPattern is compiled once, when it is put or loaded.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from stratus.errors import DiskFull, ResourceNotFound, ValidationError
from stratus.events.errors import InvalidEventPattern, LimitExceeded
from stratus.events.patterns import Pattern, parse_pattern
from stratus.events.schedule import parse
from stratus.store.sqlite import Store

log = logging.getLogger(__name__)

RULE_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}$")
MAX_TAGS = 50  # EventBridge's limit per resource
MAX_TARGETS = 5  # per rule
DEFAULT_BUS = "default"

# (region, bus name, rule name)
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Target:
    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None
    # InputTransformer: its InputPathsMap as sorted pairs, and its InputTemplate.
    input_paths: tuple[tuple[str, str], ...] | None = None
    input_template: str | None = None
    role_arn: str | None = None
    # RetryPolicy; None: EventBridge's defaults (185 attempts, 24 hours).
    max_retries: int | None = None
    max_age_s: int | None = None
    dead_letter_arn: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        paths = data.get("input_paths")
        data = {**data, "input_paths": tuple(tuple(p) for p in paths) if paths is not None else None}
        return cls(**data)


@dataclass(frozen=True)
class Rule:
    name: str
    schedule: str | None
    region: str
    created_ms: int
    state: str = "ENABLED"
    description: str = ""
    targets: tuple[Target, ...] = ()
    last_fired_ms: int | None = None  # the due time of the last firing
    tags: tuple[tuple[str, str], ...] = ()  # sorted by key
    bus: str = DEFAULT_BUS
    pattern: str | None = None  # EventPattern, as given
    role_arn: str | None = None

    @property
    def key(self) -> Key:
        return (self.region, self.bus, self.name)

    def to_json(self) -> str:
        data = asdict(self)
        data["targets"] = [asdict(t) for t in self.targets]
        data["tags"] = dict(self.tags)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Rule:
        data = json.loads(text)
        data["targets"] = tuple(Target.from_dict(t) for t in data["targets"])
        data["tags"] = tuple(sorted(data.get("tags", {}).items()))  # rules stored before tags had none
        return cls(**data)


def rule_arn(region: str, account: str, name: str, bus: str = DEFAULT_BUS) -> str:
    """`rule/NAME` on the default bus, `rule/BUS/NAME` on any other, as EventBridge writes them."""
    path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
    return f"arn:aws:events:{region}:{account}:rule/{path}"


def compile_rule_pattern(text: str) -> Pattern:
    """A rule's EventPattern, or InvalidEventPatternException with the reason."""
    try:
        return parse_pattern(text)
    except ValueError as e:
        raise InvalidEventPattern(f"Event pattern is not valid. Reason: {e}") from None


def _row(key: Key) -> str:
    return "|".join(key)


@dataclass
class Rules:
    store: Store
    on_change: Callable[[], None] = lambda: None
    _rules: dict[Key, Rule] = field(default_factory=dict)
    _patterns: dict[Key, Pattern] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for row, text in self.store.load_rules().items():
            rule = Rule.from_json(text)
            if "|" not in row:  # stored before rules were regional: move it under its key
                self.store.put_rule(_row(rule.key), text)
                self.store.delete_rule(row)
            self._rules[rule.key] = rule
            if rule.pattern:
                try:
                    self._patterns[rule.key] = parse_pattern(rule.pattern)
                except ValueError:  # validated when put; a later, stricter parser: match nothing
                    log.warning("rule %s: its stored pattern no longer compiles", rule.name)

    def all(self, region: str | None = None, bus: str | None = None) -> list[Rule]:
        rules = [
            r
            for r in self._rules.values()
            if (region is None or r.region == region) and (bus is None or r.bus == bus)
        ]
        return sorted(rules, key=lambda r: (r.region, r.bus, r.name))

    def get(self, region: str, bus: str, name: str) -> Rule:
        rule = self._rules.get((region, bus, name))
        if rule is None:
            raise ResourceNotFound(f"Rule {name} does not exist on EventBus {bus}.")
        return rule

    def matching(self, region: str, bus: str, event: dict[str, Any]) -> list[Rule]:
        """The enabled patterned rules of a bus that an event matches."""
        out = []
        for key, pattern in self._patterns.items():
            if key[0] == region and key[1] == bus:
                rule = self._rules[key]
                if rule.state == "ENABLED" and pattern.matches(event):
                    out.append(rule)
        return out

    def put(
        self,
        name: Any,
        schedule: str | None,
        state: str,
        description: str,
        region: str,
        now_ms: int,
        *,
        bus: str = DEFAULT_BUS,
        pattern: str | None = None,
        role_arn: str | None = None,
    ) -> Rule:
        if not isinstance(name, str) or not RULE_NAME.match(name):
            raise ValidationError(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
                r"Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+"
            )
        if not schedule and not pattern:
            raise ValidationError("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if schedule:
            if bus != DEFAULT_BUS:
                raise ValidationError("ScheduleExpression is supported only on the default event bus.")
            parse(schedule)  # raises a ValidationError that names the expression
        compiled = compile_rule_pattern(pattern) if pattern else None
        if state not in ("ENABLED", "DISABLED"):
            raise ValidationError("State must be ENABLED or DISABLED.")
        current = self._rules.get((region, bus, name))
        if current is None:
            rule = Rule(name, schedule or None, region, now_ms, state, description, bus=bus)
        else:
            rule = replace(current, schedule=schedule or None, state=state, description=description)
        rule = replace(rule, pattern=pattern or None, role_arn=role_arn)
        saved = self._save(rule)
        if compiled is not None:
            self._patterns[saved.key] = compiled
        else:
            self._patterns.pop(saved.key, None)
        return saved

    def tag(self, key: Key, tags: dict[str, str]) -> Rule:
        rule = self.get(*key)
        merged = {**dict(rule.tags), **tags}
        if len(merged) > MAX_TAGS:
            raise ValidationError(f"A rule can have at most {MAX_TAGS} tags.")
        return self._save(replace(rule, tags=tuple(sorted(merged.items()))), notify=False)

    def untag(self, key: Key, keys: list[str]) -> Rule:
        rule = self.get(*key)
        kept = tuple((k, v) for k, v in rule.tags if k not in keys)
        return self._save(replace(rule, tags=kept), notify=False)

    def set_state(self, key: Key, state: str) -> Rule:
        return self._save(replace(self.get(*key), state=state))

    def delete(self, key: Key) -> None:
        rule = self.get(*key)
        if rule.targets:
            raise ValidationError("Rule can't be deleted since it has targets.")
        self.store.delete_rule(_row(key))
        del self._rules[key]
        self._patterns.pop(key, None)
        self.on_change()

    def put_targets(self, key: Key, targets: list[Target]) -> Rule:
        rule = self.get(*key)
        kept = {t.id: t for t in rule.targets}
        kept.update({t.id: t for t in targets})
        if len(kept) > MAX_TARGETS:
            raise LimitExceeded(f"The requested resource exceeds the maximum number allowed ({MAX_TARGETS}).")
        return self._save(replace(rule, targets=tuple(kept.values())))

    def remove_targets(self, key: Key, ids: list[str]) -> Rule:
        rule = self.get(*key)
        return self._save(replace(rule, targets=tuple(t for t in rule.targets if t.id not in ids)))

    def fired(self, key: Key, due_ms: int) -> None:
        rule = self._rules.get(key)
        if rule is not None:
            try:
                self._save(replace(rule, last_fired_ms=due_ms), notify=False)
            except DiskFull:
                # Kept in memory all the same, or the scheduler would fire the rule again at
                # once, forever; the store catches up at its next firing with space.
                self._rules[key] = replace(rule, last_fired_ms=due_ms)

    def _save(self, rule: Rule, notify: bool = True) -> Rule:
        self.store.put_rule(_row(rule.key), rule.to_json())
        self._rules[rule.key] = rule
        if notify:
            self.on_change()
        return rule
