"""Every .xlsx download goes out through poverty_registry.workbook: a Chinese file name that every browser decodes
(RFC 6266 filename* plus an ASCII fallback), formulas neutralised, ID numbers masked for a user without the
permission, the export recorded."""
from __future__ import annotations

import io
import re
from urllib.parse import unquote

import openpyxl
import pytest
from django.test import RequestFactory
from django.urls import reverse

from enrollment.subsidies import compute_subsidies
from enrollment.subsidy_reports import issue_report
from poverty_registry import importing, workbook
from poverty_registry.models import AccessRecord
from tests.claims.supervision_helpers import claim, hospital
from tests.conftest import COUNTY_A, VILLAGE_A, make_staff
from tests.enrollment.conftest import categorised, enrol, policies  # noqa: F401 — the fixture

pytestmark = pytest.mark.django_db
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# RFC 5987 attr-char: what may stand unquoted in a filename* value
ATTR_CHARS = re.compile(r"[A-Za-z0-9!#$&+.^_`|~%-]+")


def file_name(response) -> str:
    """The name a browser saves the file under, read as RFC 6266 says: filename* wins; filename is ASCII."""
    header = response["Content-Disposition"]
    assert header.startswith("attachment;"), header
    extended = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    plain = re.search(r'filename="([^"]*)"', header)
    assert extended and plain, header
    assert ATTR_CHARS.fullmatch(extended[1]), header
    assert plain[1].isascii()
    return unquote(extended[1], errors="strict")


@pytest.fixture
def world(regions, policies):  # noqa: F811 — the fixture imported above
    person = categorised(VILLAGE_A, 1, "甲", ("tekun", "2018-01-01", None))
    enrol(person, 2025)
    compute_subsidies(2025)
    officer = make_staff("county_officer", COUNTY_A, "county")
    report = issue_report(2025, COUNTY_A, officer)
    claim("ZY1", "2025-05-01", "2025-05-04", person=person, hosp=hospital("H43062100001"), total="4000.00")
    run = importing.upload("ledger", _bad_ledger(), "台账.xlsx", officer)
    return {"officer": officer, "report": report, "run": run, "person": person}


def _bad_ledger() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["户编号", "姓名", "身份证号", "与户主关系", "所在村（社区）代码"])
    book.active.append(["H1", "乙", "123", "户主", VILLAGE_A])
    return workbook.save(book)


def xlsx_urls(world) -> list[tuple[str, str, dict]]:
    """(expected name, url, query) of every download that produces an .xlsx."""
    urls = [(f"{importing.KINDS[code].template_name or importing.KINDS[code].label + '模板.xlsx'}",
             reverse("imports:template", args=[code]), {}) for code in importing.KINDS]
    return urls + [
        ("台账_错误说明.xlsx", reverse("imports:errors", args=[world["run"].pk]), {}),
        ("建档立卡台账_", reverse("registry:ledger_export"), {}),
        (f"资助参保报表_{world['report'].serial_no}.xlsx", reverse("enrollment:report_xlsx", args=[world["report"].pk]),
         {}),
        ("2025年未参保人员_", reverse("enrollment:chase"), {"format": "xlsx", "year": 2025}),
        ("一站式结算统计_2025.xlsx", reverse("claims:statistics"), {"format": "xlsx", "year": 2025}),
        ("因病返贫致贫风险预警_2025.xlsx", reverse("claims:risk"), {"format": "xlsx", "year": 2025}),
        ("audit_2025.xlsx", reverse("supervision:overview_export"), {"year": 2025}),
        ("hits_2025.xlsx", reverse("supervision:hits_export"), {"year": 2025}),
        ("publication_", reverse("supervision:publication"), {}),
        ("matching_items_", reverse("matching:queue"), {"export": "xlsx"}),
    ]


def test_every_download_names_its_file_in_chinese(client, world, administrator):
    client.force_login(administrator)
    for expected, url, query in xlsx_urls(world):
        response = client.get(url, query)
        assert response.status_code == 200, url
        assert response["Content-Type"] == XLSX, url
        name = file_name(response)
        assert name.startswith(expected) and name.endswith(".xlsx"), (url, name)
        openpyxl.load_workbook(io.BytesIO(response.content))  # a workbook, not an error page


def test_the_xlsx_urls_are_all_listed(world):
    """A new download whose path ends in .xlsx joins the walk above (those answering ?format=xlsx are listed
    there by hand)."""
    from django.urls import get_resolver, resolve

    walked = {resolve(url).url_name for _, url, _ in xlsx_urls(world)}
    paths = [p for p in _patterns(get_resolver()) if str(p.pattern).endswith(("xlsx", "xlsx/"))]
    assert len(paths) >= 7
    assert {p.name for p in paths} <= walked


def _patterns(resolver):
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _patterns(pattern)
        else:
            yield pattern


@pytest.mark.parametrize("text", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "＝HYPERLINK()"])
def test_a_text_cell_starting_like_a_formula_is_neutralised(text, supervisor):
    built = workbook.build([workbook.Sheet("表", ["姓名", "备注"], [["甲", text]])], supervisor)
    cell = openpyxl.load_workbook(io.BytesIO(built.content)).active["B2"]
    assert cell.value == "'" + text and cell.data_type == "s"


def test_ids_masked_for_a_user_without_the_permission(world, clerk_a, supervisor):
    number = world["person"].id_number
    sheet = workbook.Sheet("表", ["身份证号"], [[number]], id_columns=(0,))
    masked = workbook.build([sheet], clerk_a)
    assert _cells(masked.content) == [("身份证号",), (number[:6] + "********" + number[-4:],)]
    assert masked.full_ids == 0
    sheet = workbook.Sheet("表", ["身份证号"], [[number]], id_columns=(0,))
    full = workbook.build([sheet], supervisor)
    assert _cells(full.content)[1] == (number,) and full.full_ids == 1


def test_chase_export_masks_for_a_clerk_and_records(client, world, clerk_a):
    client.force_login(clerk_a)
    response = client.get(reverse("enrollment:chase"), {"format": "xlsx", "year": 2026})
    assert file_name(response) == "2026年未参保人员_430621100.xlsx"
    rows = _cells(response.content)
    number = world["person"].id_number
    assert rows[1][0] == number[:6] + "********" + number[-4:]
    record = AccessRecord.objects.get(username="clerk_a", kind="export")
    assert (record.rows, record.full_ids) == (len(rows) - 1, 0)


def test_content_disposition_fallback_and_quoting():
    header = workbook.content_disposition('一站式 "统计";2025.xlsx')
    assert header == ("attachment; filename=\"___ ____;2025.xlsx\"; "
                      "filename*=UTF-8''%E4%B8%80%E7%AB%99%E5%BC%8F%20%22%E7%BB%9F%E8%AE%A1%22%3B2025.xlsx")


def test_export_records_rows_and_full_ids(supervisor):
    request = RequestFactory().get("/x")
    request.user = supervisor
    response = workbook.export(request, "名单.xlsx", [workbook.Sheet("表", ["身份证号"], [["430621198001010012"]] * 3,
                                                                      id_columns=(0,))])
    assert file_name(response) == "名单.xlsx"
    record = AccessRecord.objects.get(username="supervisor")
    assert (record.rows, record.full_ids, record.file_name) == (3, 3, "名单.xlsx")


def _cells(content: bytes) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(content)).active.values)
