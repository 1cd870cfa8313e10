"""The workflow's resource tables (TSV): read once, checked cell by cell when the job graph is built.

A bad cell (a malformed accession, a checksum that is not one, a name that cannot be a file name) is
reported with the table, line and column, before any job runs, instead of surfacing later as a
missing input on a derived path. Standard library only, like every import of the DAG process.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# A name that becomes a file or folder name: letters, digits, _, - and ., not starting with a dot (so
# neither "." nor ".." nor a hidden file); config/schema.yaml's $defs/name says the same.
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")

Check = Callable[[str], None]  # raises ValueError saying what is wrong with a cell


def pattern_check(pattern: re.Pattern[str], what: str) -> Check:
    """A check that a cell matches `pattern`, described as `what` ("an ENCODE accession like ENCFF710VEH")."""

    def check(value: str) -> None:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {what}")

    return check


plain_name = pattern_check(PLAIN_NAME, "a plain name (letters, digits, _, - and ., not starting with a dot)")


def read_table(path: str | Path, columns: Sequence[str], checks: Mapping[str, Check] | None = None,
               ) -> dict[str, dict[str, str]]:
    """Rows of a tab-separated table keyed by its first column `columns[0]`, each cell of `checks` checked.

    Blank lines and lines starting with "#" are skipped; extra columns are kept. ValueError naming
    the file (and line and column) for a missing file, a missing column, a table without rows, an
    empty cell of `columns`, a repeated key, or a cell its check refuses.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: table not found")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            lines = ("\n" if line.startswith("#") else line for line in handle)  # blank: keeps line numbers
            reader = csv.DictReader(lines, delimiter="\t")
            rows = [(reader.line_num, row) for row in reader]
            header = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path}: not a readable tab-separated table: {err}") from err
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected tab-separated columns {list(columns)}, "
                         f"found {header}")
    if not rows:
        raise ValueError(f"{path}: no rows")
    table: dict[str, dict[str, str]] = {}
    for line, row in rows:
        for column in columns:
            value = row[column]
            if value is None or not value.strip():
                raise ValueError(f"{path}: line {line}, column {column}: empty")
            try:
                (checks or {}).get(column, lambda _: None)(value)
            except ValueError as err:
                raise ValueError(f"{path}: line {line}, column {column}: {err}") from None
        key = row[columns[0]]
        if key in table:
            raise ValueError(f"{path}: line {line}: {columns[0]} {key!r} is already on an earlier line")
        table[key] = row
    return table
