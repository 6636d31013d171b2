"""Plugins: loading, the hooks they implement, and failures that stay contained."""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from helpers import REPO, cli, hooks_folder, run_cli
from servers import QuietHandler, serving

from posplugin.store.service import Store
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer

# Sample plugins as files, loaded the way a store loads its hooks_dir.
PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture
def hooks_dir(tmp_path):
    return hooks_folder(tmp_path, vip=(PLUGINS / "vip.py").read_text())


def plugin_store(settings, loaded_store, **changes):
    loaded_store.close()
    return Store(settings.replace(**changes))


def test_service_level_and_words_from_a_plugin(settings, loaded_store, hooks_dir):
    store = plugin_store(settings, loaded_store, hooks_dir=str(hooks_dir))
    try:
        answer = store.identify("1", "loyalty_id", "L-1001")  # everyday tier: no change
        assert answer.service_level == "standard" and answer.prompt is None
        answer = store.identify("1", "email", "micro.mia@example.com")  # priority by policy
        assert answer.service_level == "murdoch" and answer.prompt["title"].startswith("VIP: ")
    finally:
        store.close()


def test_a_failing_plugin_is_skipped(settings, loaded_store, hooks_dir):
    shutil.copy(PLUGINS / "broken.py", hooks_dir)
    (hooks_dir / "syntax.py").write_text("def nope(:\n")
    store = plugin_store(settings, loaded_store, hooks_dir=str(hooks_dir))
    try:
        assert any("syntax.py" in e for e in store.plugins.errors)
        # broken.py raises; vip.py still answers.
        assert store.identify("1", "email", "micro.mia@example.com").service_level == "murdoch"
    finally:
        store.close()
    listed = cli("plugins", "--data", str(settings.data_dir), env={"POSPLUGIN_HOOKS_DIR": str(hooks_dir)})
    assert listed.returncode == 1
    assert "vip\t" in listed.stdout and "broken\tservice_level" in listed.stdout
    assert "syntax.py" in listed.stderr


def test_plugin_routes_over_http(settings, loaded_store, hooks_dir, tokens):
    store = plugin_store(settings, loaded_store, hooks_dir=str(hooks_dir))
    server = BackgroundServer(create_app(store=store)).start()
    try:
        ok = requests.post(server.url + "/hooks/demo/echo", json={"a": 1}, headers={"X-Secret": "s3cret"})
        assert ok.status_code == 200 and ok.json() == {"echo": {"a": 1}}
        bad = requests.post(server.url + "/hooks/demo/echo", json={"a": 1})
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
        broken = requests.get(server.url + "/hooks/demo/broken")
        assert broken.status_code == 502 and broken.json()["error"]["code"] == "plugin_failed"
        # The store keeps serving.
        assert requests.get(server.url + "/healthz").status_code == 200
    finally:
        server.stop()
        store.close()


def test_one_in_front_calls_a_lane_long_whatever_the_baseline(settings, loaded_store):
    store = plugin_store(settings, loaded_store, plugins="one_in_front", queue_default_normal=6)
    try:
        assert store.queues.reading("1", 2)["status"] == "ok"
        answer = store.queues.reading("1", 3)
        assert answer["status"] == "long" and answer["prompt"]["kind"] == "pain"
    finally:
        store.close()


@pytest.fixture
def receiver():
    """A made-up paging bridge: fails the first call, then records prompts."""
    received, calls = [], []
    arrived = threading.Event()

    class Bridge(QuietHandler):
        def do_POST(self):
            calls.append(1)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if len(calls) == 1:
                self.send_response(503)
            else:
                received.append(body["prompt"])
                arrived.set()
                self.send_response(200)
            self.end_headers()

    with serving(Bridge) as url:
        yield url + "/page", received, arrived


def test_webhook_forwards_urgent_prompts_with_retries(settings, loaded_store, receiver):
    url, received, arrived = receiver
    store = plugin_store(settings, loaded_store, plugins="webhook", webhook_url=url)
    try:
        store.report_painpoint("stock", "2", "no oat milk")  # priority: not forwarded
        urgent = store.report_painpoint("staff", "3", "only one till open")
        assert arrived.wait(10), "the bridge got nothing"
        assert [p["id"] for p in received] == [urgent["id"]]
    finally:
        store.close()


@pytest.mark.slow
def test_an_installed_package_is_found_by_its_entry_point(tmp_path, settings, loaded_store, monkeypatch):
    """A real package with a ``posplugin`` entry point, installed with pip:
    `posplugin plugins` lists it and its hooks change the service level."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(PLUGINS / "vip.py", source / "posplugin_test_vip.py")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "posplugin-test-vip"\nversion = "0.1"\n\n'
        '[project.entry-points.posplugin]\nvip = "posplugin_test_vip"\n\n'
        '[tool.setuptools]\npy-modules = ["posplugin_test_vip"]\n')
    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                                str(source)], capture_output=True, text=True, timeout=180)
    assert installed.returncode == 0, installed.stderr
    listed = run_cli("plugins", "--data", str(tmp_path / "data"),
                     env={"PYTHONPATH": os.pathsep.join([str(REPO), str(site)])})
    assert listed.returncode == 0, listed.stderr
    assert "vip\t" in listed.stdout and "service_level" in listed.stdout
    monkeypatch.syspath_prepend(str(site))
    store = plugin_store(settings, loaded_store)
    try:
        assert store.identify("3", "email", "micro.mia@example.com").service_level == "murdoch"  # priority without it
    finally:
        store.close()
