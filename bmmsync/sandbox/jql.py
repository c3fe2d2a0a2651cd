"""A small JQL parser for the subset bmmsync needs, with Jira's error messages.

Grammar: `clause ((AND|OR) clause)*` with NOT and parentheses, then `ORDER BY f [ASC|DESC], ...`.
Fields: project, key/issuekey, labels, status, statusCategory, issuetype/type, parent,
updated, created (and "Epic Link" on Server). Dates are read in the Jira user's time zone
with minute precision, as Jira does. Anything else raises `JqlError` (400 `errorMessages`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from bmmsync.sandbox.records import JiraIssue

Predicate = Callable[[JiraIssue], bool]

OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "~", "!~", "IN", "NOT IN", "IS", "IS NOT")
STATUS_CATEGORIES = {
    "to do": "To Do",
    "new": "To Do",
    "2": "To Do",
    "in progress": "In Progress",
    "indeterminate": "In Progress",
    "4": "In Progress",
    "done": "Done",
    "complete": "Done",
    "3": "Done",
}
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>!=|>=|<=|!~|=|<|>|~)'
    r"|(?P<punct>[(),])|(?P<word>[^\s(),=!<>~\"']+))"
)
_PERIOD = re.compile(r"^([+-]?)((?:\d+[wdhm]\s*)+)$")
# Real Jira fields outside the subset: say so rather than claim they do not exist.
_REAL_FIELDS = frozenset(
    {
        "summary",
        "text",
        "description",
        "assignee",
        "reporter",
        "priority",
        "resolution",
        "sprint",
        "component",
        "fixversion",
        "comment",
        "resolved",
        "due",
        "duedate",
        "creator",
        "watcher",
        "epic link",
    }
)
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")


class JqlError(ValueError):
    """Bad JQL; the message is what Jira puts in `errorMessages`."""


@dataclass(slots=True)
class JqlContext:
    """What a query may refer to: the projects and issues that exist, the user's zone, now."""

    projects: dict[str, str]  # upper key or lower name or id -> key
    issue_exists: Callable[[str], bool]
    tz: ZoneInfo
    now: int
    server: bool = False


@dataclass(slots=True)
class Query:
    where: Predicate | None
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, ascending)

    @property
    def bounded(self) -> bool:
        return self.where is not None

    def sorted(self, issues: list[JiraIssue]) -> list[JiraIssue]:
        """Issues in ORDER BY order (key ascending when there is none), ties by key."""
        out = sorted(issues, key=lambda i: _sort_value(i, "key"))
        for name, asc in reversed(self.order):
            out.sort(key=partial(_sort_value, name=name), reverse=not asc)
        return out


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise JqlError(
                f"Error in the JQL Query: The character '{text[pos]}' is a reserved "
                f"JQL character. (line 1, character {pos + 1})"
            )
        kind = m.lastgroup or "word"
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append(_Tok(kind, value, m.start(kind) + 1))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, ctx: JqlContext) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.ctx = ctx

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def word(self, *words: str) -> bool:
        t = self.peek()
        return t is not None and t.kind == "word" and t.text.upper() in words

    def take(self) -> _Tok:
        t = self.peek()
        if t is None:
            raise JqlError(
                "Error in the JQL Query: Expecting either a value, list or function "
                "but got end of query."
            )
        self.i += 1
        return t

    def parse(self) -> Query:
        where = None
        if self.peek() is not None and not (self.word("ORDER") and self._is_order_by()):
            where = self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.word("ORDER"):
            self.take()
            if not self.word("BY"):
                raise self.expected("'by'")
            self.take()
            order = self.order_list()
        if self.peek() is not None:
            t = self.take()
            raise JqlError(
                f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got "
                f"'{t.text}'. (line 1, character {t.pos})"
            )
        return Query(where, order)

    def _is_order_by(self) -> bool:
        nxt = self.peek(1)
        return nxt is not None and nxt.text.upper() == "BY"

    def expected(self, what: str) -> JqlError:
        t = self.peek()
        got = f"'{t.text}'" if t else "end of query"
        where = f" (line 1, character {t.pos})" if t else ""
        return JqlError(f"Error in the JQL Query: Expecting {what} but got {got}.{where}")

    def _joined(
        self, word: str, operand: Callable[[], Predicate], combine: Callable[..., bool]
    ) -> Predicate:
        """`operand (word operand)*`, combined with `any` (OR) or `all` (AND)."""
        parts = [operand()]
        while self.word(word):
            self.take()
            parts.append(operand())
        return parts[0] if len(parts) == 1 else (lambda i: combine(p(i) for p in parts))

    def or_expr(self) -> Predicate:
        return self._joined("OR", self.and_expr, any)

    def and_expr(self) -> Predicate:
        return self._joined("AND", self.not_expr, all)

    def not_expr(self) -> Predicate:
        if self.word("NOT"):
            self.take()
            inner = self.not_expr()
            return lambda i: not inner(i)
        t = self.peek()
        if t is not None and t.kind == "punct" and t.text == "(":
            self.take()
            inner = self.or_expr()
            close = self.peek()
            if close is None or close.text != ")":
                raise self.expected("')'")
            self.take()
            return inner
        return self.clause()

    def clause(self) -> Predicate:
        t = self.take()
        if t.kind not in ("word", "str"):
            raise JqlError(
                f"Error in the JQL Query: Expecting a field name but got '{t.text}'. "
                f"(line 1, character {t.pos})"
            )
        name = t.text
        op = self.operator()
        if op in ("IN", "NOT IN"):
            values = self.value_list()
        elif op in ("IS", "IS NOT"):
            v = self.take()
            if v.text.upper() not in ("EMPTY", "NULL"):
                raise JqlError(
                    f"Error in the JQL Query: Expecting 'EMPTY' or 'NULL' but got "
                    f"'{v.text}'. (line 1, character {v.pos})"
                )
            values = []
        else:
            values = [self.value()]
        return _clause(name, op, values, self.ctx)

    def operator(self) -> str:
        t = self.peek()
        if t is not None and t.kind == "op":
            self.take()
            return t.text
        if self.word("IN"):
            self.take()
            return "IN"
        if self.word("IS"):
            self.take()
            if self.word("NOT"):
                self.take()
                return "IS NOT"
            return "IS"
        if self.word("NOT") and (nxt := self.peek(1)) is not None and nxt.text.upper() == "IN":
            self.take()
            self.take()
            return "NOT IN"
        raise (
            self.expected("operator")
            if t
            else JqlError("Error in the JQL Query: Expecting operator but got end of query.")
        )

    def value(self) -> str:
        t = self.take()
        if t.kind not in ("word", "str"):
            raise JqlError(
                f"Error in the JQL Query: Expecting either a value, list or function "
                f"but got '{t.text}'. (line 1, character {t.pos})"
            )
        nxt = self.peek()
        if t.kind == "word" and nxt is not None and nxt.text == "(":
            raise JqlError(f"Unable to find JQL function '{t.text}()'.")
        return t.text

    def value_list(self) -> list[str]:
        t = self.take()
        if t.text != "(":
            raise JqlError(
                f"Error in the JQL Query: Expecting '(' but got '{t.text}'. "
                f"(line 1, character {t.pos})"
            )
        values = [self.value()]
        while (t := self.take()).text == ",":
            values.append(self.value())
        if t.text != ")":
            raise JqlError(
                f"Error in the JQL Query: Expecting ')' but got '{t.text}'. "
                f"(line 1, character {t.pos})"
            )
        return values

    def order_list(self) -> list[tuple[str, bool]]:
        order = []
        while True:
            t = self.take()
            name = t.text.lower()
            if name not in ("updated", "created", "key", "issuekey", "id", "project", "status"):
                raise JqlError(
                    f"Field '{t.text}' does not exist or you do not have permission to view it."
                )
            asc = name not in ("updated", "created")
            if self.word("ASC", "DESC"):
                asc = self.take().text.upper() == "ASC"
            order.append(("key" if name == "issuekey" else name, asc))
            if not (self.peek() and self.peek().text == ","):  # type: ignore[union-attr]
                return order
            self.take()


def parse_jql(text: str, ctx: JqlContext) -> Query:
    """Parse `text`; raise JqlError with Jira's wording when it is outside the subset."""
    return _Parser(text, ctx).parse()


def _clause(name: str, op: str, values: list[str], ctx: JqlContext) -> Predicate:
    fname = name.lower()
    if fname in ("project",):
        return _set_clause(
            name,
            op,
            values,
            {"=", "!=", "IN", "NOT IN"},
            lambda v: _project(v, ctx),
            lambda i: i.project,
        )
    if fname in ("key", "issuekey", "id"):
        return _set_clause(
            name,
            op,
            values,
            {"=", "!=", "IN", "NOT IN"},
            lambda v: _issue_key(v, ctx, name),
            lambda i: i.key,
        )
    if fname == "parent" or (fname == "epic link" and ctx.server):
        attr = "parent" if fname == "parent" else "epic_link"
        return _set_clause(
            name,
            op,
            values,
            {"=", "!=", "IN", "NOT IN", "IS", "IS NOT"},
            lambda v: _issue_key(v, ctx, name),
            lambda i: (getattr(i, attr) or "").upper() or None,
        )
    if fname in ("status",):
        return _set_clause(
            name,
            op,
            values,
            {"=", "!=", "IN", "NOT IN"},
            lambda v: v.lower(),
            lambda i: i.status.lower(),
        )
    if fname in ("statuscategory",):
        return _set_clause(
            name,
            op,
            values,
            {"=", "!=", "IN", "NOT IN"},
            lambda v: _category(v, name),
            lambda i: i.status,
        )
    if fname in ("issuetype", "type"):
        return _set_clause(
            name,
            op,
            values,
            {"=", "!=", "IN", "NOT IN"},
            lambda v: v.lower(),
            lambda i: i.issuetype.lower(),
        )
    if fname == "labels":
        return _labels_clause(name, op, values)
    if fname in ("updated", "created", "updateddate", "createddate"):
        return _date_clause(name, op, values, ctx)
    if fname in _REAL_FIELDS:
        raise JqlError(f"Field '{name}' is not supported by the sandbox's JQL subset.")
    raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")


def _unsupported(op: str, name: str) -> JqlError:
    return JqlError(f"The operator '{op}' is not supported by the '{name}' field.")


def _set_clause(
    name: str,
    op: str,
    values: list[str],
    ops: set[str],
    normalise: Callable[[str], str],
    get: Callable[[JiraIssue], str | None],
) -> Predicate:
    if op not in ops:
        raise _unsupported(op, name)
    if op == "IS":
        return lambda i: get(i) is None
    if op == "IS NOT":
        return lambda i: get(i) is not None
    wanted = {normalise(v) for v in values}
    if op in ("=", "IN"):
        return lambda i: get(i) in wanted
    return lambda i: get(i) not in wanted


def _labels_clause(name: str, op: str, values: list[str]) -> Predicate:
    if op == "IS":
        return lambda i: not i.labels
    if op == "IS NOT":
        return lambda i: bool(i.labels)
    if op not in ("=", "!=", "IN", "NOT IN"):
        raise _unsupported(op, name)
    wanted = {v.lower() for v in values}
    if op in ("=", "IN"):
        return lambda i: any(x.lower() in wanted for x in i.labels)
    return lambda i: not any(x.lower() in wanted for x in i.labels)


def _date_clause(name: str, op: str, values: list[str], ctx: JqlContext) -> Predicate:
    if op not in ("=", "!=", "<", ">", "<=", ">="):
        raise _unsupported(op, name)
    at = parse_jql_date(values[0], name, ctx)
    attr = "created" if name.lower().startswith("created") else "updated"
    compare: dict[str, Callable[[int], bool]] = {
        "=": lambda t: t == at,
        "!=": lambda t: t != at,
        "<": lambda t: t < at,
        ">": lambda t: t > at,
        "<=": lambda t: t <= at,
        ">=": lambda t: t >= at,
    }
    test = compare[op]
    return lambda i: test(getattr(i, attr))


def parse_jql_date(value: str, name: str, ctx: JqlContext) -> int:
    """Epoch seconds for a JQL date: absolute ones are wall time in the user's zone."""
    text = value.strip()
    period = _PERIOD.match(text)
    if period:
        seconds = 0
        for amount, unit in re.findall(r"(\d+)([wdhm])", period.group(2)):
            seconds += int(amount) * {"w": 604800, "d": 86400, "h": 3600, "m": 60}[unit]
        sign = -1 if period.group(1) == "-" else 1
        return (ctx.now // 60) * 60 + sign * seconds
    for fmt in _DATE_FORMATS:
        try:
            wall = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return int(wall.replace(tzinfo=ctx.tz).timestamp())
    raise JqlError(
        f"Date value '{value}' for field '{name}' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
        "format e.g. '-5d', '4w 2d'."
    )


def _project(value: str, ctx: JqlContext) -> str:
    key = ctx.projects.get(value.upper()) or ctx.projects.get(value.lower())
    if key is None:
        raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
    return key


def _issue_key(value: str, ctx: JqlContext, name: str) -> str:
    if not ctx.issue_exists(value.upper()):
        raise JqlError(f"An issue with key '{value}' does not exist for field '{name}'.")
    return value.upper()


def _category(value: str, name: str) -> str:
    category = STATUS_CATEGORIES.get(value.lower())
    if category is None:
        raise JqlError(f"The value '{value}' does not exist for the field '{name}'.")
    return category


def _sort_value(issue: JiraIssue, name: str) -> Any:
    if name in ("key", "project"):
        project, _, number = issue.key.partition("-")
        return (project, int(number)) if name == "key" else project
    if name == "id":
        return issue.id
    if name == "status":
        return issue.status
    return getattr(issue, name)
