"""ProjectionExpression: the parts of an item a read returns. Nested paths keep their shape
(`a.b` gives `{"a": {"M": {"b": ...}}}`); list indexes keep the chosen elements of a list, in
the list's order; paths that name nothing are left out."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from stratus.tables.expressions.paths import Path, resolve
from stratus.tables.values import AttributeValue, Item

# While projecting, a map or list under construction is a dict of its chosen members (keys for
# maps, indexes for lists) tagged with its kind; a whole value is stored as it is.
_Node = dict[str, Any]


def _graft(tree: dict[Any, Any], path: Path, value: AttributeValue) -> None:
    holder = tree
    for step, following in pairwise(path):
        kind = "L" if isinstance(following, int) else "M"
        node = holder.get(step)
        if node is None:
            node = {"kind": kind, "members": {}}
            holder[step] = node
        holder = node["members"]
    holder[path[-1]] = {"kind": "", "value": value}


def _build(node: _Node) -> AttributeValue:
    kind = node["kind"]
    if not kind:
        return node["value"]  # type: ignore[no-any-return]
    members = node["members"]
    if kind == "L":
        return {"L": [_build(members[i]) for i in sorted(members)]}
    return {"M": {name: _build(member) for name, member in members.items()}}


def project(paths: Sequence[Path], item: Item) -> Item:
    if not paths:
        return item
    tree: dict[Any, Any] = {}
    for path in paths:
        value = resolve(item, path) if len(path) > 1 else item.get(str(path[0]))
        if value is not None:
            _graft(tree, path, value)
    return {str(name): _build(node) for name, node in tree.items()}
