"""Head office and store, each a real server on 127.0.0.1: the signed feed,
full syncs, unchanged lists, and everything that must be refused while the
previous list keeps serving."""

import hashlib
import io
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
import requests
from helpers import ID_KEY, REPO, cli, cli_env, damage, free_port, hq_query, run_cli, serve, tier_csv
from servers import QuietHandler, serving
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from posplugin.hq import office as hq_module
from posplugin.hq.office import HeadOffice
from posplugin.hq.web.app import create_hq_app
from posplugin.store.service import Store
from posplugin.store.sync import sync_in_child, sync_once
from posplugin.tiers import feed
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer


@pytest.fixture
def synced_store(hq, settings):
    token = hq.create_token("store", "oslo-1")
    store = Store(settings.replace(hq_url=hq.server.url, hq_token=token, hq_public_key=hq.public_key),
                  clock=hq.test_clock)
    yield store
    store.close()


def followers(store, id_type, value):
    record = store.tiers.lookup(store.hasher(id_type, value))
    return record and record.followers


def publish(hq, rows):
    return hq.import_csv(io.StringIO(tier_csv(rows)))


V1 = [["phone", "+47 412 34 567", "4200", "6.2%", "running", "yes"],
      ["email", "optout@example.com", "9000", "5%", "", "no"]]
V2 = [["email", "new@example.com", "50000", "1%", "", "yes"]]


def test_full_sync_then_unchanged(hq, synced_store):
    assert publish(hq, V1) == {"version": 1, "rows": 1, "delta": None}
    first = sync_once(synced_store)
    assert (first.status, first.version) == ("updated", 1)
    assert followers(synced_store, "phone", "41234567") == 4200
    assert followers(synced_store, "email", "optout@example.com") is None
    again = sync_once(synced_store)
    assert again.status == "unchanged" and again.version == 1
    publish(hq, V2)
    assert sync_once(synced_store).version == 2
    assert followers(synced_store, "email", "new@example.com") == 50000
    assert followers(synced_store, "phone", "41234567") is None


BIG = [["email", f"c{i}@example.com", str(1000 + i), "2%", "coffee", "yes"] for i in range(300)]


def changed(rows, version):
    """``rows`` with the first ten removed, one changed and ten added."""
    rows = [list(r) for r in rows[10:]]
    rows[5][2] = str(int(rows[5][2]) + 7)
    return rows + [["email", f"v{version}-{i}@example.com", "5000", "5%", "", "yes"] for i in range(10)]


def list_rows(store):
    """Every row of a store's current list."""
    conn = sqlite3.connect(store.tiers.current_file())
    try:
        return conn.execute("SELECT * FROM tiers ORDER BY hash").fetchall()
    finally:
        conn.close()


def test_a_delta_gives_the_same_list_as_a_snapshot(hq, synced_store, settings, tmp_path):
    publish(hq, BIG)
    assert "snapshot, 300 rows" in sync_once(synced_store).message
    assert publish(hq, changed(BIG, 2))["delta"] == {"upserts": 11, "deletes": 10}
    result = sync_once(synced_store)
    assert result.version == 2 and "1 delta, 11 upserts, 10 deletes" in result.message
    assert followers(synced_store, "email", "c15@example.com") == 1015 + 7
    assert followers(synced_store, "email", "c0@example.com") is None
    fresh = Store(settings.replace(data_dir=tmp_path / "fresh", hq_url=hq.server.url, hq_public_key=hq.public_key,
                                   hq_token=hq.create_token("store", "fresh")), clock=hq.test_clock)
    try:
        assert "snapshot" in sync_once(fresh).message
        assert list_rows(fresh) == list_rows(synced_store) and len(list_rows(fresh)) == 300
    finally:
        fresh.close()


def test_a_store_several_versions_behind_follows_the_chain(hq, synced_store):
    publish(hq, BIG)
    sync_once(synced_store)
    publish(hq, changed(BIG, 2))
    publish(hq, changed(changed(BIG, 2), 3))
    result = sync_once(synced_store)
    assert result.version == 3 and "2 deltas" in result.message
    assert synced_store.tiers.info().rows == 300


def test_too_far_behind_takes_the_snapshot(hq, synced_store, monkeypatch):
    monkeypatch.setattr(hq_module, "DELTAS_KEPT", 1)
    publish(hq, BIG)
    sync_once(synced_store)
    publish(hq, changed(BIG, 2))
    publish(hq, changed(changed(BIG, 2), 3))
    manifest = json.loads(hq.signed_manifest())["manifest"]
    assert [d["to"] for d in manifest["deltas"]] == [3]
    kept = {manifest["snapshot"]["path"], manifest["deltas"][0]["path"], hq_query(hq, "SELECT snapshot FROM versions "
                                                                                       "WHERE version = 2")[0][0]}
    assert {p.name for p in hq.feed_dir.iterdir()} == kept and len(kept) == 3
    result = sync_once(synced_store)
    assert result.version == 3 and "snapshot" in result.message


def test_a_bad_delta_falls_back_to_the_verified_snapshot(hq, synced_store, tmp_path, caplog):
    publish(hq, BIG)
    sync_once(synced_store)
    publish(hq, changed(BIG, 2))
    files = {p.name: p.read_bytes() for p in hq.feed_dir.iterdir()}
    (delta,) = [d["path"] for d in json.loads(hq.signed_manifest())["manifest"]["deltas"]]
    files[delta] = files[delta].replace(b"\t1022\t", b"\t9999\t")
    with caplog.at_level(logging.WARNING, logger="posplugin.store.sync"):
        result = sync_through(synced_store, tmp_path, hq.signed_manifest(), files)
    assert result.status == "updated" and "snapshot" in result.message
    assert f"{delta} does not match the signed manifest" in caplog.text
    assert followers(synced_store, "email", "c15@example.com") == 1022


def test_unchanged_list_is_a_304(hq, synced_store):
    publish(hq, V1)
    sync_once(synced_store)
    manifest = requests.get(hq.server.url + "/hq/v1/feed/manifest.json",
                            headers={"Authorization": f"Bearer {synced_store.settings.hq_token}"})
    again = requests.get(hq.server.url + "/hq/v1/feed/manifest.json", headers={
        "Authorization": f"Bearer {synced_store.settings.hq_token}", "If-None-Match": manifest.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def serve_fake_feed(tmp_path, manifest_body: bytes, files: dict[str, bytes]):
    """A feed server whose answers a test controls (a tampering middle-man)."""

    class Feed(QuietHandler):
        def do_GET(self):
            name = self.path.rsplit("/", 1)[-1]
            body = manifest_body if name == "manifest.json" else files.get(name)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

    return serving(Feed)


def sync_through(store, tmp_path, manifest_body, files):
    """Point the store at a controlled feed for one sync."""
    with serve_fake_feed(tmp_path, manifest_body, files) as url:
        store.settings = store.settings.replace(hq_url=url)
        return sync_once(store)


def test_a_cdn_keeping_bodies_for_ever_still_serves_a_rebuilt_head_office(hq, synced_store, tmp_path):
    """Bodies are named by their SHA-256: a head office rebuilt from scratch
    (same key, new database) makes version 1 again with other rows, and a CDN
    that keeps every body it served for ever (as the immutable header lets it)
    cannot hand out the old one for it."""
    publish(hq, V1)
    cdn = {p.name: p.read_bytes() for p in hq.feed_dir.iterdir()}  # what the chain's stores pulled through it
    (tmp_path / "rebuilt").mkdir()
    shutil.copy(hq.data_dir / "hq-signing.key", tmp_path / "rebuilt")
    rebuilt = HeadOffice(tmp_path / "rebuilt", ID_KEY, default_region="NO", clock=hq.test_clock)
    try:
        assert publish(rebuilt, V2)["version"] == 1
        for body in rebuilt.feed_dir.iterdir():
            cdn.setdefault(body.name, body.read_bytes())  # a name it has seen is never fetched again
        manifest = json.loads(rebuilt.signed_manifest())["manifest"]
        snapshot = manifest["snapshot"]
        assert snapshot["path"] == f"snapshot-{snapshot['sha256']}.tsv"
        result = sync_through(synced_store, tmp_path, rebuilt.signed_manifest(), cdn)
    finally:
        rebuilt.close()
    assert (result.status, result.version) == ("updated", 1), result.message
    assert followers(synced_store, "email", "new@example.com") == 50000


@pytest.mark.parametrize("how", ["junk at its start", "zero length"])
def test_a_damaged_list_is_taken_again_from_head_office(hq, synced_store, how):
    """The list file in use is damaged after a sync: the next sync does not
    answer "unchanged" (same version, same ETag) but applies the snapshot."""
    publish(hq, V1)
    assert sync_once(synced_store).version == 1
    assert followers(synced_store, "phone", "+47 412 34 567") == 4200  # this thread holds the good list open
    damage(synced_store.tiers.current_file(), how)
    result = sync_once(synced_store)
    assert (result.status, result.version) == ("updated", 1) and "snapshot" in result.message, result.message
    assert synced_store.tiers.unusable() is None
    os.utime(synced_store.tiers.pointer)
    time.sleep(0.01)
    assert followers(synced_store, "phone", "+47 412 34 567") == 4200
    assert synced_store.warnings() == []
    assert sync_once(synced_store).status == "unchanged"


@pytest.mark.slow
def test_sync_once_repairs_a_damaged_list_from_the_command_line(hq, tmp_path):
    publish(hq, V1)
    env = cli_env(hq_url=hq.server.url, hq_token=hq.create_token("store", "oslo-2"), hq_public_key=hq.public_key,
                  default_region="NO")
    data = str(tmp_path / "store")
    assert run_cli("sync", "--once", "--data", data, env=env).returncode == 0
    damage(tmp_path / "store" / (tmp_path / "store" / "tiers-current").read_text().strip(), "junk at its start")
    again = run_cli("sync", "--once", "--data", data, env=env)
    assert again.returncode == 0 and again.stdout.startswith("updated: applied version 1 (snapshot"), again.stdout
    status = run_cli("tiers", "status", "--data", data, env=env)
    assert "version  1" in status.stdout and "warning" not in status.stdout, status.stdout


def test_bodies_are_cached_for_ever_and_old_names_still_answer(hq, synced_store):
    publish(hq, V1)
    publish(hq, V2)
    token = {"Authorization": f"Bearer {synced_store.settings.hq_token}"}
    manifest = requests.get(hq.server.url + "/hq/v1/feed/manifest.json", headers=token, timeout=5)
    assert manifest.headers["Cache-Control"] == "no-cache"
    signed = manifest.json()["manifest"]
    for body in (signed["snapshot"], *signed["deltas"]):
        answer = requests.get(hq.server.url + "/hq/v1/feed/" + body["path"], headers=token, timeout=5)
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert hashlib.sha256(answer.content).hexdigest() == body["sha256"]
    # A store holding a manifest of the release before asks by version: answered, never cached for ever.
    for old, body in (("snapshot-2.tsv", signed["snapshot"]), ("delta-1-2.tsv", signed["deltas"][0])):
        answer = requests.get(hq.server.url + "/hq/v1/feed/" + old, headers=token, timeout=5)
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-cache"
        assert hashlib.sha256(answer.content).hexdigest() == body["sha256"]
    assert requests.get(hq.server.url + "/hq/v1/feed/snapshot-9.tsv", headers=token, timeout=5).status_code == 404


def tampered(hq, what):
    """The genuine feed, with one thing changed."""
    signed = json.loads(hq.signed_manifest())
    snapshot = (hq.feed_dir / signed["manifest"]["snapshot"]["path"]).read_bytes()
    if what == "manifest":
        signed["manifest"]["rows"] += 1  # signature no longer matches
    elif what == "body":
        snapshot = snapshot.replace(b"\t4200\t", b"\t9999\t")
    elif what == "truncated":
        snapshot = snapshot[: len(snapshot) // 2]
    elif what == "expired":
        signed = feed.sign({**signed["manifest"], "expires_at": hq.test_clock.now - 1}, hq.key)
    elif what == "other-key":
        signed = feed.sign(signed["manifest"], Ed25519PrivateKey.generate())
    return json.dumps(signed).encode(), {signed["manifest"]["snapshot"]["path"]: snapshot}


@pytest.mark.parametrize("what,words", [("manifest", "signature"), ("other-key", "signature"),
                                        ("expired", "expired"), ("body", "does not match"),
                                        ("truncated", "does not match")])
def test_tampering_is_refused_and_the_old_list_keeps_serving(hq, synced_store, tmp_path, what, words):
    publish(hq, V2)
    assert sync_once(synced_store).version == 1
    publish(hq, V1)
    result = sync_through(synced_store, tmp_path, *tampered(hq, what))
    assert result.status == "refused" and words in result.message
    assert synced_store.tiers.info().version == 1
    assert followers(synced_store, "email", "new@example.com") == 50000


def test_an_older_version_is_refused(hq, synced_store, tmp_path):
    publish(hq, V1)
    old = hq.signed_manifest()
    old_files = {p.name: p.read_bytes() for p in hq.feed_dir.iterdir()}
    publish(hq, V2)
    assert sync_once(synced_store).version == 2
    result = sync_through(synced_store, tmp_path, old, old_files)
    assert result.status == "refused" and "rollback" in result.message
    assert synced_store.tiers.info().version == 2


def test_head_office_down_then_back(hq, synced_store):
    publish(hq, V1)
    port = hq.server.port
    hq.server.stop()
    result = sync_once(synced_store, http=requests.Session())
    assert result.status == "unreachable" and synced_store.tiers.info().version is None
    back = BackgroundServer(create_hq_app(hq), port=port).start()
    try:
        assert sync_once(synced_store).status == "updated"
    finally:
        back.stop()


def test_sync_once_cli_and_healthz(hq, settings, tmp_path):
    publish(hq, V1)
    token = hq.create_token("store", "bergen")
    env = {"POSPLUGIN_ID_KEY": ID_KEY, "POSPLUGIN_HQ_URL": hq.server.url, "POSPLUGIN_HQ_TOKEN": token,
           "POSPLUGIN_HQ_PUBLIC_KEY": hq.public_key}
    done = cli("sync", "--once", "--data", str(tmp_path / "s"), env=env)
    assert done.returncode == 0 and done.stdout.startswith("updated: applied version 1")
    # A store configured with the wrong public key refuses the list, and says so.
    refused = cli("sync", "--once", "--data", str(tmp_path / "other"),
                  env={**env, "POSPLUGIN_HQ_PUBLIC_KEY": feed.public_key_text(Ed25519PrivateKey.generate())})
    assert refused.returncode == 1 and refused.stdout.startswith("refused: manifest refused")
    store = Store(settings.replace(data_dir=tmp_path / "s"))
    server = BackgroundServer(create_app(store=store)).start()
    try:
        health = requests.get(server.url + "/healthz").json()["tier_list"]
        assert health["version"] == 1 and health["rows"] == 1 and health["synced_at"]
    finally:
        server.stop()
        store.close()


@pytest.mark.slow
def test_hq_cli(tmp_path):
    env = {"POSPLUGIN_ID_KEY": ID_KEY, "POSPLUGIN_DEFAULT_REGION": "NO"}
    data = str(tmp_path / "hq")
    key = cli("hq", "public-key", "--data", data, env=env).stdout.strip()
    assert len(key) == 44 and cli("hq", "public-key", "--data", data, env=env).stdout.strip() == key
    assert "PRIVATE" not in (tmp_path / "hq" / "hq.db").read_bytes().decode("latin-1")
    csv_path = tmp_path / "list.csv"
    csv_path.write_text(tier_csv(V1))
    assert cli("hq", "import", str(csv_path), "--data", data, env=env).stdout.startswith(
        "1 row loaded as version 1")
    assert cli("hq", "store", "add", "oslo-1", "--data", data, env=env).stdout.startswith("hq_")
    csv_path.write_text(tier_csv(V2))
    assert cli("hq", "import", str(csv_path), "--data", data, env=env).stdout.startswith(
        "1 row loaded as version 2 (delta: 1 added or changed, 1 removed)")
    assert cli("hq", "token", "revoke", "--name", "oslo-1", "--data", data, env=env).returncode == 0
    assert cli("hq", "token", "revoke", "--name", "oslo-1", "--data", data, env=env).returncode == 1
    csv_path.write_text(tier_csv([["email", "bad", "1", "1%", "", "yes"]]))
    refused = cli("hq", "import", str(csv_path), "--data", data, env=env)
    assert refused.returncode == 1 and "line 2" in refused.stderr


def test_hq_refuses_without_a_store_token(hq):
    assert requests.get(hq.server.url + "/hq/v1/feed/manifest.json").status_code == 401
    store = hq.create_token("store", "revoked")
    assert requests.get(hq.server.url + "/hq/v1/feed/manifest.json",
                        headers={"Authorization": f"Bearer {store}"}).status_code == 200
    assert hq.revoke_tokens("revoked") == 1
    assert requests.get(hq.server.url + "/hq/v1/feed/manifest.json",
                        headers={"Authorization": f"Bearer {store}"}).status_code == 401
    admin_only = requests.get(hq.server.url + "/hq/v1/stores",
                              headers={"Authorization": f"Bearer {hq.create_token('store', 'x')}"})
    assert admin_only.status_code == 403


@pytest.mark.slow
def test_store_killed_mid_sync_keeps_the_old_list_and_the_next_sync_completes(hq, settings, tmp_path):
    """SIGKILL while a list is coming in: on restart the old list serves (never
    a mix), leftovers are cleaned up, and the next sync applies the new one."""


    token = hq.create_token("store", "kill-test")
    publish(hq, V2)
    data = tmp_path / "victim"
    env = cli_env(hq_token=token, hq_public_key=hq.public_key, hq_url=hq.server.url)
    first = subprocess.run([sys.executable, "-m", "posplugin", "sync", "--once", "--data", str(data)],
                           env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    # Version 2: 20,000 rows, served slowly by a relay so the kill lands mid-sync.
    publish(hq, [["email", f"c{i}@example.com", "5000", "1%", "", "yes"] for i in range(20000)])
    signed = hq.signed_manifest()
    snapshot_name = json.loads(signed)["manifest"]["snapshot"]["path"]
    body = (hq.feed_dir / snapshot_name).read_bytes()
    half_sent, release = threading.Event(), threading.Event()

    class Slow(QuietHandler):
        def do_GET(self):
            if self.path.endswith("manifest.json"):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(signed)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            half_sent.set()
            release.wait(30)  # held here until the store is killed: the kill lands mid-download

    with serving(Slow) as relay:
        try:
            victim = subprocess.Popen([sys.executable, "-m", "posplugin", "sync", "--once", "--data", str(data)],
                                      env={**env, "POSPLUGIN_HQ_URL": relay},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert half_sent.wait(20)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
        finally:
            release.set()
    old_list_then_the_new(settings, hq, data, token)


def old_list_then_the_new(settings, hq, data, token, rows=20000):
    """After a kill: the old list (V2 as version 1) serves whole, the next sync
    applies version 2 (``rows`` customers c0, c1, …) whole, and the leftovers
    are cleaned up."""
    store = Store(settings.replace(data_dir=data, hq_url=hq.server.url, hq_token=token,
                                   hq_public_key=hq.public_key))
    try:
        assert store.tiers.info().version == 1 and store.tiers.info().rows == 1
        assert followers(store, "email", "new@example.com") == 50000
        assert followers(store, "email", "c1@example.com") is None
        assert sync_once(store).version == 2
        assert store.tiers.info().rows == rows
        assert followers(store, "email", "c1@example.com") == 5000
        assert followers(store, "email", "new@example.com") is None
        store.tiers.cleanup(older_than_s=0)
        assert not list(data.glob("sync-*")) and len(list(data.glob("tiers-*.db"))) == 1
    finally:
        store.close()


HELD_BUILD = """
import sys
from posplugin.cli import main
from posplugin.tiers.lists import ListBuilder

add = ListBuilder.add

def held(self, key, record):
    add(self, key, record)
    if self.added == 10_000:
        self.flush()
        print("building", flush=True)
        sys.stdin.readline()  # never answered: the test kills this process here

ListBuilder.add = held
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_store_killed_while_building_the_new_list(hq, settings, tmp_path):
    """SIGKILL after the download, while the new list file is being built: the
    same guarantees as a kill mid-download."""
    token = hq.create_token("store", "kill-build")
    publish(hq, V2)
    data = tmp_path / "victim"
    env = cli_env(hq_token=token, hq_public_key=hq.public_key, hq_url=hq.server.url)
    command = [sys.executable, "-m", "posplugin", "sync", "--once", "--data", str(data)]
    assert subprocess.run(command, env=env, capture_output=True, timeout=60).returncode == 0
    current = set(data.glob("tiers-*.db"))
    publish(hq, [["email", f"c{i}@example.com", "5000", "1%", "", "yes"] for i in range(20_000)])
    # The same sync, held half-way through building the list file until it is killed.
    victim = subprocess.Popen([sys.executable, "-c", HELD_BUILD, "sync", "--once", "--data", str(data)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert victim.stdout.readline().strip() == "building"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert set(data.glob("tiers-*.db")) - current  # the half-built list is there, not current
    old_list_then_the_new(settings, hq, data, token, rows=20_000)


@pytest.mark.slow
def test_serve_syncs_in_the_background_and_picks_up_new_versions(hq, tmp_path):
    """`posplugin serve` with head office configured: its background sync (a
    child process) applies the list, then a new version, while it serves."""


    publish(hq, V1)
    env = cli_env(default_region="NO", hq_url=hq.server.url, hq_token=hq.create_token("store", "bg"),
                  hq_public_key=hq.public_key, sync_interval_s=5)
    port = free_port()
    proc, _ = serve([sys.executable, "-m", "posplugin"], tmp_path, port, env)

    def version_within(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            version = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["tier_list"]["version"]
            if version is not None and version >= 1:
                yield version
            time.sleep(0.2)

    try:
        assert next(version_within(20)) == 1
        publish(hq, V2)
        assert any(v == 2 for v in version_within(20))
        assert {s["name"]: s for s in hq.stores()}["bg"]["list_version"] in (1, 2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def signed_hostile(hq, what):
    """The genuine feed re-signed with head office's own key (a chain's CRM gone
    wrong, or a stolen key), with one hostile change."""
    signed = json.loads(hq.signed_manifest())
    m = signed["manifest"]
    name = m["snapshot"]["path"]
    snapshot = (hq.feed_dir / name).read_bytes()
    files = {name: snapshot}
    if what == "path traversal":
        m["snapshot"]["path"] = "../../../x.tsv"
        files["x.tsv"] = snapshot
    elif what == "string version":
        m["version"] = "100"
    elif what == "list manifest":
        m = [m]
    elif what == "no version":
        del m["version"]
    elif what == "bad niches":
        first, rest = snapshot.split(b"\n", 1)
        cells = first.split(b"\t")
        snapshot = b"\t".join(cells[:3] + [b"[42, null]"]) + b"\n" + rest
        import hashlib
        m["snapshot"].update(sha256=hashlib.sha256(snapshot).hexdigest(), bytes=len(snapshot))
        files = {name: snapshot}
    return json.dumps(feed.sign(m, hq.key)).encode(), files


@pytest.mark.parametrize("what", ["path traversal", "string version", "list manifest", "no version",
                                  "bad niches"])
def test_a_signed_but_hostile_manifest_is_refused_whole(hq, synced_store, tmp_path, what):
    """Validated before anything is acted on: refused with a reason, nothing
    written outside the data folder, the old list serving, the next sync fine."""
    publish(hq, V1)
    assert sync_once(synced_store).version == 1
    publish(hq, V2)
    result = sync_through(synced_store, tmp_path, *signed_hostile(hq, what))
    assert result.status == "refused", result
    assert synced_store.tiers.info().version == 1
    assert not [p for p in (tmp_path, tmp_path.parent, tmp_path.parent.parent) if (p / "x.tsv").exists()]
    synced_store.settings = synced_store.settings.replace(hq_url=hq.server.url)
    assert sync_once(synced_store).version == 2


@pytest.mark.slow
def test_a_round_in_a_child_process_reports_its_result(hq, tmp_path, monkeypatch):
    """What `serve` runs every sync_interval_s: `posplugin sync --once --nice` in a child."""
    publish(hq, V1)
    data = tmp_path / "child"
    data.mkdir()
    (data / "posplugin.ini").write_text(
        f"[posplugin]\nid_key = {ID_KEY}\ndefault_region = NO\nhq_url = {hq.server.url}\n"
        f"hq_token = {hq.create_token('store', 'child')}\nhq_public_key = {hq.public_key}\n")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    first = sync_in_child(data)
    assert (first.status, first.message) == ("updated", "applied version 1 (snapshot, 1 rows)")
    assert sync_in_child(data).status == "unchanged"
    (data / "posplugin.ini").write_text((data / "posplugin.ini").read_text().replace(hq.public_key, "AAAA"))
    publish(hq, V2)
    assert sync_in_child(data).status == "refused"  # exit 1 from the child is a result, not a crash


def test_head_office_errors_are_retried_within_a_round(hq, synced_store, no_backoff):
    """A 500 and a 502 from a proxy in front of head office, then the real
    answer: the same round applies the list."""
    publish(hq, V1)
    failures = [500, 502]

    class Flaky(QuietHandler):
        def do_GET(self):
            if failures:
                self.send_response(failures.pop(0))
                self.end_headers()
                return
            upstream = requests.get(hq.server.url + self.path, timeout=10, headers={
                k: v for k, v in self.headers.items() if k.lower() in ("authorization", "if-none-match",
                                                                        feed.LIST_VERSION_HEADER.lower())})
            self.send_response(upstream.status_code)
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

    with serving(Flaky) as proxy:
        synced_store.settings = synced_store.settings.replace(hq_url=proxy)
        result = sync_once(synced_store)
    assert (result.status, result.version) == ("updated", 1) and failures == []
