"""Samples of the supervision models registered in the admin, for the generic scoping walk (tests/samples.py)."""
from __future__ import annotations


def supervision_param_sample(village):
    from claims.models import SupervisionParam

    return SupervisionParam.objects.create(code="R03", region_id=village, params={"days": 20}, severity="medium")


def screening_hit_sample(village):
    from django.utils import timezone

    from claims.models import ScreeningHit
    from tests.claims.supervision_helpers import claim, hospital

    made = claim(f"SAMPLE-{village}", "2025-03-01", "2025-03-02", hosp=hospital("SAMPLE"), region=village)
    now = timezone.now()
    return ScreeningHit.objects.create(claim=made, rule="R05", severity="high", year=made.year, region_id=village,
                                       found_at=now, checked_at=now)


def case_sample(village):
    from claims.models import Case
    from tests.conftest import make_staff

    opener = make_staff(f"case_sample_{village}", village[:6], "supervisor")
    return Case.objects.create(title="样本案件", source="tip_off", region_id=village, opened_by=opener)


SUPERVISION_SAMPLES = {
    "claims.supervisionparam": supervision_param_sample,
    "claims.screeninghit": screening_hit_sample,
    "claims.case": case_sample,
}


def case_hit_sample(village):
    from claims.models import CaseHit

    return CaseHit.objects.create(case=case_sample(village), hit=screening_hit_sample(village))


def case_event_sample(village):
    from claims.models import CaseEvent

    case = case_sample(village)
    return CaseEvent.objects.create(case=case, action="open", to_state="new", user=case.opened_by)


def recovery_sample(village):
    import datetime as dt
    from decimal import Decimal

    from claims.models import Recovery

    case = case_sample(village)
    return Recovery.objects.create(case=case, amount=Decimal("100.00"), paid_on=dt.date(2025, 6, 1),
                                   entered_by=case.opened_by, region_id=village)


def case_attachment_sample(village):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from claims.supervision.cases import add_attachment

    case = case_sample(village)
    return add_attachment(case, case.opened_by, SimpleUploadedFile("证据样本.txt", b"evidence " + village.encode()))


# The models without an admin page of their own (tests/samples.py MODEL_SAMPLES).
def screening_run_sample(village):
    from claims.models import ScreeningRun

    return ScreeningRun.objects.create(years=[2025], status="finished", triggered_by="样本筛查", rules_done=9,
                                       rules_total=9, counts={"2025": {"R05": 1}})


SUPERVISION_MODEL_SAMPLES = {
    **SUPERVISION_SAMPLES,
    "claims.screeningrun": screening_run_sample,
    "claims.casehit": case_hit_sample,
    "claims.caseevent": case_event_sample,
    "claims.recovery": recovery_sample,
    "claims.caseattachment": case_attachment_sample,
}
