"""Limits on uploads, read before any parse (issue 13, finding 2): a zip bomb and a sheet of a million empty
rows are refused from the zip directory and a streamed count, within 2 s and 200 MB in the web process, with
no run left behind; rows, columns and file size are capped with a message naming the limit, in the worker
and command paths too; the choice of a background preview comes from those cheap facts, never a parse."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from poverty_registry import importing
from poverty_registry.models import ImportRun
from poverty_registry.tabular import TableFormatError, check_upload, read_table
from tests.poverty_registry.ledger_builders import ledger_xlsx, row
from tests.poverty_registry.upload_bombs import empty_rows, zip_bomb

MB = 1024 * 1024
BOMB = 256 * MB  # over the 200 MB default, and deflated some thousand times: a few hundred KB to upload


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zip_bomb(BOMB)


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def measured(work):
    """(result, seconds, peak growth of this process's resident memory in bytes) of `work()`, sampled every
    few milliseconds by a thread: what a parse would allocate (in Rust or Python) shows."""
    baseline, peak, done = _rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss() - baseline)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        result = work()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    return result, seconds, peak[0]


def post(client, user, name: str, content: bytes, kind: str = "ledger"):
    client.force_login(user)
    return client.post(reverse("imports:new", args=[kind]), {"file": SimpleUploadedFile(name, content)}, follow=True)


@pytest.mark.parametrize("make, message", [
    (lambda: None, "解压后有 256 MB，超过单个部件 200 MB 的上限"),
    (empty_rows, "文件行数超过每个文件 300,000 行数据的上限"),
], ids=["zip-bomb", "million-empty-rows"])
def test_a_hostile_workbook_is_refused_in_the_request_fast_and_small(client, county_a, bomb, make, message):
    content = make() or bomb
    before = ImportRun.objects.count()
    response, seconds, growth = measured(lambda: post(client, county_a, "台账.xlsx", content))
    assert message in response.content.decode()
    assert seconds < 2 and growth < 200 * MB, (seconds, growth / MB)
    assert ImportRun.objects.count() == before
    assert not ImportRun.objects.filter(status__in=("previewing", "importing")).exists()


def test_the_worker_and_command_paths_refuse_the_bomb_before_parsing(bomb, tmp_path, county_a):
    with pytest.raises(TableFormatError, match="200 MB 的上限"):
        read_table(bomb, "台账.xlsx")
    path = tmp_path / "台账.xlsx"
    path.write_bytes(bomb)
    _, seconds, growth = measured(lambda: pytest.raises(TableFormatError, importing.import_path, "ledger", path,
                                                        county_a, dry_run=True))
    assert seconds < 2 and growth < 200 * MB


def test_compression_ratio_is_capped(settings):
    settings.IMPORT_MAX_MEMBER_MB = 1000
    with pytest.raises(TableFormatError, match=r"压缩比为 [\d,]+ 倍，超过 100 倍的上限"):
        check_upload(zip_bomb(8 * MB), "台账.xlsx")
    settings.IMPORT_MAX_COMPRESSION_RATIO = 100_000
    assert check_upload(zip_bomb(8 * MB), "台账.xlsx").rows_estimate == 1  # its one row, counted


def test_rows_columns_and_file_size_are_capped_with_the_limit_named(settings, client, county_a):
    settings.IMPORT_MAX_ROWS = 50
    many = ("户编号,姓名\n" + "H1,张三\n" * 61).encode()
    with pytest.raises(TableFormatError, match="超过每个文件 50 行数据的上限"):
        read_table(many, "台账.csv")
    assert read_table(("户编号,姓名\n" + "H1,张三\n" * 50).encode(), "台账.csv").rows
    with pytest.raises(TableFormatError, match="超过每个文件 50 行数据的上限"):
        read_table(ledger_xlsx([["H1", "张三"]] * 61), "台账.xlsx")
    with pytest.raises(TableFormatError, match="文件有 201 列，超过 200 列的上限"):
        read_table((",".join(["列"] * 201) + "\n").encode(), "台账.csv")
    with pytest.raises(TableFormatError, match="文件有 201 列，超过 200 列的上限"):
        read_table(ledger_xlsx([["x"] * 201], title=None), "台账.xlsx")
    settings.IMPORT_MAX_FILE_MB = 1
    response = post(client, county_a, "台账.csv", b"x" * (MB + 1))
    assert "文件超过 1 MB 的上限" in response.content.decode()


def test_the_request_decides_on_a_background_preview_without_parsing(client, county_a, monkeypatch):
    """A file of more rows than an inline preview takes goes to a worker, found by counting its rows in the zip
    stream: no reader runs in the request."""
    import python_calamine

    def no_parse(*args, **kwargs):
        raise AssertionError("the request parsed the workbook")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", no_parse)
    rows = [row(f"L{i:05d}", f"大批{i}", i % 1000, "430621100201") for i in range(importing.LARGE_IMPORT_ROWS + 1)]
    post(client, county_a, "台账.xlsx", ledger_xlsx(rows, title=None))
    run = ImportRun.objects.latest("id")
    assert run.background and run.status == "previewing"
