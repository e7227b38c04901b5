"""Benchmark harness: a fresh database, the demo regions, each benchmark's entries, var/bench.json."""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import resource
import sys
import time
import traceback
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def run(selected: list[str]) -> list[Entry]:
    fresh_database()
    setup_django()
    import tests.bench as package

    entries: list[Entry] = []
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not module_info.name.startswith("bench_"):
            continue
        if selected and module_info.name.removeprefix("bench_") not in selected:
            continue
        module = importlib.import_module(f"tests.bench.{module_info.name}")
        print(f"== {module_info.name}", flush=True)
        started = time.perf_counter()
        try:
            entries.extend(module.run())
        except Exception:  # noqa: BLE001 — one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            entries.append(Entry(f"{module_info.name} FAILED (see log)", 0.0, "error"))
        print(f"== {module_info.name} took {time.perf_counter() - started:.0f} s", flush=True)
    return entries


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
