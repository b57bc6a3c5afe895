"""KeyConditionExpression: a condition of one shape only, `=` on the partition key and at most
one condition on the sort key (=, <, <=, >, >=, BETWEEN, begins_with), joined by AND in either
order. Parsed by the condition grammar, then held to that shape with DynamoDB's messages."""

from __future__ import annotations

from dataclasses import dataclass

from stratus.tables.errors import ValidationException
from stratus.tables.expressions import tree
from stratus.tables.values import AttributeValue

KIND = "KeyConditionExpression"
NOT_SUPPORTED = "Query key condition not supported"
FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class KeyCondition:
    hash_name: str
    hash_value: AttributeValue
    range_name: str | None
    range_op: str | None  # "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"
    range_values: tuple[AttributeValue, ...]


@dataclass(frozen=True)
class _Part:
    name: str
    op: str
    values: tuple[AttributeValue, ...]


def _invalid_operator(op: str) -> ValidationException:
    return ValidationException(f"Invalid operator used in {KIND}: {op}")


def _flatten(condition: tree.Condition, into: list[tree.Condition]) -> None:
    if isinstance(condition, tree.And):
        _flatten(condition.left, into)
        _flatten(condition.right, into)
    elif isinstance(condition, tree.Or):
        raise _invalid_operator("OR")
    elif isinstance(condition, tree.Not):
        raise _invalid_operator("NOT")
    else:
        into.append(condition)


def _name(operand: tree.Operand) -> str | None:
    if isinstance(operand, tree.PathOperand):
        if len(operand.path) != 1:
            raise ValidationException(NOT_SUPPORTED)
        return str(operand.path[0])
    if isinstance(operand, tree.SizeOperand):
        raise ValidationException(NOT_SUPPORTED)
    return None


def _literal(operand: tree.Operand) -> AttributeValue:
    if isinstance(operand, tree.ValueOperand):
        return operand.literal
    raise ValidationException(NOT_SUPPORTED)


def _part(condition: tree.Condition) -> _Part:
    if isinstance(condition, tree.Comparison):
        if condition.op == "<>":
            raise _invalid_operator("<>")
        left, right = _name(condition.left), _name(condition.right)
        if left is not None and right is not None:
            raise ValidationException(
                f"Invalid condition in {KIND}: multiple attribute names used in one condition"
            )
        if left is not None:
            return _Part(left, condition.op, (_literal(condition.right),))
        if right is not None:
            return _Part(right, FLIPPED[condition.op], (_literal(condition.left),))
        raise ValidationException(NOT_SUPPORTED)
    if isinstance(condition, tree.Between):
        name = _name(condition.operand)
        if name is None:
            raise ValidationException(NOT_SUPPORTED)
        return _Part(name, "BETWEEN", (_literal(condition.low), _literal(condition.high)))
    if isinstance(condition, tree.BeginsWith):
        name = _name(condition.operand)
        if name is None:
            raise ValidationException(NOT_SUPPORTED)
        return _Part(name, "begins_with", (_literal(condition.prefix),))
    if isinstance(condition, tree.In):
        raise _invalid_operator("IN")
    if isinstance(condition, tree.Exists):
        raise _invalid_operator("attribute_not_exists" if condition.negate else "attribute_exists")
    if isinstance(condition, tree.AttributeType):
        raise _invalid_operator("attribute_type")
    if isinstance(condition, tree.Contains):
        raise _invalid_operator("contains")
    raise ValidationException(NOT_SUPPORTED)


def key_condition(
    condition: tree.Condition, *, hash_key: str | None = None, range_key: str | None = None
) -> KeyCondition:
    """The key condition in `condition`. With the key schema (`hash_key`, `range_key`) the
    names are held to it; without it, the `=` condition is taken as the partition key's (the
    first one when both are `=`), and the table store checks the names."""
    conditions: list[tree.Condition] = []
    _flatten(condition, conditions)
    parts = [_part(c) for c in conditions]
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise ValidationException("KeyConditionExpressions must only contain one condition per key")
    if len(parts) > 2:
        raise ValidationException(NOT_SUPPORTED)
    if hash_key is not None:
        hashes = [p for p in parts if p.name == hash_key]
        if not hashes:
            raise ValidationException(f"Query condition missed key schema element: {hash_key}")
        first = hashes[0]
    else:
        equal = [p for p in parts if p.op == "="]
        first = equal[0] if equal else parts[0]
    if first.op != "=":
        raise ValidationException(NOT_SUPPORTED)
    rest = [p for p in parts if p is not first]
    if not rest:
        return KeyCondition(first.name, first.values[0], None, None, ())
    second = rest[0]
    if hash_key is not None and second.name != range_key:
        if range_key is None:
            raise ValidationException(NOT_SUPPORTED)
        raise ValidationException(f"Query condition missed key schema element: {range_key}")
    return KeyCondition(first.name, first.values[0], second.name, second.op, second.values)
