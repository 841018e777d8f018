"""Liquid's most common push personalization, rendered without the Liquid machinery.

Nearly every campaign text is literal text around ``{{ first_name }}`` or
``{{ first_name | default: "there" }}``. python-liquid renders such a field in tens of
microseconds (a render context, a node walk, filter dispatch), which was the largest
single cost per recipient of a campaign (bench/README.md, issue 19). For exactly that
shape, and only while the values are strings (or missing), the output is a string
join; everything else, including any other value type or an unusually long value,
renders through the compiled Liquid template, so the output is always Liquid's.
"""

from __future__ import annotations

import re
from typing import Any

# {{ name }} or {{ name | default: "literal" }} (or 'literal'): no whitespace control,
# no dots or brackets, no escapes or braces inside the literal.
_OUTPUT = re.compile(
    r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*"
    r"(?:\|\s*default\s*:\s*(?:\"([^\"\\{}%]*)\"|'([^'\\{}%]*)'))?\s*\}\}"
)
_MARKUP = ("{{", "}}", "{%", "%}", "{#", "#}")
#: Longer values take the Liquid path (and so the render limits that apply there).
MAX_FAST_VALUE = 4096


class SimpleTemplate:
    """A parsed ``text {{ name | default: "x" }} text`` with Liquid's template behind it."""

    __slots__ = ("liquid", "parts", "tail")

    def __init__(self, liquid: Any, parts: list[tuple[str, str, str | None]], tail: str):
        self.liquid = liquid
        self.parts = parts  # (literal before, variable, default or None)
        self.tail = tail

    def global_variables(self) -> Any:
        return self.liquid.global_variables()

    def render(self, **context: Any) -> str:
        out: list[str] = []
        for literal, name, default in self.parts:
            value = context.get(name)
            if value is None:
                value = default or ""
            elif type(value) is not str or len(value) > MAX_FAST_VALUE:
                return str(self.liquid.render(**context))
            elif not value and default is not None:
                value = default
            out.append(literal)
            out.append(value)
        out.append(self.tail)
        return "".join(out)


def simple_or_liquid(source: str, liquid: Any) -> Any:
    """A ``SimpleTemplate`` when ``source`` has only plain outputs, else ``liquid``."""
    parts: list[tuple[str, str, str | None]] = []
    position = 0
    for match in _OUTPUT.finditer(source):
        literal = source[position : match.start()]
        if any(mark in literal for mark in _MARKUP):
            return liquid
        double, single = match.group(2), match.group(3)
        parts.append((literal, match.group(1), double if double is not None else single))
        position = match.end()
    tail = source[position:]
    if not parts or any(mark in tail for mark in _MARKUP):
        return liquid
    return SimpleTemplate(liquid, parts, tail)
