"""Linking a Bluesky account (posplugin.hq.platforms.bluesky, .atproto) from
/join through AT Protocol OAuth, against a stand-in that verifies PAR, PKCE,
DPoP with nonces and the private_key_jwt assertion (tests/bluesky_standin.py);
then the linked DID's posts heard through Jetstream."""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import unquote

import pytest
import requests
from bluesky_standin import OLA, SAM, Sky, create_app
from helpers import ID_KEY, customer_page, joined_customer, served_stand_in
from joserfc import jwk

from posplugin.config import Settings
from posplugin.demo.listening import Jetstream
from posplugin.hq.listening.runner import Cursors
from posplugin.hq.listening.sources.bluesky import Jetstream as JetstreamSource
from posplugin.hq.customers.accounts import available
from posplugin.hq.platforms import bluesky
from posplugin.hq.platforms.atproto import IdentityError, Resolver
from posplugin.hq.schema import heard_posts, linked_accounts, oauth_states
from posplugin.hq.web.app import create_hq_app
from posplugin.hq.web.join import customer_side
from posplugin.hq.web.listening import HUB
from posplugin.web.server import BackgroundServer

OTHER_PHONE = "+47 900 00 078"


@pytest.fixture(scope="module")
def sky_server():
    with served_stand_in(Sky(), create_app) as state:
        yield state


@pytest.fixture
def sky(sky_server):
    """The stand-in, reset for this test."""
    fresh = Sky(url=sky_server.url)
    sky_server.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "url"})
    return sky_server


@pytest.fixture
def bluesky_hq(hq, sky, tmp_path):
    """``hq`` served with the console sender and Bluesky pointed at the stand-in."""
    platform = bluesky.Bluesky(bluesky.client_key(tmp_path), resolver=Resolver(
        plc_url=sky.url + "/plc", domain_url=sky.url + "/domains/{domain}", allow_local=True))
    settings = Settings(data_dir=hq.data_dir, id_key=ID_KEY, default_region="NO", code_sender="console")
    server = BackgroundServer(create_hq_app(hq, settings=settings, platforms={"bluesky": platform})).start()
    server.office = hq
    yield server
    server.stop()


def start(server, http, handle="sam.example.com") -> requests.Response:
    return http.post(server.url + "/hq/v1/join/bluesky/link", json={"handle": handle}, timeout=10)


def link(server, http, handle="sam.example.com") -> str:
    """Link ``handle`` from /join in ``http``'s session; where the browser lands."""
    started = start(server, http, handle)
    assert started.ok, started.text
    return http.get(started.json()["authorize_url"], timeout=10).url


def linked_rows(server) -> list:
    with server.office.engine.connect() as conn:
        return conn.execute(linked_accounts.select().where(linked_accounts.c.platform == "bluesky")).all()


def test_client_metadata_is_served_at_the_client_id(bluesky_hq):
    url = bluesky_hq.url + "/hq/v1/join/accounts/bluesky/client-metadata.json"
    metadata = requests.get(url, timeout=10).json()
    assert metadata["client_id"] == url
    assert metadata["redirect_uris"] == [bluesky_hq.url + "/hq/v1/join/accounts/bluesky/callback"]
    assert metadata["token_endpoint_auth_method"] == "private_key_jwt" and metadata["dpop_bound_access_tokens"]
    assert metadata["scope"] == "atproto"
    [key] = metadata["jwks"]["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and "d" not in key  # the public half only


@pytest.mark.slow
def test_a_customer_links_bluesky_from_join_and_their_posts_are_heard(bluesky_hq, sky, caplog):
    http = joined_customer(bluesky_hq, caplog, scopes=("tiering", "listening"), link=None)
    landed = link(bluesky_hq, http, "@Sam.Example.com")
    assert landed.endswith("/join#linked=bluesky"), unquote(landed)
    assert sky.nonce_asked >= 1  # the first PAR had no nonce: refused with use_dpop_nonce, retried
    [row] = linked_rows(bluesky_hq)
    assert (row.account_id, row.source, row.status, row.token, row.handle) == (SAM, "oauth", "linked", None, None)
    session = http.get(bluesky_hq.url + "/hq/v1/join/session", timeout=10).json()
    assert [a["platform"] for a in session["accounts"]] == ["bluesky"] and "bluesky" in session["platforms"]
    # Listening only: the collector never measures it.
    assert customer_side(bluesky_hq.app).collector.run().measured == 0
    # The DID goes into Jetstream's wantedDids, and a post by it is heard as this customer's.
    hub = bluesky_hq.app.extensions[HUB]
    assert hub.listening_dids() == [SAM]
    hub.listening.placements.set("Storgata", place="Storgata")
    heard = []
    stream = Jetstream()
    stop = threading.Event()
    source = JetstreamSource(stream.url, Cursors(bluesky_hq.office.engine, time.time),
                             consented_dids=hub.listening_dids)
    thread = threading.Thread(target=source.run, args=(lambda post: heard.append(hub.hear(post)), stop))
    try:
        thread.start()
        stream.post(OLA, "3kola1", "40 minutes at the till in Storgata")  # not linked: dropped
        stream.post(SAM, "3ksam1", "40 minutes at the till in Storgata again, one cashier")
        _wait(lambda: heard)
    finally:
        stop.set()
        thread.join(5)
        stream.stop()
    assert f"wantedDids={SAM.replace(':', '%3A')}" in stream.queries[0]
    assert len(heard) == 1 and heard[0]["store"] == "Storgata"
    with bluesky_hq.office.engine.connect() as conn:
        [kept] = conn.execute(heard_posts.select()).all()
    assert (kept.customer_id, kept.post_id) == (row.customer_id, f"at://{SAM}/app.bsky.feed.post/3ksam1")


@pytest.mark.browser
def test_link_bluesky_on_the_join_page(bluesky_hq, sky, browser, caplog):
    http = joined_customer(bluesky_hq, caplog, link=None)
    with customer_page(browser, bluesky_hq, http) as page:
        page.goto(bluesky_hq.url + "/join")
        page.fill("li[data-platform=bluesky] input.bluesky-handle", "sam.example.com")
        page.click("li[data-platform=bluesky] button")
        page.wait_for_url("**/join#linked=bluesky")
        page.wait_for_selector("li[data-platform=bluesky] button:has-text('Unlink')")
        assert page.locator("li[data-platform=bluesky] input").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert [r.account_id for r in linked_rows(bluesky_hq)] == [SAM]


def test_the_handle_never_reaches_disk_or_head_offices_log(bluesky_hq, sky, caplog):
    caplog.set_level(logging.DEBUG, logger="posplugin")
    http = joined_customer(bluesky_hq, caplog, link=None)
    assert link(bluesky_hq, http, "sam.example.com").endswith("#linked=bluesky")
    with bluesky_hq.office.engine.connect() as conn:  # every table, on SQLite and PostgreSQL
        kept = [str(tuple(r)) for t in (linked_accounts, oauth_states, heard_posts) for r in conn.execute(t.select())]
    assert kept and not any("sam.example" in row for row in kept)
    files = b"".join(p.read_bytes() for p in bluesky_hq.office.data_dir.rglob("*") if p.is_file())
    assert b"sam.example" not in files
    assert "sam.example" not in "".join(r.getMessage() for r in caplog.records if r.name.startswith("posplugin"))


def test_a_link_started_in_another_session_links_nothing(bluesky_hq, sky, caplog):
    attacker = joined_customer(bluesky_hq, caplog, phone=OTHER_PHONE, link=None)
    victim = joined_customer(bluesky_hq, caplog, link=None)
    authorize_url = start(bluesky_hq, attacker).json()["authorize_url"]
    landed = victim.get(authorize_url, timeout=10).url
    assert "#link_error=" in landed and "another browser" in unquote(landed)
    assert linked_rows(bluesky_hq) == []


@pytest.mark.parametrize("fault, refusal", [
    ("another_account", "another account than the handle"),
    ("answer_from_elsewhere", "did not come from this account's authorization server"),
    ("server_moved", "authorization server is not the one that answered"),
    ("lying_issuer", "names another issuer"),
    ("handle_not_claimed", "does not name this handle"),
])
def test_whose_account_and_which_server_are_checked(bluesky_hq, sky, caplog, fault, refusal):
    http = joined_customer(bluesky_hq, caplog, link=None)
    if fault == "lying_issuer":
        sky.lying_issuer = True
    elif fault == "handle_not_claimed":
        sky.claims_handle = False
    if fault in ("lying_issuer", "handle_not_claimed"):  # refused before anything is pushed
        started = start(bluesky_hq, http)
        assert started.status_code == 422 and refusal in started.json()["error"]["message"], started.text
        assert sky.requests == {}
        return
    started = start(bluesky_hq, http)
    assert started.ok, started.text
    if fault == "another_account":
        sky.approve_as = OLA  # whoever signs in at the server is not the handle's owner
    elif fault == "answer_from_elsewhere":
        sky.answer_iss = sky.issuer("other")
    else:  # between the start and the callback, the DID's PDS moved to another authorization server
        sky.pds_of[SAM] = "two"
    landed = http.get(started.json()["authorize_url"], timeout=10).url
    assert "#link_error=" in landed and refusal in unquote(landed), unquote(landed)
    assert linked_rows(bluesky_hq) == []


def test_a_changed_nonce_is_retried_at_the_token_endpoint(bluesky_hq, sky, caplog):
    http = joined_customer(bluesky_hq, caplog, link=None)
    started = start(bluesky_hq, http)
    asked = sky.nonce_asked
    sky.rotate_nonce()  # the server moved on between PAR and the token request
    assert http.get(started.json()["authorize_url"], timeout=10).url.endswith("#linked=bluesky")
    assert sky.nonce_asked == asked + 1


def test_a_server_that_keeps_refusing_the_nonce_fails_the_link_cleanly(bluesky_hq, sky, caplog, monkeypatch):
    http = joined_customer(bluesky_hq, caplog, link=None)
    monkeypatch.setattr(bluesky.DPoP, "proof", _rotating(sky, bluesky.DPoP.proof))
    started = start(bluesky_hq, http)
    assert started.status_code == 422 and "use_dpop_nonce" in started.json()["error"]["message"]
    assert sky.nonce_asked == 2  # one retry, not a loop


def _rotating(sky, proof):
    def rotated(self, method, url, now):
        sky.rotate_nonce()
        return proof(self, method, url, now)
    return rotated


def test_a_second_customer_cannot_link_the_same_did(bluesky_hq, sky, caplog):
    first = joined_customer(bluesky_hq, caplog, scopes=("tiering", "listening"), link=None)
    assert link(bluesky_hq, first).endswith("#linked=bluesky")
    assert bluesky_hq.app.extensions[HUB].listening_dids() == [SAM]
    second = joined_customer(bluesky_hq, caplog, phone=OTHER_PHONE, link=None)
    landed = link(bluesky_hq, second)
    assert "#link_error=" in landed and "another customer" in unquote(landed)
    [held] = linked_rows(bluesky_hq)
    # Once the first customer unlinks, the DID is free, and Jetstream no longer asks for it.
    assert first.delete(bluesky_hq.url + "/hq/v1/join/accounts/bluesky", timeout=10).json() == {"unlinked": True}
    assert bluesky_hq.app.extensions[HUB].listening_dids() == []
    assert link(bluesky_hq, second).endswith("#linked=bluesky")
    assert {(r.customer_id == held.customer_id, r.status) for r in linked_rows(bluesky_hq)} == {
        (True, "unlinked"), (False, "linked")}


@pytest.mark.parametrize("tamper, refusal", [
    ("assertion_key", "signature does not verify"),
    ("assertion_audience", "claims are wrong"),
    ("dpop_htu", "DPoP proof's claims"),
    ("pkce_verifier", "code_verifier does not match"),
])
def test_the_stand_in_refuses_what_the_spec_refuses(bluesky_hq, sky, caplog, monkeypatch, tamper, refusal):
    """Each check the client must get right, broken on purpose, fails the link:
    the stand-in's verification is what the journey above relies on."""
    http = joined_customer(bluesky_hq, caplog, link=None)
    platform = customer_side(bluesky_hq.app).accounts.platform("bluesky")
    real = platform._assertion
    if tamper == "assertion_key":  # signed by another key under head office's kid
        monkeypatch.setattr(platform, "_assertion", lambda client_id, issuer: _signed_by(
            platform, jwk.ECKey.generate_key("P-256", private=True), real, client_id, issuer))
    elif tamper == "assertion_audience":
        monkeypatch.setattr(platform, "_assertion", lambda client_id, issuer: real(client_id, issuer + "/x"))
    elif tamper == "dpop_htu":
        real_proof = bluesky.DPoP.proof
        monkeypatch.setattr(bluesky.DPoP, "proof", lambda self, m, url, now: real_proof(self, m, url + "x", now))
    started = start(bluesky_hq, http)
    if tamper != "pkce_verifier":
        assert started.status_code == 422, started.text
    else:
        with bluesky_hq.office.engine.begin() as conn:  # another verifier than the challenge was made from
            vault = customer_side(bluesky_hq.app).accounts.vault
            row = conn.execute(oauth_states.select()).first()
            kept = vault.open(row.verifier)
            conn.execute(oauth_states.update().values(verifier=vault.seal({**kept, "verifier": "x" * 64})))
        landed = http.get(started.json()["authorize_url"], timeout=10).url
        assert "#link_error=" in landed
    assert any(refusal in why for why in sky.refused), sky.refused
    assert linked_rows(bluesky_hq) == []


def _signed_by(platform, key, assertion, *args):
    own, platform.key = platform.key, key
    try:
        return assertion(*args)
    finally:
        platform.key = own


@pytest.mark.parametrize("handle", ["", "no_dots", "1.2.3.4", "sam.example.com/../x", "a" * 250 + ".com"])
def test_what_is_no_handle_is_refused_without_asking_anyone(bluesky_hq, sky, caplog, handle):
    http = joined_customer(bluesky_hq, caplog, link=None)
    answer = start(bluesky_hq, http, handle)
    assert answer.status_code in (400, 422) and "error" in answer.json()
    assert sky.requests == {} and linked_rows(bluesky_hq) == []


def test_a_handle_nobody_answers_for_fails_cleanly(bluesky_hq, sky, caplog):
    http = joined_customer(bluesky_hq, caplog, link=None)
    answer = start(bluesky_hq, http, "nobody.example.com")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "link_failed"
    assert "nobody" not in answer.text  # the handle is not echoed (nor logged)


@pytest.mark.slow
def test_a_newly_linked_did_is_asked_for_without_a_restart(bluesky_hq, sky, caplog):
    """Jetstream's wantedDids is fixed per connection: the source reads the
    consented DIDs again and reconnects when they change."""
    hub = bluesky_hq.app.extensions[HUB]
    stream = Jetstream()
    stop = threading.Event()
    source = JetstreamSource(stream.url, Cursors(bluesky_hq.office.engine, time.time),
                             consented_dids=hub.listening_dids)
    source.reread_s = 0.2
    http = joined_customer(bluesky_hq, caplog, scopes=("tiering", "listening"), link=None)
    first = threading.Thread(target=source.run, args=(hub.hear, stop))
    try:
        dids = ["did:plc:zzzzzzzzzzzzzzzzzzzzzzzz"]  # someone already consented
        source.consented_dids = lambda: dids + hub.listening_dids()
        first.start()
        _wait(lambda: stream.queries)
        assert link(bluesky_hq, http).endswith("#linked=bluesky")
        first.join(5)
        assert not first.is_alive()  # it ended so the runner reconnects with the new DIDs
        assert SAM.replace(":", "%3A") in source.address(sorted(source.consented_dids()))
    finally:
        stop.set()
        stream.stop()


def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("fault", ["pds_not_json", "pds_500", "server_huge", "par_502"])
def test_a_server_answering_the_unexpected_fails_the_link_cleanly(bluesky_hq, sky, caplog, fault):
    http = joined_customer(bluesky_hq, caplog, link=None)
    sky.broken = fault
    answer = start(bluesky_hq, http)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "link_failed", answer.text
    assert sky.requests == {} and linked_rows(bluesky_hq) == []
    sky.broken = None  # and once it is well again, linking works
    assert link(bluesky_hq, http).endswith("#linked=bluesky")


@pytest.mark.parametrize("url", ["http://example.com/x", "https://127.0.0.1/x", "https://localhost/x",
                                 "https://10.0.0.5/x", "https://[::1]/x", "https://169.254.169.254/latest",
                                 "https://192.168.1.1:8443/x"])
def test_addresses_from_handles_and_did_documents_must_be_public_https(url):
    with pytest.raises(IdentityError):
        Resolver().check_url(url)


def test_without_allow_local_nothing_on_this_network_is_called(bluesky_hq, sky, caplog):
    platform = customer_side(bluesky_hq.app).accounts.platform("bluesky")
    platform.resolver.allow_local = False
    http = joined_customer(bluesky_hq, caplog, link=None)
    answer = start(bluesky_hq, http)
    assert answer.status_code == 422 and "not https" in answer.json()["error"]["message"]
    assert sky.calls == [] and linked_rows(bluesky_hq) == []


def test_bluesky_is_offered_once_named_with_an_https_public_url(tmp_path):
    plain = Settings(data_dir=tmp_path, id_key=ID_KEY)
    assert "bluesky" not in available(plain)
    named = plain.replace(bluesky_client_name="Nordshop", public_url="https://hq.example-chain.no")
    platform = available(named)["bluesky"]
    assert isinstance(platform, bluesky.Bluesky) and platform.client_name == "Nordshop"
    assert (tmp_path / bluesky.KEY_FILE).stat().st_mode & 0o777 == 0o600
    # The same key on every start: the jwks Bluesky's servers fetched stays valid.
    assert available(named)["bluesky"].kid == platform.kid
