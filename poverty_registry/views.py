"""The home page of each role and the health check."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from . import dashboards
from .background import broker_available


@login_required
def home(request):
    return render(request, "home.html", {**dashboards.home_context(request.user),
                                         "background_down": not broker_available()})


def healthz(request):
    from django.core.cache import cache

    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 — a health check reports, it does not raise
        checks["database"] = str(exc)
    try:
        cache.set("healthz", "ok", 5)
        checks["redis"] = "ok" if cache.get("healthz") == "ok" else "no answer"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = str(exc)
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


@login_required
def ledger_export(request):
    from django.core.exceptions import PermissionDenied
    from django.utils import timezone

    from . import workbook
    from .exports import ledger_workbook

    if not request.user.has_perm("poverty_registry.view_person"):
        raise PermissionDenied
    today = timezone.localdate()
    content, rows = ledger_workbook(request.user, request.GET, today)
    return workbook.download(request, f"建档立卡台账_{today:%Y%m%d}.xlsx", content, rows)
