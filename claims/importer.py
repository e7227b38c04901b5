"""Hospitals' claim files (DOMAIN §6.1) as the "claims" kind of the one import framework.

Rows are checked in Python (clear Chinese errors, each with its row and column), then written set-based in
one transaction: hospitals upserted from the file's code/name/level, claims COPYed into a staging table and
upserted on (hospital, claim_no) — a re-sent claim replaces the old one only while it is unsettled — and
the affected person-years settled in one batch (claims.settlement.services).
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import connection
from django.utils import timezone

from poverty_registry import importing, sql
from poverty_registry.idnumber import IdNumberError, parse_id_number
from poverty_registry.importing import ImportKind, ImportOutcome, RowError
from poverty_registry.models import Region
from poverty_registry.scoping import region_scope
from poverty_registry.tabular import cell_errors, iter_data_rows, parse_date
from poverty_registry.vocab import (
    HEADERS,
    HOSPITAL_LEVEL_SPELLINGS,
    HOSPITAL_LEVELS,
    VISIT_TYPE_SPELLINGS,
    VISIT_TYPES,
    YES_NO,
    YES_NO_SPELLINGS,
    code_of,
)

from .settlement.services import REASON_LATE_CLAIM, settle_person_years
from .supervision.screening import screen_on_commit

COLUMNS = {
    "claim_no": "结算单号", "hospital_code": "医疗机构编码", "hospital_name": "医疗机构名称",
    "hospital_level": "医院等级", "in_county": "是否县域内", "referral": "是否转诊", "visit_type": "就诊类型",
    "id_number": "身份证号", "name": "姓名", "admission_date": "入院日期", "discharge_date": "出院日期",
    "diagnosis": "主要诊断编码", "total_cost": "医疗总费用", "uncovered_cost": "目录外费用",
}
SYNONYMS = {canonical: (label,) for canonical, label in COLUMNS.items()} | {
    "id_number": HEADERS["id_number"],
    "name": HEADERS["name"],
    "diagnosis": ("主要诊断编码", "诊断编码", "主要诊断"),
}
REQUIRED = tuple(c for c in COLUMNS if c != "referral")
ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4}([Xx][0-9]{3})?)?$")
HOSPITAL_CODE = re.compile(r"^H(\d{6})")  # 国家医保定点机构编码: H + 县级区划 + 顺序号
CENT = Decimal("0.01")


@dataclass
class ClaimRow:
    row: int
    claim_no: str
    hospital_code: str
    hospital_name: str
    hospital_level: str
    in_county: bool
    referral: bool
    visit_type: str
    id_number: str
    name: str
    admission_date: dt.date
    discharge_date: dt.date
    diagnosis: str
    total_cost: Decimal
    uncovered_cost: Decimal
    region_id: str = ""
    person_id: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.hospital_code, self.claim_no


class _Checker:
    """One row's checks; errors collect per row, a row with any error is rejected."""

    def __init__(self, labels: dict[str, str], today: dt.date):
        self.labels = labels
        self.today = today
        self.errors: dict[int, list[RowError]] = defaultdict(list)

    def error(self, row: int, canonical: str, message: str) -> None:
        self.errors[row].append(RowError(row, self.labels.get(canonical, COLUMNS.get(canonical, canonical)), message))

    def check(self, row: int, cells: list, columns: dict[str, int]) -> ClaimRow | None:
        def text(canonical: str) -> str:
            return str(cells[columns[canonical]]).strip() if canonical in columns else ""

        def required(canonical: str) -> str:
            value = text(canonical)
            if not value:
                self.error(row, canonical, "不能为空")
            return value

        values = {c: required(c) for c in ("claim_no", "hospital_code", "hospital_name", "name")}
        level = self._choice(row, "hospital_level", text("hospital_level"), HOSPITAL_LEVEL_SPELLINGS, HOSPITAL_LEVELS)
        visit = self._choice(row, "visit_type", text("visit_type"), VISIT_TYPE_SPELLINGS, VISIT_TYPES)
        in_county = self._choice(row, "in_county", text("in_county"), YES_NO_SPELLINGS, YES_NO)
        referral = self._choice(row, "referral", text("referral") or YES_NO[False], YES_NO_SPELLINGS, YES_NO)
        number = self._id_number(row, text("id_number"))
        admission = self._date(row, "admission_date", cells[columns["admission_date"]])
        discharge = self._date(row, "discharge_date", cells[columns["discharge_date"]])
        if admission and discharge and discharge < admission:
            self.error(row, "discharge_date", f"出院日期 {discharge} 早于入院日期 {admission}")
        if admission and admission > self.today:
            self.error(row, "admission_date", f"入院日期 {admission} 晚于今天")
        diagnosis = text("diagnosis").upper()
        if not ICD10.match(diagnosis):
            self.error(row, "diagnosis", f"“{diagnosis}”不是有效的ICD-10诊断编码（如 J18.900）")
        total = self._amount(row, "total_cost", text("total_cost"))
        uncovered = self._amount(row, "uncovered_cost", text("uncovered_cost") or "0")
        if total is not None and uncovered is not None and uncovered > total:
            self.error(row, "uncovered_cost", f"目录外费用 {uncovered} 大于医疗总费用 {total}")
        if self.errors.get(row):
            return None
        return ClaimRow(row, values["claim_no"], values["hospital_code"], values["hospital_name"], level, in_county,
                        referral, visit, number, values["name"], admission, discharge, diagnosis, total, uncovered)

    def _choice(self, row: int, canonical: str, value: str, spellings: dict, labels: dict):
        code = code_of(spellings, value)
        if code is not None:
            return code
        self.error(row, canonical, f"“{value}”无效，应为{'、'.join(labels.values())}之一" if value else "不能为空")
        return None

    def _id_number(self, row: int, value: str) -> str | None:
        try:
            return parse_id_number(value, self.today).number
        except IdNumberError as exc:
            self.error(row, "id_number", str(exc))
            return None

    def _date(self, row: int, canonical: str, value) -> dt.date | None:
        if value in ("", None):
            self.error(row, canonical, "不能为空")
            return None
        try:
            return parse_date(value)
        except ValueError as exc:
            self.error(row, canonical, str(exc))
            return None

    def _amount(self, row: int, canonical: str, value: str) -> Decimal | None:
        try:
            amount = Decimal(value.replace(",", ""))
        except InvalidOperation:
            self.error(row, canonical, f"“{value}”不是有效金额")
            return None
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
            self.error(row, canonical, f"金额应为非负数且最多两位小数：{value}")
            return None
        return amount


class ClaimImport(ImportKind):
    code = "claims"
    label = "医疗机构结算单（一站式结算）"
    permission = "claims.add_claim"
    count_labels = {"created": "新增结算单", "updated": "替换未结算单据", "settled": "写入结算结果"}
    template_name = "结算单导入模板.xlsx"
    sheet_title = "结算单"
    columns, synonyms, required = COLUMNS, SYNONYMS, REQUIRED
    header_markers = ("结算单号",)
    text_columns = ("claim_no", "hospital_code", "id_number", "diagnosis")
    example_rows = (("ZY2024000001", "H43062100001", "岳阳县人民医院", HOSPITAL_LEVELS["county"], YES_NO[True],
                     YES_NO[False], VISIT_TYPES["inpatient"], "430621198001010012", "张三", "2024-03-01",
                     "2024-03-10", "J18.900", "20000.00", "2000.00"),)

    def run(self, data: bytes, filename: str, user, *, dry_run: bool, progress) -> ImportOutcome:
        progress(5, "读取文件")
        table, header = self.read(data, filename)
        checker = _Checker(header.labels, timezone.localdate())
        rows, rows_read = [], 0
        bad = cell_errors(table, header)
        progress(15, "检查数据")
        for number, cells in iter_data_rows(table, header):
            rows_read += 1
            if number in bad:  # a cell the reader found unusable (a control character, too long): rejected
                checker.errors[number].extend(bad[number])
            row = checker.check(number, cells, header.columns)
            if row is not None:
                rows.append(row)
        rows = _drop_duplicates(rows, checker)
        progress(40, "核对人员与已有单据")

        def write() -> ImportOutcome:
            accepted = _check_against_database(rows, checker, user)
            counts = write_claims(accepted, user)
            progress(95, "完成")
            errors = [e for row in sorted(checker.errors) for e in checker.errors[row]]
            return ImportOutcome(rows_read, counts, len(checker.errors), errors)

        return importing.in_transaction(write, dry_run=dry_run)


def _drop_duplicates(rows: list[ClaimRow], checker: _Checker) -> list[ClaimRow]:
    """A claim number twice for one hospital in the file: every such row is an error, naming the others."""
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in rows:
        seen[row.key].append(row.row)
    for (code, no), numbers in seen.items():
        if len(numbers) > 1:
            for number in numbers:
                others = "、".join(str(n) for n in numbers if n != number)
                checker.error(number, "claim_no", f"医疗机构 {code} 的结算单号 {no} 在文件中重复（另见第{others}行）")
    return [row for row in rows if len(seen[row.key]) == 1]


def _check_against_database(rows: list[ClaimRow], checker: _Checker, user) -> list[ClaimRow]:
    """Who the patient is (ledger, or enrolled that year), whether they are in the uploader's region, and
    whether a claim with the same number is already settled."""
    numbers = sorted({r.id_number for r in rows})
    ledger, enrolled = _known_persons(numbers)
    settled = _settled_claims({r.key for r in rows})
    scope = region_scope(user)
    accepted = []
    for row in rows:
        year = row.admission_date.year
        if row.id_number in ledger:
            row.person_id, row.region_id = ledger[row.id_number]
        elif (row.id_number, year) in enrolled:
            row.region_id = enrolled[(row.id_number, year)]
        else:
            checker.error(row.row, "id_number", f"查无此人：{row.id_number} 既不在建档立卡台账中，{year}年度也未参保")
            continue
        if not scope.covers(row.region_id):
            checker.error(row.row, "id_number", f"参保人所在区划 {row.region_id} 不在您的辖区内")
            continue
        if row.key in settled:
            checker.error(row.row, "claim_no",
                          f"结算单号 {row.claim_no} 已结算，不能重复上传替换；如需更正请联系经办机构")
            continue
        accepted.append(row)
    return accepted


def _known_persons(numbers: list[str]):
    with connection.cursor() as cursor:
        cursor.execute(sql.inline("SELECT id_number, id, region_id FROM {person} WHERE id_number = ANY(%s)"),
                       [numbers])
        ledger = {n: (pk, region) for n, pk, region in cursor.fetchall()}
        cursor.execute(sql.inline("SELECT id_number, year, region_id FROM {enrolment} "
                                  "WHERE status = 'enrolled' AND id_number = ANY(%s)"), [numbers])
        enrolled = {(n, year): region for n, year, region in cursor.fetchall()}
    return ledger, enrolled


def _settled_claims(keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    if not keys:
        return set()
    codes, numbers = zip(*keys)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.inline("SELECT h.code, c.claim_no FROM {claim} c JOIN {hospital} h ON h.id = c.hospital_id "
                       "JOIN unnest(%s::text[], %s::text[]) AS k(code, no) ON k.code = h.code AND k.no = c.claim_no "
                       "WHERE c.status <> 'unsettled'"), [list(codes), list(numbers)])
        return set(cursor.fetchall())


STAGE_COLUMNS = {"hospital_code": "text", "claim_no": "text", "hospital_level": "text", "in_county": "boolean",
                 "referral": "boolean", "visit_type": "text", "id_number": "text", "name": "text",
                 "person_id": "bigint", "admission_date": "date", "discharge_date": "date", "diagnosis": "text",
                 "total_cost": "numeric(14, 2)", "uncovered_cost": "numeric(14, 2)", "year": "smallint",
                 "region_id": "text"}
HOSPITAL_STAGE_COLUMNS = {"code": "text", "name": "text", "level": "text", "region_id": "text"}


def write_claims(rows: list[ClaimRow], user) -> dict[str, int]:
    """Upsert hospitals and claims, then settle every person-year the file touched."""
    if not rows:
        return {"created": 0, "updated": 0, "settled": 0}
    _upsert_hospitals(rows)
    with connection.cursor() as cursor:
        importing.stage(cursor, "claim_stage", STAGE_COLUMNS, (
            (r.hospital_code, r.claim_no, r.hospital_level, r.in_county, r.referral, r.visit_type, r.id_number,
             r.name, r.person_id, r.admission_date, r.discharge_date, r.diagnosis, r.total_cost, r.uncovered_cost,
             r.admission_date.year, r.region_id) for r in rows))
        cursor.execute(sql.load(__name__, "claim_upsert"))
        results = cursor.fetchall()
    created = sum(1 for flag, _, _ in results if flag is True)
    updated = sum(1 for flag, _, _ in results if flag is False)
    keys = {(number, year) for _, number, year in results}
    outcome = settle_person_years(keys, reason=REASON_LATE_CLAIM)
    screen_on_commit([number for number, _ in keys], [year for _, year in keys])  # §7.1 rules on new claims
    return {"created": created, "updated": updated, "settled": outcome.written}


def _upsert_hospitals(rows: list[ClaimRow]) -> None:
    """Hospitals by 医疗机构编码: created with the file's name and level (region from the code's county
    digits when it is a known region, else the patient's county), name and level updated when they change."""
    known_regions = set(Region.objects.filter(level=3).values_list("code", flat=True))
    hospitals = {}
    for row in rows:
        if row.hospital_code in hospitals:
            continue
        match = HOSPITAL_CODE.match(row.hospital_code)
        region = match[1] if match and match[1] in known_regions else row.region_id[:6]
        hospitals[row.hospital_code] = (row.hospital_code, row.hospital_name, row.hospital_level, region)
    with connection.cursor() as cursor:
        importing.stage(cursor, "hospital_stage", HOSPITAL_STAGE_COLUMNS, hospitals.values())
        cursor.execute(sql.load(__name__, "hospital_upsert"))


importing.register(ClaimImport())
