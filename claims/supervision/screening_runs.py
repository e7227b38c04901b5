"""Screening runs of whole years (DOMAIN §7.1): the nightly beat run and a start from the supervision pages
share one record (ScreeningRun: who, when, progress, what it found) and one lock.

The lock is the run row: at most one is "running" (a partial unique index), taken when the run is begun —
in the web request for a start from the page, so a second click is refused before any task exists. The
worker that executes it holds locks.SCREENING_NIGHTLY (a session lock the database releases when the worker
dies), so a "running" row whose lock is free after it started, or that no worker took within QUEUE_PATIENCE,
was abandoned: the next begin marks it failed and starts anew (every state has a way out).
"""
from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from poverty_registry import locks

from ..models import ScreeningRun
from .rules import RULES
from .screening import screen_year

log = logging.getLogger(__name__)
QUEUE_PATIENCE = dt.timedelta(minutes=30)  # a queued start no worker took within this was lost with its message
NIGHTLY = "定时任务"  # triggered_by of the beat's runs
LATE_CLAIMS_MONTHS = 3  # claims of last year still arrive in the first months: the nightly run screens it too


class AlreadyScreening(Exception):
    """Another screening is queued or running; the message is for the page."""

    def __init__(self, run: ScreeningRun | None):
        self.run = run
        super().__init__(f"第{run.pk}次筛查正在进行中（{run.triggered_by}），请等待其完成" if run
                         else "另一次筛查正在进行中，请等待其完成")


def nightly_years(today: dt.date) -> list[int]:
    return [today.year - 1, today.year] if today.month <= LATE_CLAIMS_MONTHS else [today.year]


def begin(years: list[int], triggered_by: str, task_id: str = "") -> ScreeningRun:
    """Take the lock: a new running run, or AlreadyScreening while another is alive."""
    with transaction.atomic():
        active = ScreeningRun.objects.select_for_update().filter(status="running").first()
        if active is not None:
            if is_alive(active):
                raise AlreadyScreening(active)
            ScreeningRun.objects.filter(pk=active.pk, status="running").update(
                status="failed", finished_at=timezone.now(), message="未完成：后台任务中断或未被执行")
        try:
            with transaction.atomic():
                return ScreeningRun.objects.create(years=sorted(set(years)), triggered_by=triggered_by[:100],
                                                   task_id=task_id[:64], rules_total=len(RULES) * len(set(years)))
        except IntegrityError:  # another start took the lock between our look and our insert
            raise AlreadyScreening(ScreeningRun.objects.filter(status="running").first()) from None


def is_alive(run: ScreeningRun) -> bool:
    """Is this running row still being worked on (or waiting for a worker, within patience)?"""
    if run.started_at is None:
        return run.created_at > timezone.now() - QUEUE_PATIENCE
    if locks.try_lock(locks.SCREENING_NIGHTLY):  # free: the worker that started it is gone
        locks.unlock(locks.SCREENING_NIGHTLY)
        return False
    return True


def execute(run_id: int, task_id: str = "") -> ScreeningRun | None:
    """Screen the run's years rule by rule, counting progress; None when another process holds the lock."""
    if not locks.try_lock(locks.SCREENING_NIGHTLY):
        log.warning("screening already running; run %s not executed here", run_id)
        return None
    try:
        started = ScreeningRun.objects.filter(pk=run_id, status="running").update(
            started_at=timezone.now(), rules_done=0, task_id=task_id[:64] or F("task_id"))
        if not started:  # finished or given up meanwhile (a duplicate delivery)
            return ScreeningRun.objects.get(pk=run_id)
        run = ScreeningRun.objects.get(pk=run_id)
        counts = {}
        try:
            for year in run.years:
                counts[str(year)] = screen_year(year, on_rule_done=lambda code: ScreeningRun.objects.filter(
                    pk=run_id).update(rules_done=F("rules_done") + 1))
        except Exception as exc:
            ScreeningRun.objects.filter(pk=run_id).update(status="failed", finished_at=timezone.now(),
                                                          counts=counts, message=f"筛查出错：{exc}"[:2000])
            raise
        ScreeningRun.objects.filter(pk=run_id).update(status="finished", finished_at=timezone.now(), counts=counts)
        return ScreeningRun.objects.get(pk=run_id)
    finally:
        locks.unlock(locks.SCREENING_NIGHTLY)


def give_up(run_id: int, message: str) -> None:
    """A begun run whose task could not be sent: end it, so the lock is free again."""
    ScreeningRun.objects.filter(pk=run_id, status="running", started_at__isnull=True).update(
        status="failed", finished_at=timezone.now(), message=message[:2000])


def run_for_task(task_id: str) -> ScreeningRun | None:
    """The run a task already executed to its end (a redelivered message keeps its task id)."""
    if not task_id:
        return None
    return ScreeningRun.objects.filter(task_id=task_id).exclude(status="running").first()


