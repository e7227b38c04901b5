"""The hospitals' claim file (claims.importer) through the import framework and `import_claims --json`:
exact counts, Chinese errors with row and column, hospitals created, re-sent claims, settlement after import."""
from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from claims.importer import COLUMNS
from claims.models import Claim, Hospital, Settlement
from poverty_registry import importing
from poverty_registry.scoping import SERVER_COMMAND
from tests.claims.settlement_helpers import category, enrol, policies  # noqa: F401
from tests.conftest import VILLAGE_A, VILLAGE_B, make_person

pytestmark = pytest.mark.django_db

HEADER = ",".join(COLUMNS.values())


@pytest.fixture
def people(regions, policies):  # noqa: F811
    dibao = make_person(VILLAGE_A, seq=21, name="低保甲")
    category(dibao, "dibao")
    enrol(dibao, 2024)
    other = make_person(VILLAGE_B, seq=22, name="平江乙")
    enrol(other, 2024)
    return {"dibao": dibao, "other": other, "outsider": "110101199003070011"}


def csv(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode("utf-8")


def line(no, id_number, name="低保甲", admitted="2024-03-01", discharged="2024-03-10", total="20000.00",
         uncovered="2000.00", level="县级", in_county="是", visit="住院", hospital="H43062100001"):
    return (f"{no},{hospital},岳阳县人民医院,{level},{in_county},否,{visit},{id_number},{name},{admitted},{discharged},"
            f"J18.900,{total},{uncovered}")


def run(data: bytes, user=SERVER_COMMAND, dry_run=False):
    return importing.KINDS["claims"].run(data, "claims.csv", user, dry_run=dry_run, progress=lambda *a: None)


def test_import_creates_hospital_and_claims_and_settles_them(people):
    outcome = run(csv(line("ZY1", people["dibao"].id_number), line("ZY2", people["other"].id_number, "平江乙")))
    assert outcome.as_json() == {"rows_read": 2, "created": 2, "updated": 0, "settled": 2, "rows_rejected": 0,
                                 "errors": []}
    hospital = Hospital.objects.get(code="H43062100001")
    assert (hospital.name, hospital.level, hospital.region_id) == ("岳阳县人民医院", "county", "430621")
    claim = Claim.objects.get(claim_no="ZY1")
    assert (claim.person, claim.region_id, claim.year, claim.status) == (people["dibao"], VILLAGE_A, 2024, "settled")
    assert Settlement.objects.get(claim=claim, is_current=True).self_pay == Decimal("1789.80")


def test_row_errors_are_exact_and_in_chinese(people):
    dibao = people["dibao"].id_number
    outcome = run(csv(
        line("E1", people["outsider"], "外地人"),
        line("E2", dibao, admitted="2024-03-10", discharged="2024-03-01"),
        line("E3", dibao, total="100.00", uncovered="200.00"),
        line("E4", dibao, level="社区"),
        line("E5", dibao, visit="门诊"),
        line("E6", dibao, admitted="2024-02-30"),
        line("E7", "430621198001010013"),
        line("OK1", dibao),
    ))
    assert (outcome.rows_read, outcome.rows_rejected, outcome.counts["created"]) == (8, 7, 1)
    assert [e.as_dict() for e in outcome.errors] == [
        {"row": 2, "column": "身份证号",
         "message": "查无此人：110101199003070011 既不在建档立卡台账中，2024年度也未参保"},
        {"row": 3, "column": "出院日期", "message": "出院日期 2024-03-01 早于入院日期 2024-03-10"},
        {"row": 4, "column": "目录外费用", "message": "目录外费用 200.00 大于医疗总费用 100.00"},
        {"row": 5, "column": "医院等级", "message": "“社区”无效，应为乡镇、县级、市级、省级之一"},
        {"row": 6, "column": "就诊类型", "message": "“门诊”无效，应为住院、特殊病种门诊之一"},
        {"row": 7, "column": "入院日期", "message": "“2024-02-30”不是有效日期"},
        {"row": 8, "column": "身份证号", "message": "校验位错误，应为 8"},
    ]


def test_duplicate_claim_numbers_in_one_file_reject_every_such_row(people):
    dibao = people["dibao"].id_number
    outcome = run(csv(line("D1", dibao), line("D1", dibao, admitted="2024-05-01", discharged="2024-05-02")))
    assert (outcome.rows_rejected, outcome.counts["created"]) == (2, 0)
    assert outcome.errors[0].message == "医疗机构 H43062100001 的结算单号 D1 在文件中重复（另见第3行）"


def test_resent_claim_replaces_only_while_unsettled(people):
    dibao = people["dibao"].id_number
    run(csv(line("R1", dibao)))
    again = run(csv(line("R1", dibao, total="21000.00")))
    assert (again.rows_rejected, again.counts["updated"]) == (1, 0)
    assert again.errors[0].as_dict() == {"row": 2, "column": "结算单号",
                                         "message": "结算单号 R1 已结算，不能重复上传替换；如需更正请联系经办机构"}
    Claim.objects.filter(claim_no="R1").update(status="unsettled")  # e.g. no policy was in force then
    replaced = run(csv(line("R1", dibao, total="21000.00")))
    assert (replaced.counts["created"], replaced.counts["updated"], replaced.rows_rejected) == (0, 1, 0)
    assert Claim.objects.get(claim_no="R1").total_cost == Decimal("21000.00")


def test_uploader_outside_the_patients_region_is_refused(people, clerk_b):
    outcome = run(csv(line("S1", people["dibao"].id_number)), user=clerk_b)
    assert outcome.errors[0].message == f"参保人所在区划 {VILLAGE_A} 不在您的辖区内"


def test_dry_run_writes_nothing(people):
    outcome = run(csv(line("P1", people["dibao"].id_number)), dry_run=True)
    assert outcome.counts == {"created": 1, "updated": 0, "settled": 1}
    assert not Claim.objects.exists() and not Hospital.objects.exists()


def test_late_claim_in_a_file_resettles_the_year(people):
    dibao = people["dibao"].id_number
    run(csv(line("L2", dibao, admitted="2024-06-01", discharged="2024-06-10")))
    outcome = run(csv(line("L1", dibao)))
    assert (outcome.counts["created"], outcome.counts["settled"]) == (1, 2)
    assert Settlement.objects.get(claim__claim_no="L2", is_current=True).version == 2


def test_import_claims_command_prints_json(people, tmp_path):
    path = tmp_path / "claims.csv"
    path.write_bytes(csv(line("J1", people["dibao"].id_number), line("J2", people["outsider"], "外地人")))
    out = StringIO()
    call_command("import_claims", str(path), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert {k: v for k, v in result.items() if k != "errors"} == {
        "rows_read": 2, "created": 1, "updated": 0, "settled": 1, "rows_rejected": 1}
    assert result["errors"] == [{"row": 3, "column": "身份证号",
                                 "message": "查无此人：110101199003070011 既不在建档立卡台账中，2024年度也未参保"}]


def test_hospital_xlsx_with_a_title_row_and_real_excel_cells(people, tmp_path):
    """A hospital's .xlsx: a title above the header, dates as Excel dates, amounts as numbers, the ID number
    as text: the claims land with their dates and amounts to the fen, and are settled on arrival."""
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["岳阳县人民医院 2024年3月 出院结算清单"])
    sheet.append(list(COLUMNS.values()))
    sheet.append(["X1", "H43062100001", "岳阳县人民医院", "县级", "是", "否", "住院", people["dibao"].id_number,
                  "低保甲", dt.date(2024, 3, 1), dt.date(2024, 3, 10), "J18.900", 20000, 2000])
    sheet.append(["X2", "H43062100001", "岳阳县人民医院", "县级", "是", "否", "住院", people["other"].id_number,
                  "平江乙", dt.date(2024, 3, 2), dt.date(2024, 3, 9), "J18.900", 8000.5, 0])
    path = tmp_path / "claims.xlsx"
    book.save(path)
    outcome = importing.KINDS["claims"].run(path.read_bytes(), "claims.xlsx", SERVER_COMMAND, dry_run=False,
                                            progress=lambda *a: None)
    assert (outcome.rows_read, outcome.rows_rejected, outcome.errors) == (2, 0, [])
    x1, x2 = Claim.objects.get(claim_no="X1"), Claim.objects.get(claim_no="X2")
    assert (x1.admission_date, x1.discharge_date, x1.total_cost, x1.uncovered_cost) == \
        (dt.date(2024, 3, 1), dt.date(2024, 3, 10), Decimal("20000.00"), Decimal("2000.00"))
    assert x2.total_cost == Decimal("8000.50")
    settled = Settlement.objects.get(claim=x1, is_current=True)
    assert settled.self_pay + sum(getattr(settled, t) for t in Settlement.tier_codes) == Decimal("20000.00")
    assert (settled.category, x1.status, x2.status) == ("dibao", "settled", "settled")
