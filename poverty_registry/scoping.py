"""Region scoping: the one way every list, detail, search, autocomplete, export, view and API
narrows a queryset to what a user may see or change (NetBox's `restrict(user, action)`)."""
from __future__ import annotations

from django.db import models


def region_prefix(user) -> str | None:
    """The code every visible object's region starts with; "" for all regions; None for nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ""
    return getattr(user, "region_id", None) or None


class RegionScopedQuerySet(models.QuerySet):
    """Models name the field that holds their region code in `region_field` (a path, as in filter())."""

    def restrict(self, user, action: str | None = "view"):
        model = self.model
        prefix = region_prefix(user)
        if prefix is None:
            return self.none()
        if action and not user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}"):
            return self.none()
        if prefix == "":
            return self
        return self.filter(**{f"{model.region_field}__startswith": prefix})


class RegionScopedManager(models.Manager.from_queryset(RegionScopedQuerySet)):
    pass
