"""The enrolment list from the tax/insurance system (DOMAIN §5: 身份证号,姓名,参保年度,参保状态,缴费日期,参保地区划)
as a kind of the one import framework: rows checked in Python, written set-based (staging table + COPY +
INSERT … ON CONFLICT (id_number, year)), persons linked by ID number. Rows with errors are rejected one by
one; the others go in, in one transaction.

The file is checked and written in batches: while the database writes one batch (on a thread of its own, in
the same transaction), Python checks the next. A row whose number and year stand on another row too is held
back until every row is checked, since such rows are all errors when both are valid (§4.3's rule for IDs).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from poverty_registry import importing, sql
from poverty_registry.idnumber import IdNumberError, comparable_number, parse_id_number, quick_valid
from poverty_registry.importing import ImportKind, ImportOutcome, RowError
from poverty_registry.models import Region
from poverty_registry.regions import RegionCodeError, canonical_code
from poverty_registry.scoping import region_scope
from poverty_registry.tabular import cell_errors, gc_paused, iter_data_rows, parse_date
from poverty_registry.vocab import (
    ENROLMENT_STATUS_SPELLINGS,
    ENROLMENT_STATUSES,
    HEADERS,
    ID_FALLBACK_MARKERS,
    ID_HEADER_MARKERS,
    code_of,
)

# Canonical column → the header names accepted (the template's first): vocab.HEADERS'.
SYNONYMS = {
    "id_number": HEADERS["id_number"],
    "name": HEADERS["name"],
    "year": HEADERS["enrol_year"],
    "status": HEADERS["enrol_status"],
    "paid_date": HEADERS["paid_date"],
    "region": HEADERS["enrol_region"],
}
COLUMNS = {canonical: names[0] for canonical, names in SYNONYMS.items()}
REQUIRED = ("id_number", "name", "year", "status", "region")
YEARS = range(2000, 2101)
ROWS_NAMED = 10
# Rows a batch: the first small, so the database starts early; the others large, since each upsert also
# pays once for its join with the ledger's persons.
FIRST_BATCH_ROWS, BATCH_ROWS = 20_000, 90_000

STAGE_COLUMNS = {"id_number": "text", "name": "text", "year": "smallint", "status": "text", "paid_date": "date",
                 "region_id": "text"}

class EnrolmentRows:
    """Checks rows; keeps the accepted ones as tuples for COPY and the errors per row."""

    def __init__(self, user, header_labels: dict[str, str]):
        self.labels = header_labels
        self.scope = region_scope(user)
        self.known_regions = set(Region.objects.values_list("code", flat=True))
        self.region_cache: dict[str, str | RowError] = {}
        self.accepted: dict[int, tuple] = {}
        self.errors: dict[int, list[RowError]] = defaultdict(list)
        # The first row of each (number, year); the rows of those that repeat, the first included.
        self.seen: dict[tuple[str, int], int] = {}
        self.repeated: dict[tuple[str, int], list[int]] = {}
        self.held: list[int] = []  # accepted rows of a doubtful key, written after every row is checked
        # Cell values already found valid, kept across batches: years, statuses, paid dates, regions.
        self.known_values: tuple[dict, dict, dict, dict] = ({}, {}, {"": None, None: None}, {})
        self.today = dt.date.today()
        self.today_digits = self.today.strftime("%Y%m%d")

    def reject_bad_cells(self, rows: list, bad: dict[int, list[RowError]]) -> None:
        """Rows with a cell the reader found unusable (a control character, too long) start with its error, so
        no check accepts them."""
        if bad:
            for row, _cells in rows:
                if row in bad:
                    self.errors[row].extend(bad[row])

    def error(self, row: int, column: str, message: str) -> None:
        self.errors[row].append(RowError(row, self.labels.get(column, COLUMNS[column]), message))

    def check_rows(self, rows, columns: dict[str, int]) -> None:
        """Check (row number, cells) pairs. A column's cell values repeat (a year, a status, a few hundred
        dates and villages), so each distinct valid value is parsed once per file and looked up after; a value
        not seen before, or not valid, takes check()'s path with its message."""
        id_at, name_at, year_at = columns["id_number"], columns["name"], columns["year"]
        status_at, region_at, paid_at = columns["status"], columns["region"], columns.get("paid_date")
        years, statuses, paid_dates, regions = self.known_values
        today_digits, accepted, errors, seen = self.today_digits, self.accepted, self.errors, self.seen
        for row, cells in rows:
            number, year, status = cells[id_at], years.get(cells[year_at]), statuses.get(cells[status_at])
            region = regions.get(cells[region_at])
            name = cells[name_at]
            name = name.strip() if type(name) is str else str(name).strip()
            paid = paid_dates.get(cells[paid_at], False) if paid_at is not None else None
            if (year is None or status is None or region is None or paid is False or not name
                    or not quick_valid(number, today_digits)):
                self.check(row, cells, columns)
                self._remember(cells[year_at], years, cells[status_at], statuses, cells[region_at], regions,
                               None if paid_at is None else cells[paid_at], paid_dates, accepted.get(row))
                continue
            first = seen.setdefault((number, year), row)
            if first != row:
                self._repeat((number, year), first, row)
            if row not in errors:
                accepted[row] = (number, name, year, status, paid, region)

    @staticmethod
    def _remember(year_cell, years, status_cell, statuses, region_cell, regions, paid_cell, paid_dates, row):
        """Keep the values an accepted row's cells gave, for the rows after it."""
        if row is None:
            return
        _number, _name, year, status, paid, region = row
        years[year_cell], statuses[status_cell], regions[region_cell] = year, status, region
        if paid_cell is not None:
            paid_dates[paid_cell] = paid

    def check(self, row: int, cells: list, columns: dict[str, int]) -> None:
        number = self._id_number(row, cells[columns["id_number"]])
        name = str(cells[columns["name"]]).strip()
        if not name:
            self.error(row, "name", "姓名不能为空")
        year = self._year(row, cells[columns["year"]])
        status = self._status(row, cells[columns["status"]])
        paid = self._paid_date(row, cells[columns["paid_date"]]) if "paid_date" in columns else None
        region = self._region(row, cells[columns["region"]])
        if number and year:
            first = self.seen.setdefault((number, year), row)
            if first != row:
                self._repeat((number, year), first, row)
        if row not in self.errors:
            self.accepted[row] = (number, name, year, status, paid, region)

    def _repeat(self, key: tuple[str, int], first: int, row: int) -> None:
        self.repeated.setdefault(key, [first]).append(row)

    def _id_number(self, row: int, value) -> str | None:
        if quick_valid(value, self.today_digits):
            return value
        try:
            return parse_id_number(value, self.today).number
        except IdNumberError as exc:
            self.error(row, "id_number", f"身份证号{exc}")
            return None

    def _year(self, row: int, value) -> int | None:
        year = _year_value(value)
        if year is None:
            self.error(row, "year", f"参保年度“{value}”应为四位年份")
        return year

    def _status(self, row: int, value) -> str | None:
        status = code_of(ENROLMENT_STATUS_SPELLINGS, value)
        if status is None:
            self.error(row, "status", f"参保状态“{value}”无法识别，应为{'、'.join(ENROLMENT_STATUSES.values())}之一")
        return status

    def _paid_date(self, row: int, value) -> dt.date | None:
        if value in ("", None):
            return None
        try:
            return parse_date(value)
        except ValueError as exc:
            self.error(row, "paid_date", str(exc))
            return None

    def _region(self, row: int, value) -> str | None:
        text = str(value).strip()
        found = self.region_cache.get(text)
        if found is None:
            found = self.region_cache[text] = self._region_code(row, text)
        if isinstance(found, RowError):
            self.errors[row].append(RowError(row, found.column, found.message))
            return None
        return found

    def _region_code(self, row: int, text: str) -> str | RowError:
        label = self.labels.get("region", COLUMNS["region"])
        try:
            code = canonical_code(text)
        except RegionCodeError as exc:
            return RowError(row, label, str(exc))
        if code not in self.known_regions:
            return RowError(row, label, f"区划代码 {text} 不存在")
        if not self.scope.covers(code):
            return RowError(row, label, f"区划 {text} 不在您的辖区内")
        return code

    def repeated_keys(self, rows: list, columns: dict[str, int]) -> set[tuple[str, object]]:
        """(number, year) that the cells of more than one row stand for, before any row is checked: the rows
        that may turn out to be duplicates, held back from the batches written early."""
        id_at, year_at = columns["id_number"], columns["year"]
        years = {cell: _year_value(cell) for cell in {cells[year_at] for _row, cells in rows}}
        counts = Counter((comparable_number(cells[id_at]), years[cells[year_at]]) for _row, cells in rows)
        return {key for key, count in counts.items() if count > 1}

    def check_batch(self, rows: list, columns: dict[str, int], doubtful: set) -> list[tuple]:
        """Check a batch; returns its accepted rows to write now, and holds back those of a doubtful key."""
        self.check_rows(rows, columns)
        ready = []
        for row, _cells in rows:
            accepted = self.accepted.get(row)
            if accepted is not None:
                if (accepted[0], accepted[2]) in doubtful:
                    self.held.append(row)
                else:
                    ready.append(accepted)
        return ready

    def held_back(self) -> list[tuple]:
        """The rows held back that are still accepted once every row is checked (mark_duplicates ran)."""
        return [self.accepted[row] for row in self.held if row in self.accepted]

    def mark_duplicates(self) -> None:
        for (_number, year), rows in self.repeated.items():
            for row in rows:
                others = [r for r in rows if r != row]
                named = "、".join(str(r) for r in others[:ROWS_NAMED]) + ("等" if len(others) > ROWS_NAMED else "")
                self.error(row, "id_number", f"身份证号在{year}年度重复出现（另见第{named}行）")
                self.accepted.pop(row, None)

    def error_list(self) -> list[RowError]:
        return [e for row in sorted(self.errors) for e in self.errors[row]]


class EnrolmentImport(ImportKind):
    code = "enrolment"
    label = "参保名单（税务/医保系统导出）"
    permission = "enrollment.add_enrolment"
    count_labels = {"created": "新增参保记录", "updated": "更新参保记录", "unchanged": "未变化"}
    template_name = "参保名单模板.xlsx"
    sheet_title = "参保名单"
    columns, synonyms, required = COLUMNS, SYNONYMS, REQUIRED
    header_markers, fallback_markers = ID_HEADER_MARKERS, ID_FALLBACK_MARKERS
    text_columns = tuple(COLUMNS)

    def run(self, data: bytes, filename: str, user, *, dry_run: bool, progress) -> ImportOutcome:
        with gc_paused():  # hundreds of thousands of rows and tuples, no cycles: no collector passes over them
            return self._run(data, filename, user, dry_run=dry_run, progress=progress)

    def _run(self, data: bytes, filename: str, user, *, dry_run: bool, progress) -> ImportOutcome:
        progress(5, "读取文件")
        table, header = self.read(data, filename)
        rows = list(iter_data_rows(table, header))
        checked = EnrolmentRows(user, header.labels)
        checked.reject_bad_cells(rows, cell_errors(table, header))
        doubtful = checked.repeated_keys(rows, header.columns)

        def check_and_write() -> ImportOutcome:
            writer = EnrolmentWriter()
            with importing.writer_thread(writer.write) as put:
                for start, stop in batches(len(rows)):
                    progress(10 + 85 * start // len(rows), "检查并写入数据")
                    put(checked.check_batch(rows[start:stop], header.columns, doubtful))
                checked.mark_duplicates()
                put(checked.held_back())
            progress(95, "完成")
            return ImportOutcome(len(rows), writer.counts(), len(rows) - len(checked.accepted),
                                 checked.error_list())

        return importing.in_transaction(check_and_write, dry_run=dry_run)


class EnrolmentWriter:
    """Upserts batches of checked rows (id_number, name, year, status, paid_date, region_id) through one staging
    table; counts per outcome over all batches."""

    def __init__(self):
        self.created = self.updated = self.written = 0

    def write(self, rows: list[tuple]) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            if self.written:  # the next batch: the same table, emptied
                cursor.execute("TRUNCATE enrolment_staging")
                importing.copy_rows("enrolment_staging", tuple(STAGE_COLUMNS), rows)
            else:
                importing.stage(cursor, "enrolment_staging", STAGE_COLUMNS, rows)
            cursor.execute(sql.load(__name__, "enrolment_upsert"))
            created, updated = cursor.fetchone()
        self.created += created
        self.updated += updated
        self.written += len(rows)

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated,
                "unchanged": self.written - self.created - self.updated}


def link_persons(year: int | None = None) -> int:
    """Link enrolments to ledger persons added after the enrolment was imported; returns rows linked."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            sql.inline("UPDATE {enrolment} e SET person_id = p.id FROM {person} p "
                       "WHERE p.id_number = e.id_number AND e.person_id IS DISTINCT FROM p.id")
            + (" AND e.year = %s" if year else ""), [year] if year else [])
        return cursor.rowcount


def batches(count: int):
    """(start, stop) of each batch of `count` rows."""
    start, size = 0, FIRST_BATCH_ROWS
    while start < count:
        yield start, min(start + size, count)
        start, size = start + size, BATCH_ROWS


def _year_value(value) -> int | None:
    text = str(value).strip().removesuffix("年")
    return int(text) if text.isdigit() and int(text) in YEARS else None


importing.register(EnrolmentImport())
