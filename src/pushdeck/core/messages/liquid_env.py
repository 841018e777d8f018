"""The Liquid environment messages are rendered in: strict, self-contained and bounded.

A push message is one short text per field, rendered once per recipient. So:

- unknown filters and tags are errors found when the campaign is saved (python-liquid
  only raises for an unknown filter when it is *used*, i.e. per device at send time);
- ``include`` and ``render`` are refused: there are no other templates to include;
- rendering is bounded, so one template cannot hang a send or use a gigabyte: loop
  iterations (nested loops multiply), the size of every value a filter produces, the
  template's local variables, its output, and the time spent per recipient.

The limits are far above what a notification needs (every provider refuses payloads
over 4-5 KB) and are documented in docs/campaign-file.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from io import StringIO
from typing import Any, TextIO

from liquid import BoundTemplate, Environment, RenderContext
from liquid.exceptions import (
    LiquidError,
    LiquidSyntaxError,
    LocalNamespaceLimitError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
)
from liquid.output import LimitedStringIO
from liquid.stream import TokenStream
from liquid.tag import Tag
from liquid.undefined import UNDEFINED

# Shared with the send path's Liquid-free renders (see render_budget), and re-exported.
from pushdeck.core.messages import render_budget as _budget
from pushdeck.core.messages.render_budget import DEADLINE as _DEADLINE
from pushdeck.core.messages.render_budget import (
    MAX_SOURCE_CHARS,
    RENDER_SECONDS,
    TemplateError,
    deadline,
)

#: Loop iterations per field (the product of nested loops' lengths).
LOOP_ITERATION_LIMIT = 10_000
#: Characters one field may render to.
OUTPUT_LIMIT_CHARS = 65_536
#: Characters (or items) in any value a filter returns or receives.
MAX_VALUE_SIZE = 65_536
#: ``sys.getsizeof`` bytes of a template's assigned variables.
LOCAL_NAMESPACE_LIMIT = 262_144

REFUSED_TAGS = ("include", "render")


class RenderLimitError(ResourceLimitError):
    """A Pushdeck render limit was reached (a value too large, too slow)."""


class _RefusedTag(Tag):
    """``include`` / ``render``: refused when parsed, with a one-line reason."""

    block = False

    def parse(self, stream: TokenStream) -> Any:
        raise LiquidSyntaxError(
            f"{{% {self.name} %}} is not supported: a message cannot include other "
            "templates; write the text in this field instead",
            token=stream.current,
        )


def _refused(tag_name: str) -> type[Tag]:
    return type(f"Refused_{tag_name}", (_RefusedTag,), {"name": tag_name})


_SIZED = frozenset({str, list, tuple, dict, range})


def _size(value: object) -> int:
    """Characters of a string, items of a sequence; 0 for everything else.

    ``type() in`` rather than ``isinstance``: this runs for every filter argument of
    every recipient, and filters only ever make these exact types.
    """
    return len(value) if type(value) in _SIZED else 0  # type: ignore[arg-type]


class _CharLimitedIO(LimitedStringIO):
    """The output limit counted in characters (x4 bounds the UTF-8 bytes).

    python-liquid's LimitedStringIO encodes every write to count bytes; on the send
    path that is a measurable share of a render, and characters bound memory as well.
    """

    def write(self, text: str) -> int:
        if text:
            self.size += len(text)
            if self.size > self.limit:
                raise OutputStreamLimitError("output stream limit reached", token=None)
        return StringIO.write(self, text)


class _BoundedContext(RenderContext):
    """A render context that checks the deadline and the size of filter values."""

    __slots__ = ("_deadline",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = _DEADLINE.get()
        self._deadline = current if current is not None else _budget.clock() + RENDER_SECONDS

    def check_time(self) -> None:
        if _budget.clock() > self._deadline:
            raise RenderLimitError("time limit reached", token=None)

    def get(self, path: list[object], *, token: Any, default: object = UNDEFINED) -> object:
        self.check_time()
        return super().get(path, token=token, default=default)

    def assign(self, key: str, val: Any) -> None:
        self.check_time()
        super().assign(key, val)

    def raise_for_loop_limit(self, length: int = 1) -> None:
        self.check_time()
        super().raise_for_loop_limit(length)

    def get_buffer(self, buf: TextIO | None = None) -> StringIO:
        carry = buf.size if isinstance(buf, LimitedStringIO) else 0
        return _CharLimitedIO(limit=OUTPUT_LIMIT_CHARS - carry)

    def filter(self, name: str, token: Any) -> Callable[..., object]:
        self.check_time()
        func = super().filter(name, token=token)

        def bounded(left: object, *args: object, **kwargs: object) -> object:
            if _size(left) > MAX_VALUE_SIZE or any(_size(v) > MAX_VALUE_SIZE for v in args):
                raise RenderLimitError(f"{name}: value too large", token=token)
            if kwargs and any(_size(v) > MAX_VALUE_SIZE for v in kwargs.values()):
                raise RenderLimitError(f"{name}: value too large", token=token)
            if name in _PRODUCT_FILTERS:
                _check_product(name, left, args)
            result = func(left, *args, **kwargs)
            if _size(result) > MAX_VALUE_SIZE:
                raise RenderLimitError(f"{name}: value too large", token=token)
            self.check_time()
            return result

        return bounded


_PRODUCT_FILTERS = frozenset({"join", "replace"})


def _check_product(name: str, left: object, args: tuple[object, ...]) -> None:
    """Refuse the two filters whose result can be the product of their inputs' sizes."""
    if name == "join" and isinstance(left, list | tuple | range):
        separator = str(args[0]) if args else " "
        estimate = len(left) * (len(separator) + 1)
    elif name == "replace" and isinstance(left, str) and len(args) >= 2:
        estimate = len(left) + (left.count(str(args[0])) * len(str(args[1])))
    else:
        return
    if estimate > MAX_VALUE_SIZE:
        raise RenderLimitError(f"{name}: value too large", token=None)


class _BoundedTemplate(BoundTemplate):
    context_class = _BoundedContext

    def _get_buffer(self) -> StringIO:
        return _CharLimitedIO(limit=OUTPUT_LIMIT_CHARS)


class MessageEnvironment(Environment):
    """Strict filters, no include/render, resource limits on every render."""

    loop_iteration_limit = LOOP_ITERATION_LIMIT
    output_stream_limit = OUTPUT_LIMIT_CHARS  # enforced by _CharLimitedIO
    local_namespace_limit = LOCAL_NAMESPACE_LIMIT
    template_class = _BoundedTemplate

    def __init__(self) -> None:
        super().__init__(strict_filters=True)
        for name in REFUSED_TAGS:
            self.tags[name] = _refused(name)(self)


ENV = MessageEnvironment()

# ---------------------------------------------------------------------- checking


def source_problems(source: str) -> list[str]:
    """Why ``source`` cannot be used as a message template (empty: it can).

    Checked without any recipient: size, syntax, unknown tags and filters, refused tags,
    then one render with no device data, which finds limits a template reaches whatever
    the recipient (``{% for i in (1..100000000) %}``).
    """
    if len(source) > MAX_SOURCE_CHARS:
        return [f"the template is {len(source):,} characters; the limit is {MAX_SOURCE_CHARS:,}"]
    try:
        template = ENV.from_string(source)
    except LiquidError as exc:
        return [syntax_message(exc)]
    unknown = sorted(set(template.analyze().filters) - set(ENV.filters))
    if unknown:
        return [f"unknown filter '{name}'{_suggestion(name, ENV.filters)}" for name in unknown]
    try:
        with deadline():
            template.render()
    except ResourceLimitError as exc:
        return [limit_message(exc)]
    except LiquidError:
        pass  # depends on the recipient's data: found per device at send time
    return []


def _suggestion(name: str, known: Mapping[str, object]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


_UNEXPECTED_TAG = re.compile(r"unexpected tag '([^']*)'")
_INNER_TAGS = frozenset({"else", "elsif", "when", "break", "continue"})


def syntax_message(exc: LiquidError) -> str:
    """One line: what is wrong and where (line and column), never the source dump."""
    text = str(exc.message or type(exc).__name__).splitlines()[0]
    match = _UNEXPECTED_TAG.fullmatch(text)
    if match:
        name = match[1]
        known = name in ENV.tags or name.startswith("end") or name in _INNER_TAGS
        if not known:
            text = f"unknown tag '{name}'{_suggestion(name, ENV.tags)}"
    where = exc.context()
    return f"{text} (line {where[0]}, column {where[1] + 1})" if where else text


def limit_message(exc: LiquidError) -> str:
    """A resource limit in words a campaign author can act on."""
    if isinstance(exc, LoopIterationLimitError):
        return f"the loops run more than {LOOP_ITERATION_LIMIT:,} times in one message"
    if isinstance(exc, OutputStreamLimitError):
        return f"the text rendered is longer than {OUTPUT_LIMIT_CHARS:,} characters"
    if isinstance(exc, LocalNamespaceLimitError):
        return f"assigned variables grow beyond {LOCAL_NAMESPACE_LIMIT:,} bytes"
    text = str(exc.message or "")
    if text == "time limit reached":
        return f"rendering takes longer than {RENDER_SECONDS:g} s for one recipient"
    if text.endswith("value too large"):
        what = text.split(":")[0]
        return f"a value given to or made by '{what}' exceeds {MAX_VALUE_SIZE:,} characters/items"
    return text.splitlines()[0] if text else type(exc).__name__


def render_message(exc: BaseException) -> str:
    """One line for a render failure of one recipient."""
    if isinstance(exc, ResourceLimitError):
        return limit_message(exc)
    if isinstance(exc, LiquidError):
        return syntax_message(exc)
    if isinstance(exc, RecursionError | MemoryError):
        return f"the template is too complex to render ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"


__all__ = [
    "ENV",
    "LOOP_ITERATION_LIMIT",
    "MAX_SOURCE_CHARS",
    "OUTPUT_LIMIT_CHARS",
    "RENDER_SECONDS",
    "MessageEnvironment",
    "TemplateError",
    "deadline",
    "render_message",
    "source_problems",
]
