"""CloudWatch Logs filter patterns, compiled once per request into a predicate on a message.

- Terms: every term must occur (`ERROR timeout`); a quoted term matches as a phrase; `?a ?b`
  matches either; `-term` excludes.
- JSON: `{ $.level = "ERROR" }`, `{ $.latency > 100 }`, `{ $.user.id != 7 }`, `{ $.items[0] = "x" }`,
  `{ $.ok IS TRUE }`, `{ $.x IS NULL }`, `{ $.x EXISTS }`, `{ $.x NOT EXISTS }`, combined with
  `&&`, `||` and parentheses; `*` in a string is a wildcard. A message that is not JSON never
  matches a JSON pattern.
A pattern that cannot be parsed raises `BadPattern`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[str], bool]
_TOKEN = re.compile(
    r"""\s*(?:(?P<and>&&)|(?P<or>\|\|)|(?P<lp>\()|(?P<rp>\))|(?P<op>!=|<=|>=|=|<|>)"""
    r"""|(?P<str>"(?:[^"\\]|\\.)*")|(?P<sel>\$(?:\.[A-Za-z0-9_$@-]+|\[\d+\])+)"""
    r"""|(?P<word>[A-Za-z0-9_.+*-]+))"""
)
_MISSING = object()


class BadPattern(ValueError):
    pass


def compile_pattern(pattern: str) -> Predicate:
    text = pattern.strip()
    if not text:
        return lambda _message: True
    if text.startswith("{"):
        if not text.endswith("}"):
            raise BadPattern("a JSON filter pattern must end with }")
        return _json_predicate(text[1:-1])
    return _terms_predicate(text)


# -- terms -----------------------------------------------------------------------------------------


def _terms_predicate(text: str) -> Predicate:
    terms = re.findall(r'[?-]?"(?:[^"\\]|\\.)*"|\S+', text)
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    for term in terms:
        kind = term[0] if term[0] in "?-" and len(term) > 1 else ""
        word = term[1:] if kind else term
        if word.startswith('"'):
            if len(word) < 2 or not word.endswith('"'):
                raise BadPattern(f"unterminated quote in {term}")
            word = json.loads(word)
        {"?": optional, "-": excluded, "": required}[kind].append(word)

    def matches(message: str) -> bool:
        if any(w in message for w in excluded):
            return False
        if optional and not any(w in message for w in optional):
            return False
        return all(w in message for w in required)

    return matches


# -- JSON ------------------------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise BadPattern(f"unexpected text at: {text[pos:].strip()[:20]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (kind is not None and token[0] != kind):
            raise BadPattern(f"expected {kind or 'more'} in filter pattern")
        self.i += 1
        return token

    def expression(self) -> Callable[[Any], bool]:
        left = self.conjunction()
        while (token := self.peek()) is not None and token[0] == "or":
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda doc: a(doc) or b(doc))(left, right)
        return left

    def conjunction(self) -> Callable[[Any], bool]:
        left = self.primary()
        while (token := self.peek()) is not None and token[0] == "and":
            self.take()
            right = self.primary()
            left = (lambda a, b: lambda doc: a(doc) and b(doc))(left, right)
        return left

    def primary(self) -> Callable[[Any], bool]:
        token = self.peek()
        if token is not None and token[0] == "lp":
            self.take()
            inner = self.expression()
            self.take("rp")
            return inner
        path = _path(self.take("sel")[1])
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].upper() in ("IS", "EXISTS", "NOT"):
            return self.keyword(path)
        op = self.take("op")[1]
        kind, raw = self.take()
        if kind == "str":
            if op in ("<", ">", "<=", ">="):
                raise BadPattern(f"{op} compares numbers only")
            value: Any = json.loads(raw)
        elif kind == "word":
            value = _number(raw) if op in ("<", ">", "<=", ">=") else _word_value(raw)
        else:
            raise BadPattern(f"expected a value after {op}")
        return _comparison(path, op, value)

    def keyword(self, path: list[Any]) -> Callable[[Any], bool]:
        word = self.take("word")[1].upper()
        if word == "EXISTS":
            return lambda doc: _get(doc, path) is not _MISSING
        if word == "NOT":
            if self.take("word")[1].upper() != "EXISTS":
                raise BadPattern("expected EXISTS after NOT")
            return lambda doc: _get(doc, path) is _MISSING
        target = self.take("word")[1].upper()
        expected = {"TRUE": True, "FALSE": False, "NULL": None}.get(target, _MISSING)
        if expected is _MISSING:
            raise BadPattern("IS takes TRUE, FALSE or NULL")
        return lambda doc: _get(doc, path) is expected


def _json_predicate(body: str) -> Predicate:
    parser = _Parser(body)
    test = parser.expression()
    if parser.peek() is not None:
        raise BadPattern("unexpected text after the filter expression")

    def matches(message: str) -> bool:
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        return test(doc)

    return matches


def _path(selector: str) -> list[Any]:
    return [
        int(p[1:-1]) if p.startswith("[") else p[1:] for p in re.findall(r"\.[^.\[]+|\[\d+\]", selector[1:])
    ]


def _get(doc: Any, path: list[Any]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(doc, list) or step >= len(doc):
                return _MISSING
            doc = doc[step]
        elif isinstance(doc, dict) and step in doc:
            doc = doc[step]
        else:
            return _MISSING
    return doc


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise BadPattern(f"{raw} is not a number") from None


def _word_value(raw: str) -> Any:
    try:
        return float(raw)
    except ValueError:
        return raw  # an unquoted string, as CloudWatch accepts for simple words


def _comparison(path: list[Any], op: str, value: Any) -> Callable[[Any], bool]:
    def test(doc: Any) -> bool:
        actual = _get(doc, path)
        if actual is _MISSING:
            return False
        if isinstance(value, float):
            if isinstance(actual, bool) or not isinstance(actual, int | float):
                return False
            return {
                "=": actual == value,
                "!=": actual != value,
                "<": actual < value,
                ">": actual > value,
                "<=": actual <= value,
                ">=": actual >= value,
            }[op]
        if not isinstance(actual, str):
            actual = json.dumps(actual) if not isinstance(actual, bool) else str(actual).lower()
        equal = fnmatch.fnmatchcase(actual, value) if "*" in value else actual == value
        return equal if op == "=" else not equal

    return test
