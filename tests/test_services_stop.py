"""`make run` / `make test` stop whole: a SIGINT or SIGTERM sent to the `make` process alone (not its process
group) stops the embedded PostgreSQL and Redis and every child (config.services)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_to_make_stops_servers_and_children(tmp_path, stop_signal):
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"up:\n\t{sys.executable} -m config.services exec -- sleep 300\n")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env["VAR_DIR"] = str(tmp_path / "var")
    log = tmp_path / "make.log"
    with log.open("wb") as out:
        make = subprocess.Popen(["make", "-s", "-f", str(makefile), "up"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        top = psutil.Process(make.pid)
        sleeper = _wait_for(lambda: next((p for p in top.children(recursive=True) if p.name() == "sleep"), None),
                            120, "the command to start under the embedded servers")
        port = int(re.search(r"redis://127\.0\.0\.1:(\d+)/", log.read_text()).group(1))
        postmaster = next(p for p in psutil.process_iter(["cmdline"])
                          if str(tmp_path / "var" / "pgdata") in " ".join(p.info["cmdline"] or []))
        tree = [*top.children(recursive=True), postmaster]
        assert _port_open(port)

        os.kill(make.pid, stop_signal)  # to make alone, as `kill -INT <pid>` does

        make.wait(timeout=90)
        assert not _alive(sleeper)
        _wait_for(lambda: not any(_alive(p) for p in tree), 30, "every child and the embedded PostgreSQL to stop")
        _wait_for(lambda: not _port_open(port), 30, "the embedded Redis to stop")
    finally:
        if make.poll() is None:
            make.kill()
        for process in psutil.process_iter(["cmdline"]):
            if str(tmp_path) in " ".join(process.info["cmdline"] or []):
                process.kill()
