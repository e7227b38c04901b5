"""Pages of the import framework: upload → preview (counts, rejected rows) → confirm; progress for
large files; the error file; the empty template. Thin: the work is in poverty_registry.importing."""
from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import importing, workbook
from .access_log import may_see_full_id
from .models import ImportRun
from .scoping import region_scope
from .tabular import MB, TableFormatError, limits
from .uploads import UPLOAD_NOT_STORED, upload_not_stored

ACCEPTED_SUFFIXES = (".xlsx", ".xls", ".csv")
RUNNING = set(ImportRun.RUNNING)


def _kind(code: str, user) -> importing.ImportKind:
    kind = importing.KINDS.get(code)
    if kind is None:
        raise Http404("未知的导入类型")
    if not user.has_perm(kind.permission):
        raise PermissionDenied
    region_scope(user).code()  # an account without a region imports nothing (PermissionDenied)
    return kind


def _run(request, pk: int) -> ImportRun:
    return get_object_or_404(ImportRun.objects.restrict(request.user).select_related("user", "region"), pk=pk)


def _page(request, template: str, context: dict):
    return render(request, template, {**admin.site.each_context(request), **context})


@login_required
def new(request, kind_code: str):
    kind = _kind(kind_code, request.user)
    if request.method == "POST":
        upload = request.FILES.get("file")
        error = UPLOAD_NOT_STORED if upload_not_stored(request) else _upload_problem(upload)
        if error is None:
            try:
                run = importing.upload(kind.code, upload.read(), upload.name, request.user)
                return redirect("imports:detail", run.pk)
            except (TableFormatError, ValueError) as exc:
                error = str(exc)
        messages.error(request, error)
    history = ImportRun.objects.restrict(request.user).filter(kind=kind.code).select_related("user")[:10]
    return _page(request, "imports/new.html", {"kind": kind, "title": f"导入{kind.label}", "history": history})


def _upload_problem(upload) -> str | None:
    if upload is None:
        return "请选择要上传的文件"
    if not upload.name.lower().endswith(ACCEPTED_SUFFIXES):
        return "只能上传 .xlsx、.xls 或 .csv 文件"
    if upload.size > limits().file_bytes:
        return f"文件超过 {limits().file_bytes // MB} MB 的上限，请拆分后上传"
    if upload.size == 0:
        return "文件是空的"
    return None


@login_required
def detail(request, pk: int):
    run = _run(request, pk)
    kind = importing.KINDS[run.kind]
    labels = {"rows_read": "读取数据行", **kind.count_labels, "rows_rejected": "拒绝行数"}
    counts = run.result_counts if run.status == "imported" else run.preview_counts
    return _page(request, "imports/detail.html", {
        "run": run, "kind": kind, "title": f"导入{kind.label}：{run.file_name}",
        "counts": [(label, counts[key]) for key, label in labels.items() if key in counts],
        "errors": run.errors[:200], "running": run.status in RUNNING,
        "progress": importing.progress_of(run),
        "may_confirm": run.status == "previewed" and request.user == run.user,
        "may_take_error_file": may_take_error_file(request.user, run),
        "may_retry": run.status in importing.RETRYABLE and request.user == run.user,
        "may_retry_confirm": run.status == "interrupted" and run.previewed_at is not None,
        "cell_chars": limits().cell_chars,
    })


@login_required
def status(request, pk: int):
    run = _run(request, pk)
    progress = importing.progress_of(run)
    return JsonResponse({"status": run.status, "status_display": run.get_status_display(),
                         "running": run.status in RUNNING, **progress})


@login_required
@require_POST
def confirm(request, pk: int):
    run = _own_run(request, pk)
    return _step(request, run, lambda: importing.confirm(run.pk, request.user, request.POST.get("sha256", "")))


def may_take_error_file(user, run: ImportRun) -> bool:
    """The error file is the upload's rejected rows as they were, full ID numbers included: for its uploader (to
    fix and upload again) and for holders of view_full_id_number; others read the errors on the page."""
    return user == run.user or may_see_full_id(user)


@login_required
@require_POST
def retry(request, pk: int):
    """An interrupted or stale run again from its kept file: its preview, or its confirm."""
    run = _own_run(request, pk)
    step = "confirm" if request.POST.get("step") == "confirm" else "preview"
    return _step(request, run, lambda: importing.retry(run.pk, step))


def _own_run(request, pk: int) -> ImportRun:
    """A run only its uploader may confirm or retry (others of the region see it, nothing more)."""
    run = _run(request, pk)
    if request.user != run.user:
        raise PermissionDenied
    return run


def _step(request, run: ImportRun, start):
    """Start a confirm or a retry; back to the run's page with what became of it."""
    try:
        run = start()
    except importing.StalePreview as exc:
        messages.error(request, str(exc))
        return redirect("imports:detail", run.pk)
    if run.status == "imported":
        messages.success(request, "导入完成")
    elif run.status == "stale":
        messages.error(request, run.message)
    return redirect("imports:detail", run.pk)


@login_required
def errors_file(request, pk: int):
    run = _run(request, pk)
    if not may_take_error_file(request.user, run):
        raise PermissionDenied("错误文件含完整身份证号，仅上传人或有查看完整身份证号权限的人员可以下载")
    content = importing.error_workbook(run)
    if content is None:
        raise Http404("该导入没有错误文件")
    stem = run.file_name.rsplit(".", 1)[0]
    others = request.user != run.user  # the county's officer with the permission takes a township's file
    return workbook.download(request, f"{stem}_错误说明.xlsx", content, run.rows_rejected,
                             full_ids=run.rows_rejected if others else 0, kind="download",
                             object_key=f"poverty_registry.importrun:{run.pk}", params={})


@login_required
def template_file(request, kind_code: str):
    kind = _kind(kind_code, request.user)
    content = kind.template()
    if content is None:
        raise Http404("该类型没有模板")
    return workbook.attachment(content, kind.template_name or f"{kind.label}模板.xlsx")
