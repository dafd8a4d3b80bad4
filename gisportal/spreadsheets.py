"""Cells that a spreadsheet opens as data, never as a formula: every CSV and
XLSX the portal writes goes through `spreadsheet_cell`.

The rule (OWASP "CSV injection"): a text cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a single quote in front, so Excel
and LibreOffice show it as text instead of evaluating it. Numbers stay
numbers: a number value is written as it is, and a text that is a plain
decimal number (`-12.5`, `-3e4`) is left alone too, because a spreadsheet
reads it as that number and nothing else. `+1` is not left alone: a leading
plus is how formulas are smuggled (`+1+cmd|...`), so it is quoted like the rest.

CSV files are UTF-8 with a byte-order mark, so Excel reads Vietnamese
letters right, and are served as `text/csv; charset=utf-8`."""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import IO, Any

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def spreadsheet_cell(value: Any) -> Any:
    """`value` safe to put in a CSV or XLSX cell (see the module's rule)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class SafeCsvWriter:
    """csv.writer whose every cell goes through spreadsheet_cell. The caller
    opens `handle` with newline="" (and writes BOM first, or opens the file
    with encoding "utf-8-sig")."""

    def __init__(self, handle: IO[str]):
        self._writer = csv.writer(handle)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    """A whole (small) CSV in memory: UTF-8 with a BOM, cells neutralised,
    None as an empty cell."""
    out = io.StringIO(newline="")
    out.write(BOM)
    SafeCsvWriter(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def xlsx_row(row: Iterable[Any]) -> list[Any]:
    """A row for openpyxl's `append`: it would store a text starting with `=`
    as a formula."""
    return [spreadsheet_cell(value) for value in row]


# --- what an export covers ------------------------------------------------------
#
# Every export of figures (stats, indicators) says which period it covers and
# when it was made. CSV readers expect the column row first and one line per
# group (a contract of the existing exports), so the statement is three
# trailing columns repeated on every line, never a preamble; an XLSX file also
# gets a sheet "Thông tin / About" with the same facts.
PERIOD_COLUMNS = ("period_from", "period_to", "generated_at")


def generated_at_now() -> str:
    """The moment of generation, local time with its offset, to the second."""
    from django.utils import timezone

    return timezone.localtime().isoformat(timespec="seconds")


def with_period(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, date_from, date_to, generated_at: str):
    """(header, rows) with the PERIOD_COLUMNS appended to each."""
    stamp = [str(date_from), str(date_to), generated_at]
    return [*header, *PERIOD_COLUMNS], [[*row, *stamp] for row in rows]
