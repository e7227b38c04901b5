"""Region scoping: which region codes a user may act on (`region_scope`), and the one way every list,
detail, search, autocomplete, export, view and API narrows a queryset to it (NetBox's `restrict(user, action)`).

Fail closed: an account that is not a superuser and has no region may act on nothing — never "everything".
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q

NO_REGION_MESSAGE = "您的账号未分配辖区，不能查看或办理任何数据，请联系系统管理员"


@dataclass(frozen=True)
class RegionScope:
    """The region codes a user may act on: every code that starts with `prefix` ("" for all regions),
    or none at all (`prefix` None). Codes nest by prefix, so a county's scope holds its townships."""

    prefix: str | None

    @property
    def is_empty(self) -> bool:
        return self.prefix is None

    @property
    def is_all(self) -> bool:
        return self.prefix == ""

    def covers(self, code: str | None) -> bool:
        """Whether the region `code` (or anything under it) is within the scope."""
        return self.prefix is not None and bool(code) and code.startswith(self.prefix)

    def like_pattern(self) -> str:
        """A SQL LIKE pattern for a region-code column; the empty scope's ('') matches no code."""
        return "" if self.prefix is None else self.prefix + "%"

    def q(self, field: str) -> Q:
        """A filter on the region-code path `field` (as in filter()) keeping what the scope covers."""
        if self.prefix is None:
            return Q(pk__in=[])
        return Q() if self.prefix == "" else Q(**{f"{field}__startswith": self.prefix})

    def code(self) -> str:
        """The scope's own region code ("" for all regions); PermissionDenied for an empty scope, so a page
        that needs a region to work in can never treat "no region" as "all regions"."""
        if self.prefix is None:
            raise PermissionDenied(NO_REGION_MESSAGE)
        return self.prefix


NOTHING = RegionScope(None)
EVERYWHERE = RegionScope("")


class ServerCommand:
    """The actor of a management command run on the server without naming an account (`import_claims`
    with no --user): whoever can run commands on the server already holds the whole database."""

    is_authenticated = is_active = is_superuser = is_staff = True
    pk = id = region_id = region = None
    username = "（服务器命令）"

    def has_perm(self, perm, obj=None) -> bool:
        return True

    def __str__(self):
        return self.username


SERVER_COMMAND = ServerCommand()


def region_scope(user) -> RegionScope:
    """The one answer to "which region codes may this user act on": a superuser (made on the server with
    createsuperuser) all; an active account with a region that region and everything under it; any other
    account, anonymous or inactive, nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.is_superuser:
        return EVERYWHERE
    code = getattr(user, "region_id", None)
    return RegionScope(code) if code else NOTHING


class RegionScopedQuerySet(models.QuerySet):
    """Models name the field that holds their region code in `region_field` (a path, as in filter())."""

    def restrict(self, user, action: str | None = "view"):
        model = self.model
        scope = region_scope(user)
        if scope.is_empty:
            return self.none()
        if action and not user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}"):
            return self.none()
        return self.filter(scope.q(model.region_field))


class RegionScopedManager(models.Manager.from_queryset(RegionScopedQuerySet)):
    pass
