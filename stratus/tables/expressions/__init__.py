"""DynamoDB's expression language: ConditionExpression, FilterExpression,
KeyConditionExpression, UpdateExpression and ProjectionExpression.

Pure, no I/O: parse once per request (placeholders substituted while parsing, so the trees
hold only names and values), then evaluate per item. Errors are `ValidationException`s worded
as DynamoDB words them."""

from __future__ import annotations

from stratus.tables.expressions import tree
from stratus.tables.expressions.keys import KeyCondition, key_condition
from stratus.tables.expressions.parser import Parser
from stratus.tables.expressions.paths import Path
from stratus.tables.expressions.project import project
from stratus.tables.expressions.substitutions import Substitutions
from stratus.tables.expressions.update import Update, apply_update
from stratus.tables.values import Item

Condition = tree.Condition

__all__ = [
    "Condition",
    "KeyCondition",
    "Path",
    "Substitutions",
    "Update",
    "apply_update",
    "evaluate",
    "parse_condition",
    "parse_key_condition",
    "parse_projection",
    "parse_update",
    "project",
]


def parse_condition(text: str, subs: Substitutions, *, kind: str = "ConditionExpression") -> Condition:
    """A ConditionExpression (or, with `kind`, a FilterExpression) parsed."""
    parser = Parser(text, subs, kind)
    condition = parser.condition()
    parser.expect_end()
    return condition


def parse_update(text: str, subs: Substitutions) -> Update:
    return Parser(text, subs, "UpdateExpression").update()


def parse_projection(text: str, subs: Substitutions) -> tuple[Path, ...]:
    return Parser(text, subs, "ProjectionExpression").projection()


def parse_key_condition(
    text: str, subs: Substitutions, *, hash_key: str | None = None, range_key: str | None = None
) -> KeyCondition:
    """A KeyConditionExpression. Given the key schema of the table or index queried, the names
    are held to it ("Query condition missed key schema element: pk")."""
    return key_condition(
        parse_condition(text, subs, kind="KeyConditionExpression"), hash_key=hash_key, range_key=range_key
    )


def evaluate(condition: Condition, item: Item | None) -> bool:
    """Whether `item` satisfies `condition`; an absent item is `{}`."""
    return condition.holds(item if item is not None else {})
