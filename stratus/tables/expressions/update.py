"""A parsed UpdateExpression and how it changes an item.

DynamoDB's semantics: every right-hand side of SET reads the item as it was before the update;
SET on a nested path needs the path's parent to exist; a list index past the end of a list
appends; REMOVE of a missing attribute does nothing and list indexes name the list's elements
before the update; ADD creates an absent attribute and adds to a number or unites sets; DELETE
takes elements out of a set and removes an attribute it empties."""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Any, Protocol

from stratus.tables.errors import ValidationException
from stratus.tables.expressions.paths import Path, resolve
from stratus.tables.values import AttributeValue, Item, number_text, to_decimal

INVALID_PATH = "The document path provided in the update expression is invalid for update"
WRONG_TYPE = "An operand in the update expression has an incorrect data type"
MISSING = "The provided expression refers to an attribute that does not exist in the item"

SET_TYPES = ("SS", "NS", "BS")
# Wide enough that the sum of two numbers DynamoDB can store is exact whenever the sum itself
# fits in 38 digits; the result is then held to DynamoDB's limits as any number is.
_EXACT = decimal.Context(prec=300, Emax=999999, Emin=-999999)


def add_numbers(a: str, b: str, *, subtract: bool = False) -> str:
    x, y = to_decimal(a), to_decimal(b)
    result = _EXACT.subtract(x, y) if subtract else _EXACT.add(x, y)
    return number_text(to_decimal(number_text(result)))


class UpdateOperand(Protocol):
    def compute(self, item: Item) -> AttributeValue: ...


@dataclass(frozen=True, slots=True)
class PathValue:
    path: Path

    def compute(self, item: Item) -> AttributeValue:
        found = resolve(item, self.path)
        if found is None:
            raise ValidationException(MISSING)
        return found


@dataclass(frozen=True, slots=True)
class LiteralValue:
    literal: AttributeValue
    placeholder: str

    def compute(self, item: Item) -> AttributeValue:
        return self.literal


@dataclass(frozen=True, slots=True)
class IfNotExists:
    path: Path
    default: UpdateOperand

    def compute(self, item: Item) -> AttributeValue:
        found = resolve(item, self.path)
        return found if found is not None else self.default.compute(item)


@dataclass(frozen=True, slots=True)
class ListAppend:
    first: UpdateOperand
    second: UpdateOperand

    def compute(self, item: Item) -> AttributeValue:
        a = self.first.compute(item)
        b = self.second.compute(item)
        if "L" not in a or "L" not in b:
            raise ValidationException(WRONG_TYPE)
        return {"L": [*a["L"], *b["L"]]}


@dataclass(frozen=True, slots=True)
class Arithmetic:
    op: str  # + or -
    left: UpdateOperand
    right: UpdateOperand

    def compute(self, item: Item) -> AttributeValue:
        a = self.left.compute(item)
        b = self.right.compute(item)
        if "N" not in a or "N" not in b:
            raise ValidationException(WRONG_TYPE)
        return {"N": add_numbers(a["N"], b["N"], subtract=self.op == "-")}


@dataclass(frozen=True, slots=True)
class SetAction:
    path: Path
    operand: UpdateOperand


@dataclass(frozen=True, slots=True)
class AddAction:
    path: Path
    literal: AttributeValue


@dataclass(frozen=True, slots=True)
class DeleteAction:
    path: Path
    literal: AttributeValue


@dataclass(frozen=True, slots=True)
class Update:
    sets: tuple[SetAction, ...]
    removes: tuple[Path, ...]
    adds: tuple[AddAction, ...]
    deletes: tuple[DeleteAction, ...]

    @property
    def touched(self) -> frozenset[str]:
        """The top-level attributes the update may change (to refuse updating a key)."""
        paths = [a.path for a in self.sets] + list(self.removes)
        paths += [a.path for a in self.adds] + [a.path for a in self.deletes]
        return frozenset(str(p[0]) for p in paths)


def _clone(value: Any) -> Any:
    """A copy of an attribute value deep enough that changing the copy leaves the original."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _container(item: Item, path: Path) -> Any:
    """The map (dict of members) or list holding the last step of `path`, in the new item."""
    holder: Any = item
    for step in path[:-1]:
        if isinstance(step, int):
            elements = holder.get("L") if isinstance(holder, dict) and holder is not item else None
            if elements is None or step >= len(elements):
                raise ValidationException(INVALID_PATH)
            holder = elements[step]
        else:
            members = holder if holder is item else holder.get("M")
            if members is None or step not in members:
                raise ValidationException(INVALID_PATH)
            holder = members[step]
    last = path[-1]
    if holder is item:
        return item
    kind = "L" if isinstance(last, int) else "M"
    inner = holder.get(kind)
    if inner is None:
        raise ValidationException(INVALID_PATH)
    return inner


def _put(item: Item, path: Path, value: AttributeValue) -> None:
    holder = _container(item, path)
    last = path[-1]
    if isinstance(last, int):
        if last < len(holder):
            holder[last] = value
        else:
            holder.append(value)
    else:
        holder[last] = value


def _remove(item: Item, path: Path, *, lenient: bool = False) -> None:
    """REMOVE of a missing attribute, map member or list element does nothing, but a path
    whose parent is missing or not a map/list is refused as SET's is: DynamoDB answers
    REMOVE a.b with INVALID_PATH when a is absent, except when the whole item is (`lenient`)."""
    try:
        holder = _container(item, path)
    except ValidationException:
        if lenient:
            return
        raise
    last = path[-1]
    if isinstance(last, int):
        if last < len(holder):
            del holder[last]
    else:
        holder.pop(last, None)


def _type_name(value: AttributeValue) -> str:
    return next(iter(value))


def _add(current: AttributeValue | None, literal: AttributeValue) -> AttributeValue:
    if current is None:
        return _clone(literal)  # type: ignore[no-any-return]
    kind = _type_name(literal)
    if _type_name(current) != kind:
        raise ValidationException(WRONG_TYPE)
    if kind == "N":
        return {"N": add_numbers(current["N"], literal["N"])}
    if kind == "NS":
        have = {to_decimal(n) for n in current["NS"]}
        extra = [n for n in literal["NS"] if to_decimal(n) not in have]
        return {"NS": [*current["NS"], *extra]}
    have_elements = list(current[kind])
    for element in literal[kind]:
        if element not in have_elements:
            have_elements.append(element)
    return {kind: have_elements}


def _delete(current: AttributeValue, literal: AttributeValue) -> AttributeValue | None:
    kind = _type_name(literal)
    if _type_name(current) != kind:
        raise ValidationException(WRONG_TYPE)
    if kind == "NS":
        gone = {to_decimal(n) for n in literal["NS"]}
        left = [n for n in current["NS"] if to_decimal(n) not in gone]
    else:
        unwanted = list(literal[kind])
        left = [e for e in current[kind] if e not in unwanted]
    return {kind: left} if left else None


def _list_index_last(path: Path) -> tuple[Any, ...]:
    # REMOVE's list indexes name elements of the list before the update: removing the highest
    # index of a list first keeps the lower ones where they were.
    return tuple((1, step) if isinstance(step, int) else (0, step) for step in path)


def apply_update(update: Update, item: Item, *, exists: bool = True) -> Item:
    """The item after `update` (a new dict; `item` is left as it was). `exists` False: the item
    is being created by the update (REMOVE of a nested path is then ignored, as DynamoDB does)."""
    values = [action.operand.compute(item) for action in update.sets]
    result: Item = _clone(item)
    for action, value in zip(update.sets, values, strict=True):
        _put(result, action.path, _clone(value))
    for path in sorted(update.removes, key=_list_index_last, reverse=True):
        _remove(result, path, lenient=not exists)
    for add in update.adds:
        current = resolve(result, add.path)
        if current is None:
            _container(result, add.path)  # the parent must exist
        _put(result, add.path, _add(current, add.literal))
    for delete in update.deletes:
        current = resolve(result, delete.path)
        if current is None:
            continue
        left = _delete(current, delete.literal)
        if left is None:
            _remove(result, delete.path)
        else:
            _put(result, delete.path, left)
    return result
