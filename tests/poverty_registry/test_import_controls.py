"""Control characters and over-long cells in uploads (issue 13, finding 3), through the upload page for every
kind: a row error with its row and column, never an HTTP 500, never a run left running; the other rows
import, and the error file downloads."""
from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest
from django.urls import reverse

from claims.importer import COLUMNS as CLAIM_COLUMNS
from poverty_registry import importing
from poverty_registry.models import ImportRun
from tests.claims.settlement_helpers import category, enrol, policies  # noqa: F401
from tests.conftest import VILLAGE_A, make_person
from tests.poverty_registry.ledger_builders import HEADER as LEDGER_HEADER
from tests.poverty_registry.ledger_builders import id_number, row

ENROLMENT_HEADER = ["身份证号", "姓名", "参保年度", "参保状态", "缴费日期", "参保地区划"]
CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f"]


@pytest.fixture
def patient(regions, policies):  # noqa: F811
    person = make_person(VILLAGE_A, seq=21, name="低保甲")
    category(person, "dibao")
    enrol(person, 2024)
    return person


def ledger_rows(bad_name: str) -> tuple[list[str], list[list]]:
    return LEDGER_HEADER, [row("H001", "李一", 1, VILLAGE_A), row("H002", bad_name, 2, VILLAGE_A)]


def enrolment_rows(bad_name: str) -> tuple[list[str], list[list]]:
    return ENROLMENT_HEADER, [[id_number(31), "周一", "2024", "正常参保", "2023-11-02", VILLAGE_A],
                              [id_number(32), bad_name, "2024", "正常参保", "2023-11-02", VILLAGE_A]]


def claim_rows(bad_name: str, patient) -> tuple[list[str], list[list]]:
    def claim(no, name):
        return [no, "H43062100001", "岳阳县人民医院", "县级", "是", "否", "住院", patient.id_number, name,
                "2024-03-01", "2024-03-10", "J18.900", "20000.00", "2000.00"]
    return list(CLAIM_COLUMNS.values()), [claim("ZY1", "低保甲"), claim("ZY2", bad_name)]


def as_csv(header: list[str], rows: list[list]) -> bytes:
    lines = [",".join(header)] + [",".join(f'"{cell}"' for cell in cells) for cells in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def as_xlsx(header: list[str], rows: list[list]) -> bytes:
    """An .xlsx with control characters as Excel stores them (_xHHHH_ escapes; XML itself cannot hold them):
    openpyxl refuses to write them, so markers are replaced in the zip's XML."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for cells in rows:
        sheet.append([_marked(cell) for cell in cells])
    buffer = io.BytesIO()
    book.save(buffer)
    source, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member.filename)
            for code in range(0x80):  # openpyxl writes non-ASCII text as character references
                content = content.replace(f"&#12308;{code:02X}&#12309;".encode(), f"_x{code:04X}_".encode())
            target.writestr(member, content)
    return out.getvalue()


def _marked(cell):
    if not isinstance(cell, str):
        return cell
    return "".join(f"〔{ord(c):02X}〕" if c in CONTROLS else c for c in cell)


def upload(client, user, kind: str, name: str, content: bytes):
    client.force_login(user)
    response = client.post(reverse("imports:new", args=[kind]),
                           {"file": _named(content, name)})
    return response, ImportRun.objects.latest("id")


def _named(content: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def cases(patient):
    return {"ledger": ledger_rows, "enrolment": enrolment_rows,
            "claims": lambda bad: claim_rows(bad, patient)}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", ["ledger", "enrolment", "claims"])
@pytest.mark.parametrize("control", CONTROLS)
def test_a_control_character_rejects_its_row_with_row_and_column(client, county_a, patient, kind, fmt, control):
    header, rows = cases(patient)[kind](f"王{control}二")
    content = as_csv(header, rows) if fmt == "csv" else as_xlsx(header, rows)
    response, run = upload(client, county_a, kind, f"文件.{fmt}", content)
    assert response.status_code == 302
    assert run.status == "previewed", run.message
    assert (run.rows_read, run.rows_rejected) == (2, 1)
    [error] = [e for e in run.errors if "控制字符" in e["message"]]
    assert (error["row"], error["column"]) == (3, "姓名")
    assert f"\\x{ord(control):02X}" in error["message"]
    assert client.get(reverse("imports:errors", args=[run.pk])).status_code == 200
    response = client.post(reverse("imports:confirm", args=[run.pk]), {"sha256": run.file_id})
    run.refresh_from_db()
    assert run.status == "imported", run.message


@pytest.mark.parametrize("kind", ["ledger", "enrolment", "claims"])
def test_a_cell_over_the_length_limit_is_a_row_error_naming_the_limit(client, county_a, patient, kind):
    header, rows = cases(patient)[kind]("王" * 1001)
    response, run = upload(client, county_a, kind, "文件.csv", as_csv(header, rows))
    assert run.status == "previewed" and run.rows_rejected == 1
    assert {"row": 3, "column": "姓名", "message": "内容有 1,001 个字符，超过每格 1,000 个字符的上限"} in run.errors


def test_trailing_tabs_and_carriage_returns_are_removed_and_the_preview_says_so(client, county_a, patient):
    header, rows = ledger_rows("王二\t\r")
    response, run = upload(client, county_a, "ledger", "台账.csv", as_csv(header, rows))
    assert (run.status, run.rows_rejected, run.errors) == ("previewed", 0, [])
    page = client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert "单元格首尾的空格、制表符和回车已自动去除" in page


@pytest.mark.parametrize("step", ["preview", "commit"])
def test_an_unexpected_failure_ends_the_run_failed_with_a_message(client, county_a, patient, monkeypatch, step):
    header, rows = ledger_rows("王二")
    kind = importing.KINDS["ledger"]
    real_run = kind.run

    def broken(data, filename, user, *, dry_run, progress):
        if dry_run == (step == "preview"):
            raise RuntimeError("模拟的意外错误")
        return real_run(data, filename, user, dry_run=dry_run, progress=progress)

    monkeypatch.setattr(kind, "run", broken)
    response, run = upload(client, county_a, "ledger", "台账.csv", as_csv(header, rows))
    assert response.status_code == 302
    if step == "commit":
        assert run.status == "previewed"
        response = client.post(reverse("imports:confirm", args=[run.pk]), {"sha256": run.file_id})
        assert response.status_code == 302
        run.refresh_from_db()
    assert run.status == "failed"
    assert run.message.startswith("导入时发生意外错误") and f"导入编号 {run.pk}" in run.message
