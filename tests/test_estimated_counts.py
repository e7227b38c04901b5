"""Admin lists over more than ADMIN_EXACT_COUNT_LIMIT rows count with PostgreSQL's estimate, never COUNT(*)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from poverty_registry.pagination import bounded_count

PERSONS = 120  # 3 pages of 50


@pytest.fixture
def ledger(regions):
    from poverty_registry.audit.trail import audit_context
    from poverty_registry.demo import seed_persons

    with audit_context(source="test"):
        seed_persons(PERSONS, 5)
    with connection.cursor() as cursor:  # the statistics a city's table has (autovacuum keeps them)
        cursor.execute("ANALYZE poverty_registry_person")


def _counts(queries):
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


def test_list_over_the_limit_is_estimated_and_pages(client, city_officer, ledger, settings):
    settings.ADMIN_EXACT_COUNT_LIMIT = 10
    client.force_login(city_officer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/poverty_registry/person/")
    assert response.status_code == 200
    assert not _counts(queries.captured_queries), _counts(queries.captured_queries)
    assert any(q["sql"].startswith("EXPLAIN") for q in queries.captured_queries)
    cl = response.context["cl"]
    assert cl.paginator.estimated and cl.result_count > 10
    assert f"约 {cl.result_count:,} 条" in response.content.decode()
    seen = set()
    for page in (1, 2, 3):
        response = client.get("/admin/poverty_registry/person/", {"p": page})
        assert response.status_code == 200
        seen.update(p.pk for p in response.context["cl"].result_list)
    assert len(seen) == PERSONS


def test_list_under_the_limit_counts_exactly(client, city_officer, ledger):
    client.force_login(city_officer)
    response = client.get("/admin/poverty_registry/person/")
    cl = response.context["cl"]
    assert not cl.paginator.estimated and cl.result_count == PERSONS
    assert "约 " not in response.content.decode()
    assert len(cl.result_list) == 50


def test_exact_count_reads_at_most_limit_plus_one_rows_when_statistics_lie(ledger):
    from poverty_registry.models import Person

    with connection.cursor() as cursor:  # as if the table had grown since the last ANALYZE
        cursor.execute("UPDATE pg_class SET reltuples = 1, relpages = 10 WHERE relname = 'poverty_registry_person'")
    with CaptureQueriesContext(connection) as queries:
        count, estimated = bounded_count(Person.objects.all(), 10)
    assert estimated and count == 11
    assert "LIMIT 11" in _counts(queries.captured_queries)[0]


def test_empty_queryset_counts_zero(db):
    from poverty_registry.models import Person

    assert bounded_count(Person.objects.none(), 10) == (0, False)


def test_audit_list_reads_no_whole_trail_for_a_date_drill_down(client, supervisor, ledger):
    """The trail grows by millions of rows: a date drill-down (first/last time, then every distinct day) read all
    of it on each opening; the list's date filter (今天/过去 7 天/本月/今年) stays."""
    client.force_login(supervisor)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/poverty_registry/auditrecord/")
    assert response.status_code == 200
    scans = [q["sql"] for q in queries.captured_queries
             if "DATE_TRUNC" in q["sql"].upper() or 'MIN("claims_auditrecord"."at")' in q["sql"]]
    assert not scans, scans
    assert "at__gte=" in response.content.decode()
