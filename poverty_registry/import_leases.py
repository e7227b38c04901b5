"""Leases of running import runs: a preview or confirm is held by the process running it, which renews the
run's lease while it lives; a run whose lease ran out (its worker was killed, its machine lost) is marked
interrupted by a beat task, and the clerk may retry it from its page. Every state has a way out."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q
from django.utils import timezone

from .models import ImportRun

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = ("处理意外中断（后台进程已退出或失联），本次未写入任何数据，台账未作改动；"
                       "请点击下方按钮重试")
MIN_RENEWAL_SECONDS = 1.0  # progress reported more often than this renews no more often


def lease_seconds() -> int:
    return settings.IMPORT_LEASE_SECONDS


def lease_end() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=lease_seconds())


def renew(run_id: int, attempt: int) -> bool:
    """The lease of this attempt of a running run, renewed; False when the run is no longer this attempt's."""
    return ImportRun.objects.filter(pk=run_id, attempt=attempt, status__in=ImportRun.RUNNING).update(
        lease_until=lease_end()) == 1


@contextlib.contextmanager
def kept(run_id: int, attempt: int) -> Iterator[Callable[[], None]]:
    """Keeps the run's lease while the block runs: a thread renews it every third of the lease, on a connection
    of its own (the import's transaction is open and uncommitted: its writes would be seen by nobody, and its
    end is the end of the work). Yields `beat()`, which the progress reporter calls to renew at once."""
    stop, wake = threading.Event(), threading.Event()

    def keep() -> None:
        last = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() - last >= MIN_RENEWAL_SECONDS:
                    last = time.monotonic()
                    try:
                        renew(run_id, attempt)
                    except Exception:  # a missed renewal costs nothing until the lease runs out
                        logger.warning("导入 %s 的租约未能续期", run_id, exc_info=True)
                wake.wait(lease_seconds() / 3)
                wake.clear()
        finally:
            connections[DEFAULT_DB_ALIAS].close()  # this thread's own connection

    thread = threading.Thread(target=keep, name=f"import-lease-{run_id}", daemon=True)
    thread.start()
    try:
        yield wake.set
    finally:
        stop.set()
        wake.set()
        thread.join()


def beating(progress: Callable[[int, str], None], beat: Callable[[], None]) -> Callable[[int, str], None]:
    """The progress reporter, also renewing the lease: progress is the sign of life."""
    def report(percent: int, stage: str) -> None:
        beat()
        progress(percent, stage)
    return report


def expire_leases() -> int:
    """Runs whose lease ran out, marked interrupted (compare-and-set on the status, so a run finishing at the
    same moment keeps its end); a run never leased counts from its upload. Returns how many."""
    now = timezone.now()
    expired = Q(lease_until__lt=now) | Q(lease_until__isnull=True,
                                          created_at__lt=now - dt.timedelta(seconds=lease_seconds()))
    return ImportRun.objects.filter(expired, status__in=ImportRun.RUNNING).update(
        status="interrupted", message=INTERRUPTED_MESSAGE, lease_until=None)
