"""Streaming readers for device files: CSV, JSON array and NDJSON.

Each reader yields ``(line, record | None, problem)``: a record is a dict of the
file's own column names to values; ``problem`` is a row-level reason when the
row could not even be parsed (bad bytes, broken quoting, an over-long line).
Memory stays flat: the file is read a line or a chunk at a time, and no line
longer than ``MAX_LINE`` bytes is ever held whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pushdeck.core.common.csv_cells import read_cell
from pushdeck.core.common.errors import ValidationError

MAX_LINE = 64 * 1024  # a device row is well under 4 KiB; anything longer is broken
CHUNK = 64 * 1024

Parsed = tuple[int, dict[str, Any] | None, str]


def detect_format(path: Path) -> str:
    """'csv', 'json' or 'ndjson' from the extension, else from the first byte."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "ndjson"
    return "csv"


class _Lines:
    """Physical lines of a binary file, decoded, with over-long lines replaced.

    An over-long line is skipped to its end and replaced by an empty line; its
    number is recorded in ``too_long`` so the caller can report it. Lines that are
    not UTF-8 are decoded with replacement characters and their numbers recorded in
    ``bad_bytes``.

    Speed: the file is decoded a block (about 1 MB of whole lines) at a time, and lines
    are handed out from a list; a block holding anything unusual (bytes that are not
    UTF-8, an over-long line, the byte-order mark) is read again line by line with the
    checks above. Same lines either way; the block path costs a fraction of a readline
    and decode per line.
    """

    BLOCK = 1 << 20

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.number = 0
        self.too_long: dict[int, int] = {}
        self.bad_bytes: set[int] = set()
        self.bytes_read = 0
        self.crossed_stop = False  # see read_csv's stop_line
        self._block: list[str] = []
        self._next = 0
        self._careful_until = -1  # file offset up to which lines are read one by one

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._next < len(self._block):
            line = self._block[self._next]
            self._next += 1
            self.number += 1
            return line
        if self._careful_until > self.fh.tell() or not self._load_block():
            return self._careful_next()
        return self.__next__()

    def _load_block(self) -> bool:
        """Decode the next block of whole lines; False if it needs the careful path."""
        start = self.fh.tell()
        data = self.fh.read(self.BLOCK)
        if data and not data.endswith(b"\n"):
            data += self.fh.readline(MAX_LINE + 1)  # finish the block's last line
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        parts = text.split("\n")
        unusual = (
            not text
            or (start == 0 and text.startswith("\ufeff"))
            # a UTF-8 character is at most 4 bytes: only then are byte lengths needed
            or (max(map(len, parts)) * 4 > MAX_LINE and max(map(len, data.split(b"\n"))) > MAX_LINE)
        )
        if unusual:
            self.fh.seek(start)
            self._careful_until = start + len(data)
            return False
        self.bytes_read += len(data)
        last = parts.pop()  # "" when the block ends with a newline
        self._block = [part + "\n" for part in parts]
        if last:
            self._block.append(last)
        self._next = 0
        return True

    def _careful_next(self) -> str:
        raw = self.fh.readline(MAX_LINE + 1)
        if not raw:
            raise StopIteration
        self.number += 1
        self.bytes_read += len(raw)
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            size = len(raw) + self._skip_rest()
            self.too_long[self.number] = size
            return "\n"
        if self.number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_bytes.add(self.number)
            return raw.decode("utf-8", errors="replace")

    def _skip_rest(self) -> int:
        skipped = 0
        while True:
            chunk = self.fh.readline(CHUNK)
            skipped += len(chunk)
            self.bytes_read += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                return skipped


class CsvRows:
    """The records of a CSV file as lists of fields, after its header (``columns``).

    Iterating yields ``(line, fields | None, problem)``. Lists, not dicts: the import
    reads fields by position (``RowPlan`` with columns), which a million-row file
    notices; ``read_csv`` gives dicts keyed by column name for everything else.

    For reading a file in parts (``import_staged``): ``columns`` is the header of a part
    that starts after it, and ``stop_line`` ends the part cleanly before the record that
    starts on that line. A quoted field can only be told from a record boundary by
    reading from the top, so if a record runs across ``stop_line`` the split was not a
    boundary: ``lines.crossed_stop`` is set and reading goes on to the end of the file.
    """

    def __init__(
        self,
        fh: IO[bytes],
        lines: _Lines | None = None,
        *,
        columns: list[str] | None = None,
        delimiter: str | None = None,
        stop_line: int | None = None,
    ) -> None:
        self.lines = lines or _Lines(fh)
        csv.field_size_limit(MAX_LINE)
        source: Iterator[str] = self.lines
        if delimiter is None:  # reading from the header: it tells the delimiter
            first = next(self.lines, "")
            delimiter = sniff_delimiter(first)
            source = itertools.chain([first] if first else [], self.lines)
        self.delimiter = delimiter
        self.reader = csv.reader(source, delimiter=delimiter)
        self.columns = read_header(self.reader) if columns is None else columns
        self.stop_line = stop_line

    def __iter__(self) -> Iterator[tuple[int, list[str] | None, str]]:
        lines, reader, stop_line, width = self.lines, self.reader, self.stop_line, len(self.columns)
        while True:
            start = lines.number + 1
            if start == stop_line and not lines.crossed_stop:
                return
            try:
                row: list[str] | None = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row, error = None, str(exc)
            if stop_line is not None and start < stop_line <= lines.number:
                lines.crossed_stop = True
            if row is None:
                yield (
                    start,
                    None,
                    (
                        f"cannot parse CSV ({error}); check the quoting from line {start} "
                        f"to line {lines.number}"
                    ),
                )
                continue
            problem = _line_problem(lines, start) if lines.too_long or lines.bad_bytes else ""
            if problem:
                yield start, None, problem
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            if len(row) != width:
                yield (
                    start,
                    None,
                    (f"has {len(row)} fields but the header has {width}; check commas and quoting"),
                )
                continue
            # Cells our exports escaped against spreadsheet formulas ('=…, '-5) read back
            # as they were written (csv_cells). One scan of the joined row first: a
            # per-cell check cost 8 times more on rows without any apostrophe.
            if "'" in "".join(row):
                row = [read_cell(c) if c[:1] == "'" else c for c in row]
            yield start, row, ""


def read_csv(
    fh: IO[bytes],
    progress: _Lines | None = None,
    *,
    columns: list[str] | None = None,
    delimiter: str | None = None,
    stop_line: int | None = None,
) -> Iterator[Parsed]:
    """Rows of a CSV file as dicts keyed by the header's column names (see ``CsvRows``)."""
    rows = CsvRows(fh, progress, columns=columns, delimiter=delimiter, stop_line=stop_line)
    for line, row, problem in rows:
        yield line, None if row is None else dict(zip(rows.columns, row, strict=True)), problem


#: Field separators seen in device files: commas; semicolons from spreadsheets in locales
#: whose decimal mark is a comma (Excel's "CSV"); tabs (.tsv, copied cells); pipes.
DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(header_line: str) -> str:
    """The separator a file's header line uses: the most frequent of ``DELIMITERS``
    outside quotes (column names hold none of them), a comma when there is none."""
    outside = header_line.split('"')[::2]  # the text between quoted stretches
    counts = {d: sum(part.count(d) for part in outside) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties: the earlier, comma first
    return best if counts[best] else ","


def read_header(reader: Iterator[list[str]]) -> list[str]:
    """The column names from a CSV reader's first record, or a clear error."""
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("The file is empty.", field="header") from None
    except csv.Error as exc:
        raise ValidationError(f"Line 1 (the header) cannot be read: {exc}.") from None
    columns = [h.strip() for h in header]
    if not any(columns):
        raise ValidationError("Line 1 should be a header naming the columns; it is empty.")
    return columns


def _line_problem(lines: _Lines, start: int) -> str:
    for number in range(start, lines.number + 1):
        if number in lines.too_long:
            return f"line is {lines.too_long.pop(number):,} bytes long (limit {MAX_LINE:,})"
        if number in lines.bad_bytes:
            lines.bad_bytes.discard(number)
            return "contains bytes that are not UTF-8; save the file as UTF-8"
    return ""


def read_ndjson(
    fh: IO[bytes], progress: _Lines | None = None, *, stop_line: int | None = None
) -> Iterator[Parsed]:
    """One device object per line; a part read for ``import_staged`` ends before ``stop_line``."""
    lines = progress or _Lines(fh)
    while lines.number + 1 != stop_line:
        text = next(lines, None)
        if text is None:
            return
        number = lines.number
        problem = _line_problem(lines, number)
        if problem:
            yield number, None, problem
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, None, f"is not valid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(value, dict):
            yield number, None, "must be a JSON object, one device per line"
            continue
        yield number, value, ""


class CountingReader(io.RawIOBase):
    """A raw reader that counts the bytes read through it (for progress)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.fh.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


def read_json_array(raw: CountingReader) -> Iterator[Parsed]:
    """Stream the objects of a top-level JSON array without loading it whole."""
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors="strict")
    decoder = json.JSONDecoder()
    buffer = _read_chunk(text).lstrip("\ufeff \t\r\n")
    if not buffer.startswith("["):
        raise ValidationError("A JSON device file must be an array of objects: [{...}, ...].")
    buffer, index = buffer[1:], 0
    while True:
        buffer = buffer.lstrip(" \t\r\n,")
        while not buffer:
            chunk = _read_chunk(text)
            if not chunk:
                raise ValidationError("The JSON array is not closed with ']'.")
            buffer = chunk.lstrip(" \t\r\n,")
        if buffer.startswith("]"):
            return
        index += 1
        value, buffer = _decode_one(decoder, buffer, text, index)
        if isinstance(value, dict):
            yield index, value, ""
        else:
            yield index, None, "must be a JSON object"


def _decode_one(
    decoder: json.JSONDecoder, buffer: str, text: IO[str], index: int
) -> tuple[Any, str]:
    while True:
        try:
            value, end = decoder.raw_decode(buffer)
            return value, buffer[end:]
        except json.JSONDecodeError as exc:
            chunk = _read_chunk(text)
            if not chunk or len(buffer) > MAX_LINE * 4:
                raise ValidationError(
                    f"Item {index} of the JSON array is not valid JSON ({exc.msg}); "
                    "nothing after it can be read.",
                ) from None
            buffer += chunk


def _read_chunk(text: IO[str]) -> str:
    try:
        return text.read(CHUNK)
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"The JSON file contains bytes that are not UTF-8 (near byte {exc.start}).",
            hint="Save the file as UTF-8.",
        ) from None


@dataclass
class FileRows:
    """The parsed rows of a device file (or of one part of it), and how far reading got."""

    rows: Iterable[tuple[int, Any, str]]  # dicts for JSON, lists of fields for CSV
    columns: list[str] | None  # the CSV header the lists follow; None for JSON
    _lines: _Lines | None
    _counter: CountingReader | None

    @property
    def bytes_read(self) -> int:
        """For progress (whole blocks ahead of the row being checked)."""
        if self._lines is not None:
            return self._lines.bytes_read
        return self._counter.bytes_read if self._counter is not None else 0

    @property
    def crossed_stop(self) -> bool:
        """A record ran across ``stop_line`` (see ``CsvRows``)."""
        return self._lines is not None and self._lines.crossed_stop


def open_rows(
    fh: IO[bytes],
    fmt: str,
    *,
    first_line: int = 1,
    columns: list[str] | None = None,
    delimiter: str | None = None,
    stop_line: int | None = None,
) -> FileRows:
    """Rows of a CSV, JSON-array or NDJSON file read from ``fh``'s position on.

    A part that starts after the top (``import_staged``) gives the number of its first
    line, and for CSV the header's ``columns`` and ``delimiter``; it ends before
    ``stop_line``. A JSON array is one value and is always read whole.
    """
    if fmt == "json":
        counter = CountingReader(fh)
        return FileRows(read_json_array(counter), None, None, counter)
    lines = _Lines(fh)
    lines.number = first_line - 1
    if fmt == "csv":
        rows = CsvRows(fh, lines, columns=columns, delimiter=delimiter, stop_line=stop_line)
        return FileRows(rows, rows.columns, lines, None)
    return FileRows(read_ndjson(fh, lines, stop_line=stop_line), None, lines, None)
