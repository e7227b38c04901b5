"""The audit trail: who, when, from where, before/after; bulk writes; append-only; the hash chain."""
from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from poverty_registry.audit.trail import audit_context, verify_chain
from poverty_registry.models import AuditRecord, Person, PersonCategory
from tests.conftest import VILLAGE_A


def records_for(obj):
    return AuditRecord.objects.filter(table_name=obj._meta.db_table, object_pk=str(obj.pk)).order_by("id")


def test_admin_change_records_actor_ip_before_after(client, clerk_a, person_a):
    client.force_login(clerk_a)
    url = reverse("admin:poverty_registry_person_change", args=[person_a.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({"name": "荣家湾甲改", "phone": "13800000000", "categories-TOTAL_FORMS": "0",
                 "categories-INITIAL_FORMS": "0", "categories-MIN_NUM_FORMS": "0", "categories-MAX_NUM_FORMS": "1000"})
    response = client.post(url, data, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302, response.content.decode()[:2000]
    update = records_for(person_a).filter(action="UPDATE").get()
    assert update.actor_username == "clerk_a" and update.actor_id == clerk_a.pk
    assert update.ip == "10.1.2.3" and update.source == "web"
    assert update.region_code == VILLAGE_A
    changed = {name: (old, new) for name, old, new in update.changed_fields()}
    assert changed["name"] == ("荣家湾甲", "荣家湾甲改")
    assert changed["phone"] == ("", "13800000000")


def test_bulk_update_is_recorded_per_row_in_one_statement(regions):
    from tests.conftest import make_person

    people = [make_person(VILLAGE_A, seq=i, name=f"批量{i}") for i in range(1, 6)]
    before = AuditRecord.objects.count()
    with audit_context(source="test-bulk"):
        Person.objects.filter(pk__in=[p.pk for p in people]).update(phone="0730-1234567")
    rows = AuditRecord.objects.filter(id__gt=0).order_by("-id")[:5]
    assert AuditRecord.objects.count() == before + 5
    assert {r.source for r in rows} == {"test-bulk"}
    assert all(r.after["phone"] == "0730-1234567" for r in rows)


def test_unchanged_update_records_nothing(person_a):
    before = AuditRecord.objects.count()
    Person.objects.filter(pk=person_a.pk).update(name=person_a.name)
    assert AuditRecord.objects.count() == before


def test_category_change_is_scoped_to_the_persons_village(person_a):
    import datetime as dt

    category = PersonCategory.objects.create(person=person_a, category="dibao", valid_from=dt.date(2020, 1, 1))
    record = records_for(category).get()
    assert record.region_code == VILLAGE_A and record.action == "INSERT"


def test_passwords_never_enter_the_trail(clerk_a):
    assert all("password" not in (r.after or {}) for r in records_for(clerk_a))


def test_trail_is_append_only(person_a):
    record = records_for(person_a).first()
    with pytest.raises(DatabaseError, match="只能追加"), transaction.atomic():
        AuditRecord.objects.filter(pk=record.pk).update(actor_username="someone")
    with pytest.raises(DatabaseError, match="只能追加"), transaction.atomic():
        AuditRecord.objects.filter(pk=record.pk).delete()


def test_admin_cannot_edit_or_delete_records(client, administrator, person_a):
    client.force_login(administrator)
    record = records_for(person_a).first()
    change = reverse("admin:poverty_registry_auditrecord_change", args=[record.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"actor_username": "x"}).status_code == 403
    delete = reverse("admin:poverty_registry_auditrecord_delete", args=[record.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403


def test_verify_audit_names_the_first_tampered_record(person_a, person_b):
    checked, broken = verify_chain()
    assert checked > 0 and broken is None
    call_command("verify_audit")
    victim = records_for(person_b).first()
    with connection.cursor() as cursor:
        # What a DBA bypassing the application could do: the chain must show it.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE claims_auditrecord SET after = jsonb_set(after::jsonb, '{name}', '\"篡改\"')::json"
                       " WHERE id = %s", [victim.pk])
        cursor.execute("SET session_replication_role = origin")
    assert verify_chain()[1] == victim.pk
    with pytest.raises(CommandError, match=f"第 {victim.pk} 号记录"):
        call_command("verify_audit")


def test_deleted_record_breaks_the_chain(person_a, person_b):
    first = records_for(person_a).first()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM claims_auditrecord WHERE id = %s", [first.pk])
        cursor.execute("SET session_replication_role = origin")
    broken = verify_chain()[1]
    assert broken is not None and broken > first.pk


def test_audit_page_lists_records_of_one_object(client, clerk_a, person_a):
    client.force_login(clerk_a)
    response = client.get(reverse("admin:poverty_registry_person_change", args=[person_a.pk]))
    audit_link = response.context["audit_url"]
    listed = client.get(audit_link)
    assert listed.status_code == 200
    assert [r.object_pk for r in listed.context["cl"].result_list] == [str(person_a.pk)]


def test_login_is_recorded_under_the_account_and_its_address(client, clerk_a):
    from tests.conftest import PASSWORD

    response = client.post(reverse("admin:login"), {"username": "clerk_a", "password": PASSWORD},
                           REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 302
    login = records_for(clerk_a).filter(action="UPDATE").latest("id")
    assert [name for name, _, _ in login.changed_fields()] == ["last_login"]
    assert (login.actor_username, login.actor_id, login.ip, login.source) == ("clerk_a", clerk_a.pk, "10.9.8.7",
                                                                              "login")
    with connection.cursor() as cursor:  # the connection outlives the request: nothing of it may stay behind
        cursor.execute("SELECT current_setting('audit.context', true)")
        assert cursor.fetchone()[0] in ("", None)


def test_audit_pages_name_tables_columns_values_and_sources_in_words(client, administrator, clerk_a):
    from poverty_registry.audit.display import shown_value, source_label
    from poverty_registry.services import save_staff
    from tests.test_no_code_words import visible_text

    save_staff("clerk_a", region_code=clerk_a.region_id, role="county")  # the role: a row of the groups table
    record = AuditRecord.objects.filter(table_name="poverty_registry_user_groups").latest("id")
    client.force_login(administrator)
    listed = " ".join(visible_text(client.get(reverse("admin:poverty_registry_auditrecord_changelist"),
                                              {"table_name": "poverty_registry_user_groups"}).content.decode()))
    assert "账号的角色" in listed and "角色、编号、账号" in listed and "poverty_registry_user_groups" not in listed
    page = client.get(reverse("admin:poverty_registry_auditrecord_change", args=[record.pk])).content.decode()
    assert f"{record.get_action_display()} 账号的角色 #{record.object_pk}" in page
    assert (shown_value("claims_settlement", "category", "dibao"), shown_value("claims_settlement", "category", ""),
            shown_value("poverty_registry_user", "is_active", True), shown_value("claims_claim", "total_cost", 0.0),
            shown_value("claims_claim", "total_cost", 12345.5)) == ("低保对象", "非贫困人口", "是", "0.00", "12,345.50")
    assert [source_label(s) for s in ("seed_demo", "web", "login", "matching:3", "resettle:4", "import_ledger")] == [
        "演示数据", "网页操作", "登录", "比对 #3", "重新结算 #4", "台账导入命令"]


# ---- Large statements: the journal, spread into records after the commit --------------------------------------

RECORD_FIELDS = ("table_name", "object_pk", "action", "before", "after", "actor_id", "actor_username", "ip",
                 "source", "region_code")


def _bulk_phone_change(people, phone: str, direct_rows: int):
    """One UPDATE statement over `people`, recorded directly or through the journal (audit.direct_rows)."""
    with audit_context(source="test-journal"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL audit.direct_rows = %s", [str(direct_rows)])
        Person.objects.filter(pk__in=[p.pk for p in people]).update(phone=phone)
        # a test's atomic() is a savepoint: SET LOCAL would outlive it to the end of the test's transaction
        cursor.execute("SET LOCAL audit.direct_rows TO DEFAULT")


def _records_after(last_id):
    return [{f: getattr(r, f) for f in RECORD_FIELDS}
            for r in AuditRecord.objects.filter(id__gt=last_id).order_by("id")]


def test_journal_spreads_into_the_records_a_direct_write_makes(regions):
    from poverty_registry.audit.trail import journal_pending, spread_journal, verify_journal
    from poverty_registry.models import AuditJournal
    from tests.conftest import make_person

    people = [make_person(VILLAGE_A, seq=i, name=f"日志{i}") for i in range(1, 8)]
    mark = AuditRecord.objects.latest("id").id
    _bulk_phone_change(people, "0730-1111111", direct_rows=100)  # 7 rows: recorded directly
    direct = _records_after(mark)
    assert len(direct) == 7 and not AuditJournal.objects.exists()

    mark = AuditRecord.objects.latest("id").id
    _bulk_phone_change(people, "0730-2222222", direct_rows=5)  # 7 > 5: journal
    assert AuditRecord.objects.filter(id__gt=mark).count() == 0
    entry = AuditJournal.objects.get()
    assert (entry.rows, entry.action, entry.table_name, entry.source) == (7, "UPDATE", "poverty_registry_person",
                                                                          "test-journal")
    assert journal_pending() == (1, 7)

    assert spread_journal() == 7
    assert journal_pending() == (0, 0) and spread_journal() == 0  # idempotent
    spread = _records_after(mark)
    # the same records, field for field, as the direct write made for the change before
    for record in direct:
        record["before"]["phone"], record["after"]["phone"] = "0730-1111111", "0730-2222222"
    assert spread == direct
    assert {r.journal_id for r in AuditRecord.objects.filter(id__gt=mark)} == {entry.id}
    assert {r.at for r in AuditRecord.objects.filter(id__gt=mark)} == {entry.at}
    assert verify_chain()[1] is None and verify_journal() == (1, None)


def test_journal_entries_hold_at_most_50000_changes_each_and_chain(regions):
    from poverty_registry.audit.trail import JOURNAL_ENTRY_ROWS
    from poverty_registry.models import AuditJournal
    from tests.conftest import make_person

    people = [make_person(VILLAGE_A, seq=i, name=f"分段{i}") for i in range(1, 6)]
    with transaction.atomic(), connection.cursor() as cursor:
        # the entry size is a constant of the trigger: 5 rows make one entry, as 50,000 would
        cursor.execute("SET LOCAL audit.direct_rows = 0")
        Person.objects.filter(pk__in=[p.pk for p in people]).update(phone="1")
        Person.objects.filter(pk__in=[p.pk for p in people]).update(phone="2")
        cursor.execute("SET LOCAL audit.direct_rows TO DEFAULT")
    first, second = AuditJournal.objects.order_by("id")
    assert JOURNAL_ENTRY_ROWS == 50_000 and (first.rows, second.rows) == (5, 5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT e.k, e.before ->> 'phone', e.after ->> 'phone' FROM claims_auditjournal j, "
                       "audit_journal_changes(j.changes) e WHERE j.id = %s ORDER BY e.i", [first.id])
        assert sorted(cursor.fetchall()) == sorted((str(p.pk), "", "1") for p in people)
    assert bytes(first.chain_hash) != bytes(second.chain_hash)


def test_journal_rows_are_kept_as_text_of_the_audited_columns_and_read_back_as_records_json(regions):
    """An entry keeps each row as text of a composite type of the audited columns (a third of the JSON's cost
    inside the bulk write); reading it back gives the very JSON a direct record holds. Entries written before
    (the records' JSON) read back as they are."""
    from poverty_registry.models import AuditJournal, AuditRecord
    from tests.conftest import make_person

    person = make_person(VILLAGE_A, seq=7, name="行文本")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL audit.direct_rows = 0")
        Person.objects.filter(pk=person.pk).update(name='带"引号",逗号 与\\反斜杠', phone="0730-1")
        cursor.execute("SET LOCAL audit.direct_rows TO DEFAULT")
    entry = AuditJournal.objects.get()
    assert entry.changes["type"].startswith("audit_row_") and entry.changes["k"] == [str(person.pk)]
    assert entry.changes["a"][0].startswith(f"({person.pk},")
    Person.objects.filter(pk=person.pk).update(phone="0730-2")  # a direct record of the same row, for comparison
    direct = AuditRecord.objects.filter(table_name="poverty_registry_person", action="UPDATE").latest("id")
    with connection.cursor() as cursor:
        cursor.execute("SELECT e.k, e.region, e.after::text FROM audit_journal_changes(%s::json) e",
                       [json.dumps(entry.changes)])
        k, region, after = cursor.fetchone()
        cursor.execute("SELECT before::text FROM claims_auditrecord WHERE id = %s", [direct.id])
        assert (k, region, after) == (str(person.pk), VILLAGE_A, cursor.fetchone()[0])
        cursor.execute("""SELECT i, k, region, before::text, after::text
                            FROM audit_journal_changes('[["5", "4306", null, {"a" : 1}]]'::json)""")
        assert cursor.fetchall() == [(1, "5", "4306", None, '{"a" : 1}')]


def test_tampered_journal_or_spread_record_is_named(regions):
    from poverty_registry.audit.trail import spread_journal, verify_journal
    from poverty_registry.models import AuditJournal
    from tests.conftest import make_person

    people = [make_person(VILLAGE_A, seq=i, name=f"篡改{i}") for i in range(1, 4)]
    _bulk_phone_change(people, "0730-3333333", direct_rows=0)
    _bulk_phone_change(people, "0730-4444444", direct_rows=0)
    first, second = AuditJournal.objects.order_by("id")
    spread_journal()
    assert verify_journal() == (2, None)
    call_command("verify_audit")

    with pytest.raises(DatabaseError, match="只能追加"), transaction.atomic():
        AuditJournal.objects.filter(pk=first.pk).update(source="x")

    victim = AuditRecord.objects.filter(journal_id=second.pk).order_by("id")[1]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        # a spread record altered and re-hashed so that its own chain still holds: the journal shows it
        cursor.execute("UPDATE claims_auditrecord SET ip = '6.6.6.6' WHERE id = %s", [victim.pk])
        cursor.execute("SET session_replication_role = origin")
    assert verify_journal()[1] == second.pk
    with pytest.raises(CommandError, match=f"第 {second.pk} 号日志"):
        call_command("verify_audit")
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE claims_auditrecord SET ip = '' WHERE id = %s", [victim.pk])
        cursor.execute("UPDATE claims_auditjournal SET changes = replace(changes::text, '3333333', '3333334')::json"
                       " WHERE id = %s", [first.pk])
        cursor.execute("SET session_replication_role = origin")
    assert verify_journal()[1] == first.pk


def test_audit_page_says_when_bulk_changes_are_still_being_spread(client, administrator, regions):
    from poverty_registry.audit.trail import spread_journal
    from tests.conftest import make_person

    people = [make_person(VILLAGE_A, seq=i, name=f"待展开{i}") for i in range(1, 4)]
    _bulk_phone_change(people, "0730-5555555", direct_rows=0)
    client.force_login(administrator)
    page = client.get(reverse("admin:poverty_registry_auditrecord_changelist")).content.decode()
    assert "另有 3 条批量变更已记入审计批量日志" in page
    spread_journal()
    page = client.get(reverse("admin:poverty_registry_auditrecord_changelist")).content.decode()
    assert "批量变更" not in page
    assert "0730-5555555" in client.get(
        reverse("admin:poverty_registry_auditrecord_change", args=[AuditRecord.objects.latest("id").pk])
    ).content.decode()


def test_a_committed_bulk_write_is_spread_by_the_celery_worker(celery_worker_process, regions):
    import time

    from poverty_registry.audit.trail import verify_journal
    from poverty_registry.importing import tune_bulk_transaction
    from poverty_registry.models import AuditJournal
    from tests.conftest import make_person

    people = [make_person(VILLAGE_A, seq=i, name=f"异步{i}") for i in range(1, 5)]
    with connection.cursor() as cursor:
        cursor.execute("SET audit.direct_rows = 0")
    try:
        with audit_context(source="test-worker"), transaction.atomic():
            tune_bulk_transaction()  # what every bulk write does: queues the spread for after its commit
            Person.objects.filter(pk__in=[p.pk for p in people]).update(phone="0730-6666666")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET audit.direct_rows")
    entry = AuditJournal.objects.get(source="test-worker")
    deadline = time.monotonic() + 30
    while not AuditRecord.objects.filter(journal_id=entry.pk).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    spread = AuditRecord.objects.filter(journal_id=entry.pk).order_by("id")
    assert sorted(r.object_pk for r in spread) == sorted(str(p.pk) for p in people)
    assert all(r.after["phone"] == "0730-6666666" and r.source == "test-worker" for r in spread)
    assert verify_journal()[1] is None and verify_chain()[1] is None


def test_a_bulk_write_stays_when_its_spreading_cannot_be_queued(regions, monkeypatch, caplog,
                                                                 django_capture_on_commit_callbacks):
    """The broker away at commit: the write and its journal stay, a warning says beat's run will spread it."""
    from kombu.exceptions import OperationalError

    from poverty_registry.audit import tasks
    from poverty_registry.importing import tune_bulk_transaction
    from poverty_registry.models import AuditJournal
    from tests.conftest import make_person

    def broker_away(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.spread_audit_journal, "apply_async", broker_away)
    people = [make_person(VILLAGE_A, seq=i, name=f"断连{i}") for i in range(1, 4)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        tune_bulk_transaction()
        _bulk_phone_change(people, "0730-5555555", direct_rows=0)
    assert len(callbacks) == 1
    assert "将由定时任务补做" in caplog.text
    assert set(Person.objects.filter(pk__in=[p.pk for p in people]).values_list("phone", flat=True)) == {
        "0730-5555555"}
    assert AuditJournal.objects.get().rows == 3
