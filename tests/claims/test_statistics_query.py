"""The §6.7 statistics read the year's settlements once (GROUPING SETS), with the same figures per grouping as a
query per grouping gives."""
from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count, F, Sum
from django.db.models.functions import Substr
from django.test.utils import CaptureQueriesContext

from claims.models import Settlement
from claims.selectors import current_settlements, statistics
from claims.settlement.services import settle_claims
from tests.claims.settlement_helpers import category, claim, enrol, hospital, policies  # noqa: F401
from tests.conftest import VILLAGE_A, VILLAGE_B, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def year_of_claims(regions, policies):  # noqa: F811
    a = make_person(VILLAGE_A, seq=41, name="低保甲")
    b = make_person(VILLAGE_B, seq=42, name="特困乙")
    c = make_person(VILLAGE_A, seq=43, name="普通丙")
    category(a, "dibao")
    category(b, "tekun")
    for person in (a, b, c):
        enrol(person, 2024)
    city = hospital("H43060000001", "岳阳市中心医院", "city", "4306")
    made = [claim(a, "C1"), claim(a, "C2", total="3000.00", where=city, level="city", in_county=False),
            claim(b, "C3", total="8000.00", uncovered="500.00"),
            claim(c, "C4", total="1200.00", uncovered="100.00", visit="special_outpatient")]
    settle_claims([m.pk for m in made])


def _expected(qs, key_expr):
    return sorted((str(g["key"]), g["persons"], g["times"], g["cost"], g["self_pay"]) for g in
                  qs.annotate(key=key_expr).values("key").order_by()
                  .annotate(persons=Count("claim__id_number", distinct=True), times=Count("id"),
                            cost=Sum("claim__total_cost"), self_pay=Sum("self_pay")))


def test_statistics_in_one_read_of_the_settlements(year_of_claims):
    qs = current_settlements(Settlement.objects.all(), 2024)
    with CaptureQueriesContext(connection) as queries:
        stats = statistics(qs)
    reads = [q["sql"] for q in queries.captured_queries if "claims_settlement" in q["sql"]]
    assert len(reads) == 1, reads
    for name, key in (("townships", Substr("region_id", 1, 9)), ("hospitals", F("claim__hospital_id")),
                      ("categories", F("category")), ("levels", F("claim__hospital_level"))):
        got = sorted((r.key, r.persons, r.times, r.total_cost, r.self_pay) for r in stats[name])
        assert got == _expected(qs, key), name
    overall = stats["overall"]
    assert (overall.persons, overall.times) == (3, 4)
    poor_inpatients = [s for s in qs.select_related("claim") if s.category and s.claim.in_county
                       and s.claim.visit_type == "inpatient"]
    assert stats["poor_inpatients"] == len(poor_inpatients) == 2
    assert stats["poor_inpatients_low"] == sum(s.self_pay <= s.claim.total_cost / 10 for s in poor_inpatients)
    assert [r.key for r in stats["townships"]] == sorted(r.key for r in stats["townships"])


def test_statistics_of_nothing(regions):
    stats = statistics(current_settlements(Settlement.objects.none(), 2024))
    assert stats["overall"] is None and stats["townships"] == [] and stats["poor_inpatients_share"] is None
