"""The admin's "导出" through import-export resources: every exported model's file holds the user's region only,
ID numbers masked without view_full_id_number, Chinese headers and labels, formulas neutralised, and one
access-log record per file; the matching queue's export goes through its resource the same way."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from poverty_registry.idnumber import mask_id_number
from poverty_registry.models import AccessRecord
from tests.conftest import COUNTY_A, VILLAGE_A, VILLAGE_B, make_staff
from tests.samples import SAMPLES

FORMULA = '=cmd|"/c calc"!A1'  # the classic CSV injection; fits every text column used here
OUTSIDE_MARK = "外区标记"
XLSX, CSV = "0", "1"  # the export form's format choices, in ScopedExportMixin.export_formats order


def _set_text(obj, field: str, value: str) -> None:
    """Write a text field of the row (or of its claim: `claim__name`) without going through any form."""
    if field.startswith("claim__"):
        obj, field = obj.claim, field.removeprefix("claim__")
    type(obj).objects.filter(pk=obj.pk).update(**{field: value})


def _case_with_target(village):
    case = SAMPLES["claims.case"](village)
    person = SAMPLES["poverty_registry.person"](village)
    type(case).objects.filter(pk=case.pk).update(target_kind="person", target_id_number=person.id_number)
    case.refresh_from_db()
    return case


# label: (sample maker, text field that receives the formula, the row's ID number or None for an ID-free export)
EXPORTED = {
    "poverty_registry.person": (SAMPLES["poverty_registry.person"], "name", lambda o: o.id_number),
    "poverty_registry.household": (SAMPLES["poverty_registry.household"], "household_no", None),
    "enrollment.enrolment": (SAMPLES["enrollment.enrolment"], "name", lambda o: o.id_number),
    "enrollment.subsidyline": (SAMPLES["enrollment.subsidyline"], "fund", lambda o: o.id_number),
    "claims.claim": (SAMPLES["claims.claim"], "diagnosis", lambda o: o.id_number),
    "claims.settlement": (SAMPLES["claims.settlement"], "reason", lambda o: o.claim.id_number),
    "claims.screeninghit": (SAMPLES["claims.screeninghit"], "claim__name", lambda o: o.claim.id_number),
    "claims.case": (_case_with_target, "title", lambda o: o.target_id_number),
}


def export_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_export")


def exported_rows(client, model, fmt=XLSX, query=""):
    response = client.post(export_url(model) + query, {"format": fmt, "resource": "0"})
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Disposition"].lower().startswith("attachment; filename*=utf-8''")
    if fmt == CSV:
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")  # Excel reads UTF-8 CSV only with the BOM
        return [tuple(r) for r in csv.reader(io.StringIO(text.lstrip("\ufeff")))]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    return [tuple("" if v is None else v for v in row) for row in book.active.iter_rows(values_only=True)]


def cells(rows) -> set:
    return {str(v) for row in rows[1:] for v in row}


def may_view(user, model):
    """A user of the township who holds the model's view permission but not view_full_id_number."""
    codename = f"view_{model._meta.model_name}"
    if not user.has_perm(f"{model._meta.app_label}.{codename}"):
        user.user_permissions.add(Permission.objects.get(content_type__app_label=model._meta.app_label,
                                                         codename=codename))
    return type(user).objects.get(pk=user.pk)  # a fresh object: permissions are cached per instance


@pytest.fixture
def insider_full(regions):
    return make_staff("jianguan_a", COUNTY_A, "supervisor")  # holds view_full_id_number


@pytest.fixture
def outsider(regions):
    return make_staff("jianguan_b", VILLAGE_B[:6], "supervisor")


@pytest.mark.parametrize("label", sorted(EXPORTED))
def test_export_is_scoped_masked_chinese_neutralised_and_logged(label, client, clerk_a, insider_full, outsider):
    make, text_field, id_of = EXPORTED[label]
    inside, outside = make(VILLAGE_A), make(VILLAGE_B)
    _set_text(inside, text_field, FORMULA)
    _set_text(outside, text_field, OUTSIDE_MARK)
    model = type(inside)
    masked_user = may_view(clerk_a, model)

    client.force_login(masked_user)
    assert client.get(export_url(model)).status_code == 200  # the form: format, xlsx or csv
    rows = exported_rows(client, model)
    headers = rows[0]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in str(h)) for h in headers), headers
    found = cells(rows)
    assert "'" + FORMULA in found and FORMULA not in found
    assert OUTSIDE_MARK not in found
    record = AccessRecord.objects.latest("id")
    assert (record.kind, record.username, record.rows, record.full_ids) == ("export", masked_user.username,
                                                                             len(rows) - 1, 0)
    assert record.file_name.endswith(".xlsx") and str(model._meta.verbose_name) in record.file_name
    if id_of is not None:
        number = id_of(inside)
        assert mask_id_number(number) in found and number not in found

    client.force_login(insider_full)
    rows = exported_rows(client, model)
    found = cells(rows)
    assert "'" + FORMULA in found and OUTSIDE_MARK not in found
    record = AccessRecord.objects.latest("id")
    if id_of is not None:
        assert id_of(inside) in found
        assert (record.rows, record.full_ids) == (len(rows) - 1, len(rows) - 1)
    else:
        assert (record.rows, record.full_ids) == (len(rows) - 1, 0)

    client.force_login(outsider)
    rows = exported_rows(client, model)
    found = cells(rows)
    assert OUTSIDE_MARK in found
    assert "'" + FORMULA not in found and FORMULA not in found


def test_export_keeps_the_lists_filters_and_search(client, clerk_a):
    person = SAMPLES["poverty_registry.person"](VILLAGE_A)
    other = SAMPLES["enrollment.enrolment"](VILLAGE_A)  # another person of the same village
    client.force_login(clerk_a)
    rows = exported_rows(client, type(person), query=f"?q={person.name}")
    names = [row[rows[0].index("姓名")] for row in rows[1:]]
    assert names == [person.name] and other.name not in names
    assert "q=" in AccessRecord.objects.latest("id").filters


def test_choices_and_booleans_in_chinese_and_csv(client, clerk_a):
    person = SAMPLES["poverty_registry.person"](VILLAGE_A)
    type(person).objects.filter(pk=person.pk).update(poverty_status="lifted")
    client.force_login(clerk_a)
    rows = exported_rows(client, type(person), fmt=CSV)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["性别"], row["是否户主"], row["脱贫状态"], row["所在村（社区）"]) == (
        {"M": "男", "F": "女"}[person.sex], "是", "已脱贫", VILLAGE_A)
    assert row["身份证号"] == mask_id_number(person.id_number)
    assert AccessRecord.objects.latest("id").file_name.endswith(".csv")


def test_only_view_permission_exports(client, clerk_a, regions):
    from claims.models import Case

    client.force_login(clerk_a)  # a township clerk does not see supervision cases
    assert client.get(export_url(Case)).status_code == 403
    assert client.post(export_url(Case), {"format": XLSX, "resource": "0"}).status_code == 403
    changelist = client.get(reverse("admin:poverty_registry_person_changelist"))
    assert reverse("admin:poverty_registry_person_export") in changelist.content.decode()
    assert 'id="export-ledger"' in changelist.content.decode()  # the person list keeps its ledger export


def test_the_resource_restricts_any_queryset_it_is_given(clerk_a, regions):
    """Even handed every row (a caller that forgot the admin's scoping), the resource exports the region only."""
    from poverty_registry.models import Person
    from poverty_registry.resources import PersonResource

    inside, outside = SAMPLES["poverty_registry.person"](VILLAGE_A), SAMPLES["poverty_registry.person"](VILLAGE_B)
    dataset = PersonResource(user=clerk_a).export(queryset=Person.objects.all())
    names = dataset["姓名"]
    assert inside.name in names and len(names) == 1
    assert PersonResource(user=None).export(queryset=Person.objects.all()).height == 0
    assert outside.pk  # made, and not exported


@pytest.fixture
def queue_item(regions):
    from poverty_registry.models import MatchingItem, MatchingRun

    person = SAMPLES["poverty_registry.person"](VILLAGE_A)
    run = MatchingRun.objects.create(run_date="2026-01-05", inbox="/tmp", status="finished")
    return MatchingItem.objects.create(code="M01", key=f"M01:{person.id_number}", region_id=VILLAGE_A, person=person,
                                       id_number=person.id_number, name=FORMULA, summary="当年未参保",
                                       first_run=run)


def test_matching_queue_export_is_masked_neutralised_and_logged(client, clerk_a, insider_full, queue_item):
    for user, number in ((clerk_a, mask_id_number(queue_item.id_number)), (insider_full, queue_item.id_number)):
        client.force_login(user)
        response = client.get(reverse("matching:queue"), {"export": "xlsx"})
        rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
        assert rows[0] == ("差异", "状态", "所属区划", "姓名", "身份证号", "来源", "差异说明", "发现批次", "发现时间",
                           "处理说明")
        assert rows[1][:5] == ("M01 建档立卡人员当年未参保", "新发现", f"{queue_item.region.name}（{VILLAGE_A}）",
                               "'" + FORMULA, number)
        record = AccessRecord.objects.latest("id")
        assert (record.rows, record.full_ids) == (1, 1 if user is insider_full else 0)

