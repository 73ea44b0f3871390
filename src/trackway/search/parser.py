"""The search filter and order_by language: a superset of MLflow's search syntax.

Grammar (EBNF; keywords are case-insensitive)::

    filter      = [ or_expr ] ;
    or_expr     = and_expr { "OR" and_expr } ;
    and_expr    = not_expr { "AND" not_expr } ;          (* AND binds tighter than OR *)
    not_expr    = "NOT" not_expr | "(" or_expr ")" | comparison ;
    comparison  = field ( cmp_op value
                        | [ "NOT" ] ( "LIKE" | "ILIKE" ) string
                        | [ "NOT" ] "IN" "(" value { "," value } ")"
                        | "IS" [ "NOT" ] "NULL" ) ;
    cmp_op      = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" ;
    field       = prefix "." key | attribute ;
    key         = name_rest | "`" quoted "`" | '"' quoted '"' ;
    value       = string | number ;
    string      = "'" quoted "'" | '"' quoted '"' ;
    number      = [ "-" ] ( digits [ "." [ digits ] ] | "." digits )
                  [ ( "e" | "E" ) [ "+" | "-" ] digits ] ;
    order_item  = field [ "ASC" | "DESC" ] ;

Lexical rules:

- An unquoted field is one word matching ``[A-Za-z_][A-Za-z0-9_.\\-/:]*``; the prefix is the
  part before the first dot and the key is everything after it, so ``tags.mlflow.runName``
  is the tag ``mlflow.runName``. Keys with other characters (spaces, quotes, non-ASCII) go
  in backticks or double quotes right after the dot: ``metrics.`val loss` ``,
  ``tags."mlflow.user"``. A word without a dot is an attribute name.
- Inside any quotes, the quote character is written twice to stand for itself
  (``'it''s'``); there are no backslash escapes, so a backslash in a string is literal
  (which is what LIKE patterns want, see `like.py`).
- Prefixes and attribute names are case-insensitive; metric, param and tag keys are not.

Which prefixes, attributes and operators a field takes is decided by the run and
experiment compilers, not here. Limits: at most `MAX_FILTER_BYTES` of UTF-8 and
`MAX_DEPTH` nested parentheses and NOTs. Every error is an `InvalidArgument` naming the
offending token and its 1-based character position.
"""

from __future__ import annotations

from trackway.errors import invalid
from trackway.search.lexer import Token, shown, syntax_error, tokenize
from trackway.search.nodes import And, Comparison, Field, Node, Not, Or, Value

MAX_FILTER_BYTES = 16 * 1024
MAX_DEPTH = 100

_COMPARISON_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})


def check_text(text: str, field: str, limit: int) -> None:
    """Reject text that no database would accept as a bound string, or that is too long."""
    if len(text) > limit:
        raise invalid(field, f"longer than {limit} bytes")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise syntax_error(field, "invalid unicode (a lone surrogate)", exc.start + 1) from None
    if size > limit:
        raise invalid(field, f"longer than {limit} bytes")
    nul = text.find("\0")
    if nul >= 0:
        # PostgreSQL refuses NUL characters in text values.
        raise syntax_error(field, "unexpected NUL character", nul + 1)


def parse_filter(text: str, field: str = "filter") -> Node | None:
    """Parse a filter; None when it is empty or only whitespace."""
    check_text(text, field, MAX_FILTER_BYTES)
    parser = _Parser(tokenize(text, field), field)
    if parser.peek().kind == "end":
        return None
    node = parser.or_expr()
    parser.expect_end()
    return node


def parse_order_item(text: str, field: str = "order_by") -> tuple[Field, bool]:
    """Parse one order_by clause into its field and whether it sorts descending."""
    check_text(text, field, MAX_FILTER_BYTES)
    parser = _Parser(tokenize(text, field), field)
    target = parser.field()
    descending = False
    tok = parser.peek()
    if tok.kind == "keyword" and tok.value in ("ASC", "DESC"):
        descending = tok.value == "DESC"
        parser.advance()
    parser.expect_end()
    return target, descending


class _Parser:
    def __init__(self, tokens: list[Token], field: str) -> None:
        self.tokens = tokens
        self.field_name = field
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def error(self, tok: Token, description: str | None = None) -> Exception:
        if description is None:
            if tok.kind == "end":
                description = "unexpected end of input"
            else:
                description = f"unexpected token {shown(tok.text)}"
        return syntax_error(self.field_name, description, tok.pos)

    def at_keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "keyword" and tok.value == word

    def expect_keyword(self, word: str) -> Token:
        tok = self.advance()
        if tok.kind != "keyword" or tok.value != word:
            raise self.error(tok, f"expected {word} but found {_describe(tok)}")
        return tok

    def expect_end(self) -> None:
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(tok)

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                tok, f"nesting deeper than {MAX_DEPTH} levels at token {shown(tok.text)}"
            )

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.at_keyword("OR"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(_flatten(items, Or)))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.at_keyword("AND"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(_flatten(items, And)))

    def not_expr(self) -> Node:
        # Iterative over chained NOTs so that only MAX_DEPTH, not the stack, limits them.
        nots = 0
        while self.at_keyword("NOT"):
            self.enter(self.advance())
            nots += 1
        tok = self.peek()
        if tok.kind == "(":
            self.enter(self.advance())
            node = self.or_expr()
            closing = self.advance()
            if closing.kind != ")":
                raise self.error(closing, f"expected ')' but found {_describe(closing)}")
            self.depth -= 1
        else:
            node = self.comparison()
        self.depth -= nots
        for _ in range(nots):
            node = node.item if isinstance(node, Not) else Not(node)
        return node

    def field(self) -> Field:
        tok = self.advance()
        if tok.kind != "name" or not isinstance(tok.value, tuple):
            raise self.error(tok, f"expected a field name but found {_describe(tok)}")
        prefix, key = tok.value
        return Field(prefix, key, tok.text, tok.pos)

    def comparison(self) -> Comparison:
        target = self.field()
        tok = self.advance()
        if tok.kind == "op" and tok.value in _COMPARISON_OPS:
            return Comparison(target, str(tok.value), tok.pos, self.value())
        if tok.kind != "keyword":
            raise self.error(tok, f"expected an operator but found {_describe(tok)}")
        if tok.value == "IS":
            negated = self.at_keyword("NOT")
            if negated:
                self.advance()
            self.expect_keyword("NULL")
            return Comparison(target, "IS NOT NULL" if negated else "IS NULL", tok.pos, None)
        op_tok = tok
        prefix = ""
        if tok.value == "NOT":
            prefix = "NOT "
            tok = self.advance()
        if tok.kind == "keyword" and tok.value in ("LIKE", "ILIKE"):
            pattern = self.value()
            if not pattern.is_string:
                raise syntax_error(
                    self.field_name,
                    f"{tok.value} needs a quoted string pattern, not {shown(pattern.text)}",
                    pattern.pos,
                )
            return Comparison(target, f"{prefix}{tok.value}", op_tok.pos, pattern)
        if tok.kind == "keyword" and tok.value == "IN":
            return Comparison(target, f"{prefix}IN", op_tok.pos, self.value_list())
        raise self.error(tok, f"expected an operator but found {_describe(tok)}")

    def value(self) -> Value:
        tok = self.advance()
        if tok.kind == "string" and isinstance(tok.value, str):
            return Value(tok.value, tok.text, tok.pos)
        if tok.kind == "number" and isinstance(tok.value, (int, float)):
            return Value(tok.value, tok.text, tok.pos)
        raise self.error(tok, f"expected a value but found {_describe(tok)}")

    def value_list(self) -> tuple[Value, ...]:
        opening = self.advance()
        if opening.kind != "(":
            raise self.error(opening, f"expected '(' after IN but found {_describe(opening)}")
        if self.peek().kind == ")":
            raise self.error(self.peek(), "empty IN list, unexpected token ')'")
        values = [self.value()]
        while True:
            tok = self.advance()
            if tok.kind == ")":
                return tuple(values)
            if tok.kind != ",":
                raise self.error(tok, f"expected ',' or ')' but found {_describe(tok)}")
            values.append(self.value())


def _describe(tok: Token) -> str:
    return "end of input" if tok.kind == "end" else f"token {shown(tok.text)}"


def _flatten(items: list[Node], kind: type[And] | type[Or]) -> list[Node]:
    out: list[Node] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.items)
        else:
            out.append(item)
    return out
