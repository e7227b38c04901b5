"""Backups that restore (issue 13): a backup of a database with persons and audit records, restored into a fresh
empty database, has the same rows in every table, a clean audit chain and the same media; a database that is
not empty is refused."""
from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from config import backups
from tests import conftest
from tests.conftest import VILLAGE_A, VILLAGE_B, make_person

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture
def empty_database(transactional_db):
    """A fresh empty database next to the test database: (its name, its URL); dropped afterwards."""
    source = connection.settings_dict["NAME"]
    name = f"{source}_restore"
    url = re.sub(rf"/{source}(?=\?|$)", f"/{name}", conftest.test_database_url())
    with psycopg.connect(conftest.test_database_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    yield name, url
    with psycopg.connect(conftest.test_database_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_restores_into_an_empty_database(regions, empty_database, tmp_path):
    for seq in range(1, 4):
        make_person(VILLAGE_A, seq=seq, name=f"甲{seq}")
        make_person(VILLAGE_B, seq=seq, name=f"乙{seq}")
    media = tmp_path / "media"
    (media / "imports" / "2026").mkdir(parents=True)
    (media / "imports" / "2026" / "台账.xlsx").write_bytes(b"PK\x03\x04 ledger bytes")
    with connection.cursor() as cursor:
        source_counts = backups.table_row_counts(cursor)
    assert source_counts["public.poverty_registry_person"] == 6
    assert source_counts["public.claims_auditrecord"] >= 6  # the persons' creation, recorded by the triggers

    env = {**conftest.child_environment(), "MEDIA_ROOT": str(media)}
    made = manage("backup", "--output-dir", str(tmp_path / "backups"), env=env)
    assert made.returncode == 0, made.stderr
    (backup_file,) = (tmp_path / "backups").glob(f"{connection.settings_dict['NAME']}-*.tar")
    assert re.search(r"-\d{8}-\d{6}\.tar$", backup_file.name)

    name, url = empty_database
    restored_media = tmp_path / "restored-media"
    restored_env = {**env, "DATABASE_URL": url, "MEDIA_ROOT": str(restored_media)}
    restored = manage("restore", str(backup_file), env=restored_env)
    assert restored.returncode == 0, restored.stderr
    with psycopg.connect(url) as target, target.cursor() as cursor:
        assert backups.table_row_counts(cursor) == source_counts
    assert (restored_media / "imports" / "2026" / "台账.xlsx").read_bytes() == b"PK\x03\x04 ledger bytes"

    verified = manage("verify_audit", env=restored_env)
    assert verified.returncode == 0 and "审计链完整" in verified.stdout, verified.stdout + verified.stderr

    again = manage("restore", str(backup_file), env={**restored_env, "MEDIA_ROOT": str(tmp_path / "other")})
    assert again.returncode != 0 and f"目标数据库 {name} 不是空库" in again.stderr
    with psycopg.connect(url) as target, target.cursor() as cursor:
        assert backups.table_row_counts(cursor) == source_counts  # the refused restore changed nothing


def test_restore_refuses_a_file_that_is_not_a_backup(empty_database, tmp_path):
    _, url = empty_database
    stray = tmp_path / "stray.tar"
    with tarfile.open(stray, "w") as tar:
        tar.add(__file__, "test.py")
    result = manage("restore", str(stray), env={**conftest.child_environment(), "DATABASE_URL": url,
                                                 "MEDIA_ROOT": str(tmp_path / "media")})
    assert result.returncode != 0 and "不是本系统的备份文件" in result.stderr


def test_no_pg_dump_older_than_the_server_is_used():
    with pytest.raises(backups.BackupError, match="找不到不低于数据库服务器版本 99 的 pg_dump"):
        backups.find_tool("pg_dump", 99)
    for major in (15, 16):
        tool = backups.find_tool("pg_dump", major)
        assert tool.major >= major
