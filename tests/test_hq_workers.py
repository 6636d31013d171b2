"""``posplugin hq serve --workers N``: several front-door processes on one
port over one PostgreSQL, none holding anything that matters in its own
memory, watched by a parent that replaces a worker that dies."""

import io
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from helpers import ID_KEY, children, cli_env, free_port, run_cli, start_hq, tier_csv
from servers import Nginx

from posplugin.hq.office import HeadOffice


@pytest.fixture
def workers(postgres, tmp_path):
    """``posplugin hq serve --workers 2`` over a fresh PostgreSQL database."""
    url = postgres.create_database(f"workers_{uuid.uuid4().hex[:8]}")
    proc, base = start_hq(tmp_path / "hq", {"hq_database_url": url}, workers=2)
    office = HeadOffice(tmp_path / "hq", ID_KEY, default_region="NO", database_url=url)
    yield proc, base, office
    office.close()
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.slow
def test_a_worker_killed_is_replaced_and_sigterm_stops_them_all(workers):
    proc, base, _ = workers
    first = children(proc.pid)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while not (len(children(proc.pid)) == 2 and victim not in children(proc.pid)):
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        time.sleep(0.1)
    assert {requests.get(base + "/hq/v1/openapi.json", timeout=5).status_code for _ in range(20)} == {200}
    workers_now = children(proc.pid)
    proc.terminate()
    assert proc.wait(timeout=20) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers_now)


@pytest.mark.slow
def test_every_worker_serves_the_same_state(workers):
    proc, base, office = workers
    assert len(children(proc.pid)) == 2  # two workers under the watching parent
    # Tokens and versions made by another process (the command line, here the test).
    store = {"Authorization": f"Bearer {office.create_token('store', 'oslo')}"}
    admin = {"Authorization": f"Bearer {office.create_token('admin', 'ops')}"}
    office.import_csv(io.StringIO(tier_csv()))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.get(base + "/hq/v1/feed/manifest.json", headers=store,
                                                       timeout=10), range(40)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1 and len({a.headers["ETag"] for a in answers}) == 1
    etag = answers[0].headers["ETag"]
    with ThreadPoolExecutor(8) as pool:
        again = list(pool.map(lambda _: requests.get(base + "/hq/v1/feed/manifest.json", timeout=10,
                                                     headers={**store, "If-None-Match": etag}), range(20)))
    assert {a.status_code for a in again} == {304}
    # The same batch delivered at once to both workers is counted once.
    body = {"batch": "b-1", "hours": [{"hour": "2026-11-23T10:00:00Z", "made": {"service:murdoch": 2}}]}
    with ThreadPoolExecutor(8) as pool:
        accepted = list(pool.map(lambda _: requests.post(base + "/hq/v1/reports", json=body, headers=store,
                                                         timeout=10).json()["accepted"], range(16)))
    assert accepted.count(True) == 1
    view = requests.get(base + "/hq/v1/stores?days=90", headers=admin, timeout=10).json()
    oslo = view["stores"][0]
    assert oslo["last_sync_at"] and oslo["figures"]["prompts_made"] == 2 and view["latest"]["version"] == 1


def test_several_workers_need_postgresql(tmp_path):
    done = run_cli("hq", "serve", "--workers", "2", "--data", str(tmp_path), "--port", str(free_port()),
                   env=cli_env())
    assert done.returncode != 0 and "hq_database_url" in done.stderr


@pytest.mark.slow
def test_the_documented_chain_setup(postgres, tmp_path):
    """docs/scaling.md's commands: head office on PostgreSQL with two workers,
    the feed's bodies in a folder nginx serves, a store syncing by command."""
    if not Nginx.available():
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    nginx = Nginx(tmp_path / "www", tmp_path / "nginx").start()
    settings = {"hq_database_url": postgres.create_database(f"chain_{uuid.uuid4().hex[:8]}"),
                "feed_store": str(tmp_path / "www" / "feed"), "feed_base_url": nginx.url + "/feed/"}
    data = str(tmp_path / "hq")
    proc, base = start_hq(tmp_path / "hq", settings, workers=2)
    try:
        (tmp_path / "tiers.csv").write_text(tier_csv())
        imported = run_cli("hq", "import", str(tmp_path / "tiers.csv"), "--data", data, env=cli_env(**settings))
        assert imported.stdout.startswith("4 rows loaded as version 1"), imported.stderr
        token = run_cli("hq", "store", "add", "oslo-1", "--data", data, env=cli_env(**settings)).stdout.strip()
        key = run_cli("hq", "public-key", "--data", data, env=cli_env(**settings)).stdout.strip()
        office = HeadOffice(tmp_path / "hq", ID_KEY, database_url=settings["hq_database_url"])
        assert (tmp_path / "www" / "feed" / office.latest()["snapshot"]).exists()
        office.close()
        synced = run_cli("sync", "--once", "--data", str(tmp_path / "store"),
                         env=cli_env(hq_url=base, hq_token=token, hq_public_key=key, default_region="NO"))
        assert synced.returncode == 0 and synced.stdout.startswith("updated: applied version 1 (snapshot, 4 rows)")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        nginx.stop()
