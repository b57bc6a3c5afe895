"""The Condition element of IAM's policy language, and the two pattern forms it shares with
Action and Resource: wildcards (`*`, `?`) and policy variables (`${aws:username}`).

Pure: `compile_condition` turns one (operator, key, values) triple of a policy into a
`Condition` once, at parse time; `Condition.holds(context)` is then a few set and regex tests.
The request context maps lower-cased condition keys to their values (a tuple, since some keys
are multi-valued); the current time arrives in it (aws:currenttime, aws:epochtime), never from
a clock here.

AWS's rules, as its condition-operator reference states them:
- a key missing from the request makes a condition false, except for the negated operators
  (StringNotEquals, ArnNotLike, NotIpAddress, ...), which are then true, and except for
  `...IfExists` (true when missing) and `Null` (which tests exactly that);
- several values for one key are ORed (for a negated operator: NORed);
- `ForAnyValue:` holds when at least one of the request's values matches, `ForAllValues:` when
  every one does (so it holds when the key is missing);
- ArnLike/ArnEquals compare the six colon-separated parts of an ARN each on its own: a wildcard
  never spans a colon before the resource part.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

Context = Mapping[str, tuple[str, ...]]

# A template is a value as written in a policy, cut into tokens once:
#   str           literal text (wildcards in it are wildcards where the element allows them)
#   ("$", name, default)  a policy variable: the context key (lower-cased) and its default
#   ("=", char)   ${*}, ${?} or ${$}: the character itself, never a wildcard
Token = str | tuple[str, str, str | None] | tuple[str, str]
Template = tuple[Token, ...]

_VARIABLE = re.compile(r"\$\{\s*([^{},']*?)\s*(?:,\s*'((?:[^']|'')*)'\s*)?\}")
_ESCAPES = {"*", "?", "$"}


class UnknownOperator(ValueError):
    """A condition operator IAM does not know; the parser words the error."""


def template(text: str, variables: bool) -> Template:
    """Cut a policy value into tokens. Without `variables` (a 2008-10-17 policy) every `${...}`
    is literal text, as AWS treats it in that version."""
    if not variables or "${" not in text:
        return (text,)
    tokens: list[Token] = []
    at = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > at:
            tokens.append(text[at : m.start()])
        name, default = m.group(1), m.group(2)
        if name in _ESCAPES and default is None:
            tokens.append(("=", name))
        else:
            tokens.append(("$", name.lower(), None if default is None else default.replace("''", "'")))
        at = m.end()
    if at < len(text):
        tokens.append(text[at:])
    return tuple(tokens)


def is_static(tokens: Template) -> bool:
    return all(isinstance(t, str) or t[0] == "=" for t in tokens)


def _variable(token: tuple[str, str, str | None], context: Context | None) -> str | None:
    """A variable's value: the context key's one value, else its default, else None (AWS: a
    variable without a value makes the element it is in match nothing)."""
    values = context.get(token[1]) if context is not None else None
    if values is not None and len(values) == 1:
        return values[0]
    return token[2]


def text_of(tokens: Template, context: Context | None) -> str | None:
    """The template as plain text (for the exact-match operators), or None if a variable has
    no value."""
    out: list[str] = []
    for t in tokens:
        if isinstance(t, str):
            out.append(t)
        elif t[0] == "=":
            out.append(t[1])
        else:
            value = _variable(t, context)  # type: ignore[arg-type]
            if value is None:
                return None
            out.append(value)
    return "".join(out)


def regex_of(tokens: Template, context: Context | None, *, arn: bool = False) -> str | None:
    """The template as a regular expression: `*` and `?` in its literal text are wildcards;
    variables' values and ${*} ${?} ${$} are literal. With `arn`, a wildcard before the fifth
    colon stays inside its ARN part (ArnLike's segment-wise matching), so a pattern of fewer
    parts than the ARN matches nothing."""
    out: list[str] = []
    colons = 0
    # A lone "*" stands for any ARN; otherwise ARN parts are matched one by one.
    segmented = arn and tokens != ("*",)
    for t in tokens:
        if isinstance(t, str):
            for ch in t:
                inside = segmented and colons < 5
                if ch == "*":
                    out.append("[^:]*" if inside else ".*")
                elif ch == "?":
                    out.append("[^:]" if inside else ".")
                else:
                    colons += ch == ":"
                    out.append(re.escape(ch))
        elif t[0] == "=":
            out.append(re.escape(t[1]))
        else:
            value = _variable(t, context)  # type: ignore[arg-type]
            if value is None:
                return None
            colons += value.count(":")
            out.append(re.escape(value))
    return "".join(out)


@lru_cache(maxsize=4096)
def compiled(source: str, ignore_case: bool = False) -> re.Pattern[str]:
    """One compiled pattern per source (DOTALL: a resource or value with a newline in it must
    still match `*`, or a Deny could be stepped around)."""
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def has_wildcard(tokens: Template) -> bool:
    return any(isinstance(t, str) and ("*" in t or "?" in t) for t in tokens)


# -- operand types --------------------------------------------------------------------------------


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def instant(value: str) -> float | None:
    """A date as IAM reads one: epoch seconds, or ISO 8601 (no zone means UTC)."""
    text = value.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            return float(text)
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


# -- operators ----------------------------------------------------------------------------------

# Each base operator: its family, whether it is negated, and for the ordered families the test.
_ORDER: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negated: the match is equality, then inverted
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}

OPERATORS: dict[str, tuple[str, bool]] = {
    "stringequals": ("string", False),
    "stringnotequals": ("string", True),
    "stringequalsignorecase": ("string-ci", False),
    "stringnotequalsignorecase": ("string-ci", True),
    "stringlike": ("string-like", False),
    "stringnotlike": ("string-like", True),
    "arnequals": ("arn", False),
    "arnlike": ("arn", False),
    "arnnotequals": ("arn", True),
    "arnnotlike": ("arn", True),
    "bool": ("bool", False),
    "binaryequals": ("string", False),
    "ipaddress": ("ip", False),
    "notipaddress": ("ip", True),
    "null": ("null", False),
    **{f"numeric{k.lower()}": ("numeric:" + k, k == "NotEquals") for k in _ORDER},
    **{f"date{k.lower()}": ("date:" + k, k == "NotEquals") for k in _ORDER},
}

# Families whose values may hold policy variables (AWS: String, ARN and Bool operators).
_VARIABLE_FAMILIES = {"string", "string-ci", "string-like", "arn", "bool"}


def split_operator(operator: str) -> tuple[str | None, str, bool]:
    """("ForAllValues:StringLikeIfExists") -> ("forallvalues", "stringlike", True); raises
    UnknownOperator for anything IAM would not accept."""
    qualifier: str | None = None
    name = operator
    head, sep, tail = operator.partition(":")
    if sep:
        qualifier = head.lower()
        if qualifier not in ("forallvalues", "foranyvalue"):
            raise UnknownOperator(operator)
        name = tail
    lowered = name.lower()
    if_exists = lowered.endswith("ifexists") and lowered != "ifexists"
    base = lowered[: -len("ifexists")] if if_exists else lowered
    if base not in OPERATORS or (if_exists and base == "null"):
        raise UnknownOperator(operator)
    return qualifier, base, if_exists


@dataclass(frozen=True, eq=False)
class Condition:
    """One key of one operator of a statement's Condition block."""

    operator: str  # as written, e.g. "ForAnyValue:StringLike"
    key: str  # lower-cased
    values: tuple[str, ...]  # as written (bool and numbers as their JSON text)
    qualifier: str | None  # "forallvalues" | "foranyvalue" | None
    negated: bool
    if_exists: bool
    family: str
    _static: tuple[object, ...]  # the values compiled once, or () when a variable is in them
    _templates: tuple[Template, ...]
    _match: Callable[[str], bool] | None = None  # the matcher over `_static`, built once

    def holds(self, context: Context) -> bool:
        present = context.get(self.key)
        if self.family == "null":
            missing = not present
            return any((v.lower() == "true") == missing for v in self.values)
        if not present:
            if self.if_exists or self.qualifier == "forallvalues":
                return True
            if self.qualifier == "foranyvalue":
                return False
            return self.negated
        match = self._match
        if match is None:
            operands = self._resolve(context)
            if not operands:
                return False  # every value was a variable without a value
            match = self._matcher(operands)
        if self.qualifier == "forallvalues":
            return all(match(v) != self.negated for v in present)
        if self.qualifier == "foranyvalue":
            return any(match(v) != self.negated for v in present)
        return any(match(v) for v in present) != self.negated

    def _resolve(self, context: Context) -> tuple[object, ...]:
        return tuple(c for c in (_operand(self.family, t, context) for t in self._templates) if c is not None)

    def _matcher(self, operands: tuple[object, ...]) -> Callable[[str], bool]:
        family = self.family
        if family == "string":
            return lambda v: v in operands
        if family == "string-ci":
            return lambda v: v.lower() in operands
        if family in ("string-like", "arn"):
            patterns = [p for p in operands if isinstance(p, re.Pattern)]
            return lambda v: any(p.fullmatch(v) is not None for p in patterns)
        if family == "bool":
            return lambda v: v.lower() in operands
        if family == "ip":
            nets = [n for n in operands if isinstance(n, ipaddress.IPv4Network | ipaddress.IPv6Network)]

            def in_networks(v: str) -> bool:
                addr = _address(v)
                return addr is not None and any(addr.version == n.version and addr in n for n in nets)

            return in_networks
        kind, _, order = family.partition(":")
        test = _ORDER[order]
        read = _number if kind == "numeric" else instant
        numbers = [n for n in operands if isinstance(n, float)]

        def ordered(v: str) -> bool:
            value = read(v)
            return value is not None and any(test(value, n) for n in numbers)

        return ordered


def _operand(family: str, tokens: Template, context: Context | None) -> object | None:
    """One policy value ready to compare, or None where it cannot match anything (a variable
    without a value, a number that is not one)."""
    if family in ("string-like", "arn"):
        source = regex_of(tokens, context, arn=family == "arn")
        return None if source is None else compiled(source)
    text = text_of(tokens, context)
    if text is None:
        return None
    if family == "string":
        return text
    if family in ("string-ci", "bool"):
        return text.lower()
    if family == "ip":
        return _network(text)
    if family.startswith("numeric"):
        return _number(text)
    if family.startswith("date"):
        return instant(text)
    return text


def compile_condition(operator: str, key: str, values: tuple[str, ...], *, variables: bool) -> Condition:
    """Compile one condition; raises UnknownOperator."""
    qualifier, base, if_exists = split_operator(operator)
    family, negated = OPERATORS[base]
    substitutes = variables and family in _VARIABLE_FAMILIES
    templates = tuple(template(v, substitutes) for v in values)
    static: tuple[object, ...] = ()
    if family != "null" and all(is_static(t) for t in templates):
        static = tuple(c for c in (_operand(family, t, None) for t in templates) if c is not None)
        if not static:
            # No value can match: keep one that never does, so `holds` does not resolve again.
            static = (_NEVER,)
    condition = Condition(
        operator=operator,
        key=key.lower(),
        values=values,
        qualifier=qualifier,
        negated=negated,
        if_exists=if_exists,
        family=family,
        _static=static,
        _templates=templates,
    )
    if static:
        object.__setattr__(condition, "_match", condition._matcher(static))
    return condition


_NEVER = object()
