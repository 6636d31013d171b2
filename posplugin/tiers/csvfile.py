"""One CSV pipeline for every import (tier lists, queue history, head office).

What store staff actually feed it: files saved from Excel and Numbers as well
as from scripts. The header names the columns, in any order and any case; the
delimiter is whichever of ``,`` ``;`` or tab makes the header complete (Excel's
``sep=;`` first line is honoured); a BOM and CRLF line ends are fine; a file
that is not UTF-8 is read as Latin-1 (Windows-1252, what Excel writes on
Windows) with a note saying so. Numbers may use a decimal comma.

Each data row is checked on its own and reported the same way everywhere:
``(line_number, reason)``, where the line number is the file's physical line
(a quoted field spanning lines counts every line). :class:`Problems` keeps the
first few bad rows and counts the rest, so a file of a million bad rows costs
no memory.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import re
from typing import IO, Callable, Iterable, Iterator, Sequence, TypeVar

from ..errors import ImportRefused, ValidationError

log = logging.getLogger("posplugin.csv")

DELIMITERS = (",", ";", "\t")
NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
MAX_REPORTED = 50
_GROUPED = re.compile(r"^[0-9]{1,3}(?:([,. _'\u00a0\u202f])[0-9]{3})?(?:\1[0-9]{3})*$")

T = TypeVar("T")
Row = Callable[[list, dict], T]


def open_csv(path: str | os.PathLike) -> IO[bytes]:
    """Open a CSV file for :func:`read` (as bytes: the pipeline decodes it, so
    it can fall back to Latin-1 and say so)."""
    return open(path, "rb")


class Problems:
    """The bad rows of one file: the first ``keep`` with their reasons, and how many in all."""

    def __init__(self, keep: int = MAX_REPORTED):
        self.keep = keep
        self.kept: list[tuple[int, str]] = []
        self.total = 0

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, line: int, reason: str) -> None:
        self.total += 1
        if len(self.kept) < self.keep:
            self.kept.append((line, reason))

    def good(self, rows: Iterable[tuple[int, T | str]]) -> Iterator[T]:
        """The good values of ``(line, value or reason)`` rows; the bad are recorded here."""
        for line, value in rows:
            if isinstance(value, str):
                self.add(line, value)
            else:
                yield value

    def refuse(self) -> None:
        """Raise :class:`ImportRefused` naming the kept lines and counting all."""
        raise ImportRefused(self.kept, total_bad=self.total)


class CsvReader:
    """The data rows of a CSV with the named ``columns`` (others are ignored).

    A column may be a tuple of names it goes by (``("username", "handle")``):
    the first found counts, and ``at`` knows it by the first name. ``optional``
    columns are in ``at`` only when the header has them.

    ``source`` is any iterable of lines, bytes (decoded here) or text. Raises
    :class:`ImportRefused` at once for a file that cannot be read at all: empty,
    or a header without the columns. Iterating yields ``(line, cells)`` for each
    data row, or ``(line, reason)`` for a row of the wrong shape; blank lines are
    skipped. ``at`` maps each column to its index; ``notes`` says what was
    assumed about the file (its encoding).
    """

    def __init__(self, source: Iterable[bytes | str], columns: Sequence[str | tuple[str, ...]],
                 optional: Sequence[str | tuple[str, ...]] = ()):
        self.columns = tuple((c,) if isinstance(c, str) else tuple(c) for c in columns)
        expected = ",".join(names[0] for names in self.columns)
        self.notes: list[str] = []
        lines = self._decoded(iter(source))
        first = list(itertools.islice(lines, 2))
        if not first or not first[0].strip():
            raise ImportRefused([(1, "the file is empty; expected a header row: " + expected)])
        declared = _sep_line(first[0])
        header_line = first[1] if declared and len(first) > 1 else first[0]
        self.delimiter = declared or self._sniff(header_line)
        self._reader = csv.reader(itertools.chain(first, lines), delimiter=self.delimiter)
        if declared:
            next(self._reader)
        header = _names(next(self._reader))
        missing = [names[0] for names in self.columns if not any(n in header for n in names)]
        if missing:
            raise ImportRefused([(self._reader.line_num, _missing(missing, expected, header_line))])
        self.at = {names[0]: header.index(next(n for n in names if n in header))
                   for names in self.columns + tuple((c,) if isinstance(c, str) else tuple(c) for c in optional)
                   if any(n in header for n in names)}
        self.width = len(header)

    def __iter__(self) -> Iterator[tuple[int, list[str] | str]]:
        reader, width = self._reader, self.width
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, f"unreadable CSV: {exc}"
                continue
            except UnicodeDecodeError:
                yield reader.line_num + 1, "not UTF-8 text (open the file as bytes to read it as Latin-1)"
                return
            if len(cells) == width:
                yield reader.line_num, cells
            elif cells and cells != [""]:
                yield reader.line_num, self._wrong_width(cells)

    def rows(self, parse: Row) -> Iterator[tuple[int, T | str]]:
        """``(line, parse(cells, at))`` for each data row, or ``(line, reason)``
        when the row is malformed or ``parse`` raises ValueError or ValidationError."""
        at = self.at
        for line, cells in self:
            if isinstance(cells, str):
                yield line, cells
                continue
            try:
                yield line, parse(cells, at)
            except ValidationError as exc:
                yield line, exc.message
            except ValueError as exc:
                yield line, str(exc)

    def _sniff(self, line: str) -> str:
        """The delimiter that makes the header complete; else the most frequent one."""
        for delimiter in DELIMITERS:
            header = set(_names(next(csv.reader([line], delimiter=delimiter))))
            if all(any(n in header for n in names) for names in self.columns):
                return delimiter
        return max(DELIMITERS, key=line.count) if any(d in line for d in DELIMITERS) else ","

    def _wrong_width(self, cells: list[str]) -> str:
        joined = self.delimiter.join(cells)
        for other in DELIMITERS:
            if other != self.delimiter and joined.count(other) == self.width - 1 and len(cells) < self.width:
                return (f"this line looks {NAMES[other]}-separated, but the header is "
                        f"{NAMES[self.delimiter]}-separated; save the whole file one way")
        return f"expected {self.width} columns, found {len(cells)}"

    def _decoded(self, lines: Iterator[bytes | str]) -> Iterator[str]:
        """Text lines: UTF-8 (BOM dropped), or from the first line that is not
        UTF-8 on, Latin-1 (Windows-1252), noted once."""
        for number, raw in enumerate(lines, 1):
            if isinstance(raw, str):
                yield raw
                yield from lines
                return
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                note = (f"the file is not UTF-8 text (line {number} is the first that is not); it was read"
                        " as Latin-1 (Windows-1252), as Excel saves CSV on Windows: check that letters such"
                        " as æ, ø and å came out right, or save it as \"CSV UTF-8\"")
                self.notes.append(note)
                log.warning(note)
                yield _latin(raw)
                break
        for raw in lines:
            yield _latin(raw)


def read(source: Iterable[bytes | str], columns: Sequence[str | tuple[str, ...]], parse: Row) -> Iterator[tuple[int, T | str]]:
    """``(line, value or reason)`` for each data row of a CSV (see :class:`CsvReader`)."""
    return CsvReader(source, columns).rows(parse)


def decimal(text: str) -> float:
    """``"0.062"`` or, with a decimal comma, ``"0,062"`` as a float; raises ValueError."""
    text = text.strip()
    if "," in text and "." not in text and text.count(",") == 1:
        text = text.replace(",", ".")
    return float(text)


def whole(text: str) -> int:
    """A whole number, digits grouped or not: ``4200``, ``4,200``, ``4 200``,
    ``4.200``, ``1_000_000``; raises ValueError (``1,5`` is not one)."""
    try:
        return int(text)  # plain digits, at once (int() trims spaces itself)
    except ValueError:
        pass
    text = text.strip()
    if _GROUPED.match(text):
        text = re.sub(r"[,. _'\u00a0\u202f]", "", text)
    return int(text)


def _latin(raw: bytes) -> str:
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return raw.decode("latin-1")


def _sep_line(line: str) -> str | None:
    """The delimiter of Excel's ``sep=;`` first line, if there is one."""
    text = line.strip().lstrip("\ufeff")
    if text.lower().startswith("sep=") and len(text) == 5 and text[4] in DELIMITERS:
        return text[4]
    return None


def _names(cells: list[str]) -> list[str]:
    """Header cells as column names: trimmed, lower-case, without a BOM."""
    return [h.strip().lstrip("\ufeff").lower() for h in cells]


def _missing(missing: list[str], expected: str, header_line: str) -> str:
    if header_line.count(";") > header_line.count(","):
        return (f"this looks like a semicolon-separated file, but its header has no "
                f"{', '.join(missing)}; expected the columns {expected} (separated by ; or ,)")
    return f"missing columns: {', '.join(missing)}; expected {expected}"

