"""The parsed forms of conditions (ConditionExpression, FilterExpression, the parts of a
KeyConditionExpression) as frozen dataclasses, each evaluating itself against an item.

Placeholders are already substituted, so evaluation reads only the item. DynamoDB's rules: a
comparison between different types is false, never an error; a missing attribute makes every
comparison false except `<>`, which is true; size() of a number, boolean or null has no value."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from stratus.tables.expressions.paths import Path, resolve
from stratus.tables.values import AttributeValue, Item, compare, equal


class Operand(Protocol):
    def value(self, item: Item) -> AttributeValue | None: ...


@dataclass(frozen=True, slots=True)
class PathOperand:
    path: Path

    def value(self, item: Item) -> AttributeValue | None:
        if len(self.path) == 1:
            return item.get(self.path[0])  # type: ignore[arg-type]
        return resolve(item, self.path)


@dataclass(frozen=True, slots=True)
class ValueOperand:
    literal: AttributeValue
    placeholder: str

    def value(self, item: Item) -> AttributeValue | None:
        return self.literal


def utf16_length(text: str) -> int:
    """The length DynamoDB's size() gives a string: UTF-16 code units (a character outside the
    Basic Multilingual Plane counts 2), as Java's String.length()."""
    length = len(text)
    if not text.isascii():
        length += sum(1 for c in text if ord(c) > 0xFFFF)
    return length


def size_of(value: AttributeValue) -> int | None:
    for kind, content in value.items():
        if kind == "S":
            return utf16_length(content)
        if kind in ("B", "SS", "NS", "BS", "L", "M"):
            return len(content)
    return None


@dataclass(frozen=True, slots=True)
class SizeOperand:
    path: Path

    def value(self, item: Item) -> AttributeValue | None:
        found = resolve(item, self.path)
        if found is None:
            return None
        size = size_of(found)
        return None if size is None else {"N": str(size)}


def _equal(a: AttributeValue, b: AttributeValue) -> bool:
    # Fast paths for the common scalar cases; stored values and placeholders were validated, so
    # a number's text converts without checks. Everything else is DynamoDB's full equality.
    if "S" in a:
        return "S" in b and bool(a["S"] == b["S"])
    if "N" in a:
        return "N" in b and Decimal(a["N"]) == Decimal(b["N"])
    return equal(a, b)


def _order(a: AttributeValue, b: AttributeValue) -> int | None:
    if "N" in a:
        if "N" not in b:
            return None
        x, y = Decimal(a["N"]), Decimal(b["N"])
        return (x > y) - (x < y)
    if "S" in a:
        if "S" not in b:
            return None
        # Python orders strings by code point, which is exactly the order of their UTF-8 bytes.
        p: str = a["S"]
        q: str = b["S"]
        return (p > q) - (p < q)
    return compare(a, b)


class Condition(Protocol):
    def holds(self, item: Item) -> bool: ...


@dataclass(frozen=True, slots=True)
class Comparison:
    op: str  # = <> < <= > >=
    left: Operand
    right: Operand

    def holds(self, item: Item) -> bool:
        a = self.left.value(item)
        b = self.right.value(item)
        op = self.op
        if a is None or b is None:
            return op == "<>"
        if op == "=":
            return _equal(a, b)
        if op == "<>":
            return not _equal(a, b)
        order = _order(a, b)
        if order is None:
            return False
        if op == "<":
            return order < 0
        if op == "<=":
            return order <= 0
        if op == ">":
            return order > 0
        return order >= 0


@dataclass(frozen=True, slots=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand

    def holds(self, item: Item) -> bool:
        v = self.operand.value(item)
        lo = self.low.value(item)
        hi = self.high.value(item)
        if v is None or lo is None or hi is None:
            return False
        above = _order(v, lo)
        below = _order(v, hi)
        return above is not None and below is not None and above >= 0 and below <= 0


@dataclass(frozen=True, slots=True)
class In:
    operand: Operand
    choices: tuple[Operand, ...]

    def holds(self, item: Item) -> bool:
        v = self.operand.value(item)
        if v is None:
            return False
        for choice in self.choices:
            c = choice.value(item)
            if c is not None and _equal(v, c):
                return True
        return False


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition

    def holds(self, item: Item) -> bool:
        return self.left.holds(item) and self.right.holds(item)


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition

    def holds(self, item: Item) -> bool:
        return self.left.holds(item) or self.right.holds(item)


@dataclass(frozen=True, slots=True)
class Not:
    inner: Condition

    def holds(self, item: Item) -> bool:
        return not self.inner.holds(item)


@dataclass(frozen=True, slots=True)
class Exists:
    """attribute_exists(path), or attribute_not_exists(path) when `negate`."""

    path: Path
    negate: bool

    def holds(self, item: Item) -> bool:
        return (resolve(item, self.path) is None) == self.negate


@dataclass(frozen=True, slots=True)
class AttributeType:
    path: Path
    type_name: Operand

    def holds(self, item: Item) -> bool:
        v = resolve(item, self.path)
        t = self.type_name.value(item)
        if v is None or t is None or "S" not in t:
            return False
        return t["S"] in v


@dataclass(frozen=True, slots=True)
class BeginsWith:
    operand: Operand
    prefix: Operand

    def holds(self, item: Item) -> bool:
        v = self.operand.value(item)
        p = self.prefix.value(item)
        if v is None or p is None:
            return False
        if "S" in v and "S" in p:
            return bool(v["S"].startswith(p["S"]))
        if "B" in v and "B" in p:
            return bytes(v["B"]).startswith(bytes(p["B"]))
        return False


def _set_member(kind: str, elements: list[object], candidate: AttributeValue) -> bool:
    if kind == "SS":
        return "S" in candidate and candidate["S"] in elements
    if kind == "BS":
        if "B" not in candidate:
            return False
        wanted = bytes(candidate["B"])
        return any(bytes(e) == wanted for e in elements)  # type: ignore[call-overload]
    if "N" not in candidate:
        return False
    number = Decimal(candidate["N"])
    return any(Decimal(e) == number for e in elements)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Contains:
    operand: Operand
    element: Operand

    def holds(self, item: Item) -> bool:
        v = self.operand.value(item)
        e = self.element.value(item)
        if v is None or e is None:
            return False
        for kind, content in v.items():
            if kind == "S":
                return "S" in e and e["S"] in content
            if kind == "B":
                return "B" in e and bytes(e["B"]) in bytes(content)
            if kind in ("SS", "NS", "BS"):
                return _set_member(kind, content, e)
            if kind == "L":
                return any(equal(x, e) for x in content)
        return False
