"""JQL parsing for the simulator: tokenizer, syntax tree, recursive-descent parser (evaluation: ``jql_eval``).

Grammar (the subset the simulator understands)::

    query   := [expr] [ORDER BY sort ("," sort)*]
    expr    := term (OR term)*
    term    := factor (AND factor)*
    factor  := NOT factor | "(" expr ")" | clause
    clause  := field op value | field [NOT] IN "(" value ("," value)* ")" | field [NOT] IN func
             | field IS [NOT] (EMPTY | NULL)
    value   := string | number | word | func
    func    := word "(" [value ("," value)*] ")"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class JqlError(ValueError):
    """A query Jira would answer with 400; ``str()`` is Jira's wording, ``messages`` every message of the
    answer (several when one clause names several unknown values)."""

    def __init__(self, *messages: str) -> None:
        super().__init__(messages[0] if messages else "")
        self.messages = list(messages)


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|>=|<=|!~|=|>|<|~)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z0-9_.\-\[\]/:@]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC"}


@dataclass(frozen=True)
class Tok:
    kind: str  # str | op | punct | word | kw | end
    text: str
    pos: int


def tokenize(jql: str) -> list[Tok]:
    """Split ``jql`` into tokens; keywords are recognized case-insensitively."""
    tokens: list[Tok] = []
    pos = 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        m = _TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            bad = jql[pos:].lstrip()[:1]
            raise JqlError(
                f"Error in the JQL Query: The character '{bad}' is a reserved JQL character. "
                f"You must enclose it in a string or use the escape '\\u{ord(bad):04x}' instead. "
                f"(line 1, character {pos + 1})"
            )
        kind = m.lastgroup or "word"
        start = m.start(kind)
        text = m.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        elif kind == "word" and text.upper() in _KEYWORDS:
            kind, text = "kw", text.upper()
        tokens.append(Tok(kind, text, start + 1))
        pos = m.end()
    tokens.append(Tok("end", "", len(jql) + 1))
    return tokens


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[str, ...] = ()


Value = str | Func


@dataclass(frozen=True)
class Clause:
    field: str
    op: str  # = != > >= < <= ~ !~ in "not in" is "is not"
    values: tuple[Value, ...]
    quoted: bool = False


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class Query:
    where: Node | None
    order_by: tuple[tuple[str, bool], ...] = field(default_factory=tuple)  # (field, descending)


class _Parser:
    def __init__(self, jql: str) -> None:
        self.toks = tokenize(jql)
        self.i = 0

    def peek(self) -> Tok:
        return self.toks[self.i]

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect_kw(self, *words: str) -> bool:
        tok = self.peek()
        if tok.kind == "kw" and tok.text in words:
            self.i += 1
            return True
        return False

    def error(self, what: str) -> JqlError:
        tok = self.peek()
        got = "the end of the query" if tok.kind == "end" else f"'{tok.text}'"
        return JqlError(
            f"Error in the JQL Query: Expecting {what} but got {got}. (line 1, character {tok.pos})"
        )

    def query(self) -> Query:
        where = None
        if not (self.peek().kind == "kw" and self.peek().text == "ORDER") and self.peek().kind != "end":
            where = self.expr()
        order: list[tuple[str, bool]] = []
        if self.expect_kw("ORDER"):
            if not self.expect_kw("BY"):
                raise self.error("'by'")
            while True:
                tok = self.take()
                if tok.kind not in ("word", "str"):
                    raise self.error("a field name")
                desc = False
                if self.expect_kw("DESC"):
                    desc = True
                else:
                    self.expect_kw("ASC")
                order.append((tok.text.lower(), desc))
                if self.peek().kind == "punct" and self.peek().text == ",":
                    self.take()
                    continue
                break
        if self.peek().kind != "end":
            raise self.error("either 'OR' or 'AND'" if where is not None else "a field name")
        return Query(where, tuple(order))

    def expr(self) -> Node:
        parts = [self.term()]
        while self.expect_kw("OR"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def term(self) -> Node:
        parts = [self.factor()]
        while self.expect_kw("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def factor(self) -> Node:
        if self.expect_kw("NOT"):
            return Not(self.factor())
        tok = self.peek()
        if tok.kind == "punct" and tok.text == "(":
            self.take()
            node = self.expr()
            if not (self.peek().kind == "punct" and self.peek().text == ")"):
                raise self.error("')'")
            self.take()
            return node
        return self.clause()

    def value(self) -> tuple[Value, bool]:
        tok = self.take()
        if tok.kind == "str":
            return tok.text, True
        if tok.kind == "word":
            if self.peek().kind == "punct" and self.peek().text == "(":
                self.take()
                args: list[str] = []
                while not (self.peek().kind == "punct" and self.peek().text == ")"):
                    arg = self.take()
                    if arg.kind not in ("word", "str"):
                        self.i -= 1
                        raise self.error("a function argument")
                    args.append(arg.text)
                    if self.peek().kind == "punct" and self.peek().text == ",":
                        self.take()
                self.take()
                return Func(tok.text, tuple(args)), False
            return tok.text, False
        self.i -= 1
        raise self.error("either a value, list or function")

    def clause(self) -> Clause:
        tok = self.take()
        if tok.kind not in ("word", "str"):
            self.i -= 1
            raise self.error("a field name")
        name = tok.text.lower()
        if self.expect_kw("IS"):
            negate = self.expect_kw("NOT")
            if not self.expect_kw("EMPTY", "NULL"):
                raise self.error("'EMPTY' or 'NULL'")
            return Clause(name, "is not" if negate else "is", ())
        negate = self.expect_kw("NOT")
        if self.expect_kw("IN"):
            op = "not in" if negate else "in"
            if self.peek().kind == "punct" and self.peek().text == "(":
                self.take()
                values: list[Value] = []
                while True:
                    val, _ = self.value()
                    values.append(val)
                    nxt = self.take()
                    if nxt.kind == "punct" and nxt.text == ")":
                        break
                    if not (nxt.kind == "punct" and nxt.text == ","):
                        self.i -= 1
                        raise self.error("')' or ','")
                return Clause(name, op, tuple(values))
            val, _ = self.value()
            if not isinstance(val, Func):
                raise self.error("'('")
            return Clause(name, op, (val,))
        if negate:
            raise self.error("'IN'")
        op_tok = self.take()
        if op_tok.kind != "op":
            self.i -= 1
            raise self.error("operator")
        val, quoted = self.value()
        return Clause(name, op_tok.text, (val,), quoted)


def parse(jql: str) -> Query:
    """Parse ``jql``; raises :class:`JqlError` with Jira's wording on anything outside the subset."""
    return _Parser(jql).query()
