"""The tokenizer shared by every kind of expression: names, `#name` and `:value` placeholders,
list indexes, punctuation and comparators. Keywords (AND, SET, BETWEEN...) are NAME tokens
that the parser recognises case-insensitively, so that an attribute called `Set` inside a
condition is still just a name. Hand-written: one pass over the text, no regular expressions."""

from __future__ import annotations

from dataclasses import dataclass

from stratus.tables.errors import ValidationException

NAME = "name"  # a bare attribute name, keyword or function name
NAME_REF = "#"  # an ExpressionAttributeNames placeholder
VALUE_REF = ":"  # an ExpressionAttributeValues placeholder
NUMBER = "number"  # digits, as a list index
PUNCT = "punct"  # ( ) [ ] , . = <> < <= > >= + -
EOF = "<EOF>"

_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD = _WORD_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\r\n")
_SINGLE = frozenset("()[],.=+-")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


def syntax_error(kind: str, text: str, tokens: list[Token], index: int) -> ValidationException:
    """DynamoDB's "Syntax error; token: "x", near: "a x b"": the offending token and the text
    from the token before it to the token after it."""
    token = tokens[index]
    shown = token.text if token.kind != EOF else EOF
    first = tokens[index - 1].start if index > 0 else token.start
    after = index + 1
    last = tokens[after].end if after < len(tokens) and tokens[after].kind != EOF else token.end
    near = text[first:last]
    return ValidationException(f'Invalid {kind}: Syntax error; token: "{shown}", near: "{near}"')


def tokenize(text: str, kind: str) -> list[Token]:
    """The tokens of `text`, ending with an EOF token. `kind` names the expression in errors."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _SPACE:
            i += 1
            continue
        start = i
        if c in _WORD_START:
            i += 1
            while i < n and text[i] in _WORD:
                i += 1
            tokens.append(Token(NAME, text[start:i], start, i))
        elif c == "#" or c == ":":
            i += 1
            while i < n and text[i] in _WORD:
                i += 1
            if i == start + 1:
                tokens.append(Token(PUNCT, c, start, i))
                tokens.append(Token(EOF, "", n, n))
                raise syntax_error(kind, text, tokens, len(tokens) - 2)
            tokens.append(Token(NAME_REF if c == "#" else VALUE_REF, text[start:i], start, i))
        elif c in _DIGITS:
            i += 1
            while i < n and text[i] in _DIGITS:
                i += 1
            tokens.append(Token(NUMBER, text[start:i], start, i))
        elif c in _SINGLE:
            i += 1
            tokens.append(Token(PUNCT, c, start, i))
        elif c == "<":
            i += 1
            if i < n and text[i] in "=>":
                i += 1
            tokens.append(Token(PUNCT, text[start:i], start, i))
        elif c == ">":
            i += 1
            if i < n and text[i] == "=":
                i += 1
            tokens.append(Token(PUNCT, text[start:i], start, i))
        else:
            # A character no token starts with: reported as the token it would have begun.
            tokens.append(Token(PUNCT, c, start, start + 1))
            tokens.append(Token(EOF, "", n, n))
            raise syntax_error(kind, text, tokens, len(tokens) - 2)
    tokens.append(Token(EOF, "", n, n))
    return tokens
