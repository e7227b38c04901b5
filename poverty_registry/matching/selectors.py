"""Read-only numbers of the matching for the home page."""
from __future__ import annotations

from django.urls import reverse

from ..models import MatchingItem, MatchLink
from .vocab import OPEN_STATUSES


def home_numbers(user) -> dict[str, list]:
    numbers: dict[str, list] = {"todos": [], "links": []}
    if user.has_perm("poverty_registry.view_matchingitem"):
        open_items = MatchingItem.objects.restrict(user).filter(status__in=OPEN_STATUSES).count()
        numbers["todos"].append(("比对差异待办", reverse("matching:queue"), open_items))
        numbers["links"].append(("比对批次记录", reverse("matching:runs")))
    if user.has_perm("poverty_registry.view_matchlink"):
        pending = MatchLink.objects.restrict(user).filter(status="proposed").count()
        numbers["todos"].append(("疑似同一人待确认", reverse("matching:links"), pending))
    return numbers
