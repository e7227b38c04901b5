"""The supervisors' pages (基金监管): audit overview with charts, hits, a claim's drill-down, a hospital's
profile, cases and their state machine, exports. Thin: every queryset is restrict()-ed to the user's region,
selectors live in claims.supervision_selectors and operations in claims.supervision.cases."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from poverty_registry import access_log, confirmation, workbook
from poverty_registry.admin_base import audit_url, shown_id_number
from poverty_registry.background import BACKGROUND_UNAVAILABLE, broker_available, enqueue
from poverty_registry.models import Region
from poverty_registry.redirects import safe_next
from poverty_registry.uploads import UPLOAD_NOT_STORED, upload_not_stored
from poverty_registry.workbook import Sheet

from .. import confirmations
from ..models import Case, CaseAttachment, Claim, Hospital, ScreeningHit, ScreeningRun
from . import cases as case_service
from . import screening_runs, selectors
from .rules import RULES, SEVERITIES

VIEW_HITS = "claims.view_screeninghit"
VIEW_CASES = "claims.view_case"
RUN_SCREENING = "claims.run_screening"


# ---- helpers ---------------------------------------------------------------------------------------------

def _year(request, hits) -> int:
    try:
        return int(request.GET.get("year") or 0) or selectors.latest_year(hits, timezone.localdate().year)
    except ValueError:
        return timezone.localdate().year


def _hit_filters(request) -> dict:
    get = request.GET
    hospital = get.get("hospital", "")
    return {"rule": get.get("rule", "") if get.get("rule", "") in RULES else "",
            "severity": get.get("severity", "") if get.get("severity", "") in SEVERITIES else "",
            "status": get.get("status", "active") if get.get("status", "active") in ("active", "resolved", "") else "",
            "hospital": int(hospital) if hospital.isdigit() else None,
            "township": get.get("township", "") if get.get("township", "").isdigit() else "",
            "month": get.get("month", ""), "claim_no": get.get("q", "")}


def settlement_sheet_url(claim_pk) -> str:
    """The claim's settlement sheet (结算单) page of the settlement pages, when it exists."""
    for name in ("claims:sheet", "claims:settlement_sheet"):
        try:
            return reverse(name, args=[claim_pk])
        except NoReverseMatch:
            continue
    return ""


def visible_hospitals(user, extra_ids=()):
    """Hospitals in the user's region, plus those named by claims of the user's region (`extra_ids`)."""
    return Hospital.objects.filter(Q(pk__in=Hospital.objects.restrict(user, None).values("pk")) | Q(pk__in=extra_ids))


def claim_admin_url(claim_pk) -> str:
    try:
        return reverse("admin:claims_claim_change", args=[claim_pk])
    except NoReverseMatch:
        return ""


# ---- overview, hits, claim, hospital ------------------------------------------------------------------------

def _overview_data(request) -> dict:
    user = request.user
    all_hits = ScreeningHit.objects.restrict(user)
    year = _year(request, all_hits)
    hits = all_hits.filter(year=year, status="active")
    cases = Case.objects.restrict(user)
    hits_url = reverse("supervision:hits")
    return {
        "year": year, "years": sorted(set(all_hits.values_list("year", flat=True).distinct()) | {year}),
        "total_hits": hits.count(), "hit_claims": hits.values("claim_id").distinct().count(),
        "by_rule": selectors.bars(selectors.hits_by_rule(hits), lambda r: f"{r[0]} {r[1]}",
                                lambda r: f"{hits_url}?year={year}&rule={r[0]}"),
        "by_hospital": selectors.bars(selectors.hits_by_hospital(hits), lambda r: r[1],
                                    lambda r: reverse("supervision:hospital", args=[r[0]])),
        "by_township": selectors.bars(selectors.hits_by_township(hits), lambda r: r[1],
                                    lambda r: f"{hits_url}?year={year}&township={r[0]}"),
        "by_month": selectors.bars(selectors.hits_by_month(hits), lambda r: r[0],
                                 lambda r: f"{hits_url}?year={year}&month={r[0]}"),
        "by_age": selectors.bars(selectors.open_cases_by_age(cases, timezone.localdate())),
        "by_state": selectors.cases_by_state(cases),
        "money": selectors.money(cases),
    }


def _screening_panel(request, year: int) -> dict:
    """The line about the last screening runs and, for holders of run_screening, the start button."""
    runs = ScreeningRun.objects.restrict(request.user)
    finished = runs.exclude(status="running")
    nightly = finished.filter(triggered_by=screening_runs.NIGHTLY).first()
    latest = finished.first()
    schedule = settings.CELERY_BEAT_SCHEDULE["nightly-screening"]["schedule"]
    return {"screening": {
        "nightly": nightly, "latest": latest if latest and latest != nightly else None,
        "current": runs.filter(status="running").first(), "year": year,
        "at": f"{min(schedule.hour):02d}:{min(schedule.minute):02d}",
        "may_run": request.user.has_perm(RUN_SCREENING), "next": request.get_full_path(),
    }}


@login_required
@permission_required(VIEW_HITS, raise_exception=True)
def overview(request):
    data = _overview_data(request)
    data.update(_screening_panel(request, data["year"]))
    money = data["money"]
    data["money_bars"] = selectors.bars([("应追回（含罚款）", money["due"]), ("已追回", money["recovered"]),
                                       ("未追回余额", money["balance"])])
    for bar, cls in zip(data["money_bars"], ("", "recovered", "balance")):
        bar["cls"], bar["value"] = cls, f"¥{bar['value']:,.2f}"
    return render(request, "supervision/overview.html", data)


@login_required
@permission_required(VIEW_HITS, raise_exception=True)
def overview_export(request):
    data = _overview_data(request)
    m = data["money"]
    return workbook.export(request, f"audit_{data['year']}.xlsx", [
        Sheet("按规则", ["规则", "名称", "默认风险等级", "疑点数"], [b["row"] for b in data["by_rule"]]),
        Sheet("按医院", ["医院ID", "医疗机构", "疑点数"], [b["row"] for b in data["by_hospital"]]),
        Sheet("按乡镇", ["乡镇代码", "乡镇", "疑点数"], [b["row"] for b in data["by_township"]]),
        Sheet("按月份", ["入院月份", "疑点数"], [b["row"] for b in data["by_month"]]),
        Sheet("在办案件账龄", ["立案时长", "案件数"], [b["row"] for b in data["by_age"]]),
        Sheet("追回", ["已认定案件", "应追回", "罚款", "合计应追回", "已追回", "余额"],
              [[m["cases"], m["to_recover"], m["penalty"], m["due"], m["recovered"], m["balance"]]]),
    ])


def _filtered_hits(request):
    hits = ScreeningHit.objects.restrict(request.user)
    year = _year(request, hits)
    filters = _hit_filters(request)
    return selectors.filter_hits(hits, year=year, **filters), year, filters


@login_required
@permission_required(VIEW_HITS, raise_exception=True)
def hit_list(request):
    hits, year, filters = _filtered_hits(request)
    page = Paginator(hits.select_related("claim__hospital", "region").order_by("-claim__admission_date", "-id"),
                     50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    access_log.record_list(request, list(page.object_list), ScreeningHit._meta.label_lower)
    return render(request, "supervision/hits.html", {
        **_screening_panel(request, year),
        "page": page, "year": year, "filters": filters, "rules": RULES, "severities": SEVERITIES,
        "query": query.urlencode(), "can_open": request.user.has_perm("claims.add_case"),
        "rows": [(h, shown_id_number(request.user, h.claim.id_number)) for h in page.object_list],
    })


@login_required
@permission_required(VIEW_HITS, raise_exception=True)
def hit_export(request):
    hits, year, _ = _filtered_hits(request)
    rows = ([h.rule, RULES[h.rule].name, h.get_severity_display(), h.get_status_display(), h.claim.claim_no,
             h.claim.hospital.name, h.claim.name, h.claim.id_number, h.claim.admission_date,
             h.claim.discharge_date, h.claim.diagnosis, h.claim.total_cost, h.region_id,
             ", ".join(str(i) for i in h.evidence_claim_ids)]
            for h in hits.select_related("claim__hospital").order_by("rule", "claim__admission_date")[:100000])
    return workbook.export(request, f"hits_{year}.xlsx", [Sheet("疑点", [
        "规则", "名称", "风险等级", "状态", "结算单号", "医疗机构", "姓名", "身份证号", "入院日期", "出院日期",
        "诊断", "总费用", "区划", "证据结算单ID"], rows, id_columns=(7,))])


@login_required
@permission_required(VIEW_HITS, raise_exception=True)
def claim_detail(request, pk):
    claims = Claim.objects.restrict(request.user)
    claim = get_object_or_404(claims.select_related("hospital", "region"), pk=pk)
    hits = list(ScreeningHit.objects.restrict(request.user).filter(claim=claim).prefetch_related("cases"))
    evidence_ids = {i for h in hits for i in h.evidence_claim_ids}
    evidence = {c.pk: c for c in claims.filter(pk__in=evidence_ids).select_related("hospital")}
    access_log.record_access(request, "claim", object_key=f"claims.claim:{claim.pk}", rows=1,
                             full_ids=int(access_log.may_see_full_id(request.user)))
    return render(request, "supervision/claim.html", {
        "claim": claim, "id_number": shown_id_number(request.user, claim.id_number),
        "hits": [(h, [(i, evidence.get(i)) for i in h.evidence_claim_ids],
                  Case.objects.restrict(request.user).filter(hits=h)) for h in hits],
        "audit_url": audit_url(Claim, claim.pk), "admin_url": claim_admin_url(claim.pk),
        "sheet_url": settlement_sheet_url(claim.pk), "rules": RULES,
        "can_open": request.user.has_perm("claims.add_case"),
    })


@login_required
@permission_required(VIEW_HITS, raise_exception=True)
def hospital_profile(request, pk):
    user = request.user
    claims = Claim.objects.restrict(user)
    hospital = get_object_or_404(visible_hospitals(user, claims.filter(hospital_id=pk).values("hospital_id")[:1]),
                                 pk=pk)
    profile = selectors.hospital_profile(hospital, claims, ScreeningHit.objects.restrict(user),
                                       Case.objects.restrict(user))
    hits_url = reverse("supervision:hits")
    profile["by_rule_bars"] = selectors.bars(profile["by_rule"], lambda r: f"{r[0]} {r[1]}",
                                           lambda r: f"{hits_url}?hospital={hospital.pk}&rule={r[0]}")
    return render(request, "supervision/hospital.html", {"hospital": hospital, **profile,
                                                         "audit_url": audit_url(Hospital, hospital.pk)})


# ---- cases -----------------------------------------------------------------------------------------------

@login_required
@permission_required(VIEW_CASES, raise_exception=True)
def case_list(request):
    cases = Case.objects.restrict(request.user).select_related("region", "opened_by", "target_hospital")
    state, source = request.GET.get("state", ""), request.GET.get("source", "")
    if state in Case.STATES:
        cases = cases.filter(state=state)
    if source in Case.SOURCES:
        cases = cases.filter(source=source)
    page = Paginator(cases.order_by("-opened_at", "-id"), 50).get_page(request.GET.get("page"))
    today = timezone.localdate()
    return render(request, "supervision/cases.html", {
        "page": page, "state": state, "source": source, "states": Case.STATES, "sources": Case.SOURCES,
        "rows": [(c, (today - timezone.localtime(c.opened_at).date()).days) for c in page.object_list],
        "can_open": request.user.has_perm("claims.add_case"),
    })


class ManualCaseForm(forms.Form):
    source = forms.ChoiceField(label="案件来源", choices=[(k, v) for k, v in Case.SOURCES.items() if k != "hit"])
    title = forms.CharField(label="案件名称", max_length=120)
    region = forms.ModelChoiceField(label="所属区划", queryset=Region.objects.none())
    description = forms.CharField(label="案情摘要", widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.restrict(user, None).filter(level__lte=4)


@login_required
@permission_required("claims.add_case", raise_exception=True)
def case_new(request):
    form = ManualCaseForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            case = case_service.open_case_by_hand(request.user, source=data["source"], title=data["title"],
                                                  region_code=data["region"].code, description=data["description"])
        except case_service.CaseError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"已立案：{case.number}")
            return redirect("supervision:case", case.pk)
    return render(request, "supervision/case_new.html", {"form": form})


@login_required
@permission_required("claims.add_case", raise_exception=True)
@require_POST
def case_from_hits(request):
    ids = [int(v) for v in request.POST.getlist("hit") if v.isdigit()]
    try:
        case = case_service.open_case_from_hits(request.user, ids, request.POST.get("title", ""),
                                                request.POST.get("description", ""))
    except case_service.CaseError as exc:
        messages.error(request, str(exc))
        return redirect(safe_next(request, request.POST.get("back"), "supervision:hits"))
    messages.success(request, f"已立案：{case.number}")
    return redirect("supervision:case", case.pk)


class FindingsForm(forms.Form):
    target_kind = forms.ChoiceField(label="处理对象类型", choices=list(Case.TARGET_KINDS.items()))
    target_hospital = forms.ModelChoiceField(label="定点医疗机构", queryset=Hospital.objects.none(), required=False)
    target_name = forms.CharField(label="对象名称/姓名（药店、个人）", max_length=100, required=False)
    target_id_number = forms.CharField(label="身份证号（个人）", max_length=18, required=False)
    amount_to_recover = forms.DecimalField(label="应追回金额（元）", max_digits=14, decimal_places=2, min_value=0)
    penalty_multiple = forms.DecimalField(label="处罚倍数（可空）", max_digits=4, decimal_places=2, required=False)
    finding = forms.CharField(label="调查结论", widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, user, case, *args, **kwargs):
        super().__init__(*args, **kwargs)
        named = case.hits.values("claim__hospital_id")
        if case.target_hospital_id:
            named = list(named.values_list("claim__hospital_id", flat=True)) + [case.target_hospital_id]
        self.fields["target_hospital"].queryset = visible_hospitals(user, named)


class RecoveryForm(forms.Form):
    amount = forms.DecimalField(label="到账金额（元）", max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    paid_on = forms.DateField(label="到账日期", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    payer = forms.CharField(label="缴款单位/个人", max_length=100, required=False)
    receipt_no = forms.CharField(label="票据号", max_length=60, required=False)
    note = forms.CharField(label="备注", max_length=200, required=False)


class AttachmentForm(forms.Form):
    file = forms.FileField(label="证据材料")


def _case_context(request, case, **forms_given) -> dict:
    user = request.user
    can_change = user.has_perm("claims.change_case") and Case.objects.restrict(user, "change").filter(
        pk=case.pk).exists()
    hits = list(case.hits.select_related("claim__hospital").order_by("claim__admission_date"))
    return {
        "case": case, "can_change": can_change, "actions": case_service.allowed_actions(case) if can_change else [],
        "labels": {a: label for a, (_, _, label) in case_service.TRANSITIONS.items()},
        "hits": [(h, shown_id_number(user, h.claim.id_number), audit_url(Claim, h.claim_id)) for h in hits],
        "events": [(e, Case.STATES.get(e.from_state, ""), Case.STATES.get(e.to_state, ""))
                   for e in case.events.select_related("user")],
        "recoveries": case.recoveries.select_related("entered_by"),
        "attachments": case.attachments.select_related("uploaded_by"),
        "target_id": shown_id_number(user, case.target_id_number) if case.target_id_number else "",
        "audit_url": audit_url(Case, case.pk), "rules": RULES,
        "findings_form": forms_given.get("findings") or FindingsForm(user, case, initial={
            "target_kind": case.target_kind or "hospital", "target_hospital": case.target_hospital_id,
            "target_name": case.target_name, "target_id_number": case.target_id_number,
            "amount_to_recover": case.amount_to_recover, "penalty_multiple": case.penalty_multiple,
            "finding": case.finding}),
        "recovery_form": forms_given.get("recovery") or RecoveryForm(initial={"paid_on": timezone.localdate()}),
        "attachment_form": forms_given.get("attachment") or AttachmentForm(),
        "penalty_range": case_service.penalty_range(case.region_id, case.opened_at.year),
    }


@login_required
@permission_required(VIEW_CASES, raise_exception=True)
def case_detail(request, pk):
    case = get_object_or_404(Case.objects.restrict(request.user).select_related(
        "region", "opened_by", "investigator", "reviewer", "target_hospital"), pk=pk)
    context = _case_context(request, case)
    if access_log.may_see_full_id(request.user):  # the hits' claimants and a person under investigation
        shown = len(context["hits"]) + bool(case.target_id_number)
        if shown:
            access_log.record_access(request, "full_id_page", object_key=f"claims.case:{case.pk}", rows=shown,
                                     full_ids=shown)
    return render(request, "supervision/case.html", context)


@login_required
@permission_required("claims.change_case", raise_exception=True)
@require_POST
def case_action(request, pk):
    """Every state change and entry of the case page: the service decides, the page selectors."""
    user = request.user
    case = get_object_or_404(Case.objects.restrict(user, "change"), pk=pk)
    action = request.POST.get("action", "")
    if request.POST.get("seen_state") and request.POST["seen_state"] != case.state:
        messages.error(request, f"案件状态已变为“{case.get_state_display()}”，请核对后重试")
        return redirect("supervision:case", case.pk)
    note = request.POST.get("note", "")
    simple = {"investigate": case_service.start_investigation, "confirm": case_service.confirm,
              "recover": case_service.start_recovery, "close": case_service.close}
    try:
        if action == "confirm" and case.state in case_service.TRANSITIONS["confirm"][0]:
            case_service.check_may_confirm(case, user)  # refused before the page that asks, not after
            ask = confirmations.case_confirm_ask(case, reverse("supervision:case", args=[case.pk]))
            if not confirmation.is_confirmed(request, ask):
                return confirmation.confirmation_page(request, ask)
        if action in simple:
            simple[action](case, user, note)
            messages.success(request, f"已{case_service.TRANSITIONS[action][2]}")
        elif action == "dismiss":
            case_service.dismiss(case, user, request.POST.get("reason", ""))
            messages.success(request, "已排除疑点")
        elif action == "findings":
            form = FindingsForm(user, case, request.POST)
            if not form.is_valid():
                return render(request, "supervision/case.html", _case_context(request, case, findings=form))
            case_service.record_findings(case, user, **form.cleaned_data)
            messages.success(request, "已保存调查结论")
        elif action == "recovery":
            form = RecoveryForm(request.POST)
            if not form.is_valid():
                return render(request, "supervision/case.html", _case_context(request, case, recovery=form))
            recovery = case_service.add_recovery(case, user, **form.cleaned_data)
            messages.success(request, f"已录入追回款 ¥{recovery.amount:,.2f}")
        elif action == "attachment":
            if upload_not_stored(request):
                raise case_service.CaseError(UPLOAD_NOT_STORED)
            form = AttachmentForm(request.POST, request.FILES)
            if not form.is_valid():
                return render(request, "supervision/case.html", _case_context(request, case, attachment=form))
            case_service.add_attachment(case, user, form.cleaned_data["file"])
            messages.success(request, "已上传证据材料")
        else:
            messages.error(request, "未知操作")
    except (case_service.CaseError, InvalidOperation) as exc:
        messages.error(request, str(exc))
    return redirect("supervision:case", case.pk)


@login_required
@permission_required(VIEW_CASES, raise_exception=True)
def case_attachment(request, pk, attachment_pk):
    case = get_object_or_404(Case.objects.restrict(request.user), pk=pk)
    attachment = get_object_or_404(CaseAttachment.objects.filter(case=case), pk=attachment_pk)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("文件不存在") from None
    access_log.record_access(request, "download", object_key=f"claims.caseattachment:{attachment.pk}",
                             file_name=attachment.name, rows=1)
    return FileResponse(handle, as_attachment=True, filename=attachment.name)


@login_required
@permission_required(VIEW_CASES, raise_exception=True)
def publication_export(request):
    """公示: closed, confirmed cases, persons' names and ID numbers masked whatever the user may see."""
    rows = case_service.publication_rows(Case.objects.restrict(request.user))
    return workbook.export(request, f"publication_{dt.date.today():%Y%m%d}.xlsx",
                           [Sheet("公示", case_service.PUBLICATION_HEADERS, rows)])


# ---- screening on demand -----------------------------------------------------------------------------------

@require_POST
@login_required
@permission_required(RUN_SCREENING, raise_exception=True)
def screen_now(request):
    """立即筛查: begin a ScreeningRun of the year here (a second start is refused at once), then hand it to
    the worker (supervision.screen_nightly with the run's id)."""
    back = safe_next(request, request.POST.get("next"), "supervision:overview")
    today = timezone.localdate()
    try:
        year = int(request.POST.get("year", ""))
    except ValueError:
        year = 0
    if not 2000 <= year <= today.year + 1:
        messages.error(request, "请选择要筛查的结算年度")
        return redirect(back)
    if not broker_available():
        messages.error(request, BACKGROUND_UNAVAILABLE)
        return redirect(back)
    try:
        run = screening_runs.begin([year], f"页面：{request.user.username}")
    except screening_runs.AlreadyScreening as exc:
        messages.error(request, str(exc))
        return redirect(back)
    from .tasks import screen_nightly

    if not enqueue(screen_nightly, None, run.pk):
        screening_runs.give_up(run.pk, BACKGROUND_UNAVAILABLE)
        messages.error(request, BACKGROUND_UNAVAILABLE)
    else:
        messages.success(request, f"已开始筛查{year}年的结算单（第{run.pk}次筛查），完成后本页自动刷新")
    return redirect(back)


@login_required
def screening_status(request):
    """The running (else the last) screening run, polled by the pages' progress bar."""
    run = ScreeningRun.objects.restrict(request.user).first()
    if run is None:
        return JsonResponse({"running": False, "percent": 0, "stage": "", "status_display": ""})
    stage = f"第{run.pk}次筛查：已完成 {run.rules_done}/{run.rules_total} 条规则"
    if run.status == "running" and run.started_at is None:
        stage = f"第{run.pk}次筛查：排队等待后台任务"
    return JsonResponse({"running": run.status == "running", "percent": run.percent, "stage": stage,
                         "status_display": run.get_status_display()})
