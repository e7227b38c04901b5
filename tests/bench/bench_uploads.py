"""Hostile uploads (issue 13, finding 2): the web request's refusal of a 1 GB-sheet zip bomb and of a sheet of
1,048,576 empty rows — seconds and the peak memory (RSS) of the web process, a fresh child process that posts
the file to the upload page with Django's test client (its RSS before the post is reported too: Django and
the apps loaded). Target: refused within 2 s and 200 MB, no import run left behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.bench.bench_ledger import cached_file
from tests.bench.harness import ROOT, Entry

BOMB_BYTES = int(os.environ.get("BENCH_UPLOADS_BOMB_MB", "1024")) * 1024 * 1024
USERNAME = "bench_uploads"


def run() -> list[Entry]:
    from poverty_registry.services import save_staff
    from tests.poverty_registry.upload_bombs import empty_rows, zip_bomb

    save_staff(USERNAME, region_code="430621", role="county")
    files = {
        "zip bomb (1 GB sheet)": cached_file(f"zip_bomb_{BOMB_BYTES >> 20}mb.xlsx", lambda: zip_bomb(BOMB_BYTES)),
        "1,048,576 empty rows": cached_file("empty_rows_1048576.xlsx", empty_rows),
    }
    entries = []
    for label, data in files.items():
        result = post_in_child(label, data)
        assert result["refused"] and result["runs"] == 0, result
        entries += [Entry(f"upload refused: {label}", result["seconds"] * 1000, "ms"),
                    Entry(f"upload refused: {label} peak RSS", result["peak_mb"], "MB"),
                    Entry(f"upload refused: {label} RSS growth", result["peak_mb"] - result["before_mb"], "MB")]
        print(f"{label}: {len(data) / 1024:,.0f} KB, {result}", flush=True)
    return entries


def post_in_child(label: str, data: bytes) -> dict:
    path = ROOT / "var" / "bench_cache" / "upload_under_test.xlsx"
    path.write_bytes(data)
    out = subprocess.run([sys.executable, "-m", "tests.bench.bench_uploads", str(path)], cwd=ROOT, env=os.environ,
                         stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(path: str) -> None:
    """In a fresh process: the upload page's POST of the file, timed; the process's peak RSS."""
    import resource
    import time

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from poverty_registry.models import ImportRun, User

    client = Client(HTTP_HOST="localhost")  # as a browser on the server would; the test host is not allowed
    client.force_login(User.objects.get(username=USERNAME))
    client.get(reverse("imports:new", args=["ledger"]))  # the page's code loaded: the post alone is measured
    with open(path, "rb") as handle:
        upload = SimpleUploadedFile("台账.xlsx", handle.read())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    response = client.post(reverse("imports:new", args=["ledger"]), {"file": upload}, follow=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    refused = response.status_code == 200 and "的上限" in response.content.decode()
    print(json.dumps({"seconds": round(seconds, 3), "peak_mb": round(peak, 1), "before_mb": round(before, 1),
                      "refused": refused, "runs": ImportRun.objects.count()}))


if __name__ == "__main__":
    child(sys.argv[1])
