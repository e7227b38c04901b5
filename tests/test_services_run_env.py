"""Running a manage.py command against the servers of a running `make run` (issue 15, finding 3): `make run`
writes var/run.env with the URLs of the servers it started and removes it when it stops; `python -m
config.services exec` uses those that answer (two embedded PostgreSQL cannot share var/pgdata), and
`exec --isolated` (make test, make bench) takes its own Redis database beside them."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from config import services
from tests.conftest import REGIONS_CSV

CLOSED_DB = "postgresql://postgres@127.0.0.1:1/none"


@pytest.fixture
def urls(db):
    from django.conf import settings

    from tests.conftest import test_database_url

    return {"DATABASE_URL": test_database_url(), "REDIS_URL": settings.REDIS_URL}


@pytest.fixture
def run_env(tmp_path, monkeypatch):
    path = tmp_path / "run.env"
    monkeypatch.setattr(services, "RUN_ENV", path)
    for key in services.SERVICE_KEYS:
        monkeypatch.delenv(key, raising=False)
    return path


def no_embedded(monkeypatch):
    def refuse(stack):
        raise AssertionError("started an embedded server although make run's answers")

    monkeypatch.setattr(services, "_start_postgres", refuse)
    monkeypatch.setattr(services, "_start_redis", refuse)


def test_exec_uses_the_servers_of_a_running_make_run(run_env, urls, monkeypatch):
    run_env.write_text("".join(f"{k}={v}\n" for k, v in urls.items()))
    no_embedded(monkeypatch)
    with contextlib.ExitStack() as stack:
        env = services.service_environment(stack, reuse=True)
        assert {k: env[k] for k in urls} == urls
        isolated = services.service_environment(stack, reuse=True, isolated=True)
        assert isolated["DATABASE_URL"] == urls["DATABASE_URL"]
        assert isolated["REDIS_URL"].rsplit("/", 1) == [urls["REDIS_URL"].rsplit("/", 1)[0], "15"]


def test_a_stale_run_env_is_ignored(run_env, urls):
    run_env.write_text(f"DATABASE_URL={CLOSED_DB}\nREDIS_URL={urls['REDIS_URL']}\n")
    assert services.running_urls() == {"REDIS_URL": urls["REDIS_URL"]}


def test_make_run_writes_run_env_while_it_runs(run_env, monkeypatch):
    monkeypatch.setattr(services, "_start_postgres", lambda stack: "postgresql://postgres@/medins?host=/tmp/x")
    monkeypatch.setattr(services, "_start_redis", lambda stack: "redis://127.0.0.1:5555/0")
    with contextlib.ExitStack() as stack:
        services.service_environment(stack, publish=True)
        assert run_env.read_text() == ("DATABASE_URL=postgresql://postgres@/medins?host=/tmp/x\n"
                                       "REDIS_URL=redis://127.0.0.1:5555/0\n")
    assert not run_env.exists()


def test_manage_py_through_exec_reaches_make_runs_database(tmp_path, urls):
    (tmp_path / "run.env").write_text("".join(f"{k}={v}\n" for k, v in urls.items()))
    env = {k: v for k, v in os.environ.items() if k not in services.SERVICE_KEYS}
    code = "import os; print(os.environ['DATABASE_URL']); print(os.environ['REDIS_URL'])"
    done = subprocess.run([sys.executable, "-m", "config.services", "exec", "--", sys.executable, "-c", code],
                          env={**env, "VAR_DIR": str(tmp_path)}, cwd=REGIONS_CSV.parents[2], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == [urls["DATABASE_URL"], urls["REDIS_URL"]]
