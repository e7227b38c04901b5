"""The small reference tables (hospitals, county incomes, supervision parameters) import through
django-import-export's admin pages: upload → preview (a dry run) → confirm. Rows outside the importer's region
are row errors in Chinese; only holders of add and change permission may import; the audit triggers record
every written row."""
from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from claims.models import Hospital, SupervisionParam
from claims.settlement.models import CountyIncome
from poverty_registry.models import AuditRecord
from poverty_registry.resources import OUTSIDE_REGION
from tests.conftest import COUNTY_A, TOWNSHIP_A, TOWNSHIP_B, make_staff

XLSX, CSV = "0", "1"  # the import form's format choices, in ReferenceImportMixin.import_formats order
COUNTY_B = TOWNSHIP_B[:6]


def csv_upload(header: list[str], *rows: list[str]) -> SimpleUploadedFile:
    lines = [",".join(header), *(",".join(r) for r in rows)]
    return SimpleUploadedFile("参考表.csv", ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"), "text/csv")


def xlsx_upload(header: list[str], *rows: list) -> SimpleUploadedFile:
    book = openpyxl.Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile("参考表.xlsx", buffer.getvalue())


def admin_url(model, view: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


def preview(client, model, upload, fmt):
    response = client.post(admin_url(model, "import"), {"import_file": upload, "format": fmt, "resource": "0"})
    assert response.status_code == 200
    return response


def confirm(client, model, response):
    data = response.context["confirm_form"].initial
    return client.post(admin_url(model, "process_import"), data)


def row_errors(response) -> str:
    result = response.context["result"]
    return " ".join(str(message) for row in result.invalid_rows for messages in row.error_dict.values()
                    for message in messages)


HOSPITAL_HEADER = ["医疗机构编码", "医疗机构名称", "医院等级", "所在区划"]


def test_hospitals_preview_then_confirm(client, county_a):
    client.force_login(county_a)
    assert client.get(admin_url(Hospital, "import")).status_code == 200
    upload = xlsx_upload(HOSPITAL_HEADER, ["H430621900", "荣家湾镇卫生院", "乡镇", TOWNSHIP_A],
                         ["H430621901", "岳阳县中医医院", "县级", COUNTY_A])
    response = preview(client, Hospital, upload, XLSX)
    assert response.context["result"].totals["new"] == 2 and "confirm_form" in response.context
    assert not Hospital.objects.filter(code__startswith="H4306219").exists()  # the preview wrote nothing

    done = confirm(client, Hospital, response)
    assert done.status_code == 302 and done.url == admin_url(Hospital, "changelist")
    made = Hospital.objects.get(code="H430621900")
    assert (made.name, made.level, made.region_id) == ("荣家湾镇卫生院", "township", TOWNSHIP_A)
    assert Hospital.objects.get(code="H430621901").level == "county"
    assert AuditRecord.objects.filter(table_name=Hospital._meta.db_table, object_pk=str(made.pk),
                                      action="INSERT", actor_username="county_a").exists()


def test_hospital_outside_the_region_is_a_row_error(client, county_a):
    client.force_login(county_a)
    upload = csv_upload(HOSPITAL_HEADER, ["H430626900", "汉昌镇卫生院", "乡镇", TOWNSHIP_B],
                        ["H430621902", "荣家湾卫生室", "乡镇", TOWNSHIP_A])
    response = preview(client, Hospital, upload, CSV)
    assert OUTSIDE_REGION in row_errors(response) and TOWNSHIP_B in row_errors(response)
    assert "confirm_form" not in response.context  # nothing to confirm while a row is refused
    assert not Hospital.objects.filter(code__in=["H430626900", "H430621902"]).exists()


def test_a_hospital_of_another_county_is_not_taken_over(client, county_a):
    other = Hospital.objects.create(code="H430626901", name="平江县人民医院", level="county", region_id=COUNTY_B)
    client.force_login(county_a)
    response = preview(client, Hospital, csv_upload(HOSPITAL_HEADER, ["H430626901", "改名", "县级", COUNTY_A]), CSV)
    assert "已存在" in row_errors(response) and "confirm_form" not in response.context
    other.refresh_from_db()
    assert (other.name, other.region_id) == ("平江县人民医院", COUNTY_B)


def test_unknown_level_is_a_row_error_in_chinese(client, county_a):
    client.force_login(county_a)
    response = preview(client, Hospital, csv_upload(HOSPITAL_HEADER, ["H430621903", "某院", "甲等", COUNTY_A]), CSV)
    assert "“甲等”不是有效的取值" in row_errors(response)


def test_county_incomes_import_inside_the_county_only(client, county_a):
    header = ["县（区）", "年度", "农村居民人均可支配收入（元）", "数据来源"]
    client.force_login(county_a)
    response = preview(client, CountyIncome, csv_upload(header, [COUNTY_A, "2025", "17250.50", "统计年鉴"]), CSV)
    assert "confirm_form" in response.context
    confirm(client, CountyIncome, response)
    assert CountyIncome.objects.get(region_id=COUNTY_A, year=2025).amount == Decimal("17250.50")

    response = preview(client, CountyIncome, csv_upload(header, [COUNTY_B, "2025", "16000", ""]), CSV)
    assert OUTSIDE_REGION in row_errors(response)
    assert not CountyIncome.objects.filter(region_id=COUNTY_B).exists()


def test_supervision_params_import_for_the_regions_administrator(client, regions):
    header = ["规则", "适用区划", "适用年度", "风险等级", "启用", "参数", "调整说明"]
    admin_a = make_staff("admin_a", COUNTY_A, "admin")
    client.force_login(admin_a)
    upload = csv_upload(header, ["R03", COUNTY_A, "", "高", "否", '"{""days"": 10}"', "县局调整"])
    response = preview(client, SupervisionParam, upload, CSV)
    assert "confirm_form" in response.context, row_errors(response)
    confirm(client, SupervisionParam, response)
    param = SupervisionParam.objects.get(code="R03", region_id=COUNTY_A, year=None)
    assert (param.params, param.severity, param.enabled, param.note) == ({"days": 10}, "high", False, "县局调整")

    response = preview(client, SupervisionParam, csv_upload(header, ["R03", COUNTY_B, "2025", "", "是", "", ""]),
                       CSV)
    assert OUTSIDE_REGION in row_errors(response)
    assert not SupervisionParam.objects.filter(region_id=COUNTY_B).exists()


@pytest.mark.parametrize("model", [Hospital, CountyIncome, SupervisionParam])
def test_import_needs_add_and_change_permission(model, client, clerk_a, county_a):
    client.force_login(clerk_a)  # a township clerk may read hospitals, not write any reference table
    assert client.get(admin_url(model, "import")).status_code == 403
    assert client.post(admin_url(model, "process_import"), {}).status_code == 403
    changelist = client.get(admin_url(model, "changelist"))
    assert admin_url(model, "import") not in changelist.content.decode()
    if model is SupervisionParam:  # county staff hold no permission on supervision parameters
        client.force_login(county_a)
        assert client.get(admin_url(model, "import")).status_code == 403


def test_upload_limits_apply_before_any_parse(client, county_a, settings):
    settings.IMPORT_MAX_FILE_MB = 0
    client.force_login(county_a)
    response = client.post(admin_url(Hospital, "import"), {
        "import_file": csv_upload(HOSPITAL_HEADER, ["H430621904", "某院", "县级", COUNTY_A]), "format": CSV,
        "resource": "0"})
    assert "上限" in str(response.context["form"].errors)
