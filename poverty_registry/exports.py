"""Ledger export: the user's region, the list's filters, ID numbers as the user may see them, in the
import template's layout (so an exported file imports again, for those who see full numbers)."""
from __future__ import annotations

import datetime as dt

from django.contrib.postgres.aggregates import StringAgg
from django.db.models import Q

from .access_log import Counted
from .admin_base import shown_id_number
from .filters import PersonFilterSet
from .ledger_file import write_ledger_workbook
from .models import Person


def ledger_rows(user, params, today: dt.date):
    persons = PersonFilterSet(params, queryset=Person.objects.restrict(user)).qs
    held = Q(categories__valid_from__lte=today) & (Q(categories__valid_to__isnull=True)
                                                  | Q(categories__valid_to__gte=today))
    persons = persons.annotate(held=StringAgg("categories__category", ",", filter=held,
                                              order_by="categories__category"))
    fields = ("household__household_no", "name", "id_number", "sex", "birth_date", "relation", "held", "region_id",
              "poverty_status", "phone")
    for row in persons.order_by("household__household_no", "-is_head", "id").values_list(*fields).iterator(5000):
        household_no, name, number, sex, birth, relation, categories, village, status, phone = row
        yield (household_no, name, shown_id_number(user, number), sex, birth, relation,
               tuple((categories or "").split(",")) if categories else (), village, status or None, phone)


def ledger_workbook(user, params, today: dt.date) -> tuple[bytes, int]:
    """The workbook and how many persons it holds (for the access log)."""
    rows = Counted(ledger_rows(user, params, today))
    return write_ledger_workbook(rows, notes=True), rows.count
