"""Supervision cases (DOMAIN §7.2): the state machine, four eyes, penalties, recoveries, publication, audit."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from claims.models import Case, CaseEvent, ScreeningHit, SupervisionParam
from claims.supervision import cases as service
from claims.supervision.cases import CaseError
from claims.supervision.screening import screen_year
from poverty_registry.models import AuditRecord
from tests.claims.supervision_helpers import claim, hospital
from tests.conftest import COUNTY_A, VILLAGE_A, make_person, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(regions):
    return {name: make_staff(name, COUNTY_A, "supervisor") for name in ("jg_a", "jg_b", "jg_c")}


@pytest.fixture
def hit(regions):
    person = make_person(VILLAGE_A, seq=501, name="王五")
    claim("H-1", "2025-03-01", "2025-03-05", person=person, total="10000.00")
    claim("H-2", "2025-03-01", "2025-03-05", person=person, total="10000.00")  # a duplicate: R06
    screen_year(2025, ["R06"])
    return ScreeningHit.objects.get(rule="R06")


def confirmed_case(staff, hit, amount="10000.00", multiple="2"):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    service.start_investigation(case, staff["jg_a"])
    service.record_findings(case, staff["jg_a"], amount_to_recover=Decimal(amount),
                            penalty_multiple=Decimal(multiple) if multiple else None, target_kind="hospital",
                            target_hospital=hit.claim.hospital, finding="重复结算")
    return service.confirm(case, staff["jg_b"])


def test_open_from_hit_takes_region_target_and_title(staff, hit):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    assert (case.state, case.source, case.region_id) == ("open", "hit", VILLAGE_A)
    assert case.target_kind == "hospital" and case.target_hospital == hit.claim.hospital
    assert case.title == "重复结算单（1张结算单）"
    assert list(case.hits.all()) == [hit]
    assert case.number == f"JG{case.opened_at:%Y}{case.pk:06d}"


def test_full_path_to_closed_with_payments_until_zero(staff, hit):
    case = confirmed_case(staff, hit)
    assert (case.state, case.reviewer, case.investigator) == ("confirmed", staff["jg_b"], staff["jg_a"])
    assert (case.amount_to_recover, case.penalty_amount, case.amount_due) == (
        Decimal("10000.00"), Decimal("20000.00"), Decimal("30000.00"))
    service.start_recovery(case, staff["jg_a"])
    service.add_recovery(case, staff["jg_a"], amount=Decimal("12000.00"), paid_on=dt.date(2025, 6, 1))
    with pytest.raises(CaseError, match="尚有 ¥18,000.00 未追回"):
        service.close(case, staff["jg_a"])
    with pytest.raises(CaseError, match="超过未追回余额 ¥18,000.00"):
        service.add_recovery(case, staff["jg_a"], amount=Decimal("18000.01"), paid_on=dt.date(2025, 6, 2))
    service.add_recovery(case, staff["jg_c"], amount=Decimal("18000.00"), paid_on=dt.date(2025, 6, 2))
    assert case.balance == Decimal("0.00") and case.recovered_amount == Decimal("30000.00")
    service.close(case, staff["jg_a"])
    assert case.state == "closed" and case.closed_at is not None
    assert [e.action for e in CaseEvent.objects.filter(case=case)] == [
        "立案", "开始调查", "审核认定", "开始追缴", "录入追回款", "录入追回款", "结案"]


def test_supervisor_cannot_confirm_own_case(staff, hit):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    service.start_investigation(case, staff["jg_a"])
    service.record_findings(case, staff["jg_a"], amount_to_recover=Decimal("100"), penalty_multiple=None,
                            target_kind="hospital", target_hospital=hit.claim.hospital)
    with pytest.raises(CaseError, match="不能审核认定自己立案或调查的案件"):
        service.confirm(case, staff["jg_a"])
    case.refresh_from_db()
    assert case.state == "investigating"


def test_the_one_who_opened_cannot_confirm_what_another_investigated(staff, hit):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    service.start_investigation(case, staff["jg_b"])
    service.record_findings(case, staff["jg_b"], amount_to_recover=Decimal("100"), penalty_multiple=None,
                            target_kind="person", target_name="王五")
    with pytest.raises(CaseError, match="不能审核认定自己"):
        service.confirm(case, staff["jg_a"])
    with pytest.raises(CaseError, match="不能审核认定自己"):
        service.confirm(case, staff["jg_b"])
    assert service.confirm(case, staff["jg_c"]).state == "confirmed"


def test_confirming_needs_a_supervisor_and_findings(staff, hit, regions):
    admin_user = make_staff("admin_c", COUNTY_A, "admin")
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    service.start_investigation(case, staff["jg_a"])
    with pytest.raises(CaseError, match="认定前须由调查人录入应追回金额"):
        service.confirm(case, staff["jg_b"])
    service.record_findings(case, staff["jg_a"], amount_to_recover=Decimal("1"), penalty_multiple=None,
                            target_kind="hospital", target_hospital=hit.claim.hospital)
    with pytest.raises(CaseError, match="只有基金监管人员可以审核认定"):
        service.confirm(case, admin_user)


@pytest.mark.parametrize(("action", "state", "message"), [
    ("confirm", "open", "案件当前状态为“已立案”，不能审核认定"),
    ("recover", "open", "案件当前状态为“已立案”，不能开始追缴"),
    ("close", "investigating", "案件当前状态为“调查中”，不能结案"),
    ("investigate", "confirmed", "案件当前状态为“已认定”，不能开始调查"),
    ("dismiss", "confirmed", "案件当前状态为“已认定”，不能排除疑点"),
    ("close", "confirmed", "案件当前状态为“已认定”，不能结案"),
    ("investigate", "closed", "案件当前状态为“已结案”，不能开始调查"),
])
def test_invalid_transitions_are_refused_in_chinese(staff, hit, action, state, message):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    Case.objects.filter(pk=case.pk).update(state=state)
    case.refresh_from_db()
    calls = {"confirm": lambda: service.confirm(case, staff["jg_b"]),
             "recover": lambda: service.start_recovery(case, staff["jg_b"]),
             "close": lambda: service.close(case, staff["jg_b"]),
             "investigate": lambda: service.start_investigation(case, staff["jg_b"]),
             "dismiss": lambda: service.dismiss(case, staff["jg_b"], "理由")}
    with pytest.raises(CaseError) as error:
        calls[action]()
    assert str(error.value) == message
    case.refresh_from_db()
    assert case.state == state


def test_compare_and_set_refuses_a_stale_state(staff, hit):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    stale = Case.objects.get(pk=case.pk)
    service.start_investigation(case, staff["jg_a"])
    with pytest.raises(CaseError, match="案件状态已被他人改为“调查中”"):
        service.start_investigation(stale, staff["jg_b"])
    assert Case.objects.get(pk=case.pk).investigator == staff["jg_a"]


def test_dismissal_needs_a_reason_then_closes(staff, hit):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    service.start_investigation(case, staff["jg_a"])
    with pytest.raises(CaseError, match="排除疑点须填写理由"):
        service.dismiss(case, staff["jg_b"], "  ")
    service.dismiss(case, staff["jg_b"], "经核实为医院重复上传，已作废")
    assert (case.state, case.dismissal_reason) == ("dismissed", "经核实为医院重复上传，已作废")
    assert service.close(case, staff["jg_b"]).state == "closed"


def test_penalty_multiple_within_parameter_range(staff, hit):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    service.start_investigation(case, staff["jg_a"])
    kwargs = {"amount_to_recover": Decimal("1234.57"), "target_kind": "hospital",
              "target_hospital": hit.claim.hospital}
    with pytest.raises(CaseError, match="处罚倍数须在 2 至 5 倍之间"):
        service.record_findings(case, staff["jg_a"], penalty_multiple=Decimal("1.5"), **kwargs)
    with pytest.raises(CaseError, match="处罚倍数须在 2 至 5 倍之间"):
        service.record_findings(case, staff["jg_a"], penalty_multiple=Decimal("5.01"), **kwargs)
    service.record_findings(case, staff["jg_a"], penalty_multiple=Decimal("2.5"), **kwargs)
    assert case.penalty_amount == Decimal("3086.43")  # 1234.57 × 2.5 = 3086.425 → half-up
    SupervisionParam.objects.create(code="PENALTY", region_id=COUNTY_A, params={"max_multiple": "3"})
    with pytest.raises(CaseError, match="处罚倍数须在 2 至 3 倍之间"):
        service.record_findings(case, staff["jg_a"], penalty_multiple=Decimal("4"), **kwargs)


def test_recoveries_only_while_recovering(staff, hit):
    case = confirmed_case(staff, hit)
    with pytest.raises(CaseError, match="只有追缴中的案件可以录入追回款"):
        service.add_recovery(case, staff["jg_a"], amount=Decimal("1"), paid_on=dt.date(2025, 6, 1))
    service.start_recovery(case, staff["jg_a"])
    with pytest.raises(CaseError, match="到账金额须大于0"):
        service.add_recovery(case, staff["jg_a"], amount=Decimal("0"), paid_on=dt.date(2025, 6, 1))


def test_manual_case_sources_and_region(staff, regions):
    case = service.open_case_by_hand(staff["jg_a"], source="flight_inspection", title="飞行检查：某卫生院",
                                     region_code="430621100")
    assert (case.source, case.state, case.region_id) == ("flight_inspection", "open", "430621100")
    with pytest.raises(CaseError, match="案件所属区划须在您的辖区内"):
        service.open_case_by_hand(staff["jg_a"], source="tip_off", title="举报", region_code="430626100")
    with pytest.raises(CaseError, match="手工立案的来源须为举报、飞行检查或信访"):
        service.open_case_by_hand(staff["jg_a"], source="hit", title="x", region_code="430621100")


def test_township_clerk_cannot_handle_cases(staff, hit, clerk_a):
    with pytest.raises(CaseError, match="没有办理基金监管案件的权限"):
        service.open_case_from_hits(clerk_a, [hit.pk])


def test_every_transition_is_in_the_audit_trail(staff, hit):
    from poverty_registry.audit.trail import audit_context

    with audit_context(user=staff["jg_a"], source="web"):
        case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
        service.start_investigation(case, staff["jg_a"])
        service.record_findings(case, staff["jg_a"], amount_to_recover=Decimal("5"), penalty_multiple=None,
                                target_kind="hospital", target_hospital=hit.claim.hospital)
    with audit_context(user=staff["jg_b"], source="web"):
        service.confirm(case, staff["jg_b"])
    records = list(AuditRecord.objects.filter(table_name="claims_case", object_pk=str(case.pk)).order_by("id"))
    assert records[0].action == "INSERT" and records[0].actor_username == "jg_a"
    moves = [(r.before["state"], r.after["state"], r.actor_username) for r in records
             if r.action == "UPDATE" and r.before["state"] != r.after["state"]]
    assert moves == [("open", "investigating", "jg_a"), ("investigating", "confirmed", "jg_b")]
    assert AuditRecord.objects.filter(table_name="claims_caseevent", region_code=VILLAGE_A).count() == 3


def test_attachment_is_stored_with_its_hash(staff, hit, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    upload = SimpleUploadedFile("询问笔录.pdf", b"%PDF-1.4 evidence", content_type="application/pdf")
    attachment = service.add_attachment(case, staff["jg_a"], upload)
    assert attachment.size == 17 and len(attachment.sha256) == 64
    assert attachment.file.read() == b"%PDF-1.4 evidence"
    with pytest.raises(CaseError, match="不支持的文件类型"):
        service.add_attachment(case, staff["jg_a"], SimpleUploadedFile("x.exe", b"MZ"))


def test_publication_masks_persons(staff, regions):
    person = make_person(VILLAGE_A, seq=503, name="欧阳小明")
    claim("P-1", "2025-03-01", "2025-03-05", person=person, total="800.00")
    claim("P-2", "2025-03-01", "2025-03-05", person=person, total="800.00", hosp=hospital("H009"))
    claim("P-3", "2025-03-01", "2025-03-05", person=person, total="800.00", hosp=hospital("H010"))
    screen_year(2025, ["R02"])
    hits = list(ScreeningHit.objects.filter(rule="R02").values_list("pk", flat=True))
    case = service.open_case_from_hits(staff["jg_a"], hits)
    assert case.target_kind == "person" and case.target_id_number == person.id_number
    service.start_investigation(case, staff["jg_a"])
    service.record_findings(case, staff["jg_a"], amount_to_recover=Decimal("800"), penalty_multiple=None,
                            target_kind="person", target_name="欧阳小明", target_id_number=person.id_number)
    service.confirm(case, staff["jg_b"])
    service.start_recovery(case, staff["jg_a"])
    service.add_recovery(case, staff["jg_a"], amount=Decimal("800"), paid_on=dt.date(2025, 7, 1))
    service.close(case, staff["jg_a"])
    rows = service.publication_rows(Case.objects.all())
    assert len(rows) == 1
    number, kind, target, id_number, rules = rows[0][:5]
    assert (kind, target, rules) == ("参保人员", "欧***", "住院时间重叠")
    assert id_number == person.id_number[:6] + "********" + person.id_number[-4:]
    assert "欧阳小明" not in str(rows) and person.id_number not in str(rows)


def test_stale_hit_in_a_case_is_kept_resolved(staff, hit):
    case = service.open_case_from_hits(staff["jg_a"], [hit.pk])
    hit.claim.total_cost = Decimal("10000.01")  # no longer a duplicate
    hit.claim.save()
    assert screen_year(2025, ["R06"]) == {"R06": 0}
    hit.refresh_from_db()
    assert hit.status == "resolved" and hit.resolved_at is not None
    assert list(case.hits.all()) == [hit]
