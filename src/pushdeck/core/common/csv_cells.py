"""CSV cells that are safe to open in a spreadsheet, and read back unchanged.

Every CSV Pushdeck writes (device exports, reports, per-device reports, rejected rows)
holds text from outside: tags, attributes, provider reasons, variant names. A cell that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets. Following the OWASP guidance on CSV injection,
such a text cell is written with a leading ``'``, which spreadsheets show as text.

The device importer reads such a cell back to the original value (``read_cell``). To
keep that exact, a text that already begins with one or more ``'`` followed by one of
those characters gets one more ``'``; any other text is written as it is.

Numbers: a cell Pushdeck writes from an ``int`` or ``float`` it computed (counts, rates,
line numbers) is a number, never a formula, and is written unescaped. Numbers that
arrive as text (an attribute ``-5`` in a tag, a token) are text and are escaped; the
importer turns ``'-5`` back into ``-5``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

#: What makes a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")


def safe_cell(value: Any) -> Any:
    """``value`` as written to a CSV cell: text that could be a formula gets a ``'``."""
    if (
        isinstance(value, str)
        and value
        and (value.startswith(FORMULA_STARTS) or _ESCAPED.match(value))
    ):
        return "'" + value
    return value


def read_cell(cell: str) -> str:
    """The original text of a cell ``safe_cell`` wrote (any other cell unchanged)."""
    if cell[:1] == "'" and _ESCAPED.match(cell):
        return cell[1:]
    return cell


class SafeWriter:
    """``csv.writer`` whose every text cell goes through ``safe_cell``."""

    def __init__(self, out: IO[str], **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(out: IO[str], **options: Any) -> SafeWriter:
    """The one way Pushdeck writes CSV: ``csv.writer(out, **options)``, formulas defused."""
    return SafeWriter(out, **options)
