"""The whole journey, in Chromium at 390x844 against a real head office and
a real store over HTTP: a customer scans the QR code, joins with a phone
number, takes the code from the console sender, consents, links a stand-in
Instagram account; head office measures and builds a version; the store
syncs and identify at the till gives the tier the metrics imply. Then the
customer withdraws; after the next build and sync identify answers
``known: false``."""

import pytest
from helpers import ID_KEY, Client, join_on_page, stand_in_platforms

from posplugin.config import Settings
from posplugin.hq.customers.join import join_url
from posplugin.hq.web.join import customer_side
from posplugin.hq.web.app import create_hq_app
from posplugin.store import auth
from posplugin.store.service import Store
from posplugin.store.sync import sync_once
from posplugin.store.web.app import create_app
from posplugin.web.server import BackgroundServer

VIEWPORT = {"width": 390, "height": 844}


@pytest.fixture
def joinable_hq(hq, standins):
    """The ``hq`` head office served with the console sender and the stand-in platforms."""
    settings = Settings(data_dir=hq.data_dir, id_key=ID_KEY, default_region="NO", code_sender="console")
    app = create_hq_app(hq, settings=settings, platforms=stand_in_platforms(standins, hq.test_clock))
    server = BackgroundServer(app).start()
    yield app, server
    server.stop()


@pytest.fixture
def till(hq, joinable_hq, settings):
    """A store synced from head office, served, with a till token; returns (store, client)."""
    _, hq_server = joinable_hq
    store = Store(settings.replace(hq_url=hq_server.url, hq_token=hq.create_token("store", "oslo-1"),
                                   hq_public_key=hq.public_key), clock=hq.test_clock)
    with store.db.write() as conn:
        token = auth.create_token(conn, "till", "till-1")
    server = BackgroundServer(create_app(store=store)).start()
    yield store, Client(server.url, token)
    server.stop()
    store.close()


def identify(client, phone):
    answer = client.post("/api/v1/identify", json={"lane": "1", "identifier": {"type": "phone", "value": phone}})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.browser
@pytest.mark.slow
def test_join_link_build_sync_identify_then_withdraw(joinable_hq, till, open_page, caplog, output_dir, standins):
    app, server = joinable_hq
    store, client = till
    standins.accounts["instagram"].followers = 4200
    standins.accounts["instagram"].posts = [(250, 10)] * 12  # 260 / 4,200 = 6.2 %: 260 engaged, Murdoch-level
    assert identify(client, "+47 41 23 45 67")["known"] is False

    # Scan the QR code on the receipt.
    page = open_page(server, join_url(server.url, "receipt")[len(server.url):], "", viewport=VIEWPORT)
    join_on_page(page, "+47 41 23 45 67", caplog)

    # Link Instagram: off to the (stand-in) platform and back to /join.
    page.click("#accounts li[data-platform=instagram] button")
    page.wait_for_url("**/join")
    page.wait_for_selector("#accounts li[data-platform=instagram] .state:text-is('Linked')")
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    page.screenshot(path=str(output_dir / "linked.png"), full_page=True)

    # Head office measures and builds; the store syncs; the till identifies.
    assert customer_side(app).collector.run().measured == 1
    built = customer_side(app).builder.build()
    assert (built["customers"], built["rows"]) == (1, 1)
    assert sync_once(store).status == "updated"
    answer = identify(client, "41234567")
    assert answer["known"] is True and answer["followers"] == 4200
    assert answer["engagement_rate"] == pytest.approx(260 / 4200, abs=1e-4)
    assert (answer["tier"], answer["service_level"], answer["engaged_reach"]) == ("nano", "murdoch", 260)

    # The customer sees they are measured, then withdraws.
    page.reload()
    page.wait_for_selector("#accounts li[data-platform=instagram] .state:text('measured')")
    page.click("#withdraw")
    page.wait_for_selector("#consent-withdrawn:not([hidden])")
    rebuilt = customer_side(app).builder.build()
    assert rebuilt["delta"] == {"upserts": 0, "deletes": 1}
    assert sync_once(store).status == "updated"
    assert identify(client, "41234567")["known"] is False
