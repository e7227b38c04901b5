"""The matching run (DOMAIN §8.3): begin (the lock), prepare (inbox + linkage), one shard per county, finish.

The lock is a row: at most one MatchingRun is "running" (a partial unique index). Each step is idempotent
and runs in one transaction holding the row it works on (the run for prepare, the shard for a county),
so a crash rolls the step back, and starting again resumes the unfinished run: a step already done
is skipped, a step in progress elsewhere is waited for, never done twice. Every step that ends refreshes
the run's lease (`heartbeat_at`); a run whose lease expired with no step in progress was abandoned by a
dead worker, and the beat task `matching.recover` resumes it (`abandoned_run`). Celery tasks
(matching_tasks.py) and `manage.py run_matching` call the same functions.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from ..models import MatchingRun, MatchingRunCount, MatchingShard, MatchingSourceFile, Region
from . import differences, linkage, sources
from .vocab import DIFFERENCES

log = logging.getLogger(__name__)


class AlreadyRunning(Exception):
    """Another run holds the lock and is working."""

    def __init__(self, run: MatchingRun | None):
        self.run = run
        super().__init__(f"第{run.pk}次比对正在进行中，本次未启动" if run else "另一次比对正在进行中，本次未启动")


def default_inbox() -> Path:
    return Path(settings.MATCHING_INBOX)


def begin(inbox: Path | str | None = None, triggered_by: str = "", today: dt.date | None = None,
          task_id: str = "") -> tuple[MatchingRun, bool]:
    """Take the lock: a new run, or the unfinished run nobody is working on (resumed=True)."""
    with transaction.atomic():
        running = MatchingRun.objects.filter(status="running").first()
        if running is not None:
            if _in_progress(running):
                raise AlreadyRunning(running)
            log.warning("比对：第%s次比对未完成且无人处理，继续执行", running.pk)
            _heartbeat(running.pk)
            if task_id and not running.task_id:  # begun by a page: the task that takes it up owns it
                MatchingRun.objects.filter(pk=running.pk).update(task_id=task_id[:64])
            return running, True
        try:
            with transaction.atomic():
                run = MatchingRun.objects.create(run_date=today or timezone.localdate(),
                                                 inbox=str(inbox or default_inbox()), triggered_by=triggered_by[:100],
                                                 task_id=task_id[:64])
        except IntegrityError:  # another process took the lock between our look and our insert
            raise AlreadyRunning(MatchingRun.objects.filter(status="running").first()) from None
    return run, False


def abandoned_run(lease: dt.timedelta) -> MatchingRun | None:
    """The running run left by a dead worker: no progress for `lease` and no step holding its rows."""
    run = MatchingRun.objects.filter(status="running", heartbeat_at__lt=timezone.now() - lease).first()
    if run is None or _in_progress(run):
        return None
    return run


def _heartbeat(run_id: int) -> None:
    MatchingRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now())


def _in_progress(run: MatchingRun) -> bool:
    """Is some process working on this run right now? Its step's row is locked while it works."""
    try:
        with transaction.atomic():
            MatchingRun.objects.select_for_update(nowait=True).filter(pk=run.pk).exists()
            list(MatchingShard.objects.select_for_update(nowait=True).filter(run=run, status="pending"))
    except DatabaseError:
        return True
    return False


def prepare(run_id: int) -> MatchingRun:
    """Load the inbox, fix the files the run compares, propose links, create the shards — one transaction."""
    with transaction.atomic():
        run = MatchingRun.objects.select_for_update().get(pk=run_id)
        if run.phase != "started":
            return run
        started = time.perf_counter()
        reports = sources.load_inbox(run, Path(run.inbox), run.run_date)
        run.files = [r.as_dict() for r in reports]
        run.current_files = sources.current_files()
        sources.analyse_records([r.file_id for r in reports if r.status == "loaded"])
        loaded = time.perf_counter()
        run.links_proposed = linkage.propose_links(run, run.current_files)
        log.info("比对%s：载入名单 %.1f 秒，疑似关联 %d 条 %.1f 秒", run.pk, loaded - started, run.links_proposed,
                 time.perf_counter() - loaded)
        for county in shard_counties():
            MatchingShard.objects.get_or_create(run=run, county=county)
        run.phase = "prepared"
        run.heartbeat_at = timezone.now()
        run.save()
    return run


def shard_counties() -> list[str]:
    """Every county, and "" for work items that sit above the counties (unknown village, other province)."""
    return [*Region.objects.filter(level=3).order_by("code").values_list("code", flat=True), ""]


def pending_counties(run_id: int) -> list[str]:
    return list(MatchingShard.objects.filter(run_id=run_id, status="pending").order_by("county")
                .values_list("county", flat=True))


def home_region() -> str:
    """Where work items go when nothing more specific is known: the city (the top of the tree below a province)."""
    codes = Region.objects.filter(level__in=(1, 2)).order_by("-level", "code").values_list("code", flat=True)
    return codes.first() or ""


def run_shard(run_id: int, county: str, worker: str = "") -> dict:
    """One county's differences in one transaction; a second call (another worker, a resume) does nothing."""
    with transaction.atomic():
        shard = MatchingShard.objects.select_for_update().select_related("run").get(run_id=run_id, county=county)
        if shard.status != "pending" or shard.run.status != "running":
            return _shard_summary(shard)
        run = shard.run
        disability = run.current_files.get("disability")
        as_of = MatchingSourceFile.objects.filter(pk=disability).values_list("as_of", flat=True).first()
        started = time.perf_counter()
        try:
            with transaction.atomic():
                result = differences.compute_shard(run, county, home_region(), as_of)
                log.info("比对%s：分片 %s 用时 %.1f 秒", run_id, county or "其他", time.perf_counter() - started)
        except DatabaseError as exc:
            log.exception("比对分片 %s/%s 失败", run_id, county)
            shard.status, shard.message = "failed", f"数据库错误：{exc}"
        else:
            shard.status, shard.counts = "done", result.counts
            shard.opened, shard.closed = result.opened, result.closed
        shard.finished_at, shard.done_by = timezone.now(), worker[:100]
        shard.save()
    # After the shard's commit, not inside it: the run row is not held while other counties finish.
    _heartbeat(run_id)
    return _shard_summary(shard)


def _shard_summary(shard: MatchingShard) -> dict:
    return {"county": shard.county, "status": shard.status, "opened": shard.opened, "closed": shard.closed,
            "done_by": shard.done_by}


def finish(run_id: int) -> MatchingRun:
    """Gather the shards into the run report and release the lock — once, when every shard is done."""
    with transaction.atomic():
        run = MatchingRun.objects.select_for_update().get(pk=run_id)
        shards = list(run.shards.all())
        if run.status != "running" or any(s.status == "pending" for s in shards):
            return run
        totals = dict.fromkeys(DIFFERENCES, 0)
        per_township: dict[tuple[str, str], int] = {}
        for shard in shards:
            for township, counts in shard.counts.items():
                for code, count in counts.items():
                    totals[code] += count
                    per_township[(township, code)] = per_township.get((township, code), 0) + count
        MatchingRunCount.objects.filter(run=run).delete()
        MatchingRunCount.objects.bulk_create(
            MatchingRunCount(run=run, region_id=township, code=code, count=count)
            for (township, code), count in sorted(per_township.items()))
        failed = [s for s in shards if s.status == "failed"]
        run.counts = totals
        run.status = "failed" if failed else "finished"
        run.phase = "finished"
        # A note already on the run (it was resumed after a dead worker) stays in the report.
        run.message = "；".join([*filter(None, [run.message]), *(f"{s.county or '其他'}：{s.message}" for s in failed)])
        run.finished_at = timezone.now()
        run.save()
    return run


def run_now(inbox: Path | str | None = None, triggered_by: str = "command", today: dt.date | None = None
            ) -> MatchingRun:
    """The whole run in this process (the command's form): begin or resume, then execute."""
    run, _ = begin(inbox, triggered_by, today)
    return execute(run.pk)


def execute(run_id: int) -> MatchingRun:
    """Prepare, every pending shard, finish — each step skipped when already done."""
    prepare(run_id)
    for county in pending_counties(run_id):
        run_shard(run_id, county)
    return finish(run_id)


def report(run: MatchingRun) -> dict:
    """The command's JSON: {"run_id", "counts": {"M01": n, …}} plus the files and status."""
    return {"run_id": run.pk, "counts": {code: run.counts.get(code, 0) for code in DIFFERENCES},
            "status": run.status, "run_date": run.run_date.isoformat(), "files": run.files,
            "links_proposed": run.links_proposed}
