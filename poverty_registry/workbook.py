"""Every .xlsx the back office hands out, built one way: file names encoded per RFC 6266 (a Chinese name
survives every browser), text cells that a spreadsheet would run as a formula neutralised (OWASP), ID numbers
masked unless the user may see them in full, write-only sheets (lxml speed for a city's rows), and each file
of personal data recorded in the access log.

Two ways in: `export()` builds and answers a workbook of plain sheets (`Sheet`); `download()`/`attachment()`
answer a workbook a caller laid out itself (a styled report, the ledger in its import layout). The import
framework's files are built here too: `table_workbook` (a kind's template, the ledger export) and
`error_workbook` (an upload's rejected rows with 错误说明).
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import openpyxl
from django.http import HttpResponse
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from . import access_log
from .idnumber import mask_id_number
from .tabular import cell_text, neutralise_formula  # the one function (the file reader, pure Python, uses it too)

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_row(values: Iterable) -> list:
    """A row as written: every text cell neutralised, other values as they are."""
    return [neutralise_formula(value) for value in values]


def shown_id(user, number: str | None) -> str:
    """The one decision on an ID number shown or written: in full for holders of view_full_id_number, masked
    for everyone else."""
    if not number:
        return ""
    return number if access_log.may_see_full_id(user) else mask_id_number(number)


def content_disposition(filename: str) -> str:
    """`attachment` with the name twice (RFC 6266 §4.3): `filename*` in UTF-8 for every current browser, and an
    ASCII `filename` for the rest (non-ASCII characters as `_`, quotes and backslashes dropped)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def attachment(content: bytes, filename: str) -> HttpResponse:
    """The response for a built workbook (nothing recorded: see `export` and `record`)."""
    response = HttpResponse(content, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition(filename)
    return response


@dataclass
class Sheet:
    """One sheet of an export: `id_columns` are the indexes of columns holding ID numbers (masked as the user
    may see them); `title_rows` stand above the header."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence]
    id_columns: tuple[int, ...] = ()
    title_rows: Sequence[Sequence] = ()


@dataclass
class Built:
    content: bytes
    rows: int  # data rows of every sheet
    full_ids: int  # rows that carry a full ID number


def build(sheets: Iterable[Sheet], user) -> Built:
    """A write-only workbook of `sheets` for `user`."""
    full = access_log.may_see_full_id(user)
    book = openpyxl.Workbook(write_only=True)
    rows = full_ids = 0
    for spec in sheets:
        sheet = book.create_sheet(spec.title[:31])
        for line in spec.title_rows:
            sheet.append(safe_row(line))
        sheet.append(safe_row(spec.header))
        for row in spec.rows:
            if spec.id_columns:
                row = list(row)
                for index in spec.id_columns:
                    row[index] = row[index] if full else mask_id_number(row[index])
                full_ids += full
            sheet.append(safe_row(row))
            rows += 1
    return Built(save(book), rows, full_ids)


def save(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def record(request, filename: str, rows: int, **kwargs) -> None:
    """The access-log record of a file of personal data (access_log.record_export's arguments)."""
    access_log.record_export(request, filename, rows, **kwargs)


def export(request, filename: str, sheets: Iterable[Sheet], *, rows: int | None = None, **kwargs) -> HttpResponse:
    """Build `sheets` for the request's user, record the export (rows: every sheet's, unless given; full ID
    numbers: as counted while writing, unless given) and answer the file."""
    built = build(sheets, request.user)
    kwargs.setdefault("full_ids", built.full_ids)
    record(request, filename, built.rows if rows is None else rows, **kwargs)
    return attachment(built.content, filename)


def download(request, filename: str, content: bytes, rows: int, **kwargs) -> HttpResponse:
    """Record a workbook built by its caller and answer it."""
    record(request, filename, rows, **kwargs)
    return attachment(content, filename)


# Files of the import framework: a kind's template (its columns, or a ledger in its layout) and the error file of
# an upload (its rows as they were, the rejected ones only, with 错误说明). Every cell is written as text in the
# text columns (ID numbers, codes) so that Excel keeps all 18 digits when the clerk fixes the file and uploads it.

ERROR_COLUMN = "错误说明"


def table_workbook(title: str, header: Sequence[str], rows: Iterable[Sequence], *, text_columns: Iterable[int] = (),
                   notes: Sequence[Sequence] = ()) -> bytes:
    """A sheet of `header` and `rows` in the layout an import reads (`text_columns` as text, 22 wide), with a
    填写说明 sheet when `notes` are given (its first row is the header)."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title)
    text_columns = set(text_columns)
    for index in range(len(header)):
        dimension = sheet.column_dimensions[get_column_letter(index + 1)]
        dimension.width = 22 if index in text_columns else 14
        if index in text_columns:
            dimension.number_format = "@"
    sheet.append(_cells(sheet, header, (), bold=True))
    for row in rows:
        sheet.append(_cells(sheet, row, text_columns, keep_type=True))
    if notes:
        _notes_sheet(book.create_sheet("填写说明"), notes)
    return save(book)


def _notes_sheet(sheet, notes: Sequence[Sequence]) -> None:
    for letter, width in zip("ABC", (20, 10, 90)):
        sheet.column_dimensions[letter].width = width
    sheet.append(_cells(sheet, notes[0], (), bold=True))
    for line in notes[1:]:
        sheet.append(safe_row(line))


def error_workbook(table, header, errors: Iterable, *, text_columns: Iterable[str] = ()) -> bytes:
    """The upload's rows above and at the header, then its rejected rows, each with its errors (列名：说明) in the
    错误说明 column: the file's own when it is itself an error file, else one after the last column used. Fixed,
    it uploads again (错误说明 is a column the import ignores)."""
    messages: dict[int, list[str]] = {}
    for error in errors:
        messages.setdefault(error.row, []).append(f"{error.column}：{error.message}")
    above = table.rows[: header.row_index]
    header_row = table.rows[header.row_index]
    rejected = [(number, table.row(number)) for number in sorted(messages)]
    error_column = _error_column(header_row, [*above, header_row, *(row for _, row in rejected)])
    texts = {header.columns[c] for c in text_columns if c in header.columns}

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(table.sheet_name or "Sheet1")
    for column in texts:
        sheet.column_dimensions[get_column_letter(column + 1)].number_format = "@"
        sheet.column_dimensions[get_column_letter(column + 1)].width = 22
    sheet.column_dimensions[get_column_letter(error_column + 1)].width = 60
    for row in above:
        sheet.append(_cells(sheet, row, ()))
    sheet.append(_cells(sheet, _with_error(header_row, error_column, ERROR_COLUMN), (), bold=True))
    for number, row in rejected:
        sheet.append(_cells(sheet, _with_error(row, error_column, "；".join(messages[number])), texts))
    return save(book)


def _error_column(header_row: list, rows: list[list]) -> int:
    for index, value in enumerate(header_row):
        if isinstance(value, str) and "".join(value.split()) == ERROR_COLUMN:
            return index
    return max((_used_width(row) for row in rows), default=0)


def _used_width(row: list) -> int:
    for index in range(len(row) - 1, -1, -1):
        if row[index] not in ("", None):
            return index + 1
    return 0


def _with_error(cells: list, error_column: int, message: str) -> list:
    row = list(cells)
    row.extend([""] * (error_column + 1 - len(row)))
    row[error_column] = message
    return row


def _cells(sheet, cells: Iterable, text_columns, bold: bool = False, keep_type: bool = False) -> list:
    """Cells as written: text neutralised and free of characters an .xlsx cannot hold (everything is text unless
    `keep_type`); text-formatted in `text_columns`."""
    out = []
    for index, value in enumerate(cells):
        if value is None or value == "":
            out.append(None)
            continue
        if not keep_type or isinstance(value, str):
            value = neutralise_formula(ILLEGAL_CHARACTERS_RE.sub("", cell_text(value)))
        if not (bold or index in text_columns):
            out.append(value)
            continue
        cell = WriteOnlyCell(sheet, value=value)
        if index in text_columns:
            cell.number_format = "@"
        if bold:
            cell.font = Font(bold=True)
        out.append(cell)
    return out
