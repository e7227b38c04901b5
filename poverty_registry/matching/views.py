"""Matching pages: run history, a township's work queue (filters, search, .xlsx export), a work item with its
follow-ups and history, and the page to confirm or reject probable links. Thin: scoping by restrict(),
writes through matching.services."""
from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from poverty_registry.models import AuditRecord

from .. import access_log, confirmation, workbook
from ..admin_base import shown_id_number
from ..audit.display import source_label
from ..background import BACKGROUND_UNAVAILABLE, broker_available, enqueue
from ..idnumber import mask_id_number
from ..models import MatchingItem, MatchingRun, MatchingRunCount, MatchLink, Region
from ..redirects import safe_next
from . import run as matching_run
from . import services
from .filters import MatchingItemFilterSet
from .vocab import DIFFERENCES, ITEM_STATUSES, ITEM_TRANSITIONS

EXPORT_COLUMNS = ("差异", "状态", "所属区划", "姓名", "身份证号", "来源", "差异说明", "发现批次", "发现时间",
                  "处理说明")

@login_required
def queue(request):
    items = MatchingItem.objects.restrict(request.user).select_related("region", "first_run")
    filterset = MatchingItemFilterSet(request.GET, queryset=items)
    found = filterset.qs.order_by("code", "region_id", "id")
    if request.GET.get("export") == "xlsx":
        return _export(request, found)
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    for item in page:
        item.shown_id = shown_id_number(request.user, item.id_number)
    access_log.record_list(request, list(page), MatchingItem._meta.label_lower)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "matching/queue.html", {
        "filter": filterset, "page": page, "query": query.urlencode(),
        "may_change": request.user.has_perm("poverty_registry.change_matchingitem"),
    })


def _export(request, items) -> HttpResponse:
    rows = ([f"{item.code} {DIFFERENCES[item.code]}", item.get_status_display(),
             f"{item.region.name}（{item.region_id}）", item.name, item.id_number, item.get_source_display(),
             item.summary, item.first_run_id, timezone.localtime(item.created_at).strftime("%Y-%m-%d %H:%M"),
             item.note] for item in items.iterator(chunk_size=2000))
    return workbook.export(request, f"matching_items_{timezone.localdate():%Y%m%d}.xlsx",
                           [workbook.Sheet("比对差异", EXPORT_COLUMNS, rows, id_columns=(4,))])


@login_required
def item_detail(request, pk):
    item = get_object_or_404(MatchingItem.objects.restrict(request.user).select_related("person", "region", "link"),
                             pk=pk)
    if request.method == "POST":
        return _act_on_item(request, pk)
    history = list(AuditRecord.objects.filter(table_name=MatchingItem._meta.db_table, object_pk=str(item.pk))
                   .order_by("id"))
    for record in history:
        record.status_label = ITEM_STATUSES.get((record.after or {}).get("status"), "")
        record.source_label = source_label(record.source)
    may_change = MatchingItem.objects.restrict(request.user, "change").filter(pk=pk).exists()
    if access_log.may_see_full_id(request.user):
        access_log.record_access(request, "full_id_page", object_key=f"{MatchingItem._meta.label_lower}:{pk}",
                                 rows=1, full_ids=1)
    return render(request, "matching/item.html", {
        "item": item, "shown_id": shown_id_number(request.user, item.id_number), "history": history,
        "may_change": may_change,
        "moves": [(s, ITEM_STATUSES[s]) for s in ITEM_TRANSITIONS[item.status]] if may_change else [],
        "may_mark_deceased": may_change and item.is_open and item.code == "M05" and item.person_id is not None
        and request.user.has_perm("poverty_registry.change_person"),
        "may_add_category": may_change and item.is_open and item.code == "M04"
        and item.detail.get("direction") == "missing" and request.user.has_perm("poverty_registry.add_personcategory"),
    })


def _act_on_item(request, pk):
    item = get_object_or_404(MatchingItem.objects.restrict(request.user, "change").select_related("person"), pk=pk)
    action = request.POST.get("action", "")
    try:
        if action == "status":
            services.change_status(item, request.user, request.POST.get("status", ""), request.POST.get("note", ""))
        elif action == "mark_deceased" and request.user.has_perm("poverty_registry.change_person"):
            ask = _deceased_ask(item)
            if not confirmation.is_confirmed(request, ask):
                return confirmation.confirmation_page(request, ask)
            services.mark_deceased(item, request.user)
        elif action == "add_category" and request.user.has_perm("poverty_registry.add_personcategory"):
            services.add_category(item, request.user)
        else:
            raise services.ActionRefused("不支持的操作")
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "已保存")
    return redirect("matching:item", pk=pk)


def _deceased_ask(item: MatchingItem) -> confirmation.Ask:
    preview = services.deceased_preview(item)
    person, death = item.person, preview.death_date
    recorded = "无" if preview.recorded_death is None else f"{preview.recorded_death}（将改为 {death}）"
    Fact = confirmation.Fact
    return confirmation.Ask(
        title="在台账中标记死亡",
        facts=[Fact("人员", f"{person.name}（{mask_id_number(person.id_number)}）", "person"),
               Fact("死亡日期（公安死亡记录）", str(death), "death"),
               Fact("台账现有死亡日期", recorded, "recorded"),
               Fact("该人员未关闭的比对事项", f"{preview.open_items} 项（本事项将标为已处理，其余不变）", "items"),
               Fact("死亡日期后仍有效的人员类别", f"{preview.categories_after} 条（不会自动终止）", "categories"),
               Fact(f"{death.year + 1}年及以后的参保记录", f"{preview.enrolments_after} 条", "enrolments"),
               Fact(f"{death.year + 1}年及以后的资助明细",
                    f"{preview.subsidy_lines_after} 条，¥{preview.subsidy_after:,.2f}（下次计算资助时取消）",
                    "subsidies")],
        consequence=f"将在建档立卡台账中把{person.name}标记为死亡（死亡日期 {death}）：此后不再计算资助，"
                    "死亡日期后的就医将被R01规则筛出。",
        button="确认标记死亡", cancel_url=reverse("matching:item", args=[item.pk]))


@login_required
def runs(request):
    page = Paginator(MatchingRun.objects.restrict(request.user), 20).get_page(request.GET.get("page"))
    counts = defaultdict(dict)
    visible = MatchingRunCount.objects.restrict(request.user).filter(run__in=[r.pk for r in page])
    for row in visible.values("run_id", "code").annotate(total=Sum("count")):
        counts[row["run_id"]][row["code"]] = row["total"]
    for run in page:
        run.visible_counts = [counts[run.pk].get(code, 0) for code in DIFFERENCES]
    return render(request, "matching/runs.html", {"page": page, "codes": list(DIFFERENCES.items()),
                                                  **_last_runs(request)})


NIGHTLY = "beat"  # triggered_by of the nightly run (matching_tasks.nightly_matching), "recover" when resumed


def _last_runs(request) -> dict:
    """The last nightly run (and a newer one started otherwise), the running one, and may the user start."""
    runs = MatchingRun.objects.restrict(request.user)
    finished = runs.exclude(status="running")
    nightly = finished.filter(triggered_by__in=(NIGHTLY, "recover")).first()
    latest = finished.first()
    for run in filter(None, (nightly, latest)):
        run.total = sum(run.counts.values())
    schedule = settings.CELERY_BEAT_SCHEDULE["nightly-matching"]["schedule"]
    return {"nightly": nightly, "latest": latest if latest and latest != nightly else None,
            "current": runs.filter(status="running").first(),
            "at": f"{min(schedule.hour):02d}:{min(schedule.minute):02d}",
            "may_start": request.user.has_perm("poverty_registry.add_matchingrun")}


@require_POST
@login_required
@permission_required("poverty_registry.add_matchingrun", raise_exception=True)
def start_run(request):
    """立即比对: take the run lock here (a second start is refused at once), then hand the run to the
    worker (matching.start resumes the run it finds running and nobody working on)."""
    if not broker_available():
        messages.error(request, BACKGROUND_UNAVAILABLE)
        return redirect("matching:runs")
    running = MatchingRun.objects.filter(status="running").first()
    if running is not None:
        messages.error(request, str(matching_run.AlreadyRunning(running)))
        return redirect("matching:runs")
    try:
        run, _ = matching_run.begin(None, f"页面：{request.user.username}")
    except matching_run.AlreadyRunning as exc:
        messages.error(request, str(exc))
        return redirect("matching:runs")
    from ..matching_tasks import start_matching

    if enqueue(start_matching, None, run.triggered_by):
        messages.success(request, f"已开始第{run.pk}次比对，完成后本页自动刷新")
    else:
        MatchingRun.objects.filter(pk=run.pk, status="running", phase="started").update(
            status="failed", phase="finished", finished_at=timezone.now(), message=BACKGROUND_UNAVAILABLE)
        messages.error(request, BACKGROUND_UNAVAILABLE)
    return redirect("matching:runs")


@login_required
def run_status(request):
    """The running (else the last) run's progress by county, polled by the runs page."""
    run = MatchingRun.objects.restrict(request.user).first()
    if run is None:
        return JsonResponse({"running": False, "percent": 0, "stage": "", "status_display": ""})
    shards = list(run.shards.values_list("status", flat=True))
    done = sum(1 for status in shards if status != "pending")
    stage = (f"第{run.pk}次比对：{run.get_phase_display()}" if not shards
             else f"第{run.pk}次比对：已完成 {done}/{len(shards)} 个县（区）")
    percent = 5 if not shards else 10 + int(90 * done / len(shards))
    return JsonResponse({"running": run.status == "running", "percent": 100 if run.status != "running" else percent,
                         "stage": stage, "status_display": run.get_status_display()})


@login_required
def run_detail(request, pk):
    run = get_object_or_404(MatchingRun.objects.restrict(request.user), pk=pk)
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for row in MatchingRunCount.objects.restrict(request.user).filter(run=run).values("region_id", "code", "count"):
        table[row["region_id"]][row["code"]] = row["count"]
    names = dict(Region.objects.filter(code__in=table).values_list("code", "name"))
    rows = [(code, names.get(code, code), [table[code].get(c, 0) for c in DIFFERENCES]) for code in sorted(table)]
    totals = [sum(r[2][i] for r in rows) for i in range(len(DIFFERENCES))]
    return render(request, "matching/run_detail.html", {
        "run": run, "rows": rows, "totals": totals, "codes": list(DIFFERENCES.items())})


@login_required
def links(request):
    proposed = (MatchLink.objects.restrict(request.user).filter(status="proposed")
                .select_related("person", "person__region").order_by("-score", "id"))
    page = Paginator(proposed, 50).get_page(request.GET.get("page"))
    for link in page:
        link.shown_key = shown_id_number(request.user, link.match_key)
        link.shown_person_id = shown_id_number(request.user, link.person.id_number)
    if access_log.may_see_full_id(request.user) and page.object_list:  # each link: the listed and the ledger's number
        access_log.record_access(request, "full_id_list", object_key=MatchLink._meta.label_lower,
                                 filters=access_log.masked_filters(request.GET), rows=len(page.object_list),
                                 full_ids=2 * len(page.object_list))
    return render(request, "matching/links.html", {
        "page": page, "may_change": request.user.has_perm("poverty_registry.change_matchlink")})


@require_POST
@login_required
def decide_link(request, pk):
    link = get_object_or_404(MatchLink.objects.restrict(request.user, "change"), pk=pk)
    decision = request.POST.get("decision")
    try:
        if decision not in ("confirm", "reject"):
            raise services.ActionRefused("请选择确认或否决")
        services.decide_link(link, request.user, decision == "confirm", request.POST.get("note", ""))
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "已确认为同一人" if decision == "confirm" else "已否决")
    return redirect(safe_next(request, request.POST.get("next"), "matching:links"))
