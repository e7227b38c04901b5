"""Helpers for the enrolment tests: dated categories, enrolments and the default policies."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import make_person


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def categorised(village, seq, name, *spans, death=None):
    """A person holding the given (category, valid_from, valid_to|None) spans."""
    from poverty_registry.models import PersonCategory

    person = make_person(village, seq=seq, name=name)
    for category, start, end in spans:
        PersonCategory.objects.create(person=person, category=category, valid_from=d(start),
                                      valid_to=d(end) if end else None)
    if death:
        person.death_date = d(death)
        person.save()
    return person


def enrol(person, year, status="enrolled", region=None):
    from enrollment.models import Enrolment

    return Enrolment.objects.create(id_number=person.id_number, name=person.name, year=year, status=status,
                                    paid_date=dt.date(year - 1, 11, 1), region_id=region or person.region_id,
                                    person=person)


@pytest.fixture
def policies(regions):
    from enrollment.services import ensure_default_policies

    ensure_default_policies()
