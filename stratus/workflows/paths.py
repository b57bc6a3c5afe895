"""JsonPath as Step Functions takes it (Jayway's dialect): `$`, `$.a.b`, `$['a']`, `$.a[0]`,
`$.a[-1]`, `$.a[0,2]`, `$.a[1:3]`, `$.a[*]`, `$.*`, `$..x`, filters `$.a[?(@.x > 1)]`, and the
context object `$$`.

A definite path (names and single indexes only) selects one value and fails when it selects
nothing, with Jayway's "No results for path: $['a']['b']"; an indefinite one (a wildcard,
deep scan, slice, union or filter) selects a list, possibly empty. Reference paths
(ResultPath, Choice's Variable, ItemsPath) must be definite. Written here rather than taken
from jsonpath-ng because Step Functions' messages name paths in Jayway's normalised form and
its definite/indefinite rule decides between a value and a list; both are easy to get exactly
right in a small parser and awkward to bolt onto another library's model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from stratus.workflows.errors import PathError


class PathSyntaxError(ValueError):
    """Text that is not a JsonPath."""


@dataclass(frozen=True)
class Child:
    name: str


@dataclass(frozen=True)
class Indexes:
    indexes: tuple[int, ...]


@dataclass(frozen=True)
class Names:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Filter:
    expr: Any  # a tuple tree: ("or"|"and", a, b), ("not", a), ("cmp", op, l, r), ("exists", path), ("lit", v)


@dataclass(frozen=True)
class Deep:
    inner: Child | Indexes | Names | Slice | Wildcard | Filter


Segment = Child | Indexes | Names | Slice | Wildcard | Filter | Deep


@dataclass(frozen=True)
class JsonPath:
    text: str
    context: bool  # `$$`: the context object rather than the state's data
    segments: tuple[Segment, ...]

    @property
    def definite(self) -> bool:
        return all(
            isinstance(s, Child) or (isinstance(s, Indexes) and len(s.indexes) == 1) for s in self.segments
        )

    def normalized(self) -> str:
        """Jayway's spelling of the path, as its messages show it: $['a'][0]['b']."""
        return "$" + "".join(_segment_text(s) for s in self.segments)

    def read(self, data: Any, context: Any = None) -> Any:
        """The value (definite) or list of values (indefinite) the path selects."""
        root = context if self.context else data
        if self.definite:
            current = root
            for seg in self.segments:
                found, current = _step(current, seg)
                if not found:
                    raise PathError(f"No results for path: {self.normalized()}")
            return current
        values = [root]
        for seg in self.segments:
            values = [out for v in values for out in _select(v, seg)]
        return values

    def exists(self, data: Any, context: Any = None) -> bool:
        """Whether a definite path selects something (Choice's IsPresent)."""
        try:
            self.read(data, context)
        except PathError:
            return False
        return True


def _segment_text(seg: Segment) -> str:
    if isinstance(seg, Child):
        return f"['{seg.name}']"
    if isinstance(seg, Indexes):
        return "[" + ",".join(str(i) for i in seg.indexes) + "]"
    if isinstance(seg, Names):
        return "[" + ",".join(f"'{n}'" for n in seg.names) + "]"
    if isinstance(seg, Slice):
        parts = ["" if seg.start is None else str(seg.start), "" if seg.stop is None else str(seg.stop)]
        if seg.step is not None:
            parts.append(str(seg.step))
        return "[" + ":".join(parts) + "]"
    if isinstance(seg, Wildcard):
        return "[*]"
    if isinstance(seg, Filter):
        return "[?]"
    return ".." + _segment_text(seg.inner)


def _step(value: Any, seg: Segment) -> tuple[bool, Any]:
    if isinstance(seg, Child):
        if isinstance(value, dict) and seg.name in value:
            return True, value[seg.name]
        return False, None
    assert isinstance(seg, Indexes)
    if isinstance(value, list):
        i = seg.indexes[0]
        if -len(value) <= i < len(value):
            return True, value[i]
    return False, None


def _select(value: Any, seg: Segment) -> list[Any]:
    if isinstance(seg, Child):
        return [value[seg.name]] if isinstance(value, dict) and seg.name in value else []
    if isinstance(seg, Names):
        return [value[n] for n in seg.names if isinstance(value, dict) and n in value]
    if isinstance(seg, Indexes):
        if not isinstance(value, list):
            return []
        return [value[i] for i in seg.indexes if -len(value) <= i < len(value)]
    if isinstance(seg, Slice):
        return value[seg.start : seg.stop : seg.step] if isinstance(value, list) else []
    if isinstance(seg, Wildcard):
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    if isinstance(seg, Filter):
        if isinstance(value, list):
            return [v for v in value if _truth(seg.expr, v)]
        if isinstance(value, dict):
            return [value] if _truth(seg.expr, value) else []
        return []
    # Deep scan: the inner segment applied to the value and to every value under it.
    out: list[Any] = []
    stack = [value]
    while stack:
        v = stack.pop(0)
        out.extend(_select(v, seg.inner))
        if isinstance(v, dict):
            stack.extend(x for x in v.values() if isinstance(x, dict | list))
        elif isinstance(v, list):
            stack.extend(x for x in v if isinstance(x, dict | list))
    return out


_MISSING = object()


def _operand(expr: Any, item: Any) -> Any:
    if expr[0] == "lit":
        return expr[1]
    path: JsonPath = expr[1]
    found = path.read(item) if not path.definite else (_read_or_missing(path, item))
    return found


def _read_or_missing(path: JsonPath, item: Any) -> Any:
    try:
        return path.read(item)
    except PathError:
        return _MISSING


def _truth(expr: Any, item: Any) -> bool:
    kind = expr[0]
    if kind == "or":
        return _truth(expr[1], item) or _truth(expr[2], item)
    if kind == "and":
        return _truth(expr[1], item) and _truth(expr[2], item)
    if kind == "not":
        return not _truth(expr[1], item)
    if kind == "exists":
        value = _operand(expr, item)
        return value is not _MISSING and value != []
    if kind == "lit":
        return bool(expr[1])
    _, op, left, right = expr
    a, b = _operand(left, item), _operand(right, item)
    if a is _MISSING or b is _MISSING:
        return op == "!=" and not (a is _MISSING and b is _MISSING)
    return _compare(op, a, b)


def _compare(op: str, a: Any, b: Any) -> bool:
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
    if op in ("==", "!="):
        same = a == b if numbers or type(a) is type(b) else False
        return same if op == "==" else not same
    if not (numbers or (isinstance(a, str) and isinstance(b, str))):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


# ---- the parser ------------------------------------------------------------------------------

_NAME_STOP = set(".[]()'\" \t\n\r,=<>!&|@?*$")


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def take(self, literal: str) -> bool:
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def expect(self, literal: str) -> None:
        if not self.take(literal):
            raise PathSyntaxError(f"expected '{literal}' at position {self.pos} of {self.text!r}")

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def done(self) -> bool:
        return self.pos >= len(self.text)

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in _NAME_STOP:
            self.pos += 1
        if self.pos == start:
            raise PathSyntaxError(f"expected a name at position {start} of {self.text!r}")
        return self.text[start : self.pos]

    def integer(self) -> int:
        start = self.pos
        self.take("-")
        while self.pos < len(self.text) and self.text[self.pos].isdigit():
            self.pos += 1
        digits = self.text[start : self.pos]
        if digits in ("", "-"):
            raise PathSyntaxError(f"expected a number at position {start} of {self.text!r}")
        return int(digits)

    def quoted(self) -> str:
        quote = self.peek()
        if quote not in ("'", '"'):
            raise PathSyntaxError(f"expected a quoted name at position {self.pos} of {self.text!r}")
        self.pos += 1
        out: list[str] = []
        while True:
            if self.done():
                raise PathSyntaxError(f"unterminated quoted name in {self.text!r}")
            ch = self.text[self.pos]
            self.pos += 1
            if ch == "\\" and not self.done():
                out.append(self.text[self.pos])
                self.pos += 1
            elif ch == quote:
                return "".join(out)
            else:
                out.append(ch)


@lru_cache(maxsize=4096)
def parse_path(text: str) -> JsonPath:
    """Parse a JsonPath starting with `$` or `$$`; PathSyntaxError if it is not one."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"a path starts with '$': {text!r}")
    r = _Reader(text)
    context = r.take("$$")
    if not context:
        r.expect("$")
    return JsonPath(text, context, _segments(r, relative=False))


def _segments(r: _Reader, *, relative: bool) -> tuple[Segment, ...]:
    segs: list[Segment] = []
    while not r.done():
        if relative and r.peek() in " \t)=<>!&|":
            break
        if r.take(".."):
            if r.peek() == "[":
                segs.append(Deep(_bracket(r)))  # type: ignore[arg-type]
            elif r.take("*"):
                segs.append(Deep(Wildcard()))
            else:
                segs.append(Deep(Child(r.name())))
        elif r.take("."):
            if r.peek() == "[":  # `$.abc.['def ghi']`, as AWS's intrinsics page writes it
                segs.append(_bracket(r))
            elif r.take("*"):
                segs.append(Wildcard())
            else:
                segs.append(Child(r.name()))
        elif r.peek() == "[":
            segs.append(_bracket(r))
        else:
            raise PathSyntaxError(f"unexpected {r.peek()!r} at position {r.pos} of {r.text!r}")
    return tuple(segs)


def _bracket(r: _Reader) -> Segment:
    r.expect("[")
    r.skip_spaces()
    seg: Segment
    if r.take("*"):
        seg = Wildcard()
    elif r.take("?("):
        seg = Filter(_filter_or(r))
        r.skip_spaces()
        r.expect(")")
    elif r.peek() in ("'", '"'):
        names = [r.quoted()]
        r.skip_spaces()
        while r.take(","):
            r.skip_spaces()
            names.append(r.quoted())
            r.skip_spaces()
        seg = Child(names[0]) if len(names) == 1 else Names(tuple(names))
    else:
        seg = _index_or_slice(r)
    r.skip_spaces()
    r.expect("]")
    return seg


def _index_or_slice(r: _Reader) -> Segment:
    first = None if r.peek() == ":" else r.integer()
    r.skip_spaces()
    if r.take(":"):
        stop = None if r.peek() in ("]", ":") else r.integer()
        step = None
        if r.take(":"):
            step = None if r.peek() == "]" else r.integer()
        if step == 0:
            raise PathSyntaxError(f"a slice's step cannot be 0 in {r.text!r}")
        return Slice(first, stop, step)
    if first is None:
        raise PathSyntaxError(f"expected an index in {r.text!r}")
    indexes = [first]
    while r.take(","):
        r.skip_spaces()
        indexes.append(r.integer())
        r.skip_spaces()
    return Indexes(tuple(indexes))


def _filter_or(r: _Reader) -> Any:
    left = _filter_and(r)
    r.skip_spaces()
    while r.take("||"):
        left = ("or", left, _filter_and(r))
        r.skip_spaces()
    return left


def _filter_and(r: _Reader) -> Any:
    left = _filter_unary(r)
    r.skip_spaces()
    while r.take("&&"):
        left = ("and", left, _filter_unary(r))
        r.skip_spaces()
    return left


def _filter_unary(r: _Reader) -> Any:
    r.skip_spaces()
    if r.take("!"):
        return ("not", _filter_unary(r))
    if r.take("("):
        inner = _filter_or(r)
        r.skip_spaces()
        r.expect(")")
        return inner
    left = _filter_operand(r)
    r.skip_spaces()
    for op in ("==", "!=", "<=", ">=", "<", ">"):
        if r.take(op):
            right = _filter_operand(r)
            return ("cmp", op, left, right)
    if left[0] == "path":
        return ("exists", left[1])
    return left


def _filter_operand(r: _Reader) -> Any:
    r.skip_spaces()
    if r.take("@"):
        start = r.pos
        segs = _segments(r, relative=True)
        return ("path", JsonPath("$" + r.text[start : r.pos], False, segs))
    if r.peek() in ("'", '"'):
        return ("lit", r.quoted())
    for word, value in (("true", True), ("false", False), ("null", None)):
        if r.take(word):
            return ("lit", value)
    start = r.pos
    while not r.done() and (r.peek().isdigit() or r.peek() in "-+.eE"):
        r.pos += 1
    token = r.text[start : r.pos]
    try:
        number = json.loads(token)
    except ValueError:
        raise PathSyntaxError(f"bad filter operand at position {start} of {r.text!r}") from None
    if not isinstance(number, int | float):
        raise PathSyntaxError(f"bad filter operand at position {start} of {r.text!r}")
    return ("lit", number)


def is_path(text: Any) -> bool:
    try:
        parse_path(text)
    except PathSyntaxError:
        return False
    return True


def is_reference_path(text: Any, *, context: bool = False) -> bool:
    """A definite path of names and single indexes; `$$` only where `context` allows it."""
    try:
        path = parse_path(text)
    except PathSyntaxError:
        return False
    return path.definite and (context or not path.context)


def read(text: str, data: Any, context: Any = None) -> Any:
    """The value a path selects (PathError if a definite path selects nothing)."""
    return parse_path(text).read(data, context)


def put(target: Any, text: str, value: Any) -> Any:
    """`target` with `value` placed at the reference path `text` (ResultPath): `$` replaces
    it; missing objects on the way are created. The target is not changed: the objects along
    the path are copied, the rest is shared."""
    path = parse_path(text)
    if not path.segments:
        return value
    return _put(target, path, 0, value)


def _put(current: Any, path: JsonPath, i: int, value: Any) -> Any:
    seg = path.segments[i]
    last = i == len(path.segments) - 1
    if isinstance(seg, Child):
        if current is None or current is _MISSING:
            current = {}
        if not isinstance(current, dict):
            raise PathError(f"Unable to apply ReferencePath {path.text} to input {json.dumps(current)}")
        out = dict(current)
        out[seg.name] = value if last else _put(current.get(seg.name, _MISSING), path, i + 1, value)
        return out
    assert isinstance(seg, Indexes)
    index = seg.indexes[0]
    if not isinstance(current, list) or not -len(current) <= index < len(current):
        raise PathError(f"Unable to apply ReferencePath {path.text} to input {json.dumps(current)}")
    items = list(current)
    items[index] = value if last else _put(current[index], path, i + 1, value)
    return items
