"""One request's ExpressionAttributeNames and ExpressionAttributeValues, and which of them the
request's expressions used: DynamoDB refuses a request that defines a placeholder none of its
expressions uses, and an expression that uses one the request does not define."""

from __future__ import annotations

from collections.abc import Mapping

from stratus.tables.errors import ValidationException
from stratus.tables.values import AttributeValue, check_value


def _check_keys(keys: Mapping[str, object], sigil: str, what: str) -> None:
    for key in keys:
        if len(key) < 2 or key[0] != sigil or not all(c.isalnum() or c == "_" for c in key[1:]):
            raise ValidationException(f'{what} contains invalid key: Syntax error; key: "{key}"')


def _checked(key: str, value: AttributeValue) -> AttributeValue:
    try:
        return check_value(value)
    except ValidationException as error:
        raise ValidationException(
            f"ExpressionAttributeValues contains invalid value: {error.message} for key {key}"
        ) from None


class Substitutions:
    """The placeholders of one request. Parsing marks what it resolves; `check_all_used`,
    called once every expression of the request is parsed, refuses the rest."""

    __slots__ = ("_names", "_used_names", "_used_values", "_values")

    def __init__(self, names: Mapping[str, str] | None, values: Mapping[str, AttributeValue] | None) -> None:
        if names is not None:
            if not names:
                raise ValidationException("ExpressionAttributeNames must not be empty")
            _check_keys(names, "#", "ExpressionAttributeNames")
        if values is not None:
            if not values:
                raise ValidationException("ExpressionAttributeValues must not be empty")
            _check_keys(values, ":", "ExpressionAttributeValues")
        self._names: Mapping[str, str] = names or {}
        # Checked once here (numbers in canonical form), so evaluation may trust every value.
        self._values: Mapping[str, AttributeValue] = {k: _checked(k, v) for k, v in (values or {}).items()}
        self._used_names: set[str] = set()
        self._used_values: set[str] = set()

    def name(self, placeholder: str, kind: str) -> str:
        try:
            resolved = self._names[placeholder]
        except KeyError:
            raise ValidationException(
                f"Invalid {kind}: An expression attribute name used in the document path is not "
                f"defined; attribute name: {placeholder}"
            ) from None
        self._used_names.add(placeholder)
        return resolved

    def value(self, placeholder: str, kind: str) -> AttributeValue:
        try:
            resolved = self._values[placeholder]
        except KeyError:
            raise ValidationException(
                f"Invalid {kind}: An expression attribute value used in expression is not "
                f"defined; attribute value: {placeholder}"
            ) from None
        self._used_values.add(placeholder)
        return resolved

    def check_all_used(self) -> None:
        unused_names = sorted(set(self._names) - self._used_names)
        if unused_names:
            raise ValidationException(
                "Value provided in ExpressionAttributeNames unused in expressions: "
                f"keys: {{{', '.join(unused_names)}}}"
            )
        unused_values = sorted(set(self._values) - self._used_values)
        if unused_values:
            raise ValidationException(
                "Value provided in ExpressionAttributeValues unused in expressions: "
                f"keys: {{{', '.join(unused_values)}}}"
            )
