"""Text that came from outside (a provider's answer), kept and shown only as text.

A push service's answer is written by whoever runs it, or by whatever sits in between:
its reason may be a spreadsheet formula, HTML, a terminal escape sequence, or megabytes
long. Pushdeck stores such text only through ``provider_text``: one line, control and
text-direction characters replaced, at most ``MAX_PROVIDER_TEXT`` characters. Whatever
shows it escapes it as usual (the HTML report, app labels in plain-text mode), and CSV
exports neutralise formulas (``csv_cells``).
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Characters of a provider's reason (or a message quoting one) that are kept.
MAX_PROVIDER_TEXT = 500
#: C0/C1 controls (escape sequences, line breaks) and the bidirectional overrides that
#: can make text read differently from what it is.
_UNSHOWABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def provider_text(value: object, limit: int = MAX_PROVIDER_TEXT) -> str:
    """``value`` as one line of plain text of at most ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    text = _UNSHOWABLE.sub(" ", text[: limit + 1])  # only what can be kept is scanned
    return text if len(text) <= limit else text[: limit - 1] + "…"


def provider_json(value: Any, limit: int = 4 * MAX_PROVIDER_TEXT) -> str:
    """A provider's raw answer as compact JSON text, capped like ``provider_text``."""
    return provider_text(json.dumps(value, default=str, ensure_ascii=False), limit)


def capped(value: Any, limit: int = 4 * MAX_PROVIDER_TEXT) -> Any:
    """``value`` (a parsed answer) with every string in it cut to ``limit`` characters,
    for JSON output, which escapes control characters by itself."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, dict):
        return {capped(k, limit): capped(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [capped(v, limit) for v in value]
    return value
