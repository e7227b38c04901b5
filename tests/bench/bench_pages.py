"""The pages staff open most, at city scale: `setup_demo --persons N` (BENCH_PAGES_PERSONS, default 1,000,000),
gunicorn with 4 workers on loopback, each page as a logged-in user of the role that opens it; p95 of one user
(sequential requests) and p95 under 20 concurrent users (locust, headless, bounded run time)."""
from __future__ import annotations

import contextlib
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tests.bench.harness import ROOT, Entry, steady_state

SINGLE_TARGET_MS = 300.0
LOAD_TARGET_MS = 800.0
WORKERS = 4


def pages() -> list[tuple[str, str, list[str]]]:
    """(name, account, URLs taken in turn): the person list is searched, filtered and paged as staff do."""
    from poverty_registry.models import Person

    surname = (Person.objects.order_by("id").values_list("name", flat=True).first() or "张")[:1]
    return [
        ("home", "shiji", ["/"]),
        ("person list", "shiji", ["/admin/poverty_registry/person/",
                                  f"/admin/poverty_registry/person/?q={urllib.parse.quote(surname)}",
                                  "/admin/poverty_registry/person/?region=430621&category=dibao&p=2",
                                  "/admin/poverty_registry/person/?poverty_status=tuopin&p=3"]),
        ("enrolment rate", "shiji", ["/enrollment/rate/"]),
        ("chase list", "xianji", ["/enrollment/chase/"]),
        ("claims statistics", "shiji", ["/claims/statistics/"]),
        ("risk list", "shiji", ["/claims/risk/"]),
        ("supervision overview", "jianguan", ["/supervision/"]),
        ("hits", "jianguan", ["/supervision/hits/"]),
        ("work queue", "xiangzhen", ["/matching/"]),
        ("audit list", "jianguan",
         ["/admin/poverty_registry/auditrecord/", "/admin/poverty_registry/auditrecord/?p=2"]),
    ]


def session_cookie(username: str) -> str:
    """A logged-in session of the account, as the login form would leave it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    user = get_user_model().objects.get(username=username)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(4 * 3600)
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_environment(var_dir: str) -> dict:
    """As in production (DEBUG off, manifest static files), on plain HTTP over loopback; this process's key, which
    signed the sessions."""
    from django.conf import settings

    return {**os.environ, "DEBUG": "0", "SECRET_KEY": settings.SECRET_KEY, "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1", "VAR_DIR": var_dir, "DJANGO_SETTINGS_MODULE": "config.settings"}


@contextlib.contextmanager
def gunicorn(env: dict):
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                   check=True)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(WORKERS),
                                "-b", f"127.0.0.1:{port}", "--timeout", "120", "--log-level", "warning"],
                               cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=5).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def fetch(base: str, url: str, cookie: str) -> float:
    request = urllib.request.Request(base + url, headers={"Cookie": cookie})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
        if response.status != 200 or response.url.rstrip("/").endswith("/login"):
            raise RuntimeError(f"{url}: {response.status} {response.url}")
    seconds = time.perf_counter() - started
    if b"id_password" in body:  # redirected to the login form: the session was refused
        raise RuntimeError(f"{url}: not logged in")
    return seconds


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def single_user(base: str, plan, cookies: dict, requests: int) -> dict[str, float]:
    """p95 (ms) of each page, one request at a time, after one warm-up request per URL (each worker's first
    request of a page pays for imports and template compilation, not what staff wait for)."""
    result = {}
    for name, account, urls in plan:
        for url in urls:
            for _ in range(WORKERS):
                fetch(base, url, cookies[account])
        times = [fetch(base, urls[i % len(urls)], cookies[account]) for i in range(requests)]
        result[name] = p95(times) * 1000
        print(f"  {name:<22} 1 user  p95 {result[name]:8.0f} ms  (max {max(times) * 1000:.0f})", flush=True)
    return result


def under_load(base: str, plan, cookies: dict, users: int, seconds: int, workdir: Path) -> dict[str, float]:
    """p95 (ms) of each page while `users` locust users open all the pages in turn, without pause, for
    `seconds`: locust's own percentiles, read from its CSV."""
    env = {**os.environ, "BENCH_PAGES_PLAN": repr([(n, cookies[a], urls) for n, a, urls in plan])}
    prefix = workdir / "locust"
    subprocess.run([sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("locust_pages.py")),
                    "--headless", "--host", base, "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
                    "--stop-timeout", "30", "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
                   cwd=ROOT, env=env, check=False)
    result = {}
    with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] != "Aggregated":
                if int(row["Failure Count"]):
                    raise RuntimeError(f"{row['Name']}: {row['Failure Count']} failed requests under load")
                result[row["Name"]] = float(row["95%"])
                print(f"  {row['Name']:<22} {users} users p95 {result[row['Name']]:8.0f} ms  "
                      f"({row['Request Count']} requests)", flush=True)
    return result


def build_city(persons: int) -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("setup_demo", persons=persons, verbosity=0)
    steady_state()
    return time.perf_counter() - started


def run() -> list[Entry]:
    persons = int(os.environ.get("BENCH_PAGES_PERSONS", "1000000"))
    requests = int(os.environ.get("BENCH_PAGES_REQUESTS", "30"))
    users = int(os.environ.get("BENCH_PAGES_USERS", "20"))
    load_seconds = int(os.environ.get("BENCH_PAGES_LOAD_SECONDS", "60"))
    built = build_city(persons)
    print(f"  setup_demo --persons {persons}: {built:.0f} s", flush=True)
    return measure(persons, requests, users, load_seconds)


def measure(persons: int, requests: int, users: int, load_seconds: int) -> list[Entry]:
    plan = pages()
    cookies = {account: session_cookie(account) for account in {a for _, a, _ in plan}}
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as workdir, \
            gunicorn(server_environment(workdir)) as base:
        single = single_user(base, plan, cookies, requests)
        loaded = under_load(base, plan, cookies, users, load_seconds, Path(workdir))
    scale = f"{persons // 1000}k" if persons < 1_000_000 else f"{persons / 1_000_000:g}M"
    entries = []
    for name, _, _ in plan:
        entries.append(Entry(f"page {name} p95 1 user ({scale})", single[name], "ms", "target",
                             SINGLE_TARGET_MS, round(single[name] / SINGLE_TARGET_MS, 2)))
    for name, _, _ in plan:
        entries.append(Entry(f"page {name} p95 {users} users ({scale})", loaded[name], "ms", "target",
                             LOAD_TARGET_MS, round(loaded[name] / LOAD_TARGET_MS, 2)))
    return entries
