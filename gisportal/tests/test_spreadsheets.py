"""gisportal.spreadsheets: the OWASP rule for CSV and XLSX cells, checked by
reading the files back with the csv module and openpyxl."""

import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from gisportal.spreadsheets import BOM, csv_bytes, spreadsheet_cell, xlsx_row

# What a spreadsheet would evaluate (or split into a formula) if written verbatim.
HOSTILE = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "-", "-1+cmd|' /C calc'!A0", "=1"]
# Left as they are: numbers, texts that are plain negative numbers, ordinary text.
HARMLESS = [-12.5, -3, 0, 7.25, True, None, "-12.5", "-3", "-3e4", "-.5", "12", "Đăng ký khai sinh", "a=b", " =x", ""]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_starts_get_a_single_quote(value):
    assert spreadsheet_cell(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_numbers_and_plain_text_stay(value):
    assert spreadsheet_cell(value) is value


def test_csv_has_a_bom_neutral_cells_and_vietnamese():
    data = csv_bytes([["tên", "số"], *([value, -12.5] for value in HOSTILE), ["Sở Tư pháp Bắc Ninh", None]])
    assert data.startswith(BOM.encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["tên", "số"]
    assert [row[0] for row in rows[1:-1]] == ["'" + value for value in HOSTILE]
    assert all(row[1] == "-12.5" for row in rows[1:-1])  # written as the number it is
    assert rows[-1] == ["Sở Tư pháp Bắc Ninh", ""]


def test_xlsx_stores_hostile_text_as_text_and_numbers_as_numbers():
    book = Workbook()
    sheet = book.active
    for value in HOSTILE:
        sheet.append(xlsx_row([value, -12.5]))
    out = io.BytesIO()
    book.save(out)
    cells = list(load_workbook(io.BytesIO(out.getvalue())).active.iter_rows())
    assert [row[0].value for row in cells] == ["'" + value for value in HOSTILE]
    assert {row[0].data_type for row in cells} == {"s"}  # no formula
    assert {(row[1].data_type, row[1].value) for row in cells} == {("n", -12.5)}
