"""The inbox (DOMAIN §8.1): one folder per department, each file a full dated snapshot of its list.

Files are read with the project's one table reader (poverty_registry.tabular), processed once (by content
hash) and kept as snapshot rows (COPY into MatchingRecord's table). A file with any bad row is
refused as a whole with a Chinese message in the run report: nothing of it is half-applied.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from ..idnumber import IdNumberError, parse_id_number, to_halfwidth
from ..importing import RowError, copy_rows
from ..models import MatchingRecord, MatchingSourceFile
from ..regions import RegionCodeError, canonical_code
from ..tabular import (
    CSV_SUFFIXES,
    EXCEL_SUFFIXES,
    TableFormatError,
    TruncatedNumber,
    cell_errors,
    find_header,
    iter_data_rows,
    read_table,
)
from ..tabular import parse_date as parse_cell_date
from ..vocab import (
    ASSISTANCE_CATEGORIES,
    ASSISTANCE_SPELLINGS,
    DISABILITY_GRADE_SPELLINGS,
    ENROLMENT_STATUS_SPELLINGS,
    HEADERS,
    ID_FALLBACK_MARKERS,
    ID_HEADER_MARKERS,
    code_of,
)
from .vocab import SOURCES

# Per source: canonical column → accepted headers (the shared columns' names are vocab.HEADERS'); the required
# ones; §8.1.
_SHARED = {"id": HEADERS["id_number"], "name": HEADERS["name"]}
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "poverty": {**_SHARED, "household_no": HEADERS["household_no"], "category": HEADERS["categories"],
                "poverty_status": HEADERS["poverty_status"], "village": HEADERS["village_code"]},
    "civil_affairs": {**_SHARED, "category": ("救助类别",),
                      "start_date": ("起始日期", "开始日期"), "end_date": ("终止日期", "结束日期")},
    "deaths": {**_SHARED, "death_date": ("死亡日期",)},
    "disability": {**_SHARED, "disability_kind": ("残疾类别",), "disability_grade": ("残疾等级",)},
    "enrolment": {**_SHARED, "year": HEADERS["enrol_year"], "enrol_status": HEADERS["enrol_status"],
                  "paid_date": HEADERS["paid_date"], "enrol_region": HEADERS["enrol_region"]},
}
REQUIRED = {
    "poverty": ("id", "name"),
    "civil_affairs": ("id", "name", "category", "start_date"),
    "deaths": ("id", "name", "death_date"),
    "disability": ("id", "name", "disability_grade"),
    "enrolment": ("id", "name", "year", "enrol_status"),
}

RECORD_COLUMNS = ("file_id", "row_no", "id_raw", "id_number", "id_status", "match_key", "name",
                  "birth_date", "sex", "village", "household_no", "category", "poverty_status", "start_date",
                  "end_date", "death_date", "disability_kind", "disability_grade", "year", "enrol_status",
                  "enrol_region")
SHOWN_ERRORS = 20
_FILE_DATE = re.compile(r"(20\d\d)[-_.]?([01]\d)[-_.]?([0-3]\d)")


class FileRefused(ValueError):
    """A file that cannot be taken as a snapshot; the message is for the run report."""


@dataclass
class FileReport:
    source: str
    file_name: str
    status: str
    rows: int = 0
    message: str = ""
    file_id: int | None = None

    def as_dict(self) -> dict:
        return {"source": self.source, "source_label": SOURCES[self.source], "file_name": self.file_name,
                "status": self.status, "rows": self.rows, "message": self.message, "file_id": self.file_id}


@dataclass
class ParsedFile:
    rows: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# --- reading one file ---------------------------------------------------------------------------------------

def parse_file(source: str, data: bytes, filename: str, today: dt.date) -> ParsedFile:
    """Every data row as a record dict, or the row errors; raises FileRefused for an unreadable file."""
    try:
        table = read_table(data, filename)
        header = find_header(table, ID_HEADER_MARKERS, COLUMNS[source], ID_FALLBACK_MARKERS)
    except TableFormatError as exc:
        raise FileRefused(str(exc)) from None
    missing = [COLUMNS[source][name][0] for name in REQUIRED[source] if name not in header.columns]
    if missing:
        raise FileRefused(f"缺少必需的列：{'、'.join(missing)}")
    parsed = ParsedFile()
    read_row = ROW_READERS[source]
    bad = cell_errors(table, header)
    for row_no, cells in iter_data_rows(table, header):
        if row_no in bad:  # a cell the reader found unusable (a control character, too long): rejected
            parsed.errors.extend(bad[row_no])
            continue
        values = {name: cells[column] for name, column in header.columns.items()}
        errors_before = len(parsed.errors)
        record = _identity(values, row_no, today, parsed.errors)
        read_row(values, record, row_no, today, parsed.errors)
        if len(parsed.errors) == errors_before:
            parsed.rows.append(record)
    return parsed


def _text(value) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value or "").strip()


def _identity(values: dict, row_no: int, today: dt.date, errors: list[RowError]) -> dict:
    raw = values["id"]
    name = _text(values.get("name"))
    if not name:
        errors.append(RowError(row_no, "姓名", "姓名为空"))
    if isinstance(raw, TruncatedNumber):
        errors.append(RowError(row_no, "身份证号",
                               "身份证号被 Excel 存成了数字，后几位已丢失；请把该列设为文本后重新导出"))
    cleaned = "".join(to_halfwidth(_text(raw)).split()).upper()[:40]
    if not cleaned:
        errors.append(RowError(row_no, "身份证号", "身份证号为空"))
    record = dict.fromkeys(RECORD_COLUMNS, "")
    record.update(row_no=row_no, id_raw=_text(raw)[:40], name=name[:50],
                  birth_date=None, start_date=None, end_date=None, death_date=None, disability_grade=None, year=None)
    try:
        parsed = parse_id_number(cleaned, today=today)
    except IdNumberError:
        record.update(id_number=cleaned, id_status="invalid", match_key=cleaned)
        record["birth_date"], record["sex"] = _birth_and_sex(cleaned)
    else:
        legacy = len(cleaned) == 15
        record.update(id_number=parsed.number, id_status="legacy15" if legacy else "valid",
                      match_key=cleaned if legacy else parsed.number, birth_date=parsed.birth_date, sex=parsed.sex)
    return record


def _birth_and_sex(cleaned: str) -> tuple[dt.date | None, str]:
    """What an invalid 18-character number still says about birth date and sex, when it says it."""
    if len(cleaned) != 18 or not cleaned[:17].isdigit():
        return None, ""
    try:
        birth = dt.date(int(cleaned[6:10]), int(cleaned[10:12]), int(cleaned[12:14]))
    except ValueError:
        birth = None
    return birth, "M" if int(cleaned[16]) % 2 else "F"


def _date(values: dict, name: str, label: str, row_no: int, errors: list[RowError], *, required: bool):
    value = values.get(name)
    if value in (None, ""):
        if required:
            errors.append(RowError(row_no, label, f"{label}为空"))
        return None
    try:
        return parse_cell_date(value)
    except ValueError as exc:
        errors.append(RowError(row_no, label, str(exc)))
        return None


def _poverty_row(values, record, row_no, today, errors) -> None:
    village = _text(values.get("village"))
    try:
        record["village"] = canonical_code(village) if village else ""
    except RegionCodeError:
        record["village"] = ""
    record["household_no"] = _text(values.get("household_no"))[:30]
    record["category"] = _text(values.get("category"))[:20]
    record["poverty_status"] = _text(values.get("poverty_status"))[:12]


def _civil_affairs_row(values, record, row_no, today, errors) -> None:
    label = "".join(_text(values.get("category")).split())
    category = code_of(ASSISTANCE_SPELLINGS, label)
    if category is None:
        allowed = "、".join(ASSISTANCE_CATEGORIES.values())
        errors.append(RowError(row_no, "救助类别", f"“{label}”不是有效的救助类别（{allowed}）"))
    record["category"] = category or ""
    record["start_date"] = _date(values, "start_date", "起始日期", row_no, errors, required=True)
    record["end_date"] = _date(values, "end_date", "终止日期", row_no, errors, required=False)
    if record["start_date"] and record["end_date"] and record["end_date"] < record["start_date"]:
        errors.append(RowError(row_no, "终止日期", "终止日期早于起始日期"))


def _deaths_row(values, record, row_no, today, errors) -> None:
    record["death_date"] = _date(values, "death_date", "死亡日期", row_no, errors, required=True)
    if record["death_date"] and record["death_date"] > today:
        errors.append(RowError(row_no, "死亡日期", "死亡日期晚于今天"))


def _disability_row(values, record, row_no, today, errors) -> None:
    grade = "".join(_text(values.get("disability_grade")).split())
    record["disability_grade"] = code_of(DISABILITY_GRADE_SPELLINGS, grade)
    if record["disability_grade"] is None:
        errors.append(RowError(row_no, "残疾等级", f"“{grade}”不是有效的残疾等级（一级至四级）"))
    record["disability_kind"] = _text(values.get("disability_kind"))[:20]


def _enrolment_row(values, record, row_no, today, errors) -> None:
    year = _text(values.get("year")).removesuffix("年")
    if not (year.isdigit() and len(year) == 4):
        errors.append(RowError(row_no, "参保年度", f"“{year}”不是有效的参保年度"))
    else:
        record["year"] = int(year)
    status = "".join(_text(values.get("enrol_status")).split())
    code = code_of(ENROLMENT_STATUS_SPELLINGS, status)
    if code is None:
        errors.append(RowError(row_no, "参保状态", f"“{status}”不是有效的参保状态"))
    record["enrol_status"] = code or ""
    _date(values, "paid_date", "缴费日期", row_no, errors, required=False)
    region = _text(values.get("enrol_region"))
    try:
        record["enrol_region"] = canonical_code(region) if region else ""
    except RegionCodeError:
        errors.append(RowError(row_no, "参保地区划", f"“{region}”不是有效的区划代码"))


ROW_READERS: dict[str, Callable] = {
    "poverty": _poverty_row, "civil_affairs": _civil_affairs_row, "deaths": _deaths_row,
    "disability": _disability_row, "enrolment": _enrolment_row,
}


# --- the inbox ----------------------------------------------------------------------------------------------

def inbox_files(inbox: Path) -> Iterator[tuple[str, Path, dt.date]]:
    """(source, path, snapshot date) of every list file, oldest first within each source."""
    for source in SOURCES:
        folder = inbox / source
        if not folder.is_dir():
            continue
        found = []
        for path in folder.iterdir():
            if not path.is_file() or path.name.startswith((".", "~$")):
                continue
            if path.suffix.lower() not in EXCEL_SUFFIXES + CSV_SUFFIXES:
                continue
            found.append((snapshot_date(path), path.name, path))
        for as_of, _, path in sorted(found):
            yield source, path, as_of


def snapshot_date(path: Path) -> dt.date:
    """The list's date: one written in the file name (20240301, 2024-03-01), else the file's modification day."""
    match = _FILE_DATE.search(path.stem)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    return timezone.localtime(dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)).date()


def load_inbox(run, inbox: Path, today: dt.date) -> list[FileReport]:
    """Take every new file of the inbox (each in its own savepoint); already processed files are skipped."""
    reports = []
    for source, path, as_of in inbox_files(inbox):
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if MatchingSourceFile.objects.filter(source=source, sha256=sha).exists():
            continue
        reports.append(load_file(run, source, path.name, data, sha, as_of, today))
    return reports


def load_file(run, source: str, file_name: str, data: bytes, sha: str, as_of: dt.date, today: dt.date) -> FileReport:
    report = FileReport(source, file_name, "failed")
    try:
        parsed = parse_file(source, data, file_name, today)
        if parsed.errors:
            raise FileRefused(_errors_message(parsed.errors))
        if not parsed.rows:
            raise FileRefused("文件中没有数据行")
    except FileRefused as exc:
        report.message = f"{SOURCES[source]}文件“{file_name}”未载入：{exc}"
        file = MatchingSourceFile.objects.create(source=source, file_name=file_name[:255], sha256=sha, as_of=as_of,
                                                 status="failed", message=report.message, run=run)
        report.file_id = file.pk
        return report
    with transaction.atomic():
        file = MatchingSourceFile.objects.create(source=source, file_name=file_name[:255], sha256=sha, as_of=as_of,
                                                 status="loaded", rows=len(parsed.rows), run=run)
        copy_rows(MatchingRecord._meta.db_table, RECORD_COLUMNS,
                  ([file.pk, *(row[name] for name in RECORD_COLUMNS[1:])] for row in parsed.rows))
    report.status, report.rows, report.file_id = "loaded", len(parsed.rows), file.pk
    return report


def _errors_message(errors: list[RowError]) -> str:
    shown = "；".join(e.text() for e in errors[:SHOWN_ERRORS])
    more = f"；另有{len(errors) - SHOWN_ERRORS}处错误" if len(errors) > SHOWN_ERRORS else ""
    return f"共{len(errors)}处错误，整个文件未载入，请更正后重新放入收件目录：{shown}{more}"


def current_files() -> dict[str, int]:
    """The newest loaded file of each source (by list date, then order of arrival): it replaces the older ones."""
    newest = {}
    for file_id, source in (MatchingSourceFile.objects.filter(status="loaded")
                            .order_by("source", "-as_of", "-id").values_list("id", "source")):
        newest.setdefault(source, file_id)
    return newest


def analyse_records(file_ids) -> None:
    """Fresh planner statistics after a large COPY (the matching's joins depend on them)."""
    if file_ids:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {MatchingRecord._meta.db_table}")

