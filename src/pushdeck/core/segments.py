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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pushdeck.core.device_fields import known_timezones
from pushdeck.core.errors import SegmentError
from pushdeck.core.model import DeviceStatus, OptIn, Platform, ProviderKind, TokenKind

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


@dataclass(frozen=True)
class CompiledRule:
    """A WHERE clause over ``devices d`` and its parameters."""

    where: str
    params: tuple[Any, ...]


def compile_rule(rule: Rule, *, now: datetime | None = None) -> CompiledRule:
    """Compile ``rule`` (JSON form) to SQL; raise SegmentError naming what is wrong."""
    params: list[Any] = []
    moment = now or datetime.now(UTC)
    where = _node(rule, params, moment, "rule")
    if not _mentions(rule, {"opt_in"}):
        where = f"({where}) AND d.opt_in != 'denied'"
    if not _mentions(rule, {"status"}):
        where = f"({where}) AND d.status = 'active'"
    return CompiledRule(where, tuple(params))


def _mentions(rule: Any, fields: set[str]) -> bool:
    if isinstance(rule, Mapping):
        if rule.get("field") in fields:
            return True
        return any(
            _mentions(r, fields) for key in ("all", "any", "not") for r in _children(rule, key)
        )
    return False


def _children(rule: Mapping[str, Any], key: str) -> list[Any]:
    value = rule.get(key)
    if value is None:
        return []
    return [value] if key == "not" else list(value)


def _node(rule: Any, params: list[Any], now: datetime, where: str) -> str:
    if not isinstance(rule, Mapping):
        raise SegmentError(f"{where}: expected an object with all/any/not or a condition.")
    if "all" in rule or "any" in rule:
        key = "all" if "all" in rule else "any"
        items = rule[key]
        if not isinstance(items, list) or not items:
            raise SegmentError(f"{where}.{key} must be a non-empty list of rules.")
        joiner = " AND " if key == "all" else " OR "
        parts = [_node(r, params, now, f"{where}.{key}[{i}]") for i, r in enumerate(items)]
        return "(" + joiner.join(parts) + ")"
    if "not" in rule:
        return f"NOT ({_node(rule['not'], params, now, where + '.not')})"
    return _condition(rule, params, now, where)


def _condition(rule: Mapping[str, Any], params: list[Any], now: datetime, where: str) -> str:
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
    return _equality(family, op, value, params, where)


def _equality(field: str, op: str, value: Any, params: list[Any], where: str) -> str:
    column = _ENUM_FIELDS[field][0] if field in _ENUM_FIELDS else f"d.{field}"
    if field == "app":
        column = "(SELECT name FROM apps WHERE apps.id = d.app_id)"
    values = value if op == "in" else [value]
    if not isinstance(values, list) or not values:
        raise SegmentError(f"{where}: {field} in … needs a non-empty list of values.")
    checked = [_checked_value(field, v, where) for v in values]
    if op == "starts_with":
        params.extend([checked[0], f"{checked[0]}-%" if field == "locale" else f"{checked[0]}%"])
        return f"({column} = ? OR {column} LIKE ?)"
    params.extend(checked)
    if op == "in":
        return f"{column} IN ({', '.join('?' * len(checked))})"
    return f"{column} {'=' if op == '=' else '!='} ?"


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


def _attr(name: str, op: str, value: Any, params: list[Any], where: str) -> str:
    if not _ATTR_NAME.fullmatch(name):
        raise SegmentError(f"{where}: attribute name {name!r} must be letters, digits, '_' or '-'.")
    params.append(f'$."{name}"')
    column = "json_extract(d.attributes, ?)"
    if op == "exists":
        return f"{column} IS NOT NULL"
    if op == "not_exists":
        return f"{column} IS NULL"
    if op == "contains":
        params.append(f"%{_text(value, 'attr.' + name, where)}%")
        return f"{column} LIKE ?"
    if op in ("<", ">", "<=", ">=") and not isinstance(value, int | float | str):
        raise SegmentError(f"{where}: attr.{name} {op} needs a number or text value.")
    if value is None or isinstance(value, list | dict):
        raise SegmentError(f"{where}: attr.{name} {op} needs a value.")
    params.append(value)
    return f"{column} {op} ?"


def _text(value: Any, field: str, where: str) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
        raise SegmentError(f"{where}: {field} needs a text value.")
    return str(value)


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "yes", "1"):
        return True
    if str(value).lower() in ("false", "no", "0"):
        return False
    raise SegmentError(f"{where}: test must be true or false, not {value!r}.")


def _moment(value: Any, now: datetime, field: str, where: str) -> str:
    text = str(value or "").strip()
    match = _DURATION.fullmatch(text)
    if match:
        delta = timedelta(**{_UNITS[match[2]]: int(match[1])})
        return (now - delta).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SegmentError(
            f"{where}: {field} needs a duration like 30d, 12h, 2w or a date like 2026-01-31, "
            f"not {value!r}."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        if self.peek().lower() == "not":
            self.take()
            return {"not": self.term()}
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            if self.take() != ")":
                raise SegmentError(f"Missing ')' in rule {self.text!r}.")
            return inner
        return self.condition()

    def condition(self) -> dict[str, Any]:
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
            return int(token)
        if re.fullmatch(r"-?\d+\.\d+", token):
            return float(token)
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
    """Render a JSON-form rule back to the text syntax (for display)."""
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
    text = rule_to_text(rule)
    nested = ("any" in rule and parent != "any") or ("all" in rule and parent == "not")
    return f"({text})" if nested else text


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if re.fullmatch(r"[^\s()\[\],=!<>^\"]+", text) and text.lower() not in ("and", "or", "not"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
