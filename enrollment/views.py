"""Pages of 资助参保: subsidy computation and the live summary, issued reports (detail, .xlsx, A4 print),
the enrolment rate and the chase list. Thin: selectors read, services write, every query scoped."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from poverty_registry import access_log, confirmation, workbook
from poverty_registry.models import Person, Region
from poverty_registry.redirects import safe_next
from poverty_registry.scoping import region_scope
from poverty_registry.vocab import CATEGORIES

from . import exports, selectors, services, subsidy_reports
from .models import CHASE_STATUSES, SubsidyChange, SubsidyReport, SubsidyRun
from .subsidies import NoPolicy, compute_subsidies

PAGE_SIZE = 50


def _year(request) -> int:
    value = request.GET.get("year") or request.POST.get("year") or ""
    return int(value) if value.isdigit() and 2000 <= int(value) <= 2100 else timezone.localdate().year


def _scope(request) -> tuple[str, Region | None]:
    """The region the page is about: the user's own, or one below it (?region=); 404 outside."""
    scope = region_scope(request.user)
    prefix = scope.code()
    code = (request.GET.get("region") or request.POST.get("region") or prefix).strip()
    if code and not scope.covers(code):
        raise Http404("区划不在您的辖区内")
    region = Region.objects.filter(code=code).first() if code else None
    if code and region is None:
        raise Http404("区划不存在")
    return code, region


def _need(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


@login_required
def subsidies(request):
    _need(request, "enrollment.view_subsidyline")
    year, (scope, region) = _year(request), _scope(request)
    runs = SubsidyRun.objects.restrict(request.user).filter(year=year, finished_at__isnull=False)
    last_run = runs.first()
    changes = (SubsidyChange.objects.restrict(request.user, None).filter(run=last_run)
               .select_related("region")[:200] if last_run else [])
    return render(request, "enrollment/subsidies.html", {
        "year": year, "scope": scope, "region": region, "summary": subsidy_reports.live_summary(year, scope),
        "categories": CATEGORIES, "last_run": last_run, "changes": changes,
        "issued": SubsidyReport.objects.restrict(request.user).filter(year=year).select_related("issued_by")[:20],
        "may_compute": request.user.has_perm("enrollment.add_subsidyrun"),
        "may_issue": request.user.has_perm("enrollment.add_subsidyreport"),
    })


@login_required
@require_POST
def compute(request):
    _need(request, "enrollment.add_subsidyrun")
    year, (scope, _) = _year(request), _scope(request)
    try:
        run = compute_subsidies(year, user=request.user, scope_code=scope or None)
    except NoPolicy as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{year}年资助计算完成：资助 {run.persons} 人，合计 {run.total_subsidy:.2f} 元；"
                                  f"新增 {run.added}，变更 {run.changed}，取消 {run.removed}，未变 {run.unchanged}")
    return redirect(f"{reverse('enrollment:subsidies')}?year={year}&region={scope}")


@login_required
@require_POST
def issue(request):
    _need(request, "enrollment.add_subsidyreport")
    year, (scope, region) = _year(request), _scope(request)
    if region is None:
        messages.error(request, "请选择出具报表的区划")
        return redirect(reverse("enrollment:subsidies"))
    back = f"{reverse('enrollment:subsidies')}?year={year}&region={scope}"
    preview = subsidy_reports.issue_preview(year, scope)
    if preview.lines:  # nothing to freeze: the service says so below, no page to confirm
        ask = _issue_ask(year, region, preview, back)
        if not confirmation.is_confirmed(request, ask):
            return confirmation.confirmation_page(request, ask)
    try:
        report = subsidy_reports.issue_report(year, scope, request.user)
    except subsidy_reports.NothingToIssue as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, f"已出具报表，存根号 {report.serial_no}")
    return redirect("enrollment:report", pk=report.pk)


def _issue_ask(year: int, region: Region, preview: subsidy_reports.IssuePreview, back: str) -> confirmation.Ask:
    return confirmation.Ask(
        title=f"出具{year}年度资助参保报表",
        facts=[confirmation.Fact("区划", f"{region.full_name}（{region.code}）", "region"),
               confirmation.Fact("参保年度", f"{year}年", "year"),
               confirmation.Fact("资助人数", f"{preview.persons:,} 人", "persons"),
               confirmation.Fact("冻结明细", f"{preview.lines:,} 行", "lines"),
               confirmation.Fact("资助金额合计", f"¥{preview.amount:,.2f}", "amount"),
               confirmation.Fact("存根号", preview.serial_no, "serial")],
        consequence=f"将把{region.name}{year}年度当前的资助明细冻结为报表存根：存根出具后不能修改或删除，"
                    "以后重新计算资助只会显示为与该存根的差异。",
        button="确认出具报表", cancel_url=back)


def _report(request, pk) -> SubsidyReport:
    return get_object_or_404(SubsidyReport.objects.restrict(request.user).select_related("region", "issued_by"),
                             pk=pk)


@login_required
def report_detail(request, pk):
    report = _report(request, pk)
    comparison = subsidy_reports.compare_with_current(report, limit=500)
    access_log.record_list(request, comparison.differences, "enrollment.subsidyreport")
    return render(request, "enrollment/report.html", {
        "report": report, "summary": subsidy_reports.report_summary(report), "categories": CATEGORIES,
        "verified": subsidy_reports.verify_report(report), "comparison": comparison,
    })


@login_required
def report_xlsx(request, pk):
    report = _report(request, pk)
    return workbook.download(request, f"资助参保报表_{report.serial_no}.xlsx",
                             exports.report_workbook(report, request.user), report.lines.count(),
                             object_key=f"enrollment.subsidyreport:{report.pk}")


@login_required
def report_print(request, pk):
    report = _report(request, pk)
    return render(request, "enrollment/report_print.html", {
        "report": report, "summary": subsidy_reports.report_summary(report), "categories": CATEGORIES,
        "printed_at": timezone.localtime(),
    })


@login_required
def rate(request):
    _need(request, "enrollment.view_enrolment")
    year, (scope, region) = _year(request), _scope(request)
    table = selectors.enrolment_rates(year, scope, region)
    return render(request, "enrollment/rate.html", {
        "table": table, "year": year, "scope": scope, "region": region,
        "drill": len(scope) < 9, "subsidy_total": selectors.subsidy_total(year, scope),
    })


@login_required
def chase(request):
    _need(request, "enrollment.view_chaseentry")
    year, (scope, region) = _year(request), _scope(request)
    status = request.GET.get("status") or None
    if status not in CHASE_STATUSES:
        status = None
    if request.GET.get("format") == "xlsx":
        items = selectors.chase_list(year, scope, status)
        return workbook.export(request, f"{year}年未参保人员_{scope or '全部'}.xlsx",
                               [exports.chase_sheet(items, year)])
    paginator = Paginator(range(selectors.chase_count(year, scope, status)), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    items = selectors.chase_list(year, scope, status, offset=page.start_index() - 1 if page.object_list else 0,
                                 limit=PAGE_SIZE)
    names = dict(Region.objects.filter(code__in={i.region_code for i in items}).values_list("code", "name"))
    access_log.record_list(request, items, "enrollment.chaseentry")
    return render(request, "enrollment/chase.html", {
        "year": year, "scope": scope, "region": region, "status": status or "", "page": page, "items": items,
        "names": names, "statuses": CHASE_STATUSES,
        "may_change": request.user.has_perm("enrollment.change_chaseentry"),
    })


@login_required
@require_POST
def chase_status(request, person_id):
    _need(request, "enrollment.change_chaseentry")
    person = get_object_or_404(Person.objects.restrict(request.user, None), pk=person_id)
    year = _year(request)
    try:
        services.set_chase_status(person, year, request.POST.get("status", ""), request.POST.get("note", ""),
                                  request.user)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, f"已更新 {person.name} 的跟进状态")
    return redirect(safe_next(request, request.POST.get("next"), f"{reverse('enrollment:chase')}?year={year}"))
