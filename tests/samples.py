"""One sample object per model of our three apps, made in a given village: the generic scoping, masking and audit
tests walk every model (and the admin registry) and fail for a model that has no sample here or is not declared
unscoped below with its reason. The pages' samples are in tests/url_samples.py."""
from __future__ import annotations

from tests.claims.settlement_samples import SETTLEMENT_MODEL_SAMPLES, SETTLEMENT_SAMPLES
from tests.claims.supervision_samples import SUPERVISION_MODEL_SAMPLES, SUPERVISION_SAMPLES
from tests.conftest import make_person
from tests.enrollment.samples import ENROLLMENT_MODEL_SAMPLES, ENROLLMENT_SAMPLES


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
    from poverty_registry.models import AuditRecord

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


def person_category_sample(village):
    import datetime as dt

    from poverty_registry.models import PersonCategory

    person = make_person(village, seq=920, name="类别样本")
    return PersonCategory.objects.create(person=person, category="tekun", valid_from=dt.date(2024, 1, 1))


def matching_run_sample(village):
    import datetime as dt

    from poverty_registry.models import MatchingRun

    return MatchingRun.objects.create(run_date=dt.date(2024, 6, 15), inbox="/nonexistent/inbox",
                                      status="finished", phase="finished")


def matching_shard_sample(village):
    from poverty_registry.models import MatchingShard

    return MatchingShard.objects.create(run=matching_run_sample(village), county=village[:6])


def matching_run_count_sample(village):
    from poverty_registry.models import MatchingRunCount

    return MatchingRunCount.objects.create(run=matching_run_sample(village), region_id=village, code="M01", count=1)


def matching_source_file_sample(village):
    import datetime as dt

    from poverty_registry.models import MatchingSourceFile

    return MatchingSourceFile.objects.create(source="civil_affairs", file_name="民政样本.xlsx", sha256="1" * 64,
                                             as_of=dt.date(2024, 6, 1), status="loaded")


def matching_record_sample(village):
    from poverty_registry.models import MatchingRecord

    person = make_person(village, seq=921, name="比对记录样本")
    return MatchingRecord.objects.create(file=matching_source_file_sample(village), row_no=2, id_raw=person.id_number,
                                         id_number=person.id_number, id_status="valid", match_key=person.id_number,
                                         name=person.name, village=village)


def match_link_sample(village):
    from poverty_registry.models import MatchLink

    person = make_person(village, seq=922, name="关联样本")
    return MatchLink.objects.create(match_key=f"K{village}", person=person, source="civil_affairs", id_raw="X",
                                    name="关联样本", score=0.9)


def matching_item_sample(village):
    from poverty_registry.models import MatchingItem

    person = make_person(village, seq=923, name="比对样本")
    return MatchingItem.objects.create(code="M01", key=f"M01:{person.id_number}", region_id=village, person=person,
                                       id_number=person.id_number, name=person.name, summary="样本差异",
                                       first_run=matching_run_sample(village))


SAMPLES = {
    "poverty_registry.region": region_sample,
    "poverty_registry.user": user_sample,
    "poverty_registry.household": household_sample,
    "poverty_registry.person": person_sample,
    "poverty_registry.importrun": import_run_sample,
    "poverty_registry.accessrecord": access_record_sample,
    "poverty_registry.accessflag": access_flag_sample,
    "poverty_registry.auditrecord": audit_sample,
    **ENROLLMENT_SAMPLES,
    **SUPERVISION_SAMPLES,
    **SETTLEMENT_SAMPLES,
}

MODEL_SAMPLES = {
    **SAMPLES,
    "poverty_registry.personcategory": person_category_sample,
    "poverty_registry.matchingrun": matching_run_sample,
    "poverty_registry.matchingshard": matching_shard_sample,
    "poverty_registry.matchingruncount": matching_run_count_sample,
    "poverty_registry.matchingsourcefile": matching_source_file_sample,
    "poverty_registry.matchingrecord": matching_record_sample,
    "poverty_registry.matchlink": match_link_sample,
    "poverty_registry.matchingitem": matching_item_sample,
    **ENROLLMENT_MODEL_SAMPLES,
    **SUPERVISION_MODEL_SAMPLES,
    **SETTLEMENT_MODEL_SAMPLES,
}

# Admin models outside region scoping: no role group holds any permission on them (superusers only).
GLOBAL_MODELS = {"auth.group", "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}

# Models of our apps without a region of their own: no admin page, no URL and no list shows them; each is read
# only through its scoped parent (or by a server command).
UNSCOPED_MODELS = {
    "poverty_registry.importfile": "an upload's bytes by SHA-256, read only through its scoped ImportRun",
    "claims.settlementdetail": "a settlement's lines, read only through its scoped Settlement (the sheet)",
    "poverty_registry.auditjournal": "the bulk-write journal of the audit trail, read by verify_audit and the spreader",
    "claims.resettlechunk": "a batch re-settlement's work list, read only by its workers and its scoped run",
}

# Region-free by design (region_field = ""): the matching's and the screening's runs and loaded files are the
# city's; every account with a region and the permission sees them, an account without a region none
# (CityWideQuerySet).
CITY_WIDE_MODELS = {"poverty_registry.matchingrun", "poverty_registry.matchingsourcefile", "claims.screeningrun"}

# Models no role may view (superusers only): listed by name, so a model never falls here by omission.
SUPERUSER_ONLY_MODELS: set[str] = set()
