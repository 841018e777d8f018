"""Segment rules: a JSON form, a small text syntax, and a compiler to parameterised SQL.

JSON form (what the app builds)::

    {"all": [{"field": "platform", "op": "=", "value": "ios"},
             {"any": [{"field": "locale", "op": "starts_with", "value": "pt"},
                      {"field": "tag", "op": "has", "value": "vip"}]}]}

Text form (what the CLI takes), ``and`` binding tighter than ``or``::

    platform = ios and (locale ^= pt or tag has vip) and attr.age >= 18
    last_seen within 30d and not tag has churned

User text only ever becomes SQL *parameters*: field names come from a fixed table,
attribute names are checked and passed as JSON-path parameters. Opted-out and
dead devices are excluded unless the rule itself talks about ``opt_in`` or ``status``.

Text is matched literally: ``contains`` and ``^=`` escape LIKE's ``%`` and ``_`` and
ignore the case of ASCII letters only (SQLite's LIKE; on PostgreSQL ``^=`` is a range
of the folded text instead, which an index answers), ``=`` is exact. Every rule that
parses either compiles or raises SegmentError naming the part: numbers must fit 64
bits, moments must fall between the years 1 and 9999, and the size and nesting of a
rule are bounded (SQLite refuses expressions deeper than 1,000; Python recursion).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pushdeck.core.common.errors import SegmentError
from pushdeck.core.common.model import (
    DeviceStatus,
    OptIn,
    Platform,
    ProviderKind,
    TokenKind,
    known_timezones,
)
from pushdeck.core.store.dialect import SQLITE, Dialect

Rule = Mapping[str, Any]

_ENUM_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "platform": ("d.platform", tuple(p.value for p in Platform)),
    "provider": ("d.provider", tuple(p.value for p in ProviderKind)),
    "opt_in": ("d.opt_in", tuple(o.value for o in OptIn)),
    "status": ("d.status", tuple(s.value for s in DeviceStatus)),
    "environment": ("d.environment", ("sandbox", "production")),
    "token_kind": ("d.token_kind", tuple(k.value for k in TokenKind)),
}
FIELD_OPS: dict[str, tuple[str, ...]] = {
    **{name: ("=", "!=", "in") for name in _ENUM_FIELDS},
    "app": ("=", "!=", "in"),
    "locale": ("=", "!=", "starts_with", "in"),
    "timezone": ("=", "!=", "starts_with", "in"),
    "tag": ("has", "lacks"),
    "test": ("=",),
    "last_seen": ("within", "before"),
    "created_at": ("within", "before"),
    "attr": ("=", "!=", "<", ">", "<=", ">=", "contains", "exists", "not_exists"),
}
_ATTR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
_DURATION = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

#: Conditions in one rule (a longer list of values belongs in ``in (…)`` or a tag).
MAX_CONDITIONS = 500
#: Nesting of all/any/not groups (and parentheses in the text form).
MAX_DEPTH = 32
#: Values in all the ``in (…)`` lists of one rule.
MAX_VALUES = 5_000
#: Characters in one value.
MAX_VALUE_CHARS = 4_096
#: SQLite's INTEGER range: a larger number cannot be compared.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: The escape character of every LIKE pattern built here.
LIKE_ESCAPE = "\\"


@dataclass(frozen=True)
class CompiledRule:
    """A WHERE clause over ``devices d`` and its parameters."""

    where: str
    params: tuple[Any, ...]


def compile_rule(
    rule: Rule, *, now: datetime | None = None, dialect: Dialect = SQLITE
) -> CompiledRule:
    """Compile ``rule`` (JSON form) to SQL for ``dialect``'s backend; raise SegmentError
    naming what is wrong. Both backends select the same devices (see ``_attr_pg``)."""
    check_shape(rule, slack=_WRAPPING)
    params: list[Any] = []
    moment = now or datetime.now(UTC)
    where = _node(rule, params, moment, "rule", dialect)
    if not _mentions(rule, {"opt_in"}):
        where = f"({where}) AND d.opt_in != 'denied'"
    if not _mentions(rule, {"status"}):
        where = f"({where}) AND d.status = 'active'"
    return CompiledRule(where, tuple(params))


def _walk(rule: Any) -> Iterator[tuple[Any, int, str]]:
    """Every node with its depth and place, without recursion (shapes are untrusted)."""
    stack: list[tuple[Any, int, str]] = [(rule, 0, "rule")]
    while stack:
        node, depth, where = stack.pop()
        yield node, depth, where
        if not isinstance(node, Mapping):
            continue
        if "all" in node or "any" in node:
            key = "all" if "all" in node else "any"
            items = node[key]
            if isinstance(items, list):
                stack.extend(
                    (item, depth + 1, f"{where}.{key}[{i}]") for i, item in enumerate(items)
                )
        elif "not" in node:
            stack.append((node["not"], depth + 1, f"{where}.not"))


#: Levels and conditions a campaign audience adds around a saved rule.
_WRAPPING = 4


def check_shape(rule: Any, *, slack: int = 0) -> None:
    """Bound a rule's nesting, conditions and values before anything recurses over it.

    ``slack`` admits the group an audience wraps around a saved rule (saved rules are
    checked without it).
    """
    conditions = values = 0
    max_depth, max_conditions = MAX_DEPTH + slack, MAX_CONDITIONS + slack
    max_values = MAX_VALUES + 25 * slack
    for node, depth, where in _walk(rule):
        if depth > max_depth:
            raise SegmentError(
                f"{where}: the rule nests all/any/not more than {MAX_DEPTH} levels deep.",
                hint="Simplify it: 'not not X' is X, and nested 'or's can be one list.",
            )
        if isinstance(node, Mapping) and not any(k in node for k in ("all", "any", "not")):
            conditions += 1
            value = node.get("value")
            values += len(value) if isinstance(value, list) else 1
        if conditions > max_conditions:
            raise SegmentError(
                f"The rule has more than {MAX_CONDITIONS} conditions (at {where}).",
                hint="Use one 'in (a, b, …)' condition or tag the devices instead.",
            )
        if values > max_values:
            raise SegmentError(
                f"The rule lists more than {MAX_VALUES:,} values (at {where}).",
                hint="Tag those devices and use 'tag has NAME' instead.",
            )


def _mentions(rule: Any, fields: set[str]) -> bool:
    return any(
        isinstance(node, Mapping) and node.get("field") in fields for node, _, _ in _walk(rule)
    )


def _node(rule: Any, params: list[Any], now: datetime, where: str, dialect: Dialect) -> str:
    if not isinstance(rule, Mapping):
        raise SegmentError(f"{where}: expected an object with all/any/not or a condition.")
    if "all" in rule or "any" in rule:
        key = "all" if "all" in rule else "any"
        items = rule[key]
        if not isinstance(items, list) or not items:
            raise SegmentError(f"{where}.{key} must be a non-empty list of rules.")
        joiner = " AND " if key == "all" else " OR "
        parts = [_node(r, params, now, f"{where}.{key}[{i}]", dialect) for i, r in enumerate(items)]
        return "(" + joiner.join(parts) + ")"
    if "not" in rule:
        return f"NOT ({_node(rule['not'], params, now, where + '.not', dialect)})"
    return _condition(rule, params, now, where, dialect)


def _condition(
    rule: Mapping[str, Any], params: list[Any], now: datetime, where: str, dialect: Dialect
) -> str:
    field = str(rule.get("field", ""))
    op = str(rule.get("op", ""))
    value = rule.get("value")
    family = "attr" if field.startswith("attr.") else field
    if family not in FIELD_OPS:
        known = ", ".join(sorted(f for f in FIELD_OPS if f != "attr")) + ", attr.NAME"
        raise SegmentError(f"{where}: unknown field {field!r}. Fields: {known}.")
    if op not in FIELD_OPS[family]:
        raise SegmentError(
            f"{where}: {field} does not support {op!r}; use one of {', '.join(FIELD_OPS[family])}."
        )
    if family == "attr":
        if dialect.is_postgres:
            return _attr_pg(field[5:], op, value, params, where, dialect)
        return _attr(field[5:], op, value, params, where)
    if family == "tag":
        params.append(_text(value, field, where))
        sql = "d.id IN (SELECT device_id FROM device_tags WHERE tag = ?)"
        return sql if op == "has" else f"NOT {sql}"
    if family in ("last_seen", "created_at"):
        params.append(_moment(value, now, field, where))
        return f"d.{family} >= ?" if op == "within" else f"d.{family} < ?"
    if family == "test":
        params.append(1 if _bool(value, where) else 0)
        return "d.test = ?"
    return _equality(family, op, value, params, where, dialect)


def _equality(
    field: str, op: str, value: Any, params: list[Any], where: str, dialect: Dialect
) -> str:
    column = _ENUM_FIELDS[field][0] if field in _ENUM_FIELDS else f"d.{field}"
    if field == "app":
        column = "(SELECT name FROM apps WHERE apps.id = d.app_id)"
    values = value if op == "in" else [value]
    if not isinstance(values, list) or not values:
        raise SegmentError(f"{where}: {field} in … needs a non-empty list of values.")
    checked = [_checked_value(field, v, where) for v in values]
    if op == "starts_with" and dialect.is_postgres:
        return _starts_with_pg(field, column, checked[0], params, dialect)
    if op == "starts_with":
        prefix = like_literal(checked[0])
        params.extend([checked[0], f"{prefix}-%" if field == "locale" else f"{prefix}%"])
        return f"({column} = ? OR {dialect.like(column)})"
    params.extend(checked)
    if op == "in":
        return f"{column} IN ({', '.join('?' * len(checked))})"
    return f"{column} {'=' if op == '=' else '!='} ?"


def _starts_with_pg(
    field: str, column: str, prefix: str, params: list[Any], dialect: Dialect
) -> str:
    """PostgreSQL's ``^=``: the devices of the LIKE form above, as a range of the
    case-folded column, which an index on that expression answers without reading the
    rows (``schema_pg.SEGMENT_PREFIX_INDEX``; a LIKE on it would be checked row by row).

    Text folded as SQLite's LIKE folds it (ASCII letters only) starts with the folded
    prefix exactly when it sorts from the prefix up to the prefix with its last character
    incremented: text columns compare code points (``COLLATE "C"``). A locale matches
    itself exactly or its subtags: ``pt`` or ``pt-…`` (any case), never ``ptx``.
    """
    folded = dialect.ascii_lower(column)
    low = ascii_fold(prefix)
    if field == "locale":
        # The folded locale sorts in [p, p.) ('.' follows '-'); within that range it is
        # either p itself (then the locale must be exactly the prefix) or starts 'p-'.
        params.extend([low, low + ".", prefix, low + "-"])
        return f"({folded} >= ? AND {folded} < ? AND ({column} = ? OR {folded} >= ?))"
    high = prefix_successor(low)
    if high is None:  # the prefix is all U+10FFFF: nothing sorts above what starts so
        params.append(low)
        return f"{folded} >= ?"
    params.extend([low, high])
    return f"({folded} >= ? AND {folded} < ?)"


_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_fold(text: str) -> str:
    """``text`` with A-Z lowered and nothing else changed (SQLite's LIKE and ``lower``)."""
    return text.translate(_ASCII_FOLD)


def prefix_successor(prefix: str) -> str | None:
    """The least text above every text starting with ``prefix`` (code-point order), or
    None when there is none (the prefix is empty or all U+10FFFF)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code == 0xD800:  # surrogates are not characters PostgreSQL stores
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def _checked_value(field: str, value: Any, where: str) -> str:
    text = _text(value, field, where)
    if field in _ENUM_FIELDS:
        allowed = _ENUM_FIELDS[field][1]
        if text not in allowed:
            raise SegmentError(f"{where}: {field} {text!r} is not one of {', '.join(allowed)}.")
    if (
        field == "timezone"
        and "/" in text
        and text not in known_timezones()
        and not text.endswith("/")
    ):
        raise SegmentError(f"{where}: {text!r} is not an IANA time zone like Europe/Paris.")
    return text


def like_literal(text: str) -> str:
    """``text`` as a LIKE pattern matching exactly itself (``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _attr(name: str, op: str, value: Any, params: list[Any], where: str) -> str:
    if not _ATTR_NAME.fullmatch(name):
        raise SegmentError(f"{where}: attribute name {name!r} must be letters, digits, '_' or '-'.")
    path = f'$."{name}"'
    params.append(path)
    column = "json_extract(d.attributes, ?)"
    if op == "exists":
        return f"{column} IS NOT NULL"
    if op == "not_exists":
        return f"{column} IS NULL"
    if op == "contains":
        # A list attribute contains the text when one of its items does (never its JSON
        # punctuation); a missing attribute matches neither 'contains' nor 'not contains'.
        pattern = f"%{like_literal(_text(value, 'attr.' + name, where))}%"
        params.extend([path, pattern, path, pattern])
        like = f"LIKE ? ESCAPE '{LIKE_ESCAPE}'"
        return (
            f"(CASE json_type(d.attributes, ?) WHEN 'object' THEN 0 WHEN 'array' THEN"
            " EXISTS (SELECT 1 FROM json_each(d.attributes, ?) e"
            f" WHERE e.type IN ('text', 'integer', 'real') AND CAST(e.value AS TEXT) {like})"
            f" ELSE CAST({column} AS TEXT) {like} END)"
        )
    if op in ("<", ">", "<=", ">=") and not isinstance(value, int | float | str):
        raise SegmentError(f"{where}: attr.{name} {op} needs a number or text value.")
    if value is None or isinstance(value, list | dict):
        raise SegmentError(f"{where}: attr.{name} {op} needs a value.")
    params.append(_comparable(value, f"attr.{name} {op}", where))
    return f"{column} {op} ?"


#: SQLite orders numbers before text (no affinity on either side of ``json_extract(…) op
#: ?``): a text value compared with a number, and a number with text, gives these.
_TEXT_VS_NUMBER = {"=": False, "!=": True, "<": False, "<=": False, ">": True, ">=": True}
_NUMBER_VS_TEXT = {op: not result if op not in ("=", "!=") else result
                   for op, result in _TEXT_VS_NUMBER.items()}  # fmt: skip


def _attr_pg(
    name: str, op: str, value: Any, params: list[Any], where: str, dialect: Dialect
) -> str:
    """The PostgreSQL form of ``_attr``, selecting exactly the same devices.

    SQLite's ``json_extract`` gives a JSON number as a number, true/false as 1/0, a
    string as text and an array or object as its JSON text; comparisons follow SQLite's
    order of types (numbers before text). Here the attribute is read once as ``a.x``
    (jsonb) and each JSON type is compared as SQLite would compare what it gives.
    """
    if not _ATTR_NAME.fullmatch(name):
        raise SegmentError(f"{where}: attribute name {name!r} must be letters, digits, '_' or '-'.")
    source = "SELECT CAST(d.attributes AS jsonb) -> CAST(? AS text) AS x"
    as_int = "(CASE WHEN a.x = 'true'::jsonb THEN 1 ELSE 0 END)"
    if op in ("exists", "not_exists"):
        params.append(name)
        test = "<>" if op == "exists" else "="
        return f"(SELECT coalesce(jsonb_typeof(a.x), 'null') {test} 'null' FROM ({source}) a)"
    if op == "contains":
        pattern = f"%{like_literal(_text(value, 'attr.' + name, where))}%"
        params.extend([name, pattern])
        text = dialect.like("(e.v #>> '{}')", "a.p")
        scalar = dialect.like("(a.x #>> '{}')", "a.p")
        flag = dialect.like(f"CAST({as_int} AS text)", "a.p")
        return (
            f"(SELECT CASE jsonb_typeof(a.x) WHEN 'object' THEN false WHEN 'array' THEN"
            " EXISTS (SELECT 1 FROM jsonb_array_elements(a.x) AS e(v)"
            f" WHERE jsonb_typeof(e.v) IN ('string', 'number') AND {text})"
            f" WHEN 'boolean' THEN {flag} ELSE {scalar} END"
            f" FROM ({source}, CAST(? AS text) AS p) a)"
        )
    if op in ("<", ">", "<=", ">=") and not isinstance(value, int | float | str):
        raise SegmentError(f"{where}: attr.{name} {op} needs a number or text value.")
    if value is None or isinstance(value, list | dict):
        raise SegmentError(f"{where}: attr.{name} {op} needs a value.")
    checked = _comparable(value, f"attr.{name} {op}", where)
    if isinstance(checked, str):
        params.extend([name, checked])
        below = "true" if _NUMBER_VS_TEXT[op] else "false"
        return (
            f"(SELECT CASE jsonb_typeof(a.x) WHEN 'string' THEN (a.x #>> '{{}}') {op} a.v"
            f" WHEN 'number' THEN {below} WHEN 'boolean' THEN {below}"
            f" WHEN 'array' THEN CAST(a.x AS text) {op} a.v"
            f" WHEN 'object' THEN CAST(a.x AS text) {op} a.v END"  # else (null, missing): NULL
            f' FROM ({source}, CAST(? AS text) COLLATE "C" AS v) a)'
        )
    # A number (a bool is 1 or 0, as sqlite3 binds it); a float as its shortest exact
    # text, which numeric reads without float8's rounding to 15 digits.
    number = int(checked) if isinstance(checked, bool | int) else repr(float(checked))
    params.extend([name, number])
    above = "true" if _TEXT_VS_NUMBER[op] else "false"
    return (
        f"(SELECT CASE jsonb_typeof(a.x) WHEN 'number' THEN CAST(a.x #>> '{{}}' AS numeric)"
        f" {op} a.v WHEN 'boolean' THEN {as_int} {op} a.v"
        f" WHEN 'string' THEN {above} WHEN 'array' THEN {above} WHEN 'object' THEN {above}"
        f" END FROM ({source}, CAST(? AS numeric) AS v) a)"  # else (null, missing): NULL
    )


def _comparable(value: Any, part: str, where: str) -> Any:
    """A value SQLite can compare: integers within 64 bits, finite numbers, bounded text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise SegmentError(
            f"{where}: {part} {_short(value)}: numbers must be between {INT64_MIN:,} and "
            f"{INT64_MAX:,}."
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise SegmentError(f"{where}: {part} needs a finite number, not {value!r}.")
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise SegmentError(
            f"{where}: {part}: a value is limited to {MAX_VALUE_CHARS:,} characters."
        )
    return value


def _too_long(where: str, part: str) -> SegmentError:
    return SegmentError(f"{where}: {part}: a value is limited to {MAX_VALUE_CHARS:,} characters.")


def _short(value: Any) -> str:
    text = str(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge number"
    return text if len(text) <= 40 else text[:37] + "…"


def _text(value: Any, field: str, where: str) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
        raise SegmentError(f"{where}: {field} needs a text value.")
    if isinstance(value, float) and not math.isfinite(value):
        raise SegmentError(f"{where}: {field} needs a text value, not {value!r}.")
    if isinstance(value, int) and abs(value) >= 10**MAX_VALUE_CHARS:
        raise SegmentError(
            f"{where}: {field}: a value is limited to {MAX_VALUE_CHARS:,} characters."
        )
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        raise SegmentError(
            f"{where}: {field}: a value is limited to {MAX_VALUE_CHARS:,} characters."
        )
    return text


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "yes", "1"):
        return True
    if str(value).lower() in ("false", "no", "0"):
        return False
    raise SegmentError(f"{where}: test must be true or false, not {value!r}.")


def _moment(value: Any, now: datetime, field: str, where: str) -> str:
    text = _text(value, field, where).strip() if value not in (None, "") else ""
    match = _DURATION.fullmatch(text)
    if match:
        try:
            return _iso(now - timedelta(**{_UNITS[match[2]]: int(match[1])}))
        except (OverflowError, ValueError):
            raise SegmentError(
                f"{where}: {field} within {_short(text)} reaches back before the year 1; "
                "use a shorter duration (e.g. 3650d for ten years)."
            ) from None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SegmentError(
            f"{where}: {field} needs a duration like 30d, 12h, 2w or a date like 2026-01-31 "
            f"(years 1 to 9999), not {_short(value)!r}."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return _iso(moment.astimezone(UTC))
    except OverflowError:
        raise SegmentError(
            f"{where}: {field} {text!r} falls outside the years 1 to 9999 in UTC."
        ) from None


def _iso(moment: datetime) -> str:
    """The stored timestamp form, zero-padded (``strftime('%Y')`` is not, before 1000)."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


# --- the text syntax -------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|<=|>=|\^=|=|<|>)|(?P<punct>[(),\[\]])'
    r"|(?P<word>[^\s()\[\],=!<>^\"]+))"
)
_WORD_OPS = {"has", "lacks", "contains", "exists", "within", "before", "in", "not_exists"}
_SYMBOL_OPS = {"^=": "starts_with"}


def parse_rule(text: str) -> dict[str, Any]:
    """Parse the text syntax into the JSON form; SegmentError says where it went wrong."""
    tokens = _tokenize(text)
    parser = _Parser(tokens, text)
    rule = parser.expr()
    if parser.pos < len(tokens):
        raise SegmentError(f"Unexpected {tokens[parser.pos]!r} in rule {text!r}.")
    return rule


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise SegmentError(f"Cannot read the rule at character {pos + 1}: {text[pos:]!r}.")
        tokens.append(match.group().strip())
        pos = match.end()
    if not tokens:
        raise SegmentError("The rule is empty.", hint="Example: platform = ios and tag has vip")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.pos = 0
        self.depth = 0  # open parentheses and 'not's: bounded before Python recursion is
        self.conditions = 0

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self) -> str:
        token = self.peek()
        if not token:
            raise SegmentError(f"The rule {self.text!r} ends too early.")
        self.pos += 1
        return token

    def expr(self) -> dict[str, Any]:
        items = [self.conjunction()]
        while self.peek().lower() == "or":
            self.take()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else {"any": items}

    def conjunction(self) -> dict[str, Any]:
        items = [self.term()]
        while self.peek().lower() == "and":
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else {"all": items}

    def term(self) -> dict[str, Any]:
        if self.peek().lower() in ("not", "("):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise SegmentError(
                    f"The rule nests 'not' and parentheses more than {MAX_DEPTH} levels deep "
                    f"(at token {self.pos + 1}, {self.peek()!r}).",
                    hint="Simplify it: 'not not X' is X.",
                )
            try:
                return self._nested()
            finally:
                self.depth -= 1
        return self.condition()

    def _nested(self) -> dict[str, Any]:
        if self.take().lower() == "not":
            return {"not": self.term()}
        inner = self.expr()
        if self.take() != ")":
            raise SegmentError(f"Missing ')' in rule {_short(self.text)!r}.")
        return inner

    def condition(self) -> dict[str, Any]:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise SegmentError(
                f"The rule has more than {MAX_CONDITIONS} conditions (at token {self.pos + 1}).",
                hint="Use one 'in (a, b, …)' condition or tag the devices instead.",
            )
        field = self.take()
        op = self.take()
        op = _SYMBOL_OPS.get(op, op.lower() if op.lower() in _WORD_OPS else op)
        if op in ("exists", "not_exists"):
            return {"field": field, "op": op}
        if op == "in":
            return {"field": field, "op": op, "value": self.value_list()}
        return {"field": field, "op": op, "value": self.value()}

    def value(self) -> Any:
        token = self.take()
        if token.startswith('"'):
            return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if re.fullmatch(r"-?\d+", token):
            if len(token.lstrip("-")) > 30:  # never a 64-bit number (and int() has a limit)
                raise SegmentError(
                    f"The number {_short(token)} in rule {_short(self.text)!r} is too large: "
                    f"numbers must be between {INT64_MIN:,} and {INT64_MAX:,}.",
                    hint='Quote it to compare it as text: attr.id = "123…".',
                )
            return int(token)
        if re.fullmatch(r"-?\d+\.\d+", token):
            number = float(token)
            if not math.isfinite(number):
                raise SegmentError(f"The number {_short(token)} is too large.")
            return number
        if token in ("true", "false"):
            return token == "true"
        return token

    def value_list(self) -> list[Any]:
        opener = self.take()
        if opener not in ("(", "["):
            raise SegmentError(f"'in' needs a list like (a, b) in rule {self.text!r}.")
        closer = ")" if opener == "(" else "]"
        values = [self.value()]
        while self.peek() == ",":
            self.take()
            values.append(self.value())
        if self.take() != closer:
            raise SegmentError(f"Missing {closer!r} in rule {self.text!r}.")
        return values


def rule_to_text(rule: Rule) -> str:
    """Render a JSON-form rule back to the text syntax (for display).

    Raises SegmentError when the rule is not a rule (e.g. a stored row edited by hand).
    """
    check_shape(rule)
    try:
        return _to_text(rule)
    except (KeyError, TypeError, AttributeError):
        raise SegmentError("The rule is not in the JSON form of a segment rule.") from None


def _to_text(rule: Rule) -> str:
    if "all" in rule or "any" in rule:
        key = "all" if "all" in rule else "any"
        joiner = " and " if key == "all" else " or "
        return joiner.join(_wrap(r, key) for r in rule[key])
    if "not" in rule:
        return f"not {_wrap(rule['not'], 'not')}"
    op = {v: k for k, v in _SYMBOL_OPS.items()}.get(rule["op"], rule["op"])
    if rule["op"] in ("exists", "not_exists"):
        return f"{rule['field']} {op}"
    if rule["op"] == "in":
        return f"{rule['field']} in ({', '.join(_show(v) for v in rule['value'])})"
    return f"{rule['field']} {op} {_show(rule.get('value'))}"


def _wrap(rule: Rule, parent: str) -> str:
    text = _to_text(rule)
    nested = ("any" in rule and parent != "any") or ("all" in rule and parent == "not")
    return f"({text})" if nested else text


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if re.fullmatch(r"[^\s()\[\],=!<>^\"]+", text) and text.lower() not in ("and", "or", "not"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
