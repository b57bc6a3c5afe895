"""Deterministic valid values for any botocore shape, for the protocols' round-trip tests.

`sample(shape, seed=...)` builds the same value for the same shape and seed on every run and
machine (digests, not Python's salted `hash`), and a value the model accepts: an enum's first
value, strings within min/max that match the shape's pattern, numbers within range, timestamps
as aware datetimes with whole seconds (every protocol carries those exactly), blobs as bytes,
lists of 1-2 items, maps of one entry (more where the model's minimum says so). Every member
of a structure is present, so a round trip exercises every member; below depth 4 only required
members are (or one scalar member when none is), which is what stops recursive shapes.
Documents and event streams are skipped: no protocol here carries them as plain values.
Values differ from member to member (they are drawn from the member's path), so a serializer
that swaps or drops members cannot go unnoticed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from botocore.model import Shape

MAX_DEPTH = 4
EPOCH = dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
# Characters tried, in order, for a regex class: letters first, so values read like names.
PREFERRED = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:@+=,# "
    + "".join(chr(c) for c in range(0x21, 0x7F))
    + "é\u00a0"
)
STRETCHES = (1, 2, 3, 5, 8, 13, 21, 40, 64, 128, 256, 1024)


def sample(shape: Shape, *, seed: str) -> Any:
    """A valid value for `shape` (None for a document or event stream shape)."""
    return _value(shape, seed, 0)


def _digest(path: str) -> int:
    return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "big")


def _skipped(shape: Shape) -> bool:
    return bool(shape.metadata.get("document") or shape.serialization.get("eventstream"))


def _value(shape: Shape, path: str, depth: int) -> Any:
    kind = shape.type_name
    if _skipped(shape):
        return None
    if kind == "structure":
        return _structure(shape, path, depth)
    if kind == "list":
        count = _within(1 + _digest(path) % 2, shape, length=True)
        items = (_value(shape.member, f"{path}.{i}", depth + 1) for i in range(count))
        return [item for item in items if item is not None]
    if kind == "map":
        # One entry, or the map's minimum; enum keys take successive values so they differ.
        enum = shape.key.metadata.get("enum") or []
        out = {}
        for i in range(_within(1, shape, length=True)):
            key = enum[i % len(enum)] if enum else _value(shape.key, f"{path}.key{i}", depth + 1)
            value = _value(shape.value, f"{path}.value{i}", depth + 1)
            if value is not None:
                out[key] = value
        return out
    if kind == "string":
        return _string(shape, path)
    if kind in ("integer", "long"):
        return int(_within(1 + _digest(path) % 1000, shape, length=False))
    if kind in ("float", "double"):
        number = _within(1 + _digest(path) % 1000, shape, length=False) + 0.5
        return number if _fits(number, shape) else float(_within(0, shape, length=False))
    if kind == "boolean":
        return _digest(path) % 2 == 1
    if kind == "timestamp":
        return EPOCH + dt.timedelta(seconds=_digest(path) % 100_000_000)
    if kind == "blob":
        size = _within(6, shape, length=True)
        raw = hashlib.blake2b(path.encode(), digest_size=64).digest()
        # A non-UTF-8 first byte, so a protocol that decodes blobs as text fails.
        return (b"\xff" + raw * (size // 64 + 1))[:size]
    return _string(shape, path)  # character and anything newer: text is the safe guess


def _structure(shape: Shape, path: str, depth: int) -> dict[str, Any]:
    members = shape.members
    if shape.metadata.get("union"):
        # Exactly one member; past the depth limit prefer a scalar one, which cannot recurse.
        names = [n for n in members if not _skipped(members[n])]
        if depth >= MAX_DEPTH:
            names.sort(key=lambda n: members[n].type_name in ("structure", "list", "map"))
        for name in names:
            value = _value(members[name], f"{path}.{name}", depth + 1)
            if value is not None:
                return {name: value}
        return {}
    keep = set(members)
    if depth >= MAX_DEPTH:
        # Required members only, or one scalar: the query protocols cannot carry an empty
        # structure (it sends no pairs), so a sample never holds one.
        keep = set(shape.required_members) or set(
            [n for n, m in members.items() if m.type_name not in ("structure", "list", "map")][:1]
        )
    out: dict[str, Any] = {}
    for name, member in members.items():
        if name not in keep:
            continue
        location = member.serialization.get("location")
        if location == "statusCode":
            continue  # not a value the caller chooses; the REST protocols set it
        value = _value(member, f"{path}.{name}", depth + 1)
        if value is not None:
            out[name] = value
    return out


def _within(default: int, shape: Shape, *, length: bool) -> int:
    """`default` moved into the shape's min/max: clamped for lengths, spread over the range for
    numbers (so two members with the same range still get different values)."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    lo: int | None = None if low is None else math.ceil(low)
    hi: int | None = None if high is None else math.floor(high)
    if length:
        value = default if hi is None else min(default, hi)
        return value if lo is None else max(value, lo)
    if lo is not None and hi is not None:
        return lo + default % (hi - lo + 1)
    if lo is not None:
        return lo + default
    return default if hi is None else min(default, hi)


def _fits(number: float, shape: Shape) -> bool:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    return (lo is None or number >= lo) and (hi is None or number <= hi)


def _string(shape: Shape, path: str) -> str:
    enum = shape.metadata.get("enum")
    if enum:
        return str(enum[0])
    lo = int(shape.metadata.get("min", 0))
    hi = int(shape.metadata.get("max", 1 << 20))
    text = f"{shape.name[:12]}-{_digest(path):x}"
    text = (text + "x" * lo)[: max(lo, min(len(text), hi))]
    pattern = compiled(shape.metadata.get("pattern"))
    if pattern is None or pattern.fullmatch(text):
        return text
    # Fixed-length patterns ("[\\d]+" of exactly 6) need the stretch to be the length itself.
    for stretch in sorted({*STRETCHES, max(lo, 1), min(hi, 4096)}):
        try:
            candidate = _generate(sre_parse.parse(pattern.pattern), stretch, {})
        except (ValueError, KeyError):
            break
        if lo <= len(candidate) <= hi and pattern.fullmatch(candidate):
            return candidate
    return text  # no match found: the samples test names the shape


@functools.cache
def compiled(pattern: str | None) -> re.Pattern[str] | None:
    """`pattern` compiled with `re`, or None when absent or when `re` cannot read it (Java's
    `\\p{L}` classes, for instance): those patterns are not checked."""
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except (re.error, ValueError, OverflowError):
        return None


def _generate(items: Any, stretch: int, groups: dict[int, str]) -> str:
    """A string matching the parsed regex `items`; unbounded repeats repeat `stretch` times."""
    out: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            out.append(chr(av))
        elif op is sre.NOT_LITERAL:
            out.append("a" if av != ord("a") else "b")
        elif op is sre.ANY:
            out.append("a")
        elif op is sre.IN:
            out.append(_pick(lambda c, av=av: _in_class(av, c)))
        elif op is sre.CATEGORY:
            out.append(_pick(lambda c, av=av: _category(av, c)))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
            low, high, sub = av
            count = low if high == low else max(low, min(high, stretch))
            out.extend(_generate(sub, stretch, groups) for _ in range(count))
        elif op is sre.SUBPATTERN:
            group, _, _, sub = av
            text = _generate(sub, stretch, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif op is sre.BRANCH:
            out.append(_generate(av[1][0], stretch, groups))
        elif op is getattr(sre, "ATOMIC_GROUP", None):
            out.append(_generate(av, stretch, groups))
        elif op is sre.GROUPREF:
            out.append(groups[av])
        elif op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue  # anchors and lookarounds add no characters; the final match checks them
        else:
            raise ValueError(f"regex construct {op} not generated")
    return "".join(out)


def _pick(accepts: Any) -> str:
    for c in PREFERRED:
        if accepts(c):
            return c
    raise ValueError("no character fits the class")


def _in_class(items: Any, c: str) -> bool:
    code = ord(c)
    negate = False
    hit = False
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            hit = hit or code == av
        elif op is sre.RANGE:
            hit = hit or av[0] <= code <= av[1]
        elif op is sre.CATEGORY:
            hit = hit or _category(av, c)
        elif op is getattr(sre, "RANGE_UNI_IGNORE", None):
            hit = hit or av[0] <= code <= av[1]
    return hit != negate


def _category(category: Any, c: str) -> bool:
    name = str(category)
    word = c.isalnum() or c == "_"
    table = {
        "CATEGORY_DIGIT": c.isdigit(),
        "CATEGORY_NOT_DIGIT": not c.isdigit(),
        "CATEGORY_SPACE": c.isspace(),
        "CATEGORY_NOT_SPACE": not c.isspace(),
        "CATEGORY_WORD": word,
        "CATEGORY_NOT_WORD": not word,
    }
    return table.get(name, False)
