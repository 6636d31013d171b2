"""Faults are normal: a real `posplugin serve` killed with SIGKILL, a data
folder on a full disk, a clock stepped backwards, damaged files. After each,
nothing that was acknowledged is lost and the till is never blocked."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from helpers import ID_KEY, cli_env, free_port, run_cli, serve, tier_csv

from posplugin.config import Settings
from posplugin.store import auth, outbox
from posplugin.store.service import Store
from posplugin.store.sync import sync_once
from posplugin.tiers.lists import import_csv
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer

LIBFAKETIME = next((p for p in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                                "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
                                "/usr/lib/faketime/libfaketimeMT.so.1") if Path(p).exists()), None)
MURDOCH = {"type": "phone", "value": "+4741234567"}


def cli(data: Path, *args: str, env: dict | None = None) -> str:
    done = run_cli(*args, "--data", str(data), env={"POSPLUGIN_ID_KEY": ID_KEY,
                                                     "POSPLUGIN_DEFAULT_REGION": "NO", **(env or {})})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def prepared(data: Path) -> dict:
    """A data folder with the test tier list and a token of each role we need."""
    (data.parent / "tiers.csv").write_text(tier_csv(), encoding="utf-8")
    cli(data, "tiers", "import", str(data.parent / "tiers.csv"))
    return {role: cli(data, "token", "create", "--role", role, "--name", f"t-{role}")
            for role in ("till", "staff")}


def start(data: Path, env: dict | None = None, wrapper: list[str] | None = None):
    port = free_port()
    proc, health = serve((wrapper or []) + [sys.executable, "-m", "posplugin"], data, port,
                         {**cli_env(default_region="NO"), **(env or {})})
    assert health.status_code == 200, health.text
    return proc, f"http://127.0.0.1:{port}"


def kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def post(url: str, token: str, path: str, body: dict) -> requests.Response:
    return requests.post(url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)


@pytest.mark.slow
def test_sigkill_loses_nothing_acknowledged_and_reuses_no_visit_id(tmp_path):
    """Identifies, prompts and acks against a real `posplugin serve`, then
    SIGKILL with deferred writes in flight. After a restart every prompt and
    every ack that was answered is there, and no visit id is handed out again."""
    data = tmp_path / "store"
    tokens = prepared(data)
    proc, url = start(data)
    visit_ids, acked = [], []
    try:
        for i in range(60):
            lane = str(i % 6 + 1)
            value = MURDOCH if i % 3 == 0 else {"type": "email", "value": f"walk-in-{i}@example.com"}
            answer = post(url, tokens["till"], "/api/v1/identify", {"lane": lane, "identifier": value})
            assert answer.status_code == 200
            visit_ids.append(answer.json()["visit_id"])
            prompt = answer.json()["prompt"]
            if prompt and prompt["status"] == "open" and prompt["id"] not in acked:
                taken = post(url, tokens["staff"], f"/api/v1/prompts/{prompt['id']}/ack", {"by": "Ana"})
                assert taken.status_code == 200
                acked.append(prompt["id"])
    finally:
        kill(proc)  # at once: the last deferred visits are still in memory
    assert acked
    proc, url = start(data)
    try:
        staff = {"Authorization": f"Bearer {tokens['staff']}"}
        prompts = requests.get(url + "/api/v1/prompts", headers=staff, timeout=5).json()["prompts"]
        by_id = {p["id"]: p for p in prompts}
        assert all(by_id[pid]["status"] == "taken" and by_id[pid]["taken_by"] == "Ana" for pid in acked)
        after = post(url, tokens["till"], "/api/v1/identify",
                     {"lane": "9", "identifier": {"type": "email", "value": "after@example.com"}})
        assert after.json()["visit_id"] > max(visit_ids)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def small_disk(path: Path, size: str = "4m"):
    """A tmpfs of ``size`` at ``path`` where this machine lets us mount one."""
    path.mkdir(parents=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root (test_db.py injects ENOSPC instead)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); test_db.py injects ENOSPC")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the file system under ``folder`` to the last byte."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_answers_the_till_and_writes_everything_once_there_is_room(tmp_path, settings):
    """The data folder's disk is full: identify still answers 200, /healthz
    says degraded and why; when room is made, every acknowledged visit lands."""
    disk = small_disk(tmp_path / "disk")
    with disk as folder:
        store = Store(settings.replace(data_dir=folder / "store"))
        import_csv(store.tiers, io.StringIO(tier_csv()), store.hasher)
        with store.db.write() as conn:
            token = auth.create_token(conn, "till", "t")
        store.db.deferred.retry_s = 0.05
        server = BackgroundServer(create_app(store=store)).start()
        try:
            filler = fill(folder)
            ids = []
            for i in range(30):
                answer = post(server.url, token, "/api/v1/identify",
                              {"lane": "1", "identifier": {"type": "email", "value": f"full-{i}@example.com"}})
                assert answer.status_code == 200
                ids.append(answer.json()["visit_id"])
            store.visits.flush()
            health = requests.get(server.url + "/healthz", timeout=5).json()
            assert health["status"] == "degraded" and "full" in " ".join(health["warnings"])
            filler.unlink()
            deadline = time.monotonic() + 10
            while store.db.deferred.waiting and time.monotonic() < deadline:
                store.visits.flush()
            written = {v.id for v in store.visits.recorded()}
            assert set(ids) <= written
            assert requests.get(server.url + "/healthz", timeout=5).json()["status"] == "ok"
        finally:
            server.stop()
            store.close()


@pytest.mark.slow
@pytest.mark.skipif(LIBFAKETIME is None, reason="libfaketime is not installed (apt-get install faketime)")
def test_a_clock_stepped_back_under_libfaketime_still_reports_to_head_office(tmp_path, hq):
    """`posplugin serve` under libfaketime: a prompt is made, the wall clock
    steps back two minutes (NTP), the prompt is taken. Head office accepts the
    report (no negative time to act) and nothing stays behind in the outbox."""
    data = tmp_path / "store"
    tokens = prepared(data)
    clock_file = tmp_path / "faketime"
    clock_file.write_text("+0\n")
    env = {"LD_PRELOAD": LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": str(clock_file),
           "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    proc, url = start(data, env)
    try:
        prompt = post(url, tokens["till"], "/api/v1/identify", {"lane": "3", "identifier": MURDOCH}).json()["prompt"]
        clock_file.write_text("-120s\n")
        time.sleep(0.2)
        assert post(url, tokens["staff"], f"/api/v1/prompts/{prompt['id']}/ack", {"by": "Ana"}).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    token = hq.create_token("store", "faketime-store")
    store = Store(cli_settings(data, hq_url=hq.server.url, hq_token=token, hq_public_key=hq.public_key))
    try:
        rows = store.db.execute("SELECT at - created_at FROM outbox WHERE action = 'taken'").fetchall()
        assert rows and rows[0][0] < 0  # the step really happened
        result = sync_once(store)
        assert result.ok, result
        assert outbox.counts(store.db)["pending"] == 0
        assert hq.stores()[0]["figures"]["taken"] == 1
    finally:
        store.close()


def cli_settings(data: Path, **changes):
    return Settings(data_dir=data, id_key=ID_KEY, default_region="NO", timezone="Europe/Oslo",
                    rate_limit_per_s=0, **changes)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["junk at its start", "zero length"])
def test_a_list_damaged_while_the_service_was_down(tmp_path, how):
    """SIGKILL, the current tier-list file damaged, restart: identify and
    /healthz answer (everyday, degraded), and `tiers import` repairs it."""
    data = tmp_path / "store"
    tokens = prepared(data)
    proc, url = start(data)
    kill(proc)
    current = data / (data / "tiers-current").read_text().strip()
    if how == "zero length":
        current.write_bytes(b"")
    else:
        with open(current, "r+b") as f:
            f.write(os.urandom(512))
    proc, url = start(data)
    try:
        answer = post(url, tokens["till"], "/api/v1/identify", {"lane": "1", "identifier": MURDOCH})
        assert answer.status_code == 200 and answer.json()["tier"] == "everyday"
        health = requests.get(url + "/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        cli(data, "tiers", "import", str(data.parent / "tiers.csv"))
        answer = post(url, tokens["till"], "/api/v1/identify", {"lane": "2", "identifier": MURDOCH})
        assert answer.json()["tier"] == "nano"
        assert requests.get(url + "/healthz", timeout=5).json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
