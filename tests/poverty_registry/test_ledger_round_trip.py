"""Issue 15 finding 4: an exported ledger imports again. With full numbers for those who may see them; with
masked numbers for the others, each recognised by its masked number, 户编号 and 姓名 as the person it was
exported from; a masked number that names nobody is rejected with a message that says so."""
from __future__ import annotations

import io

import openpyxl
import pytest
from django.urls import reverse

from poverty_registry import importing
from poverty_registry.models import Person
from tests.conftest import VILLAGE_A, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(regions):
    head = make_person(VILLAGE_A, seq=1, name="荣甲", household_no="H0001")
    spouse = make_person(VILLAGE_A, seq=2, name="荣乙", birth="19820202", household_no="H0001", relation="配偶")
    return head, spouse


def exported(client, user) -> bytes:
    client.force_login(user)
    response = client.get(reverse("registry:ledger_export"))
    assert response.status_code == 200
    return response.content


def edited(content: bytes, change) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(content))
    change(book.worksheets[0])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def counts(run) -> dict:
    return {key: run.preview_counts[key] for key in ("rows_read", "rows_rejected", "persons_created",
                                                      "persons_updated", "persons_unchanged")}


def test_full_numbers_round_trip(client, household, administrator):
    content = exported(client, administrator)
    assert openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]["C2"].value == household[0].id_number
    run = importing.upload("ledger", content, "台账.xlsx", administrator)
    assert run.status == "previewed", run.message
    assert counts(run) == {"rows_read": 2, "rows_rejected": 0, "persons_created": 0, "persons_updated": 0,
                           "persons_unchanged": 2}


def test_masked_export_round_trip_for_a_clerk(client, household, clerk_a):
    head, spouse = household
    content = exported(client, clerk_a)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    assert "*" in sheet["C2"].value  # the clerk never sees a full number
    run = importing.upload("ledger", content, "台账.xlsx", clerk_a)
    assert run.status == "previewed", run.message
    assert counts(run) == {"rows_read": 2, "rows_rejected": 0, "persons_created": 0, "persons_updated": 0,
                           "persons_unchanged": 2}, run.errors

    def new_phone(sheet):
        for row in sheet.iter_rows(min_row=2):
            if row[1].value == "荣乙":
                row[9].value = "13800000000"

    client.force_login(clerk_a)
    run = importing.upload("ledger", edited(content, new_phone), "台账.xlsx", clerk_a)
    assert counts(run)["persons_updated"] == 1 and run.rows_rejected == 0, run.errors
    importing.confirm(run.pk, clerk_a, run.file_id)
    spouse = Person.objects.get(pk=spouse.pk)
    assert spouse.phone == "13800000000" and spouse.id_number == household[1].id_number


def test_a_masked_number_that_names_nobody_says_so(client, household, clerk_a):
    content = exported(client, clerk_a)

    def rename(sheet):
        sheet["B2"].value = "别人"

    run = importing.upload("ledger", edited(content, rename), "台账.xlsx", clerk_a)
    assert run.rows_rejected == 2  # the household goes whole
    message = next(e["message"] for e in run.errors if e["row"] == 2)
    assert "脱敏" in message and "户编号" in message and "姓名" in message


def test_a_masked_number_of_another_region_is_not_recognised(client, household, clerk_b):
    content = exported(client, household and _admin(client))
    run = importing.upload("ledger", _masked(content), "台账.xlsx", clerk_b)
    assert run.rows_rejected == 2
    assert any("脱敏" in e["message"] for e in run.errors if e["row"] == 2)


def _admin(client):
    from tests.conftest import make_staff

    return make_staff("round_trip_admin", "4306", "admin")


def _masked(content: bytes) -> bytes:
    def mask(sheet):
        for row in sheet.iter_rows(min_row=2):
            number = row[2].value
            row[2].value = number[:6] + "*" * 8 + number[-4:]

    return edited(content, mask)
