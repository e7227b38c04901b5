"""Ledger files for the import tests: xlsx built with openpyxl, valid ID numbers by construction."""
from __future__ import annotations

import io

import openpyxl

from poverty_registry.idnumber import check_char

HEADER = ["户编号", "姓名", "身份证号", "性别", "出生日期", "与户主关系", "人员类别", "所在村（社区）代码", "脱贫状态",
          "联系电话"]


def id_number(seq: int, birth: str = "19800101", region: str = "430621") -> str:
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_char(first17)


def row(household: str, name: str, seq: int, village: str, relation: str = "户主", categories: str = "脱贫人口",
        status: str = "已脱贫", phone: str = "", birth: str = "19800101") -> list:
    return [household, name, id_number(seq, birth, village[:6]), "", "", relation, categories, village, status, phone]


def ledger_xlsx(rows: list[list], header: list[str] = HEADER, title: str | None = "岳阳县建档立卡台账") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.append(header)
    for cells in rows:
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
