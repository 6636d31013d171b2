"""After-sale invitations travel store → head office → the customer's page
(posplugin.store.invitations, posplugin.hq.invitations): only for customers
who agreed, only after invite_delay_hours, with the ad disclosure where the
chain rewards a post; nothing lost while head office is down."""

import io

import pytest
import requests
from helpers import joined_customer, tier_csv
from sqlalchemy import select

from posplugin.hq import schema
from posplugin.hq.web.join import customer_side
from posplugin.store.service import Store
from posplugin.store.sync import sync_once

SAM = ["phone", "+47 412 34 567", "4200", "6.2%", "running", "yes"]
MIA = ["phone", "+47 900 00 001", "45000", "0.3%", "", "yes"]


@pytest.fixture
def chain(hq, customer_hq, settings, caplog):
    """Head office with Sam and Mia on the list, and a store synced to it;
    ``page_of(phone, scopes)`` has a customer join and returns a function
    that reads the invitations on their /me."""
    hq.import_csv(io.StringIO(tier_csv([SAM, MIA])))
    store = Store(settings.replace(hq_url=customer_hq.url, hq_token=hq.create_token("store", "oslo-1"),
                                   hq_public_key=hq.public_key), clock=hq.test_clock)
    sync_once(store)

    def page_of(phone, scopes):
        http = joined_customer(customer_hq, caplog, phone, scopes, link=None)
        return lambda: http.get(customer_hq.url + "/hq/v1/me", timeout=5).json()["invitations"]

    yield hq, store, customer_side(customer_hq.app).page, page_of
    store.close()


def held(hq):
    with hq.engine.connect() as conn:
        return conn.execute(select(schema.invitations.c.store, schema.invitations.c.id_hash)).all()


def queued(store):
    return store.db.execute("SELECT count(*) FROM invitations_out").fetchone()[0]


def test_an_invitation_reaches_the_page_after_the_delay(chain):
    hq, store, page, page_of = chain
    sam = page_of(SAM[1], ("tiering", "invitations"))
    assert store.after_sale("phone", "+4741234567")["kind"] == "amplify"
    assert queued(store) == 1
    assert sync_once(store).ok and queued(store) == 0
    assert held(hq) == [("oslo-1", hq.hasher("phone", "41234567").hex())]
    assert sam() == []
    hq.test_clock.now += 23.9 * 3600
    assert sam() == []
    hq.test_clock.now += 0.2 * 3600
    (invitation,) = sam()
    assert "shared it or wrote a review" in invitation["text"] and invitation["disclosure"] is None
    # Ninety days after it was shown, head office forgets it.
    hq.test_clock.now += 89 * 86400
    assert page.invitations.purge() == 0
    hq.test_clock.now += 2 * 86400
    assert page.invitations.purge() == 1 and held(hq) == []


def test_a_rewarded_post_carries_the_disclosure(chain):
    hq, store, page, page_of = chain
    page.invitations.reward = "sample"
    sam = page_of(SAM[1], ("tiering", "invitations"))
    store.after_sale("phone", "+4741234567")
    sync_once(store)
    hq.test_clock.now += 25 * 3600
    (invitation,) = sam()
    assert invitation["reward"] == "sample"
    assert "a free sample" in invitation["disclosure"] and "“Ad” at the very top" in invitation["disclosure"]


def test_no_invitation_is_kept_for_a_customer_who_did_not_agree(chain):
    hq, store, _page, page_of = chain
    page_of(MIA[1], ("tiering",))
    store.after_sale("phone", MIA[1])                 # joined, but not to invitations
    store.after_sale("phone", "+4741234567")          # on the list, never joined
    assert sync_once(store).ok
    assert held(hq) == [] and queued(store) == 0


def test_kept_while_head_office_is_down_and_counted_once(chain, customer_hq):
    hq, store, _page, page_of = chain
    page_of(SAM[1], ("tiering", "invitations"))
    store.after_sale("phone", "+4741234567")
    customer_hq.stop()
    assert not sync_once(store, requests.Session()).ok and queued(store) == 1  # no retries
    from posplugin.hq.web.app import create_hq_app
    from posplugin.web.server import BackgroundServer
    again = BackgroundServer(create_hq_app(hq), port=int(store.settings.hq_url.rsplit(":", 1)[1])).start()
    try:
        assert sync_once(store).ok and queued(store) == 0
        # A store that lost the acknowledgement sends the same ref again: kept once.
        with store.db.write() as conn:
            conn.execute("INSERT INTO invitations_out (id, customer, sold_at) VALUES (1, ?, ?)",
                         (hq.hasher("phone", "41234567"), hq.test_clock()))
        assert sync_once(store).ok
        assert len(held(hq)) == 1
    finally:
        again.stop()
