"""Tokenizer shared by the filter and order_by parsers.

Every token carries its 1-based character position so that each error can point at the
offending text. The lexer never raises anything but `InvalidArgument`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from trackway.errors import InvalidArgument, invalid

TokenKind = Literal["name", "keyword", "string", "number", "op", "(", ")", ",", "end"]
TokenValue = str | int | float | tuple[str | None, str] | None

KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})

# Unquoted names are ASCII on purpose: anything else (spaces, quotes, unicode) goes in
# backticks or double quotes, which keeps the unquoted form unambiguous next to operators.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/:]*")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A number must not run straight into a name character ("1a", "1.2.3").
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]+")
_OPERATORS = (
    ("!=", "!="),
    ("<>", "!="),
    ("<=", "<="),
    (">=", ">="),
    ("=", "="),
    ("<", "<"),
    (">", ">"),
)
_PUNCTUATION: dict[str, TokenKind] = {"(": "(", ")": ")", ",": ","}
_SHOWN = 40


@dataclass(frozen=True)
class Token:
    """One lexeme: its kind, the source text it came from, its position and its value.

    `value` is the upper-cased word for keywords, the canonical operator for `op`, the
    unescaped text for strings, an int or float for numbers, and `(prefix, key)` for
    names (`prefix` is None when the name has no dot).
    """

    kind: TokenKind
    text: str
    pos: int
    value: TokenValue = None


def shown(text: str) -> str:
    """The token text as quoted in error messages, shortened so messages stay bounded.

    Text that starts with its own quote (a string token) is shown as written.
    """
    if len(text) > _SHOWN:
        text = text[: _SHOWN - 3] + "..."
    return text if text[:1] in ("'", '"', "`") else "'" + text + "'"


def syntax_error(field: str, description: str, pos: int) -> InvalidArgument:
    """An InvalidArgument for `field` that ends with the 1-based position."""
    return invalid(field, f"{description} at position {pos}")


def tokenize(text: str, field: str) -> list[Token]:
    """Split `text` into tokens, ending with an `end` token."""
    return _Lexer(text, field).run()


class _Lexer:
    def __init__(self, text: str, field: str) -> None:
        self.text = text
        self.field = field
        self.i = 0
        self.tokens: list[Token] = []

    def run(self) -> list[Token]:
        text = self.text
        while True:
            while self.i < len(text) and text[self.i].isspace():
                self.i += 1
            if self.i >= len(text):
                self.tokens.append(Token("end", "end of input", self.i + 1))
                return self.tokens
            self._one(text[self.i])

    def _emit(self, kind: TokenKind, start: int, value: TokenValue) -> None:
        self.tokens.append(Token(kind, self.text[start : self.i], start + 1, value))

    def _one(self, ch: str) -> None:
        start = self.i
        if ch in _PUNCTUATION:
            self.i += 1
            self._emit(_PUNCTUATION[ch], start, ch)
        elif ch in "'\"":
            self._emit("string", start, self._quoted(ch))
        elif ch == "`":
            # A bare backticked name has no prefix, like an unquoted attribute name.
            self._emit("name", start, (None, self._quoted(ch)))
        elif ch in "0123456789" or (ch in "-." and _NUMBER.match(self.text, self.i)):
            self._number()
        elif _NAME.match(self.text, self.i):
            self._name()
        else:
            for sym, canonical in _OPERATORS:
                if self.text.startswith(sym, self.i):
                    self.i += len(sym)
                    self._emit("op", start, canonical)
                    return
            raise syntax_error(self.field, f"unexpected character {shown(ch)}", start + 1)

    def _quoted(self, quote: str) -> str:
        """Read a quoted run; a doubled quote character stands for one quote."""
        start = self.i
        out: list[str] = []
        self.i += 1
        while True:
            end = self.text.find(quote, self.i)
            if end < 0:
                what = "name" if quote == "`" else "string"
                raise syntax_error(
                    self.field, f"unterminated {what} {shown(self.text[start:])}", start + 1
                )
            out.append(self.text[self.i : end])
            if self.text.startswith(quote, end + 1):
                out.append(quote)
                self.i = end + 2
                continue
            self.i = end + 1
            return "".join(out)

    def _number(self) -> None:
        start = self.i
        match = _NUMBER.match(self.text, self.i)
        tail = _NUMBER_TAIL.match(self.text, match.end()) if match else None
        if match is None or tail is not None:
            bad = _NUMBER_TAIL.match(self.text, start + 1)
            self.i = bad.end() if bad else start + 1
            raise syntax_error(
                self.field, f"malformed number {shown(self.text[start : self.i])}", start + 1
            )
        self.i = match.end()
        literal = match.group()
        value: int | float
        try:
            value = int(literal)
        except ValueError:
            value = float(literal)
        self._emit("number", start, value)

    def _name(self) -> None:
        start = self.i
        match = _NAME.match(self.text, self.i)
        assert match is not None
        self.i = match.end()
        word = match.group()
        if "." not in word:
            if word.upper() in KEYWORDS:
                self._emit("keyword", start, word.upper())
            else:
                self._emit("name", start, (None, word))
            return
        prefix, key = word.split(".", 1)
        if not key and self.i < len(self.text) and self.text[self.i] in '`"':
            key = self._quoted(self.text[self.i])
        if not key:
            raise syntax_error(self.field, f"missing key after {shown(word)}", start + 1)
        self._emit("name", start, (prefix, key))
