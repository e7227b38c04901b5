"""Settlement pages: the printable settlement sheet (结算单) with old and new versions side by side, the
§6.7 statistics with charts, the §9 risk warning list, and batch re-settlement with its progress. Thin:
queries in claims.selectors, writes in claims.settlement.services, workbooks in claims.exports; every page scoped."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from poverty_registry import access_log, confirmation, workbook
from poverty_registry.admin_base import shown_id_number
from poverty_registry.models import Region

from . import confirmations, exports, selectors
from .filters import YearRegionForm
from .models import Claim, Settlement
from .settlement import services
from .settlement.models import PersonYearTotal, ResettleRun


def _scope(request) -> tuple[YearRegionForm, int, str]:
    """The page's year and region (within the user's own region), from the query string."""
    form = YearRegionForm(request.GET or None, user=request.user)
    year, region = form.year_and_region()
    return form, year, region


@login_required
def sheet(request, pk: int):
    claim = get_object_or_404(Claim.objects.restrict(request.user).select_related("hospital", "region"), pk=pk)
    if not request.user.has_perm("claims.view_settlement"):
        raise PermissionDenied
    version = request.GET.get("v")
    context = selectors.sheet_versions(claim, int(version) if version and version.isdigit() else None)
    context.update(claim=claim, id_number=shown_id_number(request.user, claim.id_number), now=timezone.now())
    access_log.record_access(request, "settlement_sheet", object_key=f"claims.claim:{claim.pk}", rows=1,
                             full_ids=int(access_log.may_see_full_id(request.user)))
    return render(request, "claims/sheet.html", context)


@login_required
def statistics(request):
    form, year, region = _scope(request)
    stats = selectors.year_statistics(request.user, year, region)
    if request.GET.get("format") == "xlsx":  # figures by group, no person: recorded as any export
        groups = sum(len(stats[key]) for key in ("townships", "hospitals", "categories", "levels"))
        return workbook.export(request, f"一站式结算统计_{year}.xlsx", exports.statistics_sheets(stats, year, region),
                               rows=groups, full_ids=0)
    context = {
        "form": form, "year": year, "region": region, "stats": stats,
        "township_bars": selectors.bars(stats["townships"]), "level_bars": selectors.bars(stats["levels"]),
        "category_bars": selectors.bars(stats["categories"]), "tier_bars": selectors.tier_bars(stats["overall"]),
        "may_resettle": request.user.has_perm("claims.add_resettlerun"),
        "runs": ResettleRun.objects.restrict(request.user).filter(year=year)[:5],
    }
    return render(request, "claims/statistics.html", context)


@login_required
def risk(request):
    form, year, region = _scope(request)
    qs = selectors.warnings(PersonYearTotal.objects.restrict(request.user), year, region)
    claims = Claim.objects.restrict(request.user)
    if request.GET.get("format") == "xlsx":
        totals = list(qs[:20000])
        by_person = selectors.claims_of(totals, claims)
        # recorded: one row per person; full numbers: one on each person and each claim row
        return workbook.export(request, f"因病返贫致贫风险预警_{year}.xlsx",
                               exports.risk_sheets(totals, by_person, year), rows=len(totals))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    by_person = selectors.claims_of(list(page.object_list), claims)
    rows = [(t, shown_id_number(request.user, t.id_number), by_person.get(t.id_number, [])) for t in page]
    access_log.record_list(request, list(page.object_list), "claims.personyeartotal")
    return render(request, "claims/risk.html", {"form": form, "year": year, "region": region, "page": page,
                                                "rows": rows, "count": page.paginator.count})


@login_required
@require_POST
def resettle_start(request):
    if not request.user.has_perm("claims.add_resettlerun"):
        raise PermissionDenied
    form, year, region = _scope_post(request)
    back = f"{reverse('claims:statistics')}?year={year}&region={region}"
    ask = confirmations.resettle_ask(year, Region.objects.get(code=region), back)
    if not confirmation.is_confirmed(request, ask):
        return confirmation.confirmation_page(request, ask)
    run = services.start_resettle(year, region, reason=services.REASON_POLICY,
                                  user=request.user)
    messages.success(request, f"已开始重新结算{year}年度")
    return redirect("claims:resettle_run", run.pk)


def _scope_post(request):
    form = YearRegionForm(request.POST, user=request.user)
    year, region = form.year_and_region()
    if not Region.objects.filter(code=region).exists():
        raise PermissionDenied
    return form, year, region


@login_required
def resettle_run(request, pk: int):
    run = get_object_or_404(ResettleRun.objects.restrict(request.user).select_related("region", "policy"), pk=pk)
    changed = (Settlement.objects.restrict(request.user).filter(
        is_current=True, version__gt=1, claim__year=run.year, region__code__startswith=run.region_id,
        settled_at__gte=run.created_at).select_related("claim").order_by("claim__claim_no")[:20]
        if run.status == "done" else [])
    return render(request, "claims/resettle_run.html", {"run": run, "changed": changed,
                                                        "refresh": run.status in ("queued", "running")})
