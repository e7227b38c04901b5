"""Audit anchors: the chains' heads signed outside the database, so a DBA's consistent rewrite of the trail is
caught (poverty_registry.audit.anchor, manage.py anchor_audit and verify_audit, the printable anchors page)."""
from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from poverty_registry.audit.anchor import (
    AnchorFileDamaged,
    AnchorKeyMissing,
    chain_heads,
    key_id,
    signature,
    verify_anchors,
    write_anchor,
)
from poverty_registry.audit.trail import RECOMPUTED_JOURNAL_SQL, RECOMPUTED_RECORDS_SQL, verify_chain, verify_journal
from poverty_registry.models import AuditJournal, AuditRecord
from tests.conftest import VILLAGE_A, make_person


@pytest.fixture
def anchor_file(settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors" / "anchors.jsonl"
    return settings.AUDIT_ANCHOR_FILE


def lines_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def rewrite_lines(path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")


def rewrite_record_as_a_dba(record_id: int, name: str) -> None:
    """What someone with database rights can do: the append-only trigger off, one record's content changed, and
    every later row hash and chain hash recomputed exactly as the trigger computes them."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE claims_auditrecord SET after = jsonb_set(after::jsonb, '{name}', to_jsonb(%s::text))"
                       "::json WHERE id = %s", [name, record_id])
        cursor.execute(f"UPDATE claims_auditrecord a SET row_hash = x.rh, chain_hash = x.chain"
                       f" FROM ({RECOMPUTED_RECORDS_SQL}) x WHERE a.id = x.id AND a.id >= %s", [record_id])
        cursor.execute("SET session_replication_role = origin")


def test_a_consistent_rewrite_passes_the_chain_but_fails_the_first_anchor_after_it(anchor_file, person_a):
    first = write_anchor()
    person_b = make_person(VILLAGE_A, seq=2, name="被改写者")
    second = write_anchor()
    make_person(VILLAGE_A, seq=3, name="其后一人")
    third = write_anchor()
    assert (first["n"], second["n"], third["n"]) == (1, 2, 3)
    call_command("verify_audit")

    victim = AuditRecord.objects.get(table_name="poverty_registry_person", object_pk=str(person_b.pk))
    assert first["record_id"] < victim.pk <= second["record_id"]
    rewrite_record_as_a_dba(victim.pk, "冒名顶替")
    assert AuditRecord.objects.get(pk=victim.pk).after["name"] == "冒名顶替"

    assert verify_chain()[1] is None  # the chain alone cannot tell: it was rewritten consistently
    report = verify_anchors()
    assert report.checked == 3 and report.first_broken.fields["n"] == 2
    assert f"审计记录 #{second['record_id']} 的链哈希与锚定时不同" in report.first_broken.problem
    with pytest.raises(CommandError, match=f"第 2 号锚点.*记录 #{second['record_id']}.*不再相符"):
        call_command("verify_audit")


def test_anchor_is_written_only_when_a_head_moved(anchor_file, person_a):
    line = write_anchor()
    heads = chain_heads()
    assert (line["record_id"], line["record_hash"]) == (heads["record_id"], heads["record_hash"])
    assert line["record_hash"] == bytes(AuditRecord.objects.latest("id").chain_hash).hex()
    assert line["prev"] == "" and line["journal_id"] is None

    assert write_anchor() is None
    call_command("anchor_audit")
    assert len(lines_of(anchor_file)) == 1

    make_person(VILLAGE_A, seq=5, name="新增一人")
    call_command("anchor_audit")
    first, second = lines_of(anchor_file)
    assert second["n"] == 2 and second["prev"] == first["hmac"] and second["record_id"] > first["record_id"]
    assert verify_anchors().first_broken is None


def test_a_deleted_anchor_line_is_detected(anchor_file, person_a):
    for seq in range(2, 5):
        write_anchor()
        make_person(VILLAGE_A, seq=seq, name=f"删行{seq}")
    write_anchor()
    lines = lines_of(anchor_file)
    assert len(lines) == 4 and verify_anchors().first_broken is None
    rewrite_lines(anchor_file, lines[:1] + lines[2:])  # the second anchor removed
    broken = verify_anchors().first_broken
    assert broken.fields["n"] == 3 and "不相连" in broken.problem
    with pytest.raises(CommandError, match="第 3 号锚点"):
        call_command("verify_audit")


def test_a_forged_line_is_detected(anchor_file, person_a):
    write_anchor()
    make_person(VILLAGE_A, seq=2, name="伪造")
    write_anchor()
    genuine = lines_of(anchor_file)

    # re-signed with a key of the forger's own, under the genuine key's id
    forged = {**genuine[1], "record_id": genuine[0]["record_id"], "record_hash": genuine[0]["record_hash"]}
    forged["hmac"] = signature(forged, b"a-key-that-is-not-the-anchor-key")
    rewrite_lines(anchor_file, [genuine[0], forged])
    broken = verify_anchors().first_broken
    assert broken.fields["n"] == 2 and "签名不符" in broken.problem

    # a line of a key nobody configured
    stranger = {**genuine[1], "kid": key_id(b"stranger")}
    stranger["hmac"] = signature(stranger, b"stranger")
    rewrite_lines(anchor_file, [genuine[0], stranger])
    assert "密钥" in verify_anchors().first_broken.problem
    with pytest.raises(CommandError, match="第 2 号锚点"):
        call_command("verify_audit")


def test_anchors_carry_the_journal_head_and_catch_its_rewrite(anchor_file, regions):
    from poverty_registry.audit.trail import spread_journal
    from tests.test_audit import _bulk_phone_change

    people = [make_person(VILLAGE_A, seq=i, name=f"批量{i}") for i in range(1, 4)]
    records_anchor = write_anchor()
    _bulk_phone_change(people, "0730-7777777", direct_rows=0)
    first_entry = AuditJournal.objects.get()
    journal_anchor = write_anchor()  # the journal moved, the records did not
    assert journal_anchor["record_id"] == records_anchor["record_id"]
    assert journal_anchor["journal_id"] == first_entry.pk
    assert journal_anchor["journal_hash"] == bytes(first_entry.chain_hash).hex()
    _bulk_phone_change(people, "0730-8888888", direct_rows=0)
    write_anchor()
    assert verify_anchors().first_broken is None

    with connection.cursor() as cursor:  # the first entry rewritten, its own and every later hash recomputed
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE claims_auditjournal SET changes = replace(changes::text, '7777777', '7777770')::json"
                       " WHERE id = %s", [first_entry.pk])
        cursor.execute(f"UPDATE claims_auditjournal j SET content_hash = x.ch, chain_hash = x.chain"
                       f" FROM ({RECOMPUTED_JOURNAL_SQL}) x WHERE j.id = x.id AND j.id >= %s", [first_entry.pk])
        cursor.execute("SET session_replication_role = origin")
    assert verify_journal() == (2, None)  # not yet spread: the journal's own chain holds
    broken = verify_anchors().first_broken
    assert broken.fields["n"] == journal_anchor["n"] and f"审计批量日志 #{first_entry.pk}" in broken.problem

    spread_journal()  # spreading moves the records' head: the next anchor carries it
    assert write_anchor()["record_id"] == AuditRecord.objects.latest("id").pk


def test_production_without_a_key_refuses_to_anchor_and_deploy_check_warns(anchor_file, settings, person_a):
    from poverty_registry.audit.checks import audit_anchor_check

    settings.AUDIT_ANCHOR_KEY, settings.DEBUG = "", False
    with pytest.raises(AnchorKeyMissing, match="AUDIT_ANCHOR_KEY"):
        write_anchor()
    with pytest.raises(CommandError, match="未设置 AUDIT_ANCHOR_KEY"):
        call_command("anchor_audit")
    assert not anchor_file.exists()
    assert "poverty_registry.W001" in {w.id for w in audit_anchor_check(None)}

    settings.DEBUG = True  # a development machine: a key derived from SECRET_KEY
    assert write_anchor()["n"] == 1 and verify_anchors().first_broken is None

    settings.AUDIT_ANCHOR_KEY = "k" * 64
    settings.AUDIT_ANCHOR_FILE = settings.VAR_DIR / "audit-anchors" / "anchors.jsonl"
    assert {w.id for w in audit_anchor_check(None)} == {"poverty_registry.W003"}  # still inside the app's own directory


def test_a_rotated_key_still_verifies_the_lines_it_signed(anchor_file, settings, person_a):
    write_anchor()
    settings.AUDIT_ANCHOR_RETIRED_KEYS = [settings.AUDIT_ANCHOR_KEY]
    settings.AUDIT_ANCHOR_KEY = "a-new-anchor-key-0123456789abcdef0123456789"
    make_person(VILLAGE_A, seq=2, name="换钥")
    write_anchor()
    assert len({line["kid"] for line in lines_of(anchor_file)}) == 2
    assert verify_anchors().first_broken is None
    settings.AUDIT_ANCHOR_RETIRED_KEYS = []
    assert verify_anchors().first_broken.fields["n"] == 1


def test_a_damaged_last_line_stops_anchoring(anchor_file, person_a):
    write_anchor()
    with anchor_file.open("a", encoding="utf-8") as file:
        file.write('{"n": 2, "record_id"\n')
    make_person(VILLAGE_A, seq=2, name="断行")
    with pytest.raises(AnchorFileDamaged):
        write_anchor()
    with pytest.raises(CommandError, match="无法解析"):
        call_command("anchor_audit")


def test_beat_anchors_every_hour_through_the_task(anchor_file, settings, person_a):
    from config.celery import app
    from poverty_registry.audit.tasks import anchor_audit_chain

    entry = settings.CELERY_BEAT_SCHEDULE["audit-anchor"]
    assert entry["task"] == "audit.anchor" and entry["task"] in app.tasks
    assert len(entry["schedule"].hour) == 24 and len(entry["schedule"].minute) == 1
    assert anchor_audit_chain() == 1 and anchor_audit_chain() is None


def test_verify_audit_without_an_anchor_file_checks_the_chains_and_says_so(anchor_file, person_a, capsys):
    call_command("verify_audit")
    assert "未找到审计锚点文件" in capsys.readouterr().err


def test_audit_page_lists_the_days_anchors_to_print_and_sign(client, anchor_file, supervisor, clerk_a, person_a):
    line = write_anchor()
    url = reverse("admin:poverty_registry_auditrecord_anchors")
    client.force_login(supervisor)
    assert 'id="audit-anchors"' in client.get(reverse("admin:poverty_registry_auditrecord_changelist")).content.decode()
    page = client.get(url).content.decode()
    assert 'id="anchors"' in page and "核对人" in page and "日期：" in page
    for shown in (str(line["record_id"]), line["record_hash"][:16], line["hmac"][:16], "有效"):
        assert shown in page
    assert line["hmac"][:17] not in page  # prefixes only

    page = client.get(url, {"date": "2001-01-01"}).content.decode()
    assert 'id="no-anchors"' in page and line["hmac"][:16] not in page

    client.force_login(clerk_a)  # a township clerk reads its own region's records, not the whole chain's head
    assert client.get(url).status_code == 403
    changelist = reverse("admin:poverty_registry_auditrecord_changelist")
    assert 'id="audit-anchors"' not in client.get(changelist).content.decode()
