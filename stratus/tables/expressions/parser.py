"""A recursive-descent parser for DynamoDB's expressions, one grammar for all of them:

    condition  := or
    or         := and (OR and)*
    and        := not (AND not)*
    not        := NOT not | primary
    primary    := "(" condition ")" | function "(" operands ")"
                | operand comparator operand | operand BETWEEN operand AND operand
                | operand IN "(" operand ("," operand)* ")"
    operand    := path | :value | size "(" path ")"
    path       := (name | #name) ("." (name | #name) | "[" digits "]")*
    update     := (SET set ("," set)* | REMOVE path ("," path)* | ADD path :value ("," ...)*
                  | DELETE path :value ("," ...)*)+          each clause at most once
    set        := path "=" value (("+" | "-") value)?
    value      := path | :value | if_not_exists "(" path "," value ")"
                | list_append "(" value "," value ")"
    projection := path ("," path)*

Placeholders are substituted as they are read, so the trees hold names and values only.
Keywords are case-insensitive, function names are not (as in DynamoDB)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stratus.tables.errors import ValidationException
from stratus.tables.expressions import tree
from stratus.tables.expressions import update as up
from stratus.tables.expressions.paths import MAX_DEPTH, Path, check_overlaps
from stratus.tables.expressions.reserved import is_reserved
from stratus.tables.expressions.substitutions import Substitutions
from stratus.tables.expressions.tokens import (
    EOF,
    NAME,
    NAME_REF,
    NUMBER,
    PUNCT,
    VALUE_REF,
    Token,
    syntax_error,
    tokenize,
)
from stratus.tables.values import AttributeValue, compare

COMPARATORS = frozenset(("=", "<>", "<", "<=", ">", ">="))
CONDITION_FUNCTIONS = frozenset(
    ("attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains")
)
UPDATE_FUNCTIONS = frozenset(("if_not_exists", "list_append"))
ARITY = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
    "if_not_exists": 2,
    "list_append": 2,
}
TYPE_NAMES = frozenset(("S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"))
ORDERED = frozenset(("S", "N", "B"))
IN_LIMIT = 100
# ADD's and DELETE's messages name the type in words.
LONG_TYPE = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "L": "LIST",
    "M": "MAP",
}
MISUSED = "The function is not allowed to be used this way in an expression; function: "


def _type(value: AttributeValue) -> str:
    return next(iter(value), "")


def _shown_value(value: AttributeValue) -> str:
    kind = _type(value)
    return f"AttributeValue: {{{kind}:{value.get(kind)}}}"


class Parser:
    def __init__(self, text: str, subs: Substitutions, kind: str) -> None:
        self.text = text
        self.subs = subs
        self.kind = kind
        if not text.strip():
            raise ValidationException(f"Invalid {kind}: The expression can not be empty;")
        self.tokens = tokenize(text, kind)
        self.i = 0

    # --- tokens -------------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != EOF:
            self.i += 1
        return token

    def error(self, at: int | None = None) -> ValidationException:
        return syntax_error(self.kind, self.text, self.tokens, self.i if at is None else at)

    def fail(self, message: str) -> ValidationException:
        return ValidationException(f"Invalid {self.kind}: {message}")

    def is_punct(self, text: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == PUNCT and token.text == text

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == NAME and token.text.upper() == word

    def expect_punct(self, text: str) -> None:
        if not self.is_punct(text):
            raise self.error()
        self.advance()

    def expect_end(self) -> None:
        if self.peek().kind != EOF:
            raise self.error()

    def is_call(self) -> bool:
        return self.peek().kind == NAME and self.is_punct("(", 1)

    # --- paths and operands -------------------------------------------------------------------

    def element(self) -> str:
        token = self.peek()
        if token.kind == NAME:
            if is_reserved(token.text):
                raise self.fail(f"Attribute name is a reserved keyword; reserved keyword: {token.text}")
            self.advance()
            return token.text
        if token.kind == NAME_REF:
            self.advance()
            return self.subs.name(token.text, self.kind)
        raise self.error()

    def path(self) -> Path:
        steps: list[str | int] = [self.element()]
        while True:
            if self.is_punct("."):
                self.advance()
                steps.append(self.element())
            elif self.is_punct("["):
                self.advance()
                token = self.peek()
                if token.kind != NUMBER:
                    raise self.error()
                self.advance()
                steps.append(int(token.text))
                self.expect_punct("]")
            else:
                break
        if len(steps) > MAX_DEPTH:
            raise self.fail(f"The document path has too many nesting levels; nesting levels: {len(steps)}")
        return tuple(steps)

    def value_ref(self) -> tuple[AttributeValue, str]:
        token = self.peek()
        if token.kind != VALUE_REF:
            raise self.error()
        self.advance()
        return self.subs.value(token.text, self.kind), token.text

    def call_arguments(self, name: str, argument: Callable[[], object]) -> list[Any]:
        """The operands of a function call, `argument` parsing one; its arity checked."""
        self.expect_punct("(")
        arguments: list[Any] = []
        if not self.is_punct(")"):
            while True:
                arguments.append(argument())
                if self.is_punct(","):
                    self.advance()
                    continue
                break
        self.expect_punct(")")
        if len(arguments) != ARITY[name]:
            raise self.fail(
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(arguments)}"
            )
        return arguments

    def require_path(self, name: str, operand: object) -> Path:
        if isinstance(operand, tree.PathOperand | up.PathValue):
            return operand.path
        raise self.fail(f"Operator or function requires a document path; operator or function: {name}")

    def wrong_operand(self, name: str, type_name: str) -> ValidationException:
        return self.fail(
            f"Incorrect operand type for operator or function; operator or function: {name}, "
            f"operand type: {type_name}"
        )

    def operand(self) -> tree.Operand:
        token = self.peek()
        if token.kind == VALUE_REF:
            literal, placeholder = self.value_ref()
            return tree.ValueOperand(literal, placeholder)
        if self.is_call():
            name = token.text
            if name == "size":
                self.advance()
                (argument,) = self.call_arguments(name, self.operand)
                return tree.SizeOperand(self.require_path(name, argument))
            if name in CONDITION_FUNCTIONS:
                raise self.fail(MISUSED + name)
            if name in UPDATE_FUNCTIONS:
                raise self.fail(f"The function is not allowed in a condition expression; function: {name}")
            raise self.fail(f"Invalid function name; function: {name}")
        if token.kind in (NAME, NAME_REF):
            return tree.PathOperand(self.path())
        raise self.error()

    # --- conditions ---------------------------------------------------------------------------

    def condition(self) -> tree.Condition:
        left = self.conjunction()
        while self.is_keyword("OR"):
            self.advance()
            left = tree.Or(left, self.conjunction())
        return left

    def conjunction(self) -> tree.Condition:
        left = self.negation()
        while self.is_keyword("AND"):
            self.advance()
            left = tree.And(left, self.negation())
        return left

    def negation(self) -> tree.Condition:
        if self.is_keyword("NOT"):
            self.advance()
            return tree.Not(self.negation())
        return self.primary()

    def primary(self) -> tree.Condition:
        if self.is_punct("("):
            self.advance()
            if self.is_punct("(") and self._closes_together():
                raise self.fail("The expression has redundant parentheses;")
            inner = self.condition()
            self.expect_punct(")")
            return inner
        if self.is_call() and self.peek().text in CONDITION_FUNCTIONS:
            return self.function_condition()
        left = self.operand()
        token = self.peek()
        if token.kind == PUNCT and token.text in COMPARATORS:
            self.advance()
            right = self.operand()
            if token.text not in ("=", "<>"):
                self.check_ordered(token.text, left, right)
            return tree.Comparison(token.text, left, right)
        if self.is_keyword("BETWEEN"):
            self.advance()
            low = self.operand()
            if not self.is_keyword("AND"):
                raise self.error()
            self.advance()
            high = self.operand()
            self.check_ordered("BETWEEN", left, low, high)
            if isinstance(low, tree.ValueOperand) and isinstance(high, tree.ValueOperand):
                order = compare(low.literal, high.literal)
                if order is not None and order > 0:
                    raise self.fail(
                        "The BETWEEN operator requires upper bound to be greater than or equal to lower "
                        f"bound; lower operand: {_shown_value(low.literal)}, upper operand: "
                        f"{_shown_value(high.literal)}"
                    )
            return tree.Between(left, low, high)
        if self.is_keyword("IN"):
            self.advance()
            self.expect_punct("(")
            choices = [self.operand()]
            while self.is_punct(","):
                self.advance()
                choices.append(self.operand())
            self.expect_punct(")")
            if len(choices) > IN_LIMIT:
                raise self.fail(
                    f"The IN operator is provided with too many operands; number of operands: {len(choices)}"
                )
            return tree.In(left, tuple(choices))
        if isinstance(left, tree.SizeOperand) and token.kind == EOF:
            raise self.fail(MISUSED + "size")
        raise self.error()

    def _closes_together(self) -> bool:
        """Whether the "(" just read and the "(" after it close at adjacent ")" tokens: "((c))"."""
        depth, j = 0, self.i
        while j < len(self.tokens):
            token = self.tokens[j]
            if token.kind == PUNCT and token.text == "(":
                depth += 1
            elif token.kind == PUNCT and token.text == ")":
                depth -= 1
                if depth == 0:
                    after = self.tokens[j + 1] if j + 1 < len(self.tokens) else token
                    return after.kind == PUNCT and after.text == ")"
            j += 1
        return False

    def check_ordered(self, op: str, *operands: tree.Operand) -> None:
        for operand in operands:
            if isinstance(operand, tree.ValueOperand):
                kind = _type(operand.literal)
                if kind not in ORDERED:
                    raise self.wrong_operand(op, kind)

    def function_condition(self) -> tree.Condition:
        name = self.advance().text
        arguments: list[tree.Operand] = self.call_arguments(name, self.operand)
        if name in ("attribute_exists", "attribute_not_exists"):
            return tree.Exists(self.require_path(name, arguments[0]), name == "attribute_not_exists")
        if name == "attribute_type":
            path = self.require_path(name, arguments[0])
            type_name = arguments[1]
            if isinstance(type_name, tree.ValueOperand):
                kind = _type(type_name.literal)
                if kind != "S":
                    raise self.wrong_operand(name, kind)
                if type_name.literal["S"] not in TYPE_NAMES:
                    raise self.fail(
                        f"Invalid attribute type name found; type: {type_name.literal['S']}, "
                        "valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }"
                    )
            return tree.AttributeType(path, type_name)
        if name == "begins_with":
            for argument in arguments:
                if isinstance(argument, tree.ValueOperand) and _type(argument.literal) not in ("S", "B"):
                    raise self.wrong_operand(name, _type(argument.literal))
            return tree.BeginsWith(arguments[0], arguments[1])
        return tree.Contains(arguments[0], arguments[1])

    # --- updates ------------------------------------------------------------------------------

    def update_value(self) -> up.UpdateOperand:
        token = self.peek()
        if token.kind == VALUE_REF:
            literal, placeholder = self.value_ref()
            return up.LiteralValue(literal, placeholder)
        if self.is_call():
            name = token.text
            if name == "if_not_exists":
                self.advance()
                first, default = self.call_arguments(name, self.update_value)
                return up.IfNotExists(self.require_path(name, first), default)
            if name == "list_append":
                self.advance()
                arguments = self.call_arguments(name, self.update_value)
                for argument in arguments:
                    if isinstance(argument, up.LiteralValue) and _type(argument.literal) != "L":
                        raise self.wrong_operand(name, _type(argument.literal))
                return up.ListAppend(arguments[0], arguments[1])
            if name in CONDITION_FUNCTIONS or name == "size":
                raise self.fail(f"The function is not allowed in an update expression; function: {name}")
            raise self.fail(f"Invalid function name; function: {name}")
        if token.kind in (NAME, NAME_REF):
            return up.PathValue(self.path())
        raise self.error()

    def set_action(self) -> up.SetAction:
        path = self.path()
        self.expect_punct("=")
        value = self.update_value()
        if self.is_punct("+") or self.is_punct("-"):
            op = self.advance().text
            right = self.update_value()
            for operand in (value, right):
                if isinstance(operand, up.LiteralValue) and _type(operand.literal) != "N":
                    raise self.wrong_operand(op, _type(operand.literal))
            value = up.Arithmetic(op, value, right)
        return up.SetAction(path, value)

    def set_operand_action(self, clause: str) -> tuple[Path, AttributeValue]:
        path = self.path()
        literal, _ = self.value_ref()
        kind = _type(literal)
        allowed = ("N", "SS", "NS", "BS") if clause == "ADD" else ("SS", "NS", "BS")
        if kind not in allowed:
            raise self.fail(
                "Incorrect operand type for operator or function; "
                f"operator: {clause}, operand type: {LONG_TYPE.get(kind, kind)}"
            )
        return path, literal

    def update(self) -> up.Update:
        sets: list[up.SetAction] = []
        removes: list[Path] = []
        adds: list[up.AddAction] = []
        deletes: list[up.DeleteAction] = []
        seen: set[str] = set()
        while self.peek().kind != EOF:
            token = self.peek()
            clause = token.text.upper() if token.kind == NAME else ""
            if clause not in ("SET", "REMOVE", "ADD", "DELETE"):
                raise self.error()
            if clause in seen:
                raise self.fail(f'The "{clause}" section can only be used once in an update expression;')
            seen.add(clause)
            self.advance()
            while True:
                if clause == "SET":
                    sets.append(self.set_action())
                elif clause == "REMOVE":
                    removes.append(self.path())
                elif clause == "ADD":
                    adds.append(up.AddAction(*self.set_operand_action(clause)))
                else:
                    deletes.append(up.DeleteAction(*self.set_operand_action(clause)))
                if not self.is_punct(","):
                    break
                self.advance()
        paths = [a.path for a in sets] + removes + [a.path for a in adds] + [a.path for a in deletes]
        check_overlaps(paths, self.kind)
        return up.Update(tuple(sets), tuple(removes), tuple(adds), tuple(deletes))

    # --- projections --------------------------------------------------------------------------

    def projection(self) -> tuple[Path, ...]:
        paths = [self.path()]
        while self.is_punct(","):
            self.advance()
            paths.append(self.path())
        self.expect_end()
        check_overlaps(paths, self.kind)
        return tuple(paths)
