"""What bounds one recipient's render, importable without python-liquid.

python-liquid (with the Babel filters it loads) takes about a tenth of a second to
import, a tenth of the campaign command's whole start-up. Most campaign texts are
plain ``{{ first_name | default: "there" }}`` outputs that never need it
(``simple_liquid``), so the send path imports Liquid only when a text does
(``templating``); what both paths share lives here, and ``liquid_env`` re-exports it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pushdeck.core.common.errors import ValidationError

#: Characters of Liquid source in one field.
MAX_SOURCE_CHARS = 16_384
#: Wall-clock seconds to render all fields of one recipient's message.
RENDER_SECONDS = 0.25

#: The clock renders are timed by (tests replace it with one they control).
clock = time.monotonic

# The deadline of the render in progress (per thread / task), set by ``deadline()``.
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "pushdeck_liquid_deadline", default=None
)


class TemplateError(ValidationError):
    """A template cannot be rendered (for one recipient, or for any)."""


@contextmanager
def deadline(seconds: float = RENDER_SECONDS) -> Iterator[None]:
    """Bound every render in this block to ``seconds`` in total (one recipient)."""
    token = DEADLINE.set(clock() + seconds)
    try:
        yield
    finally:
        DEADLINE.reset(token)
