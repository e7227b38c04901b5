"""The access log (个人信息保护法; 等保 2.0 access audit): who looked at personal data, not only who changed
it. One append-only AccessRecord per page or file that showed full ID numbers, a settlement sheet or claim,
or per export and download of personal data: never one per person shown.

The base layer: enrollment and claims call record_access(); this module imports neither.
"""
from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from .idnumber import mask_id_number
from .models import AccessFlag, AccessRecord

# An ID number typed into a search or a filter: 15 or 18 characters (a trailing X). Masked before it is
# stored, so the log does not become a list of the numbers people looked for.
ID_LIKE = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9Xx])")


def client_ip(request) -> str:
    """The address as the audit trail records it: the audit middleware has put it on the connection
    (`audit.context`, .audit.middleware.AuditContextMiddleware), so both logs name the same address for a request;
    REMOTE_ADDR when called outside that middleware."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nullif(current_setting('audit.context', true), '')::jsonb ->> 'ip'")
        ip = cursor.fetchone()[0]
    return ip or request.META.get("REMOTE_ADDR", "")


def masked_filters(params) -> str:
    """A list's query string as stored: ID numbers masked, the page number left out, at most 1,000 characters."""
    query = params.copy()
    query.pop("page", None)
    text = query.urlencode(safe="/,:") if hasattr(query, "urlencode") else "&".join(
        f"{k}={v}" for k, v in sorted(query.items()))
    return ID_LIKE.sub(lambda m: mask_id_number(m.group(0).upper()), text)[:1000]


def record_access(request, kind: str, *, object_key: str = "", file_name: str = "", filters: str = "",
                  rows: int = 0, full_ids: int = 0) -> AccessRecord | None:
    """Record one access by the request's user. Written in its own savepoint: a page that shows the data
    also leaves the record, and a record that cannot be written fails the page (no unrecorded access)."""
    user = request.user
    if not user.is_authenticated:
        return None
    with transaction.atomic():
        return AccessRecord.objects.create(
            user_id=user.pk, username=user.get_username(), region_code=getattr(user, "region_id", None) or "",
            ip=client_ip(request), kind=kind, path=request.path[:200], object_key=str(object_key)[:100],
            file_name=file_name[:200], filters=filters[:1000], rows=rows, full_ids=full_ids)


def record_export(request, file_name: str, rows: int, *, full_ids: int | None = None, kind: str = "export",
                  object_key: str = "", params=None) -> AccessRecord | None:
    """An export or download: which file, which filters (the request's query string unless given), how many
    rows. `full_ids`: rows that carry a full ID number (default: every row, for holders of the permission)."""
    if full_ids is None:
        full_ids = rows if may_see_full_id(request.user) else 0
    return record_access(request, kind, object_key=object_key, file_name=file_name, rows=rows, full_ids=full_ids,
                         filters=masked_filters(request.GET if params is None else params))


def record_list(request, objects: list, label: str) -> AccessRecord | None:
    """A list page: recorded when it shows full ID numbers (to a holder of the permission) or answers a search
    by an ID number (whatever the user sees: the search itself ties the number to the person found)."""
    term = request.GET.get("q", "").strip()
    searched = bool(ID_LIKE.fullmatch(term))
    full_ids = len(objects) if may_see_full_id(request.user) else 0
    if not (searched or full_ids):
        return None
    key = f"{label}:{getattr(objects[0], 'pk', '')}" if searched and len(objects) == 1 else label
    return record_access(request, "id_search" if searched else "full_id_list", object_key=key,
                         filters=masked_filters(request.GET), rows=len(objects), full_ids=full_ids)


def may_see_full_id(user) -> bool:
    return user.has_perm("poverty_registry.view_full_id_number")


class Counted:
    """Wraps the rows an export writes, to record how many it wrote without a second query."""

    def __init__(self, rows):
        self.rows = iter(rows)
        self.count = 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row


def daily_limit() -> int:
    return int(settings.ACCESS_FULL_ID_DAILY_LIMIT)


def flag_day(day: dt.date, limit: int | None = None) -> list[AccessFlag]:
    """The accounts that opened more persons' full ID numbers on `day` than the limit, kept as AccessFlags
    (recomputed: idempotent; a day recomputed after more views updates its counts)."""
    limit = daily_limit() if limit is None else limit
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = start + dt.timedelta(days=1)
    totals = (AccessRecord.objects.filter(at__gte=start, at__lt=end, full_ids__gt=0)
              .values("username").annotate(full=Sum("full_ids"), views=Count("id"))
              .filter(full__gt=limit).order_by("username"))
    flagged = []
    with transaction.atomic():
        for row in totals:
            last = (AccessRecord.objects.filter(username=row["username"], at__gte=start, at__lt=end)
                    .order_by("-id").values("user_id", "region_code").first())
            flag, _ = AccessFlag.objects.update_or_create(
                day=day, username=row["username"],
                defaults={"user_id": last["user_id"], "region_code": last["region_code"], "full_ids": row["full"],
                          "views": row["views"], "limit": limit, "computed_at": timezone.now()})
            flagged.append(flag)
        # a limit raised since the day was last computed takes back the flags below it
        AccessFlag.objects.filter(day=day).exclude(pk__in=[f.pk for f in flagged]).delete()
    return flagged
