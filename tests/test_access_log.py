"""The access log: each page showing full ID numbers, each settlement sheet or claim opened and each export or
download of personal data leaves exactly one append-only record (who, where from, what, how many rows, how
many full numbers); a masked view leaves none; supervisors alone read it; the daily flags over the limit."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from poverty_registry import importing
from poverty_registry.access_log import flag_day
from poverty_registry.idnumber import mask_id_number
from poverty_registry.models import AccessFlag, AccessRecord
from tests.claims.settlement_samples import settlement_sample
from tests.claims.supervision_helpers import claim, hospital
from tests.conftest import COUNTY_A, VILLAGE_A, VILLAGE_B, make_person, make_staff
from tests.poverty_registry.ledger_builders import ledger_xlsx, row

pytestmark = pytest.mark.django_db


def only_record(**expected) -> AccessRecord:
    """The one record written since the test started, with the expected fields."""
    records = list(AccessRecord.objects.all())
    assert len(records) == 1, [(r.kind, r.object_key, r.file_name) for r in records]
    record = records[0]
    assert {k: getattr(record, k) for k in expected} == expected
    return record


# ---- pages with full ID numbers ------------------------------------------------------------------------------

def test_person_page_with_full_number_is_recorded_once(client, supervisor, person_a):
    client.force_login(supervisor)
    response = client.get(reverse("admin:poverty_registry_person_change", args=[person_a.pk]),
                          REMOTE_ADDR="10.2.3.4")
    assert person_a.id_number in response.content.decode()
    record = only_record(kind="full_id_page", object_key=f"poverty_registry.person:{person_a.pk}", rows=1,
                         full_ids=1, username="supervisor", user_id=supervisor.pk, region_code=supervisor.region_id)
    assert record.ip == "10.2.3.4" and record.path.startswith("/admin/poverty_registry/person/")


def test_masked_person_page_and_list_record_nothing(client, clerk_a, person_a):
    client.force_login(clerk_a)  # a township clerk sees masked numbers only
    page = client.get(reverse("admin:poverty_registry_person_change", args=[person_a.pk])).content.decode()
    listing = client.get(reverse("admin:poverty_registry_person_changelist")).content.decode()
    assert person_a.id_number not in page + listing
    assert not AccessRecord.objects.exists()


def test_person_list_with_full_numbers_is_one_record_for_the_page(client, supervisor, person_a, person_b):
    client.force_login(supervisor)
    client.get(reverse("admin:poverty_registry_person_changelist"), {"poverty_status": ""})
    only_record(kind="full_id_list", object_key="poverty_registry.person", rows=2, full_ids=2)


def test_search_by_full_number_is_recorded_with_the_number_masked(client, clerk_a, person_a):
    client.force_login(clerk_a)
    client.get(reverse("admin:poverty_registry_person_changelist"), {"q": person_a.id_number})
    record = only_record(kind="id_search", object_key=f"poverty_registry.person:{person_a.pk}", rows=1, full_ids=0)
    assert person_a.id_number not in record.filters and mask_id_number(person_a.id_number) in record.filters


def test_household_page_counts_its_members_numbers(client, supervisor, person_a):
    make_person(VILLAGE_A, seq=2, name="配偶", household_no=person_a.household.household_no, relation="配偶")
    client.force_login(supervisor)
    client.get(reverse("admin:poverty_registry_household_change", args=[person_a.household_id]))
    only_record(kind="full_id_page", object_key=f"poverty_registry.household:{person_a.household_id}", full_ids=2)
    client.get(reverse("admin:poverty_registry_household_changelist"))
    assert AccessRecord.objects.count() == 1  # the list of households shows no number


# ---- settlement sheet, claims ----------------------------------------------------------------------------------

def test_settlement_sheet_opened_is_recorded(client, county_a):
    settlement = settlement_sample(VILLAGE_A)
    client.force_login(county_a)
    assert client.get(reverse("claims:sheet", args=[settlement.claim_id])).status_code == 200
    only_record(kind="settlement_sheet", object_key=f"claims.claim:{settlement.claim_id}", rows=1, full_ids=0)


def test_claim_opened_in_admin_and_in_supervision_is_recorded(client, county_a, supervisor):
    settlement = settlement_sample(VILLAGE_A)
    client.force_login(county_a)
    assert client.get(reverse("admin:claims_claim_change", args=[settlement.claim_id])).status_code == 200
    only_record(kind="claim", object_key=f"claims.claim:{settlement.claim_id}", full_ids=0)
    client.force_login(supervisor)
    assert client.get(reverse("supervision:claim", args=[settlement.claim_id])).status_code == 200
    record = AccessRecord.objects.latest("id")
    assert (record.kind, record.username, record.full_ids, record.path) == (
        "claim", "supervisor", 1, reverse("supervision:claim", args=[settlement.claim_id]))


# ---- exports and downloads ------------------------------------------------------------------------------------

def test_ledger_export_records_file_filters_and_rows(client, supervisor, person_a, person_b):
    make_person(VILLAGE_A, seq=2, name="荣家湾乙")
    client.force_login(supervisor)
    response = client.get(reverse("registry:ledger_export"), {"region": VILLAGE_A})
    assert response.status_code == 200
    record = only_record(kind="export", rows=2, full_ids=2)
    assert record.file_name.startswith("建档立卡台账_") and record.filters == f"region={VILLAGE_A}"


def test_ledger_export_masked_counts_rows_but_no_full_numbers(client, clerk_a, person_a):
    client.force_login(clerk_a)
    client.get(reverse("registry:ledger_export"))
    only_record(kind="export", rows=1, full_ids=0)


def test_import_error_workbook_download_is_recorded(client, clerk_a, county_a, supervisor, regions):
    data = ledger_xlsx([row("H001", "李一", 1, VILLAGE_A), row("H003", "外村人", 4, VILLAGE_B)])
    run = importing.upload("ledger", data, "台账.xlsx", clerk_a)
    assert run.rows_rejected == 1
    client.force_login(clerk_a)
    assert client.get(reverse("imports:errors", args=[run.pk])).status_code == 200
    only_record(kind="download", object_key=f"poverty_registry.importrun:{run.pk}", file_name="台账_错误说明.xlsx",
                rows=1, full_ids=0)  # the uploader's own rows
    before = AccessRecord.objects.count()
    client.force_login(county_a)  # may not see full numbers: the file is refused, the page says why
    assert client.get(reverse("imports:errors", args=[run.pk])).status_code == 403
    assert "仅上传人可以下载" in client.get(reverse("imports:detail", args=[run.pk])).content.decode()
    assert AccessRecord.objects.count() == before
    client.force_login(supervisor)
    assert client.get(reverse("imports:errors", args=[run.pk])).status_code == 200
    assert AccessRecord.objects.latest("id").full_ids == 1  # another account takes the rows away


@pytest.fixture
def hits_world(regions, settings, tmp_path):
    """A county supervisor, a duplicate claim (R06) and a case about it with an evidence file."""
    from claims.models import ScreeningHit
    from claims.supervision import cases as service
    from claims.supervision.screening import screen_year

    settings.MEDIA_ROOT = tmp_path
    sup = make_staff("jg_a", COUNTY_A, "supervisor")
    person = make_person(VILLAGE_A, seq=601, name="参保601")
    h = hospital("HP601", region=COUNTY_A)
    claim("D601-1", "2025-05-01", "2025-05-04", person=person, hosp=h, total="4000.00")
    claim("D601-2", "2025-05-01", "2025-05-04", person=person, hosp=h, total="4000.00")
    screen_year(2025, ["R06"])
    case = service.open_case_from_hits(sup, list(ScreeningHit.objects.values_list("pk", flat=True)))
    attachment = service.add_attachment(case, sup, SimpleUploadedFile("证据.pdf", b"%PDF-1.4 evidence"))
    return {"sup": sup, "case": case, "attachment": attachment, "hits": ScreeningHit.objects.count()}


def test_hit_list_and_export_are_recorded(client, hits_world):
    client.force_login(hits_world["sup"])
    client.get(reverse("supervision:hits"), {"year": 2025})
    only_record(kind="full_id_list", object_key="claims.screeninghit", rows=hits_world["hits"],
                full_ids=hits_world["hits"])
    client.get(reverse("supervision:hits_export"), {"year": 2025, "rule": "R06"})
    record = AccessRecord.objects.latest("id")
    assert (record.kind, record.file_name, record.rows, record.full_ids) == (
        "export", "hits_2025.xlsx", hits_world["hits"], hits_world["hits"])
    assert "rule=R06" in record.filters and "year=2025" in record.filters


def test_case_page_and_evidence_download_are_recorded(client, hits_world):
    case, attachment = hits_world["case"], hits_world["attachment"]
    client.force_login(hits_world["sup"])
    client.get(reverse("supervision:case", args=[case.pk]))
    only_record(kind="full_id_page", object_key=f"claims.case:{case.pk}", full_ids=hits_world["hits"])
    response = client.get(reverse("supervision:case_attachment", args=[case.pk, attachment.pk]))
    assert b"".join(response.streaming_content) == b"%PDF-1.4 evidence"
    record = AccessRecord.objects.latest("id")
    assert (record.kind, record.object_key, record.file_name) == (
        "download", f"claims.caseattachment:{attachment.pk}", "证据.pdf")


def test_publication_export_is_masked_and_recorded_without_full_numbers(client, hits_world):
    client.force_login(hits_world["sup"])
    client.get(reverse("supervision:publication"))
    only_record(kind="export", full_ids=0)


def test_risk_and_statistics_downloads_are_recorded(client, county_a):
    settlement_sample(VILLAGE_A)
    client.force_login(county_a)
    client.get(reverse("claims:statistics"), {"year": 2024, "format": "xlsx"})
    record = only_record(kind="export", full_ids=0)
    assert record.file_name == "一站式结算统计_2024.xlsx" and record.rows > 0
    client.get(reverse("claims:risk"), {"year": 2024, "format": "xlsx"})
    record = AccessRecord.objects.latest("id")
    assert (record.kind, record.file_name, record.full_ids) == ("export", "因病返贫致贫风险预警_2024.xlsx", 0)


# ---- the log itself ---------------------------------------------------------------------------------------------

def test_records_cannot_be_changed_or_deleted(client, supervisor, person_a):
    client.force_login(supervisor)
    client.get(reverse("admin:poverty_registry_person_change", args=[person_a.pk]))
    for statement in (lambda: AccessRecord.objects.update(full_ids=0), lambda: AccessRecord.objects.all().delete()):
        with pytest.raises(DatabaseError, match="只能追加"), transaction.atomic():
            statement()
    assert AccessRecord.objects.get().full_ids == 1


def test_only_supervisors_and_superusers_read_the_log(client, supervisor, administrator, city_officer, regions):
    other = make_staff("jg_pingjiang", "430626", "supervisor")
    mine = AccessRecord.objects.create(username="clerk", region_code=VILLAGE_A, kind="export", rows=3)
    theirs = AccessRecord.objects.create(username="clerk2", region_code=VILLAGE_B, kind="export", rows=3)
    url = reverse("admin:poverty_registry_accessrecord_changelist")
    for user in (administrator, city_officer):
        client.force_login(user)
        assert client.get(url).status_code == 403
    client.force_login(supervisor)
    listed = client.get(url, {"kind": "export"}).context["cl"].result_list
    assert {r.pk for r in listed} == {mine.pk, theirs.pk}
    client.force_login(other)  # a county's supervisor: the county's accounts only
    assert [r.pk for r in client.get(url).context["cl"].result_list] == [theirs.pk]
    assert client.get(reverse("admin:poverty_registry_accessrecord_change", args=[mine.pk])).status_code == 404
    assert client.post(reverse("admin:poverty_registry_accessrecord_delete", args=[theirs.pk])).status_code == 403


def test_daily_flags_over_the_limit(regions, settings):
    settings.ACCESS_FULL_ID_DAILY_LIMIT = 100
    day = dt.date(2026, 3, 2)
    at = timezone.make_aware(dt.datetime(2026, 3, 2, 10, 0))
    for username, shown in (("heavy", 60), ("heavy", 50), ("light", 100)):
        AccessRecord.objects.create(at=at, username=username, user_id=1, region_code=VILLAGE_A,
                                    kind="full_id_list", rows=shown, full_ids=shown)
    AccessRecord.objects.create(at=at + dt.timedelta(days=1), username="light", region_code=VILLAGE_A,
                                kind="export", rows=500, full_ids=500)  # the next day
    flags = flag_day(day)
    assert [(f.username, f.full_ids, f.views, f.limit) for f in flags] == [("heavy", 110, 2, 100)]
    out = io.StringIO()
    call_command("flag_access", "--date", "2026-03-02", "--limit", "200", stdout=out)
    assert not AccessFlag.objects.filter(day=day).exists()  # recomputed with a higher limit: none left
    assert "超过阈值 200 的账号：0 个" in out.getvalue()


def test_supervisor_sees_flags_of_the_region(client, supervisor, regions):
    AccessFlag.objects.create(day=dt.date(2026, 3, 2), username="heavy", region_code=VILLAGE_A, full_ids=300,
                              views=4, limit=200)
    client.force_login(supervisor)
    response = client.get(reverse("admin:poverty_registry_accessflag_changelist"))
    assert response.status_code == 200 and "heavy" in response.content.decode()
