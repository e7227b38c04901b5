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
