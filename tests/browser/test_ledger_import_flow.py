"""A township clerk uploads a ledger in the admin, sees the preview with its errors, confirms, downloads
the error file, fixes it, uploads it again and ends with the right persons in the list."""
from __future__ import annotations

import io

import openpyxl
import pytest

from poverty_registry.models import Person
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, VILLAGE_A
from tests.poverty_registry.ledger_builders import id_number, ledger_xlsx, row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_preview_confirm_fix_and_reupload(page, clerk_a, tmp_path, screenshots):
    broken = row("H002", "王二", 3, VILLAGE_A)
    broken[2] = broken[2][:-1] + ("0" if broken[2][-1] != "0" else "1")  # wrong check character
    path = tmp_path / "荣家湾镇台账.xlsx"
    path.write_bytes(ledger_xlsx([
        row("H001", "李一", 1, VILLAGE_A),
        row("H001", "李二", 2, VILLAGE_A, relation="配偶"),
        broken,
        row("H002", "王三", 4, VILLAGE_A, relation="子"),
    ]))
    log_in(page, "clerk_a", PASSWORD)
    page.goto("/admin/poverty_registry/person/")
    page.click("#import-ledger")
    page.set_input_files("#id_file", str(path))
    page.click("#upload-submit")
    page.wait_for_selector("#import-counts")
    counts = page.inner_text("#import-counts")
    assert "新增人员\t2" in counts and "拒绝行数\t2" in counts
    errors = page.inner_text("#import-errors")
    assert "第5行" in errors and "校验位错误" in errors and "整户未导入" in errors
    page.screenshot(path=str(screenshots / "ledger_preview.png"), full_page=True)
    assert not Person.objects.exists()  # nothing written before confirming

    page.click("#confirm-import")
    page.wait_for_selector(".messagelist .success")
    assert Person.objects.count() == 2

    with page.expect_download() as download_info:
        page.click("#download-errors")
    error_file = tmp_path / "errors.xlsx"
    download_info.value.save_as(error_file)
    book = openpyxl.load_workbook(error_file)
    sheet = book.worksheets[0]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert values[1][-1] == "错误说明" and len(values) == 4  # title, header, the two rejected rows
    sheet.cell(row=3, column=3).value = id_number(3)  # the clerk fixes the ID number
    fixed = tmp_path / "荣家湾镇台账_已改.xlsx"
    buffer = io.BytesIO()
    book.save(buffer)
    fixed.write_bytes(buffer.getvalue())

    page.goto("/imports/ledger/new/")
    page.set_input_files("#id_file", str(fixed))
    page.click("#upload-submit")
    page.wait_for_selector("#import-counts")
    assert "新增人员\t2" in page.inner_text("#import-counts")
    assert page.query_selector("#import-errors") is None
    page.click("#confirm-import")
    page.wait_for_selector(".messagelist .success")

    page.goto("/admin/poverty_registry/person/")
    listing = page.inner_text("#result_list")
    assert all(name in listing for name in ("李一", "李二", "王二", "王三"))
    assert sorted(Person.objects.values_list("name", flat=True)) == ["李一", "李二", "王三", "王二"]
