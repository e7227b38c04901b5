"""The work queue's FilterSet, shared by the queue page and its export."""
from __future__ import annotations

import django_filters
from django.db.models import Q

from ..filters import within_region
from ..idnumber import IdNumberError, normalize_id_number
from ..models import MatchingItem
from .vocab import DIFFERENCES, ITEM_STATUSES, OPEN_STATUSES, SOURCES

STATUS_CHOICES = [("open", "未关闭（新发现、处理中）"), *ITEM_STATUSES.items(), ("all", "全部")]


class MatchingItemFilterSet(django_filters.FilterSet):
    code = django_filters.ChoiceFilter(label="差异", choices=[(c, f"{c} {label}") for c, label in DIFFERENCES.items()])
    state = django_filters.ChoiceFilter(label="状态", choices=STATUS_CHOICES, method="filter_state", empty_label=None)
    source = django_filters.ChoiceFilter(label="来源", choices=list(SOURCES.items()))
    region = django_filters.CharFilter(label="区划代码", method="filter_region")
    q = django_filters.CharFilter(label="姓名或身份证号", method="filter_search")

    class Meta:
        model = MatchingItem
        fields = ["code", "state", "source", "region", "q"]

    def __init__(self, data=None, *args, **kwargs):
        data = data.copy() if data is not None else {}
        data.setdefault("state", "open")
        super().__init__(data, *args, **kwargs)

    def filter_state(self, queryset, name, value):
        if value == "open":
            return queryset.filter(status__in=OPEN_STATUSES)
        return queryset if value == "all" else queryset.filter(status=value)

    def filter_region(self, queryset, name, value):
        return within_region(queryset, MatchingItem.region_field, value.strip())

    def filter_search(self, queryset, name, value):
        term = value.strip()
        if not term:
            return queryset
        try:
            return queryset.filter(id_number=normalize_id_number(term))
        except IdNumberError:
            return queryset.filter(Q(name__startswith=term) | Q(id_number=term.upper()))
