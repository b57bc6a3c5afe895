"""DynamoDB's attribute values, as boto3's low-level client has them (`{"S": "x"}`, `{"N": "1"}`,
`{"B": b"..."}`, sets, `M`, `L`, `NULL`, `BOOL`): validation with DynamoDB's messages, numbers
(38 significant digits, DynamoDB's range, its canonical text), ordering and equality as the
comparison operators see them, item sizes by DynamoDB's rules, an order-preserving byte encoding
of key values (so SQL compares BLOBs in DynamoDB's key order), and the stored JSON form.

Pure: no I/O. Items are stored as DynamoDB's own JSON (blobs in base64), which is what its wire
and its stream records carry, so a stored item is one JSON text to read back.
"""

from __future__ import annotations

import base64
import decimal
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from stratus.tables.errors import ValidationException

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32
MAX_DIGITS = 38
# DynamoDB's range: magnitudes from 1E-130 to 9.9999999999999999999999999999999999999E+125.
_MAX_ADJUSTED = 125  # the exponent of the leading digit
_MIN_ADJUSTED = -130

TYPES = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
SET_TYPES = {"SS": "S", "NS": "N", "BS": "B"}
KEY_TYPES = frozenset({"S", "N", "B"})
_SET_NAMES = {"SS": "string set", "NS": "number set", "BS": "binary set"}

_CONTEXT = decimal.Context(prec=200, Emax=999999, Emin=-999999)

INVALID = "One or more parameter values were invalid: "


def _number(text: Any) -> decimal.Decimal:
    """`text` as a DynamoDB number, refused as DynamoDB refuses it."""
    if not isinstance(text, str):
        raise ValidationException("A value provided cannot be converted into a number")
    stripped = text.strip()
    try:
        value = decimal.Decimal(stripped, context=_CONTEXT) if stripped else None
    except decimal.InvalidOperation:
        value = None
    if value is None or not value.is_finite() or "_" in stripped:
        raise ValidationException("A value provided cannot be converted into a number")
    if value.is_zero():
        return decimal.Decimal(0)
    value = value.normalize(_CONTEXT)
    if len(value.as_tuple().digits) > MAX_DIGITS:
        raise ValidationException("Attempting to store more than 38 significant digits in a Number")
    if value.adjusted() > _MAX_ADJUSTED:
        raise ValidationException(
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
        )
    if value.adjusted() < _MIN_ADJUSTED:
        raise ValidationException(
            "Number underflow. Attempting to store a number with magnitude smaller than supported range"
        )
    return value


def to_decimal(text: str) -> decimal.Decimal:
    """A number's text as a Decimal (validated)."""
    return _number(text)


def number_text(value: decimal.Decimal) -> str:
    """DynamoDB's canonical text of a number: plain notation, no leading or trailing zeros."""
    if value.is_zero():
        return "0"
    return format(value.normalize(_CONTEXT), "f")


# An integer already in canonical form (most numbers are): no Decimal needed to know it.
_CANONICAL_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}|0")
_CANONICAL_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")


def normalize_number(text: str) -> str:
    """DynamoDB's canonical text of a number as a client gave it ("1.50" -> "1.5", "1E2" -> "100")."""
    if isinstance(text, str) and _CANONICAL_INTEGER.fullmatch(text):
        return text
    return number_text(_number(text))


# -- validation ------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if not isinstance(value, dict) or not value:
        raise ValidationException(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if len(value) > 1:
        raise ValidationException(
            "Supplied AttributeValue has more than one datatypes set, must contain "
            "exactly one of the supported datatypes"
        )
    (kind,) = value
    if kind not in TYPES:
        raise ValidationException(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    return str(kind)


def _shown(kind: str, members: Iterable[Any]) -> str:
    texts = [m.decode("latin-1") if isinstance(m, bytes | bytearray) else str(m) for m in members]
    return "[" + ", ".join(texts) + "]"


def check_value(value: Any, depth: int = 1) -> AttributeValue:
    """`value` checked as DynamoDB checks an attribute value, with its numbers in canonical
    form (a new value where anything changed)."""
    if depth > MAX_DEPTH:
        raise ValidationException("Nesting Levels have exceeded supported limits")
    kind = _kind(value)
    inner = value[kind]
    if kind == "S":
        if not isinstance(inner, str):
            raise ValidationException("Invalid attribute value type")
        return value  # type: ignore[no-any-return]
    if kind == "N":
        text = normalize_number(inner)
        return value if text == inner else {"N": text}  # type: ignore[no-any-return]
    if kind == "B":
        if not isinstance(inner, bytes | bytearray):
            raise ValidationException("Invalid attribute value type")
        return value  # type: ignore[no-any-return]
    if kind == "BOOL":
        if not isinstance(inner, bool):
            raise ValidationException("Invalid attribute value type")
        return value  # type: ignore[no-any-return]
    if kind == "NULL":
        if inner is not True:
            raise ValidationException(INVALID + "Null attribute value types must have the value of true")
        return value  # type: ignore[no-any-return]
    if kind in SET_TYPES:
        if not isinstance(inner, list):
            raise ValidationException("Invalid attribute value type")
        if not inner:
            # DynamoDB's own wording, with its two spaces.
            raise ValidationException(INVALID + f"An {_SET_NAMES[kind]}  may not be empty")
        members: list[Any]
        if kind == "NS":
            members = [normalize_number(m) for m in inner]
            seen: set[Any] = {_number(m) for m in members}
        elif kind == "SS":
            if not all(isinstance(m, str) for m in inner):
                raise ValidationException("Invalid attribute value type")
            members, seen = inner, set(inner)
        else:
            if not all(isinstance(m, bytes | bytearray) for m in inner):
                raise ValidationException("Invalid attribute value type")
            members, seen = inner, {bytes(m) for m in inner}
        if len(seen) != len(members):
            raise ValidationException(
                INVALID + f"Input collection {_shown(kind, inner)} contains duplicates."
            )
        return value if members is inner else {kind: members}  # type: ignore[return-value]
    if kind == "L":
        if not isinstance(inner, list):
            raise ValidationException("Invalid attribute value type")
        checked = [check_value(v, depth + 1) for v in inner]
        changed = any(a is not b for a, b in zip(checked, inner, strict=True))
        return {"L": checked} if changed else value  # type: ignore[return-value]
    if not isinstance(inner, dict):  # M
        raise ValidationException("Invalid attribute value type")
    mapped = {str(k): check_value(v, depth + 1) for k, v in inner.items()}
    changed = any(mapped[k] is not v for k, v in inner.items())
    return {"M": mapped} if changed else value  # type: ignore[return-value]


def check_item(item: Any) -> Item:
    """An item (top-level attributes) checked; numbers in canonical form. The size limit is the
    caller's to check (after an update, say), with `check_size`."""
    if not isinstance(item, dict):
        raise ValidationException("Invalid attribute value type")
    out: Item = {}
    for name, value in item.items():
        if name == "":
            raise ValidationException(INVALID + "An AttributeValue may not contain an empty attribute name")
        out[name] = check_value(value)
    return out


def check_size(item: Item) -> int:
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise ValidationException("Item size has exceeded the maximum allowed size")
    return size


# -- sizes -----------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    if not _CANONICAL_TEXT.fullmatch(text):
        text = normalize_number(text)
    # Canonical text: its significant digits are its digits without sign, point and the
    # zeros around them.
    digits = len(text.replace("-", "").replace(".", "").strip("0")) or 1
    return (digits + 1) // 2 + 1


def value_size(value: AttributeValue) -> int:
    """DynamoDB's size of a value: strings and binaries by their bytes, numbers by one byte per
    two significant digits plus one, NULL and BOOL one byte, lists and maps three bytes of
    overhead plus one per element (and a map's names)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(inner)
    if kind in ("NULL", "BOOL"):
        return 1
    if kind == "SS":
        return sum(len(m.encode()) for m in inner)
    if kind == "NS":
        return sum(_number_size(m) for m in inner)
    if kind == "BS":
        return sum(len(m) for m in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())


def item_size(item: Mapping[str, AttributeValue]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


# -- ordering and equality -------------------------------------------------------------------


def compare(a: AttributeValue, b: AttributeValue) -> int | None:
    """-1, 0 or 1 as DynamoDB orders `a` and `b` (N numerically, S by UTF-8 bytes, B by bytes),
    or None when their types differ or are not ordered."""
    ((ka, va),) = a.items()
    ((kb, vb),) = b.items()
    if ka != kb:
        return None
    if ka == "N":
        m, n = _number(va), _number(vb)
        return (m > n) - (m < n)
    if ka in ("S", "B"):
        x = va.encode() if ka == "S" else bytes(va)
        y = vb.encode() if ka == "S" else bytes(vb)
        return (x > y) - (x < y)
    return None


def equal(a: AttributeValue, b: AttributeValue) -> bool:
    """Whether two values are equal as DynamoDB's `=` sees them: same type, numbers by value,
    sets as sets, lists in order, maps by their members."""
    ((ka, va),) = a.items()
    ((kb, vb),) = b.items()
    if ka != kb:
        return False
    if ka == "N":
        return _number(va) == _number(vb)
    if ka == "NS":
        return {_number(v) for v in va} == {_number(v) for v in vb}
    if ka in ("SS", "BS"):
        return {bytes(v) if ka == "BS" else v for v in va} == {bytes(v) if ka == "BS" else v for v in vb}
    if ka == "L":
        return len(va) == len(vb) and all(equal(x, y) for x, y in zip(va, vb, strict=True))
    if ka == "M":
        return va.keys() == vb.keys() and all(equal(va[k], vb[k]) for k in va)
    if ka == "B":
        return bytes(va) == bytes(vb)
    return bool(va == vb)


def items_equal(a: Mapping[str, AttributeValue], b: Mapping[str, AttributeValue]) -> bool:
    return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)


# -- key encoding ----------------------------------------------------------------------------


def sort_key_bytes(value: AttributeValue) -> bytes:
    """An encoding of an S, N or B key value whose bytewise order is DynamoDB's order of the
    values: S as its UTF-8 bytes, B as itself, N as sign, exponent and digits (negative numbers
    with exponent and digits inverted, and a terminator above any digit, so that a longer
    negative mantissa sorts lower)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return str(inner).encode()
    if kind == "B":
        return bytes(inner)
    if kind != "N":
        raise ValueError(f"{kind} is not a key type")
    number = _number(inner)
    if number.is_zero():
        return b"\x01"
    sign, digits, _ = number.as_tuple()
    exponent = number.adjusted() + 1000  # 870..1125: two bytes, always positive
    text = bytes(48 + d for d in digits)
    if not sign:
        return b"\x02" + exponent.to_bytes(2, "big") + text
    inverted = bytes(48 + 9 - d for d in digits)
    return b"\x00" + (65535 - exponent).to_bytes(2, "big") + inverted + b"\xff"


def prefix_end(prefix: bytes) -> bytes | None:
    """The least byte string above every string starting with `prefix` (None: no bound), for a
    begins_with range `prefix <= key < prefix_end(prefix)`."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


# -- the stored form -------------------------------------------------------------------------


def _base64(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(item: Mapping[str, Any]) -> bytes:
    """An item (or value) as DynamoDB's JSON: blobs in base64."""
    return orjson.dumps(item, default=_base64)


def _blobs(value: AttributeValue) -> AttributeValue:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(m) for m in inner]}
    if kind == "L":
        return {"L": [_blobs(v) for v in inner]}
    if kind == "M":
        return {"M": {k: _blobs(v) for k, v in inner.items()}}
    return value


def loads(text: bytes | str) -> Item:
    """A stored item back as boto3's low-level values (blobs as bytes)."""
    item: Item = orjson.loads(text)
    raw = text.encode() if isinstance(text, str) else text
    if b'"B' not in raw:  # no blob anywhere: nothing to decode
        return item
    return {name: _blobs(value) for name, value in item.items()}
