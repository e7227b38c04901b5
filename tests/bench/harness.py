"""Benchmark harness: a fresh database, the demo regions, each benchmark's entries, var/bench.json."""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Entry:
    name: str
    value: float
    unit: str
    peer: str | None = None
    peer_value: float | None = None
    ratio: float | None = None


def bench_database_url(url: str) -> tuple[str, str, str]:
    """(bench database URL, admin URL, bench database name) beside the configured database."""
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "medins") + "_bench"
    return (urlunsplit(parts._replace(path=f"/{name}")), urlunsplit(parts._replace(path="/postgres")), name)


def fresh_database() -> None:
    import psycopg

    url, admin_url, name = bench_database_url(os.environ["DATABASE_URL"])
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute("CHECKPOINT")
    os.sync()  # the previous benchmark's writes reach the disk before this one starts, not during it
    os.environ["DATABASE_URL"] = url


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("load_regions", str(ROOT / "poverty_registry" / "fixtures" / "yueyang_regions.csv"), verbosity=0)


@contextlib.contextmanager
def celery_worker(concurrency: int = 2):
    """A real Celery worker (prefork) on the bench database and Redis, for benchmarks of Celery jobs."""
    from config.celery import app

    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "prefork", "-c", str(concurrency),
         "-l", "warning", "-n", f"bench-{os.getpid()}@%h", "--without-heartbeat", "--without-gossip",
         "--without-mingle"], cwd=ROOT, env=os.environ)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def steady_state(*tables: str) -> None:
    """After generating data, before measuring: a checkpoint now (not one flushing the generated gigabytes in
    the middle of a measurement), the writes on disk, and fresh statistics (of `tables`, or of all), as a
    database in service would have them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
        cursor.execute(f"ANALYZE {', '.join(tables)}")
    os.sync()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def modules(selected: list[str]) -> list[str]:
    import tests.bench as package

    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_"))
    return [n for n in names if not selected or n.removeprefix("bench_") in selected]


def run(selected: list[str]) -> list[Entry]:
    """Each benchmark in a process of its own, on a fresh database: no benchmark sees another's data."""
    entries: list[Entry] = []
    for name in modules(selected):
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        child = subprocess.run([sys.executable, "-m", "tests.bench", "--one", name], cwd=ROOT, env=os.environ,
                               stdout=subprocess.PIPE, text=True)
        print(f"== {name} took {time.perf_counter() - started:.0f} s", flush=True)
        lines = child.stdout.strip().splitlines()
        if child.returncode == 0 and lines and lines[-1].startswith(RESULT_PREFIX):
            entries.extend(Entry(**e) for e in json.loads(lines[-1].removeprefix(RESULT_PREFIX)))
            print("\n".join(lines[:-1]))
        else:
            print(child.stdout)
            entries.append(Entry(f"{name} FAILED (see log)", 0.0, "error"))
    return entries


RESULT_PREFIX = "BENCH-RESULT "


def run_one(name: str) -> None:
    fresh_database()
    setup_django()
    module = importlib.import_module(f"tests.bench.{name}")
    print(RESULT_PREFIX + json.dumps([asdict(e) for e in module.run()], ensure_ascii=False), flush=True)


def report(entries: list[Entry]) -> None:
    out = ROOT / "var" / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([asdict(e) for e in entries], ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\n{'benchmark':<48} {'value':>14} {'unit':<12} {'peer':>14} {'ratio':>8}")
    for e in entries:
        peer = f"{e.peer_value:,.1f}" if e.peer_value is not None else "—"
        ratio = f"{e.ratio:,.1f}×" if e.ratio is not None else "—"
        print(f"{e.name:<48} {e.value:>14,.1f} {e.unit:<12} {peer:>14} {ratio:>8}")
    print(f"\n写入 {out}")
