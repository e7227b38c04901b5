"""The ledger import service against the database: counts, upsert, categories, scope, audit, preview/confirm."""
from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from poverty_registry import importing
from poverty_registry.models import AuditRecord, Household, Person, PersonCategory
from tests.conftest import VILLAGE_A, VILLAGE_B, child_environment, make_person
from tests.poverty_registry.ledger_builders import id_number, ledger_xlsx, row

VILLAGE_A2 = "430621100202"


def run_command(path, user="clerk_a", dry_run=False):
    from io import StringIO

    out = StringIO()
    call_command("import_ledger", str(path), user=user, dry_run=dry_run, json=True, stdout=out)
    return json.loads(out.getvalue())


def two_households(tmp_path, *, name0="李一", categories0="脱贫人口") -> Path:
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_xlsx([
        row("H001", name0, 1, VILLAGE_A, categories=categories0),
        row("H001", "李二", 2, VILLAGE_A, relation="配偶", categories="脱贫人口、重度残疾人"),
        row("H002", "王一", 3, VILLAGE_A2, categories="低保对象", status="监测"),
    ]))
    return path


def test_command_prints_the_keys_of_4_6_in_order_and_a_line_without_json(tmp_path, clerk_a):
    from io import StringIO

    path = two_households(tmp_path)
    assert list(run_command(path, dry_run=True)) == [
        "rows_read", "households_imported", "persons_created", "persons_updated", "persons_unchanged",
        "rows_rejected", "errors"]
    out = StringIO()
    call_command("import_ledger", str(path), user="clerk_a", dry_run=True, stdout=out)
    assert out.getvalue().strip() == "读取 3 行；导入 2 户，新增 3 人，修改 0 人，未变 0 人；拒绝 0 行（预览，未写入）"
    with pytest.raises(CommandError, match="the following arguments are required: --user"):
        call_command("import_ledger", str(path))


def test_first_import_creates_and_reimport_changes_nothing(tmp_path, clerk_a):
    path = two_households(tmp_path)
    first = run_command(path)
    assert first == {"rows_read": 3, "households_imported": 2, "persons_created": 3, "persons_updated": 0,
                     "persons_unchanged": 0, "rows_rejected": 0, "errors": []}
    head = Person.objects.get(id_number=id_number(1))
    assert head.is_head and head.household.household_no == "H001" and head.region_id == VILLAGE_A
    assert head.poverty_status == "lifted"
    assert sorted(Person.objects.get(id_number=id_number(2)).categories_on(timezone.localdate())) == [
        "severe_disability", "tuopin"]
    audit_before = AuditRecord.objects.count()
    again = run_command(path)
    assert (again["persons_created"], again["persons_updated"], again["persons_unchanged"]) == (0, 0, 3)
    assert AuditRecord.objects.count() == audit_before  # unchanged rows change nothing


def test_reimport_moves_a_household_back_even_when_no_person_changes(tmp_path, clerk_a):
    """A file that changes nothing writes nothing; a household whose village differs from its head's row is
    a change, though every person is unchanged."""
    from poverty_registry.models import Household

    path = two_households(tmp_path)
    run_command(path)
    Household.objects.filter(household_no="H001").update(region_id=VILLAGE_A2)
    again = run_command(path)
    assert (again["persons_created"], again["persons_updated"], again["persons_unchanged"]) == (0, 0, 3)
    assert Household.objects.get(household_no="H001").region_id == VILLAGE_A


def test_changed_row_is_updated_and_audited(tmp_path, clerk_a):
    run_command(two_households(tmp_path))
    result = run_command(two_households(tmp_path, name0="李壹"))
    assert (result["persons_created"], result["persons_updated"], result["persons_unchanged"]) == (0, 1, 2)
    person = Person.objects.get(id_number=id_number(1))
    assert person.name == "李壹"
    record = AuditRecord.objects.filter(table_name="poverty_registry_person", object_pk=str(person.pk),
                                        action="UPDATE").get()
    assert record.actor_username == "clerk_a" and record.source == "import_ledger"
    assert record.before["name"] == "李一" and record.after["name"] == "李壹"


def test_categories_start_today_and_end_yesterday(tmp_path, clerk_a):
    today = timezone.localdate()
    run_command(two_households(tmp_path))
    person = Person.objects.get(id_number=id_number(1))
    PersonCategory.objects.filter(person=person).update(valid_from=today - dt.timedelta(days=30))
    result = run_command(two_households(tmp_path, categories0="低保对象"))
    assert result["persons_updated"] == 1
    spans = {(c.category, c.valid_from, c.valid_to) for c in person.categories.all()}
    assert spans == {("tuopin", today - dt.timedelta(days=30), today - dt.timedelta(days=1)),
                     ("dibao", today, None)}
    assert person.categories_on(today) == ["dibao"]


def test_manual_category_is_not_ended_by_the_ledger(tmp_path, clerk_a):
    run_command(two_households(tmp_path))
    person = Person.objects.get(id_number=id_number(1))
    PersonCategory.objects.create(person=person, category="tekun", valid_from=dt.date(2020, 1, 1), source="manual")
    result = run_command(two_households(tmp_path))
    assert result["persons_unchanged"] == 3
    assert sorted(person.categories_on(timezone.localdate())) == ["tekun", "tuopin"]


def test_a_person_counts_as_changed_only_when_the_listed_categories_differ_from_those_held(tmp_path, clerk_a):
    """The count's set comparison against the writes (CATEGORY_SQL): a category held by hand and also listed
    starts nothing; a ledger category started today and no longer listed is removed; a category ending in
    the future is still held."""
    today = timezone.localdate()
    run_command(two_households(tmp_path))
    person = Person.objects.get(id_number=id_number(1))
    PersonCategory.objects.create(person=person, category="tekun", valid_from=dt.date(2020, 1, 1),
                                  valid_to=today + dt.timedelta(days=10), source="manual")
    assert run_command(two_households(tmp_path, categories0="特困供养人员、脱贫人口"), dry_run=True)[
        "persons_updated"] == 0
    dropped = run_command(two_households(tmp_path, categories0="特困供养人员"))
    assert (dropped["persons_updated"], dropped["persons_unchanged"]) == (1, 2)
    assert not person.categories.filter(category="tuopin").exists()  # it had only started today
    assert run_command(two_households(tmp_path, categories0="特困供养人员"))["persons_updated"] == 0
    listed_again = run_command(two_households(tmp_path))
    assert listed_again["persons_updated"] == 1
    assert sorted(person.categories_on(today)) == ["tekun", "tuopin"]


def test_dry_run_writes_nothing(tmp_path, clerk_a):
    result = run_command(two_households(tmp_path), dry_run=True)
    assert result["persons_created"] == 3
    assert not Person.objects.exists() and not Household.objects.exists()


def test_other_townships_village_and_person_are_errors(tmp_path, clerk_a, regions):
    elsewhere = make_person(VILLAGE_B, seq=9, name="汉昌人")
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_xlsx([
        row("H001", "李一", 1, VILLAGE_A),
        row("H003", "外村人", 4, VILLAGE_B),
        [ "H004", "迁入人", elsewhere.id_number, "", "", "户主", "脱贫人口", VILLAGE_A, "", ""],
        row("H004", "迁入人配偶", 5, VILLAGE_A, relation="配偶"),
    ]))
    result = run_command(path)
    assert (result["rows_read"], result["persons_created"], result["rows_rejected"]) == (4, 1, 3)
    by_row = {(e["row"], e["column"]): e["message"] for e in result["errors"]}
    assert by_row[(4, "所在村（社区）代码")] == f"村代码 {VILLAGE_B} 不是本辖区内的村（社区）"
    assert by_row[(5, "身份证号")].startswith("该人员已在湖南省岳阳市平江县汉昌镇")
    assert by_row[(6, "户编号")] == "同户（户编号 H004）其他行有错误，整户未导入"
    elsewhere.refresh_from_db()
    assert elsewhere.region_id == VILLAGE_B and elsewhere.name == "汉昌人"


def test_county_officer_may_move_a_person_within_the_county(tmp_path, county_a, regions):
    moved = make_person(VILLAGE_A, seq=9, name="迁移人")
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_xlsx([[moved.household.household_no, "迁移人", moved.id_number, "", "", "户主", "",
                                   VILLAGE_A2, "", ""]]))
    result = run_command(path, user="county_a")
    assert result["persons_updated"] == 1 and result["errors"] == []
    moved.refresh_from_db()
    assert moved.region_id == VILLAGE_A2


def test_preview_then_confirm_applies_exactly_what_was_previewed(tmp_path, clerk_a):
    data = two_households(tmp_path).read_bytes()
    run = importing.upload("ledger", data, "台账.xlsx", clerk_a)
    assert run.status == "previewed" and run.preview_counts["persons_created"] == 3
    assert not Person.objects.exists()
    run = importing.confirm(run.pk, clerk_a, run.file_id)
    assert run.status == "imported" and run.result_counts == run.preview_counts
    assert Person.objects.count() == 3


def test_confirm_refused_when_ledger_changed_after_preview(tmp_path, clerk_a):
    data = two_households(tmp_path).read_bytes()
    run = importing.upload("ledger", data, "台账.xlsx", clerk_a)
    run_command(two_households(tmp_path))  # someone imported in between
    run = importing.confirm(run.pk, clerk_a, run.file_id)
    assert run.status == "stale" and run.message == "台账已被他人修改，请重新预览"
    assert Person.objects.count() == 3


def test_confirm_refused_for_another_file(tmp_path, clerk_a):
    run = importing.upload("ledger", two_households(tmp_path).read_bytes(), "台账.xlsx", clerk_a)
    with pytest.raises(importing.StalePreview, match="文件与预览时不一致"):
        importing.confirm(run.pk, clerk_a, "f" * 64)


@pytest.mark.django_db(transaction=True)
def test_killed_import_leaves_ledger_unchanged(tmp_path, clerk_a):
    """A process killed in the middle of its one transaction writes nothing."""
    rows = [row(f"K{i:05d}", f"批量{i}", i % 1000, VILLAGE_A, birth=f"19{50 + i // 1000 % 50:02d}0101")
            for i in range(1, 40001)]
    path = tmp_path / "大台账.xlsx"
    path.write_bytes(ledger_xlsx(rows, title=None))
    before = (Person.objects.count(), Household.objects.count(), AuditRecord.objects.count())
    process = subprocess.Popen([sys.executable, "manage.py", "import_ledger", str(path), "--user", "clerk_a"],
                               cwd=Path(__file__).resolve().parents[2], env=child_environment(),
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _writing(connection.settings_dict["NAME"]):
        time.sleep(0.05)
    assert process.poll() is None, f"the import ended before it could be killed: {process.communicate()[1][-2000:]}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.5)
    assert (Person.objects.count(), Household.objects.count(), AuditRecord.objects.count()) == before


def _writing(database: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                       "AND (query ILIKE '%%INSERT INTO poverty_registry_%%' OR query ILIKE '%%COPY ledger_stage%%')",
                       [database])
        return cursor.fetchone()[0] > 0


def test_large_file_previews_and_imports_on_a_celery_worker(client, clerk_a, celery_worker_process, tmp_path):
    from django.urls import reverse

    rows = [row(f"L{i:05d}", f"大批{i}", i % 1000, VILLAGE_A, birth=f"19{40 + i // 1000 % 60:02d}0202")
            for i in range(1, importing.LARGE_IMPORT_ROWS + 2)]
    upload = tmp_path / "大台账.xlsx"
    upload.write_bytes(ledger_xlsx(rows, title=None))
    client.force_login(clerk_a)
    with upload.open("rb") as handle:
        response = client.post(reverse("imports:new", args=["ledger"]), {"file": handle})
    run = importing.ImportRun.objects.latest("id")
    assert response.status_code == 302 and run.background
    assert _wait_for(run, "previewed")["percent"] == 100
    assert run.preview_counts["persons_created"] == importing.LARGE_IMPORT_ROWS + 1
    response = client.post(reverse("imports:confirm", args=[run.pk]), {"sha256": run.file_id})
    _wait_for(run, "imported")
    assert Person.objects.count() == importing.LARGE_IMPORT_ROWS + 1


def _wait_for(run, status: str, seconds: float = 120) -> dict:
    from django.test import Client
    from django.urls import reverse

    observer = Client()
    observer.force_login(run.user)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = observer.get(reverse("imports:status", args=[run.pk])).json()
        if state["status"] == status:
            run.refresh_from_db()
            return state
        assert state["status"] not in {"failed", "stale"}, state
        time.sleep(0.5)
    raise AssertionError(f"import {run.pk} did not reach {status}: {state}")


def test_a_payload_formatted_once_copies_as_psycopg_copies_the_rows(db):
    """The ledger's staging rows are formatted once (preview and confirm send the same bytes): text with a tab,
    a line break, a backslash or a literal \\N, None, booleans, dates and numbers arrive as psycopg's own COPY
    writes them."""
    rows = [(1, "甲\t乙", "line\nbreak\rcr", "back\\slash", None, True, dt.date(1990, 2, 28)),
            (2, "\\N", "", "plain", "x", False, dt.date(2000, 1, 1)),
            (3, "张三", None, None, None, False, dt.date(1985, 12, 31))]
    columns = ("n", "a", "b", "c", "d", "flag", "day")
    with connection.cursor() as cursor:
        for table in ("by_payload", "by_rows"):
            cursor.execute(f"CREATE TEMP TABLE {table} (n integer, a text, b text, c text, d text, flag boolean, "
                           "day date)")
        importing.copy_rows("by_payload", columns, importing.copy_payload(rows))
        importing.copy_rows("by_rows", columns, rows)
        cursor.execute("SELECT * FROM by_payload ORDER BY n")
        by_payload = cursor.fetchall()
        cursor.execute("SELECT * FROM by_rows ORDER BY n")
        assert by_payload == cursor.fetchall() == rows
    assert importing.copy_payload([]) == b""
