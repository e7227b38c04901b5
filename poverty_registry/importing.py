"""The project's one import framework: upload → preview (dry run) → confirm, for every kind of file
(ledger, enrolments, claims, department lists).

A kind reads the file with poverty_registry.tabular, checks rows into RowErrors, and writes set-based
(staging table + COPY + INSERT … ON CONFLICT) in one transaction. The framework keeps the file by hash,
the history (ImportRun), progress (in the cache, visible outside the import's transaction), runs large
files as Celery tasks, and refuses a confirm whose outcome would differ from the preview.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections, transaction
from django.utils import timezone

from . import workbook
from .background import BACKGROUND_UNAVAILABLE, BackgroundUnavailable, broker_available, enqueue
from .models import ImportFile, ImportRun
from .scoping import SERVER_COMMAND
from .tabular import (
    MB,
    HeaderMatch,
    RowError,
    Table,
    TableFormatError,
    UploadFacts,
    check_upload,
    find_header,
    gc_paused,
    read_table,
)

logger = logging.getLogger(__name__)
LARGE_IMPORT_ROWS = 20_000  # above this, preview and confirm run as Celery tasks with a progress bar
KEPT_ERRORS = 1000
UNEXPECTED_FAILURE = ("导入时发生意外错误，本次导入未写入任何数据。请检查文件后重新上传，"
                      "或联系管理员（导入编号 {run_id}）")

Progress = Callable[[int, str], None]


@dataclass
class ImportOutcome:
    rows_read: int
    counts: dict[str, int]
    rows_rejected: int
    errors: list[RowError] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"rows_read": self.rows_read, **self.counts, "rows_rejected": self.rows_rejected,
                "errors": [e.as_dict() for e in self.errors]}


class StalePreview(Exception):
    """The data changed between preview and confirm: the confirm would not apply what was previewed."""


class ImportKind:
    """Subclass per kind of file and `register()` it. A kind declares its columns, the header names it accepts,
    its required and text columns; it checks rows and writes set-based in `run()`. The framework reads the
    header, writes the error file and the template from the declaration."""

    code = ""
    label = ""
    permission = ""  # "app.codename" needed to import
    count_labels: dict[str, str] = {}
    template_name = ""  # file name of the downloadable template
    sheet_title = ""  # the template's sheet
    columns: dict[str, str] = {}  # canonical name → header, in the template's order
    synonyms: dict[str, tuple[str, ...]] = {}  # canonical name → the header names accepted for it, preferred first
    header_markers: tuple[str, ...] = ()  # the header is the first row with a cell named like one of these
    fallback_markers: tuple[str, ...] = ()  # ... or, when no row has one, like one of these (a title may hold them)
    required: tuple[str, ...] = ()
    text_columns: tuple[str, ...] = ()  # written as text (ID numbers, codes): Excel keeps every digit
    example_rows: tuple[tuple, ...] = ()  # rows of the template, as filled in

    def run(self, data: bytes, filename: str, user, *, dry_run: bool, progress: Progress) -> ImportOutcome:
        """Check and (unless dry_run) write the file in ONE transaction; must roll back on dry_run."""
        raise NotImplementedError

    def read(self, data: bytes, filename: str) -> tuple[Table, HeaderMatch]:
        """The file's table and header; TableFormatError (a ValueError) without the header or a required column."""
        table = read_table(data, filename)
        header = find_header(table, self.header_markers, self.synonyms or {c: (n,) for c, n in self.columns.items()},
                             self.fallback_markers)
        missing = [self.columns[c] for c in self.required if c not in header.columns]
        if missing:
            raise TableFormatError(f"缺少必需的列：{'、'.join(missing)}")
        return table, header

    def error_workbook(self, data: bytes, filename: str, errors: list[RowError]) -> bytes | None:
        table, header = self.read(data, filename)
        return workbook.error_workbook(table, header, errors, text_columns=self.text_columns)

    def template(self) -> bytes | None:
        names = tuple(self.columns)
        return workbook.table_workbook(self.sheet_title or self.label, tuple(self.columns.values()), self.example_rows,
                                       text_columns=[names.index(c) for c in self.text_columns],
                                       notes=self.template_notes())

    def template_notes(self) -> list[list[str]]:
        """The template's 填写说明 sheet (none by default)."""
        return []


KINDS: dict[str, ImportKind] = {}


def register(kind: ImportKind) -> ImportKind:
    KINDS[kind.code] = kind
    return kind


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Rollback(Exception):
    """Raised inside the import transaction to undo a dry run after its counts are known."""

    def __init__(self, outcome: ImportOutcome):
        self.outcome = outcome


def in_transaction(work: Callable[[], ImportOutcome], *, dry_run: bool) -> ImportOutcome:
    """Run `work` in one transaction; a dry run rolls everything back and returns the counts."""
    try:
        with transaction.atomic():
            tune_bulk_transaction()
            outcome = work()
            if dry_run:
                raise Rollback(outcome)
    except Rollback as rollback:
        return rollback.outcome
    return outcome


def create_staging_table(cursor, name: str, columns: dict[str, str]) -> None:
    """A temporary table (column name → SQL type) for this transaction; one left by an earlier import in the
    same (test) transaction is dropped first, since ON COMMIT DROP only fires at the real commit."""
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
    definition = ", ".join(f"{column} {sql_type}" for column, sql_type in columns.items())
    cursor.execute(f"CREATE TEMP TABLE {name} ({definition}) ON COMMIT DROP")


def stage(cursor, name: str, columns: dict[str, str], rows: Iterable[Sequence] | bytes) -> None:
    """A kind's staging table (column name → SQL type), filled by COPY with `rows` (or a copy_payload)."""
    create_staging_table(cursor, name, columns)
    copy_rows(name, tuple(columns), rows)


def tune_bulk_transaction() -> None:
    """For the current transaction of a bulk write (an import, a re-settlement chunk, a subsidy computation):
    its staging rows, joins, sorts and the audit triggers' hashing of every row in memory (BULK_WORK_MEM), not
    spilled to disk; no JIT compilation (planned on transition tables without statistics, it costs more
    than it saves); its audit journal spread into records once it commits."""
    from poverty_registry.audit.trail import spread_after_commit

    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.BULK_WORK_MEM])
        cursor.execute("SET LOCAL jit = off")
    spread_after_commit()


def analyze_sampled(cursor, table: str) -> None:
    """Row counts and rough distributions for planning the next statements of an import (joins of a staging
    table, of a table just written): a sample of 3,000 rows is as good for that as the default 30,000, at a
    tenth of the time. Autovacuum analyses a written table again in full after the commit."""
    cursor.execute("SET LOCAL default_statistics_target = 10")
    cursor.execute(f"ANALYZE {table}")
    cursor.execute("SET LOCAL default_statistics_target TO DEFAULT")


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence] | bytes) -> None:
    """COPY rows, or a payload of rows already formatted by copy_payload, into a (staging) table on the current
    connection."""
    with connection.cursor() as cursor, cursor.connection.cursor().copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        if isinstance(rows, bytes):
            copy.write(rows)
            return
        for row in rows:
            copy.write_row(row)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_payload(rows: Iterable[Sequence]) -> bytes:
    """Rows (of text, whole numbers, dates, booleans and None) in COPY's text format, for rows COPYed more than
    once (a ledger's preview, then its confirm): formatted once, then sent as they are."""
    with gc_paused():  # a list per row, no cycles: no collector passes over the import's rows meanwhile
        return _payload(rows)


def _payload(rows: Iterable[Sequence]) -> bytes:
    lines = []
    for row in rows:
        fields = ["\\N" if value is None else value if type(value) is str else _copy_text(value) for value in row]
        line = "\t".join(fields)
        # Only text can hold a tab, a line break or a backslash (each None stands as one: \N): escape rarely.
        if (line.count("\t") != len(fields) - 1 or line.count("\\") != row.count(None) or "\n" in line
                or "\r" in line):
            line = "\t".join(field if value is None else field.translate(_COPY_ESCAPES)
                             for field, value in zip(fields, row))
        lines.append(line)
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _copy_text(value) -> str:
    if type(value) is bool:
        return "t" if value else "f"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@contextlib.contextmanager
def writer_thread(write: Callable[[list], None]) -> Iterator[Callable[[list], None]]:
    """Batches written in order by a thread of their own, on this thread's connection and so in its
    transaction, while the caller checks the next batch: the database's work on one batch overlaps Python's
    on the next (one core each). Yields `put(batch)`; on leaving, every batch put has been written, and a
    failure of the writer is raised here (or at the next put). The caller must not use the connection
    until then."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    batches: queue.Queue = queue.Queue(maxsize=2)  # the checker runs at most two batches ahead
    failures: list[BaseException] = []

    def work() -> None:
        connections[DEFAULT_DB_ALIAS] = wrapper  # this thread's `connection` is the caller's
        while (batch := batches.get()) is not None:
            if not failures:
                try:
                    write(batch)
                except BaseException as exc:  # noqa: BLE001 — handed to the caller's thread
                    failures.append(exc)

    def put(batch: list) -> None:
        if failures:
            raise failures[0]
        if batch:
            batches.put(batch)

    wrapper.inc_thread_sharing()
    thread = threading.Thread(target=work, name="import-writer", daemon=True)
    thread.start()
    try:
        yield put
    finally:
        batches.put(None)
        thread.join()
        wrapper.dec_thread_sharing()
    if failures:
        raise failures[0]


# --- progress, kept in the cache so a polling page sees it while the import's transaction is open ---

def progress_key(run_id: int) -> str:
    return f"import-progress:{run_id}"


def progress_reporter(run_id: int | None) -> Progress:
    """Best effort: a cache that fails once is not asked again by this import, which goes on without it."""
    failed = run_id is None

    def report(percent: int, stage: str) -> None:
        nonlocal failed
        if failed:
            return
        try:
            cache.set(progress_key(run_id), {"percent": int(percent), "stage": stage}, 24 * 3600)
        except Exception:  # noqa: BLE001 — progress is for the eye; the import does not depend on it
            failed = True
            logger.warning("导入 %s 的进度未能写入缓存", run_id, exc_info=True)
    return report


def progress_of(run: ImportRun) -> dict:
    try:
        progress = cache.get(progress_key(run.pk))
    except Exception:  # noqa: BLE001 — without the cache, the run's status is all there is to show
        logger.warning("导入 %s 的进度未能从缓存读取", run.pk, exc_info=True)
        progress = None
    return progress or {"percent": 100 if run.status not in ImportRun.RUNNING else 0,
                        "stage": run.get_status_display()}


# --- the flow ---

def upload(kind_code: str, data: bytes, filename: str, user) -> ImportRun:
    """Keep the file, open an ImportRun and preview it (inline, or as a Celery task when large).

    Raises ValueError (TableFormatError, BackgroundUnavailable) with a message for the clerk, before anything
    is kept: for a file beyond the limits (read from its size and zip directory, never by parsing it), and
    for a large file while the background service is away."""
    background = runs_in_background(check_upload(data, filename))
    if background and not broker_available():
        raise BackgroundUnavailable
    sha = digest(data)
    # One transaction with the inline preview: a request that dies in the middle (its database connection
    # dropped, the process killed) leaves no run "previewing" for ever, only nothing.
    with transaction.atomic():
        ImportFile.objects.get_or_create(sha256=sha, defaults={"content": data, "size": len(data)})
        run = ImportRun.objects.create(kind=kind_code, file_name=filename[:255], file_id=sha, user=user,
                                       region_id=user.region_id, background=background)
        if background:
            from .tasks import preview_import

            transaction.on_commit(lambda: _hand_over(preview_import, run, run.attempt))
            return run
        return preview(run.pk, run.attempt)


def runs_in_background(facts: UploadFacts) -> bool:
    """Large by its rows as the file states them, or by the text of its table whatever it states."""
    return facts.rows_estimate > LARGE_IMPORT_ROWS or facts.table_bytes > settings.IMPORT_INLINE_MAX_MB * MB


def _hand_over(task, run: ImportRun, attempt: int) -> None:
    if not enqueue(task, run.pk, attempt):
        _finish(run, "failed", message=BACKGROUND_UNAVAILABLE)


def _file_bytes(run: ImportRun) -> bytes:
    return bytes(ImportFile.objects.values_list("content", flat=True).get(sha256=run.file_id))


CHANGED_MESSAGE = "台账已被他人修改，请重新预览"
CONFLICT_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure: a concurrent import won
RETRYABLE = ("interrupted", "stale")


def preview(run_id: int, attempt: int = 0) -> ImportRun:
    """Preview one attempt of a run. A task delivered twice, or of an attempt since retried, does nothing."""
    from . import import_leases

    run = ImportRun.objects.select_related("user").get(pk=run_id)
    if run.status != "previewing" or run.attempt != attempt:
        return run
    kind = KINDS[run.kind]
    with import_leases.kept(run.pk, attempt) as beat:
        try:
            outcome = kind.run(_file_bytes(run), run.file_name, run.user, dry_run=True,
                               progress=import_leases.beating(progress_reporter(run.pk), beat))
        except ValueError as exc:  # unreadable file, no header …: a message for the clerk
            return _finish(run, "failed", message=str(exc))
        except Exception:  # noqa: BLE001 — a run never stays "previewing": it ends, with the trace in the log
            logger.exception("导入 %s 预览失败", run.pk)
            return _finish(run, "failed", message=UNEXPECTED_FAILURE.format(run_id=run.pk))
    return _finish(run, "previewed", previewed_at=timezone.now(), **_recorded(outcome, preview=True))


def confirm(run_id: int, user, file_sha256: str) -> ImportRun:
    """Apply exactly what was previewed: same file (by hash), same counts, else refuse."""
    run = ImportRun.objects.get(pk=run_id)
    if run.status != "previewed":
        raise StalePreview(f"该导入当前状态为“{run.get_status_display()}”，不能确认")
    if file_sha256 != run.file_id:
        raise StalePreview("文件与预览时不一致，请重新上传并预览")
    return _start(run, "importing")


def retry(run_id: int, step: str) -> ImportRun:
    """An interrupted or stale run again from the kept file: its preview, or (interrupted after its preview
    finished) its confirm, which checks the preview's counts again under the import's locks."""
    run = ImportRun.objects.get(pk=run_id)
    if run.status not in RETRYABLE:
        raise StalePreview(f"该导入当前状态为“{run.get_status_display()}”，不能重试")
    if step == "confirm":
        if run.status != "interrupted" or run.previewed_at is None:
            raise StalePreview("该导入没有可用的预览结果，请重新预览")
        return _start(run, "importing")
    return _start(run, "previewing", previewed_at=None)


def _start(run: ImportRun, status: str, **fields) -> ImportRun:
    """Claim the run for a new attempt (compare-and-set: a double click or a second tab starts it once) under a
    fresh lease; then run it here, or queue it when it is large."""
    from . import import_leases

    if run.background and not broker_available():  # checked before the run is claimed: it stays as it was
        raise StalePreview(BACKGROUND_UNAVAILABLE)
    attempt = run.attempt + 1
    claimed = ImportRun.objects.filter(pk=run.pk, status=run.status, attempt=run.attempt).update(
        status=status, attempt=attempt, lease_until=import_leases.lease_end(), message="", **fields)
    if claimed != 1:
        raise StalePreview("该导入已在处理中")
    run.status, run.attempt, run.message = status, attempt, ""
    for name, value in fields.items():
        setattr(run, name, value)
    if run.background:
        from .tasks import commit_import, preview_import

        task = commit_import if status == "importing" else preview_import
        transaction.on_commit(lambda: _hand_over(task, run, attempt))
        return run
    return commit(run.pk, attempt) if status == "importing" else preview(run.pk, attempt)


def commit(run_id: int, attempt: int = 0) -> ImportRun:
    """Write one attempt of a confirmed run in ONE transaction, which also records the run as imported (only if
    it is still this attempt's): a task delivered twice, or of an attempt since retried or expired, writes
    nothing."""
    from . import import_leases

    run = ImportRun.objects.select_related("user").get(pk=run_id)
    if run.status != "importing" or run.attempt != attempt:
        return run
    kind = KINDS[run.kind]
    expected = dict(run.preview_counts)
    try:
        with import_leases.kept(run.pk, attempt) as beat, transaction.atomic():
            outcome = kind.run(_file_bytes(run), run.file_name, run.user, dry_run=False,
                               progress=import_leases.beating(progress_reporter(run.pk), beat))
            # The kinds count under their locks (the ledger: its villages') what they write: a count that
            # differs from the preview's means someone changed the ledger meanwhile.
            if _comparable(outcome) != expected:
                raise StalePreview(CHANGED_MESSAGE)
            done = _finish(run, "imported", report=False, finished_at=timezone.now(),
                           **_recorded(outcome, preview=False))
            if done.status != "imported":
                raise Superseded
    except Superseded:
        return run
    except StalePreview as exc:
        return _finish(run, "stale", message=str(exc))
    except ValueError as exc:
        return _finish(run, "failed", message=str(exc))
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) in CONFLICT_SQLSTATES:
            return _finish(run, "stale", message=CHANGED_MESSAGE)
        # the database went away under the import: nothing was written, and the clerk may confirm again
        _finish(run, "interrupted", message=import_leases.INTERRUPTED_MESSAGE)
        raise
    except Exception:  # noqa: BLE001 — a run never stays "importing": it ends, with the trace in the log
        logger.exception("导入 %s 写入失败", run.pk)
        return _finish(run, "failed", message=UNEXPECTED_FAILURE.format(run_id=run.pk))
    progress_reporter(run.pk)(100, run.get_status_display())  # after the commit: a cache write undoes nothing
    return run


class Superseded(Exception):
    """The run was expired or retried while this attempt ran: its writes are rolled back, its end not recorded."""


def _comparable(outcome: ImportOutcome) -> dict:
    return {"rows_read": outcome.rows_read, "rows_rejected": outcome.rows_rejected, **outcome.counts}


def _recorded(outcome: ImportOutcome, *, preview: bool) -> dict:
    return {"rows_read": outcome.rows_read, "rows_rejected": outcome.rows_rejected,
            "error_count": len(outcome.errors), "errors": [e.as_dict() for e in outcome.errors[:KEPT_ERRORS]],
            "preview_counts" if preview else "result_counts": _comparable(outcome)}


def _finish(run: ImportRun, status: str, *, report: bool = True, **fields) -> ImportRun:
    """End the run's attempt, if the run is still running that attempt (compare-and-set: the beat may have
    expired it, or the clerk retried it); returns the run as it now stands."""
    ended = ImportRun.objects.filter(pk=run.pk, status__in=ImportRun.RUNNING, attempt=run.attempt).update(
        status=status, lease_until=None, **fields)
    if ended != 1:
        run.refresh_from_db()
        return run
    run.status, run.lease_until = status, None
    for name, value in fields.items():
        setattr(run, name, value)
    if report:
        progress_reporter(run.pk)(100, run.get_status_display())
    return run


def error_workbook(run: ImportRun) -> bytes | None:
    """The upload's rejected rows with an 错误说明 column: the run's own errors, recomputed from the file
    only when there were more than the run keeps."""
    kind = KINDS[run.kind]
    data = _file_bytes(run)
    if run.error_count <= len(run.errors):
        errors = [RowError(**error) for error in run.errors]
    else:
        errors = kind.run(data, run.file_name, run.user, dry_run=True, progress=progress_reporter(None)).errors
    return kind.error_workbook(data, run.file_name, errors)


def import_path(kind_code: str, path, user, *, dry_run: bool) -> ImportOutcome:
    """The command-line form: the same kind, no ImportRun flow, one transaction."""
    from pathlib import Path

    path = Path(path)
    return KINDS[kind_code].run(path.read_bytes(), path.name, user, dry_run=dry_run, progress=progress_reporter(None))


def import_path_as(kind_code: str, path, username: str | None, *, dry_run: bool, source: str) -> ImportOutcome:
    """What the import commands run: the file imported as a named account (its region and permission)
    — or as the server itself (`SERVER_COMMAND`, no region limit) when no account is named — recorded in
    the audit trail under `source`.
    Raises ValueError (or OSError) with a message for the command line."""
    from poverty_registry.audit.trail import audit_context

    from .models import User

    account = None
    if username:
        account = User.objects.filter(username=username).first()
        if account is None:
            raise ValueError(f"账号 {username} 不存在")
        if not account.has_perm(KINDS[kind_code].permission):
            raise ValueError(f"账号 {username} 没有导入{KINDS[kind_code].label}的权限")
    with audit_context(user=account, source=source):
        return import_path(kind_code, path, account or SERVER_COMMAND, dry_run=dry_run)
