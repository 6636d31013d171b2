"""A chain's stores added at once from a CSV (``posplugin hq store add --from
stores.csv``, ``POST /hq/v1/stores``): one transaction for thousands of
stores instead of a command each.

The file has a ``name`` column and may have where the store is, for routing
what customers post (``handles``, ``place``, ``instagram_location``: see
:mod:`posplugin.hq.listening.placement`); other columns are ignored (as in
every import). The file is refused whole, with line numbers, for an empty
or unprintable name, a bad placement, a name twice in the file, or a store
that exists already.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import Conflict, ValidationError
from ..tiers.csvfile import CsvReader, Problems
from .listening.placement import Placements, checked

# Optional columns beside ``name``: column -> parser of its cell (raises
# ValueError for a bad one). Empty cells are left out of ``fields``.
COLUMNS: dict[str, Callable[[str], object]] = {"handles": str.strip, "place": str.strip,
                                               "instagram_location": str.strip}
MAX_NAME = 100


class StoresExist(Conflict):
    """Stores (``names``) that exist already: a name holds one store."""

    code = "store_exists"

    def __init__(self, names: set[str]):
        listed = ", ".join(sorted(names)[:5]) + (" …" if len(names) > 5 else "")
        super().__init__(f"a store of that name exists already: {listed}; revoke its token "
                         "(posplugin hq token revoke --name NAME) to give it a new one")
        self.names = names


@dataclass(frozen=True)
class StoreRow:
    name: str
    fields: dict = field(default_factory=dict)  # the optional COLUMNS this row has, parsed
    line: int = 0  # in the file it came from


def store_name(text: str) -> str:
    """A store's name as kept: trimmed, 1 to 100 printable characters; raises ValueError."""
    name = text.strip()
    if not name:
        raise ValueError("the store's name is empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"the store's name is over {MAX_NAME} characters")
    if not name.isprintable():
        raise ValueError("the store's name has characters that cannot be printed")
    return name


def read_stores(stream: Iterable[bytes | str]) -> list[StoreRow]:
    """The stores of a CSV; :class:`ImportRefused` (every bad line) when any
    row is bad or names a store twice."""
    reader = CsvReader(stream, ["name"], optional=list(COLUMNS))
    optional = [name for name in COLUMNS if name in reader.at]

    def parse(cells: list[str], at: dict) -> StoreRow:
        row = StoreRow(store_name(cells[at["name"]]),
                       {name: COLUMNS[name](cells[at[name]]) for name in optional if cells[at[name]].strip()})
        try:
            checked(row.name, row.fields.get("handles"), row.fields.get("place"), row.fields.get("instagram_location"))
        except ValidationError as exc:
            raise ValueError(f"{exc.field}: {exc.message}") from None
        return row

    problems, rows, seen = Problems(), [], {}
    for line, row in reader.rows(parse):
        if isinstance(row, str):
            problems.add(line, row)
        elif row.name.casefold() in seen:
            problems.add(line, f"store {row.name!r} is named twice (also line {seen[row.name.casefold()]})")
        else:
            seen[row.name.casefold()] = line
            rows.append(StoreRow(row.name, row.fields, line))
    if problems:
        problems.refuse()
    return rows


def add_from_csv(office, stream: Iterable[bytes | str]) -> list[tuple[StoreRow, str]]:
    """Add every store of the CSV with a token each, all or none; returns
    ``(row, token)`` pairs. A store that exists already refuses the file."""
    rows = read_stores(stream)
    try:
        tokens = office.add_stores([row.name for row in rows])
    except StoresExist as exc:
        problems = Problems()
        for row in rows:
            if row.name in exc.names:
                problems.add(row.line, f"store {row.name!r} exists already (revoke its token to give it a new one)")
        problems.refuse()
    placements = Placements(office.engine, office.clock)
    for row in rows:
        if row.fields:
            placements.set(row.name, **row.fields)
    return list(zip(rows, tokens))


def write_tokens(path: Path, added: list[tuple[StoreRow, str]]) -> None:
    """The stores' tokens as ``name,token`` lines in a new file only its owner
    can read (mode 0600; an existing file is never overwritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8", newline="") as out:
        out.write("name,token\n")
        for row, token in added:
            out.write(f"{_cell(row.name)},{token}\n")


def _cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text

