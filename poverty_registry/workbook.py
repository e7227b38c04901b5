"""Every .xlsx the back office hands out, built one way: file names encoded per RFC 6266 (a Chinese name
survives every browser), text cells that a spreadsheet would run as a formula neutralised (OWASP), ID numbers
masked unless the user may see them in full, write-only sheets (lxml speed for a city's rows), and each file
of personal data recorded in the access log.

Two ways in: `export()` builds and answers a workbook of plain sheets (`Sheet`); `attachment()` answers a
workbook a caller laid out itself (a styled report, the ledger in its import layout, an error file).
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import openpyxl
from django.http import HttpResponse

from . import access_log
from .idnumber import mask_id_number
from .tabular import neutralise_formula  # the one function (the file reader, pure Python, uses it too)

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
