"""The audit trail: who, when, from where, before/after; bulk writes; append-only; the hash chain."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from claims.audit import audit_context, verify_chain
from claims.models import AuditRecord
from poverty_registry.models import Person, PersonCategory
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
    change = reverse("admin:claims_auditrecord_change", args=[record.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"actor_username": "x"}).status_code == 403
    assert client.post(reverse("admin:claims_auditrecord_delete", args=[record.pk]), {"post": "yes"}).status_code == 403


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
