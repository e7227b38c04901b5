"""Template filters of the 资助参保 pages: ID numbers as the user may see them, category labels, cells."""
from django import template

from poverty_registry.admin_base import shown_id_number
from poverty_registry.vocab import CATEGORIES

register = template.Library()


@register.filter
def shown_id(number, user):
    return shown_id_number(user, number) if number else ""


@register.filter
def category_label(code):
    return CATEGORIES.get(code, code or "—")


@register.filter
def cell(row, code):
    """(persons, amount) of one category in a summary row; (0, 0) when absent."""
    return row.cells.get(code, (0, 0))


@register.filter
def total(summary, code):
    return summary.totals.get(code, (0, 0))


@register.filter
def get_item(mapping, key):
    return mapping.get(key)
