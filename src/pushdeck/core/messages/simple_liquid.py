"""Liquid's most common push personalization, rendered without the Liquid machinery.

Nearly every campaign text is literal text around ``{{ first_name }}`` or
``{{ first_name | default: "there" }}``. python-liquid renders such a field in tens of
microseconds (a render context, a node walk, filter dispatch), which was the largest
single cost per recipient of a campaign (bench/README.md, issue 19). For exactly that
shape, and only while the values are strings (or missing), the output is a string
join; everything else, including any other value type or an unusually long value,
renders through the compiled Liquid template, so the output is always Liquid's.

Recognizing the shape needs no Liquid at all, and every text of that shape is valid
Liquid (nothing else is accepted: no tags, no other filter, no Liquid keyword such as
``true`` or ``nil``, no brace next to a delimiter). So the Liquid template behind a
plain text is compiled only if a value ever needs it, and a campaign whose texts are
all plain never imports python-liquid (``templating``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# {{ name }} or {{ name | default: "literal" }} (or 'literal'): no whitespace control,
# no dots or brackets, no escapes or braces inside the literal.
_OUTPUT = re.compile(
    r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:\|\s*default\s*:\s*(?:\"([^\"\\{}%]*)\"|'([^'\\{}%]*)'))?\s*\}\}"
)
_MARKUP = ("{{", "}}", "{%", "%}", "{#", "#}")
#: Liquid literals, not variables ({{ true }} renders "true"): never the fast path.
_KEYWORDS = frozenset({"true", "false", "nil", "null", "empty", "blank"})
#: Longer values take the Liquid path (and so the render limits that apply there).
MAX_FAST_VALUE = 4096


class SimpleTemplate:
    """A parsed ``text {{ name | default: "x" }} text`` with Liquid's template behind it
    (compiled on first need by ``make_liquid``)."""

    __slots__ = ("_liquid", "_make_liquid", "parts", "tail")

    def __init__(
        self,
        make_liquid: Callable[[], Any],
        parts: list[tuple[str, str, str | None]],
        tail: str,
    ):
        self._make_liquid = make_liquid
        self._liquid: Any = None
        self.parts = parts  # (literal before, variable, default or None)
        self.tail = tail

    @property
    def liquid(self) -> Any:
        if self._liquid is None:
            self._liquid = self._make_liquid()
        return self._liquid

    def global_variables(self) -> list[str]:
        """The variables read, in order, once each (as Liquid's ``global_variables``)."""
        return list(dict.fromkeys(name for _, name, _ in self.parts))

    def render(self, **context: Any) -> str:
        joined = self.join(context.get)
        return str(self.liquid.render(**context)) if joined is None else joined

    def join(self, lookup: Callable[[str], Any]) -> str | None:
        """The output from ``lookup(name)`` values, or None when one is not a plain
        string (missing or short enough): then only Liquid knows the output."""
        out: list[str] = []
        for literal, name, default in self.parts:
            value = lookup(name)
            if value is None:
                value = default or ""
            elif type(value) is not str or len(value) > MAX_FAST_VALUE:
                return None
            elif not value and default is not None:
                value = default
            out.append(literal)
            out.append(value)
        out.append(self.tail)
        return "".join(out)


def is_plain_text(source: str) -> bool:
    """No Liquid delimiter at all: Liquid would output it unchanged."""
    return not any(mark in source for mark in _MARKUP)


def simple_template(source: str, make_liquid: Callable[[], Any]) -> SimpleTemplate | None:
    """A ``SimpleTemplate`` when ``source`` has only plain outputs, else None."""
    parts: list[tuple[str, str, str | None]] = []
    position = 0
    for match in _OUTPUT.finditer(source):
        literal = source[position : match.start()]
        # A brace just before "{{" would make Liquid read the output differently.
        if any(mark in literal for mark in _MARKUP) or literal.endswith("{"):
            return None
        name = match.group(1)
        if name in _KEYWORDS:
            return None
        double, single = match.group(2), match.group(3)
        parts.append((literal, name, double if double is not None else single))
        position = match.end()
    tail = source[position:]
    if not parts or any(mark in tail for mark in _MARKUP):
        return None
    return SimpleTemplate(make_liquid, parts, tail)


def simple_or_liquid(source: str, liquid: Any) -> Any:
    """A ``SimpleTemplate`` when ``source`` has only plain outputs, else ``liquid``."""
    simple = simple_template(source, lambda: liquid)
    return liquid if simple is None else simple
