"""Ledger export: scoped, masked unless permitted, in the import layout, formula-safe; the template."""
import io

import openpyxl
from django.urls import reverse

from tests.conftest import VILLAGE_A, VILLAGE_B, make_person


def sheet_rows(response):
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def test_export_is_scoped_and_masked(client, clerk_a, supervisor, regions):
    mine = make_person(VILLAGE_A, seq=1, name="=cmd|' /C calc'!A0")
    make_person(VILLAGE_B, seq=2, name="汉昌乙")
    client.force_login(clerk_a)
    rows = sheet_rows(client.get(reverse("registry:ledger_export")))
    assert rows[0][:3] == ["户编号", "姓名", "身份证号"]
    assert len(rows) == 2
    assert rows[1][1] == "'=cmd|' /C calc'!A0"  # formula neutralised
    assert rows[1][2] == mine.id_number[:6] + "********" + mine.id_number[-4:]
    client.force_login(supervisor)
    rows = sheet_rows(client.get(reverse("registry:ledger_export")))
    assert {r[2] for r in rows[1:]} >= {mine.id_number}
    assert len(rows) == 3


def test_export_follows_list_filters(client, county_a, regions):
    make_person(VILLAGE_A, seq=1, name="甲")
    make_person("430621100202", seq=2, name="乙")
    client.force_login(county_a)
    rows = sheet_rows(client.get(reverse("registry:ledger_export"), {"region": VILLAGE_A}))
    assert [r[1] for r in rows[1:]] == ["甲"]


def test_template_has_notes_sheet(client, clerk_a):
    client.force_login(clerk_a)
    response = client.get(reverse("imports:template", args=["ledger"]))
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["台账", "填写说明"]


def test_person_list_filters(client, county_a, regions):
    import datetime as dt

    from poverty_registry.models import PersonCategory

    dibao = make_person(VILLAGE_A, seq=1, name="低保甲")
    PersonCategory.objects.create(person=dibao, category="dibao", valid_from=dt.date(2020, 1, 1))
    make_person("430621100202", seq=2, name="其他乙")
    client.force_login(county_a)
    url = reverse("admin:poverty_registry_person_changelist")
    names = lambda params: [p.name for p in client.get(url, params).context["cl"].result_list]  # noqa: E731
    assert names({"category": "dibao"}) == ["低保甲"]
    assert names({"region": "430621100202"}) == ["其他乙"]
    assert sorted(names({})) == ["低保甲", "其他乙"]
