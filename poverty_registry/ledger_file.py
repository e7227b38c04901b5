"""The township ledger file (建档立卡台账): read and check an upload (DOMAIN.md §4.1–4.4); its template, export
and error files in the import layout (written by poverty_registry.workbook).

No database: the import service turns an accepted LedgerParse into rows, and tells the parse which persons
the masked numbers of an exported ledger stand for (`unmask`). Its vocabularies and header names are the shared
ones of vocab.py.
"""
from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from . import workbook
from .idnumber import IdNumber, IdNumberError, parse_id_number, to_halfwidth
from .tabular import (
    HeaderMatch,
    RowError,
    Table,
    TableFormatError,
    TruncatedNumber,
    cell_errors,
    cell_text,
    find_header,
    gc_paused,
    iter_data_rows,
    parse_date,
    read_table,
)
from .vocab import (
    CATEGORIES,
    HEAD_RELATION,
    HEADERS,
    ID_FALLBACK_MARKERS,
    ID_HEADER_MARKERS,
    POVERTY_STATUS_SPELLINGS,
    POVERTY_STATUSES,
    SEX_SPELLINGS,
    SEXES,
    code_of,
    parse_categories,
)

# Canonical columns in template order → the header names accepted, the template's first; the columns other
# files share take their names from vocab.HEADERS.
COLUMN_SYNONYMS = {
    "household_no": HEADERS["household_no"],
    "name": HEADERS["name"],
    "id_number": HEADERS["id_number"],
    "sex": HEADERS["sex"],
    "birth_date": HEADERS["birth_date"],
    "relation": ("与户主关系",),
    "categories": HEADERS["categories"],
    "village_code": HEADERS["village_code"],
    "status": HEADERS["poverty_status"],
    "phone": ("联系电话",),
}
COLUMNS = {canonical: names[0] for canonical, names in COLUMN_SYNONYMS.items()}
REQUIRED_COLUMNS = ("household_no", "name", "id_number", "relation", "village_code")
ERROR_COLUMN = workbook.ERROR_COLUMN
# A number as a ledger export shows it to a user who may not see it in full: region and last four (mask_id_number).
MASKED_ID = re.compile(r"[0-9]{6}\*{4,}[0-9]{3}[0-9X]")
ROWS_NAMED = 10  # a message names at most this many other rows
TEMPLATE_SHEET = "台账"
NOTES_SHEET = "填写说明"
TEXT_COLUMNS = ("household_no", "id_number", "village_code", "phone")


class LedgerRow(NamedTuple):
    excel_row: int
    household_no: str
    name: str
    id_number: str
    sex: str
    birth_date: dt.date
    relation: str
    is_head: bool
    categories: tuple[str, ...]
    village_code: str
    status: str | None
    phone: str


@dataclass
class LedgerParse:
    rows_read: int
    accepted: list[LedgerRow]
    rejected_rows: list[int]
    errors: list[RowError]
    header: HeaderMatch = field(repr=False)
    # The accepted rows formatted for the import's staging table, once for a preview and its confirm; kept in
    # this process only (not pickled into the parse cache).
    stage_payload: bytes | None = field(default=None, repr=False)
    masked: int = 0  # rows that carry a masked number (their persons depend on the database: see `unmask`)

    @property
    def households_accepted(self) -> int:
        return len({row.household_no for row in self.accepted})

    # Cached in Redis between preview and confirm: rows pickle as plain tuples with the birth date as its
    # day number, three times faster than named tuples of dates (each a Python-level call per row).
    def __getstate__(self) -> dict:
        return {**self.__dict__, "stage_payload": None,
                "accepted": [(*row[:5], row[5].toordinal(), *row[6:]) for row in self.accepted]}

    def __setstate__(self, state: dict) -> None:
        day = dt.date.fromordinal
        self.__dict__.update(state, accepted=[LedgerRow(*row[:5], day(row[5]), *row[6:]) for row in state["accepted"]])

    def has_column(self, canonical: str) -> bool:
        """False when the file has no such column (then categories/status say nothing)."""
        return canonical in self.header.columns


class LedgerFormatError(TableFormatError):
    """The file is readable but is not a ledger (a required column is missing)."""


Unmask = Callable[[set[tuple[str, str, str]]], Mapping[tuple[str, str, str], str]]


def parse_ledger(
    data: bytes, filename: str, *, allowed_villages: Container[str], today: dt.date, unmask: Unmask | None = None
) -> LedgerParse:
    """Read a ledger upload and apply every row and household check of §4.

    A masked number (a ledger exported for a user who may not see numbers in full) stands for the person
    `unmask` finds by (masked number, 户编号, 姓名); a row whose masked number names nobody is rejected.
    Raises TableFormatError (a ValueError; LedgerFormatError is one) for a file that cannot be
    checked row by row; row problems come back in ``errors``.
    """
    with gc_paused():
        table = read_table(data, filename)
        header = find_ledger_header(table)
        rows = list(iter_data_rows(table, header))
        masked = _masked_keys(rows, header)
        checker = _RowChecker(header, allowed_villages, today, unmask(masked) if masked and unmask else {})
        checked = [checker.check(number, cells) for number, cells in rows]
        _mark_bad_cells(checked, cell_errors(table, header))
        _mark_duplicate_ids(checked, checker.label("id_number"))
        _mark_households(checked, checker.label("relation"), checker.label("household_no"))
    return LedgerParse(
        rows_read=len(checked),
        accepted=[row.ledger_row for row in checked if not row.errors],
        rejected_rows=[row.number for row in checked if row.errors],
        errors=[error for row in checked for error in row.errors],
        header=header,
        masked=checker.masked_rows,
    )


def _masked_keys(rows: list, header: HeaderMatch) -> set[tuple[str, str, str]]:
    """(masked number, 户编号, 姓名) of the rows that carry a masked number (a cheap look for "*" first)."""
    at, household_at, name_at = (header.columns[c] for c in ("id_number", "household_no", "name"))
    return {(cells[at], _code_text(cells[household_at]), _text(cells[name_at])) for _, cells in rows
            if type(cells[at]) is str and "*" in cells[at] and MASKED_ID.fullmatch(cells[at])}


def find_ledger_header(table: Table) -> HeaderMatch:
    header = find_header(table, ID_HEADER_MARKERS, COLUMN_SYNONYMS, ID_FALLBACK_MARKERS)
    missing = [COLUMNS[c] for c in REQUIRED_COLUMNS if c not in header.columns]
    if missing:
        raise LedgerFormatError(f"表头缺少必需的列：{'、'.join(missing)}")
    return header


# Row checks -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _CheckedRow:
    number: int
    household_no: str
    id_number: str | None
    is_head: bool
    errors: list[RowError]
    ledger_row: LedgerRow | None = None


class _RowChecker:
    """The checks of one row that need nothing but the row (§4.2, §4.3)."""

    def __init__(self, header: HeaderMatch, allowed_villages: Container[str], today: dt.date,
                 unmasked: Mapping[tuple[str, str, str], str]):
        self.labels = header.labels
        self.unmasked = unmasked
        self.masked_rows = 0
        self.allowed_villages = allowed_villages
        self.today = today
        index = header.columns.get
        self.household_no, self.name, self.id_number = (
            index("household_no"), index("name"), index("id_number"))
        self.sex, self.birth_date, self.relation = (
            index("sex"), index("birth_date"), index("relation"))
        self.categories, self.village_code, self.status, self.phone = (
            index("categories"), index("village_code"), index("status"), index("phone"))
        self._categories: dict[str, tuple[tuple[str, ...], str | None]] = {}

    def label(self, canonical: str) -> str:
        return self.labels.get(canonical, COLUMNS[canonical])

    def error(self, number: int, canonical: str, message: str) -> RowError:
        return RowError(number, self.label(canonical), message)

    def check(self, number: int, cells: list) -> _CheckedRow:
        errors: list[RowError] = []
        household_no = _code_text(cells[self.household_no])
        if not household_no:
            errors.append(self.error(number, "household_no", "不能为空"))
        name = _text(cells[self.name])
        if not name:
            errors.append(self.error(number, "name", "不能为空"))
        identity = self._identity(number, cells[self.id_number], errors, household_no, name)
        if self.sex is not None and cells[self.sex]:
            self._check_sex(number, cells[self.sex], identity, errors)
        if self.birth_date is not None and cells[self.birth_date]:
            self._check_birth_date(number, cells[self.birth_date], identity, errors)
        relation = _text(cells[self.relation])
        categories = self._categories_of(number, cells, errors)
        village_code = self._village(number, cells[self.village_code], errors)
        status = self._status(number, cells, errors)
        row = _CheckedRow(
            number=number,
            household_no=household_no,
            id_number=identity.number if identity else None,
            is_head=relation == HEAD_RELATION,
            errors=errors,
        )
        if not errors:
            row.ledger_row = LedgerRow(
                excel_row=number,
                household_no=household_no,
                name=name,
                id_number=identity.number,
                sex=identity.sex,
                birth_date=identity.birth_date,
                relation=relation,
                is_head=row.is_head,
                categories=categories,
                village_code=village_code,
                status=status,
                phone=_code_text(cells[self.phone]) if self.phone is not None else "",
            )
        return row

    def _identity(self, number: int, value, errors: list, household_no: str, name: str) -> IdNumber | None:
        if isinstance(value, TruncatedNumber):
            message = "被Excel存成了数字，第15位以后已丢失；请把该列设为文本格式后重新录入"
            errors.append(self.error(number, "id_number", message))
            return None
        text = _text(value)
        if "*" in text:
            text = self._unmasked(number, text, household_no, name, errors)
            if text is None:
                return None
        try:
            return parse_id_number(text, self.today)
        except IdNumberError as error:
            errors.append(self.error(number, "id_number", str(error)))
            return None

    def _unmasked(self, number: int, text: str, household_no: str, name: str, errors: list) -> str | None:
        """The registered number a masked one stands for; None (and the reason) when it names nobody."""
        if not MASKED_ID.fullmatch(text):
            return text
        self.masked_rows += 1
        full = self.unmasked.get((text, household_no, name))
        if full is None:
            errors.append(self.error(number, "id_number", (
                f"{text} 是导出台账中的脱敏号码，在您辖区的台账中找不到户编号 {household_no or '（空）'}、姓名 "
                f"{name or '（空）'} 的对应人员。脱敏号码只能用于修改已登记的人员（户编号和姓名须与导出时一致）；"
                "新增人员或更正户编号、姓名请填写完整的18位身份证号，可下载导入模板填写")))
        return full

    def _check_sex(self, number: int, value, identity: IdNumber | None, errors: list) -> None:
        text = _text(value)
        sex = code_of(SEX_SPELLINGS, text)
        if sex is None:
            errors.append(self.error(number, "sex", f"“{text}”无法识别，只能填写“男”或“女”"))
        elif identity and sex != identity.sex:
            message = f"与身份证号不一致（身份证号对应的性别为{SEXES[identity.sex]}）"
            errors.append(self.error(number, "sex", message))

    def _check_birth_date(self, number: int, value, identity: IdNumber | None, errors) -> None:
        if identity and type(value) is str and value == identity.birth_date.isoformat():
            return  # the common case, written as the ID number says: nothing to parse
        try:
            birth_date = parse_date(value)
        except ValueError:
            message = f"“{cell_text(value)}”不是有效日期，请按 YYYY-MM-DD 填写"
            errors.append(self.error(number, "birth_date", message))
            return
        if identity and birth_date != identity.birth_date:
            expected = identity.birth_date.isoformat()
            message = f"与身份证号不一致（身份证号中的出生日期为 {expected}）"
            errors.append(self.error(number, "birth_date", message))

    def _categories_of(self, number: int, cells: list, errors: list) -> tuple[str, ...]:
        text = _text(cells[self.categories]) if self.categories is not None else ""
        if not text:
            return ()
        parsed = self._categories.get(text)
        if parsed is None:
            parsed = self._categories[text] = _parse_categories(text)
        codes, problem = parsed
        if problem:
            errors.append(self.error(number, "categories", problem))
        return codes

    def _village(self, number: int, value, errors: list) -> str:
        code = _code_text(value)
        if not code:
            errors.append(self.error(number, "village_code", "不能为空"))
        elif code not in self.allowed_villages:
            message = f"村代码 {code} 不是本辖区内的村（社区）"
            errors.append(self.error(number, "village_code", message))
        return code

    def _status(self, number: int, cells: list, errors: list) -> str | None:
        text = _text(cells[self.status]) if self.status is not None else ""
        if not text:
            return None
        status = code_of(POVERTY_STATUS_SPELLINGS, text)
        if status is None:
            allowed = "、".join(POVERTY_STATUSES.values())
            message = f"“{text}”不是有效的脱贫状态，可填写：{allowed}"
            errors.append(self.error(number, "status", message))
        return status


def _text(value) -> str:
    return value if type(value) is str else cell_text(value)


def _code_text(value) -> str:
    """Codes and numbers: half-width, no spaces anywhere."""
    if type(value) is str and value.isascii() and value.isalnum():
        return value
    return "".join(to_halfwidth(_text(value)).split())


def _parse_categories(text: str) -> tuple[tuple[str, ...], str | None]:
    """(codes in CATEGORIES order, error message or None) for one 人员类别 cell."""
    codes, unknown = parse_categories(text)
    if not unknown:
        return codes, None
    allowed = "、".join(CATEGORIES.values())
    return codes, f"{'、'.join(f'“{part}”' for part in unknown)}不是有效的人员类别，可填写：{allowed}"


# Checks across rows ---------------------------------------------------------------------------


def _mark_bad_cells(rows: list[_CheckedRow], bad: dict[int, list[RowError]]) -> None:
    """A cell the reader found unusable (a control character, too long) rejects its row."""
    if bad:
        for row in rows:
            row.errors.extend(bad.get(row.number, ()))


def _mark_duplicate_ids(rows: list[_CheckedRow], id_label: str) -> None:
    """Every row of an ID that appears more than once is an error naming the other rows."""
    first: dict[str, _CheckedRow] = {}
    repeated: dict[str, list[_CheckedRow]] = {}
    for row in rows:
        if row.id_number:
            earlier = first.setdefault(row.id_number, row)
            if earlier is not row:
                repeated.setdefault(row.id_number, [earlier]).append(row)
    for same in repeated.values():
        numbers = [row.number for row in same]
        for row in same:
            others = itertools.islice((n for n in numbers if n != row.number), ROWS_NAMED)
            message = f"身份证号与第{_row_list(others, len(numbers) - 1)}行重复"
            row.errors.append(RowError(row.number, id_label, message))


def _row_list(numbers: Iterable[int], count: int) -> str:
    """12、40、57 — the first ROWS_NAMED of ``count`` row numbers, then how many in all."""
    shown = "、".join(map(str, itertools.islice(numbers, ROWS_NAMED)))
    return shown if count <= ROWS_NAMED else f"{shown}等{count}"


def _mark_households(rows: list[_CheckedRow], relation_label: str, household_label: str) -> None:
    """One head per household; a household with any error is rejected as a whole (§4.4)."""
    households: dict[str, list[_CheckedRow]] = {}
    for row in rows:
        if row.household_no:
            households.setdefault(row.household_no, []).append(row)
    for household_no, members in households.items():
        heads = [row.number for row in members if row.is_head]
        if len(heads) != 1:
            message = _head_count_message(household_no, heads)
            for row in members:
                row.errors.append(RowError(row.number, relation_label, message))
        elif any(row.errors for row in members):
            message = f"同户（户编号 {household_no}）其他行有错误，整户未导入"
            for row in members:
                if not row.errors:
                    row.errors.append(RowError(row.number, household_label, message))


def _head_count_message(household_no: str, heads: list[int]) -> str:
    if not heads:
        return f"同户（户编号 {household_no}）没有户主，每户必须有且只有一个“户主”"
    rows = _row_list(heads, len(heads))
    return f"同户（户编号 {household_no}）有{len(heads)}个户主（第{rows}行），每户只能有一个户主"


def with_extra_errors(parse: LedgerParse, extra: list[RowError]) -> LedgerParse:
    """Add errors found against the database (scope, head conflicts); their households are rejected
    whole, as §4.4 rejects a household with any row error."""
    if not extra:
        return parse
    bad_rows = {error.row for error in extra}
    households = {row.household_no for row in parse.accepted if row.excel_row in bad_rows}
    label = parse.header.labels.get("household_no", COLUMNS["household_no"])
    errors = list(extra)
    for row in parse.accepted:
        if row.household_no in households and row.excel_row not in bad_rows:
            errors.append(RowError(row.excel_row, label, f"同户（户编号 {row.household_no}）其他行有错误，整户未导入"))
    rejected = {row.excel_row for row in parse.accepted if row.household_no in households}
    return LedgerParse(
        rows_read=parse.rows_read,
        accepted=[row for row in parse.accepted if row.household_no not in households],
        rejected_rows=sorted(set(parse.rejected_rows) | rejected),
        errors=sorted([*parse.errors, *errors], key=lambda e: e.row),
        header=parse.header,
    )


# Writing files --------------------------------------------------------------------------------


def write_error_workbook(data: bytes, filename: str, parse: LedgerParse) -> bytes:
    """The upload's rows above and at the header, then only its rejected rows, plus 错误说明 (the framework's
    error file, ID numbers and codes as text so that they survive a round trip through Excel)."""
    return workbook.error_workbook(read_table(data, filename), parse.header, parse.errors, text_columns=TEXT_COLUMNS)


def write_ledger_workbook(rows: Iterable[Mapping | tuple], notes: bool = False) -> bytes:
    """A ledger in the import layout: dicts keyed by canonical name, or tuples in COLUMNS order.

    Codes become their Chinese labels (sex, status, categories), so the file imports again;
    every cell is protected against formula injection.
    """
    canonical = tuple(COLUMNS)
    values = (([row.get(name) for name in canonical] if isinstance(row, Mapping) else row) for row in rows)
    return workbook.table_workbook(
        TEMPLATE_SHEET, tuple(COLUMNS.values()),
        ([_export_value(name, value) for name, value in zip(canonical, row)] for row in values),
        text_columns=[canonical.index(name) for name in TEXT_COLUMNS], notes=template_notes() if notes else ())


def template_workbook() -> bytes:
    """The empty import template with its 填写说明 sheet."""
    return write_ledger_workbook((), notes=True)


_NOTES = (
    ("household_no", "必填", "同一户的成员填写相同的户编号；每户有且只有一个“户主”"),
    ("name", "必填", ""),
    ("id_number", "必填", "18位公民身份号码（15位旧号码会自动转换）；请保持本列为文本格式，"
     "否则Excel会丢失第15位以后的数字。"
     "从本系统导出的脱敏台账（如 430602********123X）可修改后直接导入：脱敏号码按户编号和姓名识别为已登记的人员"),
    ("sex", "选填", "男 或 女；须与身份证号一致"),
    ("birth_date", "选填", "如 1980-01-01、1980/01/01、1980.01.01 或 19800101；须与身份证号一致"),
    ("relation", "必填", "户主本人填“户主”，其他成员填与户主的关系，如 配偶、子、女"),
    ("categories", "选填", "可填多个，用“、”或逗号分隔，可填："),
    ("village_code", "必填", "12位村（社区）统计用区划代码，须是本辖区内的村（社区）。"),
    ("status", "选填", "可填："),
    ("phone", "选填", ""),
)


def template_notes() -> list[list[str]]:
    """The 填写说明 sheet: a header, a line per column, a line on the file as a whole."""
    allowed = {
        "categories": "、".join(CATEGORIES.values()),
        "status": "、".join(POVERTY_STATUSES.values()),
    }
    lines = [["列名", "是否必填", "填写说明"]]
    for canonical, required, text in _NOTES:
        other_names = "或".join(f"“{name}”" for name in COLUMN_SYNONYMS[canonical][1:])
        also = f"表头也可写作{other_names}" if other_names else ""
        lines.append([COLUMNS[canonical], required, text + allowed.get(canonical, "") + also])
    markers = "或".join(f"“{name}”" for name in ID_HEADER_MARKERS)
    return [*lines, [], ["其他", "", f"表头所在行须含{markers}列；表头上方可以有标题行；"
                                 "列的顺序不限，其他列会被忽略；以“合计”或“总计”开头的行及其以下各行不导入。"]]


def _export_value(canonical: str, value):
    if value is None:
        return None
    if canonical == "sex":
        value = SEXES.get(value, value)
    elif canonical == "status":
        value = POVERTY_STATUSES.get(value, value)
    elif canonical == "categories" and not isinstance(value, str):
        value = "、".join(CATEGORIES.get(code, code) for code in value)
    elif isinstance(value, dt.date):
        return cell_text(value)
    return value
