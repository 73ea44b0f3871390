"""Puts values into a shell command template so that each one stays data.

Every value is quoted with `shlex.quote`. That alone is not enough when the template's
author wrote the placeholder inside quotes of their own (`'{name}'`, `"--x={name}"`) or
inside a command substitution: the value's quotes would then close the author's, and the
value would become code. So the template's literal text is read the way a POSIX shell
reads it (quotes, escapes, `$(...)`, backticks, comments), and each quoted value is fitted
to where it lands: an open quote is closed around it and reopened, and inside backticks
its backslashes, backticks and dollars are escaped once more.

Places where no quoting makes a value safe are refused when the template is read: inside
`${...}` and `$((...))`, after a here-document (`<<`), and right after a backslash inside
backticks.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from string import Formatter

UNQUOTED = ""
# Places that read like unquoted text: the top level, $(...), (...) and `...`.
_UNQUOTED_LIKE = {UNQUOTED, "$(", "(", "`"}
_UNSAFE = {"${": "${...}", "$((": "$((...))", "<<": "a here-document"}
_BACKTICK_SPECIALS = re.compile(r"([\\`$])")
_WORD_BREAKS = " \t\n;&|()"


class UnsafePlaceholder(ValueError):
    """A placeholder where no quoting can keep its value from being code."""


def fill(template: str, values: Mapping[str, str]) -> str:
    """`template` with each `{name}` replaced by its value, quoted for its place; `{{` and
    `}}` are literal braces (str.format's rules)."""
    out: list[str] = []
    reader = _Reader()
    for literal, name, _, _ in Formatter().parse(template):
        out.append(literal)
        reader.feed(literal)
        if name is not None:
            out.append(reader.place(name, shlex.quote(values[name])))
    return "".join(out)


def check(template: str) -> None:
    """Raises UnsafePlaceholder for a placeholder that `fill` could not quote safely."""
    names = [name for _, name, _, _ in Formatter().parse(template) if name is not None]
    fill(template, dict.fromkeys(names, "x"))


class _Reader:
    """Where in the shell's grammar the text read so far ends: a stack of open places."""

    def __init__(self) -> None:
        self.stack: list[str] = [UNQUOTED]
        self.escaped = False
        self.comment = False
        self.previous = " "  # the last character read: `#` starts a comment after a break

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            width = self._step(text, i)
            self.previous = text[i + width - 1]
            i += width

    def _step(self, text: str, i: int) -> int:
        """Reads the token at `i`; returns how many characters it took."""
        ch, top = text[i], self.stack[-1]
        if self.comment:
            self.comment = ch != "\n"
        elif self.escaped:
            self.escaped = False
        elif top == "'":
            if ch == "'":
                self.stack.pop()
        elif ch == "\\":
            self.escaped = True
        elif top == "$'":
            if ch == "'":
                self.stack.pop()
        elif top in _UNSAFE:
            return self._unsafe(text, i, top)
        else:
            return self._code(text, i, top)
        return 1

    def _code(self, text: str, i: int, top: str) -> int:
        """Unquoted-like or double-quoted text: substitutions open in both."""
        ch = text[i]
        for opener in ("$((", "${", "$("):
            if text.startswith(opener, i):
                self.stack.append(opener)
                return len(opener)
        if ch == "`":
            if top == "`":
                self.stack.pop()
            else:
                self.stack.append("`")
        elif top == '"':
            if ch == '"':
                self.stack.pop()
        elif ch == "#" and self.previous in _WORD_BREAKS:
            self.comment = True
        elif text.startswith("$'", i):
            self.stack.append("$'")
            return 2
        elif ch in "'\"":
            self.stack.append(ch)
        elif text.startswith("<<<", i):
            return 3  # a here-string: an ordinary word follows
        elif text.startswith("<<", i):
            self.stack.append("<<")
            return 2
        elif ch == "(":
            self.stack.append("(")
        elif ch == ")" and top in ("$(", "("):
            self.stack.pop()
        return 1

    def _unsafe(self, text: str, i: int, top: str) -> int:
        """Inside an unsafe place only its end matters (a here-document runs to the end)."""
        if top == "${":
            if text.startswith("${", i):
                self.stack.append("${")
                return 2
            if text[i] == "}":
                self.stack.pop()
        elif top == "$((" and text.startswith("))", i):
            self.stack.pop()
            return 2
        return 1

    def place(self, name: str, quoted: str) -> str:
        """The quoted value, fitted to the place the reader is at."""
        if self.comment:
            # Text in a comment never runs, but a newline in the value would end the
            # comment and run the rest: in a comment, a value is kept to one line.
            return quoted.replace("\n", "\\n")
        top = self.stack[-1]
        if top in _UNSAFE:
            raise UnsafePlaceholder(
                f"the command puts {{{name}}} inside {_UNSAFE[top]}, where no quoting keeps "
                "a value from being code; use it as a plain word"
            )
        inside_backticks = "`" in self.stack
        if self.escaped and inside_backticks:
            raise UnsafePlaceholder(
                f"the command puts {{{name}}} right after a backslash inside backticks; "
                "remove the backslash, or use $(...)"
            )
        # A backslash right before the placeholder would escape the value's opening quote
        # (or our closing one): a second backslash makes it a literal backslash instead.
        prefix = "\\" if self.escaped else ""
        self.escaped = False
        self.previous = "x"  # a value is a word: a `#` right after it starts no comment
        if inside_backticks:
            quoted = _BACKTICK_SPECIALS.sub(r"\\\1", quoted)
        if top in _UNQUOTED_LIKE:
            return prefix + quoted
        closing = "'" if top in ("'", "$'") else '"'
        return f"{prefix}{closing}{quoted}{top}"
