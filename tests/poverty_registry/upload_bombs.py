"""Hostile workbooks for the upload-limit tests and `make bench uploads`: a zip bomb (a valid .xlsx whose one
sheet inflates to `size` bytes) and a sheet of 1,048,576 empty rows. Both are streamed into the zip: neither
is ever whole in memory."""
from __future__ import annotations

import io
import zipfile

from tests.poverty_registry.ledger_builders import HEADER, ledger_xlsx

SHEET = "xl/worksheets/sheet1.xml"
_OPEN = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_CLOSE = b"</sheetData></worksheet>"
BLOCK = 1024 * 1024


def zip_bomb(size: int) -> bytes:
    """One cell of `size` letters A: a sheet deflate shrinks about a thousand times (1 GB → 1 MB)."""
    cell_open, cell_close = b'<row r="1"><c r="A1" t="inlineStr"><is><t>', b"</t></is></c></row>"

    def sheet(stream):
        stream.write(_OPEN + cell_open)
        block = b"A" * BLOCK
        for _ in range(size // BLOCK):
            stream.write(block)
        stream.write(cell_close + _CLOSE)
    return _with_sheet(sheet)


def empty_rows(rows: int = 1_048_576) -> bytes:
    """Every row of an Excel sheet, empty, with no <dimension> to give it away."""
    def sheet(stream):
        stream.write(_OPEN)
        for start in range(1, rows + 1, 65536):
            stream.write(b"".join(b'<row r="%d"/>' % number for number in range(start, min(start + 65536, rows + 1))))
        stream.write(_CLOSE)
    return _with_sheet(sheet)


def _with_sheet(write_sheet) -> bytes:
    """A real workbook (openpyxl's parts) whose first sheet is what `write_sheet` streams."""
    source = zipfile.ZipFile(io.BytesIO(ledger_xlsx([], header=HEADER, title=None)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for member in source.infolist():
            if member.filename == SHEET:
                with target.open(SHEET, "w", force_zip64=True) as stream:  # deflated, level 9
                    write_sheet(stream)
            else:
                target.writestr(member, source.read(member.filename))
    return out.getvalue()
