"""Spans of one category of one person never overlap (DOMAIN §3), whoever writes them: the ORM, a bulk
statement, an update, two transactions at once; a form says so in Chinese before the database has to."""
import datetime as dt
import threading
import time

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from poverty_registry.models import PersonCategory
from tests.conftest import test_database_url as database_url

D = dt.date


def span(person, start, end=None, category="dibao"):
    return PersonCategory.objects.create(person=person, category=category, valid_from=start, valid_to=end)


def test_overlapping_span_is_refused_touching_and_other_categories_are_not(person_a, person_b):
    span(person_a, D(2020, 1, 1), D(2020, 12, 31))
    span(person_a, D(2021, 1, 1))  # the day after: no overlap
    span(person_a, D(2020, 6, 1), category="tekun")  # another category
    span(person_b, D(2020, 6, 1))  # another person
    with pytest.raises(IntegrityError, match="人员类别时段重叠"), transaction.atomic():
        span(person_a, D(2020, 12, 31), D(2020, 12, 31))  # one shared day is an overlap
    with pytest.raises(IntegrityError), transaction.atomic():
        span(person_a, D(2030, 1, 1))  # inside the open span
    assert PersonCategory.objects.filter(person=person_a).count() == 3


def test_an_update_into_an_overlap_and_a_bulk_statement_overlapping_itself_are_refused(person_a):
    first = span(person_a, D(2020, 1, 1), D(2020, 12, 31))
    second = span(person_a, D(2021, 1, 1), D(2021, 12, 31))
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonCategory.objects.filter(pk=first.pk).update(valid_to=D(2021, 3, 1))
    PersonCategory.objects.filter(pk=first.pk).update(valid_to=D(2020, 6, 30))  # shortening is fine
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonCategory.objects.bulk_create([
            PersonCategory(person=person_a, category="monitor", valid_from=D(2022, 1, 1), valid_to=D(2022, 6, 30)),
            PersonCategory(person=person_a, category="monitor", valid_from=D(2022, 6, 30)),
        ])
    assert {(c.category, c.valid_from) for c in PersonCategory.objects.filter(person=person_a)} == {
        ("dibao", D(2020, 1, 1)), ("dibao", second.valid_from)}


def test_clean_names_the_clash_in_chinese(person_a):
    span(person_a, D(2020, 1, 1))
    with pytest.raises(ValidationError, match="该人员的低保对象与已有时段（低保对象 2020-01-01～至今）重叠"):
        PersonCategory(person=person_a, category="dibao", valid_from=D(2024, 1, 1)).full_clean()
    PersonCategory(person=person_a, category="dibao", valid_from=D(2019, 1, 1), valid_to=D(2019, 12, 31)).full_clean()


@pytest.mark.django_db(transaction=True)
def test_a_span_added_while_an_overlapping_one_is_uncommitted_waits_for_it_and_is_refused(regions):
    """The race an exclusion index used to settle: the first transaction has written its span but not committed,
    so the second cannot see it; the second must wait for the first's commit, then see the span and refuse."""
    from tests.conftest import VILLAGE_A, make_person

    person = make_person(VILLAGE_A)
    first_written = threading.Event()
    insert = ("INSERT INTO poverty_registry_personcategory (person_id, category, valid_from, source)"
              " VALUES (%s, 'dibao', %s, 'manual')")

    def first() -> None:
        with psycopg.connect(database_url()) as conn, conn.transaction():
            conn.execute(insert, [person.pk, D(2020, 1, 1)])
            first_written.set()
            time.sleep(1)

    # The audit trail's chain lock would also make the second wait: without it, only the check's own lock does.
    with psycopg.connect(database_url(), autocommit=True) as conn:
        conn.execute("ALTER TABLE poverty_registry_personcategory DISABLE TRIGGER audit_insert")
    try:
        thread = threading.Thread(target=first)
        thread.start()
        assert first_written.wait(timeout=20)
        started = time.monotonic()
        with psycopg.connect(database_url()) as conn:
            conn.execute("SET lock_timeout = '20s'")
            with pytest.raises(psycopg.errors.ExclusionViolation), conn.transaction():
                conn.execute(insert, [person.pk, D(2021, 1, 1)])
        waited = time.monotonic() - started
        thread.join(timeout=20)
    finally:
        with psycopg.connect(database_url(), autocommit=True) as conn:
            conn.execute("ALTER TABLE poverty_registry_personcategory ENABLE TRIGGER audit_insert")
    assert waited > 0.5  # it waited for the first's commit rather than checking against an older snapshot
    assert list(PersonCategory.objects.filter(person=person).values_list("valid_from", flat=True)) == [D(2020, 1, 1)]
