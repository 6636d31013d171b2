"""The listening journey in Chromium: a signed mention webhook reaches head
office, the right store's /floor shows the heard prompt, a member of staff
takes and resolves it, and /hq shows the times."""

from __future__ import annotations

import time

import pytest
import requests
from helpers import ID_KEY, each_screen
from platform_standins import CHAIN_TOKEN, meta_delivery, meta_signature
from test_listening import hq_settings

from posplugin.config import Settings
from posplugin.hq.listening.hub import ListeningHub
from posplugin.hq.web.app import create_hq_app
from posplugin.store import auth
from posplugin.store import heard as store_heard
from posplugin.store.service import Store
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer, Housekeeper

TABLET = {"width": 1280, "height": 800}


@pytest.fixture
def chain(tmp_path, standins, hq):
    """Head office (SQLite and PostgreSQL) with listening on the Instagram
    stand-in, and two stores, each serving and polling it every 0.2 s."""
    standins.tokens[CHAIN_TOKEN] = "instagram"
    s = hq_settings(tmp_path, instagram_graph_url=standins.url + "/ig/graph")
    hub = ListeningHub.open(hq, s)
    server = BackgroundServer(create_hq_app(hq, settings=s, hub=hub)).start()
    stores, stoppers = {}, []
    for name, tag in (("Storgata", "#storgata"), ("Torget", "#torget")):
        hub.listening.placements.set(name, handles=tag)
        store = Store(Settings(data_dir=tmp_path / name, id_key=ID_KEY, default_region="NO", hq_url=server.url,
                               hq_token=hq.create_token("store", name), rate_limit_per_s=0, heard_poll_s=1))
        with store.db.write() as conn:
            store.staff_token = auth.create_token(conn, "staff", "floor tablet")
        store.server = BackgroundServer(create_app(store=store)).start()
        poller = Housekeeper([lambda store=store: store_heard.poll(store)], interval_s=0.2, name=f"heard-{name}")
        poller.start()
        stoppers.append((poller, store))
        stores[name] = store
    yield server, hub, stores, hq.create_token("admin", "care team")
    for poller, store in stoppers:
        poller.stop()
        store.server.stop()
        store.close()
    server.stop()


@pytest.mark.slow
def test_a_signed_mention_reaches_the_right_floor_and_hq_shows_the_times(chain, standins, open_page, hq,
                                                                          output_dir):
    server, hub, stores, admin = chain
    hq.test_clock.now = time.time()
    storgata, torget = stores["Storgata"], stores["Torget"]
    floor = open_page(storgata.server, "/floor", storgata.staff_token, TABLET)
    other = open_page(torget.server, "/floor", torget.staff_token, TABLET)
    floor.wait_for_selector("#no-prompts:not([hidden])")
    standins.media["j1"] = {"caption": "40 minutes at kasse 2, one till open 🙄 #storgata @nordshop "
                                       "<b>fix it</b>", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000",
                                                                                     time.gmtime()),
                            "permalink": "https://instagram.com/p/j1", "username": "a.customer"}
    body = meta_delivery(media_id="j1")
    sent = time.monotonic()
    answer = requests.post(server.url + "/hq/v1/hooks/instagram", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body)})
    assert answer.status_code == 200
    card = floor.wait_for_selector("li.prompt.heard", timeout=15000)
    assert time.monotonic() - sent < 15
    text = card.text_content()
    assert "<b>fix it</b>" in text and "a.customer" not in text      # markup as text; never who
    assert "lane 2" in text.lower() or "Lane 2" in text
    assert card.get_attribute("class").count("level-urgent") == 1
    floor.screenshot(path=str(output_dir / "floor-heard.png"))
    floor.click("li.prompt.heard button.take")
    floor.fill("#name-input", "Ana")
    floor.click("#name-save")
    floor.wait_for_selector("li.prompt.heard.status-taken", timeout=5000)
    floor.click("li.prompt.heard button.done")
    floor.wait_for_selector("li.prompt.heard", state="detached", timeout=5000)
    assert other.query_selector("li.prompt.heard") is None            # the other store heard nothing
    deadline = time.monotonic() + 10
    while hub.listening.inbox(since=0)["heard"][0]["status"] != "resolved":
        assert time.monotonic() < deadline, "the store did not report the resolution"
        time.sleep(0.2)
    page = open_page(server, "/hq", admin, TABLET)
    row = page.wait_for_selector("#heard-table tr.heard-row", timeout=10000)
    assert "Storgata" in row.text_content()
    page.wait_for_function("document.querySelector('#heard-table tr.heard-row .heard-times')"
                           ".textContent.split(' · ').slice(0, 3).every((t) => t !== '–')", timeout=10000)
    page.screenshot(path=str(output_dir / "hq-heard.png"))
    # Every screen: the inbox fits (a card a post below a laptop's width), in words, not codes.
    cells = page.inner_text("#heard-table tbody")
    assert "the queue" in cells and "complaint" in cells and "store's handle" in cells, cells
    for viewport in each_screen(page, output_dir, "hq-heard", full_page=True):
        box = page.locator("#heard-table").bounding_box()
        assert box["x"] + box["width"] <= viewport["width"] + 0.5, (viewport, box)
        shown = page.eval_on_selector("#heard-table tbody tr", "r => getComputedStyle(r).display")
        assert (shown == "block") == (viewport["width"] <= 860), (viewport, shown)
