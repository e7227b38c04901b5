"""The figure cache (poverty_registry/figures.py): a second opening of the home page or the claims statistics
reads none of the whole-year aggregates; figures are shared by one region scope and never shown to another;
the page says when they were computed; with Redis away the pages still render their figures."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims.settlement.services import settle_claims
from poverty_registry import figures
from tests.claims.settlement_helpers import category, claim, enrol, policies  # noqa: F401
from tests.conftest import TOWNSHIP_A, VILLAGE_A, VILLAGE_B, make_person, make_staff
from tests.reliability.test_redis_away import redis_away  # noqa: F401

pytestmark = pytest.mark.django_db
YEAR = timezone.localdate().year
# The whole-year aggregates behind the tiles and the statistics: what the cache is there to spare.
AGGREGATE_TABLES = ("enrollment_enrolment", "enrollment_subsidyline", "claims_settlement")


@pytest.fixture
def city(regions, policies):  # noqa: F811
    """This year: two enrolled of three registered in township A, one unenrolled in B; last settled claims
    in 2024 in both townships."""
    a = [make_person(VILLAGE_A, seq=i, name=f"甲{i}") for i in (1, 2, 3)]
    b = make_person(VILLAGE_B, seq=1, name="乙")
    for person in a[:2]:
        enrol(person, YEAR)
    category(a[0], "dibao")
    category(b, "tekun")
    for person in (a[0], b):
        enrol(person, 2024)
    settle_claims([claim(a[0], "C1").pk, claim(b, "C2", total="8000.00").pk])


def aggregate_reads(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in AGGREGATE_TABLES)]


def opened(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return response, queries


def test_a_second_opening_of_the_home_page_reads_no_aggregate(client, city, city_officer,
                                                              django_assert_max_num_queries):
    client.force_login(city_officer)
    first, queries = opened(client, reverse("home"))
    assert aggregate_reads(queries)  # the premise: the first opening computes them
    with django_assert_max_num_queries(len(queries) - len(aggregate_reads(queries)) - 1):
        second, again = opened(client, reverse("home"))
    assert not aggregate_reads(again)
    shown = {t.key: t.value for t in first.context["tiles"]}
    assert {"enrolment_rate", "subsidy_paid", "oneshop_ratio", "low_self_pay"} <= set(shown)
    assert {t.key: t.value for t in second.context["tiles"]} == shown
    assert first.context["figures"] == second.context["figures"]


def test_the_home_page_says_when_its_figures_were_computed(client, city, city_officer, monkeypatch):
    client.force_login(city_officer)
    computed = timezone.localtime(client.get(reverse("home")).context["figures_computed_at"])
    later = timezone.now() + dt.timedelta(minutes=2)
    monkeypatch.setattr(figures.timezone, "now", lambda: later)
    page = client.get(reverse("home")).content.decode()  # from the cache: still the first computation
    assert f"数据更新于 {computed:%H:%M}" in page


def test_a_second_user_of_the_same_scope_gets_the_statistics_from_the_cache(client, city, county_a,
                                                                             django_assert_max_num_queries):
    colleague = make_staff("county_a2", county_a.region_id, "county")
    client.force_login(county_a)
    first, queries = opened(client, reverse("claims:statistics"), {"year": 2024})
    assert aggregate_reads(queries)
    client.force_login(colleague)
    with django_assert_max_num_queries(len(queries) - 1):
        second, again = opened(client, reverse("claims:statistics"), {"year": 2024})
    assert not [sql for sql in aggregate_reads(again) if "GROUPING" in sql]
    fresh, kept = first.context["stats"], second.context["stats"]
    assert kept["overall"].total_cost == fresh["overall"].total_cost == Decimal("20000.00")
    assert isinstance(kept["overall"].self_pay, Decimal)
    assert [(r.key, r.label, r.times, r.tiers) for r in kept["townships"]] == \
        [(r.key, r.label, r.times, r.tiers) for r in fresh["townships"]]
    assert "数据更新于" in second.content.decode()


def test_a_figure_is_never_shown_to_another_region(client, city, clerk_a, clerk_b, county_a, city_officer):
    client.force_login(clerk_a)
    tiles_a = {t.key: t for t in client.get(reverse("home")).context["tiles"]}
    client.force_login(clerk_b)
    tiles_b = {t.key: t for t in client.get(reverse("home")).context["tiles"]}
    assert (tiles_a["enrolment_rate"].value, tiles_b["enrolment_rate"].value) == ("66.67", "0.00")
    client.force_login(city_officer)
    city_stats = client.get(reverse("claims:statistics"), {"year": 2024}).context["stats"]
    client.force_login(county_a)  # after the city's figures were kept: still only the county's own
    county_stats = client.get(reverse("claims:statistics"), {"year": 2024}).context["stats"]
    assert (city_stats["overall"].times, county_stats["overall"].times) == (2, 1)
    client.force_login(clerk_a)
    township = client.get(reverse("claims:statistics"), {"year": 2024, "region": TOWNSHIP_A}).context["stats"]
    assert [r.key for r in township["townships"]] == [TOWNSHIP_A]


def test_no_region_no_shared_figure(client, city, regions):
    from poverty_registry.models import User

    nobody = User.objects.create_user("nobody", password="x")  # an account without a region sees nothing
    kept = figures.cached_figures(("probe", figures.scope_part(figures.RegionScope(None)), YEAR), lambda: 1)
    assert kept.value == 1
    assert figures.cached_figures(("probe", None, YEAR), lambda: 2).value == 2  # never kept, never shared
    client.force_login(nobody)
    assert client.get(reverse("home")).status_code == 200


def test_with_redis_away_the_pages_render_their_figures(client, city, city_officer, redis_away):  # noqa: F811
    client.force_login(city_officer)
    tiles = {t.key: t for t in client.get(reverse("home")).context["tiles"]}
    assert tiles["enrolment_rate"].value == "50.00"  # two of the four registered this year
    page = client.get(reverse("claims:statistics"), {"year": 2024})
    assert page.context["stats"]["overall"].times == 2 and "数据更新于" in page.content.decode()
