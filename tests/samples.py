"""One sample object per admin model, made in a given village: the generic scoping, masking and audit
tests walk the admin registry and fail for a model that has no sample here."""
from __future__ import annotations

from tests.claims.settlement_samples import SETTLEMENT_SAMPLES
from tests.claims.supervision_samples import SUPERVISION_SAMPLES
from tests.conftest import make_person
from tests.enrollment.samples import ENROLLMENT_SAMPLES


def region_sample(village):
    from poverty_registry.models import Region

    return Region.objects.create(code=village[:9] + "299", name="样本村")


def user_sample(village):
    from tests.conftest import make_staff

    return make_staff(f"sample_{village}", village[:9], "township")


def household_sample(village):
    return make_person(village, seq=901, name="样本户主").household


def person_sample(village):
    return make_person(village, seq=902, name="样本人")


def audit_sample(village):
    from claims.models import AuditRecord

    person = make_person(village, seq=903, name="审计样本")
    return AuditRecord.objects.filter(table_name="poverty_registry_person", object_pk=str(person.pk)).latest("id")


def import_run_sample(village):
    from poverty_registry.models import ImportFile, ImportRun

    uploader = user_sample(village)
    file, _ = ImportFile.objects.get_or_create(sha256="0" * 64, defaults={"content": b"x", "size": 1})
    return ImportRun.objects.create(kind="ledger", file_name="样本.xlsx", file=file, user=uploader,
                                    region_id=uploader.region_id)


def access_record_sample(village):
    from poverty_registry.models import AccessRecord

    viewer = user_sample(village)
    return AccessRecord.objects.create(user_id=viewer.pk, username=viewer.username, region_code=viewer.region_id,
                                       kind="full_id_page", object_key="poverty_registry.person:1", rows=1,
                                       full_ids=1)


def access_flag_sample(village):
    import datetime as dt

    from poverty_registry.models import AccessFlag

    viewer = user_sample(village)
    return AccessFlag.objects.create(day=dt.date(2026, 1, 5), user_id=viewer.pk, username=viewer.username,
                                     region_code=viewer.region_id, full_ids=250, views=3, limit=200)


SAMPLES = {
    "poverty_registry.region": region_sample,
    "poverty_registry.user": user_sample,
    "poverty_registry.household": household_sample,
    "poverty_registry.person": person_sample,
    "poverty_registry.importrun": import_run_sample,
    "poverty_registry.accessrecord": access_record_sample,
    "poverty_registry.accessflag": access_flag_sample,
    "claims.auditrecord": audit_sample,
    **ENROLLMENT_SAMPLES,
    **SUPERVISION_SAMPLES,
    **SETTLEMENT_SAMPLES,
}

# Admin models outside region scoping: no role group holds any permission on them (superusers only).
GLOBAL_MODELS = {"auth.group", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}
