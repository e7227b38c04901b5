"""One vocabulary per column (issue 14): every import kind (ledger, enrolments, claims) and every matching inbox
source reads every spelling that poverty_registry/vocab.py lists for a shared column, header names included,
and reads it as the same code; no module keeps a list of those spellings of its own.

The defect this pins: the enrolment import knew 参保缴费 and 已缴费 as enrolled, the inbox's own copy of the
list did not, and the nightly matching refused the tax bureau's whole file."""
from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import uuid
from pathlib import Path

import pytest

from claims.importer import COLUMNS as CLAIM_COLUMNS
from claims.models import Claim
from claims.settlement import engine as settlement
from enrollment.models import Enrolment
from poverty_registry import importing, vocab
from poverty_registry.matching import sources
from poverty_registry.models import Person
from poverty_registry.scoping import SERVER_COMMAND
from tests.claims.settlement_helpers import enrol, policies  # noqa: F401
from tests.conftest import VILLAGE_A, make_person
from tests.matching.scenario import id_for

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2024, 6, 15)
HEADERS = vocab.HEADERS


def every(table: dict) -> list[str]:
    """Every spelling of a vocabulary (the table's keys are the spellings, as compared)."""
    return list(table)


def header_variants(columns: dict[str, tuple[str, ...]]) -> list[list[str]]:
    """Header rows that between them use every accepted name of every column."""
    width = max(len(names) for names in columns.values())
    return [[names[i % len(names)] for names in columns.values()] for i in range(width)]


def csv_bytes(header: list[str], rows: list[list], title: str | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    if title:
        writer.writerow([title])
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def kind_run(kind: str, data: bytes, user, *, dry_run: bool = True):
    return importing.KINDS[kind].run(data, f"{kind}.csv", user, dry_run=dry_run, progress=lambda *args: None)


def assert_accepted(outcome, rows: int) -> None:
    assert [error.text() for error in outcome.errors] == []
    assert (outcome.rows_read, outcome.rows_rejected) == (rows, 0)


def person_id(i: int, sex: str = "M") -> str:
    """A valid ID number of the test county; the sequence's parity gives the sex (odd: male)."""
    return id_for("430621", "19800101", 2 * i + (1 if sex == "M" else 2))


# --- the ledger ---------------------------------------------------------------------------------------------

LEDGER_COLUMNS = {
    "household_no": HEADERS["household_no"], "name": HEADERS["name"], "id_number": HEADERS["id_number"],
    "sex": HEADERS["sex"], "relation": ("与户主关系",), "categories": HEADERS["categories"],
    "village_code": HEADERS["village_code"], "poverty_status": HEADERS["poverty_status"],
}


def ledger_rows() -> tuple[list[list], dict[str, tuple]]:
    """One household a row; every sex, category and poverty-status spelling on some row, and one cell that lists
    several categories with each separator. Returns the rows and, per ID, (sex, categories, status) expected."""
    sexes, categories, statuses = every(vocab.SEX_SPELLINGS), every(vocab.CATEGORY_SPELLINGS), every(
        vocab.POVERTY_STATUS_SPELLINGS)
    cells = [(categories[i % len(categories)], {vocab.CATEGORY_SPELLINGS[categories[i % len(categories)]]})
             for i in range(max(len(sexes), len(categories), len(statuses)))]
    cells.append(("低保户、脱贫户，重残 ", {"dibao", "tuopin", "severe_disability"}))
    rows, expected = [], {}
    for i, (category_cell, codes) in enumerate(cells):
        sex, status = sexes[i % len(sexes)], statuses[i % len(statuses)]
        number = person_id(i, vocab.SEX_SPELLINGS[sex])
        rows.append([f"V{i:04d}", f"测试{i}", number, sex, vocab.HEAD_RELATION, category_cell, VILLAGE_A, status])
        expected[number] = (vocab.SEX_SPELLINGS[sex], codes, vocab.POVERTY_STATUS_SPELLINGS[status])
    return rows, expected


def test_the_ledger_reads_every_spelling_of_its_shared_columns(clerk_a):
    rows, expected = ledger_rows()
    # A title row of its own each run: the ledger caches its parse by file content, across runs.
    title = f"建档立卡台账 {uuid.uuid4()}"
    variants = header_variants(LEDGER_COLUMNS)
    for header in variants:
        assert_accepted(kind_run("ledger", csv_bytes(header, rows, title), clerk_a), len(rows))
    assert_accepted(kind_run("ledger", csv_bytes(variants[0], rows, title), clerk_a, dry_run=False), len(rows))
    stored = {p.id_number: (p.sex, {c.category for c in p.categories.all()}, p.poverty_status)
              for p in Person.objects.filter(id_number__in=expected).prefetch_related("categories")}
    assert stored == expected


# --- enrolments ---------------------------------------------------------------------------------------------

ENROLMENT_COLUMNS = {name: HEADERS[name] for name in
                     ("id_number", "name", "enrol_year", "enrol_status", "paid_date", "enrol_region")}


def enrolment_rows() -> list[list]:
    return [[person_id(i), f"测试{i}", "2024", spelling, "2023-11-02", VILLAGE_A]
            for i, spelling in enumerate(every(vocab.ENROLMENT_STATUS_SPELLINGS))]


def statuses_read_by_the_import(user) -> dict[str, str]:
    rows = enrolment_rows()
    variants = header_variants(ENROLMENT_COLUMNS)
    for header in variants:
        assert_accepted(kind_run("enrolment", csv_bytes(header, rows), user), len(rows))
    assert_accepted(kind_run("enrolment", csv_bytes(variants[0], rows), user, dry_run=False), len(rows))
    stored = dict(Enrolment.objects.filter(year=2024).values_list("id_number", "status"))
    return {row[3]: stored[row[0]] for row in rows}


def statuses_read_by_the_inbox() -> dict[str, str]:
    rows = enrolment_rows()
    read = {}
    for header in header_variants(ENROLMENT_COLUMNS):
        parsed = sources.parse_file("enrolment", csv_bytes(header, rows), "enrolment.csv", TODAY)
        assert [error.text() for error in parsed.errors] == []
        read = {row[3]: record["enrol_status"] for row, record in zip(rows, parsed.rows, strict=True)}
    return read


def test_enrolment_statuses_mean_the_same_to_the_import_and_to_the_nightly_matching(clerk_a):
    expected = dict(vocab.ENROLMENT_STATUS_SPELLINGS)
    assert {"参保缴费", "已缴费"} <= set(expected)
    assert statuses_read_by_the_inbox() == expected
    assert statuses_read_by_the_import(clerk_a) == expected


# --- claims -------------------------------------------------------------------------------------------------

def test_claims_read_every_spelling_of_level_visit_type_and_yes_no(regions, policies):  # noqa: F811
    patient = make_person(VILLAGE_A, seq=801, name="测试甲")
    enrol(patient, 2024)
    columns = {canonical: (label,) for canonical, label in CLAIM_COLUMNS.items()} | {
        "id_number": HEADERS["id_number"], "name": HEADERS["name"]}
    levels, visits, flags = (every(vocab.HOSPITAL_LEVEL_SPELLINGS), every(vocab.VISIT_TYPE_SPELLINGS),
                             every(vocab.YES_NO_SPELLINGS))
    rows, expected = [], {}
    for i in range(max(len(levels), len(visits), len(flags))):
        level, visit = levels[i % len(levels)], visits[i % len(visits)]
        in_county, referral = flags[i % len(flags)], flags[(i + 1) % len(flags)]
        admitted = dt.date(2024, 1, 1) + dt.timedelta(days=3 * i)
        values = {"claim_no": f"V{i:03d}", "hospital_code": f"H430621{i:05d}", "hospital_name": f"测试医院{i}",
                  "hospital_level": level, "in_county": in_county, "referral": referral, "visit_type": visit,
                  "id_number": patient.id_number, "name": patient.name, "admission_date": admitted.isoformat(),
                  "discharge_date": (admitted + dt.timedelta(days=1)).isoformat(), "diagnosis": "J18.900",
                  "total_cost": "1000.00", "uncovered_cost": "0.00"}
        rows.append([values[canonical] for canonical in columns])
        expected[values["claim_no"]] = (vocab.HOSPITAL_LEVEL_SPELLINGS[level], vocab.VISIT_TYPE_SPELLINGS[visit],
                                        vocab.YES_NO_SPELLINGS[in_county], vocab.YES_NO_SPELLINGS[referral])
    variants = header_variants(columns)
    for header in variants:
        assert_accepted(kind_run("claims", csv_bytes(header, rows), SERVER_COMMAND), len(rows))
    assert_accepted(kind_run("claims", csv_bytes(variants[0], rows), SERVER_COMMAND, dry_run=False), len(rows))
    stored = {c.claim_no: (c.hospital_level, c.visit_type, c.in_county, c.referral) for c in Claim.objects.all()}
    assert stored == expected


def test_the_settlement_engine_reads_the_same_spellings():
    for table, read in ((vocab.CATEGORY_SPELLINGS, settlement.category_code),
                        (vocab.HOSPITAL_LEVEL_SPELLINGS, settlement.hospital_level_code),
                        (vocab.VISIT_TYPE_SPELLINGS, settlement.visit_type_code)):
        assert {spelling: read(spelling) for spelling in table} == table


# --- the other inbox sources --------------------------------------------------------------------------------

def inbox_read(source: str, columns: dict[str, tuple[str, ...]], rows: list[list]) -> list[dict]:
    records = []
    for header in header_variants(columns):
        parsed = sources.parse_file(source, csv_bytes(header, rows), f"{source}.csv", TODAY)
        assert [error.text() for error in parsed.errors] == []
        assert len(parsed.rows) == len(rows)
        records = parsed.rows
    return records


def test_civil_affairs_reads_every_spelling_of_its_categories_as_the_ledger_does():
    columns = {"id_number": HEADERS["id_number"], "name": HEADERS["name"], "category": ("救助类别",),
               "start_date": ("起始日期",)}
    spellings = every(vocab.ASSISTANCE_SPELLINGS)
    rows = [[person_id(i), f"测试{i}", spelling, "2024-01-01"] for i, spelling in enumerate(spellings)]
    read = {row[2]: record["category"] for row, record in zip(rows, inbox_read("civil_affairs", columns, rows),
                                                               strict=True)}
    assert read == vocab.ASSISTANCE_SPELLINGS
    shared = {spelling for spelling, code in vocab.CATEGORY_SPELLINGS.items() if code in vocab.ASSISTANCE_CATEGORIES}
    assert shared and all(read[spelling] == vocab.CATEGORY_SPELLINGS[spelling] for spelling in shared)


def test_the_poverty_list_takes_every_spelling_of_the_ledger_columns():
    columns = {name: HEADERS[name] for name in
               ("id_number", "name", "household_no", "categories", "poverty_status", "village_code")}
    categories, statuses = every(vocab.CATEGORY_SPELLINGS), every(vocab.POVERTY_STATUS_SPELLINGS)
    rows = [[person_id(i), f"测试{i}", f"V{i:04d}", categories[i % len(categories)], statuses[i % len(statuses)],
             VILLAGE_A] for i in range(max(len(categories), len(statuses)))]
    records = inbox_read("poverty", columns, rows)
    # The list's category and status are kept as written (shown in M02's detail), its village as a code.
    assert [(r["category"], r["poverty_status"], r["village"]) for r in records] == [
        (row[3], row[4], VILLAGE_A) for row in rows]


def test_the_deaths_and_disability_lists_take_every_id_header_and_grade():
    deaths = inbox_read("deaths", {"id_number": HEADERS["id_number"], "name": HEADERS["name"],
                                   "death_date": ("死亡日期",)}, [[person_id(1), "测试", "2024-01-01"]])
    assert deaths[0]["death_date"] == dt.date(2024, 1, 1)
    grades = every(vocab.DISABILITY_GRADE_SPELLINGS)
    rows = [[person_id(i), f"测试{i}", grade] for i, grade in enumerate(grades)]
    records = inbox_read("disability", {"id_number": HEADERS["id_number"], "name": HEADERS["name"],
                                        "disability_grade": ("残疾等级",)}, rows)
    assert {row[2]: r["disability_grade"] for row, r in zip(rows, records, strict=True)} == (
        vocab.DISABILITY_GRADE_SPELLINGS)


# --- no copies ----------------------------------------------------------------------------------------------

def sentinel_spellings() -> set[str]:
    """Spellings that mean one vocabulary value wherever they stand: the Chinese value spellings of three
    characters or more and the ID column's other names (short ones such as 乡镇 or 状态 are also plain labels)."""
    values = {spelling for name in dir(vocab) if name.endswith("_SPELLINGS")
              for spelling in getattr(vocab, name) if not spelling.isascii() and len(spelling) >= 3}
    return values | set(vocab.ID_HEADERS[1:])


def test_no_module_keeps_its_own_list_of_spellings():
    sentinels = sentinel_spellings()
    assert {"参保缴费", "已缴费", "身份证号码", "证件号码", "低保对象", "特困供养人员", "防返贫监测对象"} <= sentinels
    copies = []
    for app in ("poverty_registry", "enrollment", "claims", "config"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or path == ROOT / "poverty_registry" / "vocab.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                spelled = [item.value for item in _members(node)
                           if isinstance(item, ast.Constant) and item.value in sentinels]
                if len(spelled) >= 2:  # a list of spellings; one label alone (a tile's "已参保") is no copy
                    copies.append(f"{path.relative_to(ROOT)}:{node.lineno} {'、'.join(spelled)}")
    assert copies == []


def _members(node) -> list:
    """The members of a collection literal: a dict's keys and values, a list's, tuple's or set's items."""
    if isinstance(node, ast.Dict):
        return [*node.keys, *node.values]
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return node.elts
    return []
