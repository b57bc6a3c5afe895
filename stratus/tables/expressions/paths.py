"""Document paths (`a.b[2].c` as `("a", "b", 2, "c")`): reading one from an item, and the
overlap rules DynamoDB applies to the paths of one update or projection."""

from __future__ import annotations

from collections.abc import Sequence

from stratus.tables.errors import ValidationException
from stratus.tables.values import AttributeValue, Item

Path = tuple[str | int, ...]

MAX_DEPTH = 32


def resolve(item: Item, path: Path) -> AttributeValue | None:
    """The value at `path`, or None where any step is missing or of the wrong type."""
    value: AttributeValue | None = item.get(path[0])  # type: ignore[arg-type]
    for step in path[1:]:
        if value is None:
            return None
        if type(step) is int:
            elements = value.get("L")
            if elements is None or step >= len(elements):
                return None
            value = elements[step]
        else:
            members = value.get("M")
            if members is None:
                return None
            value = members.get(step)
    return value


def shown(path: Path) -> str:
    """A path as DynamoDB's messages print it: `[a, b, [2]]`."""
    return "[" + ", ".join(f"[{step}]" if isinstance(step, int) else step for step in path) + "]"


def check_overlaps(paths: Sequence[Path], kind: str) -> None:
    """Refuse two paths where one is the other or inside it ("overlap"), or where one reads a
    step as a map key and the other as a list index ("conflict")."""
    for i, one in enumerate(paths):
        for two in paths[i + 1 :]:
            for a, b in zip(one, two, strict=False):
                if a == b and type(a) is type(b):
                    continue
                if isinstance(a, int) != isinstance(b, int):
                    raise ValidationException(
                        f"Invalid {kind}: Two document paths conflict with each other; must remove "
                        f"or rewrite one of these paths; path one: {shown(one)}, path two: {shown(two)}"
                    )
                break
            else:
                raise ValidationException(
                    f"Invalid {kind}: Two document paths overlap with each other; must remove or "
                    f"rewrite one of these paths; path one: {shown(one)}, path two: {shown(two)}"
                )
