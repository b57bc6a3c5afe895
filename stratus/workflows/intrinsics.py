"""Intrinsic functions (States.Format, States.Array, ... States.UUID): a tokenizer and parser
for the call syntax, and the functions with the argument checks AWS documents.

A call's arguments are string literals in single quotes (with the escapes \\' \\{ \\} \\\\),
numbers, true/false/null, paths (`$.a`, `$$.Execution.Id`) and nested calls. Randomness
(States.MathRandom, States.UUID) comes from an injected `Entropy`, never from global state.
Failures raise IntrinsicError; `io` reports them as States.Runtime, the name AWS documents for
intrinsic failures (States.IntrinsicFailure is "reserved for future use").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from stratus.workflows import paths
from stratus.workflows.errors import PathError

MAX_NESTING = 10  # "You can nest up to 10 intrinsic functions within a field"
MAX_STRING = 10000  # Base64Encode/Decode and Hash take up to 10,000 characters
INT_MIN, INT_MAX = -2147483648, 2147483647

# Each function's (least, most) argument count; None: any number.
ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}
HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


class IntrinsicSyntaxError(ValueError):
    """Text that is not a well-formed call of a known intrinsic function."""


class IntrinsicError(PathError):
    """A call that failed on its arguments at run time."""


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class PathArg:
    path: paths.JsonPath


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Literal | PathArg | Call, ...]
    text: str


@dataclass(frozen=True)
class Entropy:
    """Where States.MathRandom and States.UUID take their randomness: an injected Random (and
    optionally a UUID source), so tests and replays are deterministic."""

    rand: random.Random = field(default_factory=random.Random)
    uuid_source: Callable[[], str] | None = None

    def uuid4(self) -> str:
        if self.uuid_source is not None:
            return self.uuid_source()
        return str(uuid.UUID(int=self.rand.getrandbits(128), version=4))


# ---- parsing ---------------------------------------------------------------------------------


def is_call(text: Any) -> bool:
    if not isinstance(text, str) or not text.startswith("States."):
        return False
    try:
        parse_call(text)
    except IntrinsicSyntaxError:
        return False
    return True


@lru_cache(maxsize=4096)
def parse_call(text: str) -> Call:
    parser = _Parser(text)
    call = parser.call(depth=1)
    parser.spaces()
    if parser.pos != len(text):
        raise IntrinsicSyntaxError(f"unexpected text after the call at position {parser.pos}: {text!r}")
    return call


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n\r":
            self.pos += 1

    def call(self, depth: int) -> Call:
        if depth > MAX_NESTING:
            raise IntrinsicSyntaxError(f"more than {MAX_NESTING} nested intrinsic functions")
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "."):
            self.pos += 1
        name = self.text[start : self.pos]
        if name not in ARITY:
            raise IntrinsicSyntaxError(f"unknown intrinsic function {name!r}")
        self.spaces()
        if not self.text.startswith("(", self.pos):
            raise IntrinsicSyntaxError(f"expected '(' after {name}")
        self.pos += 1
        args: list[Literal | PathArg | Call] = []
        self.spaces()
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                args.append(self.argument(depth))
                self.spaces()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    continue
                if self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                raise IntrinsicSyntaxError(f"expected ',' or ')' at position {self.pos} of {self.text!r}")
        least, most = ARITY[name]
        if len(args) < least or (most is not None and len(args) > most):
            raise IntrinsicSyntaxError(f"{name} takes {_arity_text(least, most)}, not {len(args)}")
        return Call(name, tuple(args), self.text[start : self.pos])

    def argument(self, depth: int) -> Literal | PathArg | Call:
        self.spaces()
        rest = self.text[self.pos :]
        if rest.startswith("'"):
            return Literal(self.string())
        if rest.startswith("States."):
            return self.call(depth + 1)
        if rest.startswith("$"):
            return PathArg(self.path())
        for word, value in (("true", True), ("false", False), ("null", None)):
            if rest.startswith(word) and not rest[len(word) : len(word) + 1].isalnum():
                self.pos += len(word)
                return Literal(value)
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in "+-0123456789.eE":
            self.pos += 1
        try:
            number = json.loads(self.text[start : self.pos])
        except ValueError:
            raise IntrinsicSyntaxError(f"bad argument at position {start} of {self.text!r}") from None
        if not isinstance(number, int | float):
            raise IntrinsicSyntaxError(f"bad argument at position {start} of {self.text!r}")
        return Literal(number)

    def string(self) -> str:
        """A quoted literal; its escapes are kept for Format, which treats \\{ and \\} as text."""
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise IntrinsicSyntaxError(f"unterminated string in {self.text!r}")
            ch = self.text[self.pos]
            if ch == "\\":
                nxt = self.text[self.pos + 1 : self.pos + 2]
                if nxt not in ("'", "{", "}", "\\"):
                    raise IntrinsicSyntaxError(f"an open escape backslash in {self.text!r}")
                out.append(ch + nxt)
                self.pos += 2
                continue
            self.pos += 1
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def path(self) -> paths.JsonPath:
        """A path argument runs to the ',' or ')' that is outside brackets and quotes."""
        start, depth, quote = self.pos, 0, ""
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if quote:
                if ch == "\\":
                    self.pos += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch in "[(":
                depth += 1
            elif ch in "])":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0:
                break
            self.pos += 1
        text = self.text[start : self.pos].rstrip()
        try:
            return paths.parse_path(text)
        except paths.PathSyntaxError as exc:
            raise IntrinsicSyntaxError(str(exc)) from None


def _arity_text(least: int, most: int | None) -> str:
    if most is None:
        return f"at least {least} argument{'s' if least != 1 else ''}"
    if least == most:
        return f"{least} argument{'s' if least != 1 else ''}"
    return f"{least} to {most} arguments"


def _unescape(text: str) -> str:
    return text.replace("\\'", "'").replace("\\{", "{").replace("\\}", "}").replace("\\\\", "\\")


# ---- evaluation ------------------------------------------------------------------------------


def evaluate(text: str, data: Any, context: Mapping[str, Any], entropy: Entropy) -> Any:
    """The value of the call `text` over the state's data and the context object."""
    try:
        call = parse_call(text)
    except IntrinsicSyntaxError as exc:
        raise IntrinsicError(f"The intrinsic function '{text}' is not valid: {exc}") from None
    return _call(call, data, context, entropy)


def _value(arg: Literal | PathArg | Call, data: Any, context: Mapping[str, Any], entropy: Entropy) -> Any:
    if isinstance(arg, Literal):
        return _unescape(arg.value) if isinstance(arg.value, str) else arg.value
    if isinstance(arg, PathArg):
        try:
            return arg.path.read(data, context)
        except PathError as exc:
            raise IntrinsicError(f"Invalid path '{arg.path.text}' : {exc.detail}") from None
    return _call(arg, data, context, entropy)


def _call(call: Call, data: Any, context: Mapping[str, Any], entropy: Entropy) -> Any:
    if call.name == "States.Format":
        # The template keeps its escapes: \{ and \} are braces, not placeholders.
        first = call.args[0]
        template = first.value if isinstance(first, Literal) and isinstance(first.value, str) else None
        if template is None:
            value = _value(first, data, context, entropy)
            if not isinstance(value, str):
                raise _bad(call, "The first argument must be a string")
            # Text from the input has no escapes: its backslashes are themselves.
            template = value.replace("\\", "\\\\")
        args = [_value(a, data, context, entropy) for a in call.args[1:]]
        return _format(call, template, args)
    args = [_value(a, data, context, entropy) for a in call.args]
    return _FUNCTIONS[call.name](call, args, entropy)


def _bad(call: Call, reason: str) -> IntrinsicError:
    return IntrinsicError(f"The function '{call.text}' had the following error: {reason}")


def _format(call: Call, template: str, args: list[Any]) -> str:
    out: list[str] = []
    used = 0
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        if template.startswith("{}", i):
            if used >= len(args):
                raise _bad(call, "The number of arguments does not match the number of placeholders")
            out.append(_format_value(call, args[used]))
            used += 1
            i += 2
            continue
        out.append(ch)
        i += 1
    if used != len(args):
        raise _bad(call, "The number of arguments does not match the number of placeholders")
    return "".join(out)


def _format_value(call: Call, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        raise _bad(call, "Format arguments must be strings, numbers, booleans or null")
    return json.dumps(value)


def _array(call: Call, value: Any, which: str = "first") -> list[Any]:
    if not isinstance(value, list):
        raise _bad(call, f"The {which} argument must be an array")
    return value


def _integer(call: Call, value: Any, which: str) -> int:
    # AWS: "If you specify a non-integer value ... Step Functions will round it off to the
    # nearest integer."
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(call, f"The {which} argument must be an integer")
    return round(value)


def _string(call: Call, value: Any, which: str = "first") -> str:
    if not isinstance(value, str):
        raise _bad(call, f"The {which} argument must be a string")
    return value


def _string_to_json(call: Call, args: list[Any], entropy: Entropy) -> Any:
    text = _string(call, args[0])
    try:
        return json.loads(text)
    except ValueError:
        raise _bad(call, "The argument is not a valid JSON string") from None


def _json_to_string(call: Call, args: list[Any], entropy: Entropy) -> str:
    return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False)


def _partition(call: Call, args: list[Any], entropy: Entropy) -> list[Any]:
    items = _array(call, args[0])
    size = _integer(call, args[1], "second")
    if size <= 0:
        raise _bad(call, "The chunk size must be a positive integer")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _contains(call: Call, args: list[Any], entropy: Entropy) -> bool:
    items = _array(call, args[0])
    return any(_same(item, args[1]) for item in items)


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, 1 is 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _range(call: Call, args: list[Any], entropy: Entropy) -> list[int]:
    start = _integer(call, args[0], "first")
    end = _integer(call, args[1], "second")
    step = _integer(call, args[2], "third")
    if step == 0:
        raise _bad(call, "The step (third argument) must not be zero")
    count = max(0, (end - start) // step + 1)
    if count > 1000:
        raise _bad(call, "The array cannot contain more than 1000 items")
    return list(range(start, end + (1 if step > 0 else -1), step))


def _get_item(call: Call, args: list[Any], entropy: Entropy) -> Any:
    items = _array(call, args[0])
    index = _integer(call, args[1], "second")
    if not 0 <= index < len(items):
        raise _bad(call, "The index provided is out of bounds")
    return items[index]


def _length(call: Call, args: list[Any], entropy: Entropy) -> int:
    return len(_array(call, args[0]))


def _unique(call: Call, args: list[Any], entropy: Entropy) -> list[Any]:
    out: list[Any] = []
    for item in _array(call, args[0]):
        if not any(_same(item, seen) for seen in out):
            out.append(item)
    return out


def _b64encode(call: Call, args: list[Any], entropy: Entropy) -> str:
    text = _string(call, args[0])
    if len(text) > MAX_STRING:
        raise _bad(call, f"The input string must be at most {MAX_STRING} characters")
    return base64.b64encode(text.encode()).decode("ascii")


def _b64decode(call: Call, args: list[Any], entropy: Entropy) -> str:
    text = _string(call, args[0])
    if len(text) > MAX_STRING:
        raise _bad(call, f"The input string must be at most {MAX_STRING} characters")
    try:
        return base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _bad(call, "The input is not a valid Base64 string") from None


def _hash(call: Call, args: list[Any], entropy: Entropy) -> str:
    data = args[0] if isinstance(args[0], str) else json.dumps(args[0], separators=(",", ":"))
    if len(data) > MAX_STRING:
        raise _bad(call, f"The input data must be at most {MAX_STRING} characters")
    algorithm = args[1]
    if algorithm not in HASHES:
        raise _bad(call, f"The hash algorithm must be one of [{', '.join(HASHES)}]")
    return hashlib.new(HASHES[algorithm], data.encode()).hexdigest()


def _merge(call: Call, args: list[Any], entropy: Entropy) -> dict[str, Any]:
    first, second, deep = args
    if not isinstance(first, dict) or not isinstance(second, dict):
        raise _bad(call, "The first two arguments must be JSON objects")
    if deep is not False:
        raise _bad(call, "Only the shallow merge is supported: the third argument must be false")
    return {**first, **second}


def _random(call: Call, args: list[Any], entropy: Entropy) -> int:
    start = _integer(call, args[0], "first")
    end = _integer(call, args[1], "second")
    if start >= end:
        raise _bad(call, "The start number must be less than the end number")
    if len(args) == 3:
        # The same seed gives the same number, as AWS documents.
        return random.Random(_integer(call, args[2], "third")).randrange(start, end)
    return entropy.rand.randrange(start, end)


def _add(call: Call, args: list[Any], entropy: Entropy) -> int:
    a = _integer(call, args[0], "first")
    b = _integer(call, args[1], "second")
    for v in (a, b):
        if not INT_MIN <= v <= INT_MAX:
            raise _bad(call, f"The arguments must be integers between {INT_MIN} and {INT_MAX}")
    return a + b


def _split(call: Call, args: list[Any], entropy: Entropy) -> list[str]:
    text = _string(call, args[0])
    delimiters = _string(call, args[1], "second")
    if not delimiters:
        return [text]
    # Each character of the second argument is a delimiter; empty pieces are dropped, as the
    # documented "This.is+a,test=string" with ".+,=" shows.
    pieces: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch in delimiters:
            if current:
                pieces.append("".join(current))
            current = []
        else:
            current.append(ch)
    if current:
        pieces.append("".join(current))
    return pieces


_FUNCTIONS: dict[str, Callable[[Call, list[Any], Entropy], Any]] = {
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": lambda call, args, entropy: list(args),
    "States.ArrayPartition": _partition,
    "States.ArrayContains": _contains,
    "States.ArrayRange": _range,
    "States.ArrayGetItem": _get_item,
    "States.ArrayLength": _length,
    "States.ArrayUnique": _unique,
    "States.Base64Encode": _b64encode,
    "States.Base64Decode": _b64decode,
    "States.Hash": _hash,
    "States.JsonMerge": _merge,
    "States.MathRandom": _random,
    "States.MathAdd": _add,
    "States.StringSplit": _split,
    "States.UUID": lambda call, args, entropy: entropy.uuid4(),
}
