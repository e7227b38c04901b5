"""The one reader of uploaded tables (.xlsx, .xls, .csv): cells as text, header found by name.

Pure Python and generic: ledgers, enrolment lists, hospital claim files and other departments'
lists all come through here; what the columns mean is the caller's business.
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gc
import io
import itertools
import math
import re
import struct
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import python_calamine

from .idnumber import to_halfwidth

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
CSV_SUFFIXES = (".csv",)

# Excel keeps 15 significant digits of a number; a longer one (an ID number typed as a number)
# has already lost its last digits when it reaches us.
EXCEL_DIGITS = 15
_EXACT_LIMIT = 10**EXCEL_DIGITS

# OWASP "CSV injection": a cell starting with one of these may be run as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")

_DATE_RE = re.compile(
    r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)

Cell = str | dt.date  # a datetime.datetime is a date too

MB = 1024 * 1024
HEADING_ROWS = 10  # rows of titles and header a file may have above its IMPORT_MAX_ROWS rows of data
# A member smaller than this may compress as well as it likes (a sheet of repeated rows can pass 100×):
# it cannot grow into anything dangerous.
RATIO_FLOOR_BYTES = 1 * MB
MAX_ZIP_MEMBERS = 10_000
# Rows guessed from bytes where no cheaper fact says: few real rows are shorter.
XLS_BYTES_A_ROW, SHEET_XML_BYTES_A_ROW = 64, 100
# C0 control characters and DEL: no clerk types them; NUL cannot even be stored as text by PostgreSQL. Tab and
# line breaks are ordinary inside a cell (an address over two lines); at a cell's ends they are stripped.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SCAN_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What an upload may hold (settings IMPORT_MAX_*, from the environment); checked before any parse."""

    file_bytes: int = 50 * MB
    member_bytes: int = 200 * MB
    compression_ratio: int = 100
    rows: int = 300_000
    columns: int = 200
    cell_chars: int = 1000


def limits() -> Limits:
    """The configured limits; the defaults outside Django (this module is otherwise pure Python)."""
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:
        return Limits()
    try:
        return Limits(file_bytes=settings.IMPORT_MAX_FILE_MB * MB, member_bytes=settings.IMPORT_MAX_MEMBER_MB * MB,
                      compression_ratio=settings.IMPORT_MAX_COMPRESSION_RATIO, rows=settings.IMPORT_MAX_ROWS,
                      columns=settings.IMPORT_MAX_COLUMNS, cell_chars=settings.IMPORT_MAX_CELL_CHARS)
    except ImproperlyConfigured:
        return Limits()


@dataclass(frozen=True)
class UploadFacts:
    """What an upload is, from facts that cost nothing to read: its size, its zip directory, the head of its
    sheets. Enough to choose between a preview in the request and one on a worker."""

    table_bytes: int  # the text of its table: a CSV's bytes, the uncompressed sheets (and shared strings)
    rows_estimate: int


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str
    message: str

    def text(self) -> str:
        return f"第{self.row}行 {self.column}：{self.message}"

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


class TableFormatError(ValueError):
    """The file cannot be read as a table; the message is for the person who uploaded it."""


class TruncatedNumber(str):
    """The text of an Excel number of 16 or more digits: only its first 15 are real."""

    __slots__ = ()


@dataclass
class Table:
    """Every row of the first visible sheet: ``rows[i]`` is spreadsheet row ``i + 1``."""

    rows: list[list[Cell]]
    sheet_name: str = "Sheet1"
    # Cells no import may take as they are (control characters, over IMPORT_MAX_CELL_CHARS): spreadsheet row
    # number -> {column index: message}. A kind rejects the row when the cell is in one of its columns.
    bad_cells: dict[int, dict[int, str]] = field(default_factory=dict)

    def row(self, number: int) -> list[Cell]:
        return self.rows[number - 1]

    def numbered_rows(self) -> Iterator[tuple[int, list[Cell]]]:
        return enumerate(self.rows, start=1)


@dataclass(frozen=True)
class HeaderMatch:
    row_index: int  # index into Table.rows; the header's spreadsheet row is row_index + 1
    columns: dict[str, int]  # canonical name -> column index
    labels: dict[str, str]  # canonical name -> the header text as written in the file
    first_column: int  # the leftmost non-empty header cell: where a row's "first cell" is
    width: int  # one past the rightmost non-empty header cell

    @property
    def row_number(self) -> int:
        return self.row_index + 1


def read_table(data: bytes, filename: str) -> Table:
    """Read the first visible sheet of an Excel file, or a CSV file, into a Table — once the upload passed
    check_upload, whichever path it came by (the web request, a worker, a command)."""
    limit = limits()
    check_upload(data, filename, limit, count_rows=False)
    suffix = _suffix(filename)
    with gc_paused():
        table = _read_excel(data, limit) if suffix in EXCEL_SUFFIXES else _read_csv(data, limit)
        table.bad_cells = _bad_cells(table.rows, limit.cell_chars)
    return table


def check_upload(data: bytes, filename: str, limit: Limits | None = None, *, count_rows: bool = True) -> UploadFacts:
    """Refuse, before any parse, an upload beyond the limits (a zip bomb, a workbook of a million rows);
    return the cheap facts of one within them. Reads the file's size and a workbook's zip directory, then
    (`count_rows`) streams each sheet within the limits through a 1 MB window counting its <row> elements —
    a scan, not a parse: bounded memory, a few tens of milliseconds for a sheet of 20 MB. The reader, which
    checks the sheet's size itself, asks for the directory only."""
    limit = limit or limits()
    suffix = _suffix(filename)
    if suffix not in EXCEL_SUFFIXES + CSV_SUFFIXES:
        raise TableFormatError("不支持的文件类型：只能上传 .xlsx、.xls 或 .csv 文件")
    if len(data) > limit.file_bytes:
        raise TableFormatError(f"文件超过 {limit.file_bytes // MB} MB 的上限，请拆分后上传")
    if suffix in CSV_SUFFIXES:
        return UploadFacts(table_bytes=len(data), rows_estimate=data.count(b"\n") + 1)
    if not data.startswith(b"PK"):
        # The old binary format (OLE) holds at most 65,536 rows of 256 columns: its size is its bound.
        return UploadFacts(table_bytes=len(data), rows_estimate=len(data) // XLS_BYTES_A_ROW)
    return _check_workbook(data, limit, count_rows)


def _check_workbook(data: bytes, limit: Limits, count_rows: bool) -> UploadFacts:
    if _zip_entries(data) > MAX_ZIP_MEMBERS:
        raise TableFormatError(f"文件包含的部件超过 {MAX_ZIP_MEMBERS:,} 个，不是正常的 Excel 文件，已拒绝")
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        members = book.infolist()
    except (zipfile.BadZipFile, ValueError, struct.error):
        raise TableFormatError("无法读取文件：文件已损坏或不是有效的 Excel 文件") from None
    for member in members:
        _check_member(member, limit)
    sheets = [m for m in members if m.filename.lower().startswith("xl/worksheets/") and m.filename.endswith(".xml")]
    shared_strings = sum(m.file_size for m in members if m.filename.lower() == "xl/sharedstrings.xml")
    table_bytes = shared_strings + sum(m.file_size for m in sheets)
    if not count_rows:
        return UploadFacts(table_bytes=table_bytes, rows_estimate=table_bytes // SHEET_XML_BYTES_A_ROW)
    rows = max((_row_elements(book, sheet) for sheet in sheets), default=0)
    _check_size(rows, 0, limit)
    return UploadFacts(table_bytes=table_bytes, rows_estimate=rows)


def _zip_entries(data: bytes) -> int:
    """The entry count of the zip's end record (read before zipfile builds an object per entry)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 12 > len(data):
        return 0  # not a zip, or damaged: zipfile says so
    return struct.unpack_from("<H", data, end + 10)[0]


def _check_member(member: zipfile.ZipInfo, limit: Limits) -> None:
    size = member.file_size
    if size > limit.member_bytes:
        raise TableFormatError(f"文件中的“{member.filename}”解压后有 {size / MB:,.0f} MB，超过单个部件 "
                               f"{limit.member_bytes // MB} MB 的上限（疑似压缩炸弹），已拒绝")
    ratio = size / max(member.compress_size, 1)
    if size > RATIO_FLOOR_BYTES and ratio > limit.compression_ratio:
        raise TableFormatError(f"文件中的“{member.filename}”压缩比为 {ratio:,.0f} 倍，超过 "
                               f"{limit.compression_ratio} 倍的上限（疑似压缩炸弹或大量空行），已拒绝")


def _row_elements(book: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """How many <row> elements a sheet holds (an element name, never cell text: XML escapes a "<" there)."""
    count, tail = 0, b""
    try:
        with book.open(member) as stream:
            while chunk := stream.read(SCAN_CHUNK):
                window = tail + chunk  # a name cut by the chunk's edge is found whole here, once
                count += _row_tags(window) - _row_tags(tail)
                tail = window[-len(b"<rowBreaks"):]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
        raise TableFormatError("无法读取文件：文件已损坏或不是有效的 Excel 文件") from None
    return count


def _row_tags(text: bytes) -> int:
    return text.count(b"<row") - text.count(b"<rowBreaks") + text.count(b":row ") + text.count(b":row>")


def _check_size(rows: int, columns: int, limit: Limits) -> None:
    if rows > limit.rows + HEADING_ROWS:
        raise TableFormatError(f"文件行数超过每个文件 {limit.rows:,} 行数据的上限，请拆分后上传")
    if columns > limit.columns:
        raise TableFormatError(f"文件有 {columns:,} 列，超过 {limit.columns} 列的上限，请删除多余的列后上传")


def _bad_cells(rows: list[list[Cell]], cell_chars: int) -> dict[int, dict[int, str]]:
    """Cells with control characters or longer than `cell_chars`. One pass over all text in C (a join, a
    search, a max) finds whether there are any; only a file that has some is looked at cell by cell."""
    # Numbers' texts (TruncatedNumber) are digits, a few hundred at most: not looked at.
    texts = [cell for cell in itertools.chain.from_iterable(rows) if type(cell) is str]  # ~0.1 s a 100k rows
    if not texts or (not _CONTROL_RE.search("\n".join(texts)) and max(map(len, texts)) <= cell_chars):
        return {}
    found: dict[int, dict[int, str]] = {}
    for number, row in enumerate(rows, start=1):
        for column, cell in enumerate(row):
            if isinstance(cell, str) and (message := _cell_problem(cell, cell_chars)):
                found.setdefault(number, {})[column] = message
    return found


def _cell_problem(cell: str, cell_chars: int) -> str | None:
    if len(cell) > cell_chars:
        return f"内容有 {len(cell):,} 个字符，超过每格 {cell_chars:,} 个字符的上限"
    controls = sorted(set(_CONTROL_RE.findall(cell)))
    if controls:
        shown = "、".join(f"\\x{ord(c):02X}" for c in controls)
        return f"含有不可见的控制字符（{shown}），请删除后重新上传"
    return None


def cell_errors(table: Table, header: HeaderMatch) -> dict[int, list[RowError]]:
    """The table's bad cells below the header, in the columns the header recognised, as row errors (row
    number -> errors). A bad cell in a column no import reads is harmless and passes."""
    if not table.bad_cells:
        return {}
    labels = {column: header.labels[canonical] for canonical, column in header.columns.items()}
    errors: dict[int, list[RowError]] = {}
    for number, cells in table.bad_cells.items():
        if number > header.row_number:
            for column, message in sorted(cells.items()):
                if column in labels:
                    errors.setdefault(number, []).append(RowError(number, labels[column], message))
    return errors


def sheet_text(value: object) -> object:
    """A cell as written back into an error file: no formula (OWASP), no control character (an .xlsx cannot
    hold one)."""
    if isinstance(value, str):
        return neutralise_formula(_CONTROL_RE.sub("", value))
    return value


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many rows that hold no cycles.

    With 100,000 rows its repeated scans of all live rows cost a third of the parse time.
    Only the outermost pause turns it back on, and only if it was on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def normalise_header(text: str) -> str:
    """Header names compare half-width, without spaces: （社区） equals (社区)."""
    return "".join(to_halfwidth(text).split())


def find_header(
    table: Table, required_any: Iterable[str], synonyms: Mapping[str, Iterable[str]],
    fallback: Iterable[str] = (),
) -> HeaderMatch:
    """The header is the first row with a cell named like one of ``required_any``; only when no row
    has one, the first row with a cell named like one of ``fallback`` (names a title may also hold).

    ``synonyms`` maps each canonical column name to the header names accepted for it; columns
    may stand in any order and unknown columns are ignored. Pass ``required_any`` as a tuple to
    fix the order of the names in the error message (which names ``required_any`` only).
    """
    required = tuple(required_any)
    accepted = {
        normalise_header(name): (canonical, rank)
        for canonical, names in synonyms.items()
        for rank, name in enumerate(names)
    }
    for markers in (required, tuple(fallback)):
        wanted = {normalise_header(name) for name in markers}
        if not wanted:
            continue
        for index, row in enumerate(table.rows):
            names = [normalise_header(c) if isinstance(c, str) else "" for c in row]
            if wanted.isdisjoint(names):
                continue
            return _header_match(index, row, names, accepted)
    listed = "或".join(f"“{name}”" for name in required)
    raise TableFormatError(f"未找到表头：需要包含{listed}列")


def iter_data_rows(
    table: Table, header: HeaderMatch, stop_prefixes: tuple[str, ...] = ("合计", "总计")
) -> Iterator[tuple[int, list[Cell]]]:
    """Yield (spreadsheet row number, cells) for the data rows below the header.

    A row with nothing in any recognised column is blank and skipped. A row whose first cell
    (in the header's first column) starts with a stop prefix, spaces ignored, ends the data.
    Each yielded row is padded so that every recognised column can be indexed.
    """
    first = header.first_column
    wanted = tuple(header.columns.values())
    needed = max(wanted, default=first) + 1
    # Only a first cell that begins like a stop prefix (or with a space) needs the spaces-removed look.
    openings = tuple({prefix[0] for prefix in stop_prefixes})
    for index in range(header.row_index + 1, len(table.rows)):
        row = table.rows[index]
        if len(row) < needed:
            row.extend([""] * (needed - len(row)))
        head = row[first]
        if (head and type(head) is str and (head.startswith(openings) or head[0].isspace())
                and "".join(head.split()).startswith(stop_prefixes)):
            return
        for column in wanted:
            if row[column]:
                yield index + 1, row
                break


def parse_date(value: object) -> dt.date:
    """An Excel date, or text YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD (a time may follow)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = to_halfwidth(str(value)).strip()
    try:
        if len(text) == 10 and text[4] == text[7] == "-":
            return dt.date.fromisoformat(text)
        if len(text) == 8 and text.isascii() and text.isdigit():
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        match = _DATE_RE.fullmatch(text)
        if match:
            return dt.date(int(match[1]), int(match[3]), int(match[4]))
    except ValueError:
        pass
    raise ValueError(f"“{value}”不是有效日期")


def cell_text(value: object) -> str:
    """A cell as the text written back to a file: dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def neutralise_formula(value: object) -> object:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe (OWASP)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot >= 0 else ""


def _header_match(
    index: int, row: list[Cell], names: list[str], accepted: dict[str, tuple[str, int]]
) -> HeaderMatch:
    """Columns by name; when two columns carry names of one canonical column, the name listed
    first among its synonyms wins, then the leftmost column."""
    ranked: dict[str, tuple[int, int]] = {}
    for column, name in enumerate(names):
        canonical, rank = accepted.get(name, (None, 0))
        if canonical is not None and (rank, column) < ranked.get(canonical, (rank + 1, 0)):
            ranked[canonical] = (rank, column)
    columns = {canonical: column for canonical, (_, column) in ranked.items()}
    used = [column for column, name in enumerate(names) if name]
    return HeaderMatch(
        row_index=index,
        columns=columns,
        labels={canonical: str(row[column]) for canonical, column in columns.items()},
        first_column=used[0],
        width=used[-1] + 1,
    )


# Excel ----------------------------------------------------------------------------------------


def _read_excel(data: bytes, limit: Limits) -> Table:
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = _first_visible_sheet(book)
        sheet_name = sheet.name
        if sheet.end is not None:  # the last cell (0-based), before a Python object is made for any cell
            _check_size(sheet.end[0] + 1, sheet.end[1] + 1, limit)
        rows = _convert_rows(sheet.iter_rows())
        merged = sheet.merged_cell_ranges or []
        start, end = sheet.start, sheet.end
    except python_calamine.PasswordError:
        raise TableFormatError("文件设有密码，请取消密码后再上传") from None
    except TableFormatError:
        raise
    except Exception:  # calamine raises a handful of unrelated types for a damaged file
        raise TableFormatError("无法读取文件：文件已损坏或不是有效的 Excel 文件") from None
    if start is not None and rows:
        _place_absolutely(rows, start, end)
    _fill_vertical_merges(rows, merged)
    return Table(rows=rows, sheet_name=sheet_name)


def _first_visible_sheet(book: python_calamine.CalamineWorkbook) -> python_calamine.CalamineSheet:
    for index, meta in enumerate(book.sheets_metadata):
        if (
            meta.visible == python_calamine.SheetVisibleEnum.Visible
            and meta.typ == python_calamine.SheetTypeEnum.WorkSheet
        ):
            return book.get_sheet_by_index(index)
    raise TableFormatError("文件中没有可见的工作表")


def _convert_rows(raw_rows: Iterable[list]) -> list[list[Cell]]:
    return [[c.strip() if type(c) is str else _excel_value(c) for c in raw] for raw in raw_rows]


def _excel_value(value: object) -> Cell:
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time() else value
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return _number_text(value)
    return str(value).strip()


def _number_text(value: float) -> str:
    """A number as Excel shows it: at most 15 significant digits, never in E notation."""
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < _EXACT_LIMIT:
        return str(int(value))
    text = f"{value:.{EXCEL_DIGITS}g}"
    if "e" in text:
        text = format(Decimal(text), "f")
    return TruncatedNumber(text) if abs(value) >= _EXACT_LIMIT else text


def _place_absolutely(rows: list[list[Cell]], start: tuple[int, int], end: tuple[int, int]) -> None:
    """Make rows[i][j] the cell at sheet row i, column j, whatever offset calamine used."""
    row_offset = start[0] if len(rows) == end[0] - start[0] + 1 and start[0] else 0
    width = max(len(row) for row in rows)
    column_offset = start[1] if width == end[1] - start[1] + 1 and start[1] else 0
    if column_offset:
        padding = [""] * column_offset
        rows[:] = [padding + row for row in rows]
    if row_offset:
        rows[:0] = [[] for _ in range(row_offset)]


def _fill_vertical_merges(rows: list[list[Cell]], merged: Iterable) -> None:
    """A cell merged down one column (a household number over its members) fills each row.

    Merges across columns (titles) stay as Excel stores them: value in the first cell only.
    """
    for (top, left), (bottom, right) in merged:
        if left != right or bottom <= top or top >= len(rows) or left >= len(rows[top]):
            continue
        value = rows[top][left]
        for index in range(top + 1, min(bottom, len(rows) - 1) + 1):
            row = rows[index]
            if left < len(row) and row[left] == "":
                row[left] = value


# CSV ------------------------------------------------------------------------------------------


def _read_csv(data: bytes, limit: Limits) -> Table:
    text = _decode(data)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
        # At most one row past the limit is read: a file of millions of empty lines stops there.
        rows: list[list[Cell]] = [[c.strip() for c in row]
                                  for row in itertools.islice(reader, limit.rows + HEADING_ROWS + 1)]
    except csv.Error:
        raise TableFormatError("无法读取 CSV 文件：格式不正确") from None
    _check_size(len(rows), max(map(len, rows), default=0), limit)
    return Table(rows=rows)


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableFormatError("无法识别文件编码：请把 CSV 文件另存为 UTF-8 或 GBK 编码")


def _delimiter(text: str) -> str:
    """Comma, unless the first lines hold more tabs (Excel's "Unicode text" export)."""
    sample = text[:65536]
    return "\t" if sample.count("\t") > sample.count(",") else ","
